"""The adapter imports LlamaIndex only when asked, and names the extra when it is missing."""

from __future__ import annotations

import subprocess
import sys


def run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip()


def test_root_package_does_not_import_llama_index() -> None:
    code = "import sys, memory_integrations; print('llama_index' in sys.modules)"
    assert run(code) == "False"


def test_missing_llama_index_names_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['llama_index'] = None\n"
        "sys.modules['llama_index.core'] = None\n"
        "try:\n"
        "    import memory_integrations.llama_index\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert 'pip install "memory-integrations[llama-index]"' in run(code)
