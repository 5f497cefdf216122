"""The asyncio client: the same surface as the sync client, run on worker threads.

There is one implementation: every async method calls its sync twin in a thread, so the
event loop never blocks on SQLite, embedding or HTTP.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio.to_thread

from .._settings import Settings
from ..backend import Backend
from ..storage import SqlDatabase
from ._sync import AgentMemoryClient, SessionResource, UserResource

P = ParamSpec("P")
R = TypeVar("R")
W = TypeVar("W")


def _run_in_thread(
    method: Callable[Concatenate[Any, P], R],
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]:
    name = method.__name__

    async def call(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound = getattr(self._sync, name)
        return await anyio.to_thread.run_sync(functools.partial(bound, *args, **kwargs))

    functools.update_wrapper(call, method)
    return call


def _run_and_wrap(
    method: Callable[Concatenate[Any, P], Any], wrap: Callable[[Any], W]
) -> Callable[Concatenate[Any, P], Coroutine[Any, Any, W]]:
    name = method.__name__

    async def call(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> W:
        bound = getattr(self._sync, name)
        return wrap(await anyio.to_thread.run_sync(functools.partial(bound, *args, **kwargs)))

    functools.update_wrapper(call, method)
    return call


class AsyncSessionResource:
    """Async twin of :class:`SessionResource`."""

    def __init__(self, sync: SessionResource) -> None:
        self._sync = sync

    @property
    def sync(self) -> SessionResource:
        """The synchronous handle this one wraps."""
        return self._sync

    def __getattr__(self, name: str) -> Any:  # user_id, session_id, start_time, ...
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._sync, name)

    def __repr__(self) -> str:
        return f"Async{self._sync!r}"

    update = _run_and_wrap(SessionResource.update, lambda s: AsyncSessionResource(s))
    end = _run_and_wrap(SessionResource.end, lambda s: AsyncSessionResource(s))
    delete = _run_in_thread(SessionResource.delete)
    add_memory = _run_in_thread(SessionResource.add_memory)
    update_memory = _run_in_thread(SessionResource.update_memory)
    get_memory = _run_in_thread(SessionResource.get_memory)
    search_memory = _run_in_thread(SessionResource.search_memory)
    get_memory_block = _run_in_thread(SessionResource.get_memory_block)
    list_memories = _run_in_thread(SessionResource.list_memories)
    delete_memory = _run_in_thread(SessionResource.delete_memory)
    count_memories = _run_in_thread(SessionResource.count_memories)


class AsyncUserResource:
    """Async twin of :class:`UserResource`."""

    def __init__(self, sync: UserResource) -> None:
        self._sync = sync

    @property
    def sync(self) -> UserResource:
        """The synchronous handle this one wraps."""
        return self._sync

    @property
    def id(self) -> str:
        """The same as ``user_id`` (the name the ``User`` model uses)."""
        return self._sync.id

    def __getattr__(self, name: str) -> Any:  # user_id, name, sessions, metadata
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._sync, name)

    def __repr__(self) -> str:
        return f"Async{self._sync!r}"

    fact_history = _run_in_thread(UserResource.fact_history)
    update = _run_and_wrap(UserResource.update, lambda u: AsyncUserResource(u))
    delete = _run_in_thread(UserResource.delete)
    modify_ttl = _run_in_thread(UserResource.modify_ttl)
    create_session = _run_and_wrap(UserResource.create_session, AsyncSessionResource)
    get_session = _run_and_wrap(UserResource.get_session, AsyncSessionResource)
    get_or_create_session = _run_and_wrap(UserResource.get_or_create_session, AsyncSessionResource)
    list_sessions = _run_in_thread(UserResource.list_sessions)
    list_memories = _run_in_thread(UserResource.list_memories)
    search_memory = _run_in_thread(UserResource.search_memory)
    count_memories = _run_in_thread(UserResource.count_memories)


class AsyncAgentMemoryClient:
    """Async twin of :class:`AgentMemoryClient`, with exactly the same surface.

    Every method is the sync one run in a worker thread (one implementation). Use
    ``async with AsyncAgentMemoryClient(...) as client:`` or ``await client.aclose()``.

    Args:
        *args, **kwargs: as :class:`AgentMemoryClient`.

    Example:
        ```python
        from memory_integrations import AsyncAgentMemoryClient

        async with AsyncAgentMemoryClient("memory.sqlite3") as client:
            user = await client.get_or_create_user("ana")
            session = await user.get_or_create_session("trip-1")
            await session.add_memory(facts=["Ana is vegetarian."])
        ```
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        url: str | None = None,
        base_url: str | None = None,
        token: str | None = None,
        embedder: Any = None,
        settings: Settings | None = None,
        memory_block_ttl: int | None = None,
        clock: Callable[[], float] | None = None,
        backend: Backend | None = None,
        extractor: Any = None,
    ) -> None:
        self._sync = AgentMemoryClient(
            path,
            url=url,
            base_url=base_url,
            token=token,
            embedder=embedder,
            settings=settings,
            memory_block_ttl=memory_block_ttl,
            clock=clock,
            backend=backend,
            extractor=extractor,
        )

    @classmethod
    def from_client(cls, client: AgentMemoryClient) -> AsyncAgentMemoryClient:
        """An async view of an existing sync client (they share the backend)."""
        self = cls.__new__(cls)
        self._sync = client
        return self

    @classmethod
    def for_sap(cls, base_url: str | None = None, **options: Any) -> AsyncAgentMemoryClient:
        """Async twin of :meth:`AgentMemoryClient.for_sap`."""
        return cls.from_client(AgentMemoryClient.for_sap(base_url, **options))

    @property
    def sync_client(self) -> AgentMemoryClient:
        return self._sync

    @property
    def backend(self) -> Backend:
        return self._sync.backend

    @property
    def database(self) -> SqlDatabase:
        return self._sync.database

    @property
    def embedder(self) -> Any:
        """The embedder of an embedded backend (``None`` for remote services)."""
        return self._sync.embedder

    @property
    def closed(self) -> bool:
        return self._sync.closed

    async def __aenter__(self) -> AsyncAgentMemoryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    close = _run_in_thread(AgentMemoryClient.close)
    aclose = close
    health_ping = _run_in_thread(AgentMemoryClient.health_ping)
    metrics = _run_in_thread(AgentMemoryClient.metrics)
    create_prompt = _run_in_thread(AgentMemoryClient.create_prompt)
    get_prompt = _run_in_thread(AgentMemoryClient.get_prompt)
    list_prompts = _run_in_thread(AgentMemoryClient.list_prompts)
    update_prompt = _run_in_thread(AgentMemoryClient.update_prompt)
    list_prompt_versions = _run_in_thread(AgentMemoryClient.list_prompt_versions)
    archive_prompt = _run_in_thread(AgentMemoryClient.archive_prompt)
    purge_prompt = _run_in_thread(AgentMemoryClient.purge_prompt)
    create_user = _run_and_wrap(AgentMemoryClient.create_user, AsyncUserResource)
    get_user = _run_and_wrap(AgentMemoryClient.get_user, AsyncUserResource)
    get_or_create_user = _run_and_wrap(AgentMemoryClient.get_or_create_user, AsyncUserResource)
    list_users = _run_in_thread(AgentMemoryClient.list_users)
    delete_user = _run_in_thread(AgentMemoryClient.delete_user)
    get_retention_config = _run_in_thread(AgentMemoryClient.get_retention_config)
    update_retention_config = _run_in_thread(AgentMemoryClient.update_retention_config)
    sweep_expired = _run_in_thread(AgentMemoryClient.sweep_expired)
    wait_until_processed = _run_in_thread(AgentMemoryClient.wait_until_processed)
