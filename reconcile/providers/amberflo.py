"""Amberflo customer-product invoices: wire JSON to canonical rows.

Pages: ``/all`` answers a bare JSON array, or ``null``/an empty body when the
customer has no invoice; the ``?latest=true`` get answers one object (``{}`` =
none). The identity is the composite ``invoiceKey``. Money is in *major* units: JSON
numbers, read as Decimal, that are float64 results (``0.30000000000000004``),
so each is cleaned of its float noise (``options["float_decimals"]``, default 6:
money.without_float_noise) and then kept exactly, sub-cent digits included
(reconcile.precision). No currency on the wire: ``options["currency"]`` (default
USD). No tax fields. Lines: usage items (``productItemInvoices[]``, line_type
``usage``), plan fees (``productPlanFees[]``, ``fee``) and applied promotions
(``appliedPromotions[]``, ``promotion``, the discount as a positive amount), so
that ``itemPrice``, ``fixPrice`` and ``totalDiscount`` are each checked against
the items they add up.

Fetch (``fetch``): ``X-API-KEY``; per customer,
``GET /payments/billing/customer-product-invoice/all`` with ``customerId``,
``productId``, ``fromCache=false`` and ``withPaymentStatus=true``
(``fromCache=false``: a close must not read a cache; the flags are kept in each
page's query in the snapshot manifest). The customers are ``options.customers``;
without it the account's customers are listed first (``GET /customers``, a bare
array of objects with ``customerId``; a ``kind: "customers"`` page that
``normalize`` skips). ``/all`` is not paginated and has no date filter: every
invoice of the customer comes back, and the run keeps those whose
``invoiceStartTimeInSeconds`` (epoch seconds, UTC) falls in ``[start, end)``
(the source's ``period_field``). A ``null`` or empty body means no invoices; an
invoice of another customer than the one asked for stops the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from reconcile import money
from reconcile.money import FLOAT_DECIMALS
from reconcile.providers._base import (
    Converter,
    Normalized,
    Page,
    RecordError,
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
from reconcile.providers._http import FetchedPage, ProviderClient
from reconcile.providers._options import NO_OPTIONS, Option
from reconcile.providers._paging import Records, json_body, shape

PROVIDER = "amberflo"
BASE_URL = "https://app.amberflo.io"
OPTIONS = {
    "currency": Option(str, "the invoices' currency (not on the wire; default USD)"),
    "customers": Option(
        list, "customer ids to fetch (default: every customer the account lists)", live=True
    ),
    "product_id": Option(str, "productId of the invoices (default 1)", live=True),
    "float_decimals": Option(
        int,
        "decimals of the major unit Amberflo's float64 amounts are cleaned to (default 6)",
        minimum=0,
        maximum=9,
    ),
}
INVOICES_PATH = "/payments/billing/customer-product-invoice/all"
CUSTOMERS_PATH = "/customers"

_PAYMENT_STATUS = {
    "settled": "paid",
    "not_needed": "paid",
    "failed": "open",
    "pending": "open",
    "requires_action": "open",
    "pre_payment": "open",
    "unknown": "unknown",
}

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
    ids = [text(_at(key, k, f"invoiceKey.{k}"), f"invoiceKey.{k}") for k in names]
    year, month, day = (
        integer(_at(key, k, f"invoiceKey.{k}"), f"invoiceKey.{k}") for k in ("year", "month", "day")
    )
    return f"{'/'.join(ids)}/{year:04d}-{month:02d}-{day:02d}"


def _at(obj: Mapping[str, Any], key: str, path: str) -> Any:
    """A required field of a nested object; missing or null, the message names its path
    (``totalBill.prepaid``)."""
    value = obj.get(key)
    if value is None:
        raise RecordError(f"missing required field {path!r}")
    return value


def _object(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = _at(obj, key, path)
    if not isinstance(value, Mapping):
        raise RecordError(f"field {path!r} should be an object, got {type(value).__name__}")
    return value


def _float64(value: Any, path: str, decimals: int) -> int | Decimal:
    """A JSON number as Amberflo writes its float64 values. A string is not one (the
    SDKs read numbers only); a value below half the last decimal kept is float residue
    (``5.551115123125783e-17``, ``2.2250738585072014e-308``) and reads as zero, where
    its exponent alone would put it out of any amount's range."""
    if isinstance(value, str):
        try:
            money.to_decimal(value)
        except money.MoneyError as exc:  # (not a number in any spelling)
            raise RecordError(f"field {path!r}: {exc}") from None
        raise RecordError(f"field {path!r} should be a JSON number, got the string {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise RecordError(f"field {path!r} should be a JSON number, got {type(value).__name__}")
    if isinstance(value, Decimal) and value.is_finite() and value.adjusted() < -decimals - 1:
        return Decimal(0)
    return value


def _record_id(record: Mapping[str, Any]) -> str:
    return invoice_id(nested(record, "invoiceKey"))


def _due(end: datetime, grace: Any) -> datetime | None:
    """The due date: the period's end plus the grace period (None: no grace period)."""
    if grace is None:
        return None
    hours = integer(grace, "gracePeriodInHours")
    try:
        return end + timedelta(hours=hours)
    except OverflowError:  # beyond the years 1 to 9999
        raise RecordError(f"field 'gracePeriodInHours': {hours} hours is out of range") from None


def _status(record: Mapping[str, Any]) -> tuple[str, str | None]:
    """The status by ``paymentStatus``. (``invoicePriceStatus`` OPEN or GRACE_PERIOD
    says the amount may still change with late usage: the period's invoice is still
    billed, and the books accrue it, so it stays in the close, not a draft.)"""
    raw = opt_text(record, "paymentStatus")
    opt_text(record, "invoicePriceStatus")  # (text or absent, like every enum)
    return enum_value(raw, _PAYMENT_STATUS), raw


#: line items of an invoice: (line_type, the array they come from)
_LINE_ARRAYS = (
    ("usage", "productItemInvoices"),
    ("fee", "productPlanFees"),
    ("promotion", "appliedPromotions"),
)


def _items(record: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    """``(line_type, path, item)``: usage items, then plan fees, then promotions."""
    return [
        (line_type, f"{key}[{i}]", item)
        for line_type, key in _LINE_ARRAYS
        for i, item in enumerate(objects(record, key))
    ]


def _line(
    line_type: str, path: str, item: Mapping[str, Any]
) -> tuple[str | None, str | None, Decimal | None, Any, str]:
    """``(line_id, description, quantity, amount, amount's path)`` of one line item."""
    if line_type == "usage":
        bill = _object(item, "totalBill", f"{path}.totalBill")
        quantity = _quantity(bill.get("meterUnits"), f"{path}.totalBill.meterUnits")
        return (
            opt_text(item, "productItemId"),
            opt_text(item, "productItemName"),
            quantity,
            _at(bill, "price", f"{path}.totalBill.price"),
            f"{path}.totalBill.price",
        )
    if line_type == "fee":
        return (
            opt_text(item, "id"),
            opt_text(item, "name"),
            Decimal(1),
            _at(item, "cost", f"{path}.cost"),
            f"{path}.cost",
        )
    return (
        opt_text(item, "promotionId"),
        opt_text(item, "promotionName"),
        None,
        _at(item, "discount", f"{path}.discount"),
        f"{path}.discount",
    )


def _quantity(value: Any, path: str) -> Decimal | None:
    """A float64 quantity (``meterUnits``) cleaned of its noise to the 9 decimals a
    canonical quantity holds (money.without_float_noise)."""
    if value is None:
        return None
    try:
        number = money.to_decimal(_float64(value, path, 9))
        return exact_decimal(money.without_float_noise(number, 9), path, 9)
    except money.MoneyError as exc:
        raise RecordError(f"field {path!r}: {exc}") from None


def _records(page: Page, source: str) -> list[Any]:
    body = load_json(page, source)
    if body is None or body == {}:
        return []  # no invoice yet
    if isinstance(body, list):
        return body
    if isinstance(body, dict) and "invoiceKey" in body:
        return [body]  # the get endpoint (?latest=true or a given start date)
    raise bad_page(page, source, body, "a JSON array of invoices or one invoice object")


class _Reader:
    """One source's records to canonical rows, in major units cleaned of float noise."""

    def __init__(self, source: str, options: Mapping[str, Any], out: Normalized) -> None:
        self.source, self.out = source, out
        self.decimals = out.float_decimals if out.float_decimals is not None else FLOAT_DECIMALS
        self.options_currency = options.get("currency", "USD")
        self.convert = Converter(source, PROVIDER, self.decimals)

    def money(self, value: Any, currency: str, iid: str, path: str) -> Decimal:
        return self.convert(_float64(value, path, self.decimals), currency, iid, path)

    def __call__(self, record: Mapping[str, Any], location: str) -> None:
        key = nested(record, "invoiceKey")
        iid = invoice_id(key)
        # (per record: a currency option that is no code rejects each record, named)
        currency = currency_code(self.options_currency, "options.currency")
        bill = nested(record, "totalBill")
        amounts = {
            column: self.money(
                _at(bill, name, f"totalBill.{name}"), currency, iid, f"totalBill.{name}"
            )
            for column, name in _BILL.items()
        }
        start = epoch_seconds(req(record, "invoiceStartTimeInSeconds"), "invoiceStartTimeInSeconds")
        end = epoch_seconds(req(record, "invoiceEndTimeInSeconds"), "invoiceEndTimeInSeconds")
        assert end is not None  # req() refused null
        status, raw_status = _status(record)
        self.out.invoices.append(
            invoice_row(
                self.source,
                location,
                invoice_id=iid,
                customer_id=text(key["customerId"], "invoiceKey.customerId"),
                currency=currency,
                status=status,
                raw_status=raw_status,
                period_start=start,
                period_end=end,
                due_at=_due(end, record.get("gracePeriodInHours")),
                **amounts,
            )
        )
        self.out.lines.extend(self.lines(record, iid, location, currency))

    def lines(
        self, record: Mapping[str, Any], iid: str, location: str, currency: str
    ) -> list[dict[str, Any]]:
        rows = []
        for line_no, (line_type, path, item) in enumerate(_items(record)):
            with within(path):
                line_id, description, quantity, price, price_path = _line(line_type, path, item)
                rows.append(
                    line_row(
                        self.source,
                        iid,
                        line_no,
                        location,
                        line_id=line_id,
                        line_type=line_type,
                        description=description,
                        quantity=quantity,
                        unit_amount=None,  # tiered pricing: no single unit price
                        amount_minor=self.money(price, currency, iid, price_path),
                        currency=currency,
                    )
                )
        return rows


def normalize(
    pages: Sequence[Page], source: str, options: Mapping[str, Any] = NO_OPTIONS
) -> Normalized:
    out = Normalized(
        provided=provided(
            "customer_id", "raw_status", *_BILL, "period_start", "period_end", "due_at"
        ),
        has_lines=True,
    )
    out.float_decimals = int(options.get("float_decimals", FLOAT_DECIMALS))
    parse = _Reader(source, options, out)
    seen = Seen()
    for page in pages:
        if page.kind == "customers":
            continue  # the account's customer list a fetch used to know whom to ask
        records = _records(page, source)
        each_record(out, source, page, records, parse, id_key=_record_id, seen=seen)
    return out


# --- fetch (I/O) ------------------------------------------------------------------------


def base_url(options: Mapping[str, Any]) -> str | None:
    return BASE_URL


def auth_headers(credential: str, options: Mapping[str, Any]) -> dict[str, str]:
    return {"X-API-KEY": credential}


def _customers(client: ProviderClient) -> tuple[FetchedPage, list[str]]:
    page = client.get(CUSTOMERS_PATH, kind="customers")
    body = json_body(client, page, 1)
    ids = [c.get("customerId") for c in body] if isinstance(body, list) else None
    if ids is None or not all(isinstance(i, str) and i for i in ids):
        raise shape(client, page, 1, 'a JSON array of customers, each with "customerId"', body)
    return page, list(dict.fromkeys(ids))


def fetch(
    client: ProviderClient,
    options: Mapping[str, Any],
    period_start: datetime,
    period_end: datetime,
) -> list[Page]:
    pages: list[Page] = []
    customers = options.get("customers")
    if customers is None:
        listing, customers = _customers(client)
        pages.append(listing)
    customers = list(dict.fromkeys(customers))
    product = str(options.get("product_id", "1"))
    seen = Records(client)

    def one(customer: str) -> FetchedPage:
        params = {
            "customerId": customer,
            "productId": product,
            "fromCache": "false",
            "withPaymentStatus": "true",
        }
        return client.get(INVOICES_PATH, params=params)

    invoice_pages = client.map(one, customers)
    for number, (customer, page) in enumerate(zip(customers, invoice_pages, strict=True), 1):
        body = json_body(client, page, number)
        records = (
            []
            if body in (None, {})
            else [body]
            if (isinstance(body, dict) and "invoiceKey" in body)
            else body
        )
        if not isinstance(records, list):
            raise shape(client, page, number, "a JSON array of invoices (or null)", body)
        for record in records:
            key = record.get("invoiceKey") if isinstance(record, dict) else None
            owner = key.get("customerId") if isinstance(key, dict) else None
            if owner is not None and owner != customer:
                raise client.fail(
                    f"the invoices asked for customer {customer!r} include one of "
                    f"customer {owner!r}",
                    endpoint=page.endpoint,
                    page=number,
                )
            # no usable invoiceKey: the normalizer rejects the record, naming it
            with contextlib.suppress(RecordError, AttributeError, TypeError):
                seen.add(_record_id(record), record, page, number)
        client.add_records(len(records))
        pages.append(page)
    return pages
