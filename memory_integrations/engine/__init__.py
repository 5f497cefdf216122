"""The bundled memory engine."""

from ..validation import parse_filters
from ._engine import Engine
from ._prompts import PromptRecord, PromptRegistry, VersionRecord, check_prompt_id

__all__ = [
    "Engine",
    "PromptRecord",
    "PromptRegistry",
    "VersionRecord",
    "check_prompt_id",
    "parse_filters",
]
