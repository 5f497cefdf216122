"""The architecture, checked: the layers contract (import-linter) and private modules.

``docs/architecture.md`` draws the layers; ``[tool.importlinter]`` in pyproject.toml states
them as a contract. These tests run the contract on the package and on a copy with a
deliberate violation (so the check is known to bite), and check that no module imports a
private (``_``-prefixed) module of a package other than its own or an ancestor.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import memory_integrations

PACKAGE = Path(memory_integrations.__file__).resolve().parent
ROOT = PACKAGE.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=package_parent,
        env={**os.environ, "PYTHONPATH": str(package_parent)},
    )


def test_the_layers_contract_is_kept() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "violation"),
    [
        ("engine/_rows.py", "from ..client import AgentMemoryClient"),  # engine -> client
        ("storage/_time.py", "from ..engine import Engine"),  # storage -> engine
        ("turn/_binding.py", "from ..langchain import AgentMemoryRetriever"),  # turn -> adapter
    ],
)
def test_a_deliberate_violation_breaks_the_contract(
    tmp_path: Path, module: str, violation: str
) -> None:
    copy = tmp_path / "memory_integrations"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / module).open("a") as handle:
        handle.write(f"\n{violation}  # deliberate\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout or "broken" in result.stdout


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def _imported(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import from within the package."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            names = [f"{target}.{alias.name}" for alias in node.names]
            out.extend((node.lineno, t) for t in [target, *names])
        elif isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, name) for line, name in out if name.startswith("memory_integrations")]


def test_no_module_imports_another_packages_private_module() -> None:
    """A ``_``-prefixed module belongs to its package: importable from that package and the
    packages inside it (the root's ``_models`` / ``_settings`` / ``_version`` are shared
    this way), never from a sibling package."""
    modules = dict(_modules())
    problems = []
    for module, path in modules.items():
        importer = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for line, name in _imported(module, path):
            parts = name.split(".")
            for depth in range(1, len(parts)):
                if not parts[depth].startswith("_") or parts[depth].startswith("__"):
                    continue
                if ".".join(parts[: depth + 1]) not in modules:
                    continue  # a private name inside a module, not a private module
                owner = ".".join(parts[:depth])
                if not (importer == owner or importer.startswith(owner + ".")):
                    problems.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
                break
    assert not problems, "\n".join(problems)
