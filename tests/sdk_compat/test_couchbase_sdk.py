"""couchbase-agent-memory 1.1.0, unchanged, against our server: every operation of its guide,
the compatibility pairs C1-C10 and the gotchas of the wire-compat test plan."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import httpx
import pytest

from .conftest import TOKENS, DriverError, Live, SdkDriver

pytestmark = pytest.mark.slow


def client(driver: SdkDriver, server: Live, **kwargs: Any) -> str:
    return driver.new("cb", kwargs={"base_url": server.url, **kwargs})


def msg(user: str = "", assistant: str = "") -> dict[str, Any]:
    return {"$type": "ChatMessage", "user_content": user, "assistant_content": assistant}


def raises(call: Any, *args: Any, **kwargs: Any) -> DriverError:
    with pytest.raises(DriverError) as info:
        call(*args, **kwargs)
    return info.value


# --- C1-C10 ---------------------------------------------------------------------------


def test_c1_create_user_then_conflict(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    user = driver.call(c, "create_user", "c1-user", "Alice", metadata={"tier": "gold"})
    assert user["class"] == "UserResource"
    assert user["attrs"]["name"] == "Alice"
    assert user["attrs"]["metadata"] == {"tier": "gold"}
    err = raises(driver.call, c, "create_user", "c1-user", "Alice")
    assert err.type == "ConflictError" and err.status_code == 409
    assert err.error_code == "CONFLICT"


def test_c2_get_missing_user(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    err = raises(driver.call, c, "get_user", "nope")
    assert err.type == "NotFoundError"
    assert err.error_code == "NOT_FOUND"
    assert isinstance(err.request_id, str) and err.request_id
    # the request id the SDK saw is the one the server put in its header
    response = httpx.get(f"{open_server.url}/users/nope", headers={"X-Request-ID": "r1"})
    assert response.json()["request_id"] == "r1"


def test_c3_list_users_by_metadata(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    driver.call(c, "create_user", "c3-a", "A", metadata={"tier": "c3gold"})
    driver.call(c, "create_user", "c3-b", "B", metadata={"tier": "silver"})
    page = driver.call(c, "list_users", metadata={"tier": "c3gold"}, limit=10)
    assert [u["id"] for u in page["users"]] == ["c3-a"]
    assert page["count"] == 1 and page["total"] == 1 and page["limit"] == 10
    assert page["has_more"] is False
    by_name = driver.call(c, "list_users", name="B", limit=500)
    assert [u["id"] for u in by_name["users"]] == ["c3-b"]


def test_c4_session_with_ttl(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    user = driver.call(c, "create_user", "c4-user", "U")
    session = driver.call(
        user, "create_session", "s1", annotations={"agent": "x"}, memory_blocks_ttl=60
    )
    assert session["attrs"]["blocks_ttl"] == 60
    assert session["attrs"]["annotations"] == {"agent": "x"}
    assert session["attrs"]["end_time"] is None
    assert session["attrs"]["start_time"].endswith("Z")
    again = driver.call(user, "get_session", "s1")
    assert again["attrs"]["blocks_ttl"] == 60


def test_c5_add_messages_and_bad_annotation(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    user = driver.call(c, "create_user", "c5-user", "U")
    session = driver.call(user, "create_session", "s1")
    added = driver.call(
        session, "add_memory", messages=[msg(" hi ", "hello")], annotations={"agent": "bot"}
    )
    assert added["accepted_count"] == 1 and len(added["block_ids"]) == 1
    assert open_server.count("POST", "/users/c5-user/sessions/s1/memory") == 1
    page = driver.call(session, "list_memories")
    assert page["memory_blocks"][0]["message"] == {
        "user_content": "hi",
        "assistant_content": "hello",
    }
    err = raises(driver.call, session, "add_memory", facts=["x"], annotations={"1bad": "v"})
    assert err.type == "ValidationError"
    assert "annotation key" in err.message


def test_c6_search_scope(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    user = driver.call(c, "create_user", "c6-user", "U")
    s1 = driver.call(user, "create_session", "s1")
    s2 = driver.call(user, "create_session", "s2")
    driver.call(
        s1, "add_memory", facts=["The shipping was delayed by a week"], async_processing=False
    )
    driver.call(s2, "add_memory", facts=["Shipping to Berlin costs extra"], async_processing=False)
    driver.call(s2, "add_memory", facts=["The customer likes tea"], async_processing=False)
    everywhere = driver.call(
        s1,
        "search_memory",
        "shipping",
        filters={"$type": "FilterOptions", "session_ids": "all", "relevant_k": 5},
    )
    blocks = everywhere["memory_blocks"]
    assert 2 <= len(blocks) <= 5
    assert {b["session_id"] for b in blocks} == {"s1", "s2"}
    scores = [b["rel_score"] for b in blocks]
    assert scores == sorted(scores, reverse=True)
    here = driver.call(s1, "search_memory", "shipping")
    assert {b["session_id"] for b in here["memory_blocks"]} == {"s1"}
    top1 = driver.call(s2, "search_memory", "shipping", filters={"relevant_k": 1})
    assert top1["count"] == 1


def test_c7_list_memories_pages(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    user = driver.call(c, "create_user", "c7-user", "U")
    for sid in ("s1", "s2", "s3"):
        session = driver.call(user, "create_session", sid)
        driver.call(session, "add_memory", facts=[f"fact in {sid}"])
    page = driver.call(
        user, "list_memories", session_ids=["s1", "s2"], limit=200, order_by="created_at"
    )
    assert page["limit"] == 200 and page["offset"] == 0
    assert page["total"] == 2 and {b["session_id"] for b in page["memory_blocks"]} == {"s1", "s2"}
    assert open_server.count("GET", "/users/c7-user/memory") == 1
    every = driver.call(user, "list_memories", limit=2, offset=1)
    assert every["total"] == 3 and every["count"] == 2
    driver.call(c, "delete_user", "c7-user")  # the handle outlives the user: now a 404
    err = raises(driver.call, user, "list_memories")
    assert err.type == "NotFoundError"


def test_c8_update_then_delete_all(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    user = driver.call(c, "create_user", "c8-user", "U")
    session = driver.call(user, "create_session", "s1", memory_blocks_ttl=3600)
    added = driver.call(session, "add_memory", facts=["old", "other"], async_processing=False)
    block_id = added["block_ids"][0]
    updated = driver.call(
        session, "update_memory", block_id, fact="new", memory_block_ttl=0, async_processing=False
    )
    assert updated["block"]["fact"] == "new"
    assert updated["block"]["block_id"] == block_id
    deleted = driver.call(session, "delete_memory", block_ids="all")
    assert deleted == {"deleted_count": 2, "failed_count": 0, "failed_block_ids": []}
    err = raises(driver.call, session, "update_memory", block_id, fact="again")
    assert err.type == "NotFoundError"
    expiring = driver.call(session, "add_memory", facts=["short-lived"], async_processing=False)
    driver.call(user, "modify_ttl", new_ttl=1, session_id="s1", block_ids=expiring["block_ids"])
    time.sleep(1.2)
    expired = raises(driver.call, session, "update_memory", expiring["block_ids"][0], fact="x")
    assert expired.type == "NotFoundError"  # expired blocks are gone even before the sweep


def test_c9_end_session_and_prompts(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    user = driver.call(c, "create_user", "c9-user", "U")
    session = driver.call(user, "create_session", "s1")
    ended = driver.call(session, "end")
    assert ended["attrs"]["end_time"] is not None
    err = raises(driver.call, session, "add_memory", facts=["x"])
    assert err.type == "ConflictError"

    prompt = driver.call(c, "create_prompt", "c9p", "Extract the facts.", "d")
    assert prompt["current_vid"] == 0 and prompt["version_count"] == 1
    assert prompt["last_updated_at"].endswith("Z")
    version = driver.call(c, "get_prompt", "c9p", vid=0)
    assert version["vid"] == 0 and version["prompt"] == "Extract the facts."
    assert "current_vid" not in version  # same path, the PromptVersion shape
    head = driver.call(c, "get_prompt", "c9p")
    assert head["current_vid"] == 0 and "vid" not in head
    assert driver.call(c, "archive_prompt", "c9p", "all") is None
    assert driver.call(c, "get_prompt", "c9p")["archived"] is True
    again = raises(driver.call, c, "archive_prompt", "c9p", "all")
    assert again.type == "ConflictError"


def test_c10_retries_and_retry_after(
    driver: SdkDriver, secure_server: Live, open_server: Live
) -> None:
    # 503 DATABASE_UNAVAILABLE + Retry-After on a GET: the tenant's storage cannot be opened
    (secure_server.data_dir / "broken").write_text("a file where the tenant directory goes")
    broken = client(driver, secure_server, token=TOKENS["broken"], max_retries=2)
    started = time.monotonic()
    err = raises(driver.call, broken, "get_user", "u1")
    assert err.type == "ServiceUnavailableError"
    assert err.retry_after == 1 and err.error_code == "DATABASE_UNAVAILABLE"
    assert err.service == "database"
    assert secure_server.count("GET", "/users/u1") == 3  # max_retries + 1
    assert time.monotonic() - started >= 2.0  # waited Retry-After between attempts

    # the same with the permanent DATABASE_ERROR: sent once
    acme = client(driver, secure_server, token=TOKENS["acme"], max_retries=2)
    user = driver.call(acme, "create_user", "c10-damaged", "U")
    driver.call(user, "create_session", "s1")
    with sqlite3.connect(secure_server.data_dir / "acme" / "memory.sqlite3") as db:
        db.execute("ALTER TABLE mi_sessions RENAME TO mi_sessions_lost")
    try:
        before = secure_server.count("GET", "/users/c10-damaged/sessions/s1")
        err = raises(driver.call, user, "get_session", "s1")
        assert err.error_code == "DATABASE_ERROR" and err.type == "ServiceUnavailableError"
        assert secure_server.count("GET", "/users/c10-damaged/sessions/s1") == before + 1
    finally:
        with sqlite3.connect(secure_server.data_dir / "acme" / "memory.sqlite3") as db:
            db.execute("ALTER TABLE mi_sessions_lost RENAME TO mi_sessions")

    # 429 on a POST (the processing queue is full): never retried, retry_after from header
    c = client(driver, open_server, max_retries=3)
    user = driver.call(c, "create_user", "c10-queue", "U")
    session = driver.call(user, "create_session", "s1")
    before = open_server.count("POST", "/users/c10-queue/sessions/s1/memory")
    err = raises(driver.call, session, "add_memory", facts=[f"fact {i}" for i in range(40)])
    assert err.type == "RateLimitError" and err.retry_after == 1
    assert err.error_code == "RATE_LIMITED"
    assert open_server.count("POST", "/users/c10-queue/sessions/s1/memory") == before + 1

    # health_ping: all six entities, healthy
    health = driver.call(c, "health_ping")
    assert health["overall_status"] == "healthy"
    assert health["checked_entities"] == [
        "server",
        "couchbase",
        "models",
        "async-batch-processor",
        "async-batch-processor-stats",
        "memory",
    ]


# --- the guide, step by step ----------------------------------------------------------


def test_guide_store_backfill_and_processing(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    assert driver.call(c, "health_ping")["overall_status"] == "healthy"
    user = driver.call(c, "create_user", user_id="agent-1", name="Support Bot")
    session = driver.call(user, "create_session", session_id="conv-100")
    driver.call(
        session,
        "add_memory",
        messages=[
            msg("My order hasn't arrived.", "I'll look into that. What's your order number?")
        ],
    )
    driver.call(session, "add_memory", facts=["Customer is in the EU timezone."])
    both = raises(driver.call, session, "add_memory", messages=[msg("a", "b")], facts=["c"])
    assert both.type == "ValidationError"
    many = driver.call(session, "add_memory", facts=["one", "two", "three"])
    assert many["accepted_count"] == 3 and len(set(many["block_ids"])) == 3
    driver.call(
        session,
        "add_memory",
        messages=[msg("I'd like to cancel my subscription.", "I can help with that.")],
        # The guide passes a datetime; SDK 1.1.0 only takes the ISO string (it calls
        # datetime.fromisoformat on it), so a string it is.
        created_at="2025-01-15T10:30:00+00:00",
    )
    ready = driver.call(
        session, "add_memory", facts=["User prefers email notifications."], async_processing=False
    )
    assert len(ready["block_ids"]) == 1
    page = driver.call(session, "list_memories", limit=50, offset=0, order_by="created_at")
    assert page["total"] == 7
    assert page["memory_blocks"][0]["created_at"].startswith("2025-01-15T10:30:00")
    found = driver.call(session, "search_memory", query="email notifications")
    assert found["memory_blocks"][0]["fact"] == "User prefers email notifications."
    everything = driver.call(session, "search_memory")  # unranked, every ready block
    assert all(b["rel_score"] is None for b in everything["memory_blocks"])


def test_guide_update_ttl_annotations_list_delete(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    user = driver.call(c, "create_user", "guide-2", "U")
    ephemeral = driver.call(user, "create_session", "ephemeral-session", memory_blocks_ttl=86400)
    permanent = driver.call(
        ephemeral,
        "add_memory",
        facts=["Critical account note."],
        memory_block_ttl=0,
        async_processing=False,
    )
    resp = driver.call(
        ephemeral,
        "update_memory",
        block_id=permanent["block_ids"][0],
        fact="Customer upgraded to premium plan.",
        annotations={"importance": "high"},
        memory_block_ttl=0,
        async_processing=False,
    )
    assert resp["block"]["fact"] == "Customer upgraded to premium plan."
    assert resp["block"]["annotations"] == {"importance": "high"}
    wrong_kind = raises(
        driver.call, ephemeral, "update_memory", permanent["block_ids"][0], message=msg("a", "b")
    )
    assert wrong_kind.type == "ValidationError"  # content type is fixed (400 here, not 5xx)

    assert driver.call(user, "modify_ttl", new_ttl=3600)["updated_count"] == 1
    driver.call(user, "modify_ttl", new_ttl=3600, session_id="ephemeral-session")
    out = driver.call(
        user,
        "modify_ttl",
        new_ttl=0,
        session_id="ephemeral-session",
        block_ids=permanent["block_ids"],
    )
    assert out["updated_count"] == 1

    conv = driver.call(
        user, "create_session", "conv-200", annotations={"topic": "onboarding", "source": "web"}
    )
    driver.call(
        conv,
        "add_memory",
        facts=["User completed onboarding."],
        annotations={"importance": "high", "locale": "en-US"},
        async_processing=False,
    )
    hits = driver.call(
        conv,
        "search_memory",
        query="onboarding status",
        filters={"session_ids": "all", "annotations": {"importance": "high"}},
    )
    assert {b["fact"] for b in hits["memory_blocks"]} == {
        "User completed onboarding.",
        "Customer upgraded to premium plan.",
    }
    page = driver.call(conv, "list_memories", limit=50, offset=0, order_by="created_at")
    assert page["count"] == 1 and page["total"] == 1
    all_blocks = driver.call(user, "list_memories", limit=200)
    assert all_blocks["total"] == 2

    added = driver.call(conv, "add_memory", facts=["a", "b"], async_processing=False)
    gone = driver.call(conv, "delete_memory", block_ids=added["block_ids"])
    assert gone["deleted_count"] == 2
    driver.call(conv, "delete_memory", block_ids="all")
    assert driver.call(conv, "list_memories")["total"] == 0
    driver.call(ephemeral, "delete")
    assert driver.call(user, "list_memories", limit=200)["total"] == 0
    listed = driver.call(user, "list_sessions")
    assert [x["session_id"] for x in listed["sessions"]] == ["conv-200"]
    driver.call(conv, "update", annotations={"topic": "done"})
    assert driver.call(user, "get_session", "conv-200")["attrs"]["annotations"] == {"topic": "done"}
    driver.call(user, "update", name="Renamed", metadata={"k": "v"})
    assert driver.call(c, "get_user", "guide-2")["attrs"]["name"] == "Renamed"
    driver.call(c, "delete_user", "guide-2")
    assert raises(driver.call, c, "get_user", "guide-2").type == "NotFoundError"


def test_guide_async_client(driver: SdkDriver, open_server: Live) -> None:
    c = driver.new("cb_async", kwargs={"base_url": open_server.url})
    user = driver.call(c, "create_user", "agent-2", "Async Bot")
    session = driver.call(user, "create_session", "async-session-1")
    driver.call(
        session,
        "add_memory",
        messages=[msg("Hello", "Hi! How can I help?")],
        async_processing=False,
    )
    results = driver.call(session, "search_memory", query="greeting")
    assert results["memory_blocks"][0]["message"]["assistant_content"] == "Hi! How can I help?"
    ended = driver.call(session, "end")
    assert ended["attrs"]["end_time"] is not None
    driver.call(c, "close")


def test_guide_prompt_registry(driver: SdkDriver, open_server: Live) -> None:
    c = client(driver, open_server)
    driver.call(
        c,
        "create_prompt",
        "travel",
        "Extract travel plans.",
        "travel facts",
        annotations={"team": "a"},
    )
    updated = driver.call(c, "update_prompt", "travel", prompt="Extract trips.", description="v2")
    assert updated["current_vid"] == 1 and updated["version_count"] == 2
    versions = driver.call(c, "list_prompt_versions", "travel")
    assert [v["vid"] for v in versions["versions"]] == [0, 1]
    assert [v["is_current"] for v in versions["versions"]] == [False, True]
    listed = driver.call(c, "list_prompts", limit=1000)
    assert "travel" in {p["prompt_id"] for p in listed["prompts"]}

    user = driver.call(c, "create_user", "prompted", "U")
    session = driver.call(user, "create_session", "s1")
    added = driver.call(
        session,
        "add_memory",
        facts=["Trip to Rome in May"],
        prompt_id="travel",
        prompt_vid=0,
        async_processing=False,
    )
    block = driver.call(session, "list_memories")["memory_blocks"][0]
    assert (block["prompt_id"], block["prompt_vid"]) == ("travel", 0)
    hits = driver.call(session, "search_memory", filters={"prompt_id": "travel", "prompt_vid": 0})
    assert [b["block_id"] for b in hits["memory_blocks"]] == added["block_ids"]
    switched = driver.call(session, "update_memory", added["block_ids"][0], prompt_id="default")
    assert switched["block"]["prompt_id"] is None
    unknown = raises(driver.call, session, "add_memory", facts=["x"], prompt_id="nope")
    assert unknown.type == "NotFoundError"

    driver.call(c, "archive_prompt", "travel", 0)
    assert driver.call(c, "get_prompt", "travel", vid=0)["archived"] is True
    archived_version = raises(
        driver.call, session, "add_memory", facts=["x"], prompt_id="travel", prompt_vid=0
    )
    assert archived_version.type == "ConflictError"
    current = raises(driver.call, c, "purge_prompt", "travel", 1)
    assert current.type == "ConflictError"
    driver.call(c, "purge_prompt", "travel", 0)
    assert driver.call(c, "list_prompt_versions", "travel")["total"] == 1
    driver.call(c, "purge_prompt", "travel", "all")
    assert raises(driver.call, c, "get_prompt", "travel").type == "NotFoundError"
    driver.call(c, "create_prompt", "travel", "Reused id.", "freed by purge")


# --- auth and tenants -----------------------------------------------------------------


def test_tokens_isolate_tenants(driver: SdkDriver, secure_server: Live) -> None:
    acme = client(driver, secure_server, token=TOKENS["acme"])
    globex = client(driver, secure_server, token=TOKENS["globex"])
    user = driver.call(acme, "create_user", "shared-id", "Acme user")
    session = driver.call(user, "create_session", "s1")
    driver.call(session, "add_memory", facts=["acme secret plan"], async_processing=False)
    assert raises(driver.call, globex, "get_user", "shared-id").type == "NotFoundError"
    other = driver.call(globex, "create_user", "shared-id", "Globex user")
    other_session = driver.call(other, "create_session", "s1")
    found = driver.call(other_session, "search_memory", "secret plan")
    assert found["memory_blocks"] == []
    assert "shared-id" in {u["id"] for u in driver.call(acme, "list_users")["users"]}
    assert driver.call(acme, "get_user", "shared-id")["attrs"]["name"] == "Acme user"

    anonymous = client(driver, secure_server, max_retries=0)
    err = raises(driver.call, anonymous, "get_user", "shared-id")
    assert err.type == "AuthenticationError" and err.status_code == 401
    bad = client(driver, secure_server, token="not-a-valid-token", max_retries=0)
    assert raises(driver.call, bad, "list_users").type == "AuthenticationError"
    assert driver.call(anonymous, "health_ping", "server")["overall_status"] == "healthy"
