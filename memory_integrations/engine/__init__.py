"""The bundled memory engine."""

from ._engine import Engine, parse_filters

__all__ = ["Engine", "parse_filters"]
