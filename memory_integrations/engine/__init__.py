"""The bundled memory engine."""

from ..validation import parse_filters
from ._engine import Engine

__all__ = ["Engine", "parse_filters"]
