"""Hostile calls on every framework adapter (issue #15, "close the classes").

The same contract as ``test_hostile_inputs.py``, for LangChain (chat history, retriever,
memory tools), LangGraph (checkpointer, store), LlamaIndex (memory, memory block, chat
stores, retriever) and CrewAI (storage): only ``AgentMemoryError`` subclasses escape (an
adapter's error may *also* subclass the framework's own error type, e.g. LangGraph's
``InvalidNamespaceError`` or a ``ValueError``), a refused call writes nothing, bob's data
(including his checkpoint thread and store items) never changes, and eve stays readable and
erasable.

Choices where the right behaviour is debatable (what a user of this field would expect):

* a LangChain memory tool answers errors the model can fix as its result (its documented
  contract): a tool call must return a ``ToolMessage`` with ``status="error"`` for bad
  arguments (including arguments its schema refuses), never raise;
* LangGraph thread ids, task ids, checkpoint namespaces, store keys and namespace labels
  are framework keys: text no database can store (lone surrogates, NUL), ``None``, bools
  and bytes are refused everywhere; empty or blank thread and task ids are refused (they
  can never name a conversation); an empty namespace label is refused (as LangGraph does);
  ints are allowed where LangGraph stringifies them (thread ids, keys);
* ``store.put("plain-string", ...)`` is refused: a ``str`` is not a namespace tuple (it
  was split into one-letter labels);
* a TTL of the saver or store that is negative, zero (saver), NaN, a bool or a string is
  refused; an infinite or huge one may mean "never" but must then work;
* a string given where a client is expected may be taken as a path, but an impossible
  path is then a typed error (never an ``AttributeError``);
* the LlamaIndex adapters reopen their store by path, so using them after the client was
  closed may work; every other adapter raises a typed error.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from crewai.memory.types import MemoryRecord
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from llama_index.core.base.llms.types import ChatMessage as LIMessage

from memory_integrations.crewai import AgentMemoryStorage
from memory_integrations.errors import AgentMemoryError, BadRequestError
from memory_integrations.langchain import (
    AgentMemoryChatMessageHistory,
    create_memory_tools,
)
from memory_integrations.langchain import AgentMemoryRetriever as LCRetriever
from memory_integrations.langgraph import AgentMemorySaver, AgentMemoryStore
from memory_integrations.llama_index import (
    AgentMemory,
    AgentMemoryBaseChatStore,
    AgentMemoryBlock,
    AgentMemoryChatStore,
)
from memory_integrations.llama_index import AgentMemoryRetriever as LIRetriever

from ._hostile import (
    ADAPTER_IDS,
    ANY,
    EVE,
    EVE_THREAD,
    HOSTILE_IDS,
    HOSTILE_NUMBERS,
    HOSTILE_TEXTS,
    REJECT,
    TYPED,
    Expect,
    World,
    WorldFactory,
    deeply_nested,
    describe,
    fail_on,
    frozen_clock,
    put_checkpoint,
    run_table,
)

STRING_TEXTS = [(label, v) for label, v in HOSTILE_TEXTS if isinstance(v, str)]
"""Texts a framework message object can carry (its own model refuses the rest)."""


def rule(ok: set[str] | frozenset[str]) -> Callable[[str], Expect]:
    return lambda label: ANY if label in ok else REJECT


def only(refused: set[str] | frozenset[str], otherwise: Expect = ANY) -> Callable[[str], Expect]:
    return lambda label: REJECT if label in refused else otherwise


class ToolRefused(BadRequestError):
    """A memory tool answered with an error result (``ToolMessage.status == "error"``)."""


def run_tool(tool: Any, args: dict[str, Any], configurable: dict[str, Any] | None = None) -> Any:
    """Call a tool the way an agent does; an error result counts as a typed refusal."""
    call = {"name": tool.name, "args": args, "id": "call-1", "type": "tool_call"}
    config = {"configurable": configurable} if configurable else None
    message = tool.invoke(call, config=config)
    assert isinstance(message, ToolMessage)
    if message.status == "error":
        raise ToolRefused(str(message.content))
    return message.content


def tools(w: World, **options: Any) -> dict[str, Any]:
    options.setdefault("user_id", EVE)
    options.setdefault("session_id", "s")
    return {t.name: t for t in create_memory_tools(w.client, **options)}


def history(w: World, user_id: Any = EVE, session_id: Any = "s", **kw: Any) -> Any:
    return AgentMemoryChatMessageHistory(w.client, user_id=user_id, session_id=session_id, **kw)


def li_memory(w: World, user_id: Any = EVE, session_id: Any = "s", **kw: Any) -> Any:
    return AgentMemory.from_client(w.client, user_id=user_id, session_id=session_id, **kw)


async def aput_checkpoint(saver: AgentMemorySaver, thread_id: Any, values: dict[str, Any]) -> Any:
    """``put_checkpoint`` through the saver's async API."""
    from langgraph.checkpoint.base import empty_checkpoint

    checkpoint = empty_checkpoint()
    versions = {channel: saver.get_next_version(None, None) for channel in values}
    checkpoint["channel_values"] = dict(values)
    checkpoint["channel_versions"] = dict(versions)
    return await saver.aput(
        {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}},
        checkpoint,
        {"source": "input", "step": -1},
        versions,
    )


def config(thread_id: Any, ns: Any = "") -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}}


def saver_round_trip(saver: AgentMemorySaver) -> Any:
    """Write and read a thread with a saver built from hostile options, then close it (a
    sweeper it started gets a moment to run first: it must not die)."""
    with saver:
        put_checkpoint(saver, "eve-ttl-thread", {"x": "y" * 600})
        assert saver.get_tuple(config("eve-ttl-thread")) is not None
        time.sleep(0.05)


def store_round_trip(store: AgentMemoryStore) -> Any:
    """The same for a store built from hostile options."""
    with store:
        store.put((EVE, "ttl"), "k", {"text": "eve ttl note"})
        time.sleep(0.05)
        return store.get((EVE, "ttl"), "k")


def _directory(w: World) -> str:
    target = Path(w.location).parent / "a-directory"
    target.mkdir(exist_ok=True)
    return str(target)


def _under_a_file(w: World) -> str:
    parent = Path(w.location).parent / "plain-file"
    parent.write_text("not a directory")
    return str(parent / "memory.sqlite3")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A string taken as a path must not litter the project directory."""
    monkeypatch.chdir(tmp_path)
    yield


# --- ids everywhere ---------------------------------------------------------------------

SURROGATES_NUL_NONE_BLANK = frozenset(
    {"lone surrogate", "surrogate inside", "NUL", "None", "empty", "blank", "bool", "bytes"}
)
"""What a framework key (thread id, store key, chat key...) must never be."""

ID_POSITIONS: list[
    tuple[str, Callable[[World, Any], Any], Expect | Callable[[str], Expect], bool]
] = [
    # (position, call, rule, creates a user with the value)
    (
        "LangChain history(user_id).add_messages",
        lambda w, v: history(w, user_id=v).add_messages([HumanMessage("hi")]),
        REJECT,
        True,
    ),
    (
        "LangChain history(session_id).add_messages",
        lambda w, v: history(w, session_id=v).add_messages([HumanMessage("hi")]),
        REJECT,
        False,
    ),
    (
        "LangChain history(session_id).aadd_messages",
        lambda w, v: history(w, session_id=v).aadd_messages([HumanMessage("hi")]),
        REJECT,
        False,
    ),
    (
        "LangChain history(user_id).messages",
        lambda w, v: history(w, user_id=v).messages,
        ANY,
        False,
    ),
    (
        "LangChain history(session_id).clear",
        lambda w, v: history(w, session_id=v).clear(),
        ANY,
        False,
    ),
    (
        "LangChain retriever(user_id).invoke",
        lambda w, v: LCRetriever(w.client, user_id=v).invoke("tea"),
        ANY,
        False,
    ),
    (
        "LangChain retriever(scope=session, session_id).invoke",
        lambda w, v: LCRetriever(w.client, user_id=EVE, session_id=v, scope="session").invoke(
            "tea"
        ),
        ANY,
        False,
    ),
    (
        "LangChain tools(user_id) save_memory",
        lambda w, v: run_tool(tools(w, user_id=v)["save_memory"], {"fact": "x"}),
        REJECT,
        True,
    ),
    (
        "LangChain tools(session_id) save_memory",
        lambda w, v: run_tool(tools(w, session_id=v)["save_memory"], {"fact": "x"}),
        REJECT,
        False,
    ),
    (
        "LangChain tools configurable user_id save_memory",
        lambda w, v: run_tool(
            tools(w, user_id=None, session_id=None)["save_memory"],
            {"fact": "x"},
            {"user_id": v, "session_id": "s"},
        ),
        rule({"int 2**63"}),
        True,
    ),
    (
        "LangChain tools forget_memory(memory_id)",
        lambda w, v: run_tool(tools(w)["forget_memory"], {"memory_id": v}),
        REJECT,
        False,
    ),
    (
        "LangGraph saver.put(thread_id)",
        lambda w, v: put_checkpoint(w.saver, v, {"messages": ["x"]}),
        only(SURROGATES_NUL_NONE_BLANK),
        False,
    ),
    (
        "LangGraph saver.put(checkpoint_ns)",
        lambda w, v: put_checkpoint(w.saver, EVE_THREAD, {"messages": ["x"]}, ns=v),
        only({"lone surrogate", "surrogate inside", "NUL", "bytes", "bool"}),
        False,
    ),
    (
        "LangGraph saver.aput(thread_id)",
        lambda w, v: aput_checkpoint(w.saver, v, {"messages": ["x"]}),
        only(SURROGATES_NUL_NONE_BLANK),
        False,
    ),
    (
        "LangGraph saver.put_writes(task_id)",
        lambda w, v: w.saver.put_writes(
            w.saver.get_tuple(config(EVE_THREAD)).config, [("messages", "w")], v
        ),
        only(SURROGATES_NUL_NONE_BLANK),
        False,
    ),
    ("LangGraph saver.get_tuple(thread_id)", lambda w, v: w.saver.get_tuple(config(v)), ANY, False),
    (
        "LangGraph saver.aget_tuple(thread_id)",
        lambda w, v: w.saver.aget_tuple(config(v)),
        ANY,
        False,
    ),
    (
        "LangGraph saver.list(thread_id)",
        lambda w, v: list(w.saver.list(config(v))),
        ANY,
        False,
    ),
    ("LangGraph saver.delete_thread", lambda w, v: w.saver.delete_thread(v), ANY, False),
    (
        "LangGraph saver.copy_thread(eve-thread -> id)",
        lambda w, v: w.saver.copy_thread(EVE_THREAD, v),
        only(SURROGATES_NUL_NONE_BLANK),
        False,
    ),
    (
        "LangGraph store.put(key)",
        lambda w, v: w.store.put((EVE, "notes"), v, {"text": "x"}),
        only(SURROGATES_NUL_NONE_BLANK - {"empty", "blank"}),
        False,
    ),
    (
        "LangGraph store.put((label,))",
        lambda w, v: w.store.put((EVE, v), "k", {"text": "x"}),
        only(SURROGATES_NUL_NONE_BLANK - {"blank"} | {"int 2**63"}),
        False,
    ),
    (
        "LangGraph store.aput((label,))",
        lambda w, v: w.store.aput((EVE, v), "k", {"text": "x"}),
        only(SURROGATES_NUL_NONE_BLANK - {"blank"} | {"int 2**63"}),
        False,
    ),
    ("LangGraph store.get(key)", lambda w, v: w.store.get((EVE, "notes"), v), ANY, False),
    ("LangGraph store.get((label,))", lambda w, v: w.store.get((EVE, v), "k1"), ANY, False),
    ("LangGraph store.delete(key)", lambda w, v: w.store.delete((EVE, "notes"), v), ANY, False),
    (
        "LangGraph store.search((label,))",
        lambda w, v: w.store.search((EVE, v), query="note"),
        ANY,
        False,
    ),
    (
        "LangGraph store.list_namespaces(prefix)",
        lambda w, v: w.store.list_namespaces(prefix=(v,)),
        ANY,
        False,
    ),
    (
        "LlamaIndex AgentMemory(user_id).put",
        lambda w, v: li_memory(w, user_id=v).put(LIMessage(role="user", content="hi")),
        rule({"bytes"}),
        True,
    ),
    (
        "LlamaIndex AgentMemory(session_id).put",
        lambda w, v: li_memory(w, session_id=v).put(LIMessage(role="user", content="hi")),
        rule({"bytes", "None"}),  # None: a new session (documented)
        False,
    ),
    (
        "LlamaIndex AgentMemory(session_id).aput",
        lambda w, v: li_memory(w, session_id=v).aput(LIMessage(role="user", content="hi")),
        rule({"bytes", "None"}),
        False,
    ),
    (
        "LlamaIndex AgentMemory(user_id).get",
        lambda w, v: li_memory(w, user_id=v).get("tea"),
        ANY,
        False,
    ),
    (
        "LlamaIndex AgentMemoryBlock(user_id).store",
        lambda w, v: AgentMemoryBlock(client=w.client, user_id=v).store(
            [LIMessage(role="user", content="hi")]
        ),
        rule({"bytes"}),
        True,
    ),
    (
        "LlamaIndex AgentMemoryBlock(session_id).store",
        lambda w, v: AgentMemoryBlock(client=w.client, user_id=EVE, session_id=v).store(
            [LIMessage(role="user", content="hi")]
        ),
        rule({"bytes", "empty", "None"}),  # None / "": the Memory's own session
        False,
    ),
    (
        "LlamaIndex AgentMemoryBlock(user_id).recall_text",
        lambda w, v: AgentMemoryBlock(client=w.client, user_id=v).recall_text(
            [LIMessage(role="user", content="tea")]
        ),
        ANY,
        False,
    ),
    (
        "LlamaIndex AgentMemoryChatStore.add_messages_sync(key)",
        lambda w, v: AgentMemoryChatStore(client=w.client, user_id=EVE).add_messages_sync(
            v, [LIMessage(role="user", content="hi")]
        ),
        REJECT,
        False,
    ),
    (
        "LlamaIndex AgentMemoryChatStore.add_message(key) (async)",
        lambda w, v: AgentMemoryChatStore(client=w.client, user_id=EVE).add_message(
            v, LIMessage(role="user", content="hi")
        ),
        REJECT,
        False,
    ),
    (
        "LlamaIndex AgentMemoryChatStore(user_id).add_messages_sync",
        lambda w, v: AgentMemoryChatStore(client=w.client, user_id=v).add_messages_sync(
            "s", [LIMessage(role="user", content="hi")]
        ),
        rule({"bytes"}),
        True,
    ),
    (
        "LlamaIndex AgentMemoryChatStore.get_messages_sync(key)",
        lambda w, v: AgentMemoryChatStore(client=w.client, user_id=EVE).get_messages_sync(v),
        ANY,
        False,
    ),
    (
        "LlamaIndex AgentMemoryChatStore.count_messages_sync(key)",
        lambda w, v: AgentMemoryChatStore(client=w.client, user_id=EVE).count_messages_sync(v),
        ANY,
        False,
    ),
    (
        "LlamaIndex AgentMemoryBaseChatStore.add_message(key)",
        lambda w, v: AgentMemoryBaseChatStore(client=w.client, user_id=EVE).add_message(
            v, LIMessage(role="user", content="hi")
        ),
        REJECT,
        False,
    ),
    (
        "LlamaIndex retriever(user_id).retrieve",
        lambda w, v: LIRetriever(w.client, user_id=v).retrieve("tea"),
        ANY,
        False,
    ),
    (
        "CrewAI storage(user_id).save",
        lambda w, v: AgentMemoryStorage(w.client, user_id=v).save([MemoryRecord(content="x")]),
        REJECT,
        True,
    ),
    (
        "CrewAI storage(session_id).save",
        lambda w, v: AgentMemoryStorage(w.client, user_id=EVE, session_id=v).save(
            [MemoryRecord(content="x")]
        ),
        REJECT,
        False,
    ),
    (
        "CrewAI storage(user_id).asave",
        lambda w, v: AgentMemoryStorage(w.client, user_id=v).asave([MemoryRecord(content="x")]),
        REJECT,
        True,
    ),
    (
        "CrewAI storage(user_id).count",
        lambda w, v: AgentMemoryStorage(w.client, user_id=v).count(),
        ANY,
        False,
    ),
    (
        "CrewAI storage.delete(record_ids=[id])",
        lambda w, v: AgentMemoryStorage(w.client, user_id=EVE).delete(record_ids=[v]),
        ANY,
        False,
    ),
    (
        "CrewAI storage.get_record(id)",
        lambda w, v: AgentMemoryStorage(w.client, user_id=EVE).get_record(v),
        ANY,
        False,
    ),
]


@pytest.mark.parametrize(
    ("position", "call", "expect", "creates_user"),
    ID_POSITIONS,
    ids=[row[0] for row in ID_POSITIONS],
)
def test_hostile_ids_in_adapters(
    make_adapter_world: WorldFactory,
    position: str,
    call: Callable[[World, Any], Any],
    expect: Expect | Callable[[str], Expect],
    creates_user: bool,
) -> None:
    """Ids, thread ids, namespace labels and keys with surrogates, NUL, bidi/zero-width and
    control characters, blank, over-long and non-string values, through every adapter.
    Writes that would create a user, session or chat key with such an id are refused."""
    fail_on(
        run_table(
            make_adapter_world, position, call, ADAPTER_IDS, expect, creates_user=creates_user
        )
    )


# --- texts and values --------------------------------------------------------------------

TEXT_POSITIONS: list[
    tuple[str, Callable[[World, Any], Any], Callable[[str], Expect], list[tuple[str, Any]]]
] = [
    (
        "LangChain history.add_messages([HumanMessage(text)])",
        lambda w, v: history(w).add_messages([HumanMessage(v)]),
        rule({"empty", "blank"}),
        STRING_TEXTS,
    ),
    (
        "LangChain history.add_messages([AIMessage(text)])",
        lambda w, v: history(w).add_messages([AIMessage(v)]),
        rule({"empty", "blank"}),
        STRING_TEXTS,
    ),
    (
        "LangChain history(annotations={'note': text}).add_messages",
        lambda w, v: history(w, annotations={"note": v}).add_messages([HumanMessage("hi")]),
        rule({"empty", "blank"}),
        HOSTILE_TEXTS,
    ),
    (
        "LangChain retriever.invoke(query)",
        lambda w, v: LCRetriever(w.client, user_id=EVE).invoke(v),
        rule({"empty", "blank"}),
        HOSTILE_TEXTS,
    ),
    (
        "LangChain retriever(metadata_contains).invoke",
        lambda w, v: LCRetriever(w.client, user_id=EVE, metadata_contains=v).invoke("tea"),
        rule({"None", "bytes"}),
        HOSTILE_TEXTS,
    ),
    (
        "LangChain tools save_memory(fact)",
        lambda w, v: run_tool(tools(w)["save_memory"], {"fact": v}),
        rule({"bytes"}),
        HOSTILE_TEXTS,
    ),
    (
        "LangChain tools search_memory(query)",
        lambda w, v: run_tool(tools(w)["search_memory"], {"query": v}),
        rule({"bytes"}),
        HOSTILE_TEXTS,
    ),
    (
        "LangGraph saver.put(metadata={'note': text})",
        lambda w, v: w.saver.put(
            config(EVE_THREAD),
            {
                **w.saver.get_tuple(config(EVE_THREAD)).checkpoint,
                "id": "1ef00000-0000-6000-8000-000000000001",
            },
            {"source": "update", "step": 1, "note": v},
            {},
        ),
        rule({"empty", "blank", "None", "int", "list", "bytes", "NUL", "over 1M characters"}),
        HOSTILE_TEXTS,
    ),
    (
        "LangGraph store.put(value={'text': text})",
        lambda w, v: w.store.put((EVE, "notes"), "k3", {"text": v}),
        rule({"empty", "blank", "None", "int", "list", "NUL", "over 1M characters"}),
        HOSTILE_TEXTS,
    ),
    (
        "LangGraph store.search(query)",
        lambda w, v: w.store.search((EVE,), query=v),
        rule({"empty", "blank", "None", "NUL", "over 1M characters"}),
        HOSTILE_TEXTS,
    ),
    (
        "LangGraph store.search(filter={'text': text})",
        lambda w, v: w.store.search((EVE,), filter={"text": v}),
        rule({"empty", "blank", "None", "int", "list", "bytes", "NUL", "over 1M characters"}),
        HOSTILE_TEXTS,
    ),
    (
        "LlamaIndex AgentMemory.put(text)",
        lambda w, v: li_memory(w).put(LIMessage(role="user", content=v)),
        rule({"empty", "blank"}),
        STRING_TEXTS,
    ),
    (
        "LlamaIndex AgentMemory.get(input)",
        lambda w, v: li_memory(w).get(v),
        rule({"empty", "blank", "None"}),
        [*STRING_TEXTS, ("None", None)],
    ),
    (
        "LlamaIndex AgentMemory(annotations={'note': text}).put",
        lambda w, v: li_memory(w, annotations={"note": v}).put(
            LIMessage(role="user", content="hi")
        ),
        rule({"empty", "blank"}),
        STRING_TEXTS,
    ),
    (
        "LlamaIndex AgentMemoryChatStore.add_messages_sync(text)",
        lambda w, v: AgentMemoryChatStore(client=w.client, user_id=EVE).add_messages_sync(
            "s", [LIMessage(role="assistant", content=v)]
        ),
        rule({"empty", "blank"}),
        STRING_TEXTS,
    ),
    (
        "LlamaIndex retriever.retrieve(query)",
        lambda w, v: LIRetriever(w.client, user_id=EVE).retrieve(v),
        rule({"empty", "blank"}),
        STRING_TEXTS,
    ),
    (
        "CrewAI storage.save(content)",
        lambda w, v: AgentMemoryStorage(w.client, user_id=EVE).save([MemoryRecord(content=v)]),
        rule({"empty", "blank"}),
        STRING_TEXTS,
    ),
    (
        "CrewAI storage.save(scope)",
        lambda w, v: AgentMemoryStorage(w.client, user_id=EVE).save(
            [MemoryRecord(content="x", scope="/crew/" + v)]
        ),
        rule({"empty", "blank"}),
        [item for item in STRING_TEXTS if item[0] != "over 1M characters"],
    ),
    (
        "CrewAI storage.save(categories=[text])",
        lambda w, v: AgentMemoryStorage(w.client, user_id=EVE).save(
            [MemoryRecord(content="x", categories=[v])]
        ),
        rule({"empty", "blank", "NUL", "over 1M characters"}),
        STRING_TEXTS,
    ),
    (
        "CrewAI storage.save(metadata={'note': text})",
        lambda w, v: AgentMemoryStorage(w.client, user_id=EVE).save(
            [MemoryRecord(content="x", metadata={"note": v})]
        ),
        rule({"empty", "blank", "None", "int", "list", "NUL", "over 1M characters"}),
        HOSTILE_TEXTS,
    ),
    (
        "CrewAI storage.list_scopes(parent)",
        lambda w, v: AgentMemoryStorage(w.client, user_id=EVE).list_scopes(v),
        rule({"empty", "blank", "NUL", "over 1M characters"}),
        STRING_TEXTS,
    ),
]


@pytest.mark.parametrize(
    ("position", "call", "expect", "values"),
    TEXT_POSITIONS,
    ids=[row[0] for row in TEXT_POSITIONS],
)
def test_hostile_texts_in_adapters(
    make_adapter_world: WorldFactory,
    position: str,
    call: Callable[[World, Any], Any],
    expect: Callable[[str], Expect],
    values: list[tuple[str, Any]],
) -> None:
    """Message contents, queries, annotations, metadata, store values and CrewAI record
    fields that are not valid UTF-8, contain NUL, are over 1M characters or of the wrong
    type are refused with a typed error and write nothing."""
    fail_on(run_table(make_adapter_world, position, call, values, expect))


NUMBER_POSITIONS: list[tuple[str, Callable[[World, Any], Any], Callable[[str], Expect]]] = [
    (
        "LangChain retriever(k).invoke",
        lambda w, v: LCRetriever(w.client, user_id=EVE, k=v).invoke("tea"),
        rule({"str '10'"}),
    ),
    (
        "LangChain retriever(threshold).invoke",
        lambda w, v: LCRetriever(w.client, user_id=EVE, threshold=v).invoke("tea"),
        rule({"None", "0", "-1"}),
    ),
    (
        "LangChain tools(k) search_memory",
        lambda w, v: run_tool(tools(w, k=v)["search_memory"], {"query": "tea"}),
        rule({"str '10'"}),
    ),
    (
        "LangChain tools(threshold) search_memory",
        lambda w, v: run_tool(tools(w, threshold=v)["search_memory"], {"query": "tea"}),
        rule({"None", "0", "-1"}),
    ),
    (
        "LangGraph AgentMemorySaver(ttl)",
        lambda w, v: saver_round_trip(AgentMemorySaver(w.client, ttl=v, clock=frozen_clock)),
        rule({"None", "2**63", "2**64", "inf", "1.5"}),
    ),
    (
        "LangGraph AgentMemorySaver(sweep_interval)",
        lambda w, v: saver_round_trip(AgentMemorySaver(w.client, sweep_interval=v)),
        rule({"None", "2**63", "2**64", "inf", "1.5"}),
    ),
    (
        "LangGraph saver.list(limit)",
        lambda w, v: list(w.saver.list(config(EVE_THREAD), limit=v)),
        rule({"None", "0", "2**63", "2**64", "-1", "-(2**63)-1"}),
    ),
    (
        "LangGraph saver.list(filter={'step': n})",
        lambda w, v: list(w.saver.list(None, filter={"step": v})),
        lambda label: ANY,
    ),
    (
        "LangGraph store.put(ttl)",
        lambda w, v: w.store.put((EVE, "notes"), "k3", {"text": "x"}, ttl=v),
        rule({"None", "0", "2**63", "2**64", "inf", "1.5"}),
    ),
    (
        "LangGraph store.aput(ttl)",
        lambda w, v: w.store.aput((EVE, "notes"), "k3", {"text": "x"}, ttl=v),
        rule({"None", "0", "2**63", "2**64", "inf", "1.5"}),
    ),
    (
        "LangGraph AgentMemoryStore(ttl={'default_ttl'})",
        lambda w, v: store_round_trip(
            AgentMemoryStore(w.client, ttl={"default_ttl": v}, clock=frozen_clock)
        ),
        rule({"None", "0", "2**63", "2**64", "inf", "1.5"}),
    ),
    (
        "LangGraph AgentMemoryStore(ttl={'sweep_interval_minutes'})",
        lambda w, v: store_round_trip(
            AgentMemoryStore(w.client, ttl={"sweep_interval_minutes": v}, clock=frozen_clock)
        ),
        rule({"None", "0", "2**63", "2**64", "inf", "1.5"}),
    ),
    (
        "LangGraph store.search(limit)",
        lambda w, v: w.store.search((EVE,), limit=v),
        rule({"0", "2**63", "2**64", "-1", "-(2**63)-1"}),
    ),
    (
        "LangGraph store.search(offset)",
        lambda w, v: w.store.search((EVE,), offset=v),
        rule({"0", "2**63", "2**64"}),
    ),
    (
        "LangGraph store.list_namespaces(max_depth)",
        lambda w, v: w.store.list_namespaces(max_depth=v),
        rule({"None", "0", "2**63", "2**64"}),
    ),
    (
        "LangGraph store.list_namespaces(limit)",
        lambda w, v: w.store.list_namespaces(limit=v),
        rule({"0", "2**63", "2**64"}),
    ),
    (
        "LlamaIndex AgentMemory(max_messages).get",
        lambda w, v: li_memory(w, max_messages=v).get("tea"),
        rule({"2**63", "2**64", "str '10'"}),
    ),
    (
        "LlamaIndex AgentMemory(k).get",
        lambda w, v: li_memory(w, k=v).get("tea"),
        rule({"str '10'"}),
    ),
    (
        "LlamaIndex AgentMemoryChatStore.get_messages_sync(limit)",
        lambda w, v: AgentMemoryChatStore(client=w.client, user_id=EVE).get_messages_sync(
            "s", limit=v
        ),
        rule({"None", "0", "2**63", "2**64"}),
    ),
    (
        "LlamaIndex AgentMemoryChatStore.delete_message_sync(idx)",
        lambda w, v: AgentMemoryChatStore(client=w.client, user_id=EVE).delete_message_sync("s", v),
        rule({"0", "2**63", "2**64", "-1", "-(2**63)-1"}),
    ),
    (
        "LlamaIndex retriever(k).retrieve",
        lambda w, v: LIRetriever(w.client, user_id=EVE, k=v).retrieve("tea"),
        rule({"str '10'"}),
    ),
    (
        "CrewAI storage.search(limit)",
        lambda w, v: _crew_search(w, limit=v),
        rule({"0", "2**63", "2**64", "-1", "-(2**63)-1"}),
    ),
    (
        "CrewAI storage.search(min_score)",
        lambda w, v: _crew_search(w, min_score=v),
        rule({"0", "-1", "2**63", "2**64", "inf", "-inf", "1.5", "-(2**63)-1"}),
    ),
    (
        "CrewAI storage.list_records(limit)",
        lambda w, v: AgentMemoryStorage(w.client, user_id=EVE).list_records(limit=v),
        rule({"0", "2**63", "2**64", "-1", "-(2**63)-1"}),
    ),
]


def _crew_search(w: World, **options: Any) -> Any:
    storage = AgentMemoryStorage(w.client, user_id=EVE)
    return storage.search(storage.embedder(["tea"])[0], **options)


@pytest.mark.parametrize(
    ("position", "call", "expect"), NUMBER_POSITIONS, ids=[row[0] for row in NUMBER_POSITIONS]
)
def test_hostile_numbers_in_adapters(
    make_adapter_world: WorldFactory,
    position: str,
    call: Callable[[World, Any], Any],
    expect: Callable[[str], Expect],
) -> None:
    """``k``, thresholds, limits, offsets, indexes and TTLs of every adapter: bools, NaN,
    infinities, strings and negatives are refused where they make no sense; huge values
    give an empty answer or a typed error, never an ``OverflowError``."""
    fail_on(run_table(make_adapter_world, position, call, HOSTILE_NUMBERS, expect))


# --- shapes and wrong objects -------------------------------------------------------------

SHAPE_CASES: list[tuple[str, Callable[[World], Any], Expect]] = [
    (
        "LangChain history(an int instead of a client)",
        lambda w: AgentMemoryChatMessageHistory(42, user_id=EVE, session_id="s"),
        REJECT,
    ),
    (
        "LangChain history(a str: where the memory lives)",
        lambda w: AgentMemoryChatMessageHistory(w.sibling_path(), user_id=EVE, session_id="s"),
        ANY,
    ),
    ("LangChain history(user_id=None)", lambda w: history(w, user_id=None), REJECT),
    (
        "LangChain history(annotations={'a-b': 'x'})",
        lambda w: history(w, annotations={"a-b": "x"}).add_messages([HumanMessage("hi")]),
        REJECT,
    ),
    (
        "LangChain history.add_messages('hello') (a str)",
        lambda w: history(w).add_messages("hello"),
        REJECT,
    ),
    (
        "LangChain history.add_messages([{'role': 'user'}])",
        lambda w: history(w).add_messages([{"role": "user"}]),
        REJECT,
    ),
    ("LangChain history.add_messages([None])", lambda w: history(w).add_messages([None]), REJECT),
    (
        "LangChain history.add_messages([ok, lone surrogate]) (all or nothing)",
        lambda w: history(w).add_messages([HumanMessage("fine"), HumanMessage("\ud800")]),
        REJECT,
    ),
    (
        "LangChain retriever(an int instead of a client)",
        lambda w: LCRetriever(42, user_id=EVE),
        REJECT,
    ),
    ("LangChain retriever without a user", lambda w: LCRetriever(w.client).invoke("tea"), REJECT),
    (
        "LangChain retriever(annotations={'a-b': 'x'})",
        lambda w: LCRetriever(w.client, user_id=EVE, annotations={"a-b": "x"}).invoke("tea"),
        REJECT,
    ),
    (
        "LangChain retriever(kind='zzz')",
        lambda w: LCRetriever(w.client, user_id=EVE, kind="zzz").invoke("tea"),
        REJECT,
    ),
    (
        "LangChain retriever(scope='session') without session",
        lambda w: LCRetriever(w.client, user_id=EVE, scope="session").invoke("tea"),
        REJECT,
    ),
    (
        "LangChain retriever(scope=5)",
        lambda w: LCRetriever(w.client, user_id=EVE, scope=5).invoke("tea"),
        REJECT,
    ),
    (
        "LangChain create_memory_tools(an int instead of a client)",
        lambda w: create_memory_tools(42, user_id=EVE),
        REJECT,
    ),
    (
        "LangChain create_memory_tools(include=['zzz'])",
        lambda w: create_memory_tools(w.client, user_id=EVE, include=["zzz"]),
        REJECT,
    ),
    (
        "LangChain tools without a user: save_memory",
        lambda w: run_tool(tools(w, user_id=None, session_id=None)["save_memory"], {"fact": "x"}),
        REJECT,
    ),
    (
        "LangChain tools without a session: save_memory",
        lambda w: run_tool(tools(w, session_id=None)["save_memory"], {"fact": "x"}),
        REJECT,
    ),
    (
        "LangChain tools save_memory without arguments",
        lambda w: run_tool(tools(w)["save_memory"], {}),
        REJECT,
    ),
    (
        "LangChain tools save_memory(fact=None)",
        lambda w: run_tool(tools(w)["save_memory"], {"fact": None}),
        REJECT,
    ),
    (
        "LangChain tools forget_memory(bob's block)",
        lambda w: run_tool(tools(w)["forget_memory"], {"memory_id": w.bob_block}),
        REJECT,
    ),
    (
        "LangGraph AgentMemorySaver('not-a-client') (may be a path)",
        lambda w: AgentMemorySaver("not-a-client").close(),
        ANY,
    ),
    ("LangGraph AgentMemorySaver(a directory)", lambda w: AgentMemorySaver(_directory(w)), TYPED),
    (
        "LangGraph AgentMemorySaver(a path under a file)",
        lambda w: AgentMemorySaver(_under_a_file(w)),
        TYPED,
    ),
    ("LangGraph AgentMemorySaver(None)", lambda w: AgentMemorySaver(None), REJECT),
    ("LangGraph AgentMemorySaver(42)", lambda w: AgentMemorySaver(42), REJECT),
    (
        "LangGraph saver.put without thread_id",
        lambda w: w.saver.put(
            {"configurable": {}}, w.saver.get_tuple(config(EVE_THREAD)).checkpoint, {}, {}
        ),
        REJECT,
    ),
    ("LangGraph saver.get_tuple({}) (no configurable)", lambda w: w.saver.get_tuple({}), REJECT),
    (
        "LangGraph saver.list(filter={lone surrogate: 1})",
        lambda w: list(w.saver.list(None, filter={"\ud800": 1})),
        ANY,
    ),
    (
        "LangGraph saver.list(before=surrogate checkpoint id)",
        lambda w: list(
            w.saver.list(config(EVE_THREAD), before={"configurable": {"checkpoint_id": "\ud800"}})
        ),
        ANY,
    ),
    (
        "LangGraph saver.get_tuple(checkpoint_id=lone surrogate)",
        lambda w: w.saver.get_tuple(
            {"configurable": {"thread_id": EVE_THREAD, "checkpoint_id": "\ud800"}}
        ),
        ANY,
    ),
    (
        "LangGraph store.put('plain-string', ...) (a str namespace)",
        lambda w: w.store.put("plain-string", "k", {"text": "x"}),
        REJECT,
    ),
    ("LangGraph store.put((), ...)", lambda w: w.store.put((), "k", {"text": "x"}), REJECT),
    (
        "LangGraph store.put(('langgraph',), ...)",
        lambda w: w.store.put(("langgraph", "x"), "k", {"text": "x"}),
        REJECT,
    ),
    (
        "LangGraph store.put(('a.b',), ...)",
        lambda w: w.store.put(("a.b",), "k", {"text": "x"}),
        REJECT,
    ),
    (
        "LangGraph store.put(('a\\x00',), ...)",
        lambda w: w.store.put(("a\x00",), "k", {"text": "x"}),
        REJECT,
    ),
    ("LangGraph store.put((1,), ...)", lambda w: w.store.put((1,), "k", {"text": "x"}), REJECT),
    ("LangGraph store.put(value='text')", lambda w: w.store.put((EVE,), "k", "text"), REJECT),
    (
        "LangGraph store.put(value={'v': {1}})",
        lambda w: w.store.put((EVE,), "k", {"v": {1}}),
        REJECT,
    ),
    (
        "LangGraph store.put(value={'v': NaN})",
        lambda w: w.store.put((EVE,), "k", {"v": math.nan}),
        ANY,
    ),
    (
        "LangGraph store.put(value nested 5000 deep)",
        lambda w: w.store.put((EVE,), "k", deeply_nested()),
        ANY,
    ),
    (
        "LangGraph store.put(index=['[unclosed'])",
        lambda w: w.store.put((EVE,), "k", {"text": "x"}, index=["[unclosed"]),
        ANY,
    ),
    (
        "LangGraph store.search(filter={'$gt': ...}) (operator at top level)",
        lambda w: w.store.search((EVE,), filter={"$gt": 1}),
        ANY,
    ),
    (
        "LangGraph store.search(filter={'n': {'$zzz': 1}})",
        lambda w: w.store.search((EVE,), filter={"n": {"$zzz": 1}}),
        ANY,
    ),
    (
        "LangGraph store.list_namespaces(prefix=('a.b',))",
        lambda w: w.store.list_namespaces(prefix=("a.b",)),
        ANY,
    ),
    ("LangGraph store.batch(['not an op'])", lambda w: w.store.batch(["not an op"]), REJECT),
    ("LangGraph AgentMemoryStore(a directory)", lambda w: AgentMemoryStore(_directory(w)), TYPED),
    (
        "LangGraph AgentMemoryStore(a path under a file)",
        lambda w: AgentMemoryStore(_under_a_file(w)),
        TYPED,
    ),
    ("LangGraph AgentMemoryStore(42)", lambda w: AgentMemoryStore(42), REJECT),
    ("LangGraph AgentMemoryStore(None)", lambda w: AgentMemoryStore(None), REJECT),
    (
        "LangGraph AgentMemoryStore(ranking='zzz')",
        lambda w: AgentMemoryStore(w.client, ranking="zzz"),
        REJECT,
    ),
    (
        "LangGraph AgentMemoryStore(index={'dims': -1})",
        lambda w: AgentMemoryStore(w.client, index={"dims": -1}),
        REJECT,
    ),
    (
        "LlamaIndex AgentMemory.from_client(an int)",
        lambda w: AgentMemory.from_client(42, user_id=EVE),
        REJECT,
    ),
    (
        "LlamaIndex AgentMemory(path=a directory).get",
        lambda w: AgentMemory(user_id=EVE, path=_directory(w), embedder="hashing").get(),
        TYPED,
    ),
    (
        "LlamaIndex AgentMemory(path under a file).put",
        lambda w: AgentMemory(user_id=EVE, path=_under_a_file(w), embedder="hashing").put(
            LIMessage(role="user", content="x")
        ),
        TYPED,
    ),
    (
        "LlamaIndex AgentMemory(annotations={'a b': 'x'}).put",
        lambda w: li_memory(w, annotations={"a b": "x"}).put(LIMessage(role="user", content="hi")),
        REJECT,
    ),
    ("LlamaIndex AgentMemory(on_reset='zzz')", lambda w: li_memory(w, on_reset="zzz"), REJECT),
    (
        "LlamaIndex AgentMemory.put_messages('text')",
        lambda w: li_memory(w).put_messages("text"),
        REJECT,
    ),
    ("LlamaIndex AgentMemory.set([None])", lambda w: li_memory(w).set([None]), REJECT),
    (
        "LlamaIndex AgentMemoryChatStore.add_messages_sync(key=None)",
        lambda w: AgentMemoryChatStore(client=w.client, user_id=EVE).add_messages_sync(
            None, [LIMessage(role="user", content="x")]
        ),
        REJECT,
    ),
    (
        "LlamaIndex AgentMemoryChatStore.get_messages_sync(status='zzz')",
        lambda w: AgentMemoryChatStore(client=w.client, user_id=EVE).get_messages_sync(
            "s", status="zzz"
        ),
        REJECT,
    ),
    (
        "LlamaIndex retriever(an int instead of a client)",
        lambda w: LIRetriever(42, user_id=EVE),
        REJECT,
    ),
    (
        "LlamaIndex retriever(scope='session') without session",
        lambda w: LIRetriever(w.client, user_id=EVE, scope="session"),
        REJECT,
    ),
    (
        "LlamaIndex retriever(filters={'zzz': 1})",
        lambda w: LIRetriever(w.client, user_id=EVE, filters={"zzz": 1}).retrieve("tea"),
        REJECT,
    ),
    (
        "LlamaIndex retriever(filters={'session_ids': [lone surrogate]})",
        lambda w: LIRetriever(w.client, user_id=EVE, filters={"session_ids": ["\ud800"]}).retrieve(
            "tea"
        ),
        REJECT,
    ),
    ("CrewAI AgentMemoryStorage(42)", lambda w: AgentMemoryStorage(42), REJECT),
    (
        "CrewAI AgentMemoryStorage(a directory)",
        lambda w: AgentMemoryStorage(_directory(w)).count(),
        TYPED,
    ),
    (
        "CrewAI AgentMemoryStorage(a path under a file)",
        lambda w: AgentMemoryStorage(_under_a_file(w)),
        TYPED,
    ),
    (
        "CrewAI AgentMemoryStorage(a lone-surrogate path)",
        lambda w: AgentMemoryStorage("bad-\ud800.sqlite3"),
        TYPED,
    ),
    (
        "CrewAI AgentMemoryStorage(score_scale='zzz')",
        lambda w: AgentMemoryStorage(w.client, score_scale="zzz"),
        REJECT,
    ),
    (
        "CrewAI storage.save('not a list')",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).save("not a list"),
        REJECT,
    ),
    (
        "CrewAI storage.save([{'content': 'x'}]) (a dict)",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).save([{"content": "x"}]),
        REJECT,
    ),
    (
        "CrewAI storage.save([None])",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).save([None]),
        REJECT,
    ),
    (
        "CrewAI storage.save([ok, lone surrogate]) (all or nothing)",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).save(
            [MemoryRecord(content="fine"), MemoryRecord(content="\ud800")]
        ),
        REJECT,
    ),
    (
        "CrewAI storage.save(scope 60 levels deep)",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).save(
            [MemoryRecord(content="x", scope="/a" * 60)]
        ),
        REJECT,
    ),
    (
        "CrewAI storage.save(metadata={'k': NaN})",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).save(
            [MemoryRecord(content="x", metadata={"k": math.nan})]
        ),
        REJECT,
    ),
    (
        "CrewAI storage.search([NaN] * 384)",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).search([math.nan] * 384),
        TYPED,
    ),
    (
        "CrewAI storage.search('text' as the vector)",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).search("text"),
        TYPED,
    ),
    (
        "CrewAI storage.delete(older_than='yesterday')",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).delete(older_than="yesterday"),
        REJECT,
    ),
    (
        "CrewAI storage.delete(older_than=datetime.min)",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).delete(older_than=datetime.min),
        ANY,
    ),
    (
        "CrewAI storage.delete(older_than=datetime.max)",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).delete(older_than=datetime.max),
        ANY,
    ),
    (
        "CrewAI storage.delete(record_ids='abc') (a str)",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).delete(record_ids="abc"),
        REJECT,
    ),
    (
        "CrewAI storage.get_scope_info(lone surrogate)",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).get_scope_info("/\ud800"),
        ANY,
    ),
    (
        "CrewAI storage.touch_records([lone surrogate])",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).touch_records(["\ud800"]),
        ANY,
    ),
]


@pytest.mark.parametrize(
    ("name", "call", "expect"), SHAPE_CASES, ids=[row[0] for row in SHAPE_CASES]
)
def test_wrong_shapes_in_adapters(
    make_adapter_world: WorldFactory, name: str, call: Callable[[World], Any], expect: Expect
) -> None:
    """Wrong objects where a client, a namespace, a message list or a record is expected;
    impossible paths; a batch with one bad item writes nothing at all."""
    world = make_adapter_world()
    world.attempt(name, lambda: call(world), expect)
    fail_on(world.finish())


# --- adapters on a closed client -------------------------------------------------------------

CLOSED_ADAPTER_CALLS: list[tuple[str, Callable[[World], Any], Expect]] = [
    ("LangChain history.messages", lambda w: history(w).messages, TYPED),
    (
        "LangChain history.add_messages",
        lambda w: history(w).add_messages([HumanMessage("x")]),
        TYPED,
    ),
    (
        "LangChain retriever.invoke",
        lambda w: LCRetriever(w.client, user_id=EVE).invoke("tea"),
        TYPED,
    ),
    (
        "LangChain tools save_memory",
        lambda w: run_tool(tools(w)["save_memory"], {"fact": "x"}),
        TYPED,
    ),
    ("LangGraph saver.get_tuple", lambda w: w.saver.get_tuple(config(EVE_THREAD)), TYPED),
    ("LangGraph saver.put", lambda w: put_checkpoint(w.saver, EVE_THREAD, {"x": 1}), TYPED),
    ("LangGraph saver.list", lambda w: list(w.saver.list(None)), TYPED),
    ("LangGraph saver.delete_thread", lambda w: w.saver.delete_thread(EVE_THREAD), TYPED),
    ("LangGraph new AgentMemorySaver(closed client)", lambda w: AgentMemorySaver(w.client), TYPED),
    ("LangGraph store.get", lambda w: w.store.get((EVE, "notes"), "k1"), TYPED),
    ("LangGraph store.put", lambda w: w.store.put((EVE, "notes"), "k9", {"x": 1}), TYPED),
    ("LangGraph store.search", lambda w: w.store.search((EVE,)), TYPED),
    ("LangGraph store.list_namespaces", lambda w: w.store.list_namespaces(), TYPED),
    ("LangGraph new AgentMemoryStore(closed client)", lambda w: AgentMemoryStore(w.client), TYPED),
    ("LlamaIndex AgentMemory.get (reopens by path)", lambda w: li_memory(w).get("tea"), ANY),
    (
        "LlamaIndex retriever.retrieve (reopens by path)",
        lambda w: LIRetriever(w.client, user_id=EVE).retrieve("tea"),
        ANY,
    ),
    (
        "CrewAI storage.save",
        lambda w: AgentMemoryStorage(w.client, user_id=EVE).save([MemoryRecord(content="x")]),
        TYPED,
    ),
    ("CrewAI storage.count", lambda w: AgentMemoryStorage(w.client, user_id=EVE).count(), TYPED),
]


def test_adapters_on_a_closed_client_raise_typed_errors(make_adapter_world: WorldFactory) -> None:
    """Every adapter method used after ``client.close()`` raises an ``AgentMemoryError``
    (the LlamaIndex adapters, which reopen their store by path, may work instead)."""
    problems: list[str] = []
    for name, call, expect in CLOSED_ADAPTER_CALLS:
        world = make_adapter_world()
        # Build the adapters first where a call needs existing objects, then close.
        world.client.close()
        try:
            result = call(world)
            if asyncio.iscoroutine(result):
                result = asyncio.run(result)
        except AgentMemoryError:
            continue
        except Exception as exc:
            problems.append(f"{name} after client.close(): NON-TYPED {describe(exc)}")
        else:
            if expect == TYPED:
                problems.append(f"{name} after client.close(): ACCEPTED, returned {result!r:.80}")
    fail_on(problems)


# --- the property ---------------------------------------------------------------------------

IDS = st.one_of(
    st.sampled_from([EVE, "s", "s2", EVE_THREAD]),
    st.sampled_from([v for _, v in HOSTILE_IDS]),
    st.text(max_size=8),
)
TEXTS = st.one_of(
    st.sampled_from(["green tea", "note", "Lyon"]),
    st.sampled_from([v for label, v in STRING_TEXTS if label != "over 1M characters"]),
    st.text(max_size=12),
)
NUMBERS = st.one_of(st.integers(-3, 50), st.sampled_from([v for _, v in HOSTILE_NUMBERS]))
NAMESPACES = st.one_of(
    st.tuples(st.just(EVE), IDS),
    st.lists(TEXTS, min_size=0, max_size=3).map(tuple),
    st.sampled_from(["plain-string", ("langgraph",), (EVE, "a.b"), (1,)]),
)


def _adapter_ops(w: World, draw: st.DrawFn) -> tuple[str, Callable[[], Any]]:
    """One random adapter call with hostile arguments: (label, call)."""
    op = draw(
        st.sampled_from(
            [
                "history.add",
                "history.read",
                "lc.retriever",
                "lc.tool",
                "saver.put",
                "saver.read",
                "store.put",
                "store.read",
                "li.memory",
                "li.chat_store",
                "li.retriever",
                "crew.save",
                "crew.read",
            ]
        )
    )
    a, b, t, n = draw(IDS), draw(IDS), draw(TEXTS), draw(NUMBERS)
    ns = draw(NAMESPACES)
    calls: dict[str, tuple[str, Callable[[], Any]]] = {
        "history.add": (
            f"history({a!a:.30}, {b!a:.30}).add_messages([HumanMessage({t!a:.40})])",
            lambda: history(w, a, b).add_messages([HumanMessage(t)]),
        ),
        "history.read": (
            f"history({a!a:.30}, {b!a:.30}).messages",
            lambda: history(w, a, b).messages,
        ),
        "lc.retriever": (
            f"LC retriever(user_id={a!a:.30}, k={n!a}).invoke({t!a:.40})",
            lambda: LCRetriever(w.client, user_id=a, k=n).invoke(t),
        ),
        "lc.tool": (
            f"tools(user_id={a!a:.30}, session_id={b!a:.30}) save_memory({t!a:.40})",
            lambda: run_tool(tools(w, user_id=a, session_id=b)["save_memory"], {"fact": t}),
        ),
        "saver.put": (
            f"saver.put(thread_id={a!a:.30}, ns={b!a:.30}, metadata note={t!a:.40})",
            lambda: put_checkpoint(w.saver, a, {"messages": [t]}, ns=b),
        ),
        "saver.read": (
            f"saver reads(thread_id={a!a:.30}, limit={n!a})",
            lambda: (w.saver.get_tuple(config(a)), list(w.saver.list(config(a), limit=n))),
        ),
        "store.put": (
            f"store.put({ns!a:.60}, {a!a:.30}, {{'text': {t!a:.40}}}, ttl={n!a})",
            lambda: w.store.put(ns, a, {"text": t}, ttl=n),
        ),
        "store.read": (
            f"store reads({ns!a:.60}, key={a!a:.30}, query={t!a:.40}, limit={n!a})",
            lambda: (
                w.store.get(ns, a),
                w.store.search(ns, query=t, limit=n),
                w.store.list_namespaces(prefix=ns, limit=n),
            ),
        ),
        "li.memory": (
            f"AgentMemory({a!a:.30}, {b!a:.30}).put({t!a:.40}) then get",
            lambda: (
                li_memory(w, a, b).put(LIMessage(role="user", content=t)),
                li_memory(w, a, b).get(t),
            ),
        ),
        "li.chat_store": (
            f"AgentMemoryChatStore({a!a:.30}).add_messages_sync({b!a:.30}, [{t!a:.40}])",
            lambda: AgentMemoryChatStore(client=w.client, user_id=a).add_messages_sync(
                b, [LIMessage(role="user", content=t)]
            ),
        ),
        "li.retriever": (
            f"LI retriever(user_id={a!a:.30}, k={n!a}).retrieve({t!a:.40})",
            lambda: LIRetriever(w.client, user_id=a, k=n).retrieve(t),
        ),
        "crew.save": (
            f"AgentMemoryStorage({a!a:.30}, {b!a:.30}).save([content={t!a:.40}])",
            lambda: AgentMemoryStorage(w.client, user_id=a, session_id=b).save(
                [MemoryRecord(content=t)]
            ),
        ),
        "crew.read": (
            f"AgentMemoryStorage({a!a:.30}) reads(scope={t!a:.40}, limit={n!a})",
            lambda: (
                AgentMemoryStorage(w.client, user_id=a).list_records(scope_prefix=t, limit=n),
                AgentMemoryStorage(w.client, user_id=a).count(t),
            ),
        ),
    }
    return calls[op]


def test_hostile_adapter_calls_property(make_adapter_world: WorldFactory) -> None:
    """Random sequences of hostile adapter calls, each checked for (a)-(d) (SQLite)."""

    @settings(
        max_examples=40,
        deadline=None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        world = make_adapter_world()
        try:
            for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
                label, call = _adapter_ops(world, data.draw)
                world.attempt(label, call, ANY)
            problems = world.finish()
        finally:
            world.close()
        fail_on(problems)

    run()
