"""Malformed import records (issue #15): a typed error, and the target store exactly as before.

``import_records`` loads an export (JSON Lines records: header, user, sessions, blocks) into
a store. A record may be missing keys, carry wrong types, huge ints or timestamps outside
the datetime range, an invalid embedding, or point at a user the file does not define —
including a user that exists in the target store (then it would write into *another user's*
sessions). Each must raise an ``AgentMemoryError`` (a ``ValidationError`` naming the line /
record for malformed input, a ``ConflictError`` for a user that exists) and leave every
table of the target unchanged: an import is all-or-nothing, also when the bad record comes
after the first few hundred good ones. The CLI ``import`` command (which also reads invalid
JSON lines) must exit with an error and leave the store unchanged too.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from memory_integrations import AgentMemoryClient, ChatMessage
from memory_integrations.cli import main as cli
from memory_integrations.embedders import HashingEmbedder

from ._hostile import BOB, REJECT, TYPED, Expect, World, WorldFactory, fail_on, frozen_clock

Records = list[dict[str, Any]]
CAROL = "carol"


@pytest.fixture(scope="module")
def carol(tmp_path_factory: pytest.TempPathFactory) -> Records:
    """The export of a user of another store: two sessions, facts and messages."""
    path = tmp_path_factory.mktemp("carol") / "source.sqlite3"
    with AgentMemoryClient(path, embedder=HashingEmbedder(), clock=frozen_clock) as source:
        user = source.create_user(CAROL, "Carol", metadata={"tier": "silver"})
        session = user.create_session("s", annotations={"topic": "travel"})
        session.add_memory(
            facts=["carol flies to Oslo", "carol likes window seats"],
            annotations={"kind": "pref"},
            metadata={"n": 1},
            created_at="2024-03-01T08:00:00Z",
            async_processing=False,
        )
        session.add_memory(
            messages=[ChatMessage(user_content="book it", assistant_content="booked")],
            async_processing=False,
        )
        user.create_session("other").add_memory(
            facts=["carol's other fact"], async_processing=False
        )
        return list(source.backend.export_records(CAROL))  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def big_carol(tmp_path_factory: pytest.TempPathFactory) -> Records:
    """An export with 600 blocks: more than one import batch."""
    path = tmp_path_factory.mktemp("big-carol") / "source.sqlite3"
    with AgentMemoryClient(path, embedder=HashingEmbedder(), clock=frozen_clock) as source:
        session = source.create_user(CAROL, "Carol").create_session("s")
        session.add_memory(facts=[f"carol fact {i}" for i in range(600)], async_processing=False)
        return list(source.backend.export_records(CAROL))  # type: ignore[attr-defined]


def _index(records: Records, kind: str, nth: int = 0) -> int:
    return [i for i, r in enumerate(records) if r["type"] == kind][nth]


def edit(record_type: str, nth: int = 0, /, **changes: Any) -> Callable[[Records, World], Records]:
    """Change fields of the ``nth`` record of a type (a value of ``...`` deletes the key)."""

    def make(records: Records, world: World) -> Records:
        out = copy.deepcopy(records)
        record = out[_index(out, record_type, nth)]
        for key, value in changes.items():
            if value is ...:
                record.pop(key, None)
            else:
                record[key] = value
        return out

    return make


def _block_into_bob(records: Records, world: World) -> Records:
    """A block whose user exists in the target store (bob) but not in the file."""
    out = copy.deepcopy(records)
    block = out[_index(out, "block")]
    block.update(user_id=BOB, session_id="s")
    return out


def _session_for_bob(records: Records, world: World) -> Records:
    out = copy.deepcopy(records)
    session = copy.deepcopy(out[_index(out, "session")])
    session.update(user_id=BOB, session_id="s")
    out.insert(_index(out, "block"), session)
    return out


def _only_a_block_for_bob(records: Records, world: World) -> Records:
    """A file of a header and one block, for bob's existing session."""
    block = copy.deepcopy(records[_index(records, "block")])
    block.update(user_id=BOB, session_id="s", block_id="9c0ffee0-0000-4000-8000-000000000001")
    return [records[0], block]


def _bobs_block_id(records: Records, world: World) -> Records:
    out = copy.deepcopy(records)
    out[_index(out, "block")]["block_id"] = world.bob_block
    return out


def _block_for_an_undefined_user(records: Records, world: World) -> Records:
    out = copy.deepcopy(records)
    out[_index(out, "block")].update(user_id="zed", session_id="s")
    return out


def _user_twice(records: Records, world: World) -> Records:
    out = copy.deepcopy(records)
    out.append(copy.deepcopy(out[_index(out, "user")]))
    return out


def _then_bob(records: Records, world: World) -> Records:
    """Carol, then bob's own records (bob exists in the target): a ConflictError, and
    carol must not be imported either."""
    bob = list(world.client.backend.export_records(BOB))  # type: ignore[attr-defined]
    return [*copy.deepcopy(records), *bob[1:]]


def _append(record: Any) -> Callable[[Records, World], Records]:
    def make(records: Records, world: World) -> Records:
        return [*copy.deepcopy(records), record]

    return make


B64_3_BYTES = base64.b64encode(b"abc").decode()
B64_WRONG_DIM = base64.b64encode(b"\x00" * 4 * 100).decode()

CASES: list[tuple[str, Callable[[Records, World], Records], Expect]] = [
    ("user without name", edit("user", name=...), REJECT),
    ("user without user_id", edit("user", user_id=...), REJECT),
    ("session without user_id", edit("session", user_id=...), REJECT),
    ("session without start_time", edit("session", start_time=...), REJECT),
    ("block without status", edit("block", status=...), REJECT),
    ("block without text", edit("block", text=...), REJECT),
    ("block without block_id", edit("block", block_id=...), REJECT),
    ("block without kind", edit("block", kind=...), REJECT),
    ("block text is an int", edit("block", text=5), REJECT),
    ("block created_at is an ISO string", edit("block", created_at="2024-01-01T00:00:00Z"), REJECT),
    ("block annotations is a dict", edit("block", annotations={"a": "b"}), REJECT),
    ("block embedding is an int", edit("block", embedding=12345), REJECT),
    ("block for a user the file does not define", _block_for_an_undefined_user, REJECT),
    ("block for a user that exists in the target (bob)", _block_into_bob, REJECT),
    ("session for a user that exists in the target (bob)", _session_for_bob, REJECT),
    ("a file of one block for bob's session", _only_a_block_for_bob, REJECT),
    ("block id of bob's block", _bobs_block_id, TYPED),
    ("block created_at 2**70", edit("block", created_at=2**70), REJECT),
    ("block fail_count 2**63", edit("block", fail_count=2**63), REJECT),
    ("user created_at 2**64", edit("user", created_at=2**64), REJECT),
    ("block created_at -10**17 (year -1199)", edit("block", created_at=-(10**17)), REJECT),
    ("block ingested_at 10**18 (year 33658)", edit("block", ingested_at=10**18), REJECT),
    ("block expires_at -10**17", edit("block", expires_at=-(10**17)), REJECT),
    ("session start_time -10**17", edit("session", start_time=-(10**17)), REJECT),
    ("user created_at 10**18", edit("user", created_at=10**18), REJECT),
    ("block embedding is invalid base64", edit("block", embedding="!!not base64"), REJECT),
    ("block embedding of 3 bytes", edit("block", embedding=B64_3_BYTES), REJECT),
    (
        "block embedding of 100 floats (wrong dimension)",
        edit("block", embedding=B64_WRONG_DIM),
        REJECT,
    ),
    ("block status 'zzz'", edit("block", status="zzz"), REJECT),
    ("block kind 'zzz'", edit("block", kind="zzz"), REJECT),
    ("message block role 'wizard'", edit("block", 2, role="wizard"), REJECT),
    ("block annotations invalid JSON", edit("block", annotations="{"), REJECT),
    ("block annotations a JSON list", edit("block", annotations="[1, 2]"), REJECT),
    ("block annotations with a non-string value", edit("block", annotations='{"a": 1}'), REJECT),
    ("block metadata invalid JSON", edit("block", metadata="{"), REJECT),
    ("block metadata a JSON string", edit("block", metadata='"text"'), REJECT),
    ("user metadata invalid JSON", edit("user", metadata="{"), REJECT),
    ("session annotations invalid JSON", edit("session", annotations="{"), REJECT),
    ("user_id with a lone surrogate", edit("user", user_id="\ud800"), REJECT),
    ("user_id with a slash (an id the API refuses)", edit("user", user_id="a/b"), REJECT),
    ("session_id blank", edit("session", session_id="  "), REJECT),
    ("block_id with NUL", edit("block", block_id="b\x00"), REJECT),
    (
        "block text with a lone surrogate",
        edit("block", text="bad \ud800", fact="bad \ud800"),
        REJECT,
    ),
    ("block text with NUL", edit("block", text="a\x00b", fact="a\x00b"), REJECT),
    ("fact block without fact", edit("block", fact=None), REJECT),
    ("the user twice in the file", _user_twice, TYPED),
    ("carol, then bob who exists in the target", _then_bob, TYPED),
    ("a record that is a string", _append("hello"), REJECT),
    ("a record that is None", _append(None), REJECT),
    ("a record of unknown type", _append({"type": "zzz"}), REJECT),
    ("a header of another format", edit("header", format="other/v9"), REJECT),
]


@pytest.mark.parametrize(("name", "make", "expect"), CASES, ids=[c[0] for c in CASES])
def test_malformed_import_raises_a_typed_error_and_changes_nothing(
    make_world: WorldFactory,
    carol: Records,
    name: str,
    make: Callable[[Records, World], Records],
    expect: Expect,
) -> None:
    """Each malformed record makes the whole import fail with a typed error; the target
    (bob, eve) is exactly as before, and no part of the file (carol) was imported."""
    world = make_world()
    records = make(carol, world)
    world.attempt(
        f"import_records({name})",
        lambda: world.client.backend.import_records(iter(records)),  # type: ignore[attr-defined]
        expect,
        user=CAROL,  # if the import goes through, carol must at least be readable
    )
    fail_on(world.finish())


def test_the_unchanged_export_imports_cleanly(make_world: WorldFactory, carol: Records) -> None:
    """The control: the same file, unmodified, imports and reads back."""
    world = make_world()
    counts = world.client.backend.import_records(iter(copy.deepcopy(carol)))  # type: ignore[attr-defined]
    assert counts["users"] == 1 and counts["blocks"] == 4
    world.users.add(CAROL)
    world.problems.extend(world.read_problems(CAROL, "after a clean import"))
    world.check_bob("after a clean import")
    fail_on(world.finish())


LATE_FAILURES: list[tuple[str, Callable[[Records, World], Records], Expect]] = [
    ("a malformed block after 600 good ones", edit("block", 599, status=...), REJECT),
    (
        "a block for bob after 600 good ones",
        edit("block", 599, user_id=BOB, session_id="s"),
        REJECT,
    ),
    ("bob (exists) after 600 blocks of carol", _then_bob, TYPED),
    ("a record that is a string after 600 good ones", _append("hello"), REJECT),
]


@pytest.mark.parametrize(
    ("name", "make", "expect"), LATE_FAILURES, ids=[c[0] for c in LATE_FAILURES]
)
def test_import_is_all_or_nothing_across_batches(
    make_world: WorldFactory,
    big_carol: Records,
    name: str,
    make: Callable[[Records, World], Records],
    expect: Expect,
) -> None:
    """A failure after the first batch of records must roll back the earlier batches too."""
    world = make_world()
    records = make(big_carol, world)
    world.attempt(
        f"import_records({name})",
        lambda: world.client.backend.import_records(iter(records)),  # type: ignore[attr-defined]
        expect,
    )
    fail_on(world.finish())


def test_an_iterable_that_fails_midway_imports_nothing(
    make_world: WorldFactory, big_carol: Records
) -> None:
    """A source that breaks after 600 records (a truncated download, an invalid JSON line
    read by the caller) propagates its error; nothing of it stays in the store."""
    world = make_world()
    before = world.tables()

    def source() -> Iterator[dict[str, Any]]:
        yield from copy.deepcopy(big_carol)
        raise json.JSONDecodeError("Expecting value", "{not json", 0)

    with pytest.raises(json.JSONDecodeError):
        world.client.backend.import_records(source())  # type: ignore[attr-defined]
    world.client.wait_until_processed(30)
    problems = [] if world.tables() == before else ["a failed source left records in the store"]
    world.check_bob("a failed source")
    fail_on(problems + world.finish())


@pytest.mark.parametrize("blocks", ["few", "many"])
def test_cli_import_of_a_file_with_an_invalid_json_line(
    make_world: WorldFactory,
    carol: Records,
    big_carol: Records,
    tmp_path: Path,
    blocks: str,
) -> None:
    """``memory-integrations import`` on a file whose last line is not JSON exits with an
    error and imports nothing (also when the good lines fill more than one batch)."""
    world = make_world()
    records = carol if blocks == "few" else big_carol
    export = tmp_path / "export.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    export.write_text("\n".join([*lines, "{this is not json"]) + "\n", encoding="utf-8")
    world.client.wait_until_processed(30)
    before = world.tables()
    result = CliRunner().invoke(
        cli,
        ["import", "--path", str(world.location), "--input", str(export), "--embedder", "hashing"],
    )
    problems = []
    if result.exit_code == 0:
        problems.append(f"the CLI import of a file with an invalid line succeeded: {result.output}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        problems.append(f"the CLI import crashed: {result.exception!r}")
    if world.tables() != before:
        problems.append("the failed CLI import left records in the store")
    world.check_bob("the CLI import")
    fail_on(problems + world.finish())
