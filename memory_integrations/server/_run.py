"""Running the app: ``serve`` (foreground, graceful shutdown) and ``ServerThread`` (tests,
benchmarks: a real server on a free loopback port in a background thread).

Both run uvicorn with :class:`EnvelopeH11Protocol`, so even a request uvicorn cannot parse
(malformed, or a request line or headers past ``PROTOCOL_LIMIT``) is answered with the JSON
error envelope instead of uvicorn's plain-text 400.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from types import TracebackType
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..errors import ConfigurationError
from ._errors import envelope

# Above the app's own limits (``_guards``), which answer while the connection stays open.
PROTOCOL_LIMIT = 64 * 1024
LINGER_SECONDS = 5.0


class EnvelopeH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, answering unparseable requests with the error envelope:
    414 for a request line past the limit, 431 for headers past it, else 400."""

    _lingering = False

    def send_400_response(self, msg: str) -> None:
        pending = self.conn.trailing_data[0]
        if len(pending) > PROTOCOL_LIMIT and b"\r\n" not in pending:
            status, code = 414, "URI_TOO_LONG"
            message = f"the request line is over {PROTOCOL_LIMIT:,} bytes; shorten the URL"
        elif len(pending) > PROTOCOL_LIMIT:
            status, code = 431, "HEADERS_TOO_LARGE"
            message = f"the request headers are over {PROTOCOL_LIMIT:,} bytes; drop large ones"
        else:
            status, code = 400, "BAD_REQUEST"
            message = "the request is not valid HTTP/1.1; check the client or proxy sending it"
        rid = uuid.uuid4().hex
        body = json.dumps(envelope(code, message, rid)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", rid.encode()),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=status, headers=headers),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            output = self.conn.send(event)
            if output:
                self.transport.write(output)
        # Lingering close: closing a socket with unread input resets the connection, and
        # the reset can destroy the answer before the client reads it. So half-close, drop
        # what the client still sends, and close when it does (or after LINGER_SECONDS).
        self._lingering = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if not self._lingering:
            super().data_received(data)


def uvicorn_config(app: Any, **options: Any) -> Any:
    """A ``uvicorn.Config`` with the enveloping protocol and its limit."""
    import uvicorn

    return uvicorn.Config(
        app,
        http=EnvelopeH11Protocol,
        h11_max_incomplete_event_size=PROTOCOL_LIMIT,
        **options,
    )


def serve(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    log_level: str = "info",
    workers_timeout: int | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM; shutdown stops accepting requests, lets in-flight ones
    finish, then drains the embedding queues (the app's lifespan) before exiting."""
    import uvicorn

    config = uvicorn_config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=workers_timeout,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise SystemExit(3)  # as uvicorn.run: the startup failed (the log says why)


class ServerThread:
    """A uvicorn server on ``host`` (a free port by default) in a daemon thread."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn_config(app, log_level="warning", lifespan="on", access_log=False)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ConfigurationError(f"the test server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 60.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
