"""Check the built wheel and sdist: nothing the package needs is missing, no junk is shipped.

Usage: python .ci/check_dist.py DIST_DIR [SOURCE_ROOT]

- The wheel holds every file of ``memory_integrations/`` that git tracks (code, ``py.typed``,
  the tokenizer and its NOTICE, ...) and the ``memory-integrations`` console script.
- The sdist holds the same package files, and no virtual environments, caches, databases,
  build output or notebook checkpoints.
Exits 1 with one line per problem.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

PACKAGE = "memory_integrations"
ALWAYS = (
    f"{PACKAGE}/__init__.py",
    f"{PACKAGE}/py.typed",
    f"{PACKAGE}/cli/__init__.py",
    f"{PACKAGE}/embedders/_data/tokenizer.json",
    f"{PACKAGE}/embedders/_data/NOTICE",
)
ENTRY_POINT = "memory-integrations = memory_integrations.cli:main"
JUNK = re.compile(
    r"(^|/)(\.?venv[^/]*|__pycache__|\.mypy_cache|\.ruff_cache|\.pytest_cache|\.hypothesis"
    r"|\.ipynb_checkpoints|\.git|site|dist|build|[^/]*\.egg-info)(/|$)"
    r"|\.py[cod]$|\.sqlite3(-wal|-shm)?$|\.db$|\.sqlite$|\.partial$|\.DS_Store$"
)


def package_files(root: Path) -> set[str]:
    """The files of the package in the source tree: git's list, else a walk without junk."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "--", PACKAGE],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        listed = []
    if listed:
        return {name for name in listed if (root / name).is_file()}
    return {
        path.relative_to(root).as_posix()
        for path in (root / PACKAGE).rglob("*")
        if path.is_file() and not JUNK.search(path.relative_to(root).as_posix())
    }


def check_wheel(wheel: Path, needed: set[str]) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points[0]).decode() if entry_points else ""
    problems = [f"{wheel.name}: missing {name}" for name in sorted((needed | set(ALWAYS)) - names)]
    problems += [f"{wheel.name}: junk {name}" for name in sorted(names) if JUNK.search(name)]
    if ENTRY_POINT not in scripts:
        problems.append(f"{wheel.name}: no console script '{ENTRY_POINT}'")
    return problems


def check_sdist(sdist: Path, needed: set[str]) -> list[str]:
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    problems = [f"{sdist.name}: missing {name}" for name in sorted((needed | set(ALWAYS)) - names)]
    problems += [f"{sdist.name}: junk {name}" for name in sorted(names) if JUNK.search(name)]
    if "pyproject.toml" not in names:
        problems.append(f"{sdist.name}: missing pyproject.toml")
    return problems


def check(dist: Path, root: Path) -> list[str]:
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        return [f"{dist}: expected one wheel and one sdist, found {len(wheels)} and {len(sdists)}"]
    needed = package_files(root)
    if not needed:
        return [f"{root}: no {PACKAGE} files found in the source tree"]
    return check_wheel(wheels[0], needed) + check_sdist(sdists[0], needed)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[2]) if len(argv) == 3 else Path(__file__).resolve().parents[1]
    problems = check(Path(argv[1]), root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"dist ok: wheel and sdist of {PACKAGE} hold every package file, and no junk")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
