"""The public synchronous client and its user/session handles."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from .._models import (
    AddMemoryResponse,
    ChatMessage,
    DeleteMemoryResponse,
    FactChange,
    FilterOptions,
    HealthPingResponse,
    ListMemoriesResponse,
    MemoryBlock,
    MemoryList,
    Prompt,
    PromptList,
    PromptVersion,
    PromptVersionList,
    RetentionConfig,
    Session,
    SessionList,
    UpdateMemoryResponse,
    User,
    UserList,
)
from .._settings import Settings
from ..backend import Backend, open_embedded
from ..errors import ConfigurationError
from ..storage import SqlDatabase

Filters = FilterOptions | Mapping[str, Any] | None


class AgentMemoryClient:
    """Persistent agent memory: users → sessions → memory blocks.

    ``AgentMemoryClient()`` opens the embedded engine on ``./agent-memory.sqlite3`` (or
    ``MEMORY_INTEGRATIONS_URL``); ``path=`` picks another file (``":memory:"`` for
    throwaway use). ``embedder=`` takes an embedder spec or object (default: the local
    all-MiniLM-L6-v2). Use it as a context manager, or call :meth:`close`; a client that
    is never closed finishes its queued embeddings at interpreter exit.

    Args:
        path: a SQLite file (created with its folder if missing), ``sqlite:///...``,
            ``":memory:"``, or a ``postgresql://`` URL.
        url: the same as a URL (``postgresql://``, ``sqlite:///``) or an ``http(s)://``
            server (then like ``base_url``).
        base_url: a memory-integrations or Couchbase Agent Memory server.
        token: the bearer token for ``base_url``.
        embedder: an embedder spec (``"default"``, ``"hashing"``, ``"openai:<model>"``)
            or object (an ``Embedder``, a LangChain or LlamaIndex embeddings object).
        settings: engine settings (else from ``MEMORY_INTEGRATIONS_*`` variables).
        memory_block_ttl: the default TTL of blocks in seconds (0 = never).
        clock: returns epoch seconds (tests).
        backend: a ready ``Backend`` (e.g. ``SapBackend``) instead of the above.
        extractor: a model for semantic extraction (summary and contexts per block): a
            LangChain chat model, an ``Extractor``, or a spec such as
            ``"openai-compatible:<model>"``; default ``MEMORY_INTEGRATIONS_EXTRACTION_MODEL``,
            else none (see docs/extraction.md).

    Example:
        ```python
        from memory_integrations import AgentMemoryClient

        with AgentMemoryClient("memory.sqlite3") as client:
            user = client.get_or_create_user("ana")
            session = user.get_or_create_session("trip-1")
            session.add_memory(facts=["Ana is vegetarian."], async_processing=False)
            hits = user.search_memory("What does Ana eat?")
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
        settings = settings or Settings()
        remote = base_url or (url if url and url.startswith(("http://", "https://")) else None)
        if remote is None and path is None and url is None and backend is None:
            env_url = settings.url or ""
            remote = env_url if env_url.startswith(("http://", "https://")) else None
        if remote is not None or token is not None:
            local = (path, embedder, backend, extractor)
            if remote is None or any(option is not None for option in local):
                raise ConfigurationError(
                    "a remote server takes base_url= (and token=) only: it embeds, extracts "
                    "and stores server-side, so path=, embedder=, extractor= and backend= do "
                    "not apply"
                )
            from ..backend import RemoteBackend

            backend = RemoteBackend(remote, token=token)
        if memory_block_ttl is not None:
            settings = settings.model_copy(update={"memory_block_ttl": memory_block_ttl})
        self._backend: Backend = backend or open_embedded(
            path, url=url, embedder=embedder, settings=settings, clock=clock, extractor=extractor
        )
        self._closed = False

    @classmethod
    def for_sap(cls, base_url: str | None = None, **options: Any) -> AgentMemoryClient:
        """A client of an SAP Agent Memory service; see ``SapBackend`` for the options
        (``agent_id=``, OAuth ``token_url=``/``client_id=``/``client_secret=``, or none of
        them to read the service binding / ``CLOUD_SDK_CFG_HANA_AGENT_MEMORY_DEFAULT_*``)."""
        from ..backend import SapBackend

        return cls(backend=SapBackend(base_url, **options))

    # --- plumbing -----------------------------------------------------------------------

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def embedder(self) -> Any:
        """The embedder of an embedded backend (``None`` for remote services)."""
        return getattr(self._backend, "embedder", None)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._closed

    @property
    def database(self) -> SqlDatabase:
        """The SQL database of an embedded backend (the LangGraph saver and store use it)."""
        database = getattr(self._backend, "database", None)
        if database is None:
            raise ConfigurationError(
                "this client talks to a remote memory service; checkpointers and stores need "
                "an embedded backend: AgentMemoryClient(path=...) or url='postgresql://...'"
            )
        return database  # type: ignore[no-any-return]

    def __enter__(self) -> AgentMemoryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Finish queued embeddings (up to ``timeout`` s) and release the store.

        Blocks still waiting are kept as ``processing`` and resume on the next open.
        """
        if not self._closed:
            self._closed = True
            self._backend.close(drain=drain, timeout=timeout)

    # --- client operations --------------------------------------------------------------

    def health_ping(self, entity: str | None = None) -> HealthPingResponse:
        """Check storage, the embedding model and the processing worker. Never raises."""
        return self._backend.health(entity)

    def create_user(
        self, user_id: str, name: str, metadata: Mapping[str, Any] | None = None
    ) -> UserResource:
        return UserResource(self, self._backend.create_user(user_id, name, metadata))

    def get_user(self, user_id: str) -> UserResource:
        return UserResource(self, self._backend.get_user(user_id))

    def get_or_create_user(self, user_id: str, name: str | None = None) -> UserResource:
        """Return the user, creating it (named ``name`` or its id) when missing."""
        from ..errors import ConflictError, NotFoundError

        try:
            return self.get_user(user_id)
        except NotFoundError:
            try:
                return self.create_user(user_id, name or user_id)
            except ConflictError:  # created concurrently
                return self.get_user(user_id)

    def list_users(
        self,
        name: str | None = None,
        metadata: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> UserList:
        return self._backend.list_users(name, metadata, limit, offset)

    def delete_user(self, user_id: str) -> None:
        """Delete a user with all its sessions and memory blocks."""
        self._backend.delete_user(user_id)

    def metrics(self) -> dict[str, float]:
        """The embedded engine's processing counters by their Prometheus names (queue depth,
        throughput, retries, ``agentmemory_async_batch_permanent_failures_total``): the
        figures a server's ``/metrics`` reports, for this process."""
        return self._backend.metrics()

    # --- prompt registry (extraction prompts, global to the store or server) -----------

    def create_prompt(
        self,
        prompt_id: str,
        prompt: str,
        description: str,
        annotations: Mapping[str, str] | None = None,
    ) -> Prompt:
        """Register an extraction prompt (version 0); blocks name it with ``prompt_id``."""
        return self._backend.create_prompt(prompt_id, prompt, description, annotations)

    def get_prompt(self, prompt_id: str, vid: int | None = None) -> Prompt | PromptVersion:
        """A prompt at its current version, or its version ``vid``."""
        return self._backend.get_prompt(prompt_id, vid)

    def list_prompts(self, limit: int = 100, offset: int = 0) -> PromptList:
        return self._backend.list_prompts(limit, offset)

    def update_prompt(
        self,
        prompt_id: str,
        prompt: str | None = None,
        description: str | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Prompt:
        """New ``prompt`` text adds an immutable version (blocks keep theirs)."""
        return self._backend.update_prompt(prompt_id, prompt, description, annotations)

    def list_prompt_versions(
        self, prompt_id: str, limit: int = 100, offset: int = 0
    ) -> PromptVersionList:
        return self._backend.list_prompt_versions(prompt_id, limit, offset)

    def archive_prompt(self, prompt_id: str, vid: int | str = "all") -> None:
        """Archive a prompt (``"all"``) or one old version: no new block may use it."""
        self._backend.archive_prompt(prompt_id, vid)

    def purge_prompt(self, prompt_id: str, vid: int | str = "all") -> None:
        """Delete a prompt (``"all"``, freeing its id) or one old version."""
        self._backend.purge_prompt(prompt_id, vid)

    def get_retention_config(self) -> RetentionConfig:
        return self._backend.get_retention()

    def update_retention_config(
        self, message_days: Any = "keep", memory_days: Any = "keep"
    ) -> RetentionConfig:
        """Partial update of the retention policy (days by creation time; None = keep all)."""
        return self._backend.set_retention(message_days, memory_days)

    def sweep_expired(self) -> dict[str, int]:
        """Delete expired blocks and blocks past retention now (the worker also does it)."""
        return self._backend.sweep()

    def wait_until_processed(self, timeout: float | None = 60.0) -> bool:
        """Block until background embedding has caught up; False on timeout."""
        return self._backend.wait_until_processed(timeout)


class UserResource:
    """A user handle: sessions, TTL and cross-session reads."""

    def __init__(self, client: AgentMemoryClient, model: User) -> None:
        self._client = client
        self._backend = client.backend
        self._apply(model)

    def _apply(self, model: User) -> None:
        self.model = model
        self.user_id = model.id
        self.name = model.name
        self.sessions = model.sessions
        self.metadata = model.metadata

    @property
    def id(self) -> str:
        """The same as ``user_id`` (the name the ``User`` model uses)."""
        return self.user_id

    def __repr__(self) -> str:
        return f"UserResource(user_id={self.user_id!r}, name={self.name!r})"

    def update(
        self, name: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> UserResource:
        self._apply(self._backend.update_user(self.user_id, name, metadata))
        return self

    def delete(self) -> None:
        self._backend.delete_user(self.user_id)

    def modify_ttl(
        self,
        new_ttl: int,
        session_id: str | None = None,
        block_ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Set the TTL (seconds from now, 0 = never) of all, one session's, or some blocks."""
        return self._backend.modify_ttl(self.user_id, new_ttl, session_id, block_ids)

    def fact_history(self, block_id: str | None = None) -> list[FactChange]:
        """What fact management changed in this user's facts (or one fact), oldest first:
        each addition, update and deletion with its model, time and source block."""
        return self._backend.fact_history(self.user_id, block_id)

    def create_session(
        self,
        session_id: str,
        annotations: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        memory_blocks_ttl: int | None = None,
    ) -> SessionResource:
        model = self._backend.create_session(
            self.user_id, session_id, annotations, metadata, memory_blocks_ttl
        )
        return SessionResource(self._client, model)

    def get_session(self, session_id: str) -> SessionResource:
        return SessionResource(self._client, self._backend.get_session(self.user_id, session_id))

    def get_or_create_session(
        self,
        session_id: str,
        annotations: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        memory_blocks_ttl: int | None = None,
    ) -> SessionResource:
        """Return the session, creating it with these settings when missing."""
        from ..errors import ConflictError, NotFoundError

        try:
            return self.get_session(session_id)
        except NotFoundError:
            try:
                return self.create_session(session_id, annotations, metadata, memory_blocks_ttl)
            except ConflictError:
                return self.get_session(session_id)

    def list_sessions(self, limit: int | None = None, offset: int | None = None) -> SessionList:
        return self._backend.list_sessions(
            self.user_id, 50 if limit is None else limit, 0 if offset is None else offset
        )

    def list_memories(
        self,
        session_ids: Sequence[str] | str | None = None,
        limit: int = 20,
        offset: int = 0,
        order_by: str = "ingested_at",
    ) -> ListMemoriesResponse:
        """One page of the user's blocks across all sessions (or ``session_ids``)."""
        return self._backend.list_memories(self.user_id, session_ids, limit, offset, order_by)

    def search_memory(self, query: str | None = None, filters: Filters = None) -> MemoryList:
        """Search every session of the user (unless ``filters`` names sessions)."""
        return self._backend.search_memory(self.user_id, None, query, filters)

    def count_memories(self, filters: Filters = None) -> int:
        return self._backend.count_memories(self.user_id, None, filters)


class SessionResource:
    """A session handle: add, search, update, list and delete its memory blocks."""

    def __init__(self, client: AgentMemoryClient, model: Session) -> None:
        self._client = client
        self._backend = client.backend
        self._apply(model)

    def _apply(self, model: Session) -> None:
        self.model = model
        self.user_id = model.user_id
        self.session_id = model.session_id
        self.start_time = model.start_time
        self.end_time = model.end_time
        self.annotations = model.annotations
        self.metadata = model.metadata
        self.blocks_ttl = model.blocks_ttl

    def __repr__(self) -> str:
        return f"SessionResource(user_id={self.user_id!r}, session_id={self.session_id!r})"

    def update(
        self,
        annotations: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> SessionResource:
        self._apply(
            self._backend.update_session(self.user_id, self.session_id, annotations, metadata)
        )
        return self

    def delete(self) -> None:
        """Delete the session and all its memory blocks."""
        self._backend.delete_session(self.user_id, self.session_id)

    def end(self) -> SessionResource:
        """Mark the conversation over; an ended session accepts no new blocks."""
        self._apply(self._backend.end_session(self.user_id, self.session_id))
        return self

    def add_memory(
        self,
        messages: Sequence[ChatMessage | Mapping[str, Any]] | None = None,
        facts: Sequence[str] | None = None,
        annotations: Mapping[str, str] | Sequence[Mapping[str, str] | None] | None = None,
        async_processing: bool = True,
        memory_block_ttl: int | None = None,
        created_at: datetime | str | Sequence[datetime | str | None] | None = None,
        metadata: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = None,
        agent_id: str | None = None,
        prompt_id: str | None = None,
        prompt_vid: int | None = None,
        context_required: bool | None = None,
        manage_facts: bool | None = None,
    ) -> AddMemoryResponse:
        """Store messages or facts (not both), one block each.

        With ``async_processing=True`` (default) it returns at once and the blocks become
        searchable when embedded; ``False`` returns when they are searchable. ``annotations``,
        ``metadata`` and ``created_at`` are each one value for every item, or a list with one
        entry per item. ``prompt_id`` / ``prompt_vid`` pick the registry prompt semantic
        extraction uses; ``context_required=False`` skips extraction for these blocks.
        ``manage_facts=True`` keeps the user's facts current: messages yield facts (with an
        extraction model) and a fact that repeats, revises or contradicts a known one
        updates it instead of piling up (see docs/extraction.md).
        """
        return self._backend.add_memory(
            self.user_id,
            self.session_id,
            messages,
            facts,
            annotations,
            async_processing,
            memory_block_ttl,
            created_at,
            metadata,
            agent_id,
            prompt_id=prompt_id,
            prompt_vid=prompt_vid,
            context_required=context_required,
            manage_facts=manage_facts,
        )

    def update_memory(
        self,
        block_id: str,
        message: ChatMessage | Mapping[str, Any] | None = None,
        fact: str | None = None,
        annotations: Mapping[str, str] | None = None,
        memory_block_ttl: int | None = None,
        async_processing: bool = True,
        metadata: Mapping[str, Any] | None = None,
        prompt_id: str | None = None,
        prompt_vid: int | None = None,
        context_required: bool | None = None,
    ) -> UpdateMemoryResponse:
        """Change a ready block: content (same kind), annotations, metadata, TTL or its
        extraction prompt (``prompt_id="default"``: the base prompt)."""
        return self._backend.update_memory(
            self.user_id,
            self.session_id,
            block_id,
            message,
            fact,
            annotations,
            memory_block_ttl,
            async_processing,
            metadata,
            prompt_id=prompt_id,
            prompt_vid=prompt_vid,
            context_required=context_required,
        )

    def get_memory(self, query: str | None = None, filters: Filters = None) -> MemoryList:
        """Search this session (or the sessions in ``filters``); no query = filter-only."""
        return self._backend.search_memory(self.user_id, self.session_id, query, filters)

    search_memory = get_memory

    def get_memory_block(self, block_id: str) -> MemoryBlock:
        return self._backend.get_memory_block(self.user_id, self.session_id, block_id)

    def list_memories(
        self,
        session_ids: Sequence[str] | str | None = None,
        limit: int = 20,
        offset: int = 0,
        order_by: str = "ingested_at",
    ) -> ListMemoriesResponse:
        """One page of this session's blocks (or of ``session_ids``; ``"all"`` for all)."""
        scope = self.session_id if session_ids is None else session_ids
        return self._backend.list_memories(self.user_id, scope, limit, offset, order_by)

    def delete_memory(self, block_ids: Sequence[str] | str) -> DeleteMemoryResponse:
        """Delete blocks by id, or every block of the session with ``"all"``."""
        return self._backend.delete_memory(self.user_id, self.session_id, block_ids)

    def count_memories(self, filters: Filters = None) -> int:
        return self._backend.count_memories(self.user_id, self.session_id, filters)
