"""Process A of the two-process cache tests, and the reads both processes share.

Run as ``python -m tests.reliability._two_process_child``: a long-lived interpreter that
opens memory clients, LangGraph savers and stores, chat histories and HTTP servers on
request and keeps them (and so their in-process caches) open between requests. It speaks
one JSON object per line on stdin and answers one JSON object per line on stdout:

* ``{"op": "open", "name": ..., "kind": ..., "location": ..., "options": {...}}`` opens a
  client, saver, store, chat history or HTTP server (``open_object``) and keeps it under
  ``name``;
* ``{"op": "read", "name": ..., "fn": ..., "args": {...}, "fresh": bool}`` runs one of the
  ``READS`` below on that object (or, with ``fresh``, on a new object opened with the same
  options and closed right after) and answers its :func:`outcome`;
* ``{"op": "write", "name": ..., "fn": ..., "args": {...}}`` runs one of the ``WRITES``
  and answers its :func:`outcome`;
* ``{"op": "advance", "seconds": s}`` moves this process's clock forward;
* ``{"op": "reset"}`` closes every object and resets the clock; ``{"op": "exit"}`` stops.

Every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ...}`` (a
failure of the protocol itself, not of a read: reads report their exceptions through
``outcome``). The test process imports the same reads to compute what a fresh process sees.
"""

from __future__ import annotations

import json
import operator
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import Checkpoint, CheckpointMetadata, empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import IndexConfig

from memory_integrations import AgentMemoryClient, Settings
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.langchain import AgentMemoryChatMessageHistory
from memory_integrations.langgraph import AgentMemorySaver, AgentMemoryStore
from memory_integrations.storage import open_database

DIM = 384  # the HashingEmbedder's default dimension
STORE_DIM = 64


class OffsetClock:
    """Wall-clock time plus an offset the test moves explicitly (TTL without sleeping)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


# --- opening ------------------------------------------------------------------------------


class Opened:
    """An object of the library plus what closes it."""

    def __init__(self, obj: Any, close: Callable[[], None]) -> None:
        self.obj = obj
        self.close = close


def store_index(dim: int = STORE_DIM) -> IndexConfig:
    """The store's semantic index: the deterministic hashing embedder on ``text``."""
    return cast(IndexConfig, {"dims": dim, "embed": HashingEmbedder(dim), "fields": ["text"]})


def open_object(
    kind: str, location: str, clock: Callable[[], float], options: dict[str, Any]
) -> Opened:
    """Open a client, saver, store, chat history or HTTP server (SQLite only) on
    ``location``, on ``clock`` (the server keeps the wall clock)."""
    if kind == "client":
        # No background sweep during a test: a sweep would bump the index versions itself
        # and hide whether a search notices the other process's change on its own.
        client = AgentMemoryClient(
            location,
            embedder=HashingEmbedder(options.get("dim", DIM)),
            clock=clock,
            settings=Settings(sweep_interval=3600),
        )
        return Opened(client, client.close)
    if kind == "history":
        client = AgentMemoryClient(
            location,
            embedder=HashingEmbedder(DIM),
            clock=clock,
            settings=Settings(sweep_interval=3600),
        )
        history = AgentMemoryChatMessageHistory(
            client, user_id=options["user_id"], session_id=options["session_id"]
        )
        return Opened(history, client.close)
    if kind == "saver":
        database = open_database(location)
        saver = AgentMemorySaver(database, clock=clock, ttl=options.get("ttl"))

        def close_saver() -> None:
            saver.close()
            database.close()

        return Opened(saver, close_saver)
    if kind == "server":
        from memory_integrations.server import ServerConfig, ServerThread, create_app

        config = ServerConfig(path=Path(location), embedder=HashingEmbedder(DIM))
        config.settings = config.settings.model_copy(update={"sweep_interval": 3600})
        server = ServerThread(create_app(config)).start()
        return Opened(server, server.stop)
    if kind == "store":
        store = AgentMemoryStore(
            location,
            index=store_index(options.get("dim", STORE_DIM)),
            ttl={"omit_expired": True},
            clock=clock,
        )
        return Opened(store, store.close)
    raise ValueError(f"unknown kind {kind!r}")


# --- reads and writes, shared by both processes ---------------------------------------------


def fresh_outcome(
    kind: str,
    location: str,
    clock: Callable[[], float],
    options: dict[str, Any],
    fn: Callable[..., Any],
    args: dict[str, Any],
) -> list[Any]:
    """:func:`outcome` of ``fn`` on an object opened just for it (a fresh process's view);
    an error opening it is the outcome too."""
    try:
        fresh = open_object(kind, location, clock, options)
    except Exception as exc:
        return ["error", type(exc).__name__, str(exc)[:300]]
    try:
        return outcome(fn, fresh.obj, **args)
    finally:
        fresh.close()


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (what crosses the pipe, and what is compared)."""
    return json.loads(json.dumps(value, default=repr, sort_keys=True))


def outcome(fn: Callable[..., Any], obj: Any, **args: Any) -> list[Any]:
    """``["ok", result]``, or ``["error", exception class name, message]``."""
    try:
        return ["ok", jsonable(fn(obj, **args))]
    except Exception as exc:
        return ["error", type(exc).__name__, str(exc)[:300]]


def engine_search(
    client: AgentMemoryClient, user_id: str, query: str, k: int = 50
) -> list[list[str]]:
    """The ``k`` best blocks of all the user's sessions: ``[block_id, text]``, in rank order."""
    found = client.get_user(user_id).search_memory(
        query, filters={"session_ids": "all", "relevant_k": k}
    )
    return [
        [b.block_id, b.fact or (b.message.text if b.message else "")] for b in found.memory_blocks
    ]


def engine_list(client: AgentMemoryClient, user_id: str) -> list[list[str]]:
    """Every live block of the user, ready or not: ``[block_id, text, status]``, sorted."""
    user = client.get_user(user_id)
    rows: list[list[str]] = []
    offset = 0
    while True:
        page = user.list_memories(session_ids="all", limit=200, offset=offset)
        rows += [
            [b.block_id, b.fact or (b.message.text if b.message else ""), b.status.value]
            for b in page.memory_blocks
        ]
        offset += page.count
        if not page.count or offset >= page.total:
            return sorted(rows)


class ChatState(TypedDict):
    items: Annotated[list[str], operator.add]


def _reply(state: ChatState) -> dict[str, Any]:
    # ~300 characters per item: a thread's list soon crosses the append-delta threshold.
    return {"items": [f"reply {len(state['items'])}: " + "lorem ipsum " * 25]}


def build_graph(checkpointer: Any) -> Any:
    builder = StateGraph(ChatState)
    builder.add_node("reply", _reply)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    return builder.compile(checkpointer=checkpointer)


def _thread(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def _tuple_summary(found: Any) -> dict[str, Any] | None:
    if found is None:
        return None
    parent = found.parent_config["configurable"]["checkpoint_id"] if found.parent_config else None
    return {
        "id": found.config["configurable"]["checkpoint_id"],
        "ns": found.config["configurable"]["checkpoint_ns"],
        "parent": parent,
        "values": found.checkpoint["channel_values"],
        "versions": found.checkpoint["channel_versions"],
        "metadata": found.metadata,
        "writes": found.pending_writes,
    }


def saver_get_tuple(saver: AgentMemorySaver, thread_id: str) -> dict[str, Any] | None:
    """The thread's latest checkpoint, as ``get_tuple`` returns it."""
    return _tuple_summary(saver.get_tuple({"configurable": {"thread_id": thread_id}}))


def saver_list(saver: AgentMemorySaver, thread_id: str) -> list[dict[str, Any] | None]:
    """Every checkpoint of the thread, newest first, as ``list`` returns them."""
    return [_tuple_summary(t) for t in saver.list(_thread(thread_id))]


def graph_state(saver: AgentMemorySaver, thread_id: str) -> dict[str, Any]:
    """The thread's state and history through a compiled graph on ``saver``."""
    graph = build_graph(saver)
    snapshot = graph.get_state(_thread(thread_id))
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "checkpoint_id": (snapshot.config or {}).get("configurable", {}).get("checkpoint_id"),
        "history": [
            [s.config["configurable"]["checkpoint_id"], s.values]
            for s in graph.get_state_history(_thread(thread_id))
        ],
    }


def saver_put(saver: AgentMemorySaver, thread_id: str, items: list[str], version: str) -> str:
    """Write a checkpoint directly, with the caller's channel version (as LangGraph's
    checkpoint conformance tests and migration tools do); returns its id."""
    checkpoint: Checkpoint = empty_checkpoint()
    checkpoint["id"] = str(uuid6())
    checkpoint["channel_values"] = {"items": items}
    checkpoint["channel_versions"] = {"items": version}
    metadata = CheckpointMetadata(source="input", step=-1, parents={})
    config: RunnableConfig = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    saver.put(config, checkpoint, metadata, {"items": version})
    return checkpoint["id"]


def graph_invoke(saver: AgentMemorySaver, thread_id: str, text: str) -> dict[str, Any]:
    """Run one turn of the graph on the thread; returns the final state values."""
    result: dict[str, Any] = build_graph(saver).invoke({"items": [text]}, _thread(thread_id))
    return result


def store_search(
    store: AgentMemoryStore, prefix: list[str], query: str | None, limit: int = 50
) -> list[list[Any]]:
    """``[namespace, key, value, score]`` of a search, in rank order."""
    return [
        [list(i.namespace), i.key, i.value, None if i.score is None else round(i.score, 5)]
        for i in store.search(tuple(prefix), query=query, limit=limit)
    ]


def store_get(store: AgentMemoryStore, namespace: list[str], key: str) -> Any:
    item = store.get(tuple(namespace), key)
    return None if item is None else item.value


def store_put(store: AgentMemoryStore, namespace: list[str], key: str, text: str) -> None:
    store.put(tuple(namespace), key, {"text": text})


def store_namespaces(store: AgentMemoryStore) -> list[list[str]]:
    return [list(ns) for ns in store.list_namespaces(limit=1000)]


def engine_add(client: AgentMemoryClient, user_id: str, session_id: str, text: str) -> list[str]:
    """Add one fact, embedded before the call returns; returns its block id."""
    session = client.get_user(user_id).get_session(session_id)
    return session.add_memory(facts=[text], async_processing=False).block_ids


def server_search(server: Any, user_id: str, query: str) -> dict[str, Any]:
    """A ranked search over every session of the user through the HTTP API."""
    import httpx

    response = httpx.post(
        f"{server.url}/users/{user_id}/memory/search",
        json={"query": query, "filters": {"session_ids": "all", "relevant_k": 50}},
        timeout=60,
    )
    body = response.json()
    if response.status_code != 200:
        return {"status": response.status_code, "error": body.get("error")}
    blocks = [[b["block_id"], b["fact"]] for b in body["memory_blocks"]]
    return {"status": 200, "blocks": blocks}


def history_messages(history: AgentMemoryChatMessageHistory) -> list[list[str]]:
    return [[m.type, str(m.content)] for m in history.messages]


def history_add(history: AgentMemoryChatMessageHistory, text: str) -> None:
    from langchain_core.messages import HumanMessage

    history.add_messages([HumanMessage(text)])


READS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        engine_search,
        engine_list,
        saver_get_tuple,
        saver_list,
        graph_state,
        store_search,
        store_get,
        store_namespaces,
        history_messages,
        server_search,
    )
}
WRITES: dict[str, Callable[..., Any]] = {
    f.__name__: f for f in (graph_invoke, saver_put, history_add, engine_add, store_put)
}


# --- the line protocol ------------------------------------------------------------------------


def serve() -> None:
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # stray prints must not corrupt the protocol
    clock = OffsetClock()
    opened: dict[str, Opened] = {}
    specs: dict[str, tuple[str, str, dict[str, Any]]] = {}

    def close_all() -> None:
        for item in opened.values():
            item.close()
        opened.clear()
        specs.clear()

    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        try:
            result: Any = None
            if op == "open":
                name = request["name"]
                if name in opened:
                    opened.pop(name).close()
                spec = (request["kind"], request["location"], request.get("options") or {})
                opened[name] = open_object(spec[0], spec[1], clock, spec[2])
                specs[name] = spec
            elif op == "read":
                fn = READS[request["fn"]]
                if request.get("fresh"):
                    kind, location, options = specs[request["name"]]
                    result = fresh_outcome(kind, location, clock, options, fn, request["args"])
                else:
                    result = outcome(fn, opened[request["name"]].obj, **request["args"])
            elif op == "write":
                fn = WRITES[request["fn"]]
                result = outcome(fn, opened[request["name"]].obj, **request["args"])
            elif op == "advance":
                clock.advance(float(request["seconds"]))
            elif op == "reset":
                close_all()
                clock.offset = 0.0
            elif op == "exit":
                close_all()
                out.write(json.dumps({"ok": True, "result": None}) + "\n")
                return
            else:
                raise ValueError(f"unknown op {op!r}")
            answer = {"ok": True, "result": result}
        except Exception as exc:
            answer = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
            }
        out.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    serve()
