"""``/metrics``: scraped in Prometheus format from a live server (HTTP metrics by route
template, the engines' processing counters), behind authentication when it is on; and the
same processing counters read from the embedded client."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.engine import ENGINE_METRICS

from .conftest import TOKEN, Live, assert_envelope


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_are_scraped_by_route_template_with_the_engines_counters(live: Live) -> None:
    http = live.http
    for user in ("m-1", "m-2"):
        assert http.post("/users", json={"user_id": user, "name": "M"}).status_code == 201
        http.post(f"/users/{user}/sessions", json={"session_id": "s"})
        added = http.post(
            f"/users/{user}/sessions/s/memory", json={"facts": ["tea"], "async_processing": True}
        )
        assert added.status_code == 201
    assert http.get("/users/nobody").status_code == 404
    scrape = http.get("/metrics")
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    samples = _samples(scrape.text)
    route = (("method", "POST"), ("route", "/users"), ("status", "201"))
    assert samples[("agentmemory_http_requests_total", route)] >= 2  # ids never label a series
    missing = (("method", "GET"), ("route", "/users/{user_id}"), ("status", "404"))
    assert samples[("agentmemory_http_requests_total", missing)] >= 1
    timed = (("method", "POST"), ("route", "/users/{user_id}/sessions/{session_id}/memory"))
    assert samples[("agentmemory_http_request_duration_seconds_count", timed)] >= 2
    for name in ENGINE_METRICS:
        assert (name, ()) in samples, name
    assert samples[("agentmemory_processing_enqueued_total", ())] >= 2


def test_metrics_need_the_token_when_auth_is_on(secure: Live) -> None:
    assert_envelope(secure.http.get("/metrics"), 401)
    scrape = secure.http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scrape.status_code == 200
    assert "agentmemory_async_batch_permanent_failures_total" in scrape.text


def test_the_embedded_client_reads_the_same_counters(tmp_path: Any) -> None:
    with AgentMemoryClient(tmp_path / "m.sqlite3", embedder=HashingEmbedder()) as client:
        session = client.create_user("u", "U").create_session("s")
        session.add_memory(facts=["a", "b", "c"])
        assert client.wait_until_processed(30)
        figures = client.metrics()
        assert set(figures) == set(ENGINE_METRICS)
        assert figures["agentmemory_processing_enqueued_total"] == 3
        assert figures["agentmemory_processing_completed_total"] == 3
        assert figures["agentmemory_processing_queue_depth"] == 0
        assert figures["agentmemory_async_batch_permanent_failures_total"] == 0
