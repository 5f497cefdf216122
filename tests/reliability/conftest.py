"""Fixtures of the reliability tests: fresh seeded stores for the hostile-input tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ._hostile import WorldFactory

# CrewAI (imported by the hostile adapter tests) must stay offline: no telemetry, no tracing.
for _name, _value in {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_TESTING": "true",
}.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session")
def world_templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the seeded template stores are made, once per test run."""
    return tmp_path_factory.mktemp("hostile-templates")


@pytest.fixture
def make_world(tmp_path: Path, world_templates: Path) -> Iterator[WorldFactory]:
    """``make_world()``: a fresh SQLite store seeded with bob and eve (core API only)."""
    factory = WorldFactory(tmp_path, world_templates, adapters=False)
    yield factory
    factory.close()


@pytest.fixture
def make_adapter_world(tmp_path: Path, world_templates: Path) -> Iterator[WorldFactory]:
    """``make_adapter_world()``: the same, plus bob's and eve's LangGraph thread and items."""
    factory = WorldFactory(tmp_path, world_templates, adapters=True)
    yield factory
    factory.close()
