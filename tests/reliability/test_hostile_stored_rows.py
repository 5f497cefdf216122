"""Hostile rows already in the database (issue #15): reads and erase must survive them.

An older version, a bug, a manual edit or another tool may have written rows the current
code would never write: timestamps outside the datetime range, unknown roles and statuses,
message blocks without content, annotations or metadata that are not (the right) JSON, NULL
where text is expected, an embedding of the wrong length. They are inserted here with plain
SQL into eve's store (``tests/reliability/_hostile.py``), following
``memory_integrations/storage/_sqlite_schema.py``.

Contract:

* every read of eve (get, sessions, list in both orders, search with and without a query,
  count, get each block, export) raises nothing but ``AgentMemoryError`` subclasses;
* ``erase_user`` erases eve, hostile row included; ``sweep_expired`` works;
* bob is untouched and reads fine (his search index is his own);
* and, what a user expects (``test_one_bad_row_does_not_hide_the_rest``): one bad row does
  not make the user's other memories unreadable — every read succeeds and still returns
  eve's good blocks (the bad row is shown as best it can be, or skipped).
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import pytest

from memory_integrations.errors import AgentMemoryError
from memory_integrations.lifecycle import erase_user

from ._hostile import EVE, NOW, World, WorldFactory, describe, fail_on, user_reads

_NOW_US = int(NOW * 1_000_000)
_GOOD_FACT = "eve likes green tea"


def _block_row(world: World, **changes: Any) -> dict[str, Any]:
    """A valid fact block of eve's session "s" (the embedding of her good fact), changed."""
    good = next(
        r
        for r in world.client.backend.export_records(EVE)  # type: ignore[attr-defined]
        if r["type"] == "block" and r["fact"] == _GOOD_FACT
    )
    row: dict[str, Any] = {
        "block_id": str(uuid.uuid4()),
        "user_id": EVE,
        "session_id": "s",
        "kind": "fact",
        "fact": "a hostile stored row",
        "user_content": None,
        "assistant_content": None,
        "role": None,
        "content": None,
        "name": None,
        "text": "a hostile stored row",
        "annotations": "{}",
        "metadata": None,
        "agent_id": None,
        "created_at": None,
        "ingested_at": _NOW_US,
        "updated_at": _NOW_US,
        "last_queued_at": None,
        "expires_at": None,
        "status": "ready",
        "fail_count": 0,
        "embedding": base64.b64decode(good["embedding"]),
        "index_version": 0,
    }
    row.update(changes)
    return row


def _message(**changes: Any) -> dict[str, Any]:
    return {"kind": "message", "fact": None, **changes}


BLOCK_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("created_at -10**17 (year -1199)", {"created_at": -(10**17)}),
    ("created_at 10**18 (year 33658)", {"created_at": 10**18}),
    ("created_at -2**63", {"created_at": -(2**63)}),
    ("ingested_at -10**17", {"ingested_at": -(10**17)}),
    ("ingested_at 10**18", {"ingested_at": 10**18}),
    ("updated_at -10**17", {"updated_at": -(10**17)}),
    ("last_queued_at 10**18", {"last_queued_at": 10**18}),
    ("expires_at -10**17 (expired in year -1199)", {"expires_at": -(10**17)}),
    ("expires_at 10**18", {"expires_at": 10**18}),
    ("unknown role 'wizard'", _message(role="wizard", content="hi", text="hi")),
    ("unknown status 'zzz'", {"status": "zzz"}),
    ("status NULL-like ''", {"status": ""}),
    (
        "exchange message with empty contents",
        _message(user_content="", assistant_content="", text=""),
    ),
    ("exchange message with NULL contents", _message(text="")),
    ("role message with NULL content", _message(role="user", content=None, text="")),
    ("fact block with NULL fact", {"fact": None}),
    ("fact block with empty text", {"fact": "", "text": ""}),
    ("annotations invalid JSON", {"annotations": "{not json"}),
    ("annotations a JSON list", {"annotations": "[1, 2]"}),
    ("annotations with a non-string value", {"annotations": '{"a": 1}'}),
    ("annotations JSON null", {"annotations": "null"}),
    ("annotations empty string", {"annotations": ""}),
    ("metadata invalid JSON", {"metadata": "{nope"}),
    ("metadata a JSON list", {"metadata": "[1]"}),
    ("metadata a JSON string", {"metadata": '"text"'}),
    ("embedding of 0 bytes", {"embedding": b""}),
    ("embedding of 3 bytes", {"embedding": b"abc"}),
    ("embedding of 100 floats (wrong dimension)", {"embedding": b"\x00\x00\x80\x3f" * 100}),
    ("embedding NULL on a ready block", {"embedding": None}),
    ("embedding of NaN floats", {"embedding": b"\x00\x00\xc0\x7f" * 384}),
    ("fail_count 2**62", {"fail_count": 2**62}),
    ("agent_id 'a/b' (an id the API refuses)", {"agent_id": "a/b"}),
]
# A row no read can address by its id: only the typed-errors contract applies to it.
UNADDRESSABLE_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("block_id '' (get_memory_block refuses blank ids)", {"block_id": ""}),
]

SESSION_ROWS: list[tuple[str, str, tuple[Any, ...]]] = [
    (
        "session start_time -10**17",
        "UPDATE mi_sessions SET start_time = ? WHERE user_id = ? AND session_id = 's'",
        (-(10**17), EVE),
    ),
    (
        "session end_time 10**18",
        "UPDATE mi_sessions SET end_time = ? WHERE user_id = ? AND session_id = 's'",
        (10**18, EVE),
    ),
    (
        "session annotations invalid JSON",
        "UPDATE mi_sessions SET annotations = ? WHERE user_id = ? AND session_id = 's'",
        ("{", EVE),
    ),
    (
        "session metadata a JSON list",
        "UPDATE mi_sessions SET metadata = ? WHERE user_id = ? AND session_id = 's'",
        ("[1]", EVE),
    ),
    (
        "session blocks_ttl -5",
        "UPDATE mi_sessions SET blocks_ttl = ? WHERE user_id = ? AND session_id = 's'",
        (-5, EVE),
    ),
    (
        "user created_at -10**17",
        "UPDATE mi_users SET created_at = ? WHERE user_id = ?",
        (-(10**17), EVE),
    ),
    (
        "user metadata invalid JSON",
        "UPDATE mi_users SET metadata = ? WHERE user_id = ?",
        ("{", EVE),
    ),
]


def _insert_block(world: World, row: dict[str, Any]) -> str:
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    with world.client.database.transaction() as cur:
        cur.execute(f"INSERT INTO mi_blocks ({columns}) VALUES ({marks})", list(row.values()))
        # As a write through the engine would: cached search indexes of eve are rebuilt.
        cur.execute(
            "UPDATE mi_users SET index_version = index_version + 1, "
            "reset_version = index_version + 1 WHERE user_id = ?",
            (EVE,),
        )
    return str(row["block_id"])


def _apply(world: World, kind: str, payload: Any) -> None:
    if kind == "block":
        _insert_block(world, _block_row(world, **payload))
    else:
        sql, params = payload
        with world.client.database.transaction() as cur:
            cur.execute(sql, params)


CASES = [(name, "block", changes) for name, changes in BLOCK_ROWS] + [
    (name, "row", (sql, params)) for name, sql, params in SESSION_ROWS
]
ALL_CASES = CASES + [(name, "block", changes) for name, changes in UNADDRESSABLE_ROWS]


@pytest.mark.parametrize(("name", "kind", "payload"), ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_reads_and_erase_survive_a_hostile_stored_row(
    make_world: WorldFactory, name: str, kind: str, payload: Any
) -> None:
    """Only typed errors from any read of the user; erase, sweep and bob keep working."""
    world = make_world()
    _apply(world, kind, payload)
    problems: list[str] = []
    for read, call in user_reads(world.client, EVE, ["s", "s2"]):
        try:
            call()
        except AgentMemoryError:
            pass
        except Exception as exc:
            problems.append(f"{name}: {read} raised NON-TYPED {describe(exc)}")
    try:
        world.client.sweep_expired()
    except Exception as exc:
        problems.append(f"{name}: sweep_expired() raised {describe(exc)}")
    world.check_bob(name)
    problems.extend(world.read_problems("bob", name))
    try:
        erase_user(world.client, EVE)
    except Exception as exc:
        problems.append(f"{name}: erase_user(eve) raised {describe(exc)}")
    else:
        with world.client.database.read() as cur:
            left = cur.execute(
                "SELECT count(*) FROM mi_blocks WHERE user_id = ?", (EVE,)
            ).fetchone()
        if left[0]:
            problems.append(f"{name}: erase_user(eve) left {left[0]} blocks behind")
    world.users.clear()
    fail_on(problems + world.problems)


@pytest.mark.parametrize(("name", "kind", "payload"), CASES, ids=[c[0] for c in CASES])
def test_one_bad_row_does_not_hide_the_rest(
    make_world: WorldFactory, name: str, kind: str, payload: Any
) -> None:
    """What a user expects: every read succeeds and still shows eve's good memories."""
    world = make_world()
    _apply(world, kind, payload)
    problems: list[str] = []
    for read, call in user_reads(world.client, EVE, ["s", "s2"]):
        try:
            call()
        except Exception as exc:
            problems.append(f"{name}: {read} failed: {describe(exc)}")
    checks = {
        "list_memories": lambda u: [b.fact for b in u.list_memories(limit=200).memory_blocks],
        "search_memory()": lambda u: [b.fact for b in u.search_memory().memory_blocks],
        "search_memory('green tea')": lambda u: [
            b.fact for b in u.search_memory("green tea", {"relevant_k": 50}).memory_blocks
        ],
    }
    for label, check in checks.items():
        try:
            facts = check(world.client.get_user(EVE))
        except Exception:
            continue  # reported above
        if _GOOD_FACT not in facts:
            problems.append(f"{name}: {label} no longer returns eve's good fact")
    fail_on(problems)
