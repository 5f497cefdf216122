"""Every rule of the engine: validation, scopes, filters, lists, updates, deletes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from memory_integrations import (
    AgentMemoryClient,
    ChatMessage,
    FilterOptions,
    MemoryBlockStatus,
    MessageRole,
)
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import (
    BadRequestError,
    ConflictError,
    EmbedderMismatchError,
    LogicalError,
    NotFoundError,
    ValidationError,
)


@pytest.fixture
def session(client: AgentMemoryClient) -> Any:
    return client.create_user("u1", "User One").create_session("s1")


def total_blocks(client: AgentMemoryClient) -> int:
    return sum(
        client.get_user(u.id).list_memories(limit=200).total for u in client.list_users().users
    )


# --- validation: typed errors, nothing written -------------------------------------------

BAD_IDS = ["", "   ", "a/b", "a?b", "a#b", "a%b", ".", "..", "x" * 300, "tab\there", 7]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_user_ids_are_rejected(client: AgentMemoryClient, bad: Any) -> None:
    with pytest.raises(ValidationError) as info:
        client.create_user(bad, "name")
    assert info.value.category == "bad_request"
    assert client.list_users().total == 0


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_session_ids_are_rejected(client: AgentMemoryClient, bad: Any) -> None:
    user = client.create_user("u1", "U")
    with pytest.raises(ValidationError):
        user.create_session(bad)
    assert user.list_sessions().total == 0


def test_dots_and_at_signs_are_fine_in_ids(client: AgentMemoryClient) -> None:
    user = client.create_user("user.name@corp", "U")
    assert user.create_session("conv.1").session_id == "conv.1"


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"facts": ["a"], "messages": [ChatMessage(user_content="b")]}, "separate"),
        ({}, "non-empty"),
        ({"facts": []}, "non-empty"),
        ({"facts": "just a string"}, "list of strings"),
        ({"facts": ["  "]}, "blank"),
        ({"facts": [12]}, "string"),
        ({"facts": ["ok"], "annotations": {"bad-key": "x"}}, "annotation key"),
        ({"facts": ["ok"], "annotations": {"has.dot": "x"}}, "annotation key"),
        ({"facts": ["ok"], "annotations": {"has space": "x"}}, "annotation key"),
        ({"facts": ["ok"], "annotations": {"1st": "x"}}, "annotation key"),
        ({"facts": ["ok"], "annotations": {"n": 5}}, "values are strings"),
        ({"facts": ["ok"], "memory_block_ttl": -1}, "memory_block_ttl"),
        ({"facts": ["ok"], "memory_block_ttl": 1.5}, "memory_block_ttl"),
        ({"facts": ["ok"], "created_at": "yesterday"}, "ISO-8601"),
        ({"facts": ["ok"], "metadata": {"x": object()}}, "JSON"),
        ({"facts": ["ok"], "metadata": ["not a dict"]}, "JSON object"),
        ({"facts": ["ok"], "metadata": 42}, "one value or a list"),
        ({"facts": ["bad \udc80 surrogate"]}, "UTF-8"),
        ({"facts": ["nul \x00 byte"]}, "NUL"),
        ({"facts": ["x" * 1_000_001]}, "maximum"),
        ({"messages": [{"user_content": "", "assistant_content": " "}]}, "non-empty"),
        ({"messages": ChatMessage(user_content="not in a list")}, "list"),
        ({"facts": ["ok"], "async_processing": "yes"}, "True or False"),
        ({"facts": ["ok"] * 1001}, "maximum"),
    ],
)
def test_add_memory_rejects_bad_input_and_writes_nothing(
    client: AgentMemoryClient, session: Any, kwargs: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ValidationError, match=fragment):
        session.add_memory(**kwargs)
    assert total_blocks(client) == 0


@pytest.mark.parametrize("limit", [0, 201, -1, "10", True])
def test_list_limit_bounds(session: Any, limit: Any) -> None:
    with pytest.raises(ValidationError, match="limit"):
        session.list_memories(limit=limit)


def test_list_offset_and_order_by_are_checked(session: Any) -> None:
    with pytest.raises(ValidationError, match="offset"):
        session.list_memories(offset=-1)
    with pytest.raises(ValidationError, match="order_by"):
        session.list_memories(order_by="updated_at")


def test_update_needs_a_field_and_keeps_content_kind(session: Any) -> None:
    fact_id = session.add_memory(facts=["a fact"], async_processing=False).block_ids[0]
    message_id = session.add_memory(
        messages=[ChatMessage(user_content="hi", assistant_content="hello")],
        async_processing=False,
    ).block_ids[0]
    with pytest.raises(ValidationError, match="at least one"):
        session.update_memory(block_id=fact_id)
    with pytest.raises(ValidationError, match="fixed"):
        session.update_memory(block_id=fact_id, message=ChatMessage(user_content="x"))
    with pytest.raises(ValidationError, match="fixed"):
        session.update_memory(block_id=message_id, fact="x")
    with pytest.raises(NotFoundError):
        session.update_memory(block_id="no-such-block", fact="x")
    assert session.get_memory_block(fact_id).fact == "a fact"


def test_error_categories(client: AgentMemoryClient) -> None:
    client.create_user("u1", "U")
    with pytest.raises(ConflictError) as conflict:
        client.create_user("u1", "U")
    assert isinstance(conflict.value, LogicalError) and conflict.value.status_code == 409
    with pytest.raises(NotFoundError) as missing:
        client.get_user("nobody")
    assert missing.value.category == "logical" and missing.value.status_code == 404
    with pytest.raises(BadRequestError):
        client.list_users(limit=501)


# --- adds, reads, updates ---------------------------------------------------------------


def test_each_item_is_its_own_block(session: Any) -> None:
    response = session.add_memory(facts=["one", "two", "three"], async_processing=False)
    assert response.accepted_count == 3 and len(set(response.block_ids)) == 3
    assert [b.fact for b in session.list_memories().memory_blocks] == ["one", "two", "three"]


def test_async_blocks_are_listable_at_once_and_searchable_when_ready(
    client: AgentMemoryClient, session: Any
) -> None:
    engine: Any = client.backend
    engine._worker.stop(drain=False)
    engine._worker = None  # nothing will embed: the block stays processing
    block_id = session.add_memory(facts=["the shipping is delayed"]).block_ids[0]
    listed = session.list_memories().memory_blocks
    assert [b.status for b in listed] == [MemoryBlockStatus.PROCESSING]
    assert session.search_memory(query="shipping delayed").count == 0
    assert session.get_memory_block(block_id).status is MemoryBlockStatus.PROCESSING


def test_role_tagged_messages_round_trip(session: Any) -> None:
    session.add_memory(
        messages=[
            ChatMessage(role="system", content="You are terse."),
            ChatMessage(role=MessageRole.USER, content="  spaces kept  ", name="ann"),
            ChatMessage(role="tool", content=""),
        ],
        async_processing=False,
    )
    blocks = session.list_memories().memory_blocks
    assert [b.message.role for b in blocks] == [
        MessageRole.SYSTEM,
        MessageRole.USER,
        MessageRole.TOOL,
    ]
    assert blocks[1].message.content == "  spaces kept  " and blocks[1].message.name == "ann"
    assert blocks[2].message.content == ""
    only_users = session.search_memory(filters={"role": "user"})
    assert [b.message.name for b in only_users.memory_blocks] == ["ann"]


def test_update_reembeds_and_changes_annotations(session: Any) -> None:
    block_id = session.add_memory(
        facts=["likes tea"], annotations={"topic": "food"}, async_processing=False
    ).block_ids[0]
    session.update_memory(block_id=block_id, fact="likes espresso coffee", async_processing=False)
    found = session.search_memory(query="espresso coffee").memory_blocks
    assert found[0].block_id == block_id and found[0].similarity > 0.5
    assert found[0].annotations == {"topic": "food"}  # omitted annotations are kept
    session.update_memory(block_id=block_id, annotations={"topic": "drinks"})
    assert session.get_memory_block(block_id).annotations == {"topic": "drinks"}


def test_async_update_goes_back_to_processing_then_ready(
    client: AgentMemoryClient, session: Any
) -> None:
    block_id = session.add_memory(facts=["old text"], async_processing=False).block_ids[0]
    response = session.update_memory(block_id=block_id, fact="brand new text")
    assert response.block.status in (MemoryBlockStatus.PROCESSING, MemoryBlockStatus.READY)
    assert client.wait_until_processed(10)
    assert session.search_memory(query="brand new text").memory_blocks[0].block_id == block_id


def test_list_orders_and_pages(session: Any) -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    session.add_memory(facts=["no date"], async_processing=False)
    session.add_memory(facts=["later"], created_at=base + timedelta(days=2), async_processing=False)
    session.add_memory(facts=["earlier"], created_at=base, async_processing=False)
    by_ingest = [b.fact for b in session.list_memories().memory_blocks]
    assert by_ingest == ["no date", "later", "earlier"]
    by_created = [b.fact for b in session.list_memories(order_by="created_at").memory_blocks]
    assert by_created == ["earlier", "later", "no date"]
    page = session.list_memories(limit=2, offset=1)
    assert (page.count, page.total, page.has_more) == (2, 3, False)
    assert [b.fact for b in page.memory_blocks] == ["later", "earlier"]


# --- search ---------------------------------------------------------------------------


def test_search_scopes(client: AgentMemoryClient) -> None:
    user = client.create_user("u1", "U")
    s1, s2, s3 = (user.create_session(f"s{i}") for i in (1, 2, 3))
    for s in (s1, s2, s3):
        s.add_memory(facts=[f"pizza fact in {s.session_id}"], async_processing=False)
    assert {b.session_id for b in s1.search_memory(query="pizza").memory_blocks} == {"s1"}
    listed = s1.search_memory(query="pizza", filters={"session_ids": ["s2", "s3"]})
    assert {b.session_id for b in listed.memory_blocks} == {"s2", "s3"}
    every = s1.search_memory(query="pizza", filters=FilterOptions(session_ids="all"))
    assert {b.session_id for b in every.memory_blocks} == {"s1", "s2", "s3"}
    assert user.search_memory(query="pizza").count == 3


def test_relevant_k_and_filter_only_has_no_cap(session: Any) -> None:
    session.add_memory(facts=[f"note number {i}" for i in range(15)], async_processing=False)
    assert session.search_memory(query="note number").count == 10
    assert session.search_memory(query="note", filters={"relevant_k": 3}).count == 3
    assert session.search_memory().count == 15
    with pytest.raises(ValidationError, match="relevant_k"):
        session.search_memory(query="note", filters={"relevant_k": 0})


def test_threshold_is_a_cosine_bound(session: Any) -> None:
    session.add_memory(
        facts=["red apples are sweet", "quantum chromodynamics lecture"], async_processing=False
    )
    everything = session.search_memory(query="red apples", filters={"relevant_k": 10})
    assert everything.count == 2
    strict = session.search_memory(query="red apples", filters={"threshold": 0.3})
    assert [b.fact for b in strict.memory_blocks] == ["red apples are sweet"]
    assert all(b.similarity >= 0.3 for b in strict.memory_blocks)
    with pytest.raises(ValidationError, match="threshold"):
        session.search_memory(query="x", filters={"threshold": 2})


def test_annotation_metadata_time_block_and_agent_filters(session: Any) -> None:
    t0 = datetime(2024, 5, 1, tzinfo=UTC)
    a = session.add_memory(
        facts=["alpha memory"],
        annotations={"topic": "a"},
        metadata={"source": "crm", "n": 1},
        agent_id="planner",
        created_at=t0,
        async_processing=False,
    ).block_ids[0]
    b = session.add_memory(
        facts=["beta memory"],
        annotations={"topic": "b"},
        metadata={"source": "email"},
        agent_id="writer",
        created_at=t0 + timedelta(days=10),
        async_processing=False,
    ).block_ids[0]

    def ids(filters: dict[str, Any], query: str | None = "memory") -> set[str]:
        return {blk.block_id for blk in session.search_memory(query, filters).memory_blocks}

    for query in ("memory", None):
        assert ids({"annotations": {"topic": "a"}}, query) == {a}
        assert ids({"annotations": {"topic": "A"}}, query) == set()  # exact, case-sensitive
        assert ids({"metadata_contains": "crm"}, query) == {a}
        assert ids({"content_contains": "beta"}, query) == {b}
        assert ids({"agent_id": "writer"}, query) == {b}
        assert ids({"block_ids": [b]}, query) == {b}
        assert ids({"created_start_time": t0 + timedelta(days=1)}, query) == {b}
        assert ids({"created_end_time": (t0 + timedelta(days=1)).isoformat()}, query) == {a}
        assert ids({"kind": "fact"}, query) == {a, b}
    # pre (default) filters before top-k; post filters the top-k afterwards
    pre = session.search_memory("alpha memory", {"annotations": {"topic": "b"}, "relevant_k": 1})
    assert [blk.block_id for blk in pre.memory_blocks] == [b]
    post = session.search_memory(
        "alpha memory",
        {"annotations": {"topic": "b"}, "annotation_filter_mode": "post", "relevant_k": 1},
    )
    assert post.memory_blocks == []
    with pytest.raises(ValidationError):
        session.search_memory("memory", {"annotations": {"bad-key": "x"}})
    with pytest.raises(ValidationError):
        session.search_memory("memory", {"no_such_filter": 1})


def test_count_memories(session: Any) -> None:
    session.add_memory(facts=["a", "b"], annotations={"k": "v"}, async_processing=False)
    session.add_memory(facts=["c"], async_processing=False)
    assert session.count_memories() == 3
    assert session.count_memories({"annotations": {"k": "v"}}) == 2


# --- deletes, cascades, isolation -------------------------------------------------------


def test_delete_by_id_is_idempotent_and_all_clears_the_session(session: Any) -> None:
    ids = session.add_memory(facts=["a", "b", "c"], async_processing=False).block_ids
    assert session.delete_memory(block_ids=[ids[0]]).deleted_count == 1
    assert session.delete_memory(block_ids=[ids[0]]).deleted_count == 1  # retry is safe
    assert session.delete_memory(ids[1]).deleted_count == 1
    assert session.delete_memory("all").deleted_count == 1
    assert session.list_memories().total == 0
    assert session.search_memory(query="a").count == 0


def test_session_and_user_deletes_cascade(client: AgentMemoryClient) -> None:
    user = client.create_user("u1", "U")
    s1, s2 = user.create_session("s1"), user.create_session("s2")
    s1.add_memory(facts=["one"], async_processing=False)
    s2.add_memory(facts=["two"], async_processing=False)
    s1.delete()
    assert user.list_memories().total == 1
    with pytest.raises(NotFoundError):
        user.get_session("s1")
    client.delete_user("u1")
    with pytest.raises(NotFoundError):
        client.get_user("u1")
    database: Any = client.database
    with database.read() as cur:
        assert cur.execute("SELECT count(*) FROM mi_blocks").fetchone()[0] == 0
        assert cur.execute("SELECT count(*) FROM mi_sessions").fetchone()[0] == 0


def test_no_call_reaches_another_users_data(client: AgentMemoryClient) -> None:
    alice = client.create_user("alice", "A").create_session("shared-name")
    bob = client.create_user("bob", "B").create_session("shared-name")
    a_id = alice.add_memory(facts=["alice secret pizza"], async_processing=False).block_ids[0]
    bob.add_memory(facts=["bob likes pizza"], async_processing=False)
    bob_user = client.get_user("bob")
    assert [
        b.user_id
        for b in bob.search_memory(query="pizza", filters={"session_ids": "all"}).memory_blocks
    ] == ["bob"]
    assert bob.search_memory(filters={"block_ids": [a_id]}).count == 0
    with pytest.raises(NotFoundError):
        bob.update_memory(block_id=a_id, fact="hacked")
    with pytest.raises(NotFoundError):
        bob.get_memory_block(a_id)
    bob.delete_memory(block_ids=[a_id])
    bob_user.modify_ttl(new_ttl=1)
    bob.delete_memory("all")
    survivor = alice.get_memory_block(a_id)
    assert survivor.fact == "alice secret pizza" and survivor.expires_at is None


def test_ended_session_rejects_new_blocks(session: Any) -> None:
    session.end()
    assert session.end_time is not None
    with pytest.raises(ConflictError, match="ended"):
        session.add_memory(facts=["late"])


def test_users_and_sessions_listing_and_updates(client: AgentMemoryClient) -> None:
    client.create_user("u1", "Alice", metadata={"tier": "gold"})
    client.create_user("u2", "Bob", metadata={"tier": "free"})
    assert [u.id for u in client.list_users(metadata={"tier": "gold"}).users] == ["u1"]
    assert [u.id for u in client.list_users(name="Bob").users] == ["u2"]
    page = client.list_users(limit=1, offset=1)
    assert (page.count, page.total) == (1, 2)
    user = client.get_user("u1").update(name="Alice B.")
    assert client.get_user("u1").name == "Alice B."
    s = user.create_session("s", annotations={"topic": "x"}, memory_blocks_ttl=60)
    assert s.blocks_ttl == 60
    s.update(metadata={"channel": "web"})
    assert user.get_session("s").metadata == {"channel": "web"}
    assert client.get_user("u1").sessions == ["s"]
    with pytest.raises(ValidationError):
        s.update()


def test_embedder_mismatch_is_refused_with_the_fix(db_path: Any) -> None:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder(384)) as client:
        s = client.create_user("u", "U").create_session("s")
        s.add_memory(facts=["x"], async_processing=False)
    with pytest.raises(EmbedderMismatchError, match="reindex"):
        AgentMemoryClient(db_path, embedder=HashingEmbedder(128))


def test_per_item_metadata(session: Any) -> None:
    ids = session.add_memory(
        facts=["a", "b"], metadata=[{"n": 1}, None], async_processing=False
    ).block_ids
    assert session.get_memory_block(ids[0]).metadata == {"n": 1}
    assert session.get_memory_block(ids[1]).metadata is None
    with pytest.raises(ValidationError, match="one entry"):
        session.add_memory(facts=["a", "b"], metadata=[{"n": 1}])
    assert session.list_memories().total == 2


def test_blank_blocks_never_match_a_query(session: Any) -> None:
    session.add_memory(messages=[ChatMessage(role="assistant", content="")], async_processing=False)
    session.add_memory(facts=["tea time"], async_processing=False)
    found = session.search_memory(query="anything at all", filters={"relevant_k": 5})
    assert [b.fact for b in found.memory_blocks] == ["tea time"]
    assert session.search_memory().count == 2  # filter-only lookups still list it


def test_filter_only_search_pages_newest_first(session: Any) -> None:
    session.add_memory(facts=[f"note {i}" for i in range(7)], async_processing=False)
    page = session.search_memory(filters={"descending": True, "limit": 3, "offset": 1})
    assert [b.fact for b in page.memory_blocks] == ["note 5", "note 4", "note 3"]
    with pytest.raises(ValidationError, match="limit"):
        session.search_memory(filters={"limit": 0})


def test_per_item_annotations_and_created_at(session: Any) -> None:
    ids = session.add_memory(
        facts=["a", "b"],
        annotations=[{"n": "1"}, None],
        created_at=["2024-01-01T00:00:00Z", None],
        async_processing=False,
    ).block_ids
    first, second = (session.get_memory_block(i) for i in ids)
    assert first.annotations == {"n": "1"} and second.annotations == {}
    assert first.created_at.year == 2024 and second.created_at == second.ingested_at
    with pytest.raises(ValidationError, match="annotations has 1 entries"):
        session.add_memory(facts=["a", "b"], annotations=[{"n": "1"}])
    with pytest.raises(ValidationError, match=r"created_at\[1\]"):
        session.add_memory(facts=["a", "b"], created_at=[None, "yesterday"])
    assert session.list_memories().total == 2
