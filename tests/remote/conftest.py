"""A real server on a free loopback port, and clients of it (remote and SAP backends)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import vcr

pytest.importorskip("fastapi")

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.server import (
    AuthConfig,
    ServerConfig,
    ServerThread,
    create_app,
)

CASSETTE_DIR = Path(__file__).parent / "cassettes"
RECORDED_BASE_URL = "http://agent-memory.invalid"
"""The base URL every cassette is recorded under (the real port is rewritten)."""
TOKEN = "remote-test-token-alpha"  # not a secret: only valid on the test servers
OTHER_TOKEN = "remote-test-token-beta"
SAP_CLIENT = ("sap-test-client", "sap-test-secret-not-real")


class Live:
    def __init__(self, thread: ServerThread, app: Any, data_dir: Path) -> None:
        self.thread, self.app, self.url, self.data_dir = thread, app, thread.url, data_dir

    def count(self, method: str, path: str) -> int:
        return int(self.app.state.requests[(method, path)])


def start_server(data_dir: Path, **settings: Any) -> tuple[ServerThread, Any]:
    auth = AuthConfig()
    auth.add_token(TOKEN, "alpha")
    auth.add_token(OTHER_TOKEN, "beta")
    auth.add_token("remote-test-token-broken", "broken")
    auth.add_client(SAP_CLIENT[0], SAP_CLIENT[1], "alpha")
    config = ServerConfig(data_dir=data_dir, embedder=HashingEmbedder(), auth=auth)
    config.settings = config.settings.model_copy(update={"queue_max_size": 16, **settings})
    app = create_app(config, record_requests=True)
    return ServerThread(app).start(), app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    data = tmp_path_factory.mktemp("remote")
    thread, app = start_server(data)
    yield Live(thread, app, data)
    thread.stop()


@pytest.fixture
def uid() -> str:
    """A user id no other test on the shared server uses."""
    return f"u-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def remote(server: Live) -> Iterator[AgentMemoryClient]:
    with AgentMemoryClient(base_url=server.url, token=TOKEN) as client:
        yield client


@pytest.fixture
def sap_client(server: Live) -> Iterator[AgentMemoryClient]:
    with AgentMemoryClient.for_sap(
        server.url,
        agent_id=f"agent-{uuid.uuid4().hex[:8]}",
        token_url=f"{server.url}/oauth/token",
        client_id=SAP_CLIENT[0],
        client_secret=SAP_CLIENT[1],
    ) as client:
        yield client


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """No dates, no issued tokens in the cassettes."""
    import json

    for name in ("date", "Date", "x-request-id"):
        response["headers"].pop(name, None)
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes) and b"access_token" in body:
        data = json.loads(body)
        data["access_token"] = "REDACTED"
        response["body"]["string"] = json.dumps(data).encode()
    return response


_SECRET = re.compile(rb"(client_secret=)[^&]*")


def _scrubbed(body: Any) -> bytes:
    raw = body.encode() if isinstance(body, str) else (body or b"")
    return _SECRET.sub(rb"\1REDACTED", raw)


def _body_matcher(live: Any, recorded: Any) -> None:
    """Bodies match once client secrets are blanked on both sides."""
    assert _scrubbed(live.body) == _scrubbed(recorded.body)


def make_vcr(record_mode: str, before_record_request: Any = None) -> vcr.VCR:
    """One configuration to record (record_cassettes.py) and to replay (the tests)."""

    def scrub(request: Any) -> Any:
        if before_record_request is not None:
            request = before_record_request(request)
        if request.body:
            request.body = _scrubbed(request.body)
        return request

    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTE_DIR),
        record_mode=record_mode,
        match_on=["method", "scheme", "host", "port", "path", "query", "scrubbed_body"],
        filter_headers=["authorization", "host", "user-agent", "x-client-id"],
        before_record_request=scrub,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    recorder.register_matcher("scrubbed_body", _body_matcher)
    return recorder


@pytest.fixture
def cassette() -> Any:
    """``with cassette("name"):`` replays ``cassettes/name.yaml``; unrecorded requests fail."""
    replayer = make_vcr("none")

    def use(name: str) -> Any:
        return replayer.use_cassette(f"{name}.yaml", allow_playback_repeats=False)

    return use
