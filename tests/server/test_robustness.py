"""Issue #15, server robustness: errors keep the connection, paths route on their raw form,
over-long requests get the envelope, a full disk is retryable, a restart resumes processing.

Every test runs a real uvicorn server on loopback.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from memory_integrations.embedders import HashingEmbedder
from memory_integrations.engine import Engine
from memory_integrations.server import ServerConfig, ServerThread, create_app
from memory_integrations.server._errors import storage_error
from memory_integrations.storage import SQLiteDatabase

from .conftest import Live, assert_envelope, start


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Live]:
    server = start(tmp_path)
    yield server
    server.http.close()
    server.thread.stop()


def _client_port(response: httpx.Response) -> int:
    stream = response.extensions["network_stream"]
    return int(stream.get_extra_info("client_addr")[1])


# --- every error keeps the keep-alive connection -----------------------------------------


def test_unexpected_errors_are_enveloped_and_keep_the_connection(
    fresh: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh.http.post("/users", json={"user_id": "u", "name": "N"})
    fresh.http.post("/users/u/sessions", json={"session_id": "s"})
    registry = fresh.app.state.registry
    engine = registry.memory("default").engine

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    def io_error(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(engine, "search_memory", crash)  # in the endpoint
    monkeypatch.setattr(engine, "list_memories", io_error)  # a raw storage error
    monkeypatch.setattr(registry, "sap", crash)  # in a dependency
    calls: list[tuple[str, str, dict[str, Any], int, str]] = [
        (
            "POST",
            "/users/u/sessions/s/memory/search",
            {"json": {"query": "x"}},
            500,
            "INTERNAL_ERROR",
        ),
        ("GET", "/users/u/memory", {}, 503, "DATABASE_UNAVAILABLE"),
        ("GET", "/v1/memories", {}, 500, "INTERNAL_ERROR"),
        ("GET", "/users/nobody", {}, 404, "NOT_FOUND"),
        ("POST", "/users", {"json": {"name": "no id"}}, 400, "VALIDATION_ERROR"),
        ("PATCH", "/users", {}, 405, "METHOD_NOT_ALLOWED"),
    ]
    with httpx.Client(
        base_url=fresh.url, limits=httpx.Limits(max_connections=1), timeout=30
    ) as http:
        ports = set()
        for _ in range(4):
            for method, path, kwargs, status, code in calls:
                response = http.request(method, path, **kwargs)
                assert_envelope(response, status, code)
                ports.add(_client_port(response))
                healthy = http.get("/users/u")
                assert healthy.status_code == 200
                ports.add(_client_port(healthy))
    assert len(ports) == 1, f"the connection was replaced {len(ports) - 1} times"


# --- encoded slashes never change the route ----------------------------------------------


def test_encoded_slashes_never_reach_another_route(fresh: Live) -> None:
    http = fresh.http
    http.post("/users", json={"user_id": "u1", "name": "N"})
    http.post("/users/u1/sessions", json={"session_id": "s1"})
    block = http.post(
        "/users/u1/sessions/s1/memory", json={"facts": ["kept"], "async_processing": False}
    ).json()["block_ids"][0]
    memory = http.post("/v1/memories", json={"agentID": "a", "invokerID": "i", "content": "c"})
    for method, path in [
        ("GET", "/users/u1%2Fsessions%2Fs1"),
        ("GET", "/users/u1%2fsessions%2fs1"),
        ("DELETE", "/users/u1%2Fsessions%2Fs1"),
        ("POST", "/users/u1%2Fsessions%2Fs1/end"),
        ("GET", f"/users/u1/sessions/s1%2Fmemory%2F{block}"),
        ("DELETE", "/users/u1/sessions%2Fs1"),
        ("GET", "/users/u1%2Fmemory"),
        ("GET", f"/v1/memories({memory.json()['id']}%2F)"),
        ("DELETE", "/prompts/p%2F..%2F..%2Fusers%2Fu1"),
    ]:
        response = http.request(method, path, headers={"content-type": "application/json"})
        body = assert_envelope(response, 400, "VALIDATION_ERROR")
        assert "%2F" in body["message"], body
    # %252F is a literal '%2F' inside one id: refused as an id, never decoded twice
    assert_envelope(http.get("/users/u1%252Fsessions%252Fs1"), 400, "VALIDATION_ERROR")
    session = http.get("/users/u1/sessions/s1").json()
    assert session["end_time"] is None  # nothing was ended, deleted or read elsewhere
    assert http.get(f"/users/u1/sessions/s1/memory/{block}").status_code == 200


# --- over-long requests ------------------------------------------------------------------


def _raw_exchange(url: str, requests: list[bytes]) -> list[tuple[int, dict[str, str], bytes]]:
    """Send raw HTTP/1.1 requests on one socket; parse each answer (status, headers, body)."""
    host, port = url.removeprefix("http://").split(":")
    answers = []
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        reader = sock.makefile("rb")
        for request in requests:
            sock.sendall(request)  # the server reads it all, even when it refuses early
            status_line = reader.readline()
            if not status_line:
                break
            status = int(status_line.split()[1])
            headers: dict[str, str] = {}
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = reader.read(int(headers.get("content-length", "0")))
            answers.append((status, headers, body))
    return answers


def _get(target: bytes, extra: bytes = b"") -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n"


def _envelope_of(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> None:
    got, headers, body = answer
    assert got == status, body[:300]
    assert headers["content-type"] == "application/json", headers
    import json

    parsed = json.loads(body)
    assert set(parsed) == {"error", "message", "details", "request_id"}
    assert parsed["error"] == code and parsed["message"]


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (_get(b"/users/" + b"a" * 20_000), 414, "URI_TOO_LONG"),
        (_get(b"/users/u?x=" + b"a" * 60_000), 414, "URI_TOO_LONG"),
        (_get(b"/users/" + b"a" * 200_000), 414, "URI_TOO_LONG"),
        (_get(b"/users/" + b"a" * 1_000_000), 414, "URI_TOO_LONG"),
        (_get(b"/health", b"X-Pad: " + b"b" * 40_000 + b"\r\n"), 431, "HEADERS_TOO_LARGE"),
        (_get(b"/health", b"X-Pad: " + b"b" * 300_000 + b"\r\n"), 431, "HEADERS_TOO_LARGE"),
        (b"THIS IS NOT HTTP\r\n\r\n", 400, "BAD_REQUEST"),
        (b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n", 400, "BAD_REQUEST"),
    ],
    ids=[
        "20 KB path",
        "60 KB query",
        "200 KB path",
        "1 MB path",
        "40 KB header",
        "300 KB header",
        "not HTTP",
        "malformed header",
    ],
)
def test_over_long_and_malformed_requests_get_the_envelope(
    live: Live, request_bytes: bytes, status: int, code: str
) -> None:
    answers = _raw_exchange(live.url, [request_bytes, _get(b"/health")])
    _envelope_of(answers[0], status, code)
    if len(request_bytes) < 64_000 and status != 400:
        # below the protocol limit the app answers, and the connection stays usable
        assert len(answers) == 2 and answers[1][0] == 200


# --- a full disk is a capacity condition -------------------------------------------------


def test_full_database_is_a_retryable_503_and_health_says_so(fresh: Live) -> None:
    http = fresh.http
    http.post("/users", json={"user_id": "u", "name": "N"})
    http.post("/users/u/sessions", json={"session_id": "s"})
    assert http.get("/health").json()["status"] == "healthy"
    database = fresh.app.state.registry.memory("default").engine.database
    with database.transaction() as cur:  # this connection may not grow the file any more
        pages = cur.execute("PRAGMA page_count").fetchone()[0]
        cur.execute(f"PRAGMA max_page_count = {pages + 1}")
    for _ in range(3):
        response = http.post("/users/u/sessions/s/memory", json={"facts": ["word " * 5000]})
        body = assert_envelope(response, 503, "STORAGE_FULL")
        assert int(response.headers["retry-after"]) >= 1
        assert body["details"]["service"] == "database"
        assert body["details"]["retry_after_seconds"] == int(response.headers["retry-after"])
        assert "full" in body["message"] and "damaged" not in body["message"]
    assert http.get("/users/u/memory").json()["total"] == 0  # nothing half-written
    storage = http.get("/health/couchbase").json()
    assert storage["status"] == "unhealthy" and "full" in storage["error"]
    assert http.get("/health").json()["status"] == "degraded"


def _tmpfs_prefix(mountpoint: Path, size: str) -> list[str] | None:
    """A command prefix running its command with a tiny tmpfs at ``mountpoint``, in a private
    mount namespace (root, or an unprivileged user namespace); None where neither works."""
    mount = f'mount -t tmpfs -o size={size} tmpfs {mountpoint} && exec "$@"'
    for unshare in (["unshare", "-m"], ["unshare", "-r", "-m"]):
        command = [*unshare, "sh", "-c", mount, "sh"]
        try:
            probe = subprocess.run([*command, "true"], capture_output=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return command
    return None


def test_a_really_full_disk_is_a_retryable_503_and_health_says_so(tmp_path: Path) -> None:
    """The server's data directory on a 1 MiB tmpfs, filled through the API."""
    data = tmp_path / "data"
    data.mkdir()
    prefix = _tmpfs_prefix(data, "1m")
    if prefix is None:
        pytest.skip("cannot mount a tmpfs here (needs root or unprivileged user namespaces)")
    port = _free_port()
    cli = [sys.executable, "-c", "from memory_integrations.cli import main; main()"]
    options = ["--embedder", "hashing", "--log-level", "critical", "--drain-timeout", "1"]
    server = subprocess.Popen(
        [*prefix, *cli, "serve", "--data-dir", str(data), "--port", str(port), *options]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(url, server)
        with httpx.Client(base_url=url, timeout=30) as http:
            http.post("/users", json={"user_id": "u", "name": "N"})
            http.post("/users/u/sessions", json={"session_id": "s"})
            statuses = []
            for i in range(200):
                response = http.post(
                    "/users/u/sessions/s/memory", json={"facts": [f"{i} " + "word " * 4000]}
                )
                statuses.append(response.status_code)
                if response.status_code != 201:
                    break
            body = assert_envelope(response, 503, "STORAGE_FULL")
            assert statuses.count(201) >= 1 and int(response.headers["retry-after"]) >= 1
            assert "full" in body["message"] and "damaged" not in body["message"]
            assert http.get("/health/couchbase").json()["status"] == "unhealthy"
            assert http.get("/health").json()["status"] == "degraded"
            assert http.get("/users/u").status_code == 200  # reads still work
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_no_space_oserror_maps_to_storage_full(code: int) -> None:
    mapped = storage_error(OSError(code, os.strerror(code)))
    assert mapped is not None
    assert (mapped.status_code, mapped.error_code) == (503, "STORAGE_FULL")
    assert mapped.retry_after is not None and mapped.retry_after >= 1  # type: ignore[attr-defined]


# --- a restart resumes processing without waiting for a request --------------------------


def _pending(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(
            db.execute("SELECT count(*) FROM mi_blocks WHERE status = 'processing'").fetchone()[0]
        )


def _wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _leave_processing(path: Path, facts: int) -> None:
    """Blocks added async by an engine without a worker: they stay ``processing``."""
    engine = Engine(SQLiteDatabase(path), embedder=HashingEmbedder(), start_worker=False)
    try:
        engine.create_user("u", "N")
        engine.create_session("u", "s")
        engine.add_memory("u", "s", facts=[f"fact {i}" for i in range(facts)])
    finally:
        engine.close(drain=False)


def test_processing_blocks_resume_at_start_without_a_request(tmp_path: Path) -> None:
    stores = [
        tmp_path / "default" / "memory.sqlite3",
        tmp_path / "t2" / "memory.sqlite3",
        tmp_path / "t3" / "sap.sqlite3",
    ]
    for path in stores:
        _leave_processing(path, 40)
    idle = Engine(SQLiteDatabase(tmp_path / "idle" / "memory.sqlite3"), embedder=HashingEmbedder())
    idle.create_user("u", "nothing pending")
    idle.close()
    assert [_pending(p) for p in stores] == [40, 40, 40]
    config = ServerConfig(data_dir=tmp_path, embedder=HashingEmbedder())
    app = create_app(config)
    with ServerThread(app):
        _wait_until(lambda: all(_pending(p) == 0 for p in stores), 20, "resumed blocks")
        # opened for the resume only: closed again once drained; the idle one never opened
        _wait_until(lambda: not app.state.registry.engines(), 20, "stores to close")
    assert app.state.registry.opened_count == 3


def test_kill_9_mid_processing_then_restart_resumes(tmp_path: Path) -> None:
    """A server killed with SIGKILL while embedding; the next one finishes on its own."""
    data = tmp_path / "data"
    env = {**os.environ, "MEMORY_INTEGRATIONS_LEASE_SECONDS": "1", "PYTHONUNBUFFERED": "1"}
    slow = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from memory_integrations.embedders import HashingEmbedder
        from memory_integrations.server import ServerConfig, create_app, serve

        class Slow(HashingEmbedder):
            def embed_documents(self, texts):
                time.sleep(0.5)
                return super().embed_documents(texts)

        app = create_app(ServerConfig(data_dir=Path({str(data)!r}), embedder=Slow()))
        serve(app, port=int(sys.argv[1]), log_level="warning")
        """
    )
    port = _free_port()
    first = subprocess.Popen([sys.executable, "-c", slow, str(port)], env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_for_server(url, first)
        http = httpx.Client(base_url=url, timeout=30)
        http.post("/users", json={"user_id": "u", "name": "N"})
        http.post("/users/u/sessions", json={"session_id": "s"})
        facts = [f"fact {i}" for i in range(200)]
        assert http.post("/users/u/sessions/s/memory", json={"facts": facts}).status_code == 201
        http.close()
        time.sleep(0.8)  # the worker is inside a batch
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    store = data / "default" / "memory.sqlite3"
    assert 0 < _pending(store) <= 200
    port = _free_port()
    cli = [sys.executable, "-c", "from memory_integrations.cli import main; main()"]
    second = subprocess.Popen(
        [*cli, "serve", "--data-dir", str(data), "--embedder", "hashing", "--port", str(port)],
        env=env,
    )
    try:
        _wait_for_server(f"http://127.0.0.1:{port}", second)
        _wait_until(lambda: _pending(store) == 0, 30, "the killed server's blocks")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT count(*) FROM mi_blocks WHERE status = 'ready'").fetchone() == (
            200,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_server(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not start")


def test_config_takes_string_paths_and_serves_from_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = create_app(ServerConfig(data_dir="served", embedder=HashingEmbedder()))
    with ServerThread(app) as server:
        created = httpx.post(f"{server.url}/users", json={"user_id": "ana", "name": "Ana"})
        assert created.status_code == 201, created.text
        assert httpx.get(f"{server.url}/users/ana").json()["name"] == "Ana"
    assert (tmp_path / "served").is_dir()
    pinned = ServerConfig(path=str(tmp_path / "one.sqlite3"))
    assert pinned.path == tmp_path / "one.sqlite3"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("data_dir", 42),
        ("data_dir", ""),
        ("data_dir", b"bytes-path"),
        ("path", ["x.db"]),
        ("host", ""),
        ("drain_timeout", -1),
        ("drain_timeout", float("nan")),
        ("drain_timeout", True),
        ("open_docs", "yes"),
        ("allowed_hosts", "memory.internal"),
        ("settings", {"embedder": "hashing"}),
        ("auth", {"tokens": {}}),
    ],
)
def test_config_refuses_wrong_types_by_name(field: str, value: Any) -> None:
    from memory_integrations.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=field):
        ServerConfig(**{field: value})
