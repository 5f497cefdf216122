"""The search → inject → persist turn, shared by every adapter, demo and notebook.

A turn: (1) search the user's memory for what is relevant to the new input, (2) render the
recalled blocks into a system message within a token budget, (3) call the model, (4)
persist the exchange so later turns and later conversations can recall it.

:func:`run_turn` / :func:`arun_turn` do all four with any model: a plain function
``respond(system_message, user_input) -> str`` or a LangChain chat model / runnable.
Adapters that own the model call themselves use the two halves, :func:`prepare_turn` and
:func:`persist`. This package is framework-free: the LangChain wrapper and middleware live
in :mod:`memory_integrations.langchain`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .._models import ChatMessage, MemoryBlock, MessageRole
from ..client import AsyncSessionResource, SessionResource
from ..validation import MAX_RELEVANT_K
from ._binding import MemoryBinding, MemorySource, one_source

DEFAULT_TEMPLATE = (
    "Relevant memories about this user from earlier conversations (most relevant first):\n"
    "{memories}\n"
    "Use them when they help; do not mention this list."
)

Scope = Literal["session", "all"] | list[str]
"""Where a turn searches: the current session, every session of the user, or these ids."""

Responder = Callable[[str | None, str], Any]
"""``respond(system_message, user_input)``: returns the answer (or an awaitable of it)."""


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
    """Render blocks (best first) into ``template``; lines past the budget are dropped.

    Returns ``None`` when nothing fits (or nothing was recalled), so no empty system
    message is sent.
    """
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
    """How a turn searches, renders and persists memory.

    ``scope``: ``"all"`` sessions of the user (default), ``"session"`` or a list of session
    ids; ``k`` / ``threshold`` / ``annotations``: search limits and filters; ``template`` /
    ``token_budget`` / ``token_counter``: how recalled memories become a system message;
    ``persist`` / ``persist_annotations`` / ``async_processing``: how the exchange is stored
    (``async_processing=False`` makes it searchable before the turn returns).
    """

    scope: Scope = "all"
    k: int = 5
    threshold: float | None = None
    template: str = DEFAULT_TEMPLATE
    token_budget: int = 1000
    annotations: dict[str, str] | None = None
    persist: bool = True
    persist_annotations: dict[str, str] = field(default_factory=dict)
    token_counter: Callable[[str], int] = estimate_tokens
    async_processing: bool = True

    def filters(self) -> dict[str, Any]:
        """The ``search_memory`` filters of this configuration."""
        filters: dict[str, Any] = {"relevant_k": self.k}
        if self.scope != "session":
            filters["session_ids"] = self.scope
        if self.threshold is not None:
            filters["threshold"] = self.threshold
        if self.annotations:
            filters["annotations"] = self.annotations
        return filters


@dataclass
class TurnPrompt:
    """The first half of a turn: what was recalled and the system message built from it."""

    recalled: list[MemoryBlock]
    system_message: str | None


@dataclass
class TurnResult:
    """What a turn recalled, the system message it built, and the answer."""

    recalled: list[MemoryBlock]
    system_message: str | None
    answer: str
    stored_block_ids: list[str]
    output: Any = None
    """The model's raw output (an ``AIMessage`` for LangChain chat models)."""


def is_tool_message(block: MemoryBlock) -> bool:
    """Whether a block is a tool's result: chat plumbing, never recalled as a memory."""
    message = block.message
    return message is not None and message.role == MessageRole.TOOL


def best_blocks(
    search: Callable[[int], list[MemoryBlock]],
    k: int,
    keep: Callable[[MemoryBlock], bool],
    spare: int = 0,
) -> list[MemoryBlock]:
    """The ``k`` best blocks ``search(n)`` finds that ``keep`` accepts, best first.

    ``search(n)`` returns at most ``n`` hits; the first search asks for ``spare`` more than
    ``k``, and when too many hits are dropped it is repeated wider (up to the engine's cap),
    so dropped blocks never crowd out the ones that count.
    """
    want = min(k + spare, MAX_RELEVANT_K)
    while True:
        found = search(want)
        kept = [block for block in found if keep(block)]
        if len(kept) >= k or len(found) < want or want >= MAX_RELEVANT_K:
            return kept[:k]
        want = min(want * 2 + k, MAX_RELEVANT_K)


def recall(session: SessionResource, user_input: str, config: TurnConfig) -> list[MemoryBlock]:
    """Search memory for ``user_input`` as ``config`` says (nothing for a blank input).

    Tool results are chat plumbing and are skipped.
    """
    if not user_input.strip():
        return []
    filters = config.filters()

    def search(n: int) -> list[MemoryBlock]:
        wanted = {**filters, "relevant_k": n}
        return session.search_memory(query=user_input, filters=wanted).memory_blocks

    return best_blocks(search, config.k, lambda block: not is_tool_message(block))


def prepare_turn(
    session: SessionResource, user_input: str, config: TurnConfig | None = None
) -> TurnPrompt:
    """Steps 1 and 2 of a turn: recall, then render the system message."""
    config = config or TurnConfig()
    recalled = recall(session, user_input, config)
    system = render_memories(
        recalled,
        template=config.template,
        token_budget=config.token_budget,
        token_counter=config.token_counter,
    )
    return TurnPrompt(recalled, system)


def persist(
    session: SessionResource, user_input: str, answer: str, config: TurnConfig
) -> list[str]:
    """Step 4 of a turn: store the exchange as one message block; returns its ids."""
    if not config.persist or not (user_input.strip() or answer.strip()):
        return []
    response = session.add_memory(
        messages=[ChatMessage(user_content=user_input, assistant_content=answer)],
        annotations=config.persist_annotations or None,
        async_processing=config.async_processing,
    )
    return response.block_ids


def answer_text(output: Any) -> str:
    """The answer text of a model output: a str, a message (``.text``), or an agent dict."""
    if isinstance(output, str):
        return output
    if isinstance(output, Mapping):
        for key in ("output", "answer", "text", "content"):
            if key in output:
                return answer_text(output[key])
        messages = output.get("messages")
        if isinstance(messages, Sequence) and messages:
            return answer_text(messages[-1])
        return str(output)
    text = getattr(output, "text", None)
    if isinstance(text, str):
        return str(text)
    if callable(text):  # older message classes expose text() as a method
        text = text()
        if isinstance(text, str):
            return text
    content = getattr(output, "content", None)
    if isinstance(content, str):
        return content
    return "" if output is None else str(output)


def is_runnable(respond: object) -> bool:
    """Whether ``respond`` is a LangChain chat model / runnable rather than a function."""
    return (
        not inspect.isroutine(respond)
        and callable(getattr(respond, "invoke", None))
        and callable(getattr(respond, "ainvoke", None))
    )


def turn_messages(system: str | None, user_input: str) -> list[dict[str, str]]:
    """What a chat model / runnable is called with for one turn: the memory system message
    (if any), then the user's input, as role/content dicts (chat models of every framework
    read them; LangChain converts them to its message classes)."""
    messages = [] if system is None else [{"role": "system", "content": system}]
    messages.append({"role": "user", "content": user_input})
    return messages


def _respond(respond: Any, system: str | None, user_input: str) -> Any:
    if is_runnable(respond):
        return respond.invoke(turn_messages(system, user_input))
    output = respond(system, user_input)
    if inspect.isawaitable(output):
        if inspect.iscoroutine(output):
            output.close()
        raise TypeError("respond returned an awaitable: use arun_turn() for async models")
    return output


def run_turn(
    session: SessionResource,
    user_input: str,
    respond: Responder | Any,
    config: TurnConfig | None = None,
) -> TurnResult:
    """Search → inject → call the model → persist.

    ``respond`` is either ``respond(system_message, user_input) -> str`` or a LangChain chat
    model / runnable, which is invoked with ``[SystemMessage(memories), HumanMessage(input)]``
    (no system message when nothing was recalled).
    """
    config = config or TurnConfig()
    prompt = prepare_turn(session, user_input, config)
    output = _respond(respond, prompt.system_message, user_input)
    answer = answer_text(output)
    stored = persist(session, user_input, answer, config)
    return TurnResult(prompt.recalled, prompt.system_message, answer, stored, output)


async def arun_turn(
    session: AsyncSessionResource | SessionResource,
    user_input: str,
    respond: Responder | Any,
    config: TurnConfig | None = None,
) -> TurnResult:
    """Async :func:`run_turn`: the same code on a worker thread.

    ``respond`` may be sync or async; a LangChain runnable is called with ``ainvoke`` on
    the event loop.
    """
    import anyio.from_thread
    import anyio.to_thread

    sync_session = session._sync if isinstance(session, AsyncSessionResource) else session

    async def call_async(system: str | None, text: str) -> Any:
        if is_runnable(respond):
            runnable: Any = respond
            return await runnable.ainvoke(turn_messages(system, text))
        output = respond(system, text)
        if inspect.isawaitable(output):
            output = await output
        return output

    def respond_from_thread(system: str | None, text: str) -> Any:
        return anyio.from_thread.run(call_async, system, text)

    return await anyio.to_thread.run_sync(
        run_turn, sync_session, user_input, respond_from_thread, config
    )


_LANGCHAIN_NAMES = frozenset({"with_agent_memory", "AgentMemoryRunnable", "AgentMemoryMiddleware"})


def __getattr__(name: str) -> Any:
    # Kept for code written against earlier versions: these LangChain pieces live in
    # ``memory_integrations.langchain`` (this package itself is framework-free).
    if name not in _LANGCHAIN_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module("memory_integrations.langchain"), name)


__all__ = [
    "DEFAULT_TEMPLATE",
    "MemoryBinding",
    "MemorySource",
    "Responder",
    "Scope",
    "TurnConfig",
    "TurnPrompt",
    "TurnResult",
    "answer_text",
    "arun_turn",
    "best_blocks",
    "estimate_tokens",
    "format_block",
    "is_runnable",
    "is_tool_message",
    "one_source",
    "persist",
    "prepare_turn",
    "recall",
    "render_memories",
    "run_turn",
    "with_agent_memory",
]
