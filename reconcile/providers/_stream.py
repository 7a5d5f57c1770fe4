"""A response body read within its limits: the bounded streaming read of the HTTP door.

A response is streamed, never read whole unchecked: at most ``max_response_bytes``
on the wire and once decoded (a gzip bomb stops at the cap, not at 2 GiB), and
within ``max_seconds`` from the request's start whatever the server does (a body
that never ends, or drips a byte at a time under ``read_timeout``, is cut at the
deadline: the socket is shut down by :class:`Watchdog`). Either is
:class:`OverLimit`, which the door turns into a ``FetchError`` naming the limit.
httpx's ``Response.content`` is read nowhere.

Only :mod:`reconcile.providers._http` calls this; it sends the request, this reads
the answer.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

import httpx

from reconcile.providers._http_types import HttpPolicy

__all__ = ["Answer", "OverLimit", "Watchdog", "read_body"]


@dataclass(frozen=True)
class Answer:
    """A response read within the limits: status, headers and the decoded body."""

    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    body: bytes = field(repr=False)


class OverLimit(Exception):
    """A body beyond ``max_response_bytes`` or past the request's deadline (final)."""


class Watchdog:
    """Shuts a response's socket down at the deadline, so a read blocked on a server that
    sends nothing (or a byte now and then) returns at once instead of after read_timeout."""

    def __init__(self, response: httpx.Response, seconds: float) -> None:
        self.fired = False
        self._response = response
        self._timer = threading.Timer(max(0.0, seconds), self._cut)
        self._timer.daemon = True
        self._timer.start()

    def _cut(self) -> None:
        self.fired = True
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
            else:
                self._response.close()
        except OSError:
            pass

    def cancel(self) -> None:
        self._timer.cancel()


def read_body(response: httpx.Response, seconds: float, policy: HttpPolicy) -> bytes:
    """The decoded body, at most ``policy.max_response_bytes`` raw and decoded, within
    ``seconds`` (the request's deadline); else :class:`OverLimit`."""
    limit = policy.max_response_bytes
    body = bytearray()
    watchdog = Watchdog(response, seconds)
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > limit or response.num_bytes_downloaded > limit:
                raise OverLimit(
                    f"the response is larger than http.max_response_bytes "
                    f"({limit} bytes); raise it if this is expected"
                )
            if watchdog.fired:
                break
    except httpx.HTTPError:
        if not watchdog.fired:
            raise
    finally:
        watchdog.cancel()
    if watchdog.fired:
        raise OverLimit(
            f"the response did not complete within max_seconds "
            f"{policy.max_seconds:g} (a body that does not end, or "
            f"comes too slowly); {len(body)} bytes received"
        )
    return bytes(body)
