"""Amberflo: per-customer invoice lists (``null`` when empty), one invoice, customers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._exact_json import _arr, _obj, dumps
from ._provider_app import _MESSAGES, _App, _Bad, _bool, _Call, _json, _Reply


class _Amberflo(_App):
    provider = "amberflo"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        customers = [str(c) for c in self.options.get("customers", ())]
        for record in self.records:
            customer = self._key(record).get("customerId")
            if isinstance(customer, str) and customer not in customers:
                customers.append(customer)
        self.customers = customers
        empty = self.options.get("empty_body", "null")
        if empty not in ("null", "[]", ""):
            raise ValueError("amberflo option empty_body is 'null', '[]' or ''")
        self.empty = str(empty).encode()
        base = "/payments/billing/customer-product-invoice"
        self.routes = [
            ("GET", re.compile(base + "/all"), "list", self.list),
            ("GET", re.compile(base), "get", self.get),
            ("GET", re.compile("/customers/?"), "customers", self.customer_list),
        ]

    @staticmethod
    def _key(record: Mapping[str, Any]) -> Mapping[str, Any]:
        key = record.get("invoiceKey")
        return key if isinstance(key, Mapping) else {}

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
        return _json(status, _obj(("message", message or _MESSAGES.get(status, "error"))))

    def _mine(self, call: _Call) -> list[int]:
        customer = call.query.get("customerId")
        if not customer:
            raise _Bad(400, "customerId is required", param="customerId")
        product = call.query.get("productId", "1")
        return [
            i
            for i, r in enumerate(self.records)
            if self._key(r).get("customerId") == customer
            and str(self._key(r).get("productId", "1")) == product
        ]

    def list(self, call: _Call) -> _Reply:
        mine = self._mine(call)
        if not mine:
            return _json(200, self.empty)
        return _json(200, _arr([self.record(i) for i in mine]).data)

    def get(self, call: _Call) -> _Reply:
        mine = self._mine(call)
        if _bool(call.query.get("latest")):
            mine = sorted(mine, key=lambda i: self.records[i].get("invoiceStartTimeInSeconds", 0))
            mine = mine[-1:]
        else:
            wanted = {k: call.query.get(k) for k in ("productPlanId", "year", "month", "day")}
            mine = [
                i
                for i in mine
                if all(str(self._key(self.records[i]).get(k)) == v for k, v in wanted.items())
            ]
        if not mine:
            raise _Bad(404, "invoice not found")
        return _json(200, self.record(mine[0]))

    def customer_list(self, call: _Call) -> _Reply:
        rows = [
            {
                "customerId": c,
                "customerName": c,
                "customerEmail": None,
                "lifecycleStage": "ACTIVE",
                "test": False,
            }
            for c in self.customers
        ]
        return _json(200, dumps(rows))
