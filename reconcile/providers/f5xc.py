"""F5 Distributed Cloud (Volterra) ``ListInvoices``: wire JSON to canonical rows.

Page: ``{"invoices": [InvoiceType, ...]}`` (proto3 JSON; an empty list may come
as ``{}`` or ``{"invoices": null}``). ``amount`` is an int64 string in cents (a
JSON number is accepted, as proto3 JSON parsers do) and, like every proto3 field,
may be omitted or ``null`` when it holds the default (``"0"``, ``false``,
``STATUS_UNKNOWN``). F5's schema makes every field optional; a record without a
``name`` (no id) or a ``currency`` is rejected, naming the field, since no rule can
do without them.
The API is tenant-scoped: the customer is the tenant, given as
``options["customer_id"]``. No line items, no subtotal/discount/tax.

Fetch (``fetch``): ``Authorization: APIToken <token>``; one
``GET /api/web/namespaces/{namespace}/usage/invoices/custom_list?limit=N``. The
API has no pagination and no date filter: every invoice the tenant has comes
back, and the run keeps those whose ``period_start`` (RFC 3339, UTC) falls in
``[start, end)`` (the source's ``period_field``). A list of exactly ``limit``
invoices may have been cut short, so it stops the run (raise ``options.limit``).
With ``options.pdfs: true`` each *paid* invoice of the period
(``STATUS_PAID``; the API serves PDFs of paid invoices) is downloaded from
``invoice_pdf?name=``, its base64 decoded and checked to start with ``%PDF-``,
and handed to the run folder (``ProviderClient.documents``) with its SHA-256;
those responses are kept in the snapshot as ``kind: "pdf"`` pages, which
``normalize`` skips.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from reconcile.providers._base import (
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
from reconcile.providers._http import Document, ProviderClient
from reconcile.providers._options import NO_OPTIONS, Option
from reconcile.providers._paging import json_body, shape

PROVIDER = "f5xc"
#: no public default: the API lives on the tenant's console (see ``base_url``)
BASE_URL = None
OPTIONS = {
    "customer_id": Option(str, "the customer (tenant) the invoices belong to"),
    "tenant": Option(
        str, "tenant name: base_url defaults to https://<tenant>.console.ves.volterra.io", live=True
    ),
    "namespace": Option(str, "namespace of the invoice API (default system)", live=True),
    "limit": Option(
        int,
        "invoices asked for (no pagination; default 1000)",
        minimum=1,
        maximum=100_000,
        live=True,
    ),
    "pdfs": Option(
        bool, "download and archive the PDF of each paid invoice of the period", live=True
    ),
}
DEFAULT_LIMIT = 1000

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
    active = record.get("active")
    if active is None:  # absent or null: proto3's default, false
        active = False
    if not isinstance(active, bool):
        raise RecordError(f"field 'active' should be a boolean, got {active!r}")
    status = enum_value(raw, _STATUS)
    if active and status not in _FINAL:
        status = "draft"
    return status, raw


def _invoices(body: Any) -> list[Any] | None:
    """The records of a ``ListInvoices`` response (None: not that shape). proto3 JSON
    omits an empty repeated field (``{}``) or writes it ``null``; unknown fields beside
    ``invoices`` are allowed."""
    if not isinstance(body, dict) or (body and "invoices" not in body):
        return None
    records = body.get("invoices")
    if records is None:
        return []
    return records if isinstance(records, list) else None


def normalize(
    pages: Sequence[Page], source: str, options: Mapping[str, Any] = NO_OPTIONS
) -> Normalized:
    customer_id = options.get("customer_id")
    columns = ("raw_status", "total_minor", "period_start", "period_end")
    out = Normalized(provided=provided(*columns, *(("customer_id",) if customer_id else ())))
    seen = Seen()

    def parse(record: Mapping[str, Any], location: str) -> None:
        invoice_id = text(req(record, "name"), "name")
        if not invoice_id:  # proto3's default: no name sent
            raise RecordError("field 'name' is empty: no invoice id")
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
        if page.kind == "pdf":
            continue  # a fetched invoice PDF: a source document, not invoice data
        body = load_json(page, source)
        records = _invoices(body) if body is not None else None
        if records is None:
            raise bad_page(page, source, body, '{"invoices": [...]}')
        each_record(out, source, page, records, parse, id_key="name", seen=seen)
    return out


# --- fetch (I/O) ------------------------------------------------------------------------


def base_url(options: Mapping[str, Any]) -> str | None:
    """The tenant's console, when ``options.tenant`` names it."""
    tenant = options.get("tenant")
    return f"https://{tenant}.console.ves.volterra.io" if tenant else BASE_URL


def auth_headers(credential: str, options: Mapping[str, Any]) -> dict[str, str]:
    return {"Authorization": f"APIToken {credential}"}


def _document_name(invoice: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", invoice).strip(".") or "invoice"


def fetch(
    client: ProviderClient,
    options: Mapping[str, Any],
    period_start: datetime,
    period_end: datetime,
) -> list[Page]:
    namespace = str(options.get("namespace", "system"))
    limit = int(options.get("limit", DEFAULT_LIMIT))
    path = f"/api/web/namespaces/{namespace}/usage/invoices/custom_list"
    page = client.get(path, params={"limit": limit})
    body = json_body(client, page, 1)
    records = [] if body is None else _invoices(body)
    if records is None:
        raise shape(client, page, 1, '{"invoices": [...]}', body)
    client.add_records(len(records))
    if len(records) >= limit:
        raise client.fail(
            f"the list holds {len(records)} invoices, as many as were asked for (limit {limit}); "
            "this API has no pagination, so it may have been cut short: raise options.limit",
            endpoint=page.endpoint,
            page=1,
        )
    pages: list[Page] = [page]
    if options.get("pdfs"):
        pages += _pdfs(client, namespace, records, period_start, period_end)
    return pages


def _in_period(record: Any, start: datetime, end: datetime) -> bool:
    try:
        moment = rfc3339(record.get("period_start"), "period_start")
    except RecordError:
        return False
    return moment is not None and start <= moment < end


def _pdfs(
    client: ProviderClient, namespace: str, records: list[Any], start: datetime, end: datetime
) -> list[Page]:
    names = sorted(
        {
            rec["name"]
            for rec in records
            if isinstance(rec, dict)
            and isinstance(rec.get("name"), str)
            and rec.get("status") == "STATUS_PAID"
            and _in_period(rec, start, end)
        }
    )
    path = f"/api/web/namespaces/{namespace}/usage/invoice_pdf"

    def one(name: str) -> Page:
        page = client.get(path, params={"name": name}, kind="pdf")
        body = json_body(client, page)
        encoded = body.get("pdf") if isinstance(body, dict) else None
        if not isinstance(encoded, str):
            raise shape(client, page, None, '{"pdf": "<base64>"}', body)
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise client.fail(
                f"the PDF of invoice {name} is not valid base64", endpoint=page.endpoint
            ) from None
        if not data.startswith(b"%PDF-"):
            raise client.fail(
                f"the document of invoice {name} is not a PDF (it does not start with %PDF-)",
                endpoint=page.endpoint,
            )
        client.keep_document(Document(f"{_document_name(name)}.pdf", data, "application/pdf", name))
        return page

    return client.map(one, names)
