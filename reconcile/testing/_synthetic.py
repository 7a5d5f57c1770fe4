"""Synthetic invoices in a provider's wire format, deterministic for a seed."""

from __future__ import annotations

import random
import string
from datetime import UTC, datetime, timedelta
from typing import Any

_ALPHABET = string.ascii_letters + string.digits


def _ms(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def commet_invoices(
    n: int,
    *,
    seed: int = 0,
    period_start: datetime = datetime(2026, 10, 1, tzinfo=UTC),
    period_end: datetime = datetime(2026, 11, 1, tzinfo=UTC),
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
            _commet_line(
                "feature_overage",
                "API calls",
                f"API calls overage ({calls} units)",
                calls,
                call_price,
                charge="true_up",
            ),
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
        invoices.append(
            {
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
            }
        )
    return invoices


def _commet_line(
    line_type: str,
    feature: str | None,
    description: str,
    quantity: int,
    unit: int,
    *,
    charge: str = "standard",
) -> dict[str, Any]:
    return {
        "lineType": line_type,
        "featureName": feature,
        "description": description,
        "quantity": quantity,
        "unitAmount": unit,
        "amount": quantity * unit,
        "includedAmount": None,
        "usedAmount": None,
        "overageAmount": None,
        "discountType": None,
        "discountValue": None,
        "discountName": None,
        "chargeType": charge,
    }
