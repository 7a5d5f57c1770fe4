from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.errors import InputDataError
from reconcile.money import INT64_MAX
from reconcile.providers import stripe
from reconcile.providers._base import Normalized, Page
from reconcile.providers.registry import NORMALIZERS
from reconcile.schema import ALWAYS_PROVIDED

from .conftest import by_id, check_invariants, json_page, raw_page, sample_json, sample_page

SAMPLE = "stripe_list_invoices.json"
INVOICE = "in_1Pgc6tB7WZ01zgkWu9fdqL6I"
LINE = "il_1Pgc6sB7WZ01zgkWFnxLrLCq"
_AMOUNTS = (
    "amount_due",
    "amount_paid",
    "amount_remaining",
    "amount_shipping",
    "subtotal",
    "subtotal_excluding_tax",
    "total",
    "total_excluding_tax",
    "starting_balance",
    "ending_balance",
    "pre_payment_credit_notes_amount",
    "post_payment_credit_notes_amount",
)


def _run(*pages: Page) -> Normalized:
    out = stripe.normalize(list(pages), "st", {})
    check_invariants(out)
    return out


def _invoice(**changes: Any) -> dict[str, Any]:
    invoice: dict[str, Any] = copy.deepcopy(sample_json(SAMPLE)["data"][0])
    invoice.update(changes)
    return invoice


def _list(*invoices: dict[str, Any], location: str = "rec/0001.json") -> Page:
    body = {"object": "list", "data": list(invoices), "has_more": False, "url": "/v1/invoices"}
    return json_page(body, location, endpoint="GET /v1/invoices")


def _in_currency(currency: str, factor: int) -> dict[str, Any]:
    """The sample invoice in ``currency``, every Stripe amount multiplied by ``factor``."""
    invoice = _invoice(currency=currency)
    for key in _AMOUNTS:
        invoice[key] *= factor
    for item in invoice["total_discount_amounts"] + invoice["total_taxes"]:
        item["amount"] *= factor
    for line in invoice["lines"]["data"]:
        line["currency"] = currency
        line["amount"] *= factor
        for item in line["discount_amounts"] + line["taxes"]:
            item["amount"] *= factor
        unit = Decimal(line["pricing"]["unit_amount_decimal"]) * factor
        line["pricing"]["unit_amount_decimal"] = str(unit)
    return invoice


def _lines_page(
    lines: list[dict[str, Any]], *, has_more: bool, invoice: str = INVOICE, location: str
) -> Page:
    body = {"object": "list", "data": lines, "has_more": has_more, "url": "/v1/invoices/x/lines"}
    endpoint = f"GET /v1/invoices/{invoice}/lines" if invoice else "GET /v1/lines"
    return json_page(body, location, kind="lines", endpoint=endpoint)


def _second_line() -> dict[str, Any]:
    line: dict[str, Any] = copy.deepcopy(_invoice()["lines"]["data"][0])
    line.update(id="il_second", amount=250, description="Setup", quantity=None)
    line["quantity_decimal"] = "0.5"
    line["pricing"]["unit_amount_decimal"] = "500.123456789012"
    line["parent"] = {"type": "invoice_item_details"}
    return line


def test_registered() -> None:
    assert NORMALIZERS["stripe"] is stripe.normalize


def test_sample_invoice_exact() -> None:
    page = sample_page(SAMPLE, endpoint="GET /v1/invoices")
    out = _run(page)
    assert out.records_read == 1 and not out.rejects
    (row,) = out.invoices
    assert (row["invoice_id"], row["invoice_number"]) == (INVOICE, "A1B2C3D4-0007")
    assert (row["customer_id"], row["customer_name"]) == ("cus_QXg1o8vcGmoR32", "Acme Corp")
    assert (row["currency"], row["status"], row["raw_status"]) == ("USD", "paid", "paid")
    assert {k: v for k, v in row.items() if k.endswith("_minor") and v is not None} == {
        "subtotal_minor": 10000,
        "subtotal_excluding_tax_minor": 10000,
        "discount_minor": 1000,
        "tax_minor": 720,
        "shipping_minor": 0,
        "total_minor": 9720,
        "total_excluding_tax_minor": 9000,
        "amount_due_minor": 7720,
        "amount_paid_minor": 7720,
        "amount_remaining_minor": 0,
        "starting_balance_minor": -2000,  # customer credit, applied after total
        "ending_balance_minor": 0,
        "pre_payment_credit_notes_minor": 0,
        "post_payment_credit_notes_minor": 0,
    }
    assert row["credit_minor"] is None  # the −2000 balance is applied after total
    assert row["period_start"] == datetime(2026, 7, 1, tzinfo=UTC)
    assert row["period_end"] == datetime(2026, 8, 1, tzinfo=UTC)
    assert row["issued_at"] == datetime(2026, 8, 1, 1, tzinfo=UTC)  # effective_at
    assert row["due_at"] is None and row["memo"] is None
    assert row["record_ref"] == f"{page.location} record 0"


def test_identities_hold_on_the_sample() -> None:
    row = _run(sample_page(SAMPLE)).invoices[0]
    assert row["subtotal_excluding_tax_minor"] - row["discount_minor"] == 9000
    assert row["total_excluding_tax_minor"] == 9000
    assert row["total_excluding_tax_minor"] + row["tax_minor"] == row["total_minor"] == 9720
    assert row["amount_due_minor"] - row["amount_paid_minor"] == row["amount_remaining_minor"]


def test_provided_columns() -> None:
    out = _run(sample_page(SAMPLE))
    assert out.has_lines is True
    assert out.provided == ALWAYS_PROVIDED | {
        "invoice_number",
        "customer_id",
        "customer_name",
        "raw_status",
        "issued_at",
        "due_at",
        "memo",
        "subtotal_minor",
        "subtotal_excluding_tax_minor",
        "discount_minor",
        "tax_minor",
        "shipping_minor",
        "total_minor",
        "total_excluding_tax_minor",
        "amount_due_minor",
        "amount_paid_minor",
        "amount_remaining_minor",
        "starting_balance_minor",
        "ending_balance_minor",
        "pre_payment_credit_notes_minor",
        "post_payment_credit_notes_minor",
        "period_start",
        "period_end",
    }
    assert "credit_minor" not in out.provided


def test_sample_line() -> None:
    page = sample_page(SAMPLE)
    (line,) = _run(page).lines
    assert (line["invoice_id"], line["line_no"], line["line_id"]) == (INVOICE, 0, LINE)
    assert line["line_type"] == "subscription_item_details"
    assert line["description"] == "2 × Pro seat (at $50.00 / month)"
    assert (line["quantity"], line["unit_amount"]) == (Decimal(2), Decimal(5000))
    assert (line["amount_minor"], line["currency"]) == (10000, "USD")
    assert line["record_ref"] == f"{page.location} record 0"


@pytest.mark.parametrize(
    ("currency", "factor", "scale"),
    [("jpy", 1, Decimal(1)), ("isk", 100, Decimal("0.01")), ("mga", 1, Decimal(100))],
)
def test_currency_rescaling(currency: str, factor: int, scale: Decimal) -> None:
    """Stripe ISK is two-decimal (ISO 0), MGA zero-decimal (ISO 2), JPY as ISO."""
    out = _run(_list(_in_currency(currency, factor)))
    row, line = out.invoices[0], out.lines[0]
    stripe_total = 9720 * factor
    assert row["currency"] == line["currency"] == currency.upper()
    assert row["total_minor"] == int(stripe_total * scale)
    assert row["discount_minor"] == int(1000 * factor * scale)
    assert row["tax_minor"] == int(720 * factor * scale)
    assert row["amount_due_minor"] == int(7720 * factor * scale)
    assert line["amount_minor"] == int(10000 * factor * scale)
    assert line["unit_amount"] == Decimal(5000) * factor * scale
    assert row["total_excluding_tax_minor"] + row["tax_minor"] == row["total_minor"]


def test_isk_amount_below_one_krona_is_rejected() -> None:
    invoice = _in_currency("isk", 100)
    invoice["total"] += 5
    out = _run(_list(invoice))
    assert out.invoices == [] and out.lines == []
    assert "field 'total'" in out.rejects[0].reason
    assert "not a whole ISO minor unit" in out.rejects[0].reason


def test_more_lines_without_line_pages_is_rejected() -> None:
    invoice = _invoice()
    invoice["lines"]["has_more"] = True
    out = _run(_list(invoice, location="rec/0002.json"))
    (reject,) = out.rejects
    assert reject.location == "rec/0002.json record 0" and reject.invoice_id == INVOICE
    assert reject.reason.startswith("line items incomplete: lines.has_more is true")
    assert f"GET /v1/invoices/{INVOICE}/lines" in reject.reason


def test_line_pages_complete_the_invoice() -> None:
    invoice = _invoice()
    invoice["lines"]["has_more"] = True
    first = invoice["lines"]["data"][0]
    lines = [
        _lines_page([first], has_more=True, location="rec/0003.json"),
        _lines_page([_second_line()], has_more=False, location="rec/0004.json"),
    ]
    out = _run(_list(invoice), *lines)
    assert [(x["line_no"], x["line_id"]) for x in out.lines] == [(0, LINE), (1, "il_second")]
    second = out.lines[1]
    assert second["record_ref"] == "rec/0004.json record 0"
    assert second["quantity"] == Decimal("0.5")
    assert second["unit_amount"] == Decimal("500.123456789012")
    assert (second["line_type"], second["amount_minor"]) == ("invoice_item_details", 250)
    # the last lines page still says has_more: incomplete
    out = _run(_list(invoice), lines[0])
    assert "has_more is still true" in out.rejects[0].reason


def test_line_pages_found_by_the_line_invoice_field() -> None:
    extra = {**_second_line(), "invoice": INVOICE}
    page = _lines_page([extra], has_more=False, invoice="", location="rec/0005.json")
    out = _run(_list(_invoice()), page)
    assert [x["line_id"] for x in out.lines] == [LINE, "il_second"]


def test_conflicting_line_item_rejects_the_invoice() -> None:
    changed = {**_invoice()["lines"]["data"][0], "amount": 9999}
    page = _lines_page([changed], has_more=False, location="rec/0006.json")
    out = _run(_list(_invoice()), page)
    assert out.invoices == [] and f"line item {LINE} differs" in out.rejects[0].reason


def test_line_pages_for_an_unlisted_invoice_stop_the_run() -> None:
    page = _lines_page([_second_line()], has_more=False, invoice="in_other", location="rec/7.json")
    with pytest.raises(InputDataError, match=r"rec/7\.json.*in_other"):
        _run(_list(_invoice()), page)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, "unknown"),
        ("deleted", "unknown"),
        ("PAID", "paid"),
        ("void", "void"),
        ("uncollectible", "uncollectible"),
        ("draft", "draft"),
        ("open", "open"),
    ],
)
def test_status_verbatim(status: str | None, expected: str) -> None:
    row = _run(_list(_invoice(status=status))).invoices[0]
    assert (row["status"], row["raw_status"]) == (expected, status)


def test_issued_due_and_memo() -> None:
    invoice = _invoice(effective_at=None, due_date=1786000000, description="Thanks!")
    row = _run(_list(invoice)).invoices[0]
    # effective_at null: status_transitions.finalized_at
    assert row["issued_at"] == datetime(2026, 8, 1, 1, tzinfo=UTC)
    assert row["due_at"] == datetime.fromtimestamp(1786000000, UTC)
    assert row["memo"] == "Thanks!"


def test_inclusive_taxes_are_counted_with_the_exclusive_ones() -> None:
    """total − total_excluding_tax is every tax: Stripe's total_excluding_tax excludes
    all tax, and an inclusive tax is inside the total (not added to it)."""
    invoice = _invoice()
    invoice["total_taxes"].append({**invoice["total_taxes"][0], "tax_behavior": "inclusive"})
    assert _run(_list(invoice)).invoices[0]["tax_minor"] == 1440


def test_bad_records_become_rejects() -> None:
    pre_basil = {k: v for k, v in _invoice(id="in_e").items() if k != "total_taxes"}
    bad_line = _invoice(id="in_f")
    bad_line["lines"]["data"][0]["quantity_decimal"] = "1.0000000000001"  # 13 places
    bad = [
        (_invoice(id="in_a", total="abc"), "'abc'"),
        (_invoice(id="in_b", total=12.5), "12.5"),  # JSON text 12.5
        (_invoice(id="in_c", amount_due=INT64_MAX + 1), "64-bit"),
        (_invoice(id=None), "'id'"),
        (pre_basil, "'total_taxes'"),
        (bad_line, f"line item {LINE}: field 'quantity'"),
        (_invoice(id="in_g", currency=" "), "no currency"),
        (_invoice(id="in_h", period_start="2026-07-01"), "period_start"),
    ]
    good = _invoice()
    unknown = _invoice(id="in_z", currency="zzz")  # read: the currency rule reports the code
    page = json_page(
        {"object": "list", "data": [good] + [r for r, _ in bad] + [unknown], "has_more": False},
        "rec/0008.json",
    )
    out = _run(page)
    assert [r["invoice_id"] for r in out.invoices] == [INVOICE, "in_z"] and len(out.lines) == 2
    assert by_id(out)["in_z"]["currency"] == "ZZZ"
    assert out.rejects[0].keys == (
        ("invoice_number", "A1B2C3D4-0007"),
        ("customer_id", "cus_QXg1o8vcGmoR32"),
    )
    assert out.records_read == 2 + len(bad) == len(out.invoices) + len(out.rejects)
    for index, (reject, (_, needle)) in enumerate(zip(out.rejects, bad, strict=True), start=1):
        assert reject.location == f"rec/0008.json record {index}"
        assert needle in reject.reason, reject.reason


def test_error_body_and_bad_pages() -> None:
    error = sample_page("stripe_error.json")
    with pytest.raises(InputDataError, match="resource_missing: No such invoice") as info:
        _run(error)
    assert error.location in str(info.value)
    with pytest.raises(InputDataError, match=r"rec/1\.json: page is not valid JSON"):
        _run(raw_page(b'{"object": "list", "data": [', "rec/1.json"))
    bodies: list[Any] = [{"object": "list", "data": {}}, {"data": []}, [], None]
    for body in bodies:
        with pytest.raises(InputDataError, match="documented shape"):
            _run(json_page(body, "rec/2.json"))


def test_identical_invoices_across_pages_dropped() -> None:
    out = _run(sample_page(SAMPLE), _list(_invoice()), _list(_invoice(total=9721)))
    assert out.duplicates_dropped == 1
    assert [r["total_minor"] for r in out.invoices] == [9720, 9721]


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_isk_whole_kronur_rescale_exactly(kronur: int) -> None:
    out = stripe.normalize([_list(_invoice(currency="isk", total=kronur * 100))], "st", {})
    # the sample's 720 tax is not whole kronur: the invoice is rejected on that, not on total
    if out.invoices:
        assert out.invoices[0]["total_minor"] == kronur
    else:
        assert "'total'" not in out.rejects[0].reason


def test_item_level_discounts_are_inside_the_subtotal() -> None:
    """A line's own discount (its ``discounts``) is already inside ``subtotal``: the line's
    amount is taken net of it, and the invoice's discount is the invoice-level one only,
    so Σ lines = subtotal and total_excluding_tax = subtotal_excluding_tax − discount."""
    invoice = _invoice()
    line = invoice["lines"]["data"][0]
    line["discounts"] = ["di_item"]  # the sample's coupon stays invoice-level
    line["discount_amounts"] = [{"amount": 500, "discount": "di_item"}, *line["discount_amounts"]]
    invoice["total_discount_amounts"] = [
        {"amount": 500, "discount": "di_item"},
        *invoice["total_discount_amounts"],
    ]
    for key in ("subtotal", "subtotal_excluding_tax"):
        invoice[key] -= 500  # Stripe's subtotal is net of item-level discounts
    for key in ("total", "total_excluding_tax", "amount_due", "amount_paid"):
        invoice[key] -= 500
    out = _run(_list(invoice))
    row, (item,) = out.invoices[0], out.lines
    invoice_level = sum(d["amount"] for d in invoice["total_discount_amounts"]) - 500
    assert (item["amount_minor"], item["discount_minor"]) == (10000 - 500, invoice_level)
    assert row["subtotal_minor"] == item["amount_minor"]
    assert row["discount_minor"] == invoice_level
    assert (
        row["subtotal_excluding_tax_minor"] - row["discount_minor"]
        == row["total_excluding_tax_minor"]
    )


def test_nullable_lists_are_read_as_null() -> None:
    """Stripe's schema types total_taxes, total_discount_amounts and a line's taxes and
    discount_amounts ``Array | null`` (a draft's taxes are null): null is read as null,
    the rules that need it N/A, never a quarantine."""
    invoice = _invoice(total_taxes=None, total_discount_amounts=None)
    line = invoice["lines"]["data"][0]
    line.update(taxes=None, discount_amounts=None)
    out = _run(_list(invoice))
    assert not out.rejects
    (row,), (item,) = out.invoices, out.lines
    assert (row["tax_minor"], row["discount_minor"]) == (None, None)
    assert (item["tax_minor"], item["discount_minor"]) == (None, None)
    assert item["amount_minor"] == line["amount"]  # no own discount amounts to take off


@pytest.mark.parametrize("key", ["total_taxes", "total_discount_amounts"])
def test_required_nullable_list_absent_is_named(key: str) -> None:
    """Required keys (null allowed): absent, the record is of another API version."""
    invoice = {k: v for k, v in _invoice().items() if k != key}
    (reject,) = _run(_list(invoice)).rejects
    assert f"missing required field {key!r}" in reject.reason
    assert "2025-03-31.basil" in reject.reason


@pytest.mark.parametrize(
    ("where", "key", "value", "needle"),
    [
        ("invoice", "status", 3, "field 'status' should be a string"),
        ("invoice", "customer_name", ["x"], "field 'customer_name' should be a string"),
        ("invoice", "due_date", "2026-08-01", "field 'due_date' should be epoch seconds"),
        ("invoice", "total_taxes", {"amount": 1}, "field 'total_taxes' should be a list"),
        ("tax", "tax_behavior", 1, "a tax_behavior should be a string, got int"),
        ("lines", "has_more", "no", "field 'lines.has_more' should be true or false"),
        ("line", "discounts", "di_x", "field 'discounts' should be a list, got str"),
        ("line", "taxes", "none", "field 'taxes' should be a list"),
        ("line", "quantity", "two", "field 'quantity'"),
    ],
)
def test_wrong_types_are_quarantined_naming_the_field(
    where: str, key: str, value: Any, needle: str
) -> None:
    invoice = _invoice()
    target = {
        "invoice": invoice,
        "tax": invoice["total_taxes"][0],
        "lines": invoice["lines"],
        "line": invoice["lines"]["data"][0],
    }[where]
    target[key] = value
    if where == "line" and key == "quantity":
        target["quantity_decimal"] = None
    (reject,) = _run(_list(invoice, location="rec/0009.json")).rejects
    assert reject.location == "rec/0009.json record 0" and needle in reject.reason, reject.reason


def test_quantity_finer_than_the_frame_is_null_not_quarantined() -> None:
    """quantity_decimal and unit_amount_decimal: at most 12 decimal places (Stripe's
    schema). The canonical quantity holds 9: a finer one is read as null (no Stripe
    rule reads it), a unit price finer than 12 places once in ISO units (ISK) too."""
    invoice = _invoice()
    invoice["lines"]["data"][0]["quantity_decimal"] = "0.000000000001"
    (line,) = _run(_list(invoice)).lines
    assert line["quantity"] is None and line["amount_minor"] == 10000
    isk = _in_currency("isk", 100)
    isk["lines"]["data"][0]["pricing"]["unit_amount_decimal"] = "0.000000000001"
    (line,) = _run(_list(isk)).lines
    assert line["unit_amount"] is None
