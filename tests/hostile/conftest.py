"""Hostile input through the real CLI: a child process, its exit code, what it printed,
how long it took and its peak memory (``wait4``: the kernel's accounting of that child)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

#: retries do not sleep (the live-fetch tests' switch); everything else is the real CLI
BOOT = (
    "from reconcile.providers._http import set_testing; set_testing(True); "
    "from reconcile.cli import main; main()"
)


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mib: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def _drain(stream: object, into: list[bytes]) -> None:
    into.append(stream.read())  # type: ignore[attr-defined]


def run_cli(
    args: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> Run:
    """``reconcile ARGS`` in a child process; its peak RSS from ``wait4``."""
    command = [sys.executable, "-c", BOOT, *map(str, args)]
    started = time.monotonic()
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [
        threading.Thread(target=_drain, args=(child.stdout, out)),
        threading.Thread(target=_drain, args=(child.stderr, err)),
    ]
    for reader in readers:
        reader.start()
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > timeout:
            child.kill()
            os.wait4(child.pid, 0)
            child.returncode = -9
            for reader in readers:
                reader.join()
            for pipe in (child.stdout, child.stderr):
                if pipe is not None:
                    pipe.close()
            raise AssertionError(f"still running after {timeout} s")
        time.sleep(0.05)
    child.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    for pipe in (child.stdout, child.stderr):
        if pipe is not None:
            pipe.close()
    return Run(
        child.returncode,
        b"".join(out).decode(errors="replace"),
        b"".join(err).decode(errors="replace"),
        time.monotonic() - started,
        usage.ru_maxrss / 1024,
    )


#: what a one-trick server answers: (request headers) -> (body, content type)
Respond = Callable[[Mapping[str, str]], tuple[bytes, str]]


@contextmanager
def answering(respond: Respond) -> Iterator[str]:
    """A server on 127.0.0.1 that answers every GET and POST with 200 and what
    ``respond`` makes of the request's headers; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            body, content_type = respond(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
