"""Engine tables on SQLite. Append new scripts; never edit a released one."""

ENGINE_MIGRATIONS: list[str] = [
    # v1
    """
CREATE TABLE mi_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE mi_users (
    user_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    metadata TEXT,
    created_at INTEGER NOT NULL,
    index_version INTEGER NOT NULL DEFAULT 0,
    reset_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE mi_sessions (
    user_id TEXT NOT NULL REFERENCES mi_users(user_id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    end_time INTEGER,
    annotations TEXT,
    metadata TEXT,
    blocks_ttl INTEGER,
    PRIMARY KEY (user_id, session_id)
);
CREATE TABLE mi_blocks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
    created_at INTEGER,
    ingested_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_queued_at INTEGER,
    expires_at INTEGER,
    status TEXT NOT NULL,
    fail_count INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until INTEGER,
    embedding BLOB,
    index_version INTEGER NOT NULL DEFAULT 0,
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
    # v2: a user's index generation, new whenever the user is (re)created, so a search
    # index cached by another process for an earlier user of the same id is never reused.
    """
ALTER TABLE mi_users ADD COLUMN generation TEXT NOT NULL DEFAULT '';
""",
]
