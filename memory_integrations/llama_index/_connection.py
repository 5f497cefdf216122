"""Where an adapter's memory lives: serialisable fields plus a per-process client cache.

LlamaIndex serialises memories, blocks and chat stores through their pydantic fields
(``Context.to_dict()``, ``BaseComponent.to_dict()``) and drops private attributes, so the
adapters keep no client handle of their own. They carry ``path`` / ``url`` / ``embedder``
and ask :func:`shared_client` for the one client of that store in this process, which is
opened on first use (and closed at interpreter exit). A client passed explicitly with
``client=`` is registered under its store's location, so a copy rebuilt from the fields in
the same process uses that very client.

PostgreSQL passwords are never written into these fields: a client on
``postgresql://user:secret@host/db`` is recorded as ``postgresql://user:***@host/db``, and
another process that rebuilds the adapter takes the full URL from
``MEMORY_INTEGRATIONS_URL`` when it names the same database.
"""

from __future__ import annotations

import atexit
import functools
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, Self, TypeVar, cast

import anyio.to_thread
from pydantic import BaseModel, Field

from .._settings import Settings
from ..backend import resolve_location
from ..client import AgentMemoryClient, AsyncAgentMemoryClient, SessionResource, UserResource
from ..errors import ConfigurationError
from ..validation import typed_validation
from ._checks import Id, OptionalText

P = ParamSpec("P")
R = TypeVar("R")

AnyClient = AgentMemoryClient | AsyncAgentMemoryClient

_lock = threading.Lock()
_clients: dict[str, AgentMemoryClient] = {}
_opened: list[AgentMemoryClient] = []


def _is_closed(client: AgentMemoryClient) -> bool:
    return bool(getattr(client, "_closed", False))


_POSTGRES = ("postgresql://", "postgres://")
_URLS = (*_POSTGRES, "http://", "https://")
_CREDENTIALS = re.compile(r"://([^:/@]+):[^@]*@")


def _redact(url: str) -> str:
    return _CREDENTIALS.sub(r"://\1:***@", url)


def _location_key(location: str) -> str:
    if location == ":memory:":
        return location
    if location.startswith(_URLS):
        return _redact(location)
    return str(Path(location).expanduser().resolve())


def _with_credentials(url: str | None) -> str | None:
    """A redacted PostgreSQL URL made usable again from ``MEMORY_INTEGRATIONS_URL``."""
    if url is None or "***" not in url:
        return url
    configured = Settings().url
    if configured and _redact(configured) == url:
        return configured
    return url


def _close_opened() -> None:
    with _lock:
        opened = list(_opened)
        _opened.clear()
        _clients.clear()
    for client in opened:
        client.close()


atexit.register(_close_opened)


def embedder_spec(client: AgentMemoryClient) -> str | None:
    """The spec string that reopens ``client``'s embedder in another process, if known."""
    from ..embedders import HashingEmbedder, MiniLMEmbedder, OpenAICompatibleEmbedder

    embedder = getattr(client.backend, "embedder", None)
    if isinstance(embedder, HashingEmbedder):
        return f"hashing:{embedder.dim}"
    if isinstance(embedder, MiniLMEmbedder):
        return "default"
    if isinstance(embedder, OpenAICompatibleEmbedder):
        return embedder.name  # "openai:<model>"; the base URL comes from OPENAI_BASE_URL
    return None


def source_fields(source: object, client: object, data: dict[str, Any]) -> object:
    """Fold the first positional argument of an adapter into its fields: a client (sync or
    async), a user or session handle (their client, ``user_id``, ``session_id``), or where
    the memory lives (a SQLite path, a ``postgresql://`` or ``http(s)://`` URL). Returns
    the client to register, if any."""
    if source is None:
        return client
    if client is not None:
        raise ConfigurationError("pass the client once: as the first argument or as client=")
    if isinstance(source, (str, Path)):
        text = str(source)
        data.setdefault("url" if text.startswith(_URLS) else "path", text)
        return None
    if isinstance(source, (AgentMemoryClient, AsyncAgentMemoryClient)):
        return source
    sync = getattr(source, "sync", source)  # an async handle wraps a sync one
    if isinstance(sync, (UserResource, SessionResource)):
        data.setdefault("user_id", sync.user_id)
        if isinstance(sync, SessionResource):
            data.setdefault("session_id", sync.session_id)
        return sync._client
    raise ConfigurationError(
        "the first argument is where the memory lives: an AgentMemoryClient or "
        "AsyncAgentMemoryClient, a user or session handle, or a SQLite path / "
        f"postgresql:// / http(s):// URL; got {type(source).__name__}"
    )


def register_client(client: object) -> tuple[str, str | None]:
    """Make ``client`` the shared client of its store; return ``(location, embedder spec)``."""
    if not isinstance(client, (AgentMemoryClient, AsyncAgentMemoryClient)):
        raise ConfigurationError(
            "client= (and from_client) take an open AgentMemoryClient or "
            f"AsyncAgentMemoryClient, got {type(client).__name__}; to use the store at a SQLite "
            "path or a postgresql:// / http(s):// URL, pass path='...' or url='...' instead"
        )
    sync = client.sync_client if isinstance(client, AsyncAgentMemoryClient) else client
    location = getattr(getattr(sync.backend, "database", None), "location", None)
    if location is None:  # a remote client: its server's URL
        location = getattr(sync.backend, "base_url", None)
    if not isinstance(location, str):
        raise ConfigurationError(
            "the LlamaIndex adapters need an embedded client (AgentMemoryClient(path=...) or "
            "url='postgresql://...'); this one has no database"
        )
    key = _location_key(location)
    with _lock:
        _clients[key] = sync
    return key, embedder_spec(sync)


def shared_client(
    path: str | None = None, url: str | None = None, embedder: str | None = None
) -> AgentMemoryClient:
    """The process-wide client of the store at ``path`` / ``url`` (opened on first use)."""
    remote = url is not None and url.startswith(("http://", "https://"))
    key = _location_key(url if remote and url else resolve_location(path, url, Settings()))
    with _lock:
        client = _clients.get(key)
        if client is None or _is_closed(client):
            if remote:
                client = AgentMemoryClient(base_url=url)
            else:
                client = AgentMemoryClient(path, url=_with_credentials(url), embedder=embedder)
            _clients[key] = client
            _opened.append(client)
        return client


async def run_sync(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run the sync implementation on a worker thread (the one async path of the adapters)."""
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


class MemoryLocation(BaseModel):
    """Serialisable fields naming the memory store and the user; shared by the adapters.

    Pass ``client=`` (an :class:`AgentMemoryClient` or its async twin) to use an open
    client; ``path`` and ``embedder`` are then filled in from it, so the object can be
    serialised and rebuilt elsewhere.
    """

    user_id: Id = Field(description="The memory user (one per application identity).")
    path: OptionalText = Field(
        default=None, description="SQLite file of the memory store (default: the env/cwd one)."
    )
    url: OptionalText = Field(default=None, description="Storage URL, instead of path.")
    embedder: OptionalText = Field(
        default=None,
        description="Embedder spec used when this process opens the store ('default', "
        "'hashing', 'openai:<model>'); None = MEMORY_INTEGRATIONS_EMBEDDER or the default.",
    )

    def __init__(
        self, source: object = None, /, *, client: AnyClient | None = None, **data: Any
    ) -> None:
        with typed_validation(type(self).__name__):
            client = cast("AnyClient | None", source_fields(source, client, data))
            if client is not None:
                location, spec = register_client(client)
                if data.get("path") is None and data.get("url") is None:
                    field = "url" if location.startswith(_URLS) else "path"
                    data[field] = location
                if data.get("embedder") is None:
                    data["embedder"] = spec
            super().__init__(**data)

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """Pydantic's validation of stored fields, with this package's errors."""
        with typed_validation(cls.__name__):
            return super().model_validate(obj, **options)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        with typed_validation(cls.__name__):
            return super().model_validate_json(json_data, **options)

    @classmethod
    def from_client(cls, client: object, *, user_id: str | None = None, **fields: Any) -> Self:
        """Build on a client, a user/session handle, or a location (``cls(client, ...)``)."""
        if user_id is not None:
            fields["user_id"] = user_id
        return cls(client, **fields)

    @property
    def client(self) -> AgentMemoryClient:
        """The shared client of this store (opened on first use)."""
        return shared_client(self.path, self.url, self.embedder)
