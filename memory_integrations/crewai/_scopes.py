"""CrewAI scopes (``/crew/agent/...``) as block annotations, and the keys records use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ValidationError
from ..validation import (
    check_id,
)

if TYPE_CHECKING:
    pass


META_KEY = "_crewai"
"""The metadata key holding CrewAI's own record fields (reserved)."""

_MAX_DEPTH = 48  # ancestors kept as annotations (the engine allows 64 annotations)
_ID = "crewai_id"
_SCOPE = "crewai_scope"
_PRIVATE = "crewai_private"
_VECTOR = "crewai_vector"  # "true" when the block keeps the crew's embedding of the record
_DIM = "crewai_dim"  # that embedding's length


def normalize_scope(path: str | None) -> str:
    """``'crew//a/'`` → ``'/crew/a'``; empty or ``None`` → ``'/'``."""
    parts = [p for p in (path or "").split("/") if p]
    return "/" + "/".join(parts)


def _levels(scope: str) -> list[str]:
    parts = [p for p in scope.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _scope_filter(scope: str) -> dict[str, str]:
    """The one annotation that selects a (checked) scope and everything below it."""
    return {f"crewai_s{len(_levels(scope)) - 1}": scope}


def _agent_of(scope: str) -> str | None:
    """``<role>`` when the scope contains ``.../agent/<role>`` and the role is a valid id."""
    parts = [p for p in scope.split("/") if p]
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "agent":
            try:
                return check_id(parts[i + 1], "agent role")
            except ValidationError:
                return None  # still stored, just without an agent id
    return None
