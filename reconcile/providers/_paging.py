"""What every fetcher checks to prove a fetch complete (shared by the provider modules).

A fetch is complete when pagination ended normally. These helpers turn each way it
can fail into a :class:`~reconcile.providers._http.FetchError` (exit 3) naming the
provider, endpoint and page:

* :func:`json_body` — a page that is not JSON (an HTML error page, truncated JSON);
* :class:`Cursors` — a cursor that repeats (a pagination loop), or a page cap reached;
* :class:`Records` — a record id already seen on an earlier page with *different*
  content (the data moved while we paged). Identical repeats are allowed here: the
  normalizers drop them and the report counts them ("identical repeats dropped").
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from reconcile import jsonio
from reconcile.providers._http import FetchedPage, FetchError, ProviderClient

#: no provider month needs this many pages; beyond it pagination is taken to be stuck
MAX_PAGES = 100_000


def json_body(client: ProviderClient, page: FetchedPage, number: int | None = None) -> Any:
    """The page's JSON (numbers with a fraction as Decimal), or a FetchError naming it."""
    text = page.body.decode("utf-8-sig", errors="replace").strip()
    if not text:
        return None
    try:
        return jsonio.loads(page.body)
    except jsonio.JSONError as exc:
        ctype = page.exchange.headers.get("content-type", "?") if page.exchange else "?"
        snippet = client.snippet(text, 60).replace("\n", " ")
        raise client.fail(
            f"page is not valid JSON ({exc}; content-type {ctype}; starts with {snippet!r})",
            endpoint=page.endpoint,
            page=number,
        ) from None


def shape(
    client: ProviderClient, page: FetchedPage, number: int | None, expected: str, body: Any = None
) -> FetchError:
    """A page that parsed but is not the documented envelope."""
    err = body.get("error") if isinstance(body, dict) else None
    detail = f" (an API error: {err})" if err else ""
    return client.fail(
        f"page is not the documented shape: expected {expected}{detail}",
        endpoint=page.endpoint,
        page=number,
    )


def _tagged(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    raise TypeError(f"not JSON: {type(value).__name__}")


def digest(record: Any) -> bytes:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=_tagged)
    return hashlib.sha256(text.encode()).digest()


class Cursors:
    """Pagination cursors of one list: a repeat is a loop; too many pages is stuck."""

    def __init__(self, client: ProviderClient, endpoint: str) -> None:
        self.client, self.endpoint = client, endpoint
        self._seen: dict[str, int] = {}

    def next(self, cursor: Any, page: int) -> str:
        """Check the cursor page ``page`` gave for the next page, and return it."""
        if not isinstance(cursor, str) or not cursor:
            raise self.client.fail(
                f"page says there are more pages but gives no usable cursor ({cursor!r})",
                endpoint=self.endpoint,
                page=page,
            )
        if cursor in self._seen:
            raise self.client.fail(
                f"pagination loop: cursor {cursor!r} was already given by page "
                f"{self._seen[cursor]}; the list would never end",
                endpoint=self.endpoint,
                page=page,
            )
        if page >= MAX_PAGES:
            raise self.client.fail(
                f"pagination did not end after {MAX_PAGES} pages", endpoint=self.endpoint, page=page
            )
        self._seen[cursor] = page
        return cursor


class Records:
    """Record ids across the pages of one list: the same id must carry the same content."""

    def __init__(self, client: ProviderClient) -> None:
        self.client = client
        self._seen: dict[str, tuple[bytes, int]] = {}

    def add(self, record_id: Any, record: Any, page: FetchedPage, number: int) -> None:
        if not isinstance(record_id, str):
            return  # the normalizer rejects a record without an id, naming it
        current = digest(record)
        first = self._seen.get(record_id)
        if first is None:
            self._seen[record_id] = (current, number)
        elif first[0] != current and first[1] != number:
            raise self.client.fail(
                f"record {record_id} was already on page {first[1]} with different content: "
                "the data changed while it was being paged, so the fetch is not one "
                "consistent snapshot; run the close again",
                endpoint=page.endpoint,
                page=number,
            )

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._seen
