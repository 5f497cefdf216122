"""Who a checkpoint or store item belongs to, recorded when it is written.

Ownership is what ``erase`` relies on, so it is never guessed from names: it is the
``user_id`` of the graph run that wrote the data (``config["configurable"]["user_id"]``,
or a ``user_id`` field of the run's context), or what the application declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..validation import check_id


def run_user_id(config: Mapping[str, Any] | None = None) -> str | None:
    """The user id of ``config`` or, without it, of the graph run in progress (if any)."""
    if config is None:
        from langgraph.config import get_config

        try:
            config = get_config()
        except RuntimeError:  # not inside a graph run
            return None
    configurable = config.get("configurable") or {}
    user = configurable.get("user_id")
    if user is None:  # the run's context (``context_schema``), carried by its Runtime
        from langgraph.runtime import Runtime

        for value in configurable.values():
            if isinstance(value, Runtime):
                context = value.context
                user = context.get("user_id") if isinstance(context, Mapping) else None
                user = user if user is not None else getattr(context, "user_id", None)
                break
    if not isinstance(user, str):
        return None
    try:
        return check_id(user, "user_id")
    except ValueError:  # not a valid user id: record no owner rather than fail the write
        return None
