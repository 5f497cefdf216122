"""The chat histories of one memory user, kept as message blocks (sync; shared by adapters).

A chat key (LlamaIndex's ``session_id`` / ``chat_store_key``) is a memory session of the
user. Its history is the session's message blocks that carry the ``chat_status``
annotation, oldest first; ``active`` ones form the short-term history, ``archived`` ones
were flushed out of it and stay searchable. Messages are embedded before a write returns,
so a history is readable and searchable as soon as it is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.llms.types import ChatMessage as LIChatMessage

from .._models import ChatMessage, MemoryBlock, User
from ..client import AgentMemoryClient, SessionResource, UserResource
from ..errors import NotFoundError
from ..validation import MAX_ITEMS_PER_CALL, normalise_add
from ._checks import check_key, check_messages
from ._messages import (
    ACTIVE,
    ARCHIVED,
    STATUS_KEY,
    block_fingerprint,
    dump,
    fingerprint,
    from_block,
    to_engine,
)

_MAX_PER_CALL = MAX_ITEMS_PER_CALL  # the engine's limit of items per add_memory call


@dataclass(frozen=True)
class _Chunk:
    """The arguments of one ``add_memory`` call (at most ``_MAX_PER_CALL`` messages)."""

    messages: list[ChatMessage]
    annotations: dict[str, str]
    metadata: list[dict[str, Any]]


class ChatLog:
    """Read and write the chat histories (one per session) of ``user_id``."""

    def __init__(
        self,
        client: AgentMemoryClient,
        user_id: str,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        self.client = client
        self.user_id = user_id
        self.annotations = dict(annotations or {})
        # A handle without a read; the user is created on the first write.
        self.user = UserResource(client, User(id=user_id, name=user_id))

    # --- sessions -------------------------------------------------------------------------

    def session(self, key: str, *, create: bool) -> SessionResource | None:
        """The session behind ``key``; None when it does not exist and ``create`` is False."""
        check_key(key)
        try:
            return self.user.get_session(key)
        except NotFoundError:
            if not create:
                return None
        try:
            return self.user.get_or_create_session(key)
        except NotFoundError:  # the user does not exist yet
            self.client.get_or_create_user(self.user_id)
            return self.user.get_or_create_session(key)

    def keys(self) -> list[str]:
        """Sessions of the user that hold at least one chat message."""
        keys: list[str] = []
        offset = 0
        while True:
            try:
                page = self.user.list_sessions(limit=50, offset=offset)
            except NotFoundError:
                return []
            for session in page.sessions:
                if self.count(session.session_id, None):
                    keys.append(session.session_id)
            offset += len(page.sessions)
            if len(page.sessions) < 50:
                return keys

    # --- reads ----------------------------------------------------------------------------

    def blocks(self, key: str, status: str | None) -> list[MemoryBlock]:
        """The chat blocks of ``key`` with ``status`` (None = both), oldest first."""
        session = self.session(key, create=False)
        if session is None:
            return []
        filters: dict[str, Any] = {"kind": "message"}
        if status is not None:
            filters["annotations"] = {STATUS_KEY: status}
        found = session.search_memory(None, filters).memory_blocks
        if status is None:
            found = [b for b in found if STATUS_KEY in b.annotations]
        return found

    def messages(self, key: str, status: str | None) -> list[LIChatMessage]:
        return [m for block in self.blocks(key, status) for m in from_block(block)]

    def count(self, key: str, status: str | None) -> int:
        session = self.session(key, create=False)
        if session is None:
            return 0
        statuses = [ACTIVE, ARCHIVED] if status is None else [status]
        return sum(
            session.count_memories({"kind": "message", "annotations": {STATUS_KEY: s}})
            for s in statuses
        )

    def contains(self, key: str, print_: str) -> bool:
        """Whether ``key`` already holds a message with this fingerprint."""
        session = self.session(key, create=False)
        if session is None:
            return False
        hits = session.search_memory(None, {"kind": "message", "metadata_contains": print_})
        return hits.count > 0

    # --- writes ---------------------------------------------------------------------------

    def add(self, key: str, messages: Sequence[LIChatMessage], status: str) -> list[str]:
        """Append messages (one block each) with ``status``; returns the block ids.

        All or nothing for invalid input: every message is checked before anything
        (the user, the session, a block) is written.
        """
        check_key(key)
        return self._write(key, self._prepare(messages, status))

    def add_many(self, batches: Mapping[str, Sequence[LIChatMessage]], status: str) -> None:
        """:meth:`add` for several keys; every key and message is checked first."""
        prepared = {check_key(key): self._prepare(batch, status) for key, batch in batches.items()}
        for key, chunks in prepared.items():
            self._write(key, chunks)

    def _prepare(self, messages: object, status: str) -> list[_Chunk]:
        """The ``add_memory`` calls for ``messages``, checked as the engine checks them."""
        converted = [to_engine(message) for message in check_messages(messages)]
        notes = {**self.annotations, STATUS_KEY: status}
        chunks: list[_Chunk] = []
        for start in range(0, len(converted), _MAX_PER_CALL):
            part = converted[start : start + _MAX_PER_CALL]
            chunk = _Chunk([m for m, _ in part], notes, [meta for _, meta in part])
            normalise_add(
                messages=chunk.messages,
                annotations=chunk.annotations,
                metadata=chunk.metadata,
                async_processing=False,
            )
            chunks.append(chunk)
        return chunks

    def _write(self, key: str, chunks: Sequence[_Chunk]) -> list[str]:
        if not chunks:
            return []
        session = self.session(key, create=True)
        assert session is not None
        ids: list[str] = []
        for chunk in chunks:
            response = session.add_memory(
                messages=chunk.messages,
                annotations=chunk.annotations,
                metadata=chunk.metadata,
                async_processing=False,
            )
            ids.extend(response.block_ids)
        return ids

    def set_status(self, key: str, blocks: Sequence[MemoryBlock], status: str) -> None:
        if not blocks:
            return
        session = self.session(key, create=False)
        if session is None:
            return
        for block in blocks:
            session.update_memory(
                block.block_id, annotations={**block.annotations, STATUS_KEY: status}
            )

    def delete(self, key: str, blocks: Sequence[MemoryBlock]) -> None:
        if not blocks:
            return
        session = self.session(key, create=False)
        if session is not None:
            session.delete_memory([b.block_id for b in blocks])

    def replace(self, key: str, messages: Sequence[LIChatMessage], status: str) -> None:
        """Make ``messages`` the history with ``status``; a shared prefix is kept as is.

        Invalid input changes nothing: the new messages are checked before the old go.
        """
        wanted_messages = check_messages(messages)
        current = self.blocks(key, status)
        wanted = [fingerprint(dump(m)) for m in wanted_messages]
        keep = 0
        while (
            keep < min(len(current), len(wanted))
            and block_fingerprint(current[keep]) == wanted[keep]
        ):
            keep += 1
        chunks = self._prepare(wanted_messages[keep:], status)
        self.delete(key, current[keep:])
        self._write(key, chunks)
