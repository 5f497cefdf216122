"""Schemathesis, from the server's own OpenAPI schema: no 5xx, every error in the envelope.

Bounded: a handful of examples per operation (a few hundred requests in all), sent over
ASGI to the real app on a temporary directory (its lifespan runs around every call, so
stores reopen each time, as after a restart).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from memory_integrations.embedders import HashingEmbedder  # noqa: E402
from memory_integrations.server import ServerConfig, create_app  # noqa: E402

ENVELOPE = {"error", "message", "details", "request_id"}

pytestmark = pytest.mark.slow

_DATA = tempfile.TemporaryDirectory(prefix="mi-fuzz-")
# schemathesis calls the ASGI app as Host "testserver"
APP = create_app(
    ServerConfig(
        data_dir=Path(_DATA.name), embedder=HashingEmbedder(), allowed_hosts=("testserver",)
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_enveloped_errors(case: Any) -> None:
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) >= ENVELOPE, response.text
        assert isinstance(body["error"], str) and body["message"]
    elif response.status_code != 204 and response.content:
        case.validate_response(response, checks=[schemathesis.checks.response_schema_conformance])
