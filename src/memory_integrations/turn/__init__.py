"""The search → inject → persist turn, shared by every adapter, demo and notebook.

A turn: (1) search the user's memory for what is relevant to the new input, (2) render the
recalled blocks into a system message within a token budget, (3) call the model, (4)
persist the exchange so later turns and later conversations can recall it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._models import ChatMessage, MemoryBlock
from ..client import AsyncSessionResource, SessionResource

DEFAULT_TEMPLATE = (
    "Relevant memories about this user from earlier conversations (most relevant first):\n"
    "{memories}\n"
    "Use them when they help; do not mention this list."
)

Scope = Literal["session", "all"] | list[str]


def estimate_tokens(text: str) -> int:
    """A model-agnostic token estimate (~4 characters per token, at least one per word)."""
    return max(len(text) // 4, len(text.split()))


def format_block(block: MemoryBlock) -> str:
    """One bullet line for a recalled block."""
    if block.fact is not None:
        return f"- {block.fact}"
    message = block.message
    assert message is not None
    if message.role is not None:
        who = message.name or message.role.value
        return f"- {who}: {message.content}"
    parts = []
    if message.user_content:
        parts.append(f"user said: {message.user_content}")
    if message.assistant_content:
        parts.append(f"assistant replied: {message.assistant_content}")
    return "- " + " / ".join(parts)


def render_memories(
    blocks: Sequence[MemoryBlock],
    *,
    template: str = DEFAULT_TEMPLATE,
    token_budget: int = 1000,
    token_counter: Callable[[str], int] = estimate_tokens,
) -> str | None:
    """Render blocks (best first) into ``template``; lines past the budget are dropped."""
    if "{memories}" not in template:
        raise ValueError("the template must contain a {memories} placeholder")
    lines: list[str] = []
    used = token_counter(template.replace("{memories}", ""))
    for block in blocks:
        line = format_block(block)
        cost = token_counter(line)
        if used + cost > token_budget:
            break
        lines.append(line)
        used += cost
    if not lines:
        return None
    return template.replace("{memories}", "\n".join(lines))


@dataclass
class TurnConfig:
    """How a turn searches and renders memory."""

    scope: Scope = "all"
    k: int = 5
    threshold: float | None = None
    template: str = DEFAULT_TEMPLATE
    token_budget: int = 1000
    annotations: dict[str, str] | None = None
    persist: bool = True
    persist_annotations: dict[str, str] = field(default_factory=dict)

    def filters(self) -> dict[str, Any]:
        filters: dict[str, Any] = {"relevant_k": self.k}
        if self.scope != "session":
            filters["session_ids"] = self.scope
        if self.threshold is not None:
            filters["threshold"] = self.threshold
        if self.annotations:
            filters["annotations"] = self.annotations
        return filters


@dataclass
class TurnResult:
    """What a turn recalled, the system message it built, and the answer."""

    recalled: list[MemoryBlock]
    system_message: str | None
    answer: str
    stored_block_ids: list[str]


def recall(session: SessionResource, user_input: str, config: TurnConfig) -> list[MemoryBlock]:
    return session.search_memory(query=user_input, filters=config.filters()).memory_blocks


def persist(
    session: SessionResource, user_input: str, answer: str, config: TurnConfig
) -> list[str]:
    if not config.persist:
        return []
    response = session.add_memory(
        messages=[ChatMessage(user_content=user_input, assistant_content=answer)],
        annotations=config.persist_annotations or None,
    )
    return response.block_ids


def run_turn(
    session: SessionResource,
    user_input: str,
    respond: Callable[[str | None, str], str],
    config: TurnConfig | None = None,
) -> TurnResult:
    """Search → inject → call ``respond(system_message, user_input)`` → persist."""
    config = config or TurnConfig()
    recalled = recall(session, user_input, config)
    system = render_memories(recalled, template=config.template, token_budget=config.token_budget)
    answer = respond(system, user_input)
    stored = persist(session, user_input, answer, config)
    return TurnResult(recalled, system, answer, stored)


async def arun_turn(
    session: AsyncSessionResource,
    user_input: str,
    respond: Callable[[str | None, str], Any],
    config: TurnConfig | None = None,
) -> TurnResult:
    """Async :func:`run_turn` (the same code, on a worker thread); ``respond`` may be async."""
    import inspect

    import anyio.from_thread
    import anyio.to_thread

    def respond_from_thread(system: str | None, text: str) -> str:
        if inspect.iscoroutinefunction(respond):
            return str(anyio.from_thread.run(respond, system, text))
        return str(respond(system, text))

    return await anyio.to_thread.run_sync(
        run_turn, session._sync, user_input, respond_from_thread, config
    )


__all__ = [
    "DEFAULT_TEMPLATE",
    "TurnConfig",
    "TurnResult",
    "arun_turn",
    "estimate_tokens",
    "format_block",
    "persist",
    "recall",
    "render_memories",
    "run_turn",
]
