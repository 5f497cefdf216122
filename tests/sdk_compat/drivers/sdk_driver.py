"""Drives the official SDKs from pytest: runs inside .venv-sdk312 (Python 3.12).

Protocol: one JSON request per stdin line, one JSON answer per stdout line.

* ``{"op": "new", "kind": "cb" | "cb_async", "kwargs": {...}}`` -> a Couchbase client handle;
* ``{"op": "new", "kind": "sap", "config": {...} | null, "strategy": "PROVIDER", "tenant": ...}``
  -> an SAP client from ``create_client`` (``config: null`` reads the binding/env vars);
* ``{"op": "setenv", "env": {...}}`` (a null value removes the variable);
* ``{"op": "call", "target": handle, "method": name, "args": [...], "kwargs": {...}}``
  -> calls the SDK method (awaiting it on one persistent loop when it is a coroutine).

Arguments may hold ``{"$type": name, ...fields}`` (SDK classes: ChatMessage, FilterOptions,
FilterDefinition), ``{"$enum": "MessageRole.USER"}`` and ``{"$datetime": iso}``. Results are
plain JSON; SDK resource objects come back as ``{"$handle": id, "attrs": {...}}``. Errors
come back as ``{"ok": false, "error": {"type", "mro", "message", attrs...}}``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import inspect
import json
import os
import sys
import traceback
from datetime import datetime
from typing import Any

HANDLES: dict[str, Any] = {}
LOOP = asyncio.new_event_loop()
ERROR_ATTRS = (
    "status_code",
    "error_code",
    "request_id",
    "retry_after",
    "details",
    "service",
    "response_text",
    "server_status",
)


def _types() -> dict[str, Any]:
    import agentmemory
    from sap_cloud_sdk.agent_memory import FilterDefinition, MessageRole

    return {
        "ChatMessage": agentmemory.ChatMessage,
        "FilterOptions": agentmemory.FilterOptions,
        "FilterDefinition": FilterDefinition,
        "MessageRole": MessageRole,
    }


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$type" in value:
        fields = {k: decode(v) for k, v in value.items() if k != "$type"}
        return _types()[value["$type"]](**fields)
    if "$enum" in value:
        cls_name, _, member = value["$enum"].partition(".")
        return _types()[cls_name][member]
    if "$datetime" in value:
        return datetime.fromisoformat(value["$datetime"])
    if "$handle" in value:
        return HANDLES[value["$handle"]]
    return {k: decode(v) for k, v in value.items()}


def _store(obj: Any) -> dict[str, Any]:
    handle = f"h{len(HANDLES) + 1}"
    HANDLES[handle] = obj
    attrs = {}
    for name in (
        "user_id",
        "name",
        "sessions",
        "metadata",
        "session_id",
        "start_time",
        "end_time",
        "annotations",
        "blocks_ttl",
    ):
        if hasattr(obj, name):
            attrs[name] = encode(getattr(obj, name))
    return {"$handle": handle, "class": type(obj).__name__, "attrs": attrs}


def encode(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if hasattr(value, "model_dump"):  # pydantic (Couchbase SDK models)
        dumped = value.model_dump(mode="json")
        for prop in ("has_more",):
            if hasattr(value, prop):
                dumped[prop] = getattr(value, prop)
        return dumped
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # SAP models
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return _store(value)


def encode_error(exc: BaseException) -> dict[str, Any]:
    info: dict[str, Any] = {
        "type": type(exc).__name__,
        "mro": [c.__name__ for c in type(exc).__mro__],
        "module": type(exc).__module__,
        "message": str(exc),
    }
    for name in ERROR_ATTRS:
        if hasattr(exc, name):
            info[name] = encode(getattr(exc, name))
    return info


def op_new(request: dict[str, Any]) -> Any:
    kind = request["kind"]
    if kind in ("cb", "cb_async"):
        import agentmemory

        cls = agentmemory.AgentMemoryClient if kind == "cb" else agentmemory.AsyncAgentMemoryClient
        return _store(cls(**decode(request.get("kwargs", {}))))
    from sap_cloud_sdk.agent_memory import AccessStrategy, AgentMemoryConfig, create_client

    config = request.get("config")
    client = create_client(
        config=None if config is None else AgentMemoryConfig(**config),
        access_strategy=AccessStrategy[request.get("strategy", "PROVIDER")],
        tenant=request.get("tenant"),
    )
    return _store(client)


def op_setenv(request: dict[str, Any]) -> Any:
    for key, value in request["env"].items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    return None


def op_call(request: dict[str, Any]) -> Any:
    target = HANDLES[request["target"]]
    method = getattr(target, request["method"])
    result = method(*decode(request.get("args", [])), **decode(request.get("kwargs", {})))
    if inspect.isawaitable(result):
        result = LOOP.run_until_complete(result)
    return encode(result)


def main() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            result = globals()[f"op_{request['op']}"](request)
            answer: dict[str, Any] = {"ok": True, "result": result}
        except Exception as exc:
            answer = {"ok": False, "error": encode_error(exc), "trace": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
