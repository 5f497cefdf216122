"""A parser for the OData ``$filter`` subset the SAP SDK produces.

Grammar: ``clause ( 'and' clause )*`` where a clause is ``Field eq 'text'`` or
``contains(Field, 'text')``; strings are single-quoted with ``''`` for a quote. Anything
else (``or``, ``not``, numbers, other functions) is rejected with a message naming it.
"""

from __future__ import annotations

import re

from ..errors import ValidationError
from ._sap_store import Clause

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),])|(?P<bad>\S))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.group("bad") is not None:
            if text[pos:].lstrip().startswith("'"):
                raise ValidationError("$filter has an unterminated string literal")
            raise ValidationError(
                f"$filter: unexpected {text[pos:].strip()[:20]!r}; supported: "
                "Field eq 'text', contains(Field, 'text'), joined with 'and'"
            )
        kind = match.lastgroup or "bad"
        value = match.group(kind)
        if kind == "str":
            value = value[1:-1].replace("''", "'")
        out.append((kind, value))
        pos = match.end()
    return out


def parse_filter(text: str | None) -> list[Clause]:
    """Parse ``$filter`` into clauses; an empty or missing filter matches everything."""
    if text is None or not text.strip():
        return []
    tokens = _tokens(text)
    clauses: list[Clause] = []
    i = 0

    def expect(kind: str, value: str | None = None) -> str:
        nonlocal i
        if i >= len(tokens):
            raise ValidationError(f"$filter ends too early: expected {value or kind}")
        got_kind, got = tokens[i]
        if got_kind != kind or (value is not None and got != value):
            raise ValidationError(f"$filter: expected {value or kind}, found {got!r}")
        i += 1
        return got

    while True:
        if i < len(tokens) and tokens[i] == ("name", "contains"):
            i += 1
            expect("punct", "(")
            field = expect("name")
            expect("punct", ",")
            value = expect("str")
            expect("punct", ")")
            clauses.append(Clause("contains", field, value))
        else:
            field = expect("name")
            op = expect("name")
            if op != "eq":
                raise ValidationError(
                    f"$filter: operator {op!r} is not supported; use eq or contains()"
                )
            clauses.append(Clause("eq", field, expect("str")))
        if i == len(tokens):
            return clauses
        joiner = expect("name")
        if joiner != "and":
            raise ValidationError(f"$filter: {joiner!r} is not supported; join clauses with and")
