"""AgentMemoryClient.for_sap(...) against our server's SAP v1 tree on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memory_integrations import AgentMemoryClient, ChatMessage
from memory_integrations.backend._sap import SapBackend, read_binding, tenant_token_url
from memory_integrations.errors import (
    AuthenticationError,
    ConfigurationError,
    MethodNotAllowedError,
    NotFoundError,
    ValidationError,
)

from .conftest import SAP_CLIENT, Live


def test_facts_exchanges_and_messages(sap_client: AgentMemoryClient, uid: str) -> None:
    session = sap_client.get_or_create_user(uid).get_or_create_session("conv-1")
    facts = session.add_memory(
        facts=["The user prefers dark mode", "The user lives in Berlin"],
        annotations={"topic": "prefs"},
        metadata={"source": "settings"},
    )
    exchange = session.add_memory(
        messages=[ChatMessage(user_content="Book me a train", assistant_content="Done: 9:00")]
    )
    chat = [
        ChatMessage(role="user", content="hi", name="ann"),
        ChatMessage(role="assistant", content="hello"),
    ]
    logged = session.add_memory(messages=chat, metadata=[{"i": 0}, {"i": 1}])
    assert len(facts.block_ids + exchange.block_ids + logged.block_ids) == 5

    block = session.get_memory_block(facts.block_ids[0])
    assert (block.fact, block.annotations, block.metadata) == (
        "The user prefers dark mode",
        {"topic": "prefs"},
        {"source": "settings"},
    )
    listed = session.list_memories(limit=10)
    assert listed.total == 5
    assert [b.message for b in listed.memory_blocks if b.message and b.message.role] == chat
    assert session.get_memory_block(logged.block_ids[1]).metadata == {"i": 1}
    exchange_block = session.get_memory_block(exchange.block_ids[0])
    assert exchange_block.message == exchange_block.message.__class__(
        user_content="Book me a train", assistant_content="Done: 9:00"
    )

    hits = session.search_memory("dark mode display", {"relevant_k": 2}).memory_blocks
    assert hits and hits[0].fact == "The user prefers dark mode"
    assert all(h.similarity is not None for h in hits)
    assert session.count_memories({"kind": "message"}) == 3
    assert session.count_memories({"annotations": {"topic": "prefs"}}) == 2
    only_roles = session.search_memory(None, {"role": "assistant"}).memory_blocks
    assert [b.message.content for b in only_roles if b.message] == ["hello"]


def test_updates_deletes_and_unsupported(sap_client: AgentMemoryClient, uid: str) -> None:
    session = sap_client.get_user(uid).get_session("s")
    fact = session.add_memory(facts=["old"]).block_ids[0]
    message = session.add_memory(messages=[ChatMessage(role="user", content="hey")]).block_ids[0]
    updated = session.update_memory(fact, fact="new", annotations={"k": "v"})
    assert updated.block is not None and (updated.block.fact, updated.block.annotations) == (
        "new",
        {"k": "v"},
    )
    with pytest.raises(MethodNotAllowedError, match="immutable"):
        session.update_memory(message, message=ChatMessage(role="user", content="x"))
    with pytest.raises(ValidationError):
        session.update_memory(fact, message=ChatMessage(user_content="x"))
    with pytest.raises(MethodNotAllowedError):
        session.add_memory(facts=["x"], memory_block_ttl=60)
    with pytest.raises(MethodNotAllowedError):
        session.end()
    with pytest.raises(MethodNotAllowedError):
        sap_client.list_users()
    assert session.delete_memory([fact, "missing-id"]).deleted_count == 2
    with pytest.raises(NotFoundError):
        session.get_memory_block(fact)
    assert session.delete_memory("all").deleted_count == 1
    assert session.list_memories().total == 0


def test_sessions_are_message_groups(sap_client: AgentMemoryClient, uid: str) -> None:
    user = sap_client.get_user(uid)
    for sid in ("a", "b"):
        user.get_session(sid).add_memory(messages=[ChatMessage(role="user", content=sid)])
    assert [s.session_id for s in user.list_sessions().sessions] == ["a", "b"]
    assert user.list_memories(session_ids=["b"]).total == 1
    user.get_session("a").delete()
    assert [s.session_id for s in user.list_sessions().sessions] == ["b"]
    sap_client.delete_user(uid)
    assert user.list_memories().total == 0


def test_retention_and_health(sap_client: AgentMemoryClient) -> None:
    config = sap_client.update_retention_config(message_days=7, memory_days=None)
    assert (config.message_days, config.memory_days) == (7, None)
    assert sap_client.health_ping().overall_status == "healthy"
    assert sap_client.wait_until_processed() is True


def test_oauth_token_is_refreshed_after_a_401(server: Live, uid: str) -> None:
    backend = SapBackend(
        server.url,
        agent_id="oauth-agent",
        token_url=f"{server.url}/oauth/token",
        client_id=SAP_CLIENT[0],
        client_secret=SAP_CLIENT[1],
    )
    client = AgentMemoryClient(backend=backend)
    session = client.get_user(uid).get_session("s")
    session.add_memory(facts=["one"])
    session.add_memory(facts=["two"])
    assert backend.oauth is not None and backend.oauth.fetches == 1
    server.app.state.authority.revoke_issued()
    assert session.list_memories().total == 2
    assert backend.oauth.fetches == 2
    client.close()
    wrong = SapBackend(
        server.url,
        token_url=f"{server.url}/oauth/token",
        client_id=SAP_CLIENT[0],
        client_secret="wrong",
    )
    with pytest.raises(AuthenticationError):
        wrong.list_memories(uid)
    anonymous = SapBackend(server.url)
    with pytest.raises(AuthenticationError):
        anonymous.list_memories(uid)


def test_binding_from_environment(
    server: Live, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, uid: str
) -> None:
    monkeypatch.setenv("SERVICE_BINDING_ROOT", str(tmp_path / "empty"))
    monkeypatch.delenv("CLOUD_SDK_CFG_HANA_AGENT_MEMORY_DEFAULT_APPLICATION_URL", raising=False)
    with pytest.raises(ConfigurationError, match="binding"):
        read_binding()
    uaa = {"clientid": SAP_CLIENT[0], "clientsecret": SAP_CLIENT[1], "url": server.url}
    monkeypatch.setenv("CLOUD_SDK_CFG_HANA_AGENT_MEMORY_DEFAULT_APPLICATION_URL", server.url)
    monkeypatch.setenv("CLOUD_SDK_CFG_HANA_AGENT_MEMORY_DEFAULT_UAA", json.dumps(uaa))
    with AgentMemoryClient.for_sap(agent_id="env-agent") as client:
        client.get_user(uid).get_session("s").add_memory(facts=["from the binding"])
        assert client.get_user(uid).list_memories().total == 1
    mounted = tmp_path / "bindings" / "hana-agent-memory" / "default"
    mounted.mkdir(parents=True)
    (mounted / "application_url").write_text("https://mounted.example")
    (mounted / "uaa").write_text(json.dumps({**uaa, "url": "https://zone.auth.example"}))
    monkeypatch.setenv("SERVICE_BINDING_ROOT", str(tmp_path / "bindings"))
    assert read_binding()["base_url"] == "https://mounted.example"  # a mount wins over env
    assert read_binding()["token_url"] == "https://zone.auth.example/oauth/token"


def test_subscriber_token_url() -> None:
    url = "https://provider.auth.eu10.example/oauth/token"
    assert tenant_token_url(url, "provider", "acme") == "https://acme.auth.eu10.example/oauth/token"
    assert tenant_token_url(url, "other", "acme") == url
    assert tenant_token_url("http://127.0.0.1:8080/oauth/token", "provider", "acme").startswith(
        "http://127.0.0.1"
    )


def test_per_item_values_and_paged_lookups(sap_client: AgentMemoryClient, uid: str) -> None:
    session = sap_client.get_user(uid).get_session("s")
    session.add_memory(
        facts=["older", "newer"],
        annotations=[{"k": "a"}, {"k": "b"}],
        created_at=["2024-01-01T00:00:00Z", None],
    )
    blocks = session.search_memory(None, {"descending": True, "limit": 1}).memory_blocks
    assert [(b.fact, b.annotations) for b in blocks] == [("newer", {"k": "b"})]
    by_created = session.list_memories(order_by="created_at").memory_blocks
    assert by_created[0].fact == "older"
    with pytest.raises(ValidationError):
        session.add_memory(facts=["x", "y"], annotations=[{"k": "only one"}])
