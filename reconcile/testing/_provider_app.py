"""What every provider's API shares: the request and reply, refusals, error texts,
query parsing, and the :class:`_App` base the five provider modules subclass."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._exact_json import dumps


@dataclass
class _Call:
    method: str
    path: str
    query: dict[str, str]
    params: tuple[tuple[str, str], ...]
    headers: httpx.Headers
    body: bytes
    at: float = 0.0
    match: dict[str, str] = field(default_factory=dict)
    page_fault: str | None = None

    def values(self, *names: str) -> list[str]:
        return [v for k, v in self.params if k in names]

    def header(self, name: str) -> str:
        value = self.headers.get(name)
        return value if isinstance(value, str) else ""


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


class _Bad(Exception):
    """A request the provider refuses: rendered with the provider's error body."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


_MESSAGES = {
    400: "bad request",
    401: "unauthorized: missing or invalid credential",
    404: "not found",
    415: "unsupported content type",
    429: "too many requests",
    500: "internal server error",
    503: "service temporarily unavailable",
}
#: HTTP status → gRPC code (number, name), as grpc-gateway and Connect map them
_GRPC = {
    400: (3, "invalid_argument"),
    401: (16, "unauthenticated"),
    403: (7, "permission_denied"),
    404: (5, "not_found"),
    415: (3, "invalid_argument"),
    429: (8, "resource_exhausted"),
    500: (13, "internal"),
    503: (14, "unavailable"),
}


def _json(status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> _Reply:
    return _Reply(status, body, headers=list(headers))


def _int(call: _Call, name: str, default: int | None, lo: int, hi: int | None) -> int | None:
    raw = call.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _Bad(400, f"Invalid integer: {raw}", param=name) from None
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise _Bad(400, f"{name} must be {bound}, got {value}", param=name)
    return value


def _bool(raw: str | None) -> bool:
    return (raw or "").strip().lower() in ("true", "1")


_Handler = Callable[[_Call], _Reply]


class _App:
    """One provider's API: routes, auth, error bodies, pages."""

    provider = ""
    #: page faults this provider's lists support
    page_faults: frozenset[str] = frozenset()
    paginated = False

    def __init__(
        self,
        records: list[dict[str, Any]],
        options: Mapping[str, Any],
        page_size: int | None,
        credential: str,
    ) -> None:
        self.records, self.options = records, dict(options)
        self.page_size, self.credential = page_size, credential
        self.routes: list[tuple[str, re.Pattern[str], str, _Handler]] = []
        self._cache: dict[Any, bytes] = {}

    def route(self, method: str, path: str) -> tuple[str, _Handler, dict[str, str]] | None:
        for verb, pattern, endpoint, handler in self.routes:
            found = pattern.fullmatch(path)
            if found and verb == method:
                return endpoint, handler, found.groupdict()
        return None

    def authorized(self, call: _Call) -> bool:
        raise NotImplementedError

    def error(
        self,
        call: _Call,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> _Reply:
        raise NotImplementedError

    def applies(self, kind: str, endpoint: str, call: _Call) -> bool:
        """Whether a page fault can change this request's page."""
        return False

    def cached(self, key: Any, make: Callable[[], Any]) -> bytes:
        """``dumps(make())``, encoded once per key (records do not change)."""
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = dumps(make())
        return found

    def record(self, index: int) -> bytes:
        """Record ``index`` as it is, encoded once."""
        return self.cached(index, functools.partial(dict, self.records[index]))


def _bumped(record: Mapping[str, Any], key: str = "total") -> dict[str, Any]:
    """A copy of ``record`` with ``key`` (an integer amount) one higher."""
    changed = copy.deepcopy(dict(record))
    value = changed.get(key)
    changed[key] = value + 1 if isinstance(value, int) else 1
    return changed
