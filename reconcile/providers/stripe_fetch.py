"""Stripe invoices: the fetch (I/O); the normalizer is stripe.py.

Fetch (``fetch``): ``Authorization: Bearer <secret key>``, ``Stripe-Version``
pinned to ``options.api_version`` (default 2025-03-31.basil, the first version
of the shape this normalizer reads). ``GET /v1/invoices?limit=100`` with
``created[gte]``/``created[lt]`` = the period's start/end in epoch seconds:
Stripe selects by ``created`` (UTC), half-open ``[start, end)``; of those the
run then keeps the invoices whose ``period_start`` falls in the period (the
source's ``period_field``: set ``period_field: issued_at`` or ``none`` to keep
every invoice created in the period). Pages follow ``starting_after`` = the
last id while ``has_more`` is true; a repeated cursor, an empty page that says
``has_more``, an invoice repeated with different content or a ``total_count``
that the records do not reach stops the run. An invoice whose ``lines.has_more``
is true gets the rest of its lines from ``GET /v1/invoices/{id}/lines``
(``kind: "lines"``, ``starting_after`` pagination, concurrently within the
source's limit), checked against ``lines.total_count`` when Stripe sends it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from reconcile.providers._base import Page
from reconcile.providers._http import FetchedPage, ProviderClient
from reconcile.providers._paging import Cursors, Records, json_body, shape

BASE_URL = "https://api.stripe.com"
DEFAULT_API_VERSION = "2025-03-31.basil"
LIST_PATH = "/v1/invoices"


def base_url(options: Mapping[str, Any]) -> str | None:
    return BASE_URL


def auth_headers(credential: str, options: Mapping[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def _list(client: ProviderClient, page: FetchedPage, number: int) -> tuple[list[Any], bool, Any]:
    body = json_body(client, page, number)
    if (
        not isinstance(body, dict)
        or body.get("object") != "list"
        or not isinstance(body.get("data"), list)
        or not isinstance(body.get("has_more"), bool)
    ):
        raise shape(
            client, page, number, '{"object": "list", "data": [...], "has_more": ...}', body
        )
    return body["data"], body["has_more"], body.get("total_count")


def _last_id(client: ProviderClient, page: FetchedPage, number: int, data: list[Any]) -> Any:
    if not data:
        raise client.fail(
            "page is empty but says has_more: there is no id to continue after",
            endpoint=page.endpoint,
            page=number,
        )
    last = data[-1]
    return last.get("id") if isinstance(last, dict) else None


def _check_total(client: ProviderClient, endpoint: str, total: Any, count: int, what: str) -> None:
    if isinstance(total, int) and not isinstance(total, bool) and total != count:
        raise client.fail(
            f"{what}: total_count says {total}, the pages hold {count}", endpoint=endpoint
        )


#: kind of the list pages of the neighbouring periods (fetched for timing only)
BESIDE = "beside"


def fetch(
    client: ProviderClient,
    options: Mapping[str, Any],
    period_start: datetime,
    period_end: datetime,
) -> list[Page]:
    """The invoices created in the period, then those created in the period before and
    the period after (as long as this one; ``kind: "beside"``): an invoice booked on
    one side of the cut-off and dated the other is then ``timing``, not missing. The
    neighbours' invoices are kept out of the close (see normalize)."""
    headers = {"Stripe-Version": str(options.get("api_version", DEFAULT_API_VERSION))}
    span = period_end - period_start
    windows = [
        (period_start, period_end, "list"),
        (period_start - span, period_start, BESIDE),
        (period_end, period_end + span, BESIDE),
    ]
    pages: list[Page] = []
    invoices: dict[str, Any] = {}  # id -> first record of the period, in list order
    for start, end, kind in windows:
        pages += _list_window(
            client, options, headers, start, end, kind, invoices if kind == "list" else {}
        )
    more = [
        (iid, rec)
        for iid, rec in invoices.items()
        if isinstance(rec.get("lines"), dict) and rec["lines"].get("has_more") is True
    ]

    def lines(item: tuple[str, Any]) -> list[Page]:
        return _lines(client, headers, *item)

    for line_pages in client.map(lines, more):
        pages += line_pages
    return pages


def _list_window(
    client: ProviderClient,
    options: Mapping[str, Any],
    headers: Mapping[str, str],
    start: datetime,
    end: datetime,
    kind: str,
    invoices: dict[str, Any],
) -> list[Page]:
    """``GET /v1/invoices`` for ``created`` in ``[start, end)``, every page (checked for
    loops, moved data and ``total_count``); ``invoices`` gets each id's first record."""
    limit = int(options.get("limit", 100))
    window = {"created[gte]": int(start.timestamp()), "created[lt]": int(end.timestamp())}
    cursors = Cursors(client, f"GET {LIST_PATH}")
    seen = Records(client)
    pages: list[Page] = []
    ids: set[str] = set()
    total: Any = None
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit, **window}
        if after is not None:
            params["starting_after"] = after
        page = client.get(LIST_PATH, params=params, headers=headers, kind=kind)
        number = len(pages) + 1
        data, has_more, page_total = _list(client, page, number)
        total = page_total if total is None else total
        for record in data:
            rid = record.get("id") if isinstance(record, dict) else None
            seen.add(rid, record, page, number)
            if isinstance(rid, str):
                ids.add(rid)
                invoices.setdefault(rid, record)
        client.add_records(len(data))
        pages.append(page)
        if not has_more:
            break
        after = cursors.next(_last_id(client, page, number, data), number)
    _check_total(client, f"GET {LIST_PATH}", total, len(ids), "invoices")
    return pages


def _lines(
    client: ProviderClient, headers: Mapping[str, str], invoice_id: str, invoice: Mapping[str, Any]
) -> list[Page]:
    """The rest of an invoice's line items, after the embedded first page."""
    embedded = invoice["lines"]
    data = embedded.get("data") if isinstance(embedded.get("data"), list) else []
    path = f"{LIST_PATH}/{quote(invoice_id, safe='')}/lines"
    line_ids = {item.get("id") for item in data if isinstance(item, dict)}
    cursors = Cursors(client, f"GET {path}")
    after = _last_id_of(data)
    pages: list[Page] = []
    while True:
        params: dict[str, Any] = {"limit": 100}
        if after is not None:
            params["starting_after"] = after
        page = client.get(path, params=params, kind="lines", headers=headers)
        number = len(pages) + 1
        items, has_more, _ = _list(client, page, number)
        line_ids |= {item.get("id") for item in items if isinstance(item, dict)}
        pages.append(page)
        if not has_more:
            break
        after = cursors.next(_last_id(client, page, number, items), number)
    line_ids.discard(None)
    _check_total(
        client,
        f"GET {path}",
        embedded.get("total_count"),
        len(line_ids),
        f"line items of invoice {invoice_id}",
    )
    return pages


def _last_id_of(data: list[Any]) -> str | None:
    last = data[-1] if data else None
    rid = last.get("id") if isinstance(last, dict) else None
    return rid if isinstance(rid, str) else None
