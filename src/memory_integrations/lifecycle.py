"""Data lifecycle across every component: erase a user completely."""

from __future__ import annotations

import contextlib
from typing import Any

from .client import AgentMemoryClient
from .errors import NotFoundError


def _has_component(cur: Any, component: str) -> bool:
    row = cur.execute(
        "SELECT version FROM mi_migrations WHERE component = ?", (component,)
    ).fetchone()
    return row is not None


def erase_user(client: AgentMemoryClient, user_id: str) -> dict[str, int]:
    """Delete a user, its sessions and blocks, and what other components keep for it.

    LangGraph checkpoints are erased for every thread whose id is one of the user's session
    ids (the convention the adapters use: thread id = session id) and that no other user has
    as a session id; LangGraph store items whose namespace has the user id as one of its
    labels are erased too. Returns counts per kind.
    """
    database = client.database
    removed = {
        "sessions": 0,
        "blocks": 0,
        "checkpoint_threads": 0,
        "shared_threads_kept": 0,
        "store_items": 0,
    }
    user = client.get_user(user_id)  # NotFoundError when missing
    sessions = list(user.sessions or [])
    removed["sessions"] = len(sessions)
    removed["blocks"] = user.list_memories(limit=1).total
    with database.read() as cur:
        has_saver = _has_component(cur, "langgraph_checkpoints")
        has_store = _has_component(cur, "langgraph_store")
    if has_saver and sessions:
        from .langgraph import AgentMemorySaver

        # Thread ids are global: a session id another user also has may name *their*
        # thread, so only threads unique to this user are erased (the rest are reported).
        with database.read() as cur:
            shared = {
                row[0]
                for row in cur.execute(
                    "SELECT DISTINCT session_id FROM mi_sessions WHERE user_id <> ? AND "
                    f"session_id IN ({','.join('?' * len(sessions))})",
                    (user_id, *sessions),
                )
            }
        saver = AgentMemorySaver(database)
        for thread_id in sessions:
            if thread_id not in shared:
                saver.delete_thread(thread_id)
        removed["checkpoint_threads"] = len(sessions) - len(shared)
        removed["shared_threads_kept"] = len(shared)
    if has_store:
        from .langgraph import AgentMemoryStore

        store = AgentMemoryStore(database)
        try:
            for namespace in store.list_namespaces(limit=1_000_000):
                if user_id not in namespace:
                    continue
                while items := store.search(namespace, limit=1000):
                    for item in items:
                        if item.namespace == namespace:
                            store.delete(item.namespace, item.key)
                            removed["store_items"] += 1
                    if all(item.namespace != namespace for item in items):
                        break
        finally:
            store.close()
    with contextlib.suppress(NotFoundError):  # erased concurrently
        client.delete_user(user_id)
    return removed
