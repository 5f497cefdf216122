"""Every LangChain/LangGraph adapter takes its client positionally or as ``client=``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from memory_integrations import AgentMemoryClient
from memory_integrations.errors import ConfigurationError
from memory_integrations.langchain import (
    AgentMemoryChatMessageHistory,
    AgentMemoryRetriever,
    create_memory_tools,
)
from memory_integrations.langgraph import AgentMemoryNodes, AgentMemorySaver, AgentMemoryStore

ADAPTERS: dict[str, Callable[..., Any]] = {
    "history": lambda *a, **kw: AgentMemoryChatMessageHistory(
        *a, user_id="u1", session_id="s1", **kw
    ),
    "retriever": lambda *a, **kw: AgentMemoryRetriever(*a, user_id="u1", **kw),
    "tools": lambda *a, **kw: create_memory_tools(*a, user_id="u1", session_id="s1", **kw),
    "nodes": lambda *a, **kw: AgentMemoryNodes(*a, user_id="u1", session_id="s1", **kw),
    "saver": lambda *a, **kw: AgentMemorySaver(*a, **kw),
    "store": lambda *a, **kw: AgentMemoryStore(*a, **kw),
}


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_client_keyword_works_like_the_first_argument(name: str, client: AgentMemoryClient) -> None:
    session = client.get_or_create_user("u1").get_or_create_session("s1")
    session.add_memory(facts=["The user's cat is called Miso."], async_processing=False)
    build = ADAPTERS[name]
    by_keyword = build(client=client)
    by_position = build(client)
    assert type(by_keyword) is type(by_position)
    if name == "retriever":
        found = by_keyword.invoke("cat")
        assert any("Miso" in doc.page_content for doc in found)
    if name == "history":
        assert [m.content for m in by_keyword.messages] == [m.content for m in by_position.messages]


@pytest.mark.parametrize("name", list(ADAPTERS))
def test_client_twice_or_never_is_a_configuration_error(
    name: str, client: AgentMemoryClient
) -> None:
    build = ADAPTERS[name]
    with pytest.raises(ConfigurationError, match="once"):
        build(client, client=client)
    with pytest.raises(ConfigurationError, match="client="):
        build()


def test_saver_ttl_is_seconds_and_store_ttl_is_minutes_and_errors_say_so(
    client: AgentMemoryClient,
) -> None:
    with pytest.raises(ConfigurationError, match=r"seconds.*TTLConfig in minutes"):
        AgentMemorySaver(client, ttl={"default_ttl": 60})
    with pytest.raises(ConfigurationError, match=r"TTLConfig dict.*minutes.*seconds"):
        AgentMemoryStore(client, ttl=3600)  # type: ignore[arg-type]
    assert "seconds" in (AgentMemorySaver.__doc__ or "")
    assert "minutes" in (AgentMemoryStore.__doc__ or "")
