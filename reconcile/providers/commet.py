"""Commet invoices (``Commet-Version`` 2026-07-11 … 2026-07-31): wire JSON to canonical rows.

Page shapes, recognised by content:

* ≤ 2026-07-11: ``{"success": true, "data": [Invoice, ...], "hasMore", "nextCursor"}``
  (list) or ``{"success": true, "data": Invoice}`` (get); full invoices.
* ≥ 2026-07-24: ``{"object": "list", "data": [...], "hasMore", "nextCursor"?}``.
  From 2026-07-31 (``options["api_version"]``, default) the items are
  ``InvoiceListItem`` without ``lineItems``/``creditApplied``; the bare invoice
  from ``GET /invoices/{id}`` (``Page.kind == "detail"``) completes them by id.
* Errors (``{"success": false, "error": ...}`` or ``{"error": ...}``) stop the run.

Once any full invoice or detail page is present, the source has line items and
``creditApplied``, so a listed invoice without its detail page is rejected.
Amounts are integer cents; ``lineItems[].unitAmount`` is kept exact.

Fetch (``fetch``): ``x-api-key``; ``Commet-Version`` pinned to
``options.api_version`` (default 2026-07-31, the newest shape this normalizer
reads). ``GET /api/v1/invoices?limit=N`` (N ≤ 100, default 100), following
``nextCursor`` while ``hasMore`` is true; a cursor given twice is a loop and
stops the run, as does an invoice repeated on a later page with different
content. From 2026-07-31 each listed invoice's ``GET /api/v1/invoices/{id}``
(``kind: "detail"``) is fetched too, concurrently within the source's limit,
and must answer that id. The list has no date filter: every invoice comes back,
and the run keeps those whose ``periodStart`` (UTC) falls in ``[start, end)``
(the source's ``period_field``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from reconcile import money
from reconcile.providers._base import (
    Normalized,
    Page,
    RecordError,
    Seen,
    bad_page,
    check_version,
    currency_code,
    enum_value,
    exact_decimal,
    invoice_row,
    line_row,
    load_json,
    located,
    minor,
    objects,
    opt_text,
    parse_records,
    provided,
    req,
    rfc3339,
    text,
    within,
)
from reconcile.providers._http import FetchedPage, ProviderClient
from reconcile.providers._options import NO_OPTIONS, Option
from reconcile.providers._paging import Cursors, Records, json_body, shape

PROVIDER = "commet"
#: the API's host; paths carry the /api/v1 prefix
BASE_URL = "https://commet.co"
#: the Commet-Version values whose shapes this normalizer reads
API_VERSIONS = ("2026-07-11", "2026-07-24", "2026-07-31")
OPTIONS = {
    "api_version": Option(
        str, "the Commet-Version pinned (default 2026-07-31)", choices=API_VERSIONS
    ),
    "limit": Option(
        int, "invoices per list page (default and maximum 100)", minimum=1, maximum=100, live=True
    ),
}
LIST_PATH = "/api/v1/invoices"
#: the first version whose list items lack lineItems and creditApplied
SUMMARY_LIST_VERSION = "2026-07-31"

_STATUS = {
    "draft": "draft",
    "upcoming": "draft",
    "outstanding": "open",
    "paid": "paid",
    "void": "void",
    "uncollectible": "uncollectible",
}
_MONEY = {
    "subtotal_minor": "subtotal",
    "discount_minor": "discountAmount",
    "tax_minor": "taxAmount",
    "total_minor": "total",
}
_DATES = {
    "period_start": "periodStart",
    "period_end": "periodEnd",
    "issued_at": "issueDate",
    "due_at": "dueDate",
}
_EXPECTED = (
    '{"success": true, "data": ...}, {"object": "list", "data": [...]} '
    "or an invoice object (GET /invoices/{id})"
)


def _classify(page: Page, source: str, full_list: bool) -> tuple[str, list[Any]]:
    """``("full" | "summary" | "detail", records)`` for one page."""
    body = load_json(page, source)
    if isinstance(body, dict) and "error" not in body:
        data = body.get("data")
        if body.get("success") is True and isinstance(data, list | dict):
            return "full", data if isinstance(data, list) else [data]
        if "success" not in body and body.get("object") == "list" and isinstance(data, list):
            return ("full" if full_list else "summary"), data
        is_invoice = page.kind == "detail" or body.get("object") == "invoice"
        if is_invoice and isinstance(body.get("id"), str):
            return "detail", [body]
    raise bad_page(page, source, body, _EXPECTED)


def _id(record: Any) -> str | None:
    rid = record.get("id") if isinstance(record, Mapping) else None
    return rid if isinstance(rid, str) else None


@dataclass
class _Read:
    """A source's pages sorted out: the listed records in page order and the
    ``GET /invoices/{id}`` responses by id."""

    #: (location, record, is_summary): a list item, in page order
    items: list[tuple[str, Any, bool]] = field(default_factory=list)
    #: id -> (location, invoice) of each detail page
    details: dict[str, tuple[str, Mapping[str, Any]]] = field(default_factory=dict)
    #: id -> locations of detail pages that differ
    conflicts: dict[str, list[str]] = field(default_factory=dict)
    #: any full invoice or detail page read: the source has lineItems and creditApplied
    complete: bool = False

    def add_detail(self, page: Page, body: Mapping[str, Any], out: Normalized, seen: Seen) -> None:
        iid = body["id"]
        if seen.repeat(body):
            out.duplicates_dropped += 1
        elif iid in self.details:
            self.conflicts.setdefault(iid, [self.details[iid][0]]).append(page.location)
        else:
            self.details[iid] = (page.location, body)
        self.complete = True

    def detail_of(self, record: Any) -> tuple[str, Mapping[str, Any]] | None:
        rid = _id(record)
        return self.details.get(rid) if rid is not None else None

    def records(self) -> list[tuple[str, Any]]:
        """Listed invoices (a list item merged with its detail page, when there is one),
        then the detail pages nobody listed, standing alone."""
        merged = []
        for location, record, summary in self.items:
            detail = self.detail_of(record) if summary else None
            merged.append((location, {**record, **detail[1]} if detail else record))
        listed = {_id(rec) for _, rec, summary in self.items if summary}
        alone = [
            (f"{loc} record 0", body)
            for iid, (loc, body) in self.details.items()
            if iid not in listed
        ]
        return merged + alone

    def line_refs(self) -> dict[str, str]:
        """Where a completed list item's lines come from: its detail page."""
        return {
            location: detail[0]
            for location, record, summary in self.items
            if summary and (detail := self.detail_of(record)) is not None
        }

    def undetailed(self) -> set[str]:
        """List items (2026-07-31) without their detail page while others have one: their
        lines and credit were not fetched."""
        if not self.complete:
            return set()
        return {
            location
            for location, record, summary in self.items
            if summary and self.detail_of(record) is None
        }


def _read_pages(pages: Sequence[Page], source: str, full_list: bool, out: Normalized) -> _Read:
    # detail pages are told apart among themselves: one that carries none of the
    # optional DETAIL fields is the list item's twin, and still that item's detail
    read, seen, seen_details = _Read(), Seen(), Seen()
    for page in pages:
        check_version(
            page, source, "commet-version", API_VERSIONS.__contains__, ", ".join(API_VERSIONS)
        )
        kind, page_records = _classify(page, source, full_list)
        if kind == "detail":
            read.add_detail(page, page_records[0], out, seen_details)
            continue
        read.complete = read.complete or kind == "full"
        for location, record in located(out, page, page_records, seen):
            read.items.append((location, record, kind == "summary"))
    return read


def _number(record: Mapping[str, Any], key: str) -> Any:
    """A field Commet's types publish as ``number``: a JSON number (or null). A number
    written as a string (``"1250"``) contradicts the type: refused, naming the field."""
    value = record.get(key)
    if isinstance(value, str):
        try:
            money.to_decimal(value)
        except money.MoneyError as exc:  # (not a number in any spelling)
            raise RecordError(f"field {key!r}: {exc}") from None
        raise RecordError(f"field {key!r} should be a JSON number, got the string {value!r}")
    return value


def _cents(record: Mapping[str, Any], key: str, *, required: bool = True) -> int | None:
    """An amount in integer cents, a JSON number (see :func:`_number`)."""
    _number(record, key)
    return minor(record, key, required=required)


def _invoice(
    source: str, location: str, record: Mapping[str, Any], iid: str, complete: bool
) -> dict[str, Any]:
    """The canonical invoice row. Absent optional fields (``creditApplied``) are null."""
    raw_status = opt_text(record, "status")
    return invoice_row(
        source,
        location,
        invoice_id=iid,
        invoice_number=opt_text(record, "invoiceNumber"),
        customer_id=opt_text(record, "customerId"),
        currency=currency_code(req(record, "currency")),
        status=enum_value(raw_status, _STATUS),
        raw_status=raw_status,
        credit_minor=_cents(record, "creditApplied", required=False) if complete else None,
        memo=opt_text(record, "memo"),
        **{column: _cents(record, key) for column, key in _MONEY.items()},
        **{column: rfc3339(record.get(key), key) for column, key in _DATES.items()},
    )


def _lines(
    source: str, record: Mapping[str, Any], iid: str, ref: str, currency: str
) -> list[dict[str, Any]]:
    """The canonical line rows of ``lineItems`` (optional: none when absent)."""
    rows = []
    for line_no, item in enumerate(objects(record, "lineItems")):
        with within(f"lineItems[{line_no}]"):
            rows.append(
                line_row(
                    source,
                    iid,
                    line_no,
                    ref,
                    line_type=opt_text(item, "lineType"),
                    description=opt_text(item, "description"),
                    quantity=exact_decimal(_number(item, "quantity"), "quantity", 9),
                    unit_amount=exact_decimal(_number(item, "unitAmount"), "unitAmount", 12),
                    amount_minor=_cents(item, "amount"),
                    currency=currency,
                )
            )
    return rows


def normalize(
    pages: Sequence[Page], source: str, options: Mapping[str, Any] = NO_OPTIONS
) -> Normalized:
    full_list = str(options.get("api_version", SUMMARY_LIST_VERSION)) < SUMMARY_LIST_VERSION
    out = Normalized()
    read = _read_pages(pages, source, full_list, out)
    line_refs, undetailed = read.line_refs(), read.undetailed()

    def parse(record: Mapping[str, Any], location: str) -> None:
        iid = text(req(record, "id"), "id")
        if not iid:
            raise RecordError("field 'id' is empty: no invoice id")
        if iid in read.conflicts:
            raise RecordError(f"conflicting GET /invoices/{iid} responses: {read.conflicts[iid]}")
        if location in undetailed:
            raise RecordError(
                f"line items missing: no GET /invoices/{iid} response for this listed "
                "invoice (needed for lineItems and creditApplied)"
            )
        row = _invoice(source, location, record, iid, read.complete)
        out.invoices.append(row)
        if read.complete:
            ref = line_refs.get(location, location)
            out.lines.extend(_lines(source, record, iid, ref, row["currency"]))
            if record.get("lineItems") is None:  # optional: not sent is not "no lines"
                out.lines_unknown.add(iid)

    parse_records(
        out,
        source,
        read.records(),
        parse,
        id_key="id",
        keys={"invoice_number": "invoiceNumber", "customer_id": "customerId"},
    )
    columns = ("invoice_number", "customer_id", "raw_status", "memo", *_MONEY, *_DATES)
    out.provided = provided(*columns, *(("credit_minor",) if read.complete else ()))
    out.nullable = frozenset({"credit_minor"})  # creditApplied is optional in its Invoice
    out.has_lines = read.complete
    return out


# --- fetch (I/O) ------------------------------------------------------------------------


def base_url(options: Mapping[str, Any]) -> str | None:
    return BASE_URL


def auth_headers(credential: str, options: Mapping[str, Any]) -> dict[str, str]:
    return {"x-api-key": credential}


def _list_records(
    client: ProviderClient, page: FetchedPage, number: int, version: str
) -> tuple[list[Any], bool, Any]:
    """``(records, hasMore, nextCursor)`` of a list page of the pinned version."""
    body = json_body(client, page, number)
    legacy = version <= "2026-07-11"
    expected = (
        '{"success": true, "data": [...], "hasMore": ...}'
        if legacy
        else '{"object": "list", "data": [...], "hasMore": ...}'
    )
    ok = (
        isinstance(body, dict)
        and isinstance(body.get("data"), list)
        and (body.get("success") is True if legacy else body.get("object") == "list")
    )
    if not ok or not isinstance(body.get("hasMore"), bool):
        raise shape(client, page, number, expected, body)
    return body["data"], body["hasMore"], body.get("nextCursor")


def fetch(
    client: ProviderClient,
    options: Mapping[str, Any],
    period_start: datetime,
    period_end: datetime,
) -> list[Page]:
    version = str(options.get("api_version", SUMMARY_LIST_VERSION))
    headers = {"Commet-Version": version}
    limit = int(options.get("limit", 100))
    cursors = Cursors(client, f"GET {LIST_PATH}")
    seen = Records(client)
    pages: list[Page] = []
    ids: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        page = client.get(LIST_PATH, params=params, headers=headers)
        number = len(pages) + 1
        records, has_more, next_cursor = _list_records(client, page, number, version)
        for record in records:
            rid = _id(record)
            if rid is not None and rid not in seen:
                ids.append(rid)
            seen.add(rid, record, page, number)
        client.add_records(len(records))
        pages.append(page)
        if not has_more:
            break
        cursor = cursors.next(next_cursor, number)
    if version < SUMMARY_LIST_VERSION:
        return pages

    def detail(invoice_id: str) -> FetchedPage:
        path = f"{LIST_PATH}/{quote(invoice_id, safe='')}"
        page = client.get(path, kind="detail", headers=headers)
        body = json_body(client, page)
        if not isinstance(body, dict) or body.get("id") != invoice_id:
            got = body.get("id") if isinstance(body, dict) else None
            raise client.fail(
                f"GET /invoices/{invoice_id} answered "
                f"{'invoice ' + repr(got) if got else 'no invoice object'}",
                endpoint=page.endpoint,
            )
        return page

    return pages + client.map(detail, ids)
