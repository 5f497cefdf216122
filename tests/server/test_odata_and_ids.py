"""The $filter parser and the SAP id escape, alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("fastapi")

from memory_integrations.errors import ValidationError
from memory_integrations.server._odata import parse_filter
from memory_integrations.server._sap_store import Clause, escape_id, unescape_id
from memory_integrations.validation import check_id


def test_the_sdk_vocabulary() -> None:
    text = (
        "agentID eq 'a1' and invokerID eq 'i''1' and contains(content, 'dark mode') "
        "and contains(metadata,'pref')"
    )
    assert parse_filter(text) == [
        Clause("eq", "agentID", "a1"),
        Clause("eq", "invokerID", "i'1"),
        Clause("contains", "content", "dark mode"),
        Clause("contains", "metadata", "pref"),
    ]
    assert parse_filter(None) == [] and parse_filter("  ") == []
    assert parse_filter("role eq ''''") == [Clause("eq", "role", "'")]
    assert parse_filter("contains(content, 'a and b')") == [
        Clause("contains", "content", "a and b")
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "agentID eq 'a' or invokerID eq 'b'",
        "agentID ne 'a'",
        "agentID eq 'open",
        "agentID eq 5",
        "contains(content 'x')",
        "agentID eq 'a' and",
        "startswith(content, 'x')",
        "(agentID eq 'a')",
    ],
)
def test_everything_else_is_a_clear_400(bad: str) -> None:
    with pytest.raises(ValidationError):
        parse_filter(bad)


@given(st.text(min_size=1, max_size=60))
def test_escape_round_trips_into_valid_engine_ids(value: str) -> None:
    escaped = escape_id(value)
    assert unescape_id(escaped) == value
    if len(escaped) <= 256:
        check_id(escaped, "id")


@given(st.text(max_size=40))
def test_filter_strings_round_trip(value: str) -> None:
    quoted = "'" + value.replace("'", "''") + "'"
    assert parse_filter(f"agentID eq {quoted}") == [Clause("eq", "agentID", value)]
