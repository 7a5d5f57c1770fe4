from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.errors import InputDataError
from reconcile.providers import amberflo
from reconcile.providers._base import Page
from reconcile.providers.registry import NORMALIZERS
from reconcile.schema import ALWAYS_PROVIDED, INVOICE_SCHEMA
from reconcile.sources import frame

from .conftest import (
    by_id,
    check_invariants,
    json_page,
    lines_of,
    raw_page,
    sample_json,
    sample_page,
)

LIST = "amberflo_list_invoices.json"
LATEST = "amberflo_get_latest_invoice.json"
PLAN = "8a1d4c2e-0f3b-4d5a-a6b7-c8d9e0f1a2b3"
JULY = f"acme-corp/1/{PLAN}/2026-07-01"
AUGUST = f"acme-corp/1/{PLAN}/2026-08-01"


def _run(*pages: Page, **options: Any) -> Any:
    out = amberflo.normalize(list(pages), "af", options)
    check_invariants(out)
    return out


def _edited(edit: Any) -> Page:
    records = sample_json(LIST)
    edit(records)
    return json_page(records, "mem://amberflo.json")


def test_registered() -> None:
    assert NORMALIZERS["amberflo"] is amberflo.normalize


def test_list_sample_invoices_exact() -> None:
    page = sample_page(LIST)
    out = _run(page)
    assert out.records_read == 2 and not out.rejects
    assert [r["invoice_id"] for r in out.invoices] == [JULY, AUGUST]
    july, august = by_id(out)[JULY], by_id(out)[AUGUST]
    assert july["customer_id"] == "acme-corp" and july["currency"] == "USD"
    assert (july["status"], july["raw_status"]) == ("paid", "SETTLED")
    assert {k: july[k] for k in july if k.endswith("_minor") and july[k] is not None} == {
        "subtotal_minor": 21950,
        "discount_minor": 2195,
        "credit_minor": 5000,
        "total_minor": 14755,
        "item_price_minor": 12050,
        "fixed_price_minor": 9900,
    }
    assert july["period_start"] == datetime(2026, 7, 1, tzinfo=UTC)
    assert july["period_end"] == datetime(2026, 8, 1, tzinfo=UTC)
    assert july["due_at"] == datetime(2026, 8, 4, tzinfo=UTC)  # + gracePeriodInHours 72
    assert july["issued_at"] is None and july["tax_minor"] is None
    assert july["record_ref"] == f"{page.location} record 0"
    # PENDING payment but invoicePriceStatus OPEN: the amount is still moving
    assert (august["status"], august["raw_status"]) == ("open", "PENDING")
    # 117.225 and 13.025 USD: kept exactly, in minor units (nothing rounded on reading)
    assert (august["total_minor"], august["discount_minor"], august["credit_minor"]) == (
        Decimal("11722.5"),
        Decimal("1302.5"),
        0,
    )


def test_lines_usage_then_fees_then_promotions() -> None:
    out = _run(sample_page(LIST))
    assert out.has_lines is True
    usage, fee, promotion = lines_of(out, JULY)
    assert usage["line_no"] == 0 and fee["line_no"] == 1 and promotion["line_no"] == 2
    assert (promotion["line_type"], promotion["amount_minor"]) == ("promotion", 2195)
    assert usage["line_type"] == "usage"
    assert usage["line_id"] == "0b5e6a7c-3d2f-4e1a-9b8c-7d6e5f4a3b2c"
    assert usage["description"] == "API calls"
    assert usage["quantity"] == Decimal(220500) and isinstance(usage["quantity"], Decimal)
    assert usage["unit_amount"] is None  # tiered pricing
    assert (usage["amount_minor"], usage["currency"]) == (12050, "USD")
    assert (fee["line_type"], fee["line_id"], fee["description"]) == (
        "fee",
        "platform-fee",
        "Platform fee",
    )
    assert (fee["quantity"], fee["amount_minor"]) == (Decimal(1), 9900)
    assert [line["amount_minor"] for line in lines_of(out, AUGUST)] == [
        3125,
        9900,
        Decimal("1302.5"),
    ]


def test_frames_keep_the_exact_amounts_and_round_once() -> None:
    """Sub-cent amounts get an exact twin (minor units, a Decimal at the source's scale);
    the minor units beside them are rounded once, by the source's mode (half_up default)."""
    out = _run(sample_page(LIST))
    invoices, precision = frame(out.invoices, INVOICE_SCHEMA)
    assert precision.scale == 1 and precision.places == {"total_minor": 1, "discount_minor": 1}
    row = invoices.filter(pl.col("invoice_id") == AUGUST).row(0, named=True)
    assert (row["total_minor"], row["__x_total_minor"]) == (11723, Decimal("11722.5"))
    assert (row["discount_minor"], row["__x_discount_minor"]) == (1303, Decimal("1302.5"))
    assert (row["subtotal_minor"], row["__x_subtotal_minor"]) == (13025, 13025)
    even, _ = frame(out.invoices, INVOICE_SCHEMA, "half_even")
    assert even.filter(pl.col("invoice_id") == AUGUST)["total_minor"].item() == 11722


def test_provided_columns() -> None:
    out = _run(sample_page(LIST))
    assert out.provided == ALWAYS_PROVIDED | {
        "customer_id",
        "raw_status",
        "subtotal_minor",
        "discount_minor",
        "credit_minor",
        "total_minor",
        "item_price_minor",
        "fixed_price_minor",
        "period_start",
        "period_end",
        "due_at",
    }
    assert "tax_minor" not in out.provided and "issued_at" not in out.provided


def test_latest_single_object_and_dedup_with_list() -> None:
    latest = _run(sample_page(LATEST, kind="detail"))
    assert [r["invoice_id"] for r in latest.invoices] == [AUGUST]
    both = _run(sample_page(LIST), sample_page(LATEST, kind="detail"))
    assert [r["invoice_id"] for r in both.invoices] == [JULY, AUGUST]
    assert both.duplicates_dropped == 1 and both.records_read == 2
    assert len(both.lines) == 6  # nothing counted twice


@pytest.mark.parametrize("body", [b"", b"null", b"  \n", b"[]", b"{}"])
def test_no_invoices_bodies(body: bytes) -> None:
    out = _run(raw_page(body, "rec/0001.json"))
    assert (out.invoices, out.lines, out.rejects, out.records_read) == ([], [], [], 0)


def test_enums_are_case_insensitive() -> None:
    def lower(records: list[dict[str, Any]]) -> None:
        for record in records:
            record["paymentStatus"] = record["paymentStatus"].lower()
            record["invoicePriceStatus"] = record["invoicePriceStatus"].lower()

    out = _run(_edited(lower))
    assert [(r["status"], r["raw_status"]) for r in out.invoices] == [
        ("paid", "settled"),
        ("open", "pending"),
    ]


@pytest.mark.parametrize(
    ("payment", "price", "expected"),
    [
        ("NOT_NEEDED", "PRICE_LOCKED", "paid"),
        ("FAILED", "PRICE_LOCKED", "open"),
        ("REQUIRES_ACTION", "PRICE_LOCKED", "open"),
        ("PRE_PAYMENT", "PRICE_LOCKED", "open"),
        ("UNKNOWN", "PRICE_LOCKED", "unknown"),
        ("SETTLED", "GRACE_PERIOD", "paid"),  # late usage may still come: not a draft
        ("PENDING", "OPEN", "open"),
        ("CHARGEBACK", "PRICE_LOCKED", "unknown"),
    ],
)
def test_status_mapping(payment: str, price: str, expected: str) -> None:
    def edit(records: list[dict[str, Any]]) -> None:
        records[0].update(paymentStatus=payment, invoicePriceStatus=price)

    row = _run(_edited(edit)).invoices[0]
    assert (row["status"], row["raw_status"]) == (expected, payment)


def test_currency_option() -> None:
    eur = _run(sample_page(LIST), currency="eur")
    assert {r["currency"] for r in eur.invoices} == {"EUR"}
    assert {line["currency"] for line in eur.lines} == {"EUR"}
    jpy = _run(sample_page(LATEST, kind="detail"), currency="JPY")
    assert jpy.invoices[0]["total_minor"] == Decimal("117.225")  # 117.225 JPY, exponent 0


def test_unknown_currency_is_still_read() -> None:
    """An unknown code does not change the digits: the amounts are read with the nominal
    two decimals and the currency rule reports the code."""
    out = _run(sample_page(LIST), currency="XYZ")
    assert len(out.invoices) == 2 and out.rejects == []
    assert {r["currency"] for r in out.invoices} == {"XYZ"}
    assert by_id(out)[JULY]["total_minor"] == 14755


def test_bad_records_become_rejects() -> None:
    good = sample_json(LIST)[0]
    no_key = {k: v for k, v in good.items() if k != "invoiceKey"}
    text_total = copy.deepcopy(good)
    text_total["totalBill"]["totalPrice"] = "abc"
    bad_year = copy.deepcopy(good)
    bad_year["invoiceKey"]["year"] = "2026"
    bad_time = {**good, "invoiceStartTimeInSeconds": "2026-07-01"}
    records = [good, no_key, text_total, bad_year, bad_time]
    out = _run(json_page(records, "rec/0004.json"))
    assert [r["invoice_id"] for r in out.invoices] == [JULY]
    assert out.records_read == 5 == len(out.invoices) + len(out.rejects)
    reasons = [(r.location, r.reason) for r in out.rejects]
    assert reasons[0] == ("rec/0004.json record 1", "missing required field 'invoiceKey'")
    # a reject names its invoice when the key is readable
    assert [r.invoice_id for r in out.rejects] == [None, JULY, None, JULY]
    assert reasons[1][0] == "rec/0004.json record 2" and "totalBill.totalPrice" in reasons[1][1]
    assert "'abc'" in reasons[1][1]
    assert "invoiceKey.year" in reasons[2][1]
    assert "invoiceStartTimeInSeconds" in reasons[3][1]


def test_rejected_record_leaves_no_lines() -> None:
    def break_fee(records: list[dict[str, Any]]) -> None:
        records[1]["productPlanFees"][0]["cost"] = "n/a"

    out = _run(_edited(break_fee))
    assert [r["invoice_id"] for r in out.invoices] == [JULY]
    assert {line["invoice_id"] for line in out.lines} == {JULY}
    assert out.rejects[0].reason == "field 'productPlanFees[0].cost': not a decimal number: 'n/a'"


def test_not_json_and_wrong_shape() -> None:
    with pytest.raises(InputDataError, match=r"rec/0005\.json: page is not valid JSON"):
        _run(raw_page(b'[{"invoiceKey": ', "rec/0005.json"))
    with pytest.raises(InputDataError, match=r"rec/0006\.json.*documented shape"):
        _run(json_page({"data": []}, "rec/0006.json"))
    with pytest.raises(InputDataError, match="API error response"):
        _run(json_page({"code": 429, "message": "slow down"}, "rec/0007.json"))


def test_money_is_never_float() -> None:
    out = _run(sample_page(LIST), sample_page(LATEST, kind="detail"))
    values = [v for row in out.invoices + out.lines for v in row.values()]
    assert not any(isinstance(v, float) for v in values)
    assert all(type(row["total_minor"]) in (int, Decimal) for row in out.invoices)


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=3, allow_nan=False))
def test_amounts_are_kept_exactly(price: Decimal) -> None:
    record = sample_json(LATEST)
    body = json.dumps(record).replace('"totalPrice": 117.225', f'"totalPrice": {price}')
    out = amberflo.normalize([Page(body.encode(), "mem")], "af", {})
    assert out.invoices[0]["total_minor"] == price * 100


@pytest.mark.parametrize("hours", [-17758081, 10**12])
def test_a_grace_period_beyond_the_calendar_is_a_reject(hours: int) -> None:
    """(found by tests/hostile/test_fuzz.py: the due date overflowed the calendar)"""

    def far(records: list[dict[str, Any]]) -> None:
        records[1]["gracePeriodInHours"] = hours

    out = _run(_edited(far))
    assert [r["invoice_id"] for r in out.invoices] == [JULY]
    (reject,) = out.rejects
    assert reject.invoice_id == AUGUST
    assert reject.reason == f"field 'gracePeriodInHours': {hours} hours is out of range"
