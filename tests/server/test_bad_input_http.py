"""Malformed HTTP requests: a 4xx in the documented envelope, never a 5xx, nothing written.

Plus the isolation property over HTTP: two tenants with their own tokens, driven by
hypothesis-generated interleavings, never see or change each other's data.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import TOKEN, Live, assert_envelope

U = "/users/bad-input-user"
S = f"{U}/sessions/s1"

ROWS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("user id with an encoded slash", "POST", "/users", {"json": {"user_id": "a/b", "name": "x"}}),
    ("user without a name", "POST", "/users", {"json": {"user_id": "nameless"}}),
    ("user id of the wrong type", "POST", "/users", {"json": {"user_id": 5, "name": "x"}}),
    (
        "body that is not JSON",
        "POST",
        "/users",
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
    ),
    (
        "session with a bad annotation key",
        "POST",
        f"{U}/sessions",
        {"json": {"session_id": "s2", "annotations": {"bad-key": "x"}}},
    ),
    (
        "session with a negative TTL",
        "POST",
        f"{U}/sessions",
        {"json": {"session_id": "s3", "memory_blocks_ttl": -1}},
    ),
    (
        "messages and facts together",
        "POST",
        f"{S}/memory",
        {"json": {"facts": ["a"], "messages": [{"user_content": "b", "assistant_content": ""}]}},
    ),
    ("no content at all", "POST", f"{S}/memory", {"json": {}}),
    ("a fact with a NUL", "POST", f"{S}/memory", {"json": {"facts": ["a\u0000b"]}}),
    (
        "annotation value not a string",
        "POST",
        f"{S}/memory",
        {"json": {"facts": ["a"], "annotations": {"n": 1}}},
    ),
    (
        "created_at not a timestamp",
        "POST",
        f"{S}/memory",
        {"json": {"facts": ["a"], "created_at": "yesterday"}},
    ),
    ("list limit 0", "GET", f"{U}/memory?limit=0", {}),
    ("list offset -1", "GET", f"{U}/memory?offset=-1", {}),
    ("unknown order_by", "GET", f"{U}/memory?order_by=rowid", {}),
    (
        "search relevant_k 0",
        "POST",
        f"{S}/memory/search",
        {"json": {"query": "x", "filters": {"relevant_k": 0}}},
    ),
    (
        "search annotation key with SQL",
        "POST",
        f"{S}/memory/search",
        {"json": {"query": "x", "filters": {"annotations": {"a') OR 1=1 --": "x"}}}},
    ),
    ("update with no field", "PUT", f"{S}/memory/nope", {"json": {}}),
    ("TTL change of the wrong type", "PUT", f"{U}/ttl", {"json": {"new_ttl": "soon"}}),
    ("OData filter injection", "GET", "/v1/memories?$filter=agentID eq 'a' or 1 eq 1&$top=5", {}),
    ("OData unknown function", "GET", "/v1/memories?$filter=startswith(content,'x')", {}),
    ("OData negative $top", "GET", "/v1/memories?$top=-3", {}),
    (
        "SAP memory without invokerID",
        "POST",
        "/v1/memories",
        {"json": {"agentID": "a", "content": "x"}},
    ),
    (
        "SAP search threshold above 1",
        "POST",
        "/v1/memories/search",
        {"json": {"agentID": "a", "invokerID": "i", "query": "hello", "threshold": 3}},
    ),
    (
        "SAP message with a lower-case unknown role",
        "POST",
        "/v1/messages",
        {
            "json": {
                "agentID": "a",
                "invokerID": "i",
                "messageGroup": "g",
                "role": "wizard",
                "content": "x",
            }
        },
    ),
]


def _state(live: Live) -> Any:
    users = live.http.get("/users", params={"limit": 500}).json()
    memories = live.http.get(f"{U}/memory", params={"limit": 200}).json()
    sap = live.http.get("/v1/memories", params={"$top": 500}).json()
    return users, memories, sap


@pytest.fixture(scope="module")
def seeded(live: Live) -> Live:
    live.http.post("/users", json={"user_id": "bad-input-user", "name": "B"})
    live.http.post(f"{U}/sessions", json={"session_id": "s1"})
    live.http.post(f"{S}/memory", json={"facts": ["kept"], "async_processing": False})
    return live


@pytest.mark.parametrize(("name", "method", "path", "kwargs"), ROWS, ids=[r[0] for r in ROWS])
def test_malformed_request_gets_a_4xx_envelope_and_writes_nothing(
    seeded: Live, name: str, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    before = _state(seeded)
    response = seeded.http.request(method, path, **kwargs)
    assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
    assert_envelope(response, response.status_code)
    assert _state(seeded) == before


ids = st.sampled_from(["a", "b", "c"])


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["t1", "t2"]),
            st.sampled_from(["add", "search", "list", "delete_all", "ttl"]),
            ids,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_tenants_never_see_each_other_over_http(secure: Live, ops: list[Any]) -> None:
    tokens = {"t1": TOKEN, "t2": "server-test-token-2"}
    clients = {
        t: httpx.Client(base_url=secure.url, headers={"Authorization": f"Bearer {k}"})
        for t, k in tokens.items()
    }
    mine: dict[str, set[str]] = {"t1": set(), "t2": set()}
    try:
        for tenant, client in clients.items():
            client.post("/users", json={"user_id": "shared-id", "name": tenant})
            client.post("/users/shared-id/sessions", json={"session_id": "s"})
            listing = client.get("/users/shared-id/memory", params={"limit": 200}).json()
            mine[tenant] = {b["block_id"] for b in listing["memory_blocks"]}
        for tenant, op, word in ops:
            client = clients[tenant]
            if op == "add":
                body = client.post(
                    "/users/shared-id/sessions/s/memory",
                    json={"facts": [f"{tenant} {word}"], "async_processing": False},
                ).json()
                mine[tenant].update(body["block_ids"])
            elif op == "search":
                found = client.post(
                    "/users/shared-id/sessions/s/memory/search", json={"query": word}
                ).json()["memory_blocks"]
                assert {b["block_id"] for b in found} <= mine[tenant]
                assert all(b["fact"].startswith(tenant) for b in found)
            elif op == "delete_all":
                client.request(
                    "DELETE", "/users/shared-id/sessions/s/memory", json={"block_ids": "all"}
                )
                mine[tenant] = set()
            elif op == "ttl":
                client.put("/users/shared-id/ttl", json={"new_ttl": 0})
            listing = client.get("/users/shared-id/memory", params={"limit": 200}).json()
            assert {b["block_id"] for b in listing["memory_blocks"]} == mine[tenant]
        anonymous = httpx.get(f"{secure.url}/users/shared-id")
        assert_envelope(anonymous, 401)
    finally:
        for client in clients.values():
            client.close()
