"""``AgentMemoryRetriever``: RAG over agent memory with LlamaIndex."""

from __future__ import annotations

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import MetadataMode, NodeWithScore
from llama_index.core.tools import RetrieverTool

from memory_integrations import AgentMemoryClient
from memory_integrations.llama_index import AgentMemory, AgentMemoryRetriever
from tests.llama_index._fakes import PromptRecorder

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:inspect")

FACTS = [
    "The staging database lives on host db-staging-3.",
    "Deployments are frozen every Friday afternoon.",
    "The on-call rotation changes every Monday at 9am.",
]


@pytest.fixture
def memories(client: AgentMemoryClient) -> AgentMemoryClient:
    user = client.get_or_create_user("ops")
    user.get_or_create_session("runbook").add_memory(
        facts=FACTS, annotations={"team": "infra"}, async_processing=False
    )
    user.get_or_create_session("chat").add_memory(
        facts=["The staging database password rotates monthly."], async_processing=False
    )
    return client


def test_retrieve_returns_scored_nodes(memories: AgentMemoryClient) -> None:
    retriever = AgentMemoryRetriever(memories, user_id="ops", k=2)
    nodes = retriever.retrieve("Which host runs the staging database?")

    assert len(nodes) == 2
    assert all(isinstance(n, NodeWithScore) for n in nodes)
    assert nodes[0].node.get_content() == FACTS[0]
    scores = [n.score or 0.0 for n in nodes]
    assert scores == sorted(scores, reverse=True) and all(n.score for n in nodes)
    meta = nodes[0].node.metadata
    assert meta["session_id"] == "runbook" and meta["kind"] == "fact"
    assert meta["annotations"] == {"team": "infra"}
    block = memories.get_user("ops").get_session("runbook").get_memory_block(nodes[0].node.id_)
    assert block.fact == FACTS[0]
    # Only the creation time is shown to the LLM next to the text.
    llm_view = nodes[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert "created_at" in llm_view and "block_id" not in llm_view


def test_scope_threshold_and_filters(memories: AgentMemoryClient) -> None:
    query = "staging database"
    everywhere = AgentMemoryRetriever(client=memories, user_id="ops", k=10)
    assert {n.node.metadata["session_id"] for n in everywhere.retrieve(query)} == {
        "runbook",
        "chat",
    }
    one_session = AgentMemoryRetriever(
        client=memories, user_id="ops", scope="session", session_id="chat", k=10
    )
    assert [n.node.get_content() for n in one_session.retrieve(query)] == [
        "The staging database password rotates monthly."
    ]
    listed = AgentMemoryRetriever(client=memories, user_id="ops", scope=["runbook"], k=10)
    assert {n.node.metadata["session_id"] for n in listed.retrieve(query)} == {"runbook"}
    tagged = AgentMemoryRetriever(
        client=memories, user_id="ops", k=10, filters={"annotations": {"team": "infra"}}
    )
    assert len(tagged.retrieve(query)) == 3
    strict = AgentMemoryRetriever(client=memories, user_id="ops", threshold=0.99)
    assert strict.retrieve(query) == []


def test_unknown_user_and_blank_query(memories: AgentMemoryClient) -> None:
    assert AgentMemoryRetriever(client=memories, user_id="nobody").retrieve("host") == []
    assert AgentMemoryRetriever(client=memories, user_id="ops").retrieve("  ") == []
    with pytest.raises(ValueError, match="session_id"):
        AgentMemoryRetriever(client=memories, user_id="ops", scope="session")


async def test_async_retrieve(memories: AgentMemoryClient) -> None:
    retriever = AgentMemoryRetriever(client=memories, user_id="ops", k=1)
    nodes = await retriever.aretrieve("When are deployments frozen?")
    assert [n.node.get_content() for n in nodes] == [FACTS[1]]


def test_retriever_query_engine_answers_from_memory(memories: AgentMemoryClient) -> None:
    engine = RetrieverQueryEngine.from_args(
        AgentMemoryRetriever(client=memories, user_id="ops", k=1), llm=MockLLM()
    )
    response = engine.query("When does the on-call rotation change?")
    # MockLLM echoes its prompt: the retrieved memory reached the LLM as context.
    assert FACTS[2] in str(response)
    assert FACTS[0] not in str(response)
    assert [n.node.get_content() for n in response.source_nodes] == [FACTS[2]]


async def test_retriever_tool_in_an_agent(memories: AgentMemoryClient) -> None:
    tool = RetrieverTool.from_defaults(
        AgentMemoryRetriever(client=memories, user_id="ops", k=1),
        name="search_memory",
        description="Search what the team told you before.",
    )
    recorder = PromptRecorder(tool_call=("search_memory", {"input": "deployment freeze day"}))
    agent = FunctionAgent(llm=recorder.llm(), tools=[tool])
    answer = await agent.run(user_msg="When can't I deploy?")

    tool_messages = [m for m in recorder.last if m.role == MessageRole.TOOL]
    assert FACTS[1] in (tool_messages[0].content or "")
    assert FACTS[1] in str(answer)


async def test_rag_over_conversation_memory(
    client: AgentMemoryClient, recorder: PromptRecorder
) -> None:
    agent = FunctionAgent(llm=recorder.llm(), tools=[])
    memory = AgentMemory.from_client(client, user_id="dana", session_id="intro")
    await agent.run(user_msg="My cat Miso only eats salmon.", memory=memory)
    retriever = AgentMemoryRetriever(client=client, user_id="dana", k=1, filters={"role": "user"})
    nodes = retriever.retrieve("what does the cat eat")
    assert [n.node.get_content() for n in nodes] == ["My cat Miso only eats salmon."]
    assert nodes[0].node.metadata["role"] == "user"
    assert ChatMessage(role=MessageRole.USER, content="My cat Miso only eats salmon.") in (
        memory.get_all()
    )
