"""The one error hierarchy of memory-integrations.

Every error belongs to a category that tells the caller what to do:

========================  ==========================================  =======================
category base             meaning                                     what to do
========================  ==========================================  =======================
``TransientError``        infrastructure hiccup (busy file, network)  retry with backoff
``CapacityError``         a queue or rate limit is full               wait ``retry_after`` s
``BadRequestError``       the input is invalid                        fix the request
``LogicalError``          not found / conflict                        fix the application
``AuthenticationError``   missing, bad or insufficient credentials    get a valid token
========================  ==========================================  =======================

The leaf names match the Couchbase Agent Memory SDK (``ValidationError``, ``NotFoundError``,
``ConflictError``, ``RateLimitError``, ...), so code written for it catches the same things.
"""

from __future__ import annotations

import builtins
from typing import Any, ClassVar, Literal

ErrorCategory = Literal["transient", "capacity", "bad_request", "logical", "authentication"]


class AgentMemoryError(Exception):
    """Base class of every error this package raises on purpose."""

    category: ClassVar[ErrorCategory] = "transient"
    status_code: int = 500
    default_code: ClassVar[str] = "INTERNAL_ERROR"

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        error_code: str | None = None,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.error_code = error_code or self.default_code
        self.details: dict[str, Any] = details or {}
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message


# --- categories -------------------------------------------------------------------------


class TransientError(AgentMemoryError):
    """A passing infrastructure failure: retry with exponential backoff and jitter."""

    category = "transient"
    status_code = 503
    default_code = "SERVICE_UNAVAILABLE"


class CapacityError(AgentMemoryError):
    """A queue or rate limit is full: wait ``retry_after`` seconds, then retry."""

    category = "capacity"
    status_code = 429
    default_code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        if retry_after is not None:
            self.details.setdefault("retry_after_seconds", retry_after)


class BadRequestError(AgentMemoryError, ValueError):
    """The request is invalid: do not retry, fix it."""

    category = "bad_request"
    status_code = 400
    default_code = "VALIDATION_ERROR"


class LogicalError(AgentMemoryError):
    """The request is well-formed but contradicts the stored state."""

    category = "logical"
    status_code = 409
    default_code = "CONFLICT"


class AuthenticationError(AgentMemoryError):
    """Missing or invalid credentials: obtain a fresh token."""

    category = "authentication"
    status_code = 401
    default_code = "UNAUTHORIZED"


# --- leaves -----------------------------------------------------------------------------


class ValidationError(BadRequestError):
    """An argument is malformed; the message names it and says how to fix it."""


class MethodNotAllowedError(BadRequestError):
    """The server does not support this call (it predates this client)."""

    status_code = 405
    default_code = "METHOD_NOT_ALLOWED"


class ConfigurationError(BadRequestError):
    """The client, store or embedder is configured inconsistently."""

    default_code = "CONFIGURATION_ERROR"


class EmbedderMismatchError(ConfigurationError):
    """The store holds vectors from a different embedder than the one configured."""

    default_code = "EMBEDDER_MISMATCH"


class NotFoundError(LogicalError, LookupError):
    """The user, session, block or prompt does not exist (or has expired)."""

    status_code = 404
    default_code = "NOT_FOUND"


class ClientClosedError(LogicalError, RuntimeError):
    """The client (or the store it opened) was closed; open a new one to continue."""

    default_code = "CLIENT_CLOSED"


class ConflictError(LogicalError):
    """The object already exists, or its state forbids the change (e.g. still processing)."""

    status_code = 409
    default_code = "CONFLICT"


class AuthorizationError(AuthenticationError):
    """The credentials are valid but lack the permission this call needs."""

    status_code = 403
    default_code = "FORBIDDEN"


class RateLimitError(CapacityError):
    """The processing queue or a rate limit is full."""


class ServiceUnavailableError(TransientError):
    """A dependency (database, embedding model) is temporarily unavailable."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        service: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.service = service


class StorageBusyError(ServiceUnavailableError):
    """The database stayed locked by other writers for too long."""

    default_code = "DATABASE_UNAVAILABLE"

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("service", "database")
        kwargs.setdefault("retry_after", 1.0)
        super().__init__(message, **kwargs)


class StorageFullError(ServiceUnavailableError):
    """The disk under the memory store is full: nothing was written; once space is freed
    the same call works, so retry after ``retry_after`` seconds (HTTP 503 STORAGE_FULL)."""

    default_code = "STORAGE_FULL"

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("service", "database")
        kwargs.setdefault("retry_after", 30.0)
        super().__init__(message, **kwargs)


class EmbeddingError(ServiceUnavailableError):
    """The embedding model failed or is unreachable."""

    default_code = "EMBEDDING_UNAVAILABLE"

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("service", "embedding")
        super().__init__(message, **kwargs)


class ExtractionError(ServiceUnavailableError):
    """The extraction model failed, timed out or answered something that is not the
    expected summary and contexts (one failed try of a block's processing)."""

    default_code = "EXTRACTION_UNAVAILABLE"

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("service", "extraction")
        super().__init__(message, **kwargs)


class UpstreamError(TransientError):
    """An upstream service answered 502."""

    status_code = 502
    default_code = "UPSTREAM_ERROR"


class ServerError(TransientError):
    """The server failed unexpectedly (5xx)."""

    status_code = 500
    default_code = "INTERNAL_ERROR"


class ConnectionError(TransientError, builtins.ConnectionError):
    """The server could not be reached."""

    default_code = "CONNECTION_ERROR"


class TimeoutError(TransientError, builtins.TimeoutError):
    """The request timed out."""

    status_code = 504
    default_code = "TIMEOUT"


class ReadTimeoutError(TimeoutError):
    """The server is up but did not answer in time."""


class ServerDownError(TimeoutError):
    """The request timed out and the server's health check failed too."""


__all__ = [
    "AgentMemoryError",
    "AuthenticationError",
    "AuthorizationError",
    "BadRequestError",
    "CapacityError",
    "ClientClosedError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionError",
    "EmbedderMismatchError",
    "EmbeddingError",
    "ErrorCategory",
    "ExtractionError",
    "LogicalError",
    "MethodNotAllowedError",
    "NotFoundError",
    "RateLimitError",
    "ReadTimeoutError",
    "ServerDownError",
    "ServerError",
    "ServiceUnavailableError",
    "StorageBusyError",
    "StorageFullError",
    "TimeoutError",
    "TransientError",
    "UpstreamError",
    "ValidationError",
]
