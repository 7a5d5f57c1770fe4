"""Hostile input through the real CLI: a child process, its exit code, what it printed,
how long it took and its peak memory (VmHWM: the kernel's count for the child's program)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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
#: BOOT that also writes the child's own high-water mark (VmHWM, KiB) to the file named
#: by RECONCILE_TEST_HWM as it exits. (``wait4``'s ru_maxrss is no use here: it keeps
#: the resident size the child had when it was forked, before exec, which is the
#: whole test process's: 430 MiB late in the suite, for a run that used 90.)
MEASURED_BOOT = (
    "import atexit, os\n"
    "def _hwm():\n"
    "    with open('/proc/self/status') as status:\n"
    "        kib = next(line.split()[1] for line in status if line.startswith('VmHWM'))\n"
    "    with open(os.environ['RECONCILE_TEST_HWM'], 'w') as out:\n"
    "        out.write(kib)\n"
    "atexit.register(_hwm)\n" + BOOT
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
    """``reconcile ARGS`` in a child process; its peak RSS as the kernel counted it
    for the child's own program (VmHWM, see MEASURED_BOOT)."""
    command = [sys.executable, "-c", MEASURED_BOOT, *map(str, args)]
    hwm = Path(tempfile.mkstemp(prefix="reconcile-hwm-")[1])
    started = time.monotonic()
    child = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {}), "RECONCILE_TEST_HWM": str(hwm)},
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
        pid, status, _ = os.wait4(child.pid, os.WNOHANG)
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
    seconds = time.monotonic() - started
    written = hwm.read_text()
    hwm.unlink()
    assert written, f"the child wrote no high-water mark (exit {child.returncode})"
    return Run(
        child.returncode,
        b"".join(out).decode(errors="replace"),
        b"".join(err).decode(errors="replace"),
        seconds,
        int(written) / 1024,
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
