"""Amberflo customer-product invoices: wire JSON to canonical rows.

Pages: ``/all`` answers a bare JSON array, or ``null``/an empty body when the
customer has no invoice; the ``?latest=true`` get answers one object (``{}`` =
none). The identity is the composite ``invoiceKey``. Money is in *major* units
(JSON numbers, read as Decimal) and is converted to minor units with the
project's rounding policy; every rounding is reported as a residue. No currency
on the wire: ``options["currency"]`` (default USD). No tax fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from reconcile.providers._base import (
    NO_OPTIONS,
    Converter,
    Normalized,
    Page,
    Seen,
    bad_page,
    currency_code,
    each_record,
    enum_value,
    epoch_seconds,
    exact_decimal,
    integer,
    invoice_row,
    line_row,
    load_json,
    nested,
    objects,
    opt_text,
    provided,
    req,
    text,
    within,
)

PROVIDER = "amberflo"

_PAYMENT_STATUS = {
    "settled": "paid",
    "not_needed": "paid",
    "failed": "open",
    "pending": "open",
    "requires_action": "open",
    "pre_payment": "open",
    "unknown": "unknown",
}
#: invoicePriceStatus values meaning the amount can still change
_RUNNING = frozenset({"open", "grace_period"})

#: canonical column <- totalBill field (major units)
_BILL = {
    "subtotal_minor": "totalPriceBeforeDiscount",
    "discount_minor": "totalDiscount",
    "credit_minor": "prepaid",
    "total_minor": "totalPrice",
    "item_price_minor": "itemPrice",
    "fixed_price_minor": "fixPrice",
}


def invoice_id(key: Mapping[str, Any]) -> str:
    """``customerId/productId/productPlanId/YYYY-MM-DD`` (the invoice start date)."""
    names = ("customerId", "productId", "productPlanId")
    ids = [text(req(key, k), f"invoiceKey.{k}") for k in names]
    year, month, day = (integer(req(key, k), f"invoiceKey.{k}") for k in ("year", "month", "day"))
    return f"{'/'.join(ids)}/{year:04d}-{month:02d}-{day:02d}"


def _record_id(record: Mapping[str, Any]) -> str:
    return invoice_id(nested(record, "invoiceKey"))


def _status(record: Mapping[str, Any]) -> tuple[str, str | None]:
    raw = opt_text(record, "paymentStatus")
    status = enum_value(raw, _PAYMENT_STATUS)
    price_status = opt_text(record, "invoicePriceStatus")
    if price_status is not None and price_status.strip().lower() in _RUNNING:
        status = "draft"
    return status, raw


def _records(page: Page, source: str) -> list[Any]:
    body = load_json(page, source)
    if body is None or body == {}:
        return []  # no invoice yet
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and "invoiceKey" in body:
        return [body]  # the get endpoint (?latest=true or a given start date)
    raise bad_page(page, source, body, "a JSON array of invoices or one invoice object")


def normalize(
    pages: Sequence[Page], source: str, options: Mapping[str, Any] = NO_OPTIONS
) -> Normalized:
    out = Normalized(
        provided=provided(
            "customer_id", "raw_status", *_BILL, "period_start", "period_end", "due_at"
        ),
        has_lines=True,
    )
    convert = Converter(source, PROVIDER, out.residues)
    seen = Seen()

    def parse(record: Mapping[str, Any], location: str) -> None:
        key = nested(record, "invoiceKey")
        iid = invoice_id(key)
        currency = currency_code(options.get("currency", "USD"), "options.currency")
        bill = nested(record, "totalBill")
        amounts = {
            column: convert(req(bill, name), currency, iid, f"totalBill.{name}")
            for column, name in _BILL.items()
        }
        start = epoch_seconds(req(record, "invoiceStartTimeInSeconds"), "invoiceStartTimeInSeconds")
        end = epoch_seconds(req(record, "invoiceEndTimeInSeconds"), "invoiceEndTimeInSeconds")
        assert end is not None  # req() refused null
        grace = record.get("gracePeriodInHours")
        due = None if grace is None else end + timedelta(hours=integer(grace, "gracePeriodInHours"))
        status, raw_status = _status(record)
        out.invoices.append(
            invoice_row(
                source,
                location,
                invoice_id=iid,
                customer_id=text(req(key, "customerId"), "invoiceKey.customerId"),
                currency=currency,
                status=status,
                raw_status=raw_status,
                period_start=start,
                period_end=end,
                due_at=due,
                **amounts,
            )
        )
        # usage lines (one per product item), then the plan's fixed fees
        items = [
            ("usage", f"productItemInvoices[{i}]", item)
            for i, item in enumerate(objects(record, "productItemInvoices"))
        ]
        items += [
            ("fee", f"productPlanFees[{i}]", fee)
            for i, fee in enumerate(objects(record, "productPlanFees"))
        ]
        for line_no, (line_type, path, item) in enumerate(items):
            with within(path):
                if line_type == "usage":
                    item_bill = nested(item, "totalBill")
                    line_id, name = opt_text(item, "productItemId"), "productItemName"
                    quantity = exact_decimal(item_bill.get("meterUnits"), "meterUnits", 9)
                    price, price_path = req(item_bill, "price"), f"{path}.totalBill.price"
                else:
                    line_id, name = opt_text(item, "id"), "name"
                    quantity, price, price_path = Decimal(1), req(item, "cost"), f"{path}.cost"
                out.lines.append(
                    line_row(
                        source,
                        iid,
                        line_no,
                        location,
                        line_id=line_id,
                        line_type=line_type,
                        description=opt_text(item, name),
                        quantity=quantity,
                        unit_amount=None,  # tiered pricing: no single unit price
                        amount_minor=convert(price, currency, iid, price_path),
                        currency=currency,
                    )
                )

    for page in pages:
        records = _records(page, source)
        each_record(out, source, page, records, parse, id_key=_record_id, seen=seen)
    return out
