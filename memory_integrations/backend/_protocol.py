"""The one protocol every backend (embedded engine, remote servers) implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from .._models import (
    AddMemoryResponse,
    ChatMessage,
    DeleteMemoryResponse,
    FactChange,
    FilterOptions,
    HealthPingResponse,
    ListMemoriesResponse,
    MemoryBlock,
    MemoryList,
    Prompt,
    PromptList,
    PromptVersion,
    PromptVersionList,
    RetentionConfig,
    Session,
    SessionList,
    UpdateMemoryResponse,
    User,
    UserList,
)


class Backend(Protocol):
    """Operations on users, sessions and memory blocks, as the client needs them."""

    def create_user(
        self, user_id: str, name: str, metadata: Mapping[str, Any] | None = ...
    ) -> User: ...
    def get_user(self, user_id: str) -> User: ...
    def list_users(
        self,
        name: str | None = ...,
        metadata: Mapping[str, str] | None = ...,
        limit: int = ...,
        offset: int = ...,
    ) -> UserList: ...
    def update_user(
        self, user_id: str, name: str | None = ..., metadata: Mapping[str, Any] | None = ...
    ) -> User: ...
    def delete_user(self, user_id: str) -> None: ...
    def modify_ttl(
        self,
        user_id: str,
        new_ttl: int,
        session_id: str | None = ...,
        block_ids: Sequence[str] | None = ...,
    ) -> dict[str, Any]: ...
    def create_session(
        self,
        user_id: str,
        session_id: str,
        annotations: Mapping[str, str] | None = ...,
        metadata: Mapping[str, Any] | None = ...,
        memory_blocks_ttl: int | None = ...,
    ) -> Session: ...
    def get_session(self, user_id: str, session_id: str) -> Session: ...
    def list_sessions(self, user_id: str, limit: int = ..., offset: int = ...) -> SessionList: ...
    def update_session(
        self,
        user_id: str,
        session_id: str,
        annotations: Mapping[str, str] | None = ...,
        metadata: Mapping[str, Any] | None = ...,
    ) -> Session: ...
    def end_session(self, user_id: str, session_id: str) -> Session: ...
    def delete_session(self, user_id: str, session_id: str) -> None: ...
    def add_memory(
        self,
        user_id: str,
        session_id: str,
        messages: Sequence[ChatMessage | Mapping[str, Any]] | None = ...,
        facts: Sequence[str] | None = ...,
        annotations: Mapping[str, str] | Sequence[Mapping[str, str] | None] | None = ...,
        async_processing: bool = ...,
        memory_block_ttl: int | None = ...,
        created_at: datetime | str | Sequence[datetime | str | None] | None = ...,
        metadata: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = ...,
        agent_id: str | None = ...,
        prompt_id: str | None = ...,
        prompt_vid: int | None = ...,
        context_required: bool | None = ...,
        manage_facts: bool | None = ...,
    ) -> AddMemoryResponse: ...
    def get_memory_block(self, user_id: str, session_id: str, block_id: str) -> MemoryBlock: ...
    def update_memory(
        self,
        user_id: str,
        session_id: str,
        block_id: str,
        message: ChatMessage | Mapping[str, Any] | None = ...,
        fact: str | None = ...,
        annotations: Mapping[str, str] | None = ...,
        memory_block_ttl: int | None = ...,
        async_processing: bool = ...,
        metadata: Mapping[str, Any] | None = ...,
        prompt_id: str | None = ...,
        prompt_vid: int | None = ...,
        context_required: bool | None = ...,
    ) -> UpdateMemoryResponse: ...
    def delete_memory(
        self, user_id: str, session_id: str, block_ids: Sequence[str] | str
    ) -> DeleteMemoryResponse: ...
    def list_memories(
        self,
        user_id: str,
        session_ids: Sequence[str] | str | None = ...,
        limit: int = ...,
        offset: int = ...,
        order_by: str = ...,
    ) -> ListMemoriesResponse: ...
    def search_memory(
        self,
        user_id: str,
        session_id: str | None,
        query: str | None = ...,
        filters: FilterOptions | Mapping[str, Any] | None = ...,
    ) -> MemoryList: ...
    def count_memories(
        self,
        user_id: str,
        session_id: str | None = ...,
        filters: FilterOptions | Mapping[str, Any] | None = ...,
    ) -> int: ...
    def fact_history(self, user_id: str, block_id: str | None = ...) -> list[FactChange]: ...
    def metrics(self) -> dict[str, float]: ...
    def create_prompt(
        self,
        prompt_id: str,
        prompt: str,
        description: str,
        annotations: Mapping[str, str] | None = ...,
    ) -> Prompt: ...
    def get_prompt(self, prompt_id: str, vid: int | None = ...) -> Prompt | PromptVersion: ...
    def list_prompts(self, limit: int = ..., offset: int = ...) -> PromptList: ...
    def update_prompt(
        self,
        prompt_id: str,
        prompt: str | None = ...,
        description: str | None = ...,
        annotations: Mapping[str, str] | None = ...,
    ) -> Prompt: ...
    def list_prompt_versions(
        self, prompt_id: str, limit: int = ..., offset: int = ...
    ) -> PromptVersionList: ...
    def archive_prompt(self, prompt_id: str, vid: int | str = ...) -> None: ...
    def purge_prompt(self, prompt_id: str, vid: int | str = ...) -> None: ...
    def get_retention(self) -> RetentionConfig: ...
    def set_retention(self, message_days: Any = ..., memory_days: Any = ...) -> RetentionConfig: ...
    def sweep(self) -> dict[str, int]: ...
    def wait_until_processed(self, timeout: float | None = ...) -> bool: ...
    def health(self, entity: str | None = ...) -> HealthPingResponse: ...
    def close(self, *, drain: bool = ..., timeout: float = ...) -> None: ...
