"""Shared machinery of the hostile-input tests (issue #15): a seeded store and one checked call.

A :class:`World` is a store holding two users:

* ``bob``, the bystander: facts, messages, annotations, metadata, a backfilled
  ``created_at``, an agent id, a second session with a TTL and (with ``adapters=True``) a
  LangGraph checkpoint thread and store items. Nothing any hostile call does may change
  anything of his.
* ``eve``, the user the hostile calls are made for. After every call, every read of her (and
  of any user a hostile call managed to create) must still work, and at the end
  :func:`memory_integrations.lifecycle.erase_user` must erase her completely.

:meth:`World.attempt` makes one call and records every breach of the contract as a line in
``World.problems``:

(a) only ``memory_integrations.errors.AgentMemoryError`` subclasses escape;
(b) a call that raises writes nothing (every table of the database is compared);
(c) nothing of bob changes (his export, checkpoint thread and store items);
(d) the reads of the user the call was made for keep working (no poisoned user).

The clock of the client, the saver and the store is frozen, so nothing expires and no
background sweep changes the store between the snapshots.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest

from memory_integrations import AgentMemoryClient, ChatMessage
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import AgentMemoryError, BadRequestError, NotFoundError
from memory_integrations.lifecycle import erase_user

NOW = 1_750_000_000.0
BOB = "bob"
EVE = "eve"
BOB_THREAD = "bob-thread"
EVE_THREAD = "eve-thread"

Expect = Literal["reject", "typed", "any", "ok"]
REJECT: Expect = "reject"
"""The input is invalid: the call must raise a ``BadRequestError`` (a ``ValidationError``...)."""
TYPED: Expect = "typed"
"""The call must fail with some ``AgentMemoryError`` (e.g. ``NotFoundError`` for a lookup)."""
ANY: Expect = "any"
"""The call may succeed or raise an ``AgentMemoryError``; the invariants hold either way."""
OK: Expect = "ok"
"""The call must succeed (e.g. a sweep or a read after hostile input was accepted)."""


def frozen_clock() -> float:
    return NOW


# --- hostile values ------------------------------------------------------------------------

HOSTILE_IDS: list[tuple[str, Any]] = [
    ("lone surrogate", "\ud800"),
    ("surrogate inside", "e\udcffve"),
    ("NUL", "e\x00ve"),
    ("RLO U+202E", "eve\u202e"),
    ("LRI U+2066", "\u2066eve"),
    ("PDI U+2069", "e\u2069ve"),
    ("LRM U+200E", "e\u200eve"),
    ("RLM U+200F", "eve\u200f"),
    ("zero-width space U+200B", "e\u200bve"),
    ("BOM U+FEFF", "\ufeffeve"),
    ("C1 control U+0085", "e\x85ve"),
    ("line separator U+2028", "e\u2028ve"),
    ("tab", "e\tve"),
    ("empty", ""),
    ("blank", "   "),
    ("257 characters", "x" * 257),
    ("None", None),
    ("int 2**63", 2**63),
    ("bool", True),
    ("bytes", b"eve"),
]
"""Ids that must be refused wherever an id is given (user, session, block, agent, thread).

Bidi controls, zero-width and other Unicode format characters, C1 controls and line
separators are refused like ASCII controls: an id that renders like another one
(``"e\\u200bve"`` looks like ``"eve"``) or reorders the text around it in logs and UIs is a
spoofing vector, and ids travel in URLs, logs and file names.
"""

ADAPTER_IDS: list[tuple[str, Any]] = [
    item
    for item in HOSTILE_IDS
    if item[0] not in {"LRI U+2066", "PDI U+2069", "LRM U+200E", "RLM U+200F", "BOM U+FEFF"}
]
"""The hostile ids for the adapters (one bidi control and one zero-width character stand
for their families: the adapters hand ids to the same engine validation)."""

ODD_BUT_VALID_IDS: list[tuple[str, str]] = [
    ("accented", "jos\u00e9"),
    ("CJK", "\u7528\u6237"),
    ("emoji", "\U0001f642"),
    ("apostrophe", "O'Brien"),
    ("inner space", "a b"),
    ("SQL-shaped", "x'; DROP TABLE mi_users; --"),
    ("256 characters", "y" * 256),
]
"""Ids a user may legitimately use: the validation must not refuse them."""

HOSTILE_TEXTS: list[tuple[str, Any]] = [
    ("lone surrogate", "bad \ud800 text"),
    ("reversed surrogate pair", "\udc00\ud800"),
    ("NUL", "a\x00b"),
    ("empty", ""),
    ("blank", " \t\n "),
    ("over 1M characters", "x" * 1_000_001),
    ("None", None),
    ("int", 5),
    ("bytes", b"text"),
    ("list", ["text"]),
]

HOSTILE_NUMBERS: list[tuple[str, Any]] = [
    ("2**63", 2**63),
    ("2**64", 2**64),
    ("-1", -1),
    ("-(2**63)-1", -(2**63) - 1),
    ("True", True),
    ("False", False),
    ("NaN", math.nan),
    ("inf", math.inf),
    ("-inf", -math.inf),
    ("1.5", 1.5),
    ("str '10'", "10"),
    ("None", None),
    ("0", 0),
]

HOSTILE_TIMES: list[tuple[str, Any]] = [
    ("year 1 at +23:59 (UTC before year 1)", "0001-01-01T00:00:00+23:59"),
    ("year 9999 at -23:59 (UTC after 9999)", "9999-12-31T23:59:59-23:59"),
    ("year 1 at +00:01", "0001-01-01T00:00:00+00:01"),
    (
        "aware datetime before year 1 in UTC",
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59))),
    ),
    (
        "aware datetime after 9999 in UTC",
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59))),
    ),
    ("datetime.max (naive)", datetime.max),
    ("datetime.min (naive)", datetime.min),
    ("naive datetime", datetime(2024, 5, 1, 12, 0)),
    ("date-only ISO string", "2024-05-01"),
    ("not ISO", "yesterday"),
    ("empty", ""),
    ("lone surrogate", "2024-05-01T00:00:00\ud800"),
    ("NUL", "2024-05-01\x00"),
    ("epoch int", 1_700_000_000),
    ("NaN", math.nan),
    ("bytes", b"2024-05-01T00:00:00Z"),
    ("None", None),
]
OUT_OF_RANGE_TIMES = {
    "year 1 at +23:59 (UTC before year 1)",
    "year 9999 at -23:59 (UTC after 9999)",
    "year 1 at +00:01",
    "aware datetime before year 1 in UTC",
    "aware datetime after 9999 in UTC",
}


def deeply_nested(depth: int = 5000) -> dict[str, Any]:
    """A JSON object nested deeper than the interpreter's recursion limit."""
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return root


# --- reporting -----------------------------------------------------------------------------


def describe(exc: BaseException) -> str:
    kind = type(exc)
    text = " ".join(str(exc).split())
    if len(text) > 220:
        text = text[:220] + "..."
    return f"{kind.__module__}.{kind.__qualname__}: {text}"


def short(value: Any, limit: int = 80) -> str:
    text = ascii(value)
    return text if len(text) <= limit else text[:limit] + "..."


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


# --- seeding -------------------------------------------------------------------------------


def seed_user(client: AgentMemoryClient, user_id: str) -> None:
    """A user with varied data: the bystander's data must survive every hostile call."""
    user = client.create_user(user_id, user_id.title(), metadata={"tier": "gold", "n": 1})
    session = user.create_session("s", annotations={"topic": "food"}, metadata={"k": "v"})
    session.add_memory(
        facts=[f"{user_id} likes green tea", f"{user_id} lives in Lyon"],
        annotations={"kind": "pref"},
        metadata={"source": "chat", "n": 2},
        created_at="2024-05-01T10:00:00Z",
        agent_id="planner",
        async_processing=False,
    )
    session.add_memory(
        messages=[
            ChatMessage(user_content="hi there", assistant_content="hello, memory"),
            {"role": "tool", "content": "42", "name": "calc"},
        ],
        async_processing=False,
    )
    other = user.create_session("s2", memory_blocks_ttl=86_400)
    other.add_memory(facts=[f"{user_id} has a memory with a TTL"], async_processing=False)


def put_checkpoint(saver: Any, thread_id: Any, values: dict[str, Any], ns: str = "") -> Any:
    """Store one checkpoint with ``values`` as its channel values."""
    from langgraph.checkpoint.base import empty_checkpoint

    checkpoint = empty_checkpoint()
    versions = {channel: saver.get_next_version(None, None) for channel in values}
    checkpoint["channel_values"] = dict(values)
    checkpoint["channel_versions"] = dict(versions)
    return saver.put(
        {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}},
        checkpoint,
        {"source": "input", "step": -1, "writes": None},
        versions,
    )


def user_reads(
    client: AgentMemoryClient, user_id: str, session_ids: Iterable[str]
) -> list[tuple[str, Callable[[], Any]]]:
    """Every read of a user the public API offers: (name, call) pairs."""

    def user() -> Any:
        return client.get_user(user_id)

    reads: list[tuple[str, Callable[[], Any]]] = [
        ("get_user()", user),
        ("list_sessions()", lambda: user().list_sessions(limit=500)),
        ("list_memories(order_by=ingested_at)", lambda: user().list_memories(limit=200)),
        (
            "list_memories(order_by=created_at)",
            lambda: user().list_memories(limit=200, order_by="created_at"),
        ),
        ("search_memory() (no query)", lambda: user().search_memory()),
        (
            "search_memory(query)",
            lambda: user().search_memory("memory tea Lyon", {"relevant_k": 50}),
        ),
        (
            "search_memory(created range, by created_at, descending)",
            lambda: user().search_memory(
                None,
                {
                    "created_start_time": "1970-01-01T00:00:00Z",
                    "order_by": "created_at",
                    "descending": True,
                },
            ),
        ),
        ("count_memories()", lambda: user().count_memories()),
        ("export_records()", lambda: list(client.backend.export_records(user_id))),  # type: ignore[attr-defined]
    ]
    for session_id in session_ids:

        def session_reads(sid: str = session_id) -> None:
            session = user().get_session(sid)
            session.list_memories(limit=200)
            session.search_memory()
            session.search_memory("memory tea")
            session.count_memories()
            for block in session.list_memories(limit=200).memory_blocks:
                session.get_memory_block(block.block_id)

        reads.append((f"session {session_id!a} reads", session_reads))
    return reads


class World:
    """A seeded store plus the bookkeeping of one hostile-input test."""

    def sibling_path(self) -> str:
        """A new SQLite path beside this world's store (for adapters given a location)."""
        return str(Path(tempfile.mkdtemp(prefix="hostile-")) / "memory.sqlite3")

    def __init__(self, location: Any, *, adapters: bool = False, seed: bool = True) -> None:
        """Open the store at ``location``; ``seed`` it with bob and eve unless it is a copy
        of a seeded store (see :class:`WorldFactory`)."""
        self.location = location
        self.client = AgentMemoryClient(location, embedder=HashingEmbedder(), clock=frozen_clock)
        self.problems: list[str] = []
        self.users: set[str] = {EVE}
        self.saver: Any = None
        self.store: Any = None
        if seed:
            seed_user(self.client, BOB)
            seed_user(self.client, EVE)
        if adapters:
            from memory_integrations.langgraph import AgentMemorySaver, AgentMemoryStore

            self.saver = AgentMemorySaver(self.client, clock=frozen_clock)
            self.store = AgentMemoryStore(self.client, clock=frozen_clock)
            for user_id, thread_id in ((BOB, BOB_THREAD), (EVE, EVE_THREAD)):
                if seed:
                    values = {"messages": [f"{user_id} said hi"] * 40}
                    put_checkpoint(self.saver, thread_id, values)
                    self.store.put((user_id, "notes"), "k1", {"text": f"{user_id} note one"})
                    self.store.put((user_id, "notes"), "k2", {"text": f"{user_id} note 2", "n": 2})
        self.client.wait_until_processed(30)
        self.bob = self.bob_snapshot()
        self.fact_block = self._first_block(EVE, "fact")
        self.message_block = self._first_block(EVE, "message")
        self.bob_block = self._first_block(BOB, "fact")

    # --- handles ---------------------------------------------------------------------------

    @property
    def eve(self) -> Any:
        return self.client.get_user(EVE)

    @property
    def session(self) -> Any:
        return self.client.get_user(EVE).get_session("s")

    def _first_block(self, user_id: str, kind: str) -> str:
        session = self.client.get_user(user_id).get_session("s")
        for block in session.list_memories(limit=200).memory_blocks:
            if block.kind == kind:
                return block.block_id
        raise AssertionError(f"{user_id} has no {kind} block")

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        if self.saver is not None:
            self.saver.close()
        self.client.close()

    # --- snapshots -------------------------------------------------------------------------

    def tables(self) -> dict[str, list[str]]:
        """Every row of every table of the database (what "writes nothing" compares)."""
        database = self.client.database
        with database.read() as cur:
            if database.dialect == "sqlite":
                names = [
                    row[0]
                    for row in cur.execute(
                        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                    ).fetchall()
                ]
            else:
                names = [
                    row[0]
                    for row in cur.execute(
                        "SELECT table_name FROM information_schema.tables WHERE "
                        "table_schema = current_schema() AND table_type = 'BASE TABLE' "
                        "ORDER BY table_name"
                    ).fetchall()
                ]
            return {
                name: sorted(
                    repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
                    for row in cur.execute(f'SELECT * FROM "{name}"').fetchall()
                )
                for name in names
            }

    def bob_snapshot(self) -> dict[str, Any]:
        """Everything of bob: his export, checkpoint thread and store items."""
        snapshot: dict[str, Any] = {"export": list(self.client.backend.export_records(BOB))}  # type: ignore[attr-defined]
        if self.saver is not None:
            snapshot["thread"] = [
                (t.config, t.checkpoint["channel_values"], t.metadata, t.parent_config)
                for t in self.saver.list({"configurable": {"thread_id": BOB_THREAD}})
            ]
        if self.store is not None:
            snapshot["items"] = [
                (i.namespace, i.key, i.value, i.created_at, i.updated_at)
                for i in self.store.search((BOB,), limit=100)
            ]
        return snapshot

    # --- checks ----------------------------------------------------------------------------

    def check_bob(self, context: str) -> None:
        try:
            now = self.bob_snapshot()
        except Exception as exc:
            self.problems.append(
                f"{context}: reading bob's data afterwards failed: {describe(exc)}"
            )
            return
        if now != self.bob:
            changed = [key for key in self.bob if now.get(key) != self.bob[key]]
            self.problems.append(f"{context}: CHANGED ANOTHER USER'S DATA (bob's {changed})")

    def read_problems(self, user_id: str, context: str) -> list[str]:
        """Every read of ``user_id`` must work (the user may be absent)."""
        try:
            user = self.client.get_user(user_id)
        except NotFoundError:
            return []
        except Exception as exc:
            return [f"{context}: POISONED {user_id!a}: get_user raised {describe(exc)}"]
        reads = user_reads(self.client, user_id, (user.sessions or [])[:5])
        if self.saver is not None and user_id == EVE:
            config = {"configurable": {"thread_id": EVE_THREAD}}
            reads.append(("saver.get_tuple(eve-thread)", lambda: self.saver.get_tuple(config)))
            reads.append(("saver.list(None)", lambda: list(self.saver.list(None, limit=200))))
        if self.store is not None and user_id == EVE:
            reads.append(("store.search((eve,))", lambda: self.store.search((EVE,), limit=100)))
            reads.append(("store.search(())", lambda: self.store.search((), limit=100)))
            reads.append(("store.list_namespaces()", lambda: self.store.list_namespaces()))
        found = []
        for name, read in reads:
            try:
                read()
            except Exception as exc:
                found.append(f"{context}: POISONED {user_id!a}: {name} raised {describe(exc)}")
        return found

    def attempt(
        self,
        label: str,
        call: Callable[[], Any],
        expect: Expect = ANY,
        *,
        user: Any = None,
    ) -> Any:
        """Make one hostile call and record every breach of (a)-(d) in ``problems``.

        ``user`` is the id of a user the call may create: its reads are checked when the
        call succeeds, and it is erased at the end.
        """
        self.client.wait_until_processed(30)
        before = self.tables()
        outcome = "ok"
        result: Any = None
        crashed: list[str] = []
        previous_hook = threading.excepthook

        def thread_died(args: threading.ExceptHookArgs) -> None:
            name = args.thread.name if args.thread is not None else "a thread"
            crashed.append(f"{name}: {describe(args.exc_value or Exception())}")

        threading.excepthook = thread_died
        try:
            result = call()
            if asyncio.iscoroutine(result):
                result = asyncio.run(_awaited(result))
        except AgentMemoryError as exc:
            outcome = "typed"
            if expect == OK:
                self.problems.append(f"{label}: FAILED with {describe(exc)}; it must work")
            elif expect == REJECT and not isinstance(exc, BadRequestError):
                self.problems.append(
                    f"{label}: raised {describe(exc)}; expected a BadRequestError "
                    "(ValidationError / ConfigurationError): the input is invalid"
                )
        except Exception as exc:
            outcome = "untyped"
            self.problems.append(f"{label}: NON-TYPED {describe(exc)}")
        else:
            if expect in (REJECT, TYPED):
                wanted = "a BadRequestError" if expect == REJECT else "an AgentMemoryError"
                self.problems.append(
                    f"{label}: ACCEPTED (returned {short(result)}); expected {wanted}"
                )
        finally:
            threading.excepthook = previous_hook
        self.problems.extend(f"{label}: A BACKGROUND THREAD DIED: {crash}" for crash in crashed)
        self.client.wait_until_processed(30)
        if outcome != "ok":
            after = self.tables()
            if after != before:
                self.problems.append(
                    f"{label}: REJECTED ({outcome}) BUT WROTE: {table_diff(before, after)}"
                )
        self.check_bob(label)
        self.problems.extend(self.read_problems(EVE, label))
        if outcome == "ok" and isinstance(user, str) and user not in (EVE, BOB):
            self.users.add(user)
            self.problems.extend(self.read_problems(user, label))
        return result

    def finish(self) -> list[str]:
        """Erase eve and every user the hostile calls created; bob must be untouched."""
        for user_id in sorted(self.users, key=ascii):
            try:
                self.client.get_user(user_id)
            except Exception:
                continue  # absent (or unreadable: already reported)
            try:
                erase_user(self.client, user_id)
            except Exception as exc:
                self.problems.append(f"erase_user({user_id!a}) at the end raised {describe(exc)}")
                continue
            try:
                self.client.get_user(user_id)
            except NotFoundError:
                pass
            except Exception as exc:
                self.problems.append(
                    f"after erase_user({user_id!a}): get_user raised {describe(exc)}"
                )
            else:
                self.problems.append(f"erase_user({user_id!a}) left the user behind")
        self.check_bob("erase_user at the end")
        return self.problems


def table_diff(before: dict[str, list[str]], after: dict[str, list[str]]) -> str:
    parts = []
    for name in sorted(set(before) | set(after)):
        old, new = set(before.get(name, [])), set(after.get(name, []))
        if old != new:
            parts.append(f"{name} +{len(new - old)}/-{len(old - new)} rows")
    return ", ".join(parts) or "row order changed"


class WorldFactory:
    """Fresh seeded stores, fast: each is a file copy of one seeded template."""

    _templates: ClassVar[dict[tuple[Path, bool], Path]] = {}

    def __init__(self, directory: Path, templates: Path, *, adapters: bool) -> None:
        self.directory = directory
        self.adapters = adapters
        self._template_dir = templates
        self._counter = itertools.count()
        self.opened: list[World] = []

    def template(self) -> Path:
        key = (self._template_dir, self.adapters)
        if key not in self._templates:
            name = f"template-{'adapters' if self.adapters else 'core'}.sqlite3"
            path = self._template_dir / name
            World(path, adapters=self.adapters).close()  # a clean close folds the WAL in
            self._templates[key] = path
        return self._templates[key]

    def __call__(self) -> World:
        target = self.directory / f"world-{next(self._counter)}.sqlite3"
        shutil.copyfile(self.template(), target)
        world = World(target, adapters=self.adapters, seed=False)
        self.opened.append(world)
        return world

    def close(self) -> None:
        for world in self.opened:
            world.close()


def fail_on(problems: list[str]) -> None:
    """Fail with every recorded breach, one per line (the call, the value, what went wrong)."""
    if problems:
        pytest.fail(f"{len(problems)} contract breaches:\n" + "\n".join(problems), pytrace=False)


def run_table(
    make: Callable[[], World],
    position: str,
    call: Callable[[World, Any], Any],
    values: Iterable[tuple[str, Any]],
    expect: Callable[[str], Expect] | Expect,
    *,
    creates_user: bool = False,
) -> list[str]:
    """Attempt ``call`` with each hostile value, each in a fresh store; return the breaches.

    ``expect`` is one rule for all values or maps a value's label to its rule.
    """
    problems: list[str] = []
    for label, value in values:
        world = make()
        rule = expect if isinstance(expect, str) else expect(label)
        world.attempt(
            f"{position} <- {label}",
            lambda value=value, world=world: call(world, value),
            rule,
            user=value if creates_user else None,
        )
        problems.extend(world.finish())
        world.close()
    return problems
