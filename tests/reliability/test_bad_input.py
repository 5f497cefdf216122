"""Malformed input across the client and the adapters: a typed error, and nothing written.

Every row is one malformed call. It must raise the documented exception type (most are
``BadRequestError`` subclasses, i.e. ``ValueError``s, with a message naming the problem), and
the store must be exactly as it was. Injection-shaped strings that are *valid* input are
checked separately: they are stored and matched literally, never interpreted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from memory_integrations import AgentMemoryClient, ChatMessage
from memory_integrations.errors import (
    AgentMemoryError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    ValidationError,
)

Call = Callable[[Any], Any]


def _user(c: AgentMemoryClient) -> Any:
    return c.get_user("u")


def _session(c: AgentMemoryClient) -> Any:
    return c.get_user("u").get_session("s")


def _block_id(c: AgentMemoryClient, kind: str) -> str:
    for block in _session(c).list_memories().memory_blocks:
        if block.kind == kind:
            return str(block.block_id)
    raise AssertionError(kind)


def _langchain_retriever(c: AgentMemoryClient) -> Any:
    from memory_integrations.langchain import AgentMemoryRetriever

    return AgentMemoryRetriever(c, user_id="u", k=0)


def _history_without_session(c: AgentMemoryClient) -> Any:
    from memory_integrations.langchain import AgentMemoryChatMessageHistory

    return AgentMemoryChatMessageHistory(c, user_id="u")


def _store_put(namespace: tuple[str, ...]) -> Call:
    def call(c: AgentMemoryClient) -> Any:
        from memory_integrations.langgraph import AgentMemoryStore

        store = AgentMemoryStore(c)
        try:
            store.put(namespace, "k", {"v": 1})
        finally:
            store.close()

    return call


def _saver_bad_ttl(c: AgentMemoryClient) -> Any:
    from memory_integrations.langgraph import AgentMemorySaver

    return AgentMemorySaver(c, ttl=-5)


def _llama_retriever_bad_k(c: AgentMemoryClient) -> Any:
    from memory_integrations.llama_index import AgentMemoryRetriever

    return AgentMemoryRetriever(c, user_id="u", k=0).retrieve("anything")


ROWS: list[tuple[str, Call, type[Exception]]] = [
    ("user id with a slash", lambda c: c.create_user("a/b", "x"), ValidationError),
    ("user id with ?", lambda c: c.create_user("a?b", "x"), ValidationError),
    ("user id with #", lambda c: c.create_user("a#b", "x"), ValidationError),
    ("user id with %", lambda c: c.create_user("a%2Fb", "x"), ValidationError),
    ("blank user id", lambda c: c.create_user("  ", "x"), ValidationError),
    ("user id ..", lambda c: c.create_user("..", "x"), ValidationError),
    ("user id of 300 chars", lambda c: c.create_user("x" * 300, "x"), ValidationError),
    ("user id not a string", lambda c: c.create_user(42, "x"), ValidationError),
    ("user id with a newline", lambda c: c.create_user("a\nb", "x"), ValidationError),
    ("blank user name", lambda c: c.create_user("v", " "), ValidationError),
    ("metadata not JSON", lambda c: c.create_user("v", "x", metadata={"s": {1}}), ValidationError),
    ("duplicate user", lambda c: c.create_user("u", "again"), ConflictError),
    ("unknown user", lambda c: c.get_user("nobody"), NotFoundError),
    (
        "session annotation key with -",
        lambda c: _user(c).create_session("s2", annotations={"a-b": "x"}),
        ValidationError,
    ),
    (
        "session annotation key with .",
        lambda c: _user(c).create_session("s2", annotations={"a.b": "x"}),
        ValidationError,
    ),
    (
        "negative session TTL",
        lambda c: _user(c).create_session("s2", memory_blocks_ttl=-5),
        ValidationError,
    ),
    ("duplicate session", lambda c: _user(c).create_session("s"), ConflictError),
    (
        "messages and facts together",
        lambda c: _session(c).add_memory(messages=[ChatMessage(user_content="a")], facts=["b"]),
        ValidationError,
    ),
    ("neither messages nor facts", lambda c: _session(c).add_memory(), ValidationError),
    ("facts as a bare string", lambda c: _session(c).add_memory(facts="oops"), ValidationError),
    ("fact not a string", lambda c: _session(c).add_memory(facts=[3.5]), ValidationError),
    ("blank fact", lambda c: _session(c).add_memory(facts=["   "]), ValidationError),
    (
        "non-UTF-8 text (lone surrogate)",
        lambda c: _session(c).add_memory(facts=["bad \udcff byte"]),
        ValidationError,
    ),
    ("NUL in text", lambda c: _session(c).add_memory(facts=["a\x00b"]), ValidationError),
    (
        "text over 1M characters",
        lambda c: _session(c).add_memory(facts=["x" * 1_000_001]),
        ValidationError,
    ),
    (
        "1001 items in one call",
        lambda c: _session(c).add_memory(facts=["x"] * 1001),
        ValidationError,
    ),
    (
        "empty message dict",
        lambda c: _session(c).add_memory(messages=[{"user_content": "", "assistant_content": ""}]),
        ValidationError,
    ),
    (
        "annotation value not a string",
        lambda c: _session(c).add_memory(facts=["x"], annotations={"n": 1}),
        ValidationError,
    ),
    (
        "fractional TTL",
        lambda c: _session(c).add_memory(facts=["x"], memory_block_ttl=1.5),
        ValidationError,
    ),
    (
        "TTL over 100 years",
        lambda c: _session(c).add_memory(facts=["x"], memory_block_ttl=10**10),
        ValidationError,
    ),
    (
        "created_at not ISO-8601",
        lambda c: _session(c).add_memory(facts=["x"], created_at="yesterday"),
        ValidationError,
    ),
    (
        "metadata list of the wrong length",
        lambda c: _session(c).add_memory(facts=["x", "y"], metadata=[{}]),
        ValidationError,
    ),
    ("list limit 0", lambda c: _session(c).list_memories(limit=0), ValidationError),
    ("list limit 201", lambda c: _session(c).list_memories(limit=201), ValidationError),
    ("negative offset", lambda c: _session(c).list_memories(offset=-1), ValidationError),
    ("unknown order_by", lambda c: _session(c).list_memories(order_by="rowid"), ValidationError),
    ("relevant_k 0", lambda c: _session(c).search_memory("x", {"relevant_k": 0}), ValidationError),
    (
        "threshold above 1",
        lambda c: _session(c).search_memory("x", {"threshold": 1.5}),
        ValidationError,
    ),
    (
        "unknown filter key",
        lambda c: _session(c).search_memory("x", {"where": "1=1"}),
        ValidationError,
    ),
    (
        "filter annotation key with SQL",
        lambda c: _session(c).search_memory("x", {"annotations": {"a') OR 1=1 --": "x"}}),
        ValidationError,
    ),
    ("blank query", lambda c: _session(c).search_memory("   "), ValidationError),
    (
        "filters not a dict",
        lambda c: _session(c).search_memory("x", ["session_ids"]),
        ValidationError,
    ),
    (
        "update with no field",
        lambda c: _session(c).update_memory(_block_id(c, "fact")),
        ValidationError,
    ),
    (
        "update a fact block with a message",
        lambda c: _session(c).update_memory(
            _block_id(c, "fact"), message=ChatMessage(user_content="x")
        ),
        ValidationError,
    ),
    (
        "update an unknown block",
        lambda c: _session(c).update_memory("nope", fact="x"),
        NotFoundError,
    ),
    ("delete with an empty id list", lambda c: _session(c).delete_memory([]), ValidationError),
    (
        "modify_ttl with block ids but no session",
        lambda c: _user(c).modify_ttl(60, block_ids=["b"]),
        ValidationError,
    ),
    ("modify_ttl negative", lambda c: _user(c).modify_ttl(-1), ValidationError),
    ("list_users limit 501", lambda c: c.list_users(limit=501), ValidationError),
    (
        "list_users metadata key with =",
        lambda c: c.list_users(metadata={"a=b": "c"}),
        ValidationError,
    ),
    (
        "retention days negative",
        lambda c: c.update_retention_config(message_days=-1),
        ValidationError,
    ),
    # adapters
    ("LangChain retriever k=0", _langchain_retriever, ValueError),
    ("LangChain history without a session", _history_without_session, ValueError),
    ("LangGraph store namespace with a dot", _store_put(("a.b", "c")), ValueError),
    ("LangGraph store empty namespace label", _store_put(("a", "")), ValueError),
    ("LangGraph store reserved root", _store_put(("langgraph", "x")), ValueError),
    ("LangGraph saver negative TTL", _saver_bad_ttl, ValueError),
    ("LlamaIndex retriever k=0", _llama_retriever_bad_k, ValueError),
]


def _snapshot(client: AgentMemoryClient) -> Any:
    engine: Any = client.backend
    return list(engine.export_records())


@pytest.fixture
def seeded(client: AgentMemoryClient) -> AgentMemoryClient:
    session = client.create_user("u", "U").create_session("s")
    session.add_memory(facts=["a fact"], async_processing=False)
    session.add_memory(
        messages=[ChatMessage(user_content="hi", assistant_content="hello")], async_processing=False
    )
    return client


def test_the_table_is_large_enough() -> None:
    assert len(ROWS) >= 40
    assert len({name for name, _, _ in ROWS}) == len(ROWS)


@pytest.mark.parametrize(("name", "call", "error"), ROWS, ids=[row[0] for row in ROWS])
def test_malformed_input_raises_a_typed_error_and_writes_nothing(
    seeded: AgentMemoryClient, name: str, call: Call, error: type[Exception]
) -> None:
    before = _snapshot(seeded)
    with pytest.raises(error) as info:
        call(seeded)
    if isinstance(info.value, AgentMemoryError):
        assert info.value.message and info.value.status_code in (400, 404, 409)
        assert isinstance(info.value, (BadRequestError, ConflictError, NotFoundError))
    assert _snapshot(seeded) == before, f"{name} changed the store"


INJECTIONS = [
    "'; DROP TABLE mi_blocks; --",
    '" OR 1=1 --',
    "a%' OR '1'='1",
    'NEAR(a b) OR * AND "x',
    "$filter=agentID eq 'x' or 1 eq 1",
    '{"$gt": ""}',
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_strings_are_plain_text(seeded: AgentMemoryClient, text: str) -> None:
    session = _session(seeded)
    other = seeded.create_user("other", "O").create_session("s")
    other.add_memory(facts=["secret of another user"], async_processing=False)
    block_id = session.add_memory(
        facts=[text], metadata={"q": text}, annotations={"q": text}, async_processing=False
    ).block_ids[0]
    assert session.get_memory_block(block_id).fact == text
    checks: list[dict[str, Any]] = [{"content_contains": text}, {"annotations": {"q": text}}]
    if '"' not in text:  # metadata is matched in its JSON text, where quotes are escaped
        checks.append({"metadata_contains": text})
    for filters in checks:
        found = session.search_memory(filters={**filters, "session_ids": "all"})
        assert [b.block_id for b in found.memory_blocks] == [block_id]
    ranked = session.search_memory(text, {"session_ids": "all"})
    assert {b.user_id for b in ranked.memory_blocks} == {"u"}
    assert other.list_memories().total == 1
