"""Fixtures for the LlamaIndex adapter tests (skipped when the extra is not installed).

Everything runs offline: LlamaIndex's ``MockLLM`` / ``MockFunctionCallingLLM`` answer, its
``MockEmbedding`` stands in wherever LlamaIndex itself wants an embedding model, and the
memory engine uses the deterministic hashing embedder on a real store (``client`` from the
root conftest: a SQLite file, and PostgreSQL when available).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("llama_index.core", reason='needs "memory-integrations[llama-index]"')

from llama_index.core import Settings
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM

from tests.llama_index._fakes import PromptRecorder


@pytest.fixture(autouse=True)
def offline_llama_index() -> Iterator[None]:
    """Point LlamaIndex's global defaults at its mocks, so nothing can call OpenAI."""
    saved_llm, saved_embed = Settings._llm, Settings._embed_model
    Settings.llm = MockLLM()
    Settings.embed_model = MockEmbedding(embed_dim=8)
    yield
    Settings._llm, Settings._embed_model = saved_llm, saved_embed


@pytest.fixture
def recorder() -> PromptRecorder:
    return PromptRecorder()
