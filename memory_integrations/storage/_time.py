"""Times as stored: integer microseconds since the Unix epoch, UTC."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger("memory_integrations.storage")

US = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_EARLIEST_US = -62_135_596_800 * US  # 0001-01-01T00:00:00Z
_LATEST_US = 253_402_300_799 * US + 999_999  # 9999-12-31T23:59:59.999999Z


def to_us(moment: datetime) -> int:
    """Exact epoch microseconds of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // _ONE_US


def to_us_or_none(moment: datetime | None) -> int | None:
    return None if moment is None else to_us(moment)


def from_us(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime.

    Whatever a row holds (an older version may have stored times outside the datetime
    range, or text), reading it never fails: out-of-range values are clamped to years
    1-9999 and unreadable ones read as ``None``.
    """
    if value is None:
        return None
    try:
        micros = int(value)
    except (TypeError, ValueError, OverflowError):
        log.warning("unreadable stored time %r read as null", value)
        return None
    return EPOCH + timedelta(microseconds=min(max(micros, _EARLIEST_US), _LATEST_US))
