"""The SAP backend: our client over an SAP Agent Memory v1 service (httpx, OAuth2).

Mapping (the SAP service has agents, invokers, memories and messages, nothing else):

* the client's ``agent_id`` is the SAP ``agentID`` of everything it writes and reads;
* a user is an ``invokerID`` (users are virtual: nothing is stored for them);
* a session is a ``messageGroup`` (virtual too);
* a fact block is an SAP memory (searchable); an exchange block
  (``ChatMessage(user_content, assistant_content)``) is also an SAP memory, so conversation
  recall works; a role-tagged message block is an SAP message in the session's group;
* what SAP has no field for (session of a memory, annotations, ``created_at``, the block's
  own ``agent_id``, the exchange sides, a message's ``name``) rides in the entity's
  metadata under the reserved key ``_mi``, and is filtered client-side.

Not available on SAP (raise ``MethodNotAllowedError``): listing users, user/session
annotations and metadata, ending sessions, TTLs (use the retention policy), and updating
message blocks (SAP messages are immutable).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from .._models import (
    AddMemoryResponse,
    ChatMessage,
    ComponentHealth,
    DeleteMemoryResponse,
    FactChange,
    FilterOptions,
    HealthPingResponse,
    HealthResponse,
    HealthStatus,
    ListMemoriesResponse,
    MemoryBlock,
    MemoryBlockStatus,
    MemoryList,
    MessageRole,
    ModelsHealth,
    ProcessorHealth,
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
from ..errors import (
    AgentMemoryError,
    AuthenticationError,
    ConfigurationError,
    MethodNotAllowedError,
    NotFoundError,
    ValidationError,
)
from ..validation import (
    check_annotations,
    check_id,
    check_limit,
    check_offset,
    normalise_add,
    parse_filters,
)
from ._remote import HttpCore, Token
from ._wire import iso

RESERVED = "_mi"
LOOSE_SESSION = "sap"  # session of SAP memories written by other clients
BINDING_MODULE = "hana-agent-memory"
ENV_PREFIX = "CLOUD_SDK_CFG_HANA_AGENT_MEMORY_DEFAULT_"
PAGE = 500


# --- configuration ------------------------------------------------------------------------


def read_binding(instance: str = "default") -> dict[str, str]:
    """``base_url``, ``token_url``, ``client_id``, ``client_secret`` (+ ``identityzone``) from a
    mounted service binding, or else the ``CLOUD_SDK_CFG_HANA_AGENT_MEMORY_DEFAULT_*`` vars —
    the same places, in the same order, as the SAP SDK."""
    root = os.environ.get("SERVICE_BINDING_ROOT")
    folders = []
    if root:
        folders.append(Path(root) / BINDING_MODULE)
    folders.append(Path(root or "/etc/secrets/appfnd") / BINDING_MODULE / instance)
    values: dict[str, str] = {}
    for folder in folders:
        if (folder / "application_url").is_file() and (folder / "uaa").is_file():
            values = {
                "application_url": (folder / "application_url").read_text().strip(),
                "uaa": (folder / "uaa").read_text().strip(),
            }
            break
    if not values:
        prefix = ENV_PREFIX.replace("DEFAULT", instance.upper())
        url, uaa = os.environ.get(prefix + "APPLICATION_URL"), os.environ.get(prefix + "UAA")
        if not url or not uaa:
            raise ConfigurationError(
                "no SAP Agent Memory binding found: mount it under "
                f"$SERVICE_BINDING_ROOT/{BINDING_MODULE}/{instance}/ or set "
                f"{prefix}APPLICATION_URL and {prefix}UAA (JSON with clientid, clientsecret, url)"
            )
        values = {"application_url": url, "uaa": uaa}
    try:
        uaa_data = json.loads(values["uaa"])
        config = {
            "base_url": values["application_url"],
            "token_url": str(uaa_data["url"]).rstrip("/") + "/oauth/token",
            "client_id": str(uaa_data["clientid"]),
            "client_secret": str(uaa_data["clientsecret"]),
        }
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"the SAP binding's uaa must be JSON with clientid, clientsecret and url: {exc}"
        ) from None
    if uaa_data.get("identityzone"):
        config["identityzone"] = str(uaa_data["identityzone"])
    return config


def tenant_token_url(token_url: str, identityzone: str | None, tenant: str | None) -> str:
    """Swap the provider's subdomain for the subscriber tenant's, as XSUAA expects."""
    if not tenant or not identityzone:
        return token_url
    parts = urlsplit(token_url)
    host = parts.hostname or ""
    first, _, rest = host.partition(".")
    if first != identityzone or not rest:
        return token_url
    netloc = f"{tenant}.{rest}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class OAuthTokens:
    """Client-credentials tokens, cached until 60 s before they expire."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.token_url = token_url
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()
        self.fetches = 0

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self) -> None:
        try:
            response = self._http.post(
                self.token_url, data=self._form, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise AuthenticationError(
                f"cannot fetch an OAuth token from {self.token_url}: {exc}"
            ) from exc
        if response.status_code != 200:
            raise AuthenticationError(
                f"the token endpoint {self.token_url} refused the client credentials "
                f"({response.status_code}): check client_id and client_secret"
            )
        body = response.json()
        token = body.get("access_token") if isinstance(body, Mapping) else None
        if not token:
            raise AuthenticationError(f"{self.token_url} answered without an access_token")
        self._token = str(token)
        self._expires = time.monotonic() + max(0.0, float(body.get("expires_in", 3600)) - 60)
        self.fetches += 1

    def close(self) -> None:
        self._http.close()


# --- entity <-> block -------------------------------------------------------------------


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _metadata(entity: Mapping[str, Any]) -> dict[str, Any]:
    raw = entity.get("metadata")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except ValueError:
            raw = {"raw": raw}
    return dict(raw) if isinstance(raw, Mapping) else {}


def block_of(entity: Mapping[str, Any], kind: str, similarity: float | None = None) -> MemoryBlock:
    """Our block for an SAP memory (``kind="memory"``) or message entity."""
    meta = _metadata(entity)
    mi = meta.pop(RESERVED, {})
    mi = mi if isinstance(mi, Mapping) else {}
    created = _parse_time(entity.get("createTimestamp")) or datetime.now(UTC)
    fields: dict[str, Any] = {
        "block_id": str(entity.get("id", "")),
        "user_id": str(entity.get("invokerID", "")),
        "annotations": dict(mi.get("annotations") or {}),
        "metadata": meta or None,
        "agent_id": mi.get("agent"),
        "created_at": _parse_time(mi.get("created_at")) or created,
        "ingested_at": created,
        "updated_at": _parse_time(entity.get("updateTimestamp")) or created,
        "status": MemoryBlockStatus.READY,
        "similarity": similarity,
        "rel_score": similarity,
    }
    if kind == "memory":
        fields["session_id"] = str(mi.get("session") or LOOSE_SESSION)
        exchange = mi.get("exchange")
        if isinstance(exchange, Sequence) and len(exchange) == 2:
            fields["message"] = ChatMessage(
                user_content=str(exchange[0]), assistant_content=str(exchange[1])
            )
        else:
            fields["fact"] = str(entity.get("content", ""))
    else:
        fields["session_id"] = str(entity.get("messageGroup", ""))
        role = str(entity.get("role") or "USER").lower()
        fields["message"] = ChatMessage(
            role=MessageRole(role) if role in MessageRole._value2member_map_ else MessageRole.USER,
            content=str(entity.get("content", "")),
            name=mi.get("name"),
        )
    return MemoryBlock.model_validate(fields)


def _matches(block: MemoryBlock, options: FilterOptions, sessions: list[str] | None) -> bool:
    if sessions is not None and block.session_id not in sessions:
        return False
    if options.block_ids is not None and block.block_id not in options.block_ids:
        return False
    for moment, low, high in (
        (block.ingested_at, options.start_time, options.end_time),
        (
            block.created_at or block.ingested_at,
            options.created_start_time,
            options.created_end_time,
        ),
    ):
        if low is not None and moment < _aware(low):
            return False
        if high is not None and moment > _aware(high):
            return False
    for key, value in (options.annotations or {}).items():
        if block.annotations.get(key) != value:
            return False
    if options.metadata_contains and options.metadata_contains not in json.dumps(
        block.metadata or {}, ensure_ascii=False, separators=(",", ":"), sort_keys=True
    ):
        return False
    if options.content_contains and options.content_contains not in block.text:
        return False
    if options.agent_id is not None and block.agent_id != options.agent_id:
        return False
    if options.kind is not None and block.kind != options.kind:
        return False
    if options.role is not None:
        role = None if block.message is None else block.message.role
        if role != options.role:
            return False
    return True


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _exchange_text(message: ChatMessage) -> str:
    parts = (("user", message.user_content), ("assistant", message.assistant_content))
    return "\n".join(f"{who}: {text}" for who, text in parts if text)


def _odata_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class SapBackend:
    """The ``Backend`` protocol over an SAP Agent Memory v1 service."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        agent_id: str = "memory-integrations",
        token_url: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        identityzone: str | None = None,
        tenant: str | None = None,
        token: Token = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if base_url is None:
            binding = read_binding()
            base_url = binding["base_url"]
            token_url = token_url or binding["token_url"]
            client_id = client_id or binding["client_id"]
            client_secret = client_secret or binding["client_secret"]
            identityzone = identityzone or binding.get("identityzone")
        if not agent_id:
            raise ConfigurationError("agent_id must be a non-empty string (the SAP agentID)")
        self.agent_id = agent_id
        self.oauth: OAuthTokens | None = None
        if token_url is not None:
            if not client_id or not client_secret:
                raise ConfigurationError("token_url= needs client_id= and client_secret=")
            self.oauth = OAuthTokens(
                tenant_token_url(token_url, identityzone, tenant),
                client_id,
                client_secret,
                timeout=timeout,
                transport=transport,
            )
        self.core = HttpCore(
            base_url,
            token=token if token is not None else self.oauth,
            timeout=timeout,
            max_retries=max_retries,
            transport=transport,
            sleep=sleep,
        )

    # --- plumbing ---------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return self.core.request(method, path, **kwargs)
        except AuthenticationError:
            if self.oauth is None:
                raise
            self.oauth.invalidate()  # the token was revoked early: fetch a new one, once
            return self.core.request(method, path, **kwargs)

    def _entity_path(self, kind: str, entity_id: str) -> str:
        return f"/v1/{'memories' if kind == 'memory' else 'messages'}({quote(entity_id, safe='')})"

    def _filter(self, user_id: str, group: str | None = None) -> str:
        clauses = [f"agentID eq {_odata_literal(self.agent_id)}"]
        clauses.append(f"invokerID eq {_odata_literal(user_id)}")
        if group is not None:
            clauses.append(f"messageGroup eq {_odata_literal(group)}")
        return " and ".join(clauses)

    def _all(self, kind: str, user_id: str, group: str | None = None) -> Iterator[MemoryBlock]:
        """Every entity of one invoker (and group), oldest first, as blocks."""
        collection = "memories" if kind == "memory" else "messages"
        skip = 0
        while True:
            params: dict[str, Any] = {"$filter": self._filter(user_id, group), "$top": PAGE}
            if skip:
                params["$skip"] = skip
            body = self._call("GET", f"/v1/{collection}", params=params)
            items = body.get("value", body.get("data", [])) if isinstance(body, Mapping) else []
            for item in items:
                yield block_of(item, kind)
            if len(items) < PAGE:
                return
            skip += PAGE

    def _blocks(self, user_id: str, sessions: list[str] | None) -> list[MemoryBlock]:
        group = sessions[0] if sessions is not None and len(sessions) == 1 else None
        found = list(self._all("memory", user_id))
        found += self._all("message", user_id, group)
        if sessions is not None:
            found = [b for b in found if b.session_id in sessions]
        return found

    @staticmethod
    def _unsupported(what: str) -> MethodNotAllowedError:
        return MethodNotAllowedError(f"SAP Agent Memory has no {what}")

    def _refuse_extraction(self, *choices: object) -> None:
        if any(choice is not None for choice in choices):
            raise self._unsupported(
                "semantic extraction or prompt registry (extraction is the caller's job there); "
                "leave prompt_id, prompt_vid and context_required out"
            )

    def _meta(
        self,
        metadata: Mapping[str, Any] | None,
        extra: dict[str, Any],
    ) -> dict[str, Any] | None:
        if metadata is not None and RESERVED in metadata:
            raise ValidationError(f"metadata key {RESERVED!r} is reserved; rename it")
        mi = {k: v for k, v in extra.items() if v not in (None, {}, "")}
        out = dict(metadata or {})
        if mi:
            out[RESERVED] = mi
        return out or None

    # --- users and sessions (virtual) -------------------------------------------------

    def create_user(
        self, user_id: str, name: str, metadata: Mapping[str, Any] | None = None
    ) -> User:
        check_id(user_id, "user_id")
        if metadata:
            raise self._unsupported("user metadata (users are invokerIDs)")
        return User(id=user_id, name=name)

    def get_user(self, user_id: str) -> User:
        check_id(user_id, "user_id")
        return User(id=user_id, name=user_id)

    def list_users(
        self,
        name: str | None = None,
        metadata: Mapping[str, str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> UserList:
        raise self._unsupported("user listing (users are invokerIDs)")

    def update_user(
        self, user_id: str, name: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> User:
        raise self._unsupported("user records to update (users are invokerIDs)")

    def delete_user(self, user_id: str) -> None:
        """Delete every memory and message of the invoker (for this agent)."""
        check_id(user_id, "user_id")
        for block in self._blocks(user_id, None):
            self._delete_entity(block)

    def modify_ttl(
        self,
        user_id: str,
        new_ttl: int,
        session_id: str | None = None,
        block_ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        raise self._unsupported("per-block TTL; use update_retention_config(...)")

    def create_session(
        self,
        user_id: str,
        session_id: str,
        annotations: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        memory_blocks_ttl: int | None = None,
    ) -> Session:
        if annotations or metadata or memory_blocks_ttl:
            raise self._unsupported("session annotations, metadata or TTL (sessions are groups)")
        return self.get_session(user_id, session_id)

    def get_session(self, user_id: str, session_id: str) -> Session:
        check_id(user_id, "user_id")
        check_id(session_id, "session_id")
        return Session(user_id=user_id, session_id=session_id, start_time=datetime.now(UTC))

    def list_sessions(self, user_id: str, limit: int = 50, offset: int = 0) -> SessionList:
        check_limit(limit, "limit", 1, 500)
        check_offset(offset)
        ids = sorted({b.session_id for b in self._blocks(user_id, None)})
        page = [self.get_session(user_id, sid) for sid in ids[offset : offset + limit]]
        return SessionList(
            sessions=page, count=len(page), total=len(ids), limit=limit, offset=offset
        )

    def update_session(
        self,
        user_id: str,
        session_id: str,
        annotations: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Session:
        raise self._unsupported("session annotations or metadata (sessions are groups)")

    def end_session(self, user_id: str, session_id: str) -> Session:
        raise self._unsupported("ended sessions (a message group is never closed)")

    def delete_session(self, user_id: str, session_id: str) -> None:
        for block in self._blocks(user_id, [session_id]):
            self._delete_entity(block)

    # --- blocks -----------------------------------------------------------------------

    def add_memory(
        self,
        user_id: str,
        session_id: str,
        messages: Sequence[ChatMessage | Mapping[str, Any]] | None = None,
        facts: Sequence[str] | None = None,
        annotations: Mapping[str, str] | Sequence[Mapping[str, str] | None] | None = None,
        async_processing: bool = True,
        memory_block_ttl: int | None = None,
        created_at: datetime | str | Sequence[datetime | str | None] | None = None,
        metadata: Mapping[str, Any] | Sequence[Mapping[str, Any] | None] | None = None,
        agent_id: str | None = None,
        prompt_id: str | None = None,
        prompt_vid: int | None = None,
        context_required: bool | None = None,
        manage_facts: bool | None = None,
    ) -> AddMemoryResponse:
        check_id(user_id, "user_id")
        check_id(session_id, "session_id")
        request = normalise_add(
            messages,
            facts,
            annotations,
            async_processing,
            memory_block_ttl,
            created_at,
            metadata,
            agent_id,
        )
        if request.ttl:
            raise self._unsupported("per-block TTL; use update_retention_config(...)")
        self._refuse_extraction(prompt_id, prompt_vid, context_required, manage_facts)
        items: list[str | ChatMessage] = [*request.facts, *request.messages]
        metas, notes = request.metadata, request.annotations
        times = [None if t is None else iso(t) for t in request.created_at]
        ids: list[str] = []
        for item, meta, note, when in zip(items, metas, notes, times, strict=True):
            common = {
                "session": session_id,
                "annotations": note,
                "created_at": when,
                "agent": agent_id,
            }
            ids.append(self._post_item(user_id, session_id, item, meta, common))
        return AddMemoryResponse(
            message=f"{len(ids)} memory blocks stored", accepted_count=len(ids), block_ids=ids
        )

    def _post_item(
        self,
        user_id: str,
        session_id: str,
        item: str | ChatMessage,
        metadata: Mapping[str, Any] | None,
        common: dict[str, Any],
    ) -> str:
        body: dict[str, Any] = {"agentID": self.agent_id, "invokerID": user_id}
        if isinstance(item, str):
            body.update(content=item, metadata=self._meta(metadata, common))
            return str(self._call("POST", "/v1/memories", json=body, idempotent=False)["id"])
        if item.role is None:  # an exchange: a searchable SAP memory
            extra = {**common, "exchange": [item.user_content, item.assistant_content]}
            body.update(content=_exchange_text(item), metadata=self._meta(metadata, extra))
            return str(self._call("POST", "/v1/memories", json=body, idempotent=False)["id"])
        extra = {k: v for k, v in common.items() if k != "session"}
        extra["name"] = item.name
        body.update(
            messageGroup=session_id,
            role=item.role.value.upper(),
            content=item.content or "",
            metadata=self._meta(metadata, extra),
        )
        return str(self._call("POST", "/v1/messages", json=body, idempotent=False)["id"])

    def _find(self, block_id: str) -> tuple[str, dict[str, Any]]:
        for kind in ("memory", "message"):
            try:
                return kind, self._call("GET", self._entity_path(kind, block_id))
            except NotFoundError:
                continue
        raise NotFoundError(f"memory block {block_id!r} does not exist")

    def get_memory_block(self, user_id: str, session_id: str, block_id: str) -> MemoryBlock:
        kind, entity = self._find(block_id)
        block = block_of(entity, kind)
        if block.user_id != user_id or block.session_id != session_id:
            raise NotFoundError(f"memory block {block_id!r} is not in session {session_id!r}")
        return block

    def update_memory(
        self,
        user_id: str,
        session_id: str,
        block_id: str,
        message: ChatMessage | Mapping[str, Any] | None = None,
        fact: str | None = None,
        annotations: Mapping[str, str] | None = None,
        memory_block_ttl: int | None = None,
        async_processing: bool = True,
        metadata: Mapping[str, Any] | None = None,
        prompt_id: str | None = None,
        prompt_vid: int | None = None,
        context_required: bool | None = None,
    ) -> UpdateMemoryResponse:
        if memory_block_ttl:
            raise self._unsupported("per-block TTL; use update_retention_config(...)")
        self._refuse_extraction(prompt_id, prompt_vid, context_required)
        if all(x is None for x in (message, fact, annotations, metadata)):
            raise ValidationError("update_memory needs message, fact, annotations or metadata")
        block = self.get_memory_block(user_id, session_id, block_id)
        if block.message is not None and block.message.role is not None:
            raise self._unsupported("updates of messages (SAP messages are immutable)")
        if (fact is not None and block.fact is None) or (
            message is not None and block.fact is not None
        ):
            raise ValidationError(f"block {block_id!r} keeps its content type (fact or message)")
        entity = self._call("GET", self._entity_path("memory", block_id))
        mi = dict(_metadata(entity).get(RESERVED) or {})
        if annotations is not None:
            mi["annotations"] = check_annotations(annotations)
        body: dict[str, Any] = {}
        if fact is not None:
            body["content"] = fact.strip()
        if message is not None:
            new = (
                message
                if isinstance(message, ChatMessage)
                else ChatMessage.model_validate(dict(message))
            )
            mi["exchange"] = [new.user_content, new.assistant_content]
            body["content"] = _exchange_text(new)
        user_meta = dict(metadata) if metadata is not None else (block.metadata or {})
        body["metadata"] = self._meta(user_meta, mi) or {}
        self._call("PATCH", self._entity_path("memory", block_id), json=body)
        return UpdateMemoryResponse(
            message="memory block updated",
            block=self.get_memory_block(user_id, session_id, block_id),
        )

    def _delete_entity(self, block: MemoryBlock) -> bool:
        kind = "message" if block.message is not None and block.message.role else "memory"
        try:
            self._call("DELETE", self._entity_path(kind, block.block_id))
            return True
        except NotFoundError:
            return False

    def delete_memory(
        self, user_id: str, session_id: str, block_ids: Sequence[str] | str
    ) -> DeleteMemoryResponse:
        if block_ids == "all":
            blocks = self._blocks(user_id, [session_id])
            deleted = sum(self._delete_entity(b) for b in blocks)
            return DeleteMemoryResponse(deleted_count=deleted)
        ids = [block_ids] if isinstance(block_ids, str) else list(block_ids)
        for block_id in ids:
            try:
                block = self.get_memory_block(user_id, session_id, block_id)
            except NotFoundError:
                continue  # absent counts as deleted, so retries are safe
            self._delete_entity(block)
        return DeleteMemoryResponse(deleted_count=len(ids))

    def list_memories(
        self,
        user_id: str,
        session_ids: Sequence[str] | str | None = None,
        limit: int = 20,
        offset: int = 0,
        order_by: str = "ingested_at",
    ) -> ListMemoriesResponse:
        check_limit(limit, "limit", 1, 200)
        check_offset(offset)
        if order_by not in ("ingested_at", "created_at"):
            raise ValidationError("order_by must be 'ingested_at' or 'created_at'")
        scope: list[str] | None
        if session_ids is None or session_ids == "all":
            scope = None
        elif isinstance(session_ids, str):
            scope = session_ids.split(",")
        else:
            scope = list(session_ids)
        blocks = self._blocks(user_id, scope)
        key = (
            (lambda b: b.created_at or b.ingested_at)
            if order_by == "created_at"
            else (lambda b: b.ingested_at)
        )
        blocks.sort(key=key)
        page = blocks[offset : offset + limit]
        return ListMemoriesResponse(
            memory_blocks=page, count=len(page), total=len(blocks), limit=limit, offset=offset
        )

    def search_memory(
        self,
        user_id: str,
        session_id: str | None,
        query: str | None = None,
        filters: FilterOptions | Mapping[str, Any] | None = None,
    ) -> MemoryList:
        """With a query: SAP's semantic search over memories (facts and exchanges), most
        similar first; without: every matching block. Other filters apply client-side."""
        options = parse_filters(filters)
        sessions: list[str] | None
        if options.session_ids == "all":
            sessions = None
        elif options.session_ids is not None:
            sessions = list(options.session_ids)
        else:
            sessions = None if session_id is None else [session_id]
        if query is None:
            found = [b for b in self._blocks(user_id, sessions) if _matches(b, options, sessions)]
            created = options.order_by == "created_at"
            found.sort(
                key=lambda b: (b.created_at or b.ingested_at) if created else b.ingested_at,
                reverse=options.descending,
            )
            end = None if options.limit is None else options.offset + options.limit
            found = found[options.offset : end]
            return MemoryList(memory_blocks=found, count=len(found))
        if not query.strip():
            raise ValidationError("query must not be blank")
        body = {
            "agentID": self.agent_id,
            "invokerID": user_id,
            "query": query,
            "threshold": min(1.0, max(0.0, options.threshold or 0.0)),
            "top": 50,
        }
        answer = self._call("POST", "/v1/memories/search", json=body, idempotent=True)
        items = answer.get("value", []) if isinstance(answer, Mapping) else []
        blocks = [block_of(item, "memory", float(item.get("similarity") or 0.0)) for item in items]
        blocks = [b for b in blocks if _matches(b, options, sessions)]
        blocks.sort(key=lambda b: -(b.similarity or 0.0))
        blocks = blocks[: options.relevant_k]
        return MemoryList(memory_blocks=blocks, count=len(blocks))

    def count_memories(
        self,
        user_id: str,
        session_id: str | None = None,
        filters: FilterOptions | Mapping[str, Any] | None = None,
    ) -> int:
        return self.search_memory(user_id, session_id, None, filters).count

    # --- lifecycle --------------------------------------------------------------------

    def get_retention(self) -> RetentionConfig:
        body = self._call("GET", "/v1/admin/retentionConfig")
        return RetentionConfig(
            message_days=body.get("messageDays"),
            memory_days=body.get("memoryDays"),
            updated_at=_parse_time(body.get("updateTimestamp")),
        )

    def set_retention(
        self, message_days: Any = "keep", memory_days: Any = "keep"
    ) -> RetentionConfig:
        body = {
            key: value
            for key, value in (("messageDays", message_days), ("memoryDays", memory_days))
            if value != "keep"
        }
        if body:
            self._call("PATCH", "/v1/admin/retentionConfig", json=body)
        return self.get_retention()

    def metrics(self) -> dict[str, float]:
        raise self._unsupported("processing metrics readable by a client")

    def fact_history(self, user_id: str, block_id: str | None = None) -> list[FactChange]:
        raise self._unsupported("fact management (extraction is the caller's job there)")

    # --- prompt registry: none on SAP ------------------------------------------------------

    def create_prompt(
        self,
        prompt_id: str,
        prompt: str,
        description: str,
        annotations: Mapping[str, str] | None = None,
    ) -> Prompt:
        raise self._no_prompts()

    def get_prompt(self, prompt_id: str, vid: int | None = None) -> Prompt | PromptVersion:
        raise self._no_prompts()

    def list_prompts(self, limit: int = 100, offset: int = 0) -> PromptList:
        raise self._no_prompts()

    def update_prompt(
        self,
        prompt_id: str,
        prompt: str | None = None,
        description: str | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> Prompt:
        raise self._no_prompts()

    def list_prompt_versions(
        self, prompt_id: str, limit: int = 100, offset: int = 0
    ) -> PromptVersionList:
        raise self._no_prompts()

    def archive_prompt(self, prompt_id: str, vid: int | str = "all") -> None:
        raise self._no_prompts()

    def purge_prompt(self, prompt_id: str, vid: int | str = "all") -> None:
        raise self._no_prompts()

    def _no_prompts(self) -> MethodNotAllowedError:
        return self._unsupported("prompt registry (it does not extract)")

    def sweep(self) -> dict[str, int]:
        """Nothing to do here: the SAP service applies retention in its nightly sweep."""
        return {}

    def wait_until_processed(self, timeout: float | None = 60.0) -> bool:
        """SAP embeds on write, so there is never a queue to wait for."""
        return True

    def health(self, entity: str | None = None) -> HealthPingResponse:
        """One cheap count call decides; never raises."""
        try:
            self._call(
                "GET",
                "/v1/memories",
                params={"$filter": f"agentID eq {_odata_literal(self.agent_id)}", "$top": 0},
            )
            status, detail = HealthStatus.HEALTHY, {"status": "healthy"}
        except AgentMemoryError as exc:
            status, detail = HealthStatus.DEGRADED, {"status": "unhealthy", "error": str(exc)}
        component = ComponentHealth(
            status="healthy" if status is HealthStatus.HEALTHY else "unknown"
        )
        return HealthPingResponse(
            server=HealthResponse(status=status, version="sap-agent-memory-v1"),
            storage={"service": self.core.base_url, **detail},
            models=ModelsHealth(embedding=component, llm=ComponentHealth(status="not_used")),
            async_batch_processor=ProcessorHealth(status="not_initialized"),
            overall_status=status,
            checked_entities=["server"],
        )

    def close(self, *, drain: bool = True, timeout: float = 30.0) -> None:
        self.core.close()
        if self.oauth is not None:
            self.oauth.close()
