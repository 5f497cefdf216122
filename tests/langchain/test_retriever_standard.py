"""The langchain-tests standard suite for AgentMemoryRetriever."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.langchain import AgentMemoryRetriever


class TestAgentMemoryRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _memory(self, tmp_path: Path) -> Iterator[None]:
        with AgentMemoryClient(tmp_path / "m.sqlite3", embedder=HashingEmbedder()) as client:
            session = client.get_or_create_user("alice").get_or_create_session("trips")
            session.add_memory(
                facts=[
                    "Alice flies to Lisbon in May.",
                    "Alice prefers window seats when she flies.",
                    "Alice flies economy on short trips.",
                    "Alice is vegetarian.",
                    "Alice's favourite colour is teal.",
                ],
                async_processing=False,
            )
            self._client = client
            yield

    @property
    def retriever_constructor(self) -> type[AgentMemoryRetriever]:
        return AgentMemoryRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"source": self._client, "user_id": "alice", "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "Where does Alice fly?"
