"""Request bodies and (documentation-only) response shapes of both wire APIs.

Responses are rendered by hand for speed; these models describe them in the OpenAPI
document at ``/docs`` (and let schemathesis check conformance).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BIG = 2**31 - 1


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- Couchbase tree: requests -----------------------------------------------------------


class CreateUserBody(_Body):
    user_id: str
    name: str
    metadata: dict[str, Any] | None = None


class UpdateUserBody(_Body):
    name: str | None = None
    metadata: dict[str, Any] | None = None


class ModifyTtlBody(_Body):
    new_ttl: int = Field(ge=0, le=BIG)
    session_id: str | None = None
    block_ids: list[str] | None = None


class CreateSessionBody(_Body):
    session_id: str
    annotations: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None
    memory_blocks_ttl: int | None = Field(default=None, ge=0, le=BIG)


class UpdateSessionBody(_Body):
    annotations: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None


class WireMessage(_Body):
    """An exchange (``user_content``/``assistant_content``), or, as an extension, one
    role-tagged message (``role`` + ``content``, optional ``name``)."""

    user_content: str | None = ""
    assistant_content: str | None = ""
    role: Literal["user", "assistant", "system", "tool"] | None = None
    content: str | None = None
    name: str | None = None


class AddMemoryBody(_Body):
    """``annotations``, ``created_at`` and ``metadata`` may also be lists (one per item:
    an extension)."""

    messages: list[WireMessage] | None = None
    facts: list[str] | None = None
    annotations: dict[str, str] | list[dict[str, str] | None] | None = None
    async_processing: bool = True
    memory_block_ttl: int | None = Field(default=None, ge=0, le=BIG)
    context_required: bool | None = None
    created_at: str | list[str | None] | None = None
    prompt_id: str | None = None
    prompt_vid: int | None = Field(default=None, ge=0, le=BIG)
    metadata: dict[str, Any] | list[dict[str, Any] | None] | None = Field(
        default=None, description="extension: one object for every item, or one per item"
    )
    agent_id: str | None = Field(default=None, description="extension")
    manage_facts: bool | None = Field(
        default=None, description="extension: keep the user's facts current (docs/extraction.md)"
    )


class FactChangeOut(BaseModel):
    block_id: str
    action: str
    old_text: str | None = None
    new_text: str | None = None
    source_block_id: str | None = None
    actor: str
    at: str


class FactHistoryOut(BaseModel):
    changes: list[FactChangeOut]


class UpdateMemoryBody(_Body):
    async_processing: bool = True
    message: WireMessage | None = None
    fact: str | None = None
    annotations: dict[str, str] | None = None
    memory_block_ttl: int | None = Field(default=None, ge=0, le=BIG)
    context_required: bool | None = None
    prompt_id: str | None = None
    prompt_vid: int | None = Field(default=None, ge=0, le=BIG)
    metadata: dict[str, Any] | None = Field(default=None, description="extension")


class SearchBody(_Body):
    query: str | None = None
    filters: dict[str, Any] | None = None


class CountBody(_Body):
    filters: dict[str, Any] | None = None


class DeleteMemoryBody(_Body):
    block_ids: list[str] | Literal["all"]


class CreatePromptBody(_Body):
    prompt_id: str
    prompt: str
    description: str
    annotations: dict[str, str] | None = None


class UpdatePromptBody(_Body):
    prompt: str | None = None
    description: str | None = None
    annotations: dict[str, str] | None = None


class RetentionBody(_Body):
    """Partial update: omitted keys keep their value; ``null`` disables a category."""

    message_days: int | None = Field(default=None, ge=0, le=BIG)
    memory_days: int | None = Field(default=None, ge=0, le=BIG)


# --- Couchbase tree: responses ----------------------------------------------------------


class ErrorOut(BaseModel):
    error: str
    message: str
    details: dict[str, Any] = {}
    request_id: str


class UserOut(BaseModel):
    id: str
    name: str
    sessions: list[str] | None = None
    metadata: dict[str, Any] | None = None
    created_at: str | None = None


class UserListOut(BaseModel):
    users: list[UserOut]
    count: int
    total: int | None = None
    limit: int | None = Field(default=None, ge=1, le=500)
    offset: int | None = Field(default=None, ge=0)


class SessionOut(BaseModel):
    user_id: str
    session_id: str
    start_time: str
    end_time: str | None = None
    annotations: dict[str, str] | None = None
    metadata: dict[str, Any] | None = None
    blocks_ttl: int | None = None


class SessionListOut(BaseModel):
    sessions: list[SessionOut]
    count: int
    total: int | None = None
    limit: int | None = None
    offset: int | None = None


class MessageOut(BaseModel):
    user_content: str = ""
    assistant_content: str = ""
    role: str | None = None
    content: str | None = None
    name: str | None = None


class MemoryBlockOut(BaseModel):
    block_id: str
    user_id: str
    session_id: str
    message: MessageOut | None = None
    fact: str | None = None
    ingested_at: str
    created_at: str | None = None
    last_queued_at: str | None = None
    fail_count: int | None = 0
    annotations: dict[str, str] | None = None
    summary: str | None = None
    contexts: list[str] | None = None
    status: Literal["processing", "ready", "extraction_failed"] = "ready"
    rel_score: float | None = None
    prompt_id: str | None = None
    prompt_vid: int | None = None
    metadata: dict[str, Any] | None = None
    agent_id: str | None = None
    updated_at: str | None = None
    expires_at: str | None = None
    similarity: float | None = None


class MemoryListOut(BaseModel):
    memory_blocks: list[MemoryBlockOut]
    count: int


class ListMemoriesOut(MemoryListOut):
    total: int
    limit: int = Field(ge=1, le=200)
    offset: int


class AddMemoryOut(BaseModel):
    message: str
    accepted_count: int
    block_ids: list[str]
    rejected_count: int = 0
    rejected_details: list[dict[str, Any]] | None = None


class UpdateMemoryOut(BaseModel):
    message: str
    block: MemoryBlockOut | None = None


class DeleteMemoryOut(BaseModel):
    deleted_count: int
    failed_count: int = 0
    failed_block_ids: list[str] = []


class CountOut(BaseModel):
    count: int


class TtlOut(BaseModel):
    message: str
    updated_count: int


class PromptOut(BaseModel):
    prompt_id: str
    prompt: str
    description: str
    annotations: dict[str, str] | None = None
    current_vid: int
    version_count: int
    last_updated_at: str
    archived: bool = False


class PromptVersionOut(BaseModel):
    prompt_id: str
    vid: int
    prompt: str
    updated_at: str
    archived: bool = False
    is_current: bool = False


class PromptListOut(BaseModel):
    prompts: list[PromptOut]
    count: int
    total: int
    limit: int = Field(ge=1, le=1000)
    offset: int


class PromptVersionListOut(BaseModel):
    versions: list[PromptVersionOut]
    count: int
    total: int
    limit: int = Field(ge=1, le=1000)
    offset: int


class RetentionOut(BaseModel):
    message_days: int | None = None
    memory_days: int | None = None
    updated_at: str | None = None


class HealthOut(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    version: str
    uptime_seconds: float | None = None
    implementation: str | None = None


class ComponentOut(BaseModel):
    status: str
    model: str | None = None
    retry_after: float | None = None


class ModelsHealthOut(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"] | None = None
    embedding: ComponentOut
    llm: ComponentOut


class ProcessorOut(BaseModel):
    status: str
    message: str | None = None
    queue: dict[str, int] | None = None
    statistics: dict[str, int | bool] | None = None
    loop_running: bool | None = None
    dispatcher_alive: bool | None = None


class StatusOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: str


# --- SAP tree ---------------------------------------------------------------------------


class SapMemoryBody(_Body):
    agentID: str = Field(min_length=1)
    invokerID: str = Field(min_length=1)
    content: str
    metadata: dict[str, Any] | str | None = None


class SapMemoryPatch(_Body):
    content: str | None = None
    metadata: dict[str, Any] | str | None = None


class SapSearchBody(_Body):
    agentID: str = Field(min_length=1)
    invokerID: str = Field(min_length=1)
    query: str = Field(min_length=1, max_length=5000)
    threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    top: int = Field(default=10, ge=1, le=50)


class SapMessageBody(_Body):
    agentID: str = Field(min_length=1)
    invokerID: str = Field(min_length=1)
    messageGroup: str = Field(min_length=1)
    role: str
    content: str
    metadata: dict[str, Any] | str | None = None


class SapRetentionPatch(_Body):
    messageDays: int | None = Field(default=None, ge=0, le=BIG)
    memoryDays: int | None = Field(default=None, ge=0, le=BIG)
    usageLogDays: int | None = Field(default=None, ge=0, le=BIG)


class SapMemoryOut(BaseModel):
    id: str
    agentID: str
    invokerID: str
    content: str
    metadata: str | None = None
    createTimestamp: str | None = None
    updateTimestamp: str | None = None


class SapSearchResultOut(SapMemoryOut):
    similarity: float


class SapMessageOut(BaseModel):
    id: str
    agentID: str
    invokerID: str
    messageGroup: str
    role: Literal["USER", "ASSISTANT", "SYSTEM", "TOOL"]
    content: str
    metadata: str | None = None
    createTimestamp: str | None = None


class SapMemoryCollection(BaseModel):
    value: list[SapMemoryOut]
    count: int | None = Field(default=None, alias="@odata.count")


class SapMessageCollection(BaseModel):
    value: list[SapMessageOut]
    count: int | None = Field(default=None, alias="@odata.count")


class SapSearchCollection(BaseModel):
    value: list[SapSearchResultOut]


class SapRetentionOut(BaseModel):
    id: int
    messageDays: int | None = None
    memoryDays: int | None = None
    usageLogDays: int | None = None
    createTimestamp: str | None = None
    updateTimestamp: str | None = None


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int
