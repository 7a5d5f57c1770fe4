"""Shared helpers for the provider normalizer tests: sample pages and invariants."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from reconcile import schema
from reconcile.providers._base import Normalized, Page
from reconcile.sources import frame  # rows to frames exactly as the pipeline builds them
from tests.conftest import sample_path


def sample_page(name: str, kind: str = "list", endpoint: str = "") -> Page:
    path = sample_path(name)
    return Page(body=path.read_bytes(), location=str(path), endpoint=endpoint, kind=kind)


def sample_json(name: str) -> Any:
    """A sample as plain JSON for editing (floats re-dump as their original text)."""
    return json.loads(sample_path(name).read_text(encoding="utf-8"))


def json_page(body: Any, location: str, kind: str = "list", endpoint: str = "") -> Page:
    return Page(body=json.dumps(body).encode(), location=location, endpoint=endpoint, kind=kind)


def raw_page(body: bytes, location: str, kind: str = "list", endpoint: str = "") -> Page:
    return Page(body=body, location=location, endpoint=endpoint, kind=kind)


def by_id(out: Normalized) -> dict[str, dict[str, Any]]:
    return {row["invoice_id"]: row for row in out.invoices}


def lines_of(out: Normalized, invoice_id: str) -> list[dict[str, Any]]:
    return [line for line in out.lines if line["invoice_id"] == invoice_id]


def _no_float(value: Any) -> bool:
    return not isinstance(value, float)


def check_invariants(out: Normalized, *, validate: bool = True) -> None:
    """What every normalizer result must satisfy; ``validate``: rows pass the canonical schema."""
    assert out.records_read == len(out.invoices) + len(out.rejects)
    for row in out.invoices:
        assert list(row) == list(schema.INVOICE_SCHEMA)
        assert row["status"] in schema.STATUSES
    for row in out.lines:
        assert list(row) == list(schema.LINE_SCHEMA)
    values = [v for row in out.invoices + out.lines for v in row.values()]
    assert all(_no_float(v) for v in values)
    money = [row[c] for row in out.invoices for c in schema.MONEY_COLUMNS] + [
        row[c] for row in out.lines for c in schema.LINE_MONEY_COLUMNS
    ]
    assert all(v is None or type(v) in (int, Decimal) for v in money)  # exact minor units
    assert schema.ALWAYS_PROVIDED <= out.provided <= schema.INVOICE_SCHEMA.keys()
    for column in set(schema.MONEY_COLUMNS) - out.provided:  # money not sent stays null
        assert all(row[column] is None for row in out.invoices), column
    if not validate:
        return
    invoices, _ = frame(out.invoices, schema.INVOICE_SCHEMA)
    checked = schema.validate_invoices(invoices, out.provided, out.nullable)
    assert checked.failures.height == 0, checked.failures
    lines, _ = frame(out.lines, schema.LINE_SCHEMA)
    checked = schema.validate_lines(lines)
    assert checked.failures.height == 0, checked.failures
