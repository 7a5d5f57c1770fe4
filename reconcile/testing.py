"""Local provider servers: try reconcile without credentials, and test the live fetchers.

:class:`ProviderServer` runs one provider's invoice API on ``127.0.0.1`` (an
ephemeral port, a background thread) from invoice records in that provider's
wire format. Pages are computed from the records (never canned responses), the
provider's filters are honoured, and faults can be injected::

    from reconcile.testing import Fault, ProviderServer, commet_invoices

    with ProviderServer("commet", records=commet_invoices(250), page_size=100,
                        faults=[Fault("429", request=2, retry_after="1")]) as srv:
        srv.url          # base URL for a config's ``base_url``
        srv.credential   # the secret it accepts ("test-secret" unless given)
        srv.requests     # what was asked, and what was served

What each server speaks (paths below ``url``; the facts are those of
``providers.md``; where a provider's behaviour is unconfirmed the choice is noted):

* ``f5xc``: ``Authorization: APIToken <credential>``; ``GET
  /api/web/namespaces/{namespace}/usage/invoices/custom_list?limit=`` →
  ``{"invoices": [...]}`` (no pagination; ``limit`` keeps the first records);
  ``GET /api/web/namespaces/{namespace}/usage/invoice_pdf?name=`` →
  ``{"pdf": <base64 of a small valid PDF>}`` (:meth:`ProviderServer.pdf`).
  Errors: gRPC-gateway ``{"code", "message", "details"}`` (the spec leaves the
  body open). Options: ``namespace`` (default ``system``).
* ``amberflo``: ``X-API-KEY``; ``GET /payments/billing/customer-product-invoice/all
  ?customerId=&productId=&fromCache=&withPaymentStatus=`` → bare array, or the
  body ``null`` for a customer without invoices; ``GET
  /payments/billing/customer-product-invoice`` (``latest=true`` or
  ``productPlanId``/``year``/``month``/``day``) → one invoice; ``GET /customers`` →
  ``[{"customerId", "customerName", ...}]``. Errors: ``{"message"}`` (unconfirmed).
  Options: ``customers`` (account customers in order, also those without invoices),
  ``empty_body`` (``"null"``, ``"[]"`` or ``""``).
* ``commet``: ``x-api-key``; ``Commet-Version`` header (default option
  ``api_version``, ``2026-07-31``) picks the shape: before 2026-07-24 the
  ``{"success": true, "data", "hasMore", "nextCursor"}`` envelope with full
  invoices, 2026-07-24 ``{"object": "list", ...}`` with full invoices, from
  2026-07-31 list items without ``lineItems``, ``creditApplied``, ``planName``,
  ``poNumber``, ``reference``. ``GET /api/v1/invoices?limit=&cursor=&customerId=
  &status=&subscriptionId=`` (``limit`` 1..100, default 25; the cursor is the
  last item's ``createdAt`` when those are unique, as recorded, else opaque);
  ``GET /api/v1/invoices/{id}``. Errors: ``error: {type, code, message, param,
  details, doc_url}`` (inside ``{"success": false}`` before 2026-07-24).
* ``frontier``: ``Authorization: Basic base64(<credential>)`` (or
  ``base64(client_id:<credential>)``) or ``Bearer <credential>``. Option ``api``:
  ``connect`` (default, ≥ v0.91: ``POST
  /raystack.frontier.v1beta1.FrontierService/ListInvoices`` with a JSON body
  ``{"org_id", "nonzero_amount_only", "expand"}``; zero values omitted; errors
  ``{"code": "not_found", "message"}``), ``rest`` (≤ v0.90: ``GET
  /v1beta1/organizations/{org_id}/billing[/{billing_id}]/invoices?nonzero_amount_only=
  &expand=``; every field present, ``"0"``, ``""`` and ``null`` for unset values;
  errors ``{"code": 5, "message", "details"}``) or ``both``. ``amount`` is an
  int64 string. Option ``org_id`` (default ``org-northwind``); other orgs get
  ``not_found``. Records may carry a ``customer`` object, sent with ``expand=customer``.
* ``stripe``: ``Authorization: Bearer <credential>`` (or Basic with the key as
  user); ``GET /v1/invoices?limit=&starting_after=&ending_before=&created[gte]=
  &created[gt]=&created[lt]=&created[lte]=&created=&customer=&status=
  &include[]=total_count`` newest first (``limit`` 1..100, default 10);
  ``GET /v1/invoices/{id}``; ``GET /v1/invoices/{id}/lines?limit=&starting_after=``.
  An invoice embeds its first ``embedded_lines`` (option, default 10) line items
  with ``has_more``. Errors: ``{"error": {type, code, message, ...}}``.

Faults (:class:`Fault`) are decided per request under a lock, so a concurrent
fetcher sees them in arrival order. ``python -m reconcile.testing serve``
starts the five servers of the bundled sample month and writes a live config.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import contextlib
import copy
import functools
import gzip
import json
import random
import re
import shutil
import socket
import string
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import httpx

__all__ = [
    "FAULT_KINDS",
    "FOREVER",
    "ORG_ID",
    "PROVIDERS",
    "Fault",
    "ProviderServer",
    "SampleMonth",
    "ServedRequest",
    "commet_invoices",
    "credential_env",
    "dumps",
    "loads",
    "records_from_recording",
    "sample_options",
    "sample_records",
    "serve_sample_month",
]

PROVIDERS = ("f5xc", "amberflo", "commet", "frontier", "stripe")
#: faults answered before the request reaches the provider (a proxy, a rate limiter)
_STATUS_FAULTS = {"429": 429, "500": 500, "503": 503, "401": 401}
#: faults that change a page the provider serves (paginated lists only)
_PAGE_FAULTS = frozenset({"repeat_cursor", "conflicting_repeat", "repeat", "wrong_total"})
FAULT_KINDS = (
    *_STATUS_FAULTS, "slow", "reset", "malformed", "html", "truncated", *sorted(_PAGE_FAULTS)
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

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (known: {', '.join(FAULT_KINDS)})")
        if self.request is not None and self.request < 1:
            raise ValueError("Fault.request counts from 1")
        if self.times < 1:
            raise ValueError("Fault.times must be at least 1 (FOREVER for a persistent fault)")
        if self.retry_after is not None and self.kind not in _STATUS_FAULTS:
            raise ValueError("retry_after goes with a 429, 500 or 503 fault")
        if (self.kind == "slow") != (self.delay > 0):
            raise ValueError("a 'slow' fault needs delay > 0, and only it takes one")


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


# --- exact JSON ---------------------------------------------------------------


def loads(data: bytes | str) -> Any:
    """JSON as a provider sends it, exactly: fractional numbers become Decimal."""
    return json.loads(data, parse_float=Decimal)


class _Raw:
    """Bytes inserted verbatim into a JSON object (pre-encoded records)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _HasDecimal(Exception):
    pass


def _refuse(value: Any) -> Any:
    raise _HasDecimal if isinstance(value, Decimal) else TypeError(type(value).__name__)


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"not a JSON number: {value}")
        return str(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("money is never a float: use int or Decimal")
    return json.dumps(value, ensure_ascii=False)


def dumps(value: Any) -> bytes:
    """Compact JSON; a Decimal is written with exactly its digits (``117.225``)."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                          default=_refuse)
    except _HasDecimal:
        text = _encode(value)
    return text.encode()


def _obj(*fields: tuple[str, Any]) -> bytes:
    """A JSON object from (key, value) pairs; a ``_Raw`` value goes in verbatim."""
    parts = (dumps(k) + b":" + (v.data if isinstance(v, _Raw) else dumps(v)) for k, v in fields)
    return b"{" + b",".join(parts) + b"}"


def _arr(items: Sequence[bytes]) -> _Raw:
    return _Raw(b"[" + b",".join(items) + b"]")


def _check_plain(value: Any, where: str) -> None:
    """Records must be plain JSON values; money never as float."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not a string")
            _check_plain(item, f"{where}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
    elif isinstance(value, float):
        raise TypeError(f"{where}: {value!r} is a float; money is int or Decimal on the wire")
    elif isinstance(value, Decimal) and not value.is_finite():
        raise TypeError(f"{where}: {value} is not a JSON number")
    elif not (value is None or isinstance(value, str | int | Decimal)):
        raise TypeError(f"{where}: {type(value).__name__} is not a JSON value")


# --- requests, replies, errors --------------------------------------------------


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

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 param: str | None = None) -> None:
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


def _pdf(lines: Sequence[str]) -> bytes:
    """A small valid one-page PDF 1.4 showing ``lines`` (ASCII)."""

    def esc(text: str) -> str:
        text = text.encode("ascii", "replace").decode()
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    shown = " ".join(f"({esc(line)}) '" for line in lines)
    stream = f"BT /F1 12 Tf 72 740 Td 16 TL {shown} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


# --- providers --------------------------------------------------------------------

_Handler = Callable[[_Call], _Reply]


class _App:
    """One provider's API: routes, auth, error bodies, pages."""

    provider = ""
    #: page faults this provider's lists support
    page_faults: frozenset[str] = frozenset()
    paginated = False

    def __init__(self, records: list[dict[str, Any]], options: Mapping[str, Any],
                 page_size: int | None, credential: str) -> None:
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

    def error(self, call: _Call, status: int, message: str | None = None, *,
              code: str | None = None, param: str | None = None) -> _Reply:
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


class _F5(_App):
    provider = "f5xc"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.namespace = str(self.options.get("namespace", "system"))
        self.by_name = {r.get("name"): r for r in self.records}
        ns = r"/api/web/namespaces/(?P<ns>[^/]+)/usage"
        self.routes = [
            ("GET", re.compile(ns + "/invoices/custom_list"), "list", self.list),
            ("GET", re.compile(ns + "/invoice_pdf"), "pdf", self.pdf_page),
        ]

    def authorized(self, call: _Call) -> bool:
        return call.header("authorization") == f"APIToken {self.credential}"

    def error(self, call: _Call, status: int, message: str | None = None, *,
              code: str | None = None, param: str | None = None) -> _Reply:
        number = _GRPC.get(status, (2, "unknown"))[0]
        text = message or _MESSAGES.get(status, "error")
        return _json(status, _obj(("code", number), ("message", text), ("details", [])))

    def _namespace(self, call: _Call) -> None:
        if call.match["ns"] != self.namespace:
            raise _Bad(404, f"namespace {call.match['ns']!r} not found")

    def list(self, call: _Call) -> _Reply:
        self._namespace(call)
        limit = _int(call, "limit", None, 0, None)
        chosen = range(len(self.records))[: limit or None]
        items = [self.record(i) for i in chosen]
        return _json(200, _obj(("invoices", _arr(items))))

    def pdf(self, name: str) -> bytes:
        record = self.by_name[name]
        amount = Decimal(str(record.get("amount") or "0")).scaleb(-2)
        return _pdf([
            "F5 Distributed Cloud - invoice",
            f"Invoice {name}",
            f"Period {record.get('period_start')} - {record.get('period_end')}",
            f"Amount {amount} {record.get('currency', '')}",
            f"Status {record.get('status', '')}",
        ])

    def pdf_page(self, call: _Call) -> _Reply:
        self._namespace(call)
        name = call.query.get("name", "")
        if name not in self.by_name:
            raise _Bad(404, f"invoice {name!r} not found")
        encoded = base64.b64encode(self.pdf(name)).decode()
        return _json(200, _obj(("pdf", encoded)))


class _Amberflo(_App):
    provider = "amberflo"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        customers = [str(c) for c in self.options.get("customers", ())]
        for record in self.records:
            customer = self._key(record).get("customerId")
            if isinstance(customer, str) and customer not in customers:
                customers.append(customer)
        self.customers = customers
        empty = self.options.get("empty_body", "null")
        if empty not in ("null", "[]", ""):
            raise ValueError("amberflo option empty_body is 'null', '[]' or ''")
        self.empty = str(empty).encode()
        base = "/payments/billing/customer-product-invoice"
        self.routes = [
            ("GET", re.compile(base + "/all"), "list", self.list),
            ("GET", re.compile(base), "get", self.get),
            ("GET", re.compile("/customers/?"), "customers", self.customer_list),
        ]

    @staticmethod
    def _key(record: Mapping[str, Any]) -> Mapping[str, Any]:
        key = record.get("invoiceKey")
        return key if isinstance(key, Mapping) else {}

    def authorized(self, call: _Call) -> bool:
        return call.header("x-api-key") == self.credential

    def error(self, call: _Call, status: int, message: str | None = None, *,
              code: str | None = None, param: str | None = None) -> _Reply:
        return _json(status, _obj(("message", message or _MESSAGES.get(status, "error"))))

    def _mine(self, call: _Call) -> list[int]:
        customer = call.query.get("customerId")
        if not customer:
            raise _Bad(400, "customerId is required", param="customerId")
        product = call.query.get("productId", "1")
        return [
            i for i, r in enumerate(self.records)
            if self._key(r).get("customerId") == customer
            and str(self._key(r).get("productId", "1")) == product
        ]

    def list(self, call: _Call) -> _Reply:
        mine = self._mine(call)
        if not mine:
            return _json(200, self.empty)
        return _json(200, _arr([self.record(i) for i in mine]).data)

    def get(self, call: _Call) -> _Reply:
        mine = self._mine(call)
        if _bool(call.query.get("latest")):
            mine = sorted(mine, key=lambda i: self.records[i].get("invoiceStartTimeInSeconds", 0))
            mine = mine[-1:]
        else:
            wanted = {k: call.query.get(k) for k in ("productPlanId", "year", "month", "day")}
            mine = [i for i in mine
                    if all(str(self._key(self.records[i]).get(k)) == v for k, v in wanted.items())]
        if not mine:
            raise _Bad(404, "invoice not found")
        return _json(200, self.record(mine[0]))

    def customer_list(self, call: _Call) -> _Reply:
        rows = [{"customerId": c, "customerName": c, "customerEmail": None,
                 "lifecycleStage": "ACTIVE", "test": False} for c in self.customers]
        return _json(200, dumps(rows))


#: Commet list items from 2026-07-31 lack these (GET /invoices/{id} has them)
COMMET_DETAIL_ONLY = ("creditApplied", "planName", "poNumber", "reference", "lineItems")
COMMET_VERSIONS = ("2026-06-07", "2026-07-31")  # oldest and newest version served


class _Commet(_App):
    provider = "commet"
    paginated = True
    page_faults = frozenset({"repeat_cursor", "conflicting_repeat", "repeat"})

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.version = str(self.options.get("api_version", COMMET_VERSIONS[1]))
        self._check_version(self.version)
        self.by_id: dict[Any, int] = {
            r.get("id"): i for i, r in reversed(list(enumerate(self.records)))}
        created = [r.get("createdAt") for r in self.records]
        if all(isinstance(c, str) for c in created) and len(set(created)) == len(created):
            self.cursors = [str(c) for c in created]  # as Commet sends them
        else:
            self.cursors = [base64.urlsafe_b64encode(b"pos:%d" % i).decode().rstrip("=")
                            for i in range(len(self.records))]
        self.cursor_at = {c: i for i, c in enumerate(self.cursors)}
        self.routes = [
            ("GET", re.compile("/api/v1/invoices"), "list", self.list),
            ("GET", re.compile("/api/v1/invoices/(?P<id>[^/]+)"), "detail", self.detail),
        ]

    @staticmethod
    def _check_version(version: str) -> None:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version) or not (
                COMMET_VERSIONS[0] <= version <= COMMET_VERSIONS[1]):
            raise _Bad(400, f"Unsupported Commet-Version {version!r}: use a date from "
                       f"{COMMET_VERSIONS[0]} to {COMMET_VERSIONS[1]}",
                       code="invalid_api_version", param="Commet-Version")

    def _version(self, call: _Call) -> str:
        version = call.header("commet-version") or self.version
        self._check_version(version)
        return version

    def authorized(self, call: _Call) -> bool:
        return call.header("x-api-key") == self.credential

    def error(self, call: _Call, status: int, message: str | None = None, *,
              code: str | None = None, param: str | None = None) -> _Reply:
        kind, default_code = {
            400: ("validation_error", "validation_error"),
            401: ("authentication_error", "unauthorized"),
            404: ("not_found_error", "not_found"),
            429: ("rate_limit_error", "rate_limited"),
        }.get(status, ("internal_error", "internal_error"))
        version = call.header("commet-version") or self.version
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version):
            version = self.version
        code = code or default_code
        detail = _obj(
            ("type", kind), ("code", code), ("message", message or _MESSAGES.get(status, "error")),
            ("param", param), ("details", None),
            ("doc_url", f"https://commet.co/docs/api-reference/{version}/errors/{code}.md"),
        )
        fields: list[tuple[str, Any]] = [("error", _Raw(detail))]
        if version < "2026-07-24":
            fields.insert(0, ("success", False))
        headers = [("x-request-id", "req_local")]
        if status == 429:
            headers += [("RateLimit-Limit", "100"), ("RateLimit-Remaining", "0"),
                        ("RateLimit-Reset", "1")]
        return _json(status, _obj(*fields), headers)

    def _shape(self, index: int, record: Mapping[str, Any], version: str, *, listed: bool,
               fresh: bool = False) -> bytes:
        summary = listed and version >= "2026-07-31"

        def make() -> dict[str, Any]:
            if not summary:
                return dict(record)
            return {k: v for k, v in record.items() if k not in COMMET_DETAIL_ONLY}

        if fresh:
            return dumps(make())
        return self.cached((index, summary), make)

    def applies(self, kind: str, endpoint: str, call: _Call) -> bool:
        return endpoint == "list" and kind in self.page_faults and "cursor" in call.query

    def _filtered(self, call: _Call) -> list[int]:
        filters = {k: call.query[k] for k in ("customerId", "status", "subscriptionId")
                   if k in call.query}
        if not filters:
            return list(range(len(self.records)))
        return [i for i, r in enumerate(self.records)
                if all(r.get(k) == v for k, v in filters.items())]

    def list(self, call: _Call) -> _Reply:
        version = self._version(call)
        limit = _int(call, "limit", 25, 1, 100)
        assert limit is not None
        size = min(limit, self.page_size or limit)
        chosen = self._filtered(call)
        cursor = call.query.get("cursor")
        start = 0
        if cursor is not None:
            if cursor not in self.cursor_at:
                raise _Bad(400, f"Invalid cursor {cursor!r}", param="cursor")
            start = bisect.bisect_right(chosen, self.cursor_at[cursor])
        page = chosen[start:start + size]
        has_more = start + size < len(chosen)
        items = [self._shape(i, self.records[i], version, listed=True) for i in page]
        next_cursor = self.cursors[page[-1]] if has_more and page else None
        if call.page_fault and cursor is not None:
            last = self.cursor_at[cursor]
            if call.page_fault == "repeat_cursor":
                next_cursor, has_more = cursor, True
            elif call.page_fault == "repeat":
                items.insert(0, self._shape(last, self.records[last], version, listed=True))
            elif call.page_fault == "conflicting_repeat":
                changed = _bumped(self.records[last])
                items.insert(0, self._shape(last, changed, version, listed=True, fresh=True))
        if version < "2026-07-24":
            fields: list[tuple[str, Any]] = [("success", True)]
        else:
            fields = [("object", "list")]
        fields += [("data", _arr(items)), ("hasMore", has_more)]
        if next_cursor is not None:
            fields.append(("nextCursor", next_cursor))
        return _json(200, _obj(*fields))

    def detail(self, call: _Call) -> _Reply:
        version = self._version(call)
        invoice_id = call.match["id"]
        index = self.by_id.get(invoice_id)
        if index is None:
            raise _Bad(404, f"Invoice {invoice_id} not found", code="invoice_not_found",
                       param="id")
        body = self._shape(index, self.records[index], version, listed=False)
        if version < "2026-07-24":
            return _json(200, _obj(("success", True), ("data", _Raw(body))))
        return _json(200, body)


#: Frontier ``Invoice`` fields in proto order, with their proto3 zero value
FRONTIER_FIELDS: dict[str, Any] = {
    "id": "", "customer_id": "", "provider_id": "", "state": "", "currency": "",
    "amount": "0", "hosted_url": "", "due_date": None, "effective_at": None,
    "period_start_at": None, "period_end_at": None, "metadata": None, "created_at": None,
    "customer": None,
}
_CONNECT_LIST = "/raystack.frontier.v1beta1.FrontierService/ListInvoices"
#: the Frontier organization served unless ``options["org_id"]`` says otherwise
ORG_ID = "org-northwind"


class _Frontier(_App):
    provider = "frontier"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.api = str(self.options.get("api", "connect"))
        if self.api not in ("connect", "rest", "both"):
            raise ValueError("frontier option api is 'connect', 'rest' or 'both'")
        self.org_id = str(self.options.get("org_id", ORG_ID))
        for record in self.records:
            amount = record.get("amount", "0")
            if isinstance(amount, bool) or not isinstance(amount, int | str):
                raise TypeError(f"frontier amount {amount!r}: an int64 (int or digit string)")
        org = "/v1beta1/organizations/(?P<org>[^/]+)/billing"
        if self.api in ("rest", "both"):
            self.routes += [
                ("GET", re.compile(org + "/(?P<billing>[^/]+)/invoices"), "list", self.rest),
                ("GET", re.compile(org + "/invoices"), "list", self.rest),
            ]
        if self.api in ("connect", "both"):
            self.routes.append(("POST", re.compile(_CONNECT_LIST), "list", self.connect))

    def authorized(self, call: _Call) -> bool:
        header = call.header("authorization")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value == self.credential
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except ValueError:
                return False
            return self.credential in (decoded, decoded.partition(":")[2])
        return False

    def error(self, call: _Call, status: int, message: str | None = None, *,
              code: str | None = None, param: str | None = None) -> _Reply:
        number, name = _GRPC.get(status, (2, "unknown"))
        text = message or _MESSAGES.get(status, "error")
        connect = call.path == _CONNECT_LIST or (
            self.api == "connect" and not call.path.startswith("/v1beta1/"))
        if connect:
            return _json(status, _obj(("code", name), ("message", text)))
        return _json(status, _obj(("code", number), ("message", text), ("details", [])))

    def _wire(self, record: Mapping[str, Any], *, connect: bool, expand: bool) -> dict[str, Any]:
        full = {**FRONTIER_FIELDS, **record}
        full["amount"] = str(full["amount"])
        if not expand:
            full["customer"] = None
        if not connect:
            return full
        return {k: v for k, v in full.items() if v not in ("", "0", None)}

    def _page(self, org: str, nonzero: bool, expand: bool, connect: bool) -> _Reply:
        if org != self.org_id:
            raise _Bad(404, f"organization {org!r} doesn't exist")
        chosen = [i for i, r in enumerate(self.records)
                  if not nonzero or int(str(r.get("amount", "0"))) > 0]
        items = [self.cached((i, connect, expand), functools.partial(
            self._wire, self.records[i], connect=connect, expand=expand)) for i in chosen]
        return _json(200, _obj(("invoices", _arr(items))))

    def rest(self, call: _Call) -> _Reply:
        expand = any(v.lower() == "customer" for v in call.values("expand"))
        nonzero = _bool(call.query.get("nonzero_amount_only"))
        return self._page(call.match["org"], nonzero, expand, connect=False)

    def connect(self, call: _Call) -> _Reply:
        content_type = call.header("content-type").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise _Bad(415, f"unsupported content type {content_type!r}")
        try:
            body = loads(call.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise _Bad(400, "invalid syntax in body") from None
        aliases = {"orgId": "org_id", "nonzeroAmountOnly": "nonzero_amount_only"}
        if not isinstance(body, dict):
            raise _Bad(400, "invalid syntax in body")
        body = {aliases.get(k, k): v for k, v in body.items()}
        unknown = set(body) - {"org_id", "nonzero_amount_only", "expand"}
        if unknown:
            raise _Bad(400, f"unknown field {sorted(unknown)[0]!r} in body")
        org, expand = body.get("org_id", ""), body.get("expand") or []
        if not isinstance(org, str) or not org:
            raise _Bad(400, "org_id is required")
        if not isinstance(expand, list):
            raise _Bad(400, "expand must be a list")
        expanded = any(str(v).lower() == "customer" for v in expand)
        return self._page(org, body.get("nonzero_amount_only") is True, expanded, connect=True)


class _Stripe(_App):
    provider = "stripe"
    paginated = True
    page_faults = frozenset({"repeat_cursor", "conflicting_repeat", "repeat", "wrong_total"})

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # newest first; ties keep the order given
        order = sorted(range(len(self.records)), key=lambda i: -self._created(self.records[i]))
        self.records = [self.records[i] for i in order]
        self.by_id: dict[Any, int] = {
            r.get("id"): i for i, r in reversed(list(enumerate(self.records)))}
        self.embedded = int(self.options.get("embedded_lines", 10))
        invoice = "/v1/invoices/(?P<id>[^/]+)"
        self.routes = [
            ("GET", re.compile("/v1/invoices"), "list", self.list),
            ("GET", re.compile(invoice), "detail", self.detail),
            ("GET", re.compile(invoice + "/lines"), "lines", self.lines),
        ]

    @staticmethod
    def _created(record: Mapping[str, Any]) -> int:
        created = record.get("created", 0)
        return int(created) if isinstance(created, int) else 0

    def authorized(self, call: _Call) -> bool:
        scheme, _, value = call.header("authorization").partition(" ")
        if scheme.lower() == "bearer":
            return value == self.credential
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except ValueError:
                return False
            return decoded.partition(":")[0] == self.credential
        return False

    def error(self, call: _Call, status: int, message: str | None = None, *,
              code: str | None = None, param: str | None = None) -> _Reply:
        kind = "api_error" if status >= 500 else "invalid_request_error"
        default_code = {404: "resource_missing", 429: "rate_limit",
                        400: "parameter_invalid"}.get(status)
        if status == 401:
            message = message or "Invalid API Key provided (the key is not shown)."
        fields: list[tuple[str, Any]] = [("type", kind)]
        if code or default_code:
            fields.append(("code", code or default_code))
        fields.append(("message", message or _MESSAGES.get(status, "error")))
        if param:
            fields.append(("param", param))
        if code or default_code:
            slug = str(code or default_code).replace("_", "-")
            fields.append(("doc_url", f"https://stripe.com/docs/error-codes/{slug}"))
        fields.append(("request_log_url", "https://dashboard.stripe.com/test/logs/req_local"))
        return _json(status, _obj(("error", _Raw(_obj(*fields)))),
                     [("Request-Id", "req_local")])

    def applies(self, kind: str, endpoint: str, call: _Call) -> bool:
        if kind == "wrong_total":
            return endpoint == "list"
        return (kind in self.page_faults and endpoint in ("list", "lines")
                and "starting_after" in call.query)

    def _lines(self, record: Mapping[str, Any]) -> list[Any]:
        lines = record.get("lines")
        data = lines.get("data") if isinstance(lines, Mapping) else None
        return data if isinstance(data, list) else []

    def _invoice(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The invoice as a list or retrieve sends it: its first lines embedded."""
        lines = record.get("lines")
        if not isinstance(lines, Mapping):
            return dict(record)
        data = self._lines(record)
        embedded = {**lines, "data": data[: self.embedded],
                    "has_more": len(data) > self.embedded}
        return {**record, "lines": embedded}

    def _page(self, call: _Call, keys: Sequence[Any], chosen: list[int], url: str,
              encode: Callable[[int], bytes], bumped: Callable[[int], bytes]) -> _Reply:
        limit = _int(call, "limit", 10, 1, 100)
        assert limit is not None
        size = min(limit, self.page_size or limit)
        position = {key: i for i, key in reversed(list(enumerate(keys)))}
        after, before = call.query.get("starting_after"), call.query.get("ending_before")
        for name, value in (("starting_after", after), ("ending_before", before)):
            if value is not None and value not in position:
                raise _Bad(404, f"No such object: '{value}'", param=name)
        if after is not None:
            start = bisect.bisect_right(chosen, position[after])
            page, has_more = chosen[start:start + size], start + size < len(chosen)
        elif before is not None:
            end = bisect.bisect_left(chosen, position[before])
            page, has_more = chosen[max(0, end - size):end], end - size > 0
        else:
            page, has_more = chosen[:size], size < len(chosen)
        items = [encode(i) for i in page]
        if call.page_fault in ("repeat_cursor", "repeat", "conflicting_repeat") and after:
            last = position[after]
            if call.page_fault == "repeat_cursor":  # the page ending at the cursor, again
                end = bisect.bisect_right(chosen, last)
                items, has_more = [encode(i) for i in chosen[max(0, end - size):end]], True
            elif call.page_fault == "repeat":
                items.insert(0, encode(last))
            else:
                items.insert(0, bumped(last))
        fields: list[tuple[str, Any]] = [
            ("object", "list"), ("data", _arr(items)), ("has_more", has_more)]
        wrong = call.page_fault == "wrong_total"
        if wrong or "total_count" in call.values("include[]", "include"):
            fields.append(("total_count", len(chosen) + (1 if wrong else 0)))
        fields.append(("url", url))
        return _json(200, _obj(*fields))

    def _filtered(self, call: _Call) -> list[int]:
        bounds: list[tuple[str, int]] = []
        for op in ("gt", "gte", "lt", "lte", ""):
            name = f"created[{op}]" if op else "created"
            if name in call.query:
                try:
                    bounds.append((op or "eq", int(call.query[name])))
                except ValueError:
                    raise _Bad(400, f"Invalid integer: {call.query[name]}", param=name) from None
        tests = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__,
                 "eq": int.__eq__}
        filters = {k: call.query[k] for k in ("customer", "status") if k in call.query}
        chosen = []
        for i, record in enumerate(self.records):
            created = self._created(record)
            if all(tests[op](created, value) for op, value in bounds) and all(
                    record.get(k) == v for k, v in filters.items()):
                chosen.append(i)
        return chosen

    def list(self, call: _Call) -> _Reply:
        return self._page(
            call, [r.get("id") for r in self.records], self._filtered(call), "/v1/invoices",
            lambda i: self.cached(("invoice", i), lambda: self._invoice(self.records[i])),
            lambda i: dumps(self._invoice(_bumped(self.records[i]))))

    def _index(self, call: _Call) -> int:
        index = self.by_id.get(call.match["id"])
        if index is None:
            raise _Bad(404, f"No such invoice: '{call.match['id']}'", param="invoice")
        return index

    def detail(self, call: _Call) -> _Reply:
        index = self._index(call)
        return _json(200, self.cached(("invoice", index),
                                      lambda: self._invoice(self.records[index])))

    def lines(self, call: _Call) -> _Reply:
        index = self._index(call)
        data = self._lines(self.records[index])
        keys = [line.get("id") if isinstance(line, Mapping) else None for line in data]
        return self._page(
            call, keys, list(range(len(data))), f"/v1/invoices/{call.match['id']}/lines",
            lambda i: self.cached(("line", index, i), lambda: data[i]),
            lambda i: dumps(_bumped(data[i], "amount")))


_APPS: dict[str, type[_App]] = {
    app.provider: app for app in (_F5, _Amberflo, _Commet, _Frontier, _Stripe)
}


# --- the server -----------------------------------------------------------------


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
    """One provider's API on ``127.0.0.1`` (see the module docstring for what it speaks).

    ``records``: invoices in the provider's wire format (amounts as the provider
    sends them; fractional numbers as ``Decimal``, never float), or
    ``recording``: a recording folder to take them (and default options) from.
    ``page_size`` caps a page below the ``limit`` the client asks (Commet, Stripe).
    """

    def __init__(self, provider: str, records: Sequence[Mapping[str, Any]] | None = None, *,
                 recording: Path | None = None, page_size: int | None = None,
                 faults: Sequence[Fault] = (), credential: str = "test-secret",
                 options: Mapping[str, Any] | None = None) -> None:
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
            raise ValueError(f"page_size: {provider} does not paginate" if not
                             app_type.paginated else "page_size must be at least 1")
        for fault in faults:
            if fault.kind in _PAGE_FAULTS and fault.kind not in app_type.page_faults:
                raise ValueError(f"fault {fault.kind!r} does not apply to {provider}")
        if not credential:
            raise ValueError("credential must not be empty")
        self.provider, self.credential = provider, credential
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
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{self.provider}-server", daemon=True)
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
    def pdf(self, name: str) -> bytes:
        """The PDF bytes the F5 server sends for invoice ``name`` (base64 on the wire)."""
        if not isinstance(self._app, _F5):
            raise TypeError("only the f5xc server serves PDFs")
        return self._app.pdf(name)

    def served(self, endpoint: str | None = None) -> list[ServedRequest]:
        """Requests to ``endpoint`` (all known endpoints when None)."""
        return [r for r in self.requests
                if r.endpoint is not None and (endpoint is None or r.endpoint == endpoint)]

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
                if fault.kind in _PAGE_FAULTS and not self._app.applies(fault.kind, endpoint,
                                                                         call):
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
        call = _Call(handler.command, split.path, query, params,
                     httpx.Headers(list(handler.headers.items())), body, at=time.monotonic())
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
            page = (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
                    b"<body><h1>Bad Gateway</h1><p>upstream unavailable</p></body></html>")
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
                reply = self._app.error(call, bad.status, bad.message, code=bad.code,
                                        param=bad.param)
        if reply.status == 200 and kind == "malformed":
            reply.body = _obj(("result", _Raw(reply.body or b"null")))
        elif reply.status == 200 and kind == "truncated":
            reply.body = reply.body[: len(reply.body) // 2]
        if fault is not None:
            reply.headers += list(fault.headers)
        return reply

    def _log(self, call: _Call, endpoint: str | None, status: int | None,
             fault: Fault | None) -> None:
        self.requests.append(ServedRequest(
            call.method, call.path, dict(call.query), call.params, call.headers, call.body,
            endpoint, status, fault.kind if fault is not None else None, call.at))

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


# --- recorded and synthetic data ---------------------------------------------------


def _recorded_pages(folder: Path) -> tuple[str, list[tuple[dict[str, Any], Any]]]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    pages = []
    for entry in manifest["pages"]:
        raw = (folder / entry["file"]).read_bytes()
        if entry["file"].endswith(".gz"):
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8-sig").strip()
        pages.append((entry, loads(text) if text else None))
    return str(manifest["provider"]), pages


def records_from_recording(folder: Path) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """``(provider, records, server options)`` from a recording folder.

    The records are the invoices as the provider holds them: Commet list items
    completed by their ``GET /invoices/{id}`` pages, Stripe invoices with the
    line items of their ``/lines`` pages; so a server built from them serves the
    same invoices the recording holds, in the same order.
    """
    provider, pages = _recorded_pages(folder)
    records: list[dict[str, Any]] = []
    options: dict[str, Any] = {}
    if provider == "f5xc":
        for entry, body in pages:
            records += body["invoices"]
            found = re.search(r"/namespaces/([^/]+)/", entry["url"])
            if found:
                options["namespace"] = found.group(1)
    elif provider == "amberflo":
        options["customers"] = []
        for entry, body in pages:
            options["customers"].append(entry["query"]["customerId"])
            records += body or []
    elif provider == "commet":
        listed, details = [], {}
        for entry, body in pages:
            if entry.get("kind") == "detail":
                invoice = body["data"] if body.get("success") is True else body
                details[invoice["id"]] = invoice
                continue
            listed += body["data"]
            if body.get("success") is True:
                options["api_version"] = "2026-07-11"
        records = [details.get(item["id"]) or item for item in listed]
        if "api_version" not in options:
            options["api_version"] = "2026-07-31" if details else "2026-07-24"
    elif provider == "frontier":
        for entry, body in pages:
            records += body["invoices"]
            options["api"] = "connect" if entry.get("method") == "POST" else "rest"
    elif provider == "stripe":
        by_id: dict[str, dict[str, Any]] = {}
        for entry, body in pages:
            if entry.get("kind") == "lines":
                invoice_id = re.search(r"/invoices/([^/]+)/lines", entry["url"])
                if invoice_id and invoice_id.group(1) in by_id:
                    lines = by_id[invoice_id.group(1)]["lines"]
                    known = {line["id"] for line in lines["data"]}
                    lines["data"] += [line for line in body["data"] if line["id"] not in known]
                    lines["has_more"] = False
                continue
            for invoice in body["data"]:
                by_id[invoice["id"]] = invoice
                records.append(invoice)
    else:  # pragma: no cover - the manifest names a provider reconcile does not know
        raise ValueError(f"{folder}: unknown provider {provider!r}")
    return provider, records, options


def _sample_dir() -> Path:
    from reconcile.resources import packaged_path

    return packaged_path("sample_data")


def sample_records(provider: str) -> list[dict[str, Any]]:
    """The invoices of the bundled sample month (October 2026) in ``provider``'s wire format."""
    return records_from_recording(_sample_dir() / "recordings" / provider)[1]


def sample_options(provider: str) -> dict[str, Any]:
    """Server options that reproduce the sample month's recording (customers, version...)."""
    return records_from_recording(_sample_dir() / "recordings" / provider)[2]


_ALPHABET = string.ascii_letters + string.digits


def _ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def commet_invoices(n: int, *, seed: int = 0,
                    period_start: datetime = datetime(2026, 10, 1, tzinfo=UTC),
                    period_end: datetime = datetime(2026, 11, 1, tzinfo=UTC)
                    ) -> list[dict[str, Any]]:
    """``n`` synthetic Commet invoices (full ``GET /invoices/{id}`` shape), newest first.

    Deterministic for a seed. Integer cents throughout; each invoice satisfies
    ``total = subtotal − discountAmount − creditApplied + taxAmount`` and its
    charge lines sum to ``subtotal``; ``createdAt`` values are unique, so the
    server's cursors are timestamps as Commet's are.
    """
    rng = random.Random(seed)
    currencies = ("usd", "usd", "usd", "eur", "gbp", "kwd")
    statuses = ("paid", "paid", "paid", "outstanding", "draft", "void")
    ids: set[str] = set()
    invoices = []
    for number in range(n):
        invoice_id = "inv_" + "".join(rng.choices(_ALPHABET, k=12))
        while invoice_id in ids:
            invoice_id = "inv_" + "".join(rng.choices(_ALPHABET, k=12))
        ids.add(invoice_id)
        base = rng.randrange(1_000, 90_000)
        seats, seat_price = rng.randrange(0, 20), rng.randrange(500, 3_000)
        calls, call_price = rng.randrange(0, 5_000), rng.randrange(1, 5)
        lines = [
            _commet_line("plan_base", None, "Plan (monthly)", 1, base),
            _commet_line("feature_seats", "Seats", f"{seats} seats", seats, seat_price),
            _commet_line("feature_overage", "API calls", f"API calls overage ({calls} units)",
                         calls, call_price, charge="true_up"),
        ]
        subtotal = sum(line["amount"] for line in lines)
        discount = subtotal * rng.choice((0, 0, 0, 10, 20)) // 100
        credit = min(rng.choice((0, 0, 0, 500, 2_500)), subtotal - discount)
        if discount:
            lines.append(_commet_line("promo_code_discount", None, "Promo code", 1, -discount))
        if credit:
            lines.append(_commet_line("credit", None, "Credit applied", 1, -credit))
        tax = (subtotal - discount) * rng.choice((0, 5, 20)) // 100
        created = period_start + timedelta(milliseconds=(n - number) * 53 + rng.randrange(50))
        if created >= period_end:
            raise ValueError(f"{n} invoices do not fit in the period")
        invoices.append({
            "id": invoice_id,
            "customerId": f"cust-{rng.randrange(5_000):04d}",
            "subscriptionId": "sub_" + "".join(rng.choices(_ALPHABET, k=12)),
            "invoiceNumber": f"INV-{100_000 + number}",
            "status": rng.choice(statuses),
            "invoiceType": "recurring",
            "currency": rng.choice(currencies),
            "subtotal": subtotal,
            "discountAmount": discount,
            "creditApplied": credit,
            "taxAmount": tax,
            "total": subtotal - discount - credit + tax,
            "periodStart": _ms(period_start),
            "periodEnd": _ms(period_end),
            "issueDate": _ms(period_start),
            "dueDate": _ms(period_start + timedelta(days=14)),
            "planName": "Growth",
            "memo": None,
            "poNumber": None,
            "reference": None,
            "metadata": {},
            "createdAt": _ms(created),
            "updatedAt": _ms(created + timedelta(minutes=3)),
            "lineItems": lines,
            "object": "invoice",
            "livemode": False,
        })
    return invoices


def _commet_line(line_type: str, feature: str | None, description: str, quantity: int,
                 unit: int, *, charge: str = "standard") -> dict[str, Any]:
    return {
        "lineType": line_type, "featureName": feature, "description": description,
        "quantity": quantity, "unitAmount": unit, "amount": quantity * unit,
        "includedAmount": None, "usedAmount": None, "overageAmount": None,
        "discountType": None, "discountValue": None, "discountName": None,
        "chargeType": charge,
    }


# --- the sample month, live ---------------------------------------------------------

#: the config options a live fetch of the sample month needs, per provider (on top of
#: the recorded config's own ``options``)
_SAMPLE_FETCH_OPTIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "f5xc": lambda o: {"namespace": o["namespace"], "pdfs": True},
    "amberflo": lambda o: {},  # customers: the fetcher asks GET /customers
    "commet": lambda o: {"api_version": o["api_version"]},
    "frontier": lambda o: {"api": o.get("api", "connect"), "org_id": o.get("org_id", ORG_ID)},
    "stripe": lambda o: {},
}


def credential_env(provider: str) -> str:
    """The environment variable a sample-month live config reads ``provider``'s key from."""
    return f"RECONCILE_SAMPLE_{provider.upper()}_KEY"


class SampleMonth(NamedTuple):
    """The five sample-month servers (by provider) and how to point a config at them."""

    servers: dict[str, ProviderServer]
    #: ``write_config(folder, sources=None) -> Path``: a live copy of sample_data/close.yaml
    write_config: Callable[..., Path]
    #: environment variable → credential, for the run's environment
    env: dict[str, str]


def _write_live_config(servers: Mapping[str, ProviderServer], folder: Path,
                       sources: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """``folder/close.yaml``: the sample close with ``base_url``/``credential_env`` per provider
    source instead of ``recording`` (and a copy of the ledger); ``sources`` adds or
    overrides keys per source (e.g. ``{"commet": {"http": {...}}}``); ``None`` removes one."""
    from ruamel.yaml import YAML

    sample = _sample_dir()
    yaml = YAML()
    yaml.width = 4096  # no wrapped flow mappings
    doc = yaml.load((sample / "close.yaml").read_text(encoding="utf-8"))
    for name, source in doc["sources"].items():
        provider = source["provider"]
        if provider in servers:
            server = servers[provider]
            del source["recording"]
            source["base_url"] = server.url
            source["credential_env"] = credential_env(provider)
            fetch = _SAMPLE_FETCH_OPTIONS[provider](dict(server._app.options))
            source["options"] = {**dict(source.get("options") or {}), **fetch}
        elif "path" in source:  # a copy beside the config: findings name it as the sample's
            for spec in (source, source.get("lines") or {}):
                if "path" in spec:
                    folder.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(sample / spec["path"], folder / Path(spec["path"]).name)
                    spec["path"] = Path(spec["path"]).name
        for key, value in (sources or {}).get(name, {}).items():
            if value is None:
                source.pop(key, None)
            else:
                source[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "close.yaml"
    with path.open("w", encoding="utf-8") as stream:
        yaml.dump(doc, stream)
    return path


@contextlib.contextmanager
def serve_sample_month(*, faults: Mapping[str, Sequence[Fault]] | None = None,
                       page_sizes: Mapping[str, int] | None = None,
                       credentials: Mapping[str, str] | None = None
                       ) -> Iterator[SampleMonth]:
    """Serve the bundled October 2026 month from five local servers.

    A live fetch from them gives the invoices the bundled recordings hold.
    ``credentials`` per provider default to distinct random values (so a test can
    search outputs for them); ``faults`` and ``page_sizes`` per provider.
    """
    import secrets

    servers: dict[str, ProviderServer] = {}
    try:
        for provider in PROVIDERS:
            secret = (credentials or {}).get(provider) or f"{provider}-{secrets.token_hex(12)}"
            server = ProviderServer(
                provider, recording=_sample_dir() / "recordings" / provider,
                faults=(faults or {}).get(provider, ()),
                page_size=(page_sizes or {}).get(provider), credential=secret)
            servers[provider] = server.start()
        env = {credential_env(p): s.credential for p, s in servers.items()}

        def write_config(folder: Path, sources: Mapping[str, Mapping[str, Any]] | None = None
                         ) -> Path:
            return _write_live_config(servers, Path(folder), sources)

        yield SampleMonth(servers, write_config, env)
    finally:
        for server in servers.values():
            server.stop()


def _serve(args: argparse.Namespace) -> int:
    folder = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="reconcile-live-"))
    with serve_sample_month() as month:
        config = month.write_config(folder)
        print("Five local provider servers are serving the October 2026 sample month:")
        for provider, server in month.servers.items():
            print(f"  {provider:<9} {server.url}")
        print(f"\nConfig: {config}\n\nIn another shell:\n")
        for name, value in month.env.items():
            print(f"  export {name}={value}")
        print(f"  reconcile run {config} --out {folder / 'out'}\n\nCtrl-C stops the servers.")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reconcile.testing",
                                     description="Local provider servers for reconcile.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the sample month and write a live config")
    serve.add_argument("--dir", help="folder for the config (default: a new temporary folder)")
    args = parser.parse_args(argv)
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
