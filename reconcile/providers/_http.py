"""The single door to httpx: one client per source, retries, limits, error translation.

Every provider fetcher talks HTTP only through :class:`ProviderClient`:

* **Timeouts** are explicit (``HttpPolicy.connect_timeout``/``read_timeout``);
  TLS verification is always on; redirects are not followed (a redirect would
  carry the credential header to another address: fix ``base_url`` instead).
* **Retries** (stamina: exponential backoff with jitter) on transport errors
  (connect/read/write errors, timeouts, a connection closed mid-response) and
  on 408, 429, 500, 502, 503, 504. A ``Retry-After`` header (seconds or an HTTP
  date) replaces the backoff for that wait. A 429 the provider marks as not
  retryable is not retried: Stripe's ``Stripe-Should-Retry: false`` (any
  provider sending it), and Commet's 429 without ``Retry-After`` (its docs:
  "Do not automatically retry a 429 response that omits Retry-After").
  Attempts are capped by ``max_attempts`` and the time per request by
  ``max_seconds`` (a ``Retry-After`` beyond what is left of it ends the
  request at once); then :class:`FetchError` names provider, endpoint and
  the last status or transport error.
* **Limits**: at most ``concurrency`` requests in flight per source (also the
  connection-pool size), and at most ``rate_per_second`` request starts.
* **Bounded bodies**: a response is streamed, never read whole unchecked: at
  most ``max_response_bytes`` on the wire and once decoded (a gzip bomb stops at
  the cap, not at 2 GiB), and within ``max_seconds`` from the request's start
  whatever the server does (a body that never ends, or drips a byte at a time
  under ``read_timeout``, is cut at the deadline: the socket is shut down). Either
  is a :class:`FetchError` naming the limit. httpx's ``Response.content`` is read nowhere.

Errors, and why they sit where they do in the tree (``reconcile.errors``)::

    UsageError (exit 2)
    └── CredentialError    401/403: the credential in the named environment
                           variable was refused. Like a missing variable
                           (ConfigError), it is fixed by whoever runs the close,
                           not by the provider's data, so it is a usage error.
    InputDataError (exit 3)
    └── FetchError         retries exhausted, a non-retryable status, or a page
                           that is not the documented shape / not complete

**Secrets** travel only in request headers. They are never put in a URL, a
kept query, a kept header, an exchange, a log line or an error message: kept
query parameters with secret-looking names are replaced by ``[redacted]``,
and every message and kept value is scrubbed of the credential values as a
second line of defence. stamina's retry log line names only ``<context
block>`` and the exception, whose text carries no URL with secrets.

**Testing**: :func:`set_testing` turns stamina's test mode on (no sleeping;
attempts still capped by ``max_attempts``). The waits that would have been
slept are kept per retry in :attr:`FetchStats.waits`, so a test can assert that
``Retry-After`` was honoured.
"""

from __future__ import annotations

import email.utils
import hashlib
import json as jsonlib
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import stamina

from reconcile import __version__
from reconcile.errors import InputDataError, UsageError
from reconcile.providers._base import Page
from reconcile.providers._cancel import Cancel, Connections, FetchCancelled

__all__ = [
    "RETRYABLE_STATUSES",
    "Cancel",
    "CredentialError",
    "Document",
    "Exchange",
    "FetchCancelled",
    "FetchError",
    "FetchStats",
    "FetchedPage",
    "HttpPolicy",
    "ProviderClient",
    "RetryWait",
    "is_testing",
    "set_testing",
]

T = TypeVar("T")
R = TypeVar("R")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: transport failures worth another attempt (not TLS/protocol misuse on our side)
_RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
#: response headers worth keeping in the snapshot (never cookies or auth; not the transfer
#: length/encoding, which describe the wire, not the decoded body that is kept)
_KEPT_HEADERS = re.compile(
    r"^(content-type|date|etag|last-modified|retry-after|"
    r"x-request-id|request-id|x-correlation-id|stripe-version|stripe-should-retry|"
    r"commet-version|(x-)?ratelimit-[a-z-]+)$"
)
_SECRET_NAMES = re.compile(r"(?i)(key|token|secret|password|passwd|auth|signature|credential)")
REDACTED = "[redacted]"
#: backoff between attempts (seconds): min(30, 0.5 * 2**(n-1) + jitter(0..1))
_WAIT_INITIAL, _WAIT_MAX, _WAIT_JITTER = 0.5, 30.0, 1.0


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


def set_testing(testing: bool = True) -> None:
    """Tests: no sleeping between attempts; ``max_attempts`` still applies."""
    stamina.set_testing(testing, attempts=1_000_000, cap=True)


def is_testing() -> bool:
    return stamina.is_testing()


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


class _RetryableStatus(Exception):
    """A retryable HTTP status inside the retry loop (never leaves this module)."""

    def __init__(self, status: int, reason: str, retry_after: float | None, no_retry: str | None):
        super().__init__(f"HTTP {status} {reason}")
        self.status, self.reason = status, reason
        self.retry_after, self.no_retry = retry_after, no_retry
        self.beyond_budget = False


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


# --- the client -------------------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if seconds == seconds else None  # NaN is not a wait


def _not_retryable_429(provider: str, response: _Answer) -> str | None:
    """Why a 429 must not be retried, per the provider's documented signals; None = retry."""
    if response.headers.get("stripe-should-retry", "").strip().lower() == "false":
        return "the provider marked it not retryable (Stripe-Should-Retry: false)"
    if provider == "commet" and "retry-after" not in response.headers:
        return "Commet sent no Retry-After, and its docs say not to retry such a 429"
    return None


def _api_message(body: bytes) -> str | None:
    """The message of a JSON error body (Stripe/Commet ``error``, gRPC/Connect ``message``)."""
    try:
        doc = jsonlib.loads(body[:20_000])
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict):
            code = err.get("code") or err.get("type")
            return f"{code}: {err.get('message')}" if code else str(err.get("message"))
        if isinstance(err, str):
            return err
        if "message" in doc:
            return f"{doc.get('code')}: {doc['message']}" if "code" in doc else str(doc["message"])
    return None


@dataclass(frozen=True)
class _Answer:
    """A response read within the limits: status, headers and the decoded body."""

    status_code: int
    reason_phrase: str
    headers: httpx.Headers
    body: bytes = field(repr=False)


class _OverLimit(Exception):
    """A body beyond ``max_response_bytes`` or past the request's deadline (final)."""


class _Watchdog:
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


class ProviderClient:
    """HTTP for one source: ``get``/``post`` return pages; ``map`` runs work concurrently.

    Use as a context manager; ``stats`` and ``exchanges`` describe what was fetched,
    ``documents`` what the fetcher archived (see :class:`Document`).
    """

    def __init__(
        self,
        *,
        source: str,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        credential_env: str,
        policy: HttpPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        secrets: Iterable[str] = (),
        progress: Callable[[FetchStats], None] | None = None,
        cancel: Cancel | None = None,
    ) -> None:
        self.source, self.provider, self.credential_env = source, provider, credential_env
        # the run-wide stop (see ``_cancel``): its sockets are shut down when it is set
        self._cancel = cancel
        self._connections = Connections(cancel) if cancel is not None else None
        self.policy = policy or HttpPolicy()
        self.base_url = base_url.rstrip("/")
        self.stats = FetchStats()
        self.exchanges: list[Exchange] = []
        self.documents: list[Document] = []
        self._progress = progress
        # the credential as given and as sent (header values), longest first for scrubbing
        found = {s for s in (*secrets, *headers.values()) if s and len(s) >= 4}
        found |= {v.split(" ", 1)[1] for v in headers.values() if " " in v}
        self._secrets = sorted((s for s in found if len(s) >= 4), key=len, reverse=True)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.policy.concurrency)
        self._rate_lock = threading.Lock()
        self._next_start = 0.0
        self._started: float | None = None
        p = self.policy
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={
                "User-Agent": f"reconcile/{__version__}",
                "Accept": "application/json",
                **headers,
            },
            timeout=httpx.Timeout(
                connect=p.connect_timeout,
                read=p.read_timeout,
                write=p.read_timeout,
                pool=p.connect_timeout + p.read_timeout,
            ),
            limits=httpx.Limits(
                max_connections=p.concurrency, max_keepalive_connections=p.concurrency
            ),
            verify=True,
            follow_redirects=False,
            transport=transport,
        )

    # -- lifecycle

    def __enter__(self) -> ProviderClient:
        self._started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._started is not None:
            self.stats.seconds = time.monotonic() - self._started
            self._started = None
        if self._connections is not None:
            self._connections.close()
        self._client.close()

    # -- public requests

    def get(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        kind: str = "list",
        headers: Mapping[str, str] | None = None,
    ) -> FetchedPage:
        """GET ``path`` (relative to ``base_url``); the body exactly as received."""
        return self._request("GET", path, params=params, json=None, kind=kind, headers=headers)

    def post(
        self,
        path: str,
        *,
        json: Any = None,
        kind: str = "list",
        headers: Mapping[str, str] | None = None,
    ) -> FetchedPage:
        """POST a JSON body to ``path`` (Connect RPC); the body exactly as received."""
        return self._request("POST", path, params=None, json=json, kind=kind, headers=headers)

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
        """``[fn(item) ...]`` with at most ``concurrency`` running at once, in input order.

        The first failure (in input order) is raised; work not yet started is cancelled.
        """
        items = list(items)
        if self.policy.concurrency <= 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(
            max_workers=self.policy.concurrency, thread_name_prefix=f"fetch-{self.source}"
        ) as pool:
            futures: list[Future[R]] = [pool.submit(fn, item) for item in items]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def keep_document(self, document: Document) -> None:
        """Hand a source document (e.g. an invoice PDF) to the run folder."""
        with self._lock:
            self.documents.append(document)

    def add_records(self, count: int) -> None:
        """Count invoice records received (for the report and the progress display)."""
        self.stats.add(records=count)
        self._report()

    def scrub(self, text: str) -> str:
        """``text`` with every credential value replaced (defence in depth for messages)."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def fail(
        self, message: str, *, endpoint: str, page: int | None = None, status: int | None = None
    ) -> FetchError:
        """A FetchError for this source (for fetchers' completeness checks)."""
        return FetchError(
            self.scrub(message),
            source=self.source,
            provider=self.provider,
            endpoint=endpoint,
            status=status,
            page=page,
        )

    # -- internals

    def _report(self) -> None:
        if self._progress is not None:
            self._progress(self.stats)

    def _kept_query(self, params: Mapping[str, Any] | None) -> dict[str, str | list[str]]:
        kept: dict[str, str | list[str]] = {}
        for name, value in sorted((params or {}).items()):
            many = isinstance(value, list | tuple)
            values = [self._text(v) for v in (value if many else [value])]
            if _SECRET_NAMES.search(name):
                values = [REDACTED for _ in values]
            else:
                values = [self.scrub(v) for v in values]
            kept[name] = values if many else values[0]
        return kept

    @staticmethod
    def _text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def _throttle(self) -> None:
        rate = self.policy.rate_per_second
        if not rate:
            return
        with self._rate_lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + 1.0 / rate
        if start > now:
            self._pause(start - now)
            self._stop_if_cancelled()

    def _pause(self, seconds: float) -> None:
        """Sleep, or less when the run is cancelled meanwhile."""
        if self._cancel is None:
            time.sleep(seconds)
        else:
            self._cancel.wait(seconds)

    def _stop_if_cancelled(self) -> None:
        if self._cancel is not None and self._cancel.is_set():
            raise FetchCancelled(self.source, self._cancel.reason)

    def _send(
        self,
        method: str,
        path: str,
        params: Any,
        content: bytes | None,
        headers: Mapping[str, str],
        deadline: float,
    ) -> _Answer:
        """One attempt, its body read within the limits (see the module docstring)."""
        with self._slots:
            self._stop_if_cancelled()  # (the slot may have been long in coming)
            self._throttle()
            left = deadline - time.monotonic()
            if left <= 0:
                raise _OverLimit(f"no time left of max_seconds {self.policy.max_seconds:g}")
            p = self.policy
            timeout = httpx.Timeout(
                connect=min(p.connect_timeout, left),
                read=min(p.read_timeout, left),
                write=min(p.read_timeout, left),
                pool=left,
            )
            traced = {"trace": self._connections.trace} if self._connections is not None else None
            with self._client.stream(
                method,
                path,
                params=params,
                content=content,
                headers=headers,
                timeout=timeout,
                extensions=traced,
            ) as response:
                body = self._read(response, deadline - time.monotonic())
                self._stop_if_cancelled()  # (a body cut by the cancel may look whole)
                return _Answer(
                    response.status_code, response.reason_phrase or "", response.headers, body
                )

    def _read(self, response: httpx.Response, seconds: float) -> bytes:
        """The decoded body, at most ``max_response_bytes`` raw and decoded, within
        ``seconds`` (the request's deadline); else :class:`_OverLimit`."""
        limit = self.policy.max_response_bytes
        body = bytearray()
        watchdog = _Watchdog(response, seconds)
        try:
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > limit or response.num_bytes_downloaded > limit:
                    raise _OverLimit(
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
            raise _OverLimit(
                f"the response did not complete within max_seconds "
                f"{self.policy.max_seconds:g} (a body that does not end, or "
                f"comes too slowly); {len(body)} bytes received"
            )
        return bytes(body)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None,
        json: Any,
        kind: str,
        headers: Mapping[str, str] | None,
    ) -> FetchedPage:
        endpoint = f"{method} {path}"
        self._stop_if_cancelled()
        wire_params = {
            k: self._text(v) if not isinstance(v, list | tuple) else [self._text(x) for x in v]
            for k, v in (params or {}).items()
        }
        content = None
        send_headers = dict(headers or {})
        if json is not None:
            content = jsonlib.dumps(json, separators=(",", ":"), sort_keys=True).encode()
            send_headers.setdefault("Content-Type", "application/json")
        started = time.monotonic()
        deadline = started + self.policy.max_seconds
        waits: list[RetryWait] = []
        attempts = 0
        policy = self.policy

        def decide(exc: Exception) -> bool | float:
            """Retry or not, and the server-requested wait if any."""
            if isinstance(exc, _RetryableStatus):
                if exc.no_retry:
                    return False
                if exc.retry_after is not None:
                    left = policy.max_seconds - (time.monotonic() - started)
                    if exc.retry_after > left:
                        exc.beyond_budget = True
                        return False
                    waits.append(RetryWait(exc.status, None, exc.retry_after))
                    return exc.retry_after
                waits.append(RetryWait(exc.status, None, None))
                return True
            if isinstance(exc, _RETRYABLE_ERRORS):
                waits.append(RetryWait(None, type(exc).__name__, None))
                return True
            return False

        def backoff(exc: Exception) -> bool | float:
            """stamina's hook (see _wait_to_retry for a run that can be cancelled)."""
            last = attempts >= policy.max_attempts or (
                time.monotonic() - started >= policy.max_seconds
            )
            return self._wait_to_retry(decide(exc), attempts, last)

        try:
            for attempt in stamina.retry_context(
                on=backoff,
                attempts=policy.max_attempts,
                timeout=policy.max_seconds,
                wait_initial=_WAIT_INITIAL,
                wait_max=_WAIT_MAX,
                wait_jitter=_WAIT_JITTER,
            ):
                with attempt:
                    attempts += 1
                    response = self._send(
                        method, path, wire_params, content, send_headers, deadline
                    )
                    self._check(response, endpoint)
        except (_RetryableStatus, httpx.HTTPError, _OverLimit) as exc:
            self.stats.add_retries(waits[: attempts - 1])
            raise self._failure(endpoint, attempts, started, exc) from None
        except BaseException:
            self.stats.add_retries(waits[: attempts - 1])
            raise
        self.stats.add_retries(waits[: attempts - 1])
        body = self._redacted(response.body)
        exchange = Exchange(
            method=method,
            path=path,
            query=self._kept_query(params),
            status=response.status_code,
            headers={
                k.lower(): self.scrub(v)
                for k, v in response.headers.items()
                if _KEPT_HEADERS.match(k.lower())
            },
            body=body,
            kind=kind,
            request_body=content,
            attempts=attempts,
        )
        with self._lock:
            self.exchanges.append(exchange)
        self.stats.add(pages=1, bytes=len(body))
        self._report()
        shown_query = "&".join(f"{k}={v}" for k, v in exchange.query.items())
        location = f"{endpoint}" + (f"?{shown_query}" if shown_query else "")
        return FetchedPage(
            body=body, location=location, endpoint=endpoint, kind=kind, exchange=exchange
        )

    def _wait_to_retry(self, decision: bool | float, attempt: int, last: bool) -> bool | float:
        """``decision`` (the retry hook's: no, yes, or a server-requested wait) for a run
        that can be cancelled: no retry once it is; otherwise the wait is slept here,
        where the cancel wakes it (stamina's own sleep cannot be interrupted), and stamina
        retries at once. Not in test mode (no sleeping), and not after the last attempt
        (stamina then stops without waiting)."""
        if self._cancel is None or decision is False:
            return decision
        if self._cancel.is_set():
            return False
        if is_testing() or last:
            return decision
        if decision is True:  # stamina's backoff: min(30, 0.5 * 2**(n-1) + jitter(0..1))
            growth = _WAIT_INITIAL * 2 ** min(attempt - 1, 32)
            wait = min(_WAIT_MAX, growth + random.uniform(0, _WAIT_JITTER))
        else:
            wait = float(decision)
        return False if self._cancel.wait(wait) else 0.0

    def _failure(
        self, endpoint: str, attempts: int, started: float, exc: BaseException
    ) -> Exception:
        """What a request that failed in the retry loop raises."""
        if self._cancel is not None and self._cancel.is_set():  # cut short by the cancel
            return FetchCancelled(self.source, self._cancel.reason)
        if isinstance(exc, (_RetryableStatus, *_RETRYABLE_ERRORS)):
            return self._gave_up(endpoint, attempts, started, exc)
        if isinstance(exc, httpx.HTTPError):  # not transient: bad URL, TLS or protocol misuse
            return self.fail(f"request failed: {type(exc).__name__}: {exc}", endpoint=endpoint)
        return self.fail(str(exc), endpoint=endpoint)  # _OverLimit: budget spent, body too large

    def _redacted(self, body: bytes) -> bytes:
        """A body with every credential value the server echoed replaced (so no secret
        reaches the snapshot or a message); unchanged when none occurs, the usual case."""
        for secret in self._secrets:
            raw = secret.encode()
            if raw in body:
                body = body.replace(raw, REDACTED.encode())
        return body

    def snippet(self, text: str, length: int) -> str:
        """``text`` scrubbed, then cut to ``length`` characters, with no trailing piece of a
        credential left where the cut fell inside one."""
        text = self.scrub(text)[:length]
        for secret in self._secrets:
            for size in range(min(len(secret), len(text)) - 1, 3, -1):
                if text.endswith(secret[:size]):
                    return text[:-size] + REDACTED
        return text

    def _check(self, response: _Answer, endpoint: str) -> None:
        """Raise for anything but 2xx: retryable, credential, or a final failure."""
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = response.reason_phrase or ""
        if status in (401, 403):
            what = "refused" if status == 401 else "not allowed to read this"
            raise CredentialError(
                f"answered {status} {reason}: the credential in the environment variable "
                f"{self.credential_env} was {what}; check that it holds a valid key with read "
                "access to invoices",
                source=self.source,
                provider=self.provider,
                endpoint=endpoint,
                credential_env=self.credential_env,
            )
        if status in RETRYABLE_STATUSES:
            no_retry = _not_retryable_429(self.provider, response) if status == 429 else None
            raise _RetryableStatus(
                status, reason, _retry_after(response.headers.get("retry-after")), no_retry
            )
        if 300 <= status < 400:
            target = response.headers.get("location", "?")
            raise self.fail(
                f"answered {status} {reason}, a redirect to {target}; redirects are "
                "not followed (they would carry the credential): set base_url to "
                "the final address",
                endpoint=endpoint,
                status=status,
            )
        detail = _api_message(response.body)
        raise self.fail(
            f"answered {status} {reason}"
            + (f" ({self.snippet(detail, 300)})" if detail else "")
            + "; not retryable",
            endpoint=endpoint,
            status=status,
        )

    def _gave_up(
        self, endpoint: str, attempts: int, started: float, exc: BaseException
    ) -> FetchError:
        elapsed = time.monotonic() - started
        if isinstance(exc, _RetryableStatus):
            last = f"last status {exc.status} {exc.reason}".rstrip()
            if exc.no_retry:
                return self.fail(
                    f"answered {exc.status} {exc.reason}; not retried: {exc.no_retry}",
                    endpoint=endpoint,
                    status=exc.status,
                )
            if exc.beyond_budget:
                return self.fail(
                    f"answered {exc.status} {exc.reason} asking to retry after "
                    f"{exc.retry_after:.0f} s (Retry-After), beyond what is left of the "
                    f"{self.policy.max_seconds:.0f} s retry budget; gave up after {attempts} "
                    f"attempt(s)",
                    endpoint=endpoint,
                    status=exc.status,
                )
            status: int | None = exc.status
        else:
            last = f"last error {type(exc).__name__} (no response)"
            status = None
        return self.fail(
            f"gave up after {attempts} attempt(s) in {elapsed:.1f} s "
            f"(max_attempts {self.policy.max_attempts}, max_seconds "
            f"{self.policy.max_seconds:g}); {last}",
            endpoint=endpoint,
            status=status,
        )
