"""Fixtures for the HTTP door and fetcher tests: a scripted server on 127.0.0.1.

``scripted`` answers each request with the next :class:`Reply` of its script (the
last one repeats), so a test says exactly what the wire does: a status with
headers, a delay beyond the read timeout, a connection reset, a close without a
response. Nothing in httpx is mocked.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from reconcile.providers import _http


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    delay: float = 0.0
    #: "reset": TCP RST without a response; "close": close without a response
    drop: str | None = None


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Scripted:
    url: str
    script: list[Reply]
    requests: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        state: Scripted = self.server.state  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        lock: threading.Lock = self.server.lock  # type: ignore[attr-defined]
        with lock:
            n = len(state.requests)
            state.requests.append(Seen(self.command, self.path, dict(self.headers.items()), body))
            reply = state.script[min(n, len(state.script) - 1)]
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            if reply.delay:
                time.sleep(reply.delay)
            if reply.drop == "reset":
                with contextlib.suppress(OSError):
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.rfile.close()
                    self.connection.close()
                self.close_connection = True
                return
            if reply.drop == "close":
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            with contextlib.suppress(OSError):
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
        finally:
            with lock:
                state.in_flight -= 1

    do_GET = _serve
    do_POST = _serve

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def serve(script: Sequence[Reply]) -> Iterator[Scripted]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    state = Scripted(f"http://127.0.0.1:{httpd.server_address[1]}", list(script))
    httpd.state = state  # type: ignore[attr-defined]
    httpd.lock = threading.Lock()  # type: ignore[attr-defined]
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


SECRET = "sk_test_S3cr3tValue_9f8e7d"


def client(
    server: Scripted,
    *,
    provider: str = "stripe",
    policy: _http.HttpPolicy | None = None,
    headers: dict[str, str] | None = None,
) -> _http.ProviderClient:
    return _http.ProviderClient(
        source="src",
        provider=provider,
        base_url=server.url,
        headers=headers if headers is not None else {"Authorization": f"Bearer {SECRET}"},
        credential_env="SRC_API_KEY",
        policy=policy or _http.HttpPolicy(read_timeout=5.0),
        secrets=[SECRET],
    )
