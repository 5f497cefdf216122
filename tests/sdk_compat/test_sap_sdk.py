"""sap_cloud_sdk.agent_memory 0.62.0, unchanged, against our server's /v1 tree: every
operation of its guide, the compatibility pairs S1-S10 and the SAP gotchas."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from .conftest import CLIENTS, DriverError, Live, SdkDriver

pytestmark = pytest.mark.slow


def sap(driver: SdkDriver, server: Live, **config: Any) -> str:
    return driver.new("sap", config={"base_url": server.url, **config}, strategy="PROVIDER")


def fd(target: str, contains: str) -> dict[str, Any]:
    return {"$type": "FilterDefinition", "target": target, "contains": contains}


def role(name: str) -> dict[str, str]:
    return {"$enum": f"MessageRole.{name}"}


def raises(call: Any, *args: Any, **kwargs: Any) -> DriverError:
    with pytest.raises(DriverError) as info:
        call(*args, **kwargs)
    return info.value


def test_s1_s2_add_and_get_memory(driver: SdkDriver, open_server: Live) -> None:
    c = sap(driver, open_server)
    memory = driver.call(
        c, "add_memory", "s1-agent", "i1", "User prefers dark mode", metadata={"source": "prefs"}
    )
    assert memory["metadata"] == {"source": "prefs"}
    assert uuid.UUID(memory["id"])  # ids are UUIDs: safe in OData key paths
    raw = httpx.get(f"{open_server.url}/v1/memories({memory['id']})").json()
    assert isinstance(raw["metadata"], str)  # JSON text on the wire
    again = driver.call(c, "get_memory", memory["id"])
    assert again == memory
    err = raises(driver.call, c, "get_memory", "missing")
    assert err.type == "AgentMemoryNotFoundError" and err.status_code == 404
    assert err.response_text  # never an empty error body


def test_s3_update_memory(driver: SdkDriver, open_server: Live) -> None:
    c = sap(driver, open_server)
    memory = driver.call(c, "add_memory", "s3-agent", "i1", "old content")
    assert driver.call(c, "update_memory", memory["id"], content="new") is None
    after = driver.call(c, "get_memory", memory["id"])
    assert after["content"] == "new"
    assert after["update_timestamp"] > memory["update_timestamp"]
    driver.call(c, "update_memory", memory["id"], metadata={"source": "prefs", "version": 2})
    assert driver.call(c, "get_memory", memory["id"])["metadata"] == {
        "source": "prefs",
        "version": 2,
    }
    err = raises(driver.call, c, "update_memory", "missing", content="x")
    assert err.status_code == 404


def test_s4_list_with_filters_quotes_and_paging(driver: SdkDriver, open_server: Live) -> None:
    c = sap(driver, open_server)
    for i in range(45):
        text = f"note {i:02d} about dark mode" if i % 2 == 0 else f"note {i:02d} about fonts"
        driver.call(c, "add_memory", "s4-agent", "i'1", text)
    driver.call(c, "add_memory", "s4-agent", "other", "dark mode for someone else")
    page = driver.call(
        c, "list_memories", "s4-agent", "i'1", filters=[fd("content", "dark mode")], limit=20
    )
    assert len(page) == 20 and all("dark mode" in m["content"] for m in page)
    assert {m["invoker_id"] for m in page} == {"i'1"}
    tail = driver.call(
        c,
        "list_memories",
        "s4-agent",
        "i'1",
        filters=[fd("content", "dark mode")],
        limit=20,
        offset=20,
    )
    assert [m["content"][:7] for m in tail] == ["note 40", "note 42", "note 44"]
    unfiltered = driver.call(c, "list_memories", "s4-agent", "i'1", limit=20, offset=40)
    assert [m["content"][:7] for m in unfiltered] == [f"note {i}" for i in range(40, 45)]
    assert open_server.count("GET", "/v1/memories") >= 2


def test_s5_count(driver: SdkDriver, open_server: Live) -> None:
    c = sap(driver, open_server)
    for text in ("a one", "a two", "a three"):
        driver.call(c, "add_memory", "s5-agent", "i1", text)
    driver.call(c, "add_memory", "s5-agent", "i2", "someone else")
    assert driver.call(c, "count_memories", "s5-agent", "i1") == 3
    assert driver.call(c, "count_memories", "s5-agent") == 4
    raw = httpx.get(
        f"{open_server.url}/v1/memories",
        params={"$filter": "agentID eq 's5-agent'", "$top": 0, "$count": "true"},
    ).json()
    assert raw["@odata.count"] == 4 and raw["value"] == []


def test_s6_search(driver: SdkDriver, open_server: Live) -> None:
    c = sap(driver, open_server)
    for text in (
        "The user prefers dark mode and metric units.",
        "User last asked about display settings and dark mode.",
        "The user's timezone is Europe/Berlin.",
        "Wolves hunt deer",
    ):
        driver.call(c, "add_memory", "s6-agent", "i1", text)
    driver.call(c, "add_memory", "other-agent", "i1", "dark mode display preferences")
    results = driver.call(
        c,
        "search_memories",
        "s6-agent",
        "i1",
        "dark mode display preferences",
        threshold=0.2,
        limit=2,
    )
    assert 1 <= len(results) <= 2
    sims = [r["similarity"] for r in results]
    assert sims == sorted(sims, reverse=True) and all(x >= 0.2 for x in sims)
    assert all(r["agent_id"] == "s6-agent" for r in results)
    assert "dark mode" in results[0]["content"]
    strict = driver.call(c, "search_memories", "s6-agent", "i1", "dark mode", threshold=0.99)
    assert strict == []
    nobody = driver.call(c, "search_memories", "s6-agent", "nobody", "dark mode")
    assert nobody == []


def test_s7_s8_messages(driver: SdkDriver, open_server: Live) -> None:
    c = sap(driver, open_server)
    first = driver.call(c, "add_message", "s7-agent", "i1", "c1", role("USER"), "hi")
    assert first["role"] == "USER" and first["message_group"] == "c1"
    driver.call(
        c,
        "add_message",
        "s7-agent",
        "i1",
        "c1",
        role("ASSISTANT"),
        "hello",
        metadata={"tag": "escalated"},
    )
    driver.call(c, "add_message", "s7-agent", "i1", "c2", "ASSISTANT", "other group")
    replies = driver.call(c, "list_messages", "s7-agent", "i1", "c1", role="ASSISTANT")
    assert [m["content"] for m in replies] == ["hello"]
    assert replies[0]["role"] == "ASSISTANT"
    tagged = driver.call(c, "list_messages", filters=[fd("metadata", "escalated")])
    assert [m["content"] for m in tagged] == ["hello"]
    conversation = driver.call(c, "list_messages", "s7-agent", "i1", "c1", limit=100)
    assert [m["content"] for m in conversation] == ["hi", "hello"]
    got = driver.call(c, "get_message", first["id"])
    assert got == first
    driver.call(c, "delete_message", first["id"])
    assert raises(driver.call, c, "get_message", first["id"]).status_code == 404
    assert raises(driver.call, c, "delete_message", first["id"]).status_code == 404


def test_s9_retention(driver: SdkDriver, open_server: Live) -> None:
    c = sap(driver, open_server)
    before = driver.call(c, "get_retention_config")
    assert before["id"] == 1
    assert driver.call(c, "update_retention_config", message_days=30, memory_days=90) is None
    after = driver.call(c, "get_retention_config")
    assert (after["message_days"], after["memory_days"]) == (30, 90)
    assert after["usage_log_days"] == before["usage_log_days"]
    driver.call(c, "update_retention_config", usage_log_days=180)
    final = driver.call(c, "get_retention_config")
    assert (final["message_days"], final["memory_days"], final["usage_log_days"]) == (30, 90, 180)


def test_s10_oauth_refresh_and_401(driver: SdkDriver, secure_server: Live) -> None:
    secret, _ = CLIENTS["sap-acme"]
    authority = secure_server.app.state.authority
    issued = authority.issued_count
    c = sap(
        driver,
        secure_server,
        token_url=f"{secure_server.url}/oauth/token",
        client_id="sap-acme",
        client_secret=secret,
    )
    memory = driver.call(c, "add_memory", "s10-agent", "i1", "needs a token")
    driver.call(c, "get_memory", memory["id"])
    assert authority.issued_count == issued + 1  # one fetch per expiry window
    authority.revoke_issued()  # the next call gets a 401
    rejected = authority.rejected_count
    assert driver.call(c, "get_memory", memory["id"])["content"] == "needs a token"
    assert authority.rejected_count == rejected + 1
    assert authority.issued_count == issued + 2  # re-fetched once, then retried

    anonymous = sap(driver, secure_server)
    err = raises(driver.call, anonymous, "get_memory", memory["id"])
    assert err.type == "AgentMemoryHttpError" and err.status_code == 401
    wrong = sap(
        driver,
        secure_server,
        token_url=f"{secure_server.url}/oauth/token",
        client_id="sap-acme",
        client_secret="wrong",
    )
    assert raises(driver.call, wrong, "count_memories").type == "AgentMemoryHttpError"


def test_binding_env_vars_and_tenant_isolation(driver: SdkDriver, secure_server: Live) -> None:
    secret, _ = CLIENTS["sap-globex"]
    uaa = json.dumps({"clientid": "sap-globex", "clientsecret": secret, "url": secure_server.url})
    driver.setenv(
        CLOUD_SDK_CFG_HANA_AGENT_MEMORY_DEFAULT_APPLICATION_URL=secure_server.url,
        CLOUD_SDK_CFG_HANA_AGENT_MEMORY_DEFAULT_UAA=uaa,
    )
    try:
        globex = driver.new("sap", config=None, strategy="SUBSCRIBER", tenant="globex")
        driver.call(globex, "add_memory", "iso-agent", "i1", "globex only")
    finally:
        driver.setenv(
            CLOUD_SDK_CFG_HANA_AGENT_MEMORY_DEFAULT_APPLICATION_URL=None,
            CLOUD_SDK_CFG_HANA_AGENT_MEMORY_DEFAULT_UAA=None,
        )
    acme_secret, _ = CLIENTS["sap-acme"]
    acme = sap(
        driver,
        secure_server,
        token_url=f"{secure_server.url}/oauth/token",
        client_id="sap-acme",
        client_secret=acme_secret,
    )
    assert driver.call(acme, "list_memories", "iso-agent") == []
    assert driver.call(acme, "count_memories", "iso-agent") == 0
    assert [m["content"] for m in driver.call(globex, "list_memories", "iso-agent")] == [
        "globex only"
    ]


def test_guide_walkthrough(driver: SdkDriver, open_server: Live) -> None:
    c = sap(driver, open_server)
    memory = driver.call(
        c,
        "add_memory",
        agent_id="my-agent",
        invoker_id="user-123",
        content="The user prefers dark mode and metric units.",
        metadata={"source": "preferences"},
    )
    driver.call(c, "add_memory", "my-agent", "user-123", "The user's timezone is Europe/Berlin.")
    both = driver.call(
        c,
        "list_memories",
        agent_id="my-agent",
        invoker_id="user-123",
        filters=[fd("content", "dark mode"), fd("metadata", "preferences")],
    )
    assert [m["id"] for m in both] == [memory["id"]]
    contradiction = driver.call(
        c,
        "list_memories",
        "my-agent",
        "user-123",
        filters=[fd("content", "user prefers"), fd("content", "user doesn't prefer")],
    )
    assert contradiction == []
    # pagination with count_memories first, as the guide does
    total = driver.call(c, "count_memories", agent_id="my-agent", invoker_id="user-123")
    pages: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = driver.call(c, "list_memories", "my-agent", "user-123", limit=1, offset=offset)
        pages.extend(page)
        if len(page) < 1:
            break
        offset += 1
    assert len(pages) == total == 2
    # record_turn / get_conversation
    for text, who in (("What is the weather like today?", "USER"), ("Sunny.", "ASSISTANT")):
        driver.call(c, "add_message", "my-agent", "user-123", "conv-001", role(who), text)
    conversation = driver.call(
        c,
        "list_messages",
        agent_id="my-agent",
        invoker_id="user-123",
        message_group="conv-001",
        limit=100,
    )
    assert [(m["role"], m["content"]) for m in conversation] == [
        ("USER", "What is the weather like today?"),
        ("ASSISTANT", "Sunny."),
    ]
    users_turns = driver.call(
        c, "list_messages", "my-agent", "user-123", "conv-001", role=role("USER")
    )
    assert len(users_turns) == 1
    invoices = driver.call(
        c, "list_messages", "my-agent", "user-123", filters=[fd("content", "weather")]
    )
    assert len(invoices) == 1
    driver.call(c, "delete_memory", memory_id=memory["id"])
    assert raises(driver.call, c, "get_memory", memory["id"]).type == "AgentMemoryNotFoundError"
    assert raises(driver.call, c, "add_memory", "", "user-123", "x").type == (
        "AgentMemoryValidationError"
    )
    assert driver.call(c, "count_memories", "my-agent", "user-123") == 1
    # The guide says calls after close() work; in SDK 0.62.0 they fail inside the client
    # (no request reaches the server), so the walkthrough ends with close().
    driver.call(c, "close")
