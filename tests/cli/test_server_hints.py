"""The server's error messages give the fix as an HTTP request, not as Python."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi")

from memory_integrations.server._errors import http_message

from ..server.conftest import assert_envelope, start


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    live = start(tmp_path_factory.mktemp("hints"))
    client = live.http
    assert client.post("/users", json={"user_id": "ana", "name": "Ana"}).status_code == 201
    assert client.post("/users/ana/sessions", json={"session_id": "trip"}).status_code == 201
    yield client
    client.close()
    live.thread.stop()


def _message(response: Any, status: int) -> str:
    message = str(assert_envelope(response, status)["message"])
    for python in ("client.", "user.", "session.", "(...)", "=,", "= or", "add_memory"):
        assert python not in message, message
    return message


def test_missing_user_and_session(http: Any) -> None:
    assert _message(http.get("/users/nobody"), 404) == (
        "user 'nobody' does not exist; create it with POST /users, or list users with GET /users"
    )
    assert _message(http.get("/users/ana/sessions/nope"), 404) == (
        "session 'nope' of user 'ana' does not exist; create it with POST /users/ana/sessions, "
        "or list the sessions with GET /users/ana/sessions"
    )
    message = _message(http.get("/users/nobody/sessions"), 404)
    assert message.endswith("create it with POST /users, or list users with GET /users")


def test_ids_in_hints_are_url_encoded(http: Any) -> None:
    assert http.post("/users", json={"user_id": "a b'c", "name": "x"}).status_code == 201
    message = _message(http.get("/users/a%20b%27c/sessions/none"), 404)
    assert "POST /users/a%20b%27c/sessions" in message


def test_conflicts_name_the_read_request(http: Any) -> None:
    again = http.post("/users", json={"user_id": "ana", "name": "Ana"})
    assert _message(again, 409) == "user 'ana' already exists; read it with GET /users/ana"
    session = http.post("/users/ana/sessions", json={"session_id": "trip"})
    assert _message(session, 409) == (
        "session 'trip' of user 'ana' already exists; read it with GET /users/ana/sessions/trip"
    )


def test_bodies_are_named_as_json_fields(http: Any) -> None:
    both = http.post(
        "/users/ana/sessions/trip/memory",
        json={"facts": ["a"], "messages": [{"user_content": "b"}]},
    )
    assert _message(both, 400) == (
        'send "messages" or "facts", not both: add them in separate requests'
    )
    added = http.post(
        "/users/ana/sessions/trip/memory",
        json={"facts": ["Ana is vegetarian."], "async_processing": False},
    )
    assert added.status_code == 201, added.text
    block_id = added.json()["block_ids"][0]
    response = http.put(
        f"/users/ana/sessions/trip/memory/{block_id}", json={"message": {"user_content": "hi"}}
    )
    assert _message(response, 400).endswith('its content type is fixed: send "fact", not "message"')
    session = http.put("/users/ana/sessions/trip", json={"annotations": {}})
    assert _message(session, 400).startswith(
        'updating a session needs non-empty "annotations" or "metadata" in the JSON body'
    )
    user = http.put("/users/ana", json={})
    assert _message(user, 400) == 'updating a user needs "name" or "metadata" in the JSON body'


def test_missing_prompt(http: Any) -> None:
    message = _message(http.get("/prompts/nope"), 404)
    assert message.endswith("create it with POST /prompts, or list prompts with GET /prompts")


def test_the_translation_table() -> None:
    queue = (
        "the processing queue is full (5 of 5 blocks wait for embedding); retry after the "
        "indicated delay, add with async_processing=False, or raise "
        "MEMORY_INTEGRATIONS_QUEUE_MAX_SIZE"
    )
    assert http_message(queue, "/users/a/sessions/s/memory") == (
        "the processing queue is full (5 of 5 blocks wait for embedding); retry after the "
        'Retry-After delay, or add with "async_processing": false (the operator can raise '
        "MEMORY_INTEGRATIONS_QUEUE_MAX_SIZE)"
    )
    assert "async_processing" not in http_message(queue, "/v1/memories")
    missing = "user 'u' does not exist; create it with client.create_user(...)"
    assert http_message(missing, "/v1/memories") == "user 'u' does not exist"
    assert http_message("user.update needs name= or metadata=") == (
        'updating a user needs "name" or "metadata" in the JSON body'
    )
    assert http_message("add_memory needs a non-empty messages= or facts= list") == (
        'adding memory needs a non-empty "messages" or "facts" list'
    )
    assert http_message("the memory client is closed; open a new one").startswith(
        "the server is shutting down"
    )
    assert http_message("anything else; as it was") == "anything else; as it was"
