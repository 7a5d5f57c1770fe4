"""F5 Distributed Cloud conformance (issue 13): every invoice F5's published schema
allows is read.

The documented fields are ``ves.io.schema.usage.invoice.InvoiceType`` in F5's OpenAPI
spec (../shared/reference/providers.md §1; source-pages/000, "List invoices"):
``active`` (boolean), ``amount`` (string, int64, cents), ``currency``, ``name``,
``period_start``, ``period_end`` (RFC 3339 date-time, up to nanoseconds) and
``status`` (``STATUS_UNKNOWN``, ``STATUS_ISSUED``, ``STATUS_PENDING``, ``STATUS_PAID``,
``STATUS_REFUNDED``, ``STATUS_CANCELLED``, ``OVERDUE``). The spec comes from protobuf
and the generated SDK types every field ``Optional``: every field may be absent, and
under the proto3 JSON mapping ``null`` is the field's default (``"0"``, ``false``,
``STATUS_UNKNOWN``, an empty list). The page's own example is a record with nothing
but ``"status": "STATUS_UNKNOWN"``: without a ``name`` (no id) or a ``currency`` no
rule can check it, so it is quarantined, naming the field.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconcile.money import INT64_MAX, INT64_MIN

from ._conformance import (
    NONEMPTY,
    beside_originals,
    bounded,
    enum,
    findings_of,
    moments,
    nullable,
    one_source_close,
    pages_of,
    read,
    record,
    stats,
)
from .conftest import check_invariants

STATUSES = (
    *("STATUS_UNKNOWN", "STATUS_ISSUED", "STATUS_PENDING", "STATUS_PAID"),
    *("STATUS_REFUNDED", "STATUS_CANCELLED", "OVERDUE"),
)
URL = "/api/web/namespaces/system/usage/invoices/custom_list"
DROP = object()
OPTIONS = {"customer_id": "tenant-a"}
#: the N/A count's rule: it needs both ends of the period
PERIOD_RULE = """
rules:
  - id: test.f5xc_period_order
    title: The invoice period does not end before it starts
    severity: error
    type: expression
    applies_to: {provider: f5xc}
    assert: "period_start <= period_end"
"""


def timestamp(moment: datetime, digits: int, nanos: int, offset: timedelta, z: str) -> str:
    """``moment`` in RFC 3339 as a proto3 Timestamp is written: ``digits`` (0-9)
    fractional digits, ``Z``/``z`` or an offset."""
    local = moment.astimezone(timezone(offset))
    fraction = f"{moment.microsecond:06d}{nanos:03d}"[:digits]
    zone = local.strftime("%z") if offset else z
    zone = zone if len(zone) < 5 else f"{zone[:3]}:{zone[3:]}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if digits else "") + zone


def read_as(moment: datetime, digits: int) -> datetime:
    """What a timestamp with ``digits`` fractional digits reads as: UTC, to the
    microsecond, the digits beyond cut (never rounded up into the next day)."""
    kept = f"{moment.microsecond:06d}"[: min(digits, 6)]
    return moment.replace(microsecond=int((kept + "000000")[:6]))


def amounts() -> st.SearchStrategy[Any]:
    """An int64 in cents as proto3 JSON writes it (a string) or as parsers accept it (a
    JSON number)."""
    value = st.integers(INT64_MIN, INT64_MAX)
    return value.map(str) | st.integers(-(2**53), 2**53)


@st.composite
def invoices(draw: st.DrawFn, index: int, *, in_close: bool = False) -> dict[str, Any]:
    """One ``InvoiceType``; ``in_close``: a final, paid or overdue invoice (no draft).
    ``_read``: what its period reads as (not sent)."""
    start, end = draw(moments())
    # one precision for both ends: cutting digits keeps start <= end
    digits = draw(st.sampled_from([0, 3, 6, 9]) | st.integers(0, 9))
    offset = draw(
        st.sampled_from([timedelta(0), timedelta(hours=5, minutes=30), -timedelta(hours=8)])
    )
    nanos, z = draw(st.integers(0, 999)), draw(st.sampled_from(["Z", "z"]))
    dates = {
        k: timestamp(m, digits, nanos, offset, z)
        for k, m in (("period_start", start), ("period_end", end))
    }
    optional: dict[str, Any] = {
        "active": nullable(st.booleans()),
        "amount": nullable(amounts()),
        **{k: nullable(st.just(v)) for k, v in dates.items()},
        "status": nullable(enum(STATUSES, "STATUS_DISPUTED")),
        "x_unknown_field": st.just({"since": "v2"}),
    }
    if in_close:
        optional["active"] = st.just(False)
        optional["status"] = st.sampled_from(["STATUS_PAID", "OVERDUE"])
    required = {
        "name": NONEMPTY.map(lambda s: f"inv-{index}-{s}"),
        "currency": st.sampled_from(["USD", "EUR", "usd", "JPY"]),
    }
    inv = draw(record(required, optional))
    inv["_read"] = {
        "period_start": read_as(start, digits) if inv.get("period_start") else None,
        "period_end": read_as(end, digits) if inv.get("period_end") else None,
    }
    return inv


def wire(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"invoices": [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]}


# --- every documented record is read ------------------------------------------------------


@bounded(40)
@given(st.lists(st.integers(), min_size=0, max_size=4), st.data())
def test_every_documented_invoice_is_read_and_absent_fields_are_defaults(
    sizes: list[int], data: st.DataObject
) -> None:
    records = [data.draw(invoices(i)) for i in range(len(sizes))]
    body = wire(records) if records else data.draw(st.sampled_from([{}, {"invoices": None}]))
    got = read("f5xc", pages_of([(body, URL, "list")]), OPTIONS)
    assert got.quarantined() == []
    check_invariants(got.normalized)
    rows = {row["invoice_id"]: row for row in got.normalized.invoices}
    assert sorted(rows) == sorted(inv["name"] for inv in records)
    for inv in records:
        row = rows[inv["name"]]
        assert row["total_minor"] == int(inv.get("amount") or 0)  # absent, null: "0"
        assert row["raw_status"] == inv.get("status")  # absent: STATUS_UNKNOWN's null
        assert row["currency"] == inv["currency"].upper()
        assert row["customer_id"] == "tenant-a"
        assert row["period_start"] == inv["_read"]["period_start"]
        assert row["period_end"] == inv["_read"]["period_end"]


@bounded(12)
@given(st.lists(st.integers(), min_size=1, max_size=4), st.data())
def test_an_absent_period_end_makes_the_rules_needing_it_not_applicable(
    sizes: list[int], data: st.DataObject
) -> None:
    records = [data.draw(invoices(i, in_close=True)) for i in range(len(sizes))]
    with one_source_close(
        "f5xc", pages_of([(wire(records), URL, "list")]), OPTIONS, PERIOD_RULE
    ) as result:
        summary = result.sources[0]
        assert summary.quarantined == 0 and summary.checked == len(records)
        assert findings_of(result, "test.") == []
        period = stats(result, "test.f5xc_period_order")
        missing = sum(
            inv.get("period_start") is None or inv.get("period_end") is None for inv in records
        )
        assert period["not_applicable_rows"] == missing and period["failed"] == 0


# --- what contradicts the documentation is quarantined, naming the field ----------------------

#: (field, value or DROP, what the message names)
CONTRADICTIONS: list[tuple[str, Any, str]] = [
    ("name", DROP, "'name'"),
    ("name", None, "'name'"),
    ("name", "", "'name'"),
    ("name", 7, "'name'"),
    ("currency", DROP, "'currency'"),
    ("currency", None, "'currency'"),
    ("currency", "", "'currency'"),
    ("currency", 840, "'currency'"),
    ("amount", "12.5", "'amount'"),
    ("amount", "abc", "'amount'"),
    ("amount", 12.5, "'amount'"),
    ("amount", str(2**64), "'amount'"),
    ("amount", True, "'amount'"),
    ("amount", [], "'amount'"),
    ("active", "yes", "'active'"),
    ("active", 1, "'active'"),
    ("status", 3, "'status'"),
    ("status", ["STATUS_PAID"], "'status'"),
    ("period_start", "31/07/2026", "'period_start'"),
    ("period_start", "2026-07-01T00:00:00", "'period_start'"),
    ("period_end", 1_785_542_400, "'period_end'"),
]


@bounded(20)
@given(st.lists(st.integers(), min_size=1, max_size=3), st.data())
def test_each_contradicting_invoice_is_quarantined_naming_the_field(
    sizes: list[int], data: st.DataObject
) -> None:
    """Every contradiction, each on a copy of a documented invoice, beside the originals:
    each copy is quarantined at its position, its message naming the field; the
    originals are read."""
    originals = [data.draw(invoices(i)) for i in range(len(sizes))]

    def broken(bad: Any, number: int, contradiction: Any) -> tuple[Any, str]:
        key, value, named = contradiction
        bad["name"] += f"-bad{number}"
        if value is DROP:
            bad.pop(key)
        else:
            bad[key] = value
        return bad, named

    records, expected = beside_originals(originals, CONTRADICTIONS, broken)
    got = read("f5xc", pages_of([(wire(records), URL, "list")]), OPTIONS)
    got.quarantined_as(expected)
    assert len(got.normalized.invoices) == len(originals)
