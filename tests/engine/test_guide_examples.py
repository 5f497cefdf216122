"""Every code example of the Couchbase Agent Memory guide, run as written.

Each runs three ways: against the embedded engine on SQLite, on PostgreSQL, and against our
HTTP server through ``AgentMemoryClient(base_url=...)``, the guide's own constructor. Only the
import line (``agentmemory`` → ``memory_integrations``) and the server address differ from
the guide: ``http://localhost:8080`` becomes our test server's port, or the constructor is
pointed at the embedded store. Block ids the guide invents (``block_abc``) are replaced with
ids the earlier steps returned.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import memory_integrations
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import ConflictError, ValidationError

from ..conftest import store_location

SERVER = 'AgentMemoryClient(base_url="http://localhost:8080")'
ASYNC_SERVER = 'AsyncAgentMemoryClient(base_url="http://localhost:8080")'
IMPORT = "from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient, ChatMessage\n"


class Target:
    """Where the examples run: an embedded store, or our server over HTTP."""

    def __init__(self, kind: str, location: Any) -> None:
        self.kind, self.location = kind, location

    @property
    def remote(self) -> bool:
        return self.kind == "server"

    def client(self) -> memory_integrations.AgentMemoryClient:
        if self.remote:
            return memory_integrations.AgentMemoryClient(base_url=self.location)
        return memory_integrations.AgentMemoryClient(self.location, embedder=HashingEmbedder())

    def rewrite(self, code: str) -> str:
        if self.remote:
            return code.replace("http://localhost:8080", self.location)
        code = code.replace(SERVER, "AgentMemoryClient(path=DB_PATH, embedder=EMBEDDER)")
        return code.replace(ASYNC_SERVER, "AsyncAgentMemoryClient(path=DB_PATH, embedder=EMBEDDER)")


@pytest.fixture(params=["sqlite", "postgres", "server"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param != "server":
        with store_location(request.param, tmp_path, request) as location:
            yield Target(request.param, location)
        return
    pytest.importorskip("fastapi")
    from memory_integrations.server import ServerConfig, ServerThread, create_app

    app = create_app(ServerConfig(data_dir=tmp_path / "server", embedder=HashingEmbedder()))
    thread = ServerThread(app).start()
    try:
        yield Target("server", thread.url)
    finally:
        thread.stop()


def run_example(code: str, target: Target, **namespace: Any) -> dict[str, Any]:
    code = textwrap.dedent(code)
    code = code.replace("from agentmemory import", "from memory_integrations import")
    code = target.rewrite(code)
    scope: dict[str, Any] = {"DB_PATH": target.location, "EMBEDDER": HashingEmbedder(), **namespace}
    exec(compile(IMPORT + code, "<guide example>", "exec"), scope)
    return scope


def test_initialize_the_client(target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    run_example(
        """
        from agentmemory import AgentMemoryClient
        with AgentMemoryClient(base_url="http://localhost:8080") as client:
            health = client.health_ping()
            print(f"Server status: {health.overall_status.value}")
        """,
        target,
    )
    assert capsys.readouterr().out.strip() == "Server status: healthy"


STORE = """
from agentmemory import AgentMemoryClient, ChatMessage
with AgentMemoryClient(base_url="http://localhost:8080") as client:
    user = client.create_user(user_id="agent-1", name="Support Bot")
    session = user.create_session(session_id="conv-100")
    # Store a conversation exchange
    session.add_memory(
        messages=[
            ChatMessage(
                user_content="My order hasn't arrived.",
                assistant_content="I'll look into that. What's your order number?",
            )
        ]
    )
    # Store a standalone fact
    session.add_memory(
        facts=["Customer is in the EU timezone."]
    )
    client.wait_until_processed()
    page = session.list_memories()
"""


def test_store_memory(target: Target) -> None:
    scope = run_example(STORE, target)
    blocks = scope["page"].memory_blocks
    assert [b.kind for b in blocks] == ["message", "fact"]
    assert blocks[0].message.user_content == "My order hasn't arrived."
    assert blocks[1].fact == "Customer is in the EU timezone."


def test_messages_and_facts_in_one_call_raise_validation_error(target: Target) -> None:
    scope = run_example(STORE, target)
    session = scope["session"]
    with target.client() as client:
        session = client.get_user("agent-1").get_session("conv-100")
        with pytest.raises(ValidationError, match="separate add_memory"):
            session.add_memory(
                messages=[memory_integrations.ChatMessage(user_content="hi")], facts=["x"]
            )
        assert session.list_memories().total == 2


def test_backfill_and_sync_processing(target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    run_example(STORE, target)
    scope = run_example(
        """
        from datetime import datetime, timezone
        with AgentMemoryClient(base_url="http://localhost:8080") as client:
            session = client.get_user("agent-1").get_session("conv-100")
            session.add_memory(
                messages=[
                    ChatMessage(
                        user_content="I'd like to cancel my subscription.",
                        assistant_content="I can help with that.",
                    )
                ],
                created_at=datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc),
            )
            response = session.add_memory(
                facts=["User prefers email notifications."],
                async_processing=False,  # Block until embedding is ready
            )
            print(f"Block IDs: {response.block_ids}")
            client.wait_until_processed()
            page = session.list_memories(limit=50, offset=0, order_by="created_at")
        """,
        target,
    )
    response = scope["response"]
    assert len(response.block_ids) == 1
    assert f"Block IDs: {response.block_ids}" in capsys.readouterr().out
    blocks = scope["page"].memory_blocks
    # the backfilled block is the oldest; blocks without created_at sort last
    assert blocks[0].message.user_content == "I'd like to cancel my subscription."
    assert blocks[0].created_at.year == 2025


def test_search_examples(target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    run_example(STORE, target)
    scope = run_example(
        """
        with AgentMemoryClient(base_url="http://localhost:8080") as client:
            user = client.get_user("agent-1")
            session = user.get_session("conv-100")
            other = user.create_session("conv-101")
            other.add_memory(facts=["Customer payment preferences: credit card."],
                             async_processing=False)
            # Semantic search — returns blocks ranked by relevance
            results = session.search_memory(query="order arrived")
            ranked = results
            # Unranked retrieval — returns all blocks in the current session
            results = session.search_memory()
            unranked = results
            results = session.search_memory(query="order arrived")
            for block in results.memory_blocks:
                if block.fact:
                    print(f"Fact: {block.fact} (score: {block.rel_score:.3f})")
                elif block.message:
                    print(f"User: {block.message.user_content}")
            results = session.search_memory(
                query="payment preferences",
                filters={"session_ids": "all", "relevant_k": 20}
            )
        """,
        target,
    )
    ranked = scope["ranked"].memory_blocks
    assert ranked[0].kind == "message" and ranked[0].rel_score is not None
    assert scope["unranked"].count == 2
    assert all(b.session_id == "conv-100" for b in scope["unranked"].memory_blocks)
    out = capsys.readouterr().out
    assert "User: My order hasn't arrived." in out
    cross = scope["results"].memory_blocks
    assert {b.session_id for b in cross} == {"conv-100", "conv-101"}
    assert cross[0].fact == "Customer payment preferences: credit card."


def test_update_memory_example(target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    with target.client() as client:
        session = client.create_user("agent-1", "Support Bot").create_session("conv-100")
        block_abc = session.add_memory(
            facts=["Customer is on the basic plan."], async_processing=False
        ).block_ids[0]
    scope = run_example(
        """
        with AgentMemoryClient(base_url="http://localhost:8080") as client:
            session = client.get_user("agent-1").get_session("conv-100")
            # Update a fact and reset its TTL
            resp = session.update_memory(
                block_id=block_abc,
                fact="Customer upgraded to premium plan.",
                annotations={"importance": "high"},
                memory_block_ttl=0,  # Make permanent
            )
            print(resp.block.fact)
        """,
        target,
        block_abc=block_abc,
    )
    assert capsys.readouterr().out.strip() == "Customer upgraded to premium plan."
    assert scope["resp"].block.annotations == {"importance": "high"}
    assert scope["resp"].block.expires_at is None


def test_update_of_processing_block_is_refused(db_path: Any) -> None:
    with memory_integrations.AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        session = client.create_user("u", "U").create_session("s")
        engine: Any = client.backend
        engine._worker.stop(drain=False)  # keep the block in 'processing'
        engine._worker = None
        block_id = session.add_memory(facts=["pending"]).block_ids[0]
        with pytest.raises(ConflictError, match="still processing"):
            session.update_memory(block_id=block_id, fact="new")


def test_ttl_examples(target: Target) -> None:
    run_example(STORE, target)
    scope = run_example(
        """
        with AgentMemoryClient(base_url="http://localhost:8080") as client:
            user = client.get_user("agent-1")
            # Session where all blocks expire after 24 hours
            session = user.create_session(
                session_id="ephemeral-session",
                memory_blocks_ttl=86400
            )
            inherited = session.add_memory(facts=["Temporary note."], async_processing=False)
            # Override: make a specific block permanent
            session.add_memory(
                facts=["Critical account note — do not expire."],
                memory_block_ttl=0,
            )
            client.wait_until_processed()
            before = session.list_memories().memory_blocks
            blocks = user.get_session("conv-100").list_memories().memory_blocks
            block_1, block_2 = blocks[0].block_id, blocks[1].block_id
            # Change TTL for all blocks belonging to a user
            user.modify_ttl(new_ttl=3600)
            # Change TTL for blocks in a specific session
            user.modify_ttl(new_ttl=3600, session_id="conv-100")
            # Change TTL for specific blocks
            user.modify_ttl(new_ttl=0, session_id="conv-100", block_ids=[block_1, block_2])
            after = user.list_memories(limit=200).memory_blocks
        """,
        target,
    )
    before = {b.text: b for b in scope["before"]}
    assert before["Temporary note."].expires_at is not None
    assert before["Critical account note — do not expire."].expires_at is None
    after = {b.block_id: b for b in scope["after"]}
    assert after[scope["block_1"]].expires_at is None
    assert after[scope["block_2"]].expires_at is None
    ephemeral = [b for b in scope["after"] if b.session_id == "ephemeral-session"]
    assert all(b.expires_at is not None for b in ephemeral)  # the user-wide 3600 s


def test_annotation_examples(target: Target) -> None:
    run_example(STORE, target)
    scope = run_example(
        """
        with AgentMemoryClient(base_url="http://localhost:8080") as client:
            user = client.get_user("agent-1")
            # Annotate a session using a consistent key vocabulary
            session = user.create_session(
                session_id="conv-200",
                annotations={"topic": "onboarding", "source": "web"},
            )
            # Annotate individual blocks
            session.add_memory(
                facts=["User completed onboarding."],
                annotations={"topic": "onboarding", "importance": "high", "locale": "en-US"},
                async_processing=False,
            )
            # Filter search by annotation
            results = session.search_memory(
                query="onboarding status",
                filters={"session_ids": "all", "annotations": {"topic": "onboarding"}},
            )
        """,
        target,
    )
    assert [b.fact for b in scope["results"].memory_blocks] == ["User completed onboarding."]
    assert scope["session"].annotations == {"topic": "onboarding", "source": "web"}


def test_list_and_delete_examples(target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    run_example(STORE, target)
    scope = run_example(
        """
        with AgentMemoryClient(base_url="http://localhost:8080") as client:
            user = client.get_user("agent-1")
            session = user.get_session("conv-100")
            # List blocks in a session
            page = session.list_memories(limit=50, offset=0, order_by="created_at")
            print(f"Page: {page.count} of {page.total} blocks")
            # List blocks across all sessions for a user
            all_blocks = user.list_memories(limit=200)
            block_1, block_2 = [b.block_id for b in page.memory_blocks]
            # Delete specific blocks
            session.delete_memory(block_ids=[block_1, block_2])
            after_ids = session.list_memories().total
            session.add_memory(facts=["another"], async_processing=False)
            # Delete all blocks in a session
            session.delete_memory(block_ids="all")
            after_all = session.list_memories().total
        """,
        target,
    )
    assert "Page: 2 of 2 blocks" in capsys.readouterr().out
    assert scope["all_blocks"].total == 2
    assert scope["after_ids"] == 0
    assert scope["after_all"] == 0


def test_async_client_example(target: Target, capsys: pytest.CaptureFixture[str]) -> None:
    code = """
    import asyncio
    from agentmemory import AsyncAgentMemoryClient, ChatMessage
    async def main():
        async with AsyncAgentMemoryClient(base_url="http://localhost:8080") as client:
            user = await client.create_user("agent-2", "Async Bot")
            session = await user.create_session("async-session-1")
            await session.add_memory(
                messages=[
                    ChatMessage(
                        user_content="Hello",
                        assistant_content="Hi! How can I help?",
                    )
                ]
            )
            await client.wait_until_processed()
            results = await session.search_memory(query="greeting")
            for block in results.memory_blocks:
                print(block.message.assistant_content)
            await session.end()
    asyncio.run(main())
    """
    run_example(code, target)
    assert capsys.readouterr().out.strip() == "Hi! How can I help?"
    with target.client() as client:
        assert client.get_user("agent-2").get_session("async-session-1").end_time is not None
    assert asyncio  # imported for the example's namespace


def test_issue_quickstart_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's own example: the embedded default, no server, no key."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MEMORY_INTEGRATIONS_EMBEDDER", "hashing")
    from memory_integrations import AgentMemoryClient, ChatMessage

    with AgentMemoryClient() as client:
        user = client.create_user(user_id="agent-1", name="Support Bot")
        session = user.create_session(session_id="conv-100")
        session.add_memory(
            messages=[
                ChatMessage(
                    user_content="My order hasn't arrived.",
                    assistant_content="What's your order number?",
                )
            ]
        )
        session.add_memory(facts=["Customer is in the EU timezone."], async_processing=False)
        client.wait_until_processed()
        results = session.search_memory(query="order number")
    assert (tmp_path / "agent-memory.sqlite3").exists()
    assert results.memory_blocks[0].message is not None
