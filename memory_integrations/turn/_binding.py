"""Where an adapter reads and writes: a session, a user, or a client plus ids.

Adapters accept any client or handle (sync or async) and resolve it here to the sync
handles they call, creating the user and session on the first write. Ids that are not fixed
up front come from the LangChain/LangGraph ``configurable`` mapping of each call.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from ..client import (
    AgentMemoryClient,
    AsyncAgentMemoryClient,
    AsyncSessionResource,
    AsyncUserResource,
    SessionResource,
    UserResource,
)
from ..errors import ConfigurationError, NotFoundError, ValidationError
from ..validation import check_id

MemorySource = (
    AgentMemoryClient
    | AsyncAgentMemoryClient
    | UserResource
    | AsyncUserResource
    | SessionResource
    | AsyncSessionResource
    | str
    | Path
)
"""Anything an adapter can be built on: a client or handle, or where the memory lives (a
SQLite path, a ``postgresql://`` URL or an ``http(s)://`` server URL)."""

T = TypeVar("T")

_CACHE_SIZE = 256


def _sync_source(
    source: MemorySource,
) -> AgentMemoryClient | UserResource | SessionResource:
    if isinstance(source, AsyncAgentMemoryClient):
        return source.sync_client
    if isinstance(source, (AsyncUserResource, AsyncSessionResource)):
        return source._sync
    if isinstance(source, (AgentMemoryClient, UserResource, SessionResource)):
        return source
    if isinstance(source, (str, Path)):  # where the memory lives: open a client on it
        text = str(source)
        if text.startswith(("http://", "https://")):
            return AgentMemoryClient(base_url=text)
        return AgentMemoryClient(text)
    raise ConfigurationError(
        "expected an AgentMemoryClient, AsyncAgentMemoryClient, a user/session handle "
        "(UserResource, SessionResource or their async twins), or a SQLite path / "
        f"postgresql:// / http(s):// URL; got {type(source).__name__}"
    )


_SOURCES = (
    "a client (sync or async), a user or session handle, or where the memory lives (a "
    "SQLite path, postgresql:// or http(s):// URL)"
)


def one_source(source: object, client: object, what: str, accepts: str = _SOURCES) -> Any:
    """The one thing an adapter is built on, given positionally or as ``client=``."""
    if source is not None and client is not None:
        raise ConfigurationError(
            f"{what}: pass the client once, as the first argument or as client="
        )
    chosen = client if source is None else source
    if chosen is None:
        raise ConfigurationError(f"{what} needs {accepts}, as the first argument or as client=")
    return chosen


class MemoryBinding:
    """Resolves ``(source, user_id, session_id)`` to session and user handles.

    ``source`` is a client (then ``user_id`` / ``session_id`` may be fixed here or read per
    call from ``configurable["user_id"]`` / ``configurable["session_id"]``, falling back to
    ``configurable["thread_id"]`` for the session), a user handle (the session may vary), or a
    session handle (both ids fixed). Handles are created on first write and cached.
    """

    def __init__(
        self,
        source: MemorySource,
        *,
        user_id: str | None = None,
        session_id: str | None = None,
    ) -> None:
        if user_id is not None:
            check_id(user_id, "user_id")
        if session_id is not None:
            check_id(session_id, "session_id")
        sync = _sync_source(source)
        fixed_session: SessionResource | None = None
        if isinstance(sync, SessionResource):
            fixed_session = sync
            client = sync._client
            user_id = _check_same("user_id", user_id, sync.user_id)
            session_id = _check_same("session_id", session_id, sync.session_id)
        elif isinstance(sync, UserResource):
            client = sync._client
            user_id = _check_same("user_id", user_id, sync.user_id)
        else:
            client = sync
        self.client: AgentMemoryClient = client
        self.user_id = user_id
        self.session_id = session_id
        self._fixed_session = fixed_session
        self._sessions: OrderedDict[tuple[str, str], SessionResource] = OrderedDict()
        self._users: OrderedDict[str, UserResource] = OrderedDict()
        self._lock = threading.Lock()
        if fixed_session is not None:
            self._sessions[(fixed_session.user_id, fixed_session.session_id)] = fixed_session
        if isinstance(sync, UserResource):
            self._users[sync.user_id] = sync

    def __repr__(self) -> str:
        return f"MemoryBinding(user_id={self.user_id!r}, session_id={self.session_id!r})"

    # --- ids ----------------------------------------------------------------------------

    def resolve_user_id(self, configurable: Mapping[str, Any] | None = None) -> str:
        """The fixed user id, else ``configurable["user_id"]``."""
        if self.user_id is not None:
            return self.user_id
        value = (configurable or {}).get("user_id")
        if not value:  # the adapter's wiring, not the model's input
            raise ConfigurationError(
                "no user id: pass user_id= (or a user/session handle) when building the "
                'adapter, or call it with config={"configurable": {"user_id": ...}}'
            )
        return check_id(value, 'configurable["user_id"]')

    def resolve_session_id(self, configurable: Mapping[str, Any] | None = None) -> str:
        """The fixed session id, else ``configurable["session_id"]`` or ``["thread_id"]``."""
        if self.session_id is not None:
            return self.session_id
        values = configurable or {}
        value = values.get("session_id") or values.get("thread_id")
        if not value:
            raise ConfigurationError(
                "no session id: pass session_id= (or a session handle) when building the "
                'adapter, or call it with config={"configurable": {"session_id": ...}} '
                '(a LangGraph "thread_id" also works)'
            )
        return check_id(value, 'configurable["session_id"]')

    @property
    def has_session(self) -> bool:
        """Whether the session is fixed (no per-call ``session_id`` needed)."""
        return self.session_id is not None

    # --- handles ------------------------------------------------------------------------

    def user(
        self, configurable: Mapping[str, Any] | None = None, *, create: bool = True
    ) -> UserResource | None:
        """The user handle; ``None`` when it does not exist and ``create`` is false."""
        user_id = self.resolve_user_id(configurable)
        with self._lock:
            cached = self._users.get(user_id)
        if cached is not None:
            return cached
        if create:
            user = self.client.get_or_create_user(user_id)
        else:
            try:
                user = self.client.get_user(user_id)
            except NotFoundError:
                return None
        self._remember(self._users, user_id, user)
        return user

    def session(
        self, configurable: Mapping[str, Any] | None = None, *, create: bool = True
    ) -> SessionResource | None:
        """The session handle; ``None`` when it does not exist and ``create`` is false."""
        key = (self.resolve_user_id(configurable), self.resolve_session_id(configurable))
        with self._lock:
            cached = self._sessions.get(key)
        if cached is not None:
            return cached
        user = self.user(configurable, create=create)
        if user is None:
            return None
        if create:
            session = user.get_or_create_session(key[1])
        else:
            try:
                session = user.get_session(key[1])
            except NotFoundError:
                return None
        self._remember(self._sessions, key, session)
        return session

    def with_session(
        self,
        operation: Callable[[SessionResource], T],
        default: T,
        configurable: Mapping[str, Any] | None = None,
        *,
        create: bool,
    ) -> T:
        """Run ``operation`` on the session; ``default`` if it is missing and not created.

        A cached handle whose session was deleted meanwhile is dropped and resolved again once.
        """
        for attempt in range(2):
            session = self.session(configurable, create=create)
            if session is None:
                return default
            try:
                return operation(session)
            except NotFoundError:
                if attempt or session is self._fixed_session:
                    raise
                self.forget(configurable)
        raise AssertionError("unreachable")  # pragma: no cover

    def with_user(
        self,
        operation: Callable[[UserResource], T],
        default: T,
        configurable: Mapping[str, Any] | None = None,
        *,
        create: bool,
    ) -> T:
        """Run ``operation`` on the user; ``default`` if it is missing and not created."""
        for attempt in range(2):
            user = self.user(configurable, create=create)
            if user is None:
                return default
            try:
                return operation(user)
            except NotFoundError:
                if attempt:
                    raise
                self.forget(configurable)
        raise AssertionError("unreachable")  # pragma: no cover

    def forget(self, configurable: Mapping[str, Any] | None = None) -> None:
        """Drop cached handles for these ids (after a session or user was deleted)."""
        user_id = self.resolve_user_id(configurable)
        with self._lock:
            self._users.pop(user_id, None)
            for key in [k for k in self._sessions if k[0] == user_id]:
                if self._sessions[key] is not self._fixed_session:
                    del self._sessions[key]

    def _remember(self, cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        with self._lock:
            cache[key] = value
            cache.move_to_end(key)
            while len(cache) > _CACHE_SIZE:
                cache.popitem(last=False)


def _check_same(what: str, given: str | None, actual: str) -> str:
    if given is not None and given != actual:
        raise ValidationError(
            f"{what}={given!r} does not match the handle passed ({actual!r}); omit {what}= "
            "when passing a user or session handle"
        )
    return actual


__all__ = ["MemoryBinding", "MemorySource"]
