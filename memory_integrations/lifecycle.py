"""Data lifecycle across every component: erase a user completely, and nobody else.

What ``erase_user`` removes is what provably belongs to the user, as recorded when it was
written: the user's sessions and memory blocks; LangGraph threads created by a run whose
``user_id`` was the user (the saver records it on the thread); LangGraph store items
written for the user (the store records the owner: see ``AgentMemoryStore``). A thread or
namespace that merely carries the user's id in its name is not proof: such data is kept and
reported, and the caller may name it explicitly (``threads=``, ``store_namespaces=``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .client import AgentMemoryClient
from .errors import NotFoundError, ValidationError
from .validation import check_id


@dataclass(frozen=True)
class ErasureReport:
    """What ``erase_user`` removed, and what it kept because it was not provably the user's.

    ``removed`` counts ``sessions``, ``blocks``, ``checkpoint_threads`` and ``store_items``.
    ``kept`` lists ``threads`` (named like one of the user's sessions, but recorded as
    another user's or nobody's) and ``store_namespaces`` (with the user id as a label, but
    not written for the user).
    """

    user_id: str
    removed: dict[str, int] = field(default_factory=dict)
    kept: dict[str, list[Any]] = field(default_factory=dict)

    def __getitem__(self, what: str) -> int:
        """``report["blocks"]``: how many of that kind were removed."""
        return self.removed[what]

    def summary(self) -> str:
        removed = ", ".join(f"{n} {what}" for what, n in self.removed.items())
        text = f"erased user {self.user_id!r}: {removed}"
        for what, items in self.kept.items():
            if items:
                text += (
                    f"; kept {len(items)} {what} not recorded as theirs ("
                    + ", ".join(map(str, items[:5]))
                    + (", ..." if len(items) > 5 else "")
                    + ")"
                )
        return text


def _has_component(cur: Any, component: str) -> bool:
    row = cur.execute(
        "SELECT version FROM mi_migrations WHERE component = ?", (component,)
    ).fetchone()
    return row is not None


def _namespaces(values: Sequence[Sequence[str]]) -> list[tuple[str, ...]]:
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise ValidationError(
            "store_namespaces must be a list of namespace tuples, e.g. [('memories', 'ana')]"
        )
    return [tuple(ns) if isinstance(ns, (list, tuple)) else ns for ns in values]


def erase_user(
    client: AgentMemoryClient,
    user_id: str,
    *,
    threads: Sequence[str] = (),
    store_namespaces: Sequence[Sequence[str]] = (),
) -> ErasureReport:
    """Delete everything that belongs to ``user_id``, in one transaction.

    Removes the user with its sessions and blocks (if the engine knows it), the LangGraph
    threads the user owns plus ``threads``, and the LangGraph store items the user owns plus
    every item under ``store_namespaces``. Raises ``NotFoundError`` when nothing at all is
    stored for the user and nothing was named explicitly.
    """
    check_id(user_id, "user_id")
    if isinstance(threads, str):
        raise ValidationError("threads must be a list of thread ids, not one string")
    explicit_threads = [check_id(t, "each of threads") for t in threads]
    prefixes = _namespaces(store_namespaces)
    database = client.database
    with database.read() as cur:
        has_saver = _has_component(cur, "langgraph_checkpoints")
        has_store = _has_component(cur, "langgraph_store")
    try:
        user = client.get_user(user_id)
        sessions = list(user.sessions or [])
        blocks = user.list_memories(limit=1).total
    except NotFoundError:
        user, sessions, blocks = None, [], 0
    saver = store = None
    if has_saver or has_store:  # written by the LangGraph adapters, so LangGraph is here
        from .langgraph import AgentMemorySaver, AgentMemoryStore

        saver = AgentMemorySaver(database) if has_saver else None
        store = AgentMemoryStore(database) if has_store else None
    try:
        owned_threads = sorted(
            set(saver.threads_owned_by(user_id) if saver else []) | set(explicit_threads)
        )
        named_threads = saver.existing_threads(sessions) if saver else []
        owned_items = store.count_owned_by(user_id) if store else 0
        if user is None and not owned_threads and not owned_items and not prefixes:
            raise NotFoundError(
                f"nothing is stored for user {user_id!r}: no memory, and no LangGraph "
                "checkpoints or store items recorded as theirs; check the id"
            )
        removed = {"sessions": len(sessions), "blocks": blocks}
        with database.transaction():
            if saver is not None:
                for thread_id in owned_threads:
                    saver.delete_thread(thread_id)
            store_items = 0
            if store is not None:
                store_items = store.delete_owned_by(user_id)
                for prefix in prefixes:
                    store_items += store.delete_under(prefix)
            if user is not None:
                client.delete_user(user_id)
        removed["checkpoint_threads"] = len(owned_threads)
        removed["store_items"] = store_items
        kept: dict[str, list[Any]] = {
            "threads": [t for t in named_threads if t not in owned_threads],
            "store_namespaces": store.namespaces_with_label(user_id) if store else [],
        }
        return ErasureReport(user_id=user_id, removed=removed, kept=kept)
    finally:
        if saver is not None:
            saver.close()
        if store is not None:
            store.close()
