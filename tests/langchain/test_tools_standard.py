"""The langchain-tests standard tool suites for the three memory tools."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.langchain import create_memory_tools


class _MemoryTool:
    tool_name: str
    example: dict[str, Any]

    @pytest.fixture(autouse=True)
    def _memory(self, tmp_path: Path) -> Iterator[None]:
        with AgentMemoryClient(tmp_path / "m.sqlite3", embedder=HashingEmbedder()) as client:
            tools = create_memory_tools(client, user_id="alice", session_id="chat")
            tools[0].invoke({"fact": "Alice is vegetarian."})
            self._tool = next(t for t in tools if t.name == self.tool_name)
            yield

    @property
    def tool_constructor(self) -> BaseTool:
        return self._tool

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return self.example


class _Save(_MemoryTool):
    tool_name = "save_memory"
    example = {"fact": "Alice prefers window seats."}


class _Search(_MemoryTool):
    tool_name = "search_memory"
    example = {"query": "What does Alice eat?"}


class _Forget(_MemoryTool):
    tool_name = "forget_memory"
    example = {"memory_id": "0b9f3c1e-0000-4000-8000-000000000000"}


class TestSaveMemoryUnit(_Save, ToolsUnitTests):
    pass


class TestSaveMemoryIntegration(_Save, ToolsIntegrationTests):
    pass


class TestSearchMemoryUnit(_Search, ToolsUnitTests):
    pass


class TestSearchMemoryIntegration(_Search, ToolsIntegrationTests):
    pass


class TestForgetMemoryUnit(_Forget, ToolsUnitTests):
    pass


class TestForgetMemoryIntegration(_Forget, ToolsIntegrationTests):
    pass
