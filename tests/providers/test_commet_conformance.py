"""Commet conformance (issue 13): every invoice Commet's published types allow is read,
in both API shapes the normalizer reads.

The documented fields are the Node SDK's ``Invoice`` type (commet-labs/commet
``packages/node/src/types/models.ts``, at 08e8ac1b for API 2026-07-11 and at HEAD for
2026-07-31; ../shared/reference/providers.md §3) and the list page on commet.co
(source-pages/003): ``creditApplied``, ``planName``, ``poNumber``, ``reference`` and
``lineItems`` are optional (``?``); ``subscriptionId``, ``memo``, ``planName``,
``poNumber``, ``reference`` and the line items' ``featureName``, ``includedAmount``,
``usedAmount``, ``overageAmount``, ``discountType``, ``discountValue``, ``discountName``
are nullable; amounts are integer cents within ±(2^53 − 1).

* 2026-07-11: ``{"success": true, "data": [Invoice, ...], "hasMore", "nextCursor"?}``;
* 2026-07-24: ``{"object": "list", "data": [Invoice, ...], "hasMore"}``;
* 2026-07-31: the list holds ``InvoiceListItem`` (no ``lineItems``, ``creditApplied``,
  ``planName``, ``poNumber``, ``reference``) and each ``GET /invoices/{id}`` the Invoice.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconcile import schema

from ._conformance import (
    NONEMPTY,
    SAFE_INT,
    TEXT,
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

STATUSES = ("draft", "outstanding", "paid", "void", "uncollectible", "upcoming")
INVOICE_TYPES = (
    *("recurring", "overage", "plan_change", "adjustment", "credit_purchase"),
    *("balance_topup", "addon_activation", "one_time_payment", "reactivation"),
)
#: line types the default pack's lines_sum_to_subtotal keeps below the subtotal
BELOW_SUBTOTAL = ("discount", "promo_code_discount", "credit")
LINE_TYPES = (
    *("plan_base", "feature_overage", "feature_seats", "feature_quota", "balance_overage"),
    *("addon_base", "one_time", *BELOW_SUBTOTAL),
)
CHARGE_TYPES = ("standard", "advance", "true_up")
#: the fields an InvoiceListItem (2026-07-31 list) does not carry
DETAIL_ONLY = ("lineItems", "creditApplied", "planName", "poNumber", "reference")
VERSIONS = ("2026-07-11", "2026-07-24", "2026-07-31")
LIST_URL = "/api/v1/invoices"
DROP = object()


def stamp(moment: datetime, millis: bool) -> str:
    """ISO 8601 UTC as Commet writes it (``…T00:00:00.000Z``; the API page: ``…22Z``)."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z" if millis else f"{text}Z"


def line_items() -> st.SearchStrategy[dict[str, Any]]:
    return record(
        {
            "lineType": enum(LINE_TYPES, "plan_grant"),
            "featureName": nullable(TEXT),
            "description": TEXT,
            "quantity": SAFE_INT,
            "unitAmount": SAFE_INT,
            "amount": SAFE_INT,
            "includedAmount": nullable(SAFE_INT),
            "usedAmount": nullable(SAFE_INT),
            "overageAmount": nullable(SAFE_INT),
            "discountType": nullable(st.sampled_from(["percentage", "amount", "bps"])),
            "discountValue": nullable(SAFE_INT),
            "discountName": nullable(TEXT),
            "chargeType": enum(CHARGE_TYPES, "prorated"),
        }
    )


@st.composite
def invoices(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """One ``Invoice`` as the SDK types it (the full shape; DETAIL_ONLY sometimes absent)."""
    millis = draw(st.booleans())
    (start, end), (issued, due), (created, updated) = draw(st.tuples(*[moments()] * 3))
    dates = {
        "periodStart": start,
        "periodEnd": end,
        "issueDate": issued,
        "dueDate": due,
        "createdAt": created,
        "updatedAt": updated,
    }
    required = {
        "id": NONEMPTY.map(lambda s: f"inv_{index}_{s}"),
        "customerId": NONEMPTY,
        "subscriptionId": nullable(NONEMPTY),
        "invoiceNumber": NONEMPTY,
        "status": enum(STATUSES, "pending"),
        "invoiceType": enum(INVOICE_TYPES, "gift_card"),
        "currency": st.sampled_from(["usd", "eur", "brl", "jpy", "bhd"]),
        **{k: SAFE_INT for k in ("subtotal", "discountAmount", "taxAmount", "total")},
        **{k: st.just(stamp(v, millis)) for k, v in dates.items()},
        "memo": nullable(TEXT),
        "metadata": st.dictionaries(NONEMPTY, nullable(TEXT | SAFE_INT), max_size=2),
        "object": st.just("invoice"),
        "livemode": st.booleans(),
    }
    optional = {
        "creditApplied": SAFE_INT,
        "planName": nullable(TEXT),
        "poNumber": nullable(TEXT),
        "reference": nullable(TEXT),
        "lineItems": st.lists(line_items(), max_size=3),
    }
    return draw(record(required, optional))


@dataclass(frozen=True)
class Case:
    version: str
    invoices: list[dict[str, Any]]

    @property
    def options(self) -> dict[str, str]:
        return {"api_version": self.version}

    def pages(self) -> list[dict[str, Any]]:
        """The recording a fetch of this version writes."""
        cursor = {"nextCursor": None} if len(self.invoices) % 2 else {}
        if self.version == "2026-07-11":
            body = {"success": True, "data": self.invoices, "hasMore": False, **cursor}
            return pages_of([(body, LIST_URL, "list")])
        if self.version == "2026-07-24":
            body = {"object": "list", "data": self.invoices, "hasMore": False, **cursor}
            return pages_of([(body, LIST_URL, "list")])
        listed = [{k: v for k, v in inv.items() if k not in DETAIL_ONLY} for inv in self.invoices]
        body = {"object": "list", "data": listed, "hasMore": False}
        details = [(inv, f"{LIST_URL}/{inv.get('id')}", "detail") for inv in self.invoices]
        return pages_of([(body, LIST_URL, "list"), *details])


@st.composite
def cases(draw: st.DrawFn, versions: tuple[str, ...] = VERSIONS) -> Case:
    count = draw(st.integers(min_value=1, max_value=3))
    return Case(draw(st.sampled_from(versions)), [draw(invoices(i)) for i in range(count)])


# --- every documented record is read ----------------------------------------------------------


@bounded(40)
@given(cases())
def test_every_documented_invoice_is_read_and_absent_fields_are_null(case: Case) -> None:
    got = read("commet", case.pages(), case.options)
    assert got.quarantined() == []
    check_invariants(got.normalized)
    assert "credit_minor" in got.normalized.provided and got.normalized.has_lines
    rows = got.rows
    assert sorted(rows) == sorted(inv["id"] for inv in case.invoices)
    for inv in case.invoices:
        row = rows[inv["id"]]
        money = ("subtotal_minor", "discount_minor", "tax_minor", "total_minor")
        wire = ("subtotal", "discountAmount", "taxAmount", "total")
        assert [row[c] for c in money] == [inv[k] for k in wire]
        assert row["credit_minor"] == inv.get("creditApplied")  # absent: null, never 0
        assert row["currency"] == inv["currency"].upper()
        assert row["memo"] == (inv["memo"] or None)
        assert row["raw_status"] == inv["status"] and row["status"] in schema.STATUSES
        lines = [x for x in got.normalized.lines if x["invoice_id"] == inv["id"]]
        assert [x["amount_minor"] for x in lines] == [x["amount"] for x in inv.get("lineItems", [])]


# --- the identities hold; a missing creditApplied makes the total identity N/A -----------------


@st.composite
def balanced(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """An invoice whose amounts satisfy commet.total_identity, lines_sum_to_subtotal and
    line_amount; ``creditApplied`` sometimes absent, ``lineItems`` always sent."""
    inv = draw(invoices(index))
    # (a draft is outside the close: its identities are not checked)
    inv["status"] = draw(st.sampled_from(["outstanding", "paid"]))
    lines = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        line = draw(line_items())
        line["lineType"] = draw(st.sampled_from(LINE_TYPES))
        below = line["lineType"] in BELOW_SUBTOTAL
        line["quantity"] = draw(st.integers(min_value=0, max_value=10_000))
        unit = draw(st.integers(min_value=0, max_value=10**7))
        line["unitAmount"] = -unit if below else unit
        line["amount"] = line["quantity"] * line["unitAmount"]
        lines.append(line)
    subtotal = sum(x["amount"] for x in lines if x["lineType"] not in BELOW_SUBTOTAL)
    discount, credit, tax = (draw(st.integers(min_value=0, max_value=10**8)) for _ in range(3))
    if "creditApplied" in inv:
        inv["creditApplied"] = credit
    inv.update(lineItems=lines, subtotal=subtotal, discountAmount=discount, taxAmount=tax)
    inv["total"] = subtotal - discount - credit + tax
    return inv


@bounded(12)
@given(st.sampled_from(VERSIONS), st.lists(st.integers(), min_size=1, max_size=4), st.data())
def test_identities_hold_and_a_missing_credit_is_not_applicable(
    version: str, sizes: list[int], data: st.DataObject
) -> None:
    case = Case(version, [data.draw(balanced(i)) for i in range(len(sizes))])
    with one_source_close("commet", case.pages(), case.options) as result:
        assert result.sources[0].quarantined == 0 and result.sources[0].checked == len(sizes)
        assert findings_of(result, "commet.") == []
        absent = sum("creditApplied" not in inv for inv in case.invoices)
        total = stats(result, "commet.total_identity")
        assert total["not_applicable_rows"] == absent and total["failed"] == 0
        assert stats(result, "commet.lines_sum_to_subtotal")["not_applicable_rows"] == 0


def test_an_invoice_without_line_items_is_read_without_lines() -> None:
    """``lineItems`` is optional: the invoice is read (no quarantine), with no lines."""
    full = _sample_invoice()
    del full["lineItems"]
    got = read("commet", Case("2026-07-11", [full]).pages(), {"api_version": "2026-07-11"})
    assert got.quarantined() == [] and got.normalized.lines == []
    assert got.rows[full["id"]]["total_minor"] == full["total"]


def test_an_invoice_without_line_items_makes_the_lines_rule_not_applicable() -> None:
    full = _sample_invoice()
    del full["lineItems"]
    with one_source_close("commet", Case("2026-07-11", [full]).pages(), {}) as result:
        assert stats(result, "commet.lines_sum_to_subtotal")["not_applicable_rows"] == 1
        assert findings_of(result, "commet.lines_sum_to_subtotal") == []


def _sample_invoice() -> dict[str, Any]:
    return {
        "id": "inv_1",
        "customerId": "acme",
        "subscriptionId": None,
        "invoiceNumber": "INV-1",
        "status": "paid",
        "invoiceType": "recurring",
        "currency": "usd",
        "subtotal": 14900,
        "discountAmount": 1490,
        "creditApplied": 500,
        "taxAmount": 1291,
        "total": 14201,
        "periodStart": "2026-07-01T00:00:00.000Z",
        "periodEnd": "2026-08-01T00:00:00.000Z",
        "issueDate": "2026-08-01T00:00:00.000Z",
        "dueDate": "2026-08-01T00:00:00.000Z",
        "memo": None,
        "metadata": {},
        "createdAt": "2026-08-01T00:00:04.512Z",
        "updatedAt": "2026-08-01T00:03:11.090Z",
        "lineItems": [],
        "object": "invoice",
        "livemode": True,
    }


# --- what contradicts the documentation is quarantined, naming the field ----------------------

#: (field, value or DROP, what the message names)
CONTRADICTIONS: list[tuple[str, Any, str]] = [
    ("id", DROP, "'id'"),
    ("id", 7, "'id'"),
    ("id", "", "'id'"),
    ("currency", DROP, "'currency'"),
    ("currency", 840, "'currency'"),
    ("currency", " ", "'currency'"),
    ("total", DROP, "'total'"),
    ("total", None, "'total'"),
    ("total", "12.50", "'total'"),
    ("total", 12.5, "'total'"),
    ("total", 2**64, "'total'"),
    ("total", True, "'total'"),
    ("total", "1250", "field 'total' should be a JSON number"),
    ("creditApplied", "500", "field 'creditApplied' should be a JSON number"),
    ("subtotal", DROP, "'subtotal'"),
    ("discountAmount", None, "'discountAmount'"),
    ("taxAmount", "abc", "'taxAmount'"),
    ("creditApplied", 0.5, "'creditApplied'"),
    ("creditApplied", [], "'creditApplied'"),
    ("periodStart", "yesterday", "'periodStart'"),
    ("dueDate", 20260801, "'dueDate'"),
    ("status", 3, "'status'"),
    ("customerId", {"id": 1}, "'customerId'"),
    ("invoiceNumber", 43, "'invoiceNumber'"),
    ("memo", ["x"], "'memo'"),
    ("lineItems", {"0": {}}, "'lineItems'"),
    ("lineItems", [7], "'lineItems'"),
    ("lineItems[0].amount", 1.5, "lineItems[0]: field 'amount'"),
    ("lineItems[0].amount", DROP, "lineItems[0]: missing required field 'amount'"),
    ("lineItems[0].quantity", "two", "lineItems[0]: field 'quantity'"),
    ("lineItems[0].quantity", "2", "lineItems[0]: field 'quantity' should be a JSON number"),
    ("lineItems[0].amount", "100", "lineItems[0]: field 'amount' should be a JSON number"),
    ("lineItems[0].unitAmount", {}, "lineItems[0]: field 'unitAmount'"),
    ("lineItems[0].lineType", 1, "lineItems[0]: field 'lineType'"),
]


def contradicted(inv: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    bad = copy.deepcopy(inv)
    target, key = bad, path
    if path.startswith("lineItems[0]."):
        bad["lineItems"] = bad.get("lineItems") or [_sample_line()]
        target, key = bad["lineItems"][0], path.removeprefix("lineItems[0].")
    if value is DROP:
        target.pop(key, None)
    else:
        target[key] = value
    return bad


def _sample_line() -> dict[str, Any]:
    return {"lineType": "plan_base", "description": "Pro", "quantity": 1, "unitAmount": 9900}


@bounded(20)
@given(cases())
def test_each_contradicting_invoice_is_quarantined_naming_the_field(case: Case) -> None:
    """Every contradiction, each on a copy of a documented invoice, beside the originals:
    each copy is quarantined at its position, its message naming the field; the
    originals are read."""
    originals = len(case.invoices)

    def broken(bad: Any, number: int, contradiction: Any) -> tuple[Any, str] | None:
        path, value, named = contradiction
        if case.version == "2026-07-31" and path == "id":
            return None  # a detail page without a string id is not an invoice page at all
        bad["id"] += f"-bad{number}"
        return contradicted(bad, path, value), named

    records, expected = beside_originals(case.invoices, CONTRADICTIONS, broken)
    got = read("commet", Case(case.version, records).pages(), case.options)
    got.quarantined_as(expected)
    assert len(got.rows) == originals
