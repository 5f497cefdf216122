"""Every Python example of docs/llama_index.md runs as written, printing what the page shows.

The examples run in one fresh interpreter, each in its own empty directory (they write
``memory.db`` there), with the hashing embedder and LlamaIndex's mocks as global defaults.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).parents[2] / "docs" / "llama_index.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)

RUNNER = """
import contextlib, io, json, os, sys
from llama_index.core import Settings
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM

Settings.llm = MockLLM()
Settings.embed_model = MockEmbedding(embed_dim=8)
outputs = []
for index, code in enumerate(json.loads(sys.stdin.read())):
    folder = os.path.join(sys.argv[1], f"example{index}")
    os.makedirs(folder)
    os.chdir(folder)
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, f"<example {index}>", "exec"), {"__name__": "__main__"})
    outputs.append(buffer.getvalue())
print(json.dumps(outputs))
"""


def examples() -> list[tuple[str, str | None]]:
    """(code, the text block right after it, if any) for each Python block of the page."""
    page = PAGE.read_text()
    blocks = [(m.group(1), m.group(2), m.start(), m.end()) for m in BLOCK.finditer(page)]
    found = []
    for (lang, body, _, end), after in zip(blocks, [*blocks[1:], None], strict=True):
        if lang != "python":
            continue
        output = None
        if after is not None and after[0] == "text" and not page[end : after[2]].strip():
            output = after[1]
        found.append((body, output))
    return found


@pytest.mark.slow
def test_docs_examples_run(tmp_path: Path) -> None:
    cases = examples()
    assert len(cases) >= 6
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORY_INTEGRATIONS_")}
    env["MEMORY_INTEGRATIONS_EMBEDDER"] = "hashing"
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path)],
        input=json.dumps([code for code, _ in cases]),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outputs = json.loads(done.stdout.strip().splitlines()[-1])
    for (_, expected), output in zip(cases, outputs, strict=True):
        if expected is not None:
            assert output == expected
