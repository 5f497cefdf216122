"""Client scenarios shared by the cassette recorder and the replay tests.

Each scenario takes the server's base URL and a ``pause(name)`` hook (the recorder uses it
to act on the live server between two calls; replay passes a no-op) and returns what the
client observed. Inputs are fixed, so the recorded request bodies match on replay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from memory_integrations import AgentMemoryClient, ChatMessage
from memory_integrations.backend._remote import RemoteBackend
from memory_integrations.backend._sap import SapBackend
from memory_integrations.errors import AgentMemoryError

Pause = Callable[[str], None]
TOKEN = "remote-test-token-alpha"
BROKEN_TOKEN = "remote-test-token-broken"
SAP_CLIENT = ("sap-test-client", "sap-test-secret-not-real")


def _error(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        call()
    except AgentMemoryError as exc:
        return {
            "type": type(exc).__name__,
            "status": exc.status_code,
            "code": exc.error_code,
            "retry_after": getattr(exc, "retry_after", None),
        }
    return {"type": None}


def remote_crud(base_url: str, pause: Pause) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    backend = RemoteBackend(base_url, token=TOKEN, sleep=lambda s: None)
    with AgentMemoryClient(backend=backend) as client:
        user = client.create_user("cassette-user", "Cassette", metadata={"tier": "gold"})
        session = user.create_session("s1", annotations={"topic": "travel"})
        added = session.add_memory(
            facts=["Alice flies to Lisbon in May", "Alice is vegetarian"],
            annotations={"source": "chat"},
            metadata={"k": "v"},
            created_at=datetime(2025, 1, 15, 10, 30, tzinfo=UTC),
            async_processing=False,
        )
        seen["added"] = added.accepted_count
        hits = session.search_memory("Lisbon trip", {"relevant_k": 1}).memory_blocks
        seen["top_hit"] = hits[0].fact
        seen["top_is_first"] = hits[0].block_id == added.block_ids[0]
        page = user.list_memories(limit=10, order_by="created_at")
        seen["listed"] = [b.fact for b in page.memory_blocks]
        seen["created_at"] = page.memory_blocks[0].created_at
        updated = session.update_memory(added.block_ids[1], fact="Alice is vegan")
        seen["updated"] = None if updated.block is None else updated.block.fact
        seen["count"] = session.count_memories({"annotations": {"source": "chat"}})
        seen["deleted"] = session.delete_memory([added.block_ids[0]]).deleted_count
        seen["users"] = [u.id for u in client.list_users(metadata={"tier": "gold"}).users]
        seen["health"] = client.health_ping().overall_status
        client.delete_user("cassette-user")
        seen["gone"] = _error(lambda: client.get_user("cassette-user"))["type"]
    return seen


def remote_messages(base_url: str, pause: Pause) -> dict[str, Any]:
    backend = RemoteBackend(base_url, token=TOKEN, sleep=lambda s: None)
    sent = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="user", content="hi", name="ann"),
        ChatMessage(role="tool", content="", name="lookup"),
        ChatMessage(user_content="question", assistant_content="answer"),
    ]
    with AgentMemoryClient(backend=backend) as client:
        session = client.create_user("cassette-chat", "Chat").create_session("c")
        session.add_memory(messages=sent, async_processing=False)
        listed = [b.message for b in session.list_memories(limit=10).memory_blocks]
        by_role = session.search_memory(None, {"role": "tool"}).memory_blocks
    return {"round_trip": listed == sent, "tools": [b.message.name for b in by_role if b.message]}


def remote_errors(base_url: str, pause: Pause) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    waits: list[float] = []
    backend = RemoteBackend(base_url, token=TOKEN, max_retries=2, sleep=waits.append)
    with AgentMemoryClient(backend=backend) as client:
        user = client.create_user("cassette-errors", "E")
        seen["conflict"] = _error(lambda: client.create_user("cassette-errors", "again"))
        session = user.create_session("s")
        # The client refuses it before sending; the raw call shows the server's answer.
        seen["client_validation"] = _error(
            lambda: session.add_memory(facts=["x"], annotations={"1bad": "v"})
        )
        seen["validation"] = _error(
            lambda: backend._call(
                "POST",
                "/users/cassette-errors/sessions/s/memory",
                json={"async_processing": True, "facts": ["x"], "annotations": {"1bad": "v"}},
            )
        )
        seen["not_found"] = _error(lambda: session.update_memory("missing", fact="x"))
        seen["queue_full"] = _error(lambda: session.add_memory(facts=[f"f{i}" for i in range(40)]))
    broken = RemoteBackend(base_url, token=BROKEN_TOKEN, max_retries=2, sleep=waits.append)
    seen["unavailable"] = _error(lambda: broken.get_user("anyone"))
    broken.close()
    seen["waits"] = waits
    return seen


def sap_backend(base_url: str, pause: Pause) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    backend = SapBackend(
        base_url,
        agent_id="cassette-agent",
        token_url=f"{base_url}/oauth/token",
        client_id=SAP_CLIENT[0],
        client_secret=SAP_CLIENT[1],
        sleep=lambda s: None,
    )
    with AgentMemoryClient(backend=backend) as client:
        session = client.get_user("invoker-1").get_session("group-1")
        facts = session.add_memory(facts=["The user prefers dark mode"], metadata={"src": "ui"})
        session.add_memory(messages=[ChatMessage(role="user", content="hello there")])
        seen["search"] = [b.fact for b in session.search_memory("dark mode").memory_blocks]
        pause("revoke-tokens")  # the next call gets a 401, refreshes, retries once
        listed = session.list_memories()
        seen["listed"] = sorted(b.text for b in listed.memory_blocks)
        seen["fetches"] = None if backend.oauth is None else backend.oauth.fetches
        seen["metadata"] = session.get_memory_block(facts.block_ids[0]).metadata
        seen["deleted"] = session.delete_memory("all").deleted_count
        seen["retention"] = client.update_retention_config(message_days=14).message_days
    return seen


SCENARIOS: dict[str, Callable[[str, Pause], dict[str, Any]]] = {
    "remote_crud": remote_crud,
    "remote_messages": remote_messages,
    "remote_errors": remote_errors,
    "sap_backend": sap_backend,
}
