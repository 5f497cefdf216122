"""Our server on loopback, and the official SDKs driven in a Python 3.12 subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")

from memory_integrations.embedders import HashingEmbedder
from memory_integrations.server import (
    AuthConfig,
    ServerConfig,
    ServerThread,
    create_app,
)

from .sdkenv import DRIVER, ensure_sdk_python

TOKENS = {"acme": "token-acme-0001", "globex": "token-globex-001", "broken": "token-broken-001"}
CLIENTS = {"sap-acme": ("secret-acme", "acme"), "sap-globex": ("secret-globex", "globex")}


class DriverError(Exception):
    """An exception raised inside the SDK, as seen from here."""

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__(f"{info['type']}: {info['message']}")
        self.info = info
        self.type = info["type"]
        self.mro: list[str] = info["mro"]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.info[name]
        except KeyError:
            raise AttributeError(name) from None


class SdkDriver:
    """A persistent SDK process speaking JSON lines (see drivers/sdk_driver.py)."""

    def __init__(self, python: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
        env.update(
            OAUTHLIB_INSECURE_TRANSPORT="1",
            CLOUD_SDK_OTEL_DISABLED="true",
            PYTHONUNBUFFERED="1",
            NO_PROXY="127.0.0.1,localhost",
        )
        for key in ("AGENTMEMORY_JWT_TOKEN", "OTEL_EXPORTER_OTLP_ENDPOINT", "SERVICE_BINDING_ROOT"):
            env.pop(key, None)
        self.proc = subprocess.Popen(
            [str(python), str(DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def request(self, payload: dict[str, Any]) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(payload) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the SDK driver died (exit {self.proc.poll()})")
        answer = json.loads(line)
        if not answer["ok"]:
            raise DriverError(answer["error"])
        return answer["result"]

    def new(self, kind: str, **payload: Any) -> str:
        return str(self.request({"op": "new", "kind": kind, **payload})["$handle"])

    def call(self, target: str | dict[str, Any], method: str, *args: Any, **kwargs: Any) -> Any:
        handle = target if isinstance(target, str) else target["$handle"]
        return self.request(
            {"op": "call", "target": handle, "method": method, "args": args, "kwargs": kwargs}
        )

    def setenv(self, **env: str | None) -> None:
        self.request({"op": "setenv", "env": env})

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def sdk_python() -> Path:
    try:
        return ensure_sdk_python()
    except RuntimeError as exc:  # no Python 3.12 on this machine
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def driver(sdk_python: Path) -> Iterator[SdkDriver]:
    proc = SdkDriver(sdk_python)
    yield proc
    proc.close()


class Live:
    """A running server plus handles on its app (for server-side checks)."""

    def __init__(self, thread: ServerThread, app: Any, data_dir: Path) -> None:
        self.thread = thread
        self.app = app
        self.url = thread.url
        self.data_dir = data_dir

    @property
    def requests(self) -> Any:
        return self.app.state.requests

    def count(self, method: str, path: str) -> int:
        return int(self.app.state.requests[(method, path)])


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Auth off (loopback), a small embedding queue so a big async add gets 429."""
    data = tmp_path_factory.mktemp("open")
    config = ServerConfig(data_dir=data, embedder=HashingEmbedder())
    config.settings = config.settings.model_copy(update={"queue_max_size": 16})
    app = create_app(config, record_requests=True)
    with ServerThread(app) as thread:
        yield Live(thread, app, data)


@pytest.fixture(scope="module")
def secure_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """Auth on: static tokens and OAuth clients for tenants acme and globex."""
    data = tmp_path_factory.mktemp("secure")
    auth = AuthConfig()
    for tenant, token in TOKENS.items():
        auth.add_token(token, tenant)
    for client_id, (secret, tenant) in CLIENTS.items():
        auth.add_client(client_id, secret, tenant)
    config = ServerConfig(data_dir=data, embedder=HashingEmbedder(), auth=auth)
    app = create_app(config, record_requests=True)
    with ServerThread(app) as thread:
        yield Live(thread, app, data)
