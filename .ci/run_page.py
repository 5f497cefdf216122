"""Run one docs page's Python blocks in order, as a reader copying them would.

Usage: python run_page.py PAGE.md

Blocks marked ``<!-- skip: next "reason" -->`` (a real provider's model) are left out,
as in tests/docs. Runs in the current directory with whatever the interpreter has
installed: CI uses it to show that ``pip install "memory-integrations[langgraph]"`` is
enough for the LangGraph page.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_FENCE = re.compile(r"^```python\n(.*?)^```$", re.M | re.S)
_SKIP = re.compile(r"<!-- skip: next \"[^\"]+\" -->")


def blocks(page: str) -> list[str]:
    found = []
    for match in _FENCE.finditer(page):
        line_before = page[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if not _SKIP.fullmatch(line_before.strip()):
            found.append(match.group(1))
    return found


def main() -> None:
    page = Path(sys.argv[1])
    namespace: dict[str, object] = {"__name__": "__main__"}
    code = blocks(page.read_text(encoding="utf-8"))
    for number, source in enumerate(code, 1):
        exec(compile(source, f"{page}:block{number}", "exec"), namespace)
    print(f"{page}: {len(code)} blocks ran")


if __name__ == "__main__":
    main()
