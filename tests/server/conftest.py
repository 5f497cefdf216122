"""A live server per module, on a free loopback port."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")

from memory_integrations.embedders import HashingEmbedder
from memory_integrations.server import (
    AuthConfig,
    ServerConfig,
    ServerThread,
    create_app,
)

TOKEN = "server-test-token-1"
SAP_CLIENT = ("client-1", "client-secret-1")


class Live:
    def __init__(self, thread: ServerThread, app: Any, data_dir: Path) -> None:
        self.thread, self.app, self.url, self.data_dir = thread, app, thread.url, data_dir
        self.http = httpx.Client(base_url=self.url, timeout=30)


def start(data_dir: Path, *, auth: AuthConfig | None = None, **settings: Any) -> Live:
    config = ServerConfig(data_dir=data_dir, embedder=HashingEmbedder(), auth=auth or AuthConfig())
    config.settings = config.settings.model_copy(update={"queue_max_size": 16, **settings})
    app = create_app(config, record_requests=True)
    return Live(ServerThread(app).start(), app, data_dir)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    server = start(tmp_path_factory.mktemp("open"))
    yield server
    server.http.close()
    server.thread.stop()


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    auth = AuthConfig()
    auth.add_token(TOKEN, "t1")
    auth.add_token("server-test-token-2", "t2")
    auth.add_client(*SAP_CLIENT, tenant="t1")
    server = start(tmp_path_factory.mktemp("secure"), auth=auth)
    yield server
    server.http.close()
    server.thread.stop()


def assert_envelope(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """The flat error envelope, always non-empty, with the request id header."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message", "details", "request_id"}
    assert isinstance(body["error"], str) and body["message"]
    assert isinstance(body["details"], dict)
    assert response.headers["x-request-id"] == body["request_id"]
    if code is not None:
        assert body["error"] == code
    assert not PYTHON_HINT.search(body["message"]), f"a Python-flavoured fix: {body['message']}"
    return dict(body)


PYTHON_HINT = re.compile(
    r"\b(client|user|session|store|engine)\.[a-z_]+\(|\(\.\.\.\)|\b[a-z_]+=(,| or|$| )|"
    r"async_processing=|Traceback|File \""
)
"""What an HTTP caller must never be told: Python calls, keyword arguments, tracebacks."""
