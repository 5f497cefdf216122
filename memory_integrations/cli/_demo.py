"""``memory-integrations demo``: two conversations, the second recalling the first."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..client import AgentMemoryClient
from ..turn import TurnConfig, run_turn

FIRST = [
    "Hi! I'm planning a trip to Lisbon in May.",
    "I'm vegetarian, so food matters a lot to me.",
    "Also, I always prefer a window seat on flights.",
]
SECOND = [
    "Can you suggest somewhere to eat on my trip?",
    "Which seat should I book on the flight?",
]


def offline_model(system: str | None, user_input: str) -> str:
    """A stand-in for an LLM that answers only from the memories it is given."""
    if not system:
        return "[offline model] Noted. I have no earlier memories about you yet."
    said = []
    for line in system.splitlines():
        if line.startswith("- user said: "):
            said.append(line.removeprefix("- user said: ").split(" / assistant replied:")[0])
        elif line.startswith("- "):
            said.append(line[2:])
    return "[offline model] From memory, you told me: " + " | ".join(f'"{s}"' for s in said[:2])


def run_demo(path: Path, echo: bool = True) -> list[str]:
    """Run the scripted demo and return the recalled lines of the second conversation."""
    recalled_second: list[str] = []
    with AgentMemoryClient(path) as client:
        user = client.get_or_create_user("demo-traveller", "Demo traveller")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for title, lines in (("Conversation 1", FIRST), ("Conversation 2", SECOND)):
            session = user.create_session(f"{title.lower().replace(' ', '-')}-{stamp}")
            click.secho(f"\n== {title} (session {session.session_id}) ==", bold=True)
            for text in lines:
                result = run_turn(session, text, offline_model, TurnConfig(k=3))
                click.echo(f"user:      {text}")
                for block in result.recalled:
                    line = f"recalled:  {block.text.splitlines()[0]}  (score {block.rel_score:.2f})"
                    click.secho(line, fg="cyan")
                    if title == "Conversation 2":
                        recalled_second.append(block.text)
                click.echo(f"assistant: {result.answer}")
            client.wait_until_processed(30)
            session.end()
        click.echo(f"\nMemory lives in {Path(client.database.location).resolve()}")
    return recalled_second
