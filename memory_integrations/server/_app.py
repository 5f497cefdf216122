"""The FastAPI application: both wire APIs, health, OAuth token endpoint, error envelope."""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..embedders import Embedder, resolve_embedder
from ..errors import AgentMemoryError, StorageFullError, ValidationError
from . import _schemas as schemas
from ._auth import InvalidClientError, TokenAuthority
from ._config import ServerConfig
from ._couchbase import build_router as couchbase_router
from ._errors import (
    code_for_status,
    envelope,
    error_parts,
    log,
    request_id_of,
)
from ._guards import install_guards
from ._metrics import HttpMetrics, ServerMetrics, metrics_router
from ._sap import build_router as sap_router
from ._tenancy import TenantRegistry

IMPLEMENTATION = "memory-integrations"
TOKEN_PATH = "/oauth/token"
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def _error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    rid = request_id_of(request.headers)
    return JSONResponse(
        envelope(code, message, rid, details),
        status_code=status,
        headers={**(headers or {}), "X-Request-ID": rid},
    )


def _agent_memory_response(request: Request, exc: AgentMemoryError) -> JSONResponse:
    rid = request_id_of(request.headers)
    status, body, headers = error_parts(exc, rid, request.url.path)
    headers["X-Request-ID"] = rid
    return JSONResponse(body, status_code=status, headers=headers)


class RequestCounter:
    """Pure-ASGI middleware counting requests by (method, path): tests read it."""

    def __init__(self, app: ASGIApp, counts: Counter[tuple[str, str]]) -> None:
        self.app = app
        self.counts = counts
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            with self._lock:
                self.counts[(scope["method"], scope["path"])] += 1
        await self.app(scope, receive, send)


class _Health:
    """Server-wide health figures; the embedder and storage probes are cached a few seconds.

    Storage is unhealthy when the data directory cannot take a real write (4 KiB, synced),
    or when a request found the storage full in the last ``FULL_HOLD`` seconds.
    """

    FULL_HOLD = 60.0
    PROBE_BYTES = 4096

    def __init__(
        self, embedder: Embedder, registry: TenantRegistry, extraction_model: str | None = None
    ) -> None:
        self.embedder = embedder
        self.registry = registry
        self.extraction_model = extraction_model
        self.started = time.monotonic()
        self._checked = 0.0
        self._embedding: dict[str, Any] = {}
        self._storage_checked = 0.0
        self._storage: dict[str, Any] = {}
        self._full_at = -self.FULL_HOLD
        self._full_error = ""
        self._lock = threading.Lock()

    def observe(self, exc: AgentMemoryError) -> None:
        """Remember a full disk a request ran into (``ErrorBoundary`` calls this)."""
        if isinstance(exc, StorageFullError) or exc.error_code == "STORAGE_FULL":
            with self._lock:
                self._full_at = time.monotonic()
                self._full_error = exc.message

    def llm(self) -> dict[str, Any]:
        """The extraction model, as configured. It is not called (a probe would cost money),
        and a model that is not used is healthy: SDKs derive the overall status from it."""
        if not self.extraction_model:
            return {"status": "healthy", "model": None, "note": "no extraction model"}
        return {"status": "healthy", "model": self.extraction_model, "note": "not probed"}

    def embedding(self) -> dict[str, Any]:
        with self._lock:
            if time.monotonic() - self._checked > 5.0:
                try:
                    self.embedder.embed_query("health check")
                    self._embedding = {"status": "healthy", "model": self.embedder.name}
                except Exception as exc:
                    self._embedding = {
                        "status": "unhealthy",
                        "model": self.embedder.name,
                        "retry_after": 5.0,
                        "error": str(exc),
                    }
                self._checked = time.monotonic()
            return dict(self._embedding)

    def processor(self, tenant: str | None) -> dict[str, Any]:
        figures = self.registry.processor_stats(tenant)
        stats = {
            key: figures["statistics"].get(key, 0)
            for key in (
                "total_enqueued",
                "total_recovered",
                "total_dispatched",
                "total_completed",
                "total_failed",
                "queue_full",
                "queue_duplicates",
                "queue_oversized",
                "recovery_duplicates",
                "active_tasks",
            )
        }
        stats["total_dispatched"] = stats["total_completed"] + stats["total_failed"]
        alive = bool(figures["alive"])
        return {
            "status": "healthy" if alive else "degraded",
            "message": None if alive else "a processing worker has stopped",
            "queue": figures["queue"],
            "statistics": {**stats, "loop_running": alive, "dispatcher_alive": alive},
            "loop_running": alive,
            "dispatcher_alive": alive,
        }

    def storage(self, tenant: str | None = None) -> dict[str, Any]:
        with self._lock:
            if time.monotonic() - self._storage_checked > 5.0:
                self._storage = self._probe_storage()
                self._storage_checked = time.monotonic()
            found = dict(self._storage)
            if time.monotonic() - self._full_at < self.FULL_HOLD:
                found.update(status="unhealthy", error=f"a write failed: {self._full_error}")
        return {**found, "open_stores": len(self.registry.engines(tenant))}

    def _probe_storage(self) -> dict[str, Any]:
        config = self.registry.config
        target = config.path.parent if config.path is not None else config.data_dir
        probe = target / f".health-{uuid.uuid4().hex}"
        try:
            target.mkdir(parents=True, exist_ok=True)
            with probe.open("wb") as handle:  # real bytes: an empty file needs no free space
                handle.write(b"\0" * self.PROBE_BYTES)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            return {
                "status": "unhealthy",
                "backend": "sqlite",
                "error": f"cannot write to the data directory: {exc.strerror or exc}",
            }
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        return {"status": "healthy", "backend": "sqlite"}

    def overall(self) -> bool:
        return bool(
            self.embedding()["status"] == "healthy"
            and self.storage()["status"] == "healthy"
            and self.processor(None)["status"] == "healthy"
        )


def _scope_of(request: Request) -> str | None:
    """Whose figures a health route shows: the caller's tenant with auth on, else all."""
    authority: TokenAuthority = request.app.state.authority
    return request.state.tenant if authority.active else None


def _client_of(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def _liveness_router(health: _Health) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", response_model=None, responses={200: {"model": schemas.HealthOut}})
    def server_health(request: Request) -> Response:
        """Overall status, anonymous (always 200: ``degraded`` rather than 503, so probes
        stay cheap). With auth on, ``uptime_seconds`` is only shown to a valid token."""
        authority: TokenAuthority = request.app.state.authority
        header = request.headers.get("authorization")
        shown = not authority.active
        if authority.active and header:
            try:
                authority.tenant_for(header, _client_of(request))
                shown = True
            except AgentMemoryError:
                pass
        uptime = round(time.monotonic() - health.started, 3) if shown else None
        return JSONResponse(
            {
                "status": "healthy" if health.overall() else "degraded",
                "version": __version__,
                "uptime_seconds": uptime,
                "implementation": IMPLEMENTATION,
            }
        )

    return router


def _health_router(health: _Health) -> APIRouter:
    """The health routes with figures (behind auth when auth is on)."""
    router = APIRouter(tags=["health"])

    @router.get(
        "/health/couchbase", response_model=None, responses={200: {"model": schemas.StatusOut}}
    )
    def storage_health(request: Request) -> Response:
        """Storage status (named after the Couchbase route; here it is SQLite)."""
        return JSONResponse(health.storage(_scope_of(request)))

    @router.get(
        "/health/models", response_model=None, responses={200: {"model": schemas.ModelsHealthOut}}
    )
    def models_health() -> Response:
        embedding = health.embedding()
        status = "healthy" if embedding["status"] == "healthy" else "unhealthy"
        return JSONResponse(
            {
                "status": status,
                "embedding": embedding,
                "llm": health.llm(),
            }
        )

    @router.get(
        "/health/async-batch-processor",
        response_model=None,
        responses={200: {"model": schemas.ProcessorOut}},
    )
    def processor_health(request: Request) -> Response:
        """The embedding queue (of the caller's tenant when auth is on)."""
        return JSONResponse(health.processor(_scope_of(request)))

    @router.get(
        "/health/async-batch-processor-stats",
        response_model=None,
        responses={200: {"model": schemas.ProcessorOut}},
    )
    def processor_stats(request: Request) -> Response:
        return JSONResponse(health.processor(_scope_of(request)))

    @router.get(
        "/health/memory", response_model=None, responses={200: {"model": schemas.StatusOut}}
    )
    def memory_health(request: Request) -> Response:
        storage = health.storage(_scope_of(request))
        return JSONResponse(
            {
                "status": "healthy" if storage["status"] == "healthy" else "degraded",
                "open_stores": storage["open_stores"],
            }
        )

    return router


DOCS_ASSETS = "/docs/assets"
"""Where the API docs' scripts and styles are served from: the server's own files (the
``fastapi-offline`` package's Swagger UI and ReDoc bundles), so the docs work offline."""


def _docs_router(app: FastAPI) -> APIRouter:
    """``/openapi.json``, ``/docs`` (Swagger UI) and ``/redoc`` (behind auth when auth is on),
    with their assets served locally, never from a CDN."""
    router = APIRouter(include_in_schema=False)

    @router.get("/openapi.json")
    def openapi() -> Response:
        return JSONResponse(app.openapi())

    @router.get("/docs")
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    @router.get("/redoc")
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - docs",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    return router


def _docs_assets() -> StaticFiles:
    from importlib.resources import files

    return StaticFiles(directory=str(files("fastapi_offline") / "static"))


def _token_router() -> APIRouter:
    router = APIRouter(tags=["auth"])

    @router.post(
        TOKEN_PATH,
        response_model=None,
        responses={200: {"model": schemas.TokenOut}, 401: {"model": schemas.ErrorOut}},
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["client_credentials"]},
                                "client_id": {"type": "string"},
                                "client_secret": {"type": "string"},
                            },
                            "required": ["grant_type"],
                        }
                    }
                },
                "required": True,
            }
        },
    )
    async def token(request: Request) -> Response:
        """OAuth2 client-credentials grant (form body, or HTTP Basic client auth)."""
        raw = (await request.body()).decode("utf-8", errors="replace")
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:].strip()).decode("utf-8")
                client_id, _, secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError):
                raise InvalidClientError("malformed HTTP Basic client credentials") from None
        if form.get("grant_type") != "client_credentials":
            rid = request_id_of(request.headers)
            body = envelope(
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
                rid,
            )
            body["error_description"] = body["message"]
            return JSONResponse(body, status_code=400)
        authority: TokenAuthority = request.app.state.authority
        issued = authority.issue(client_id, secret, _client_of(request))
        return JSONResponse(
            {
                "access_token": issued.access_token,
                "token_type": "bearer",
                "expires_in": issued.expires_in,
            },
            headers={"Cache-Control": "no-store"},
        )

    return router


async def authenticate(request: Request) -> None:
    """Resolve the bearer token to a tenant (401 when auth is on and it is missing/bad,
    429 while the client address is locked out after failed attempts)."""
    authority: TokenAuthority = request.app.state.authority
    request.state.tenant = authority.tenant_for(
        request.headers.get("authorization"), _client_of(request)
    )


def create_app(
    config: ServerConfig | None = None,
    *,
    clock: Callable[[], float] = time.time,
    record_requests: bool = False,
) -> FastAPI:
    """The server app. Tenants' stores open lazily and are drained on shutdown; stores a
    previous run left with ``processing`` blocks are resumed at start."""
    config = config or ServerConfig()
    config.validate()
    embedder = resolve_embedder(
        config.embedder if config.embedder is not None else config.settings.embedder
    )
    registry = TenantRegistry(config, embedder, clock=clock)
    authority = TokenAuthority(config.auth)
    health = _Health(embedder, registry, config.settings.extraction_model)
    metrics = ServerMetrics(lambda: [engine.metrics() for engine in registry.engines()])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        registry.reopen()
        stop = threading.Event()
        resume = threading.Thread(
            target=registry.resume_pending, args=(stop,), name="memory-resume", daemon=True
        )
        resume.start()
        yield
        stop.set()
        await anyio.to_thread.run_sync(lambda: resume.join(config.drain_timeout))
        log.info("draining the processing queues (up to %.0f s)", config.drain_timeout)
        await anyio.to_thread.run_sync(
            lambda: registry.close(drain=True, timeout=config.drain_timeout)
        )

    app = FastAPI(
        title="memory-integrations server",
        version=__version__,
        description=(
            "Agent memory over HTTP: the Couchbase Agent Memory REST API at `/` and the SAP "
            "Agent Memory v1 API at `/v1`, served by the memory-integrations engine. Errors "
            "are always `{error, message, details, request_id}`."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.registry = registry
    app.state.authority = authority
    app.state.embedder = embedder
    app.state.requests = Counter()

    guarded = [Depends(authenticate)]
    app.include_router(_liveness_router(health))
    app.include_router(_health_router(health), dependencies=guarded)
    app.include_router(metrics_router(metrics), dependencies=guarded)
    app.include_router(_token_router())
    app.include_router(couchbase_router(), dependencies=guarded)
    app.include_router(sap_router(), dependencies=guarded)
    if config.open_docs:
        app.include_router(_docs_router(app), dependencies=guarded)
        app.mount(DOCS_ASSETS, _docs_assets(), name="docs-assets")

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = jsonable_encoder(exc.errors(), custom_encoder={Exception: str})
        for item in errors:
            item.pop("input", None)
            item.pop("url", None)
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid":
            reason = (first.get("ctx") or {}).get("error", "JSON decode error")
            message = f"the body is not valid JSON: {reason} at character {first['loc'][-1]}"
        else:
            where = ".".join(str(p) for p in first.get("loc", []))
            message = (
                f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
            )
        return _agent_memory_response(request, ValidationError(message, details={"errors": errors}))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        elif exc.status_code == 404:
            message = f"no route {request.method} {request.url.path}"
        return _error_response(
            request,
            exc.status_code,
            code_for_status(exc.status_code),
            message,
            headers=dict(exc.headers or {}),
        )

    # Our errors, raw storage failures and anything unexpected: ErrorBoundary (in _guards).
    install_guards(
        app,
        allowed_hosts=config.host_allowlist(),
        form_paths=frozenset({TOKEN_PATH}),
        observe=health.observe,
    )
    app.add_middleware(HttpMetrics, metrics=metrics)
    if record_requests:
        app.add_middleware(RequestCounter, counts=app.state.requests)
    return app


__all__ = ["IMPLEMENTATION", "create_app"]
