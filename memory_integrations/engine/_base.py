"""What every part of the engine shares: its state, clock, storage checks and row models."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from .._models import (
    MemoryBlock,
    Session,
    User,
)
from .._settings import Settings
from ..embedders import ChunkingEmbedder, Embedder
from ..errors import (
    AgentMemoryError,
    EmbedderMismatchError,
    EmbeddingError,
    NotFoundError,
)
from ..extraction import Extractor
from ..retrieval import (
    IndexCache,
)
from ..storage import (
    EPOCH,
    BlockRow,
    EngineStore,
    HnswParameters,
    PostgresSearch,
    SqlDatabase,
    from_us,
)
from ._processing import ProcessingWorker
from ._prompts import PromptRegistry
from ._rows import (
    stored_annotations,
    stored_contexts,
    stored_message,
    stored_metadata,
    stored_status,
)

log = logging.getLogger("memory_integrations.engine")
_US = 1_000_000


def further_windows(windows: np.ndarray) -> list[bytes]:
    """The stored chunk vectors of a block embedded as ``windows`` (all rows but the first,
    which is the block's own vector)."""
    return [row.tobytes() for row in windows[1:]]


class EngineBase:
    """The engine's state and the helpers its parts share (see :class:`Engine`)."""

    settings: Settings
    database: SqlDatabase
    embedder: Embedder
    _store: EngineStore
    _clock: Callable[[], float]
    _started: float
    _indexes: IndexCache
    _database_search: PostgresSearch | None
    _warned_mismatch: bool
    _worker: ProcessingWorker | None
    extractor: Extractor | None
    prompts: PromptRegistry
    _worker_ref: ProcessingWorker

    # --- helpers ------------------------------------------------------------------------

    def _index_budget(self) -> int:
        return int(self.settings.index_memory_mb * 2**20)

    def _open_database_search(self, dim: int) -> PostgresSearch | None:
        """On PostgreSQL the database ranks (HNSW + full text): app servers stay stateless."""
        if self.database.dialect != "postgres":
            return None
        search = PostgresSearch(
            self._store,
            dim,
            HnswParameters(
                m=self.settings.hnsw_m,
                ef_construction=self.settings.hnsw_ef_construction,
                ef_search=self.settings.hnsw_ef_search,
            ),
        )
        search.ensure_index()
        return search

    def _now(self) -> int:
        return int(self._clock() * _US)

    def _check_embedder(self) -> None:
        name, dim = self.embedder.name, self.embedder.dim
        with self.database.transaction() as cur:
            stored_name = self._store.get_meta(cur, "embedder_name")
            if stored_name is None or not self._store.has_vectors(cur):
                self._store.set_meta(cur, "embedder_name", name)
                self._store.set_meta(cur, "embedder_dim", str(dim))
                return
            self._require_stored_embedder(cur)

    def _require_stored_embedder(self, cur: Any) -> None:
        """Raise unless the store's vectors come from this engine's embedder (another
        process may have re-embedded it since this one opened)."""
        name, dim = self.embedder.name, self.embedder.dim
        stored_name = self._store.get_meta(cur, "embedder_name")
        stored_dim = self._store.get_meta(cur, "embedder_dim")
        if stored_name is not None and (stored_name != name or stored_dim != str(dim)):
            raise EmbedderMismatchError(
                f"{self.database.location} holds vectors from embedder {stored_name!r} "
                f"({stored_dim}-d), but this client uses {name!r} ({dim}-d). Pass the same "
                f"embedder, or re-embed the store with `memory-integrations reindex --path "
                f"{self.database.location} --embedder <spec>`"
            )

    def _require_user(self, cur: Any, user_id: str) -> Any:
        row = self._store.get_user(cur, user_id)
        if row is None:
            raise NotFoundError(
                f"user {user_id!r} does not exist; create it with client.create_user(...)"
            )
        return row

    def _require_session(self, cur: Any, user_id: str, session_id: str) -> Any:
        row = self._store.get_session(cur, user_id, session_id)
        if row is None:
            self._require_user(cur, user_id)
            raise NotFoundError(
                f"session {session_id!r} of user {user_id!r} does not exist; create it with "
                "user.create_session(...)"
            )
        return row

    def _user_model(self, cur: Any, row: Any) -> User:
        return User(
            id=row[0],
            name=str(row[1]),
            metadata=stored_metadata(row[2]),
            created_at=from_us(row[3]),
            sessions=self._store.session_ids_of(cur, row[0]),
        )

    @staticmethod
    def _session_model(row: Any) -> Session:
        notes = stored_annotations(row[4]) if row[4] is not None else None
        return Session(
            user_id=row[0],
            session_id=row[1],
            start_time=from_us(row[2]) or EPOCH,
            end_time=from_us(row[3]),
            annotations=notes,
            metadata=stored_metadata(row[5]),
            blocks_ttl=row[6] if isinstance(row[6], int) else None,
        )

    @staticmethod
    def block_model(
        row: BlockRow, rel_score: float | None = None, similarity: float | None = None
    ) -> MemoryBlock:
        is_fact = row.kind != "message"
        ingested = from_us(row.ingested_at) or EPOCH
        fields: dict[str, Any] = dict(
            block_id=str(row.block_id),
            user_id=str(row.user_id),
            session_id=str(row.session_id),
            fact=(row.fact if row.fact is not None else str(row.text or "")) if is_fact else None,
            message=None if is_fact else stored_message(row),
            annotations=stored_annotations(row.annotations),
            metadata=stored_metadata(row.metadata),
            agent_id=row.agent_id,
            created_at=from_us(row.created_at) or ingested,
            ingested_at=ingested,
            updated_at=from_us(row.updated_at),
            last_queued_at=from_us(row.last_queued_at),
            expires_at=from_us(row.expires_at),
            status=stored_status(row.status),
            fail_count=row.fail_count if isinstance(row.fail_count, int) else 0,
            rel_score=rel_score,
            similarity=similarity,
            summary=row.summary,
            contexts=stored_contexts(row.contexts),
            prompt_id=row.prompt_id,
            prompt_vid=row.prompt_vid,
            source_block_id=row.source_block_id,
        )
        try:
            return MemoryBlock(**fields)
        except Exception:  # a row an older version wrote: show it as it is
            log.warning("stored block %r breaks today's rules; shown as stored", row.block_id)
            return MemoryBlock.model_construct(**fields)

    def _embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's vectors as a ``(windows, dim)`` matrix: one row, or, from an embedder
        with a window (``ChunkingEmbedder``) and a text longer than it, one row per
        overlapping window. The first row is the block's vector, the others its chunks."""
        texts = list(texts)
        most = self.settings.max_chunks_per_block
        chunking = callable(getattr(self.embedder, "embed_document_chunks", None))
        try:
            if chunking:
                windows = cast(ChunkingEmbedder, self.embedder).embed_document_chunks(
                    texts, max_chunks=most
                )
            else:
                single = self.embedder.embed_documents(texts)
        except AgentMemoryError:
            raise
        except Exception as exc:
            raise EmbeddingError(
                f"embedder {self.embedder.name!r} failed: {exc}; retry, or check the model"
            ) from exc
        if not chunking:
            self._check_shape(single, len(texts))
            return [single[i : i + 1] for i in range(len(texts))]
        if len(windows) != len(texts):
            raise EmbeddingError(
                f"embedder {self.embedder.name!r} returned vectors for {len(windows)} texts, "
                f"expected {len(texts)}"
            )
        for matrix in windows:
            self._check_shape(matrix, None)
        return [np.ascontiguousarray(m[:most], dtype=np.float32) for m in windows]

    def _check_shape(self, vectors: np.ndarray, rows: int | None) -> None:
        """Raise ``EmbeddingError`` unless ``vectors`` is ``(rows, dim)`` (``rows`` >= 1
        when None)."""
        shape = getattr(vectors, "shape", None)
        dim = self.embedder.dim
        fits = (
            shape is not None
            and len(shape) == 2
            and shape[1] == dim
            and (shape[0] == rows if rows is not None else shape[0] >= 1)
        )
        if not fits:
            expected = f"({rows}, {dim})" if rows is not None else f"(1 or more, {dim})"
            raise EmbeddingError(
                f"embedder {self.embedder.name!r} returned shape {shape}, expected {expected}"
            )

    def _embed_query(self, query: str) -> np.ndarray:
        try:
            vector = self.embedder.embed_query(query)
        except AgentMemoryError:
            raise
        except Exception as exc:
            raise EmbeddingError(f"embedder {self.embedder.name!r} failed: {exc}") from exc
        return np.asarray(vector, dtype=np.float32).reshape(-1)
