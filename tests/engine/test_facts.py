"""Managed facts: a conversation processed with a (fake) model yields fact blocks; a fact
that revises a known one supersedes it (update), one that contradicts it deletes it, a
repeat is kept once; every change has its history. Without a model, exact and near-exact
repeats are not stored twice. Local MiniLM embeddings (the similarity decides which known
facts the model sees), both storages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from memory_integrations import AgentMemoryClient, ChatMessage, MessageRole, Settings
from memory_integrations.errors import MethodNotAllowedError
from memory_integrations.extraction import DECISION_PROMPT, FACTS_INSTRUCTION

MANAGED = Settings(manage_facts=True, lease_seconds=1.0)


def said(summary: str, *facts: str) -> str:
    return json.dumps({"summary": summary, "contexts": ["home"], "facts": list(facts)})


def decision(action: str, target: int | None = None, text: str | None = None) -> str:
    return json.dumps({"action": action, "target": target, "text": text})


def message(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text, name="Ana")


class ScriptedModel(FakeListChatModel):
    """LangChain's fake chat model, remembering the system prompts it was given."""

    seen: list[str] = []

    def invoke(self, messages: Any, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(messages[0].content)
        return super().invoke(messages, *args, **kwargs)


def test_a_move_supersedes_the_old_home(db_path: Any) -> None:
    model = ScriptedModel(
        responses=[
            said("Ana lives in Lisbon.", "Ana lives in Lisbon."),
            said("Ana moved to Berlin.", "Ana lives in Berlin."),
            decision("update", 1, "Ana lives in Berlin."),
        ],
        seen=[],
    )
    with AgentMemoryClient(db_path, extractor=model, settings=MANAGED) as client:
        user = client.create_user("ana", "Ana")
        first = user.create_session("monday").add_memory(
            messages=[message("I live in Lisbon, near the river.")], async_processing=False
        )
        second = user.create_session("friday").add_memory(
            messages=[message("Big news: I moved to Berlin last month!")]
        )  # the worker extracts this one
        assert client.wait_until_processed(60)
        assert model.seen[0].endswith(FACTS_INSTRUCTION) and model.seen[2] == DECISION_PROMPT

        facts = user.search_memory("Where does Ana live?", {"kind": "fact"}).memory_blocks
        assert [b.fact for b in facts] == ["Ana lives in Berlin."]  # not Lisbon beside it
        fact = facts[0]
        assert fact.source_block_id == first.block_ids[0]  # created from the first message
        history = user.fact_history(fact.block_id)
        assert [(c.action, c.old_text, c.new_text) for c in history] == [
            ("add", None, "Ana lives in Lisbon."),
            ("update", "Ana lives in Lisbon.", "Ana lives in Berlin."),
        ]
        assert [c.source_block_id for c in history] == [first.block_ids[0], second.block_ids[0]]
        assert {c.actor for c in history} == {"langchain:ScriptedModel"}
        assert history[0].at <= history[1].at


def test_a_contradiction_deletes_and_a_repeat_is_kept_once(db_path: Any) -> None:
    model = ScriptedModel(
        responses=[
            said("Ana has a cat.", "Ana has a cat named Miso."),
            said("Ana gave the cat away.", "Ana no longer has a cat."),
            decision("delete", 1),
            said("Ana is vegetarian.", "Ana is vegetarian."),
            said("Still vegetarian.", "Ana is vegetarian."),  # the same text: no model call
        ],
        seen=[],
    )
    with AgentMemoryClient(db_path, extractor=model, settings=MANAGED) as client:
        session = client.create_user("ana", "Ana").create_session("s")
        for text in (
            "My cat Miso sleeps all day.",
            "I had to give Miso to my sister, I no longer have a cat.",
            "I am vegetarian.",
            "As you know I am vegetarian.",
        ):
            session.add_memory(messages=[message(text)], async_processing=False)
        facts = [b.fact for b in session.list_memories().memory_blocks if b.fact]
        assert facts == ["Ana is vegetarian."]
        actions = [c.action for c in client.get_user("ana").fact_history()]
        assert actions == ["add", "delete", "add"]
        assert len(model.seen) == 5


def test_without_a_model_repeated_facts_are_stored_once(db_path: Any) -> None:
    with AgentMemoryClient(db_path, settings=MANAGED) as client:
        session = client.create_user("ana", "Ana").create_session("s")
        first = session.add_memory(
            facts=["Ana is vegetarian.", "ana is vegetarian", "Ana likes green tea."],
            async_processing=False,
        )
        assert first.accepted_count == 2
        assert [r["index"] for r in first.rejected_details] == [1]
        again = session.add_memory(
            facts=["Ana is vegetarian", "Ana is a vegetarian.", "Ana plays chess."],
            async_processing=False,
        )
        assert again.accepted_count == 1
        known = {r["index"]: r for r in again.rejected_details}
        assert set(known) == {0, 1} and {r["action"] for r in known.values()} == {"keep"}
        assert sorted(b.fact for b in session.list_memories().memory_blocks) == [
            "Ana is vegetarian.",
            "Ana likes green tea.",
            "Ana plays chess.",
        ]
        assert [c.actor for c in client.get_user("ana").fact_history()] == ["engine"] * 3
        # Unmanaged adds store what they are given, as the Couchbase API does.
        session.add_memory(facts=["Ana is vegetarian."], manage_facts=False)
        assert session.count_memories() == 4


def test_an_added_fact_can_update_a_known_one(db_path: Any) -> None:
    model = ScriptedModel(responses=[decision("update", 1, "Ana works at Acme as a CTO.")], seen=[])
    with AgentMemoryClient(db_path, extractor=model) as client:
        session = client.create_user("ana", "Ana").create_session("s")
        session.add_memory(facts=["Ana works at Acme."], context_required=False)
        assert client.wait_until_processed(30)
        result = session.add_memory(
            facts=["Ana is the CTO at Acme."],
            manage_facts=True,
            context_required=False,
            async_processing=False,
        )
        assert result.accepted_count == 0
        assert result.rejected_details[0]["action"] == "update"
        assert [b.fact for b in session.list_memories().memory_blocks] == [
            "Ana works at Acme as a CTO."
        ]


def test_a_model_answering_nonsense_is_a_failed_try_of_the_message(db_path: Any) -> None:
    model = ScriptedModel(
        responses=[
            said("Ana lives in Lisbon.", "Ana lives in Lisbon."),
            said("Ana moved.", "Ana lives in Berlin."),
            decision("update", 7, "Ana lives in Berlin."),  # there is no known fact 7
            said("Ana moved.", "Ana lives in Berlin."),
            decision("update", 1, "Ana lives in Berlin."),
        ],
        seen=[],
    )
    with AgentMemoryClient(db_path, extractor=model, settings=MANAGED) as client:
        session = client.create_user("ana", "Ana").create_session("s")
        session.add_memory(messages=[message("I live in Lisbon.")], async_processing=False)
        (moved,) = session.add_memory(messages=[message("I moved to Berlin.")]).block_ids
        assert client.wait_until_processed(60)
        block = session.get_memory_block(moved)
        assert (block.status.value, block.fail_count) == ("ready", 1)
        facts = [b.fact for b in session.list_memories().memory_blocks if b.fact]
        assert facts == ["Ana lives in Berlin."]


def test_sap_has_no_fact_management() -> None:
    from memory_integrations.backend import SapBackend

    sap: Any = SapBackend("http://sap.invalid", agent_id="a", token="t")
    with pytest.raises(MethodNotAllowedError):
        sap.add_memory("u", "s", facts=["x"], manage_facts=True)


def test_langchain_recall_finds_managed_facts_with_no_adapter_change(tmp_path: Any) -> None:
    pytest.importorskip("langchain_core")
    from langchain_core.messages import AIMessage, HumanMessage

    from memory_integrations.langchain import (
        AgentMemoryChatMessageHistory,
        AgentMemoryRetriever,
    )

    model = ScriptedModel(
        responses=[
            said("Ana moved to Berlin.", "Ana lives in Berlin."),
            said("The assistant congratulates her."),
        ],
        seen=[],
    )
    with AgentMemoryClient(tmp_path / "m.sqlite3", extractor=model, settings=MANAGED) as client:
        history = AgentMemoryChatMessageHistory(client, user_id="ana", session_id="chat")
        history.add_messages([HumanMessage("I moved to Berlin!"), AIMessage("Congratulations!")])
        assert client.wait_until_processed(60)
        retriever = AgentMemoryRetriever(client, user_id="ana", k=3)
        documents = retriever.invoke("Which city does Ana live in?")
        facts = [d.page_content for d in documents if d.metadata["kind"] == "fact"]
        assert facts == ["Ana lives in Berlin."]
        assert len(history.messages) == 2  # the chat history still shows the chat only
