"""The remote backend: an httpx client of any Couchbase-Agent-Memory-compatible server.

One synchronous core (``HttpCore``: auth, retries with backoff that honour
``Retry-After``, error mapping); the async client runs it in worker threads like every
backend. Against a memory-integrations server it also uses our extension routes (block by
id, user-wide search, counts, retention, sweep); against another server those calls fall
back to standard routes or raise ``MethodNotAllowedError`` saying why.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from .._models import (
    AddMemoryResponse,
    ChatMessage,
    ComponentHealth,
    DeleteMemoryResponse,
    FactChange,
    FilterOptions,
    HealthPingResponse,
    HealthResponse,
    HealthStatus,
    ListMemoriesResponse,
    MemoryBlock,
    MemoryList,
    ModelsHealth,
    ProcessorHealth,
    Prompt,
    PromptList,
    PromptVersion,
    PromptVersionList,
    QueueStats,
    RetentionConfig,
    Session,
    SessionList,
    UpdateMemoryResponse,
    User,
    UserList,
)
from ..errors import (
    AgentMemoryError,
    AuthenticationError,
    AuthorizationError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    ConnectionError,
    EmbeddingError,
    MethodNotAllowedError,
    NotFoundError,
    RateLimitError,
    ReadTimeoutError,
    ServerDownError,
    ServerError,
    ServiceUnavailableError,
    StorageBusyError,
    TimeoutError,
    UpstreamError,
    ValidationError,
)
from ..validation import check_id, normalise_add, to_message
from ._wire import (
    block_from_wire,
    filters_to_wire,
    iso,
    message_to_wire,
    session_from_wire,
    user_from_wire,
)

log = logging.getLogger("memory_integrations.remote")

Token = str | Callable[[], str] | None
PERMANENT_CODES = frozenset({"DATABASE_ERROR", "UPSTREAM_QUOTA_EXHAUSTED"})
OUR_IMPLEMENTATION = "memory-integrations"


def segment(value: object, what: str = "id") -> str:
    """One URL path segment from a checked id, percent-encoded (ids may hold spaces, ``%``)."""
    return quote(check_id(value, what, allow_percent=True), safe="")


# --- errors -----------------------------------------------------------------------------


def _retry_after(headers: httpx.Headers, body: Mapping[str, Any]) -> float | None:
    raw = headers.get("retry-after")
    if raw is not None:
        try:
            return max(0.0, float(int(raw.strip())))
        except ValueError:
            pass  # an HTTP-date: ignored, like the Couchbase SDK
    details = body.get("details")
    for source in (details if isinstance(details, Mapping) else {}, body):
        value = source.get("retry_after_seconds")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def error_from_response(response: httpx.Response) -> AgentMemoryError:
    """Our error for a non-success answer; understands the flat Couchbase envelope, the
    OData nested ``{"error": {"code", "message"}}`` shape, FastAPI's ``detail``, and text."""
    try:
        body: Any = response.json()
    except ValueError:
        body = {"message": response.text}
    if not isinstance(body, Mapping):
        body = {"message": str(body)}
    if isinstance(body.get("detail"), Mapping):
        body = {**body, **body["detail"]}
    code: str | None = None
    message: str | None = None
    raw_error = body.get("error")
    if isinstance(raw_error, Mapping):  # OData
        code = str(raw_error.get("code")) if raw_error.get("code") is not None else None
        message = raw_error.get("message") if isinstance(raw_error.get("message"), str) else None
    elif isinstance(raw_error, str):
        code = raw_error
    if message is None:
        candidate = body.get("message", body.get("detail", body.get("error_description")))
        message = candidate if isinstance(candidate, str) else str(candidate or body)
    status = response.status_code
    message = message or f"HTTP {status}"
    details = body.get("details") if isinstance(body.get("details"), Mapping) else {}
    kwargs: dict[str, Any] = {
        "error_code": code,
        "details": dict(details or {}),
        "request_id": body.get("request_id") or response.headers.get("x-request-id"),
    }
    retry_after = _retry_after(response.headers, body)
    service = (details or {}).get("service") or response.headers.get("x-upstream-service")
    if status in (400, 422):
        return ValidationError(message, status_code=400, **kwargs)
    if status == 401:
        return AuthenticationError(message, **kwargs)
    if status == 403:
        return AuthorizationError(message, **kwargs)
    if status == 404:
        return NotFoundError(message, **kwargs)
    if status == 405:
        return MethodNotAllowedError(f"{message} (the server predates this client)", **kwargs)
    if status == 409:
        return ConflictError(message, **kwargs)
    if status == 429:
        return RateLimitError(message, retry_after=retry_after, **kwargs)
    if status == 502:
        return UpstreamError(message, **kwargs)
    if status == 503:
        if code == "DATABASE_UNAVAILABLE":
            return StorageBusyError(message, retry_after=retry_after, **kwargs)
        if code == "EMBEDDING_UNAVAILABLE":
            return EmbeddingError(message, retry_after=retry_after, **kwargs)
        return ServiceUnavailableError(message, retry_after=retry_after, service=service, **kwargs)
    if status >= 500:
        return ServerError(message, status_code=status, **kwargs)
    return AgentMemoryError(message, status_code=status, **kwargs)


# --- the HTTP core ------------------------------------------------------------------------


class HttpCore:
    """Requests with auth and retries, shared by the remote and SAP backends.

    Retried: connection failures (the request never left) on every method; 429 and 503 on
    every method (the server did nothing); other 5xx and read timeouts only on idempotent
    calls; never 4xx nor the permanent ``DATABASE_ERROR`` / ``UPSTREAM_QUOTA_EXHAUSTED``.
    The wait is the server's ``Retry-After`` when it gives one (a wait longer than
    ``max_backoff`` is not taken: the error is raised with ``retry_after`` set), otherwise
    ``backoff * 2**attempt`` with jitter.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: Token = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        verify: bool | str = True,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(f"base_url must be an http(s) URL, got {base_url!r}")
        if max_retries < 0:
            raise ConfigurationError("max_retries must be 0 or more")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            verify=verify,
            transport=transport,
            headers={"Accept": "application/json", **(headers or {})},
            follow_redirects=False,
        )
        self.attempts = 0  # requests sent, for diagnostics and tests

    def token(self) -> str | None:
        token = self._token
        return token() if callable(token) else token

    def auth_headers(self) -> dict[str, str]:
        token = self.token()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _delay(self, attempt: int, error: AgentMemoryError | None) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        if attempt >= self.max_retries:
            return None
        hinted = _float(getattr(error, "retry_after", None))
        if hinted is not None and hinted > 0:
            return None if hinted > self.max_backoff else hinted
        jitter = 0.5 + random.random() / 2
        return float(min(self.max_backoff, self.backoff * 2**attempt * jitter))

    def _retryable(self, error: AgentMemoryError, idempotent: bool) -> bool:
        if error.error_code in PERMANENT_CODES:
            return False
        if error.status_code in (429, 503):
            return True
        return idempotent and error.status_code in (500, 504)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        idempotent: bool | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Send with retries; returns the decoded JSON (None for 204 / empty)."""
        if self.http.is_closed:
            raise ClientClosedError(
                f"the client of {self.base_url} is closed; open a new one to continue"
            )
        if idempotent is None:
            idempotent = method in ("GET", "HEAD", "PUT", "DELETE")
        attempt = 0
        while True:
            headers = {**self.auth_headers(), **(extra_headers or {})}
            error: AgentMemoryError
            try:
                self.attempts += 1
                response = self.http.request(
                    method, path, json=json, params=params, headers=headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                error = ConnectionError(f"cannot reach {self.base_url}: {exc}")
            except httpx.ReadTimeout as exc:
                error = self._timeout_error(exc)
                if not idempotent:
                    raise error from exc
            except httpx.TransportError as exc:
                error = ConnectionError(f"{method} {path} failed in transport: {exc}")
                if not idempotent:
                    raise error from exc
            else:
                if response.status_code in (200, 201, 202, 204, 206):
                    if response.status_code == 204 or not response.content:
                        return None
                    try:
                        return response.json()
                    except ValueError as exc:
                        raise ServerError(
                            f"{method} {path} answered {response.status_code} with a body that "
                            "is not JSON"
                        ) from exc
                error = error_from_response(response)
                if not self._retryable(error, idempotent):
                    raise error
            delay = self._delay(attempt, error)
            if delay is None:
                raise error
            log.info(
                "%s %s failed (%s); retry %d in %.2fs", method, path, error, attempt + 1, delay
            )
            self._sleep(delay)
            attempt += 1

    def _timeout_error(self, exc: Exception) -> TimeoutError:
        """After a read timeout, ask ``/health`` (no auth) whether the server is up."""
        try:
            alive = httpx.get(f"{self.base_url}/health", timeout=5.0).status_code == 200
        except httpx.HTTPError:
            alive = False
        if alive:
            return ReadTimeoutError(f"the server is up but did not answer in time: {exc}")
        return ServerDownError(f"the request timed out and the server's health check failed: {exc}")

    def close(self) -> None:
        self.http.close()


# --- the Couchbase-compatible backend -----------------------------------------------------


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _shared_or_each(values: Sequence[Any], convert: Callable[[Any], Any]) -> Any:
    """One value when every item shares it (what every server accepts), else one per item."""
    if all(value == values[0] for value in values):
        return None if values[0] is None else convert(values[0])
    return [None if value is None else convert(value) for value in values]


def _drop_none(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if v is not None}


class RemoteBackend:
    """The ``Backend`` protocol over HTTP, against a Couchbase Agent Memory API server."""

    def __init__(
        self,
        base_url: str,
        *,
        token: Token = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        verify: bool | str = True,
        client_id: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if token is None:
            token = (
                os.environ.get("MEMORY_INTEGRATIONS_TOKEN")
                or os.environ.get("AGENTMEMORY_JWT_TOKEN")
                or None
            )
        headers = {"X-Client-ID": client_id} if client_id else None
        self.core = HttpCore(
            base_url,
            token=token,
            timeout=timeout,
            max_retries=max_retries,
            verify=verify,
            headers=headers,
            transport=transport,
            sleep=sleep,
        )
        self._ours: bool | None = None

    # --- plumbing ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.core.base_url

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.core.request(method, path, **kwargs)

    def is_memory_integrations(self) -> bool:
        """True when the server is ours (its ``/health`` names the implementation)."""
        if self._ours is None:
            try:
                body = self._call("GET", "/health")
            except AgentMemoryError:
                return False
            self._ours = isinstance(body, Mapping) and body.get("implementation") == (
                OUR_IMPLEMENTATION
            )
        return self._ours

    def _require_ours(self, what: str) -> None:
        if not self.is_memory_integrations():
            raise MethodNotAllowedError(
                f"{what} is a memory-integrations extension; {self.base_url} is another "
                "Agent Memory server that does not offer it"
            )

    @staticmethod
    def _user_path(user_id: str) -> str:
        return f"/users/{segment(user_id, 'user_id')}"

    def _session_path(self, user_id: str, session_id: str) -> str:
        return f"{self._user_path(user_id)}/sessions/{segment(session_id, 'session_id')}"

    # --- users ------------------------------------------------------------------------

    def create_user(
        self, user_id: str, name: str, metadata: Mapping[str, Any] | None = None
    ) -> User:
        body = _drop_none({"user_id": user_id, "name": name, "metadata": metadata})
        return user_from_wire(self._call("POST", "/users", json=body))

    def get_user(self, user_id: str) -> User:
        return user_from_wire(self._call("GET", self._user_path(user_id)))

    def list_users(
        self,
        name: str | None = None,
        metadata: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> UserList:
        params: list[tuple[str, str | int]] = [("limit", limit), ("offset", offset)]
        if name is not None:
            params.append(("name", name))
        for key, value in (metadata or {}).items():
            params.append(("metadata", f"{key}={value}"))
        body = self._call("GET", "/users", params=params)
        users = [user_from_wire(u) for u in body.get("users", [])]
        return UserList(
            users=users,
            count=body.get("count", len(users)),
            total=body.get("total"),
            limit=body.get("limit"),
            offset=body.get("offset"),
        )

    def update_user(
        self, user_id: str, name: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> User:
        body = _drop_none({"name": name, "metadata": metadata})
        return user_from_wire(self._call("PUT", self._user_path(user_id), json=body))

    def delete_user(self, user_id: str) -> None:
        self._call("DELETE", self._user_path(user_id))

    def modify_ttl(
        self,
        user_id: str,
        new_ttl: int,
        session_id: str | None = None,
        block_ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        body = _drop_none(
            {
                "new_ttl": new_ttl,
                "session_id": session_id,
                "block_ids": None if block_ids is None else list(block_ids),
            }
        )
        result = self._call("PUT", f"{self._user_path(user_id)}/ttl", json=body)
        return dict(result or {})

    # --- sessions ---------------------------------------------------------------------

    def create_session(
        self,
        user_id: str,
        session_id: str,
        annotations: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        memory_blocks_ttl: int | None = None,
    ) -> Session:
        body = _drop_none(
            {
                "session_id": session_id,
                "annotations": annotations or None,
                "metadata": metadata or None,
                "memory_blocks_ttl": memory_blocks_ttl,
            }
        )
        path = f"{self._user_path(user_id)}/sessions"
        return session_from_wire(self._call("POST", path, json=body))

    def get_session(self, user_id: str, session_id: str) -> Session:
        return session_from_wire(self._call("GET", self._session_path(user_id, session_id)))

    def list_sessions(self, user_id: str, limit: int = 50, offset: int = 0) -> SessionList:
        path = f"{self._user_path(user_id)}/sessions"
        body = self._call("GET", path, params={"limit": limit, "offset": offset})
        sessions = [session_from_wire(x) for x in body.get("sessions", [])]
        return SessionList(
            sessions=sessions,
            count=body.get("count", len(sessions)),
            total=body.get("total"),
            limit=body.get("limit"),
            offset=body.get("offset"),
        )

    def update_session(
        self,
        user_id: str,
        session_id: str,
        annotations: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Session:
        body = _drop_none({"annotations": annotations, "metadata": metadata})
        path = self._session_path(user_id, session_id)
        return session_from_wire(self._call("PUT", path, json=body))

    def end_session(self, user_id: str, session_id: str) -> Session:
        path = f"{self._session_path(user_id, session_id)}/end"
        return session_from_wire(self._call("POST", path, idempotent=True))

    def delete_session(self, user_id: str, session_id: str) -> None:
        self._call("DELETE", self._session_path(user_id, session_id))

    # --- memory blocks ----------------------------------------------------------------

    def add_memory(
        self,
        user_id: str,
        session_id: str,
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
        request = normalise_add(
            messages,
            facts,
            annotations,
            async_processing,
            memory_block_ttl,
            created_at,
            metadata,
            agent_id,
        )
        fact_call = request.kind == "fact"
        body = _drop_none(
            {
                "async_processing": request.async_processing,
                "messages": None if fact_call else [message_to_wire(m) for m in request.messages],
                "facts": request.facts if fact_call else None,
                "annotations": _shared_or_each(request.annotations, dict) or None,
                "memory_block_ttl": request.ttl,
                "created_at": _shared_or_each(request.created_at, iso),
                "metadata": _shared_or_each(request.metadata, dict),
                "agent_id": request.agent_id,
                "prompt_id": prompt_id,
                "prompt_vid": prompt_vid,
                "context_required": context_required,
                "manage_facts": manage_facts,
            }
        )
        path = f"{self._session_path(user_id, session_id)}/memory"
        return AddMemoryResponse.model_validate(self._call("POST", path, json=body))

    def get_memory_block(self, user_id: str, session_id: str, block_id: str) -> MemoryBlock:
        base = self._session_path(user_id, session_id)
        if self.is_memory_integrations():
            return block_from_wire(self._call("GET", f"{base}/memory/{segment(block_id)}"))
        filters = {"block_ids": [block_id], "session_ids": [session_id]}
        found = self._call(
            "POST", f"{base}/memory/search", json={"filters": filters}, idempotent=True
        )
        blocks = found.get("memory_blocks", [])
        if not blocks:
            raise NotFoundError(
                f"memory block {block_id!r} not found in session {session_id!r} (a server other "
                "than memory-integrations only shows ready blocks here)"
            )
        return block_from_wire(blocks[0])

    def update_memory(
        self,
        user_id: str,
        session_id: str,
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
        body = _drop_none(
            {
                "async_processing": async_processing,
                "message": None if message is None else message_to_wire(to_message(message)),
                "fact": fact,
                "annotations": annotations,
                "memory_block_ttl": memory_block_ttl,
                "metadata": metadata,
                "prompt_id": prompt_id,
                "prompt_vid": prompt_vid,
                "context_required": context_required,
            }
        )
        path = f"{self._session_path(user_id, session_id)}/memory/{segment(block_id)}"
        result = self._call("PUT", path, json=body)
        block = result.get("block")
        return UpdateMemoryResponse(
            message=result.get("message", "updated"),
            block=None if block is None else block_from_wire(block),
        )

    def delete_memory(
        self, user_id: str, session_id: str, block_ids: Sequence[str] | str
    ) -> DeleteMemoryResponse:
        ids: list[str] | str
        ids = (
            "all"
            if block_ids == "all"
            else ([block_ids] if isinstance(block_ids, str) else list(block_ids))
        )
        path = f"{self._session_path(user_id, session_id)}/memory"
        return DeleteMemoryResponse.model_validate(
            self._call("DELETE", path, json={"block_ids": ids})
        )

    def list_memories(
        self,
        user_id: str,
        session_ids: Sequence[str] | str | None = None,
        limit: int = 20,
        offset: int = 0,
        order_by: str = "ingested_at",
    ) -> ListMemoriesResponse:
        params: dict[str, Any] = {"limit": limit, "offset": offset, "order_by": order_by}
        if isinstance(session_ids, str):
            params["session_ids"] = session_ids
        elif session_ids is not None:
            params["session_ids"] = ",".join(session_ids)
        body = self._call("GET", f"{self._user_path(user_id)}/memory", params=params)
        blocks = [block_from_wire(b) for b in body.get("memory_blocks", [])]
        return ListMemoriesResponse(
            memory_blocks=blocks,
            count=body.get("count", len(blocks)),
            total=body.get("total", len(blocks)),
            limit=body.get("limit", limit),
            offset=body.get("offset", offset),
        )

    def search_memory(
        self,
        user_id: str,
        session_id: str | None,
        query: str | None = None,
        filters: FilterOptions | Mapping[str, Any] | None = None,
    ) -> MemoryList:
        body = _drop_none({"query": query, "filters": filters_to_wire(filters)})
        if session_id is not None:
            path = f"{self._session_path(user_id, session_id)}/memory/search"
        elif self.is_memory_integrations():
            path = f"{self._user_path(user_id)}/memory/search"
        else:  # the standard route needs a session in the path: any of the user's will do
            sessions = self.get_user(user_id).sessions or []
            if not sessions:
                return MemoryList(memory_blocks=[], count=0)
            wire = dict(body.get("filters") or {})
            wire.setdefault("session_ids", "all")
            body["filters"] = wire
            path = f"{self._session_path(user_id, sessions[0])}/memory/search"
        found = self._call("POST", path, json=body, idempotent=True)
        blocks = [block_from_wire(b) for b in found.get("memory_blocks", [])]
        return MemoryList(memory_blocks=blocks, count=found.get("count", len(blocks)))

    def count_memories(
        self,
        user_id: str,
        session_id: str | None = None,
        filters: FilterOptions | Mapping[str, Any] | None = None,
    ) -> int:
        if not self.is_memory_integrations():  # approximate: ready blocks only
            return self.search_memory(user_id, session_id, None, filters).count
        base = (
            self._user_path(user_id)
            if session_id is None
            else self._session_path(user_id, session_id)
        )
        body = _drop_none({"filters": filters_to_wire(filters)})
        return int(self._call("POST", f"{base}/memory/count", json=body, idempotent=True)["count"])

    # --- lifecycle --------------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        raise MethodNotAllowedError(
            "a server's metrics are scraped from its /metrics route (Prometheus format), not "
            "read through a client"
        )

    def fact_history(self, user_id: str, block_id: str | None = None) -> list[FactChange]:
        self._require_ours("fact history")
        params = {} if block_id is None else {"block_id": block_id}
        found = self._call("GET", f"{self._user_path(user_id)}/fact-history", params=params)
        return [FactChange.model_validate(c) for c in found.get("changes", [])]

    # --- prompt registry --------------------------------------------------------------

    def create_prompt(
        self,
        prompt_id: str,
        prompt: str,
        description: str,
        annotations: Mapping[str, str] | None = None,
    ) -> Prompt:
        body = _drop_none(
            {
                "prompt_id": prompt_id,
                "prompt": prompt,
                "description": description,
                "annotations": None if annotations is None else dict(annotations),
            }
        )
        return Prompt.model_validate(self._call("POST", "/prompts", json=body))

    def get_prompt(self, prompt_id: str, vid: int | None = None) -> Prompt | PromptVersion:
        path = f"/prompts/{segment(prompt_id, 'prompt_id')}"
        if vid is None:
            return Prompt.model_validate(self._call("GET", path))
        found = self._call("GET", path, params={"vid": vid})
        return PromptVersion.model_validate(found)

    def list_prompts(self, limit: int = 100, offset: int = 0) -> PromptList:
        found = self._call("GET", "/prompts", params={"limit": limit, "offset": offset})
        return PromptList.model_validate(found)

    def update_prompt(
        self,
        prompt_id: str,
        prompt: str | None = None,
        description: str | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Prompt:
        body = _drop_none(
            {
                "prompt": prompt,
                "description": description,
                "annotations": None if annotations is None else dict(annotations),
            }
        )
        path = f"/prompts/{segment(prompt_id, 'prompt_id')}"
        return Prompt.model_validate(self._call("PUT", path, json=body))

    def list_prompt_versions(
        self, prompt_id: str, limit: int = 100, offset: int = 0
    ) -> PromptVersionList:
        path = f"/prompts/{segment(prompt_id, 'prompt_id')}/versions"
        found = self._call("GET", path, params={"limit": limit, "offset": offset})
        return PromptVersionList.model_validate(found)

    def archive_prompt(self, prompt_id: str, vid: int | str = "all") -> None:
        path = f"/prompts/{segment(prompt_id, 'prompt_id')}/archive"
        self._call("PUT", path, params={"vid": vid})

    def purge_prompt(self, prompt_id: str, vid: int | str = "all") -> None:
        self._call("DELETE", f"/prompts/{segment(prompt_id, 'prompt_id')}", params={"vid": vid})

    def get_retention(self) -> RetentionConfig:
        self._require_ours("the retention policy")
        return RetentionConfig.model_validate(self._call("GET", "/admin/retention"))

    def set_retention(
        self, message_days: Any = "keep", memory_days: Any = "keep"
    ) -> RetentionConfig:
        self._require_ours("the retention policy")
        body = {
            key: value
            for key, value in (("message_days", message_days), ("memory_days", memory_days))
            if value != "keep"
        }
        return RetentionConfig.model_validate(self._call("PUT", "/admin/retention", json=body))

    def sweep(self) -> dict[str, int]:
        self._require_ours("an immediate sweep")
        return dict(self._call("POST", "/admin/sweep", idempotent=True))

    def wait_until_processed(self, timeout: float | None = 60.0) -> bool:
        """Poll the server's processing queue until it is empty (False on timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.02
        while True:
            body = self._call("GET", "/health/async-batch-processor")
            queue = body.get("queue") if isinstance(body, Mapping) else None
            if not queue or (queue.get("size", 0) == 0 and queue.get("processing", 0) == 0):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.5)

    def health(self, entity: str | None = None) -> HealthPingResponse:
        """The server's health routes, as our model. Never raises."""
        checked: list[str] = []

        def get(path: str) -> dict[str, Any]:
            try:
                body = self._call("GET", path)
                return dict(body) if isinstance(body, Mapping) else {"status": "unhealthy"}
            except AgentMemoryError as exc:
                return {"status": "unhealthy", "error": str(exc)}

        wanted = None if entity is None else entity.replace("_", "-")
        server = get("/health") if wanted in (None, "server") else {"status": "healthy"}
        checked.append("server")
        storage = {"status": "healthy"}
        if wanted in (None, "storage", "couchbase"):
            storage = get("/health/couchbase")
            checked.append("storage")
        models_raw: dict[str, Any] = {}
        if wanted in (None, "models"):
            models_raw = get("/health/models")
            checked.append("models")
        processor_raw: dict[str, Any] = {"status": "healthy"}
        if wanted in (None, "async-batch-processor"):
            processor_raw = get("/health/async-batch-processor")
            checked.append("async-batch-processor")

        def component(raw: Any) -> ComponentHealth:
            raw = raw if isinstance(raw, Mapping) else {}
            return ComponentHealth(
                status=str(raw.get("status", "unknown")),
                model=raw.get("model"),
                retry_after=raw.get("retry_after"),
            )

        embedding = component(models_raw.get("embedding", {"status": "healthy"}))
        llm = component(models_raw.get("llm", {"status": "healthy"}))
        queue = processor_raw.get("queue")
        processor = ProcessorHealth(
            status=str(processor_raw.get("status", "unknown")),
            message=processor_raw.get("message"),
            queue=QueueStats.model_validate({"max_size": 0, **queue})
            if isinstance(queue, Mapping) and {"size", "queued_ids", "processing"} <= set(queue)
            else None,
            loop_running=processor_raw.get("loop_running"),
            dispatcher_alive=processor_raw.get("dispatcher_alive"),
        )
        healthy = (
            server.get("status") == "healthy"
            and storage.get("status") in ("healthy", "not_initialized")
            and embedding.status == "healthy"
            and processor.status in ("healthy", "not_initialized")
        )
        status = HealthStatus.HEALTHY if healthy else HealthStatus.DEGRADED
        server_status = server.get("status")
        return HealthPingResponse(
            server=HealthResponse(
                status=HealthStatus(server_status)
                if server_status in ("healthy", "degraded", "unhealthy")
                else HealthStatus.UNHEALTHY,
                version=str(server.get("version", "unknown")),
                uptime_seconds=_float(server.get("uptime_seconds")),
            ),
            storage=storage,
            models=ModelsHealth(embedding=embedding, llm=llm),
            async_batch_processor=processor,
            overall_status=status,
            checked_entities=checked,
        )

    def close(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        """Release the connection pool (the server drains its own queue)."""
        self.core.close()
