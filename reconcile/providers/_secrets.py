"""The credential of one source, kept out of everything a fetch keeps or shows.

**Secrets** travel only in request headers. They are never put in a URL, a kept
query, a kept header, an exchange, a log line or an error message: kept query
parameters with secret-looking names are replaced by ``[redacted]``, and every
message, kept value and response body is scrubbed of the credential values as a
second line of defence (a server may echo what it was sent). The credential values
are the credential as given, each header value sent, the token after its scheme
(``Basic xxx``: ``xxx``), and each part of at least 8 characters of a credential
split at its first ``:`` (Basic auth's ``client_id:secret``: a server may echo the
secret alone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["REDACTED", "Secrets", "wire_text"]

REDACTED = "[redacted]"
_SECRET_NAMES = re.compile(r"(?i)(key|token|secret|password|passwd|auth|signature|credential)")


def wire_text(value: object) -> str:
    """A query parameter's value as sent (booleans as ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Secrets:
    """The values to redact for one source: the credential as given and as sent, and
    each part of a ``client_id:secret`` credential."""

    def __init__(self, credentials: Iterable[str], headers: Mapping[str, str]) -> None:
        given = list(credentials)
        # the credential as given and as sent (header values), longest first for scrubbing
        found = {s for s in (*given, *headers.values()) if s and len(s) >= 4}
        found |= {v.split(" ", 1)[1] for v in headers.values() if " " in v}
        # a Basic credential is client_id:secret, and a server may echo one part alone;
        # a part shorter than 8 characters is not kept (it could be a word of the data)
        found |= {part for s in given if ":" in s for part in s.split(":", 1) if len(part) >= 8}
        self._values = sorted((s for s in found if len(s) >= 4), key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """``text`` with every credential value replaced (defence in depth for messages)."""
        for secret in self._values:
            text = text.replace(secret, REDACTED)
        return text

    def redact(self, body: bytes) -> bytes:
        """A body with every credential value the server echoed replaced (so no secret
        reaches the snapshot or a message); unchanged when none occurs, the usual case."""
        for secret in self._values:
            raw = secret.encode()
            if raw in body:
                body = body.replace(raw, REDACTED.encode())
        return body

    def snippet(self, text: str, length: int) -> str:
        """``text`` scrubbed, then cut to ``length`` characters, with no trailing piece of a
        credential left where the cut fell inside one."""
        text = self.scrub(text)[:length]
        for secret in self._values:
            for size in range(min(len(secret), len(text)) - 1, 3, -1):
                if text.endswith(secret[:size]):
                    return text[:-size] + REDACTED
        return text

    def kept_query(self, params: Mapping[str, Any] | None) -> dict[str, str | list[str]]:
        """The query as kept in the exchange: secret-looking parameters redacted, the
        others scrubbed."""
        kept: dict[str, str | list[str]] = {}
        for name, value in sorted((params or {}).items()):
            many = isinstance(value, list | tuple)
            values = [wire_text(v) for v in (value if many else [value])]
            if _SECRET_NAMES.search(name):
                values = [REDACTED for _ in values]
            else:
                values = [self.scrub(v) for v in values]
            kept[name] = values if many else values[0]
        return kept
