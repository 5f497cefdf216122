"""AgentMemoryRetriever: scope, k, filters, documents, async, and use in a chain."""

from __future__ import annotations

from datetime import datetime

import pytest
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough

from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient, ChatMessage
from memory_integrations.errors import ValidationError
from memory_integrations.langchain import AgentMemoryRetriever
from tests.langchain._fakes import ScriptedChatModel


@pytest.fixture
def memory(client: AgentMemoryClient) -> AgentMemoryClient:
    alice = client.get_or_create_user("alice")
    trips = alice.get_or_create_session("trips")
    trips.add_memory(
        facts=["Alice flies to Lisbon in May.", "Alice prefers window seats."],
        annotations={"topic": "travel"},
        metadata={"source": "crm-import"},
        async_processing=False,
    )
    food = alice.get_or_create_session("food")
    food.add_memory(
        facts=["Alice is vegetarian."], annotations={"topic": "food"}, async_processing=False
    )
    food.add_memory(
        messages=[
            ChatMessage(
                user_content="Any vegetarian place in Lisbon?",
                assistant_content="Try Ao 26 Vegan Food Project.",
            )
        ],
        async_processing=False,
    )
    bob = client.get_or_create_user("bob").get_or_create_session("trips")
    bob.add_memory(facts=["Bob flies to Lisbon every week."], async_processing=False)
    return client


def texts(docs: list[Document]) -> list[str]:
    return [d.page_content for d in docs]


def test_documents_carry_id_score_and_block_details(memory: AgentMemoryClient) -> None:
    retriever = AgentMemoryRetriever(memory, user_id="alice", k=1)
    [doc] = retriever.invoke("window seats")
    assert doc.page_content == "Alice prefers window seats."
    assert doc.id == doc.metadata["block_id"]
    meta = doc.metadata
    assert meta["kind"] == "fact"
    assert meta["session_id"] == "trips"
    assert meta["user_id"] == "alice"
    assert meta["annotations"] == {"topic": "travel"}
    assert meta["metadata"] == {"source": "crm-import"}
    assert isinstance(meta["score"], float) and meta["score"] > 0
    assert 0 < meta["similarity"] <= 1
    datetime.fromisoformat(meta["created_at"])
    datetime.fromisoformat(meta["ingested_at"])
    block = memory.get_user("alice").get_session("trips").get_memory_block(doc.id)
    assert block.fact == doc.page_content


def test_scope_all_session_and_list(memory: AgentMemoryClient) -> None:
    everywhere = AgentMemoryRetriever(memory, user_id="alice", k=10)
    found = texts(everywhere.invoke("Lisbon"))
    assert "Alice flies to Lisbon in May." in found
    assert any("Ao 26" in t for t in found)
    assert "Bob flies to Lisbon every week." not in found  # never another user's memory

    session = memory.get_user("alice").get_session("trips")
    one = AgentMemoryRetriever(session, scope="session", k=10)
    assert {d.metadata["session_id"] for d in one.invoke("Lisbon")} == {"trips"}

    listed = AgentMemoryRetriever(memory, user_id="alice", scope=["food"], k=10)
    assert {d.metadata["session_id"] for d in listed.invoke("Lisbon")} == {"food"}


def test_k_and_per_call_options(memory: AgentMemoryClient) -> None:
    retriever = AgentMemoryRetriever(memory, user_id="alice", k=3)
    assert len(retriever.invoke("Alice")) == 3
    assert len(retriever.invoke("Alice", k=1)) == 1
    assert texts(retriever.invoke("Alice", kind="message")) == [
        "Any vegetarian place in Lisbon?\nTry Ao 26 Vegan Food Project."
    ]
    assert {d.metadata["session_id"] for d in retriever.invoke("Alice", scope=["food"])} == {"food"}
    with pytest.raises(ValidationError, match="unknown retriever option"):
        retriever.invoke("Alice", top_k=2)


def test_filters(memory: AgentMemoryClient) -> None:
    by_tag = AgentMemoryRetriever(memory, user_id="alice", annotations={"topic": "food"}, k=10)
    assert texts(by_tag.invoke("Alice")) == ["Alice is vegetarian."]
    by_metadata = AgentMemoryRetriever(
        memory, user_id="alice", metadata_contains="crm-import", k=10
    )
    assert sorted(texts(by_metadata.invoke("Alice"))) == [
        "Alice flies to Lisbon in May.",
        "Alice prefers window seats.",
    ]
    strict = AgentMemoryRetriever(memory, user_id="alice", threshold=0.99, k=10)
    assert strict.invoke("completely unrelated words") == []


def test_unknown_user_blank_query_and_missing_ids(memory: AgentMemoryClient) -> None:
    assert AgentMemoryRetriever(memory, user_id="nobody").invoke("Lisbon") == []
    assert AgentMemoryRetriever(memory, user_id="alice").invoke("   ") == []
    with pytest.raises(ValueError, match="no user id"):
        AgentMemoryRetriever(memory).invoke("Lisbon")
    with pytest.raises(ValueError, match="no session id"):
        AgentMemoryRetriever(memory, user_id="alice", scope="session").invoke("Lisbon")
    # Ids may also come per call.
    per_call = AgentMemoryRetriever(memory, scope="session")
    docs = per_call.invoke("Lisbon", user_id="alice", session_id="trips")
    assert docs and {d.metadata["session_id"] for d in docs} == {"trips"}


async def test_async_matches_sync(memory: AgentMemoryClient) -> None:
    aclient = AsyncAgentMemoryClient.from_client(memory)
    retriever = AgentMemoryRetriever(aclient, user_id="alice", k=3)
    sync_docs = retriever.invoke("vegetarian Lisbon")
    async_docs = await retriever.ainvoke("vegetarian Lisbon")
    assert [d.id for d in async_docs] == [d.id for d in sync_docs]
    assert len(await retriever.ainvoke("vegetarian Lisbon", k=1)) == 1


def test_earlier_conversation_reaches_a_later_prompt(memory: AgentMemoryClient) -> None:
    retriever = AgentMemoryRetriever(memory, user_id="alice", k=2)
    prompt = ChatPromptTemplate.from_messages(
        [("system", "What you know about the user:\n{context}"), ("human", "{question}")]
    )
    model = ScriptedChatModel(script=["Try Ao 26."])

    def join(docs: list[Document]) -> str:
        return "\n".join(d.page_content for d in docs)

    chain = {"context": retriever | join, "question": RunnablePassthrough()} | prompt | model
    answer = (chain | StrOutputParser()).invoke("Where should I eat vegetarian in Lisbon?")
    assert answer == "Try Ao 26."
    system = model.system_text(model.last_prompt)
    assert "Try Ao 26 Vegan Food Project." in system
    assert "Bob" not in system


def test_tool_results_in_the_chat_history_are_not_retrieved(client: AgentMemoryClient) -> None:
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from memory_integrations.langchain import AgentMemoryChatMessageHistory

    history = AgentMemoryChatMessageHistory(client, user_id="carol", session_id="chat")
    call = AIMessage(content="", tool_calls=[{"name": "weather", "args": {}, "id": "t1"}])
    result = ToolMessage(content="weather in Porto: rain", tool_call_id="t1")
    history.add_messages([HumanMessage("I moved to Porto for the rain."), *[call, result] * 20])
    client.wait_until_processed()

    found = AgentMemoryRetriever(client, user_id="carol", k=2).invoke("weather in Porto rain")
    assert texts(found) == ["I moved to Porto for the rain."]
    asked = AgentMemoryRetriever(client, user_id="carol", k=2, role="tool").invoke("weather")
    assert texts(asked) == ["weather in Porto: rain"] * 2
