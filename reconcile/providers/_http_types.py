"""The value types and errors of the HTTP door (:mod:`reconcile.providers._http`).

What a fetch is configured with (:class:`HttpPolicy`), what it raises
(:class:`FetchError`, :class:`CredentialError`) and what it records
(:class:`RetryWait`, :class:`FetchStats`, :class:`Exchange`, :class:`FetchedPage`,
:class:`Document`). Nothing here talks to the network.

Errors, and why they sit where they do in the tree (``reconcile.errors``)::

    UsageError (exit 2)
    └── CredentialError    401/403: the credential in the named environment
                           variable was refused. Like a missing variable
                           (ConfigError), it is fixed by whoever runs the close,
                           not by the provider's data, so it is a usage error.
    InputDataError (exit 3)
    └── FetchError         retries exhausted, a non-retryable status, or a page
                           that is not the documented shape / not complete
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconcile.errors import InputDataError, UsageError
from reconcile.providers._base import Page

__all__ = [
    "CredentialError",
    "Document",
    "Exchange",
    "FetchError",
    "FetchStats",
    "FetchedPage",
    "HttpPolicy",
    "RetryWait",
]


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts, retry caps and limits for one source (config ``http:``)."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 6  # cap on attempts per request
    max_seconds: float = 300.0  # cap on total retry time per request
    concurrency: int = 4  # per-provider limit on requests in flight
    rate_per_second: float | None = None
    #: cap on a response body, raw and decoded (bytes)
    max_response_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.concurrency < 1 or self.max_response_bytes < 1:
            raise ValueError("max_attempts, concurrency and max_response_bytes must be at least 1")
        if min(self.connect_timeout, self.read_timeout, self.max_seconds) <= 0 or (
            self.rate_per_second is not None and self.rate_per_second <= 0
        ):
            raise ValueError("timeouts, max_seconds and rate_per_second must be positive")


# --- errors -----------------------------------------------------------------------------


class FetchError(InputDataError):
    """A provider request or page that leaves the source incomplete (exit 3)."""

    def __init__(
        self,
        message: str,
        *,
        source: str,
        provider: str,
        endpoint: str,
        status: int | None = None,
        page: int | None = None,
    ) -> None:
        self.provider, self.endpoint, self.status, self.page = provider, endpoint, status, page
        location = f"{provider} {endpoint}" + (f" page {page}" if page else "")
        super().__init__(message, source=source, location=location)


class CredentialError(UsageError):
    """401/403: the credential was refused. Names the variable, never its value (exit 2)."""

    def __init__(
        self, message: str, *, source: str, provider: str, endpoint: str, credential_env: str
    ) -> None:
        self.source, self.provider, self.endpoint = source, provider, endpoint
        self.credential_env = credential_env
        super().__init__(f"{source}: {provider} {endpoint}: {message}")


# --- records of what happened ----------------------------------------------------------


@dataclass(frozen=True)
class RetryWait:
    """One scheduled retry: what caused it and the wait the server asked for.

    ``retry_after`` is the honoured ``Retry-After`` in seconds, or None when the
    wait was stamina's exponential backoff with jitter.
    """

    status: int | None
    error: str | None
    retry_after: float | None


class FetchStats:
    """Counters for one source's fetch; safe to update from worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pages = 0
        self.records = 0
        self.retries = 0
        self.seconds = 0.0
        self.bytes = 0
        self.waits: list[RetryWait] = []

    def add(self, *, pages: int = 0, records: int = 0, bytes: int = 0) -> None:
        with self._lock:
            self.pages += pages
            self.records += records
            self.bytes += bytes

    def add_retries(self, waits: Sequence[RetryWait]) -> None:
        with self._lock:
            self.retries += len(waits)
            self.waits.extend(waits)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "pages": self.pages,
                "records": self.records,
                "retries": self.retries,
                "seconds": round(self.seconds, 3),
                "bytes": self.bytes,
            }


@dataclass(frozen=True)
class Exchange:
    """One response the fetch used: the request as sent (no secrets) and the body as received."""

    method: str
    path: str
    query: Mapping[str, str | list[str]]
    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)
    kind: str
    #: a JSON request body (Connect RPC), as sent; no secrets go in bodies
    request_body: bytes | None = field(default=None, repr=False)
    attempts: int = 1

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass(frozen=True, eq=False)
class FetchedPage(Page):
    """A :class:`Page` fetched live, carrying the exchange it came from."""

    exchange: Exchange | None = None


@dataclass(frozen=True)
class Document:
    """A source document a fetch archives beside the snapshot (an F5 invoice PDF)."""

    name: str  # file name, e.g. invoice-abc-1.pdf
    data: bytes = field(repr=False)
    media_type: str
    #: what it documents, e.g. the invoice id
    ref: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()
