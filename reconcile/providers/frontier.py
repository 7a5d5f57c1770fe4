"""Raystack Frontier ``ListInvoices``: wire JSON to canonical rows.

Page: ``{"invoices": [Invoice, ...]}`` in two eras that must give identical rows:

* REST gateway (≤ v0.90, ``EmitUnpopulated``): every field present,
  ``amount: "0"``, unset timestamps and ``customer`` as ``null``;
* Connect RPC (≥ v0.91): zero values omitted (no ``amount`` key = 0, no
  ``due_date`` when unset, ``{}`` for an empty list).

A record is read as a ProtoJSON parser reads it (protobuf.dev, "ProtoJSON format";
issue 13): a field under its lowerCamelCase json name (``dueDate``) as well as its
proto name; an absent or ``null`` field is its default (``amount`` 0, a timestamp or
a text null, ``{"invoices": null}`` no invoices); an int64 as a string or a number,
exponent notation or a zero fraction too; a Timestamp in RFC 3339 with a zone and 0-9
fractional digits (read to the microsecond); unknown fields ignored. What ProtoJSON
refuses is a located reject naming the field (``"amount": "12.5"`` or ``" 5"``, a
timestamp without a zone, one field under both its names), and so is an invoice
without ``id`` or ``currency``, which no close can use.

``amount`` is the Stripe invoice ``total`` as an int64 string in Stripe's minor
units, rescaled to ISO minor units. ``customer`` is present only with
``expand=customer``. No line items, no subtotal/discount/tax.

Fetch (``fetch``): Basic auth (the credential variable holds
``client_id:secret``, sent base64-encoded) or Bearer (``options.auth:
bearer``, the variable holds the token). ``options.api`` picks the era: ``rest``
(≤ v0.90) ``GET /v1beta1/organizations/{org_id}/billing/{billing_id}/invoices``
(``/billing/invoices`` without ``billing_id``) or ``connect`` (≥ v0.91, default)
``POST /raystack.frontier.v1beta1.FrontierService/ListInvoices`` with a JSON
body ``{"org_id", "nonzero_amount_only", "expand"}`` (kept in the snapshot).
``options.expand_customer: true`` asks for ``expand=customer``. One response
per organization (``org_id``, ``org_ids``, or ``org_ids: all``: every one that
``ListOrganizations`` shows), no pagination, no date filter: the run keeps
invoices whose ``period_start_at`` (UTC) falls in ``[start, end)`` (the
source's ``period_field``). There is no public default base URL (Frontier is
self-hosted): ``base_url`` is required.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from reconcile import money
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
    opt_nested,
    opt_text,
    provided,
    req,
    rescaled,
    rfc3339,
    text,
    within,
)
from reconcile.providers._http import ProviderClient
from reconcile.providers._options import NO_OPTIONS, Option
from reconcile.providers._paging import json_body, shape
from reconcile.providers.stripe import STATUSES

PROVIDER = "frontier"
#: self-hosted: no public default
BASE_URL = None
OPTIONS = {
    "org_id": Option(
        str,
        "the organization whose invoices are listed (or org_ids)",
        live=True,
        required_live=True,
        alternatives=("org_ids",),
    ),
    "org_ids": Option(
        list,
        "the organizations whose invoices are listed, or 'all': every "
        "organization ListOrganizations shows the credential",
        live=True,
        choices=("all",),
    ),
    "billing_id": Option(
        str, "the billing account (REST only; inferred from org_id if absent)", live=True
    ),
    "api": Option(
        str,
        "rest (Frontier <= v0.90) or connect (>= v0.91, default)",
        choices=("rest", "connect"),
        live=True,
    ),
    "auth": Option(
        str,
        "basic (client_id:secret, default) or bearer (a token)",
        choices=("basic", "bearer"),
        live=True,
    ),
    "expand_customer": Option(bool, "ask for expand=customer (the customer's name)", live=True),
    "nonzero_amount_only": Option(
        bool, "leave out zero-amount invoices (default false)", live=True
    ),
}
CONNECT_PATH = "/raystack.frontier.v1beta1.FrontierService/ListInvoices"
ORGS_CONNECT_PATH = "/raystack.frontier.v1beta1.FrontierService/ListOrganizations"
ORGS_REST_PATH = "/v1beta1/organizations"
#: organizations asked for per ListOrganizations page (paged by page_num: no cursor)
ORGS_PAGE_SIZE = 100

#: Stripe's invoice statuses, copied verbatim into ``state``
_STATUS = STATUSES
#: ``Invoice``'s fields (models.proto) whose lowerCamelCase json_name differs from the
#: proto name: servers write proto names (UseProtoNames), a ProtoJSON parser takes both
_JSON_NAMES = {
    "customerId": "customer_id",
    "providerId": "provider_id",
    "hostedUrl": "hosted_url",
    "dueDate": "due_date",
    "effectiveAt": "effective_at",
    "periodStartAt": "period_start_at",
    "periodEndAt": "period_end_at",
    "createdAt": "created_at",
}
#: the text of a JSON number (RFC 8259): what a ProtoJSON int64 string must hold
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_INT64_TEXT_MAX = 64
#: RFC 3339 date-time (section 5.6), at most 9 fractional digits: a ProtoJSON Timestamp
_RFC3339_UNZONED = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?"
)
_RFC3339 = re.compile(_RFC3339_UNZONED.pattern + r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})")
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
        out.invoices.append(_invoice(record, source, location))

    for page in pages:
        if page.kind == "organizations":
            continue  # the organizations a fetch listed to know whose invoices to ask for
        body = load_json(page, source)
        records = listed(body)
        if records is None:
            raise bad_page(page, source, body, '{"invoices": [...]}')
        each_record(
            out,
            source,
            page,
            [_proto_names(record) for record in records],
            parse,
            id_key="id",
            seen=seen,
            keys={"external_ref": "provider_id", "customer_id": "customer_id"},
        )
    # the customer's name comes only with expand=customer
    expanded = any(row["customer_name"] for row in out.invoices)
    out.provided = provided(*_COLUMNS, *(("customer_name",) if expanded else ()))
    return out


def listed(body: Any) -> list[Any] | None:
    """The records of a ``ListInvoicesResponse``: ``{}`` (Connect omits an empty list)
    and ``{"invoices": null}`` (ProtoJSON's null is the default) hold none; None for a
    body of another shape (an error body among them)."""
    if body == {}:
        return []
    if not isinstance(body, dict) or "invoices" not in body:
        return None
    records = body["invoices"]
    return [] if records is None else records if isinstance(records, list) else None


def _proto_names(record: Any) -> Any:
    """A record with its lowerCamelCase keys (``dueDate``) under their proto names
    (``due_date``). A field sent under both names keeps both, for ``_invoice`` to refuse."""
    if not isinstance(record, Mapping) or not _JSON_NAMES.keys() & record.keys():
        return record
    proto = {key: _JSON_NAMES.get(key, key) for key in record}
    return {
        (proto[key] if proto[key] not in record else key): value for key, value in record.items()
    }


def _invoice(record: Mapping[str, Any], source: str, location: str) -> dict[str, Any]:
    """One ``Invoice`` (its proto field names) as a canonical row, per ProtoJSON: an
    absent or null field is its default (``amount`` 0, a timestamp or text null)."""
    twice = _JSON_NAMES.keys() & record.keys()
    if twice:
        name = min(twice)
        raise RecordError(f"field {_JSON_NAMES[name]!r} is sent twice (also as {name!r})")
    invoice_id = text(req(record, "id"), "id")
    if not invoice_id:
        raise RecordError("missing required field 'id' (empty)")
    currency = currency_code(req(record, "currency"))
    with within("customer"):
        customer = opt_nested(record, "customer")
        customer_name = opt_text(customer, "name") if customer else None
    raw_status = opt_text(record, "state")
    effective, created = _timestamp(record, "effective_at"), _timestamp(record, "created_at")
    return invoice_row(
        source,
        location,
        invoice_id=invoice_id,
        external_ref=opt_text(record, "provider_id"),
        customer_id=opt_text(record, "customer_id"),
        customer_name=customer_name,
        currency=currency,
        status=enum_value(raw_status, _STATUS),
        raw_status=raw_status,
        total_minor=rescaled(_int64(record, "amount"), currency, PROVIDER, "amount"),
        period_start=_timestamp(record, "period_start_at"),
        period_end=_timestamp(record, "period_end_at"),
        issued_at=effective or created,
        due_at=_timestamp(record, "due_date"),
    )


def _int64(record: Mapping[str, Any], key: str) -> int:
    """An int64 field: absent or null is 0; else a JSON number or a string holding one
    (servers write ``"4900"``; parsers also accept ``4900``, ``"4.9e3"``, ``"4900.0"``),
    whole and within int64. ``" 5"``, ``"+5"``, ``"05"``, ``"12.5"`` are refused."""
    value = record.get(key)
    if isinstance(value, str):
        if len(value) > _INT64_TEXT_MAX or not _JSON_NUMBER.fullmatch(value):
            shown = value if len(value) <= 40 else value[:40] + "…"
            raise RecordError(f"field {key!r}: {shown!r} is not an int64 (a decimal integer)")
        value = Decimal(value)
    if value is None or (isinstance(value, Decimal) and value.is_zero()):
        return 0
    try:
        return money.minor_int(value)
    except money.MoneyError as exc:
        raise RecordError(f"field {key!r}: {exc}") from None


def _timestamp(record: Mapping[str, Any], key: str) -> datetime | None:
    """A ``google.protobuf.Timestamp`` field: absent or null is null; else RFC 3339 with a
    zone (``Z`` or an offset) and at most 9 fractional digits, in years 1 to 9999 (UTC),
    read to the microsecond (finer digits dropped)."""
    value = record.get(key)
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        shown = value if len(value) <= 40 else value[:40] + "…"
        if _RFC3339_UNZONED.fullmatch(value):
            raise RecordError(f"field {key!r}: {shown!r} has no time zone")
        raise RecordError(f"field {key!r}: {shown!r} is not an RFC 3339 timestamp")
    return rfc3339(value, key)


# --- fetch (I/O) ------------------------------------------------------------------------


def base_url(options: Mapping[str, Any]) -> str | None:
    return BASE_URL


def auth_headers(credential: str, options: Mapping[str, Any]) -> dict[str, str]:
    if options.get("auth", "basic") == "bearer":
        return {"Authorization": f"Bearer {credential}"}
    token = base64.b64encode(credential.encode()).decode()
    return {"Authorization": f"Basic {token}"}


def fetch(
    client: ProviderClient,
    options: Mapping[str, Any],
    period_start: datetime,
    period_end: datetime,
) -> list[Page]:
    """Every named organization's invoices (``org_ids``, or ``org_id``), or with
    ``org_ids: all`` every organization ``ListOrganizations`` shows the credential
    (its pages come first, ``kind: "organizations"``); one ``ListInvoices`` per
    organization, concurrently within the source's limit."""
    pages: list[Page] = []
    wanted = options.get("org_ids", [options.get("org_id")])
    if wanted == "all":
        listing, orgs = _organizations(client, options)
        pages += listing
    else:
        orgs = list(dict.fromkeys(str(o) for o in wanted))

    def invoices(org: str) -> Page:
        return _invoices(client, options, org)

    return pages + client.map(invoices, orgs)


def _invoices(client: ProviderClient, options: Mapping[str, Any], org: str) -> Page:
    """One organization's ``ListInvoices`` (no pagination), checked for its shape."""
    expand = ["customer"] if options.get("expand_customer") else []
    nonzero = bool(options.get("nonzero_amount_only", False))
    if options.get("api", "connect") == "rest":
        billing = options.get("billing_id")
        path = f"/v1beta1/organizations/{quote(org, safe='')}/billing/" + (
            f"{quote(str(billing), safe='')}/invoices" if billing else "invoices"
        )
        params: dict[str, Any] = {"nonzero_amount_only": nonzero}
        if expand:
            params["expand"] = expand
        page = client.get(path, params=params)
    else:
        request = {"org_id": org, "nonzero_amount_only": nonzero, "expand": expand}
        page = client.post(CONNECT_PATH, json=request, headers={"Connect-Protocol-Version": "1"})
    body = json_body(client, page, 1)
    records = [] if body is None else listed(body)
    if records is None:
        raise shape(client, page, 1, '{"invoices": [...]}', body)
    client.add_records(len(records))
    return page


def _organizations(
    client: ProviderClient, options: Mapping[str, Any]
) -> tuple[list[Page], list[str]]:
    """``ListOrganizations`` page by page (``page_num`` from 1, ``page_size``) until a
    page comes back short: the organizations' ids, each once, in the order listed.

    UNCONFIRMED (providers.md): which organizations a service user may bill; the
    endpoint lists every enabled organization of the deployment to any caller
    (unless the deployment disables it), not disabled ones (name those in
    ``org_ids``). An organization whose ListInvoices is refused stops the run."""
    pages: list[Page] = []
    ids: list[str] = []
    while True:
        number = len(pages) + 1
        if options.get("api", "connect") == "rest":
            page = client.get(
                ORGS_REST_PATH,
                params={"page_num": number, "page_size": ORGS_PAGE_SIZE},
                kind="organizations",
            )
        else:
            page = client.post(
                ORGS_CONNECT_PATH,
                json={"page_num": number, "page_size": ORGS_PAGE_SIZE},
                headers={"Connect-Protocol-Version": "1"},
                kind="organizations",
            )
        body = json_body(client, page, number)
        orgs = (
            []
            if body in (None, {})
            else body.get("organizations")
            if isinstance(body, dict)
            else None
        )
        found = (
            [o.get("id") for o in orgs]
            if isinstance(orgs, list) and all(isinstance(o, dict) for o in orgs)
            else None
        )
        if found is None or not all(isinstance(i, str) and i for i in found):
            raise shape(client, page, number, '{"organizations": [{"id": ...}, ...]}', body)
        pages.append(page)
        new = [i for i in found if i not in ids]
        ids += new
        if len(found) < ORGS_PAGE_SIZE or not new:
            return pages, ids
