"""Frontier's ``Invoice`` (raystack/proton ``models.proto``) as the proto3 JSON mapping
(protobuf.dev, "ProtoJSON format") allows it, in both eras (reference/providers.md §4):
the REST gateway (<= v0.90, ``EmitUnpopulated``: every field, zero values written, unset
timestamps and ``customer`` null) and Connect (>= v0.91: zero values omitted; a parser
also takes lowerCamelCase names, ``null`` for a default, an int64 as a number or a
string, exponent too, Timestamps with 0-9 fractional digits and any offset, unknown
fields). What must hold: nothing raised; every record the mapping allows read exactly
(an absent amount 0, an absent timestamp null); one that contradicts it quarantined,
naming the field, while the same record mended is read. Examples are derandomized and
bounded; ``HYPOTHESIS_PROFILE=slow`` (the profile tests/conftest.py registers) draws
many more, at random.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from reconcile import pipeline, schema, sources
from reconcile.config import SourceConfig
from reconcile.money import INT64_MAX, INT64_MIN
from reconcile.providers import frontier
from reconcile.providers._base import Normalized, Page
from reconcile.recording import write_recording

from .conftest import check_invariants

SLOW = os.environ.get("HYPOTHESIS_PROFILE") == "slow"
#: (a record as sent, the invoice it writes: proto names, unset fields at their default)
Case = tuple[dict[str, Any], dict[str, Any]]


def examples(n: int) -> settings:
    """``n`` derandomized examples (the same every run), or the loaded profile's many."""
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large]
    if SLOW:
        return settings(deadline=None, suppress_health_check=quiet)
    return settings(
        max_examples=n, derandomize=True, database=None, deadline=None, suppress_health_check=quiet
    )


# --- the message ---------------------------------------------------------------------------

TIMESTAMPS = ("due_date", "effective_at", "period_start_at", "period_end_at", "created_at")
#: ``Invoice``'s fields in proto order (``models.proto``)
TEXTS = ("id", "customer_id", "provider_id", "state", "currency", "hosted_url")
FIELDS = (*TEXTS[:5], "amount", "hosted_url", *TIMESTAMPS[:4], "metadata", "created_at", "customer")
#: the fields the close cannot do without (the mapping lets every field be absent)
NEEDED = ("id", "currency")
OPTIONAL = tuple(f for f in FIELDS if f not in NEEDED)


def camel(name: str) -> str:
    """The lowerCamelCase json_name protoc gives a field (``due_date`` -> ``dueDate``)."""
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


class Raw(str):
    """A JSON number token written verbatim (``1e3``, ``4900.0``)."""


def dump(value: Any) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    return json.dumps(value)


# --- strategies: an invoice ---------------------------------------------------------------

FINITE = st.floats(allow_nan=False, allow_infinity=False)
SCALARS = st.none() | st.booleans() | st.integers() | FINITE | st.text()
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(), inner, max_size=2),
    max_leaves=4,
)
STRUCT = st.dictionaries(st.text(max_size=8), JSON, max_size=2)
UUIDS = st.uuids().map(str)
STATES = st.sampled_from(["draft", "open", "paid", "uncollectible", "void"]) | st.text(max_size=12)
CURRENCIES = st.sampled_from(["usd", "eur", "jpy", "kwd", "clf", "isk", "mga", "USD"]) | (
    st.from_regex(r"[a-z]{3}", fullmatch=True)
)
#: Stripe's minor units to ISO's (money.PROVIDER_EXPONENTS: ISK 2 decimals, MGA none)
SCALED: dict[str, Callable[[int], int]] = {"ISK": lambda a: a // 100, "MGA": lambda a: a * 100}


def amounts(currency: str) -> st.SearchStrategy[int]:
    """Amounts in Stripe's minor units: zero, small, negative, at the int64 limits (of
    the ISO amount: ISK whole krónur, MGA within int64 once scaled)."""
    low, high, step = INT64_MIN, INT64_MAX, 1
    if currency.upper() == "ISK":
        low, high, step = INT64_MIN // 100 + 1, INT64_MAX // 100, 100
    elif currency.upper() == "MGA":
        low, high = -(INT64_MAX // 100), INT64_MAX // 100
    edges = st.sampled_from([low, low + 1, -1, 1, high - 1, high])
    k = st.just(0) | st.integers(-(10**9), 10**9) | st.integers(low, high) | edges
    return k.map(lambda k: k * step)


EDGES = [
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=UTC)),
    ("9999-12-31T23:59:59.999999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
]


@st.composite
def stamps(draw: st.DrawFn) -> tuple[str, datetime]:
    """A Timestamp as RFC 3339 text (0-9 fractional digits, any offset) and its UTC
    instant to the microsecond (the canonical frame's unit: finer digits truncated)."""
    if draw(st.integers(0, 15)) == 0:
        return draw(st.sampled_from(EDGES))
    utc = draw(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30))).replace(microsecond=0)
    digits = draw(st.sampled_from([0, 3, 6, 9]) | st.integers(0, 9))
    frac = draw(st.text("0123456789", min_size=digits, max_size=digits))
    minutes = draw(st.just(0) | st.integers(-(24 * 60 - 1), 24 * 60 - 1))
    if minutes:
        sign, (hours, mins) = "+" if minutes > 0 else "-", divmod(abs(minutes), 60)
        zone = f"{sign}{hours:02d}:{mins:02d}"
    else:
        zone = draw(st.sampled_from(["Z", "Z", "z", "+00:00", "-00:00"]))
    local = (utc + timedelta(minutes=minutes)).isoformat(timespec="seconds")
    text = local + (f".{frac}" if frac else "") + zone
    micros = int(frac[:6].ljust(6, "0"))
    return text, utc.replace(tzinfo=UTC) + timedelta(microseconds=micros)


#: an expanded ``BillingAccount`` (``expand=customer``): only its ``name`` is read
CUSTOMER = st.fixed_dictionaries(
    {"id": UUIDS, "name": st.text(max_size=20)},
    optional={"email": st.text(max_size=20), "metadata": STRUCT, "organization": st.none()},
)


@st.composite
def invoices(draw: st.DrawFn) -> dict[str, Any]:
    """One invoice's field values (proto names); unset fields hold their zero value
    (``""``, ``0``, ``None``). Timestamps are ``(text, instant)``."""
    currency = draw(CURRENCIES)
    inv: dict[str, Any] = {
        "id": draw(UUIDS | st.text(min_size=1, max_size=30)),
        "customer_id": draw(st.just("") | UUIDS),
        "provider_id": draw(st.just("") | st.from_regex(r"in_[A-Za-z0-9]{8,24}", fullmatch=True)),
        "state": draw(STATES),
        "currency": currency,
        "amount": draw(amounts(currency)),
        "hosted_url": draw(st.sampled_from(["", "https://invoice.stripe.com/i/acct_1/live_x"])),
        **{name: draw(st.none() | stamps()) for name in TIMESTAMPS},
        "metadata": draw(st.none() | STRUCT),
        "customer": draw(st.none() | CUSTOMER),
    }
    start, end = inv["period_start_at"], inv["period_end_at"]
    if start and end and start[1] > end[1]:  # a Stripe period runs forwards
        inv["period_start_at"], inv["period_end_at"] = end, start
    return inv


def expected(inv: dict[str, Any]) -> dict[str, Any]:
    """The canonical row the invoice must give (the columns Frontier provides)."""

    def instant(name: str) -> datetime | None:
        return inv[name][1] if inv[name] else None

    currency = inv["currency"].upper()
    rescale: Callable[[int], int] = SCALED.get(currency, int)
    return {
        "invoice_id": inv["id"],
        "external_ref": inv["provider_id"] or None,
        "customer_id": inv["customer_id"] or None,
        "customer_name": (inv["customer"] or {}).get("name") or None,
        "currency": currency,
        "raw_status": inv["state"] or None,
        "total_minor": rescale(inv["amount"]),
        "period_start": instant("period_start_at"),
        "period_end": instant("period_end_at"),
        "issued_at": instant("effective_at") or instant("created_at"),
        "due_at": instant("due_date"),
    }


# --- strategies: the invoice on the wire ----------------------------------------------------


def int64_forms(n: int) -> st.SearchStrategy[Any]:
    """An int64 as a server writes it (a decimal string) or as a parser accepts it: a
    JSON number, a zero fraction, exponent notation, quoted or not."""
    forms: list[Any] = [str(n), str(n), n, Raw(f"{n}.0"), f"{n}.00"]
    if n % 10 == 0 and n:
        forms += [Raw(f"{n // 10}e1"), f"{n // 10}E+1", Raw(f"{n // 10}0E-0")]
    return st.sampled_from(forms)


def zero(name: str) -> Any:
    """A field's proto3 default: what an absent or null field reads as."""
    return 0 if name == "amount" else "" if name in TEXTS else None


def set_value(name: str, value: Any) -> Any:
    """The wire value of a set field, or None for an unset one (its zero value)."""
    if name in TIMESTAMPS:
        return value[0] if value else None
    if name in ("metadata", "customer"):
        return value
    return value or None  # "" and 0 are unset


def rest(inv: dict[str, Any]) -> dict[str, Any]:
    """The gateway era: every field under its proto name, zero values written
    (``"amount": "0"``, ``""``), unset timestamps and messages null."""
    record = {name: set_value(name, inv[name]) for name in FIELDS}
    texts = {name: inv[name] for name in FIELDS if isinstance(inv[name], str)}
    return {**record, **texts, "amount": str(inv["amount"])}


#: an unset field written anyway: its zero value as a parser accepts it
ZEROS: dict[str, list[Any]] = {"amount": ["0", 0, Raw("0.0")], **{key: [""] for key in TEXTS}}


@st.composite
def connect(draw: st.DrawFn, inv: dict[str, Any]) -> dict[str, Any]:
    """The Connect era: zero values omitted; each field under its proto or json name;
    an unset field sometimes written anyway as null or its zero value (parsers accept)."""
    wire: dict[str, Any] = {}
    for name in draw(st.permutations(FIELDS)):
        key = draw(st.sampled_from([name, camel(name)]))
        value = set_value(name, inv[name])
        if value is None:
            unset = draw(st.sampled_from(["omit", "omit", "omit", "null", "zero"]))
            if unset != "omit":
                zeros = ZEROS.get(name, [None])
                wire[key] = None if unset == "null" else draw(st.sampled_from(zeros))
            continue
        wire[key] = draw(int64_forms(value)) if name == "amount" else value
    return wire


KNOWN = {*FIELDS, *map(camel, FIELDS)}
UNKNOWN = st.dictionaries(st.text(min_size=1).filter(lambda k: k not in KNOWN), JSON, max_size=2)


def without(record: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """The record without the fields ``names`` (under either name)."""
    return {k: v for k, v in record.items() if k not in names and k not in map(camel, names)}


@st.composite
def wire(draw: st.DrawFn, era: str | None = None) -> Case:
    """(the record as sent, in either era or ``era``, with unknown fields; the invoice)."""
    inv = draw(invoices())
    era = era or draw(st.sampled_from(["rest", "connect"]))
    record = rest(inv) if era == "rest" else draw(connect(inv))
    return {**record, **draw(UNKNOWN)}, inv


# --- reading ------------------------------------------------------------------------------

PAGE = "rec/0001.json"
#: the canonical columns Frontier's invoices fill
COLUMNS = (
    *("invoice_id", "external_ref", "customer_id", "customer_name", "currency", "raw_status"),
    *("total_minor", "period_start", "period_end", "issued_at", "due_at"),
)


def read(records: list[Any], *, validate: bool = True) -> Normalized:
    out = frontier.normalize([Page(dump({"invoices": records}).encode(), PAGE)], "fr", {})
    check_invariants(out, validate=validate)
    return out


def numbered(cases: list[Case]) -> list[Case]:
    """Each id made distinct (``n:id``): identical records are read once (``Seen``)."""
    return [
        ({**record, "id": f"{n}:{inv['id']}"}, {**inv, "id": f"{n}:{inv['id']}"})
        for n, (record, inv) in enumerate(cases)
    ]


def rows_of(out: Normalized) -> list[dict[str, Any]]:
    """Every record read (none quarantined), the columns Frontier fills, in page order."""
    assert not out.rejects, out.rejects
    return [{column: row[column] for column in COLUMNS} for row in out.invoices]


@examples(30)
@given(st.lists(wire(), min_size=1, max_size=4).map(numbered))
def test_every_invoice_the_mapping_allows_is_read_exactly(
    cases: list[Case],
) -> None:
    out = read([record for record, _ in cases])
    assert rows_of(out) == [expected(inv) for _, inv in cases]
    assert all(row["status"] in schema.STATUSES for row in out.invoices)


@examples(25)
@given(st.data())
def test_both_eras_of_one_invoice_give_one_row(data: st.DataObject) -> None:
    """The gateway's record and any Connect spelling of the same invoice read the same."""
    inv = data.draw(invoices(), label="invoice")
    records = [rest(inv), data.draw(connect(inv), label="connect")]
    # one page each: the two may be the same JSON, which one page reads once (Seen)
    assert [rows_of(read([record])) for record in records] == [[expected(inv)]] * 2


@examples(40)
@given(wire(), st.data())
def test_an_absent_optional_field_is_its_default(case: Case, data: st.DataObject) -> None:
    """Any optional fields left out (or sent as null): an absent amount is 0 (proto3's
    default), an absent timestamp or text null; the record is never quarantined."""
    record, inv = case
    gone = data.draw(st.sets(st.sampled_from(OPTIONAL), min_size=1), label="absent")
    null = data.draw(st.booleans(), label="as null")
    sent = {**without(record, gone), **(dict.fromkeys(gone) if null else {})}
    (row,) = rows_of(read([sent]))
    assert row == expected({**inv, **{name: zero(name) for name in gone}})
    assert "amount" not in gone or row["total_minor"] == 0
    assert "due_date" not in gone or row["due_at"] is None


# --- records that contradict the mapping ---------------------------------------------------

NOT_TEXT = [5, True, ["x"], {"a": 1}, Raw("1.5")]
BAD_AMOUNTS = [
    *("12.5", "abc", "", " 5", "5 ", "+5", "05", "0x10", "NaN", "Infinity", "1_000", "١٢"),
    *("9223372036854775808", "-9223372036854775809", "1e19", "1e400", "0.5e1x"),
    *(Raw("12.5"), Raw("9223372036854775808"), Raw("-9223372036854775809"), Raw("1e19")),
    *(Raw("1E-2"), True, [], {}, ["5"]),
]
BAD_STAMPS = [
    *("2026-08-01T00:00:00", "2026-08-01T00:00:00.123", "2026-08-01", "2026-08-01T00:00Z"),
    *("2026-08-01T00:00:00.Z", "2026-08-01T00:00:00.1234567890Z", "2026-08-01T24:00:00Z"),
    *("2026-02-30T00:00:00Z", "2026-08-01T00:00:60Z", "2026-08-01T00:00:00+0530"),
    *("20260801T000000Z", "2026-08-01T00:00:00 Z", "2026-08-01T00:00:00+24:00", ""),
    *("1785542400", "٢٠٢٦-08-01T00:00:00Z", "0001-01-01T00:00:00+00:01"),
    *("9999-12-31T23:59:59-00:01", "2026-08-01T00:00:00Z\n", 1785542400, {"seconds": 1}),
]
TWICE = object()
#: proto name -> values the mapping refuses for it (``...``: the field left out; TWICE:
#: the field under both its names)
BAD: dict[str, list[Any]] = {
    "id": [..., None, "", *NOT_TEXT],
    "currency": [..., None, "", *NOT_TEXT],
    "amount": BAD_AMOUNTS,
    **{name: [*BAD_STAMPS, TWICE] for name in TIMESTAMPS},
    **dict.fromkeys(["customer_id", "provider_id", "state"], NOT_TEXT),
    "customer": ["acme", 5, [], [{"name": "x"}], {"name": 5}, {"name": ["x"]}],
}


@st.composite
def contradicting(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], str]:
    """(a record with one field the mapping refuses, the same record mended, the field)."""
    record, _ = draw(wire())
    name = draw(st.sampled_from(sorted(BAD)))
    bad = draw(st.sampled_from(BAD[name]))
    if name in TIMESTAMPS and draw(st.booleans()):  # a timestamp of the strategy, unzoned
        bad = draw(stamps())[0].rstrip("Zz")[:19]
    names = (name, camel(name))
    mended = {k: v for k, v in record.items() if k not in names}
    if name in NEEDED:  # the close cannot do without it: mended, not left out
        mended[name] = record.get(name, "x")
    if bad is TWICE:  # one field under its proto and its json name (ProtoJSON refuses)
        text = draw(stamps())[0]
        return {**mended, name: text, camel(name): text}, mended, name
    if bad is ...:
        return {k: v for k, v in mended.items() if k != name}, mended, name
    return {**mended, draw(st.sampled_from(names)): bad}, mended, name


def names_the_field(reason: str, name: str) -> bool:
    return f"'{name}'" in reason or reason.startswith(f"{name}: ")


@examples(150)
@given(contradicting())
def test_a_record_contradicting_the_mapping_is_quarantined_naming_the_field(
    case: tuple[dict[str, Any], dict[str, Any], str],
) -> None:
    broken, mended, name = case
    note(dump(broken))
    out = read([mended, broken], validate=False)
    assert len(out.invoices) == 1 and out.invoices[0]["record_ref"] == f"{PAGE} record 0"
    (reject,) = out.rejects
    assert reject.location == f"{PAGE} record 1"
    assert names_the_field(reject.reason, name), reject.reason


# --- never raises --------------------------------------------------------------------------

HOSTILE = JSON | st.sampled_from([Raw("1e9999999"), Raw("9" * 400), Raw("-0.0"), "\x00"])


@st.composite
def hostile(draw: st.DrawFn, record: dict[str, Any]) -> Any:
    """The record with a field replaced by any JSON value or removed, or any JSON value."""
    if draw(st.integers(0, 5)) == 0:
        return draw(HOSTILE)
    key = draw(st.sampled_from(sorted({*record, *KNOWN})))
    if draw(st.booleans()):
        return {k: v for k, v in record.items() if k != key}
    return {**record, key: draw(HOSTILE | st.sampled_from(BAD_AMOUNTS + BAD_STAMPS))}


@examples(50)
@given(st.data())
def test_the_normalizer_never_raises_and_reads_every_allowed_record(data: st.DataObject) -> None:
    """Records the mapping allows among broken ones: nothing raised, every record read
    or a located reject with its reason, and every allowed one read."""
    cases = data.draw(st.lists(wire(), min_size=1, max_size=4).map(numbered), label="records")
    records: list[Any] = []
    allowed: set[int] = set()
    for n, (record, _) in enumerate(cases):
        gone = data.draw(st.sets(st.sampled_from(OPTIONAL)), label=f"absent {n}")
        record = without(record, gone)
        if data.draw(st.booleans(), label=f"break {n}"):
            records.append(data.draw(hostile(record), label=f"broken {n}"))
        else:
            allowed.add(len(records))
            records.append(record)
    out = read(records, validate=False)
    assert out.records_read + out.duplicates_dropped == len(records)
    read_at = {int(row["record_ref"].rsplit(" ", 1)[1]) for row in out.invoices}
    assert allowed <= read_at, out.rejects
    assert all(r.reason and r.location.startswith(f"{PAGE} record ") for r in out.rejects)


# --- the real path: a recording, the canonical schema, a close -------------------------------

CONNECT_URL = "/raystack.frontier.v1beta1.FrontierService/ListInvoices"
REST_URL = "/v1beta1/organizations/org-1/billing/invoices"


def recorded(folder: Path, era: str, records: list[Any]) -> Path:
    body = dump({"invoices": records}).encode()
    url, method = (REST_URL, "GET") if era == "rest" else (CONNECT_URL, "POST")
    write_recording(folder / "rec", "frontier", [{"body": body, "url": url, "method": method}])
    return folder / "rec"


@examples(15)
@given(st.sampled_from(["rest", "connect"]), st.data())
def test_a_recorded_page_reads_through_the_source_and_schema(era: str, data: st.DataObject) -> None:
    """recording -> sources.load_source -> schema.validate_invoices: every allowed
    invoice valid; a contradicting one quarantined at its page and position."""
    cases = data.draw(st.lists(wire(era), min_size=1, max_size=5).map(numbered), label="invoices")
    records = [record for record, _ in cases]
    broken, _, name = data.draw(contradicting(), label="contradicting")
    with tempfile.TemporaryDirectory() as tmp:
        rec = recorded(Path(tmp), era, [*records, broken])
        loaded = sources.load_source(SourceConfig("fr", "frontier", "period_start", rec), Path(tmp))
    checked = schema.validate_invoices(loaded.invoices, loaded.normalized.provided)
    assert checked.failures.height == 0, checked.failures
    assert checked.valid.height == len(records)
    (reject,) = loaded.normalized.rejects
    assert reject.location == f"{PAGE} record {len(records)}"
    assert names_the_field(reject.reason, name), reject.reason
    totals = checked.valid.sort(schema.ROW).get_column("total_minor").to_list()
    assert totals == [expected(inv)["total_minor"] for _, inv in cases]


@examples(3)
@given(st.sampled_from(["rest", "connect"]), st.data())
def test_a_one_source_close_quarantines_nothing_the_mapping_allows(
    era: str, data: st.DataObject
) -> None:
    """pipeline.run of a close whose one source is a recording of allowed invoices and
    one with a malformed amount: only that one quarantined, named by a schema finding."""
    cases = data.draw(st.lists(wire(era), min_size=1, max_size=4).map(numbered), label="invoices")
    records = [record for record, _ in cases]
    bad = {"id": "bad", "currency": "usd", "amount": "12.5"}
    with tempfile.TemporaryDirectory() as tmp:
        recorded(Path(tmp), era, [*records, bad])
        config = Path(tmp) / "close.yaml"
        period = "period: {start: 2026-08-01, end: 2026-09-01}\n"
        config.write_text(period + "sources:\n  fr: {provider: frontier, recording: rec}\n")
        result = pipeline.run(config)
    (summary,) = result.sources
    counts = summary.records_read, summary.valid, summary.quarantined
    assert counts == (len(records) + 1, len(records), 1), summary
    schema_findings = result.findings.filter(pl.col("rule_id").str.starts_with("schema."))
    (finding,) = schema_findings.iter_rows(named=True)
    assert finding["location"] == f"{PAGE} record {len(records)}"
    assert "amount" in finding["message"] and "12.5" in finding["message"]
