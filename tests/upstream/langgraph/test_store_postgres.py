"""Port of langgraph ``libs/checkpoint-postgres/tests/test_store.py`` (``PostgresStore``) to
``AgentMemoryStore``, on SQLite and PostgreSQL. See tests/upstream/README.md.

Upstream's ``store`` fixture has a TTL config (6 s default TTL, refresh on read, a sweeper every
3 s) and runs three connection modes (plain, pipeline, pool); ours has the same TTL config on a
controllable clock and one connection mode. The vector fixtures run each ``distance_type``;
upstream's ``vector`` / ``halfvec`` axis (pgvector storage types) does not exist here.
Tests whose body is the same as in the SQLite suite are shared from ``test_store_sqlite``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest

from memory_integrations.langgraph import AgentMemoryStore
from tests.conftest import Clock

from . import test_store_sqlite as sqlite_suite
from .conftest import CharacterEmbeddings, StoreFactory
from .test_store_sqlite import (  # same bodies upstream
    test_batch_get_ops,
    test_batch_list_namespaces_ops,
    test_batch_order,
    test_batch_put_ops,
    test_batch_search_ops,
    test_list_namespaces_segment_boundary,
    test_namespace_labels_with_trailing_newline,
    test_nonnull_migrations,
    test_search_empty_prefix_is_unconstrained,
)

__all__ = [
    "test_batch_get_ops",
    "test_batch_list_namespaces_ops",
    "test_batch_order",
    "test_batch_put_ops",
    "test_batch_search_ops",
    "test_list_namespaces_segment_boundary",
    "test_namespace_labels_with_trailing_newline",
    "test_nonnull_migrations",
    "test_search_empty_prefix_is_unconstrained",
]

TTL_SECONDS = 6
TTL_MINUTES = TTL_SECONDS / 60


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


def test_basic_store_ops(store: AgentMemoryStore, clock: Clock) -> None:
    sqlite_suite.TestSqliteStore().test_basic_store_ops(
        store, clock
    )  # asserts updated_at grows too


def test_list_namespaces(store: AgentMemoryStore) -> None:
    sqlite_suite.TestSqliteStore().test_list_namespaces(store)


@pytest.mark.skip(reason="tests PostgresStore's private LIKE escaping helper")
def test_escape_like_literal() -> None:
    """Upstream: _escape_like_literal."""


@pytest.mark.skip(reason="tests PostgresStore's private namespace regex builder")
def test_namespace_match_pattern() -> None:
    """Upstream: _namespace_match_pattern."""


def test_search_namespace_segment_boundary(store: AgentMemoryStore) -> None:
    for ns in [
        ("foo",),
        ("foo", "child"),
        ("foo", "child", "deep"),
        ("foobar",),
        ("foobar", "baz"),
        ("foo2",),
    ]:
        store.put(ns, "k", {"v": 1})
    assert sqlite_suite._namespaces(store, ("foo",)) == {
        ("foo",),
        ("foo", "child"),
        ("foo", "child", "deep"),
    }
    assert sqlite_suite._namespaces(store, ("foobar",)) == {("foobar",), ("foobar", "baz")}
    assert sqlite_suite._namespaces(store, ("foo", "child")) == {
        ("foo", "child"),
        ("foo", "child", "deep"),
    }
    assert sqlite_suite._namespaces(store, ("foo2",)) == {("foo2",)}
    assert sqlite_suite._namespaces(store, ("fo",)) == set()


def test_search_namespace_like_metacharacters(store: AgentMemoryStore) -> None:
    for ns in [("user_1",), ("user_1", "child"), ("userX1",), ("a%b",), ("axxb",)]:
        store.put(ns, "k", {"v": 1})
    assert sqlite_suite._namespaces(store, ("user_1",)) == {("user_1",), ("user_1", "child")}
    assert sqlite_suite._namespaces(store, ("a%b",)) == {("a%b",)}


def test_search(store: AgentMemoryStore) -> None:
    sqlite_suite.TestSqliteStore().test_search(store)


DISTANCE_TYPES = ["l2", "inner_product", "cosine"]


@pytest.fixture(
    params=[(d, True) for d in DISTANCE_TYPES] + [("cosine", False)],
    ids=lambda p: f"{p[0]}{'' if p[1] else '-no-ttl'}",
)
def vector_store(request: pytest.FixtureRequest, make_vector_store: Any) -> AgentMemoryStore:
    distance, with_ttl = request.param
    ttl = {"default_ttl": 2, "refresh_on_read": True} if with_ttl else None
    store: AgentMemoryStore = make_vector_store(distance_type=distance, ttl=ttl)
    store.setup()  # upstream checks that migrations are idempotent this way
    return store


def test_vector_store_initialization(
    vector_store: AgentMemoryStore, fake_embeddings: CharacterEmbeddings
) -> None:
    assert vector_store.index_config is not None
    assert vector_store.index_config["dims"] == fake_embeddings.dims
    assert vector_store.index_config["embed"] == fake_embeddings


def test_vector_insert_with_auto_embedding(vector_store: AgentMemoryStore) -> None:
    for key, value in [
        ("doc1", {"text": "short text"}),
        ("doc2", {"text": "longer text document"}),
        ("doc3", {"text": "longest text document here"}),
        ("doc4", {"description": "text in description field"}),
        ("doc5", {"content": "text in content field"}),
        ("doc6", {"body": "text in body field"}),
    ]:
        vector_store.put(("test",), key, value)
    keys = [r.key for r in vector_store.search(("test",), query="long text")]
    assert "doc2" in keys and "doc3" in keys


def test_vector_update_with_embedding(vector_store: AgentMemoryStore) -> None:
    store = vector_store
    store.put(("test",), "doc1", {"text": "zany zebra Xerxes"})
    store.put(("test",), "doc2", {"text": "something about dogs"})
    store.put(("test",), "doc3", {"text": "text about birds"})
    initial = store.search(("test",), query="Zany Xerxes")
    assert initial[0].key == "doc1"
    store.put(("test",), "doc1", {"text": "new text about dogs"})
    after = next(
        (r.score for r in store.search(("test",), query="Zany Xerxes") if r.key == "doc1"), 0.0
    )
    assert after < initial[0].score  # type: ignore[operator]
    for r in store.search(("test",), query="new text about dogs"):
        if r.key == "doc1":
            assert r.score > after  # type: ignore[operator]
    store.put(("test",), "doc4", {"text": "new text about dogs"}, index=False)
    found = store.search(("test",), query="new text about dogs", limit=3)
    assert not any(r.key == "doc4" for r in found)


@pytest.mark.parametrize("refresh_ttl", [True, False])
def test_vector_search_with_filters(vector_store: AgentMemoryStore, refresh_ttl: bool) -> None:
    store = vector_store
    for key, value in [
        ("doc1", {"text": "red apple", "color": "red", "score": 4.5}),
        ("doc2", {"text": "red car", "color": "red", "score": 3.0}),
        ("doc3", {"text": "green apple", "color": "green", "score": 4.0}),
        ("doc4", {"text": "blue car", "color": "blue", "score": 3.5}),
    ]:
        store.put(("test",), key, value)
    found = store.search(("test",), query="apple", filter={"color": "red"}, refresh_ttl=refresh_ttl)
    assert len(found) == 2 and found[0].key == "doc1"
    found = store.search(("test",), query="car", filter={"color": "red"}, refresh_ttl=refresh_ttl)
    assert len(found) == 2 and found[0].key == "doc2"
    found = store.search(
        ("test",), query="bbbbluuu", filter={"score": {"$gt": 3.2}}, refresh_ttl=refresh_ttl
    )
    assert len(found) == 3 and found[0].key == "doc4"
    found = store.search(
        ("test",), query="apple", filter={"score": {"$gte": 4.0}, "color": "green"}
    )
    assert [r.key for r in found] == ["doc3"]


def test_vector_search_pagination(vector_store: AgentMemoryStore) -> None:
    for i in range(5):
        vector_store.put(("test",), f"doc{i}", {"text": f"test document number {i}"})
    page1 = vector_store.search(("test",), query="test", limit=2)
    page2 = vector_store.search(("test",), query="test", limit=2, offset=2)
    assert len(page1) == 2 and len(page2) == 2 and page1[0].key != page2[0].key
    assert len(vector_store.search(("test",), query="test", limit=10)) == 5


def test_vector_search_edge_cases(vector_store: AgentMemoryStore) -> None:
    vector_store.put(("test",), "doc1", {"text": "test document"})
    for query in ["", None, "test " * 100, "test!@#$%^&*()"]:
        assert len(vector_store.search(("test",), query=query)) == 1


@pytest.mark.parametrize("distance_type", ["cosine", "inner_product"])
def test_embed_with_path_sync(make_vector_store: Any, distance_type: str) -> None:
    store = make_vector_store(text_fields=["key0", "key1", "key3"], distance_type=distance_type)
    store.put(("test",), "doc1", {"key1": "xxx", "key2": "yyy", "key3": "zzz"})
    store.put(("test",), "doc2", {"key0": "uuu", "key1": "vvv", "key2": "www", "key3": "xxx"})
    found = store.search(("test",), query="xxx")
    assert len(found) == 2 and found[0].key != found[1].key
    top = found[0].score
    assert top == pytest.approx(found[1].score, abs=1e-3)
    for query, key in [("uuu", "doc2"), ("zzz", "doc1")]:
        found = store.search(("test",), query=query)
        assert len(found) == 2 and found[0].key == key
        assert found[0].score > found[1].score  # type: ignore[operator]
        assert found[0].score == pytest.approx(top, abs=1e-3)
    found = store.search(("test",), query="www")
    assert len(found) == 2 and all(r.score < top for r in found)  # type: ignore[operator]


@pytest.mark.parametrize("distance_type", ["cosine", "inner_product"])
def test_embed_with_path_operation_config(make_vector_store: Any, distance_type: str) -> None:
    store = make_vector_store(text_fields=["key17"], distance_type=distance_type)
    doc3 = {"key0": "aaa", "key1": "bbb", "key2": "ccc", "key3": "ddd"}
    doc4 = {"key0": "eee", "key1": "bbb", "key2": "fff", "key3": "ggg"}
    store.put(("test",), "doc3", doc3, index=["key0", "key1"])
    store.put(("test",), "doc4", doc4, index=["key1", "key3"])
    found = store.search(("test",), query="aaa")
    assert len(found) == 2 and found[0].key == "doc3" and len({r.key for r in found}) == 2
    assert found[0].score > found[1].score  # type: ignore[operator]
    found = store.search(("test",), query="ggg")
    assert len(found) == 2 and found[0].key == "doc4"
    assert found[0].score > found[1].score  # type: ignore[operator]
    found = store.search(("test",), query="bbb")
    assert len(found) == 2 and found[0].key != found[1].key
    assert found[0].score == pytest.approx(found[1].score, abs=1e-3)
    found = store.search(("test",), query="ccc")
    assert len(found) == 2 and all(r.score < 0.9 for r in found)  # type: ignore[operator]
    store.put(("test",), "doc5", {"key0": "hhh", "key1": "iii"}, index=False)
    every = store.search(("test",))
    assert len(every) == 3 and all(r.score is None for r in every)
    assert any(r.key == "doc5" for r in every)


def _expected(distance: str, query: list[float], doc: list[float]) -> float:
    dot = sum(a * b for a, b in zip(query, doc, strict=True))
    if distance == "inner_product":
        return dot
    if distance == "l2":
        return -math.sqrt(sum((a - b) ** 2 for a, b in zip(query, doc, strict=True)))
    return dot / (math.sqrt(sum(a * a for a in query)) * math.sqrt(sum(b * b for b in doc)))


@pytest.mark.parametrize("distance_type", ["cosine", "inner_product", "l2"])
@pytest.mark.parametrize("query", ["aaa", "bbb", "ccc", "abcd", "poisson"])
def test_scores(
    make_vector_store: Any, fake_embeddings: CharacterEmbeddings, distance_type: str, query: str
) -> None:
    store = make_vector_store(text_fields=["key0"], distance_type=distance_type)
    store.put(("test",), "doc", {"key0": "aaa"}, index=["key0", "key1"])
    found = store.search((), query=query)
    expected = _expected(
        distance_type, fake_embeddings.embed_query(query), fake_embeddings.embed_query("aaa")
    )
    assert len(found) == 1 and found[0].score == pytest.approx(expected, abs=1e-3)


def test_store_ttl(store: AgentMemoryStore, clock: Clock) -> None:
    ns = ("foo",)
    store.stop_ttl_sweeper()  # the sweeps upstream's thread makes happen at the sleeps below
    store.put(ns, key="item1", value={"foo": "bar"}, ttl=TTL_MINUTES)
    clock.advance(TTL_SECONDS - 2)
    assert store.get(ns, key="item1", refresh_ttl=True) is not None
    clock.advance(TTL_SECONDS - 2)
    store.sweep_ttl()
    assert len(store.search(ns, query="foo", refresh_ttl=True)) == 1
    clock.advance(TTL_SECONDS - 2)
    store.sweep_ttl()
    assert store.get(ns, key="item1", refresh_ttl=False) is not None
    clock.advance(TTL_SECONDS - 1)  # 9 s since the last refresh
    store.sweep_ttl()
    assert store.search(ns, query="bar", refresh_ttl=False) == []


def _expire_now(store: AgentMemoryStore, ns: tuple[str, ...], key: str) -> None:
    """Upstream backdates ``expires_at`` in SQL; here the row's expiry is set in the past the
    same way, without deleting it (unswept)."""
    with store.db.transaction() as cur:
        cur.execute(
            "UPDATE langgraph_store_items SET expires_at = 1 WHERE namespace = ? AND key = ?",
            (".".join(ns), key),
        )
        cur.execute(
            "UPDATE langgraph_store_state SET version = version + 1, reset_version = version + 1"
        )


def _row_exists(store: AgentMemoryStore, ns: tuple[str, ...], key: str) -> bool:
    with store.db.read() as cur:
        return (
            cur.execute(
                "SELECT count(*) FROM langgraph_store_items WHERE namespace = ? AND key = ?",
                (".".join(ns), key),
            ).fetchone()[0]
            == 1
        )


def _stored_expires_at(store: AgentMemoryStore, ns: tuple[str, ...], key: str) -> int:
    with store.db.read() as cur:
        return int(
            cur.execute(
                "SELECT expires_at FROM langgraph_store_items WHERE namespace = ? AND key = ?",
                (".".join(ns), key),
            ).fetchone()[0]
        )


def test_omit_expired_filters_read_paths(store: AgentMemoryStore) -> None:
    store.stop_ttl_sweeper()
    assert store.ttl_config is not None
    store.ttl_config["omit_expired"] = True
    expired_ns, control_ns = ("omit", "expired"), ("omit", "control")
    store.put(expired_ns, "e", {"data": "gone"}, ttl=TTL_MINUTES)
    store.put(control_ns, "c", {"data": "keep"}, ttl=None)
    _expire_now(store, expired_ns, "e")
    assert _row_exists(store, expired_ns, "e")  # expired, not swept
    assert store.get(expired_ns, "e") is None
    assert store.get(control_ns, "c") is not None
    assert store.search(expired_ns) == []
    assert [i.key for i in store.search(control_ns)] == ["c"]
    namespaces = store.list_namespaces(prefix=("omit",))
    assert expired_ns not in namespaces and control_ns in namespaces


@pytest.mark.parametrize("omit", [None, False], ids=["default", "explicit-false"])
def test_omit_expired_disabled_preserves_expired_rows(
    store: AgentMemoryStore, omit: bool | None
) -> None:
    store.stop_ttl_sweeper()
    if omit is not None:
        assert store.ttl_config is not None
        store.ttl_config["omit_expired"] = omit
    ns = ("keep",)
    store.put(ns, "k", {"data": "still-here"}, ttl=TTL_MINUTES)
    _expire_now(store, ns, "k")
    assert store.get(ns, "k", refresh_ttl=False) is not None
    assert [i.key for i in store.search(ns, refresh_ttl=False)] == ["k"]
    assert ns in store.list_namespaces(prefix=("keep",))


def test_omit_expired_refresh_ttl_only_refreshes_live_rows(
    store: AgentMemoryStore, clock: Clock
) -> None:
    store.stop_ttl_sweeper()
    assert store.ttl_config is not None
    store.ttl_config["omit_expired"] = True
    ns = ("refresh",)
    for key, n in [("expired", 0), ("live_get", 1), ("live_search", 2)]:
        store.put(ns, key, {"n": n}, ttl=TTL_MINUTES)
    _expire_now(store, ns, "expired")
    before = {k: _stored_expires_at(store, ns, k) for k in ("expired", "live_get", "live_search")}
    clock.advance(1)  # so a refresh moves the expiry (upstream: NOW() has moved on)
    assert store.get(ns, "expired", refresh_ttl=True) is None
    assert "expired" not in [i.key for i in store.search(ns, refresh_ttl=True)]
    assert _stored_expires_at(store, ns, "expired") == before["expired"]
    assert store.get(ns, "live_get", refresh_ttl=True) is not None
    assert _stored_expires_at(store, ns, "live_get") > before["live_get"]
    assert _stored_expires_at(store, ns, "live_search") > before["live_search"]


def test_omit_expired_search_pagination(store: AgentMemoryStore, clock: Clock) -> None:
    store.stop_ttl_sweeper()
    assert store.ttl_config is not None
    store.ttl_config["omit_expired"] = True
    ns = ("page",)
    # Upstream backdates updated_at to order them a, expired, b, c (newest first); here they
    # are written in the opposite order on the clock.
    for key in ["c", "b", "expired", "a"]:
        store.put(ns, key, {"k": key if key != "expired" else "x"}, ttl=TTL_MINUTES)
        clock.advance(1)
    _expire_now(store, ns, "expired")
    assert [i.key for i in store.search(ns, limit=2, offset=0)] == ["a", "b"]
    assert [i.key for i in store.search(ns, limit=2, offset=2)] == ["c"]


@pytest.mark.parametrize("distance_type", ["cosine", "inner_product"])
def test_non_ascii(make_vector_store: Any, distance_type: str) -> None:
    store = make_vector_store(distance_type=distance_type)
    texts = ["这是中文", "これは日本語です", "이건 한국어야", "Это русский", "यह रूसी है"]
    for i, text in enumerate(texts, start=1):
        store.put(("user_123", "memories"), str(i), {"text": text})
    for i, text in enumerate(texts, start=1):
        assert store.search(("user_123", "memories"), query=text)[0].key == str(i)
