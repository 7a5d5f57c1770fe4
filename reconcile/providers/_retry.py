"""When a request is tried again, and how long it waits first: the retry loop of the door.

Retries (stamina: exponential backoff with jitter) on transport errors (connect/read/
write errors, timeouts, a connection closed mid-response: the door names the classes)
and on 408, 429, 500, 502, 503, 504. A ``Retry-After`` header (seconds or an HTTP
date) replaces the backoff for that wait. A 429 the provider marks as not retryable
is not retried: Stripe's ``Stripe-Should-Retry: false`` (any provider sending it),
and Commet's 429 without ``Retry-After`` (its docs: "Do not automatically retry a
429 response that omits Retry-After"). Attempts are capped by ``max_attempts`` and
the time per request by ``max_seconds`` (a ``Retry-After`` beyond what is left of it
ends the request at once). A run-wide :class:`~reconcile.providers._cancel.Cancel`
wakes a retry wait and ends the loop.

**Testing**: :func:`set_testing` turns stamina's test mode on (no sleeping;
attempts still capped by ``max_attempts``). The waits that would have been slept
are kept per retry (:attr:`RetryLoop.retries`, then ``FetchStats.waits``), so a
test can assert that ``Retry-After`` was honoured.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import stamina

from reconcile.providers._cancel import Cancel
from reconcile.providers._http_types import HttpPolicy, RetryWait
from reconcile.providers._stream import Answer

__all__ = [
    "RETRYABLE_STATUSES",
    "RetryLoop",
    "RetryableStatus",
    "is_testing",
    "not_retryable_429",
    "retry_after",
    "set_testing",
]

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: backoff between attempts (seconds): min(30, 0.5 * 2**(n-1) + jitter(0..1))
_WAIT_INITIAL, _WAIT_MAX, _WAIT_JITTER = 0.5, 30.0, 1.0


def set_testing(testing: bool = True) -> None:
    """Tests: no sleeping between attempts; ``max_attempts`` still applies."""
    stamina.set_testing(testing, attempts=1_000_000, cap=True)


def is_testing() -> bool:
    return stamina.is_testing()


class RetryableStatus(Exception):
    """A retryable HTTP status inside the retry loop (never leaves the door)."""

    def __init__(self, status: int, reason: str, retry_after: float | None, no_retry: str | None):
        super().__init__(f"HTTP {status} {reason}")
        self.status, self.reason = status, reason
        self.retry_after, self.no_retry = retry_after, no_retry
        self.beyond_budget = False


def retry_after(value: str | None) -> float | None:
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


def not_retryable_429(provider: str, response: Answer) -> str | None:
    """Why a 429 must not be retried, per the provider's documented signals; None = retry."""
    if response.headers.get("stripe-should-retry", "").strip().lower() == "false":
        return "the provider marked it not retryable (Stripe-Should-Retry: false)"
    if provider == "commet" and "retry-after" not in response.headers:
        return "Commet sent no Retry-After, and its docs say not to retry such a 429"
    return None


class RetryLoop:
    """One request's attempts: how many were made, the waits between them, the deadline.

    ``transient`` are the exception classes worth another attempt (the door's transport
    errors); a :class:`RetryableStatus` is retried unless the provider said not to.
    """

    def __init__(
        self, policy: HttpPolicy, cancel: Cancel | None, transient: tuple[type[Exception], ...]
    ) -> None:
        self.policy, self._cancel, self._transient = policy, cancel, transient
        self.started = time.monotonic()
        #: when the request, retries and body reads included, must be over
        self.deadline = self.started + policy.max_seconds
        self.attempts = 0
        self._waits: list[RetryWait] = []

    @property
    def retries(self) -> list[RetryWait]:
        """The waits before each retry made (not the one decided after the last attempt)."""
        return self._waits[: self.attempts - 1]

    def run(self, attempt: Callable[[], T]) -> T:
        """``attempt()`` until it returns; what it raises last, once no retry is left."""
        for each in stamina.retry_context(
            on=self._backoff,
            attempts=self.policy.max_attempts,
            timeout=self.policy.max_seconds,
            wait_initial=_WAIT_INITIAL,
            wait_max=_WAIT_MAX,
            wait_jitter=_WAIT_JITTER,
        ):
            with each:
                self.attempts += 1
                result = attempt()
        return result

    def _decide(self, exc: Exception) -> bool | float:
        """Retry or not, and the server-requested wait if any."""
        policy = self.policy
        if isinstance(exc, RetryableStatus):
            if exc.no_retry:
                return False
            if exc.retry_after is not None:
                left = policy.max_seconds - (time.monotonic() - self.started)
                if exc.retry_after > left:
                    exc.beyond_budget = True
                    return False
                self._waits.append(RetryWait(exc.status, None, exc.retry_after))
                return exc.retry_after
            self._waits.append(RetryWait(exc.status, None, None))
            return True
        if isinstance(exc, self._transient):
            self._waits.append(RetryWait(None, type(exc).__name__, None))
            return True
        return False

    def _backoff(self, exc: Exception) -> bool | float:
        """stamina's hook (see _wait_to_retry for a run that can be cancelled)."""
        last = self.attempts >= self.policy.max_attempts or (
            time.monotonic() - self.started >= self.policy.max_seconds
        )
        return self._wait_to_retry(self._decide(exc), self.attempts, last)

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
