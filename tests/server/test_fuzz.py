"""Schemathesis, from the server's own OpenAPI schema: no 5xx, every error in the envelope.

Two runs, both bounded (a few examples per operation):

* schema-conforming cases sent over ASGI to the real app on a temporary directory (its
  lifespan runs around every call, so stores reopen each time, as after a restart);
* the same operations with one hostile value planted in the body, a path parameter or the
  query (lone surrogate escapes, integers >= 2**63, NaN/Infinity, deep nesting, bidi
  controls, very long strings), sent as raw bytes to a real uvicorn server on loopback whose
  stores hold a seeded user, session, block, prompt and SAP memory, so that many requests
  reach the engine instead of stopping at a 404.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from memory_integrations.embedders import HashingEmbedder  # noqa: E402
from memory_integrations.server import ServerConfig, ServerThread, create_app  # noqa: E402

from .conftest import PYTHON_HINT  # noqa: E402

ENVELOPE = {"error", "message", "details", "request_id"}
# More examples for a deeper local run: MI_FUZZ_EXAMPLES=200 pytest tests/server/test_fuzz.py
HOSTILE_EXAMPLES = int(os.environ.get("MI_FUZZ_EXAMPLES", "4"))

pytestmark = pytest.mark.slow

_DATA = tempfile.TemporaryDirectory(prefix="mi-fuzz-")
# schemathesis calls the ASGI app as Host "testserver"
APP = create_app(
    ServerConfig(
        data_dir=Path(_DATA.name), embedder=HashingEmbedder(), allowed_hosts=("testserver",)
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# Hostile values go into otherwise schema-conforming requests, so they get past the first
# check and reach deeper code.
positive = schemathesis.openapi.from_asgi("/openapi.json", APP)
positive.config.generation.update(modes=["positive"])
positive.config.phases.update(phases=["fuzzing"])  # one generated base case per example


def _assert_no_5xx_and_enveloped(what: str, status: int, text: str) -> None:
    assert status < 500, f"{what}: {status} {text[:500]}"
    if status >= 400:
        body = json.loads(text)
        assert set(body) >= ENVELOPE, text[:500]
        assert isinstance(body["error"], str) and body["message"]
        assert not PYTHON_HINT.search(body["message"]), f"{what}: {body['message']}"


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_enveloped_errors(case: Any) -> None:
    response = case.call()
    _assert_no_5xx_and_enveloped(f"{case.method} {case.formatted_path}", *_parts(response))
    if 200 <= response.status_code < 300 and response.status_code != 204 and response.content:
        case.validate_response(response, checks=[schemathesis.checks.response_schema_conformance])


def _parts(response: Any) -> tuple[int, str]:
    return int(response.status_code), str(response.text)


# --- hostile values -----------------------------------------------------------------------

# Raw JSON texts, planted verbatim into a body (json.dumps cannot write most of them).
HOSTILE_JSON: dict[str, str] = {
    "lone high surrogate escape": '"\\ud800"',
    "2**63": str(2**63),
    "4400-digit integer": "7" * 4400,
    "NaN": "NaN",
    "1e400": "1e400",
    "list nested 200 deep": "[" * 200 + "]" * 200,
    "bidi override": '"\\u202eevil\\u202c"',
}
# Sampled into random places, not sent to every one (big, or variants of the above).
HOSTILE_JSON_SAMPLED: dict[str, str] = {
    "lone low surrogate inside text": '"abc\\udc00def"',
    "-(2**63)-1": str(-(2**63) - 1),
    "BOM and zero-width": '"\\ufeff\\u200bx"',
    "list nested 100000 deep": "[" * 100_000 + "]" * 100_000,
    "object nested 900 deep": '{"a":' * 900 + "1" + "}" * 900,
    "2 MB string": '"' + "x" * 2_000_000 + '"',
    "300 KB string": '"' + "y" * 300_000 + '"',
}
# For a path parameter or a query value, already percent-encoded.
HOSTILE_TEXT: dict[str, str] = {
    **{
        name: quote(text, safe="")
        for name, text in {
            "bidi override": "\u202eevil\u202c",
            "2**63": str(2**63),
            "1e400": "1e400",
            "5 KB id": "i" * 5_000,
            "dot-dot": "..",
        }.items()
    },
    "CESU surrogate bytes": "%ED%A0%80",
    "invalid UTF-8": "%FF%FE",
    "encoded NUL": "a%00b",
}
SENTINEL = "\u0000hostile\u0000"
# Body fields naming the seeded objects, so requests get past "not found".
SEEDED_FIELDS = ("user_id", "session_id", "prompt_id")
SAP_FIELDS = {"agentID": "a", "invokerID": "i", "messageGroup": "g"}


class Hostile:
    """A live server holding a seeded user, session, block, prompt, SAP memory and message
    (re-created when a fuzzed request deleted them), and a client on it."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.ids: dict[str, str] = {}
        self.round = 0

    def seed(self) -> None:
        """Fresh objects for the next operation (an earlier one may have ended, archived or
        deleted the previous ones)."""
        self.round += 1
        http, n = self.http, self.round
        http.post("/users", json={"user_id": "fuzz-user", "name": "F"})
        http.post("/users/fuzz-user/sessions", json={"session_id": f"s{n}"})
        added = http.post(
            f"/users/fuzz-user/sessions/s{n}/memory",
            json={"facts": ["seeded fact"], "async_processing": False},
        ).json()
        http.post("/prompts", json={"prompt_id": f"p{n}", "prompt": "x", "description": "d"})
        sap = {"agentID": "a", "invokerID": "i", "content": "seeded"}
        memory = http.post("/v1/memories", json=sap).json()
        message = http.post("/v1/messages", json={**sap, "messageGroup": "g", "role": "USER"})
        self.ids = {
            "user_id": "fuzz-user",
            "session_id": f"s{n}",
            "block_id": added["block_ids"][0],
            "prompt_id": f"p{n}",
            "memory_id": memory["id"],
            "message_id": message.json()["id"],
        }

    def send(self, method: str, url: str, payload: bytes) -> tuple[int, str]:
        headers = {"content-type": "application/json"} if payload else {}
        response = self.http.request(method, url, content=payload or None, headers=headers)
        return response.status_code, response.text


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    config = ServerConfig(data_dir=tmp_path_factory.mktemp("hostile"), embedder=HashingEmbedder())
    with (
        ServerThread(create_app(config)) as thread,
        httpx.Client(base_url=thread.url, timeout=60) as http,
    ):
        yield Hostile(http)


# Optional fields a minimal generated body leaves out, planted where they are absent.
OPTIONAL_KEYS = ("agent_id", "block_ids", "session_ids", "metadata_contains", "role")


def _places(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Where a value can be planted in a JSON document, three levels deep: every value, a new
    key, and the optional keys (at the top and in ``filters``)."""
    found: list[tuple[Any, ...]] = [prefix] if prefix else []
    if len(prefix) >= 3:
        return found
    if isinstance(value, dict):
        found.append((*prefix, "hostile_key"))
        if prefix in ((), ("filters",)):
            found += [(*prefix, key) for key in OPTIONAL_KEYS if key not in value]
        if prefix == () and not isinstance(value.get("filters"), dict):
            found += [("filters", key) for key in OPTIONAL_KEYS]
        for key, item in value.items():
            found += _places(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:2]):
            found += _places(item, (*prefix, index))
    return found


def _plant(document: Any, where: tuple[Any, ...]) -> Any:
    if not where:
        return SENTINEL
    head, *rest = where
    if not isinstance(document, (dict, list)):
        document = {}
    if isinstance(document, dict):
        return {**document, head: _plant(document.get(head), tuple(rest))}
    copy = list(document)
    copy[head] = _plant(copy[head], tuple(rest))
    return copy


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,30}$")
_TIME_KEYS = re.compile(r"(_at|_after|_before)$")


def _tame(value: Any, seeded: dict[str, str], key: str = "") -> Any:
    """Schemathesis's random body made plausible, so a hostile value planted in it reaches
    the engine: seeded ids, plain keys and texts, real timestamps (enums are kept)."""
    if isinstance(value, dict):
        return {
            (k if _KEY.match(k) else f"k{i}"): _tame(v, seeded, k if _KEY.match(k) else "")
            for i, (k, v) in enumerate(value.items())
        }
    if isinstance(value, list):
        return [_tame(item, seeded, key) for item in value]
    if not isinstance(value, str):
        return value
    if key in seeded:
        return seeded[key]
    if _TIME_KEYS.search(key):
        return "2025-01-15T10:30:00Z"
    if value.isascii() and value.isprintable() and value.strip() and not set(value) & set("/?#%"):
        return value
    return "fuzz-text"


class Base:
    """A schema-conforming request of ``case``, naming the seeded objects."""

    def __init__(self, case: Any, ids: dict[str, str]) -> None:
        self.method = case.method.upper()
        self.template = case.path
        self.params = {  # schemathesis's values come percent-encoded already
            name: quote(ids[name], safe="") if name in ids else value
            for name, value in case.path_parameters.items()
        }
        seeded = {**{k: ids[k] for k in SEEDED_FIELDS}, **SAP_FIELDS}
        self.body = _tame(case.body, seeded) if isinstance(case.body, (dict, list)) else None
        self.query = {
            k: quote(str(v), safe="")
            for k, v in (case.query or {}).items()
            if not isinstance(v, (dict, list))
        }

    def url(self, params: dict[str, str] | None = None, query: dict[str, str] | None = None) -> str:
        path = self.template
        for name, value in (params or self.params).items():
            path = path.replace("{" + name + "}", value)
        pairs = "&".join(f"{quote(k, safe='$')}={v}" for k, v in (query or self.query).items())
        return path + (f"?{pairs}" if pairs else "")

    def payload(self, where: tuple[Any, ...] | None = None, raw: str = "") -> bytes:
        if self.body is None:
            return b""
        if where is None:
            return json.dumps(self.body).encode()
        planted = json.dumps(_plant(self.body, where))
        return planted.replace(json.dumps(SENTINEL), raw).encode()

    def variants(self, values: dict[str, str]) -> Iterator[tuple[str, str, bytes]]:
        """(what, url, body) with one hostile value in each body place, path parameter and
        query parameter (``values`` for the body; ``HOSTILE_TEXT`` elsewhere)."""
        for where in _places(self.body) if self.body is not None else []:
            for name, raw in values.items():
                yield f"body {where}: {name}", self.url(), self.payload(where, raw)
        for param in self.params:
            for name, text in HOSTILE_TEXT.items():
                url = self.url(params={**self.params, param: text})
                yield f"path {param}: {name}", url, self.payload()
        for key in [*self.query, "limit", "offset"]:
            for name, text in HOSTILE_TEXT.items():
                url = self.url(query={**self.query, key: text})
                yield f"query {key}: {name}", url, self.payload()


@positive.parametrize()
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_place_takes_every_hostile_value(case: Any, hostile_server: Hostile) -> None:
    """Systematic: each small hostile value in each body place, path and query parameter."""
    hostile_server.seed()
    base = Base(case, hostile_server.ids)
    failures = []
    for what, url, payload in base.variants(HOSTILE_JSON):
        status, text = hostile_server.send(base.method, url, payload)
        try:
            _assert_no_5xx_and_enveloped(what, status, text)
        except (AssertionError, ValueError) as exc:
            failures.append(f"{base.method} {base.template} {what}: {str(exc)[:300]}")
    assert not failures, "\n".join(failures)


@positive.given(data=st.data())
@positive.parametrize()
@settings(
    max_examples=HOSTILE_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_sampled_hostile_values_never_cause_a_5xx(
    case: Any, data: Any, hostile_server: Hostile
) -> None:
    """Sampled: the big values and variants, in random places."""
    hostile_server.seed()
    base = Base(case, hostile_server.ids)
    variants = list(base.variants(HOSTILE_JSON_SAMPLED))
    what, url, payload = data.draw(st.sampled_from(variants))
    status, text = hostile_server.send(base.method, url, payload)
    _assert_no_5xx_and_enveloped(f"{base.method} {base.template} {what}", status, text)
