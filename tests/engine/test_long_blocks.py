"""Blocks longer than the embedder's window: embedded in overlapping windows and matched by
their best one, on both storages, through every path that writes vectors (sync and async
add, update, reindex, import) and every path that removes them (update, delete)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from memory_integrations import AgentMemoryClient, Settings
from memory_integrations.embedders import (
    ChunkingEmbedder,
    HashingEmbedder,
    MiniLMEmbedder,
    default_embedder,
)
from memory_integrations.retrieval import DenseScorer, IndexEntry, SearchIndex

# Some 700 tokens about farming, then the one sentence the query is about: far beyond the
# first window of MiniLM (256 tokens).
FILLER = " ".join(
    f"In week {i} the farmers of the valley planted wheat and barley in long straight rows."
    for i in range(40)
)
TAIL = "My sister Aiko adopted a golden retriever puppy and named him Biscuit."
LONG = f"{FILLER} {TAIL}"
QUERY = "Which dog did her sibling bring home?"  # shares no keyword with the tail
OTHERS = ["Customer pays by PayPal.", "The office closes at six on Fridays."]


def _windows(text: str) -> np.ndarray:
    return default_embedder().embed_document_chunks([text], max_chunks=64)[0]


def _best_window_cosine(text: str, query: str) -> float:
    return float((_windows(text) @ default_embedder().embed_query(query)).max())


def _chunk_rows(client: AgentMemoryClient) -> int:
    with client.database.read() as cur:
        return int(cur.execute("SELECT count(*) FROM mi_block_chunks").fetchone()[0])


def test_minilm_windows_overlap_and_start_like_embed_documents() -> None:
    embedder = MiniLMEmbedder()
    assert isinstance(embedder, ChunkingEmbedder)
    short, long = embedder.embed_document_chunks(["A short note.", LONG], max_chunks=64)
    assert short.shape == (1, 384)
    assert long.shape[0] >= 3 and long.shape[1] == 384
    first = embedder.embed_documents(["A short note.", LONG])
    assert np.allclose(short[0], first[0], atol=1e-5)
    assert np.allclose(long[0], first[1], atol=1e-5)
    assert np.allclose(np.linalg.norm(long, axis=1), 1.0, atol=1e-5)
    query = embedder.embed_query(QUERY)
    assert int(np.argmax(long @ query)) == long.shape[0] - 1  # the tail's window
    capped = embedder.embed_document_chunks([LONG], max_chunks=2)[0]
    assert capped.shape == (2, 384) and np.allclose(capped, long[:2], atol=1e-5)


def test_a_long_block_is_found_by_its_tail(db_path: Any) -> None:
    with AgentMemoryClient(db_path) as client:
        session = client.create_user("u", "U").create_session("s")
        session.add_memory(facts=[LONG, *OTHERS], async_processing=False)
        found = session.search_memory(query=QUERY, filters={"relevant_k": 3})
        assert found[0].fact == LONG
        best = _best_window_cosine(LONG, QUERY)
        start = float(_windows(LONG)[0] @ default_embedder().embed_query(QUERY))
        assert found[0].similarity == pytest.approx(best, abs=1e-4)
        assert best > start + 0.1  # the start alone would not have matched
        assert _chunk_rows(client) == len(_windows(LONG)) - 1


def test_async_add_update_and_delete_keep_chunks_in_step(db_path: Any) -> None:
    with AgentMemoryClient(db_path) as client:
        session = client.create_user("u", "U").create_session("s")
        (block_id,) = session.add_memory(facts=[LONG]).block_ids  # the worker embeds it
        session.add_memory(facts=OTHERS, async_processing=False)
        assert client.wait_until_processed(60)
        assert _chunk_rows(client) == len(_windows(LONG)) - 1
        assert session.search_memory(query=QUERY)[0].block_id == block_id

        session.update_memory(block_id, fact="The barley harvest was good.", async_processing=False)
        assert _chunk_rows(client) == 0  # a short text has no further windows
        moved = session.search_memory(query=QUERY, filters={"relevant_k": 3})
        own = next(b for b in moved if b.block_id == block_id)
        assert own.similarity is not None and own.similarity < _best_window_cosine(LONG, QUERY)

        session.update_memory(block_id, fact=LONG, async_processing=True)
        assert client.wait_until_processed(60)
        assert _chunk_rows(client) == len(_windows(LONG)) - 1
        session.delete_memory(block_id)
        assert _chunk_rows(client) == 0  # deleted with their block


def test_the_window_limit_is_a_setting(db_path: Any) -> None:
    settings = Settings(max_chunks_per_block=2)
    with AgentMemoryClient(db_path, settings=settings) as client:
        session = client.create_user("u", "U").create_session("s")
        session.add_memory(facts=[LONG], async_processing=False)
        assert _chunk_rows(client) == 1


def test_an_embedder_without_a_window_stores_one_vector(db_path: Any) -> None:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        session = client.create_user("u", "U").create_session("s")
        session.add_memory(facts=[LONG], async_processing=False)
        assert _chunk_rows(client) == 0
        assert session.search_memory(query="golden retriever Biscuit")[0].fact == LONG


def test_reindex_and_export_import_carry_the_chunks(db_path: Any, tmp_path: Any) -> None:
    with AgentMemoryClient(db_path, embedder=HashingEmbedder()) as client:
        session = client.create_user("u", "U").create_session("s")
        session.add_memory(facts=[LONG, *OTHERS], async_processing=False)
        engine: Any = client.backend
        assert engine.reindex(default_embedder()) == 3
        assert _chunk_rows(client) == len(_windows(LONG)) - 1
    with AgentMemoryClient(db_path) as client:
        found = client.get_user("u").search_memory(query=QUERY)
        assert found[0].fact == LONG
        similarity = found[0].similarity
        records = json.loads(json.dumps(list(client.backend.export_records())))  # type: ignore[attr-defined]
    blocks = [r for r in records if r["type"] == "block"]
    assert sorted(len(b["chunk_embeddings"]) for b in blocks) == [0, 0, len(_windows(LONG)) - 1]

    with AgentMemoryClient(tmp_path / "copy.sqlite3") as copy:
        copy.backend.import_records(records)  # type: ignore[attr-defined]
        assert copy.wait_until_processed(30)
        found = copy.get_user("u").search_memory(query=QUERY)
        assert found[0].fact == LONG and found[0].similarity == pytest.approx(similarity)

    older = [{k: v for k, v in r.items() if k != "chunk_embeddings"} for r in records]
    with AgentMemoryClient(tmp_path / "older.sqlite3") as copy:  # an export from before
        copy.backend.import_records(older)  # type: ignore[attr-defined]
        assert copy.get_user("u").count_memories() == 3


def test_an_import_refuses_bad_chunk_vectors(tmp_path: Any) -> None:
    with AgentMemoryClient(tmp_path / "a.sqlite3") as client:
        client.create_user("u", "U").create_session("s").add_memory(
            facts=[LONG], async_processing=False
        )
        records = list(client.backend.export_records())  # type: ignore[attr-defined]
    block = next(r for r in records if r["type"] == "block")
    for bad, message in (
        ("not a list", "must be a list"),
        (["%%%"], "not valid base64"),
        (["AAAA"], "bytes"),
    ):
        with AgentMemoryClient(tmp_path / "b.sqlite3") as target:
            tampered = [r if r is not block else {**r, "chunk_embeddings": bad} for r in records]
            with pytest.raises(Exception, match=message):
                target.backend.import_records(tampered)  # type: ignore[attr-defined]
            assert target.list_users().count == 0  # nothing written


def test_approximate_search_rescores_blocks_matched_by_a_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(7)
    dim, n = 64, 3000
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = rng.standard_normal(dim).astype(np.float32)
    query /= np.linalg.norm(query)
    far = -query  # the long block's own vector points away from the query
    index = SearchIndex(dim)
    entries = [IndexEntry(i, "s", None, False, f"t{i}", v.tobytes()) for i, v in enumerate(vectors)]
    entries.append(IndexEntry(n, "s", None, False, "long", far.tobytes(), None, (query.tobytes(),)))
    index.append(entries)
    monkeypatch.setattr(DenseScorer, "EXACT_LIMIT", 100)
    monkeypatch.setattr(DenseScorer, "OVERSAMPLE", 50)
    visible = np.arange(n + 1)
    scorer = index.dense(query, visible)
    assert not scorer.exact
    top = scorer.top(5)
    assert n in top.tolist()
    assert float(scorer.of(np.array([n]))[0]) == pytest.approx(1.0, abs=1e-5)
    hidden = index.dense(query, np.arange(n))  # the long block filtered out
    assert n not in hidden.top(5).tolist()


def test_another_clients_cached_index_takes_chunks_in(db_path: Any) -> None:
    # Two clients on one store keep separate search indexes, as two processes do.
    with AgentMemoryClient(db_path) as reader, AgentMemoryClient(db_path) as writer:
        reader.create_user("u", "U").create_session("s").add_memory(
            facts=OTHERS, async_processing=False
        )
        assert reader.get_user("u").search_memory(query=QUERY)[0].fact in OTHERS  # cached
        session = writer.get_user("u").get_session("s")
        (block_id,) = session.add_memory(facts=[LONG], async_processing=False).block_ids
        found = reader.get_user("u").search_memory(query=QUERY)  # appended to the cache
        assert found[0].block_id == block_id
        assert found[0].similarity == pytest.approx(_best_window_cosine(LONG, QUERY), abs=1e-4)
        session.update_memory(block_id, fact=TAIL[:20], async_processing=False)
        again = reader.get_user("u").search_memory(query=QUERY, filters={"relevant_k": 3})
        own = next(b for b in again if b.block_id == block_id)
        assert own.similarity == pytest.approx(_best_window_cosine(TAIL[:20], QUERY), abs=1e-4)
