"""Time one crew kickoff with memory on a network that drops every packet.

``python _kickoff_timing.py <db path> [--opt-out]`` runs, in this fresh interpreter, a one-agent
crew on ``agent_memory_for_crew(db)`` (the defaults: ``analysis=True``, no ``llm``, no API
key) and prints one JSON line: the kickoff's wall time, the connection attempts, and the
warnings and errors logged. Outbound connections behave as behind a firewall that drops
them: name lookups succeed and ``connect`` waits for the socket's timeout (at most
``MAX_WAIT`` seconds when none is set), then fails. ``--opt-out`` first sets CrewAI's
telemetry and tracing opt-out variables (docs/crewai.md).

Self-contained (no test imports), so it can time any checkout: ``PYTHONPATH=<tree>``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import tempfile
import time
from typing import Any

OPT_OUT = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
}
MAX_WAIT = float(os.environ.get("TIMING_MAX_WAIT", "30"))
ATTEMPTS: list[dict[str, Any]] = []


def drop_outbound_packets() -> None:
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in (None, "localhost") or str(host).startswith(("127.", "::1", "/")):
            return real_getaddrinfo(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", int(port or 443)))]

    def connect(self: socket.socket, address: Any) -> None:
        if self.family not in (socket.AF_INET, socket.AF_INET6) or str(address[0]).startswith(
            "127."
        ):
            real_connect(self, address)
            return
        timeout = self.gettimeout()
        wait = MAX_WAIT if timeout is None else min(timeout, MAX_WAIT)
        ATTEMPTS.append({"address": repr(address), "waited": round(wait, 1)})
        time.sleep(wait)
        raise TimeoutError(f"dropped: {address!r}")

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = connect  # type: ignore[method-assign]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.levelname} {record.name}: {record.getMessage()[:160]}")


def main(db: str, opt_out: bool) -> dict[str, Any]:
    began = time.perf_counter()
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", *OPT_OUT):
        os.environ.pop(name, None)
    if opt_out:
        os.environ.update(OPT_OUT)
    os.environ.setdefault("CREWAI_STORAGE_DIR", tempfile.mkdtemp(prefix="crewai-timing-"))
    drop_outbound_packets()
    logs = Collect()
    logging.getLogger().addHandler(logs)

    from crewai import Agent, Crew, Task
    from memory_integrations.crewai import agent_memory_for_crew
    from memory_integrations.offline import offline_crewai_llm

    memory = agent_memory_for_crew(db, crew_name="Timing")
    agent = Agent(role="Lead", goal="Answer", backstory="Brief.", llm=offline_crewai_llm())
    task = Task(description="When is the launch?", expected_output="A day.", agent=agent)
    crew = Crew(name="Timing", agents=[agent], tasks=[task], memory=memory)
    memory.remember("The launch is on Friday.", scope="/", categories=[], importance=0.5)
    start = time.perf_counter()
    crew.kickoff()
    memory.drain_writes()
    elapsed = time.perf_counter() - start
    memory.close()
    return {
        "opt_out": opt_out,
        "setup_seconds": round(start - began, 2),
        "kickoff_seconds": round(elapsed, 2),
        "connection_attempts": ATTEMPTS,
        "logged": logs.messages,
    }


if __name__ == "__main__":
    result = main(sys.argv[1], "--opt-out" in sys.argv[2:])
    sys.stdout.flush()
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # do not wait for telemetry threads still blocked on dropped packets
