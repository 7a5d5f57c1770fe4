"""What every provider module shares: pages in, canonical rows out (pure, no I/O).

A provider module exposes ``normalize(pages, source, options) -> Normalized``. It reads
each page's exact wire JSON (numbers with a fraction become ``Decimal``; see
:func:`load_json`) and returns canonical invoice and line rows. A record that
cannot be parsed (wrong type, missing field, an amount out of range or finer
than a canonical frame holds) becomes a :class:`Reject`, named with
its page and position, and the rest of the page goes on. A page that is not the
documented shape at all (HTML error page, truncated JSON, wrong envelope)
raises :class:`~reconcile.errors.InputDataError`: the source would be
incomplete, so the run stops with exit 3.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from reconcile import jsonio, money
from reconcile.errors import InputDataError
from reconcile.jsonio import is_unicode, unicode_safe
from reconcile.schema import ALWAYS_PROVIDED, CURRENCY_LENGTH, INVOICE_SCHEMA, LINE_SCHEMA


@dataclass(frozen=True)
class Page:
    """One API response body as received."""

    body: bytes
    #: where it came from, for error messages: a recording file or a URL (no secrets)
    location: str
    #: the endpoint it answers, e.g. ``GET /v1/invoices``; providers with
    #: several endpoints (Commet list + get) dispatch on ``kind``
    endpoint: str = ""
    kind: str = "list"
    #: the response headers kept with it (lower-case names: content type, request id,
    #: rate limits, the API version a provider answered in; see providers._http)
    headers: Mapping[str, str] = field(default_factory=dict)


def check_version(
    page: Page, source: str, header: str, readable: Callable[[str], bool], supported: str
) -> None:
    """Stop the run (exit 3) on a page answered in an API version whose shape the
    normalizer does not read (the version the response names in ``header``), naming
    the version and what is supported: a shape it cannot read would otherwise
    quarantine every record, or worse, read some fields wrong."""
    version = page.headers.get(header)
    if version is not None and not readable(version):
        raise InputDataError(
            f"the page was answered in API version {header} {version[:40]!r}; "
            f"this normalizer reads {supported}",
            source=source,
            location=page.location,
        )


@dataclass(frozen=True)
class Reject:
    """A record that is not in the canonical frame, and why."""

    source: str
    location: str  # page and record position, e.g. "0002.json record 3"
    reason: str
    invoice_id: str | None = None
    #: other canonical keys the record still carries (``invoice_number``,
    #: ``external_ref``): a pairing on them names it as a quarantined counterpart
    keys: tuple[tuple[str, str], ...] = ()


@dataclass
class Normalized:
    invoices: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    #: canonical invoice columns this source actually sends (others are N/A)
    provided: frozenset[str] = frozenset()
    #: provided money columns its published schema lets be null or absent on a record
    #: (Stripe's taxes on a draft): null there is N/A for that record, not a quarantine
    nullable: frozenset[str] = frozenset()
    #: whether this source sends line items at all
    has_lines: bool = False
    #: ids of invoices sent without their (optional) line items: their line sums are
    #: unknown, so the rules on them are N/A for those invoices, never a sum of zero
    lines_unknown: set[str] = field(default_factory=set)
    #: the amounts are float64 results cleaned to this many decimals (Amberflo)
    float_decimals: int | None = None
    #: records of the beside pages (counted apart from ``records_read``)
    neighbours_read: int = 0
    #: the pages fetched only for the neighbouring periods (Stripe's widened ``created``
    #: window): their records are out of the close, read for timing only
    beside_pages: set[str] = field(default_factory=set)

    def beside(self, location: str) -> bool:
        """Whether a record (``"<page> record <n>"``) was read for the neighbours only."""
        return bool(self.beside_pages) and location.rsplit(" record ", 1)[0] in self.beside_pages

    #: records read from the pages (= invoices kept + rejects)
    records_read: int = 0
    #: identical records repeated across pages, dropped once each
    duplicates_dropped: int = 0


class Normalizer(Protocol):
    def __call__(
        self, pages: Sequence[Page], source: str, options: Mapping[str, Any] = ...
    ) -> Normalized: ...


class RecordError(ValueError):
    """Raised inside a record parser: the record becomes a Reject."""


# --- parsing helpers ------------------------------------------------------------


def load_json(page: Page, source: str) -> Any:
    """Parse a page body exactly: fractional numbers as Decimal, never float."""
    try:
        text = jsonio.decode(page.body).strip() if page.body else ""
        return jsonio.loads(text) if text else None
    except jsonio.JSONError as exc:
        shown = page.body[:60].decode("utf-8", errors="replace").replace("\n", " ")
        raise InputDataError(
            f"page is not valid JSON ({exc}); starts with {shown!r}",
            source=source,
            location=page.location,
        ) from None


def shape_error(page: Page, source: str, expected: str) -> InputDataError:
    return InputDataError(
        f"page is not the documented shape: expected {expected}",
        source=source,
        location=page.location,
    )


def bad_page(page: Page, source: str, body: Any, expected: str) -> InputDataError:
    """A page that is not ``expected``; names the API error when it is an error envelope.

    Recognises ``{"error": {"code"/"type", "message"}}`` (Stripe, Commet) and
    ``{"code", "message"}`` (gRPC status, Connect RPC) bodies.
    """
    err = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(err, Mapping):
        detail = f"{err.get('code') or err.get('type')}: {err.get('message')}"
    elif isinstance(body, Mapping) and "code" in body and "message" in body:
        detail = f"{body['code']}: {body['message']}"
    else:
        return shape_error(page, source, expected)
    return InputDataError(
        f"page is an API error response ({detail}), expected {expected}",
        source=source,
        location=page.location,
    )


# --- canonical rows ---------------------------------------------------------------


def _row(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = values.keys() - schema.keys()
    if unknown:
        raise TypeError(f"not canonical columns: {sorted(unknown)}")
    return {column: values.get(column) for column in schema}


def invoice_row(source: str, record_ref: str, **values: Any) -> dict[str, Any]:
    """A canonical invoice row: every INVOICE_SCHEMA column, missing ones None."""
    return _row(INVOICE_SCHEMA, {"source": source, "record_ref": record_ref, **values})


def line_row(
    source: str, invoice_id: str, line_no: int, record_ref: str, **values: Any
) -> dict[str, Any]:
    """A canonical line row: every LINE_SCHEMA column, missing ones None."""
    fixed = {"source": source, "invoice_id": invoice_id, "line_no": line_no}
    return _row(LINE_SCHEMA, {**fixed, "record_ref": record_ref, **values})


def provided(*columns: str) -> frozenset[str]:
    """The ``provided`` set: the always-present columns plus ``columns``."""
    unknown = set(columns) - INVOICE_SCHEMA.keys()
    if unknown:
        raise TypeError(f"not canonical invoice columns: {sorted(unknown)}")
    return ALWAYS_PROVIDED | frozenset(columns)


# --- field helpers ------------------------------------------------------------------


def req(rec: Mapping[str, Any], key: str) -> Any:
    if key not in rec or rec[key] is None:
        raise RecordError(f"missing required field {key!r}")
    return rec[key]


def opt(rec: Mapping[str, Any], key: str, default: Any = None) -> Any:
    value = rec.get(key, default)
    return default if value is None else value


def text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise RecordError(f"field {key!r} should be a string, got {type(value).__name__}")
    return value


def opt_text(rec: Mapping[str, Any], key: str) -> str | None:
    value = rec.get(key)
    if value is None or value == "":
        return None
    return text(value, key)


def minor(rec: Mapping[str, Any], key: str, *, required: bool = True) -> int | None:
    """An integer minor-unit amount (JSON integer or int64 string)."""
    value = rec.get(key)
    if value is None:
        if required:
            raise RecordError(f"missing required field {key!r}")
        return None
    try:
        return money.minor_int(value)
    except money.MoneyError as exc:
        raise RecordError(f"field {key!r}: {exc}") from None


def integer(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"field {key!r} should be an integer, got {value!r}")
    return value


def nested(rec: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A required JSON object inside the record."""
    value = req(rec, key)
    if not isinstance(value, Mapping):
        raise RecordError(f"field {key!r} should be an object, got {type(value).__name__}")
    return value


def opt_nested(rec: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    """An optional JSON object inside the record (None when absent or null)."""
    return None if rec.get(key) is None else nested(rec, key)


def objects(rec: Mapping[str, Any], key: str, *, required: bool = False) -> list[Mapping[str, Any]]:
    """A JSON array of objects (``[]`` when optional and absent)."""
    value = req(rec, key) if required else opt(rec, key, [])
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise RecordError(f"field {key!r} should be a list of objects")
    return value


@contextmanager
def within(path: str) -> Iterator[None]:
    """Prefix record errors raised inside a nested item with its path (``lineItems[2]``)."""
    try:
        yield
    except RecordError as exc:
        if path in str(exc):  # the message already names the full path
            raise
        raise RecordError(f"{path}: {exc}") from None


def rescaled(value: int, currency: str, provider: str, key: str) -> int:
    """A provider's minor units to ISO minor units (see money.provider_minor_to_iso)."""
    try:
        return money.provider_minor_to_iso(value, currency, provider)
    except money.MoneyError as exc:
        raise RecordError(f"field {key!r}: {exc}") from None


def currency_code(value: Any, key: str = "currency") -> str:
    """The currency code as sent, trimmed and upper-cased. A code that is not an
    active ISO 4217 code (``usdx``) is kept: the amounts are read all the same and
    the currency rule reports the code; an empty or overlong text is refused."""
    code = text(value, key).strip().upper()
    if not code:
        raise RecordError(f"field {key!r} is empty: no currency")
    if len(code) > CURRENCY_LENGTH or any(c.isspace() for c in code):
        shown = code if len(code) <= 40 else code[:40] + "…"
        raise RecordError(f"field {key!r}: {shown!r} is not a currency code")
    return code


def exact_decimal(value: Any, key: str, places: int) -> Decimal | None:
    """An exact decimal (quantity, unit price) that must fit ``places`` decimals."""
    if value is None:
        return None
    try:
        dec = money.to_decimal(value)
    except money.MoneyError as exc:
        raise RecordError(f"field {key!r}: {exc}") from None
    if money.places(dec) > places:  # (not quantize: 1E+20 to 9 places needs 30 digits)
        raise RecordError(f"field {key!r}: {value} has more than {places} decimals")
    return dec


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_seconds(value: Any, key: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"field {key!r} should be epoch seconds (integer), got {value!r}")
    try:
        return _EPOCH + timedelta(seconds=value)
    except OverflowError:  # beyond the years 1 to 9999
        raise RecordError(f"field {key!r}: {value} epoch seconds is out of range") from None


def rfc3339(value: Any, key: str) -> datetime | None:
    """RFC 3339 with 0-9 fractional digits (nanoseconds truncated to microseconds)."""
    if value is None or value == "":
        return None
    raw = text(value, key).strip()
    head, _, tail = raw.partition(".")
    if tail:
        digits = len(tail) - len(tail.lstrip("0123456789"))
        frac, zone = tail[:digits], tail[digits:]
        raw = f"{head}.{frac[:6].ljust(6, '0')}{zone}" if frac else head + zone
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RecordError(f"field {key!r}: {value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise RecordError(f"field {key!r}: {value!r} has no time zone")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise RecordError(f"field {key!r}: {value!r} is out of range in UTC") from None


def enum_value(raw: str | None, mapping: Mapping[str, str]) -> str:
    """Map a provider enum case-insensitively; unknown values become ``unknown``."""
    if raw is None:
        return "unknown"
    return mapping.get(raw.strip().lower(), "unknown")


class Converter:
    """Major units to exact minor units for one source (nothing is rounded here: see
    reconcile.precision). ``float_noise``: the source's numbers are float64 results,
    cleaned to that many decimals first (money.without_float_noise)."""

    def __init__(self, source: str, provider: str | None, float_noise: int | None = None) -> None:
        self.source, self.provider, self.float_noise = source, provider, float_noise

    def __call__(self, value: Any, currency: str, invoice_id: str, key: str) -> Decimal:
        try:
            return money.exact_minor(value, currency, self.provider, float_noise=self.float_noise)
        except money.MoneyError as exc:
            raise RecordError(f"field {key!r}: {exc}") from None


def _tagged(value: Any) -> Any:
    """Decimal for the content digest, distinct from a string with the same digits."""
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    raise TypeError(f"not JSON: {type(value).__name__}")


class Seen:
    """Identical records repeated across pages: the first is kept, repeats are dropped.

    Identity is the record's exact JSON content, so the same id with different
    content is kept twice (the uniqueness rule reports it).
    """

    def __init__(self) -> None:
        self._digests: set[bytes] = set()

    def repeat(self, record: Any) -> bool:
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=_tagged)
        digest = hashlib.sha256(text.encode()).digest()
        if digest in self._digests:
            return True
        self._digests.add(digest)
        return False


def located(
    out: Normalized, page: Page, records: Iterable[Any], seen: Seen | None = None
) -> Iterator[tuple[str, Any]]:
    """``(location, record)`` per record of a page; repeats (``seen``) are counted, skipped."""
    for index, record in enumerate(records):
        if seen is not None and isinstance(record, Mapping) and seen.repeat(record):
            out.duplicates_dropped += 1
            continue
        yield f"{page.location} record {index}", record


#: how a Reject names its invoice: a field name, or a function of the record
IdKey = str | Callable[[Mapping[str, Any]], Any] | None


def _record_id(record: Mapping[str, Any], id_key: IdKey) -> str | None:
    if callable(id_key):
        try:
            rid = id_key(record)
        except RecordError:
            return None
    else:
        rid = record.get(id_key) if id_key else None
    return rid if isinstance(rid, str) and is_unicode(rid) else None


def _check_unicode(*rows: Iterable[Mapping[str, Any]]) -> None:
    """Refuse a record whose rows hold text that is not Unicode, naming the column."""
    for row in itertools.chain(*rows):
        for column, value in row.items():
            if isinstance(value, str) and not is_unicode(value):
                raise RecordError(
                    f"{column}: {value[:60]!r} is not Unicode text (a lone UTF-16 surrogate)"
                )


def _record_keys(record: Mapping[str, Any], keys: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The canonical keys a rejected record still carries (``keys``: canonical column
    -> wire field), where they are non-empty strings."""
    found = ((column, record.get(wire)) for column, wire in keys.items())
    return tuple(
        (column, value)
        for column, value in found
        if isinstance(value, str) and value and is_unicode(value)
    )


def parse_records(
    out: Normalized,
    source: str,
    items: Iterable[tuple[str, Any]],
    parse: Callable[[Mapping[str, Any], str], None],
    *,
    id_key: IdKey = None,
    keys: Mapping[str, str] | None = None,
) -> None:
    """Run ``parse(record, location)`` per item; failures become Rejects.

    A rejected record leaves nothing behind: lines it added are removed.
    """
    for location, record in items:
        out.records_read += 1
        if not isinstance(record, Mapping):
            out.rejects.append(Reject(source, location, "record is not a JSON object"))
            continue
        marks = len(out.invoices), len(out.lines)
        try:
            parse(record, location)
            _check_unicode(out.invoices[marks[0] :], out.lines[marks[1] :])
        except RecordError as exc:
            del out.invoices[marks[0] :], out.lines[marks[1] :]
            out.rejects.append(
                Reject(
                    source,
                    location,
                    unicode_safe(str(exc)),
                    _record_id(record, id_key),
                    _record_keys(record, keys or {}),
                )
            )


def each_record(
    out: Normalized,
    source: str,
    page: Page,
    records: Iterable[Any],
    parse: Callable[[Mapping[str, Any], str], None],
    *,
    id_key: IdKey = None,
    seen: Seen | None = None,
    keys: Mapping[str, str] | None = None,
) -> None:
    """Run ``parse(record, location)`` per record; failures become Rejects."""
    parse_records(out, source, located(out, page, records, seen), parse, id_key=id_key, keys=keys)
