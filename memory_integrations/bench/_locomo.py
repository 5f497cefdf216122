"""``bench locomo``: evidence recall of the default search on a LoCoMo file.

Protocol: one user per conversation, one session per LoCoMo session, each turn one block
(a role-tagged message named after its speaker) with the session date as ``created_at`` and
its ``dia_id`` in annotations; every question of categories 1 to 4 is searched over all of the
user's sessions and counts a hit at k when an evidence ``dia_id`` is among the top k.

With ``scope="session"`` only questions whose evidence lies in one session are asked, each
searched in that session alone (20 to 40 turns: the small scope an agent searches most),
scored at k = 1 and 3 beside two plain baselines on the same candidates: exact dense cosine
with the same embedder, and BM25 over the session's turns.

With ``scope="documents"`` each LoCoMo session is stored as one long fact block (its turns as
``speaker: text`` lines, 500 to 2,000 tokens: far beyond MiniLM's 256-token window), and a
question counts a hit at k when its evidence session is among the top k, scored at k = 1
and 3 with long blocks embedded in windows (the default) beside the same store embedding
only each block's start (``max_chunks_per_block=1``).
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .._models import ChatMessage, MessageRole
from .._settings import Settings
from ..client import AgentMemoryClient
from ..retrieval import KeywordIndex, query_terms
from ._stats import percentile

KS = (1, 5, 10)
SESSION_KS = (1, 3)
SCOPES = ("all", "session", "documents")
_DIA_ID = re.compile(r"D(\d+):(\d+)")
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


def _evidence(qa: dict[str, Any]) -> set[str]:
    """The question's evidence ids, also when several share one string ("D8:6; D9:17")."""
    raw = {str(e) for e in qa.get("evidence") or []}
    return raw | {f"D{a}:{b}" for e in raw for a, b in _DIA_ID.findall(e)}


def _one_session(evidence: set[str]) -> int | None:
    sessions = {int(a) for e in evidence for a, _ in _DIA_ID.findall(e)}
    return sessions.pop() if len(sessions) == 1 else None


class _Baselines:
    """Plain dense and BM25 ranking of one session's turns, for the session scope."""

    def __init__(self, embedder: Any, ks: tuple[int, ...]) -> None:
        self.embedder = embedder
        self.hits = {name: {k: 0 for k in ks} for name in ("dense", "bm25")}
        self._sessions: dict[tuple[str, int], tuple[list[str], Any, KeywordIndex]] = {}

    def score(
        self, key: tuple[str, int], turns: list[dict[str, Any]], question: str, ev: set[str]
    ) -> None:
        if key not in self._sessions:
            texts = [f"{t['speaker']}: {t['text']}" for t in turns]
            keywords = KeywordIndex()
            for text in texts:
                keywords.add(text)
            ids = [str(t["dia_id"]) for t in turns]
            vectors = np.asarray(self.embedder.embed_documents(texts), np.float32)
            self._sessions[key] = (ids, vectors, keywords)
        ids, vectors, keywords = self._sessions[key]
        query_vector = np.asarray(self.embedder.embed_query(question), np.float32).reshape(-1)
        bm25 = keywords.scores(query_terms(question))
        rankings = {
            "dense": np.argsort(-(vectors @ query_vector), kind="stable"),
            "bm25": np.argsort(-(bm25 if bm25 is not None else np.zeros(len(ids))), kind="stable"),
        }
        for name, order in rankings.items():
            for k in self.hits[name]:
                if ev & {ids[i] for i in order[:k]}:
                    self.hits[name][k] += 1


def bench_locomo(
    path: Path,
    *,
    embedder: Any = None,
    store: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
    scope: str = "all",
) -> dict[str, Any]:
    """Recall figures of the default search on a LoCoMo file (see the module docs)."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    if scope == "documents":
        return _bench_documents(path, embedder=embedder, store=store, progress=progress)
    ks = KS if scope == "all" else SESSION_KS
    samples = load_locomo(path)
    hits = {k: 0 for k in ks}
    per_category: dict[int, dict[int, int]] = defaultdict(lambda: {k: 0 for k in ks})
    per_category_n: dict[int, int] = defaultdict(int)
    baselines: _Baselines | None = None
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
            if scope == "session":
                baselines = _Baselines(_store_embedder(client, embedder), ks)
            for sample in samples:
                user = client.get_user(sample["sample_id"])
                for qa in sample["qa"]:
                    category = qa.get("category")
                    evidence = _evidence(qa)
                    if category not in CATEGORIES or not evidence:
                        continue
                    filters: dict[str, Any] = {"relevant_k": max(ks)}
                    if baselines is not None:
                        in_session = _one_session(evidence)
                        if in_session is None:
                            continue
                        filters["session_ids"] = [f"session_{in_session}"]
                        baselines.score(
                            (sample["sample_id"], in_session),
                            sample["conversation"][f"session_{in_session}"],
                            str(qa["question"]),
                            evidence,
                        )
                    start = time.perf_counter()
                    found = user.search_memory(str(qa["question"]), filters)
                    latencies.append((time.perf_counter() - start) * 1000)
                    ranked = [b.annotations.get("dia_id") for b in found.memory_blocks]
                    questions += 1
                    per_category_n[category] += 1
                    for k in ks:
                        if evidence & set(ranked[:k]):
                            hits[k] += 1
                            per_category[category][k] += 1
                if progress:
                    progress(f"searched {sample['sample_id']}")

    def recall(count: int, total: int) -> float:
        return round(count / total, 3) if total else 0.0

    figures: dict[str, Any] = {
        "scope": scope,
        **{f"recall_at_{k}": recall(hits[k], questions) for k in ks},
        "per_category": {
            CATEGORIES[c]: {
                "questions": per_category_n[c],
                **{f"recall_at_{k}": recall(per_category[c][k], per_category_n[c]) for k in ks},
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
    if baselines is not None:
        figures["baselines"] = {
            name: {f"recall_at_{k}": recall(count, questions) for k, count in counts.items()}
            for name, counts in baselines.hits.items()
        }
    return figures


def _bench_documents(
    path: Path,
    *,
    embedder: Any,
    store: str | Path | None,
    progress: Callable[[str], None] | None,
) -> dict[str, Any]:
    """Sessions as long blocks: recall of the evidence session, windows vs. start only."""
    samples = load_locomo(path)
    runs: dict[str, dict[str, Any]] = {}
    for name, windows in (("windows", None), ("start_only", 1)):
        settings = Settings() if windows is None else Settings(max_chunks_per_block=windows)
        hits = {k: 0 for k in SESSION_KS}
        latencies: list[float] = []
        questions = blocks = 0
        with tempfile.TemporaryDirectory() as tmp:
            db = store if store and name == "windows" else Path(tmp) / f"{name}.sqlite3"
            with AgentMemoryClient(db, embedder=embedder, settings=settings) as client:
                for sample in samples:
                    conversation = sample["conversation"]
                    user = client.create_user(sample["sample_id"], sample["sample_id"])
                    session = user.create_session("sessions")
                    number, texts, numbers = 1, [], []
                    while f"session_{number}" in conversation:
                        turns = conversation[f"session_{number}"]
                        texts.append("\n".join(f"{t['speaker']}: {t['text']}" for t in turns))
                        numbers.append(number)
                        number += 1
                    added = session.add_memory(facts=texts, async_processing=False)
                    blocks += len(texts)
                    which = dict(zip(added.block_ids, numbers, strict=True))
                    for qa in sample["qa"]:
                        evidence = _evidence(qa)
                        if qa.get("category") not in CATEGORIES or not evidence:
                            continue
                        wanted = {int(m[0]) for e in evidence for m in _DIA_ID.findall(e)}
                        start = time.perf_counter()
                        found = user.search_memory(
                            str(qa["question"]), {"relevant_k": max(SESSION_KS)}
                        )
                        latencies.append((time.perf_counter() - start) * 1000)
                        ranked = [which[b.block_id] for b in found.memory_blocks]
                        questions += 1
                        for k in SESSION_KS:
                            hits[k] += bool(wanted & set(ranked[:k]))
                    if progress:
                        progress(f"{name}: {sample['sample_id']}")
                embedder_name = client.backend.health().models.embedding.model
        runs[name] = {
            **{f"recall_at_{k}": round(hits[k] / questions, 3) if questions else 0.0 for k in hits},
            "search_p50_ms": round(percentile(latencies, 50), 2),
            "search_p95_ms": round(percentile(latencies, 95), 2),
        }
    return {
        "scope": "documents",
        **{key: value for key, value in runs["windows"].items()},
        "baselines": {"start_only": runs["start_only"]},
        "per_category": {},
        "questions": questions,
        "blocks": blocks,
        "search_p50_ms": runs["windows"]["search_p50_ms"],
        "search_p95_ms": runs["windows"]["search_p95_ms"],
        "embedder": embedder_name,
    }


def _store_embedder(client: AgentMemoryClient, spec: Any) -> Any:
    """The embedder the engine searches with, for the baselines."""
    engine_embedder = getattr(client.backend, "embedder", None)
    if engine_embedder is None:
        raise ValueError(f"the session scope needs an embedded engine, not {spec!r}")
    return engine_embedder
