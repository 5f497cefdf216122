"""The bundled memory engine."""

from ..validation import parse_filters
from ._engine import Engine
from ._maintenance import ENGINE_METRICS
from ._prompts import PromptRecord, PromptRegistry, VersionRecord, check_prompt_id

__all__ = [
    "ENGINE_METRICS",
    "Engine",
    "PromptRecord",
    "PromptRegistry",
    "VersionRecord",
    "check_prompt_id",
    "parse_filters",
]
