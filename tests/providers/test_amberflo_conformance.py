"""Amberflo conformance (issue 13): every customer-product invoice Amberflo's published
types allow is read.

The documented fields are the SDKs' (amberflo/metering-typescript
``src/model/customerProductInvoiceApiPayload.ts``, amberflo/metering-go
``invoice_client.go``) and the docs page "List all invoices" (source-pages/002;
../shared/reference/providers.md §2): money is a JSON number, a float64 result in
major units (cleaned to 6 decimals by design); arrays may come as ``null`` or ``[]``
(Go's nil slice; milo-os: "a bare null / empty body"); ``creditUnit``,
``paymentCurrencyInfo``, ``invoiceBillInCredits``, ``invoiceBillInBaseCurrency``,
``externalSystemStatus``, ``paymentCreatedInSeconds`` and the ``available*`` balances
are optional (``?`` in the TS type, ``null`` in the samples); enums come upper-case
(Go SDK) or lower-case (TS SDK), so any case. The tool also reads
``gracePeriodInHours``, ``paymentStatus`` (absent without ``withPaymentStatus``) and
``invoicePriceStatus`` as optional.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconcile import money

from ._conformance import (
    NONEMPTY,
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

PAYMENT = (
    "pre_payment",
    "requires_action",
    "pending",
    "failed",
    "settled",
    "not_needed",
    "unknown",
)
PRICE = ("open", "grace_period", "price_locked")
URL = "/payments/billing/customer-product-invoice/all"
DROP = object()
#: the N/A count's rule: a due date needs gracePeriodInHours
DUE_RULE = """
rules:
  - id: test.amberflo_due_after_end
    title: The due date is not before the period's end
    severity: error
    type: expression
    applies_to: {provider: amberflo}
    assert: "due_at >= period_end"
"""


def float64(low: float = -1e9, high: float = 1e9) -> st.SearchStrategy[Any]:
    """A float64 as Amberflo writes it: any double (``0.30000000000000004``), and a whole
    one sometimes as an integer token (Go writes ``99``, Python ``99.0``)."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False).flatmap(
        lambda f: st.sampled_from([f, int(f)]) if f.is_integer() else st.just(f)
    )


def empty_or(items: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """An array as Amberflo may send one: ``null``, ``[]`` or items."""
    return st.none() | st.just([]) | st.lists(items, min_size=1, max_size=2)


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def bill(moment: tuple[datetime, datetime], **amounts: Any) -> st.SearchStrategy[dict[str, Any]]:
    """A ``ProductPlanBill`` (``totalBill``); the docs page's extra fields sometimes."""
    names = ("itemPrice", "fixPrice", "prepaid", "totalDiscount", "totalPriceBeforeDiscount")
    names += ("totalPriceBeforePrepaid", "totalPrice")
    given_ = {k: st.just(v) for k, v in amounts.items()}
    return record(
        {
            "startTimeInSeconds": st.just(epoch(moment[0])),
            "endTimeInSeconds": st.just(epoch(moment[1])),
            **{k: given_.get(k, float64()) for k in names},
        },
        {k: float64() for k in ("commitmentsFees", "invoiceBasedFees", "totalPrepayablePrice")},
    )


def item_bill(price: Any = None) -> st.SearchStrategy[dict[str, Any]]:
    """An ``ItemVariantBill``."""
    return record(
        {
            "startTimeInSeconds": st.just(1_780_000_000),
            "endTimeInSeconds": st.just(1_782_000_000),
            "meterUnits": float64(0, 1e12),
            "price": float64() if price is None else st.just(price),
        },
        {
            "priceInCredits": float64(),
            "priceInBaseCurrency": float64(),
            "meteredUnitsPerTier": nullable(st.dictionaries(st.sampled_from("012"), float64())),
        },
    )


def usage(price: Any = None) -> st.SearchStrategy[dict[str, Any]]:
    variant = record(
        {
            "key": TEXT,
            "itemDimensions": st.dictionaries(NONEMPTY, TEXT, max_size=1),
            "totalBill": item_bill(),
            "lateArrivalMeters": float64(0, 100),
        },
        {"hourlyBillInfos": empty_or(item_bill())},
    )
    return record(
        {
            "key": st.just({"productItemKey": "api-calls", "year": 2026, "month": 7, "day": 1}),
            "productItemId": TEXT,
            "productItemName": TEXT,
            "meterApiName": TEXT,
            "productPlanName": TEXT,
            "productItemVariants": empty_or(variant),
            "totalBill": item_bill(price),
        }
    )


def fee(cost: Any = None) -> st.SearchStrategy[dict[str, Any]]:
    return record(
        {
            "id": TEXT,
            "name": TEXT,
            "description": TEXT,
            "cost": float64() if cost is None else st.just(cost),
            "isOneTimeFee": st.booleans(),
        },
        {"costInBaseCurrency": float64(), "discountable": st.booleans()},
    )


def promotion(discount: Any = None) -> st.SearchStrategy[dict[str, Any]]:
    kinds = ("plan_free_tier", "automatic_promotion", "discount", "coupon")
    return record(
        {
            "promotionId": TEXT,
            "promotionName": TEXT,
            "promotionType": enum(kinds, "referral", any_case=True),
            "discount": float64() if discount is None else st.just(discount),
            "promotionAppliedTimeInSeconds": st.integers(0, 2**40),
            "maxDiscountPossible": float64(),
            "canBeUsedForPayAsYouGo": st.booleans(),
            "discountInCredits": float64(),
        }
    )


@st.composite
def invoices(draw: st.DrawFn, index: int, lines: dict[str, Any] | None = None) -> dict[str, Any]:
    """One ``CustomerProductInvoice``. ``lines``: fixed arrays and totalBill amounts
    (the identity test's); otherwise every array and amount is drawn."""
    moment = draw(moments())
    start = moment[0]
    key = {
        "accountId": draw(TEXT),
        "customerId": f"c{index}{draw(TEXT)}",
        "productId": draw(NONEMPTY),
        "productPlanId": draw(TEXT),
        "year": start.year,
        "month": start.month,
        "day": start.day,
    }
    fixed = lines or {}
    arrays = {
        "productItemInvoices": empty_or(usage()),
        "productPlanFees": empty_or(fee()),
        "appliedPromotions": empty_or(promotion()),
    }
    required = {
        "invoiceUri": TEXT,
        "invoiceKey": st.just(key),
        "planBillingPeriod": record(
            {
                "interval": enum(("day", "month", "year"), "week", any_case=True),
                "intervalsCount": st.integers(1, 12),
            }
        ),
        "planName": TEXT,
        "invoiceStartTimeInSeconds": st.just(epoch(moment[0])),
        "invoiceEndTimeInSeconds": st.just(epoch(moment[1])),
        "totalBill": bill(moment, **fixed.get("totalBill", {})),
        "invoicePriceStatus": nullable(enum(PRICE, "frozen", any_case=True)),
        **{k: st.just(fixed[k]) if k in fixed else v for k, v in arrays.items()},
    }
    optional = {
        "gracePeriodInHours": nullable(st.integers(0, 24 * 90)),
        "paymentStatus": nullable(enum(PAYMENT, "chargeback", any_case=True)),
        "appliedCommitments": empty_or(record({"commitmentId": TEXT, "feeAmount": float64()})),
        "appliedInvoiceBasedFees": empty_or(record({"feeId": TEXT, "feeAmount": float64()})),
        "creditUnit": nullable(record({"id": TEXT, "ratioToCurrency": float64(0, 100)})),
        "paymentCurrencyInfo": nullable(
            record({"paymentCurrency": st.just({"currencyCode": "EUR"}), "exchangeRate": float64()})
        ),
        "invoiceBillInCredits": nullable(bill(moment)),
        "invoiceBillInBaseCurrency": nullable(bill(moment)),
        "externalSystemStatus": TEXT,
        "paymentCreatedInSeconds": st.integers(0, 2**40),
        "availablePrepaidLeft": float64(),
        "availablePayAsYouGoMoney": float64(),
    }
    if lines is not None:  # (the identity test: a settled, final invoice)
        required |= {
            "paymentStatus": st.just("SETTLED"),
            "invoicePriceStatus": st.just("PRICE_LOCKED"),
        }
        del optional["paymentStatus"]
    return draw(record(required, optional))


def invoice_id(inv: dict[str, Any]) -> str:
    key = inv["invoiceKey"]
    names = (key["customerId"], key["productId"], key["productPlanId"])
    return f"{'/'.join(names)}/{key['year']:04d}-{key['month']:02d}-{key['day']:02d}"


def cleaned(value: Any) -> Decimal:
    """What a float64 amount is read as: its text, float noise removed, in cents."""
    return money.without_float_noise(Decimal(json.dumps(value)), 6).scaleb(2)


# --- every documented record is read ------------------------------------------------------


@bounded(40)
@given(st.lists(st.integers(), min_size=1, max_size=3), st.data())
def test_every_documented_invoice_is_read_and_absent_fields_are_null(
    sizes: list[int], data: st.DataObject
) -> None:
    records = [data.draw(invoices(i)) for i in range(len(sizes))]
    got = read("amberflo", pages_of([(records, URL, "list")]), {"currency": "USD"})
    assert got.quarantined() == []
    check_invariants(got.normalized)
    rows = {row["invoice_id"]: row for row in got.normalized.invoices}
    assert sorted(rows) == sorted(invoice_id(inv) for inv in records)
    for inv in records:
        row = rows[invoice_id(inv)]
        assert row["total_minor"] == cleaned(inv["totalBill"]["totalPrice"])
        assert row["credit_minor"] == cleaned(inv["totalBill"]["prepaid"])
        grace, end = inv.get("gracePeriodInHours"), row["period_end"]
        assert row["due_at"] == (None if grace is None else end + timedelta(hours=grace))
        assert row["raw_status"] == (inv.get("paymentStatus") or None)
        assert row["currency"] == "USD" and row["tax_minor"] is None
        arrays = ("productItemInvoices", "productPlanFees", "appliedPromotions")
        count = sum(len(inv.get(k) or []) for k in arrays)
        assert (
            len([x for x in got.normalized.lines if x["invoice_id"] == row["invoice_id"]]) == count
        )


def test_bodies_meaning_no_invoice() -> None:
    """``/all`` for a customer without invoices: ``null``, an empty body or ``[]``."""
    for body in (b"null", b"", b"[]", b"{}"):
        got = read("amberflo", pages_of([(body, URL, "list")]), {})
        assert got.normalized.records_read == 0 and got.quarantined() == []


# --- the identities hold on invoices built to satisfy them; N/A counted -----------------------


@st.composite
def balanced(draw: st.DrawFn, index: int) -> dict[str, Any]:
    """An invoice whose totalBill adds up as the default pack checks it, computed the way
    a float64 billing system computes it (sums with their binary noise)."""
    amount = st.decimals(0, 10**5, places=3).map(float)
    prices, costs, discounts = (draw(st.lists(amount, max_size=3)) for _ in range(3))
    item_price, fix_price, total_discount = sum(prices, 0.0), sum(costs, 0.0), sum(discounts, 0.0)
    prepaid = draw(amount)
    before_discount = item_price + fix_price
    before_prepaid = before_discount - total_discount
    lines = {
        "productItemInvoices": [draw(usage(p)) for p in prices]
        or draw(st.sampled_from([None, []])),
        "productPlanFees": [draw(fee(c)) for c in costs] or None,
        "appliedPromotions": [draw(promotion(d)) for d in discounts] or [],
        "totalBill": {
            "itemPrice": item_price,
            "fixPrice": fix_price,
            "prepaid": prepaid,
            "totalDiscount": total_discount,
            "totalPriceBeforeDiscount": before_discount,
            "totalPriceBeforePrepaid": before_prepaid,
            "totalPrice": before_prepaid - prepaid,
        },
    }
    return draw(invoices(index, lines))


@bounded(12)
@given(st.lists(st.integers(), min_size=1, max_size=4), st.data())
def test_identities_hold_and_a_missing_grace_period_is_not_applicable(
    sizes: list[int], data: st.DataObject
) -> None:
    records = [data.draw(balanced(i)) for i in range(len(sizes))]
    pages = pages_of([(records, URL, "list")])
    with one_source_close("amberflo", pages, {"currency": "USD"}, DUE_RULE) as result:
        assert result.sources[0].quarantined == 0 and result.sources[0].checked == len(sizes)
        assert findings_of(result, "amberflo.") == []
        assert findings_of(result, "test.") == []
        due = stats(result, "test.amberflo_due_after_end")
        no_grace = sum(inv.get("gracePeriodInHours") is None for inv in records)
        assert due["not_applicable_rows"] == no_grace and due["failed"] == 0


# --- what contradicts the documentation is quarantined, naming the field ----------------------

#: (path, value or DROP, what the message names)
CONTRADICTIONS: list[tuple[str, Any, str]] = [
    ("invoiceKey", DROP, "'invoiceKey'"),
    ("invoiceKey", "acme/1", "'invoiceKey'"),
    ("invoiceKey.customerId", DROP, "'invoiceKey.customerId'"),
    ("invoiceKey.productPlanId", 7, "'invoiceKey.productPlanId'"),
    ("invoiceKey.year", "2026", "'invoiceKey.year'"),
    ("invoiceKey.day", 1.5, "'invoiceKey.day'"),
    ("totalBill", DROP, "'totalBill'"),
    ("totalBill", [], "'totalBill'"),
    ("totalBill.totalPrice", DROP, "'totalBill.totalPrice'"),
    ("totalBill.prepaid", None, "'totalBill.prepaid'"),
    ("totalBill.itemPrice", "abc", "'totalBill.itemPrice'"),
    ("totalBill.fixPrice", "99.0", "'totalBill.fixPrice'"),
    ("totalBill.totalDiscount", True, "'totalBill.totalDiscount'"),
    ("totalBill.totalPrice", 1e300, "'totalBill.totalPrice'"),
    ("invoiceStartTimeInSeconds", DROP, "'invoiceStartTimeInSeconds'"),
    ("invoiceStartTimeInSeconds", "2026-07-01", "'invoiceStartTimeInSeconds'"),
    ("invoiceEndTimeInSeconds", 1.5e9, "'invoiceEndTimeInSeconds'"),
    ("gracePeriodInHours", "72", "'gracePeriodInHours'"),
    ("paymentStatus", 3, "'paymentStatus'"),
    ("invoicePriceStatus", ["OPEN"], "'invoicePriceStatus'"),
    ("productItemInvoices", {"a": 1}, "'productItemInvoices'"),
    ("productPlanFees", "none", "'productPlanFees'"),
    ("appliedPromotions", [1], "'appliedPromotions'"),
    ("productItemInvoices[0].totalBill", None, "'productItemInvoices[0].totalBill'"),
    ("productItemInvoices[0].totalBill.price", DROP, "'productItemInvoices[0].totalBill.price'"),
    ("productItemInvoices[0].totalBill.price", "1", "'productItemInvoices[0].totalBill.price'"),
    (
        "productItemInvoices[0].totalBill.meterUnits",
        "x",
        "productItemInvoices[0].totalBill.meterUnits",
    ),
    ("productPlanFees[0].cost", "n/a", "'productPlanFees[0].cost'"),
    ("productPlanFees[0].cost", DROP, "'productPlanFees[0].cost'"),
    ("appliedPromotions[0].discount", None, "'appliedPromotions[0].discount'"),
    ("productItemInvoices[0].productItemName", 5, "productItemInvoices[0]"),
]
_ONE = {
    "productItemInvoices": {"productItemId": "m", "totalBill": {"meterUnits": 1, "price": 1.5}},
    "productPlanFees": {"id": "f", "name": "fee", "cost": 99.0},
    "appliedPromotions": {"promotionId": "p", "discount": 1.0},
}


def contradicted(inv: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    bad = copy.deepcopy(inv)
    *parents, key = path.replace("[0]", ".0").split(".")
    target: Any = bad
    for part in parents:
        if part == "0":
            target = target[0]
        else:
            if part in _ONE and not target.get(part):
                target[part] = [copy.deepcopy(_ONE[part])]
            target = target[part]
    if value is DROP:
        target.pop(key, None)
    else:
        target[key] = value
    return bad


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
        path, value, named = contradiction
        bad["invoiceKey"]["customerId"] += f"-bad{number}"
        return contradicted(bad, path, value), named

    records, expected = beside_originals(originals, CONTRADICTIONS, broken)
    got = read("amberflo", pages_of([(records, URL, "list")]), {})
    got.quarantined_as(expected)
    assert len(got.normalized.invoices) == len(sizes)
