"""AgentMemoryClient(base_url=..., token=...) against a live server on loopback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient, ChatMessage
from memory_integrations.backend._remote import RemoteBackend
from memory_integrations.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    ConnectionError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    ValidationError,
)

from .conftest import OTHER_TOKEN, TOKEN, Live


def test_users_sessions_and_blocks_round_trip(remote: AgentMemoryClient, uid: str) -> None:
    user = remote.create_user(uid, "Alice", metadata={"tier": "gold"})
    assert (user.name, user.metadata) == ("Alice", {"tier": "gold"})
    with pytest.raises(ConflictError):
        remote.create_user(uid, "again")
    session = user.create_session("s1", annotations={"topic": "trip"}, memory_blocks_ttl=3600)
    assert session.blocks_ttl == 3600 and session.start_time.tzinfo is not None
    added = session.add_memory(
        facts=["Alice is vegetarian", "Alice flies to Lisbon in May"],
        annotations={"source": "chat"},
        metadata=[{"n": 1}, {"n": 2}],
        agent_id="planner",
        created_at=datetime(2025, 1, 15, 10, 30, tzinfo=UTC),
        async_processing=False,
    )
    assert added.accepted_count == 2
    block = session.get_memory_block(added.block_ids[1])
    assert block.fact == "Alice flies to Lisbon in May"
    assert (block.metadata, block.agent_id) == ({"n": 2}, "planner")
    assert block.created_at == datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
    assert block.expires_at is not None  # the session TTL applied server-side

    hits = session.search_memory("Lisbon flight", {"relevant_k": 1}).memory_blocks
    assert [h.block_id for h in hits] == [added.block_ids[1]]
    assert hits[0].rel_score is not None and hits[0].similarity is not None
    assert session.count_memories({"metadata_contains": '"n":1'}) == 1
    assert user.count_memories({"agent_id": "planner"}) == 2

    updated = session.update_memory(added.block_ids[0], fact="Alice is vegan", metadata={"n": 9})
    assert updated.block is not None and updated.block.fact == "Alice is vegan"
    assert updated.block.metadata == {"n": 9}
    assert remote.get_user(uid).sessions == ["s1"]
    remote.delete_user(uid)
    with pytest.raises(NotFoundError):
        remote.get_user(uid)


def test_role_tagged_messages_keep_roles_and_names(remote: AgentMemoryClient, uid: str) -> None:
    session = remote.create_user(uid, "U").create_session("chat")
    sent = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="  spaces kept  ", name="alice"),
        ChatMessage(role="assistant", content=""),
        ChatMessage(role="tool", content='{"ok": true}', name="lookup"),
        ChatMessage(user_content="hi", assistant_content="hello"),
    ]
    session.add_memory(messages=sent)
    page = session.list_memories(limit=10).memory_blocks
    assert [b.message for b in page] == sent
    assert remote.wait_until_processed(30)
    found = session.search_memory(None, {"kind": "message", "role": "tool"}).memory_blocks
    assert [b.message.name for b in found if b.message] == ["lookup"]


def test_lists_pages_ttl_and_deletes(remote: AgentMemoryClient, uid: str) -> None:
    user = remote.create_user(uid, "U")
    first, second = user.create_session("a"), user.create_session("b")
    first.add_memory(facts=[f"a{i}" for i in range(5)], async_processing=False)
    second.add_memory(facts=["b0"], async_processing=False)
    page = user.list_memories(limit=2, offset=1)
    assert (page.total, page.count, page.has_more) == (6, 2, True)
    assert user.list_memories(session_ids=["b"]).total == 1
    assert first.list_memories(session_ids="all").total == 6
    assert user.list_sessions().count == 2
    result = user.modify_ttl(0, session_id="a")
    assert result["updated_count"] == 5
    ids = [b.block_id for b in first.list_memories().memory_blocks]
    assert first.delete_memory(ids[:2]).deleted_count == 2
    assert first.delete_memory("all").deleted_count == 3
    second.end()
    with pytest.raises(ConflictError):
        second.add_memory(facts=["after the end"])
    second.delete()
    assert user.list_sessions().count == 1


def test_validation_errors_come_back_typed(remote: AgentMemoryClient, uid: str) -> None:
    session = remote.create_user(uid, "U").create_session("s")
    with pytest.raises(ValidationError, match="annotation key"):
        session.add_memory(facts=["x"], annotations={"1bad": "v"})
    with pytest.raises(ValidationError):
        session.add_memory(facts=["x"], messages=[ChatMessage(user_content="y")])
    with pytest.raises(NotFoundError):
        session.update_memory("no-such-block", fact="x")
    with pytest.raises(ValidationError):
        remote.list_users(limit=0)


def test_retention_sweep_and_health(remote: AgentMemoryClient) -> None:
    config = remote.update_retention_config(message_days=30)
    assert (config.message_days, config.memory_days) == (30, None)
    assert remote.get_retention_config().message_days == 30
    remote.update_retention_config(message_days=None)
    assert set(remote.sweep_expired()) >= {"expired"}
    health = remote.health_ping()
    assert health.overall_status == "healthy"
    assert health.models.embedding.model == "hashing-v1-384"


def test_tokens_map_to_tenants(server: Live, uid: str) -> None:
    with AgentMemoryClient(base_url=server.url, token=TOKEN) as alpha:
        alpha.create_user(uid, "alpha's")
    with AgentMemoryClient(base_url=server.url, token=OTHER_TOKEN) as beta:
        with pytest.raises(NotFoundError):
            beta.get_user(uid)
        assert uid not in {u.id for u in beta.list_users(limit=500).users}
    stranger = AgentMemoryClient(base_url=server.url, token="wrong-token-000")
    with stranger, pytest.raises(AuthenticationError):
        stranger.get_user(uid)


def test_retry_after_is_honoured(server: Live) -> None:
    (server.data_dir / "broken").write_text("not a directory")
    waits: list[float] = []
    backend = RemoteBackend(
        server.url, token="remote-test-token-broken", max_retries=2, sleep=waits.append
    )
    with pytest.raises(ServiceUnavailableError) as caught:
        backend.get_user("anyone")
    assert waits == [1.0, 1.0]
    assert caught.value.retry_after == 1.0
    assert caught.value.error_code == "DATABASE_UNAVAILABLE"
    assert server.count("GET", "/users/anyone") == 3
    backend.close()


def test_a_full_queue_is_retried_then_raised(server: Live, uid: str) -> None:
    waits: list[float] = []
    backend = RemoteBackend(server.url, token=TOKEN, max_retries=1, sleep=waits.append)
    client = AgentMemoryClient(backend=backend)
    session = client.create_user(uid, "U").create_session("s")
    with pytest.raises(RateLimitError) as caught:  # 40 blocks can never fit a queue of 16
        session.add_memory(facts=[f"f{i}" for i in range(40)])
    assert caught.value.retry_after == 1.0 and waits == [1.0]
    client.close()


def test_connection_errors_are_retried_with_backoff() -> None:
    waits: list[float] = []
    backend = RemoteBackend("http://127.0.0.1:9", max_retries=2, sleep=waits.append)
    with pytest.raises(ConnectionError):
        backend.get_user("u")
    base = backend.core.backoff
    # exponential with jitter: attempt n waits between 0.5 and 1 times base * 2**n
    assert len(waits) == 2
    assert base * 0.5 <= waits[0] <= base and base <= waits[1] <= base * 2
    assert backend.core.attempts == 3


def test_constructor_rules(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        AgentMemoryClient(tmp_path / "x.db", base_url="http://127.0.0.1:1")
    with pytest.raises(ConfigurationError):
        AgentMemoryClient(token="t-only")
    client = AgentMemoryClient(url="http://127.0.0.1:1")
    assert isinstance(client.backend, RemoteBackend)
    with pytest.raises(ConfigurationError, match="embedded backend"):
        _ = client.database
    client.close()


def test_environment_url_selects_the_remote(
    server: Live, monkeypatch: pytest.MonkeyPatch, uid: str
) -> None:
    monkeypatch.setenv("MEMORY_INTEGRATIONS_URL", server.url)
    monkeypatch.setenv("MEMORY_INTEGRATIONS_TOKEN", TOKEN)
    with AgentMemoryClient() as client:
        assert isinstance(client.backend, RemoteBackend)
        assert client.create_user(uid, "from env").name == "from env"


def test_async_client_on_the_remote(server: Live, uid: str) -> None:
    async def scenario() -> list[str]:
        async with AsyncAgentMemoryClient(base_url=server.url, token=TOKEN) as client:
            user = await client.create_user(uid, "Async Bot")
            session = await user.create_session("async-session-1")
            await session.add_memory(
                messages=[ChatMessage(user_content="Hello", assistant_content="Hi there")],
                async_processing=False,
            )
            found = await session.search_memory(query="greeting hello")
            await session.end()
            return [b.text for b in found.memory_blocks]

    assert asyncio.run(scenario()) == ["Hello\nHi there"]


def test_per_item_annotations_times_and_metadata(remote: AgentMemoryClient, uid: str) -> None:
    session = remote.create_user(uid, "U").create_session("s")
    added = session.add_memory(
        facts=["first", "second"],
        annotations=[{"n": "1"}, None],
        created_at=[datetime(2024, 1, 1, tzinfo=UTC), None],
        metadata=[None, {"m": 2}],
        async_processing=False,
    )
    one, two = (session.get_memory_block(b) for b in added.block_ids)
    assert (one.annotations, one.created_at, one.metadata) == (
        {"n": "1"},
        datetime(2024, 1, 1, tzinfo=UTC),
        None,
    )
    assert (two.annotations, two.metadata) == ({}, {"m": 2})
    assert two.created_at == two.ingested_at
    page = session.search_memory(None, {"descending": True, "limit": 1})
    assert [b.fact for b in page.memory_blocks] == ["second"]


def test_standard_routes_only_when_the_server_is_not_ours(server: Live, uid: str) -> None:
    """Against another Agent Memory server the extension calls fall back or say why."""
    from memory_integrations.errors import MethodNotAllowedError

    backend = RemoteBackend(server.url, token=TOKEN)
    backend._ours = False  # what a Couchbase server's /health leads to
    client = AgentMemoryClient(backend=backend)
    user = client.create_user(uid, "U")
    session = user.create_session("s")
    added = session.add_memory(facts=["kept in s"], async_processing=False)
    assert session.get_memory_block(added.block_ids[0]).fact == "kept in s"
    assert session.count_memories() == 1
    assert [b.fact for b in user.search_memory("kept").memory_blocks] == ["kept in s"]
    with pytest.raises(NotFoundError):
        session.get_memory_block("missing")
    with pytest.raises(MethodNotAllowedError, match="extension"):
        client.get_retention_config()
    assert server.count("GET", f"/users/{uid}/sessions/s/memory/{added.block_ids[0]}") == 0
    client.close()
