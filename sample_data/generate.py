#!/usr/bin/env python3
"""Generate the bundled sample month: October 2026 for "Northwind Cloud Ltd".

Writes, next to this script:

* ``recordings/{f5xc,amberflo,commet,frontier,stripe}/`` — API responses exactly as
  each provider sends them (manifest + page bodies, see ``reconcile.recording``);
* ``ledger.csv`` — the ERP export;
* ``expected_findings.json`` — the planted discrepancies, machine-readable;
* ``README.md`` — what the month contains (counts and totals computed here).

Deterministic: a fixed seed, no clock, no set iteration in any output; running it
twice gives byte-identical files. Standard library only, plus
``reconcile.recording.write_recording``.

After writing, an independent checker re-reads every file from disk, re-verifies
every provider identity and the ledger ↔ provider / Frontier ↔ Stripe pairing, and
asserts that exactly the planted discrepancies break (and nothing else).

Run from the repository root::

    python sample_data/generate.py
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
import string
import sys
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from reconcile.recording import write_recording  # noqa: E402

SEED = 20261031
COMPANY = "Northwind Cloud Ltd"
PERIOD_START = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 11, 1, tzinfo=UTC)
#: ISO 4217 minor-unit exponents of the currencies used here (reconcile/money.py agrees)
EXP = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3}

rng = random.Random(SEED)
ALNUM = string.ascii_letters + string.digits


# --- small helpers ------------------------------------------------------------------


def token(n: int, alphabet: str = ALNUM) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def new_uuid() -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def at(
    day: int, hour: int = 0, minute: int = 0, second: int = 0, ms: int = 0, month: int = 10
) -> datetime:
    return datetime(2026, month, day, hour, minute, second, ms * 1000, tzinfo=UTC)


def epoch(d: datetime) -> int:
    return int(d.timestamp())


def iso_ms(d: datetime) -> str:
    """Commet: ISO 8601 UTC with milliseconds."""
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{d.microsecond // 1000:03d}Z"


def rfc3339(d: datetime) -> str:
    """Frontier: RFC 3339 UTC (protojson drops a zero fraction)."""
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def half_up(x: Decimal) -> int:
    return int(x.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def pct_of(amount_minor: int, rate: Decimal) -> int:
    return half_up(Decimal(amount_minor) * rate)


def to_minor(major: Decimal, currency: str) -> int:
    """Major units to minor units, half away from zero (the project's policy)."""
    return half_up(major.scaleb(EXP[currency]))


def fmt_major(minor: int, currency: str) -> str:
    """``12345, 'USD'`` -> ``'123.45'``; JPY -> ``'125000'``; KWD -> ``'12.345'``.
    An unknown code (F5's "UDS") is shown as cents, as F5 documents ``amount``."""
    e = EXP.get(currency, 2)
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(e + 1, "0")
    return f"{sign}{digits[:-e]}.{digits[-e:]}" if e else f"{sign}{digits}"


def fmt_human(minor: int, currency: str) -> str:
    """For the README: thousands separators."""
    e = EXP.get(currency, 2)
    whole, frac = divmod(abs(minor), 10**e)
    text = f"{whole:,}" + (f".{frac:0{e}d}" if e else "")
    return ("-" if minor < 0 else "") + text


# --- exact JSON numbers -------------------------------------------------------------

_DEC = "@@DEC:"
_DEC_RE = re.compile(r'"@@DEC:(-?[0-9]+(?:\.[0-9]+)?)@@"')


def jnum(d: Decimal) -> str:
    """A Decimal as the JSON number text a JVM backend writes for a double: shortest
    exact digits, always with a fraction (``99.0``, ``120.5``, ``117.225``)."""
    text = format(d.normalize(), "f")
    if "." not in text:
        text += ".0"
    return text


def _mark(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return f"{_DEC}{jnum(obj)}@@"
    if isinstance(obj, dict):
        return {k: _mark(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_mark(v) for v in obj]
    return obj


def body_bytes(obj: Any) -> bytes:
    """``json.dumps(obj, indent=2)`` + newline, UTF-8, with Decimals spliced in exactly."""
    text = json.dumps(_mark(obj), indent=2, ensure_ascii=False)
    text = _DEC_RE.sub(lambda m: m.group(1), text)
    assert _DEC not in text
    return (text + "\n").encode("utf-8")


# ====================================================================================
# Stripe (+ Frontier mirror)
# ====================================================================================

STRIPE_ACCOUNT = "acct_1NwcL0dCl0uDLtd1"
SYMBOL = {"USD": "$", "EUR": "€", "JPY": "¥"}


def money_label(minor: int, currency: str) -> str:
    if currency in SYMBOL:
        return SYMBOL[currency] + fmt_human(minor, currency)
    return f"{currency} {fmt_human(minor, currency)}"


STRIPE_PRODUCTS = {
    # key: (name, unit, {currency: unit price in minor units})
    "pro": ("Pro seat", "month", {"USD": 5000, "EUR": 4500, "JPY": 7500, "KWD": 15000}),
    "biz": ("Business seat", "month", {"USD": 9000, "EUR": 8200, "JPY": 13500, "KWD": 27500}),
    "storage": (
        "Storage add-on (per TB)",
        "month",
        {"USD": 2500, "EUR": 2300, "JPY": 3800, "KWD": 7700},
    ),
    "support": (
        "Premium support",
        "month",
        {"USD": 50000, "EUR": 45000, "JPY": 75000, "KWD": 150000},
    ),
}
STRIPE_PROD_IDS = {k: "prod_" + token(14) for k in STRIPE_PRODUCTS}
STRIPE_PRICE_IDS = {
    (k, c): "price_1Q" + token(22) for k in STRIPE_PRODUCTS for c in STRIPE_PRODUCTS[k][2]
}
ONEOFF_PROD = "prod_" + token(14)

# tax rates: key -> (rate, Stripe tax rate id)
TAX_RATES = {
    "us_ny": Decimal("0.08875"),
    "us_ca": Decimal("0.0725"),
    "us_ma": Decimal("0.0625"),
    "us_tx": Decimal("0.0625"),
    "us_fl": Decimal("0.06"),
    "de_vat": Decimal("0.19"),
    "pt_vat": Decimal("0.23"),
    "jp_jct": Decimal("0.10"),
}
TAX_RATE_IDS = {k: "txr_1Q" + token(22) for k in TAX_RATES}

# name, email, currency, tax key (None = no tax), customer_tax_exempt
STRIPE_CUSTOMERS = {
    "acme": ("Acme Analytics, Inc.", "ap@acme-analytics.example", "USD", "us_ny", "none"),
    "smith": ("Smith & Sons | <Retail>", "accounts@smithandsons.example", "USD", None, "exempt"),
    "bluebird": ("Bluebird Health", "finance@bluebird.example", "USD", None, "exempt"),
    "crescent": ("Crescent Robotics", "billing@crescent-robotics.example", "USD", "us_ca", "none"),
    "delta": ("Delta Freight Co.", "ap@deltafreight.example", "USD", "us_tx", "none"),
    "evergreen": (
        "Evergreen Schools District",
        "it@evergreen-schools.example",
        "USD",
        None,
        "exempt",
    ),
    "foxglove": ("Foxglove Media", "money@foxglove.example", "USD", "us_ny", "none"),
    "granite": ("Granite Ledger LLC", "ops@graniteledger.example", "USD", None, "exempt"),
    "harbor": ("Harbor Lights Hotels", "ap@harborlights.example", "USD", "us_fl", "none"),
    "ionic": ("Ionic Labs", "billing@ioniclabs.example", "USD", None, "exempt"),
    "juniper": ("Juniper Fintech", "payables@juniper.example", "USD", "us_ny", "none"),
    "keystone": ("Keystone Legal", "accounts@keystone-legal.example", "USD", "us_ma", "none"),
    "mueller": (
        "Müller Logistik GmbH",
        "buchhaltung@mueller-logistik.example",
        "EUR",
        None,
        "reverse",
    ),
    "baeckerei": (
        "Bäckerei Schmidt KG",
        "rechnung@baeckerei-schmidt.example",
        "EUR",
        "de_vat",
        "none",
    ),
    "lumiere": ("Société Lumière SAS", "compta@lumiere.example", "EUR", None, "reverse"),
    "vanderberg": ("Van der Berg B.V.", "factuur@vanderberg.example", "EUR", None, "reverse"),
    "costaverde": ("Costa Verde Lda", "contas@costaverde.example", "EUR", "pt_vat", "none"),
    "nordlicht": ("Nordlicht Energie AG", "kreditoren@nordlicht.example", "EUR", None, "reverse"),
    "sakura": ("株式会社さくらテック", "keiri@sakura-tech.example", "JPY", "jp_jct", "none"),
    "tanaka": ("Tanaka Shoji K.K.", "ap@tanaka-shoji.example", "JPY", "jp_jct", "none"),
    "kyoto": ("Kyoto Pixel Games", "billing@kyotopixel.example", "JPY", "jp_jct", "none"),
    "alsalam": ("Al-Salam Trading Co.", "finance@alsalam.example", "KWD", None, "none"),
    "gulfdata": ("Gulf Data Systems", "ap@gulfdata.example", "KWD", None, "none"),
    "fahad": ("Fahad & Partners W.L.L.", "accounts@fahad-partners.example", "KWD", None, "none"),
}
STRIPE_CUS_IDS = {k: "cus_" + token(14) for k in STRIPE_CUSTOMERS}
STRIPE_NUMBER_PREFIX = {
    k: token(8, string.ascii_uppercase + string.digits) for k in STRIPE_CUSTOMERS
}
FRONTIER_BA_IDS = {k: new_uuid() for k in STRIPE_CUSTOMERS}

# Monthly subscription invoices, period 2026-10-01 -> 2026-11-01, created 2026-10-01.
# (customer, [(product, qty)], coupon percent, starting_balance, status, plant)
STRIPE_MONTHLY = [
    ("acme", [("pro", 12), ("storage", 3)], None, 0, "paid", None),
    ("smith", [("biz", 4)], Decimal("0.10"), -2000, "paid", None),
    ("bluebird", [("biz", 25), ("support", 1)], None, 0, "paid", None),
    ("crescent", [("pro", 6)], None, 0, "paid", None),
    ("delta", [("pro", 18), ("storage", 5)], Decimal("0.20"), 0, "paid", "stripe_tex"),
    ("evergreen", [("pro", 40)], None, -250000, "paid", None),
    ("foxglove", [("biz", 8), ("storage", 2)], None, 0, "paid", "stripe_total"),
    ("granite", [("pro", 3)], None, 0, "paid", None),
    ("harbor", [("biz", 15), ("support", 1)], None, 0, "paid", "frontier_stale"),
    ("ionic", [("pro", 2)], None, 0, "paid", None),
    ("juniper", [("biz", 30), ("support", 1), ("storage", 10)], Decimal("0.10"), 0, "paid", None),
    ("keystone", [("pro", 9)], None, 0, "open", None),
    ("mueller", [("pro", 10)], None, 0, "paid", None),
    ("baeckerei", [("pro", 3)], None, 0, "paid", "ledger_eur_low"),
    ("lumiere", [("biz", 7)], Decimal("0.10"), 0, "paid", None),
    ("vanderberg", [("pro", 22), ("storage", 4)], None, 0, "paid", None),
    ("costaverde", [("biz", 5)], None, 0, "paid", None),
    ("nordlicht", [("biz", 12), ("support", 1)], None, -5000, "paid", None),
    ("sakura", [("pro", 12)], None, 0, "paid", None),
    ("tanaka", [("biz", 5)], None, 0, "paid", None),
    ("kyoto", [("pro", 20), ("storage", 2)], Decimal("0.10"), 0, "paid", None),
    ("alsalam", [("pro", 6)], None, 0, "paid", None),
    ("gulfdata", [("biz", 10), ("support", 1)], None, -20000, "paid", None),
    ("fahad", [("pro", 4), ("storage", 1)], None, 0, "open", None),
]

# One-off invoices (invoice items), mid-October.
# (customer, created, [(description, qty, unit)], starting_balance, status, plant)
STRIPE_ONEOFF = [
    (
        "crescent",
        at(9, 15, 22, 9),
        [("Custom integration work (hours)", 12, 15000)],
        0,
        "open",
        "stripe_remaining",
    ),
    ("acme", at(13, 10, 4, 51), [("Additional API capacity (October)", 1, 75000)], 0, "paid", None),
    ("granite", at(16, 8, 30, 2), [("Onboarding workshop", 1, 120000)], 0, "open", None),
    ("ionic", at(21, 17, 45, 38), [("Data migration service", 1, 45000)], 0, "paid", None),
    ("vanderberg", at(14, 11, 0, 27), [("Onboarding workshop", 1, 95000)], 0, "open", None),
    (
        "tanaka",
        at(20, 2, 15, 44),
        [("Onboarding workshop (on-site, Osaka)", 1, 100000), ("Travel and expenses", 1, 13636)],
        0,
        "open",
        "ledger_jpy_scale",
    ),
]


def build_stripe() -> list[dict[str, Any]]:
    """Internal invoice records (wire dict + facts), newest first."""
    invoices: list[dict[str, Any]] = []
    monthly_created = at(1, 0, 0, 0)
    for i, (cust, items, coupon, sb, status, plant) in enumerate(STRIPE_MONTHLY):
        created = monthly_created + timedelta(seconds=7 * i + rng.randint(0, 5))
        lines = []
        for product, qty in items:
            name, unit_word, prices = STRIPE_PRODUCTS[product]
            currency = STRIPE_CUSTOMERS[cust][2]
            unit = prices[currency]
            desc = f"{qty} × {name} (at {money_label(unit, currency)} / {unit_word})"
            lines.append({"product": product, "description": desc, "qty": qty, "unit": unit})
        invoices.append(
            stripe_invoice(cust, "subscription", created, lines, coupon, sb, status, plant)
        )
    for cust, created, items, sb, status, plant in STRIPE_ONEOFF:
        lines = [{"product": None, "description": d, "qty": q, "unit": u} for d, q, u in items]
        invoices.append(stripe_invoice(cust, "manual", created, lines, None, sb, status, plant))
    invoices.sort(key=lambda inv: inv["wire"]["created"], reverse=True)
    return invoices


_stripe_seq: Counter[str] = Counter()


def stripe_invoice(
    cust: str,
    kind: str,
    created: datetime,
    lines_in: list[dict[str, Any]],
    coupon: Decimal | None,
    sb: int,
    status: str,
    plant: str | None,
) -> dict[str, Any]:
    name, email, currency, tax_key, tax_exempt = STRIPE_CUSTOMERS[cust]
    cur = currency.lower()
    inv_id = "in_1Q" + token(22)
    di_id = "di_1Q" + token(22) if coupon else None
    rate = TAX_RATES[tax_key] if tax_key else None
    sub_id = "sub_1Q" + token(22) if kind == "subscription" else None
    finalized = created + timedelta(hours=1) if kind == "subscription" else created
    if kind == "subscription":
        p_start, p_end = PERIOD_START, PERIOD_END
    else:
        p_start = p_end = created

    wire_lines = []
    subtotal = disc_total = tax_total = taxable_total = 0
    for ln in lines_in:
        amount = ln["qty"] * ln["unit"]
        disc = pct_of(amount, coupon) if coupon else 0
        taxable = amount - disc
        tax = pct_of(taxable, rate) if rate else 0
        subtotal += amount
        disc_total += disc
        tax_total += tax
        taxable_total += taxable
        line_id = "il_1Q" + token(22)
        if kind == "subscription":
            price = STRIPE_PRICE_IDS[(ln["product"], currency)]
            product = STRIPE_PROD_IDS[ln["product"]]
            parent = {
                "type": "subscription_item_details",
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": None,
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": sub_id,
                    "subscription_item": "si_" + token(14),
                },
            }
        else:
            price = "price_1Q" + token(22)
            product = ONEOFF_PROD
            parent = {
                "type": "invoice_item_details",
                "invoice_item_details": {
                    "invoice_item": "ii_1Q" + token(22),
                    "proration": False,
                    "proration_details": {"credited_items": None},
                    "subscription": None,
                },
                "subscription_item_details": None,
            }
        wire_lines.append(
            {
                "id": line_id,
                "object": "line_item",
                "amount": amount,
                "currency": cur,
                "description": ln["description"],
                "discount_amounts": [{"amount": disc, "discount": di_id}] if coupon else [],
                "discountable": True,
                "discounts": [],
                "invoice": inv_id,
                "livemode": True,
                "metadata": {},
                "parent": parent,
                "period": {"start": epoch(p_start), "end": epoch(p_end)},
                "pretax_credit_amounts": [
                    {
                        "amount": disc,
                        "credit_balance_transaction": None,
                        "discount": di_id,
                        "type": "discount",
                    }
                ]
                if coupon
                else [],
                "pricing": {
                    "type": "price_details",
                    "price_details": {"price": price, "product": product},
                    "unit_amount_decimal": str(ln["unit"]),
                },
                "quantity": ln["qty"],
                "quantity_decimal": str(ln["qty"]),
                "subtotal": amount,
                "taxes": [
                    {
                        "amount": tax,
                        "tax_behavior": "exclusive",
                        "tax_rate_details": {"tax_rate": TAX_RATE_IDS[tax_key]},
                        "taxability_reason": "standard_rated",
                        "taxable_amount": taxable,
                        "type": "tax_rate_details",
                    }
                ]
                if rate
                else [],
            }
        )

    total_excluding_tax = subtotal - disc_total
    if plant == "stripe_tex":
        total_excluding_tax += 250  # planted #3
    total = total_excluding_tax + tax_total
    if plant == "stripe_total":
        total += 1  # planted #4
    assert sb <= 0
    amount_due = max(0, total + sb)
    ending_balance = sb + (total - amount_due)
    if status == "paid":
        amount_paid, amount_remaining = amount_due, 0
    else:
        amount_paid = 50000 if plant == "stripe_remaining" else 0
        amount_remaining = amount_due - amount_paid
        if plant == "stripe_remaining":
            amount_remaining = amount_due  # planted #5: not reduced by the partial payment
    collection = "charge_automatically" if kind == "subscription" else "send_invoice"
    due_date = epoch(finalized + timedelta(days=30)) if collection == "send_invoice" else None
    paid_at = finalized + timedelta(seconds=rng.randint(8, 40)) if status == "paid" else None
    if kind == "manual" and status == "paid":
        paid_at = finalized + timedelta(days=rng.randint(2, 6), seconds=rng.randint(0, 86399))
    _stripe_seq[cust] += 1
    number = f"{STRIPE_NUMBER_PREFIX[cust]}-{_stripe_seq[cust] + 3:04d}"
    live = "live_" + token(40)
    hosted = f"https://invoice.stripe.com/i/{STRIPE_ACCOUNT}/{live}"
    wire = {
        "id": inv_id,
        "object": "invoice",
        "account_country": "GB",
        "account_name": COMPANY,
        "account_tax_ids": None,
        "amount_due": amount_due,
        "amount_overpaid": 0,
        "amount_paid": amount_paid,
        "amount_paid_off_stripe": 0,
        "amount_remaining": amount_remaining,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 1 if (status == "paid" and collection == "charge_automatically") else 0,
        "attempted": status == "paid",
        "auto_advance": status != "paid",
        "automatic_tax": {
            "enabled": False,
            "liability": None,
            "status": None,
            "disabled_reason": None,
            "provider": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": "subscription_cycle" if kind == "subscription" else "manual",
        "collection_method": collection,
        "created": epoch(created),
        "currency": cur,
        "custom_fields": None,
        "customer": STRIPE_CUS_IDS[cust],
        "customer_account": None,
        "customer_address": None,
        "customer_email": email,
        "customer_name": name,
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": tax_exempt,
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [di_id] if coupon else [],
        "due_date": due_date,
        "effective_at": epoch(finalized),
        "ending_balance": ending_balance,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": hosted,
        "invoice_pdf": f"https://pay.stripe.com/invoice/{STRIPE_ACCOUNT}/{live}/pdf",
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": wire_lines,
            "has_more": False,
            "url": f"/v1/invoices/{inv_id}/lines",
        },
        "livemode": True,
        "metadata": {},
        "next_payment_attempt": None,
        "number": number,
        "on_behalf_of": None,
        "parent": {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": sub_id},
        }
        if kind == "subscription"
        else None,
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": epoch(p_end),
        "period_start": epoch(p_start),
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": sb,
        "statement_descriptor": None,
        "status": status,
        "status_transitions": {
            "finalized_at": epoch(finalized),
            "marked_uncollectible_at": None,
            "paid_at": epoch(paid_at) if paid_at else None,
            "voided_at": None,
        },
        "subtotal": subtotal,
        "subtotal_excluding_tax": subtotal,
        "test_clock": None,
        "threshold_reason": None,
        "total": total,
        "total_discount_amounts": [{"amount": disc_total, "discount": di_id}] if coupon else [],
        "total_excluding_tax": total_excluding_tax,
        "total_pretax_credit_amounts": [
            {
                "amount": disc_total,
                "credit_balance_transaction": None,
                "discount": di_id,
                "type": "discount",
            }
        ]
        if coupon
        else [],
        "total_taxes": [
            {
                "amount": tax_total,
                "tax_behavior": "exclusive",
                "tax_rate_details": {"tax_rate": TAX_RATE_IDS[tax_key]},
                "taxability_reason": "standard_rated",
                "taxable_amount": taxable_total,
                "type": "tax_rate_details",
            }
        ]
        if rate
        else [],
        "webhooks_delivered_at": epoch(created) + 1,
    }
    return {
        "wire": wire,
        "cust": cust,
        "name": name,
        "currency": currency,
        "kind": kind,
        "plant": plant,
        "created": created,
        "finalized": finalized,
        "expected_tex": subtotal - disc_total,
        "expected_total": total_excluding_tax + tax_total,
        "expected_remaining": amount_due - amount_paid,
    }


def stripe_pages(invoices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pages = []
    chunks = [invoices[i : i + 10] for i in range(0, len(invoices), 10)]
    after = None
    for n, chunk in enumerate(chunks):
        query = {"limit": "10"}
        if after:
            query["starting_after"] = after
        body = {
            "object": "list",
            "data": [inv["wire"] for inv in chunk],
            "has_more": n < len(chunks) - 1,
            "url": "/v1/invoices",
        }
        pages.append(
            {
                "body": body_bytes(body),
                "kind": "list",
                "method": "GET",
                "url": "/v1/invoices",
                "query": query,
                "status": 200,
            }
        )
        after = chunk[-1]["wire"]["id"]
    return pages


def build_frontier(stripe: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for inv in stripe:
        w = inv["wire"]
        amount = w["total"]
        if inv["plant"] == "frontier_stale":
            amount -= 1500  # planted #11: synced before the last invoice item was added
        created_at = datetime.fromtimestamp(w["created"], UTC) + timedelta(
            seconds=rng.randint(45, 600)
        )
        rec: dict[str, Any] = {
            "id": new_uuid(),
            "customer_id": FRONTIER_BA_IDS[inv["cust"]],
            "provider_id": w["id"],
            "state": w["status"],
            "currency": w["currency"],
        }
        if amount:  # Connect (>= v0.91) omits zero values
            rec["amount"] = str(amount)
        rec["hosted_url"] = w["hosted_invoice_url"]
        due = w["due_date"] or w["next_payment_attempt"]
        if due:
            rec["due_date"] = rfc3339(datetime.fromtimestamp(due, UTC))
        rec["effective_at"] = rfc3339(datetime.fromtimestamp(w["effective_at"], UTC))
        rec["period_start_at"] = rfc3339(datetime.fromtimestamp(w["period_start"], UTC))
        rec["period_end_at"] = rfc3339(datetime.fromtimestamp(w["period_end"], UTC))
        rec["metadata"] = {}
        rec["created_at"] = rfc3339(created_at)
        out.append({"wire": rec, "stripe": inv, "created_at": created_at, "amount": amount})
    out.sort(key=lambda f: f["created_at"], reverse=True)  # created_at DESC
    return out


# ====================================================================================
# Commet (API version 2026-07-31)
# ====================================================================================

COMMET_PLANS = {
    "Starter": {"USD": 2900, "EUR": 2700, "GBP": 2500, "KWD": 8900},
    "Pro": {"USD": 9900, "EUR": 9200, "GBP": 8500, "KWD": 29900},
    "Business": {"USD": 29900, "EUR": 27900, "GBP": 24900, "KWD": 89900},
}
COMMET_SEAT = {"USD": 1500, "EUR": 1400, "GBP": 1200, "KWD": 4500}
COMMET_CALL = {"USD": 2, "EUR": 2, "GBP": 2, "KWD": 3}  # per API call over the quota
COMMET_INCLUDED = {"Starter": 10000, "Pro": 50000, "Business": 250000}
COMMET_SEATS_INCLUDED = {"Starter": 3, "Pro": 10, "Business": 25}

# slug -> (name, currency, tax rate)
COMMET_CUSTOMERS = {
    "pinecone-studios": ("Pinecone Studios", "USD", Decimal("0")),
    "quartz-security": ("Quartz Security", "USD", Decimal("0.0825")),
    "riverbend-clinics": ("Riverbend Clinics", "USD", Decimal("0")),
    "summit-outdoor": ("Summit Outdoor Co.", "USD", Decimal("0.0725")),
    "tidewater-energy": ("Tidewater Energy", "USD", Decimal("0.0625")),
    "umbra-games": ("Umbra Games", "USD", Decimal("0")),
    "vertex-payments": ("Vertex Payments", "USD", Decimal("0.08875")),
    "willow-education": ("Willow Education", "USD", Decimal("0")),
    "atelier-durand": ("Atelier Durand SARL", "EUR", Decimal("0.20")),
    "berliner-verkehrsdaten": ("Berliner Verkehrsdaten GmbH", "EUR", Decimal("0.19")),
    "cobalt-systems": ("Cobalt Systems S.L.", "EUR", Decimal("0.21")),
    "dolomiti-bike": ("Dolomiti Bike S.r.l.", "EUR", Decimal("0.22")),
    "espresso-digital": ("Espresso Digital S.p.A.", "EUR", Decimal("0.22")),
    "helsinki-sauna": ("Helsinki Sauna Oy", "EUR", Decimal("0.255")),
    "lisboa-surf": ("Lisboa Surf Lda", "EUR", Decimal("0.23")),
    "albion-tea": ("Albion Tea Ltd", "GBP", Decimal("0.20")),
    "brighton-ledger": ("Brighton Ledger Co.", "GBP", Decimal("0.20")),
    "cotswold-crafts": ("Cotswold Crafts Ltd", "GBP", Decimal("0.20")),
    "dover-shipping": ("Dover Shipping plc", "GBP", Decimal("0.20")),
    "edinburgh-analytics": ("Edinburgh Analytics Ltd", "GBP", Decimal("0.20")),
    "fenland-farms": ("Fenland Farms Ltd", "GBP", Decimal("0.20")),
    "al-noor-retail": ("Al-Noor Retail Co.", "KWD", Decimal("0")),
    "kuwait-cloud-partners": ("Kuwait Cloud Partners", "KWD", Decimal("0")),
    "salmiya-foods": ("Salmiya Foods Co.", "KWD", Decimal("0")),
}

PROMO_LAUNCH10 = ("promo_code_discount", Decimal("0.10"), "LAUNCH10", "Promo code LAUNCH10")
INTRO20 = ("discount", Decimal("0.20"), "Intro offer 20%", "Introductory offer (20% off)")

# Monthly recurring, in creation order (INV numbers follow creation order).
# (slug, plan, extra seats, API calls used (None = no usage line), promo, credit, status, plant)
COMMET_MONTHLY = [
    ("pinecone-studios", "Pro", 0, 62500, None, 0, "paid", None),
    ("quartz-security", "Business", 8, None, None, 0, "paid", None),
    ("riverbend-clinics", "Starter", 0, None, None, 0, "paid", None),
    ("summit-outdoor", "Pro", 2, 57300, PROMO_LAUNCH10, 500, "paid", "commet_identity"),
    ("atelier-durand", "Pro", 0, None, None, 0, "paid", None),
    ("berliner-verkehrsdaten", "Business", 12, None, None, 0, "paid", None),
    ("cobalt-systems", "Pro", 0, 71250, None, 0, "paid", "commet_lines"),
    ("albion-tea", "Pro", 0, None, None, 0, "paid", None),
    ("brighton-ledger", "Business", 5, None, None, 0, "outstanding", None),
    ("cotswold-crafts", "Starter", 0, 13420, None, 0, "paid", "ledger_currency"),
    ("tidewater-energy", "Business", 10, None, None, 0, "paid", "dup_number_a"),
    ("vertex-payments", "Business", 0, 268400, INTRO20, 0, "paid", "dup_number_b"),
    ("umbra-games", "Pro", 0, 88750, None, 0, "paid", None),
    ("willow-education", "Starter", 0, None, None, 1000, "paid", None),
    ("dolomiti-bike", "Starter", 0, None, None, 0, "outstanding", None),
    ("espresso-digital", "Pro", 3, None, PROMO_LAUNCH10, 0, "paid", None),
    ("helsinki-sauna", "Business", 0, None, None, 0, "paid", None),
    ("lisboa-surf", "Starter", 1, None, None, 0, "paid", None),
    ("dover-shipping", "Business", 0, 291300, None, 2500, "paid", None),
    ("edinburgh-analytics", "Pro", 0, 54120, PROMO_LAUNCH10, 0, "outstanding", None),
    ("fenland-farms", "Starter", 0, None, None, 0, "paid", None),
    ("al-noor-retail", "Pro", 0, 51115, None, 0, "paid", None),
    ("kuwait-cloud-partners", "Business", 4, None, None, 0, "outstanding", None),
    ("salmiya-foods", "Starter", 0, 12347, None, 0, "paid", None),
]

# One-off invoices, mid-October (periodStart = periodEnd = issue time).
# (slug, created, invoiceType, lineType, description, amount, status)
COMMET_ONEOFF = [
    (
        "quartz-security",
        at(6, 13, 41, 7, 218),
        "addon_activation",
        "addon_base",
        "Advanced audit log add-on (activation)",
        4900,
        "paid",
    ),
    (
        "umbra-games",
        at(8, 9, 15, 52, 604),
        "adjustment",
        "one_time",
        "Usage true-up, Q3 2026",
        12500,
        "outstanding",
    ),
    (
        "pinecone-studios",
        at(12, 16, 2, 11, 77),
        "one_time_payment",
        "one_time",
        "Onboarding package",
        75000,
        "paid",
    ),
    (
        "willow-education",
        at(15, 10, 30, 0, 945),
        "credit_purchase",
        "one_time",
        "Prepaid usage credits",
        50000,
        "paid",
    ),
    (
        "cobalt-systems",
        at(19, 14, 5, 33, 310),
        "adjustment",
        "one_time",
        "Customer requested: extra sandbox environment",
        18000,
        "outstanding",
    ),
    (
        "dover-shipping",
        at(22, 11, 48, 19, 502),
        "addon_activation",
        "addon_base",
        "SSO / SAML add-on (activation)",
        9900,
        "paid",
    ),
    (
        "albion-tea",
        at(26, 8, 0, 45, 133),
        "adjustment",
        "one_time",
        "Customer requested: data export assistance",
        6000,
        "paid",
    ),
    (
        "kuwait-cloud-partners",
        at(28, 12, 20, 3, 861),
        "one_time_payment",
        "one_time",
        "Arabic localisation pack",
        45250,
        "outstanding",
    ),
]


def null_line(**kw: Any) -> dict[str, Any]:
    base = {
        "lineType": None,
        "featureName": None,
        "description": None,
        "quantity": 1,
        "unitAmount": 0,
        "amount": 0,
        "includedAmount": None,
        "usedAmount": None,
        "overageAmount": None,
        "discountType": None,
        "discountValue": None,
        "discountName": None,
        "chargeType": "standard",
    }
    base.update(kw)
    return base


def build_commet() -> list[dict[str, Any]]:
    specs: list[dict[str, Any]] = []
    for i, (slug, plan, seats, calls, promo, credit, status, plant) in enumerate(COMMET_MONTHLY):
        created = at(1, 0, 0, 2) + timedelta(milliseconds=397 * i + rng.randint(0, 300))
        specs.append(
            {
                "slug": slug,
                "kind": "recurring",
                "plan": plan,
                "seats": seats,
                "calls": calls,
                "promo": promo,
                "credit": credit,
                "status": status,
                "plant": plant,
                "created": created,
            }
        )
    for slug, created, itype, ltype, desc, amount, status in COMMET_ONEOFF:
        specs.append(
            {
                "slug": slug,
                "kind": itype,
                "line_type": ltype,
                "desc": desc,
                "amount": amount,
                "status": status,
                "plant": None,
                "created": created,
            }
        )
    specs.sort(key=lambda s: s["created"])
    number = 1000
    invoices = []
    for spec in specs:
        if spec["plant"] != "dup_number_b":  # planted #15: the numbering race reuses a number
            number += 1
        invoices.append(commet_invoice(spec, f"INV-{number}"))
    invoices.sort(key=lambda inv: inv["created"], reverse=True)  # list order: newest first
    return invoices


_commet_subs: dict[str, str] = {}


def commet_invoice(spec: dict[str, Any], number: str) -> dict[str, Any]:
    slug = spec["slug"]
    name, currency, tax_rate = COMMET_CUSTOMERS[slug]
    created: datetime = spec["created"]
    lines: list[dict[str, Any]] = []
    if spec["kind"] == "recurring":
        plan = spec["plan"]
        sub_id = _commet_subs.setdefault(slug, "sub_" + token(12))
        issue = PERIOD_START
        p_start, p_end = PERIOD_START, PERIOD_END
        base = COMMET_PLANS[plan][currency]
        lines.append(
            null_line(
                lineType="plan_base",
                description=f"{plan} plan (monthly)",
                unitAmount=base,
                amount=base,
            )
        )
        if spec["seats"]:
            q, unit = spec["seats"], COMMET_SEAT[currency]
            inc = COMMET_SEATS_INCLUDED[plan]
            lines.append(
                null_line(
                    lineType="feature_seats",
                    featureName="Seats",
                    description=f"Additional seats ({q} over {inc} included)",
                    quantity=q,
                    unitAmount=unit,
                    amount=q * unit,
                    includedAmount=inc,
                    usedAmount=inc + q,
                    overageAmount=q,
                    chargeType="advance",
                )
            )
        if spec["calls"]:
            inc = COMMET_INCLUDED[plan]
            over = spec["calls"] - inc
            unit = COMMET_CALL[currency]
            lines.append(
                null_line(
                    lineType="feature_overage",
                    featureName="API calls",
                    description=f"API calls overage ({over:,} units)",
                    quantity=over,
                    unitAmount=unit,
                    amount=over * unit,
                    includedAmount=inc,
                    usedAmount=spec["calls"],
                    overageAmount=over,
                    chargeType="true_up",
                )
            )
        plan_name: str | None = plan
    else:
        sub_id = None
        issue = p_start = p_end = created.replace(microsecond=0)
        lines.append(
            null_line(
                lineType=spec["line_type"],
                description=spec["desc"],
                unitAmount=spec["amount"],
                amount=spec["amount"],
            )
        )
        plan_name = None
    subtotal = sum(ln["amount"] for ln in lines)
    discount = 0
    if spec.get("promo"):
        ltype, pct, dname, ddesc = spec["promo"]
        discount = pct_of(subtotal, pct)
        lines.append(
            null_line(
                lineType=ltype,
                description=ddesc,
                unitAmount=-discount,
                amount=-discount,
                discountType="percentage",
                discountValue=int(pct * 100),
                discountName=dname,
            )
        )
    credit = spec.get("credit", 0)
    if credit:
        lines.append(
            null_line(
                lineType="credit", description="Credit applied", unitAmount=-credit, amount=-credit
            )
        )
    tax = pct_of(subtotal - discount, tax_rate)
    total = subtotal - discount - credit + tax
    expected_total = total
    if spec["plant"] == "commet_identity":
        total += 100  # planted #1
    charge_sum = subtotal
    if spec["plant"] == "commet_lines":
        over = next(ln for ln in lines if ln["lineType"] == "feature_overage")
        over["quantity"] -= 250  # planted #2: the usage line lost 250 calls x 2 = 500
        over["overageAmount"] -= 250
        over["usedAmount"] -= 250
        over["amount"] = over["quantity"] * over["unitAmount"]
        over["description"] = f"API calls overage ({over['quantity']:,} units)"
        charge_sum = subtotal - 500
    status = spec["status"]
    due = (
        issue if (spec["kind"] == "recurring" and status == "paid") else issue + timedelta(days=14)
    )
    if status == "paid":
        updated = created + timedelta(minutes=rng.randint(1, 240), milliseconds=rng.randint(0, 999))
    else:
        updated = created + timedelta(milliseconds=rng.randint(5, 900))
    po = f"PO-{rng.randint(1000, 9999)}" if rng.random() < 0.3 else None
    memo = spec["desc"] if spec["kind"] == "adjustment" else None
    inv_id = "inv_" + token(12)
    common_head = {
        "id": inv_id,
        "customerId": slug,
        "subscriptionId": sub_id,
        "invoiceNumber": number,
        "status": status,
        "invoiceType": spec["kind"],
        "currency": currency.lower(),
        "subtotal": subtotal,
        "discountAmount": discount,
    }
    times = {
        "periodStart": iso_ms(p_start),
        "periodEnd": iso_ms(p_end),
        "issueDate": iso_ms(issue),
        "dueDate": iso_ms(due),
    }
    list_item = {
        **common_head,
        "taxAmount": tax,
        "total": total,
        **times,
        "memo": memo,
        "metadata": {},
        "createdAt": iso_ms(created),
        "updatedAt": iso_ms(updated),
        "object": "invoice",
        "livemode": True,
    }
    detail = {
        **common_head,
        "creditApplied": credit,
        "taxAmount": tax,
        "total": total,
        **times,
        "planName": plan_name,
        "memo": memo,
        "poNumber": po,
        "reference": None,
        "metadata": {},
        "createdAt": iso_ms(created),
        "updatedAt": iso_ms(updated),
        "lineItems": lines,
        "object": "invoice",
        "livemode": True,
    }
    return {
        "list": list_item,
        "detail": detail,
        "slug": slug,
        "name": name,
        "currency": currency,
        "plant": spec["plant"],
        "created": created,
        "issue": issue,
        "expected_total": expected_total,
        "charge_sum": charge_sum,
    }


def commet_pages(invoices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pages = []
    chunks = [invoices[i : i + 25] for i in range(0, len(invoices), 25)]
    cursor = None
    for n, chunk in enumerate(chunks):
        query = {"limit": "25"}
        if cursor:
            query["cursor"] = cursor
        more = n < len(chunks) - 1
        body: dict[str, Any] = {
            "object": "list",
            "data": [inv["list"] for inv in chunk],
            "hasMore": more,
        }
        if more:
            cursor = chunk[-1]["list"]["createdAt"]
            body["nextCursor"] = cursor
        pages.append(
            {
                "body": body_bytes(body),
                "kind": "list",
                "method": "GET",
                "url": "/api/v1/invoices",
                "query": query,
                "status": 200,
            }
        )
    for inv in invoices:
        pages.append(
            {
                "body": body_bytes(inv["detail"]),
                "kind": "detail",
                "method": "GET",
                "url": f"/api/v1/invoices/{inv['detail']['id']}",
                "query": {},
                "status": 200,
            }
        )
    return pages


# ====================================================================================
# Amberflo (USD, decimal major units)
# ====================================================================================

AMBERFLO_ACCOUNT = "4471"
D = Decimal
ZERO = D("0")
METERS = {
    # meter api name: (display name, region dimension, price function)
    "api-calls": ("API calls", "us-east-1"),
    "compute-hours": ("Compute hours", "eu-west-1"),
    "storage-gb-month": ("Storage (GB-month)", "us-east-1"),
}
METER_IDS = {m: new_uuid() for m in METERS}
PLAN_IDS = {
    p: new_uuid()
    for p in ("Starter (monthly)", "Growth (monthly)", "Scale (monthly)", "Pay as you go")
}
PLAN_FEE = {
    "Starter (monthly)": D("49"),
    "Growth (monthly)": D("99"),
    "Scale (monthly)": D("499"),
    "Pay as you go": None,
}
PROMO_IDS = {"10% launch discount": new_uuid(), "Partner credit": new_uuid()}


def meter_price(meter: str, units: int) -> tuple[Decimal, dict[str, int]]:
    if meter == "api-calls":  # first 100,000 free, then $0.001 per call
        billable = max(0, units - 100000)
        tiers = {"0": min(units, 100000)}
        if billable:
            tiers["1"] = billable
        return D(billable) * D("0.001"), tiers
    if meter == "compute-hours":  # $0.0125 per hour (hourly pricing: 3 decimals)
        return D(units) * D("0.0125"), {"0": units}
    return D(units) * D("0.02"), {"0": units}  # storage: $0.02 per GB-month


# customerId -> (name for the ledger, [invoice specs]); None = no invoices yet (body null)
# invoice spec: plan, start day, end (day, month), {meter: units}, fee override, promo,
#               prepaid, available prepaid left, price status, payment status, plant
def af(
    plan: str,
    usage: dict[str, int],
    *,
    start: int = 1,
    end: tuple[int, int] = (1, 11),
    fee: Decimal | None = None,
    fee_note: str | None = None,
    promo: tuple[str, Decimal] | None = None,
    prepaid: Decimal = ZERO,
    left: Decimal = ZERO,
    price_status: str = "PRICE_LOCKED",
    payment: str = "SETTLED",
    plant: str | None = None,
) -> dict[str, Any]:
    return {
        "plan": plan,
        "usage": usage,
        "start": start,
        "end": end,
        "fee": fee,
        "fee_note": fee_note,
        "promo": promo,
        "prepaid": prepaid,
        "left": left,
        "price_status": price_status,
        "payment": payment,
        "plant": plant,
    }


PCT10 = ("10% launch discount", D("0.10"))
AMBERFLO_CUSTOMERS: dict[str, tuple[str, list[dict[str, Any]] | None]] = {
    "aurora-labs": (
        "Aurora Labs",
        [af("Growth (monthly)", {"api-calls": 131250}, promo=PCT10, left=D("150"))],
    ),
    "baltic-ai": (
        "Baltic AI OÜ",
        [
            af(
                "Scale (monthly)",
                {"api-calls": 612340, "compute-hours": 2846, "storage-gb-month": 1200},
                prepaid=D("200"),
                left=D("300"),
                price_status="GRACE_PERIOD",
                payment="PENDING",
            )
        ],
    ),
    "cedar-analytics": ("Cedar Analytics", [af("Starter (monthly)", {"api-calls": 158430})]),
    "dune-robotics": (
        "Dune Robotics",
        [af("Pay as you go", {"api-calls": 402500, "compute-hours": 1042})],
    ),
    "ember-health": (
        "Ember Health",
        [
            af(
                "Growth (monthly)",
                {"api-calls": 240050},
                promo=PCT10,
                price_status="GRACE_PERIOD",
                payment="PENDING",
            )
        ],
    ),
    "fjord-media": (
        "Fjord Media AS",
        [
            af(
                "Starter (monthly)",
                {"api-calls": 120000},
                end=(15, 10),
                fee=D("22.13"),
                fee_note="Monthly platform fee (prorated 14/31 days)",
            ),
            af(
                "Growth (monthly)",
                {"api-calls": 185000},
                start=15,
                fee=D("54.29"),
                fee_note="Monthly platform fee (prorated 17/31 days)",
            ),
        ],
    ),
    "granite-iot": (
        "Granite IoT",
        [
            af(
                "Scale (monthly)",
                {"api-calls": 350000, "storage-gb-month": 2500},
                prepaid=D("100"),
                left=D("400"),
                plant="amberflo_identity",
            )
        ],
    ),
    "helios-energy": (
        "Helios Energy",
        [af("Growth (monthly)", {"api-calls": 276400}, plant="amberflo_items")],
    ),
    "iris-retail": (
        "Iris Retail",
        [
            af(
                "Growth (monthly)",
                {"api-calls": 198760, "compute-hours": 1200},
                promo=("Partner credit", D("20.00")),
            )
        ],
    ),
    "jade-logistics": ("Jade Logistics", [af("Starter (monthly)", {"api-calls": 100000})]),
    "kite-ventures": ("Kite Ventures", None),
    "lumen-edu": (
        "Lumen Education",
        [
            af(
                "Growth (monthly)",
                {"api-calls": 222220},
                price_status="GRACE_PERIOD",
                payment="PENDING",
                plant="amberflo_na",
            )
        ],
    ),
    "moss-fintech": (
        "Moss Fintech",
        [
            af(
                "Growth (monthly)",
                {"api-calls": 160000},
                end=(20, 10),
                fee=D("60.68"),
                fee_note="Monthly platform fee (prorated 19/31 days)",
            ),
            af(
                "Scale (monthly)",
                {"api-calls": 240000, "compute-hours": 1546},
                start=20,
                fee=D("193.16"),
                fee_note="Monthly platform fee (prorated 12/31 days)",
                price_status="GRACE_PERIOD",
                payment="PENDING",
            ),
        ],
    ),
    "nova-games": (
        "Nova Games",
        [
            af(
                "Scale (monthly)",
                {"api-calls": 905000, "compute-hours": 4120, "storage-gb-month": 3000},
                promo=PCT10,
                prepaid=D("300"),
                left=D("700"),
            )
        ],
    ),
    "orbit-telecom": (
        "Orbit Telecom",
        [af("Growth (monthly)", {"api-calls": 260150}, promo=PCT10)],
    ),
    "pioneer-bio": (
        "Pioneer Bio",
        [
            af(
                "Pay as you go",
                {"api-calls": 512000, "compute-hours": 730},
                price_status="GRACE_PERIOD",
                payment="PENDING",
            )
        ],
    ),
    "quill-press": (
        "Quill Press",
        [af("Starter (monthly)", {"api-calls": 143210}, prepaid=D("50"), left=D("0"))],
    ),
    "rune-security": (
        "Rune Security",
        [af("Scale (monthly)", {"api-calls": 700000, "compute-hours": 2000})],
    ),
    "sable-travel": (
        "Sable Travel",
        [
            af("Pay as you go", {"api-calls": 150000}, end=(9, 10), payment="SETTLED"),
            af(
                "Starter (monthly)",
                {"api-calls": 131000},
                start=9,
                fee=D("36.35"),
                fee_note="Monthly platform fee (prorated 23/31 days)",
            ),
        ],
    ),
    "tundra-maps": (
        "Tundra Maps",
        [af("Growth (monthly)", {"api-calls": 344440, "storage-gb-month": 800}, payment="PENDING")],
    ),
    "umber-foods": (
        "Umber Foods",
        [af("Starter (monthly)", {"api-calls": 109870}, payment="PENDING")],
    ),
}


def af_composite(customer: str, plan: str, start: datetime) -> str:
    return f"{customer}/1/{PLAN_IDS[plan]}/{start:%Y-%m-%d}"


def bill(
    start: int,
    end: int,
    item: Decimal,
    fix: Decimal,
    prepaid: Decimal,
    discount: Decimal,
    before_discount: Decimal,
    before_prepaid: Decimal,
    total: Any,
) -> dict[str, Any]:
    return {
        "startTimeInSeconds": start,
        "endTimeInSeconds": end,
        "itemPrice": item,
        "fixPrice": fix,
        "prepaid": prepaid,
        "totalDiscount": discount,
        "totalPriceBeforeDiscount": before_discount,
        "totalPriceBeforePrepaid": before_prepaid,
        "totalPrice": total,
    }


def build_amberflo() -> list[dict[str, Any]]:
    """One entry per customer page: {"customer", "name", "invoices": [...] | None}."""
    pages = []
    for customer, (name, specs) in AMBERFLO_CUSTOMERS.items():
        if specs is None:
            pages.append({"customer": customer, "name": name, "invoices": None})
            continue
        invs = [amberflo_invoice(customer, name, s) for s in specs]
        pages.append({"customer": customer, "name": name, "invoices": invs})
    return pages


def amberflo_invoice(customer: str, name: str, s: dict[str, Any]) -> dict[str, Any]:
    plan = s["plan"]
    plan_id = PLAN_IDS[plan]
    start = at(s["start"])
    end = at(s["end"][0], month=s["end"][1])
    t0, t1 = epoch(start), epoch(end)
    key = {
        "accountId": AMBERFLO_ACCOUNT,
        "customerId": customer,
        "productId": "1",
        "productPlanId": plan_id,
        "year": start.year,
        "month": start.month,
        "day": start.day,
    }
    items = []
    item_sum = D("0")
    for meter, units in s["usage"].items():
        price, tiers = meter_price(meter, units)
        item_sum += price
        display, region = METERS[meter]
        tb = {
            "priceInCredits": 0,
            "priceInBaseCurrency": price,
            "startTimeInSeconds": t0,
            "endTimeInSeconds": t1,
            "meterUnits": units,
            "price": price,
            "meteredUnitsPerTier": tiers,
        }
        items.append(
            {
                "key": {**key, "productItemKey": meter},
                "productItemId": METER_IDS[meter],
                "productItemName": display,
                "meterApiName": meter,
                "productPlanName": plan,
                "productItemVariants": [
                    {
                        "key": f"region={region}",
                        "itemDimensions": {"region": region},
                        "hourlyBillInfos": [],
                        "totalBill": dict(tb),
                        "lateArrivalMeters": 0,
                    }
                ],
                "totalBill": tb,
            }
        )
    item_price = item_sum + (D("2.00") if s["plant"] == "amberflo_items" else 0)  # planted #7
    fee = s["fee"] if s["fee"] is not None else PLAN_FEE[plan]
    fees = []
    if fee is not None:
        fees.append(
            {
                "id": "platform-fee",
                "name": "Platform fee",
                "description": s["fee_note"] or "Monthly platform fee",
                "cost": fee,
                "isOneTimeFee": False,
            }
        )
    fix = sum((f["cost"] for f in fees), D("0"))
    before_discount = item_price + fix
    promos = []
    discount = D("0")
    if s["promo"]:
        pname, value = s["promo"]
        discount = before_discount * value if pname == "10% launch discount" else value
        assert discount == discount.quantize(D("0.001")), (customer, discount)
        promos.append(
            {
                "promotionId": PROMO_IDS[pname],
                "promotionName": pname,
                "promotionType": "DISCOUNT",
                "discount": discount,
                "discountInBaseCurrency": discount,
                "discountInCredits": 0,
                "promotionAppliedTimeInSeconds": t0,
                "maxDiscountPossible": 1000,
                "maxDiscountInBaseCurrency": 1000,
                "canBeUsedForPayAsYouGo": False,
            }
        )
    before_prepaid = before_discount - discount
    prepaid = s["prepaid"]
    total = before_prepaid - prepaid
    true_total = total
    if s["plant"] == "amberflo_identity":
        total -= D("5.00")  # planted #6
    wire_total: Any = "n/a" if s["plant"] == "amberflo_na" else total  # planted #17
    paid = s["payment"] == "SETTLED"
    rec = {
        "appliedCommitments": [],
        "appliedInvoiceBasedFees": [],
        "appliedPromotions": promos,
        "availablePayAsYouGoMoney": 0,
        "availablePayAsYouGoMoneyInBaseCurrency": 0,
        "availablePayAsYouGoMoneyInCredits": 0,
        "availablePrepaidLeft": s["left"],
        "availablePrepaidLeftBaseCurrency": s["left"],
        "availablePrepaidLeftInCredits": 0,
        "creditUnit": None,
        "externalSystemStatus": "paid" if paid else "open",
        "gracePeriodInHours": 72 if s["price_status"] == "GRACE_PERIOD" else 24,
        "invoiceBillInBaseCurrency": bill(
            t0, t1, item_price, fix, prepaid, discount, before_discount, before_prepaid, total
        ),
        "invoiceBillInCredits": bill(t0, t1, 0, 0, 0, 0, 0, 0, 0),  # type: ignore[arg-type]
        "invoiceEndTimeInSeconds": t1,
        "invoiceKey": key,
        "invoicePriceStatus": s["price_status"],
        "invoiceStartTimeInSeconds": t0,
        "invoiceUri": (
            f"payments/invoices/account_id={AMBERFLO_ACCOUNT}/customer_id={customer}"
            f"/product_id=1/product_plan_id={plan_id}/year={start.year}"
            f"/month={start.month:02d}/day={start.day:02d}"
        ),
        "paymentCreatedInSeconds": t1 + rng.randint(3600, 30 * 3600) if paid else 0,
        "paymentCurrencyInfo": None,
        "paymentStatus": s["payment"],
        "planBillingPeriod": {"interval": "MONTH", "intervalsCount": 1},
        "planName": plan,
        "productItemInvoices": items,
        "productPlanFees": fees,
        "totalBill": bill(
            t0, t1, item_price, fix, prepaid, discount, before_discount, before_prepaid, wire_total
        ),
    }
    return {
        "wire": rec,
        "customer": customer,
        "name": name,
        "plant": s["plant"],
        "id": af_composite(customer, plan, start),
        "start": start,
        "total": total,
        "true_total": true_total,
        "item_sum": item_sum,
        "item_price": item_price,
    }


def amberflo_pages(customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pages = []
    for c in customers:
        body = None if c["invoices"] is None else [inv["wire"] for inv in c["invoices"]]
        pages.append(
            {
                "body": body_bytes(body),
                "kind": "list",
                "method": "GET",
                "url": "/payments/billing/customer-product-invoice/all",
                "query": {
                    "customerId": c["customer"],
                    "productId": "1",
                    "fromCache": "false",
                    "withPaymentStatus": "true",
                },
                "status": 200,
            }
        )
    return pages


# ====================================================================================
# F5 Distributed Cloud (a vendor billing us, USD)
# ====================================================================================

MONTH_END = "T23:59:59.999999999Z"
# name, period_start text, period_end text, amount (cents), currency, status, active, plant
F5_INVOICES = [
    (
        "inv-northwind-2026-10-bot-defense",
        "2026-10-20T08:45:11.905113270Z",
        "2026-10-31" + MONTH_END,
        96774,
        "USD",
        "STATUS_ISSUED",
        False,
        "f5_missing",
    ),
    (
        "inv-northwind-2026-10-support",
        "2026-10-15T00:00:00Z",
        "2026-10-15T00:00:00Z",
        250000,
        "UDS",
        "STATUS_ISSUED",
        False,
        "f5_uds",
    ),
    (
        "inv-northwind-2026-10-waap-upgrade",
        "2026-10-09T14:12:37.482915063Z",
        "2026-10-31" + MONTH_END,
        187533,
        "USD",
        "STATUS_PAID",
        False,
        None,
    ),
    (
        "inv-northwind-2026-10",
        "2026-10-01T00:00:00Z",
        "2026-10-31" + MONTH_END,
        1299000,
        "USD",
        "STATUS_ISSUED",
        False,
        None,
    ),
    (
        "inv-northwind-2026-09",
        "2026-09-01T00:00:00Z",
        "2026-09-30" + MONTH_END,
        1299000,
        "USD",
        "STATUS_PAID",
        False,
        None,
    ),
    (
        "inv-northwind-2026-08",
        "2026-08-01T00:00:00Z",
        "2026-08-31" + MONTH_END,
        1299000,
        "USD",
        "STATUS_PAID",
        False,
        None,
    ),
]


def parse_rfc3339(text: str) -> datetime:
    """Independent parser: RFC 3339 UTC with 0-9 fraction digits (truncated to µs)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z", text)
    assert m, text
    d = datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    frac = (m.group(2) or "").ljust(6, "0")[:6]
    return d + timedelta(microseconds=int(frac))


def in_period(d: datetime) -> bool:
    return PERIOD_START <= d < PERIOD_END


def build_f5() -> list[dict[str, Any]]:
    out = []
    for name, ps, pe, amount, cur, status, active, plant in F5_INVOICES:
        wire = {
            "active": active,
            "amount": str(amount),
            "currency": cur,
            "name": name,
            "period_end": pe,
            "period_start": ps,
            "status": status,
        }
        out.append(
            {
                "wire": wire,
                "plant": plant,
                "amount": amount,
                "currency": cur,
                "in_period": in_period(parse_rfc3339(ps)),
            }
        )
    return out


# ====================================================================================
# Ledger (ERP export)
# ====================================================================================

LEDGER_FIELDS = [
    "entry_id",
    "posted_on",
    "source_system",
    "reference",
    "customer",
    "currency",
    "amount",
    "memo",
]
SOURCE_ORDER = {"stripe": 0, "commet": 1, "amberflo": 2, "f5xc": 3}


def build_ledger(
    stripe: list[dict[str, Any]],
    commet: list[dict[str, Any]],
    amberflo: list[dict[str, Any]],
    f5: list[dict[str, Any]],
) -> tuple[list[dict[str, str]], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    tags: dict[str, Any] = {}

    def add(tag: str | None, **row: Any) -> None:
        row["_tag"] = tag
        rows.append(row)

    for inv in stripe:
        w = inv["wire"]
        cur = inv["currency"]
        minor = w["total"]
        amount = fmt_major(minor, cur)
        if inv["plant"] == "ledger_eur_low":
            amount = fmt_major(minor - 1000, cur)  # planted #8: booked 10.00 too low
        if inv["plant"] == "ledger_jpy_scale":
            assert minor == 125000
            amount = fmt_major(minor, "USD")  # planted #9: as if JPY had two decimals
        posted = inv["created"].date()
        if inv["kind"] == "subscription":
            memo = f"Stripe subscription {w['number']} Oct 2026"
        else:
            memo = f"Stripe invoice {w['number']}: {w['lines']['data'][0]['description']}"
        if inv["cust"] == "smith":
            memo = "Oct 2026 seats | coupon *PARTNER10* applied (10% off)"
        add(
            inv["plant"],
            posted_on=posted,
            source_system="stripe",
            reference=w["id"],
            customer=inv["name"],
            currency=cur,
            amount=amount,
            memo=memo,
        )

    seen_numbers: set[str] = set()
    for inv in commet:  # list order: the first of a duplicated number is the one booked
        d = inv["detail"]
        if d["invoiceNumber"] in seen_numbers:
            continue  # planted #15: one ledger row per number
        seen_numbers.add(d["invoiceNumber"])
        cur = inv["currency"]
        booked_cur = "EUR" if inv["plant"] == "ledger_currency" else cur  # planted #10
        memo = f"Commet {d['invoiceType']} {d['invoiceNumber']}" + (
            f" ({d['planName']})" if d["planName"] else ""
        )
        add(
            inv["plant"],
            posted_on=inv["issue"].date(),
            source_system="commet",
            reference=d["invoiceNumber"],
            customer=inv["name"],
            currency=booked_cur,
            amount=fmt_major(d["total"], cur),
            memo=memo,
        )
    # planted #13: a booking for a Commet invoice that does not exist
    add(
        "ledger_phantom",
        posted_on=at(23).date(),
        source_system="commet",
        reference="INV-1999",
        customer="Atelier Durand SARL",
        currency="EUR",
        amount="850.00",
        memo="Consulting day (manual entry)",
    )

    for page in amberflo:
        for inv in page["invoices"] or []:
            total = inv["true_total"] if inv["plant"] == "amberflo_na" else inv["total"]
            amount = fmt_major(to_minor(total, "USD"), "USD")
            memo = f"Amberflo usage {inv['wire']['planName']} {inv['start']:%Y-%m-%d}"
            add(
                inv["plant"],
                posted_on=at(31).date(),
                source_system="amberflo",
                reference=inv["id"],
                customer=inv["name"],
                currency="USD",
                amount=amount,
                memo=memo,
            )
            if inv["customer"] == "cedar-analytics":  # planted #14: booked twice
                add(
                    "ledger_duplicate",
                    posted_on=at(31).date(),
                    source_system="amberflo",
                    reference=inv["id"],
                    customer=inv["name"],
                    currency="USD",
                    amount=amount,
                    memo=memo + " (re-import)",
                )

    f5_posted = {
        "inv-northwind-2026-10": at(31).date(),
        "inv-northwind-2026-10-waap-upgrade": at(10).date(),
        "inv-northwind-2026-10-support": at(16).date(),
    }
    for inv in f5:
        w = inv["wire"]
        if not inv["in_period"] or inv["plant"] == "f5_missing":  # planted #12
            continue
        add(
            inv["plant"],
            posted_on=f5_posted[w["name"]],
            source_system="f5xc",
            reference=w["name"],
            customer="F5, Inc.",
            currency="USD",  # "UDS" booked as USD
            amount=fmt_major(inv["amount"], "USD"),
            memo=f"AP bill F5 Distributed Cloud {w['name']}",
        )

    rows.sort(
        key=lambda r: (
            r["posted_on"],
            SOURCE_ORDER[r["source_system"]],
            r["_tag"] == "ledger_duplicate",
            r["reference"],
        )
    )
    out = []
    for n, r in enumerate(rows, start=1):
        entry = f"JE-2026-10-{n:04d}"
        if r["_tag"]:
            tags.setdefault(r["_tag"], []).append((entry, r))
        tags.setdefault(("ref", r["source_system"], r["reference"]), []).append(entry)
        out.append(
            {
                "entry_id": entry,
                "posted_on": r["posted_on"].isoformat(),
                "source_system": r["source_system"],
                "reference": r["reference"],
                "customer": r["customer"],
                "currency": r["currency"],
                "amount": r["amount"],
                "memo": r["memo"],
            }
        )
    return out, tags


def ledger_bytes(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=LEDGER_FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


# ====================================================================================
# Expected findings
# ====================================================================================


def finding(
    n: int,
    kind: str,
    source: str,
    invoice_id: str,
    *,
    currency: str | None,
    field: str | None,
    counterpart_source: str | None = None,
    counterpart_key: str | None = None,
    expected_minor: int | None = None,
    actual_minor: int | None = None,
    expected_value: str | None = None,
    actual_value: str | None = None,
    related_ids: list[str] | None = None,
    secondary: list[dict[str, Any]] | None = None,
    notes: str,
) -> dict[str, Any]:
    return {
        "n": n,
        "kind": kind,
        "source": source,
        "invoice_id": invoice_id,
        "counterpart_source": counterpart_source,
        "counterpart_key": counterpart_key,
        "field": field,
        "currency": currency,
        "expected_minor": expected_minor,
        "actual_minor": actual_minor,
        "expected_value": expected_value,
        "actual_value": actual_value,
        "related_ids": related_ids or [],
        "secondary": secondary or [],
        "notes": notes,
    }


def build_expected(
    stripe: list[dict[str, Any]],
    frontier: list[dict[str, Any]],
    commet: list[dict[str, Any]],
    amberflo: list[dict[str, Any]],
    f5: list[dict[str, Any]],
    tags: dict[str, Any],
) -> list[dict[str, Any]]:
    def one(items: list[dict[str, Any]], plant: str) -> dict[str, Any]:
        found = [i for i in items if i["plant"] == plant]
        assert len(found) == 1, plant
        return found[0]

    def entry(tag: str) -> tuple[str, dict[str, Any]]:
        assert len(tags[tag]) == 1, tag
        return tags[tag][0]

    af_invoices = [inv for p in amberflo for inv in p["invoices"] or []]
    out = []

    c = one(commet, "commet_identity")["detail"]
    exp = c["subtotal"] - c["discountAmount"] - c["creditApplied"] + c["taxAmount"]
    out.append(
        finding(
            1,
            "commet_identity",
            "commet",
            c["id"],
            currency=c["currency"].upper(),
            field="total_minor",
            expected_minor=exp,
            actual_minor=c["total"],
            notes=f"{c['invoiceNumber']}: total is 100 too high vs subtotal − discountAmount − "
            f"creditApplied + taxAmount ({c['subtotal']} − {c['discountAmount']} − "
            f"{c['creditApplied']} + {c['taxAmount']} = {exp}). The ledger books the same "
            f"(wrong) total, so there is no cross-source finding.",
        )
    )

    ci = one(commet, "commet_lines")
    c = ci["detail"]
    out.append(
        finding(
            2,
            "commet_lines",
            "commet",
            c["id"],
            currency=c["currency"].upper(),
            field="subtotal_minor",
            expected_minor=ci["charge_sum"],
            actual_minor=c["subtotal"],
            notes=f"{c['invoiceNumber']}: the charge lines of the detail page (lineType not "
            f"discount/promo_code_discount/credit) sum to {ci['charge_sum']}, 500 less than "
            f"subtotal {c['subtotal']} (the API-calls overage line is 250 calls short). "
            f"Header fields are consistent. expected = Σ charge lines, actual = subtotal.",
        )
    )

    s = one(stripe, "stripe_tex")
    w = s["wire"]
    out.append(
        finding(
            3,
            "stripe_total_excluding_tax",
            "stripe",
            w["id"],
            currency=s["currency"],
            field="total_excluding_tax_minor",
            expected_minor=s["expected_tex"],
            actual_minor=w["total_excluding_tax"],
            notes=f"total_excluding_tax is 250 above subtotal_excluding_tax − Σ "
            f"total_discount_amounts ({w['subtotal_excluding_tax']} − "
            f"{w['subtotal_excluding_tax'] - s['expected_tex']}). total = "
            f"total_excluding_tax + taxes holds, amount_due follows total; Frontier and "
            f"ledger carry the same total.",
        )
    )

    s = one(stripe, "stripe_total")
    w = s["wire"]
    out.append(
        finding(
            4,
            "stripe_total",
            "stripe",
            w["id"],
            currency=s["currency"],
            field="total_minor",
            expected_minor=s["expected_total"],
            actual_minor=w["total"],
            notes="total is 1 above total_excluding_tax + Σ exclusive total_taxes; amount_due "
            "follows total; the Frontier mirror and the ledger carry the same total.",
        )
    )

    s = one(stripe, "stripe_remaining")
    w = s["wire"]
    out.append(
        finding(
            5,
            "stripe_amount_remaining",
            "stripe",
            w["id"],
            currency=s["currency"],
            field="amount_remaining_minor",
            expected_minor=s["expected_remaining"],
            actual_minor=w["amount_remaining"],
            notes=f"open invoice with a partial payment: amount_paid {w['amount_paid']} was not "
            f"deducted — amount_remaining {w['amount_remaining']} equals amount_due "
            f"{w['amount_due']} instead of {s['expected_remaining']}.",
        )
    )

    a = one(af_invoices, "amberflo_identity")
    tb = a["wire"]["totalBill"]
    out.append(
        finding(
            6,
            "amberflo_identity",
            "amberflo",
            a["id"],
            currency="USD",
            field="total_minor",
            expected_minor=to_minor(a["true_total"], "USD"),
            actual_minor=to_minor(a["total"], "USD"),
            notes=f"totalBill.totalPrice {jnum(a['total'])} is 5.00 below "
            f"totalPriceBeforeDiscount − totalDiscount − prepaid "
            f"({jnum(tb['totalPriceBeforeDiscount'])} − {jnum(tb['totalDiscount'])} − "
            f"{jnum(tb['prepaid'])} = {jnum(a['true_total'])}). The ledger books the same "
            f"totalPrice, so there is no cross-source finding.",
        )
    )

    a = one(af_invoices, "amberflo_items")
    out.append(
        finding(
            7,
            "amberflo_items",
            "amberflo",
            a["id"],
            currency="USD",
            field="item_price_minor",
            expected_minor=to_minor(a["item_sum"], "USD"),
            actual_minor=to_minor(a["item_price"], "USD"),
            notes=f"totalBill.itemPrice {jnum(a['item_price'])} is 2.00 above Σ "
            f"productItemInvoices[].totalBill.price ({jnum(a['item_sum'])}); the totals "
            f"chain (beforeDiscount, beforePrepaid, totalPrice) is consistent with itemPrice."
            f" expected = Σ items, actual = itemPrice.",
        )
    )

    s = one(stripe, "ledger_eur_low")
    e, row = entry("ledger_eur_low")
    out.append(
        finding(
            8,
            "amount_mismatch",
            "stripe",
            s["wire"]["id"],
            currency="EUR",
            field="total_minor",
            counterpart_source="ledger",
            counterpart_key=e,
            expected_minor=s["wire"]["total"],
            actual_minor=s["wire"]["total"] - 1000,
            notes=f"EUR invoice booked 10.00 too low: Stripe total "
            f"{fmt_major(s['wire']['total'], 'EUR')}, ledger {e} amount {row['amount']}. "
            f"expected = provider, actual = ledger.",
        )
    )

    s = one(stripe, "ledger_jpy_scale")
    e, row = entry("ledger_jpy_scale")
    out.append(
        finding(
            9,
            "scale_error",
            "stripe",
            s["wire"]["id"],
            currency="JPY",
            field="total_minor",
            counterpart_source="ledger",
            counterpart_key=e,
            expected_minor=s["wire"]["total"],
            actual_minor=s["wire"]["total"] // 100,
            notes=f"JPY (exponent 0) booked as if it had two decimals: Stripe total 125000 JPY, "
            f"ledger {e} amount {row['amount']!r} JPY = 1250 — off by a factor of 100.",
        )
    )

    ci = one(commet, "ledger_currency")
    e, row = entry("ledger_currency")
    out.append(
        finding(
            10,
            "currency_mismatch",
            "commet",
            ci["detail"]["id"],
            currency="GBP",
            field="currency",
            counterpart_source="ledger",
            counterpart_key=e,
            expected_value="GBP",
            actual_value="EUR",
            notes=f"{ci['detail']['invoiceNumber']} is a GBP invoice; ledger {e} books the same "
            f"digits ({row['amount']}) as EUR.",
        )
    )

    fr = next(f for f in frontier if f["stripe"]["plant"] == "frontier_stale")
    out.append(
        finding(
            11,
            "amount_mismatch",
            "frontier",
            fr["wire"]["id"],
            currency=fr["stripe"]["currency"],
            field="total_minor",
            counterpart_source="stripe",
            counterpart_key=fr["wire"]["provider_id"],
            expected_minor=fr["stripe"]["wire"]["total"],
            actual_minor=fr["amount"],
            notes="the Frontier mirror's amount is stale: 1500 below the Stripe total "
            "(expected = Stripe total, actual = Frontier amount). The ledger agrees with "
            "Stripe.",
        )
    )

    f = one(f5, "f5_missing")
    out.append(
        finding(
            12,
            "missing_in_ledger",
            "f5xc",
            f["wire"]["name"],
            currency="USD",
            field=None,
            counterpart_source="ledger",
            counterpart_key=f["wire"]["name"],
            expected_minor=f["amount"],
            notes=f"October F5 invoice (period_start {f['wire']['period_start']}, "
            f"{fmt_major(f['amount'], 'USD')} USD) has no ledger row.",
        )
    )

    e, row = entry("ledger_phantom")
    out.append(
        finding(
            13,
            "missing_in_provider",
            "ledger",
            e,
            currency="EUR",
            field=None,
            counterpart_source="commet",
            counterpart_key="INV-1999",
            actual_minor=to_minor(D(row["amount"]), "EUR"),
            notes=f"ledger {e} (commet, INV-1999, {row['amount']} EUR) — Commet has no such "
            f"invoice number.",
        )
    )

    a = next(i for i in af_invoices if i["customer"] == "cedar-analytics")
    entries = tags[("ref", "amberflo", a["id"])]
    assert len(entries) == 2
    out.append(
        finding(
            14,
            "duplicate_booking",
            "ledger",
            entries[1],
            currency="USD",
            field="reference",
            counterpart_source="amberflo",
            counterpart_key=a["id"],
            actual_minor=to_minor(a["total"], "USD"),
            related_ids=entries,
            secondary=[
                {
                    "kind": "ambiguous_key",
                    "source": "ledger",
                    "invoice_id": entries[0],
                    "counterpart_source": "amberflo",
                    "counterpart_key": a["id"],
                    "field": None,
                    "expected_value": None,
                    "actual_value": None,
                    "related_ids": entries,
                }
            ],
            notes=f"Amberflo invoice booked twice: ledger {entries[0]} and {entries[1]} carry the "
            f"same reference and amount ({fmt_major(to_minor(a['total'], 'USD'), 'USD')} "
            f"USD). invoice_id = the second (re-imported) row.",
        )
    )

    pair = [i for i in commet if i["plant"] in ("dup_number_a", "dup_number_b")]
    assert (
        len(pair) == 2 and pair[0]["detail"]["invoiceNumber"] == pair[1]["detail"]["invoiceNumber"]
    )
    num = pair[0]["detail"]["invoiceNumber"]
    ledger_entry = tags[("ref", "commet", num)]
    assert len(ledger_entry) == 1
    out.append(
        finding(
            15,
            "duplicate_invoice_number",
            "commet",
            pair[1]["detail"]["id"],
            currency=None,
            field="invoice_number",
            counterpart_source="ledger",
            counterpart_key=ledger_entry[0],
            actual_value=num,
            related_ids=[pair[0]["detail"]["id"], pair[1]["detail"]["id"]],
            secondary=[
                {
                    "kind": "ambiguous_key",
                    "source": "commet",
                    "invoice_id": pair[0]["detail"]["id"],
                    "counterpart_source": "ledger",
                    "counterpart_key": ledger_entry[0],
                    "field": None,
                    "expected_value": None,
                    "actual_value": None,
                    "related_ids": [pair[0]["detail"]["id"], pair[1]["detail"]["id"]],
                }
            ],
            notes=f"two different Commet invoices share {num}: {pair[0]['detail']['id']} "
            f"({pair[0]['name']}, {fmt_major(pair[0]['detail']['total'], pair[0]['currency'])}"
            f" {pair[0]['currency']}, first in list order) and {pair[1]['detail']['id']} "
            f"({pair[1]['name']}, {fmt_major(pair[1]['detail']['total'], pair[1]['currency'])}"
            f" {pair[1]['currency']}). The ledger has one row for {num} ({ledger_entry[0]}), "
            f"with the amount of the first. invoice_id = the second in list order. "
            f"The commet-ledger pairing is 1:1, so {num} is an ambiguous key (secondary): "
            f"its records are named and not compared.",
        )
    )

    f = one(f5, "f5_uds")
    e, row = entry("f5_uds")
    out.append(
        finding(
            16,
            "invalid_currency",
            "f5xc",
            f["wire"]["name"],
            currency="UDS",
            field="currency",
            actual_value="UDS",
            actual_minor=f["amount"],
            secondary=[
                {
                    "kind": "currency_mismatch",
                    "source": "f5xc",
                    "invoice_id": f["wire"]["name"],
                    "counterpart_source": "ledger",
                    "counterpart_key": e,
                    "field": "currency",
                    "expected_value": "UDS",
                    "actual_value": "USD",
                }
            ],
            notes=f'F5 October invoice with currency "UDS" (typo for USD; not an ISO 4217 code). '
            f"The ledger books it as USD with the same amount ({row['amount']}), so there is "
            f"also a currency mismatch f5xc↔ledger (secondary).",
        )
    )

    a = one(af_invoices, "amberflo_na")
    e, row = entry("amberflo_na")
    out.append(
        finding(
            17,
            "schema",
            "amberflo",
            a["id"],
            currency="USD",
            field="totalBill.totalPrice",
            actual_value="n/a",
            secondary=[
                {
                    "kind": "counterpart_quarantined",
                    "source": "ledger",
                    "invoice_id": e,
                    "counterpart_source": "amberflo",
                    "counterpart_key": a["id"],
                    "field": None,
                    "expected_value": None,
                    "actual_value": None,
                }
            ],
            notes=f'totalBill.totalPrice is the JSON string "n/a" (wrong type): the record is '
            f"quarantined as a schema finding. The ledger books it normally ({e}, "
            f"{row['amount']} USD): its counterpart exists but is quarantined → "
            f"counterpart_quarantined (secondary; not missing: the booking is there).",
        )
    )
    return out


# ====================================================================================
# Independent check: re-read everything from disk
# ====================================================================================

VALID_CURRENCIES = frozenset(EXP)


def _pages(folder: Path) -> list[tuple[dict[str, Any], Any]]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    out = []
    for entry in manifest["pages"]:
        body = (folder / entry["file"]).read_bytes()
        out.append((entry, json.loads(body, parse_float=Decimal)))
    return out


def _num(v: Any) -> bool:
    return isinstance(v, (int, Decimal)) and not isinstance(v, bool)


def check(out_dir: Path) -> tuple[set[tuple[Any, ...]], list[str], dict[str, Any]]:
    """Return (findings, amberflo ids whose parts round to cents with a gap, provider index)."""
    rec = out_dir / "recordings"
    found: set[tuple[Any, ...]] = set()
    quarantined: dict[str, set[str]] = defaultdict(set)  # source -> ids read but unreadable
    # provider index: source -> key -> (canonical id, currency, total minor)
    index: dict[str, dict[str, tuple[str, str, int]]] = defaultdict(dict)
    dup_keys: dict[str, set[str]] = defaultdict(set)

    # F5
    ((entry, body),) = _pages(rec / "f5xc")
    for inv in body["invoices"]:
        assert isinstance(inv["amount"], str)
        if not in_period(parse_rfc3339(inv["period_start"])):
            continue
        if inv["currency"] not in VALID_CURRENCIES:
            found.add(("invalid_currency", "f5xc", inv["name"]))
        index["f5xc"][inv["name"]] = (inv["name"], inv["currency"], int(inv["amount"]))

    # Amberflo
    gaps: list[str] = []
    for _entry, body in _pages(rec / "amberflo"):
        for inv in body or []:
            k = inv["invoiceKey"]
            cid = (
                f"{k['customerId']}/{k['productId']}/{k['productPlanId']}/"
                f"{k['year']:04d}-{k['month']:02d}-{k['day']:02d}"
            )
            tb = inv["totalBill"]
            if not all(_num(v) for v in tb.values()):
                found.add(("schema", "amberflo", cid))
                quarantined["amberflo"].add(cid)
                continue
            if not in_period(datetime.fromtimestamp(inv["invoiceStartTimeInSeconds"], UTC)):
                continue
            c = {
                f: to_minor(D(tb[f]), "USD")
                for f in tb
                if f.endswith(("Price", "Discount", "prepaid", "BeforePrepaid"))
            }
            items = [
                to_minor(D(p["totalBill"]["price"]), "USD") for p in inv["productItemInvoices"]
            ]
            fees = [to_minor(D(f["cost"]), "USD") for f in inv["productPlanFees"]]
            promos = [to_minor(D(p["discount"]), "USD") for p in inv["appliedPromotions"]]
            chain = {
                "before_discount": c["itemPrice"] + c["fixPrice"] - c["totalPriceBeforeDiscount"],
                "before_prepaid": c["totalPriceBeforeDiscount"]
                - c["totalDiscount"]
                - c["totalPriceBeforePrepaid"],
                "total": c["totalPriceBeforePrepaid"] - c["prepaid"] - c["totalPrice"],
                "one_shot": c["itemPrice"]
                + c["fixPrice"]
                - c["totalDiscount"]
                - c["prepaid"]
                - c["totalPrice"],
                "one_shot_from_before_discount": c["totalPriceBeforeDiscount"]
                - c["totalDiscount"]
                - c["prepaid"]
                - c["totalPrice"],
            }
            parts = {
                "items": sum(items) - c["itemPrice"],
                "fees": sum(fees) - c["fixPrice"],
                "promotions": sum(promos) - c["totalDiscount"],
            }
            # exact decimal identities (no rounding): only planted ones may break
            exact_ok = D(tb["itemPrice"]) + D(tb["fixPrice"]) == D(
                tb["totalPriceBeforeDiscount"]
            ) and D(tb["totalPriceBeforeDiscount"]) - D(tb["totalDiscount"]) == D(
                tb["totalPriceBeforePrepaid"]
            )
            assert exact_ok, cid
            # reconcile checks the identities exactly, at Amberflo's own precision
            total = D(tb["totalPriceBeforeDiscount"]) - D(tb["totalDiscount"]) - D(tb["prepaid"])
            if total != D(tb["totalPrice"]):
                found.add(("amberflo_identity", "amberflo", cid))
            elif any(v != 0 for v in chain.values()):
                gaps.append(cid)  # rounded term by term to cents, the parts would not add up
            if sum(D(p["totalBill"]["price"]) for p in inv["productItemInvoices"]) != D(
                tb["itemPrice"]
            ):
                found.add(("amberflo_items", "amberflo", cid))
            assert sum(D(f["cost"]) for f in inv["productPlanFees"]) == D(tb["fixPrice"]), cid
            assert sum(D(p["discount"]) for p in inv["appliedPromotions"]) == D(
                tb["totalDiscount"]
            ), cid
            assert abs(parts["items"]) <= 1 or ("amberflo_items", "amberflo", cid) in found
            assert abs(parts["fees"]) <= 1 and abs(parts["promotions"]) <= 1, cid
            assert inv["invoiceBillInBaseCurrency"] == tb, cid
            index["amberflo"][cid] = (cid, "USD", c["totalPrice"])

    # Commet
    pages = _pages(rec / "commet")
    listed: list[dict[str, Any]] = []
    details: dict[str, dict[str, Any]] = {}
    cursor = None
    for entry, body in pages:
        if entry["kind"] == "list":
            assert entry["query"].get("cursor") == cursor
            listed.extend(body["data"])
            cursor = body.get("nextCursor")
            assert body["hasMore"] == (cursor is not None)
        else:
            assert entry["url"] == f"/api/v1/invoices/{body['id']}"
            details[body["id"]] = body
    assert cursor is None and [i["id"] for i in listed] == list(details)
    numbers: Counter[str] = Counter()
    for item in listed:
        d = details[item["id"]]
        for k, v in item.items():
            assert d[k] == v, (item["id"], k)
        if not in_period(parse_rfc3339(d["periodStart"])):
            continue
        if d["total"] != d["subtotal"] - d["discountAmount"] - d["creditApplied"] + d["taxAmount"]:
            found.add(("commet_identity", "commet", d["id"]))
        li = d["lineItems"]
        charges = sum(
            x["amount"]
            for x in li
            if x["lineType"] not in ("discount", "promo_code_discount", "credit")
        )
        discounts = sum(
            x["amount"] for x in li if x["lineType"] in ("discount", "promo_code_discount")
        )
        credits = sum(x["amount"] for x in li if x["lineType"] == "credit")
        if charges != d["subtotal"]:
            found.add(("commet_lines", "commet", d["id"]))
        assert discounts == -d["discountAmount"] and credits == -d["creditApplied"], d["id"]
        assert all(x["quantity"] * x["unitAmount"] == x["amount"] for x in li), d["id"]
        numbers[d["invoiceNumber"]] += 1
        if d["invoiceNumber"] in index["commet"]:
            dup_keys["commet"].add(d["invoiceNumber"])
            found.add(("duplicate_invoice_number", "commet", d["id"]))
            # the 1:1 commet-ledger pairing cannot match a repeated key: ambiguous
            found.add(("ambiguous_key", "commet", index["commet"][d["invoiceNumber"]][0]))
            continue
        index["commet"][d["invoiceNumber"]] = (d["id"], d["currency"].upper(), d["total"])

    # Stripe
    stripe_by_id: dict[str, dict[str, Any]] = {}
    after = None
    for entry, body in _pages(rec / "stripe"):
        assert entry["query"].get("starting_after") == after
        for inv in body["data"]:
            stripe_by_id[inv["id"]] = inv
        after = body["data"][-1]["id"] if body["has_more"] else None
    assert after is None
    for inv in stripe_by_id.values():
        if not in_period(datetime.fromtimestamp(inv["period_start"], UTC)):
            continue
        disc = sum(x["amount"] for x in inv["total_discount_amounts"])
        excl = sum(x["amount"] for x in inv["total_taxes"] if x["tax_behavior"] == "exclusive")
        if inv["total_excluding_tax"] != inv["subtotal_excluding_tax"] - disc:
            found.add(("stripe_total_excluding_tax", "stripe", inv["id"]))
        if inv["total"] != inv["total_excluding_tax"] + excl:
            found.add(("stripe_total", "stripe", inv["id"]))
        if inv["amount_remaining"] != inv["amount_due"] - inv["amount_paid"]:
            found.add(("stripe_amount_remaining", "stripe", inv["id"]))
        assert inv["starting_balance"] <= 0
        assert inv["amount_due"] == max(0, inv["total"] + inv["starting_balance"]), inv["id"]
        assert (
            inv["ending_balance"] == inv["starting_balance"] + inv["total"] - inv["amount_due"]
        ), inv["id"]
        assert not inv["lines"]["has_more"]
        assert sum(x["amount"] for x in inv["lines"]["data"]) == inv["subtotal"], inv["id"]
        assert inv["subtotal"] == inv["subtotal_excluding_tax"]
        line_tax = sum(t["amount"] for x in inv["lines"]["data"] for t in x["taxes"])
        line_disc = sum(t["amount"] for x in inv["lines"]["data"] for t in x["discount_amounts"])
        assert line_tax == excl and line_disc == disc, inv["id"]
        if inv["currency"] == "kwd":
            assert all(v % 10 == 0 for v in (inv["total"], inv["amount_due"])), inv["id"]
        index["stripe"][inv["id"]] = (inv["id"], inv["currency"].upper(), inv["total"])

    # Frontier ↔ Stripe
    ((entry, body),) = _pages(rec / "frontier")
    assert entry["method"] == "POST"
    paired = set()
    for fr in body["invoices"]:
        st = stripe_by_id[fr["provider_id"]]
        paired.add(fr["provider_id"])
        assert fr["state"] == st["status"] and fr["currency"] == st["currency"]
        assert parse_rfc3339(fr["period_start_at"]) == datetime.fromtimestamp(
            st["period_start"], UTC
        )
        assert "amount" not in fr or fr["amount"] != "0"
        if int(fr.get("amount", "0")) != st["total"]:
            found.add(("amount_mismatch", "frontier", fr["id"]))
    assert paired == set(stripe_by_id), "Frontier must mirror every Stripe invoice 1:1"

    # Ledger ↔ providers
    with (out_dir / "ledger.csv").open(encoding="utf-8", newline="") as fh:
        ledger = list(csv.DictReader(fh))
    assert list(ledger[0]) == LEDGER_FIELDS
    booked: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in ledger:
        assert in_period(datetime.fromisoformat(row["posted_on"]).replace(tzinfo=UTC))
        booked[(row["source_system"], row["reference"])].append(row)
    for (src, ref), rows in booked.items():
        for extra in rows[1:]:
            found.add(("duplicate_booking", "ledger", extra["entry_id"]))
        if len(rows) > 1:  # a 1:1 pairing cannot match a repeated key: ambiguous
            found.add(("ambiguous_key", "ledger", rows[0]["entry_id"]))
        row = rows[0]
        if ref in quarantined[src]:  # the counterpart exists but could not be read
            found.add(("counterpart_quarantined", "ledger", row["entry_id"]))
            continue
        if ref not in index[src]:
            found.add(("missing_in_provider", "ledger", row["entry_id"]))
            continue
        pid, pcur, ptotal = index[src][ref]
        amount = D(row["amount"])
        lminor = amount.scaleb(EXP[row["currency"]])
        assert lminor == lminor.to_integral_value(), row
        lminor = int(lminor)
        if row["currency"] != pcur:
            found.add(("currency_mismatch", src, pid))
            assert lminor == ptotal or pcur not in EXP  # same digits
        elif lminor != ptotal:
            kind = "scale_error" if ptotal in (lminor * 100, lminor // 100) else "amount_mismatch"
            found.add((kind, src, pid))
    for src in ("f5xc", "amberflo", "commet", "stripe"):
        for key, (pid, _, _) in index[src].items():
            if (src, key) not in booked:
                found.add(("missing_in_ledger", src, pid))
    return found, gaps, index


# ====================================================================================
# README
# ====================================================================================


def summary(
    stripe: list[dict[str, Any]],
    frontier: list[dict[str, Any]],
    commet: list[dict[str, Any]],
    amberflo: list[dict[str, Any]],
    f5: list[dict[str, Any]],
    ledger: list[dict[str, str]],
) -> dict[str, Any]:
    def tally(items: list[tuple[str, int]]) -> dict[str, tuple[int, int]]:
        t: dict[str, list[int]] = {}
        for cur, minor in items:
            t.setdefault(cur, [0, 0])
            t[cur][0] += 1
            t[cur][1] += minor
        return {c: (n, s) for c, (n, s) in sorted(t.items())}

    af_invs = [i for p in amberflo for i in p["invoices"] or []]
    return {
        "stripe": tally([(i["currency"], i["wire"]["total"]) for i in stripe]),
        "frontier": tally([(f["stripe"]["currency"], f["amount"]) for f in frontier]),
        "commet": tally([(i["currency"], i["detail"]["total"]) for i in commet]),
        "amberflo": tally(
            [("USD", to_minor(i["total"], "USD")) for i in af_invs if i["plant"] != "amberflo_na"]
        ),
        "f5xc": tally([(i["currency"], i["amount"]) for i in f5 if i["in_period"]]),
        "ledger": tally([(r["currency"], to_minor(D(r["amount"]), r["currency"])) for r in ledger]),
        "ledger_by_source": Counter(r["source_system"] for r in ledger),
        "amberflo_pages": len(amberflo),
        "amberflo_invoices": len(af_invs),
    }


def readme(
    stats: dict[str, Any],
    stripe: list[dict[str, Any]],
    commet: list[dict[str, Any]],
    amberflo: list[dict[str, Any]],
    f5: list[dict[str, Any]],
    expected: list[dict[str, Any]],
    gaps: list[str],
    pages: dict[str, int],
) -> str:
    af_invs = {i["id"]: i for p in amberflo for i in p["invoices"] or []}
    null_pages = [p["customer"] for p in amberflo if p["invoices"] is None]
    stripe_oneoff = sum(1 for i in stripe if i["kind"] == "manual")
    commet_oneoff = sum(1 for i in commet if i["detail"]["invoiceType"] != "recurring")
    plan_change = [c for c, (_, specs) in AMBERFLO_CUSTOMERS.items() if specs and len(specs) > 1]

    def rows(src: str) -> list[str]:
        return [
            f"| {src} | {cur} | {n} | {fmt_human(s, cur)} |" for cur, (n, s) in stats[src].items()
        ]

    L: list[str] = []
    L += [
        "# Sample month: October 2026 — Northwind Cloud Ltd",
        "",
        "Generated by `python sample_data/generate.py` (deterministic, seed "
        f"{SEED}; do not edit the outputs by hand — change the generator and re-run).",
        "",
        "Northwind Cloud Ltd is a fictional UK SaaS company. It sells seats and usage to its",
        "customers through three billing providers — **Stripe** (mirrored by a **Raystack "
        "Frontier** deployment),",
        "**Commet** and **Amberflo** — and pays **F5 Distributed Cloud** as a *vendor*. Its ERP "
        "books every",
        "provider invoice of the month once (`ledger.csv`). The month is closed in early "
        "November 2026.",
        "",
        "## Files",
        "",
        "| Path | What |",
        "|---|---|",
        f"| `recordings/stripe/` | `GET /v1/invoices` (basil+ shape), {pages['stripe']} pages of "
        "`limit=10`, `starting_after` pagination, last page `has_more: false` |",
        "| `recordings/frontier/` | `POST /raystack.frontier.v1beta1.FrontierService/"
        "ListInvoices` (Connect ≥ v0.91: zero values omitted), 1 page |",
        f"| `recordings/commet/` | API version 2026-07-31: {pages['commet_list']} list pages "
        f"`GET /api/v1/invoices` (`limit=25`, `hasMore`/`nextCursor`), then "
        f"{pages['commet_detail']} detail pages `GET /api/v1/invoices/{{id}}` (bare invoice "
        "with `lineItems`, `creditApplied`) |",
        f"| `recordings/amberflo/` | `GET /payments/billing/customer-product-invoice/all`, one "
        f"page per customer ({pages['amberflo']} pages; bare JSON arrays) |",
        "| `recordings/f5xc/` | `GET /api/web/namespaces/system/usage/invoices/custom_list"
        '?limit=100`, 1 page `{"invoices": [...]}`, newest first |',
        "| `ledger.csv` | ERP export: `entry_id,posted_on,source_system,reference,customer,"
        "currency,amount,memo` |",
        "| `expected_findings.json` | the planted discrepancies below, machine-readable |",
        "| `generate.py` | the generator (stdlib + `reconcile.recording.write_recording`) |",
        "",
        "Every recording folder is `manifest.json` + `0001.json`, `0002.json`, … with the "
        "SHA-256 of each body (`reconcile/recording.py`).",
        "",
        "## Period rule",
        "",
        "An invoice belongs to the month when its **service period start** is in "
        "`[2026-10-01T00:00:00Z, 2026-11-01T00:00:00Z)` (UTC).",
        "Monthly invoices run 2026-10-01 → 2026-11-01; one-off invoices are dated mid-October "
        "(period start = period end = the issue time).",
        "Every ledger row is posted between 2026-10-01 and 2026-10-31.",
        "",
        "Out of period: only F5's "
        + ", ".join(
            f"`{i['wire']['name']}` (period start {i['wire']['period_start'][:10]})"
            for i in f5
            if not i["in_period"]
        )
        + " — the F5 list returns the vendor's history; the close ignores them and the ledger "
        "does not book them (not findings).",
        "",
        "## What the month contains (in period)",
        "",
        "Totals are the sum of invoice totals as the provider states them, in major units "
        '(Amberflo: `totalBill.totalPrice` rounded half-up to cents; the quarantined `"n/a"` '
        "record is not counted). Frontier's total differs from Stripe's by the planted stale "
        "amount (#11).",
        "",
        "| Source | Currency | Invoices | Total |",
        "|---|---|---:|---:|",
    ]
    for src in ("stripe", "frontier", "commet", "amberflo", "f5xc"):
        L += rows(src)
    L += [
        "",
        f"* **Stripe**: {len(stripe)} invoices ({len(stripe) - stripe_oneoff} monthly "
        f"subscription invoices, {stripe_oneoff} one-off invoices), currencies USD, EUR, JPY "
        "(zero-decimal) and KWD (three-decimal; Stripe amounts end in 0). Statuses "
        + ", ".join(
            f"{k} {v}" for k, v in sorted(Counter(i["wire"]["status"] for i in stripe).items())
        )
        + ". Coupons, exclusive taxes and negative starting balances (customer credit) appear "
        "on some invoices.",
        f"* **Frontier**: {sum(n for n, _ in stats['frontier'].values())}"
        " invoices, one per Stripe invoice (`provider_id` = Stripe `id`, `amount` = Stripe "
        "`total` as an int64 string, `state` = Stripe `status`).",
        f"* **Commet**: {len(commet)} invoices ({len(commet) - commet_oneoff} recurring, "
        f"{commet_oneoff} one-off: adjustment / add-on / one-time / credit purchase), "
        "currencies USD, EUR, GBP and KWD; list items carry no `lineItems`/`creditApplied`, "
        "the detail pages do.",
        f"* **Amberflo**: {stats['amberflo_pages']} customer pages, {stats['amberflo_invoices']}"
        f" invoices (USD, decimal major units, some with 3 decimals from hourly pricing); "
        f"customer `{null_pages[0]}` has no invoices yet (body `null`); "
        + ", ".join(f"`{c}`" for c in plan_change)
        + " changed plan mid-October (two invoices each, keyed by their start dates).",
        f"* **F5** (vendor, USD): {len(f5)} invoices, newest first; "
        f"{sum(1 for i in f5 if i['in_period'])} in October — the monthly platform invoice "
        "plus mid-October one-offs ("
        + ", ".join(
            f"`{i['wire']['name']}`"
            for i in f5
            if i["in_period"] and i["wire"]["period_start"][8:10] != "01"
        )
        + "); `amount` is an int64 string in cents, timestamps carry nanoseconds.",
        f"* **Ledger**: {sum(stats['ledger_by_source'].values())} rows ("
        + ", ".join(f"{k} {v}" for k, v in sorted(stats["ledger_by_source"].items()))
        + "). Frontier is not booked (it mirrors Stripe). Amounts are major units with the "
        "currency's decimals (except the planted JPY row of #9). One customer name needs "
        "HTML/Markdown escaping (`Smith & Sons | <Retail>`), one memo contains `|` and "
        "`*`, names with commas are quoted.",
        "",
        "## Planted discrepancies",
        "",
        "Exactly these; everything else is consistent. Ids are the canonical invoice ids "
        "(F5 `name`, Amberflo `customerId/productId/productPlanId/YYYY-MM-DD`, Commet `id`, "
        "Frontier `id`, Stripe `id`, ledger `entry_id`). Money in minor units.",
        "",
        "| # | What | Where | By how much | Rule that should catch it |",
        "|---:|---|---|---|---|",
    ]
    rule_names = {
        "commet_identity": "Commet identity total = subtotal − discountAmount − creditApplied "
        "+ taxAmount",
        "commet_lines": "Commet Σ charge lines = subtotal",
        "stripe_total_excluding_tax": "Stripe total_excluding_tax = subtotal_excluding_tax − "
        "Σ discounts",
        "stripe_total": "Stripe total = total_excluding_tax + Σ exclusive taxes",
        "stripe_amount_remaining": "Stripe amount_remaining = amount_due − amount_paid",
        "amberflo_identity": "Amberflo totalPrice = beforeDiscount − totalDiscount − prepaid",
        "amberflo_items": "Amberflo itemPrice = Σ productItemInvoices price",
        "amount_mismatch": "cross-source amount match",
        "scale_error": "cross-source amount match (factor 10^n → scale error)",
        "currency_mismatch": "cross-source currency match",
        "missing_in_ledger": "completeness: provider → ledger",
        "missing_in_provider": "completeness: ledger → provider",
        "counterpart_quarantined": "completeness: the counterpart exists but is quarantined",
        "duplicate_booking": "ledger duplicate (source_system, reference)",
        "duplicate_invoice_number": "provider duplicate invoice number",
        "ambiguous_key": "matching: a key with more records than the pairing allows",
        "invalid_currency": "schema / ISO 4217 currency check",
        "schema": "schema validation (record quarantined)",
    }
    for f in expected:
        where = f"{f['source']} `{f['invoice_id']}`"
        if f["kind"] == "missing_in_ledger":
            where += (
                f" ↔ {f['counterpart_source']} (no row with reference `{f['counterpart_key']}`)"
            )
        elif f["counterpart_source"]:
            where += f" ↔ {f['counterpart_source']} `{f['counterpart_key']}`"
        if f["expected_minor"] is not None and f["actual_minor"] is not None:
            by = (
                f"expected {f['expected_minor']}, actual {f['actual_minor']} "
                f"({f['currency']}, Δ {f['actual_minor'] - f['expected_minor']:+d})"
            )
        elif f["expected_value"] and f["actual_value"]:
            by = f"expected `{f['expected_value']}`, actual `{f['actual_value']}`"
        elif f["actual_value"]:
            by = f"`{f['field']}` = `{f['actual_value']}`"
        elif f["expected_minor"] is not None:
            by = f"{f['expected_minor']} {f['currency']} not booked"
        elif f["actual_minor"] is not None:
            by = f"{f['actual_minor']} {f['currency']}"
        else:
            by = "—"
        if f["kind"] == "duplicate_booking":
            by = f"{len(f['related_ids'])} rows × {f['actual_minor']} {f['currency']}"
        what = f["notes"].replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
        rule = rule_names[f["kind"]]
        if f["secondary"]:
            rule += "; also " + ", ".join(
                f"{s['kind']} ({s['source']} `{s['invoice_id']}` ↔ {s['counterpart_source']} "
                f"`{s['counterpart_key']}`)"
                for s in f["secondary"]
            )
        L.append(f"| {f['n']} | **{f['kind']}** — {what} | {where} | {by} | {rule} |")
    L += [
        "",
        "`expected_findings.json` has one object per row above: `n, kind, source, invoice_id, "
        "counterpart_source, counterpart_key, field, currency, expected_minor, actual_minor, "
        "expected_value, actual_value, related_ids, secondary, notes`. For identity rules "
        "`expected` is the value the identity computes from the other fields (or the lines) and"
        " `actual` is the field as sent; for cross-source rules `expected` is the provider's "
        "value and `actual` the counterpart's (ledger or Frontier). `secondary` lists findings "
        "that follow necessarily from the planted item (#16, #17).",
        "",
        "## Not findings",
        "",
        "* **Amberflo's sub-cent amounts (exact, not findings).** Amberflo sends money in "
        "major units with up to 3 decimals; reconcile reads them exactly, so the identities of "
        "these invoices hold to the last digit, with no tolerance. Rounded to cents term by "
        "term they would be off by one cent (the false alarm an exact reader avoids):",
    ]
    for cid in gaps:
        tb = af_invs[cid]["wire"]["totalBill"]
        net = to_minor(tb["totalPriceBeforeDiscount"], "USD") - to_minor(tb["totalDiscount"], "USD")
        L.append(
            f"  * `{cid}`: beforeDiscount {jnum(tb['totalPriceBeforeDiscount'])} − "
            f"discount {jnum(tb['totalDiscount'])} = {jnum(tb['totalPriceBeforePrepaid'])}"
            f" exactly (cents one by one: {to_minor(tb['totalPriceBeforeDiscount'], 'USD')}"
            f" − {to_minor(tb['totalDiscount'], 'USD')} = {net}"
            f" vs {to_minor(tb['totalPriceBeforePrepaid'], 'USD')})"
        )
    L += [
        "  For the ledger, which books cents, each Amberflo total is rounded once, half up, "
        "where the two are compared; the report's *Rounding* section counts those amounts and "
        "their net residue.",
        "* F5's out-of-period invoices (see *Period rule*).",
        "* Stripe invoices whose `amount_due` is below `total` because of a negative "
        "`starting_balance` (customer credit): the ledger books `total`.",
        "* Open / outstanding / pending invoices: booked like paid ones.",
        "",
        "## Changes of class or rule",
        "",
        "* #17's secondary finding was *missing in provider* until reconcile named a "
        "quarantined counterpart: the ledger's booking of the unreadable Amberflo invoice is "
        "not missing anything, its counterpart is there and could not be read, so it is now "
        "`counterpart_quarantined` (same rule, `xsrc.counterpart_present`), and the tie-out "
        "explains its amount under that class.",
        "* Amberflo's identities had a one-cent tolerance while amounts were rounded on "
        "reading; they are exact now, with none, so the three invoices above are no longer "
        '"absorbed by tolerance": they simply hold.',
        "",
    ]
    return "\n".join(L)


# ====================================================================================


def main() -> int:
    stripe = build_stripe()
    frontier = build_frontier(stripe)
    commet = build_commet()
    amberflo = build_amberflo()
    f5 = build_f5()
    ledger, tags = build_ledger(stripe, commet, amberflo, f5)
    expected = build_expected(stripe, frontier, commet, amberflo, f5, tags)

    rec = HERE / "recordings"
    if rec.exists():
        shutil.rmtree(rec)
    sp = stripe_pages(stripe)
    cp = commet_pages(commet)
    ap = amberflo_pages(amberflo)
    write_recording(rec / "stripe", "stripe", sp)
    write_recording(
        rec / "frontier",
        "frontier",
        [
            {
                "body": body_bytes({"invoices": [f["wire"] for f in frontier]}),
                "kind": "list",
                "method": "POST",
                "url": "/raystack.frontier.v1beta1.FrontierService/ListInvoices",
                "query": {},
                "status": 200,
            }
        ],
    )
    write_recording(rec / "commet", "commet", cp)
    write_recording(rec / "amberflo", "amberflo", ap)
    write_recording(
        rec / "f5xc",
        "f5xc",
        [
            {
                "body": body_bytes({"invoices": [i["wire"] for i in f5]}),
                "kind": "list",
                "method": "GET",
                "url": "/api/web/namespaces/system/usage/invoices/custom_list",
                "query": {"limit": "100"},
                "status": 200,
            }
        ],
    )
    (HERE / "ledger.csv").write_bytes(ledger_bytes(ledger))
    (HERE / "expected_findings.json").write_bytes(body_bytes(expected))

    # --- independent check --------------------------------------------------------
    found, gaps, _ = check(HERE)
    want: set[tuple[Any, ...]] = set()
    for f in expected:
        want.add((f["kind"], f["source"], f["invoice_id"]))
        for s in f["secondary"]:
            want.add((s["kind"], s["source"], s["invoice_id"]))
    missing, extra = want - found, found - want
    assert not missing and not extra, (
        f"planted but not found: {sorted(missing)}; found but not planted: {sorted(extra)}"
    )
    assert len(gaps) >= 2, gaps
    assert len(expected) == 17 and [f["n"] for f in expected] == list(range(1, 18))

    stats = summary(stripe, frontier, commet, amberflo, f5, ledger)
    pages = {
        "stripe": len(sp),
        "commet_list": sum(1 for p in cp if p["kind"] == "list"),
        "commet_detail": sum(1 for p in cp if p["kind"] == "detail"),
        "amberflo": len(ap),
    }
    (HERE / "README.md").write_text(
        readme(stats, stripe, commet, amberflo, f5, expected, gaps, pages), encoding="utf-8"
    )

    print(f"Sample month October 2026 ({COMPANY}) written to {HERE}")
    for src in ("stripe", "frontier", "commet", "amberflo", "f5xc", "ledger"):
        parts = ", ".join(f"{cur} {n} ({fmt_major(s, cur)})" for cur, (n, s) in stats[src].items())
        print(f"  {src:9s} {sum(n for n, _ in stats[src].values()):3d} in period: {parts}")
    print(
        f"  f5xc out of period: {sum(1 for i in f5 if not i['in_period'])}; amberflo pages: "
        f"{stats['amberflo_pages']} (1 null); amberflo 1-cent rounding gaps: {len(gaps)}"
    )
    print(
        f"  planted discrepancies: {len(expected)} (+{len(want) - len(expected)} secondary);"
        f" independent check: exactly these found"
    )
    for f in expected:
        print(f"  {f['n']:2d}. {f['kind']:27s} {f['source']:8s} {f['invoice_id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
