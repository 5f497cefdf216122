"""Every adapter on a remote client: only the constructor changes (base_url=, token=).

Checkpointer and store need an embedded backend and say so clearly.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from memory_integrations import AgentMemoryClient
from memory_integrations.errors import ConfigurationError

from .conftest import Live


def test_langchain_history_retriever_and_tools(remote: AgentMemoryClient, uid: str) -> None:
    pytest.importorskip("langchain_core")
    from memory_integrations.langchain import (
        AgentMemoryChatMessageHistory,
        AgentMemoryRetriever,
        create_memory_tools,
    )
    from tests.langchain.test_chat_history import every_kind_of_message

    history = AgentMemoryChatMessageHistory(remote, user_id=uid, session_id="trip")
    sent = every_kind_of_message()
    history.add_messages(sent)
    assert history.messages == sent
    assert [type(m) for m in history.messages] == [type(m) for m in sent]
    remote.wait_until_processed(30)

    session = remote.get_user(uid).get_or_create_session("facts")
    session.add_memory(
        facts=["Alice is allergic to peanuts", "Alice collects stamps"], async_processing=False
    )
    retriever = AgentMemoryRetriever(remote, user_id=uid, k=1)
    docs = retriever.invoke("peanut allergy")
    assert [d.page_content for d in docs] == ["Alice is allergic to peanuts"]

    tools = {t.name: t for t in create_memory_tools(remote, user_id=uid, session_id="tools")}
    config: Any = {"configurable": {}}
    saved = tools["save_memory"].invoke({"fact": "Alice's cat is named Miso"}, config)
    assert "Miso" in str(saved) or "saved" in str(saved).lower()
    found = tools["search_memory"].invoke({"query": "cat name"}, config)
    assert "Miso" in str(found)


async def test_llama_index_chat_store_matches_the_reference(
    remote: AgentMemoryClient, uid: str
) -> None:
    pytest.importorskip("llama_index.core")
    pytest.importorskip("aiosqlite")
    from llama_index.core.storage.chat_store.sql import SQLAlchemyChatStore

    from memory_integrations.llama_index import AgentMemoryChatStore
    from tests.llama_index.test_chat_store import scenario

    reference = SQLAlchemyChatStore(
        table_name="ref", async_database_uri="sqlite+aiosqlite:///:memory:"
    )
    expected = await scenario(reference)
    store = AgentMemoryChatStore.from_client(remote, user_id=uid)
    assert await scenario(store) == expected


def test_crewai_storage_saves_and_searches(remote: AgentMemoryClient, uid: str) -> None:
    pytest.importorskip("crewai.memory.storage.backend")
    from crewai.memory.types import MemoryRecord

    from memory_integrations.crewai import AgentMemoryEmbedder, AgentMemoryStorage

    storage = AgentMemoryStorage(remote, user_id=uid, embedder=AgentMemoryEmbedder("hashing"))
    storage.save(
        [
            MemoryRecord(content="The launch is on Friday", scope="/crew/a"),
            MemoryRecord(content="Budget approved for Q3", scope="/crew/a"),
        ]
    )
    query = storage.embedder(["launch date Friday"])[0]
    hits = storage.search(query, limit=1)
    assert [record.content for record, _ in hits] == ["The launch is on Friday"]


def test_turn_helper_recalls_across_sessions(remote: AgentMemoryClient, uid: str) -> None:
    from memory_integrations.turn import TurnConfig, run_turn

    user = remote.get_or_create_user(uid)
    first = user.get_or_create_session("monday")
    run_turn(first, "My dog is called Rex", lambda system, text: "Nice name!", TurnConfig())
    remote.wait_until_processed(30)
    later = user.get_or_create_session("tuesday")
    seen: list[str | None] = []

    def respond(system: str | None, text: str) -> str:
        seen.append(system)
        return "Rex"

    result = run_turn(later, "What is my dog called?", respond, TurnConfig(scope="all"))
    assert result.answer == "Rex"
    assert seen[0] is not None and "Rex" in seen[0]


def test_checkpointer_and_store_refuse_a_remote_client(server: Live) -> None:
    pytest.importorskip("langgraph")
    from memory_integrations.langgraph import AgentMemorySaver

    with AgentMemoryClient(base_url=server.url, token=f"{uuid.uuid4()}") as client:
        with pytest.raises(ConfigurationError, match="embedded backend"):
            AgentMemorySaver(client)
        try:
            from memory_integrations.langgraph._store import AgentMemoryStore
        except ImportError:
            return
        with pytest.raises(ConfigurationError, match="embedded backend"):
            AgentMemoryStore(client)
