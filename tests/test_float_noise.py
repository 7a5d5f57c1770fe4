"""Amberflo's amounts are float64 results: the noise rule recovers the exact amounts.

For random exact amounts with up to six decimals (plan fees, promotions, prepaid
credit, usage priced as units × a rate of up to six decimals), an invoice is
computed the way a float64 billing system computes it — products and sums in
float, every number printed as the shortest text that reads back as the same
float (what JSON encoders do) — and run through the Amberflo normalizer and the
default pack: its identities hold with tolerance 0. Usage in fractional units
(three decimals) gives prices of up to nine decimals, which the cleaning rounds
to six: the sums then hold within its bound (half a millionth per term, counted
as rounding, never tolerance). A one-cent change to any term is reported.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconcile import pipeline
from reconcile.recording import write_recording

SIX = Decimal("0.000001")
amount = st.decimals(min_value=0, max_value=20_000, places=6, allow_nan=False, allow_infinity=False)
rate = st.decimals(min_value=0, max_value=5, places=6, allow_nan=False, allow_infinity=False)
units = st.one_of(
    st.integers(0, 200_000),
    st.decimals(min_value=0, max_value=50_000, places=3, allow_nan=False, allow_infinity=False),
)
usage = st.lists(st.tuples(units, rate), min_size=1, max_size=6)


def _number(value: float) -> Any:
    """A float as a JSON encoder prints it (shortest round-trip text), kept exact."""
    return Decimal(repr(value))


def _invoice(
    items: list[tuple[int | Decimal, Decimal]],
    fees: list[Decimal],
    promos: list[Decimal],
    prepaid: Decimal,
    bump: str | None,
) -> dict[str, Any]:
    """The invoice as a float64 billing system builds it; ``bump``: one term a cent off."""
    cent = 0.01
    prices = [float(units) * float(r) for units, r in items]
    costs = [float(f) for f in fees]
    discounts = [float(p) for p in promos]
    item_price, fix_price = sum(prices), sum(costs)
    before = item_price + fix_price
    discount = sum(discounts)
    total = before - discount - float(prepaid)
    terms = {"price": prices, "cost": costs, "discount": discounts}
    if bump in terms:
        terms[bump][0] += cent
    bill = {
        "itemPrice": item_price,
        "fixPrice": fix_price,
        "prepaid": float(prepaid),
        "totalDiscount": discount,
        "totalPriceBeforeDiscount": before,
        "totalPriceBeforePrepaid": before - discount,
        "totalPrice": total,
    }
    if bump in bill:
        bill[bump] += cent
    return {
        "invoiceKey": {
            "accountId": "a",
            "customerId": "c",
            "productId": "1",
            "productPlanId": "p",
            "year": 2026,
            "month": 10,
            "day": 1,
        },
        "invoiceStartTimeInSeconds": 1790812800,
        "invoiceEndTimeInSeconds": 1793491200,
        "paymentStatus": "SETTLED",
        "invoicePriceStatus": "PRICE_LOCKED",
        "totalBill": {k: _number(v) for k, v in bill.items()},
        "productItemInvoices": [
            {
                "productItemId": f"m{i}",
                "productItemName": f"meter {i}",
                "totalBill": {"meterUnits": _number(float(used)), "price": _number(prices[i])},
            }
            for i, (used, _) in enumerate(items)
        ],
        "productPlanFees": [
            {"id": f"f{i}", "name": "fee", "cost": _number(c)} for i, c in enumerate(costs)
        ],
        "appliedPromotions": [
            {"promotionId": f"p{i}", "discount": _number(d)} for i, d in enumerate(discounts)
        ],
    }


def _findings(folder: Path, record: dict[str, Any]) -> pl.DataFrame:
    # each Decimal as its exact text, a JSON number (not a string)
    text = json.dumps([record], default=lambda d: f"__{d}__")
    text = text.replace('"__', "").replace('__"', "")
    write_recording(
        folder / "rec",
        "amberflo",
        [{"body": text.encode(), "url": "/payments/billing/customer-product-invoice/all"}],
    )
    (folder / "close.yaml").write_text(
        """
period: {start: 2026-10-01, end: 2026-11-01}
sources:
  amberflo: {provider: amberflo, recording: rec, options: {currency: USD}}
""",
        encoding="utf-8",
    )
    result = pipeline.run(folder / "close.yaml")
    assert result.sources[0].checked == 1, result.findings
    return result.findings


TERMS = (
    "price",
    "cost",
    "discount",
    "itemPrice",
    "fixPrice",
    "prepaid",
    "totalDiscount",
    "totalPriceBeforeDiscount",
    "totalPrice",
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    usage,
    st.lists(amount, min_size=1, max_size=3),
    st.lists(amount, max_size=2),
    amount,
    st.sampled_from(TERMS),
)
@example(  # three fractional usages: Σ of the cleaned prices is 1e-6 off the cleaned itemPrice
    [
        (Decimal("3811.638"), Decimal("0.007215")),
        (Decimal("11.528"), Decimal("0.002288")),
        (Decimal("2227.491"), Decimal("0.009453")),
    ],
    [Decimal(0)],
    [],
    Decimal(0),
    "price",
)
def test_float_computed_invoices_hold_exactly_and_a_cent_is_found(
    tmp_path_factory: Any,
    items: list[tuple[int | Decimal, Decimal]],
    fees: list[Decimal],
    promos: list[Decimal],
    prepaid: Decimal,
    term: str,
) -> None:
    folder = tmp_path_factory.mktemp("noise")
    clean = _findings(folder / "clean", _invoice(items, fees, promos, prepaid, None))
    assert clean.is_empty(), clean.select("rule_id", "message").rows()
    if term == "discount" and not promos:
        return  # no promotion to change
    changed = _findings(folder / "bump", _invoice(items, fees, promos, prepaid, term))
    assert not changed.is_empty(), f"a cent on {term} went unreported"
    assert set(changed["delta_minor"].abs().to_list()) == {1}, changed.select(
        "rule_id", "delta_minor"
    ).rows()


def test_the_cleaning_bound_is_counted_as_rounding_not_tolerance(tmp_path: Path) -> None:
    items = [
        (Decimal("3811.638"), Decimal("0.007215")),
        (Decimal("11.528"), Decimal("0.002288")),
        (Decimal("2227.491"), Decimal("0.009453")),
    ]
    record = _invoice(items, [Decimal(0)], [], Decimal(0), None)
    # the float itemPrice 48.583816657 cleans to 48.583817; its three prices, each
    # cleaned to six decimals, sum to 48.583816
    assert record["totalBill"]["itemPrice"] == Decimal("48.583816657")
    _findings(tmp_path, record)
    result = pipeline.run(tmp_path / "close.yaml")
    assert result.findings.is_empty() and result.engine.absorbed.is_empty()
    assert result.engine.rounded.select("rule_id", "rounded", "rounded_minor").rows() == [
        ("amberflo.items_sum_to_item_price", 1, "0.0001")
    ]
