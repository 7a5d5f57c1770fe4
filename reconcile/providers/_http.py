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

Where the parts live (this module re-exports their public names, so callers import
from here):

* ``_http_types``: :class:`HttpPolicy`, the errors :class:`FetchError` (exit 3) and
  :class:`CredentialError` (exit 2: the credential in the named variable was refused,
  fixed by whoever runs the close), and the records :class:`RetryWait`,
  :class:`FetchStats`, :class:`Exchange`, :class:`FetchedPage`, :class:`Document`;
* ``_retry``: the retry loop (stamina), ``Retry-After``, the providers' no-retry
  signals, and :func:`set_testing` (no sleeping; the waits that would have been
  slept are kept in :attr:`FetchStats.waits`, so a test can assert that
  ``Retry-After`` was honoured);
* ``_stream``: the bounded read of a response body;
* ``_errors``: what a non-2xx answer, or a request out of retries, raises (every
  message scrubbed of the credential);
* ``_secrets``: what is redacted, and where (**secrets** travel only in request
  headers; stamina's retry log line names only ``<context block>`` and the
  exception, whose text carries no URL with secrets);
* ``_cancel``: the run-wide stop (:class:`Cancel`, :class:`FetchCancelled`).

httpx is imported here and in ``_stream`` only.
"""

from __future__ import annotations

import json as jsonlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from reconcile import __version__
from reconcile.providers._cancel import Cancel, Connections, FetchCancelled
from reconcile.providers._errors import SourceErrors
from reconcile.providers._http_types import (
    CredentialError,
    Document,
    Exchange,
    FetchedPage,
    FetchError,
    FetchStats,
    HttpPolicy,
    RetryWait,
)
from reconcile.providers._retry import (
    RETRYABLE_STATUSES,
    RetryableStatus,
    RetryLoop,
    is_testing,
    set_testing,
)
from reconcile.providers._secrets import Secrets, wire_text
from reconcile.providers._stream import Answer, OverLimit, read_body

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

#: transport failures worth another attempt (not TLS/protocol misuse on our side)
_RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
#: response headers worth keeping in the snapshot (never cookies or auth; not the transfer
#: length/encoding, which describe the wire, not the decoded body that is kept)
_KEPT_HEADERS = re.compile(
    r"^(content-type|date|etag|last-modified|retry-after|"
    r"x-request-id|request-id|x-correlation-id|stripe-version|stripe-should-retry|"
    r"commet-version|(x-)?ratelimit-[a-z-]+)$"
)


def _json_body(json: Any, headers: Mapping[str, str] | None) -> tuple[bytes | None, dict[str, str]]:
    """The request body (compact, sorted JSON, or none) and the headers it is sent with."""
    send_headers = dict(headers or {})
    if json is None:
        return None, send_headers
    send_headers.setdefault("Content-Type", "application/json")
    return jsonlib.dumps(json, separators=(",", ":"), sort_keys=True).encode(), send_headers


def _httpx_client(
    base_url: str,
    headers: Mapping[str, str],
    policy: HttpPolicy,
    transport: httpx.BaseTransport | None,
) -> httpx.Client:
    """The httpx client of one source: TLS verified, no redirects, pool of ``concurrency``."""
    return httpx.Client(
        base_url=base_url,
        headers={
            "User-Agent": f"reconcile/{__version__}",
            "Accept": "application/json",
            **headers,
        },
        timeout=httpx.Timeout(
            connect=policy.connect_timeout,
            read=policy.read_timeout,
            write=policy.read_timeout,
            pool=policy.connect_timeout + policy.read_timeout,
        ),
        limits=httpx.Limits(
            max_connections=policy.concurrency, max_keepalive_connections=policy.concurrency
        ),
        verify=True,
        follow_redirects=False,
        transport=transport,
    )


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
        self._secrets = Secrets(secrets, headers)
        self._errors = SourceErrors(source, provider, credential_env, self.policy, self._secrets)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.policy.concurrency)
        self._rate_lock = threading.Lock()
        self._next_start = 0.0
        self._started: float | None = None
        self._client = _httpx_client(self.base_url, headers, self.policy, transport)

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
        return self._secrets.scrub(text)

    def snippet(self, text: str, length: int) -> str:
        """``text`` scrubbed, then cut to ``length`` characters, with no trailing piece of a
        credential left where the cut fell inside one."""
        return self._secrets.snippet(text, length)

    def fail(
        self, message: str, *, endpoint: str, page: int | None = None, status: int | None = None
    ) -> FetchError:
        """A FetchError for this source (for fetchers' completeness checks)."""
        return self._errors.fail(message, endpoint=endpoint, page=page, status=status)

    # -- internals

    def _report(self) -> None:
        if self._progress is not None:
            self._progress(self.stats)

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
    ) -> Answer:
        """One attempt, its body read within the limits (see ``_stream``)."""
        with self._slots:
            self._stop_if_cancelled()  # (the slot may have been long in coming)
            self._throttle()
            left = deadline - time.monotonic()
            if left <= 0:
                raise OverLimit(f"no time left of max_seconds {self.policy.max_seconds:g}")
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
                body = read_body(response, deadline - time.monotonic(), self.policy)
                self._stop_if_cancelled()  # (a body cut by the cancel may look whole)
                return Answer(
                    response.status_code, response.reason_phrase or "", response.headers, body
                )

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
        """One request: sent, retried, checked and kept (see the module docstring)."""
        endpoint = f"{method} {path}"
        self._stop_if_cancelled()
        wire_params = {
            k: wire_text(v) if not isinstance(v, list | tuple) else [wire_text(x) for x in v]
            for k, v in (params or {}).items()
        }
        content, send_headers = _json_body(json, headers)
        loop = RetryLoop(self.policy, self._cancel, _RETRYABLE_ERRORS)

        def attempt() -> Answer:
            response = self._send(method, path, wire_params, content, send_headers, loop.deadline)
            self._errors.check(response, endpoint)
            return response

        try:
            response = loop.run(attempt)
        except (RetryableStatus, httpx.HTTPError, OverLimit) as exc:
            self.stats.add_retries(loop.retries)
            raise self._failure(endpoint, loop.attempts, loop.started, exc) from None
        except BaseException:
            self.stats.add_retries(loop.retries)
            raise
        self.stats.add_retries(loop.retries)
        return self._keep(method, path, params, response, kind, content, loop.attempts)

    def _keep(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        response: Answer,
        kind: str,
        content: bytes | None,
        attempts: int,
    ) -> FetchedPage:
        """The page of a successful request, its exchange kept (secrets redacted) and counted."""
        endpoint = f"{method} {path}"
        body = self._secrets.redact(response.body)
        exchange = Exchange(
            method=method,
            path=path,
            query=self._secrets.kept_query(params),
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

    def _failure(
        self, endpoint: str, attempts: int, started: float, exc: BaseException
    ) -> Exception:
        """What a request that failed in the retry loop raises."""
        if self._cancel is not None and self._cancel.is_set():  # cut short by the cancel
            return FetchCancelled(self.source, self._cancel.reason)
        if isinstance(exc, (RetryableStatus, *_RETRYABLE_ERRORS)):
            return self._errors.gave_up(endpoint, attempts, started, exc)
        if isinstance(exc, httpx.HTTPError):  # not transient: bad URL, TLS or protocol misuse
            return self.fail(f"request failed: {type(exc).__name__}: {exc}", endpoint=endpoint)
        return self.fail(str(exc), endpoint=endpoint)  # OverLimit: budget spent, body too large
