"""Commet: cursor-paginated invoices whose shape follows the ``Commet-Version`` header."""

from __future__ import annotations

import base64
import bisect
import re
from collections.abc import Mapping
from typing import Any

from ._exact_json import _arr, _obj, _Raw, dumps
from ._provider_app import _MESSAGES, _App, _Bad, _bumped, _Call, _int, _json, _Reply

#: Commet list items from 2026-07-31 lack these (GET /invoices/{id} has them)
COMMET_DETAIL_ONLY = ("creditApplied", "planName", "poNumber", "reference", "lineItems")
COMMET_VERSIONS = ("2026-06-07", "2026-07-31")  # oldest and newest version served


class _Commet(_App):
    provider = "commet"
    paginated = True
    page_faults = frozenset({"repeat_cursor", "conflicting_repeat", "repeat"})

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.version = str(self.options.get("api_version", COMMET_VERSIONS[1]))
        self._check_version(self.version)
        self.by_id: dict[Any, int] = {
            r.get("id"): i for i, r in reversed(list(enumerate(self.records)))
        }
        created = [r.get("createdAt") for r in self.records]
        if all(isinstance(c, str) for c in created) and len(set(created)) == len(created):
            self.cursors = [str(c) for c in created]  # as Commet sends them
        else:
            self.cursors = [
                base64.urlsafe_b64encode(b"pos:%d" % i).decode().rstrip("=")
                for i in range(len(self.records))
            ]
        self.cursor_at = {c: i for i, c in enumerate(self.cursors)}
        self.routes = [
            ("GET", re.compile("/api/v1/invoices"), "list", self.list),
            ("GET", re.compile("/api/v1/invoices/(?P<id>[^/]+)"), "detail", self.detail),
        ]

    @staticmethod
    def _check_version(version: str) -> None:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version) or not (
            COMMET_VERSIONS[0] <= version <= COMMET_VERSIONS[1]
        ):
            raise _Bad(
                400,
                f"Unsupported Commet-Version {version!r}: use a date from "
                f"{COMMET_VERSIONS[0]} to {COMMET_VERSIONS[1]}",
                code="invalid_api_version",
                param="Commet-Version",
            )

    def _version(self, call: _Call) -> str:
        version = call.header("commet-version") or self.version
        self._check_version(version)
        return version

    def authorized(self, call: _Call) -> bool:
        return call.header("x-api-key") == self.credential

    def error(
        self,
        call: _Call,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> _Reply:
        kind, default_code = {
            400: ("validation_error", "validation_error"),
            401: ("authentication_error", "unauthorized"),
            404: ("not_found_error", "not_found"),
            429: ("rate_limit_error", "rate_limited"),
        }.get(status, ("internal_error", "internal_error"))
        version = call.header("commet-version") or self.version
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version):
            version = self.version
        code = code or default_code
        detail = _obj(
            ("type", kind),
            ("code", code),
            ("message", message or _MESSAGES.get(status, "error")),
            ("param", param),
            ("details", None),
            ("doc_url", f"https://commet.co/docs/api-reference/{version}/errors/{code}.md"),
        )
        fields: list[tuple[str, Any]] = [("error", _Raw(detail))]
        if version < "2026-07-24":
            fields.insert(0, ("success", False))
        headers = [("x-request-id", "req_local")]
        if status == 429:
            headers += [
                ("RateLimit-Limit", "100"),
                ("RateLimit-Remaining", "0"),
                ("RateLimit-Reset", "1"),
            ]
        return _json(status, _obj(*fields), headers)

    def _shape(
        self,
        index: int,
        record: Mapping[str, Any],
        version: str,
        *,
        listed: bool,
        fresh: bool = False,
    ) -> bytes:
        summary = listed and version >= "2026-07-31"

        def make() -> dict[str, Any]:
            if not summary:
                return dict(record)
            return {k: v for k, v in record.items() if k not in COMMET_DETAIL_ONLY}

        if fresh:
            return dumps(make())
        return self.cached((index, summary), make)

    def applies(self, kind: str, endpoint: str, call: _Call) -> bool:
        return endpoint == "list" and kind in self.page_faults and "cursor" in call.query

    def _filtered(self, call: _Call) -> list[int]:
        filters = {
            k: call.query[k] for k in ("customerId", "status", "subscriptionId") if k in call.query
        }
        if not filters:
            return list(range(len(self.records)))
        return [
            i for i, r in enumerate(self.records) if all(r.get(k) == v for k, v in filters.items())
        ]

    def list(self, call: _Call) -> _Reply:
        version = self._version(call)
        limit = _int(call, "limit", 25, 1, 100)
        assert limit is not None
        size = min(limit, self.page_size or limit)
        chosen = self._filtered(call)
        cursor = call.query.get("cursor")
        start = 0
        if cursor is not None:
            if cursor not in self.cursor_at:
                raise _Bad(400, f"Invalid cursor {cursor!r}", param="cursor")
            start = bisect.bisect_right(chosen, self.cursor_at[cursor])
        page = chosen[start : start + size]
        has_more = start + size < len(chosen)
        items = [self._shape(i, self.records[i], version, listed=True) for i in page]
        next_cursor = self.cursors[page[-1]] if has_more and page else None
        if call.page_fault and cursor is not None:
            last = self.cursor_at[cursor]
            if call.page_fault == "repeat_cursor":
                next_cursor, has_more = cursor, True
            elif call.page_fault == "repeat":
                items.insert(0, self._shape(last, self.records[last], version, listed=True))
            elif call.page_fault == "conflicting_repeat":
                changed = _bumped(self.records[last])
                items.insert(0, self._shape(last, changed, version, listed=True, fresh=True))
        if version < "2026-07-24":
            fields: list[tuple[str, Any]] = [("success", True)]
        else:
            fields = [("object", "list")]
        fields += [("data", _arr(items)), ("hasMore", has_more)]
        if next_cursor is not None:
            fields.append(("nextCursor", next_cursor))
        return _json(200, _obj(*fields))

    def detail(self, call: _Call) -> _Reply:
        version = self._version(call)
        invoice_id = call.match["id"]
        index = self.by_id.get(invoice_id)
        if index is None:
            raise _Bad(404, f"Invoice {invoice_id} not found", code="invoice_not_found", param="id")
        body = self._shape(index, self.records[index], version, listed=False)
        if version < "2026-07-24":
            return _json(200, _obj(("success", True), ("data", _Raw(body))))
        return _json(200, body)
