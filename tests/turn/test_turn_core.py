"""The framework-free turn: recall → render → respond → persist."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient, ChatMessage, MemoryBlock
from memory_integrations.turn import (
    TurnConfig,
    answer_text,
    arun_turn,
    estimate_tokens,
    is_runnable,
    prepare_turn,
    render_memories,
    run_turn,
)


class Recorder:
    """A respond function that records the system messages it was given."""

    def __init__(self, answer: str = "Noted.") -> None:
        self.answer = answer
        self.systems: list[str | None] = []

    def __call__(self, system: str | None, user_input: str) -> str:
        self.systems.append(system)
        return self.answer


def fact(text: str) -> MemoryBlock:
    return MemoryBlock(
        block_id=text[:8], user_id="u", session_id="s", fact=text, ingested_at=datetime.now(UTC)
    )


def test_render_respects_template_and_budget() -> None:
    blocks = [fact("first memory here"), fact("second memory"), fact("third " * 50)]
    rendered = render_memories(blocks, template="Known:\n{memories}", token_budget=20)
    assert rendered == "Known:\n- first memory here\n- second memory"
    assert render_memories([], template="{memories}") is None
    assert render_memories(blocks, token_budget=1) is None
    words = render_memories(blocks, token_budget=10_000, token_counter=lambda t: len(t.split()))
    assert words is not None and words.count("\n- ") == 3
    with pytest.raises(ValueError, match="placeholder"):
        render_memories(blocks, template="no placeholder")
    assert estimate_tokens("one two three") == 3


def test_an_earlier_conversation_reaches_a_later_turn(client: AgentMemoryClient) -> None:
    alice = client.get_or_create_user("alice")
    first = alice.create_session("first")
    result = run_turn(first, "I am vegetarian and love Lisbon.", Recorder(), TurnConfig())
    assert result.system_message is None and result.recalled == []
    assert len(result.stored_block_ids) == 1
    client.wait_until_processed()

    later = Recorder("Try Ao 26.")
    second = alice.create_session("second")
    result = run_turn(second, "Where should a vegetarian eat in Lisbon?", later)
    assert later.systems[0] is not None
    assert "user said: I am vegetarian and love Lisbon." in later.systems[0]
    assert later.systems[0].startswith("Relevant memories about this user")
    assert [b.session_id for b in result.recalled] == ["first"]
    assert result.answer == "Try Ao 26." and result.output == "Try Ao 26."
    stored = second.get_memory_block(result.stored_block_ids[0])
    assert stored.message is not None
    assert stored.message.user_content == "Where should a vegetarian eat in Lisbon?"
    assert stored.message.assistant_content == "Try Ao 26."


def test_tool_results_are_never_recalled_nor_crowd_out_memories(
    client: AgentMemoryClient,
) -> None:
    alice = client.get_or_create_user("alice")
    chat = alice.create_session("chat")
    tool_results = [ChatMessage(role="tool", content="forecast for Lisbon: sun")] * 40
    chat.add_memory(
        messages=[ChatMessage(role="user", content="I fly to Lisbon on Friday."), *tool_results],
        async_processing=False,
    )
    prompt = prepare_turn(alice.create_session("next"), "forecast for Lisbon", TurnConfig(k=3))
    assert [b.message.content for b in prompt.recalled if b.message] == [
        "I fly to Lisbon on Friday."
    ]
    assert prompt.system_message is not None and "forecast" not in prompt.system_message


def test_scope_k_threshold_and_persist_options(client: AgentMemoryClient) -> None:
    alice = client.get_or_create_user("alice")
    old = alice.create_session("old")
    old.add_memory(
        facts=["Alice has a cat named Miso.", "Alice's cat eats tuna."], async_processing=False
    )
    now = alice.create_session("now")

    only_here = Recorder()
    run_turn(now, "Tell me about my cat", only_here, TurnConfig(scope="session", persist=False))
    assert only_here.systems == [None]

    top_one = prepare_turn(now, "Tell me about my cat", TurnConfig(k=1))
    assert len(top_one.recalled) == 1
    assert prepare_turn(now, "Tell me about my cat", TurnConfig(threshold=0.999)).recalled == []
    assert prepare_turn(now, "cat", TurnConfig(scope=["old"], k=5)).recalled
    assert prepare_turn(now, "   ").recalled == []
    # The token budget decides how many recalled memories reach the system message.
    one_line = TurnConfig(template="{memories}", token_budget=2, token_counter=lambda t: 1)
    budgeted = prepare_turn(now, "Tell me about my cat", one_line)
    assert len(budgeted.recalled) == 2
    assert budgeted.system_message == f"- {budgeted.recalled[0].fact}"

    tagged = run_turn(
        now,
        "My cat is 3.",
        Recorder(),
        TurnConfig(persist_annotations={"topic": "pets"}, async_processing=False),
    )
    block = now.get_memory_block(tagged.stored_block_ids[0])
    assert block.annotations == {"topic": "pets"}
    assert block.status.value == "ready"  # searchable before the turn returned
    assert now.count_memories() == 1  # the persist=False turn stored nothing


async def test_arun_turn_with_async_and_sync_responders(client: AgentMemoryClient) -> None:
    aclient = AsyncAgentMemoryClient.from_client(client)
    user = await aclient.get_or_create_user("alice")
    first = await user.get_or_create_session("first")
    config = TurnConfig(async_processing=False)

    async def respond(system: str | None, text: str) -> str:
        return f"async answer to {text!r} with memory={system is not None}"

    result = await arun_turn(first, "I run marathons.", respond, config)
    assert result.answer == "async answer to 'I run marathons.' with memory=False"

    second = await user.get_or_create_session("second")
    later = Recorder()
    result = await arun_turn(second, "What sport do I do?", later, config)
    assert later.systems[0] is not None and "marathons" in later.systems[0]
    # A sync session handle is accepted too.
    result = await arun_turn(client.get_user("alice").get_session("second"), "hi", later)
    assert result.answer == "Noted."


def test_run_turn_rejects_an_async_responder(client: AgentMemoryClient) -> None:
    session = client.get_or_create_user("alice").get_or_create_session("s")

    async def respond(system: str | None, text: str) -> str:
        return "never"

    with pytest.raises(TypeError, match="arun_turn"):
        run_turn(session, "hello", respond)
    assert session.count_memories() == 0


def test_answer_text_and_runnable_detection() -> None:
    class WithText:
        text = "from .text"

    class WithContent:
        content = "from .content"

    assert answer_text("plain") == "plain"
    assert answer_text(WithText()) == "from .text"
    assert answer_text(WithContent()) == "from .content"
    assert answer_text({"output": "agent output"}) == "agent output"
    assert answer_text({"messages": ["first", "last"]}) == "last"
    assert answer_text(None) == ""
    assert not is_runnable(lambda s, t: "x")
    assert not is_runnable(Recorder())


def test_turn_works_without_langchain_installed() -> None:
    code = """
import sys
for name in ("langchain", "langchain_core", "langgraph"):
    sys.modules[name] = None  # makes any import of them fail
import memory_integrations.turn as turn
assert turn.TurnConfig().k == 5
try:
    import memory_integrations.langchain
except ImportError as exc:
    assert 'pip install "memory-integrations[langchain]"' in str(exc), exc
else:
    raise AssertionError("memory_integrations.langchain imported without langchain-core")
try:
    turn.with_agent_memory
except ImportError as exc:
    assert 'pip install "memory-integrations[langchain]"' in str(exc), exc
else:
    raise AssertionError("with_agent_memory resolved without langchain-core")
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
