"""F5 Distributed Cloud: ``custom_list`` invoices and base64 PDFs, gRPC-gateway errors."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ._exact_json import _arr, _obj
from ._provider_app import _GRPC, _MESSAGES, _App, _Bad, _Call, _int, _json, _Reply


def _pdf(lines: Sequence[str]) -> bytes:
    """A small valid one-page PDF 1.4 showing ``lines`` (ASCII)."""

    def esc(text: str) -> str:
        text = text.encode("ascii", "replace").decode()
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    shown = " ".join(f"({esc(line)}) '" for line in lines)
    stream = f"BT /F1 12 Tf 72 740 Td 16 TL {shown} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


class _F5(_App):
    provider = "f5xc"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.namespace = str(self.options.get("namespace", "system"))
        self.by_name = {r.get("name"): r for r in self.records}
        ns = r"/api/web/namespaces/(?P<ns>[^/]+)/usage"
        self.routes = [
            ("GET", re.compile(ns + "/invoices/custom_list"), "list", self.list),
            ("GET", re.compile(ns + "/invoice_pdf"), "pdf", self.pdf_page),
        ]

    def authorized(self, call: _Call) -> bool:
        return call.header("authorization") == f"APIToken {self.credential}"

    def error(
        self,
        call: _Call,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> _Reply:
        number = _GRPC.get(status, (2, "unknown"))[0]
        text = message or _MESSAGES.get(status, "error")
        return _json(status, _obj(("code", number), ("message", text), ("details", [])))

    def _namespace(self, call: _Call) -> None:
        if call.match["ns"] != self.namespace:
            raise _Bad(404, f"namespace {call.match['ns']!r} not found")

    def list(self, call: _Call) -> _Reply:
        self._namespace(call)
        limit = _int(call, "limit", None, 0, None)
        chosen = range(len(self.records))[: limit or None]
        items = [self.record(i) for i in chosen]
        return _json(200, _obj(("invoices", _arr(items))))

    def pdf(self, name: str) -> bytes:
        record = self.by_name[name]
        amount = Decimal(str(record.get("amount") or "0")).scaleb(-2)
        return _pdf(
            [
                "F5 Distributed Cloud - invoice",
                f"Invoice {name}",
                f"Period {record.get('period_start')} - {record.get('period_end')}",
                f"Amount {amount} {record.get('currency', '')}",
                f"Status {record.get('status', '')}",
            ]
        )

    def pdf_page(self, call: _Call) -> _Reply:
        self._namespace(call)
        name = call.query.get("name", "")
        if name not in self.by_name:
            raise _Bad(404, f"invoice {name!r} not found")
        encoded = base64.b64encode(self.pdf(name)).decode()
        return _json(200, _obj(("pdf", encoded)))
