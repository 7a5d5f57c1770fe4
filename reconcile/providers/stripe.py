"""Stripe invoices (API ≥ 2025-03-31.basil): wire JSON to canonical rows.

Pages: ``GET /v1/invoices`` lists ``{"object": "list", "data": [invoice, ...],
"has_more", "url"}``. An invoice embeds the first page of its line items
(``lines``); when ``lines.has_more`` is true the rest comes from
``GET /v1/invoices/{id}/lines`` pages (``Page.kind == "lines"``), which are
merged in by line id. Amounts are Stripe minor units, rescaled to ISO minor
units (Stripe's ISK and MGA differ from ISO). Customer balance is applied
after ``total``, so ``credit_minor`` is not provided; ``starting_balance``,
``ending_balance`` (null until finalized) and the credit notes are, for the
``amount_due`` and balance identities. Discounts: ``discount_minor`` is the
invoice-level discounts of ``total_discount_amounts`` (a line's own discounts,
those in its ``discounts``, are already inside ``subtotal``); a line's
``amount_minor`` is its ``amount`` net of its own discounts (what it adds to
``subtotal``), its ``discount_minor`` its share of the invoice-level ones and
its ``tax_minor`` its ``taxes`` (exclusive and inclusive, as the invoice's).

Stripe's published schema (vendored in tests/providers/stripe_schema.json, its
sources in the README beside it) decides what a valid record is. A field it makes
nullable or optional is read as null when null (or absent), and the rules that
need it are N/A for that record (Normalized.nullable: the canonical schema then
lets it be null): ``total_taxes`` (null on a draft) leaves ``tax_minor`` null,
``total_discount_amounts`` the invoice's ``discount_minor``, a line's
``discount_amounts`` and ``taxes`` its ``discount_minor`` and ``tax_minor``;
``subtotal_excluding_tax``, ``total_excluding_tax`` and ``ending_balance``
theirs. Those four lists are required keys (``Array | null``): one absent is a
record of an older API version (``total_tax_amounts``), quarantined. A record
is quarantined, the message naming the field, where it contradicts the schema
(a field of the wrong type, an amount that is not an integer) or lacks what no
rule can do without (its id, currency, total, the other amounts the schema
requires). An enum value the schema does not list is read as sent (a status
as ``unknown``; every tax counts whatever its ``tax_behavior``): newer SDKs type
Stripe's enums as open.

The fetch (``fetch``: what a live run asks Stripe for, the neighbouring periods
read for timing, the remaining line pages) is in stripe_fetch.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any

from reconcile import money
from reconcile.errors import InputDataError
from reconcile.providers._base import (
    Normalized,
    Page,
    RecordError,
    Seen,
    bad_page,
    check_version,
    currency_code,
    each_record,
    enum_value,
    epoch_seconds,
    exact_decimal,
    invoice_row,
    line_row,
    load_json,
    minor,
    nested,
    objects,
    opt_nested,
    opt_text,
    provided,
    req,
    rescaled,
    text,
    within,
)
from reconcile.providers._options import NO_OPTIONS, Option
from reconcile.providers.stripe_fetch import BESIDE
from reconcile.providers.stripe_fetch import auth_headers as auth_headers
from reconcile.providers.stripe_fetch import base_url as base_url
from reconcile.providers.stripe_fetch import fetch as fetch
from reconcile.schema import QUANTITY_DTYPE, UNIT_AMOUNT_DTYPE

PROVIDER = "stripe"
#: the API versions whose invoice shape this normalizer reads: basil (2025-03-31) and
#: later (total_taxes, parent, pricing; before it: tax, total_tax_amounts, price)
READS_VERSIONS = "2025-03-31.basil or later"


def readable_version(version: Any) -> bool:
    """A Stripe-Version (``YYYY-MM-DD`` or ``YYYY-MM-DD.name``) of basil or later."""
    return (
        isinstance(version, str)
        and re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.[a-z]+)?", version) is not None
        and version[:10] >= "2025-03-31"
    )


OPTIONS = {
    "api_version": Option(
        str,
        "the Stripe-Version pinned (default 2025-03-31.basil)",
        live=True,
        accepts=readable_version,
        accepts_help=f"a Stripe API version this normalizer reads: {READS_VERSIONS}",
    ),
    "limit": Option(
        int, "invoices per page (default and maximum 100)", minimum=1, maximum=100, live=True
    ),
}

#: money columns Stripe's published schema lets be null (a draft's total_taxes and
#: total_discount_amounts, subtotal/total_excluding_tax: tests/providers/stripe_schema.json)
NULLABLE = frozenset(
    {"tax_minor", "discount_minor", "subtotal_excluding_tax_minor", "total_excluding_tax_minor"}
)

#: Stripe's invoice statuses (Frontier copies them verbatim into ``state``)
STATUSES = {s: s for s in ("draft", "open", "paid", "uncollectible", "void")}
#: canonical column <- invoice integer amount field
_MONEY = {
    "subtotal_minor": "subtotal",
    "subtotal_excluding_tax_minor": "subtotal_excluding_tax",
    "shipping_minor": "amount_shipping",
    "total_minor": "total",
    "total_excluding_tax_minor": "total_excluding_tax",
    "amount_due_minor": "amount_due",
    "amount_paid_minor": "amount_paid",
    "amount_remaining_minor": "amount_remaining",
    "starting_balance_minor": "starting_balance",
    "ending_balance_minor": "ending_balance",
    "pre_payment_credit_notes_minor": "pre_payment_credit_notes_amount",
    "post_payment_credit_notes_minor": "post_payment_credit_notes_amount",
}
#: documented as nullable (absent on some older invoices; ending_balance until finalized)
_NULLABLE = frozenset({"subtotal_excluding_tax", "total_excluding_tax", "ending_balance"})
_COLUMNS = (
    "invoice_number",
    "customer_id",
    "customer_name",
    "raw_status",
    *_MONEY,
    "discount_minor",
    "tax_minor",
    "period_start",
    "period_end",
    "issued_at",
    "due_at",
    "memo",
)
_LINES_PATH = re.compile(r"/invoices/([^/?#]+)/lines")
_LIST = '{"object": "list", "data": [...]}'


def _list_data(page: Page, source: str, body: Any) -> list[Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or body.get("object") != "list":
        raise bad_page(page, source, body, _LIST)
    return data


class _LinePages:
    """Line items from ``GET /v1/invoices/{id}/lines`` pages, per invoice id."""

    def __init__(self) -> None:
        self.items: dict[str, list[tuple[str, Any]]] = {}  # id -> [(location, line item)]
        self.first_page: dict[str, str] = {}  # id -> location of its first lines page
        self.complete: set[str] = set()  # ids with a page whose has_more is false

    def add(self, page: Page, source: str, body: Any) -> None:
        data = _list_data(page, source, body)
        match = _LINES_PATH.search(page.endpoint)
        ids = {match.group(1)} if match else set()
        for index, item in enumerate(data):
            named = item.get("invoice") if isinstance(item, dict) else None
            iid = match.group(1) if match else named
            if not isinstance(iid, str):
                raise bad_page(page, source, body, "GET /v1/invoices/{id}/lines or items naming it")
            self.items.setdefault(iid, []).append((f"{page.location} record {index}", item))
            ids.add(iid)
        for iid in ids:
            self.first_page.setdefault(iid, page.location)
            if body.get("has_more") is False:
                self.complete.add(iid)

    def lines(self, invoice: Mapping[str, Any], iid: str, location: str) -> list[tuple[str, Any]]:
        """All line items of an invoice, embedded ones first, each line id once."""
        embedded = nested(invoice, "lines")
        more = embedded.get("has_more")
        if more is not None and not isinstance(more, bool):
            raise RecordError(
                f"field 'lines.has_more' should be true or false, got {type(more).__name__}"
            )
        if more is True and iid not in self.complete:
            why = "has_more is still true on the last" if iid in self.first_page else "no"
            raise RecordError(
                f"line items incomplete: lines.has_more is true and {why} "
                f"GET /v1/invoices/{iid}/lines page was fetched"
            )
        found = [(location, item) for item in objects(embedded, "data", required=True)]
        merged: dict[str, tuple[str, Any]] = {}
        for where, item in found + self.items.get(iid, []):
            if not isinstance(item, Mapping):
                raise RecordError(f"line item at {where} is not a JSON object")
            line_id = text(req(item, "id"), "line item id")
            if line_id in merged and merged[line_id][1] != item:
                raise RecordError(f"line item {line_id} differs between pages ({where})")
            merged.setdefault(line_id, (where, item))
        return list(merged.values())


def _customer_id(invoice: Mapping[str, Any]) -> str | None:
    """``customer``: an id, or the customer object when the fetch expanded it."""
    customer = invoice.get("customer")
    if isinstance(customer, Mapping):
        return opt_text(customer, "id")
    return opt_text(invoice, "customer")


def _amount(
    rec: Mapping[str, Any], key: str, currency: str, *, required: bool = True
) -> int | None:
    value = minor(rec, key, required=required)
    return None if value is None else rescaled(value, currency, PROVIDER, key)


def _sum(items: list[Mapping[str, Any]], key: str, currency: str) -> int:
    with within(key):
        total = money.minor_int(sum(minor(item, "amount") or 0 for item in items))
    return rescaled(total, currency, PROVIDER, key)


def _nullable_objects(rec: Mapping[str, Any], key: str) -> list[Mapping[str, Any]] | None:
    """A required ``Array<T> | null`` field: None when null, else its objects. Absent, it
    contradicts the schema (an older API version's record: ``total_tax_amounts``)."""
    if key not in rec:
        raise RecordError(f"missing required field {key!r} (null or a list since 2025-03-31.basil)")
    return None if rec[key] is None else objects(rec, key)


def _taxes(rec: Mapping[str, Any], key: str, currency: str) -> int | None:
    """Every tax of ``total_taxes`` / a line's ``taxes``, exclusive and inclusive (None
    when null): what ``total`` adds to ``total_excluding_tax``, which Stripe documents
    as "excluding all tax" (an inclusive tax is inside ``subtotal`` and ``total``, not
    inside ``total_excluding_tax``)."""
    taxes = _nullable_objects(rec, key)
    if taxes is None:
        return None
    for tax in taxes:
        behavior = tax.get("tax_behavior")
        if behavior is not None and not isinstance(behavior, str):
            raise RecordError(
                f"field {key!r}: a tax_behavior should be a string, got {type(behavior).__name__}"
            )
    return _sum(taxes, key, currency)


def _id_of(value: Any, key: str) -> str | None:
    """A discount's id: the id itself, or the discount object's when expanded."""
    rid = value.get("id") if isinstance(value, Mapping) else value
    if rid is not None and not isinstance(rid, str):
        raise RecordError(
            f"field {key!r}: a discount id should be a string, got {type(rid).__name__}"
        )
    return rid


def _discount_id(entry: Mapping[str, Any]) -> str | None:
    """A discount amount's ``discount``: its id, or the discount object when expanded."""
    return _id_of(entry.get("discount"), "discount")


def _ids(values: Any) -> set[str | None]:
    """The ids of a ``discounts`` list (ids or expanded objects)."""
    if values is None:
        return set()
    if not isinstance(values, list):
        raise RecordError(f"field 'discounts' should be a list, got {type(values).__name__}")
    return {_id_of(v, "discounts") for v in values}


def _split_discounts(
    entries: list[Mapping[str, Any]], own: set[str | None]
) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """``(item-level, invoice-level)`` discount amounts: a line's own discounts (its
    ``discounts``) are already inside the invoice's ``subtotal``; the others are the
    invoice-level discounts that ``total_excluding_tax`` deducts."""
    item = [e for e in entries if _discount_id(e) in own]
    return item, [e for e in entries if _discount_id(e) not in own]


#: decimal places Stripe's schema allows a ``quantity_decimal`` and a
#: ``unit_amount_decimal`` ("a decimal value with at most 12 decimal places")
_DECIMAL_PLACES = 12


def _held(value: Decimal | None, places: int) -> Decimal | None:
    """``value``, or None where it is finer than the canonical column holds: Stripe's
    schema allows it, so the line is read, its quantity or unit price N/A (no rule
    for Stripe reads either: its line amount is Stripe's own ``amount``)."""
    return None if value is None or money.places(value) > places else value


def _unit_amount(pricing: Mapping[str, Any], currency: str) -> Decimal | None:
    """``pricing.unit_amount_decimal`` (Stripe minor units) in ISO minor units, exact."""
    key = "pricing.unit_amount_decimal"
    value = exact_decimal(pricing.get("unit_amount_decimal"), key, _DECIMAL_PLACES)
    if value is None:
        return None
    shift = money.minor_exponent(currency) - money.minor_exponent(currency, PROVIDER)
    return _held(value.scaleb(shift) if shift else value, UNIT_AMOUNT_DTYPE.scale)


def _line(
    source: str, iid: str, line_no: int, where: str, item: Mapping[str, Any]
) -> dict[str, Any]:
    """A line item: ``amount_minor`` net of the line's own (item-level) discounts, as it
    enters the invoice's ``subtotal``; ``discount_minor`` its share of invoice-level
    discounts; ``tax_minor`` its taxes (exclusive and inclusive)."""
    currency = currency_code(req(item, "currency"))
    amount = _amount(item, "amount", currency)  # checks the currency before _unit_amount
    assert amount is not None
    quantity = item.get("quantity_decimal")
    quantity = item.get("quantity") if quantity is None else quantity
    quantity = _held(exact_decimal(quantity, "quantity", _DECIMAL_PLACES), QUANTITY_DTYPE.scale)
    parent = opt_nested(item, "parent") or {}
    amounts = _nullable_objects(item, "discount_amounts")
    own, shared = _split_discounts(amounts or [], _ids(item.get("discounts")))
    return line_row(
        source,
        iid,
        line_no,
        where,
        line_id=item["id"],
        line_type=opt_text(parent, "type"),
        description=opt_text(item, "description"),
        quantity=quantity,
        unit_amount=_unit_amount(opt_nested(item, "pricing") or {}, currency),
        amount_minor=amount - _sum(own, "discount_amounts", currency),
        discount_minor=None if amounts is None else _sum(shared, "discount_amounts", currency),
        tax_minor=_taxes(item, "taxes", currency),
        currency=currency,
    )


def _invoice(
    out: Normalized, line_pages: _LinePages, source: str, record: Mapping[str, Any], location: str
) -> None:
    """One invoice of a list page, and its line items."""
    iid = text(req(record, "id"), "id")
    currency = currency_code(req(record, "currency"))
    raw_status = opt_text(record, "status")
    transitions = opt_nested(record, "status_transitions") or {}
    finalized = epoch_seconds(transitions.get("finalized_at"), "finalized_at")
    tax = _taxes(record, "total_taxes", currency)
    # the neighbouring periods: out of the close, read for timing only (no lines)
    items = [] if out.beside(location) else line_pages.lines(record, iid, location)
    own = set().union(*(_ids(item.get("discounts")) for _, item in items))
    discounts = _nullable_objects(record, "total_discount_amounts")
    _, invoice_level = _split_discounts(discounts or [], own)
    out.invoices.append(
        invoice_row(
            source,
            location,
            invoice_id=iid,
            invoice_number=opt_text(record, "number"),
            customer_id=_customer_id(record),
            customer_name=opt_text(record, "customer_name"),
            currency=currency,
            status=enum_value(raw_status, STATUSES),
            raw_status=raw_status,
            **{
                column: _amount(record, key, currency, required=key not in _NULLABLE)
                for column, key in _MONEY.items()
            },
            discount_minor=None
            if discounts is None
            else _sum(invoice_level, "total_discount_amounts", currency),
            tax_minor=tax,
            period_start=epoch_seconds(req(record, "period_start"), "period_start"),
            period_end=epoch_seconds(req(record, "period_end"), "period_end"),
            issued_at=epoch_seconds(record.get("effective_at"), "effective_at") or finalized,
            due_at=epoch_seconds(record.get("due_date"), "due_date"),
            memo=opt_text(record, "description"),
        )
    )
    for line_no, (where, item) in enumerate(items):
        with within(f"line item {item['id']}"):
            out.lines.append(_line(source, iid, line_no, where, item))


def _read_pages(
    pages: Sequence[Page], source: str
) -> tuple[_LinePages, list[tuple[Page, list[Any]]]]:
    """The line pages, and each list page's records; line items of an invoice that no
    list page holds stop the run."""
    line_pages = _LinePages()
    lists: list[tuple[Page, list[Any]]] = []
    for page in pages:
        check_version(page, source, "stripe-version", readable_version, READS_VERSIONS)
        body = load_json(page, source)
        if page.kind == "lines":
            line_pages.add(page, source, body)
        else:
            lists.append((page, _list_data(page, source, body)))
    listed = {str(rec.get("id")) for _, data in lists for rec in data if isinstance(rec, Mapping)}
    orphans = sorted(line_pages.first_page.keys() - listed)
    if orphans:
        raise InputDataError(
            f"line items for invoice {orphans[0]}, which no invoice list page contains",
            source=source,
            location=line_pages.first_page[orphans[0]],
        )
    return line_pages, lists


def normalize(
    pages: Sequence[Page], source: str, options: Mapping[str, Any] = NO_OPTIONS
) -> Normalized:
    out = Normalized(provided=provided(*_COLUMNS), has_lines=True, nullable=NULLABLE)
    line_pages, lists = _read_pages(pages, source)
    out.beside_pages = {page.location for page, _ in lists if page.kind == BESIDE}
    seen = Seen()
    for page, data in lists:
        each_record(
            out,
            source,
            page,
            data,
            partial(_invoice, out, line_pages, source),
            id_key="id",
            seen=seen,
            keys={"invoice_number": "number", "customer_id": "customer"},
        )
    return out
