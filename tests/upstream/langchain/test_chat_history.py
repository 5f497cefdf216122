"""Port of langchain-core ``libs/core/tests/unit_tests/chat_history/test_chat_history.py``
(``BaseChatMessageHistory``'s default methods, on two minimal subclasses) to
``AgentMemoryChatMessageHistory``, on SQLite and PostgreSQL. See tests/upstream/README.md.

Upstream's subclasses implement only ``add_message`` (or only ``add_messages``) and check that
the base class supplies the other and the async methods; ours implements all of them natively,
so the same calls are checked on it, through its ``messages``."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from memory_integrations import AgentMemoryClient
from memory_integrations.langchain import AgentMemoryChatMessageHistory


def _history(client: AgentMemoryClient, session: str) -> AgentMemoryChatMessageHistory:
    return AgentMemoryChatMessageHistory(client, user_id="langchain-upstream", session_id=session)


def test_add_message_implementation_only(client: AgentMemoryClient) -> None:
    history = _history(client, "single")
    history.add_message(HumanMessage(content="Hello"))
    assert [m.content for m in history.messages] == ["Hello"]
    history.add_message(HumanMessage(content="World"))
    assert history.messages[1] == HumanMessage(content="World")
    history.add_messages([HumanMessage(content="Hello"), HumanMessage(content="World")])
    assert len(history.messages) == 4
    assert history.messages[2:] == [HumanMessage(content="Hello"), HumanMessage(content="World")]


def test_bulk_message_implementation_only(client: AgentMemoryClient) -> None:
    history = _history(client, "bulk")
    history.add_messages([HumanMessage(content="Hello")])
    history.add_messages([HumanMessage(content="World")])
    assert history.messages == [HumanMessage(content="Hello"), HumanMessage(content="World")]
    history.add_messages([HumanMessage(content="Hello"), HumanMessage(content="World")])
    assert len(history.messages) == 4


async def test_async_interface(client: AgentMemoryClient) -> None:
    history = _history(client, "async")
    await history.aadd_messages([HumanMessage(content="Hello"), HumanMessage(content="World")])
    assert await history.aget_messages() == [
        HumanMessage(content="Hello"),
        HumanMessage(content="World"),
    ]
    await history.aadd_messages([HumanMessage(content="!")])
    assert await history.aget_messages() == [
        HumanMessage(content="Hello"),
        HumanMessage(content="World"),
        HumanMessage(content="!"),
    ]
    await history.aclear()
    assert await history.aget_messages() == []
