"""Fixtures for the LangChain adapter tests (skipped when the extra is not installed)."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core", reason='needs "memory-integrations[langchain]"')

from tests.langchain._fakes import ScriptedChatModel


@pytest.fixture
def model() -> ScriptedChatModel:
    return ScriptedChatModel()
