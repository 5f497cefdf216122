"""Request guards: pure-ASGI middlewares, one rule each, all answering in the error envelope.

From the outside in (``install_guards`` adds them in this order):

* ``ErrorBoundary``: every exception becomes an enveloped answer and is never re-raised, so
  uvicorn keeps the keep-alive connection (Starlette's own 500 handler re-raises, and
  uvicorn then drops the connection).
* ``RequestLimits``: a URL over 16 KiB gets 414, headers over 32 KiB get 431 (below the
  protocol limit, where the connection can stay open).
* ``HostGuard``: on a loopback bind, only loopback Host names (DNS rebinding).
* ``CrossSiteGuard``: no state change from a browser on another site (CSRF).
* ``PathGuard``: an encoded ``/`` (``%2F``) never reaches routing.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from ..errors import AgentMemoryError
from ._errors import envelope, error_parts, log, request_id_of, storage_error

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_URL_BYTES = 16 * 1024
MAX_HEADER_BYTES = 32 * 1024
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The request bodies a page on another site can send without a CORS preflight.
BROWSER_CONTENT_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)
_API_HINT = (
    "API clients send JSON (Content-Type: application/json, or no body) and no Origin "
    "header; a web app must call this server from its backend"
)


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
            status, body, headers = error_parts(mapped, rid, str(scope.get("path", "")))
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


def split_host(host: str) -> tuple[str, int | None]:
    """(name, port) of a Host header, lower-case: ``[::1]:80`` -> ``("::1", 80)``."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        name, colon, port = host.rpartition(":")
        if not colon or ":" in name:  # no port, or a bare IPv6 literal
            name, port = host, ""
    return name.rstrip("."), int(port) if port.isdigit() else None


def host_name(host: str) -> str:
    return split_host(host)[0]


class HostGuard:
    """Answers only to the allowed Host names (any port): on a loopback bind, a web page
    whose DNS name is re-pointed at 127.0.0.1 (DNS rebinding) cannot reach the API."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str] | None) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.allowed is not None:
            host = headers_of(scope).get("host")
            if host is not None and host_name(host) not in self.allowed:
                shown = ", ".join(sorted(self.allowed))
                await refuse(
                    scope,
                    send,
                    403,
                    "HOST_NOT_ALLOWED",
                    f"Host {host[:100]!r} is refused: this server answers only to {shown} "
                    "(protection against DNS rebinding); use one of those names, or start it "
                    f"with --allowed-host {host_name(host)[:100] or 'NAME'}",
                )
                return
        await self.app(scope, receive, send)


def _same_origin(origin: str, host: str | None) -> bool:
    """Whether ``Origin`` names this server as the browser reached it (``Host``)."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if host is None or parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    default = 443 if parts.scheme == "https" else 80
    name, host_port = split_host(host)
    return parts.hostname.rstrip(".") == name and (port or default) == (host_port or default)


class CrossSiteGuard:
    """Refuses state-changing requests a browser could send from another site (CSRF), with
    auth on or off: a cross-site or same-site ``Sec-Fetch-Site``, an ``Origin`` other than
    this server, or a body type HTML forms and no-CORS fetches can send (form, multipart,
    text/plain; the OAuth token endpoint keeps its form body)."""

    def __init__(self, app: ASGIApp, form_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.form_paths = form_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in UNSAFE_METHODS:
            problem = self._problem(scope)
            if problem is not None:
                await refuse(
                    scope,
                    send,
                    403,
                    "CROSS_SITE_REQUEST",
                    f"{scope['method']} refused: {problem}. {_API_HINT}",
                )
                return
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope) -> str | None:
        headers = headers_of(scope)
        site = headers.get("sec-fetch-site", "").lower()
        if site in ("cross-site", "same-site"):
            return f"the browser says the request comes from another site (Sec-Fetch-Site: {site})"
        origin = headers.get("origin")
        if origin is not None and not _same_origin(origin, headers.get("host")):
            return f"it comes from the web page of another origin (Origin: {origin[:100]})"
        kind = headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind in BROWSER_CONTENT_TYPES and not (
            kind == "application/x-www-form-urlencoded" and scope["path"] in self.form_paths
        ):
            return (
                f"Content-Type {kind} is what HTML forms and no-CORS fetches send from any web page"
            )
        return None


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


def install_guards(
    app: Any,
    *,
    allowed_hosts: frozenset[str] | None,
    form_paths: frozenset[str],
    observe: Callable[[AgentMemoryError], None] | None,
) -> None:
    """Add the guards to a FastAPI/Starlette app (the last added runs first)."""
    app.add_middleware(PathGuard)
    app.add_middleware(CrossSiteGuard, form_paths=form_paths)
    app.add_middleware(HostGuard, allowed=allowed_hosts)
    app.add_middleware(RequestLimits)
    app.add_middleware(ErrorBoundary, observe=observe)
