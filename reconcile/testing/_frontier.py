"""Frontier (raystack): ``ListInvoices`` over Connect (POST, JSON body) or the REST gateway."""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Mapping
from typing import Any

from ._exact_json import _arr, _obj, loads
from ._provider_app import _GRPC, _MESSAGES, _App, _Bad, _bool, _Call, _json, _Reply

#: Frontier ``Invoice`` fields in proto order, with their proto3 zero value
FRONTIER_FIELDS: dict[str, Any] = {
    "id": "",
    "customer_id": "",
    "provider_id": "",
    "state": "",
    "currency": "",
    "amount": "0",
    "hosted_url": "",
    "due_date": None,
    "effective_at": None,
    "period_start_at": None,
    "period_end_at": None,
    "metadata": None,
    "created_at": None,
    "customer": None,
}
_CONNECT_LIST = "/raystack.frontier.v1beta1.FrontierService/ListInvoices"
_CONNECT_ORGS = "/raystack.frontier.v1beta1.FrontierService/ListOrganizations"
#: the Frontier organization served unless ``options["org_id"]`` says otherwise
ORG_ID = "org-northwind"
#: a record's organization (not sent): ``"__org": "org-b"``; default: ``org_id``
ORG_KEY = "__org"


class _Frontier(_App):
    provider = "frontier"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.api = str(self.options.get("api", "connect"))
        if self.api not in ("connect", "rest", "both"):
            raise ValueError("frontier option api is 'connect', 'rest' or 'both'")
        self.org_id = str(self.options.get("org_id", ORG_ID))
        # every organization: the option's list (an organization without invoices
        # too), else those the records name
        named = {str(r.get(ORG_KEY, self.org_id)) for r in self.records} | {self.org_id}
        self.orgs = [str(o) for o in self.options.get("organizations", sorted(named))]
        for record in self.records:
            amount = record.get("amount", "0")
            if isinstance(amount, bool) or not isinstance(amount, int | str):
                raise TypeError(f"frontier amount {amount!r}: an int64 (int or digit string)")
        org = "/v1beta1/organizations/(?P<org>[^/]+)/billing"
        if self.api in ("rest", "both"):
            self.routes += [
                ("GET", re.compile(org + "/(?P<billing>[^/]+)/invoices"), "list", self.rest),
                ("GET", re.compile(org + "/invoices"), "list", self.rest),
                ("GET", re.compile("/v1beta1/organizations"), "organizations", self.rest_orgs),
            ]
        if self.api in ("connect", "both"):
            self.routes += [
                ("POST", re.compile(_CONNECT_LIST), "list", self.connect),
                ("POST", re.compile(_CONNECT_ORGS), "organizations", self.connect_orgs),
            ]

    def authorized(self, call: _Call) -> bool:
        header = call.header("authorization")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value == self.credential
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True).decode()
            except ValueError:
                return False
            return self.credential in (decoded, decoded.partition(":")[2])
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
        number, name = _GRPC.get(status, (2, "unknown"))
        text = message or _MESSAGES.get(status, "error")
        connect = call.path in (_CONNECT_LIST, _CONNECT_ORGS) or (
            self.api == "connect" and not call.path.startswith("/v1beta1/")
        )
        if connect:
            return _json(status, _obj(("code", name), ("message", text)))
        return _json(status, _obj(("code", number), ("message", text), ("details", [])))

    def _wire(self, record: Mapping[str, Any], *, connect: bool, expand: bool) -> dict[str, Any]:
        full = {**FRONTIER_FIELDS, **{k: v for k, v in record.items() if k != ORG_KEY}}
        full["amount"] = str(full["amount"])
        if not expand:
            full["customer"] = None
        if not connect:
            return full
        return {k: v for k, v in full.items() if v not in ("", "0", None)}

    def _page(self, org: str, nonzero: bool, expand: bool, connect: bool) -> _Reply:
        if org not in self.orgs:
            raise _Bad(404, f"organization {org!r} doesn't exist")
        chosen = [
            i
            for i, r in enumerate(self.records)
            if str(r.get(ORG_KEY, self.org_id)) == org
            and (not nonzero or int(str(r.get("amount", "0"))) > 0)
        ]
        if connect and not chosen:
            return _json(200, b"{}")  # proto3 JSON omits an empty repeated field
        items = [
            self.cached(
                (i, connect, expand),
                functools.partial(self._wire, self.records[i], connect=connect, expand=expand),
            )
            for i in chosen
        ]
        return _json(200, _obj(("invoices", _arr(items))))

    def _orgs(self, page_num: int, page_size: int, connect: bool) -> _Reply:
        """``ListOrganizations``: page ``page_num`` (from 1) of ``page_size``, oldest last."""
        if page_num < 1 or page_size < 1:
            raise _Bad(400, "page_num and page_size must be positive")
        chosen = self.orgs[(page_num - 1) * page_size : page_num * page_size]
        if connect and not chosen:
            return _json(200, b"{}")
        items = [
            _obj(("id", o), ("name", o), ("title", o.title()), ("state", "enabled")) for o in chosen
        ]
        return _json(200, _obj(("organizations", _arr(items))))

    def rest_orgs(self, call: _Call) -> _Reply:
        return self._orgs(
            int(call.query.get("page_num", "1")),
            int(call.query.get("page_size", "50")),
            connect=False,
        )

    def connect_orgs(self, call: _Call) -> _Reply:
        try:
            body = loads(call.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise _Bad(400, "invalid syntax in body") from None
        if not isinstance(body, dict) or set(body) - {"page_num", "page_size", "state", "user_id"}:
            raise _Bad(400, "invalid syntax in body")
        return self._orgs(
            int(body.get("page_num", 1)), int(body.get("page_size", 50)), connect=True
        )

    def rest(self, call: _Call) -> _Reply:
        expand = any(v.lower() == "customer" for v in call.values("expand"))
        nonzero = _bool(call.query.get("nonzero_amount_only"))
        return self._page(call.match["org"], nonzero, expand, connect=False)

    def connect(self, call: _Call) -> _Reply:
        content_type = call.header("content-type").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise _Bad(415, f"unsupported content type {content_type!r}")
        try:
            body = loads(call.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise _Bad(400, "invalid syntax in body") from None
        aliases = {"orgId": "org_id", "nonzeroAmountOnly": "nonzero_amount_only"}
        if not isinstance(body, dict):
            raise _Bad(400, "invalid syntax in body")
        body = {aliases.get(k, k): v for k, v in body.items()}
        unknown = set(body) - {"org_id", "nonzero_amount_only", "expand"}
        if unknown:
            raise _Bad(400, f"unknown field {sorted(unknown)[0]!r} in body")
        org, expand = body.get("org_id", ""), body.get("expand") or []
        if not isinstance(org, str) or not org:
            raise _Bad(400, "org_id is required")
        if not isinstance(expand, list):
            raise _Bad(400, "expand must be a list")
        expanded = any(str(v).lower() == "customer" for v in expand)
        return self._page(org, body.get("nonzero_amount_only") is True, expanded, connect=True)
