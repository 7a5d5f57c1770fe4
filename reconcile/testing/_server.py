"""The server core: :class:`ProviderServer`, what it logs (:class:`ServedRequest`),
and the faults it injects (:class:`Fault`)."""

from __future__ import annotations

import contextlib
import copy
import functools
import select
import socket
import struct
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from ._amberflo import _Amberflo
from ._commet import _Commet
from ._exact_json import _check_plain, _obj, _Raw
from ._f5 import _F5
from ._frontier import _Frontier
from ._provider_app import _App, _Bad, _Call, _Handler, _Reply
from ._recordings import records_from_recording
from ._stripe import _Stripe

PROVIDERS = ("f5xc", "amberflo", "commet", "frontier", "stripe")
#: faults answered before the request reaches the provider (a proxy, a rate limiter)
_STATUS_FAULTS = {"429": 429, "500": 500, "503": 503, "401": 401}
#: faults that change a page the provider serves (paginated lists only)
_PAGE_FAULTS = frozenset({"repeat_cursor", "conflicting_repeat", "repeat", "wrong_total"})
#: faults that stream a body no client should read whole (hostile servers)
_STREAM_FAULTS = frozenset({"endless", "gzip_bomb", "drip"})
FAULT_KINDS = (
    *_STATUS_FAULTS,
    "slow",
    "reset",
    "malformed",
    "html",
    "truncated",
    *sorted(_PAGE_FAULTS),
    *sorted(_STREAM_FAULTS),
)
#: ``Fault(times=FOREVER)``: a persistent fault
FOREVER = 10**9


@dataclass(frozen=True)
class Fault:
    """Something going wrong on a request.

    ``kind``:

    * ``"429"``, ``"503"``, ``"500"``: that status with the provider's error body,
      ``Retry-After: retry_after`` when given (seconds or an HTTP date);
    * ``"401"``: the provider's authentication error, even with the right credential;
    * ``"slow"``: the normal response after ``delay`` seconds (beyond a read timeout);
    * ``"reset"``: the connection is reset (TCP RST) without a response;
    * ``"malformed"``: ``200``, valid JSON in the wrong envelope
      (``{"result": <the normal body>}``);
    * ``"html"``: ``200`` with a ``text/html`` page (a proxy or login page);
    * ``"truncated"``: ``200``, the first half of the normal body (Content-Length
      matches, so only the JSON is broken);
    * hostile bodies: ``"endless"`` (``200``, a chunked body that never ends),
      ``"gzip_bomb"`` (``200``, ``Content-Encoding: gzip``, a small body that
      inflates to ``size`` bytes) and ``"drip"`` (``200``, a JSON body sent one byte
      every ``delay`` seconds);
    * paginated lists only (Commet list, Stripe invoices and lines), on a request
      that carries a cursor: ``"repeat_cursor"`` (the next cursor is the one just
      sent: Commet ``nextCursor``; Stripe serves the page ending at
      ``starting_after`` again), ``"conflicting_repeat"`` (the page starts with
      the previous page's last record, its ``total`` changed by 1), ``"repeat"``
      (the same, unchanged: a duplicate to drop), and, Stripe invoice list only,
      ``"wrong_total"`` (``total_count`` one more than the records there are).

    ``request``: the request (1-based) that gets it, counting requests to the
    provider's endpoints whose ``path?query`` contains ``path_contains`` (all of
    them when None); ``None``: from the first one on. The fault fires on the
    first such request that it applies to, and on the next ones until it has
    fired ``times`` times (``FOREVER`` for a persistent fault). ``headers`` are
    added to the response (e.g. ``(("Stripe-Should-Retry", "false"),)``).
    """

    kind: str
    request: int | None = None
    path_contains: str | None = None
    times: int = 1
    retry_after: str | None = None
    delay: float = 0.0
    headers: tuple[tuple[str, str], ...] = ()
    #: ``gzip_bomb``: the inflated size in bytes
    size: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (known: {', '.join(FAULT_KINDS)})")
        if self.request is not None and self.request < 1:
            raise ValueError("Fault.request counts from 1")
        if self.times < 1:
            raise ValueError("Fault.times must be at least 1 (FOREVER for a persistent fault)")
        if self.retry_after is not None and self.kind not in _STATUS_FAULTS:
            raise ValueError("retry_after goes with a 429, 500 or 503 fault")
        if (self.kind in ("slow", "drip")) != (self.delay > 0):
            raise ValueError("a 'slow' or 'drip' fault needs delay > 0, and only they take one")
        if (self.kind == "gzip_bomb") != (self.size > 0):
            raise ValueError("a 'gzip_bomb' fault needs size > 0, and only it takes one")


@dataclass(frozen=True)
class ServedRequest:
    """One request the server received, and what it answered."""

    method: str
    path: str
    #: the first value of each query parameter
    query: Mapping[str, str]
    #: every query parameter in order (``expand=a&expand=b``)
    params: tuple[tuple[str, str], ...]
    headers: httpx.Headers
    body: bytes
    #: ``list``, ``detail``, ``lines``, ``pdf``, ``get``, ``customers``; None: unknown path
    endpoint: str | None
    #: the status served; None when the connection was reset
    status: int | None
    fault: str | None
    #: when it arrived (``time.monotonic()``)
    at: float = 0.0
    #: the client closed the connection while the server held the request (``latency``):
    #: nothing was answered (``status`` None)
    client_left: bool = False


@functools.cache
def _gzip_bomb(size: int) -> bytes:
    """A gzip body of ``size`` zero-ish bytes (JSON whitespace), computed once per size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1 << 20)
    parts = [packer.compress(block) for _ in range(size // len(block))]
    parts.append(packer.compress(b" " * (size % len(block))))
    return b"".join(parts) + packer.flush()


_APPS: dict[str, type[_App]] = {
    app.provider: app for app in (_F5, _Amberflo, _Commet, _Frontier, _Stripe)
}


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    owner: ProviderServer


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    #: headers and body go out in two writes: with Nagle on, a small reply waits for the
    #: client's delayed ACK (~40 ms a request)
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:
        self.server.owner._handle(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``ProviderServer.requests`` instead."""


class ProviderServer:
    """One provider's API on ``127.0.0.1`` (see the package docstring for what it speaks).

    ``records``: invoices in the provider's wire format (amounts as the provider
    sends them; fractional numbers as ``Decimal``, never float), or
    ``recording``: a recording folder to take them (and default options) from.
    ``page_size`` caps a page below the ``limit`` the client asks (Commet, Stripe).
    ``latency``: seconds every request is held before it is served (a distant server;
    settable while serving); a client that hangs up meanwhile is logged
    (``ServedRequest.client_left``) and not answered.
    """

    def __init__(
        self,
        provider: str,
        records: Sequence[Mapping[str, Any]] | None = None,
        *,
        recording: Path | None = None,
        page_size: int | None = None,
        faults: Sequence[Fault] = (),
        credential: str = "test-secret",
        options: Mapping[str, Any] | None = None,
        latency: float = 0.0,
    ) -> None:
        if provider not in _APPS:
            raise ValueError(f"unknown provider {provider!r} (known: {', '.join(PROVIDERS)})")
        if records is not None and recording is not None:
            raise ValueError("give records or a recording, not both")
        merged: dict[str, Any] = {}
        if recording is not None:
            recorded_provider, found, merged = records_from_recording(Path(recording))
            if recorded_provider != provider:
                raise ValueError(f"{recording} is a {recorded_provider} recording")
            records = found
        merged.update(options or {})
        data = [copy.deepcopy(dict(r)) for r in records or ()]
        for index, record in enumerate(data):
            _check_plain(record, f"{provider} record {index}")
        app_type = _APPS[provider]
        if page_size is not None and (not app_type.paginated or page_size < 1):
            raise ValueError(
                f"page_size: {provider} does not paginate"
                if not app_type.paginated
                else "page_size must be at least 1"
            )
        for fault in faults:
            if fault.kind in _PAGE_FAULTS and fault.kind not in app_type.page_faults:
                raise ValueError(f"fault {fault.kind!r} does not apply to {provider}")
        if not credential:
            raise ValueError("credential must not be empty")
        if latency < 0:
            raise ValueError("latency must not be negative")
        self.provider, self.credential = provider, credential
        self.latency = latency
        self.faults = tuple(faults)
        self._app = app_type(data, merged, page_size, credential)
        self.records: tuple[dict[str, Any], ...] = tuple(self._app.records)
        self.requests: list[ServedRequest] = []
        #: exceptions inside the server itself (a bug here, answered with a 500)
        self.errors: list[str] = []
        self._seen = [0] * len(self.faults)
        self._fired = [0] * len(self.faults)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # lifecycle
    def start(self) -> ProviderServer:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer(("127.0.0.1", 0), _RequestHandler)
        httpd.owner = self
        self._httpd = httpd
        self.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.provider}-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; a delayed reply is cut short and every request is logged first."""
        self._stopping.set()
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=10)
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ProviderServer {self.provider} {self.url or '(stopped)'}>"

    # what tests ask
    @property
    def in_flight(self) -> int:
        """Requests being served now (held by ``latency``, or a body still streaming)."""
        with self._idle:
            return self._in_flight

    def pdf(self, name: str) -> bytes:
        """The PDF bytes the F5 server sends for invoice ``name`` (base64 on the wire)."""
        if not isinstance(self._app, _F5):
            raise TypeError("only the f5xc server serves PDFs")
        return self._app.pdf(name)

    def served(self, endpoint: str | None = None) -> list[ServedRequest]:
        """Requests to ``endpoint`` (all known endpoints when None)."""
        return [
            r
            for r in self.requests
            if r.endpoint is not None and (endpoint is None or r.endpoint == endpoint)
        ]

    # serving
    def _take_fault(self, endpoint: str, call: _Call, target: str) -> Fault | None:
        with self._lock:
            chosen = None
            for n, fault in enumerate(self.faults):
                if fault.path_contains is not None and fault.path_contains not in target:
                    continue
                self._seen[n] += 1
                if chosen is not None or self._fired[n] >= fault.times:
                    continue
                if fault.request is not None and self._seen[n] < fault.request:
                    continue
                if fault.kind in _PAGE_FAULTS and not self._app.applies(fault.kind, endpoint, call):
                    continue
                self._fired[n] += 1
                chosen = fault
            return chosen

    def _handle(self, handler: _RequestHandler) -> None:
        with self._idle:
            self._in_flight += 1
        try:
            self._serve(handler)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _serve(self, handler: _RequestHandler) -> None:
        split = urlsplit(handler.path)
        params = tuple(parse_qsl(split.query, keep_blank_values=True))
        query: dict[str, str] = {}
        for key, value in params:
            query.setdefault(key, value)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        call = _Call(
            handler.command,
            split.path,
            query,
            params,
            httpx.Headers(list(handler.headers.items())),
            body,
            at=time.monotonic(),
        )
        if self.latency > 0 and not self._hold(handler, self.latency):
            self._log(call, None, None, None, client_left=True)
            handler.close_connection = True
            return
        routed = self._app.route(call.method, call.path)
        fault: Fault | None = None
        endpoint = None
        try:
            if routed is None:
                reply = self._app.error(call, 404, f"no route {call.method} {call.path}")
            else:
                endpoint, serve, call.match = routed
                fault = self._take_fault(endpoint, call, handler.path)
                if fault is not None and fault.kind == "reset":
                    self._log(call, endpoint, None, fault)
                    self._reset(handler)
                    return
                if fault is not None and fault.kind in _STREAM_FAULTS:
                    self._log(call, endpoint, 200, fault)
                    self._hostile(handler, fault)
                    return
                reply = self._reply(call, serve, fault)
        except Exception as exc:  # a bug in this server: visible, never a silent pass
            self.errors.append(f"{type(exc).__name__}: {exc}")
            reply = _Reply(500, f"test server error: {exc}".encode(), "text/plain")
        self._log(call, endpoint, reply.status, fault)
        self._send(handler, reply)

    def _reply(self, call: _Call, serve: _Handler, fault: Fault | None) -> _Reply:
        kind = fault.kind if fault is not None else None
        if fault is not None and kind in _STATUS_FAULTS:
            reply = self._app.error(call, _STATUS_FAULTS[fault.kind])
            if fault.retry_after is not None:
                reply.headers.append(("Retry-After", fault.retry_after))
            reply.headers += list(fault.headers)
            return reply
        if kind == "html":
            page = (
                b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
                b"<body><h1>Bad Gateway</h1><p>upstream unavailable</p></body></html>"
            )
            return _Reply(200, page, "text/html; charset=utf-8")
        if fault is not None and kind == "slow":
            self._stopping.wait(fault.delay)
        if kind in _PAGE_FAULTS:
            call.page_fault = kind
        if not self._app.authorized(call):
            reply = self._app.error(call, 401)
        else:
            try:
                reply = serve(call)
            except _Bad as bad:
                reply = self._app.error(
                    call, bad.status, bad.message, code=bad.code, param=bad.param
                )
        if reply.status == 200 and kind == "malformed":
            reply.body = _obj(("result", _Raw(reply.body or b"null")))
        elif reply.status == 200 and kind == "truncated":
            reply.body = reply.body[: len(reply.body) // 2]
        if fault is not None:
            reply.headers += list(fault.headers)
        return reply

    def _hold(self, handler: _RequestHandler, seconds: float) -> bool:
        """Wait ``seconds`` (less when stopping); False when the client hung up meanwhile."""
        sock = handler.connection
        end = time.monotonic() + seconds
        while not self._stopping.is_set():
            left = end - time.monotonic()
            if left <= 0:
                break
            readable, _, _ = select.select([sock], [], [], min(left, 0.05))
            if not readable:
                continue
            try:  # end of file (or a reset) is the client gone; data: a request pipelined
                if not sock.recv(1, socket.MSG_PEEK):
                    return False
            except OSError:
                return False
            self._stopping.wait(max(0.0, end - time.monotonic()))
            break
        return True

    def _log(
        self,
        call: _Call,
        endpoint: str | None,
        status: int | None,
        fault: Fault | None,
        *,
        client_left: bool = False,
    ) -> None:
        self.requests.append(
            ServedRequest(
                call.method,
                call.path,
                dict(call.query),
                call.params,
                call.headers,
                call.body,
                endpoint,
                status,
                fault.kind if fault is not None else None,
                call.at,
                client_left,
            )
        )

    def _hostile(self, handler: _RequestHandler, fault: Fault) -> None:
        """Stream a body a client must not read whole (see Fault)."""
        handler.close_connection = True
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            if fault.kind == "gzip_bomb":
                body = _gzip_bomb(fault.size)
                handler.send_header("Content-Encoding", "gzip")
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)
            elif fault.kind == "drip":
                body = b'{"data": [' + b" " * 100_000 + b"]}"
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                for byte in body:
                    if self._stopping.wait(fault.delay):
                        return
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
            else:  # endless
                handler.send_header("Transfer-Encoding", "chunked")
                handler.end_headers()
                chunk = b" " * 65536
                frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                while not self._stopping.is_set():
                    handler.wfile.write(frame)
        except OSError:  # the client gave up, as it should
            pass

    @staticmethod
    def _reset(handler: _RequestHandler) -> None:
        handler.close_connection = True
        sock = handler.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            handler.rfile.close()  # drop the makefile reference, so close() really closes
            sock.close()  # linger 0: the peer gets a TCP RST

    @staticmethod
    def _send(handler: _RequestHandler, reply: _Reply) -> None:
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", reply.content_type)
            handler.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(reply.body)
        except OSError:  # the client went away (e.g. its read timeout fired first)
            handler.close_connection = True
