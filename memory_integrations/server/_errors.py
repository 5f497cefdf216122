"""The one flat error envelope, and the mapping from exceptions to HTTP answers.

Every error on every route (Couchbase tree, SAP tree, auth, unknown routes) is
``{"error": "<CODE>", "message": "...", "details": {...}, "request_id": "..."}``: the
Couchbase SDK reads exactly this, and the SAP SDK needs a non-empty body on every error.
Capacity and availability errors carry an integer ``Retry-After`` header.
"""

from __future__ import annotations

import ast
import errno
import json
import logging
import math
import re
import sqlite3
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from ..errors import (
    AgentMemoryError,
    CapacityError,
    ServiceUnavailableError,
    StorageBusyError,
    StorageFullError,
)

log = logging.getLogger("memory_integrations.server")

_STATUS_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}

STORAGE_FULL_RETRY_AFTER = 30.0
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT}
_FULL = sqlite3.SQLITE_FULL
_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_UNAVAILABLE = {
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_PERM,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_PROTOCOL,
    sqlite3.SQLITE_INTERRUPT,
}
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


class DatabaseError(ServiceUnavailableError):
    """A query that will fail the same way next time (damaged or foreign schema)."""

    default_code = "DATABASE_ERROR"

    def __init__(self, message: str, **kwargs: Any) -> None:
        kwargs.setdefault("service", "database")
        super().__init__(message, **kwargs)


def code_for_status(status: int) -> str:
    return _STATUS_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "HTTP_ERROR")


def _storage_full(cause: object) -> StorageFullError:
    return StorageFullError(
        f"the server's storage is full ({cause}): nothing was written; the operator must free "
        "disk space (or raise the quota), then retry after the indicated delay",
        retry_after=STORAGE_FULL_RETRY_AFTER,
    )


def storage_error(exc: BaseException) -> AgentMemoryError | None:
    """Map a raw SQLite/OS failure to a full, transient or permanent database error."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        primary = None if code is None else code & 0xFF
        text = str(exc).lower()
        if primary == _FULL or "database or disk is full" in text:
            return _storage_full(exc)
        if primary in _BUSY or "locked" in text or "busy" in text:
            return StorageBusyError(f"the tenant's database is busy ({exc}); retry later")
        if primary in _UNAVAILABLE or any(
            w in text for w in ("unable to open", "disk i/o", "readonly")
        ):
            return StorageBusyError(
                f"the tenant's database is unavailable ({exc}); the operator must check the "
                "data directory (permissions, disk), then retry"
            )
        if primary in _DAMAGED or "malformed" in text or "not a database" in text:
            return DatabaseError(
                f"the tenant's database is damaged ({exc}); restore it from a backup or run "
                "PRAGMA integrity_check"
            )
        return DatabaseError(
            f"the tenant's database rejected a query ({exc}); it may be damaged or written by "
            "a different version: check the server log, retrying will not help"
        )
    if isinstance(exc, OSError):
        if exc.errno in _NO_SPACE:
            return _storage_full(exc.strerror or exc)
        return StorageBusyError(
            f"the tenant's storage cannot be opened ({exc.strerror or exc}); the operator must "
            "fix the data directory, then retry"
        )
    return None


def retry_after_of(exc: AgentMemoryError) -> int | None:
    """Whole seconds for the ``Retry-After`` header (429 and 503 always get one, except a
    permanent DATABASE_ERROR)."""
    if isinstance(exc, DatabaseError):
        return None
    value = getattr(exc, "retry_after", None)
    if value is None and isinstance(exc, (CapacityError, ServiceUnavailableError)):
        value = 1.0
    if value is None:
        return None
    return max(1, math.ceil(float(value)))


def request_id_of(headers: Mapping[str, str]) -> str:
    """The caller's ``X-Request-ID`` (kept if sane), else a fresh one."""
    given = headers.get("x-request-id", "")
    if 0 < len(given) <= 128 and given.isascii() and given.isprintable():
        return given
    return uuid.uuid4().hex


def envelope(
    code: str,
    message: str,
    request_id: str,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "error": code,
        "message": message,
        "details": details or {},
        "request_id": request_id,
    }


# --- hints in HTTP terms -----------------------------------------------------------------
#
# The engine's messages say what was wrong and how to fix it in Python terms
# ("create it with client.create_user(...)"). An HTTP caller needs the request to send
# instead. Each rule below matches one such hint (and the ids the message names) and
# rewrites it; a message no rule matches is passed on as it is.

_QUOTED = r"(?P<{name}>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"


def _rule(pattern: str) -> re.Pattern[str]:
    for name in ("user", "session"):
        pattern = pattern.replace("{" + name + "}", _QUOTED.format(name=name))
    return re.compile(pattern, re.DOTALL)


def _id(match: re.Match[str], name: str) -> str:
    """An id quoted in a message, as it goes into a URL path."""
    text = match[name]
    try:
        value = str(ast.literal_eval(text))
    except (ValueError, SyntaxError):
        value = text.strip("'\"")
    return quote(value, safe="")


_Rewrite = Callable[[re.Match[str], bool], str]

_HTTP_HINTS: tuple[tuple[re.Pattern[str], _Rewrite], ...] = (
    (
        _rule(
            r"^(?P<head>.*user {user} does not exist); create it with "
            r"client\.create_user\(\.\.\.\)$"
        ),
        lambda m, sap: (
            m["head"]
            + ("" if sap else "; create it with POST /users, or list users with GET /users")
        ),
    ),
    (
        _rule(
            r"^(?P<head>.*session {session} of user {user} does not exist); create it with "
            r"user\.create_session\(\.\.\.\)$"
        ),
        lambda m, sap: (
            m["head"]
            + (
                ""
                if sap
                else f"; create it with POST /users/{_id(m, 'user')}/sessions, or list the "
                f"sessions with GET /users/{_id(m, 'user')}/sessions"
            )
        ),
    ),
    (
        _rule(r"^(?P<head>.*user {user} already exists); use client\.get_user\(.*\)$"),
        lambda m, sap: m["head"] + f"; read it with GET /users/{_id(m, 'user')}",
    ),
    (
        _rule(
            r"^(?P<head>.*session {session} of user {user} already exists); use "
            r"user\.get_session\(.*\)$"
        ),
        lambda m, sap: (
            m["head"] + f"; read it with GET /users/{_id(m, 'user')}/sessions/{_id(m, 'session')}"
        ),
    ),
    (
        re.compile(r"^user\.update needs name= or metadata=$"),
        lambda m, sap: 'updating a user needs "name" or "metadata" in the JSON body',
    ),
    (
        re.compile(r"^session\.update needs non-empty annotations= or metadata=(?P<tail>.*)$"),
        lambda m, sap: (
            'updating a session needs non-empty "annotations" or "metadata" in the '
            "JSON body" + m["tail"]
        ),
    ),
    (
        re.compile(
            r"^(?P<head>.*is still processing; wait until it is ready), or add blocks "
            r"with async_processing=False when you must update them at once$"
        ),
        lambda m, sap: (
            m["head"]
            + (
                ""
                if sap
                else ', or add blocks with "async_processing": false when you must update '
                "them at once"
            )
        ),
    ),
    (
        re.compile(
            r"^(?P<head>.*its content type is fixed): pass (?P<right>message|fact)=, "
            r"not (?P<wrong>message|fact)=$"
        ),
        lambda m, sap: f'{m["head"]}: send "{m["right"]}", not "{m["wrong"]}"',
    ),
    (
        re.compile(
            r"^pass messages or facts, not both: submit them in separate add_memory\(\) "
            r"calls$"
        ),
        lambda m, sap: 'send "messages" or "facts", not both: add them in separate requests',
    ),
    (
        re.compile(r"^add_memory needs a non-empty messages= or facts= list$"),
        lambda m, sap: 'adding memory needs a non-empty "messages" or "facts" list',
    ),
    (
        re.compile(
            r"^(?P<head>the processing queue is full .*\)); retry after the indicated "
            r"delay, add with async_processing=False, or raise "
            r"MEMORY_INTEGRATIONS_QUEUE_MAX_SIZE$",
            re.DOTALL,
        ),
        lambda m, sap: (
            m["head"]
            + "; retry after the Retry-After delay"
            + ("" if sap else ', or add with "async_processing": false')
            + " (the operator can raise MEMORY_INTEGRATIONS_QUEUE_MAX_SIZE)"
        ),
    ),
    (
        re.compile(
            r"^(?P<head>prompt .* does not exist); create it with client\.create_prompt\(\.\.\.\), "
            r"or list prompts with client\.list_prompts\(\)$"
        ),
        lambda m, sap: (
            m["head"] + "; create it with POST /prompts, or list prompts with GET /prompts"
        ),
    ),
    (
        re.compile(r"^the memory client is closed; open a new one$"),
        lambda m, sap: "the server is shutting down; retry against a running server",
    ),
)


def http_message(message: str, path: str = "") -> str:
    """``message`` with a Python-flavoured fix rewritten as the HTTP request to send.

    ``path`` is the request's path: the SAP API (under ``/v1``) creates users and sessions
    on its own, so its callers get no "create it" hint."""
    sap = path == "/v1" or path.startswith("/v1/")
    for pattern, rewrite in _HTTP_HINTS:
        match = pattern.match(message)
        if match is not None:
            return rewrite(match, sap)
    return message


def error_parts(
    exc: AgentMemoryError, request_id: str, path: str = ""
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) for one of our errors; ``path`` (the request's) picks the
    API whose terms the message's fix is phrased in."""
    status = int(exc.status_code)
    details = dict(exc.details)
    headers: dict[str, str] = {}
    retry_after = retry_after_of(exc)
    if retry_after is not None and status in (429, 503):
        headers["Retry-After"] = str(retry_after)
        details["retry_after_seconds"] = retry_after
    service = getattr(exc, "service", None)
    if service:
        details.setdefault("service", service)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="memory-integrations"'
    body = envelope(exc.error_code, http_message(exc.message, path), request_id, _jsonable(details))
    return status, body, headers


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    try:
        json.dumps(details)
        return details
    except (TypeError, ValueError):
        return {key: str(value) for key, value in details.items()}
