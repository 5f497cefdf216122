"""Re-record the remote-backend cassettes against our own server.

Run from the repository root::

    python tests/remote/record_cassettes.py [scenario ...]

Each scenario of ``scenarios.py`` runs against a fresh ``memory-integrations`` server on
127.0.0.1 (random port, hashing embedder, test-only tokens) while vcrpy records. URLs are
rewritten to ``RECORDED_BASE_URL``; Authorization headers are dropped and issued OAuth
tokens replaced by ``REDACTED``, so the cassettes hold no secrets.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.remote.conftest import RECORDED_BASE_URL, make_vcr, start_server
from tests.remote.scenarios import SCENARIOS


def record(name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        thread, app = start_server(Path(data))
        (Path(data) / "broken").write_text("a file where the tenant directory goes")
        live = thread.url

        def rewrite(request: Any) -> Any:
            request.uri = request.uri.replace(live, RECORDED_BASE_URL)
            return request

        def pause(step: str) -> None:
            if step == "revoke-tokens":
                app.state.authority.revoke_issued()

        cassette = Path(__file__).parent / "cassettes" / f"{name}.yaml"
        cassette.unlink(missing_ok=True)
        try:
            with make_vcr("all", before_record_request=rewrite).use_cassette(f"{name}.yaml"):
                return SCENARIOS[name](live, pause)
        finally:
            thread.stop()


if __name__ == "__main__":
    for scenario in sys.argv[1:] or list(SCENARIOS):
        print(scenario, record(scenario))
