"""What a source's request raises when it does not end in a 2xx answer.

A 401/403 is a :class:`CredentialError` naming the environment variable (never its
value); a retryable status is :class:`RetryableStatus` inside the retry loop, and
the :class:`FetchError` of :meth:`SourceErrors.gave_up` once no retry is left; a
redirect, or any other status, is a final :class:`FetchError`. Every message is
scrubbed of the credential (:class:`~reconcile.providers._secrets.Secrets`).
"""

from __future__ import annotations

import json as jsonlib
import time
from dataclasses import dataclass

from reconcile.providers._http_types import CredentialError, FetchError, HttpPolicy
from reconcile.providers._retry import (
    RETRYABLE_STATUSES,
    RetryableStatus,
    not_retryable_429,
    retry_after,
)
from reconcile.providers._secrets import Secrets
from reconcile.providers._stream import Answer

__all__ = ["SourceErrors"]


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
class SourceErrors:
    """The errors of one source's requests, named after its provider and variable."""

    source: str
    provider: str
    credential_env: str
    policy: HttpPolicy
    secrets: Secrets

    def fail(
        self, message: str, *, endpoint: str, page: int | None = None, status: int | None = None
    ) -> FetchError:
        """A FetchError for this source, its message scrubbed."""
        return FetchError(
            self.secrets.scrub(message),
            source=self.source,
            provider=self.provider,
            endpoint=endpoint,
            status=status,
            page=page,
        )

    def check(self, response: Answer, endpoint: str) -> None:
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
            no_retry = not_retryable_429(self.provider, response) if status == 429 else None
            raise RetryableStatus(
                status, reason, retry_after(response.headers.get("retry-after")), no_retry
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
            + (f" ({self.secrets.snippet(detail, 300)})" if detail else "")
            + "; not retryable",
            endpoint=endpoint,
            status=status,
        )

    def gave_up(
        self, endpoint: str, attempts: int, started: float, exc: BaseException
    ) -> FetchError:
        """The error of a request whose retries ended on ``exc`` (a status or transport error)."""
        elapsed = time.monotonic() - started
        if isinstance(exc, RetryableStatus):
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
