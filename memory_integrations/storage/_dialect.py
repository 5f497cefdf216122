"""One way to write SQL for both dialects: portable text with a few named placeholders.

Statements use ``?`` / ``:name`` parameters (the PostgreSQL database translates them).
Schema scripts use ``{bigint}``, ``{blob}``, ``{serial}``, ``{vector}`` and ``{collate}``
for the types that differ; a migration step that exists on one dialect only is a mapping
from dialect to script.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

Dialect = Literal["sqlite", "postgres"]

DIALECT_TYPES: dict[str, dict[str, str]] = {
    "sqlite": {
        "bigint": "INTEGER",
        "blob": "BLOB",
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "vector": "BLOB",
        "collate": "",
    },
    # "C" collation: byte order, so text ranges and sorting match SQLite's.
    "postgres": {
        "bigint": "BIGINT",
        "blob": "BYTEA",
        "serial": "BIGSERIAL PRIMARY KEY",
        "vector": "vector",
        "collate": ' COLLATE "C"',
    },
}

Migration = str | Mapping[str, str] | Sequence[str | Mapping[str, str]]
"""One migration step: a script for both dialects, a mapping dialect -> script (a dialect
missing from it has nothing to do at this step), or a sequence of such parts."""


def render(script: str, dialect: str) -> str:
    """``script`` with its type placeholders filled in for ``dialect``."""
    try:
        types = DIALECT_TYPES[dialect]
    except KeyError:
        raise ValueError(f"unsupported SQL dialect {dialect!r}") from None
    for name, value in types.items():
        script = script.replace("{" + name + "}", value)
    return script


def render_migrations(migrations: Sequence[Migration], dialect: str) -> list[str]:
    """Each migration step as the script ``dialect`` runs (possibly empty)."""
    rendered = []
    for step in migrations:
        parts = [step] if isinstance(step, (str, Mapping)) else list(step)
        texts = [p if isinstance(p, str) else p.get(dialect, "") for p in parts]
        rendered.append("\n".join(render(text, dialect) for text in texts if text))
    return rendered


def placeholders(n: int) -> str:
    """``?,?,...`` for an ``IN (...)`` list of ``n`` parameters."""
    return ",".join("?" * n)


def chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """``items`` in slices of at most ``size`` (parameter lists stay under the limits)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
