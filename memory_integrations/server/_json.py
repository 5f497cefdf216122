"""Request bodies are parsed as I-JSON (RFC 7493): what Python's ``json`` module accepts
beyond it is a 400 naming the problem, before any route code runs.

Refused: ``NaN`` / ``Infinity`` and numbers that overflow to infinity, lone surrogates
(``"\\ud800"`` escapes or CESU bytes: no storage or response can encode them), nesting
deeper than ``MAX_DEPTH``, integers past Python's digit limit, bytes that are not UTF-8.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

MAX_DEPTH = 100
_SURROGATE = re.compile("[\ud800-\udfff]")


def _bad(message: str) -> HTTPException:
    return HTTPException(status_code=400, detail=f"the JSON body is refused: {message}")


def _no_constant(name: str) -> Any:
    raise _bad(f"{name} is not JSON; send a finite number, or null")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _bad(f"the number {text[:40]} is out of range; send a finite number")
    return value


def parse_body(raw: bytes) -> Any:
    """``raw`` as JSON, or an ``HTTPException`` (400) saying what is wrong with it."""
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise _bad(f"it nests deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise _bad("it is not UTF-8 text") from None
    except json.JSONDecodeError:
        raise  # FastAPI reports the position
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise _bad(str(exc)) from None
    _check(value)
    return value


def _check(value: Any) -> None:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise _bad(
                    "a string holds a lone surrogate (e.g. \\ud800), which is not Unicode text; "
                    "send valid UTF-8 (decode your input with errors='replace')"
                )
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise _bad(f"it nests deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                stack.extend((key, depth + 1) for key in item)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


class StrictJSONRequest(Request):
    """A request whose ``json()`` is :func:`parse_body`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse_body(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """An ``APIRoute`` that reads JSON bodies with :class:`StrictJSONRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict
