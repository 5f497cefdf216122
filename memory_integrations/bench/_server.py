"""``bench server``: add and search over HTTP on loopback, next to the same calls in-process.

Both sides use the same client API (``AgentMemoryClient``): in-process on the embedded
engine, and over HTTP with ``base_url=`` against a server process started here on
127.0.0.1 (its own process, so client and server do not share a GIL). Each
side first loads ``preload`` blocks, then times ``requests`` adds (one fact, async
processing, as agents write) and ``requests`` ranked searches; the HTTP side also runs the
same calls from ``concurrency`` client threads for throughput.
"""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..client import AgentMemoryClient, SessionResource
from ..embedders import resolve_embedder
from ._stats import percentile

TOPICS = ["shipping", "billing", "returns", "travel", "diet", "music", "family", "work"]


def _fact(i: int) -> str:
    topic = TOPICS[i % len(TOPICS)]
    return f"note {i}: the customer mentioned {topic} detail number {i % 53} on day {i % 31}"


def _figures(samples: list[float], seconds: float) -> dict[str, float]:
    return {
        "requests_per_s": round(len(samples) / seconds, 1) if seconds > 0 else float("nan"),
        "p50_ms": round(percentile(samples, 50), 3),
        "p99_ms": round(percentile(samples, 99), 3),
        "n": len(samples),
    }


def _run(action: Callable[[int], Any], count: int, threads: int) -> dict[str, float]:
    """``count`` calls of ``action(i)`` spread over ``threads`` threads."""
    counter = itertools.count()
    samples: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        local: list[float] = []
        while (i := next(counter)) < count:
            start = time.perf_counter()
            action(i)
            local.append((time.perf_counter() - start) * 1000)
        with lock:
            samples.extend(local)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return _figures(samples, time.perf_counter() - started)


def _side(client: AgentMemoryClient, requests: int, preload: int, threads: int) -> dict[str, Any]:
    user = client.create_user(f"bench-{threads}-{time.time_ns()}", "Bench")
    session: SessionResource = user.create_session("s")
    for start in range(0, preload, 500):
        session.add_memory(facts=[_fact(i) for i in range(start, min(preload, start + 500))])
    client.wait_until_processed(600)
    add = _run(lambda i: session.add_memory(facts=[_fact(preload + i)]), requests, threads)
    client.wait_until_processed(600)
    search = _run(
        lambda i: session.search_memory(f"what about {TOPICS[i % len(TOPICS)]} detail {i % 53}"),
        requests,
        threads,
    )
    client.delete_user(user.user_id)
    return {"add": add, "search": search}


_SERVE = """
import sys
from pathlib import Path
from memory_integrations.server import ServerConfig, create_app, serve
data, port, embedder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
serve(create_app(ServerConfig(data_dir=Path(data), embedder=embedder)), port=port,
      log_level="warning")
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(data: Path, embedder: str) -> tuple[subprocess.Popen[bytes], str]:
    """A server process on a free loopback port, once its /health answers."""
    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(data), str(port), embedder],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the benchmark server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the benchmark server did not start within 60 s")


def bench_server(
    requests: int = 300,
    *,
    preload: int = 2_000,
    concurrency: int = 4,
    embedder: str = "hashing",
) -> dict[str, Any]:
    """Requests/s and p50/p99 latency of add and search: in-process, HTTP, HTTP concurrent."""
    model = resolve_embedder(embedder)
    figures: dict[str, Any] = {
        "setup": {
            "embedder": model.name,
            "preloaded_blocks": preload,
            "requests_per_case": requests,
            "http_concurrency": concurrency,
        }
    }
    with tempfile.TemporaryDirectory() as tmp:
        with AgentMemoryClient(Path(tmp) / "local.sqlite3", embedder=model) as local:
            figures["in_process"] = _side(local, requests, preload, 1)
        proc, url = _start_server(Path(tmp) / "server", embedder)
        try:
            with AgentMemoryClient(base_url=url) as remote:
                figures["http"] = _side(remote, requests, preload, 1)
                figures[f"http_{concurrency}_threads"] = _side(
                    remote, requests, preload, concurrency
                )
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    for op in ("add", "search"):
        local_p50 = figures["in_process"][op]["p50_ms"]
        figures.setdefault("http_overhead_p50_ms", {})[op] = round(
            figures["http"][op]["p50_ms"] - local_p50, 3
        )
    return figures
