"""The server's own contract: envelope, status codes, gotchas, auth, tenancy, shutdown."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import ConfigurationError
from memory_integrations.server import AuthConfig, ServerConfig, ServerThread, create_app

from .conftest import SAP_CLIENT, TOKEN, Live, assert_envelope, start


def _user(live: Live, sessions: tuple[str, ...] = ("s1",)) -> str:
    uid = f"u-{uuid.uuid4().hex[:8]}"
    assert live.http.post("/users", json={"user_id": uid, "name": "N"}).status_code == 201
    for sid in sessions:
        live.http.post(f"/users/{uid}/sessions", json={"session_id": sid})
    return uid


def test_every_kind_of_error_is_enveloped(live: Live) -> None:
    uid = _user(live)
    assert_envelope(live.http.get("/nowhere"), 404, "NOT_FOUND")
    assert_envelope(live.http.patch("/users"), 405, "METHOD_NOT_ALLOWED")
    bad_json = live.http.post(
        "/users", content=b"{not json", headers={"content-type": "application/json"}
    )
    body = assert_envelope(bad_json, 400, "VALIDATION_ERROR")
    assert body["details"]["errors"]
    missing = assert_envelope(live.http.post("/users", json={"name": "x"}), 400)
    assert "user_id" in missing["message"]
    assert_envelope(live.http.post("/users", json={"user_id": uid, "name": "x"}), 409, "CONFLICT")
    assert_envelope(live.http.get("/users/a%2Fb"), 400)  # an encoded '/' never routes
    assert_envelope(live.http.get("/v1/memories(nope)"), 404, "NOT_FOUND")
    odata = live.http.get("/v1/memories", params={"$filter": "agentID ne 'x'"})
    assert "not supported" in assert_envelope(odata, 400)["message"]


def test_success_codes(live: Live) -> None:
    uid = _user(live, ())
    created = live.http.post(f"/users/{uid}/sessions", json={"session_id": "s"})
    assert created.status_code == 201
    # SDKs send Content-Type: application/json with no body on these: no body is required
    empty = {"content-type": "application/json"}
    ended = live.http.post(f"/users/{uid}/sessions/s/end", headers=empty)
    assert ended.status_code == 200 and ended.json()["end_time"].endswith("Z")
    live.http.post("/prompts", json={"prompt_id": f"p{uid}", "prompt": "x", "description": "d"})
    archived = live.http.put(f"/prompts/p{uid}/archive", params={"vid": "all"}, headers=empty)
    assert archived.status_code == 204 and archived.content == b""
    deleted = live.http.request("DELETE", f"/users/{uid}", headers=empty)
    assert deleted.status_code == 204


def test_timestamps_are_strings_and_limits_are_clamped(live: Live) -> None:
    uid = _user(live)
    live.http.post(f"/users/{uid}/sessions/s1/memory", json={"facts": ["a", "b"]})
    page = live.http.get(f"/users/{uid}/memory", params={"limit": 500}).json()
    assert page["limit"] == 200 and page["total"] == 2
    block = page["memory_blocks"][0]
    assert isinstance(block["ingested_at"], str) and block["ingested_at"].endswith("Z")
    assert live.http.get("/prompts", params={"limit": 5000}).json()["limit"] == 1000
    assert live.http.get("/users", params={"limit": 9999}).json()["limit"] == 500
    assert_envelope(live.http.get(f"/users/{uid}/memory", params={"limit": 0}), 400)


def test_get_prompt_has_two_shapes(live: Live) -> None:
    pid = f"p-{uuid.uuid4().hex[:8]}"
    live.http.post("/prompts", json={"prompt_id": pid, "prompt": "v0", "description": "d"})
    live.http.put(f"/prompts/{pid}", json={"prompt": "v1"})
    head = live.http.get(f"/prompts/{pid}").json()
    assert (head["current_vid"], head["version_count"], head["prompt"]) == (1, 2, "v1")
    version = live.http.get(f"/prompts/{pid}", params={"vid": 0}).json()
    assert (version["vid"], version["prompt"], version["is_current"]) == (0, "v0", False)
    assert_envelope(live.http.get(f"/prompts/{pid}", params={"vid": "x"}), 400)
    assert_envelope(live.http.get(f"/prompts/{pid}", params={"vid": 7}), 404)
    assert_envelope(
        live.http.post(
            "/prompts", json={"prompt_id": "default", "prompt": "x", "description": "d"}
        ),
        400,
    )


def test_a_blocks_prompt_is_its_own_field_not_metadata(live: Live) -> None:
    uid = _user(live)
    pid = f"p-{uuid.uuid4().hex[:8]}"
    live.http.post("/prompts", json={"prompt_id": pid, "prompt": "x", "description": "d"})
    base = f"/users/{uid}/sessions/s1/memory"
    added = live.http.post(
        base,
        json={"facts": ["f"], "prompt_id": pid, "metadata": {"a": 1}, "async_processing": False},
    ).json()
    block = live.http.get(f"{base}/{added['block_ids'][0]}").json()
    assert (block["prompt_id"], block["prompt_vid"], block["metadata"]) == (pid, 0, {"a": 1})
    # The key older servers reserved for prompt stamps is plain metadata now.
    plain = live.http.post(
        base, json={"facts": ["g"], "metadata": {"_agentmemory": 1}, "async_processing": False}
    ).json()
    kept = live.http.get(f"{base}/{plain['block_ids'][0]}").json()
    assert (kept["metadata"], kept["prompt_id"]) == ({"_agentmemory": 1}, None)
    live.http.put(f"/prompts/{pid}/archive", params={"vid": "all"})
    assert_envelope(live.http.post(base, json={"facts": ["f"], "prompt_id": pid}), 409)
    assert_envelope(live.http.post(base, json={"facts": ["f"], "prompt_id": "nope"}), 404)
    assert_envelope(live.http.post(base, json={"facts": ["f"], "prompt_vid": 0}), 400)


def test_sap_gotchas(live: Live) -> None:
    created = live.http.post(
        "/v1/memories", json={"agentID": "a/b?", "invokerID": " ", "content": "text"}
    ).json()
    assert uuid.UUID(created["id"])  # generated ids never need escaping
    assert (created["agentID"], created["invokerID"]) == ("a/b?", " ")
    found = live.http.get(
        "/v1/memories", params={"$filter": "agentID eq 'a/b?' and invokerID eq ' '"}
    ).json()
    assert [m["id"] for m in found["value"]] == [created["id"]]
    search = live.http.post(
        "/v1/memories/search",
        json={"agentID": "a/b?", "invokerID": " ", "query": "text", "threshold": 0.0},
    ).json()
    assert list(search) == ["value"] and search["value"][0]["similarity"] > 0
    assert_envelope(live.http.get("/v1/memories", params={"$orderby": "id"}), 400)
    bad_role = live.http.post(
        "/v1/messages",
        json={
            "agentID": "a",
            "invokerID": "i",
            "messageGroup": "g",
            "role": "boss",
            "content": "x",
        },
    )
    assert_envelope(bad_role, 400)
    assert live.http.patch("/v1/messages(x)", json={}).status_code == 405


def test_openapi_and_docs(live: Live) -> None:
    schema = live.http.get("/openapi.json").json()
    assert "/users/{user_id}/sessions/{session_id}/memory/search" in schema["paths"]
    assert "/v1/memories({memory_id})" in schema["paths"]
    assert "/health/async-batch-processor-stats" in schema["paths"]
    page = live.http.get("/docs").text
    assert "swagger" in page.lower()
    assert "cdn" not in page and "https://" not in page  # works offline
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert f"/docs/assets/{asset}" in page + live.http.get("/redoc").text
        served = live.http.get(f"/docs/assets/{asset}")
        assert served.status_code == 200 and len(served.content) > 10_000


def test_auth_tokens_health_and_oauth(secure: Live) -> None:
    http = secure.http
    assert_envelope(http.get("/users"), 401, "UNAUTHORIZED")
    assert http.get("/users").headers["www-authenticate"].startswith("Bearer")
    assert_envelope(http.get("/users", headers={"Authorization": "Basic abc"}), 401)
    assert http.get("/health").status_code == 200  # anonymous liveness
    for path in (
        "/health/couchbase",
        "/health/models",
        "/health/memory",
        "/health/async-batch-processor",
        "/health/async-batch-processor-stats",
        "/docs",
    ):
        assert_envelope(http.get(path), 401)  # figures and docs need a token
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert http.get("/users", headers=good).status_code == 200

    form = {
        "grant_type": "client_credentials",
        "client_id": SAP_CLIENT[0],
        "client_secret": SAP_CLIENT[1],
    }
    issued = http.post("/oauth/token", data=form).json()
    assert issued["token_type"] == "bearer" and issued["expires_in"] == 3600
    bearer = {"Authorization": f"Bearer {issued['access_token']}"}
    assert http.get("/v1/memories", headers=bearer).status_code == 200
    basic = http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=SAP_CLIENT)
    assert basic.status_code == 200
    wrong = http.post("/oauth/token", data={**form, "client_secret": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    grant = http.post("/oauth/token", data={**form, "grant_type": "password"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"


def test_tenants_live_in_separate_files(secure: Live) -> None:
    for token, name in ((TOKEN, "mine"), ("server-test-token-2", "theirs")):
        headers = {"Authorization": f"Bearer {token}"}
        secure.http.post("/users", json={"user_id": "same-id", "name": name}, headers=headers)
        secure.http.post(
            "/v1/memories",
            json={"agentID": "a", "invokerID": "i", "content": name},
            headers=headers,
        )
    files = sorted(
        p.relative_to(secure.data_dir).as_posix() for p in secure.data_dir.glob("*/*.sqlite3")
    )
    assert files == ["t1/memory.sqlite3", "t1/sap.sqlite3", "t2/memory.sqlite3", "t2/sap.sqlite3"]
    with sqlite3.connect(secure.data_dir / "t1" / "memory.sqlite3") as db:
        assert db.execute("SELECT name FROM mi_users").fetchall() == [("mine",)]
    with sqlite3.connect(secure.data_dir / "t2" / "sap.sqlite3") as db:
        assert db.execute("SELECT fact FROM mi_blocks").fetchall() == [("theirs",)]


def test_per_tenant_queue_figures(secure: Live) -> None:
    mine, theirs = (
        {"Authorization": f"Bearer {token}"} for token in (TOKEN, "server-test-token-2")
    )
    secure.http.post("/users", json={"user_id": "queue-user", "name": "Q"}, headers=mine)
    secure.http.post("/users/queue-user/sessions", json={"session_id": "s"}, headers=mine)
    added = secure.http.post(
        "/users/queue-user/sessions/s/memory", json={"facts": ["a", "b"]}, headers=mine
    )
    assert added.status_code == 201
    figures = {
        name: secure.http.get("/health/async-batch-processor", headers=h).json()
        for name, h in (("mine", mine), ("theirs", theirs))
    }
    assert figures["mine"]["statistics"]["total_enqueued"] >= 2
    assert set(figures["theirs"]["statistics"]) >= {"total_enqueued", "active_tasks"}
    assert (
        figures["theirs"]["statistics"]["total_enqueued"]
        < figures["mine"]["statistics"]["total_enqueued"]
    )
    assert_envelope(secure.http.get("/health/async-batch-processor"), 401)  # no one's figures


def test_shutdown_drains_the_queue(tmp_path: Path) -> None:
    server = start(tmp_path, queue_max_size=10_000)
    uid = _user(server)
    facts = [f"fact number {i}" for i in range(300)]
    response = server.http.post(f"/users/{uid}/sessions/s1/memory", json={"facts": facts})
    assert response.status_code == 201
    server.http.close()
    server.thread.stop()  # graceful: stop serving, then drain the embedding queue
    with sqlite3.connect(tmp_path / "default" / "memory.sqlite3") as db:
        states = dict(db.execute("SELECT status, count(*) FROM mi_blocks GROUP BY status"))
    assert states == {"ready": 300}


def test_path_serves_an_existing_embedded_store(tmp_path: Path) -> None:
    store = tmp_path / "agent-memory.sqlite3"
    with AgentMemoryClient(store, embedder=HashingEmbedder()) as local:
        local.create_user("local-user", "Made locally").create_session("s").add_memory(
            facts=["written before the server existed"], async_processing=False
        )
    config = ServerConfig(path=store, embedder=HashingEmbedder())
    thread = ServerThread(create_app(config))
    with thread, AgentMemoryClient(base_url=thread.url) as remote:
        session = remote.get_user("local-user").get_session("s")
        assert [b.fact for b in session.list_memories().memory_blocks] == [
            "written before the server existed"
        ]
        remote.get_user("local-user")  # the SAP tree sits beside the file:
        httpx.post(
            f"{thread.url}/v1/memories",
            json={"agentID": "a", "invokerID": "i", "content": "sap side"},
        )
    assert (tmp_path / "agent-memory.sap.sqlite3").exists()


def test_configuration_is_checked() -> None:
    with pytest.raises(ConfigurationError, match="without authentication"):
        create_app(ServerConfig(host="0.0.0.0", embedder=HashingEmbedder()))
    create_app(
        ServerConfig(host="0.0.0.0", embedder=HashingEmbedder(), auth=AuthConfig(enabled=False))
    )  # --no-auth, on purpose
    auth = AuthConfig()
    auth.add_token("token-for-a-tenant", "a")
    with pytest.raises(ConfigurationError, match="several tenants"):
        create_app(ServerConfig(path=Path("x.db"), auth=auth, embedder=HashingEmbedder()))
    with pytest.raises(ConfigurationError, match="tenant name"):
        AuthConfig().add_token("token-xxxxxx", "../escape")


def test_token_file(tmp_path: Path) -> None:
    import hashlib
    import json

    hashed = hashlib.sha256(b"pre-hashed-token").hexdigest()
    path = tmp_path / "tokens.json"
    path.write_text(
        json.dumps(
            {
                "tokens": {"plain-token-1": "a", f"sha256:{hashed}": "b"},
                "clients": {"cid": {"secret": "s3cret", "tenant": "a"}},
                "token_ttl": 60,
            }
        )
    )
    auth = AuthConfig.from_file(path)
    assert auth.tenants == {"a", "b"} and auth.active and auth.token_ttl == 60
    assert "plain-token-1" not in json.dumps(list(auth.tokens))  # kept only as digests
    path.write_text("[1, 2]")
    with pytest.raises(ConfigurationError):
        AuthConfig.from_file(path)
