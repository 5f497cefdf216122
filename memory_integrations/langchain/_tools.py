"""``create_memory_tools``: save / search / forget tools for tool-calling agents."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Literal

import anyio.to_thread
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool, ToolException
from pydantic import BaseModel, Field

from .._models import MemoryBlock
from ..client import SessionResource, UserResource
from ..errors import NotFoundError, ValidationError
from ..turn import MemoryBinding, MemorySource, Scope, best_blocks, is_tool_message, one_source
from ..validation import (
    MAX_RELEVANT_K,
    check_annotations,
    check_int,
    check_list,
    check_threshold,
    normalise_add,
)

ToolName = Literal["save", "search", "forget"]

SAVE_DESCRIPTION = (
    "Save one fact to long-term memory so it can be recalled in later conversations. "
    "Use it when the user shares something worth remembering: a preference, a personal "
    "detail, a plan, a decision, or when they ask you to remember something. Save one "
    "self-contained fact per call, written so it makes sense on its own later (e.g. "
    "'The user is vegetarian.'). Do not save small talk, or secrets such as passwords."
)
SEARCH_DESCRIPTION = (
    "Search long-term memory for facts and earlier conversations relevant to a query. Use "
    "it before answering anything that may depend on what the user told you before "
    "(preferences, plans, personal details, earlier decisions). Returns the most relevant "
    "memories, best first, each with its id."
)
FORGET_DESCRIPTION = (
    "Delete one memory by its id. Use it when the user asks you to forget something, or "
    "when a memory is wrong or outdated (then save the corrected fact). Get the id from "
    "search_memory first. Only this user's memories can be deleted."
)


class SaveMemoryInput(BaseModel):
    """Arguments of ``save_memory``."""

    fact: str = Field(
        description="The fact to remember: one short, self-contained sentence, "
        "e.g. 'The user prefers window seats on flights.'"
    )


class SearchMemoryInput(BaseModel):
    """Arguments of ``search_memory``."""

    query: str = Field(description="What to look for, in natural language, e.g. 'the user's diet'.")


class ForgetMemoryInput(BaseModel):
    """Arguments of ``forget_memory``."""

    memory_id: str = Field(
        description="The id of the memory to delete, exactly as search_memory showed it."
    )


def format_memories(blocks: Iterable[MemoryBlock]) -> str:
    """The text a model sees for search results: one numbered line per memory."""
    lines = []
    for number, block in enumerate((b for b in blocks if b.text.strip()), start=1):
        when = (block.created_at or block.ingested_at).date().isoformat()
        text = " ".join(block.text.split())
        lines.append(f"{number}. [id: {block.block_id}] ({block.kind}, {when}) {text}")
    if not lines:
        return "No relevant memories found."
    return "Memories, most relevant first:\n" + "\n".join(lines)


class _MemoryTools:
    """The implementations behind the tools (sync; async runs them on a worker thread)."""

    def __init__(
        self,
        binding: MemoryBinding,
        *,
        scope: Scope,
        k: int,
        threshold: float | None,
        annotations: Mapping[str, str] | None,
    ) -> None:
        self.binding = binding
        self.scope = scope
        self.k = k
        self.threshold = threshold
        self.annotations = dict(annotations) if annotations else None

    def _filters(self, configurable: Mapping[str, Any]) -> dict[str, Any]:
        filters: dict[str, Any] = {
            "session_ids": [self.binding.resolve_session_id(configurable)]
            if self.scope == "session"
            else self.scope
        }
        if self.annotations:
            filters["annotations"] = self.annotations
        return filters

    def save(self, fact: str, config: RunnableConfig) -> str:
        configurable = config.get("configurable") or {}
        try:  # checked before the session is created, so a refused fact writes nothing
            normalise_add(facts=[fact], annotations=self.annotations)
        except ValidationError as exc:
            raise ToolException(f"Nothing saved: {exc}") from exc

        def add(session: SessionResource) -> str:
            response = session.add_memory(
                facts=[fact], annotations=self.annotations, async_processing=False
            )
            if not response.block_ids:  # over the per-block size limit
                raise ValidationError(str(response.rejected_details[0]["reason"]))
            return response.block_ids[0]

        try:
            block_id = self.binding.with_session(add, "", configurable, create=True)
        except ValidationError as exc:  # the model's input: it may try again
            raise ToolException(f"Nothing saved: {exc}") from exc
        return f"Saved memory {block_id}: {fact.strip()}"

    def search(self, query: str, config: RunnableConfig) -> str:
        if not query.strip():
            raise ToolException("The query is empty: say what to look for.")
        configurable = config.get("configurable") or {}
        filters = {**self._filters(configurable), "relevant_k": self.k}
        if self.threshold is not None:
            filters["threshold"] = self.threshold

        def run(user: UserResource) -> list[MemoryBlock]:
            def search(n: int) -> list[MemoryBlock]:
                return user.search_memory(query, {**filters, "relevant_k": n}).memory_blocks

            return best_blocks(search, self.k, lambda block: not is_tool_message(block))

        try:
            blocks: list[MemoryBlock] = self.binding.with_user(run, [], configurable, create=False)
        except ValidationError as exc:
            raise ToolException(f"Search failed: {exc}") from exc
        return format_memories(blocks)

    def forget(self, memory_id: str, config: RunnableConfig) -> str:
        configurable = config.get("configurable") or {}
        memory_id = memory_id.strip()
        filters = {**self._filters(configurable), "block_ids": [memory_id]}

        def delete(user: UserResource) -> str | None:
            found = user.search_memory(None, filters).memory_blocks
            if not found:
                return None
            block = found[0]
            user.get_session(block.session_id).delete_memory([block.block_id])
            return block.text

        try:
            text = self.binding.with_user(delete, None, configurable, create=False)
        except (ValidationError, NotFoundError) as exc:
            raise ToolException(f"Nothing deleted: {exc}") from exc
        if text is None:
            raise ToolException(
                f"No memory with id {memory_id!r}; nothing deleted. Use search_memory to "
                "find the id."
            )
        return f"Forgot memory {memory_id}: {' '.join(text.split())}"


def create_memory_tools(
    source: MemorySource | None = None,
    *,
    client: MemorySource | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    scope: Scope = "all",
    k: int = 5,
    threshold: float | None = None,
    annotations: Mapping[str, str] | None = None,
    include: Iterable[ToolName] = ("save", "search", "forget"),
) -> list[BaseTool]:
    """Tools a tool-calling agent uses to manage the user's long-term memory.

    Returns ``save_memory`` (store a fact in the session, searchable at once),
    ``search_memory`` (the ``k`` best memories within ``scope``: ``"all"`` sessions of the
    user, ``"session"`` or a list of ids) and ``forget_memory`` (delete a memory by id,
    only within the same scope of the same user). Each has a sync and an async
    implementation. ``annotations`` tag saved facts and restrict search and forget to
    blocks carrying them. Ids not fixed here are read from ``config["configurable"]``
    (``user_id``, ``session_id`` or ``thread_id``). Errors the model can fix come back to
    it as the tool result.
    """
    wanted = check_list(include, "include", "tool names")
    unknown = [name for name in wanted if name not in ("save", "search", "forget")]
    if unknown:
        raise ValidationError(
            f"unknown memory tool(s) {unknown}; choose from ['forget', 'save', 'search']"
        )
    k = check_int(k, "k", 1, MAX_RELEVANT_K)
    threshold = check_threshold(threshold)
    annotations = check_annotations(annotations) or None
    binding = MemoryBinding(
        one_source(source, client, "create_memory_tools"), user_id=user_id, session_id=session_id
    )
    impl = _MemoryTools(binding, scope=scope, k=k, threshold=threshold, annotations=annotations)

    def save_memory(fact: str, config: RunnableConfig) -> str:
        return impl.save(fact, config)

    async def asave_memory(fact: str, config: RunnableConfig) -> str:
        return await anyio.to_thread.run_sync(impl.save, fact, config)

    def search_memory(query: str, config: RunnableConfig) -> str:
        return impl.search(query, config)

    async def asearch_memory(query: str, config: RunnableConfig) -> str:
        return await anyio.to_thread.run_sync(impl.search, query, config)

    def forget_memory(memory_id: str, config: RunnableConfig) -> str:
        return impl.forget(memory_id, config)

    async def aforget_memory(memory_id: str, config: RunnableConfig) -> str:
        return await anyio.to_thread.run_sync(impl.forget, memory_id, config)

    specs: dict[str, tuple[Callable[..., str], Callable[..., Awaitable[str]], type[BaseModel], str]]
    specs = {
        "save": (save_memory, asave_memory, SaveMemoryInput, SAVE_DESCRIPTION),
        "search": (search_memory, asearch_memory, SearchMemoryInput, SEARCH_DESCRIPTION),
        "forget": (forget_memory, aforget_memory, ForgetMemoryInput, FORGET_DESCRIPTION),
    }
    tools: list[BaseTool] = []
    for name in wanted:
        func, coroutine, schema, description = specs[name]
        tools.append(
            StructuredTool.from_function(
                func=func,
                coroutine=coroutine,
                name=func.__name__,
                description=description,
                args_schema=schema,
                handle_tool_error=True,
                handle_validation_error=True,  # bad arguments go back to the model
            )
        )
    return tools


__all__ = [
    "ForgetMemoryInput",
    "SaveMemoryInput",
    "SearchMemoryInput",
    "create_memory_tools",
    "format_memories",
]
