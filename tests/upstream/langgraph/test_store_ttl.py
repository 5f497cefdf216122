"""Port of langgraph ``libs/checkpoint-sqlite/tests/test_ttl.py`` (``SqliteStore`` and
``AsyncSqliteStore`` TTL) to ``AgentMemoryStore``. See tests/upstream/README.md.

Upstream sleeps through real seconds; these tests move the store's clock instead (the same
timeline, in the comments), so none of them is flaky or slow. The sweeper tests still let
the background thread run in real time, on a short interval.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from langgraph.store.base import TTLConfig

from tests.conftest import Clock

from .conftest import StoreFactory


def test_ttl_basic(make_store: StoreFactory, clock: Clock) -> None:
    store = make_store(ttl={"default_ttl": 1 / 60})  # 1 s
    store.put(("test",), "item1", {"value": "test"})
    item = store.get(("test",), "item1")
    assert item is not None and item.value["value"] == "test"
    clock.advance(2)  # ttl + 1 s
    store.sweep_ttl()
    assert store.get(("test",), "item1") is None


def test_ttl_refresh(make_store: StoreFactory, clock: Clock) -> None:
    store = make_store(ttl={"default_ttl": 1 / 60, "refresh_on_read": True})
    store.put(("test",), "item1", {"value": "test"})
    clock.advance(0.5)
    assert store.sweep_ttl() == 0
    assert store.get(("test",), "item1", refresh_ttl=True) is not None  # expires at 1.5 s
    clock.advance(0.5)
    assert store.sweep_ttl() == 0
    item = store.get(("test",), "item1")  # refreshes again: 2 s
    assert item is not None and item.value["value"] == "test"
    clock.advance(1.75)
    assert store.sweep_ttl() == 1
    assert store.get(("test",), "item1") is None


def test_ttl_sweeper(make_store: StoreFactory, clock: Clock) -> None:
    ttl: TTLConfig = {"default_ttl": 2 / 60, "sweep_interval_minutes": 0.2 / 60}
    store = make_store(ttl=ttl)  # the configured interval starts the sweeper
    store.start_ttl_sweeper()  # upstream starts it explicitly too: no second thread
    store.put(("test",), "item1", {"value": "test"})
    assert store.get(("test",), "item1") is not None
    clock.advance(3.5)  # past the TTL; the sweeper (every 0.2 s of real time) deletes it
    deadline = time.monotonic() + 5
    while (
        time.monotonic() < deadline and store.get(("test",), "item1", refresh_ttl=False) is not None
    ):
        time.sleep(0.05)
    assert store.get(("test",), "item1") is None
    assert store.stop_ttl_sweeper(timeout=5)


def test_ttl_custom_value(make_store: StoreFactory, clock: Clock) -> None:
    store = make_store()
    store.put(("test",), "item1", {"value": "short"}, ttl=1 / 60)
    store.put(("test",), "item2", {"value": "long"}, ttl=3 / 60)
    clock.advance(2)
    store.sweep_ttl()
    assert store.get(("test",), "item1") is None
    assert store.get(("test",), "item2") is not None  # refreshed: now expires at 5 s
    clock.advance(4)
    store.sweep_ttl()
    assert store.get(("test",), "item2") is None


def test_ttl_override_default(make_store: StoreFactory, clock: Clock) -> None:
    store = make_store(ttl={"default_ttl": 5 / 60})
    store.put(("test",), "item1", {"value": "override"}, ttl=1 / 60)
    store.put(("test",), "item2", {"value": "default"})
    store.put(("test",), "item3", {"value": "permanent"}, ttl=None)
    clock.advance(2)
    store.sweep_ttl()
    assert store.get(("test",), "item1") is None
    # This get refreshes item2's TTL (TTLConfig's refresh_on_read defaults to True, as in
    # PostgresStore); SqliteStore refreshes only when refresh_on_read is set explicitly, so
    # upstream's item2 still expires at 5 s and it checks at 6 s. Here it expires at 7 s.
    assert store.get(("test",), "item2") is not None
    assert store.get(("test",), "item3") is not None
    clock.advance(6)
    store.sweep_ttl()
    assert store.get(("test",), "item2") is None
    assert store.get(("test",), "item3") is not None


def test_search_with_ttl(make_store: StoreFactory, clock: Clock) -> None:
    store = make_store(ttl={"default_ttl": 1 / 60})
    store.put(("test",), "item1", {"value": "apple"})
    store.put(("test",), "item2", {"value": "banana"})
    assert [i.key for i in store.search(("test",), filter={"value": "apple"})] == ["item1"]
    clock.advance(2)
    store.sweep_ttl()
    assert store.search(("test",), filter={"value": "apple"}) == []


async def test_async_ttl_basic(make_store: StoreFactory, clock: Clock) -> None:
    store = make_store(ttl={"default_ttl": 1 / 60})
    await store.aput(("test",), "item1", {"value": "test"})
    item = await store.aget(("test",), "item1")
    assert item is not None and item.value["value"] == "test"
    clock.advance(2)
    store.sweep_ttl()  # upstream: await store.sweep_ttl() on AsyncSqliteStore
    assert await store.aget(("test",), "item1") is None


async def test_async_ttl_refresh(make_store: StoreFactory, clock: Clock) -> None:
    store = make_store(ttl={"default_ttl": 1 / 60, "refresh_on_read": True})
    await store.aput(("test",), "item1", {"value": "test"})
    clock.advance(0.5)
    assert await store.aget(("test",), "item1", refresh_ttl=True) is not None
    clock.advance(0.5)
    item = await store.aget(("test",), "item1")
    assert item is not None and item.value["value"] == "test"
    clock.advance(2)
    store.sweep_ttl()
    assert await store.aget(("test",), "item1") is None


async def test_async_ttl_sweeper(make_store: StoreFactory, clock: Clock) -> None:
    ttl: TTLConfig = {"default_ttl": 2 / 60, "sweep_interval_minutes": 0.2 / 60}
    store = make_store(ttl=ttl)
    future = store.start_ttl_sweeper()
    await store.aput(("test",), "item1", {"value": "test"})
    assert await store.aget(("test",), "item1") is not None
    clock.advance(3.5)
    deadline = time.monotonic() + 5
    while (
        time.monotonic() < deadline
        and await store.aget(("test",), "item1", refresh_ttl=False) is not None
    ):
        await asyncio.sleep(0.05)
    assert await store.aget(("test",), "item1") is None
    assert store.stop_ttl_sweeper(timeout=5)
    assert future.done()


async def test_async_search_with_ttl(make_store: StoreFactory, clock: Clock) -> None:
    store = make_store(ttl={"default_ttl": 1 / 60})
    await store.aput(("test",), "item1", {"value": "apple"})
    await store.aput(("test",), "item2", {"value": "banana"})
    found = await store.asearch(("test",), filter={"value": "apple"})
    assert [i.key for i in found] == ["item1"]
    clock.advance(2)
    store.sweep_ttl()
    assert await store.asearch(("test",), filter={"value": "apple"}) == []


async def test_async_asearch_refresh_ttl(make_store: StoreFactory, clock: Clock) -> None:
    store = make_store(ttl={"default_ttl": 4 / 60, "refresh_on_read": True})
    namespace = ("docs", "user1")
    await store.aput(namespace, "item1", {"text": "content1", "id": 1})  # expires at 4 s
    await store.aput(namespace, "item2", {"text": "content2", "id": 2})
    clock.advance(3)
    found = await store.asearch(namespace, filter={"id": 1}, refresh_ttl=True)
    assert [i.key for i in found] == ["item1"]  # item1 now expires at 7 s
    clock.advance(2)  # 5 s
    store.sweep_ttl()
    item1: Any = await store.aget(namespace, "item1", refresh_ttl=False)
    assert item1 is not None and item1.value["text"] == "content1"
    assert await store.aget(namespace, "item2", refresh_ttl=False) is None
    clock.advance(2.5)  # 7.5 s
    store.sweep_ttl()
    assert await store.aget(namespace, "item1", refresh_ttl=False) is None
