"""Hybrid retrieval: keyword + vector fusion, neighbour smoothing, scopes, scale, reindex."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from memory_integrations import AgentMemoryClient, ChatMessage, MessageRole
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.retrieval import (
    DenseScorer,
    IndexEntry,
    KeywordIndex,
    SearchIndex,
    query_terms,
)


def test_query_terms_drop_stopwords_and_stem() -> None:
    assert query_terms("What are the user's favourite running shoes?") == [
        "user",
        "favourit",
        "run",
        "shoe",
    ]


def test_bm25_prefers_rare_terms_and_short_documents() -> None:
    index = KeywordIndex()
    for text in ["the cat sat", "the cat sat on the zebra mat", "dogs run", "the zebra"]:
        index.add(text)
    scores = index.scores(query_terms("zebra"))
    assert scores is not None
    assert scores[3] > scores[1] > 0 and scores[0] == 0 and scores[2] == 0
    assert index.scores(query_terms("unicorn")) is None


def test_keyword_evidence_beats_a_vague_dense_match(client: AgentMemoryClient) -> None:
    session = client.create_user("u", "U").create_session("s")
    session.add_memory(
        facts=[
            "Order 88213 shipped by courier on Monday.",
            "The user asked about orders and shipping in general.",
            "The user likes hiking.",
        ],
        async_processing=False,
    )
    top = session.search_memory(query="where is order 88213").memory_blocks
    assert top[0].fact == "Order 88213 shipped by courier on Monday."
    assert all(0 <= b.rel_score <= 1 for b in top)
    assert top[0].rel_score >= top[1].rel_score >= top[2].rel_score


def test_a_turn_inherits_relevance_from_the_question_before_it(
    client: AgentMemoryClient,
) -> None:
    session = client.create_user("u", "U").create_session("s")
    turns = [
        ("Ana", "What did you adopt last month?"),
        ("Ben", "A three-legged greyhound called Pixel."),
        ("Ana", "I repainted the kitchen yesterday."),
        ("Ben", "Nice, what colour did you choose?"),
    ]
    for name, text in turns:
        session.add_memory(
            messages=[ChatMessage(role=MessageRole.USER, content=text, name=name)],
            async_processing=False,
        )
    found = session.search_memory(query="what did Ben adopt")
    texts = [b.message.content for b in found.memory_blocks]
    # The answer shares only the speaker's name with the query; the question before it
    # shares "adopt". Without neighbour smoothing Ben's other turn ranks above the answer.
    assert texts.index("A three-legged greyhound called Pixel.") < texts.index(
        "Nice, what colour did you choose?"
    )


def test_search_sees_only_the_callers_user_even_with_shared_words(
    client: AgentMemoryClient,
) -> None:
    big = client.create_user("big", "Big").create_session("s")
    big.add_memory(facts=[f"pizza order number {i}" for i in range(300)], async_processing=False)
    small = client.create_user("small", "Small").create_session("s")
    small.add_memory(facts=["pizza with olives is my favourite"], async_processing=False)
    found = small.search_memory(query="pizza order", filters={"session_ids": "all"})
    assert [b.user_id for b in found.memory_blocks] == ["small"]
    assert client.get_user("small").search_memory("pizza").count == 1


def test_index_follows_writes_from_another_process(db_path: Any) -> None:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        session = client.create_user("u", "U").create_session("s")
        session.add_memory(facts=["first memory about tea"], async_processing=False)
        assert session.search_memory(query="tea").count == 1  # index now cached
        code = (
            "from memory_integrations import AgentMemoryClient\n"
            "from memory_integrations.embedders import HashingEmbedder\n"
            f"with AgentMemoryClient({str(db_path)!r}, embedder=HashingEmbedder()) as c:\n"
            "    s = c.get_user('u').get_session('s')\n"
            "    s.add_memory(facts=['second memory about tea'], async_processing=False)\n"
            "    first = s.search_memory(query='first memory').memory_blocks[0]\n"
            "    s.delete_memory([first.block_id])\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
        facts = [b.fact for b in session.search_memory(query="tea").memory_blocks]
        assert facts == ["second memory about tea"]


def test_sign_bit_prefilter_keeps_recall(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    base = rng.normal(size=(300, 64)).astype(np.float32)
    vectors = base[rng.integers(0, 300, 5000)] + rng.normal(0, 0.3, (5000, 64))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    index = SearchIndex(64)
    index.append([IndexEntry(i, "s", None, False, "x", vectors[i].tobytes()) for i in range(5000)])
    monkeypatch.setattr(DenseScorer, "EXACT_LIMIT", 100)
    monkeypatch.setattr(DenseScorer, "OVERSAMPLE", 200)
    visible = np.arange(5000)
    hits = 0
    for query in vectors[rng.integers(0, 5000, 50)]:
        approx = index.dense(query, visible)
        assert not approx.exact
        truth = set(np.argsort(-(vectors @ query))[:10].tolist())
        hits += len(truth & set(approx.top(10).tolist()))
    assert hits / 500 >= 0.9


def test_reindex_switches_embedder(db_path: Any) -> None:
    from click.testing import CliRunner

    from memory_integrations.cli import main
    from memory_integrations.errors import EmbedderMismatchError

    with AgentMemoryClient(db_path, embedder=HashingEmbedder(384)) as client:
        session = client.create_user("u", "U").create_session("s")
        session.add_memory(facts=["alpha", "beta gamma"], async_processing=False)
    with pytest.raises(EmbedderMismatchError):
        AgentMemoryClient(db_path, embedder=HashingEmbedder(64))
    result = CliRunner().invoke(
        main, ["reindex", "--path", str(db_path), "--embedder", "hashing:64"]
    )
    assert result.exit_code == 0, result.output
    assert "re-embedded 2 blocks with hashing-v1-64" in result.output
    with AgentMemoryClient(db_path, embedder=HashingEmbedder(64)) as client:
        found = client.get_user("u").get_session("s").search_memory(query="beta gamma")
        assert found.memory_blocks[0].fact == "beta gamma"
        engine: Any = client.backend
        with engine.database.read() as cur:
            rows = engine._store.indexed_blocks(cur, "u", 0)
        assert {len(row[-1]) for row in rows} == {64 * 4}
