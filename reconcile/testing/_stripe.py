"""Stripe: newest-first invoice lists, retrieve, and ``/lines``, with cursor pagination."""

from __future__ import annotations

import base64
import bisect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._exact_json import _arr, _obj, _Raw, dumps
from ._provider_app import _MESSAGES, _App, _Bad, _bumped, _Call, _int, _json, _Reply


class _Stripe(_App):
    provider = "stripe"
    paginated = True
    page_faults = frozenset({"repeat_cursor", "conflicting_repeat", "repeat", "wrong_total"})

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # newest first; ties keep the order given
        order = sorted(range(len(self.records)), key=lambda i: -self._created(self.records[i]))
        self.records = [self.records[i] for i in order]
        self.by_id: dict[Any, int] = {
            r.get("id"): i for i, r in reversed(list(enumerate(self.records)))
        }
        self.embedded = int(self.options.get("embedded_lines", 10))
        invoice = "/v1/invoices/(?P<id>[^/]+)"
        self.routes = [
            ("GET", re.compile("/v1/invoices"), "list", self.list),
            ("GET", re.compile(invoice), "detail", self.detail),
            ("GET", re.compile(invoice + "/lines"), "lines", self.lines),
        ]

    @staticmethod
    def _created(record: Mapping[str, Any]) -> int:
        created = record.get("created", 0)
        return int(created) if isinstance(created, int) else 0

    def authorized(self, call: _Call) -> bool:
        scheme, _, value = call.header("authorization").partition(" ")
        if scheme.lower() == "bearer":
            return value == self.credential
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except ValueError:
                return False
            return decoded.partition(":")[0] == self.credential
        return False

    def error(
        self,
        call: _Call,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> _Reply:
        kind = "api_error" if status >= 500 else "invalid_request_error"
        default_code = {404: "resource_missing", 429: "rate_limit", 400: "parameter_invalid"}.get(
            status
        )
        if status == 401:
            message = message or "Invalid API Key provided (the key is not shown)."
        fields: list[tuple[str, Any]] = [("type", kind)]
        if code or default_code:
            fields.append(("code", code or default_code))
        fields.append(("message", message or _MESSAGES.get(status, "error")))
        if param:
            fields.append(("param", param))
        if code or default_code:
            slug = str(code or default_code).replace("_", "-")
            fields.append(("doc_url", f"https://stripe.com/docs/error-codes/{slug}"))
        fields.append(("request_log_url", "https://dashboard.stripe.com/test/logs/req_local"))
        return _json(status, _obj(("error", _Raw(_obj(*fields)))), [("Request-Id", "req_local")])

    def applies(self, kind: str, endpoint: str, call: _Call) -> bool:
        if kind == "wrong_total":
            return endpoint == "list"
        return (
            kind in self.page_faults
            and endpoint in ("list", "lines")
            and "starting_after" in call.query
        )

    def _lines(self, record: Mapping[str, Any]) -> list[Any]:
        lines = record.get("lines")
        data = lines.get("data") if isinstance(lines, Mapping) else None
        return data if isinstance(data, list) else []

    def _invoice(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The invoice as a list or retrieve sends it: its first lines embedded."""
        lines = record.get("lines")
        if not isinstance(lines, Mapping):
            return dict(record)
        data = self._lines(record)
        embedded = {**lines, "data": data[: self.embedded], "has_more": len(data) > self.embedded}
        return {**record, "lines": embedded}

    def _page(
        self,
        call: _Call,
        keys: Sequence[Any],
        chosen: list[int],
        url: str,
        encode: Callable[[int], bytes],
        bumped: Callable[[int], bytes],
    ) -> _Reply:
        limit = _int(call, "limit", 10, 1, 100)
        assert limit is not None
        size = min(limit, self.page_size or limit)
        position = {key: i for i, key in reversed(list(enumerate(keys)))}
        after, before = call.query.get("starting_after"), call.query.get("ending_before")
        for name, value in (("starting_after", after), ("ending_before", before)):
            if value is not None and value not in position:
                raise _Bad(404, f"No such object: '{value}'", param=name)
        if after is not None:
            start = bisect.bisect_right(chosen, position[after])
            page, has_more = chosen[start : start + size], start + size < len(chosen)
        elif before is not None:
            end = bisect.bisect_left(chosen, position[before])
            page, has_more = chosen[max(0, end - size) : end], end - size > 0
        else:
            page, has_more = chosen[:size], size < len(chosen)
        items = [encode(i) for i in page]
        if call.page_fault in ("repeat_cursor", "repeat", "conflicting_repeat") and after:
            last = position[after]
            if call.page_fault == "repeat_cursor":  # the page ending at the cursor, again
                end = bisect.bisect_right(chosen, last)
                items, has_more = [encode(i) for i in chosen[max(0, end - size) : end]], True
            elif call.page_fault == "repeat":
                items.insert(0, encode(last))
            else:
                items.insert(0, bumped(last))
        fields: list[tuple[str, Any]] = [
            ("object", "list"),
            ("data", _arr(items)),
            ("has_more", has_more),
        ]
        wrong = call.page_fault == "wrong_total"
        if wrong or "total_count" in call.values("include[]", "include"):
            fields.append(("total_count", len(chosen) + (1 if wrong else 0)))
        fields.append(("url", url))
        return _json(200, _obj(*fields))

    def _filtered(self, call: _Call) -> list[int]:
        bounds: list[tuple[str, int]] = []
        for op in ("gt", "gte", "lt", "lte", ""):
            name = f"created[{op}]" if op else "created"
            if name in call.query:
                try:
                    bounds.append((op or "eq", int(call.query[name])))
                except ValueError:
                    raise _Bad(400, f"Invalid integer: {call.query[name]}", param=name) from None
        tests = {
            "gt": int.__gt__,
            "gte": int.__ge__,
            "lt": int.__lt__,
            "lte": int.__le__,
            "eq": int.__eq__,
        }
        filters = {k: call.query[k] for k in ("customer", "status") if k in call.query}
        chosen = []
        for i, record in enumerate(self.records):
            created = self._created(record)
            if all(tests[op](created, value) for op, value in bounds) and all(
                record.get(k) == v for k, v in filters.items()
            ):
                chosen.append(i)
        return chosen

    def list(self, call: _Call) -> _Reply:
        return self._page(
            call,
            [r.get("id") for r in self.records],
            self._filtered(call),
            "/v1/invoices",
            lambda i: self.cached(("invoice", i), lambda: self._invoice(self.records[i])),
            lambda i: dumps(self._invoice(_bumped(self.records[i]))),
        )

    def _index(self, call: _Call) -> int:
        index = self.by_id.get(call.match["id"])
        if index is None:
            raise _Bad(404, f"No such invoice: '{call.match['id']}'", param="invoice")
        return index

    def detail(self, call: _Call) -> _Reply:
        index = self._index(call)
        return _json(
            200, self.cached(("invoice", index), lambda: self._invoice(self.records[index]))
        )

    def lines(self, call: _Call) -> _Reply:
        index = self._index(call)
        data = self._lines(self.records[index])
        keys = [line.get("id") if isinstance(line, Mapping) else None for line in data]
        return self._page(
            call,
            keys,
            list(range(len(data))),
            f"/v1/invoices/{call.match['id']}/lines",
            lambda i: self.cached(("line", index, i), lambda: data[i]),
            lambda i: dumps(_bumped(data[i], "amount")),
        )
