"""Two processes on one store: every read sees every committed write of any process.

Process A is a separate, long-lived interpreter (``_two_process_child``) holding a memory
client, a LangGraph saver, a LangGraph store or a chat history open. It reads first, so its
in-process caches are filled (the engine's per-user search index, the saver's value cache,
append tails and thread clock hints, the store's item index, the adapters' handle caches).
Process B, this test process, then changes the data. A reads again, and what it returns must
equal what a fresh object returns: one opened here after the change, and one opened inside
A's interpreter (so a difference is A's cache, not visibility of the write). The steps are
sequenced by the line protocol; TTL time passes by moving both processes' clocks.

Every scenario runs on a SQLite file and on PostgreSQL (``storage``; the HTTP server serves
SQLite files only), with the deterministic ``HashingEmbedder``. Expected failures are not
marked: each one is a process serving stale data.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

pytest.importorskip("langgraph.checkpoint.base", reason='needs "memory-integrations[langgraph]"')

from langgraph.checkpoint.memory import InMemorySaver

import memory_integrations
from memory_integrations import AgentMemoryClient, Settings
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.langgraph import AgentMemorySaver, AgentMemoryStore
from memory_integrations.storage import SqlDatabase, open_database

from ..conftest import store_location
from ._two_process_child import (
    DIM,
    OffsetClock,
    build_graph,
    engine_list,
    engine_search,
    fresh_outcome,
    graph_state,
    history_messages,
    saver_get_tuple,
    saver_list,
    saver_put,
    server_search,
    store_get,
    store_index,
    store_namespaces,
    store_search,
)

ROOT = Path(__file__).resolve().parents[2]
SRC = Path(memory_integrations.__file__).resolve().parents[1]
TIMEOUT = 90.0  # seconds one request of the protocol may take
USER = "u"
QUERY = "memo"  # a word every engine block holds: a ranked search returns all ready blocks
WORDS = ("apple", "river", "copper", "violet", "harbor", "maple", "falcon", "ember", "quartz")


# --- process A ------------------------------------------------------------------------------


class ProcessA:
    """The child interpreter, driven one request at a time."""

    def __init__(self, stderr: IO[bytes]) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(SRC), str(ROOT), env.get("PYTHONPATH", "")) if p
        )
        self._stderr = stderr
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability._two_process_child"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put("")  # end of output

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def _stderr_tail(self) -> str:
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-4000:]

    def request(self, **message: Any) -> Any:
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(message) + "\n")
        self._proc.stdin.flush()
        try:
            line = self._lines.get(timeout=TIMEOUT)
        except queue.Empty:
            self._proc.kill()
            raise AssertionError(
                f"process A did not answer {message['op']!r} within {TIMEOUT}s:\n"
                + self._stderr_tail()
            ) from None
        if not line:
            raise AssertionError(f"process A exited:\n{self._stderr_tail()}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise AssertionError(f"process A failed {message}: {answer['error']}")
        return answer["result"]

    def open(self, name: str, kind: str, location: Any, **options: Any) -> None:
        self.request(op="open", name=name, kind=kind, location=str(location), options=options)

    def read(self, name: str, fn: Callable[..., Any], *, fresh: bool = False, **args: Any) -> Any:
        return self.request(op="read", name=name, fn=fn.__name__, args=args, fresh=fresh)

    def write(self, name: str, fn: str, **args: Any) -> list[Any]:
        """The :func:`outcome` of one of the child's writes."""
        result: list[Any] = self.request(op="write", name=name, fn=fn, args=args)
        return result

    def do(self, name: str, fn: str, **args: Any) -> Any:
        """Run a write that must succeed; returns its result."""
        result = self.write(name, fn, **args)
        assert result[0] == "ok", f"process A's {fn}({args}) failed: {result}"
        return result[1]

    def advance(self, seconds: float) -> None:
        self.request(op="advance", seconds=seconds)

    def reset(self) -> None:
        self.request(op="reset")

    def close(self) -> None:
        if self.alive:
            with contextlib.suppress(AssertionError):  # it died meanwhile
                self.request(op="exit")
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


@pytest.fixture(scope="module")
def child(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ProcessA]]:
    """One process A for the module (restarted if a test killed it)."""
    log = (tmp_path_factory.mktemp("process-a") / "stderr.log").open("w+b")
    holder = [ProcessA(log)]
    try:
        yield holder
    finally:
        holder[0].close()
        log.close()


@pytest.fixture
def a(child: list[ProcessA]) -> Iterator[ProcessA]:
    if not child[0].alive:
        child[0] = ProcessA(child[0]._stderr)
    process = child[0]
    yield process
    if process.alive:
        process.reset()  # close A's objects; the next test opens new ones


@pytest.fixture
def location(storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    with store_location(storage, tmp_path, request) as where:
        yield str(where)


@pytest.fixture
def clock() -> OffsetClock:
    """Process B's clock; :func:`advance` moves it together with A's."""
    return OffsetClock()


def advance(a: ProcessA, clock: OffsetClock, seconds: float) -> None:
    clock.advance(seconds)
    a.advance(seconds)


# --- comparing A with a fresh process ---------------------------------------------------------


def _same(got: list[Any], expected: list[Any]) -> bool:
    if got[0] == "error" and expected[0] == "error":
        return bool(got[1] == expected[1])  # the same kind of error (messages may differ)
    return got == expected


def expect_fresh_view(
    a: ProcessA,
    name: str,
    kind: str,
    location: str,
    clock: OffsetClock,
    fn: Callable[..., Any],
    describe: Callable[[list[Any], list[Any]], str] | None = None,
    options: dict[str, Any] | None = None,
    **args: Any,
) -> list[Any]:
    """Assert A's warmed ``name`` answers ``fn`` as a freshly opened object does."""
    expected = fresh_outcome(kind, location, clock, options or {}, fn, args)
    in_a = a.read(name, fn, fresh=True, **args)
    assert _same(in_a, expected), (
        f"a fresh {kind} in process A disagrees with one in process B: the committed state "
        f"itself differs, not a cache.\nA: {in_a}\nB: {expected}"
    )
    got = a.read(name, fn, **args)
    if not _same(got, expected):
        detail = describe(got, expected) if describe else ""
        raise AssertionError(
            f"process A's long-lived {kind} answers {fn.__name__}({_short(args, 200)}) "
            f"differently from a fresh one after process B's change. {detail}\n"
            f"First difference {_difference(got, expected)}\n"
            f"A (warm): {_short(got)}\nfresh:    {_short(expected)}"
        )
    return expected


def _short(value: Any, limit: int = 600) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _difference(got: Any, expected: Any, path: str = "") -> str:
    """Where two answers first differ, and what each holds there."""
    if isinstance(got, dict) and isinstance(expected, dict):
        for key in sorted(set(got) | set(expected), key=str):
            if got.get(key) != expected.get(key):
                return _difference(got.get(key), expected.get(key), f"{path}[{key!r}]")
    elif isinstance(got, list) and isinstance(expected, list) and got != expected:
        for i, (one, other) in enumerate(zip(got, expected, strict=False)):
            if one != other:
                return _difference(one, other, f"{path}[{i}]")
        return f"at {path or 'top'}: {len(got)} entries in A, {len(expected)} fresh"
    return f"at {path or 'top'}: A has {_short(got, 200)}, fresh has {_short(expected, 200)}"


# --- engine: the per-user search index ----------------------------------------------------


def _b_client(location: str, clock: OffsetClock) -> AgentMemoryClient:
    return AgentMemoryClient(
        location,
        embedder=HashingEmbedder(DIM),
        clock=clock,
        settings=Settings(sweep_interval=3600),
    )


@pytest.fixture
def b(location: str, clock: OffsetClock) -> Iterator[AgentMemoryClient]:
    with _b_client(location, clock) as client:
        yield client


def _texts(generation: str, n: int) -> list[str]:
    return [f"memo {generation} note {i} about {WORDS[i % len(WORDS)]}" for i in range(n)]


def seed(
    b: AgentMemoryClient,
    texts: Sequence[str],
    *,
    session_id: str = "s",
    mode: str = "each",
    **add: Any,
) -> list[str]:
    """Add ``texts`` as facts in process B: one add per block (``each``), one add for all
    (``batch``), or one add for all embedded in the background (``async``)."""
    user = b.get_or_create_user(USER)
    session = user.get_or_create_session(session_id)
    if mode == "each":
        return [
            session.add_memory(facts=[t], async_processing=False, **add).block_ids[0] for t in texts
        ]
    ids = session.add_memory(facts=list(texts), async_processing=mode != "async", **add).block_ids
    assert b.wait_until_processed(60)
    return ids


def _search_detail(got: list[Any], expected: list[Any]) -> str:
    """How many of the blocks a fresh search finds A's search finds (engine or HTTP)."""
    if got[0] != "ok" or expected[0] != "ok":
        return ""
    rows: list[Any] = []
    for answer in (got[1], expected[1]):
        rows.append(answer.get("blocks", []) if isinstance(answer, dict) else answer)
    have = {row[0] for row in rows[0]}
    want = {row[0] for row in rows[1]}
    return (
        f"A's ranked search found {len(want & have)} of the {len(want)} blocks a fresh process "
        f"finds, and {len(have - want)} it must not return."
    )


def expect_engine_consistent(
    a: ProcessA,
    location: str,
    clock: OffsetClock,
    query: str = QUERY,
    gone: Sequence[str] = (),
) -> list[Any]:
    """A's ranked search and list equal a fresh client's; the search finds every ready block
    (each holds ``QUERY``) when the user exists. For each text in ``gone`` (blocks B removed)
    the single best match must agree too: a stale index ranks the removed block first."""
    listed = expect_fresh_view(a, "A", "client", location, clock, engine_list, user_id=USER)
    expected = fresh_outcome(
        "client", location, clock, {}, engine_search, {"user_id": USER, "query": query}
    )
    if expected[0] == "ok" and query == QUERY:
        ready = sorted(row[0] for row in listed[1] if row[2] == "ready")
        assert sorted(row[0] for row in expected[1]) == ready, "a fresh search misses blocks"
    for text in gone:
        expect_fresh_view(
            a, "A", "client", location, clock, engine_search, user_id=USER, query=text, k=1
        )
    return expect_fresh_view(
        a,
        "A",
        "client",
        location,
        clock,
        engine_search,
        _search_detail,
        user_id=USER,
        query=query,
    )


def warm_engine(a: ProcessA, location: str, clock: OffsetClock, count: int) -> None:
    """Open A's client and search, filling its index; A must see the initial state."""
    a.open("A", "client", location)
    found = expect_engine_consistent(a, location, clock)
    assert found[0] == "ok" and len(found[1]) == count


@pytest.mark.parametrize(
    ("count", "mode"),
    [(2, "each"), (6, "each"), (9, "each"), (9, "batch"), (9, "async")],
    ids=["2-blocks", "6-blocks", "9-blocks", "9-blocks-one-add", "9-blocks-async"],
)
def test_engine_user_deleted_and_recreated(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock, count: int, mode: str
) -> None:
    seed(b, _texts("old", 6))
    warm_engine(a, location, clock, 6)
    b.delete_user(USER)
    b.create_user(USER, USER)
    seed(b, _texts("new", count), mode=mode)
    expect_engine_consistent(a, location, clock)


def test_engine_user_deleted(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    seed(b, _texts("old", 4))
    warm_engine(a, location, clock, 4)
    b.delete_user(USER)
    found = expect_engine_consistent(a, location, clock)
    assert found[:2] == ["error", "NotFoundError"]


def test_engine_blocks_deleted(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    texts = _texts("old", 6)
    ids = seed(b, texts)
    warm_engine(a, location, clock, 6)
    b.get_user(USER).get_session("s").delete_memory([ids[1], ids[4]])
    found = expect_engine_consistent(a, location, clock, gone=[texts[1], texts[4]])
    assert len(found[1]) == 4
    b.get_user(USER).get_session("s").delete_memory("all")
    assert expect_engine_consistent(a, location, clock, gone=texts[:2])[1] == []


def test_engine_session_deleted_and_recreated(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    seed(b, _texts("one", 4), session_id="s1")
    seed(b, _texts("two", 3), session_id="s2")
    warm_engine(a, location, clock, 7)
    b.get_user(USER).get_session("s2").delete()
    assert len(expect_engine_consistent(a, location, clock, gone=_texts("two", 3))[1]) == 4
    seed(b, _texts("three", 2), session_id="s2")
    assert len(expect_engine_consistent(a, location, clock)[1]) == 6


def test_engine_blocks_appended(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    seed(b, _texts("old", 4))
    warm_engine(a, location, clock, 4)
    seed(b, _texts("sync", 3))
    assert len(expect_engine_consistent(a, location, clock)[1]) == 7
    seed(b, _texts("async", 2), mode="async")
    assert len(expect_engine_consistent(a, location, clock)[1]) == 9


def test_engine_block_text_updated(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    ids = seed(b, _texts("old", 5))
    warm_engine(a, location, clock, 5)
    expect_engine_consistent(a, location, clock, query="zebra stripes")
    session = b.get_user(USER).get_session("s")
    session.update_memory(ids[2], fact="memo zebra stripes at dusk", async_processing=False)
    found = expect_engine_consistent(a, location, clock, query="zebra stripes")
    assert found[1][0][0] == ids[2]
    session.update_memory(ids[3], fact="memo zebra stripes and zebra tails")
    assert b.wait_until_processed(60)
    found = expect_engine_consistent(a, location, clock, query="zebra stripes")
    assert {found[1][0][0], found[1][1][0]} == {ids[2], ids[3]}


def test_engine_ttl_modified_then_expired_and_swept(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    texts = _texts("old", 5)
    ids = seed(b, texts)
    warm_engine(a, location, clock, 5)
    b.get_user(USER).modify_ttl(1, session_id="s", block_ids=[ids[0], ids[3]])
    assert len(expect_engine_consistent(a, location, clock)[1]) == 5
    advance(a, clock, 2)
    gone = [texts[0], texts[3]]
    assert len(expect_engine_consistent(a, location, clock, gone=gone)[1]) == 3
    assert b.sweep_expired()["expired"] == 2
    assert len(expect_engine_consistent(a, location, clock, gone=gone)[1]) == 3
    b.get_user(USER).modify_ttl(1)  # every remaining block
    advance(a, clock, 2)
    assert expect_engine_consistent(a, location, clock)[1] == []


def test_engine_blocks_added_with_ttl_expire(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    seed(b, _texts("old", 3))
    warm_engine(a, location, clock, 3)
    seed(b, _texts("short", 2), memory_block_ttl=1)
    assert len(expect_engine_consistent(a, location, clock)[1]) == 5
    advance(a, clock, 2)
    assert len(expect_engine_consistent(a, location, clock)[1]) == 3


def test_engine_retention_sweep(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    old = datetime.fromtimestamp(clock(), UTC) - timedelta(days=10)
    seed(b, _texts("ancient", 3), created_at=old)
    seed(b, _texts("recent", 3))
    warm_engine(a, location, clock, 6)
    b.update_retention_config(memory_days=5)
    assert b.sweep_expired()["facts_past_retention"] == 3
    gone = _texts("ancient", 3)
    assert len(expect_engine_consistent(a, location, clock, gone=gone)[1]) == 3


def test_engine_user_erased_and_imported(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    seed(b, _texts("old", 6))
    warm_engine(a, location, clock, 6)
    engine: Any = b.backend
    records = list(engine.export_records(USER))
    b.delete_user(USER)
    assert expect_engine_consistent(a, location, clock)[:2] == ["error", "NotFoundError"]
    assert engine.import_records(records)["blocks"] == 6
    assert len(expect_engine_consistent(a, location, clock)[1]) == 6


def test_engine_reindexed_with_the_same_embedder(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    seed(b, _texts("old", 5))
    warm_engine(a, location, clock, 5)
    engine: Any = b.backend
    assert engine.reindex(HashingEmbedder(DIM)) == 5
    assert len(expect_engine_consistent(a, location, clock)[1]) == 5


def test_engine_reindexed_with_another_embedder(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    """After B re-embeds the store with another model, A (still on the old model) must get
    the design's clear error, as opening a fresh client with that model does, and must not
    write vectors of the old model into the store."""
    seed(b, _texts("old", 5))
    warm_engine(a, location, clock, 5)
    engine: Any = b.backend
    assert engine.reindex(HashingEmbedder(128)) == 5
    fresh = a.read("A", engine_search, fresh=True, user_id=USER, query=QUERY)
    assert fresh[:2] == ["error", "EmbedderMismatchError"]
    searched = a.read("A", engine_search, user_id=USER, query=QUERY)
    added = a.write("A", "engine_add", user_id=USER, session_id="s", text="memo from A")
    after = fresh_outcome(
        "client", location, clock, {"dim": 128}, engine_search, {"user_id": USER, "query": QUERY}
    )
    problems = []
    if searched[:2] != ["error", "EmbedderMismatchError"]:
        problems.append(f"A's search after B's reindex answers {_short(searched)}")
    if added[:2] != ["error", "EmbedderMismatchError"]:
        problems.append(f"A's add after B's reindex answers {_short(added)}")
    if after[0] != "ok" or len(after[1]) != 5:
        problems.append(f"a fresh client on the new model then searches: {_short(after)}")
    assert not problems, "\n".join(problems)


@pytest.mark.sqlite_only
def test_server_search_after_another_process_recreated_the_user(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    """``memory-integrations serve`` (process A, one of several workers on the file) answers
    ranked searches from its tenant engine's index."""
    seed(b, _texts("old", 6))
    a.open("S", "server", location)
    first = expect_fresh_view(
        a, "S", "server", location, clock, server_search, _search_detail, user_id=USER, query=QUERY
    )
    assert len(first[1]["blocks"]) == 6
    b.delete_user(USER)
    seed(b, _texts("new", 4))
    found = expect_fresh_view(
        a, "S", "server", location, clock, server_search, _search_detail, user_id=USER, query=QUERY
    )
    assert len(found[1]["blocks"]) == 4


# --- adapters: the turn binding's handle cache ------------------------------------------------


def test_chat_history_after_its_session_or_user_was_deleted(
    a: ProcessA, b: AgentMemoryClient, location: str, clock: OffsetClock
) -> None:
    options = {"user_id": USER, "session_id": "chat"}
    a.open("H", "history", location, **options)
    a.do("H", "history_add", text="hello there")
    view = expect_fresh_view(a, "H", "history", location, clock, history_messages, None, options)
    assert view == ["ok", [["human", "hello there"]]]
    b.get_user(USER).get_session("chat").delete()
    assert expect_fresh_view(
        a, "H", "history", location, clock, history_messages, None, options
    ) == ["ok", []]
    a.do("H", "history_add", text="after the session was deleted")
    view = expect_fresh_view(a, "H", "history", location, clock, history_messages, None, options)
    assert view == ["ok", [["human", "after the session was deleted"]]]
    b.delete_user(USER)
    a.do("H", "history_add", text="after the user was deleted")
    view = expect_fresh_view(a, "H", "history", location, clock, history_messages, None, options)
    assert view == ["ok", [["human", "after the user was deleted"]]]


# --- LangGraph saver: value cache, append tails, thread clock hints ----------------------------


THREAD = "t"


@pytest.fixture
def b_saver(location: str, clock: OffsetClock) -> Iterator[AgentMemorySaver]:
    database = open_database(location)
    with AgentMemorySaver(database, clock=clock) as saver:
        yield saver
    database.close()


def expect_saver_consistent(
    a: ProcessA, location: str, clock: OffsetClock, thread_id: str = THREAD
) -> dict[str, Any]:
    """A's get_tuple, list and graph state of the thread equal a fresh saver's."""
    for fn in (saver_get_tuple, saver_list):
        expect_fresh_view(a, "A", "saver", location, clock, fn, thread_id=thread_id)
    state = expect_fresh_view(a, "A", "saver", location, clock, graph_state, thread_id=thread_id)
    assert state[0] == "ok"
    result: dict[str, Any] = state[1]
    return result


def run_turns(saver: Any, thread_id: str, texts: Sequence[str]) -> None:
    graph = build_graph(saver)
    for text in texts:
        graph.invoke({"items": [text]}, {"configurable": {"thread_id": thread_id}})


def _long(label: str) -> str:
    return f"{label}: " + "dolor sit amet " * 20


def test_saver_sees_checkpoints_written_by_another_process(
    a: ProcessA, b_saver: AgentMemorySaver, location: str, clock: OffsetClock
) -> None:
    run_turns(b_saver, THREAD, [_long(f"b{i}") for i in range(2)])
    a.open("A", "saver", location)
    assert len(expect_saver_consistent(a, location, clock)["values"]["items"]) == 4
    run_turns(b_saver, THREAD, [_long(f"b{i}") for i in range(2, 6)])
    assert len(expect_saver_consistent(a, location, clock)["values"]["items"]) == 12


def test_saver_thread_deleted_and_recreated(
    a: ProcessA, b_saver: AgentMemorySaver, location: str, clock: OffsetClock
) -> None:
    run_turns(b_saver, THREAD, [_long(f"first life {i}") for i in range(4)])
    a.open("A", "saver", location)
    expect_saver_consistent(a, location, clock)
    b_saver.delete_thread(THREAD)
    assert expect_saver_consistent(a, location, clock)["values"] == {}
    run_turns(b_saver, THREAD, [_long(f"second life {i}") for i in range(2)])
    state = expect_saver_consistent(a, location, clock)
    assert state["values"]["items"][0] == _long("second life 0")


def test_saver_thread_rewritten_with_the_same_channel_versions(
    a: ProcessA, b_saver: AgentMemorySaver, location: str, clock: OffsetClock
) -> None:
    saver_put(b_saver, THREAD, [_long("original one"), _long("original two")], version="1")
    a.open("A", "saver", location)
    expect_saver_consistent(a, location, clock)
    b_saver.delete_thread(THREAD)
    saver_put(b_saver, THREAD, [_long("replacement")], version="1")
    state = expect_saver_consistent(a, location, clock)
    assert state["values"]["items"] == [_long("replacement")]


@pytest.mark.parametrize("change", ["deleted", "replaced"])
def test_saver_delta_base_changed_by_another_process(
    a: ProcessA,
    b_saver: AgentMemorySaver,
    location: str,
    clock: OffsetClock,
    change: str,
) -> None:
    """A extends the list value it wrote last (an append delta on that version) after B
    deleted the thread, or rewrote that version with other content: A's write must be
    stored whole, and read back exactly."""
    first = [_long(f"a{i}") for i in range(8)]  # beyond the delta threshold
    a.open("A", "saver", location)
    a.do("A", "saver_put", thread_id=THREAD, items=first, version="1")
    b_saver.delete_thread(THREAD)
    if change == "replaced":
        saver_put(b_saver, THREAD, [_long(f"b{i}") for i in range(8)], version="1")
    a.do("A", "saver_put", thread_id=THREAD, items=[*first, _long("a8")], version="2")
    tup = expect_fresh_view(a, "A", "saver", location, clock, saver_get_tuple, thread_id=THREAD)
    assert tup[0] == "ok" and tup[1]["values"]["items"] == [*first, _long("a8")]
    expect_saver_consistent(a, location, clock)


def test_saver_thread_copied_over_and_pruned(
    a: ProcessA, b_saver: AgentMemorySaver, location: str, clock: OffsetClock
) -> None:
    run_turns(b_saver, "source", [_long(f"source {i}") for i in range(3)])
    run_turns(b_saver, THREAD, [_long(f"target {i}") for i in range(2)])
    a.open("A", "saver", location)
    expect_saver_consistent(a, location, clock)
    expect_saver_consistent(a, location, clock, "copy")
    b_saver.copy_thread("source", THREAD)
    b_saver.copy_thread("source", "copy")
    expect_saver_consistent(a, location, clock)
    copied = expect_saver_consistent(a, location, clock, "copy")
    assert copied["values"] == expect_saver_consistent(a, location, clock, "source")["values"]
    b_saver.prune([THREAD, "copy"], strategy="keep_latest")
    expect_saver_consistent(a, location, clock)
    assert len(expect_saver_consistent(a, location, clock, "copy")["history"]) == 1


def test_saver_process_a_continues_a_thread_process_b_changed(
    a: ProcessA, b_saver: AgentMemorySaver, location: str, clock: OffsetClock
) -> None:
    """A writes after B appended to, pruned, then replaced the thread A's append tails
    describe: the stored state must be exactly B's turns and A's turns in order."""
    reference = InMemorySaver()
    a.open("A", "saver", location)

    def turn(who: str, text: str) -> None:
        if who == "A":
            a.do("A", "graph_invoke", thread_id=THREAD, text=text)
        else:
            run_turns(b_saver, THREAD, [text])
        run_turns(reference, THREAD, [text])

    def expect_reference() -> None:
        state = expect_saver_consistent(a, location, clock)
        want = build_graph(reference).get_state({"configurable": {"thread_id": THREAD}}).values
        assert state["values"] == json.loads(json.dumps(want))

    for i in range(4):
        turn("A", _long(f"a{i}"))
    expect_reference()
    turn("B", _long("b0"))
    turn("B", _long("b1"))
    turn("A", _long("a4"))
    expect_reference()
    b_saver.prune([THREAD], strategy="keep_latest")
    turn("A", _long("a5"))
    expect_reference()
    b_saver.delete_thread(THREAD)
    reference.delete_thread(THREAD)
    for i in range(3):
        turn("B", _long(f"b-new{i}"))
    turn("A", _long("a6"))
    expect_reference()


def _thread_ttl(database: SqlDatabase, thread_id: str) -> list[Any]:
    with database.read() as cur:
        rows = cur.execute(
            "SELECT ttl_seconds FROM langgraph_threads WHERE thread_id = ?", (thread_id,)
        ).fetchall()
    return [None if r[0] is None else float(r[0]) for r in rows]


def test_saver_writes_after_another_process_deleted_the_thread(
    a: ProcessA, b_saver: AgentMemorySaver, location: str, clock: OffsetClock
) -> None:
    """A's thread clock hint (PostgreSQL) must not skip recreating the thread's TTL row."""
    a.open("A", "saver", location, ttl=3600)
    a.do("A", "graph_invoke", thread_id=THREAD, text="first")
    assert _thread_ttl(b_saver.db, THREAD) == [3600.0]
    b_saver.delete_thread(THREAD)
    a.do("A", "graph_invoke", thread_id=THREAD, text="second")
    assert _thread_ttl(b_saver.db, THREAD) == [3600.0]
    state = expect_saver_consistent(a, location, clock)
    assert state["values"]["items"][0] == "second"


# --- LangGraph store: the item index ----------------------------------------------------------


DOCS = (
    (("docs", "a"), "k1", "memo about apples and pears"),
    (("docs", "a"), "k2", "memo about rivers and boats"),
    (("docs", "b"), "k3", "memo about copper wiring"),
    (("docs", "b"), "k4", "memo about violet flowers"),
)
STORE_QUERIES = ("memo apples", "copper wiring", "flowers in spring")


@pytest.fixture
def b_store(location: str, clock: OffsetClock) -> Iterator[AgentMemoryStore]:
    store = AgentMemoryStore(location, index=store_index(), ttl={"omit_expired": True}, clock=clock)
    yield store
    store.close()


def expect_store_consistent(
    a: ProcessA,
    location: str,
    clock: OffsetClock,
    keys: Sequence[tuple[tuple[str, ...], str]] = (),
) -> dict[str, Any]:
    """A's searches, gets and namespace listing equal a fresh store's."""
    seen: dict[str, Any] = {}
    for query in STORE_QUERIES:
        seen[query] = expect_fresh_view(
            a, "A", "store", location, clock, store_search, prefix=["docs"], query=query
        )
        # The best match alone: a stale index ranks a removed item first and returns nothing.
        expect_fresh_view(
            a, "A", "store", location, clock, store_search, prefix=["docs"], query=query, limit=1
        )
    seen["all"] = expect_fresh_view(
        a, "A", "store", location, clock, store_search, prefix=[], query=None
    )
    for namespace, key in keys or [(ns, key) for ns, key, _ in DOCS]:
        expect_fresh_view(
            a, "A", "store", location, clock, store_get, namespace=list(namespace), key=key
        )
    seen["namespaces"] = expect_fresh_view(a, "A", "store", location, clock, store_namespaces)
    return seen


def fill_store(store: AgentMemoryStore) -> None:
    for namespace, key, text in DOCS:
        store.put(namespace, key, {"text": text})


def _found(seen: dict[str, Any], query: str) -> list[str]:
    return [row[1] for row in seen[query][1]]


def test_store_sees_items_put_by_another_process(
    a: ProcessA, b_store: AgentMemoryStore, location: str, clock: OffsetClock
) -> None:
    fill_store(b_store)
    a.open("A", "store", location)
    expect_store_consistent(a, location, clock)
    b_store.put(("docs", "c"), "k5", {"text": "memo about apples in a new namespace"})
    b_store.put(("docs", "a"), "k6", {"text": "copper wiring diagrams"})
    seen = expect_store_consistent(a, location, clock, [(("docs", "c"), "k5")])
    assert {"k5", "k6"} <= set(_found(seen, "memo apples"))
    assert ["docs", "c"] in seen["namespaces"][1]


def test_store_items_deleted_by_another_process(
    a: ProcessA, b_store: AgentMemoryStore, location: str, clock: OffsetClock
) -> None:
    fill_store(b_store)
    a.open("A", "store", location)
    expect_store_consistent(a, location, clock)
    b_store.delete(("docs", "a"), "k1")
    b_store.delete(("docs", "b"), "k3")
    b_store.delete(("docs", "b"), "k4")
    seen = expect_store_consistent(a, location, clock)
    assert _found(seen, "memo apples") == ["k2"]
    assert seen["namespaces"][1] == [["docs", "a"]]


def test_store_values_changed_by_another_process(
    a: ProcessA, b_store: AgentMemoryStore, location: str, clock: OffsetClock
) -> None:
    fill_store(b_store)
    a.open("A", "store", location)
    expect_store_consistent(a, location, clock)
    b_store.put(("docs", "b"), "k4", {"text": "copper wiring for violet lamps"})
    b_store.put(("docs", "a"), "k1", {"text": "nothing in common"})
    seen = expect_store_consistent(a, location, clock)
    assert _found(seen, "copper wiring")[:2] in (["k3", "k4"], ["k4", "k3"])


def test_store_key_deleted_and_put_again_with_other_text(
    a: ProcessA, b_store: AgentMemoryStore, location: str, clock: OffsetClock
) -> None:
    fill_store(b_store)
    a.open("A", "store", location)
    expect_store_consistent(a, location, clock)
    b_store.delete(("docs", "a"), "k1")
    b_store.put(("docs", "a"), "k1", {"text": "flowers in spring gardens"})
    seen = expect_store_consistent(a, location, clock)
    assert _found(seen, "flowers in spring")[0] == "k1"


def test_store_items_expire_and_are_swept(
    a: ProcessA, b_store: AgentMemoryStore, location: str, clock: OffsetClock
) -> None:
    fill_store(b_store)
    a.open("A", "store", location)
    expect_store_consistent(a, location, clock)
    b_store.put(("docs", "c"), "brief", {"text": "memo apples for a minute"}, ttl=1)
    seen = expect_store_consistent(a, location, clock, [(("docs", "c"), "brief")])
    assert "brief" in _found(seen, "memo apples")
    advance(a, clock, 120)
    seen = expect_store_consistent(a, location, clock, [(("docs", "c"), "brief")])
    assert "brief" not in _found(seen, "memo apples")
    assert b_store.sweep_ttl() == 1
    expect_store_consistent(a, location, clock, [(("docs", "c"), "brief")])


def test_store_reindexed_by_another_process(
    a: ProcessA, b_store: AgentMemoryStore, location: str, clock: OffsetClock
) -> None:
    fill_store(b_store)
    a.open("A", "store", location)
    expect_store_consistent(a, location, clock)
    assert b_store.reindex() == len(DOCS)
    expect_store_consistent(a, location, clock)
    other = AgentMemoryStore(location, index=store_index(32), clock=clock)
    try:
        assert other.reindex() == len(DOCS)
    finally:
        other.close()
    seen = expect_store_consistent(a, location, clock)
    assert seen["memo apples"][:2] == ["error", "EmbedderMismatchError"]
    put = a.write("A", "store_put", namespace=["docs", "a"], key="k9", text="memo from A")
    assert put[:2] == ["error", "EmbedderMismatchError"], f"A's put after B's reindex: {put}"
