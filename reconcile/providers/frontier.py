"""Raystack Frontier ``ListInvoices``: wire JSON to canonical rows.

Page: ``{"invoices": [Invoice, ...]}`` in two eras that must give identical rows:

* REST gateway (≤ v0.90, ``EmitUnpopulated``): every field present,
  ``amount: "0"``, unset timestamps and ``customer`` as ``null``;
* Connect RPC (≥ v0.91): zero values omitted (no ``amount`` key = 0, no
  ``due_date`` when unset, ``{}`` for an empty list).

``amount`` is the Stripe invoice ``total`` as an int64 string in Stripe's minor
units, rescaled to ISO minor units. ``customer`` is present only with
``expand=customer``. No line items, no subtotal/discount/tax.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconcile.providers._base import (
    NO_OPTIONS,
    Normalized,
    Page,
    Seen,
    bad_page,
    currency_code,
    each_record,
    enum_value,
    invoice_row,
    load_json,
    minor,
    opt_nested,
    opt_text,
    provided,
    req,
    rescaled,
    rfc3339,
    text,
)
from reconcile.providers.stripe import STATUSES

PROVIDER = "frontier"

#: Stripe's invoice statuses, copied verbatim into ``state``
_STATUS = STATUSES
_COLUMNS = (
    "external_ref",
    "customer_id",
    "raw_status",
    "total_minor",
    "period_start",
    "period_end",
    "issued_at",
    "due_at",
)


def normalize(
    pages: Sequence[Page], source: str, options: Mapping[str, Any] = NO_OPTIONS
) -> Normalized:
    out = Normalized()
    seen = Seen()

    def parse(record: Mapping[str, Any], location: str) -> None:
        currency = currency_code(req(record, "currency"))
        customer = opt_nested(record, "customer")
        raw_status = opt_text(record, "state")
        amount = minor(record, "amount", required=False) or 0
        out.invoices.append(
            invoice_row(
                source,
                location,
                invoice_id=text(req(record, "id"), "id"),
                external_ref=opt_text(record, "provider_id"),
                customer_id=opt_text(record, "customer_id"),
                customer_name=opt_text(customer, "name") if customer else None,
                currency=currency,
                status=enum_value(raw_status, _STATUS),
                raw_status=raw_status,
                total_minor=rescaled(amount, currency, PROVIDER, "amount"),
                period_start=rfc3339(record.get("period_start_at"), "period_start_at"),
                period_end=rfc3339(record.get("period_end_at"), "period_end_at"),
                issued_at=rfc3339(record.get("effective_at"), "effective_at")
                or rfc3339(record.get("created_at"), "created_at"),
                due_at=rfc3339(record.get("due_date"), "due_date"),
            )
        )

    for page in pages:
        body = load_json(page, source)
        if body == {}:
            continue  # Connect omits an empty repeated field
        records = body.get("invoices") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise bad_page(page, source, body, '{"invoices": [...]}')
        each_record(out, source, page, records, parse, id_key="id", seen=seen)
    # the customer's name comes only with expand=customer
    expanded = any(row["customer_name"] for row in out.invoices)
    out.provided = provided(*_COLUMNS, *(("customer_name",) if expanded else ()))
    return out
