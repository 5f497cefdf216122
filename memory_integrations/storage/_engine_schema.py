"""The engine's tables, written once for SQLite and PostgreSQL (see ``_dialect``).

Append new steps; never edit a released one. Released: SQLite at step 1, PostgreSQL at
step 2; step 2 exists on PostgreSQL only, so SQLite stores pass it with nothing to do.
"""

from __future__ import annotations

from ._dialect import Migration

ENGINE_MIGRATIONS: list[Migration] = [
    # 1: users, sessions and blocks; on PostgreSQL vectors are pgvector and annotations
    # have a GIN index.
    (
        """
CREATE TABLE mi_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE mi_users (
    user_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    metadata TEXT,
    created_at {bigint} NOT NULL,
    index_version {bigint} NOT NULL DEFAULT 0,
    reset_version {bigint} NOT NULL DEFAULT 0
);
CREATE TABLE mi_sessions (
    user_id TEXT NOT NULL REFERENCES mi_users(user_id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    start_time {bigint} NOT NULL,
    end_time {bigint},
    annotations TEXT,
    metadata TEXT,
    blocks_ttl {bigint},
    PRIMARY KEY (user_id, session_id)
);
CREATE TABLE mi_blocks (
    seq {serial},
    block_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('fact', 'message')),
    fact TEXT,
    user_content TEXT,
    assistant_content TEXT,
    role TEXT,
    content TEXT,
    name TEXT,
    text TEXT NOT NULL,
    annotations TEXT NOT NULL DEFAULT '{}',
    metadata TEXT,
    agent_id TEXT,
    created_at {bigint},
    ingested_at {bigint} NOT NULL,
    updated_at {bigint} NOT NULL,
    last_queued_at {bigint},
    expires_at {bigint},
    status TEXT NOT NULL,
    fail_count INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until {bigint},
    embedding {vector},
    index_version {bigint} NOT NULL DEFAULT 0,
    FOREIGN KEY (user_id, session_id)
        REFERENCES mi_sessions(user_id, session_id) ON DELETE CASCADE
);
CREATE INDEX mi_blocks_scope ON mi_blocks(user_id, session_id, ingested_at, expires_at);
CREATE INDEX mi_blocks_user_ingested ON mi_blocks(user_id, ingested_at, expires_at);
CREATE INDEX mi_blocks_user_created ON mi_blocks(user_id, created_at);
CREATE INDEX mi_blocks_user_version ON mi_blocks(user_id, index_version);
CREATE INDEX mi_blocks_expires ON mi_blocks(expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX mi_blocks_pending ON mi_blocks(status, seq) WHERE status = 'processing';
""",
        {
            "postgres": "CREATE INDEX mi_blocks_annotations ON mi_blocks "
            "USING gin ((annotations::jsonb) jsonb_path_ops);"
        },
    ),
    # 2: database-side search. Each block's full-text vector (the keyword half of hybrid
    # search) and an index for a session's turn order (the neighbours of a hit). The HNSW
    # index depends on the embedder's dimension, so the engine creates it at open.
    # The partial index lets BM25 count a user's ready blocks from the index alone.
    {
        "postgres": """
ALTER TABLE mi_blocks ADD COLUMN tsv tsvector
    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED;
CREATE INDEX mi_blocks_tsv ON mi_blocks USING gin (tsv);
CREATE INDEX mi_blocks_session_order ON mi_blocks(user_id, session_id, seq);
CREATE INDEX mi_blocks_ready_user ON mi_blocks(user_id) WHERE status = 'ready';
""",
    },
    # 3: a user's index generation, new whenever the user is (re)created, so a search
    # index cached by another process for an earlier user of the same id is never reused.
    """
ALTER TABLE mi_users ADD COLUMN generation TEXT NOT NULL DEFAULT '';
""",
    # 4: the further windows of a block longer than the embedder's window (the first is
    # mi_blocks.embedding); written with the block's embedding, deleted with the block.
    """
CREATE TABLE mi_block_chunks (
    seq {bigint} NOT NULL REFERENCES mi_blocks(seq) ON DELETE CASCADE,
    chunk INTEGER NOT NULL,
    embedding {vector} NOT NULL,
    PRIMARY KEY (seq, chunk)
);
""",
    # 5: semantic extraction. A block's summary and contexts (a JSON list), the prompt that
    # extracted it (or is to), and whether extraction must run; these replace the server's
    # reserved "_agentmemory" metadata key, whose stamps the engine moves at open. The
    # prompt registry's tables (created by the server's "prompts" component before) become
    # the engine's. On PostgreSQL the keyword vector also covers summary and contexts.
    (
        """
ALTER TABLE mi_blocks ADD COLUMN summary TEXT;
ALTER TABLE mi_blocks ADD COLUMN contexts TEXT;
ALTER TABLE mi_blocks ADD COLUMN prompt_id TEXT;
ALTER TABLE mi_blocks ADD COLUMN prompt_vid INTEGER;
ALTER TABLE mi_blocks ADD COLUMN context_required INTEGER;
CREATE TABLE IF NOT EXISTS mi_prompts (
    prompt_id TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    annotations TEXT,
    current_vid INTEGER NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    last_updated_at {bigint} NOT NULL
);
CREATE TABLE IF NOT EXISTS mi_prompt_versions (
    prompt_id TEXT NOT NULL REFERENCES mi_prompts(prompt_id) ON DELETE CASCADE,
    vid INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    updated_at {bigint} NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (prompt_id, vid)
);
""",
        {
            "postgres": """
ALTER TABLE mi_blocks DROP COLUMN tsv;
ALTER TABLE mi_blocks ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
    to_tsvector('english'::regconfig,
        text || ' ' || coalesce(summary, '') || ' ' || coalesce(contexts, ''))
) STORED;
CREATE INDEX mi_blocks_tsv ON mi_blocks USING gin (tsv);
"""
        },
    ),
    # 6: managed facts. Whether a block's facts are managed (a message yields facts, a fact
    # is reconciled with the user's known ones), the message a fact came from, and the
    # history of every change made to the user's facts.
    """
ALTER TABLE mi_blocks ADD COLUMN manage_facts INTEGER;
ALTER TABLE mi_blocks ADD COLUMN source_block_id TEXT;
CREATE TABLE mi_fact_history (
    id {serial},
    user_id TEXT NOT NULL REFERENCES mi_users(user_id) ON DELETE CASCADE,
    block_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('add', 'update', 'delete')),
    old_text TEXT,
    new_text TEXT,
    source_block_id TEXT,
    actor TEXT NOT NULL,
    at {bigint} NOT NULL
);
CREATE INDEX mi_fact_history_user ON mi_fact_history(user_id, block_id);
""",
]
