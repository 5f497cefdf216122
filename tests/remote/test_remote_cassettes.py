"""The remote and SAP backends replayed from cassettes recorded against our own server.

No server runs here: vcrpy answers every request from ``cassettes/<scenario>.yaml`` and
fails any request that was not recorded (re-record with ``record_cassettes.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .conftest import RECORDED_BASE_URL
from .scenarios import SCENARIOS


def replay(cassette: Any, name: str) -> tuple[dict[str, Any], Any]:
    with cassette(name) as recorded:
        seen = SCENARIOS[name](RECORDED_BASE_URL, lambda step: None)
    assert recorded.all_played  # every recorded request was made again, in order
    return seen, recorded


def test_remote_crud(cassette: Any) -> None:
    seen, recorded = replay(cassette, "remote_crud")
    assert seen["added"] == 2
    assert seen["top_hit"] == "Alice flies to Lisbon in May" and seen["top_is_first"]
    assert seen["listed"] == ["Alice flies to Lisbon in May", "Alice is vegetarian"]
    assert seen["created_at"] == datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
    assert seen["updated"] == "Alice is vegan"
    assert (seen["count"], seen["deleted"]) == (2, 1)
    assert seen["users"] == ["cassette-user"] and seen["health"] == "healthy"
    assert seen["gone"] == "NotFoundError"
    paths = [r.path for r in recorded.requests]
    assert "/users/cassette-user/sessions/s1/memory/count" in paths  # an extension route


def test_remote_messages(cassette: Any) -> None:
    seen, _ = replay(cassette, "remote_messages")
    assert seen == {"round_trip": True, "tools": ["lookup"]}


def test_remote_errors_and_retries(cassette: Any) -> None:
    seen, recorded = replay(cassette, "remote_errors")
    assert seen["conflict"]["type"] == "ConflictError"
    assert seen["validation"]["type"] == "ValidationError"
    assert seen["client_validation"]["type"] == "ValidationError"
    assert seen["not_found"]["type"] == "NotFoundError"
    assert seen["queue_full"] == {
        "type": "RateLimitError",
        "status": 429,
        "code": "RATE_LIMITED",
        "retry_after": 1.0,
    }
    assert seen["unavailable"]["code"] == "DATABASE_UNAVAILABLE"
    assert seen["waits"] == [1.0, 1.0, 1.0, 1.0]  # Retry-After honoured, 2 retries each
    gets = [r for r in recorded.requests if r.path == "/users/anyone"]
    assert len(gets) == 3


def test_sap_backend(cassette: Any) -> None:
    seen, recorded = replay(cassette, "sap_backend")
    assert seen["search"] == ["The user prefers dark mode"]
    assert seen["listed"] == ["The user prefers dark mode", "hello there"]
    assert seen["fetches"] == 2  # the 401 made it fetch a second token, once
    assert seen["metadata"] == {"src": "ui"}
    assert (seen["deleted"], seen["retention"]) == (2, 14)
    statuses = [r["status"]["code"] for r in recorded.responses]
    assert 401 in statuses
