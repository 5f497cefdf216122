"""Memory survives a process restart: two fresh interpreters on the same file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

APP = Path(__file__).with_name("_restart_app.py")


def run_phase(phase: str, folder: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORY_INTEGRATIONS_")}
    done = subprocess.run(
        [sys.executable, str(APP), phase, str(folder)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=folder,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_memory_survives_a_restart_and_a_serialised_context(tmp_path: Path) -> None:
    assert run_phase("write", tmp_path) == {"written": True}
    assert (tmp_path / "memory.sqlite3").exists()

    out = run_phase("read", tmp_path)

    # The workflow Context saved by the first process resumes the same conversation.
    assert [(m["role"], m["content"]) for m in out["resumed"][-3:]] == [
        ("user", "My cat is called Miso."),
        ("assistant", "noted: My cat is called Miso."),
        ("user", "What did I just tell you?"),
    ]
    # A new conversation recalls the fact through the injected system message.
    new = out["new_conversation"]
    assert new[0]["role"] == "system" and "- user: My cat is called Miso." in new[0]["content"]
    assert [m["content"] for m in new[1:]] == ["What is my cat called?"]
    # LlamaIndex's Memory reads its short-term history back from the chat store...
    assert out["memory_history"] == ["I was born in Porto.", "Porto is lovely."]
    # ...and the memory block recalls it from another session.
    assert "- user: I was born in Porto." in out["memory_recall"]
