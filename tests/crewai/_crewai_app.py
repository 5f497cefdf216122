"""A small offline crew for the CrewAI adapter tests; also runnable as a script.

``python _crewai_app.py <db> <embedder> <crew_name>`` runs the second kickoff in a fresh
interpreter and prints the prompts each agent's LLM received as JSON.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

OFFLINE_ENV = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_TESTING": "true",
}
for _name, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_name, _value)

from crewai.agent import Agent  # noqa: E402
from crewai.crew import Crew  # noqa: E402
from crewai.llms.base_llm import BaseLLM  # noqa: E402
from crewai.task import Task  # noqa: E402
from pydantic import PrivateAttr  # noqa: E402


class ScriptedLLM(BaseLLM):
    """An offline chat model: answers by keyword and records every prompt it gets."""

    answers: dict[str, str] = {}
    _prompts: list[str] = PrivateAttr(default_factory=list)

    @property
    def prompts(self) -> list[str]:
        return self._prompts

    def call(
        self,
        messages: Any,
        tools: Any = None,
        callbacks: Any = None,
        available_functions: Any = None,
        from_task: Any = None,
        from_agent: Any = None,
        response_model: Any = None,
    ) -> str:
        if isinstance(messages, str):
            text = messages
        else:
            text = "\n".join(str(m.get("content") or "") for m in messages)
        self._prompts.append(text)
        answer = next((a for key, a in self.answers.items() if key in text), "Nothing to add.")
        return f"Thought: I can answer directly.\nFinal Answer: {answer}"


@contextmanager
def network_guard() -> Iterator[list[Any]]:
    """Refuse (and record) every IP connection attempt while active."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guard(real: Callable[..., Any]) -> Callable[..., Any]:
        def connect(self: socket.socket, address: Any) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6):
                attempts.append(address)
                raise OSError(f"network disabled in tests: {address!r}")
            return real(self, address)

        return connect

    socket.socket.connect = guard(real_connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = guard(real_connect_ex)  # type: ignore[method-assign]
    try:
        yield attempts
    finally:
        socket.socket.connect = real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = real_connect_ex  # type: ignore[method-assign]


FIRST_RUN = {
    "researcher": (
        "Find out which notebook colour the customer Alice prefers.",
        "Alice prefers teal notebooks.",
    ),
    "writer": (
        "Note where the customer Alice wants her notebooks delivered.",
        "Alice wants deliveries to the Lisbon office.",
    ),
}
SECOND_RUN = {
    "researcher": "Remind the team which notebook colour Alice prefers and where deliveries go.",
    "writer": "Draft a note to Alice about her notebook colour and delivery office.",
}


def build_crew(
    memory: Any, crew_name: str, tasks: dict[str, str], answers: dict[str, str]
) -> tuple[Crew, dict[str, ScriptedLLM]]:
    """Two agents (a researcher on the crew memory, a writer with private memory)."""
    llms = {role: ScriptedLLM(model="scripted", answers=answers) for role in tasks}
    researcher = Agent(
        role="Researcher",
        goal="Find facts about customers",
        backstory="Careful.",
        llm=llms["researcher"],
        allow_delegation=False,
    )
    writer = Agent(
        role="Writer",
        goal="Write notes to customers",
        backstory="Friendly.",
        llm=llms["writer"],
        allow_delegation=False,
        memory=memory.for_agent("writer"),
    )
    crew_tasks = [
        Task(description=tasks["researcher"], expected_output="One sentence.", agent=researcher),
        Task(description=tasks["writer"], expected_output="One sentence.", agent=writer),
    ]
    crew = Crew(name=crew_name, agents=[researcher, writer], tasks=crew_tasks, memory=memory)
    return crew, llms


def second_kickoff(db: str, embedder: str, crew_name: str) -> dict[str, Any]:
    from memory_integrations import AgentMemoryClient
    from memory_integrations.crewai import agent_memory_for_crew

    with network_guard() as attempts, AgentMemoryClient(db, embedder=embedder) as client:
        memory = agent_memory_for_crew(client, crew_name=crew_name, analysis=False)
        crew, llms = build_crew(
            memory, crew_name, SECOND_RUN, {"Remind": "Teal it is.", "Draft": "Dear Alice."}
        )
        crew.kickoff()
        memory.close()
        return {
            "prompts": {role: llm.prompts for role, llm in llms.items()},
            "network": [repr(a) for a in attempts],
        }


if __name__ == "__main__":
    print(json.dumps(second_kickoff(*sys.argv[1:4])))
