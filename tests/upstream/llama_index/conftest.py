"""Fixtures for the ports of LlamaIndex's chat-store and memory suites.

Upstream builds ``SQLAlchemyChatStore`` (in-memory aiosqlite) and ``SimpleChatStore``; here the
fixtures build ``AgentMemoryChatStore`` (an ``AsyncDBChatStore``) and ``AgentMemoryBaseChatStore``
(a ``BaseChatStore``) on this test's database: the ``storage`` parameter of the root conftest,
SQLite and PostgreSQL. LlamaIndex's global models are its offline mocks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("llama_index.core", reason='needs "memory-integrations[llama-index]"')

from llama_index.core import Settings
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM

from memory_integrations import AgentMemoryClient
from memory_integrations.llama_index import AgentMemoryBaseChatStore, AgentMemoryChatStore


@pytest.fixture(autouse=True)
def offline_llama_index() -> Iterator[None]:
    saved_llm, saved_embed = Settings._llm, Settings._embed_model
    Settings.llm = MockLLM()
    Settings.embed_model = MockEmbedding(embed_dim=8)
    yield
    Settings._llm, Settings._embed_model = saved_llm, saved_embed


@pytest.fixture
def chat_store(client: AgentMemoryClient) -> AgentMemoryChatStore:
    """Upstream's SQLAlchemyChatStore fixture (or its custom AsyncDBChatStore)."""
    return AgentMemoryChatStore.from_client(client, user_id="llama-upstream")


@pytest.fixture
def base_chat_store(client: AgentMemoryClient) -> AgentMemoryBaseChatStore:
    """Upstream's SimpleChatStore."""
    return AgentMemoryBaseChatStore.from_client(client, user_id="llama-upstream")
