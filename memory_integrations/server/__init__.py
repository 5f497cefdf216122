"""The engine over HTTP: the Couchbase Agent Memory API at ``/``, SAP Agent Memory v1 at ``/v1``.

Needs the ``server`` extra (``pip install "memory-integrations[server]"``): FastAPI and
uvicorn are imported only when this package is.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "memory_integrations.server needs FastAPI and uvicorn: "
        'pip install "memory-integrations[server]"'
    ) from exc

from ._app import IMPLEMENTATION, create_app
from ._auth import TokenAuthority
from ._config import DEFAULT_TENANT, AuthConfig, ServerConfig, redact_location, store_location
from ._run import ServerThread, serve

__all__ = [
    "DEFAULT_TENANT",
    "IMPLEMENTATION",
    "AuthConfig",
    "ServerConfig",
    "ServerThread",
    "TokenAuthority",
    "create_app",
    "redact_location",
    "serve",
    "store_location",
]
