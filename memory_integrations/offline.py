"""Models for offline use (notebooks, docs, tests): a real model from the environment, or an
offline stand-in.

Set ``MEMORY_INTEGRATIONS_CHAT_MODEL`` to ``"<provider>:<model>"`` (``"openai:gpt-4o-mini"``,
``"anthropic:claude-3-5-haiku-latest"``, ``"ollama:llama3.1"``, ...) and install the
provider's package to run the notebooks against that model:

* :func:`chat_model_from_env`: a LangChain chat model (``init_chat_model(spec)``);
* :func:`llama_index_llm_from_env`: a LlamaIndex LLM (``llama-index-llms-<provider>``);
* :func:`crewai_llm_from_env`: a CrewAI ``LLM`` (``"<provider>/<model>"``).

Without it (or when the provider package is missing, with a warning) each returns an
**offline model**: a small deterministic stand-in, labelled ``[offline model]`` in every reply
and in its ``repr``, that needs no network and no key. It is not a language model. It reads
what a real model would read — the memories injected into its system prompt, the results of
tools it called, the conversation so far — and answers by repeating the memories it was
given, so the memory flow of a notebook stays real and visible. With tools bound it follows
two rules: a first-person statement ("I prefer aisle seats.") calls the save tool, a request
or question calls the search tool.

The framework classes are built on first use, so this module imports without any framework;
each factory needs only its own framework installed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crewai.llms.base_llm import BaseLLM
    from langchain_core.language_models import BaseChatModel
    from llama_index.core.llms import LLM

__all__ = [
    "ENV_VAR",
    "OFFLINE_LABEL",
    "OfflinePrompt",
    "ToolCall",
    "ToolSpec",
    "chat_model_from_env",
    "crewai_llm_from_env",
    "is_offline",
    "llama_index_llm_from_env",
    "offline_chat_model",
    "offline_crewai_class",
    "offline_crewai_llm",
    "offline_llama_index_llm",
    "offline_reply",
    "offline_respond",
    "plan_tool_calls",
    "remembered",
]

ENV_VAR = "MEMORY_INTEGRATIONS_CHAT_MODEL"
"""The environment variable naming the real model: ``"<provider>:<model>"``."""

OFFLINE_LABEL = "[offline model]"
"""Every offline reply starts with this label."""

OFFLINE_NAME = "offline-model"
OFFLINE_REPR_NOTE = f"answers from the memories it is given; set {ENV_VAR} for a real model"

# --- the offline logic, framework-free --------------------------------------------------------

_HEADER = re.compile(
    r"^\W*(relevant (?:memories|facts)\b.*|memories, most relevant first:?"
    r"|context information is below\.?"
    r"|here are the relevant documents for the context:?)$",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+\.)\s+(.*\S)\s*$")
_RULER = re.compile(r"^-{4,}$")
_END_OF_CONTEXT = re.compile(r"^(instruction|query|question):", re.IGNORECASE)
_METADATA = re.compile(r"^(role|created_at|session_id|kind|similarity|annotations):\s*(.*)$")
_NODE_METADATA = re.compile(r"^\s*(role|created_at):", re.MULTILINE)
_SCORE = re.compile(r"^\((?:score|relevance)=[-\d.]+\)\s*")
_TOOL_ROW = re.compile(r"^\[id: [^\]]*\]\s*(?:\([^)]*\)\s*)?")
_EXCHANGE = re.compile(r"^user said:\s*(.*?)(?:\s+/\s+assistant replied:.*)?$", re.DOTALL)
_ROLE = re.compile(r"^(user|assistant|system|tool|ai|human)\s*:\s*(.*)$", re.IGNORECASE | re.DOTALL)
_SAVED = re.compile(r"^Saved memory \S+:\s*(.*)$")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_FIRST_PERSON = re.compile(r"\b(I|I'm|I've|I'd|I'll|my|My|me|we|We|our|Our)\b")
_REQUEST_WORDS = frozenset(
    "what where which who when why how can could should would will is are do does did "
    "suggest recommend plan remind tell find pick choose book draft list give help "
    "summarize summarise".split()
)
_MAX_MEMORIES = 3


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: its name and the name of its text argument."""

    name: str
    argument: str


@dataclass(frozen=True)
class ToolCall:
    """One tool call the offline model decided to make (``call_id`` is deterministic)."""

    name: str
    arguments: dict[str, str]
    call_id: str = field(default="", compare=False)


@dataclass
class OfflinePrompt:
    """What the offline model reads from a framework's messages.

    ``user``: the latest user turn (or task); ``context``: the system text, where injected
    memories appear; ``tool_results``: outputs of the tools called since that user turn;
    ``earlier_turns``: user turns before it in this conversation; ``tools``: what it may call.
    """

    user: str
    context: str = ""
    tool_results: list[str] = field(default_factory=list)
    earlier_turns: int = 0
    tools: list[ToolSpec] = field(default_factory=list)


def _memory_item(raw: str) -> str | None:
    """One remembered item from a rendered memory line (``None`` for assistant/tool lines)."""
    text = _TOOL_ROW.sub("", _SCORE.sub("", raw.strip())).strip()
    exchange = _EXCHANGE.match(text)
    if exchange:
        text = exchange.group(1).strip()
    elif text.startswith("assistant replied:"):
        return None
    else:
        role = _ROLE.match(text)
        if role:
            if role.group(1).lower() not in ("user", "human"):
                return None
            text = role.group(2).strip()
    if OFFLINE_LABEL in text:  # an offline reply that was stored: keep what it noted
        text = text.replace(OFFLINE_LABEL, "").strip()
        if not text.startswith("Noted:"):
            return None
        text = text.removeprefix("Noted:").split(" I also remember:")[0].strip().strip('"')
    return text or None


def remembered(text: str) -> list[str]:
    """The memories rendered into ``text``, in the order given (best first), deduplicated.

    Reads the formats the adapters produce: the turn helper's system message
    (``- user said: ... / assistant replied: ...``, ``- user: ...``, ``- <fact>``), CrewAI's
    ``Relevant memories:`` (``- (score=0.61) ...``), the memory tools' search results
    (``1. [id: ...] (fact, 2025-05-01) ...``) and LlamaIndex's ``Context information is
    below.`` block. Assistant and tool lines are skipped: the model repeats what the user
    told it, not what it said itself.
    """
    items: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        header = _HEADER.match(lines[i].strip())
        i += 1
        if not header:
            continue
        if not header.group(1).lower().startswith(("relevant ", "memories,")):
            i = _read_context_block(lines, i, items)
        else:
            i = _read_bullets(lines, i, items)
    unique: list[str] = []
    for item in items:
        if item not in unique:
            unique.append(item)
    return unique


def _read_bullets(lines: list[str], i: int, items: list[str]) -> int:
    started = False
    while i < len(lines):
        line = lines[i]
        bullet = _BULLET.match(line)
        if bullet:
            started = True
            item = _memory_item(bullet.group(1))
            if item:
                items.append(item)
        elif started and line.startswith("  ") and line.strip():
            pass  # continuation details (CrewAI categories / metadata)
        elif started or line.strip():
            break
        i += 1
    return i


def _read_context_block(lines: list[str], i: int, items: list[str]) -> int:
    if i < len(lines) and _RULER.match(lines[i].strip()):
        i += 1
    role, in_text = "user", False  # each node: metadata lines, a blank line, its text
    while i < len(lines) and not _RULER.match(lines[i].strip()):
        line = lines[i].strip()
        if _END_OF_CONTEXT.match(line):
            return i
        i += 1
        metadata = None if in_text else _METADATA.match(line)
        if metadata:
            if metadata.group(1) == "role":
                role = metadata.group(2).strip().lower()
        elif line:
            in_text = True
            item = _memory_item(line) if role in ("user", "human") else None
            if item:
                items.append(item)
        elif in_text:  # the blank line after a node's text: the next node begins
            role, in_text = "user", False
    return i + 1


def _saved(results: Sequence[str]) -> list[str]:
    saved = []
    for result in results:
        match = _SAVED.match(result.strip())
        if match:
            saved.append(match.group(1).strip())
    return saved


def asks(text: str) -> bool:
    """Whether ``text`` asks something (a question or a request) rather than telling."""
    stripped = text.strip()
    if stripped.endswith("?"):
        return True
    words = re.findall(r"[A-Za-z']+", stripped.lower())
    return bool(words) and words[0] in _REQUEST_WORDS


def statements(text: str) -> list[str]:
    """The first-person statements in ``text`` worth remembering (not questions, not "Hi!")."""
    found = []
    for sentence in _SENTENCE.split(text.strip()):
        sentence = sentence.strip()
        if (
            sentence
            and not asks(sentence)
            and _FIRST_PERSON.search(sentence)
            and len(sentence.split()) >= 3
        ):
            found.append(sentence)
    return found


def plan_tool_calls(prompt: OfflinePrompt) -> list[ToolCall]:
    """The tool calls for a new user turn: save each statement, search for a request.

    Once tools have answered (``prompt.tool_results``) there is nothing more to call.
    """
    if prompt.tool_results or not prompt.tools:
        return []
    save = next((t for t in prompt.tools if re.search("save|remember", t.name, re.I)), None)
    search = next(
        (t for t in prompt.tools if re.search("search|retriev|recall|lookup", t.name, re.I)), None
    )
    planned: list[tuple[str, dict[str, str]]] = []
    if save is not None:
        for sentence in statements(prompt.user):
            planned.append((save.name, {save.argument: f"The user said: {sentence}"}))
    if search is not None and asks(prompt.user):
        query = " ".join(s for s in _SENTENCE.split(prompt.user.strip()) if asks(s))
        planned.append((search.name, {search.argument: query or prompt.user.strip()}))
    calls = []
    for index, (name, arguments) in enumerate(planned):
        # The same call in another turn gets another id; the same turn, the same one.
        key = json.dumps([prompt.user, prompt.earlier_turns, index, name, arguments])
        call_id = "offline-" + hashlib.sha256(key.encode()).hexdigest()[:12]
        calls.append(ToolCall(name, arguments, call_id))
    return calls


def offline_reply(prompt: OfflinePrompt) -> str:
    """The offline model's answer: what it noted or saved, and the memories it was given."""
    memories = remembered(prompt.context)
    for result in prompt.tool_results:
        memories.extend(m for m in _tool_memories(result) if m not in memories)
    saved = _saved(prompt.tool_results)
    shown = " | ".join(memories[:_MAX_MEMORIES])
    parts = [OFFLINE_LABEL]
    if saved:
        parts.append("Saved to memory: " + " | ".join(saved))
    if asks(prompt.user):
        parts.append(f"From memory: {shown}" if shown else "I have nothing in memory about that.")
    else:
        if not saved:
            quoted = re.findall(r'"([^"]+)"', prompt.user)
            parts.append(f'Noted: "{quoted[0] if quoted else prompt.user.strip()}"')
        if shown:
            parts.append(f"I also remember: {shown}")
    if prompt.earlier_turns:
        plural = "s" if prompt.earlier_turns != 1 else ""
        parts.append(
            f"(I can see {prompt.earlier_turns} earlier turn{plural} of this conversation.)"
        )
    return " ".join(parts)


def _tool_memories(result: str) -> list[str]:
    """The memories in a tool result: a search result, or retrieved nodes without a header."""
    found = remembered(result)
    if not found and _NODE_METADATA.search(result):
        found = remembered("Context information is below.\n" + result)
    return found


def offline_respond(prompt: OfflinePrompt) -> str | list[ToolCall]:
    """The offline model's whole decision: tool calls for a new turn, else a reply."""
    return plan_tool_calls(prompt) or offline_reply(prompt)


def is_offline(model: object) -> bool:
    """Whether ``model`` is one of this module's offline models."""
    return bool(getattr(model, "is_offline_model", False))


def _provider_and_model(spec: str, separators: str = ":") -> tuple[str, str]:
    for separator in separators:
        provider, found, model = spec.partition(separator)
        if found and provider and model:
            return provider.strip().lower(), model.strip()
    raise ValueError(
        f'{ENV_VAR}={spec!r} should look like "<provider>:<model>", e.g. "openai:gpt-4o-mini"'
    )


def _fall_back(spec: str, why: str) -> None:
    warnings.warn(
        f"{ENV_VAR}={spec!r}: {why}; using the offline model instead",
        RuntimeWarning,
        stacklevel=3,
    )


def _spec(env: Mapping[str, str] | None) -> str:
    return (os.environ if env is None else env).get(ENV_VAR, "").strip()


# --- LangChain --------------------------------------------------------------------------------


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part if isinstance(part, str) else str(part.get("text", ""))
            for part in content
            if isinstance(part, str) or (isinstance(part, Mapping) and part.get("type") == "text")
        )
    return "" if content is None else str(content)


def _first_argument(parameters: Mapping[str, Any]) -> str:
    required = parameters.get("required") or []
    properties = list((parameters.get("properties") or {}).keys())
    return str(required[0] if required else properties[0] if properties else "input")


@functools.cache
def _langchain_class() -> type[BaseChatModel]:
    from langchain_core.callbacks import CallbackManagerForLLMRun
    from langchain_core.language_models import BaseChatModel, LanguageModelInput
    from langchain_core.messages import (
        AIMessage,
        BaseMessage,
        HumanMessage,
        SystemMessage,
        ToolMessage,
    )
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_core.runnables import Runnable
    from langchain_core.utils.function_calling import convert_to_openai_tool

    def read(messages: Sequence[BaseMessage], tools: Sequence[Mapping[str, Any]]) -> OfflinePrompt:
        humans = [i for i, m in enumerate(messages) if isinstance(m, HumanMessage)]
        last = humans[-1] if humans else -1
        return OfflinePrompt(
            user=_text(messages[last].content) if humans else "",
            context="\n".join(_text(m.content) for m in messages if isinstance(m, SystemMessage)),
            tool_results=[
                _text(m.content) for m in messages[last + 1 :] if isinstance(m, ToolMessage)
            ],
            earlier_turns=max(len(humans) - 1, 0),
            tools=[
                ToolSpec(
                    str(t["function"]["name"]),
                    _first_argument(t["function"].get("parameters") or {}),
                )
                for t in tools
            ],
        )

    class OfflineChatModel(BaseChatModel):
        """A deterministic offline stand-in for a LangChain chat model (see the module doc).

        Supports ``bind_tools``: it calls the save tool for statements and the search tool
        for requests, then answers from the tool results.
        """

        is_offline_model: bool = True

        @property
        def _llm_type(self) -> str:
            return OFFLINE_NAME

        def __repr__(self) -> str:
            return f"OfflineChatModel({OFFLINE_LABEL} {OFFLINE_REPR_NOTE})"

        __str__ = __repr__

        def _generate(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: CallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> ChatResult:
            decision = offline_respond(read(messages, kwargs.get("tools") or []))
            if isinstance(decision, str):
                message = AIMessage(content=decision)
            else:
                message = AIMessage(
                    content="",
                    tool_calls=[
                        {"name": c.name, "args": dict(c.arguments), "id": c.call_id}
                        for c in decision
                    ],
                )
            return ChatResult(generations=[ChatGeneration(message=message)])

        def bind_tools(
            self,
            tools: Sequence[Mapping[str, Any] | type | Callable[..., Any] | Any],
            *,
            tool_choice: str | None = None,
            **kwargs: Any,
        ) -> Runnable[LanguageModelInput, AIMessage]:
            """Bind tools (any form LangChain accepts); ``tool_choice`` is ignored."""
            formatted = [convert_to_openai_tool(tool) for tool in tools]
            return self.bind(tools=formatted, **kwargs)

    return OfflineChatModel


def offline_chat_model() -> BaseChatModel:
    """The offline LangChain chat model (``OfflineChatModel``)."""
    return _langchain_class()()


def chat_model_from_env(env: Mapping[str, str] | None = None) -> BaseChatModel:
    """A LangChain chat model: ``init_chat_model($MEMORY_INTEGRATIONS_CHAT_MODEL)``, else offline.

    Falls back to the offline model, with a ``RuntimeWarning``, when the provider's
    package is not installed. ``env`` replaces ``os.environ`` (tests).
    """
    spec = _spec(env)
    if not spec:
        return offline_chat_model()
    from langchain.chat_models import init_chat_model

    try:
        return init_chat_model(spec)
    except ImportError as exc:
        _fall_back(spec, f"its provider package is not installed ({exc})")
        return offline_chat_model()


# --- LlamaIndex -------------------------------------------------------------------------------

_LLAMA_INDEX_PROVIDERS: dict[str, tuple[str, str]] = {
    "openai": ("llama_index.llms.openai", "OpenAI"),
    "anthropic": ("llama_index.llms.anthropic", "Anthropic"),
    "ollama": ("llama_index.llms.ollama", "Ollama"),
    "mistralai": ("llama_index.llms.mistralai", "MistralAI"),
    "groq": ("llama_index.llms.groq", "Groq"),
    "google_genai": ("llama_index.llms.google_genai", "GoogleGenAI"),
}


@functools.cache
def _llama_index_class() -> type[LLM]:
    from llama_index.core.base.llms.types import (
        ChatMessage,
        CompletionResponse,
        LLMMetadata,
        MessageRole,
        ToolCallBlock,
    )
    from llama_index.core.llms import MockFunctionCallingLLM
    from llama_index.core.llms.callbacks import llm_completion_callback

    def tool_spec(tool: Any) -> ToolSpec:
        metadata = tool.metadata
        schema = metadata.fn_schema
        fields = list(schema.model_fields) if schema is not None else []
        required = [
            n for n in fields if schema is not None and schema.model_fields[n].is_required()
        ]
        return ToolSpec(str(metadata.name), (required or fields or ["input"])[0])

    def read(messages: Sequence[ChatMessage], tools: Sequence[Any]) -> OfflinePrompt:
        users = [i for i, m in enumerate(messages) if m.role == MessageRole.USER]
        last = users[-1] if users else -1
        return OfflinePrompt(
            user=(messages[last].content or "") if users else "",
            context="\n".join(m.content or "" for m in messages if m.role == MessageRole.SYSTEM),
            tool_results=[
                m.content or "" for m in messages[last + 1 :] if m.role == MessageRole.TOOL
            ],
            earlier_turns=max(len(users) - 1, 0),
            tools=[tool_spec(t) for t in tools],
        )

    def respond(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        decision = offline_respond(read(messages, kwargs.get("tools") or []))
        if isinstance(decision, str):
            return ChatMessage(role=MessageRole.ASSISTANT, content=decision)
        return ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[
                ToolCallBlock(tool_call_id=c.call_id, tool_name=c.name, tool_kwargs=c.arguments)
                for c in decision
            ],
        )

    class OfflineLLM(MockFunctionCallingLLM):
        """A deterministic offline stand-in for a LlamaIndex function-calling LLM.

        A real ``FunctionCallingLLM`` (LlamaIndex's mock, driven by the offline logic of
        this module): it works in ``FunctionAgent``, chat engines and query engines.
        """

        is_offline_model: bool = True

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(response_generator=respond, is_chat_model=True, **kwargs)

        @classmethod
        def class_name(cls) -> str:
            return "OfflineLLM"

        def __repr__(self) -> str:
            return f"OfflineLLM({OFFLINE_LABEL} {OFFLINE_REPR_NOTE})"

        __str__ = __repr__

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(
                model_name=OFFLINE_NAME, is_function_calling_model=True, is_chat_model=True
            )

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            """Answer a completion prompt as if it were the user's turn (no context)."""
            return CompletionResponse(text=offline_reply(OfflinePrompt(user=prompt)))

        @llm_completion_callback()
        async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> Any:
            return CompletionResponse(text=offline_reply(OfflinePrompt(user=prompt)))

    return OfflineLLM


def offline_llama_index_llm() -> LLM:
    """The offline LlamaIndex LLM (``OfflineLLM``, a ``FunctionCallingLLM``)."""
    return _llama_index_class()()


def llama_index_llm_from_env(env: Mapping[str, str] | None = None) -> LLM:
    """A LlamaIndex LLM for ``$MEMORY_INTEGRATIONS_CHAT_MODEL``, else the offline one.

    Known providers: openai, anthropic, ollama, mistralai, groq, google_genai (each needs
    its ``llama-index-llms-<provider>`` package; without it this warns and falls back).
    """
    spec = _spec(env)
    if not spec:
        return offline_llama_index_llm()
    provider, model = _provider_and_model(spec)
    if provider not in _LLAMA_INDEX_PROVIDERS:
        raise ValueError(
            f"{ENV_VAR}={spec!r}: no LlamaIndex LLM known for provider {provider!r}; use one "
            f"of {sorted(_LLAMA_INDEX_PROVIDERS)}"
        )
    module_name, class_name = _LLAMA_INDEX_PROVIDERS[provider]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        package = "llama-index-llms-" + provider.replace("_", "-")
        _fall_back(spec, f"LlamaIndex needs {package!r} for it (pip install {package})")
        return offline_llama_index_llm()
    llm: LLM = getattr(module, class_name)(model=model)
    return llm


# --- CrewAI -----------------------------------------------------------------------------------

_TASK = re.compile(r"Current Task:\s*(.*?)(?:\n\s*\n|\nThis is the expected criteria|$)", re.S)


def _crew_text(messages: str | Sequence[Mapping[str, Any]]) -> str:
    if isinstance(messages, str):
        return messages
    return "\n".join(_text(m.get("content")) for m in messages)


@functools.cache
def _crewai_class() -> type[BaseLLM]:
    from crewai.llms.base_llm import BaseLLM

    def read(messages: str | Sequence[Mapping[str, Any]]) -> OfflinePrompt:
        text = _crew_text(messages)
        task = _TASK.search(text)
        users = (
            []
            if isinstance(messages, str)
            else [_text(m.get("content")) for m in messages if m.get("role") == "user"]
        )
        user = task.group(1).strip() if task else (users[-1] if users else text)
        return OfflinePrompt(user=user, context=text)

    class OfflineCrewLLM(BaseLLM):
        """A deterministic offline stand-in for a CrewAI LLM.

        It answers every task at once (``Final Answer:``) from the memories CrewAI put in
        the task prompt; it never calls tools. CrewAI's structured memory-analysis calls
        (``response_model``) get neutral decisions: root scope, no categories, keep every
        record, so ``CrewMemory(analysis=False)`` needs no model at all.
        """

        is_offline_model: bool = True

        def __init__(self, **data: Any) -> None:
            data.setdefault("model", OFFLINE_NAME)
            super().__init__(**data)

        def __repr__(self) -> str:
            return f"OfflineCrewLLM({OFFLINE_LABEL} {OFFLINE_REPR_NOTE})"

        __str__ = __repr__

        def call(
            self,
            messages: Any,
            tools: Any = None,
            callbacks: Any = None,
            available_functions: Any = None,
            from_task: Any = None,
            from_agent: Any = None,
            response_model: Any = None,
        ) -> Any:
            if response_model is not None:
                return _neutral_analysis(response_model, _crew_text(messages))
            reply = offline_reply(read(messages))
            if "Final Answer" not in _crew_text(messages):
                return reply  # native function-calling prompt: plain text is the answer
            return f"Thought: I can answer from what I was given.\nFinal Answer: {reply}"

        def supports_function_calling(self) -> bool:
            """True: CrewAI then asks for structured output, which gets the neutral answer
            (instead of parsing free text as JSON and logging a failure)."""
            return True

        def get_input_tokens_count(
            self, messages: Any, tools: Any = None, response_model: Any = None
        ) -> int:
            """Four characters per token (CrewAI's estimate, without its warning)."""
            return max(1, len(_crew_text(messages)) // 4)

        async def acall(
            self,
            messages: Any,
            tools: Any = None,
            callbacks: Any = None,
            available_functions: Any = None,
            from_task: Any = None,
            from_agent: Any = None,
            response_model: Any = None,
        ) -> Any:
            return self.call(messages, response_model=response_model)

    return OfflineCrewLLM


_EXTRACT = re.compile(r"Content:\n(.*?)\n\nExtract memory statements", re.S)


def _neutral_analysis(response_model: type[Any], prompt: str) -> Any:
    """What an LLM with no opinion answers CrewAI's memory analysis: keep everything as is."""
    from crewai.memory.analyze import ConsolidationPlan, ExtractedMemories, MemoryAnalysis

    if issubclass(response_model, ConsolidationPlan):
        return ConsolidationPlan(actions=[], insert_new=True)
    if issubclass(response_model, MemoryAnalysis):
        return MemoryAnalysis(suggested_scope="/")
    if issubclass(response_model, ExtractedMemories):
        content = _EXTRACT.search(prompt)
        text = (content.group(1) if content else prompt).strip()
        return ExtractedMemories(memories=[text] if text else [])
    return response_model()


def offline_crewai_class() -> type[BaseLLM]:
    """The class of the offline CrewAI LLM (``OfflineCrewLLM``, a ``BaseLLM``)."""
    return _crewai_class()


def offline_crewai_llm() -> BaseLLM:
    """The offline CrewAI LLM (``OfflineCrewLLM``, a ``BaseLLM``)."""
    return _crewai_class()(model=OFFLINE_NAME)


def crewai_llm_from_env(env: Mapping[str, str] | None = None) -> BaseLLM:
    """A CrewAI ``LLM("<provider>/<model>")`` for ``$MEMORY_INTEGRATIONS_CHAT_MODEL``, else offline.

    Falls back to the offline model, with a ``RuntimeWarning``, when CrewAI cannot load
    the provider (its package is not installed).
    """
    spec = _spec(env)
    if not spec:
        return offline_crewai_llm()
    provider, model = _provider_and_model(spec, ":/")
    from crewai import LLM as CrewLLM

    try:
        llm: BaseLLM = CrewLLM(model=f"{provider}/{model}")
    except ImportError as exc:
        _fall_back(spec, f"CrewAI cannot load this provider ({exc})")
        return offline_crewai_llm()
    return llm
