"""The SAP Agent Memory v1 API at ``/v1`` (as ``sap_cloud_sdk.agent_memory`` calls it).

Memories (CRUD + semantic search), messages (create/read/delete/list), the retention
singleton, and the OData query options ``$filter`` / ``$top`` / ``$skip`` / ``$count``.
Entity ids go in OData key syntax, ``/v1/memories(<id>)``; metadata is JSON text.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from ..errors import ValidationError
from . import _schemas as schemas
from ._json import StrictJSONRoute
from ._odata import parse_filter
from ._sap_store import Kind, SapStore, parse_metadata
from ._tenancy import TenantRegistry

MAX_TOP = 1000
_KNOWN_OPTIONS = {"$filter", "$top", "$skip", "$count"}


async def sap_store(request: Request) -> SapStore:
    registry: TenantRegistry = request.app.state.registry
    return registry.sap(request.state.tenant).store


Store = Annotated[SapStore, Depends(sap_store)]


def _int_option(raw: str | None, name: str, default: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise ValidationError(f"{name} must be a whole number >= 0, got {raw!r}")
    return int(raw)


def _collection(request: Request, store: SapStore, kind: Kind) -> JSONResponse:
    params = request.query_params
    unknown = sorted(k for k in params if k.startswith("$") and k not in _KNOWN_OPTIONS)
    if unknown:
        raise ValidationError(
            f"query option {unknown[0]} is not supported; use $filter, $top, $skip, $count"
        )
    count_raw = params.get("$count")
    if count_raw not in (None, "true", "false"):
        raise ValidationError(f"$count must be true or false, got {count_raw!r}")
    top = min(_int_option(params.get("$top"), "$top", 50), MAX_TOP)
    skip = _int_option(params.get("$skip"), "$skip", 0)
    clauses = parse_filter(params.get("$filter"))
    items, total = store.query(kind, clauses, top, skip, count_raw == "true")
    body: dict[str, Any] = {
        "@odata.context": "$metadata#" + ("memories" if kind == "memory" else "messages")
    }
    if total is not None:
        body["@odata.count"] = total
    body["value"] = items
    return JSONResponse(body)


_ODATA_PARAMS = [
    {"name": "$filter", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "$top", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 0}},
    {
        "name": "$skip",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 0},
    },
    {"name": "$count", "in": "query", "required": False, "schema": {"type": "boolean"}},
]


def _docs(model: type[Any], status: int = 200) -> dict[str, Any]:
    return {"response_model": None, "responses": {status: {"model": model}}, "status_code": status}


def build_router() -> APIRouter:
    router = APIRouter(
        route_class=StrictJSONRoute,
        prefix="/v1",
        tags=["SAP v1"],
        responses={400: {"model": schemas.ErrorOut}, 404: {"model": schemas.ErrorOut}},
    )

    @router.post("/memories", **_docs(schemas.SapMemoryOut, 201))
    def add_memory(body: schemas.SapMemoryBody, store: Store) -> Response:
        """Store a memory for agentID + invokerID; it is searchable on return."""
        entity = store.add_memory(
            body.agentID, body.invokerID, body.content, parse_metadata(body.metadata)
        )
        return JSONResponse(entity, status_code=201)

    @router.get(
        "/memories",
        **_docs(schemas.SapMemoryCollection),
        openapi_extra={"parameters": _ODATA_PARAMS},
    )
    def list_memories(request: Request, store: Store) -> Response:
        """Memories matching ``$filter``, oldest first; ``$count=true`` adds ``@odata.count``."""
        return _collection(request, store, "memory")

    @router.post("/memories/search", **_docs(schemas.SapSearchCollection))
    def search_memories(body: schemas.SapSearchBody, store: Store) -> Response:
        """Memories with cosine similarity >= threshold, most similar first, at most top."""
        if not body.query.strip():
            raise ValidationError("query must not be blank")
        found = store.search(body.agentID, body.invokerID, body.query, body.threshold, body.top)
        return JSONResponse({"value": found})

    @router.get("/memories({memory_id})", **_docs(schemas.SapMemoryOut))
    def get_memory(memory_id: str, store: Store) -> Response:
        return JSONResponse(store.get("memory", memory_id))

    @router.patch("/memories({memory_id})", status_code=204, response_model=None)
    def update_memory(memory_id: str, body: schemas.SapMemoryPatch, store: Store) -> Response:
        """Partial update of content and/or metadata (metadata is replaced whole)."""
        given = body.model_fields_set
        store.update_memory(
            memory_id,
            body.content if "content" in given else None,
            parse_metadata(body.metadata) if "metadata" in given else None,
        )
        return Response(status_code=204)

    @router.delete("/memories({memory_id})", status_code=204, response_model=None)
    def delete_memory(memory_id: str, store: Store) -> Response:
        store.delete("memory", memory_id)
        return Response(status_code=204)

    @router.post("/messages", **_docs(schemas.SapMessageOut, 201))
    def add_message(body: schemas.SapMessageBody, store: Store) -> Response:
        entity = store.add_message(
            body.agentID,
            body.invokerID,
            body.messageGroup,
            body.role,
            body.content,
            parse_metadata(body.metadata),
        )
        return JSONResponse(entity, status_code=201)

    @router.get(
        "/messages",
        **_docs(schemas.SapMessageCollection),
        openapi_extra={"parameters": _ODATA_PARAMS},
    )
    def list_messages(request: Request, store: Store) -> Response:
        """Messages matching ``$filter`` (agentID, invokerID, messageGroup, role, contains)."""
        return _collection(request, store, "message")

    @router.get("/messages({message_id})", **_docs(schemas.SapMessageOut))
    def get_message(message_id: str, store: Store) -> Response:
        return JSONResponse(store.get("message", message_id))

    @router.delete("/messages({message_id})", status_code=204, response_model=None)
    def delete_message(message_id: str, store: Store) -> Response:
        store.delete("message", message_id)
        return Response(status_code=204)

    @router.get("/admin/retentionConfig", **_docs(schemas.SapRetentionOut))
    def get_retention(store: Store) -> Response:
        """The tenant's retention singleton (days by creation time; null = keep)."""
        return JSONResponse(store.retention())

    @router.patch("/admin/retentionConfig", status_code=204, response_model=None)
    def update_retention(body: schemas.SapRetentionPatch, store: Store) -> Response:
        """Partial update: only the given keys change; null disables a category."""
        changes = {key: getattr(body, key) for key in body.model_fields_set}
        if not changes:
            raise ValidationError("give at least one of messageDays, memoryDays, usageLogDays")
        store.set_retention(changes)
        return Response(status_code=204)

    return router
