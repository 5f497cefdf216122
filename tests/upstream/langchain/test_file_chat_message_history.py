"""Port of langchain-core ``libs/core/tests/unit_tests/chat_history/
test_file_chat_message_history.py`` (``FileChatMessageHistory``: a history that persists) to
``AgentMemoryChatMessageHistory``, on SQLite and PostgreSQL. See tests/upstream/README.md.
Upstream's file path becomes a (user, session) in the engine; "reinitialising" opens a new
history object on the same session."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage

from memory_integrations import AgentMemoryClient
from memory_integrations.langchain import AgentMemoryChatMessageHistory


def _history(client: AgentMemoryClient) -> AgentMemoryChatMessageHistory:
    return AgentMemoryChatMessageHistory(client, user_id="langchain-upstream", session_id="file")


def test_add_messages(client: AgentMemoryClient) -> None:
    history = _history(client)
    history.add_user_message("Hello!")
    history.add_ai_message("Hi there!")
    messages = history.messages
    assert [type(m) for m in messages] == [HumanMessage, AIMessage]
    assert [m.content for m in messages] == ["Hello!", "Hi there!"]


def test_clear_messages(client: AgentMemoryClient) -> None:
    history = _history(client)
    history.add_user_message("Hello!")
    history.add_ai_message("Hi there!")
    history.clear()
    assert history.messages == []


def test_multiple_sessions(client: AgentMemoryClient) -> None:
    history = _history(client)
    history.add_user_message("Hello, AI!")
    history.add_ai_message("Hello, how can I help you?")
    history.add_user_message("Tell me a joke.")
    joke = "Why did the chicken cross the road? To get to the other side!"
    history.add_ai_message(joke)
    expected = ["Hello, AI!", "Hello, how can I help you?", "Tell me a joke.", joke]
    assert [m.content for m in history.messages] == expected
    second = _history(client)  # "reinitialise": a new object on the same stored history
    assert [m.content for m in second.messages] == expected
