"""``/metrics``: the server's Prometheus metrics (prometheus-client).

Per route (its template, so ids do not explode the label set): request counts by status and
a latency histogram. From the engines of the tenants open in this process: the processing
queue, throughput, retries and permanent failures (the names :meth:`Engine.metrics` reports,
summed over tenants). Behind the same authentication as the API.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..engine import ENGINE_METRICS


class ServerMetrics:
    """The server's metric registry: HTTP metrics and a collector of engine metrics."""

    def __init__(self, engine_metrics: Callable[[], Iterable[Mapping[str, float]]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "agentmemory_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "agentmemory_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.registry.register(_EngineCollector(engine_metrics))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _EngineCollector(Collector):
    def __init__(self, source: Callable[[], Iterable[Mapping[str, float]]]) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        totals = dict.fromkeys(ENGINE_METRICS, 0.0)
        for figures in self._source():
            for name, value in figures.items():
                totals[name] = totals.get(name, 0.0) + float(value)
        for name, (kind, text) in ENGINE_METRICS.items():
            family = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
            # prometheus-client adds the _total suffix of a counter itself.
            yield family(name.removesuffix("_total"), text, value=totals[name])


class HttpMetrics:
    """Pure-ASGI middleware: counts and times every HTTP request by its route template."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = str(scope["method"])
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)


def metrics_router(metrics: ServerMetrics) -> APIRouter:
    router = APIRouter()

    @router.get("/metrics", tags=["memory-integrations extensions"], response_model=None)
    def scrape() -> Any:
        """*Extension*: Prometheus metrics (text exposition format)."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router
