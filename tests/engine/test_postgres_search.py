"""PostgreSQL ranks in the database: an HNSW index for the dense half, full text for words.

The shared search tests run on PostgreSQL too; these check what only exists there: the
index is built with the configured parameters, the planner can use it for our queries, and
a small user's search through it (iterative scans) is complete and exact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memory_integrations import AgentMemoryClient, Settings
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.storage._query import BlockQuery

from ..conftest import store_location

EMBEDDER = HashingEmbedder()


@pytest.fixture
def pg_url(tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    with store_location("postgres", tmp_path, request) as url:
        yield url


def _engine(client: AgentMemoryClient) -> Any:
    return client.backend


def test_hnsw_index_is_built_with_the_configured_parameters(pg_url: str) -> None:
    settings = Settings(hnsw_m=8, hnsw_ef_construction=32)
    with (
        AgentMemoryClient(pg_url, embedder=EMBEDDER, settings=settings) as client,
        client.database.read() as cur,
    ):
        definition = cur.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?",
            ("mi_blocks_hnsw_384",),
        ).fetchone()[0]
        version = cur.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
        ).fetchone()[0]
    assert "USING hnsw" in definition and "vector_cosine_ops" in definition
    assert "m='8'" in definition and "ef_construction='32'" in definition
    assert "vector_dims(embedding) = 384" in definition
    assert tuple(int(p) for p in version.split(".")) >= (0, 8)  # iterative scans


def test_long_blocks_chunks_are_searched_through_their_own_hnsw_index(pg_url: str) -> None:
    forced = pg_url + "%20-cenable_sort%3Doff"  # walk the index even for a few rows
    with AgentMemoryClient(forced, embedder=EMBEDDER) as client:
        search = _engine(client)._database_search
        visible, params = search._visible(BlockQuery("u", now=2**62, statuses=["ready"]))
        query = np.asarray(EMBEDDER.embed_query("x"), np.float32)
        with client.database.transaction() as cur:
            plan = "\n".join(
                r[0]
                for r in cur.execute(
                    "EXPLAIN " + search._nearest_sql(visible, "c"), [*params, query, 50]
                )
            )
    assert "Index Scan using mi_block_chunks_hnsw_384" in plan, plan


def _fill(client: AgentMemoryClient, user_id: str, count: int, topic: str) -> list[str]:
    session = client.create_user(user_id, user_id).create_session("s")
    texts = [f"{topic} note number {i} about item {i * 7 % 31}" for i in range(count)]
    for first in range(0, count, 500):
        session.add_memory(facts=texts[first : first + 500])
    return texts


@pytest.mark.parametrize("uses_index", [True, False], ids=["hnsw", "exact"])
def test_a_small_users_search_is_complete_and_exact(pg_url: str, uses_index: bool) -> None:
    # enable_sort=off makes the planner walk the HNSW index even for a few rows: without
    # iterative scans, a 40-block user among 1,540 would get ~3 rows from ef_search=100.
    forced = pg_url + "%20-cenable_sort%3Doff"  # appended to the schema's options
    with AgentMemoryClient(forced, embedder=EMBEDDER) as client:
        search = _engine(client)._database_search
        search.uses_index = uses_index  # False: the exact path older pgvector versions take
        _fill(client, "big", 1_500, "harbour")
        small = _fill(client, "small", 40, "mountain")
        assert client.wait_until_processed(60)
        query = "the of and"  # only stopwords: no keyword half, a pure cosine ranking
        found = client.get_user("small").search_memory(query, {"relevant_k": 10}).memory_blocks

        vectors = np.asarray(EMBEDDER.embed_documents(small), np.float32)
        query_vector = np.asarray(EMBEDDER.embed_query(query), np.float32)
        expected = [small[i] for i in np.argsort(-(vectors @ query_vector), kind="stable")[:10]]
        assert [b.fact for b in found] == expected

        visible, params = search._visible(BlockQuery("small", now=2**62, statuses=["ready"]))
        with client.database.transaction() as cur:
            plan = "\n".join(
                r[0]
                for r in cur.execute(
                    "EXPLAIN " + search._nearest_sql(visible), [*params, query_vector, 50]
                )
            )
        assert ("Index Scan using mi_blocks_hnsw_384" in plan) == uses_index, plan


def test_keyword_half_uses_full_text_lexemes(pg_url: str) -> None:
    with AgentMemoryClient(pg_url, embedder=EMBEDDER) as client:
        session = client.create_user("u", "U").create_session("s")
        session.add_memory(
            facts=[
                "Booked a flight to Lisbon for the conference",
                "Prefers aisle seats on long trips",
                "Allergic to peanuts",
            ]
        )
        assert client.wait_until_processed(60)
        # "flights" and "booking" share stems with the first fact, nothing else does.
        found = session.search_memory(query="booking flights").memory_blocks
        assert found[0].fact == "Booked a flight to Lisbon for the conference"
        with client.database.read() as cur:
            words = cur.execute(
                "SELECT tsv::text FROM mi_blocks WHERE fact LIKE 'Booked%'"
            ).fetchone()[0]
        assert "'flight'" in words and "'book'" in words


def test_reindex_in_process_moves_search_to_the_new_dimension(pg_url: str) -> None:
    with AgentMemoryClient(pg_url, embedder=EMBEDDER) as client:
        session = client.create_user("u", "U").create_session("s")
        session.add_memory(facts=["alpha", "beta gamma"], async_processing=False)
        engine = _engine(client)
        assert engine.reindex(HashingEmbedder(64)) == 2
        found = session.search_memory(query="beta gamma").memory_blocks
        assert found[0].fact == "beta gamma"
        assert found[0].similarity == pytest.approx(1.0, abs=1e-5)
        with client.database.read() as cur:
            names = {
                r[0]
                for r in cur.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                )
            }
        assert {"mi_blocks_hnsw_384", "mi_blocks_hnsw_64"} <= names
