"""The prompt registry through the client, the same calls on the embedded engine and on
our server (the remote backend), with the Couchbase wire semantics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memory_integrations import AgentMemoryClient, Prompt, PromptVersion
from memory_integrations.embedders import HashingEmbedder
from memory_integrations.errors import ConflictError, NotFoundError, ValidationError

from .conftest import Live


@pytest.fixture(params=["embedded", "remote"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AgentMemoryClient]:
    if request.param == "embedded":
        with AgentMemoryClient(tmp_path / "m.sqlite3", embedder=HashingEmbedder()) as c:
            yield c
    else:
        live: Live = request.getfixturevalue("live")
        with AgentMemoryClient(base_url=live.url) as c:
            yield c


def test_prompt_versions_archive_and_purge(client: AgentMemoryClient) -> None:
    created = client.create_prompt("trips", "Tag the trip.", "travel", {"team": "a"})
    assert isinstance(created, Prompt)
    assert (created.current_vid, created.version_count, created.archived) == (0, 1, False)
    with pytest.raises(ConflictError):
        client.create_prompt("trips", "Again.", "dup")
    with pytest.raises(ValidationError):
        client.create_prompt("default", "x", "the base prompt's name is reserved")

    updated = client.update_prompt("trips", prompt="Tag the trip and its dates.")
    assert (updated.current_vid, updated.version_count) == (1, 2)
    assert updated.annotations == {"team": "a"}
    old = client.get_prompt("trips", vid=0)
    assert isinstance(old, PromptVersion) and old.prompt == "Tag the trip." and not old.is_current
    versions = client.list_prompt_versions("trips")
    assert [v.vid for v in versions] == [0, 1] and versions.total == 2
    assert [p.prompt_id for p in client.list_prompts()] == ["trips"]

    session = client.create_user("u", "U").create_session("s")
    added = session.add_memory(facts=["x"], prompt_id="trips", async_processing=False)
    block = session.get_memory_block(added.block_ids[0])
    assert (block.prompt_id, block.prompt_vid) == ("trips", 1)

    with pytest.raises(ConflictError):
        client.archive_prompt("trips", 1)  # the current version
    client.archive_prompt("trips", 0)
    with pytest.raises(ConflictError):
        session.add_memory(facts=["y"], prompt_id="trips", prompt_vid=0)
    client.archive_prompt("trips")
    with pytest.raises(ConflictError):
        client.update_prompt("trips", description="frozen")
    with pytest.raises(ConflictError):
        client.create_prompt("trips", "x", "archived ids stay reserved")

    client.purge_prompt("trips")
    with pytest.raises(NotFoundError):
        client.get_prompt("trips")
    assert client.create_prompt("trips", "Fresh.", "the id is free again").current_vid == 0
    # The block keeps naming the purged prompt; extraction falls back to the base prompt.
    assert session.get_memory_block(block.block_id).prompt_id == "trips"


def test_an_sap_client_has_no_prompt_registry() -> None:
    from memory_integrations.backend import SapBackend

    sap: Any = SapBackend("http://sap.invalid", agent_id="a", token="t")
    with pytest.raises(Exception, match="no prompt registry"):
        sap.create_prompt("p", "x", "d")
