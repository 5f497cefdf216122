"""The store's tables and how namespaces, times and scopes look in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ..storage import render_migrations

COMPONENT = "langgraph_store"

# ``{serial}``, ``{collate}``, ``{vector}`` are the types that differ by dialect (storage's
# ``render_migrations`` fills them in).
MIGRATIONS: list[str] = [
    """
CREATE TABLE langgraph_store_state (
    id INTEGER PRIMARY KEY,
    version BIGINT NOT NULL,
    reset_version BIGINT NOT NULL,
    embedder_name TEXT,
    embedder_dim INTEGER
);
INSERT INTO langgraph_store_state (id, version, reset_version) VALUES (1, 0, 0);
CREATE TABLE langgraph_store_items (
    item_id {serial},
    namespace TEXT{collate} NOT NULL,
    key TEXT{collate} NOT NULL,
    value TEXT NOT NULL,
    index_fields TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    expires_at BIGINT,
    ttl_minutes DOUBLE PRECISION,
    version BIGINT NOT NULL,
    vectors_version BIGINT NOT NULL,
    UNIQUE (namespace, key)
);
CREATE INDEX langgraph_store_items_updated ON langgraph_store_items (namespace, updated_at);
CREATE INDEX langgraph_store_items_version ON langgraph_store_items (version);
CREATE INDEX langgraph_store_items_expires
    ON langgraph_store_items (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE langgraph_store_vectors (
    vector_id {serial},
    item_id BIGINT NOT NULL REFERENCES langgraph_store_items (item_id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    text TEXT NOT NULL,
    version BIGINT NOT NULL,
    embedding {vector}
);
CREATE INDEX langgraph_store_vectors_item ON langgraph_store_vectors (item_id);
CREATE INDEX langgraph_store_vectors_version ON langgraph_store_vectors (version);
""",
    # v2: the user an item belongs to, recorded when it is written (see ``_owner``); what
    # ``erase`` removes.
    """
ALTER TABLE langgraph_store_items ADD COLUMN owner TEXT;
CREATE INDEX langgraph_store_items_owner ON langgraph_store_items (owner) WHERE owner IS NOT NULL;
""",
]


def migrations_for(dialect: str) -> list[str]:
    """The migration scripts rendered for ``dialect`` (``"sqlite"`` or ``"postgres"``)."""
    return render_migrations(MIGRATIONS, dialect)


_US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CHUNK = 500  # ids per IN (...) list
_ITEM_COLUMNS = "item_id, namespace, key, value, created_at, updated_at, ttl_minutes"
_NOT_EXPIRED = "(expires_at IS NULL OR expires_at > ?)"


def _to_datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(us))


def _ns_text(namespace: Sequence[str]) -> str:
    return ".".join(namespace)


def _ns_tuple(text: str) -> tuple[str, ...]:
    return tuple(text.split("."))


def _scope(prefix: str) -> tuple[str, list[Any]]:
    """SQL for "namespace is ``prefix`` or below it" (whole labels; '/' sorts right after '.')."""
    if not prefix:
        return "1 = 1", []
    return "(namespace = ? OR (namespace >= ? AND namespace < ?))", [
        prefix,
        prefix + ".",
        prefix + "/",
    ]
