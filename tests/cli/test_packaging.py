"""``.ci/check_dist.py``: CI fails when the wheel lacks a package file or the sdist ships junk."""

from __future__ import annotations

import importlib.util
import io
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import ROOT


@pytest.fixture(scope="module")
def check_dist() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_dist", ROOT / ".ci" / "check_dist.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _wheel(path: Path, names: list[str], entry_point: str) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, "x")
        archive.writestr("memory_integrations-0.1.0.dist-info/entry_points.txt", entry_point)


def _sdist(path: Path, names: list[str]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name in names:
            info = tarfile.TarInfo(f"memory_integrations-0.1.0/{name}")
            info.size = 1
            archive.addfile(info, io.BytesIO(b"x"))


def test_the_source_tree_lists_the_package_data(check_dist: ModuleType) -> None:
    needed = check_dist.package_files(ROOT)
    assert {
        "memory_integrations/py.typed",
        "memory_integrations/embedders/_data/tokenizer.json",
        "memory_integrations/cli/_errors.py",
    } <= needed
    assert not any("__pycache__" in name for name in needed)


def test_a_complete_dist_passes_and_gaps_or_junk_fail(
    check_dist: ModuleType, tmp_path: Path
) -> None:
    needed = sorted(check_dist.package_files(ROOT) | set(check_dist.ALWAYS))
    good = tmp_path / "good"
    good.mkdir()
    _wheel(
        good / "m-0.1.0-py3-none-any.whl", needed, f"[console_scripts]\n{check_dist.ENTRY_POINT}\n"
    )
    _sdist(good / "m-0.1.0.tar.gz", [*needed, "pyproject.toml", "tests/test_x.py"])
    assert check_dist.check(good, ROOT) == []

    bad = tmp_path / "bad"
    bad.mkdir()
    lacking = [n for n in needed if not n.endswith("tokenizer.json")]
    _wheel(
        bad / "m-0.1.0-py3-none-any.whl", [*lacking, "memory_integrations/__pycache__/a.pyc"], ""
    )
    _sdist(
        bad / "m-0.1.0.tar.gz",
        [*needed, "pyproject.toml", ".venv/bin/python", "agent-memory.sqlite3", ".mypy_cache/x"],
    )
    problems = check_dist.check(bad, ROOT)
    assert any("missing memory_integrations/embedders/_data/tokenizer.json" in p for p in problems)
    assert any("junk memory_integrations/__pycache__/a.pyc" in p for p in problems)
    assert any("no console script" in p for p in problems)
    for junk in (".venv/bin/python", "agent-memory.sqlite3", ".mypy_cache/x"):
        assert any(p.endswith(f"junk {junk}") for p in problems), junk
    assert check_dist.main(["check_dist.py", str(bad), str(ROOT)]) == 1
