"""Export / import round trips and erase."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from memory_integrations import AgentMemoryClient, ChatMessage, MessageRole
from memory_integrations.cli import main
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import ConflictError, NotFoundError, ValidationError


def _fill(client: AgentMemoryClient) -> None:
    for uid in ("alice", "bob"):
        user = client.create_user(uid, uid.title(), metadata={"tier": "gold"})
        s1 = user.create_session("s1", annotations={"topic": "x"}, memory_blocks_ttl=3600)
        s1.add_memory(
            facts=[f"{uid} likes tea", "ünïcödé ✓"],
            annotations={"k": "v"},
            metadata={"n": 1},
            agent_id="a1",
            async_processing=False,
        )
        s1.add_memory(
            messages=[ChatMessage(user_content="hi", assistant_content="hello")],
            created_at="2024-01-02T03:04:05.123456Z",
            async_processing=False,
        )
        s2 = user.create_session("s2")
        s2.add_memory(
            messages=[ChatMessage(role=MessageRole.TOOL, content=" raw ", name="t")],
            memory_block_ttl=0,
            async_processing=False,
        )
        s2.end()


def _export(client: AgentMemoryClient, user_id: str | None = None) -> list[dict[str, Any]]:
    engine: Any = client.backend
    return list(engine.export_records(user_id))


def test_export_import_round_trips_exactly(db_path: Any, tmp_path: Path) -> None:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        _fill(client)
        records = _export(client)
    assert [r["type"] for r in records].count("block") == 8
    target = tmp_path / "target.sqlite3"
    with AgentMemoryClient(target, embedder=HashingEmbedder()) as other:
        engine: Any = other.backend
        counts = engine.import_records(json.loads(json.dumps(r)) for r in records)
        assert counts == {"users": 2, "sessions": 4, "blocks": 8, "requeued": 0}
        assert _export(other) == records
        found = other.get_user("alice").search_memory("tea").memory_blocks
        assert found[0].fact == "alice likes tea"
        with pytest.raises(ConflictError):
            engine.import_records(records)


def test_one_user_export_and_reembedding_import(db_path: Any, tmp_path: Path) -> None:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        _fill(client)
        records = _export(client, "bob")
    assert {r["user_id"] for r in records if "user_id" in r} == {"bob"}
    with AgentMemoryClient(tmp_path / "t.sqlite3", embedder=HashingEmbedder(64)) as other:
        counts = other.backend.import_records(records)  # type: ignore[attr-defined]
        assert counts["requeued"] == 4
        assert other.wait_until_processed(30)
        assert other.get_user("bob").search_memory("tea").memory_blocks[0].fact == "bob likes tea"


def test_cli_export_import_and_erase(tmp_path: Path) -> None:
    source, target, dump = tmp_path / "a.sqlite3", tmp_path / "b.sqlite3", tmp_path / "d.jsonl"
    with AgentMemoryClient(source, embedder=HashingEmbedder()) as client:
        _fill(client)
    runner = CliRunner()
    result = runner.invoke(
        main, ["export", "--path", str(source), "-o", str(dump), "--embedder", "hashing"]
    )
    assert result.exit_code == 0, result.output
    assert len(dump.read_text().splitlines()) == 1 + 2 + 4 + 8
    result = runner.invoke(
        main, ["import", "--path", str(target), "-i", str(dump), "--embedder", "hashing"]
    )
    assert result.exit_code == 0, result.output
    assert "imported 2 users, 4 sessions, 8 blocks" in result.output
    result = runner.invoke(
        main, ["erase", "--path", str(target), "--user", "alice", "--yes", "--embedder", "hashing"]
    )
    assert result.exit_code == 0, result.output
    with AgentMemoryClient(target, embedder=HashingEmbedder()) as client:
        with pytest.raises(NotFoundError):
            client.get_user("alice")
        assert client.get_user("bob").list_memories().total == 4
        database: Any = client.database
        with database.read() as cur:
            assert (
                cur.execute("SELECT count(*) FROM mi_blocks WHERE user_id = 'alice'").fetchone()[0]
                == 0
            )


def _echo_graph(saver: Any, store: Any) -> Any:
    from langgraph.graph import START, MessagesState, StateGraph

    builder = StateGraph(MessagesState)
    builder.add_node("echo", lambda state: {"messages": [("ai", "ok")]})
    builder.add_edge(START, "echo")
    return builder.compile(checkpointer=saver, store=store)


def test_erase_removes_what_belongs_to_the_user_and_keeps_the_rest(db_path: Any) -> None:
    from memory_integrations.langgraph import AgentMemorySaver, AgentMemoryStore
    from memory_integrations.lifecycle import erase_user

    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        _fill(client)
        saver, store = AgentMemorySaver(client), AgentMemoryStore(client, owner_label=1)
        graph = _echo_graph(saver, store)
        client.get_user("alice").create_session("alice-trip")
        # thread ids = session ids; "s1"/"s2" are session ids of bob too
        for thread, user in (("alice-trip", "alice"), ("s1", "bob"), ("s2", None)):
            configurable = {"thread_id": thread} | ({"user_id": user} if user else {})
            graph.invoke({"messages": [("user", "hi")]}, {"configurable": configurable})
        store.put(("users", "alice", "prefs"), "seat", {"value": "window"})
        store.put(("users", "bob", "prefs"), "seat", {"value": "aisle"})
        store.put(("alice", "notes"), "n", {"value": "whose?"})  # owner: label 1 = "notes"

        report = erase_user(client, "alice")

        assert report.removed == {
            "sessions": 3,
            "blocks": 4,
            "checkpoint_threads": 1,
            "store_items": 1,
        }
        assert report.kept == {"threads": ["s1", "s2"], "store_namespaces": [("alice", "notes")]}
        assert "kept 2 threads" in report.summary()
        assert saver.get_tuple({"configurable": {"thread_id": "alice-trip"}}) is None
        assert saver.get_tuple({"configurable": {"thread_id": "s1"}}) is not None  # bob's
        assert saver.get_tuple({"configurable": {"thread_id": "s2"}}) is not None  # nobody's
        assert store.get(("users", "alice", "prefs"), "seat") is None
        assert store.get(("users", "bob", "prefs"), "seat") is not None
        assert client.get_user("bob").list_memories().total == 4
        assert not any("alice" in str(r) for r in client.backend.export_records())  # type: ignore[attr-defined]
        # what was kept can be named explicitly
        again = erase_user(client, "alice", threads=["s2"], store_namespaces=[("alice",)])
        assert again.removed["checkpoint_threads"] == 1 and again.removed["store_items"] == 1
        assert saver.get_tuple({"configurable": {"thread_id": "s2"}}) is None
        with pytest.raises(NotFoundError, match="nothing is stored"):
            erase_user(client, "alice")
        store.close()
        saver.close()


def test_erasing_a_user_named_like_a_namespace_label_spares_other_users(db_path: Any) -> None:
    """Regression: erasing user "memories" deleted Bob's item under ("memories", "bob")."""
    from memory_integrations.langgraph import AgentMemoryStore
    from memory_integrations.lifecycle import erase_user

    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        client.create_user("memories", "A user with an unlucky id")
        for store in (AgentMemoryStore(client), AgentMemoryStore(client, owner_label=1)):
            store.put(("memories", "bob"), "k", {"text": "Bob's memory"})
            report = erase_user(client, "memories") if store.owner_label is None else None
            assert store.get(("memories", "bob"), "k") is not None
            if report is not None:
                assert report.removed["store_items"] == 0
                assert report.kept["store_namespaces"] == [("memories", "bob")]
            store.close()


def test_a_user_known_only_to_the_store_or_the_saver_is_erasable(db_path: Any) -> None:
    """Regression: erase of a user with no engine record raised NotFoundError."""
    from memory_integrations.langgraph import AgentMemorySaver, AgentMemoryStore
    from memory_integrations.lifecycle import erase_user

    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        saver, store = AgentMemorySaver(client), AgentMemoryStore(client)
        graph = _echo_graph(saver, store)

        def remember(state: Any) -> dict[str, Any]:
            from langgraph.config import get_store

            get_store().put(("facts",), "diet", {"text": "vegetarian"})
            return {}

        graph.invoke(
            {"messages": [("user", "hi")]},
            {"configurable": {"thread_id": "t-only", "user_id": "ghost"}},
        )
        from langgraph.graph import START, MessagesState, StateGraph

        builder = StateGraph(MessagesState)
        builder.add_node("remember", remember)
        builder.add_edge(START, "remember")
        builder.compile(store=store).invoke(
            {"messages": []}, {"configurable": {"user_id": "ghost"}}
        )
        store.put(("facts",), "public", {"text": "written outside any run"})

        report = erase_user(client, "ghost")

        assert report.removed == {
            "sessions": 0,
            "blocks": 0,
            "checkpoint_threads": 1,
            "store_items": 1,
        }
        assert saver.get_tuple({"configurable": {"thread_id": "t-only"}}) is None
        assert store.get(("facts",), "diet") is None
        assert store.get(("facts",), "public") is not None
        store.close()
        saver.close()


def _snapshot(client: AgentMemoryClient) -> list[dict[str, Any]]:
    return list(client.backend.export_records())  # type: ignore[attr-defined]


def _broken(records: list[dict[str, Any]], position: int, **change: Any) -> list[dict[str, Any]]:
    out = [dict(r) for r in records]
    out[position].update(change)
    return out


def test_a_failing_import_writes_nothing_at_all(db_path: Any, tmp_path: Path) -> None:
    """Regression: an import that failed half-way left the first users and blocks written."""
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        _fill(client)
        records = _export(client)
    last_block = max(i for i, r in enumerate(records) if r["type"] == "block")
    cases: list[tuple[list[Any], str]] = [
        (_broken(records, last_block, status="gone"), "status"),
        (_broken(records, last_block, created_at=2**70), "created_at"),
        (_broken(records, last_block, embedding="not base64!"), "base64"),
        (_broken(records, last_block, block_id="a/b"), "block_id"),
        (_broken(records, last_block, annotations='{"bad key": "v"}'), "annotation key"),
        (_broken(records, last_block, metadata="{not json"), "JSON"),
        (_broken(records, last_block, text="\ud800"), "UTF-8"),
        ([*records[:-1], {k: v for k, v in records[-1].items() if k != "text"}], "missing text"),
        ([*records[:-1], "not an object"], "JSON object"),
        (records[1:], "header"),
        ([*records, {"type": "mystery"}], "unknown record type"),
        # a block record whose user the file does not define
        (records[:1] + [r for r in records if r["type"] == "block"], "does not define"),
    ]
    target = tmp_path / "target.sqlite3"
    with AgentMemoryClient(target, embedder=HashingEmbedder()) as other:
        other.create_user("carol", "Carol").create_session("s").add_memory(
            facts=["carol's own fact"], async_processing=False
        )
        before = _snapshot(other)
        engine: Any = other.backend
        for bad, fragment in cases:
            with pytest.raises(ValidationError, match=fragment):
                engine.import_records(bad)
            assert _snapshot(other) == before, fragment
        # a user that exists in the target: refused, not merged into it
        carol = [r for r in before if r.get("user_id") == "carol" or r["type"] == "header"]
        with pytest.raises(ConflictError):
            engine.import_records(records + carol[1:])
        assert _snapshot(other) == before


def test_import_never_writes_into_a_user_the_file_does_not_define(tmp_path: Path) -> None:
    with AgentMemoryClient(tmp_path / "a.sqlite3", embedder=HashingEmbedder()) as client:
        _fill(client)
        records = _export(client, "bob")
    # the file defines bob, but a block claims to belong to existing user "carol"
    forged = [dict(r) for r in records]
    forged[-1].update(user_id="carol", session_id="s")
    with AgentMemoryClient(tmp_path / "b.sqlite3", embedder=HashingEmbedder()) as other:
        other.create_user("carol", "Carol").create_session("s")
        with pytest.raises(ValidationError, match="does not define"):
            other.backend.import_records(forged)  # type: ignore[attr-defined]
        assert other.get_user("carol").list_memories().total == 0
        with pytest.raises(NotFoundError):
            other.get_user("bob")
