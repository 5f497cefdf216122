"""The turn with real LangChain runnables: run_turn / arun_turn and with_agent_memory."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core", reason='needs "memory-integrations[langchain]"')

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

from memory_integrations import AgentMemoryClient, AsyncAgentMemoryClient, ChatMessage
from memory_integrations.turn import (
    AgentMemoryRunnable,
    TurnConfig,
    arun_turn,
    run_turn,
    with_agent_memory,
)
from tests.langchain._fakes import ScriptedChatModel

SYNC = TurnConfig(async_processing=False)


@pytest.fixture
def remembered(client: AgentMemoryClient) -> AgentMemoryClient:
    """Alice told the assistant about her diet in an earlier conversation."""
    earlier = client.get_or_create_user("alice").get_or_create_session("earlier")
    earlier.add_memory(
        messages=[ChatMessage(user_content="I'm vegetarian.", assistant_content="Noted!")],
        async_processing=False,
    )
    return client


def test_run_turn_with_a_chat_model(remembered: AgentMemoryClient) -> None:
    session = remembered.get_user("alice").get_or_create_session("today")
    model = ScriptedChatModel(script=["Try the falafel."])
    result = run_turn(session, "What should I eat for dinner as a vegetarian?", model, SYNC)
    prompt = model.last_prompt
    assert isinstance(prompt[0], SystemMessage)
    assert "user said: I'm vegetarian." in prompt[0].text
    assert prompt[1] == HumanMessage("What should I eat for dinner as a vegetarian?")
    assert result.answer == "Try the falafel."
    assert isinstance(result.output, AIMessage)
    # The exchange is stored and a later turn recalls it.
    later = ScriptedChatModel()
    run_turn(session, "Remind me what dinner you suggested", later)
    assert "assistant replied: Try the falafel." in later.system_text(later.last_prompt)


def test_run_turn_with_a_chain(remembered: AgentMemoryClient) -> None:
    session = remembered.get_user("alice").get_or_create_session("today")
    model = ScriptedChatModel(script=["chain answer"])
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Be brief."), MessagesPlaceholder("turn")]
    )
    chain = (lambda messages: {"turn": messages}) | prompt | model | StrOutputParser()
    result = run_turn(session, "vegetarian lunch ideas?", chain, SYNC)
    assert result.answer == "chain answer" and result.output == "chain answer"
    assert "I'm vegetarian." in model.system_text(model.last_prompt)


def test_no_system_message_when_nothing_is_recalled(client: AgentMemoryClient) -> None:
    session = client.get_or_create_user("new-user").get_or_create_session("s")
    model = ScriptedChatModel()
    run_turn(session, "Hello there", model)
    assert model.last_prompt == [HumanMessage("Hello there")]


async def test_arun_turn_uses_the_async_model_path(remembered: AgentMemoryClient) -> None:
    aclient = AsyncAgentMemoryClient.from_client(remembered)
    session = await (await aclient.get_user("alice")).get_or_create_session("async")
    model = ScriptedChatModel(script=["async falafel"])
    result = await arun_turn(session, "vegetarian dinner?", model, SYNC)
    assert result.answer == "async falafel"
    assert "I'm vegetarian." in model.system_text(model.last_prompt)


def test_with_agent_memory_on_a_string_and_a_message_list(remembered: AgentMemoryClient) -> None:
    model = ScriptedChatModel(script=["one", "two"])
    chat = with_agent_memory(
        model, remembered, user_id="alice", session_id="wrapped", turn_config=SYNC
    )
    assert isinstance(chat, AgentMemoryRunnable)
    out = chat.invoke("Any vegetarian restaurant nearby?")
    assert out.text == "one"
    assert "I'm vegetarian." in model.system_text(model.last_prompt)

    # An existing system message is kept, with the memories merged into it (one message).
    chat.invoke([SystemMessage("You are terse."), HumanMessage("vegetarian snacks?")])
    prompt = model.last_prompt
    assert [type(m) for m in prompt] == [SystemMessage, HumanMessage]
    assert prompt[0].text.startswith("You are terse.\n\n")
    assert "I'm vegetarian." in prompt[0].text
    # Both exchanges were persisted in the wrapped session.
    stored = remembered.get_user("alice").get_session("wrapped").list_memories().memory_blocks
    assert [b.message.assistant_content for b in stored if b.message] == ["one", "two"]


def test_with_agent_memory_dict_input_and_ids_from_config(
    remembered: AgentMemoryClient,
) -> None:
    model = ScriptedChatModel(script=["dict answer", "no memory answer"])
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Known facts:\n{memories}"), ("human", "{question}")]
    )
    chain = with_agent_memory(
        prompt | model | StrOutputParser(),
        remembered,
        input_key="question",
        turn_config=SYNC,
    )
    config = {"configurable": {"user_id": "alice", "session_id": "dict-chat"}}
    assert chain.invoke({"question": "vegetarian pasta?"}, config) == "dict answer"
    assert "I'm vegetarian." in model.system_text(model.last_prompt)
    blocks = remembered.get_user("alice").get_session("dict-chat").list_memories().memory_blocks
    assert blocks[0].message == ChatMessage(
        user_content="vegetarian pasta?", assistant_content="dict answer"
    )
    # Another user: nothing recalled, the template still renders.
    other = {"configurable": {"user_id": "bob", "session_id": "b"}}
    assert chain.invoke({"question": "vegetarian pasta?"}, other) == "no memory answer"
    assert model.system_text(model.last_prompt) == "Known facts:\n"
    with pytest.raises(KeyError, match="input_key"):
        chain.invoke({"q": "missing key"}, config)
    with pytest.raises(ValueError, match="no user id"):
        chain.invoke({"question": "who am I?"})


async def test_with_agent_memory_async(remembered: AgentMemoryClient) -> None:
    model = ScriptedChatModel(script=["async wrapped"])
    aclient = AsyncAgentMemoryClient.from_client(remembered)
    chat = with_agent_memory(
        model, aclient, user_id="alice", session_id="async-wrapped", turn_config=SYNC
    )
    out = await chat.ainvoke("vegetarian breakfast?")
    assert out.text == "async wrapped"
    assert "I'm vegetarian." in model.system_text(model.last_prompt)
    session = remembered.get_user("alice").get_session("async-wrapped")
    assert session.count_memories() == 1
    # Batch goes through the same turn.
    outs = chat.batch(["vegetarian soup?", "vegetarian dessert?"])
    assert [o.text for o in outs] == ["OK.", "OK."]
    assert session.count_memories() == 3
