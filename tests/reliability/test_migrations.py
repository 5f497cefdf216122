"""Schema migrations: a store written at every past schema version opens with its data.

For each engine schema version we build a database exactly as that release left it (its
migration scripts, then rows written with that version's columns), open it with the current
code, and check every row reads back and stays searchable. Add an entry to ``ROWS_AT`` with
each new migration script.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.storage import open_database, render_migrations
from memory_integrations.storage._engine_schema import ENGINE_MIGRATIONS

from ..conftest import store_location

US = 1_000_000
# Before step 5 the server kept a block's prompt in a reserved metadata key.
OLD_STAMPED_METADATA = (
    '{"_agentmemory":{"context_required":null,"prompt":"old-prompt@2"},"tier":"x"}'
)
EMBEDDER = HashingEmbedder()


def _rows_v1(cur: Any, vector: Any) -> None:
    cur.execute(
        "INSERT INTO mi_meta (key, value) VALUES ('embedder_name', ?), ('embedder_dim', ?)",
        (EMBEDDER.name, str(EMBEDDER.dim)),
    )
    cur.execute(
        "INSERT INTO mi_users (user_id, name, metadata, created_at) VALUES (?, ?, ?, ?)",
        ("old-user", "Old", '{"tier":"gold"}', 1_600_000_000 * US),
    )
    cur.execute(
        "INSERT INTO mi_sessions (user_id, session_id, start_time, annotations) "
        "VALUES (?, ?, ?, ?)",
        ("old-user", "old-session", 1_600_000_000 * US, '{"topic":"travel"}'),
    )
    cur.execute(
        "INSERT INTO mi_blocks (block_id, user_id, session_id, kind, fact, text, annotations, "
        "metadata, ingested_at, updated_at, status, embedding, index_version) "
        "VALUES (?, ?, ?, 'fact', ?, ?, ?, ?, ?, ?, 'ready', ?, 1)",
        (
            "b-ready",
            "old-user",
            "old-session",
            "Prefers window seats",
            "Prefers window seats",
            '{"k":"v"}',
            OLD_STAMPED_METADATA,
            1_600_000_001 * US,
            1_600_000_001 * US,
            vector,
        ),
    )
    cur.execute(
        "INSERT INTO mi_blocks (block_id, user_id, session_id, kind, role, content, text, "
        "ingested_at, updated_at, status, fail_count) "
        "VALUES (?, ?, ?, 'message', 'user', ?, ?, ?, ?, 'processing', 1)",
        (
            "b-pending",
            "old-user",
            "old-session",
            "I am vegetarian",
            "I am vegetarian",
            1_600_000_002 * US,
            1_600_000_002 * US,
        ),
    )


def _rows_with_generation(cur: Any, vector: Any) -> None:
    _rows_v1(cur, vector)
    cur.execute("UPDATE mi_users SET generation = 'g-old' WHERE user_id = 'old-user'")


CHUNK_TEXT = "Allergic to peanuts"  # the second window of the ready block, from step 4


def _rows_with_chunks(cur: Any, vector: Any) -> None:
    _rows_with_generation(cur, vector)
    chunk = EMBEDDER.embed_documents([CHUNK_TEXT])[0]
    cur.execute(
        "INSERT INTO mi_block_chunks (seq, chunk, embedding) "
        "SELECT seq, 1, ? FROM mi_blocks WHERE block_id = 'b-ready'",
        (chunk if isinstance(vector, np.ndarray) else chunk.tobytes(),),
    )


def _rows_with_extraction(cur: Any, vector: Any) -> None:
    _rows_with_chunks(cur, vector)
    cur.execute(
        "UPDATE mi_blocks SET metadata = ?, prompt_id = 'old-prompt', prompt_vid = 2, "
        "summary = 'Likes to sit by the window.', contexts = '[\"seating\"]' "
        "WHERE block_id = 'b-ready'",
        ('{"tier":"x"}',),
    )


# Per dialect and schema version, how that release wrote rows. Step 2 only added a
# generated column and indexes (on PostgreSQL; nothing on SQLite), so its rows are written
# as in step 1; the user generation came with step 3, long blocks' chunks with step 4,
# extraction with step 5. Step 6 (managed facts) added columns and a table that rows of
# earlier versions leave empty, so its rows are written as in step 5.
ROWS_BY_STEP = {
    1: _rows_v1,
    2: _rows_v1,
    3: _rows_with_generation,
    4: _rows_with_chunks,
    5: _rows_with_extraction,
    6: _rows_with_extraction,
}
ROWS_AT = {"sqlite": ROWS_BY_STEP, "postgres": ROWS_BY_STEP}
SCRIPTS = {d: render_migrations(ENGINE_MIGRATIONS, d) for d in ("sqlite", "postgres")}


def test_every_schema_version_has_its_rows() -> None:
    for dialect, scripts in SCRIPTS.items():
        assert len(ROWS_AT[dialect]) == len(scripts), f"add the {dialect} rows to ROWS_AT"


@pytest.mark.parametrize(
    ("dialect", "version"),
    [(dialect, version) for dialect, rows in ROWS_AT.items() for version in sorted(rows)],
)
def test_store_from_every_past_version_opens_with_its_data(
    tmp_path: Any, request: pytest.FixtureRequest, dialect: str, version: int
) -> None:
    with store_location(dialect, tmp_path, request) as db_path:
        _open_store_written_at(db_path, dialect, version)


def _open_store_written_at(db_path: Any, storage: str, version: int) -> None:
    scripts = SCRIPTS[storage]
    database = open_database(str(db_path))
    database.migrate("engine", scripts[:version])
    vector = EMBEDDER.embed_documents(["Prefers window seats"])[0]
    with database.transaction() as cur:
        ROWS_AT[storage][version](cur, vector if storage == "postgres" else vector.tobytes())
    database.close()

    with AgentMemoryClient(db_path, embedder=EMBEDDER) as client:
        user = client.get_user("old-user")
        assert user.metadata == {"tier": "gold"}
        session = user.get_session("old-session")
        assert session.annotations == {"topic": "travel"}
        assert client.wait_until_processed(30)  # the pending block is re-queued and embedded
        blocks = {b.block_id: b for b in session.list_memories().memory_blocks}
        assert blocks["b-ready"].fact == "Prefers window seats"
        assert blocks["b-ready"].annotations == {"k": "v"}
        ready = blocks["b-ready"]  # an old prompt stamp moved out of the metadata
        assert (ready.metadata, ready.prompt_id, ready.prompt_vid) == (
            {"tier": "x"},
            "old-prompt",
            2,
        )
        assert blocks["b-pending"].message.content == "I am vegetarian"
        found = session.search_memory(query="window seats").memory_blocks
        assert found[0].block_id == "b-ready"
        exact = session.search_memory(query="Prefers window seats").memory_blocks[0]
        assert np.isclose(exact.similarity, 1.0, atol=1e-5)  # the stored vector is intact
        if version >= 4:  # a stored chunk is searched as the block's
            by_chunk = session.search_memory(query=CHUNK_TEXT).memory_blocks[0]
            assert by_chunk.block_id == "b-ready"
            assert np.isclose(by_chunk.similarity, 1.0, atol=1e-5)
        if version >= 5:  # summary and contexts are shown and keyword-searched
            assert ready.summary == "Likes to sit by the window." and ready.contexts == ["seating"]
            assert session.search_memory(query="seating")[0].block_id == "b-ready"
