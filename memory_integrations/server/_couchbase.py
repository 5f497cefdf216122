"""The Couchbase Agent Memory REST API (as ``couchbase-agent-memory`` 1.1 calls it) at ``/``.

Routes marked *extension* are ours (block by id, user-wide search, counts, retention,
sweep); the remote backend uses them when it talks to this server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, overload

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from .._models import ChatMessage, MemoryBlock, Prompt, PromptVersion
from ..backend import (
    block_to_wire,
    iso,
    session_to_wire,
    user_to_wire,
)
from ..errors import ValidationError
from ..validation import parse_filters
from . import _schemas as schemas
from ._json import StrictJSONRoute
from ._tenancy import MemoryTenant, TenantRegistry

EXT = "memory-integrations extensions"


def _registry(request: Request) -> TenantRegistry:
    registry: TenantRegistry = request.app.state.registry
    return registry


async def memory_tenant(request: Request) -> MemoryTenant:
    """The calling tenant's memory tree (async: no thread hop; opening is rare and quick)."""
    return _registry(request).memory(request.state.tenant)


Tenant = Annotated[MemoryTenant, Depends(memory_tenant)]


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)


def _docs(model: type[Any], status: int = 200) -> dict[str, Any]:
    return {
        "response_model": None,
        "responses": {status: {"model": model}},
        "status_code": status,
    }


def _message(raw: schemas.WireMessage) -> ChatMessage | dict[str, Any]:
    if raw.role is not None:
        return {"role": raw.role, "content": raw.content or "", "name": raw.name}
    return {
        "user_content": raw.user_content or "",
        "assistant_content": raw.assistant_content or "",
    }


# --- search filters ---------------------------------------------------------------------


def _search_filters(
    raw: dict[str, Any] | None,
) -> tuple[dict[str, Any] | None, Callable[[MemoryBlock], bool] | None]:
    """Engine filters plus a post-check for the prompt filters the engine does not know."""
    if raw is None:
        return None, None
    filters = dict(raw)
    prompt_id = filters.pop("prompt_id", None)
    vid = filters.pop("prompt_vid", None)
    if vid is not None and prompt_id is None:
        raise ValidationError("prompt_vid filter needs prompt_id")
    if vid is not None and (isinstance(vid, bool) or not isinstance(vid, int) or vid < 0):
        raise ValidationError("prompt_vid must be an integer >= 0")
    if prompt_id is not None and not isinstance(prompt_id, str):
        raise ValidationError("prompt_id filter must be a string")
    parse_filters(filters)  # validate the rest now: a 400 names the bad key
    if prompt_id is None:
        return filters, None

    def keep(block: MemoryBlock) -> bool:
        return block.prompt_id == prompt_id and (vid is None or block.prompt_vid == vid)

    return filters, keep


def _run_search(
    tenant: MemoryTenant, user_id: str, session_id: str | None, body: schemas.SearchBody
) -> JSONResponse:
    filters, keep = _search_filters(body.filters)
    found = tenant.engine.search_memory(user_id, session_id, body.query, filters)
    blocks = [b for b in found.memory_blocks if keep is None or keep(b)]
    return ok({"memory_blocks": [block_to_wire(b) for b in blocks], "count": len(blocks)})


def _clamp(value: int, high: int) -> int:
    if value < 1:
        raise ValidationError(f"limit must be at least 1, got {value}")
    return min(value, high)


# --- prompt rendering -------------------------------------------------------------------


def _prompt(prompt: Prompt) -> dict[str, Any]:
    return {**prompt.model_dump(mode="json"), "last_updated_at": iso(prompt.last_updated_at)}


def _version(version: PromptVersion) -> dict[str, Any]:
    return {**version.model_dump(mode="json"), "updated_at": iso(version.updated_at)}


@overload
def _vid(raw: str | None) -> int: ...
@overload
def _vid(raw: str | None, *, allow_all: Literal[True]) -> int | Literal["all"]: ...
def _vid(raw: str | None, *, allow_all: bool = False) -> int | Literal["all"]:
    """Parse ``vid``: an integer >= 0, or ``all`` where allowed."""
    if raw is None:
        raise ValidationError(
            "vid is required: an integer >= 0" + (" or 'all'" if allow_all else "")
        )
    if allow_all and raw == "all":
        return "all"
    if not raw.isdigit() or len(raw) > 9:
        raise ValidationError(
            f"vid must be an integer >= 0{' or all' if allow_all else ''}, got {raw!r}"
        )
    return int(raw)


# --- the router -------------------------------------------------------------------------


def build_router() -> APIRouter:
    router = APIRouter(
        responses={400: {"model": schemas.ErrorOut}, 404: {"model": schemas.ErrorOut}},
        route_class=StrictJSONRoute,
    )

    # users ----------------------------------------------------------------------------

    @router.post("/users", tags=["users"], **_docs(schemas.UserOut, 201))
    def create_user(body: schemas.CreateUserBody, tenant: Tenant) -> Response:
        """Create a user (409 if the id exists)."""
        user = tenant.engine.create_user(body.user_id, body.name, body.metadata)
        return ok(user_to_wire(user), 201)

    @router.get("/users", tags=["users"], **_docs(schemas.UserListOut))
    def list_users(
        tenant: Tenant,
        limit: Annotated[int, Query(le=schemas.BIG)] = 50,
        offset: Annotated[int, Query(ge=0, le=schemas.BIG)] = 0,
        name: str | None = None,
        metadata: Annotated[list[str] | None, Query()] = None,
    ) -> Response:
        """Users matching ``name`` and every ``metadata=key=value`` (exact, AND)."""
        filters: dict[str, str] | None = None
        if metadata:
            filters = {}
            for pair in metadata:
                key, sep, value = pair.partition("=")
                if not sep:
                    raise ValidationError(f"metadata filter {pair!r} must be key=value")
                filters[key] = value
        found = tenant.engine.list_users(name, filters, _clamp(limit, 500), offset)
        return ok(
            {
                "users": [user_to_wire(u) for u in found.users],
                "count": found.count,
                "total": found.total,
                "limit": found.limit,
                "offset": found.offset,
            }
        )

    @router.get("/users/{user_id}", tags=["users"], **_docs(schemas.UserOut))
    def get_user(user_id: str, tenant: Tenant) -> Response:
        return ok(user_to_wire(tenant.engine.get_user(user_id)))

    @router.put("/users/{user_id}", tags=["users"], **_docs(schemas.UserOut))
    def update_user(user_id: str, body: schemas.UpdateUserBody, tenant: Tenant) -> Response:
        return ok(user_to_wire(tenant.engine.update_user(user_id, body.name, body.metadata)))

    @router.delete("/users/{user_id}", tags=["users"], status_code=204, response_model=None)
    def delete_user(user_id: str, tenant: Tenant) -> Response:
        """Delete a user with its sessions and memory blocks."""
        tenant.engine.delete_user(user_id)
        return no_content()

    @router.put("/users/{user_id}/ttl", tags=["users"], **_docs(schemas.TtlOut))
    def modify_ttl(user_id: str, body: schemas.ModifyTtlBody, tenant: Tenant) -> Response:
        """Set the TTL (seconds from now, 0 = never) of a user's, a session's, or some blocks."""
        return ok(tenant.engine.modify_ttl(user_id, body.new_ttl, body.session_id, body.block_ids))

    # sessions -------------------------------------------------------------------------

    @router.post("/users/{user_id}/sessions", tags=["sessions"], **_docs(schemas.SessionOut, 201))
    def create_session(user_id: str, body: schemas.CreateSessionBody, tenant: Tenant) -> Response:
        session = tenant.engine.create_session(
            user_id, body.session_id, body.annotations, body.metadata, body.memory_blocks_ttl
        )
        return ok(session_to_wire(session), 201)

    @router.get("/users/{user_id}/sessions", tags=["sessions"], **_docs(schemas.SessionListOut))
    def list_sessions(
        user_id: str,
        tenant: Tenant,
        limit: Annotated[int, Query(le=schemas.BIG)] = 50,
        offset: Annotated[int, Query(ge=0, le=schemas.BIG)] = 0,
    ) -> Response:
        found = tenant.engine.list_sessions(user_id, _clamp(limit, 500), offset)
        return ok(
            {
                "sessions": [session_to_wire(x) for x in found.sessions],
                "count": found.count,
                "total": found.total,
                "limit": found.limit,
                "offset": found.offset,
            }
        )

    @router.get(
        "/users/{user_id}/sessions/{session_id}", tags=["sessions"], **_docs(schemas.SessionOut)
    )
    def get_session(user_id: str, session_id: str, tenant: Tenant) -> Response:
        return ok(session_to_wire(tenant.engine.get_session(user_id, session_id)))

    @router.put(
        "/users/{user_id}/sessions/{session_id}", tags=["sessions"], **_docs(schemas.SessionOut)
    )
    def update_session(
        user_id: str, session_id: str, body: schemas.UpdateSessionBody, tenant: Tenant
    ) -> Response:
        session = tenant.engine.update_session(user_id, session_id, body.annotations, body.metadata)
        return ok(session_to_wire(session))

    @router.post(
        "/users/{user_id}/sessions/{session_id}/end", tags=["sessions"], **_docs(schemas.SessionOut)
    )
    def end_session(user_id: str, session_id: str, tenant: Tenant) -> Response:
        """Mark the session ended; it then rejects new blocks (409)."""
        return ok(session_to_wire(tenant.engine.end_session(user_id, session_id)))

    @router.delete(
        "/users/{user_id}/sessions/{session_id}",
        tags=["sessions"],
        status_code=204,
        response_model=None,
    )
    def delete_session(user_id: str, session_id: str, tenant: Tenant) -> Response:
        tenant.engine.delete_session(user_id, session_id)
        return no_content()

    # memory ---------------------------------------------------------------------------

    @router.post(
        "/users/{user_id}/sessions/{session_id}/memory",
        tags=["memory"],
        **_docs(schemas.AddMemoryOut, 201),
    )
    def add_memory(
        user_id: str, session_id: str, body: schemas.AddMemoryBody, tenant: Tenant
    ) -> Response:
        """Store messages or facts (not both), one block each; 429 + Retry-After when the
        processing queue is full."""
        response = tenant.engine.add_memory(
            user_id,
            session_id,
            messages=None if body.messages is None else [_message(m) for m in body.messages],
            facts=body.facts,
            annotations=body.annotations,
            async_processing=body.async_processing,
            memory_block_ttl=body.memory_block_ttl,
            created_at=body.created_at,
            metadata=body.metadata,
            agent_id=body.agent_id,
            prompt_id=body.prompt_id,
            prompt_vid=body.prompt_vid,
            context_required=body.context_required,
            manage_facts=body.manage_facts,
        )
        return ok(response.model_dump(mode="json"), 201)

    @router.get("/users/{user_id}/fact-history", tags=[EXT], **_docs(schemas.FactHistoryOut))
    def fact_history(user_id: str, tenant: Tenant, block_id: str | None = None) -> Response:
        """*Extension*: what fact management changed in the user's facts, oldest first."""
        changes = tenant.engine.fact_history(user_id, block_id)
        return ok({"changes": [{**c.model_dump(mode="json"), "at": iso(c.at)} for c in changes]})

    @router.put(
        "/users/{user_id}/sessions/{session_id}/memory/{block_id}",
        tags=["memory"],
        **_docs(schemas.UpdateMemoryOut),
    )
    def update_memory(
        user_id: str, session_id: str, block_id: str, body: schemas.UpdateMemoryBody, tenant: Tenant
    ) -> Response:
        """Change a ready block's content (same kind), annotations, TTL or prompt."""
        engine = tenant.engine
        response = engine.update_memory(
            user_id,
            session_id,
            block_id,
            message=None if body.message is None else _message(body.message),
            fact=body.fact,
            annotations=body.annotations,
            memory_block_ttl=body.memory_block_ttl,
            async_processing=body.async_processing,
            metadata=body.metadata,
            prompt_id=body.prompt_id,
            prompt_vid=body.prompt_vid,
            context_required=body.context_required,
        )
        block = None if response.block is None else block_to_wire(response.block)
        return ok({"message": response.message, "block": block})

    @router.get(
        "/users/{user_id}/sessions/{session_id}/memory/{block_id}",
        tags=[EXT],
        **_docs(schemas.MemoryBlockOut),
    )
    def get_memory_block(user_id: str, session_id: str, block_id: str, tenant: Tenant) -> Response:
        """*Extension*: one block by id, whatever its status."""
        return ok(block_to_wire(tenant.engine.get_memory_block(user_id, session_id, block_id)))

    @router.post(
        "/users/{user_id}/sessions/{session_id}/memory/search",
        tags=["memory"],
        **_docs(schemas.MemoryListOut),
    )
    def search_memory(
        user_id: str, session_id: str, body: schemas.SearchBody, tenant: Tenant
    ) -> Response:
        """Ranked search (with ``query``) or filter-only lookup of ready blocks; scope is
        this session unless ``filters.session_ids`` says otherwise."""
        return _run_search(tenant, user_id, session_id, body)

    @router.post("/users/{user_id}/memory/search", tags=[EXT], **_docs(schemas.MemoryListOut))
    def search_user_memory(user_id: str, body: schemas.SearchBody, tenant: Tenant) -> Response:
        """*Extension*: search every session of the user (or ``filters.session_ids``)."""
        return _run_search(tenant, user_id, None, body)

    @router.post(
        "/users/{user_id}/sessions/{session_id}/memory/count",
        tags=[EXT],
        **_docs(schemas.CountOut),
    )
    def count_session_memory(
        user_id: str, session_id: str, body: schemas.CountBody, tenant: Tenant
    ) -> Response:
        """*Extension*: number of live blocks (any status) matching the filters."""
        filters, _ = _search_filters(body.filters)
        return ok({"count": tenant.engine.count_memories(user_id, session_id, filters)})

    @router.post("/users/{user_id}/memory/count", tags=[EXT], **_docs(schemas.CountOut))
    def count_user_memory(user_id: str, body: schemas.CountBody, tenant: Tenant) -> Response:
        """*Extension*: as above, over every session of the user."""
        filters, _ = _search_filters(body.filters)
        return ok({"count": tenant.engine.count_memories(user_id, None, filters)})

    @router.get("/users/{user_id}/memory", tags=["memory"], **_docs(schemas.ListMemoriesOut))
    def list_memories(
        user_id: str,
        tenant: Tenant,
        limit: Annotated[int, Query(le=schemas.BIG)] = 20,
        offset: Annotated[int, Query(ge=0, le=schemas.BIG)] = 0,
        order_by: str = "ingested_at",
        session_ids: str | None = None,
    ) -> Response:
        """One page of blocks (any status); ``session_ids`` comma-separated, or ``all``."""
        page = tenant.engine.list_memories(
            user_id, session_ids, _clamp(limit, 200), offset, order_by
        )
        return ok(
            {
                "memory_blocks": [block_to_wire(b) for b in page.memory_blocks],
                "count": page.count,
                "total": page.total,
                "limit": page.limit,
                "offset": page.offset,
            }
        )

    @router.delete(
        "/users/{user_id}/sessions/{session_id}/memory",
        tags=["memory"],
        **_docs(schemas.DeleteMemoryOut),
    )
    def delete_memory(
        user_id: str, session_id: str, body: schemas.DeleteMemoryBody, tenant: Tenant
    ) -> Response:
        """Delete blocks by id (absent ids count as deleted) or ``"all"`` of the session."""
        result = tenant.engine.delete_memory(user_id, session_id, body.block_ids)
        return ok(result.model_dump(mode="json"))

    # prompts --------------------------------------------------------------------------

    @router.post("/prompts", tags=["prompts"], **_docs(schemas.PromptOut, 201))
    def create_prompt(body: schemas.CreatePromptBody, tenant: Tenant) -> Response:
        created = tenant.engine.create_prompt(
            body.prompt_id, body.prompt, body.description, body.annotations
        )
        return ok(_prompt(created), 201)

    @router.get("/prompts", tags=["prompts"], **_docs(schemas.PromptListOut))
    def list_prompts(
        tenant: Tenant,
        limit: Annotated[int, Query(le=schemas.BIG)] = 100,
        offset: Annotated[int, Query(ge=0, le=schemas.BIG)] = 0,
    ) -> Response:
        page = tenant.engine.list_prompts(_clamp(limit, 1000), offset)
        return ok({**page.model_dump(mode="json"), "prompts": [_prompt(p) for p in page]})

    @router.get(
        "/prompts/{prompt_id}",
        tags=["prompts"],
        response_model=None,
        responses={
            200: {
                "description": "a Prompt, or a PromptVersion when vid is given",
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/PromptOut"},
                                {"$ref": "#/components/schemas/PromptVersionOut"},
                            ]
                        }
                    }
                },
            }
        },
    )
    def get_prompt(prompt_id: str, tenant: Tenant, vid: str | None = None) -> Response:
        """The prompt (head), or with ``vid=N`` that immutable version."""
        found = tenant.engine.get_prompt(prompt_id, None if vid is None else _vid(vid))
        return ok(_prompt(found) if isinstance(found, Prompt) else _version(found))

    @router.put("/prompts/{prompt_id}", tags=["prompts"], **_docs(schemas.PromptOut))
    def update_prompt(prompt_id: str, body: schemas.UpdatePromptBody, tenant: Tenant) -> Response:
        """A new ``prompt`` text makes a new version; description/annotations change the head."""
        updated = tenant.engine.update_prompt(
            prompt_id, body.prompt, body.description, body.annotations
        )
        return ok(_prompt(updated))

    @router.get(
        "/prompts/{prompt_id}/versions", tags=["prompts"], **_docs(schemas.PromptVersionListOut)
    )
    def list_prompt_versions(
        prompt_id: str,
        tenant: Tenant,
        limit: Annotated[int, Query(le=schemas.BIG)] = 100,
        offset: Annotated[int, Query(ge=0, le=schemas.BIG)] = 0,
    ) -> Response:
        page = tenant.engine.list_prompt_versions(prompt_id, _clamp(limit, 1000), offset)
        return ok({**page.model_dump(mode="json"), "versions": [_version(v) for v in page]})

    @router.put(
        "/prompts/{prompt_id}/archive", tags=["prompts"], status_code=204, response_model=None
    )
    def archive_prompt(prompt_id: str, tenant: Tenant, vid: str | None = None) -> Response:
        """Archive every version (``vid=all``) or one non-current version; 409 if archived."""
        tenant.engine.archive_prompt(prompt_id, _vid(vid, allow_all=True))
        return no_content()

    @router.delete("/prompts/{prompt_id}", tags=["prompts"], status_code=204, response_model=None)
    def purge_prompt(prompt_id: str, tenant: Tenant, vid: str | None = None) -> Response:
        """Delete every version (``vid=all``, freeing the id) or one non-current version."""
        tenant.engine.purge_prompt(prompt_id, _vid(vid, allow_all=True))
        return no_content()

    # administration (extensions) ------------------------------------------------------

    @router.get("/admin/retention", tags=[EXT], **_docs(schemas.RetentionOut))
    def get_retention(tenant: Tenant) -> Response:
        """*Extension*: the retention policy (days kept by creation time; null = forever)."""
        return ok(tenant.engine.get_retention().model_dump(mode="json"))

    @router.put("/admin/retention", tags=[EXT], **_docs(schemas.RetentionOut))
    def set_retention(body: schemas.RetentionBody, tenant: Tenant) -> Response:
        """*Extension*: partial update; omitted keys keep their value."""
        given = body.model_fields_set
        config = tenant.engine.set_retention(
            body.message_days if "message_days" in given else "keep",
            body.memory_days if "memory_days" in given else "keep",
        )
        return ok(config.model_dump(mode="json"))

    @router.post("/admin/sweep", tags=[EXT], response_model=None)
    def sweep(tenant: Tenant) -> Response:
        """*Extension*: delete expired blocks and blocks past retention now."""
        return ok(tenant.engine.sweep())

    return router
