"""F5 Distributed Cloud (Volterra) ``ListInvoices``: wire JSON to canonical rows.

Page: ``{"invoices": [InvoiceType, ...]}`` (proto3 JSON; an empty list may come
as ``{}``). ``amount`` is an int64 string in cents and, like every proto3
field, may be omitted when it holds the default (``"0"``, ``STATUS_UNKNOWN``).
The API is tenant-scoped: the customer is the tenant, given as
``options["customer_id"]``. No line items, no subtotal/discount/tax.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconcile.providers._base import (
    NO_OPTIONS,
    Normalized,
    Page,
    RecordError,
    Seen,
    bad_page,
    currency_code,
    each_record,
    enum_value,
    invoice_row,
    load_json,
    minor,
    opt_text,
    provided,
    req,
    rfc3339,
    text,
)

PROVIDER = "f5xc"

_STATUS = {
    "status_pending": "draft",
    "status_issued": "open",
    "overdue": "open",  # sic: no STATUS_ prefix on the wire
    "status_paid": "paid",
    "status_cancelled": "void",
    "status_refunded": "refunded",
    "status_unknown": "unknown",
}
#: an active (not finalised) invoice is a draft unless it is already settled
_FINAL = frozenset({"paid", "void", "refunded"})


def _status(record: Mapping[str, Any]) -> tuple[str, str | None]:
    raw = opt_text(record, "status")
    active = record.get("active", False)
    if not isinstance(active, bool):
        raise RecordError(f"field 'active' should be a boolean, got {active!r}")
    status = enum_value(raw, _STATUS)
    if active and status not in _FINAL:
        status = "draft"
    return status, raw


def normalize(
    pages: Sequence[Page], source: str, options: Mapping[str, Any] = NO_OPTIONS
) -> Normalized:
    customer_id = options.get("customer_id")
    columns = ("raw_status", "total_minor", "period_start", "period_end")
    out = Normalized(provided=provided(*columns, *(("customer_id",) if customer_id else ())))
    seen = Seen()

    def parse(record: Mapping[str, Any], location: str) -> None:
        invoice_id = text(req(record, "name"), "name")
        status, raw_status = _status(record)
        out.invoices.append(
            invoice_row(
                source,
                location,
                invoice_id=invoice_id,
                customer_id=customer_id,
                currency=currency_code(req(record, "currency")),
                status=status,
                raw_status=raw_status,
                total_minor=minor(record, "amount", required=False) or 0,
                period_start=rfc3339(record.get("period_start"), "period_start"),
                period_end=rfc3339(record.get("period_end"), "period_end"),
            )
        )

    for page in pages:
        body = load_json(page, source)
        if body == {}:
            continue  # proto3 JSON omits an empty repeated field
        records = body.get("invoices") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise bad_page(page, source, body, '{"invoices": [...]}')
        each_record(out, source, page, records, parse, id_key="name", seen=seen)
    return out
