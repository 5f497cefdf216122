"""``bench reliability``: several processes hammering one store, then an audit.

Each writer process runs a mixed workload (add / update / delete / search) on its own
sessions of one shared user and writes a journal of every acknowledged effect. The audit
then checks the store against the journals: every acknowledged add is present unless its
deletion was acknowledged, every acknowledged update is visible, and no caller saw a lock
error.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

WRITER = r"""
import json, random, sys, time
from memory_integrations import AgentMemoryClient
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import AgentMemoryError

location, name, ops, journal_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = random.Random(name)
journal = open(journal_path, "w")
errors = 0
with AgentMemoryClient(location, embedder=HashingEmbedder()) as client:
    session = client.get_user("load").create_session(name)
    live = {}
    start = time.perf_counter()
    for i in range(ops):
        roll = rng.random()
        try:
            if roll < 0.55 or not live:
                text = f"{name} note {i} about topic {rng.randrange(50)}"
                ids = session.add_memory(facts=[text], async_processing=False).block_ids
                live[ids[0]] = text
                journal.write(json.dumps({"op": "add", "id": ids[0], "text": text}) + "\n")
            elif roll < 0.7:
                block_id = rng.choice(list(live))
                text = f"{name} updated {i}"
                session.update_memory(block_id=block_id, fact=text, async_processing=False)
                live[block_id] = text
                journal.write(json.dumps({"op": "update", "id": block_id, "text": text}) + "\n")
            elif roll < 0.8:
                block_id = rng.choice(list(live))
                session.delete_memory(block_ids=[block_id])
                del live[block_id]
                journal.write(json.dumps({"op": "delete", "id": block_id}) + "\n")
            else:
                session.search_memory(query=f"topic {rng.randrange(50)}",
                                      filters={"session_ids": "all"})
        except AgentMemoryError as exc:
            errors += 1
            journal.write(json.dumps({"op": "error", "error": repr(exc)}) + "\n")
        journal.flush()
    elapsed = time.perf_counter() - start
print(json.dumps({"errors": errors, "seconds": elapsed}))
"""


def run_load(location: str, processes: int = 4, ops: int = 1000) -> dict[str, Any]:
    """Run the workload and audit the store; returns figures and any lost writes."""
    from ..client import AgentMemoryClient
    from ..embedders import HashingEmbedder

    with AgentMemoryClient(location, embedder=HashingEmbedder()) as client:
        client.get_or_create_user("load", "Load test")
    workdir = Path(tempfile.mkdtemp(prefix="mi-load-"))
    script = workdir / "writer.py"
    script.write_text(WRITER)
    names = [f"w{i}-{random.randrange(10**6)}" for i in range(processes)]
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), location, name, str(ops), str(workdir / f"{name}.jsonl")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=3600)
        if proc.returncode != 0:
            raise RuntimeError(f"a writer failed: {err[-2000:]}")
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    elapsed = time.perf_counter() - start
    expected: dict[str, dict[str, str]] = {}
    errors: list[str] = []
    for name in names:
        state: dict[str, str] = {}
        for line in (workdir / f"{name}.jsonl").read_text().splitlines():
            entry = json.loads(line)
            if entry["op"] in ("add", "update"):
                state[entry["id"]] = entry["text"]
            elif entry["op"] == "delete":
                state.pop(entry["id"], None)
            else:
                errors.append(entry["error"])
        expected[name] = state
    lost: list[str] = []
    wrong: list[str] = []
    with AgentMemoryClient(location, embedder=HashingEmbedder()) as client:
        user = client.get_user("load")
        for name, state in expected.items():
            stored: dict[str, str] = {}
            session = user.get_session(name)
            offset = 0
            while True:
                page = session.list_memories(limit=200, offset=offset)
                stored.update({b.block_id: b.fact or "" for b in page.memory_blocks})
                offset += page.count
                if not page.has_more:
                    break
            lost += [block_id for block_id in state if block_id not in stored]
            wrong += [b for b, text in state.items() if b in stored and stored[b] != text]
            wrong += [block_id for block_id in stored if block_id not in state]
    total_ops = processes * ops
    return {
        "processes": processes,
        "operations": total_ops,
        "seconds": round(elapsed, 2),
        "ops_per_s": round(total_ops / elapsed, 1),
        "acknowledged_writes": sum(len(s) for s in expected.values()),
        "lost_acknowledged_writes": len(lost),
        "wrong_or_unexpected_blocks": len(wrong),
        "errors_surfaced_to_callers": len(errors) + sum(o["errors"] for o in outcomes),
        "error_samples": errors[:3],
    }
