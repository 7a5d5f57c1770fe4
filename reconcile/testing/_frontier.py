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
    "id": "", "customer_id": "", "provider_id": "", "state": "", "currency": "",
    "amount": "0", "hosted_url": "", "due_date": None, "effective_at": None,
    "period_start_at": None, "period_end_at": None, "metadata": None, "created_at": None,
    "customer": None,
}
_CONNECT_LIST = "/raystack.frontier.v1beta1.FrontierService/ListInvoices"
#: the Frontier organization served unless ``options["org_id"]`` says otherwise
ORG_ID = "org-northwind"


class _Frontier(_App):
    provider = "frontier"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.api = str(self.options.get("api", "connect"))
        if self.api not in ("connect", "rest", "both"):
            raise ValueError("frontier option api is 'connect', 'rest' or 'both'")
        self.org_id = str(self.options.get("org_id", ORG_ID))
        for record in self.records:
            amount = record.get("amount", "0")
            if isinstance(amount, bool) or not isinstance(amount, int | str):
                raise TypeError(f"frontier amount {amount!r}: an int64 (int or digit string)")
        org = "/v1beta1/organizations/(?P<org>[^/]+)/billing"
        if self.api in ("rest", "both"):
            self.routes += [
                ("GET", re.compile(org + "/(?P<billing>[^/]+)/invoices"), "list", self.rest),
                ("GET", re.compile(org + "/invoices"), "list", self.rest),
            ]
        if self.api in ("connect", "both"):
            self.routes.append(("POST", re.compile(_CONNECT_LIST), "list", self.connect))

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

    def error(self, call: _Call, status: int, message: str | None = None, *,
              code: str | None = None, param: str | None = None) -> _Reply:
        number, name = _GRPC.get(status, (2, "unknown"))
        text = message or _MESSAGES.get(status, "error")
        connect = call.path == _CONNECT_LIST or (
            self.api == "connect" and not call.path.startswith("/v1beta1/"))
        if connect:
            return _json(status, _obj(("code", name), ("message", text)))
        return _json(status, _obj(("code", number), ("message", text), ("details", [])))

    def _wire(self, record: Mapping[str, Any], *, connect: bool, expand: bool) -> dict[str, Any]:
        full = {**FRONTIER_FIELDS, **record}
        full["amount"] = str(full["amount"])
        if not expand:
            full["customer"] = None
        if not connect:
            return full
        return {k: v for k, v in full.items() if v not in ("", "0", None)}

    def _page(self, org: str, nonzero: bool, expand: bool, connect: bool) -> _Reply:
        if org != self.org_id:
            raise _Bad(404, f"organization {org!r} doesn't exist")
        chosen = [i for i, r in enumerate(self.records)
                  if not nonzero or int(str(r.get("amount", "0"))) > 0]
        items = [self.cached((i, connect, expand), functools.partial(
            self._wire, self.records[i], connect=connect, expand=expand)) for i in chosen]
        return _json(200, _obj(("invoices", _arr(items))))

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
