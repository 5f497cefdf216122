"""``bench locomo``: evidence recall of the default search on a LoCoMo file.

Protocol: one user per conversation, one session per LoCoMo session, each turn one block
(a role-tagged message named after its speaker) with the session date as ``created_at`` and
its ``dia_id`` in annotations; every question of categories 1 to 4 is searched over all of the
user's sessions and counts a hit at k when an evidence ``dia_id`` is among the top k.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._models import ChatMessage, MessageRole
from ..client import AgentMemoryClient
from ._stats import percentile

KS = (1, 5, 10)
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}


def _session_date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)
    except ValueError:
        return None


def load_locomo(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    if not isinstance(data, list) or not data or "conversation" not in data[0]:
        raise ValueError(f"{path} is not a LoCoMo file (a JSON list of samples)")
    return data


def bench_locomo(
    path: Path,
    *,
    embedder: Any = None,
    store: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    samples = load_locomo(path)
    hits = {k: 0 for k in KS}
    per_category: dict[int, dict[int, int]] = defaultdict(lambda: {k: 0 for k in KS})
    per_category_n: dict[int, int] = defaultdict(int)
    latencies: list[float] = []
    questions = 0
    turns = 0
    with tempfile.TemporaryDirectory() as tmp:
        db = store or Path(tmp) / "locomo.sqlite3"
        with AgentMemoryClient(db, embedder=embedder) as client:
            ingest_start = time.perf_counter()
            for sample in samples:
                conversation = sample["conversation"]
                user = client.create_user(sample["sample_id"], sample["sample_id"])
                index = 1
                while f"session_{index}" in conversation:
                    session = user.create_session(f"session_{index}")
                    created = _session_date(conversation.get(f"session_{index}_date_time", ""))
                    for turn in conversation[f"session_{index}"]:
                        session.add_memory(
                            messages=[
                                ChatMessage(
                                    role=MessageRole.USER,
                                    content=turn["text"],
                                    name=turn["speaker"],
                                )
                            ],
                            annotations={"dia_id": turn["dia_id"]},
                            created_at=created,
                        )
                        turns += 1
                    index += 1
                if progress:
                    progress(f"ingested {sample['sample_id']}")
            client.wait_until_processed(None)
            ingest_seconds = time.perf_counter() - ingest_start
            embedder_name = client.backend.health().models.embedding.model
            for sample in samples:
                user = client.get_user(sample["sample_id"])
                for qa in sample["qa"]:
                    category = qa.get("category")
                    evidence = set(qa.get("evidence") or [])
                    if category not in CATEGORIES or not evidence:
                        continue
                    start = time.perf_counter()
                    found = user.search_memory(str(qa["question"]), {"relevant_k": max(KS)})
                    latencies.append((time.perf_counter() - start) * 1000)
                    ranked = [b.annotations.get("dia_id") for b in found.memory_blocks]
                    questions += 1
                    per_category_n[category] += 1
                    for k in KS:
                        if evidence & set(ranked[:k]):
                            hits[k] += 1
                            per_category[category][k] += 1
                if progress:
                    progress(f"searched {sample['sample_id']}")

    def recall(count: int, total: int) -> float:
        return round(count / total, 3) if total else 0.0

    return {
        "recall_at_1": recall(hits[1], questions),
        "recall_at_5": recall(hits[5], questions),
        "recall_at_10": recall(hits[10], questions),
        "per_category": {
            CATEGORIES[c]: {
                "questions": per_category_n[c],
                **{f"recall_at_{k}": recall(per_category[c][k], per_category_n[c]) for k in KS},
            }
            for c in sorted(per_category_n)
        },
        "questions": questions,
        "turns": turns,
        "ingest_seconds": round(ingest_seconds, 1),
        "search_p50_ms": round(percentile(latencies, 50), 2),
        "search_p95_ms": round(percentile(latencies, 95), 2),
        "embedder": embedder_name,
    }
