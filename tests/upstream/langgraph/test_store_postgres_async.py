"""Port of langgraph ``libs/checkpoint-postgres/tests/test_async_store.py``
(``AsyncPostgresStore``) to ``AgentMemoryStore``'s async methods, on SQLite and PostgreSQL.
See tests/upstream/README.md. Bodies the SQLite async suite shares are imported from its port;
the ``vector`` / ``halfvec`` axis (pgvector storage types) does not exist here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from memory_integrations.langgraph import AgentMemoryStore
from tests.conftest import Clock

from .conftest import CharacterEmbeddings, StoreFactory
from .test_store_postgres import TTL_MINUTES, TTL_SECONDS, _expire_now, _stored_expires_at
from .test_store_sqlite_async import (  # same bodies upstream
    NOT_BATCHED,
    run_large_batches,
    test_abatch_order,
    test_batch_get_ops,
    test_batch_list_namespaces_ops,
    test_batch_put_ops,
    test_batch_search_ops,
)

__all__ = [
    "test_abatch_order",
    "test_batch_get_ops",
    "test_batch_list_namespaces_ops",
    "test_batch_put_ops",
    "test_batch_search_ops",
]


@pytest.fixture
def store(make_store: StoreFactory) -> Iterator[AgentMemoryStore]:
    instance = make_store(
        ttl={
            "default_ttl": TTL_MINUTES,
            "refresh_on_read": True,
            "sweep_interval_minutes": TTL_MINUTES / 2,
        }
    )
    yield instance
    instance.stop_ttl_sweeper()


@pytest.mark.skip(reason=NOT_BATCHED)
def test_no_running_loop() -> None:
    """Upstream: sync methods raise asyncio.InvalidStateError inside the loop (the rest of the
    test, sync calls from a worker thread, is ported below)."""


async def test_sync_calls_from_a_thread(store: AgentMemoryStore) -> None:
    """The second half of upstream's test_no_running_loop."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        put = executor.submit(store.put, ("foo", "bar"), "baz", {"val": "baz"})
        assert await asyncio.wrap_future(put) is None
        item = await asyncio.wrap_future(executor.submit(store.get, ("foo", "bar"), "baz"))
        assert item is not None and item.value == {"val": "baz"}
        await asyncio.wrap_future(executor.submit(store.list_namespaces, prefix=("foo",)))


async def test_large_batches(store: AgentMemoryStore) -> None:
    """Sync calls from ten threads at once: N=100, M=10, as upstream."""
    n, m = 100, 10
    with ThreadPoolExecutor(max_workers=10) as executor:
        futures = []
        for j in range(m):
            ns = ("test", "foo", "bar", "baz", str(j % 2))
            for i in range(n):
                futures += [
                    executor.submit(store.put, ns, f"key{i}", value={"foo": f"bar{i}"}),
                    executor.submit(store.get, ns, f"key{i}"),
                    executor.submit(store.list_namespaces, prefix=None, max_depth=j + 1),
                    executor.submit(store.search, ("test",)),
                    executor.submit(store.put, ns, f"key{i}", value={"foo": f"bar{i}"}),
                    executor.submit(store.put, ns, f"key{i}", None),
                ]
        results = await asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
    assert len(results) == m * n * 6


async def test_large_batches_async(store: AgentMemoryStore) -> None:
    """Upstream: N=1000, M=10 (60,000 concurrent calls); here N=50 (3,000) to keep the run
    short: each call is a transaction on a real database. The interleaving is the same."""
    await run_large_batches(store, n=50, m=10)


@pytest.mark.skip(reason="checks that AsyncPostgresStore takes one connection from its pool")
def test_abatch_uses_single_pool_checkout() -> None:
    """Upstream: connection-pool usage of AsyncPostgresStore."""


@pytest.fixture(
    params=[(d, True) for d in ("l2", "inner_product", "cosine")] + [("cosine", False)],
    ids=lambda p: f"{p[0]}{'' if p[1] else '-no-ttl'}",
)
def vector_store(request: pytest.FixtureRequest, make_vector_store: Any) -> AgentMemoryStore:
    distance, with_ttl = request.param
    ttl = {"default_ttl": 2, "refresh_on_read": True} if with_ttl else None
    store: AgentMemoryStore = make_vector_store(distance_type=distance, ttl=ttl)
    store.setup()
    return store


async def test_vector_store_initialization(
    vector_store: AgentMemoryStore, fake_embeddings: CharacterEmbeddings
) -> None:
    assert vector_store.index_config is not None
    assert vector_store.index_config["dims"] == fake_embeddings.dims
    assert vector_store.index_config["embed"] == fake_embeddings


async def test_vector_insert_with_auto_embedding(vector_store: AgentMemoryStore) -> None:
    for key, value in [
        ("doc1", {"text": "short text"}),
        ("doc2", {"text": "longer text document"}),
        ("doc3", {"text": "longest text document here"}),
        ("doc4", {"description": "text in description field"}),
        ("doc5", {"content": "text in content field"}),
        ("doc6", {"body": "text in body field"}),
    ]:
        await vector_store.aput(("test",), key, value)
    keys = [r.key for r in await vector_store.asearch(("test",), query="long text")]
    assert "doc2" in keys and "doc3" in keys


async def test_vector_update_with_embedding(vector_store: AgentMemoryStore) -> None:
    store = vector_store
    await store.aput(("test",), "doc1", {"text": "zany zebra Xerxes"})
    await store.aput(("test",), "doc2", {"text": "something about dogs"})
    await store.aput(("test",), "doc3", {"text": "text about birds"})
    initial = await store.asearch(("test",), query="Zany Xerxes")
    assert initial[0].key == "doc1"
    await store.aput(("test",), "doc1", {"text": "new text about dogs"})
    found = await store.asearch(("test",), query="Zany Xerxes")
    after = next((r.score for r in found if r.key == "doc1"), 0.0)
    assert after < initial[0].score  # type: ignore[operator]
    for r in await store.asearch(("test",), query="new text about dogs"):
        if r.key == "doc1":
            assert r.score > after  # type: ignore[operator]
    await store.aput(("test",), "doc4", {"text": "new text about dogs"}, index=False)
    found = await store.asearch(("test",), query="new text about dogs", limit=3)
    assert not any(r.key == "doc4" for r in found)


async def test_vector_search_with_filters(vector_store: AgentMemoryStore) -> None:
    store = vector_store
    for key, value in [
        ("doc1", {"text": "red apple", "color": "red", "score": 4.5}),
        ("doc2", {"text": "red car", "color": "red", "score": 3.0}),
        ("doc3", {"text": "green apple", "color": "green", "score": 4.0}),
        ("doc4", {"text": "blue car", "color": "blue", "score": 3.5}),
    ]:
        await store.aput(("test",), key, value)
    found = await store.asearch(("test",), query="apple", filter={"color": "red"})
    assert len(found) == 2 and found[0].key == "doc1"
    found = await store.asearch(("test",), query="car", filter={"color": "red"})
    assert len(found) == 2 and found[0].key == "doc2"
    found = await store.asearch(("test",), query="bbbbluuu", filter={"score": {"$gt": 3.2}})
    assert len(found) == 3 and found[0].key == "doc4"
    found = await store.asearch(
        ("test",), query="apple", filter={"score": {"$gte": 4.0}, "color": "green"}
    )
    assert [r.key for r in found] == ["doc3"]


async def test_vector_search_pagination(vector_store: AgentMemoryStore) -> None:
    for i in range(5):
        await vector_store.aput(("test",), f"doc{i}", {"text": f"test document number {i}"})
    page1 = await vector_store.asearch(("test",), query="test", limit=2)
    page2 = await vector_store.asearch(("test",), query="test", limit=2, offset=2)
    assert len(page1) == 2 and len(page2) == 2 and page1[0].key != page2[0].key
    assert len(await vector_store.asearch(("test",), query="test", limit=10)) == 5


async def test_vector_search_edge_cases(vector_store: AgentMemoryStore) -> None:
    await vector_store.aput(("test",), "doc1", {"text": "test document"})
    perfect = (await vector_store.asearch(("test",), query="text test document"))[0].score
    assert perfect is not None
    for query in ["", None]:
        found = await vector_store.asearch(("test",), query=query)
        assert len(found) == 1 and found[0].score is None
    for query in ["foo " * 100, "test!@#$%^&*()"]:
        found = await vector_store.asearch(("test",), query=query)
        assert len(found) == 1 and found[0].score < perfect  # type: ignore[operator]


@pytest.mark.parametrize("distance_type", ["cosine", "inner_product", "l2"])
async def test_embed_with_path(make_vector_store: Any, distance_type: str) -> None:
    store = make_vector_store(text_fields=["key0", "key1", "key3"], distance_type=distance_type)
    await store.aput(("test",), "doc1", {"key1": "xxx", "key2": "yyy", "key3": "zzz"})
    doc2 = {"key0": "uuu", "key1": "vvv", "key2": "www", "key3": "xxx"}
    await store.aput(("test",), "doc2", doc2)
    found = await store.asearch(("test",), query="xxx")
    assert len(found) == 2 and found[0].key != found[1].key
    top = found[0].score
    assert top == pytest.approx(found[1].score, abs=1e-3)
    found = await store.asearch(("test",), query="uuu")
    assert len(found) == 2 and found[0].key == "doc2"
    assert found[0].score > found[1].score  # type: ignore[operator]
    assert top == pytest.approx(found[0].score, abs=1e-3)
    found = await store.asearch(("test",), query="www")
    assert len(found) == 2 and all(r.score < top for r in found)  # type: ignore[operator]


@pytest.mark.parametrize("distance_type", ["cosine", "inner_product", "l2"])
async def test_search_sorting(make_vector_store: Any, distance_type: str) -> None:
    store = make_vector_store(text_fields=["key1"], distance_type=distance_type)
    await store.aput(("test", "M"), "M", {"key1": "mmm"})
    for i in range(100):
        await store.aput(("test", "A"), f"A{i}", {"key1": "no"})
    for i in range(100):
        await store.aput(("test", "Z"), f"Z{i}", {"key1": "no"})
    found = await store.asearch(("test",), query="mmm", limit=10)
    assert len(found) == 10 and len({r.key for r in found}) == 10
    assert found[0].key == "M" and found[0].score > found[1].score  # type: ignore[operator]


async def test_store_ttl(store: AgentMemoryStore, clock: Clock) -> None:
    ns = ("foo",)
    store.stop_ttl_sweeper()  # sweeps are run where upstream's thread would have run them
    await store.aput(ns, key="item1", value={"foo": "bar"}, ttl=TTL_MINUTES)
    clock.advance(TTL_SECONDS - 2)
    assert await store.aget(ns, key="item1", refresh_ttl=True) is not None
    clock.advance(TTL_SECONDS - 2)
    store.sweep_ttl()
    assert len(await store.asearch(ns, query="foo", refresh_ttl=True)) == 1
    clock.advance(TTL_SECONDS - 2)
    store.sweep_ttl()
    assert await store.aget(ns, key="item1", refresh_ttl=False) is not None
    clock.advance(TTL_SECONDS - 1)
    store.sweep_ttl()
    assert await store.asearch(ns, query="bar", refresh_ttl=False) == []


async def test_omit_expired_filters_read_paths(store: AgentMemoryStore) -> None:
    store.stop_ttl_sweeper()
    assert store.ttl_config is not None
    store.ttl_config["omit_expired"] = True
    expired_ns, control_ns = ("omit", "expired"), ("omit", "control")
    await store.aput(expired_ns, "e", {"data": "gone"}, ttl=TTL_MINUTES)
    await store.aput(control_ns, "c", {"data": "keep"}, ttl=None)
    _expire_now(store, expired_ns, "e")
    assert await store.aget(expired_ns, "e") is None
    assert await store.aget(control_ns, "c") is not None
    assert await store.asearch(expired_ns) == []
    assert [i.key for i in await store.asearch(control_ns)] == ["c"]
    namespaces = await store.alist_namespaces(prefix=("omit",))
    assert expired_ns not in namespaces and control_ns in namespaces


@pytest.mark.parametrize("omit", [None, False], ids=["default", "explicit-false"])
async def test_omit_expired_disabled_preserves_expired_rows(
    store: AgentMemoryStore, omit: bool | None
) -> None:
    store.stop_ttl_sweeper()
    if omit is not None:
        assert store.ttl_config is not None
        store.ttl_config["omit_expired"] = omit
    ns = ("keep",)
    await store.aput(ns, "k", {"data": "still-here"}, ttl=TTL_MINUTES)
    _expire_now(store, ns, "k")
    assert await store.aget(ns, "k", refresh_ttl=False) is not None
    assert [i.key for i in await store.asearch(ns, refresh_ttl=False)] == ["k"]
    assert ns in await store.alist_namespaces(prefix=("keep",))


async def test_omit_expired_refresh_ttl_only_refreshes_live_rows(
    store: AgentMemoryStore, clock: Clock
) -> None:
    store.stop_ttl_sweeper()
    assert store.ttl_config is not None
    store.ttl_config["omit_expired"] = True
    ns = ("refresh",)
    for key, n in [("expired", 0), ("live_get", 1), ("live_search", 2)]:
        await store.aput(ns, key, {"n": n}, ttl=TTL_MINUTES)
    _expire_now(store, ns, "expired")
    before = {k: _stored_expires_at(store, ns, k) for k in ("expired", "live_get", "live_search")}
    clock.advance(1)
    assert await store.aget(ns, "expired", refresh_ttl=True) is None
    assert "expired" not in [i.key for i in await store.asearch(ns, refresh_ttl=True)]
    assert _stored_expires_at(store, ns, "expired") == before["expired"]
    assert await store.aget(ns, "live_get", refresh_ttl=True) is not None
    assert _stored_expires_at(store, ns, "live_get") > before["live_get"]
    assert _stored_expires_at(store, ns, "live_search") > before["live_search"]


async def test_omit_expired_search_pagination(store: AgentMemoryStore, clock: Clock) -> None:
    store.stop_ttl_sweeper()
    assert store.ttl_config is not None
    store.ttl_config["omit_expired"] = True
    ns = ("page",)
    for key in ["c", "b", "expired", "a"]:  # oldest first: newest-first order a, expired, b, c
        await store.aput(ns, key, {"k": key if key != "expired" else "x"}, ttl=TTL_MINUTES)
        clock.advance(1)
    _expire_now(store, ns, "expired")
    assert [i.key for i in await store.asearch(ns, limit=2, offset=0)] == ["a", "b"]
    assert [i.key for i in await store.asearch(ns, limit=2, offset=2)] == ["c"]
