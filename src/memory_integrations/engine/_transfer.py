"""Export and import of whole users as JSON Lines records, streamed.

One record per line, in dependency order: a ``user``, its ``session`` records, then its
``block`` records. Blocks carry their vector (base64 float32) and the embedder's name, so an
import into a store with the same embedder is exact and needs no re-embedding; into a store
with another embedder, blocks are re-queued for processing.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import ConflictError, ValidationError

if TYPE_CHECKING:
    from ._engine import Engine

FORMAT = "memory-integrations/export-v1"
_PAGE = 500


def export_records(engine: Engine, user_id: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield the records of one user (or of every user), oldest first."""
    store, database = engine._store, engine.database
    yield {
        "type": "header",
        "format": FORMAT,
        "embedder": engine.embedder.name,
        "dim": engine.embedder.dim,
    }
    if user_id is not None:
        with database.read() as cur:
            if store.get_user(cur, user_id) is None:
                engine.get_user(user_id)  # raises the usual NotFoundError
        users: Iterable[str] = [user_id]
    else:
        users = _all_user_ids(engine)
    for uid in users:
        with database.read() as cur:
            user = store.user_row(cur, uid)
            sessions = store.session_rows(cur, uid)
        if user is None:  # deleted while exporting
            continue
        yield {"type": "user", **user}
        for session in sessions:
            yield {"type": "session", **session}
        after = 0
        while True:
            with database.read() as cur:
                blocks = store.block_rows(cur, uid, after, _PAGE)
            if not blocks:
                break
            for block in blocks:
                after = block.pop("seq")
                blob = block.pop("embedding")
                block["embedding"] = None if blob is None else base64.b64encode(blob).decode()
                yield {"type": "block", **block}


def _all_user_ids(engine: Engine) -> Iterator[str]:
    after = ""
    while True:
        with engine.database.read() as cur:
            page = engine._store.user_ids(cur, after, _PAGE)
        if not page:
            return
        yield from page
        after = page[-1]


def count_records(engine: Engine, user_id: str | None = None) -> int:
    """How many block records an export will hold (for progress bars)."""
    with engine.database.read() as cur:
        if user_id is None:
            row = cur.execute("SELECT count(*) FROM mi_blocks").fetchone()
        else:
            row = cur.execute(
                "SELECT count(*) FROM mi_blocks WHERE user_id = ?", (user_id,)
            ).fetchone()
    return int(row[0])


def import_records(engine: Engine, records: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Insert exported records. Existing users are refused (nothing of them is written)."""
    counts = {"users": 0, "sessions": 0, "blocks": 0, "requeued": 0}
    same_embedder = True
    pending: list[int] = []
    store = engine._store
    batch: list[dict[str, Any]] = []

    def flush() -> None:
        if not batch:
            return
        with engine.database.transaction() as cur:
            for record in batch:
                kind = record.pop("type")
                if kind == "user":
                    if not store.insert_user_row(cur, record):
                        raise ConflictError(
                            f"user {record['user_id']!r} already exists in the target store; "
                            "erase it first or import into an empty store"
                        )
                    counts["users"] += 1
                elif kind == "session":
                    store.insert_session_row(cur, record)
                    counts["sessions"] += 1
                else:
                    pending.extend(_insert_block(engine, cur, record, same_embedder, counts))
            for user in {r["user_id"] for r in batch if "user_id" in r}:
                store.bump_index_version(cur, user, reset=True)
        batch.clear()

    for number, record in enumerate(records, 1):
        kind = record.get("type") if isinstance(record, dict) else None
        if kind == "header":
            if record.get("format") != FORMAT:
                raise ValidationError(f"line {number}: not a {FORMAT} file")
            same_embedder = (
                record.get("embedder") == engine.embedder.name
                and record.get("dim") == engine.embedder.dim
            )
            continue
        if kind not in ("user", "session", "block"):
            raise ValidationError(f"line {number}: unknown record type {kind!r}")
        batch.append(dict(record))
        if len(batch) >= _PAGE:
            flush()
    flush()
    if pending and engine._worker is not None:
        engine._worker.submit(pending)
    return counts


def _insert_block(
    engine: Engine,
    cur: Any,
    record: dict[str, Any],
    same_embedder: bool,
    counts: dict[str, int],
) -> list[int]:
    encoded = record.pop("embedding", None)
    embedding = None if encoded is None else base64.b64decode(encoded)
    requeue = record["status"] == "ready" and not same_embedder
    if requeue or (embedding is None and record["status"] == "ready"):
        record["status"], embedding = "processing", None
    record.update(embedding=embedding if same_embedder else None, index_version=0)
    (seq,) = engine._store.insert_blocks(cur, [record])
    counts["blocks"] += 1
    if record["status"] == "processing":
        counts["requeued"] += 1
        return [seq]
    return []
