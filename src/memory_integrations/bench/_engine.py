"""``bench engine``: the engine's core operations at 10k blocks in one session."""

from __future__ import annotations

import itertools
import tempfile
import uuid
from pathlib import Path
from typing import Any

from .._models import ChatMessage
from ..client import AgentMemoryClient
from ..embedders import HashingEmbedder
from ._stats import summary, timed

TARGETS = {"add_async_p50_ms": 2.0, "list_200_p50_ms": 10.0}


def bench_engine(blocks: int = 10_000, location: str | Path | None = None) -> dict[str, Any]:
    """Add ``blocks`` blocks (half async, half sync) to one session and time the calls."""
    with tempfile.TemporaryDirectory() as tmp:
        db = location or Path(tmp) / "bench.sqlite3"
        with AgentMemoryClient(db, embedder=HashingEmbedder()) as client:
            user_id = f"bench-{uuid.uuid4().hex[:8]}"
            session = client.create_user(user_id, "Bench").create_session("s")
            counter = itertools.count()

            def add(async_processing: bool) -> None:
                i = next(counter)
                session.add_memory(
                    messages=[
                        ChatMessage(
                            user_content=f"question {i} about topic {i % 97}",
                            assistant_content=f"answer {i} with detail {i % 13}",
                        )
                    ],
                    annotations={"topic": f"t{i % 97}"},
                    async_processing=async_processing,
                )

            add_async = timed(lambda: add(True), blocks // 2)
            add_sync = timed(lambda: add(False), blocks - blocks // 2)
            client.wait_until_processed(600)
            offsets = itertools.cycle(range(0, blocks - 200, 997))
            list_200 = timed(lambda: session.list_memories(limit=200, offset=next(offsets)), 200)
            filter_only = timed(
                lambda: session.search_memory(filters={"annotations": {"topic": "t5"}}), 100
            )
            query = timed(lambda: session.search_memory(query="question about topic 42"), 100)
            client.delete_user(user_id)
        figures: dict[str, Any] = {
            "blocks": blocks,
            "add_async": summary(add_async),
            "add_sync": summary(add_sync),
            "list_200": summary(list_200),
            "filter_only_search": summary(filter_only),
            "query_search": summary(query),
            "embedder": "hashing-v1-384",
            "storage": client.database.dialect,
        }
        figures["targets"] = {
            "add_async_p50_ms": {
                "target": TARGETS["add_async_p50_ms"],
                "measured": figures["add_async"]["p50_ms"],
            },
            "list_200_p50_ms": {
                "target": TARGETS["list_200_p50_ms"],
                "measured": figures["list_200"]["p50_ms"],
            },
        }
        return figures
