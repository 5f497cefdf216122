"""Create (idempotently) the Python 3.12 venv holding the two official SDKs.

``python tests/sdk_compat/sdkenv.py`` prints the venv's python; the sdk_compat tests call
``ensure_sdk_python()`` from a session fixture. The venv lives in ``.venv-sdk312/`` at the
repo root and is rebuilt only when ``requirements-sdk312.txt`` changes. Python 3.12 is
found from ``$SDK_PYTHON``, ``python3.12`` on PATH, or a pyenv install.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV = REPO / ".venv-sdk312"
REQUIREMENTS = HERE / "requirements-sdk312.txt"
DRIVER = HERE / "drivers" / "sdk_driver.py"


def _is_312(python: str) -> bool:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and out.stdout.strip() == "True"


def find_python312() -> str | None:
    candidates = [os.environ.get("SDK_PYTHON", ""), shutil.which("python3.12") or ""]
    home = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{home}/versions/3.12*/bin/python3.12"), reverse=True)
    candidates += ["/usr/bin/python3.12", "/usr/local/bin/python3.12"]
    for candidate in candidates:
        if candidate and Path(candidate).exists() and _is_312(candidate):
            return candidate
    return None


def _python() -> Path:
    return VENV / "bin" / "python"


def ensure_sdk_python() -> Path:
    """The venv's python, creating or refreshing the venv when needed."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    stamp = VENV / ".requirements.sha256"
    if _python().exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return _python()
    base = find_python312()
    if base is None:
        raise RuntimeError(
            "Python 3.12 is needed for the SDK compatibility tests (couchbase-agent-memory "
            "requires it): install it or set SDK_PYTHON=/path/to/python3.12"
        )
    VENV.parent.mkdir(parents=True, exist_ok=True)
    lock_path = Path(tempfile.gettempdir()) / "memory-integrations-sdk312.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _python().exists() and stamp.exists() and stamp.read_text().strip() == digest:
            return _python()
        if VENV.exists():
            shutil.rmtree(VENV)
        subprocess.run([base, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [
                str(_python()),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "-r",
                str(REQUIREMENTS),
            ],
            check=True,
        )
        subprocess.run(
            [str(_python()), "-c", "import agentmemory, sap_cloud_sdk.agent_memory"], check=True
        )
        stamp.write_text(digest)
    return _python()


if __name__ == "__main__":
    try:
        print(ensure_sdk_python())
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
