"""Request guards: pure-ASGI middlewares, one rule each, all answering in the error envelope.

From the outside in (``install_guards`` adds them in this order):

* ``ErrorBoundary``: every exception becomes an enveloped answer and is never re-raised, so
  uvicorn keeps the keep-alive connection (Starlette's own 500 handler re-raises, and
  uvicorn then drops the connection).
* ``RequestLimits``: a URL over 16 KiB gets 414, headers over 32 KiB get 431 (below the
  protocol limit, where the connection can stay open).
* ``PathGuard``: an encoded ``/`` (``%2F``) never reaches routing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..errors import AgentMemoryError
from ._errors import envelope, error_parts, log, request_id_of, storage_error

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_URL_BYTES = 16 * 1024
MAX_HEADER_BYTES = 32 * 1024


def headers_of(scope: Scope) -> dict[str, str]:
    """The request headers, lower-case names, first occurrence wins."""
    found: dict[str, str] = {}
    for name, value in scope.get("headers", ()):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


async def send_error(
    scope: Scope,
    send: Send,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    """Answer with an already built envelope ``body``."""
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"x-request-id", body["request_id"].encode("latin-1")),
    ]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


async def refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    await send_error(scope, send, status, envelope(code, message, request_id_of(headers_of(scope))))


class ErrorBoundary:
    """Turns every exception into an enveloped answer: ours keep their status, raw storage
    failures are mapped (``storage_error``), anything else is a logged 500.

    ``observe`` sees each of our errors (the health figures count full disks)."""

    def __init__(
        self, app: ASGIApp, observe: Callable[[AgentMemoryError], None] | None = None
    ) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            where = f"{scope.get('method')} {scope.get('path')}"
            if started:  # too late for an answer: uvicorn ends this connection
                log.exception("error after the response to %s had started", where)
                return
            rid = request_id_of(headers_of(scope))
            mapped = exc if isinstance(exc, AgentMemoryError) else storage_error(exc)
            if mapped is None:
                log.exception("unexpected error on %s (request %s)", where, rid)
                body = envelope(
                    "INTERNAL_ERROR",
                    f"the server failed unexpectedly ({type(exc).__name__}); the log has the "
                    f"details under request id {rid}",
                    rid,
                )
                await send_error(scope, send, 500, body)
                return
            if mapped is not exc:
                log.warning("storage error on %s: %s", where, exc)
            if self.observe is not None:
                self.observe(mapped)
            status, body, headers = error_parts(mapped, rid)
            await send_error(scope, send, status, body, headers)


class RequestLimits:
    """414 for a URL over ``MAX_URL_BYTES``, 431 for headers over ``MAX_HEADER_BYTES``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope.get("raw_path") or scope["path"].encode("utf-8")
            url = len(path) + len(scope.get("query_string", b"")) + 1
            if url > MAX_URL_BYTES:
                await refuse(
                    scope,
                    send,
                    414,
                    "URI_TOO_LONG",
                    f"the URL is {url:,} bytes long; the limit is {MAX_URL_BYTES:,}: send long "
                    "values in a JSON body (e.g. search filters) instead of the URL",
                )
                return
            size = sum(len(k) + len(v) + 4 for k, v in scope.get("headers", ()))
            if size > MAX_HEADER_BYTES:
                await refuse(
                    scope,
                    send,
                    431,
                    "HEADERS_TOO_LARGE",
                    f"the request headers are {size:,} bytes; the limit is "
                    f"{MAX_HEADER_BYTES:,}: drop the large header",
                )
                return
        await self.app(scope, receive, send)


class PathGuard:
    """400 for a path holding an encoded ``/``: ids may not contain ``/``, and decoding it
    before routing would let ``/users/u1%2Fsessions%2Fs1`` reach another route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw: bytes = scope.get("raw_path") or b""
            if b"%2f" in raw.lower():
                shown = raw.decode("latin-1")[:200]
                await refuse(
                    scope,
                    send,
                    400,
                    "VALIDATION_ERROR",
                    f"the path {shown!r} holds an encoded '/' (%2F): ids may not contain '/', "
                    "so no route takes one; remove it from the id",
                )
                return
        await self.app(scope, receive, send)


def install_guards(app: Any, *, observe: Callable[[AgentMemoryError], None] | None = None) -> None:
    """Add the guards to a FastAPI/Starlette app (the last added runs first)."""
    app.add_middleware(PathGuard)
    app.add_middleware(RequestLimits)
    app.add_middleware(ErrorBoundary, observe=observe)
