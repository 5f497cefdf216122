"""One phase of the restart test, run in a fresh interpreter.

``python _restart_app.py write DIR`` holds two conversations on ``DIR/memory.sqlite3`` and
saves the agent's workflow ``Context`` to ``DIR/ctx.json``; ``python _restart_app.py read
DIR`` resumes that context, starts new conversations, and prints (as JSON) what the LLM
was sent and what ``Memory`` read back.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core import Settings
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockFunctionCallingLLM, MockLLM
from llama_index.core.memory import Memory
from llama_index.core.workflow import Context, JsonSerializer

from memory_integrations.llama_index import AgentMemory, AgentMemoryBlock, AgentMemoryChatStore

prompts: list[list[dict[str, Any]]] = []


def respond(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
    prompts.append([{"role": m.role.value, "content": m.content} for m in messages])
    return ChatMessage(role=MessageRole.ASSISTANT, content=f"noted: {messages[-1].content}")


def memory_class(path: str, session_id: str) -> Memory:
    where: dict[str, Any] = {"user_id": "erin", "path": path, "embedder": "hashing"}
    return Memory.from_defaults(
        session_id=session_id,
        chat_store=AgentMemoryChatStore(**where),
        memory_blocks=[AgentMemoryBlock(**where)],
    )


async def write(folder: Path, path: str, agent: FunctionAgent) -> dict[str, Any]:
    memory = AgentMemory(user_id="erin", session_id="first", path=path, embedder="hashing")
    ctx = Context(agent)
    await agent.run(user_msg="My cat is called Miso.", memory=memory, ctx=ctx)
    (folder / "ctx.json").write_text(json.dumps(ctx.to_dict(serializer=JsonSerializer())))
    await memory_class(path, "memory-first").aput_messages(
        [
            ChatMessage(role=MessageRole.USER, content="I was born in Porto."),
            ChatMessage(role=MessageRole.ASSISTANT, content="Porto is lovely."),
        ]
    )
    return {"written": True}


async def read(folder: Path, path: str, agent: FunctionAgent) -> dict[str, Any]:
    data = json.loads((folder / "ctx.json").read_text())
    ctx = Context.from_dict(agent, data, serializer=JsonSerializer())
    await agent.run(user_msg="What did I just tell you?", ctx=ctx)
    out: dict[str, Any] = {"resumed": prompts[-1]}

    memory = AgentMemory(user_id="erin", session_id="second", path=path, embedder="hashing")
    await agent.run(user_msg="What is my cat called?", memory=memory)
    out["new_conversation"] = prompts[-1]

    out["memory_history"] = [m.content for m in await memory_class(path, "memory-first").aget_all()]
    later = memory_class(path, "memory-second")
    recalled = await later.aget(input="Where was I born?")
    out["memory_recall"] = recalled[0].content
    return out


async def main(phase: str, folder: Path) -> None:
    Settings.llm = MockLLM()
    Settings.embed_model = MockEmbedding(embed_dim=8)
    path = str(folder / "memory.sqlite3")
    agent = FunctionAgent(llm=MockFunctionCallingLLM(response_generator=respond), tools=[])
    result = await (write if phase == "write" else read)(folder, path, agent)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
