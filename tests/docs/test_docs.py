"""The docs are tests (issue #17): every Python block of README.md and docs/*.md runs.

One test per block, in page order; the blocks of a page share a namespace and a temporary
working directory (see ``conftest.py``). A block run on its own (by node id, e.g.
``"tests/docs/test_docs.py::test_block[docs/langgraph.md:230]"``) first runs the blocks
before it on its page, so it sees what a reader of the page would have defined.
A block followed directly by a ```` ```text ```` block must print exactly that text.
"""

from __future__ import annotations

import contextlib
import re
import unittest
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    PAGES,
    ROOT,
    PageRun,
    Pages,
    clean_environment,
    is_code,
    network_guard,
    page_id,
    parse,
    printed,
)

# CrewAI's own code calls its deprecated attributes.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crewai.*")

# Deliberate fragments, each marked and explained in its page: one "with a real model" block
# per framework page and the official SDKs on the server page. Raise only for a good reason.
FRAGMENT_BUDGET = 5


def blocks() -> list[Any]:
    """(page, index of the example) for each code block; skip directives are examples too,
    evaluated before the block they mark."""
    found = []
    for page in PAGES:
        for index, example in enumerate(parse(page).examples()):
            if is_code(example):
                found.append(pytest.param(page, index, id=f"{page_id(page)}:{example.line}"))
    return found


def _run(run: PageRun, index: int) -> None:
    example = run.examples[index]
    run.done.add(index)
    if not is_code(example):  # a skip directive
        example.evaluate()
        return
    with network_guard() as attempts, printed() as output:
        try:
            example.evaluate()
        except unittest.SkipTest as fragment:
            pytest.skip(f"fragment at {page_id(run.page)}:{example.line}: {fragment}")
        finally:
            run.remember_opened(example.namespace)
    assert attempts == [], f"the block tried to reach the network: {attempts}"
    expected = run.expected_output(example)
    if expected is not None:
        assert output.getvalue() == expected, "the block does not print what the page shows"


@pytest.mark.parametrize(("page", "index"), blocks())
def test_block(
    page: Path,
    index: int,
    pages: Pages,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = pages.get(page, request)
    clean_environment(monkeypatch, run.env)
    monkeypatch.chdir(run.directory)
    for earlier in range(index):
        if earlier not in run.done:
            with contextlib.suppress(pytest.skip.Exception):
                _run(run, earlier)
    _run(run, index)


FENCE = re.compile(r"^[ \t>]*(?:`{3,}|~{3,})[ \t]*([^\s`{]*)", re.M)
PYTHONISH = {"py", "python3", "py3", "pycon", "ipython", "Python", "pyi"}


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_python_block_is_collected(page: Path) -> None:
    """A Python block is fenced as ```python, so the docs tests find it (```py would not run)."""
    languages = FENCE.findall(page.read_text())
    assert PYTHONISH.isdisjoint(languages), f"fence Python blocks as ```python in {page.name}"
    examples = [e for e in parse(page).examples() if is_code(e)]
    assert len(examples) == languages.count("python")


def test_fragments_are_few_and_explained() -> None:
    """A deliberate fragment is marked by ``<!-- skip: next "why" -->`` right before it."""
    fragments = []
    for page in PAGES:
        text = page.read_text()
        for match in re.finditer(r"<!--\s*skip:\s*(.*?)\s*-->", text, re.S):
            line = text.count("\n", 0, match.start()) + 1
            where = f"{page_id(page)}:{line}"
            assert re.fullmatch(r'next "[^"]{10,}"', match.group(1)), (
                f'{where}: mark one block with <!-- skip: next "the reason" -->'
            )
            after = text[match.end() :].lstrip()
            assert after.startswith("```python"), f"{where}: the marker must precede the block"
            fragments.append(where)
    assert len(fragments) <= FRAGMENT_BUDGET, fragments


def test_readme_example_runs_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run again, the README example finds its user and session instead of failing."""
    clean_environment(monkeypatch, {})
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        examples = [e for e in parse(ROOT / "README.md").examples() if is_code(e)]
        assert examples
        for example in examples:
            example.evaluate()
