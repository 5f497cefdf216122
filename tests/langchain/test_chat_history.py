"""AgentMemoryChatMessageHistory: exact round-trips, consistency, RunnableWithMessageHistory."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables.history import RunnableWithMessageHistory

from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient, MessageRole
from memory_integrations import ChatMessage as BlockMessage
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import ConfigurationError, NotFoundError, ValidationError
from memory_integrations.langchain import AgentMemoryChatMessageHistory
from tests.langchain._fakes import ScriptedChatModel


def every_kind_of_message() -> list[BaseMessage]:
    return [
        SystemMessage("You are a travel assistant.", id="sys-1"),
        HumanMessage(
            "I'm vegetarian and my favourite colour is teal.",
            id="h-1",
            name="alice",
            additional_kwargs={"client": {"ip": "10.0.0.1"}},
        ),
        AIMessage(
            "",
            id="a-1",
            tool_calls=[{"name": "search_flights", "args": {"to": "LIS", "n": [1, 2]}, "id": "c1"}],
            usage_metadata={"input_tokens": 10, "output_tokens": 3, "total_tokens": 13},
            response_metadata={"model_name": "fake", "finish_reason": "tool_calls"},
        ),
        ToolMessage(
            "3 flights found", tool_call_id="c1", name="search_flights", artifact={"ids": [7]}
        ),
        ToolMessage("boom", tool_call_id="c2", status="error"),
        AIMessage(
            content=[
                {"type": "text", "text": "Here is the map:"},
                {"type": "image_url", "image_url": {"url": "https://example.com/map.png"}},
            ],
            id="a-2",
        ),
        HumanMessage(content=[{"type": "text", "text": "Thanks! ✈️ ünïcödé"}]),
        ChatMessage(role="critic", content="Be more concise."),
        FunctionMessage(name="legacy_fn", content="legacy result"),
        AIMessageChunk(content="partial", id="chunk-1"),
    ]


def test_every_message_type_round_trips_exactly(client: AgentMemoryClient, db_path: Path) -> None:
    history = AgentMemoryChatMessageHistory(client, user_id="alice", session_id="trip")
    sent = every_kind_of_message()
    history.add_messages(sent)

    assert history.messages == sent
    assert [type(m) for m in history.messages] == [type(m) for m in sent]
    # A different process opening the same file sees the same messages.
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as other:
        reopened = AgentMemoryChatMessageHistory(other, user_id="alice", session_id="trip")
        assert reopened.messages == sent


def test_reads_are_consistent_right_after_writes(client: AgentMemoryClient) -> None:
    history = AgentMemoryChatMessageHistory(client, user_id="alice", session_id="s")
    assert history.messages == []
    for i in range(5):
        history.add_user_message(f"question {i}")
        history.add_ai_message(f"answer {i}")
        # No waiting for background embedding: the write is visible at once, in order.
        assert [m.text for m in history.messages][-2:] == [f"question {i}", f"answer {i}"]
    assert len(history.messages) == 10


def test_messages_page_past_one_listing_page(client: AgentMemoryClient) -> None:
    history = AgentMemoryChatMessageHistory(client, user_id="alice", session_id="long")
    sent: list[BaseMessage] = [HumanMessage(f"message number {i}") for i in range(230)]
    history.add_messages(sent)
    assert history.messages == sent


def test_blocks_are_role_tagged_and_searchable(client: AgentMemoryClient) -> None:
    history = AgentMemoryChatMessageHistory(client, user_id="alice", session_id="s")
    history.add_messages(every_kind_of_message())
    client.wait_until_processed()
    session = client.get_user("alice").get_session("s")
    blocks = session.list_memories(limit=50).memory_blocks
    roles = [b.message.role for b in blocks if b.message is not None]
    assert roles == [
        MessageRole.SYSTEM,
        MessageRole.USER,
        MessageRole.ASSISTANT,
        MessageRole.TOOL,
        MessageRole.TOOL,
        MessageRole.ASSISTANT,
        MessageRole.USER,
        MessageRole.USER,
        MessageRole.TOOL,
        MessageRole.ASSISTANT,
    ]
    assert blocks[1].message is not None and blocks[1].message.name == "alice"
    hits = session.search_memory("favourite colour teal", {"relevant_k": 1}).memory_blocks
    assert hits[0].text == "alice: I'm vegetarian and my favourite colour is teal."


def test_reading_an_unknown_session_creates_nothing(client: AgentMemoryClient) -> None:
    history = AgentMemoryChatMessageHistory(client, user_id="nobody", session_id="nothing")
    assert history.messages == []
    history.clear()
    with pytest.raises(NotFoundError):
        client.get_user("nobody")
    history.add_user_message("hello")
    assert client.get_user("nobody").get_session("nothing").count_memories() == 1


def test_clear_deletes_messages_but_keeps_facts(client: AgentMemoryClient) -> None:
    session = client.get_or_create_user("alice").get_or_create_session("s")
    session.add_memory(facts=["The user is vegetarian."], async_processing=False)
    history = AgentMemoryChatMessageHistory(session)
    history.add_messages([HumanMessage("hi"), AIMessage("hello")])
    history.clear()
    assert history.messages == []
    remaining = session.list_memories().memory_blocks
    assert [b.fact for b in remaining] == ["The user is vegetarian."]
    history.add_user_message("after clear")
    assert [m.text for m in history.messages] == ["after clear"]


def test_blocks_written_by_others_read_as_messages(client: AgentMemoryClient) -> None:
    session = client.get_or_create_user("alice").get_or_create_session("s")
    session.add_memory(messages=[BlockMessage(user_content="hi", assistant_content="hello")])
    session.add_memory(messages=[BlockMessage(role=MessageRole.TOOL, content="42", name="calc")])
    messages = AgentMemoryChatMessageHistory(session).messages
    assert [type(m) for m in messages] == [HumanMessage, AIMessage, ToolMessage]
    assert [m.text for m in messages] == ["hi", "hello", "42"]
    assert messages[2].name == "calc"


def test_writes_after_the_session_was_deleted_recreate_it(client: AgentMemoryClient) -> None:
    history = AgentMemoryChatMessageHistory(client, user_id="alice", session_id="s")
    history.add_user_message("first")
    client.get_user("alice").get_session("s").delete()
    assert history.messages == []
    history.add_user_message("second")
    assert [m.text for m in history.messages] == ["second"]


def test_annotations_tag_every_written_block(client: AgentMemoryClient) -> None:
    history = AgentMemoryChatMessageHistory(
        client, user_id="alice", session_id="s", annotations={"source": "chat"}
    )
    history.add_messages([HumanMessage("a"), AIMessage("b")])
    blocks = client.get_user("alice").get_session("s").list_memories().memory_blocks
    assert [b.annotations for b in blocks] == [{"source": "chat"}, {"source": "chat"}]


def test_constructor_checks_its_arguments(client: AgentMemoryClient) -> None:
    with pytest.raises(ValidationError, match="needs a session"):
        AgentMemoryChatMessageHistory(client, user_id="alice")
    user = client.get_or_create_user("alice")
    with pytest.raises(ValidationError, match="does not match"):
        AgentMemoryChatMessageHistory(user, user_id="bob", session_id="s")
    with pytest.raises(ConfigurationError, match="expected an AgentMemoryClient"):
        AgentMemoryChatMessageHistory(42, session_id="s")  # type: ignore[arg-type]
    history = AgentMemoryChatMessageHistory(user, session_id="s")
    assert (history.user_id, history.session_id) == ("alice", "s")
    assert "alice" in repr(history)


def test_a_path_or_url_string_opens_the_memory_it_names(tmp_path: Path) -> None:
    path = str(tmp_path / "chat.sqlite3")
    history = AgentMemoryChatMessageHistory(path, user_id="alice", session_id="s")
    history.add_user_message("hello from a path")
    again = AgentMemoryChatMessageHistory(f"sqlite:///{path}", user_id="alice", session_id="s")
    assert [m.content for m in again.messages] == ["hello from a path"]


async def test_native_async_methods(client: AgentMemoryClient) -> None:
    aclient = AsyncAgentMemoryClient.from_client(client)
    history = AgentMemoryChatMessageHistory(aclient, user_id="alice", session_id="s")
    sent = every_kind_of_message()
    await history.aadd_messages(sent)
    assert await history.aget_messages() == sent
    await history.aclear()
    assert await history.aget_messages() == []
    # An async session handle works too.
    asession = await (await aclient.get_user("alice")).get_session("s")
    other = AgentMemoryChatMessageHistory(asession)
    await other.aadd_messages([HumanMessage("via async handle")])
    assert [m.text for m in history.messages] == ["via async handle"]


def _with_history(
    client: AgentMemoryClient, model: ScriptedChatModel
) -> RunnableWithMessageHistory:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return RunnableWithMessageHistory(
            model,
            lambda session_id: AgentMemoryChatMessageHistory(
                client, user_id="alice", session_id=session_id
            ),
        )


def test_runnable_with_message_history_recalls_an_earlier_conversation(
    client: AgentMemoryClient, db_path: Path
) -> None:
    first_model = ScriptedChatModel(script=["Noted: teal."])
    chain = _with_history(client, first_model)
    config = {"configurable": {"session_id": "chat-1"}}
    reply = chain.invoke("My favourite colour is teal.", config)
    assert reply.text == "Noted: teal."

    # Later, in another process, the conversation continues from the stored history.
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as later_client:
        later_model = ScriptedChatModel(script=["It is teal."])
        later = _with_history(later_client, later_model)
        later.invoke("What is my favourite colour?", config)
        prompt = later_model.last_prompt
        assert [m.text for m in prompt] == [
            "My favourite colour is teal.",
            "Noted: teal.",
            "What is my favourite colour?",
        ]
        stored = AgentMemoryChatMessageHistory(
            later_client, user_id="alice", session_id="chat-1"
        ).messages
        # Each turn stored exactly its input and output: no duplicates.
        assert [m.text for m in stored] == [
            "My favourite colour is teal.",
            "Noted: teal.",
            "What is my favourite colour?",
            "It is teal.",
        ]


async def test_runnable_with_message_history_async(client: AgentMemoryClient) -> None:
    model = ScriptedChatModel(script=["first answer", "second answer"])
    chain = _with_history(client, model)
    config = {"configurable": {"session_id": "chat-async"}}
    await chain.ainvoke("I live in Porto.", config)
    await chain.ainvoke("Where do I live?", config)
    assert [m.text for m in model.last_prompt] == [
        "I live in Porto.",
        "first answer",
        "Where do I live?",
    ]
    history = AgentMemoryChatMessageHistory(client, user_id="alice", session_id="chat-async")
    assert len(await history.aget_messages()) == 4
