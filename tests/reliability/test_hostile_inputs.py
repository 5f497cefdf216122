"""Hostile calls on the public Python client (issue #15, "close the classes").

Every argument of ``AgentMemoryClient`` / ``AsyncAgentMemoryClient`` and their user and session
handles gets hostile values: lone surrogates, NUL, bidi and zero-width characters, control
characters, blank and over-long strings, huge and negative ints, bools, NaN and infinities,
times outside years 1-9999, naive datetimes, wrong containers, ``None``. For each call
(:meth:`World.attempt <tests.reliability._hostile.World.attempt>`):

(a) only ``AgentMemoryError`` subclasses escape;
(b) a call that raises writes nothing;
(c) nothing of another user (bob) changes;
(d) every read of the user the call was made for still works, and ``erase_user`` erases it.

Where a value is plainly invalid the call must also *refuse* it with a ``BadRequestError``
(``REJECT``); lookups with an invalid id may answer with any typed error (``TYPED``); values
that are odd but meaningful may be accepted (``ANY``). The tables say which is which; the
hypothesis property at the end mixes everything, on SQLite and on PostgreSQL.

Choices where the right behaviour is debatable (what a user of this field would expect):

* ids containing Unicode format characters (bidi controls, zero-width), C1 controls or line
  separators are refused like ASCII control characters: they make one id look like another;
* a message dict with a key ``ChatMessage`` does not have (``{"user_content": "a",
  "asistant_content": "b"}``) is refused instead of silently dropping the misspelt field;
* ``facts`` / ``messages`` given as a dict, a set or bytes are refused (not a sequence of
  items: a dict would silently store its keys, a set in random order);
* bools are refused wherever an int is expected (``limit=True`` is a bug, not 1);
* a time whose UTC value falls outside years 1-9999 is refused when it would be stored
  (``created_at``); as a search *bound* it may be accepted. Naive datetimes are UTC (as
  documented);
* a huge ``offset`` may give an empty page or a ``ValidationError``, not an overflow.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from memory_integrations import (
    AgentMemoryClient,
    AsyncAgentMemoryClient,
    AsyncSessionResource,
    AsyncUserResource,
    ChatMessage,
    FilterOptions,
    SessionResource,
    UserResource,
)
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import AgentMemoryError, ValidationError
from memory_integrations.lifecycle import erase_user

from ._hostile import (
    ANY,
    BOB,
    EVE,
    HOSTILE_IDS,
    HOSTILE_NUMBERS,
    HOSTILE_TEXTS,
    HOSTILE_TIMES,
    ODD_BUT_VALID_IDS,
    OK,
    OUT_OF_RANGE_TIMES,
    REJECT,
    TYPED,
    Expect,
    World,
    WorldFactory,
    deeply_nested,
    describe,
    fail_on,
    run_table,
    seed_user,
)

Call = Callable[[World, Any], Any]
_counter = itertools.count()


def fresh(prefix: str) -> str:
    """A new valid id (each attempt that may create something gets its own)."""
    return f"{prefix}-{next(_counter)}"


def rule(ok: set[str] | frozenset[str]) -> Callable[[str], Expect]:
    """Labels in ``ok`` may be accepted; every other value must be refused."""
    return lambda label: ANY if label in ok else REJECT


@dataclass(frozen=True)
class Position:
    name: str
    call: Call
    expect: Expect | Callable[[str], Expect]
    creates_user: bool = False
    skip: frozenset[str] = field(default_factory=frozenset)


def _async(w: World) -> AsyncAgentMemoryClient:
    return AsyncAgentMemoryClient.from_client(w.client)


# --- ids ---------------------------------------------------------------------------------

NONE_IS_VALID = frozenset({"None"})


def _filter_id(label: str) -> Expect:
    """An id inside ``filters`` (a pydantic model, which may turn bytes into str)."""
    return ANY if label == "bytes" else TYPED


ID_POSITIONS = [
    Position("create_user(user_id)", lambda w, v: w.client.create_user(v, "N"), REJECT, True),
    Position("get_user(user_id)", lambda w, v: w.client.get_user(v), TYPED),
    Position(
        "get_or_create_user(user_id)", lambda w, v: w.client.get_or_create_user(v), REJECT, True
    ),
    Position("delete_user(user_id)", lambda w, v: w.client.delete_user(v), TYPED),
    Position("lifecycle.erase_user(user_id)", lambda w, v: erase_user(w.client, v), TYPED),
    Position(
        "export_records(user_id)",
        lambda w, v: list(w.client.backend.export_records(v)),  # type: ignore[attr-defined]
        TYPED,
        skip=NONE_IS_VALID,
    ),
    Position("create_prompt(prompt_id)", lambda w, v: w.client.create_prompt(v, "p", "d"), REJECT),
    Position("get_prompt(prompt_id)", lambda w, v: w.client.get_prompt(v), TYPED),
    Position("archive_prompt(prompt_id)", lambda w, v: w.client.archive_prompt(v), TYPED),
    Position(
        "add_memory(prompt_id)",
        lambda w, v: w.session.add_memory(facts=["x"], prompt_id=v),
        REJECT,
        skip=NONE_IS_VALID,
    ),
    Position(
        "user.fact_history(block_id)", lambda w, v: w.eve.fact_history(v), TYPED, skip=NONE_IS_VALID
    ),
    Position("user.create_session(session_id)", lambda w, v: w.eve.create_session(v), REJECT),
    Position("user.get_session(session_id)", lambda w, v: w.eve.get_session(v), TYPED),
    Position(
        "user.get_or_create_session(session_id)",
        lambda w, v: w.eve.get_or_create_session(v),
        REJECT,
    ),
    Position(
        "session.add_memory(agent_id)",
        lambda w, v: w.session.add_memory(facts=["x"], agent_id=v),
        REJECT,
        skip=NONE_IS_VALID,
    ),
    Position(
        "session.get_memory_block(block_id)", lambda w, v: w.session.get_memory_block(v), TYPED
    ),
    Position(
        "session.update_memory(block_id)",
        lambda w, v: w.session.update_memory(v, fact="changed"),
        TYPED,
    ),
    Position("session.delete_memory([block_id])", lambda w, v: w.session.delete_memory([v]), TYPED),
    Position(
        "user.modify_ttl(session_id)",
        lambda w, v: w.eve.modify_ttl(60, session_id=v),
        TYPED,
        skip=NONE_IS_VALID,
    ),
    Position(
        "user.modify_ttl(block_ids=[id])",
        lambda w, v: w.eve.modify_ttl(60, session_id="s", block_ids=[v]),
        TYPED,
    ),
    Position(
        "user.list_memories(session_ids=[id])",
        lambda w, v: w.eve.list_memories(session_ids=[v]),
        TYPED,
    ),
    Position(
        "search_memory(filters session_ids=[id])",
        lambda w, v: w.session.search_memory(None, {"session_ids": [v]}),
        _filter_id,
    ),
    Position(
        "search_memory(filters block_ids=[id])",
        lambda w, v: w.session.search_memory("tea", {"block_ids": [v]}),
        _filter_id,
    ),
    Position(
        "search_memory(filters agent_id)",
        lambda w, v: w.eve.search_memory("tea", {"agent_id": v}),
        _filter_id,
        skip=NONE_IS_VALID,
    ),
    Position(
        "count_memories(filters agent_id)",
        lambda w, v: w.eve.count_memories({"agent_id": v}),
        _filter_id,
        skip=NONE_IS_VALID,
    ),
    Position(
        "async create_user(user_id)",
        lambda w, v: _async(w).create_user(v, "N"),
        REJECT,
        True,
    ),
    Position("async get_user(user_id)", lambda w, v: _async(w).get_user(v), TYPED),
]


@pytest.mark.parametrize("position", ID_POSITIONS, ids=[p.name for p in ID_POSITIONS])
def test_hostile_ids_are_refused_with_a_typed_error(
    make_world: WorldFactory, position: Position
) -> None:
    """Every id argument refuses surrogates, NUL, bidi/zero-width and control characters,
    blank, over-long and non-string ids: creations with a ``BadRequestError``, lookups with
    any typed error. Nothing is written and nobody is poisoned."""
    values = [(label, v) for label, v in HOSTILE_IDS if label not in position.skip]
    fail_on(
        run_table(
            make_world,
            position.name,
            position.call,
            values,
            position.expect,
            creates_user=position.creates_user,
        )
    )


@pytest.mark.parametrize(
    ("label", "user_id"), ODD_BUT_VALID_IDS, ids=[v[0] for v in ODD_BUT_VALID_IDS]
)
def test_odd_but_valid_ids_keep_working(tmp_path: Path, label: str, user_id: str) -> None:
    """The validation must not overshoot: accented, CJK, emoji, quotes, inner spaces and the
    maximum length (256) are ordinary ids that round-trip through every read and erase."""
    with AgentMemoryClient(tmp_path / "odd.sqlite3", embedder=HashingEmbedder()) as client:
        seed_user(client, BOB)
        before = list(client.backend.export_records(BOB))  # type: ignore[attr-defined]
        session = client.create_user(user_id, "Odd").create_session(user_id)
        session.add_memory(facts=["odd id fact"], agent_id=user_id, async_processing=False)
        user = client.get_user(user_id)
        assert user.list_memories().total == 1
        assert user.search_memory("odd", {"agent_id": user_id}).count == 1
        assert [b.fact for b in session.get_memory().memory_blocks] == ["odd id fact"]
        assert len(list(client.backend.export_records(user_id))) == 4  # type: ignore[attr-defined]
        erase_user(client, user_id)
        assert client.list_users(limit=500).total == 1
        assert list(client.backend.export_records(BOB)) == before  # type: ignore[attr-defined]


# --- texts -------------------------------------------------------------------------------

METADATA_OK = frozenset({"empty", "blank", "None", "int", "list", "NUL", "over 1M characters"})
NO_LIST_KEY = frozenset({"list"})  # a list cannot be a dict key: nothing to call
# Filters are a pydantic model: its lax coercion of bytes to str is accepted.
FILTER_TEXT_OK = frozenset({"None", "bytes"})

TEXT_POSITIONS = [
    Position("create_user(name)", lambda w, v: w.client.create_user(fresh("u"), v), rule(set())),
    Position(
        "create_prompt(prompt)",
        lambda w, v: w.client.create_prompt(fresh("p"), v, "d"),
        rule(set()),
    ),
    Position(
        "create_prompt(description)",
        lambda w, v: w.client.create_prompt(fresh("p"), "p", v),
        rule(set()),
    ),
    Position("user.update(name)", lambda w, v: w.eve.update(name=v), rule(set())),
    Position("add_memory(facts=[text])", lambda w, v: w.session.add_memory(facts=[v]), rule(set())),
    Position(
        "add_memory(messages=[{user_content}])",
        lambda w, v: w.session.add_memory(
            messages=[{"user_content": v, "assistant_content": "ok"}]
        ),
        rule({"empty", "blank", "bytes"}),
    ),
    Position(
        "add_memory(messages=[{role, content}])",
        lambda w, v: w.session.add_memory(messages=[{"role": "user", "content": v}]),
        rule({"empty", "blank", "None", "bytes"}),
    ),
    Position(
        "add_memory(messages=[{role, content, name}])",
        lambda w, v: w.session.add_memory(messages=[{"role": "tool", "content": "x", "name": v}]),
        rule({"empty", "blank", "None", "bytes"}),
    ),
    Position(
        "update_memory(fact)",
        lambda w, v: w.session.update_memory(w.fact_block, fact=v),
        rule(set()),
    ),
    Position(
        "update_memory(message={user_content})",
        lambda w, v: w.session.update_memory(
            w.message_block, message={"user_content": v, "assistant_content": "ok"}
        ),
        rule({"empty", "blank", "bytes"}),
    ),
    Position("search_memory(query)", lambda w, v: w.session.search_memory(v), rule({"None"})),
    Position(
        "search_memory(filters content_contains)",
        lambda w, v: w.eve.search_memory(None, {"content_contains": v}),
        rule(FILTER_TEXT_OK),
    ),
    Position(
        "search_memory(filters metadata_contains)",
        lambda w, v: w.eve.search_memory("tea", {"metadata_contains": v}),
        rule(FILTER_TEXT_OK),
    ),
    Position("list_users(name)", lambda w, v: w.client.list_users(name=v), rule({"None"})),
    Position(
        "list_users(metadata={key: value})",
        lambda w, v: w.client.list_users(metadata={"tier": v}),
        rule({"empty", "blank", "over 1M characters"}),
    ),
    Position(
        "add_memory(annotations={key: value})",
        lambda w, v: w.session.add_memory(facts=["x"], annotations={"note": v}),
        rule({"empty", "blank"}),
    ),
    Position(
        "add_memory(annotations={value: ...} key)",
        lambda w, v: w.session.add_memory(facts=["x"], annotations={v: "x"}),
        rule(set()),
        skip=NO_LIST_KEY,
    ),
    Position(
        "add_memory(metadata={key: value})",
        lambda w, v: w.session.add_memory(facts=["x"], metadata={"note": v}),
        rule(METADATA_OK),
    ),
    Position(
        "add_memory(metadata={value: ...} key)",
        lambda w, v: w.session.add_memory(facts=["x"], metadata={v: 1}),
        rule({"empty", "blank", "None", "int", "NUL", "over 1M characters"}),
        skip=NO_LIST_KEY,
    ),
    Position(
        "create_session(annotations={key: value})",
        lambda w, v: w.eve.create_session(fresh("s"), annotations={"note": v}),
        rule({"empty", "blank"}),
    ),
    Position(
        "create_session(metadata={key: value})",
        lambda w, v: w.eve.create_session(fresh("s"), metadata={"note": v}),
        rule(METADATA_OK),
    ),
    Position(
        "session.update(annotations={key: value})",
        lambda w, v: w.session.update(annotations={"note": v}),
        rule({"empty", "blank"}),
    ),
    Position(
        "user.update(metadata={key: value})",
        lambda w, v: w.eve.update(metadata={"note": v}),
        rule(METADATA_OK),
    ),
    Position(
        "create_user(metadata={key: value})",
        lambda w, v: w.client.create_user(fresh("m"), "M", metadata={"note": v}),
        rule(METADATA_OK),
    ),
]


@pytest.mark.parametrize("position", TEXT_POSITIONS, ids=[p.name for p in TEXT_POSITIONS])
def test_hostile_texts_are_refused_with_a_typed_error(
    make_world: WorldFactory, position: Position
) -> None:
    """Text arguments refuse text that is not valid UTF-8 (lone surrogates), NUL, non-strings
    and (where a value is required) blank text, and texts over 1M characters; metadata must
    be JSON that PostgreSQL's ``jsonb`` can hold."""
    values = [(label, v) for label, v in HOSTILE_TEXTS if label not in position.skip]
    fail_on(run_table(make_world, position.name, position.call, values, position.expect))


# --- numbers -----------------------------------------------------------------------------

HUGE = {"2**63", "2**64"}

NUMBER_POSITIONS = [
    Position(
        "add_memory(prompt_vid)",
        lambda w, v: w.session.add_memory(facts=["x"], prompt_id="nope", prompt_vid=v),
        rule({"None", "0"}),
    ),
    Position(
        "get_prompt(vid)",
        lambda w, v: w.client.get_prompt("nope", vid=v),
        rule({"None", "0"}),
    ),
    Position(
        "add_memory(memory_block_ttl)",
        lambda w, v: w.session.add_memory(facts=["x"], memory_block_ttl=v),
        rule({"None", "0"}),
    ),
    Position(
        "create_session(memory_blocks_ttl)",
        lambda w, v: w.eve.create_session(fresh("s"), memory_blocks_ttl=v),
        rule({"None", "0"}),
    ),
    Position(
        "update_memory(memory_block_ttl)",
        lambda w, v: w.session.update_memory(w.fact_block, memory_block_ttl=v),
        rule({"0"}),
    ),
    Position("user.modify_ttl(new_ttl)", lambda w, v: w.eve.modify_ttl(v), rule({"0"})),
    Position("user.list_memories(limit)", lambda w, v: w.eve.list_memories(limit=v), rule(set())),
    Position(
        "user.list_memories(offset)",
        lambda w, v: w.eve.list_memories(offset=v),
        rule({"0", *HUGE}),
    ),
    Position(
        "session.list_memories(offset)",
        lambda w, v: w.session.list_memories(offset=v),
        rule({"0", *HUGE}),
    ),
    Position("list_users(limit)", lambda w, v: w.client.list_users(limit=v), rule(set())),
    Position("list_users(offset)", lambda w, v: w.client.list_users(offset=v), rule({"0", *HUGE})),
    Position(
        "user.list_sessions(limit)",
        lambda w, v: w.eve.list_sessions(limit=v),
        rule({"None", "0"}),
    ),
    Position(
        "user.list_sessions(offset)",
        lambda w, v: w.eve.list_sessions(offset=v),
        rule({"None", "0", *HUGE}),
    ),
    Position(
        "search_memory(filters relevant_k)",
        lambda w, v: w.session.search_memory("tea", {"relevant_k": v}),
        rule({"str '10'"}),
    ),
    Position(
        "search_memory(filters limit)",
        lambda w, v: w.session.search_memory(None, {"limit": v}),
        rule({"None", "str '10'"}),
    ),
    Position(
        "search_memory(filters offset)",
        lambda w, v: w.session.search_memory(None, {"offset": v}),
        rule({"0", "str '10'", *HUGE}),
    ),
    Position(
        "search_memory(filters threshold)",
        lambda w, v: w.session.search_memory("tea", {"threshold": v}),
        rule({"None", "0", "-1"}),
    ),
    Position(
        "async add_memory(memory_block_ttl)",
        lambda w, v: AsyncSessionResource(w.session).add_memory(facts=["x"], memory_block_ttl=v),
        rule({"None", "0"}),
    ),
]


@pytest.mark.parametrize("position", NUMBER_POSITIONS, ids=[p.name for p in NUMBER_POSITIONS])
def test_hostile_numbers_are_refused_with_a_typed_error(
    make_world: WorldFactory, position: Position
) -> None:
    """TTLs, limits, offsets, ``relevant_k`` and thresholds refuse bools, NaN, infinities,
    fractions, strings, negatives and values out of range; a huge offset is an empty page
    or a ``ValidationError``, never an ``OverflowError`` from the database driver."""
    fail_on(run_table(make_world, position.name, position.call, HOSTILE_NUMBERS, position.expect))


# --- times -------------------------------------------------------------------------------

STORABLE_TIMES = frozenset(
    {
        "datetime.max (naive)",
        "datetime.min (naive)",
        "naive datetime",
        "date-only ISO string",
        "None",
    }
)
NOT_A_TIME = frozenset({"not ISO", "empty", "lone surrogate", "NUL", "NaN"})


def _bound_rule(label: str) -> Expect:
    return REJECT if label in NOT_A_TIME else ANY


TIME_POSITIONS = [
    Position(
        "add_memory(created_at)",
        lambda w, v: w.session.add_memory(facts=["x"], created_at=v),
        rule(STORABLE_TIMES),
    ),
    Position(
        "add_memory(created_at=[ok, value])",
        lambda w, v: w.session.add_memory(facts=["x", "y"], created_at=["2024-01-01T00:00:00Z", v]),
        rule(STORABLE_TIMES),
    ),
    Position(
        "add_memory(messages, created_at)",
        lambda w, v: w.session.add_memory(
            messages=[ChatMessage(user_content="q", assistant_content="a")], created_at=v
        ),
        rule(STORABLE_TIMES),
    ),
    Position(
        "search_memory(filters created_start_time)",
        lambda w, v: w.eve.search_memory(None, {"created_start_time": v, "order_by": "created_at"}),
        _bound_rule,
    ),
    Position(
        "search_memory(query, filters end_time)",
        lambda w, v: w.eve.search_memory("tea", {"end_time": v}),
        _bound_rule,
    ),
    Position(
        "count_memories(filters created_end_time)",
        lambda w, v: w.eve.count_memories({"created_end_time": v}),
        _bound_rule,
    ),
]


@pytest.mark.parametrize("position", TIME_POSITIONS, ids=[p.name for p in TIME_POSITIONS])
def test_hostile_times_are_refused_with_a_typed_error(
    make_world: WorldFactory, position: Position
) -> None:
    """A ``created_at`` whose UTC value lies outside years 1-9999 is refused (stored, it
    made every later read of the user fail); so is anything that is not a time. Naive
    datetimes are UTC, and even ``datetime.max`` / ``datetime.min`` must read back. As search
    bounds, extreme times may be accepted but never crash."""
    fail_on(run_table(make_world, position.name, position.call, HOSTILE_TIMES, position.expect))


# --- containers and shapes ---------------------------------------------------------------


def _gen() -> Iterator[str]:
    yield "from a generator"


CONTAINER_CASES: list[tuple[str, Callable[[World], Any], Expect]] = [
    ("facts={'a': 1} (dict)", lambda w: w.session.add_memory(facts={"a": 1}), REJECT),
    ("facts='text' (bare string)", lambda w: w.session.add_memory(facts="text"), REJECT),
    ("facts=[1]", lambda w: w.session.add_memory(facts=[1]), REJECT),
    ("facts={'a'} (set)", lambda w: w.session.add_memory(facts={"a"}), REJECT),
    ("facts=[['a']] (nested)", lambda w: w.session.add_memory(facts=[["a"]]), REJECT),
    ("facts=[None]", lambda w: w.session.add_memory(facts=[None]), REJECT),
    ("facts=b'ab' (bytes)", lambda w: w.session.add_memory(facts=b"ab"), REJECT),
    ("facts=range(3)", lambda w: w.session.add_memory(facts=range(3)), REJECT),
    ("facts=[] and no messages", lambda w: w.session.add_memory(facts=[]), REJECT),
    (
        "facts=['ok', lone surrogate]",
        lambda w: w.session.add_memory(facts=["ok", "\ud800"]),
        REJECT,
    ),
    ("facts=(tuple)", lambda w: w.session.add_memory(facts=("a", "b")), ANY),
    ("facts=generator", lambda w: w.session.add_memory(facts=_gen()), ANY),
    ("facts=1001 items", lambda w: w.session.add_memory(facts=["x"] * 1001), REJECT),
    (
        "messages=[{'role': 'user'}] (no content)",
        lambda w: w.session.add_memory(messages=[{"role": "user"}]),
        ANY,
    ),
    (
        "messages=[dict with a misspelt key]",
        lambda w: w.session.add_memory(messages=[{"user_content": "a", "asistant_content": "b"}]),
        REJECT,
    ),
    (
        "messages=[role message with user_content too]",
        lambda w: w.session.add_memory(
            messages=[{"role": "user", "content": "x", "user_content": "y"}]
        ),
        REJECT,
    ),
    (
        "messages={'user_content': 'a'} (bare dict)",
        lambda w: w.session.add_memory(messages={"user_content": "a"}),
        REJECT,
    ),
    ("messages=['hello'] (strings)", lambda w: w.session.add_memory(messages=["hello"]), REJECT),
    ("messages='hello' (bare string)", lambda w: w.session.add_memory(messages="hello"), REJECT),
    (
        "messages=[{'role': 'wizard'}]",
        lambda w: w.session.add_memory(messages=[{"role": "wizard", "content": "x"}]),
        REJECT,
    ),
    ("messages=[{}]", lambda w: w.session.add_memory(messages=[{}]), REJECT),
    (
        "messages=[[dict]] (nested)",
        lambda w: w.session.add_memory(messages=[[{"user_content": "a"}]]),
        REJECT,
    ),
    (
        "messages=[ok, lone surrogate]",
        lambda w: w.session.add_memory(
            messages=[ChatMessage(user_content="ok"), {"role": "user", "content": "\ud800"}]
        ),
        REJECT,
    ),
    (
        "messages and facts",
        lambda w: w.session.add_memory(messages=[ChatMessage(user_content="a")], facts=["b"]),
        REJECT,
    ),
    (
        "annotations={'k': 1}",
        lambda w: w.session.add_memory(facts=["x"], annotations={"k": 1}),
        REJECT,
    ),
    ("annotations='text'", lambda w: w.session.add_memory(facts=["x"], annotations="text"), REJECT),
    (
        "annotations={'k'} (set)",
        lambda w: w.session.add_memory(facts=["x"], annotations={"k"}),
        REJECT,
    ),
    (
        "annotations={1: 'x'}",
        lambda w: w.session.add_memory(facts=["x"], annotations={1: "x"}),
        REJECT,
    ),
    (
        "annotations={'k': None}",
        lambda w: w.session.add_memory(facts=["x"], annotations={"k": None}),
        REJECT,
    ),
    (
        "annotations list of the wrong length",
        lambda w: w.session.add_memory(facts=["x"], annotations=[{"k": "v"}, {"k": "w"}]),
        REJECT,
    ),
    (
        "65 annotations",
        lambda w: w.session.add_memory(facts=["x"], annotations={f"k{i}": "v" for i in range(65)}),
        REJECT,
    ),
    (
        "annotation value of 1025 chars",
        lambda w: w.session.add_memory(facts=["x"], annotations={"k": "v" * 1025}),
        REJECT,
    ),
    (
        "metadata={'k': {1, 2}} (set)",
        lambda w: w.session.add_memory(facts=["x"], metadata={"k": {1, 2}}),
        REJECT,
    ),
    (
        "metadata={'k': NaN}",
        lambda w: w.session.add_memory(facts=["x"], metadata={"k": math.nan}),
        REJECT,
    ),
    (
        "metadata={'k': inf}",
        lambda w: w.session.add_memory(facts=["x"], metadata={"k": math.inf}),
        REJECT,
    ),
    ("metadata='text'", lambda w: w.session.add_memory(facts=["x"], metadata="text"), REJECT),
    ("metadata=[1]", lambda w: w.session.add_memory(facts=["x"], metadata=[1]), REJECT),
    (
        "metadata={'k': b'x'}",
        lambda w: w.session.add_memory(facts=["x"], metadata={"k": b"x"}),
        REJECT,
    ),
    (
        "metadata={'k': 2**70}",
        lambda w: w.session.add_memory(facts=["x"], metadata={"k": 2**70}),
        ANY,
    ),
    (
        "metadata={1: 'x'} (int key)",
        lambda w: w.session.add_memory(facts=["x"], metadata={1: "x"}),
        ANY,
    ),
    (
        "metadata nested 5000 deep",
        lambda w: w.session.add_memory(facts=["x"], metadata=deeply_nested()),
        ANY,
    ),
    (
        "create_user metadata nested 5000 deep",
        lambda w: w.client.create_user(fresh("d"), "D", metadata=deeply_nested()),
        ANY,
    ),
    (
        "create_user metadata='text'",
        lambda w: w.client.create_user(fresh("d"), "D", metadata="text"),
        REJECT,
    ),
    (
        "create_session annotations='text'",
        lambda w: w.eve.create_session(fresh("s"), annotations="text"),
        REJECT,
    ),
    (
        "create_session annotations={'k': 1}",
        lambda w: w.eve.create_session(fresh("s"), annotations={"k": 1}),
        REJECT,
    ),
    (
        "async_processing='yes'",
        lambda w: w.session.add_memory(facts=["x"], async_processing="yes"),
        REJECT,
    ),
    (
        "async_processing=None",
        lambda w: w.session.add_memory(facts=["x"], async_processing=None),
        REJECT,
    ),
    (
        "list_memories(session_ids='s,<surrogate>')",
        lambda w: w.eve.list_memories(session_ids="s,\ud800"),
        REJECT,
    ),
    ("list_memories(session_ids={'s'})", lambda w: w.eve.list_memories(session_ids={"s"}), REJECT),
    ("list_memories(session_ids=[])", lambda w: w.eve.list_memories(session_ids=[]), REJECT),
    ("list_memories(session_ids=5)", lambda w: w.eve.list_memories(session_ids=5), REJECT),
    (
        "list_memories(session_ids=[None])",
        lambda w: w.eve.list_memories(session_ids=[None]),
        REJECT,
    ),
    ("list_memories(order_by=None)", lambda w: w.eve.list_memories(order_by=None), REJECT),
    (
        "filters={'session_ids': {'s'}} (a set is fine for a filter)",
        lambda w: w.session.search_memory(None, {"session_ids": {"s"}}),
        ANY,
    ),
    (
        "filters={'session_ids': 's,<surrogate>'}",
        lambda w: w.session.search_memory(None, {"session_ids": "s,\ud800"}),
        REJECT,
    ),
    (
        "filters={'block_ids': 'abc'}",
        lambda w: w.session.search_memory(None, {"block_ids": "abc"}),
        REJECT,
    ),
    (
        "filters={'annotations': {'k': 1}}",
        lambda w: w.session.search_memory(None, {"annotations": {"k": 1}}),
        REJECT,
    ),
    ("filters={'kind': 'zzz'}", lambda w: w.session.search_memory(None, {"kind": "zzz"}), REJECT),
    (
        "filters={'role': 'wizard'}",
        lambda w: w.session.search_memory(None, {"role": "wizard"}),
        REJECT,
    ),
    (
        "filters={'descending': 'maybe'}",
        lambda w: w.session.search_memory(None, {"descending": "maybe"}),
        REJECT,
    ),
    (
        "filters={'relevant_k': True}",
        lambda w: w.session.search_memory("tea", {"relevant_k": True}),
        REJECT,
    ),
    ("filters={'limit': True}", lambda w: w.session.search_memory(None, {"limit": True}), REJECT),
    ("filters={'offset': True}", lambda w: w.session.search_memory(None, {"offset": True}), REJECT),
    ("filters={'agent_id': ''}", lambda w: w.session.search_memory(None, {"agent_id": ""}), REJECT),
    (
        "filters=['session_ids'] (list)",
        lambda w: w.session.search_memory("tea", ["session_ids"]),
        REJECT,
    ),
    ("filters='all' (string)", lambda w: w.session.search_memory("tea", "all"), REJECT),
    (
        "FilterOptions.model_construct(relevant_k=-5)",
        lambda w: w.session.search_memory("tea", FilterOptions.model_construct(relevant_k=-5)),
        REJECT,
    ),
    (
        "FilterOptions.model_construct(offset=-1)",
        lambda w: w.session.search_memory(None, FilterOptions.model_construct(offset=-1)),
        REJECT,
    ),
    (
        "FilterOptions.model_construct(session_ids=5)",
        lambda w: w.session.search_memory(None, FilterOptions.model_construct(session_ids=5)),
        REJECT,
    ),
    (
        "FilterOptions.model_construct(start_time='yesterday')",
        lambda w: w.session.search_memory(
            None, FilterOptions.model_construct(start_time="yesterday")
        ),
        REJECT,
    ),
    (
        "FilterOptions.model_construct(annotations='x')",
        lambda w: w.session.search_memory(None, FilterOptions.model_construct(annotations="x")),
        REJECT,
    ),
    (
        "update_memory(message=... on a fact block)",
        lambda w: w.session.update_memory(w.fact_block, message=ChatMessage(user_content="x")),
        REJECT,
    ),
    (
        "update_memory(message={'role': 'wizard'})",
        lambda w: w.session.update_memory(
            w.message_block, message={"role": "wizard", "content": "x"}
        ),
        REJECT,
    ),
    (
        "update_memory(annotations={'k': 1})",
        lambda w: w.session.update_memory(w.fact_block, annotations={"k": 1}),
        REJECT,
    ),
    (
        "update_memory(metadata={'k': NaN})",
        lambda w: w.session.update_memory(w.fact_block, metadata={"k": math.nan}),
        REJECT,
    ),
    (
        "update_memory(metadata nested 5000 deep)",
        lambda w: w.session.update_memory(w.fact_block, metadata=deeply_nested()),
        ANY,
    ),
    (
        "update_memory(bob's block) from eve's session",
        lambda w: w.session.update_memory(w.bob_block, fact="hijacked"),
        TYPED,
    ),
    (
        "get_memory_block(bob's block) from eve's session",
        lambda w: w.session.get_memory_block(w.bob_block),
        TYPED,
    ),
    (
        "delete_memory([bob's block]) from eve's session",
        lambda w: w.session.delete_memory([w.bob_block]),
        ANY,
    ),
    (
        "modify_ttl(1, block_ids=[bob's block]) from eve",
        lambda w: w.eve.modify_ttl(1, session_id="s", block_ids=[w.bob_block]),
        ANY,
    ),
    ("erase_user('bob\\u200b') (spoof of bob)", lambda w: erase_user(w.client, "bob\u200b"), TYPED),
    ("create_session('s') again", lambda w: w.eve.create_session("s"), TYPED),
    ("delete_memory('ALL') (not 'all')", lambda w: w.session.delete_memory("ALL"), ANY),
    (
        "export_records('nobody') (unknown user)",
        lambda w: list(w.client.backend.export_records("nobody")),  # type: ignore[attr-defined]
        TYPED,
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "expect"), CONTAINER_CASES, ids=[case[0] for case in CONTAINER_CASES]
)
def test_wrong_shapes_are_refused_with_a_typed_error(
    make_world: WorldFactory, name: str, call: Callable[[World], Any], expect: Expect
) -> None:
    """Wrong container types and shapes; a list with one bad item writes nothing at all."""
    world = make_world()
    world.attempt(name, lambda: call(world), expect)
    fail_on(world.finish())


# --- the poisoned-user regression ------------------------------------------------------------


@pytest.mark.parametrize("async_processing", [True, False])
@pytest.mark.parametrize("created_at", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"])
def test_created_at_outside_the_datetime_range_does_not_poison_the_user(
    client: AgentMemoryClient, created_at: str, async_processing: bool
) -> None:
    """The review's poisoned user: a ``created_at`` whose UTC value falls before year 1 (or
    after 9999) was stored, and then every listing and search of the user failed with
    ``ValueError: year 0 is out of range``. It must be a ``ValidationError`` and write
    nothing; the user keeps listing and searching fine."""
    session = client.create_user(EVE, "Eve").create_session("s")
    session.add_memory(facts=["before the attack"], async_processing=False)
    with pytest.raises(ValidationError):
        session.add_memory(facts=["x"], created_at=created_at, async_processing=async_processing)
    client.wait_until_processed(30)
    user = client.get_user(EVE)
    for order_by in ("ingested_at", "created_at"):
        page = user.list_memories(order_by=order_by)
        assert [b.fact for b in page.memory_blocks] == ["before the attack"]
    assert [b.fact for b in user.search_memory().memory_blocks] == ["before the attack"]
    assert [b.fact for b in user.search_memory("attack").memory_blocks] == ["before the attack"]
    assert user.count_memories() == 1
    assert sum(r["type"] == "block" for r in client.backend.export_records(EVE)) == 1  # type: ignore[attr-defined]
    assert erase_user(client, EVE)["blocks"] == 1


# --- retention ---------------------------------------------------------------------------


@pytest.mark.parametrize("field_name", ["message_days", "memory_days"])
def test_hostile_retention_days_and_sweep(make_world: WorldFactory, field_name: str) -> None:
    """Retention days refuse bools, NaN, infinities, fractions, strings and negatives. A
    huge value (``10**18`` days) may be refused or mean "keep everything", but then the
    sweep (run by ``sweep_expired()`` and by the background worker) must still work and
    delete nothing."""
    refused = {"True", "False", "NaN", "inf", "-inf", "1.5", "str '10'", "-1", "-(2**63)-1"}
    values = [
        *[(label, v) for label, v in HOSTILE_NUMBERS if label not in ("0", "None")],
        ("10**18", 10**18),
        ("10**9", 10**9),
    ]
    problems: list[str] = []
    for label, value in values:
        world = make_world()
        expect: Expect = REJECT if label in refused else ANY
        setting = f"update_retention_config({field_name}) <- {label}"
        world.attempt(
            setting,
            lambda value=value, world=world: world.client.update_retention_config(
                **{field_name: value}
            ),
            expect,
        )
        world.attempt(
            f"{setting}, then get_retention_config()", world.client.get_retention_config, OK
        )
        removed = world.attempt(f"{setting}, then sweep_expired()", world.client.sweep_expired, OK)
        if removed is not None and sum(removed.values()):
            problems.append(f"{setting}, then sweep_expired() deleted {removed}")
        problems.extend(world.finish())
        world.close()
    fail_on(problems)


# --- a closed client ---------------------------------------------------------------------

CLOSED_CLIENT_CALLS: dict[str, Callable[[AgentMemoryClient], Any]] = {
    "create_user": lambda c: c.create_user("x", "X"),
    "get_user": lambda c: c.get_user(BOB),
    "get_or_create_user": lambda c: c.get_or_create_user("x"),
    "list_users": lambda c: c.list_users(),
    "delete_user": lambda c: c.delete_user(BOB),
    "get_retention_config": lambda c: c.get_retention_config(),
    "update_retention_config": lambda c: c.update_retention_config(memory_days=5),
    "sweep_expired": lambda c: c.sweep_expired(),
    "create_prompt": lambda c: c.create_prompt("p", "x", "d"),
    "get_prompt": lambda c: c.get_prompt("p"),
    "list_prompts": lambda c: c.list_prompts(),
    "update_prompt": lambda c: c.update_prompt("p", prompt="y"),
    "list_prompt_versions": lambda c: c.list_prompt_versions("p"),
    "archive_prompt": lambda c: c.archive_prompt("p"),
    "purge_prompt": lambda c: c.purge_prompt("p"),
}
CLOSED_USER_CALLS: dict[str, Callable[[UserResource], Any]] = {
    "update": lambda u: u.update(name="New"),
    "delete": lambda u: u.delete(),
    "modify_ttl": lambda u: u.modify_ttl(60),
    "create_session": lambda u: u.create_session("x"),
    "get_session": lambda u: u.get_session("s"),
    "get_or_create_session": lambda u: u.get_or_create_session("x"),
    "list_sessions": lambda u: u.list_sessions(),
    "list_memories": lambda u: u.list_memories(),
    "search_memory": lambda u: u.search_memory("tea"),
    "count_memories": lambda u: u.count_memories(),
    "fact_history": lambda u: u.fact_history(),
}
CLOSED_SESSION_CALLS: dict[str, Callable[[SessionResource], Any]] = {
    "update": lambda s: s.update(annotations={"a": "b"}),
    "delete": lambda s: s.delete(),
    "end": lambda s: s.end(),
    "add_memory": lambda s: s.add_memory(facts=["x"]),
    "update_memory": lambda s: s.update_memory("b", fact="y"),
    "get_memory": lambda s: s.get_memory(),
    "search_memory": lambda s: s.search_memory("tea"),
    "get_memory_block": lambda s: s.get_memory_block("b"),
    "list_memories": lambda s: s.list_memories(),
    "delete_memory": lambda s: s.delete_memory("all"),
    "count_memories": lambda s: s.count_memories(),
}
# Documented not to raise, or meaningful after close: never to be listed above.
CLOSED_EXEMPT = {"health_ping", "close", "wait_until_processed", "for_sap", "metrics"}


def _public_methods(cls: type) -> set[str]:
    return {
        name for name in dir(cls) if not name.startswith("_") and callable(getattr(cls, name))
    } - CLOSED_EXEMPT


def test_closed_client_table_covers_every_method() -> None:
    assert _public_methods(AgentMemoryClient) <= set(CLOSED_CLIENT_CALLS)
    assert _public_methods(UserResource) <= set(CLOSED_USER_CALLS)
    assert _public_methods(SessionResource) <= set(CLOSED_SESSION_CALLS)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_every_method_of_a_closed_client_raises_a_typed_error(tmp_path: Path, flavour: str) -> None:
    """After ``close()`` every method (of the client and of handles taken before) raises an
    ``AgentMemoryError`` that says the client is closed, and nothing is written; the store
    reopens intact. ``health_ping`` (documented never to raise) and ``close`` are exempt."""
    path = tmp_path / "closed.sqlite3"
    client = AgentMemoryClient(path, embedder=HashingEmbedder())
    seed_user(client, BOB)
    before = list(client.backend.export_records())  # type: ignore[attr-defined]
    user = client.get_user(BOB)
    session = user.get_session("s")
    client.close()
    calls: list[tuple[str, Callable[[], Any]]] = []
    if flavour == "sync":
        calls += [(f"client.{n}", lambda f=f: f(client)) for n, f in CLOSED_CLIENT_CALLS.items()]
        calls += [(f"user.{n}", lambda f=f: f(user)) for n, f in CLOSED_USER_CALLS.items()]
        calls += [(f"session.{n}", lambda f=f: f(session)) for n, f in CLOSED_SESSION_CALLS.items()]
        calls.append(("lifecycle.erase_user", lambda: erase_user(client, BOB)))
        calls.append(("client.wait_until_processed", lambda: client.wait_until_processed(1)))
    else:
        import asyncio

        aclient = AsyncAgentMemoryClient.from_client(client)
        auser, asession = AsyncUserResource(user), AsyncSessionResource(session)

        def run(coroutine_factory: Callable[[], Any]) -> Callable[[], Any]:
            return lambda: asyncio.run(coroutine_factory())

        calls += [
            (f"async client.{n}", run(lambda f=f: f(aclient)))
            for n, f in CLOSED_CLIENT_CALLS.items()
        ]
        calls += [
            (f"async user.{n}", run(lambda f=f: f(auser))) for n, f in CLOSED_USER_CALLS.items()
        ]
        calls += [
            (f"async session.{n}", run(lambda f=f: f(asession)))
            for n, f in CLOSED_SESSION_CALLS.items()
        ]
    problems = []
    for name, call in calls:
        try:
            result = call()
        except AgentMemoryError:
            continue
        except Exception as exc:
            problems.append(f"{name} on a closed client: NON-TYPED {describe(exc)}")
        else:
            if not name.endswith("wait_until_processed"):
                problems.append(f"{name} on a closed client: ACCEPTED, returned {result!r:.80}")
    try:
        client.health_ping()  # documented never to raise
        client.close()  # idempotent
    except Exception as exc:
        problems.append(f"health_ping() or a second close() raised {describe(exc)}")
    with AgentMemoryClient(path, embedder=HashingEmbedder()) as reopened:
        if list(reopened.backend.export_records()) != before:  # type: ignore[attr-defined]
            problems.append("calls on the closed client changed the store")
    fail_on(problems)


# --- impossible stores ---------------------------------------------------------------------


def _directory(tmp: Path) -> Any:
    target = tmp / "a-directory"
    target.mkdir()
    return target


def _random_bytes(tmp: Path) -> Any:
    target = tmp / "random.bin"
    target.write_bytes(random.Random(15).randbytes(8192))
    return target


def _under_a_file(tmp: Path) -> Any:
    parent = tmp / "plain-file"
    parent.write_text("not a directory")
    return parent / "memory.sqlite3"


def _foreign_sqlite(tmp: Path) -> Any:
    """A SQLite database of another application, with a table named like ours."""
    target = tmp / "other-app.db"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE mi_users (id INTEGER PRIMARY KEY, email TEXT)")
        conn.execute("INSERT INTO mi_users (email) VALUES ('someone@example.com')")
    return target


IMPOSSIBLE_STORES: list[tuple[str, Callable[[Path], Any]]] = [
    ("a directory", _directory),
    ("a file of random bytes", _random_bytes),
    ("a path whose parent is a regular file", _under_a_file),
    ("another application's SQLite file", _foreign_sqlite),
    ("a path with a lone surrogate", lambda tmp: str(tmp / "bad-\ud800.sqlite3")),
    ("a path with NUL", lambda tmp: str(tmp / "bad\x00.sqlite3")),
    ("an int (42)", lambda tmp: 42),
    ("an empty string", lambda tmp: ""),
    ("bytes", lambda tmp: os.fsencode(tmp / "bytes.sqlite3")),
]


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): (p.read_bytes() if p.is_file() else b"<dir>")
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize(
    ("name", "make"), IMPOSSIBLE_STORES, ids=[case[0] for case in IMPOSSIBLE_STORES]
)
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_opening_an_impossible_store_raises_a_typed_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    make: Callable[[Path], Any],
    flavour: str,
) -> None:
    """``AgentMemoryClient(path=...)`` on something that cannot be a memory store raises an
    ``AgentMemoryError`` (a ``ConfigurationError`` naming the path is what a user expects),
    creates no file (not even in the working directory) and leaves what is there untouched."""
    monkeypatch.chdir(tmp_path)
    location = make(tmp_path)
    before = _tree(tmp_path)
    problems: list[str] = []
    try:
        if flavour == "sync":
            AgentMemoryClient(location, embedder=HashingEmbedder()).close()
        else:
            AsyncAgentMemoryClient(location, embedder=HashingEmbedder()).sync_client.close()
    except AgentMemoryError:
        pass
    except Exception as exc:
        problems.append(f"{name}: NON-TYPED {describe(exc)}")
    else:
        problems.append(f"{name}: ACCEPTED as a memory store")
    after = _tree(tmp_path)
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        problems.append(f"{name}: the open changed or created files: {changed}")
    fail_on(problems)


# --- the property: everything at once, on SQLite and PostgreSQL ------------------------------


@dataclass(frozen=True)
class Arg:
    """A drawn argument: its value, and whether it is certainly invalid where it is used."""

    value: Any
    invalid: bool = False


def _pool(
    values: list[tuple[str, Any]], invalid: set[str] | frozenset[str]
) -> st.SearchStrategy[Arg]:
    return st.sampled_from(values).map(lambda lv: Arg(lv[1], lv[0] in invalid))


def _none_is_valid(arg: Arg) -> Arg:
    return Arg(arg.value, arg.invalid and arg.value is not None)


def _blank_is_valid(arg: Arg) -> Arg:
    blank = isinstance(arg.value, str) and not arg.value.strip()
    return Arg(arg.value, arg.invalid and not blank)


ID_LABELS = frozenset(label for label, _ in HOSTILE_IDS)
TEXT_LABELS = frozenset(label for label, _ in HOSTILE_TEXTS)
SOME_TEXT = st.text(max_size=12).map(Arg)  # validity unknown
IDS = st.one_of(
    st.sampled_from([EVE, "s", "s2", "planner", "fresh-id"]).map(Arg),
    _pool(HOSTILE_IDS, ID_LABELS),
    SOME_TEXT,
)
TEXTS = st.one_of(
    st.sampled_from(["green tea", "memory", "Lyon"]).map(Arg),
    _pool([item for item in HOSTILE_TEXTS if item[0] != "over 1M characters"], TEXT_LABELS),
    SOME_TEXT,
)
NUMBERS = st.one_of(
    st.integers(min_value=1, max_value=3600).map(Arg),
    _pool(
        HOSTILE_NUMBERS,
        {"True", "False", "NaN", "inf", "-inf", "1.5", "str '10'", "-1", "-(2**63)-1"},
    ),
)
TIMES = st.one_of(
    st.just(Arg("2024-05-01T10:00:00Z")),
    _pool(HOSTILE_TIMES, OUT_OF_RANGE_TIMES | NOT_A_TIME | {"epoch int", "bytes"}),
)
ANNOTATIONS = st.one_of(
    st.just(Arg(None)),
    st.just(Arg({"topic": "food"})),
    TEXTS.map(lambda t: Arg({"note": t.value}, _blank_is_valid(t).invalid)),
    st.sampled_from([{"k": 1}, "text", {"a-b": "x"}, {"k": None}]).map(lambda v: Arg(v, True)),
)
METADATA = st.one_of(
    st.just(Arg(None)),
    st.just(Arg({"source": "chat"})),
    st.sampled_from([{"k": math.nan}, {"k": {1}}, "text", [1], {"k": b"x"}, {"k": "\ud800"}]).map(
        lambda v: Arg(v, True)
    ),
    st.sampled_from([{"k": 2**70}, {1: "x"}, {"k": "\x00"}]).map(Arg),
)
FACTS = st.one_of(
    st.lists(TEXTS, min_size=1, max_size=3).map(
        lambda items: Arg([a.value for a in items], any(a.invalid for a in items))
    ),
    st.sampled_from([{"a": 1}, "text", {"a"}, b"ab", [None], [["a"]]]).map(lambda v: Arg(v, True)),
)
MESSAGES = st.one_of(
    st.just(Arg([ChatMessage(user_content="q", assistant_content="a")])),
    TEXTS.map(lambda t: Arg([{"role": "user", "content": t.value}])),
    st.sampled_from(
        [[{"role": "wizard", "content": "x"}], [{"user_content": "a", "typo": 1}], ["hello"], [{}]]
    ).map(lambda v: Arg(v, True)),
    st.just(Arg([{"role": "user"}])),
)
FILTER_KEYS = st.sets(
    st.sampled_from(
        [
            "session_ids",
            "block_ids",
            "relevant_k",
            "threshold",
            "created_start_time",
            "end_time",
            "annotations",
            "limit",
            "offset",
            "metadata_contains",
            "content_contains",
            "agent_id",
            "order_by",
            "descending",
        ]
    ),
    max_size=3,
)


def _expect(*args: Arg) -> Expect:
    return TYPED if any(a.invalid for a in args) else ANY


def _lax(arg: Arg, coerced: type) -> Arg:
    """Filters are a pydantic model: a value it coerces (bytes to str, '10' to 10) is not
    certainly invalid there."""
    return Arg(arg.value, arg.invalid and not isinstance(arg.value, coerced))


@st.composite
def filters(draw: st.DrawFn) -> Arg:
    chosen: dict[str, Any] = {}
    invalid = False
    for key in sorted(draw(FILTER_KEYS)):
        if key in ("session_ids", "block_ids"):
            arg = _lax(draw(IDS), bytes)
            chosen[key] = [arg.value]
        elif key in ("relevant_k", "limit", "offset"):
            arg = _lax(draw(NUMBERS), str)
            chosen[key] = arg.value
        elif key == "threshold":
            arg = Arg(draw(NUMBERS).value)  # -1 and 0 are valid thresholds
            chosen[key] = arg.value
        elif key in ("created_start_time", "end_time"):
            arg = Arg(draw(TIMES).value)  # as bounds, extreme times may be accepted
            chosen[key] = arg.value
        elif key == "annotations":
            arg = draw(ANNOTATIONS)
            if isinstance(arg.value, dict) and any(
                isinstance(v, bytes) for v in arg.value.values()
            ):
                arg = Arg(arg.value)
            chosen[key] = arg.value
        elif key == "agent_id":
            arg = _lax(_none_is_valid(draw(IDS)), bytes)
            chosen[key] = arg.value
        elif key == "order_by":
            arg = draw(st.sampled_from([Arg("created_at"), Arg("rowid", True), Arg(None)]))
            chosen[key] = arg.value
        elif key == "descending":
            arg = draw(st.sampled_from([Arg(True), Arg("maybe", True)]))
            chosen[key] = arg.value
        else:  # metadata_contains, content_contains
            arg = _lax(_none_is_valid(draw(TEXTS)), bytes)
            chosen[key] = arg.value
        invalid = invalid or arg.invalid
    return Arg(chosen, invalid)


def _op_add(w: World, draw: st.DrawFn) -> None:
    content = draw(st.sampled_from(["facts", "messages"]))
    items = draw(FACTS if content == "facts" else MESSAGES)
    notes, meta, when = draw(ANNOTATIONS), draw(METADATA), draw(TIMES)
    ttl, agent = draw(NUMBERS), _none_is_valid(draw(IDS))
    background, via_async = draw(st.booleans()), draw(st.booleans())
    kwargs = {
        content: items.value,
        "annotations": notes.value,
        "metadata": meta.value,
        "created_at": when.value,
        "memory_block_ttl": ttl.value,
        "agent_id": agent.value,
        "async_processing": background,
    }

    def call() -> Any:
        if via_async:
            return AsyncSessionResource(w.session).add_memory(**kwargs)
        return w.session.add_memory(**kwargs)

    w.attempt(
        f"{'async ' if via_async else ''}add_memory({content}={items.value!a:.60}, "
        f"annotations={notes.value!a:.40}, metadata={meta.value!a:.40}, "
        f"created_at={when.value!a:.40}, memory_block_ttl={ttl.value!a}, "
        f"agent_id={agent.value!a:.40}, async_processing={background})",
        call,
        _expect(items, notes, meta, when, ttl, agent),
    )


def _op_search(w: World, draw: st.DrawFn) -> None:
    query = _none_is_valid(draw(st.one_of(st.just(Arg(None)), TEXTS)))
    options = draw(filters())
    scope = draw(st.sampled_from(["session", "user", "count"]))
    calls: dict[str, Callable[[], Any]] = {
        "count": lambda: w.eve.count_memories(options.value),
        "user": lambda: w.eve.search_memory(query.value, options.value),
        "session": lambda: w.session.search_memory(query.value, options.value),
    }
    used = (options,) if scope == "count" else (query, options)
    w.attempt(
        f"{scope} search(query={query.value!a:.40}, filters={options.value!a:.160})",
        calls[scope],
        _expect(*used),
    )


def _op_list(w: World, draw: st.DrawFn) -> None:
    scope = draw(
        st.one_of(
            st.just(Arg(None)), st.just(Arg("all")), IDS.map(lambda a: Arg([a.value], a.invalid))
        )
    )
    limit, offset = draw(NUMBERS), draw(NUMBERS)
    order = draw(st.sampled_from([Arg("created_at"), Arg("ingested_at"), Arg("seq", True)]))
    w.attempt(
        f"list_memories(session_ids={scope.value!a:.40}, limit={limit.value!a}, "
        f"offset={offset.value!a}, order_by={order.value!a})",
        lambda: w.eve.list_memories(scope.value, limit.value, offset.value, order.value),
        _expect(scope, order, limit, offset),
    )


def _op_create(w: World, draw: st.DrawFn) -> None:
    ident, meta = draw(IDS), draw(METADATA)
    if draw(st.booleans()):
        name = draw(TEXTS)
        w.attempt(
            f"create_user({ident.value!a:.40}, {name.value!a:.40}, metadata={meta.value!a:.40})",
            lambda: w.client.create_user(ident.value, name.value, meta.value),
            _expect(ident, name, meta),
            user=ident.value,
        )
    else:
        notes, ttl = draw(ANNOTATIONS), draw(NUMBERS)
        w.attempt(
            f"create_session({ident.value!a:.40}, annotations={notes.value!a:.40}, "
            f"metadata={meta.value!a:.40}, memory_blocks_ttl={ttl.value!a})",
            lambda: w.eve.create_session(ident.value, notes.value, meta.value, ttl.value),
            _expect(ident, notes, meta, ttl),
        )


def _op_update(w: World, draw: st.DrawFn) -> None:
    target = draw(st.one_of(st.just(Arg(w.fact_block)), IDS))
    text = _none_is_valid(draw(TEXTS))
    notes, meta, ttl = draw(ANNOTATIONS), draw(METADATA), draw(NUMBERS)
    w.attempt(
        f"update_memory({target.value!a:.40}, fact={text.value!a:.40}, "
        f"annotations={notes.value!a:.40}, metadata={meta.value!a:.40}, "
        f"memory_block_ttl={ttl.value!a})",
        lambda: w.session.update_memory(
            target.value,
            fact=text.value,
            annotations=notes.value,
            metadata=meta.value,
            memory_block_ttl=ttl.value,
        ),
        _expect(target, text, notes, meta, ttl),
    )


def _op_ids(w: World, draw: st.DrawFn) -> None:
    ident = draw(IDS)
    which = draw(
        st.sampled_from(
            ["get_user", "get_session", "get_memory_block", "delete_memory", "modify_ttl", "export"]
            + ([] if ident.value == EVE else ["erase_user"])
        )
    )
    calls: dict[str, Callable[[], Any]] = {
        "get_user": lambda: w.client.get_user(ident.value),
        "get_session": lambda: w.eve.get_session(ident.value),
        "get_memory_block": lambda: w.session.get_memory_block(ident.value),
        "delete_memory": lambda: w.session.delete_memory([ident.value]),
        "modify_ttl": lambda: w.eve.modify_ttl(3600, session_id="s", block_ids=[ident.value]),
        "export": lambda: list(w.client.backend.export_records(ident.value)),  # type: ignore[attr-defined]
        "erase_user": lambda: erase_user(w.client, ident.value),
    }
    arg = _none_is_valid(ident) if which == "export" else ident
    w.attempt(f"{which}({ident.value!a:.60})", calls[which], _expect(arg))


OPS = [_op_add, _op_search, _op_list, _op_create, _op_update, _op_ids]


def _locations(storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], Any]:
    counter = itertools.count()
    if storage == "sqlite":
        return lambda: tmp_path / f"prop-{next(counter)}.sqlite3"
    import psycopg

    base = request.getfixturevalue("postgres_server")

    def location() -> Any:
        schema = f"hostile_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema},public"

    return location


def test_hostile_calls_property(
    storage: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Random sequences of hostile calls, each checked for (a)-(d), on SQLite and PostgreSQL.

    Each example starts from a freshly seeded store. Arguments are drawn from valid values,
    the hostile pools above and arbitrary text; a call with a certainly invalid argument must
    fail with a typed error. Shrinking is off: the failure message names the exact calls.
    """
    location = _locations(storage, tmp_path, request)

    @settings(
        max_examples=40 if storage == "sqlite" else 25,
        deadline=None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        world = World(location())
        try:
            for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
                op = data.draw(st.sampled_from(OPS))
                op(world, data.draw)
            problems = world.finish()
        finally:
            world.close()
        assert not problems, f"{len(problems)} contract breaches:\n" + "\n".join(problems)

    run()
