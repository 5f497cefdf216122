"""The per-block size limit over HTTP: dropped blocks are reported, the rest is stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memory_integrations import AgentMemoryClient

from .conftest import Live, assert_envelope, start


@pytest.fixture(scope="module")
def small_blocks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    server = start(tmp_path_factory.mktemp("limit"), per_block_token_limit=50)
    yield server
    server.http.close()
    server.thread.stop()


def test_couchbase_api_reports_rejected_blocks_and_stores_the_others(small_blocks: Live) -> None:
    http = small_blocks.http
    assert http.post("/users", json={"user_id": "u", "name": "U"}).status_code == 201
    assert http.post("/users/u/sessions", json={"session_id": "s"}).status_code == 201
    answer = http.post(
        "/users/u/sessions/s/memory",
        json={"facts": ["a short fact", "x " * 400], "async_processing": False},
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["accepted_count"], body["rejected_count"]) == (1, 1)
    assert body["rejected_details"][0]["index"] == 1
    assert "per-block limit" in body["rejected_details"][0]["reason"]
    listed = http.get("/users/u/memory").json()
    assert [b["fact"] for b in listed["memory_blocks"]] == ["a short fact"]
    # our own remote client reads the rejection too
    with AgentMemoryClient(base_url=small_blocks.url) as client:
        response = client.get_user("u").get_session("s").add_memory(facts=["y " * 400])
    assert (response.accepted_count, response.rejected_count) == (0, 1)


def test_sap_api_refuses_an_oversized_memory(small_blocks: Live) -> None:
    answer = small_blocks.http.post(
        "/v1/memories",
        json={"agentID": "a", "invokerID": "i", "content": "z " * 400},
    )
    body = assert_envelope(answer, 400)
    assert "per-block limit" in body["message"]
    listed = small_blocks.http.get("/v1/memories").json()
    assert all("z z z" not in m["content"] for m in listed["value"])
