"""Issue #15, insecure defaults: CSRF, DNS rebinding, contradictory options, anonymous docs
and figures, lax token files, unlimited token guesses, storage URLs that cannot be honoured.

Every HTTP check runs against a real uvicorn server on loopback.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import ConfigurationError
from memory_integrations.server import (
    AuthConfig,
    ServerConfig,
    ServerThread,
    create_app,
    redact_location,
)

from .conftest import TOKEN, Live, assert_envelope, start

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def _session(live: Live, uid: str, headers: dict[str, str] | None = None) -> None:
    live.http.post("/users", json={"user_id": uid, "name": "N"}, headers=headers)
    live.http.post(f"/users/{uid}/sessions", json={"session_id": "s"}, headers=headers)


# --- CSRF: browsers may not change state, auth on or off ---------------------------------

BROWSER_WRITES: list[tuple[str, dict[str, str]]] = [
    ("form", {"content-type": "application/x-www-form-urlencoded"}),
    ("multipart", {"content-type": "multipart/form-data; boundary=x"}),
    ("text", {"content-type": "text/plain;charset=UTF-8"}),
    ("cross-site origin", {"content-type": "application/json", "origin": "https://evil.example"}),
    ("opaque origin", {"content-type": "application/json", "origin": "null"}),
    ("other port", {"content-type": "application/json", "origin": "http://127.0.0.1:1"}),
    ("fetch metadata", {"content-type": "application/json", "sec-fetch-site": "cross-site"}),
    ("same-site", {"content-type": "application/json", "sec-fetch-site": "same-site"}),
]


@pytest.mark.parametrize("auth", [False, True], ids=["auth off", "auth on"])
@pytest.mark.parametrize(("kind", "headers"), BROWSER_WRITES, ids=[k for k, _ in BROWSER_WRITES])
def test_browser_writes_are_refused(
    live: Live, secure: Live, auth: bool, kind: str, headers: dict[str, str]
) -> None:
    server, token = (secure, BEARER) if auth else (live, {})
    uid = f"csrf-{kind.replace(' ', '-')}-{auth}"
    _session(server, uid, token)
    for method, path in [
        ("POST", f"/users/{uid}/sessions/s/end"),
        ("POST", "/admin/sweep"),
        ("DELETE", f"/users/{uid}"),
        ("PUT", f"/users/{uid}"),
        ("PATCH", "/v1/admin/retentionConfig"),
    ]:
        response = server.http.request(method, path, headers={**headers, **token})
        body = assert_envelope(response, 403, "CROSS_SITE_REQUEST")
        assert "Content-Type: application/json" in body["message"] or "Origin" in body["message"]
    session = server.http.get(f"/users/{uid}/sessions/s", headers=token).json()
    assert session["end_time"] is None  # nothing was ended or deleted


def test_api_clients_and_the_token_endpoint_still_work(live: Live) -> None:
    _session(live, "csrf-ok")
    json_type = {"content-type": "application/json"}
    same_origin = {**json_type, "origin": live.url, "sec-fetch-site": "same-origin"}
    assert live.http.post("/users/csrf-ok/sessions/s/end", headers=json_type).status_code == 200
    assert live.http.post("/admin/sweep", headers=same_origin).status_code == 200
    assert live.http.get("/users", headers={"origin": "https://evil.example"}).status_code == 200
    form = {"grant_type": "client_credentials"}  # OAuth2 posts a form, as the SAP SDK does
    assert live.http.post("/oauth/token", data=form).status_code == 200
    hostile = live.http.post("/oauth/token", data=form, headers={"origin": "https://evil.example"})
    assert_envelope(hostile, 403, "CROSS_SITE_REQUEST")


# --- DNS rebinding: a loopback server answers only to loopback names ---------------------


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8080", "10.0.0.1", "127.0.0.1.nip.io"]
)
def test_foreign_host_header_is_refused_on_loopback(live: Live, host: str) -> None:
    for path in ("/users", "/health", "/docs"):
        response = live.http.get(path, headers={"host": host})
        body = assert_envelope(response, 403, "HOST_NOT_ALLOWED")
        assert "--allowed-host" in body["message"]


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:1", "127.0.0.1:9", "[::1]:8080", "[::1]"])
def test_loopback_names_are_allowed_on_any_port(live: Live, host: str) -> None:
    assert live.http.get("/users", headers={"host": host}).status_code == 200


def test_allowed_hosts_are_configurable(tmp_path: Path) -> None:
    config = ServerConfig(
        data_dir=tmp_path, embedder=HashingEmbedder(), allowed_hosts=("memory.internal",)
    )
    with ServerThread(create_app(config)) as thread, httpx.Client(base_url=thread.url) as http:
        assert http.get("/users", headers={"host": "memory.internal:8080"}).status_code == 200
        assert http.get("/users", headers={"host": "localhost"}).status_code == 200
        assert_envelope(http.get("/users", headers={"host": "other.internal"}), 403)


def test_public_bind_accepts_any_host_unless_configured(tmp_path: Path) -> None:
    open_public = ServerConfig(
        data_dir=tmp_path,
        host="0.0.0.0",
        auth=AuthConfig(enabled=False),
        embedder=HashingEmbedder(),
    )
    with ServerThread(create_app(open_public)) as thread:
        assert (
            httpx.get(f"{thread.url}/users", headers={"host": "memory.example"}).status_code == 200
        )


# --- contradictory options ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--token", "a-long-token", "--no-auth"], {}),
        (["--client", "cid:secret", "--no-auth"], {}),
        (["--no-auth"], {"MEMORY_INTEGRATIONS_SERVER_TOKEN": "a-long-token"}),
    ],
)
def test_contradictory_auth_options_are_refused(
    args: list[str], env: dict[str, str], served: list[Any]
) -> None:
    from memory_integrations.cli._server import serve

    result = CliRunner().invoke(serve, [*args, "--embedder", "hashing"], env=env)
    assert result.exit_code != 0 and not served
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "--no-auth" in lines[0], result.output


def test_contradictory_config_is_refused_in_python_too() -> None:
    auth = AuthConfig(enabled=False)
    auth.add_token("a-long-token")
    with pytest.raises(ConfigurationError, match="--no-auth"):
        create_app(ServerConfig(auth=auth, embedder=HashingEmbedder()))


# --- docs and figures need auth when auth is on -------------------------------------------

FIGURES = [
    "/docs",
    "/openapi.json",
    "/health/couchbase",
    "/health/models",
    "/health/async-batch-processor",
    "/health/async-batch-processor-stats",
    "/health/memory",
]


def test_docs_and_figures_need_a_token_when_auth_is_on(secure: Live) -> None:
    for path in FIGURES:
        assert_envelope(secure.http.get(path), 401, "UNAUTHORIZED")
        assert secure.http.get(path, headers=BEARER).status_code == 200, path
    anonymous = secure.http.get("/health")
    assert anonymous.status_code == 200
    assert set(anonymous.json()) == {"status", "version", "uptime_seconds", "implementation"}
    assert anonymous.json()["uptime_seconds"] is None  # no figures without a token
    assert isinstance(secure.http.get("/health", headers=BEARER).json()["uptime_seconds"], float)


def test_docs_and_figures_stay_open_with_auth_off(live: Live) -> None:
    for path in FIGURES:
        assert live.http.get(path).status_code == 200, path


# --- the token file is validated strictly --------------------------------------------------

GOOD_DIGEST = hashlib.sha256(b"pre-hashed-token").hexdigest()


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('{\n  "tokens": {\n    "sha256:xyz": "a"\n  }\n}', 3, "64 hexadecimal"),
        ('{\n  "tokens": {\n    "sha256:' + "g" * 64 + '": "a"\n  }\n}', 3, "64 hexadecimal"),
        ('{\n  "tokens": {\n    "sha256:' + GOOD_DIGEST[:-1] + '": "a"\n  }\n}', 3, "64"),
        ('{"tokens": {\n  "short": "a"\n}}', 2, "at least 8"),
        ('{"tokens": {\n  "a-long-token": "../etc"\n}}', 2, "tenant name"),
        ('{"tokens": {\n  "a-long-token": 5\n}}', 2, "string"),
        ('{"tokens": {"a-long-token": "a",\n "a-long-token": "b"}}', 2, "twice"),
        ('{\n"token": {"a-long-token": "a"}}', 2, "unknown key"),
        ('{"tokens": {}, "clients": {}}', None, "no tokens"),
        ('{"clients": {\n "cid": {"secret": ""}}}', 2, "secret"),
        ('{"clients": {\n "cid": {"secret": "s", "tenant": "a", "role": "x"}}}', 2, "unknown key"),
        ('{"tokens": {"a-long-token": "a"},\n "token_ttl": true}', 2, "token_ttl"),
        ('{"tokens": {"a-long-token": "a"},\n "token_ttl": -5}', 2, "token_ttl"),
        ('{"tokens": {\n  "a-long-token": "a"\n  ', 3, "not valid JSON"),
        ("[1, 2]", None, "JSON object"),
    ],
)
def test_token_file_is_validated_strictly(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as caught:
        AuthConfig.from_file(path)
    message = str(caught.value)
    assert words in message and str(path) in message
    if line is not None:
        assert f"{path}:{line}:" in message
    assert "\n" not in message


def test_a_valid_token_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    digest = GOOD_DIGEST.upper()
    path.write_text(
        json.dumps(
            {
                "tokens": {"plain-token-1": "a", f"sha256:{digest}": "b"},
                "clients": {"cid": {"secret": "s3cret", "tenant": "a"}},
                "token_ttl": 60,
            }
        )
    )
    auth = AuthConfig.from_file(path)
    assert auth.tenants == {"a", "b"} and auth.token_ttl == 60
    assert auth.tokens[GOOD_DIGEST] == "b"


# --- failed authentication is throttled per client address ---------------------------------


@pytest.fixture
def throttled(tmp_path: Path) -> Iterator[Live]:
    auth = AuthConfig(max_failures=5, failure_window=1.5)
    auth.add_token(TOKEN, "t1")
    auth.add_client("cid", "the-secret", "t1")
    server = start(tmp_path, auth=auth)
    yield server
    server.http.close()
    server.thread.stop()


def test_wrong_tokens_are_throttled_per_address(throttled: Live) -> None:
    http = throttled.http
    wrong = {"Authorization": "Bearer not-the-token"}
    for _ in range(5):
        assert_envelope(http.get("/users", headers=wrong), 401)
    limited = http.get("/users", headers=wrong)
    body = assert_envelope(limited, 429, "RATE_LIMITED")
    wait = int(limited.headers["retry-after"])
    assert 1 <= wait <= 2 and "failed" in body["message"]
    assert http.get("/users", headers=BEARER).status_code == 429  # locked out meanwhile
    form = {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "x"}
    assert http.post("/oauth/token", data=form).status_code == 429
    # another client address is not affected
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=throttled.url, transport=transport) as other:
        assert other.get("/users", headers=BEARER).status_code == 200
    time.sleep(wait + 0.1)
    assert http.get("/users", headers=BEARER).status_code == 200


def test_wrong_oauth_secrets_count_as_failures(throttled: Live) -> None:
    form = {"grant_type": "client_credentials", "client_id": "cid", "client_secret": "nope"}
    transport = httpx.HTTPTransport(local_address="127.0.0.3")
    with httpx.Client(base_url=throttled.url, transport=transport) as http:
        for _ in range(5):
            assert http.post("/oauth/token", data=form).status_code == 401
        assert_envelope(http.post("/oauth/token", data=form), 429, "RATE_LIMITED")


# --- storage locations that cannot be honoured ---------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Apps ``serve`` would have run (the server itself is not started)."""
    import memory_integrations.server as server

    apps: list[Any] = []
    monkeypatch.setattr(server, "serve", lambda app, **kwargs: apps.append(app))
    return apps


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--url", "postgresql://app:secret@db:5432/memory"], "PostgreSQL"),
        (["--url", "postgres://app:secret@db/memory"], "PostgreSQL"),
        (["--path", "postgresql://app:secret@db:5432/memory"], "PostgreSQL"),
        (["--data-dir", "postgresql://app:secret@db:5432/memory"], "PostgreSQL"),
        (["--url", "mysql://app:secret@db/memory"], "sqlite:///"),
        (["--url", "https://app:secret@memory.example"], "sqlite:///"),
        (["--url", "sqlite:///"], "in-memory"),
        (["--url", "sqlite:///:memory:"], "in-memory"),
        (["--url", "sqlite://relative.db"], "sqlite:///"),
        (["--url", "relative.db"], "--path"),
        (["--url", "sqlite:///a.db", "--path", "b.db"], "not both"),
    ],
)
def test_storage_that_cannot_be_honoured_is_refused_without_credentials(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    served: list[Any],
    args: list[str],
    words: str,
) -> None:
    from memory_integrations.cli._server import serve

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(serve, [*args, "--embedder", "hashing"])
    assert result.exit_code != 0 and not served, result.output
    assert words in result.output
    assert "secret" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert list(tmp_path.iterdir()) == []  # no directory or file was created


def test_a_sqlite_url_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, served: list[Any]
) -> None:
    from memory_integrations.cli._server import serve

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(serve, ["--url", "sqlite:///store.db", "--embedder", "hashing"])
    assert result.exit_code == 0, result.output
    assert served[0].state.config.path == Path("store.db")
    assert "store.db" in result.output


def test_allowed_host_option_reaches_the_app(served: list[Any]) -> None:
    from memory_integrations.cli._server import serve

    args = ["--allowed-host", "memory.internal", "--allowed-host", "m2", "--embedder", "hashing"]
    result = CliRunner().invoke(serve, args)
    assert result.exit_code == 0, result.output
    assert served[0].state.config.allowed_hosts == ("memory.internal", "m2")


def test_python_config_refuses_url_looking_paths(tmp_path: Path) -> None:
    for config in (
        ServerConfig(path=Path("postgresql://app:secret@db/x"), embedder=HashingEmbedder()),
        ServerConfig(data_dir=Path("postgres://app:secret@db/x"), embedder=HashingEmbedder()),
    ):
        with pytest.raises(ConfigurationError, match="PostgreSQL") as caught:
            create_app(config)
        assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("postgresql://app:secret@db:5432/memory", "postgresql://app:***@db:5432/memory"),
        ("postgresql:/app:secret@db:5432/memory", "postgresql:/app:***@db:5432/memory"),
        ("https://token@memory.example/x", "https://***@memory.example/x"),
        ("/var/lib/memory/store.db", "/var/lib/memory/store.db"),
        ("sqlite:///a@b.db", "sqlite:///a@b.db"),
    ],
)
def test_locations_are_redacted(raw: str, shown: str) -> None:
    assert redact_location(raw) == shown
