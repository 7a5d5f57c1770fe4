"""A run-wide stop for live fetches: the first failure, or Ctrl-C, ends every source's fetch.

A run that fetches several sources at once (``reconcile.fetch_all``) gives each
:class:`~reconcile.providers._http.ProviderClient` the same :class:`Cancel`. Once it
is set, every client

* makes no further request (checked before each attempt, after waiting for one of
  its ``concurrency`` slots and after each response);
* wakes from a retry wait (backoff or ``Retry-After``) or a rate-limit wait, and
  retries no more;
* shuts down the sockets of its connections (:class:`Connections`), so a read
  blocked on a slow server, or a body dripping in, returns at once instead of at
  ``read_timeout`` or ``max_seconds``.

What the cancelled request raises is :class:`FetchCancelled`: never the run's error
(that is the failure that caused the cancel, or the KeyboardInterrupt).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Cancel", "Connections", "FetchCancelled"]

#: httpcore trace events whose return value is a connection's network stream (plain TCP,
#: then TLS over it: the TLS stream's socket is the one to shut down once wrapped)
_STREAM_EVENTS = frozenset({"connection.connect_tcp.complete", "connection.start_tls.complete"})


class FetchCancelled(Exception):
    """A request not made, or cut short, because the run was cancelled (:class:`Cancel`)."""

    def __init__(self, source: str, reason: str) -> None:
        self.source, self.reason = source, reason
        super().__init__(f"{source}: fetch cancelled ({reason or 'cancelled'})")


class Cancel:
    """Set once, by whoever decides the run is over; seen by every client given it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._hooks: list[Callable[[], None]] = []
        self.reason = ""

    def set(self, reason: str) -> None:
        """Stop every fetch; the hooks run in the calling thread (they only shut sockets)."""
        with self._lock:
            if self._event.is_set():
                return
            self.reason = reason
            self._event.set()
            hooks, self._hooks = self._hooks, []
        for hook in hooks:
            hook()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless cancelled first; True when cancelled."""
        return self._event.wait(max(0.0, seconds))

    def subscribe(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Run ``hook`` when the run is cancelled (at once if it already is); returns
        the function that unsubscribes it."""
        with self._lock:
            if not self._event.is_set():
                self._hooks.append(hook)

                def unsubscribe() -> None:
                    with self._lock:
                        if hook in self._hooks:
                            self._hooks.remove(hook)

                return unsubscribe
        hook()
        return lambda: None


class Connections:
    """The sockets of one client's connections, shut down when the run is cancelled.

    They are seen through httpcore's ``trace`` request extension (pass :meth:`trace`
    as ``extensions={"trace": ...}``): a connection opened for any request of the
    client, reused later or not. ``shutdown`` (not ``close``) is what wakes a thread
    blocked reading the socket; a socket httpcore has closed since is skipped (its
    descriptor is gone, so the call fails harmlessly and cannot reach a reused one).
    """

    def __init__(self, cancel: Cancel) -> None:
        self._cancel = cancel
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._unsubscribe = cancel.subscribe(self.cut)

    def trace(self, name: str, info: dict[str, Any]) -> None:
        if name not in _STREAM_EVENTS:
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets = [s for s in self._sockets if s.fileno() != -1]
            self._sockets.append(sock)
        if self._cancel.is_set():  # opened while the run was being cancelled
            _shut(sock)

    def cut(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def close(self) -> None:
        self._unsubscribe()
        with self._lock:
            self._sockets = []


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed already, or never connected
        sock.shutdown(socket.SHUT_RDWR)
