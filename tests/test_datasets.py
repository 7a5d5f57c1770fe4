"""Real public data through the file source: the violation counts measured in
each dataset's SOURCE.md, with exact integer-cent arithmetic.

Chinook (MIT, Luis Rocha) and AdventureWorks (MIT, Microsoft) — see
shared/datasets/*/SOURCE.md for provenance and licences.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from reconcile import pipeline
from tests.conftest import DATASETS

pytestmark = pytest.mark.skipif(not DATASETS.is_dir(), reason="shared/datasets not present")


def _run(write, config: str, rules: str) -> pipeline.RunResult:
    write("rules.yaml", rules)
    return pipeline.run(write("close.yaml", config))


def _count(result: pipeline.RunResult, rule_id: str) -> int:
    return result.findings.filter(pl.col("rule_id") == rule_id).height


def test_chinook_totals_equal_line_sums_exactly(write) -> None:
    config = f"""
period: {{start: 2000-01-01, end: 2100-01-01}}
sources:
  chinook:
    provider: file
    path: {DATASETS}/chinook/Invoice.csv
    columns: {{invoice_id: InvoiceId, customer_id: CustomerId, currency: {{value: USD}},
               total_minor: Total, issued_at: InvoiceDate}}
    lines:
      path: {DATASETS}/chinook/InvoiceLine.csv
      columns: {{invoice_id: InvoiceId, line_id: InvoiceLineId, currency: {{value: USD}},
                 unit_amount: UnitPrice, quantity: Quantity}}
rules: [rules.yaml]
"""
    rules = """
rules:
  - id: chinook.total_is_line_sum
    title: Invoice total = Σ unit price × quantity
    type: aggregate
    sum: unit_amount * quantity
    field: total_minor
"""
    result = _run(write, config, rules)
    summary = result.sources[0]
    assert (summary.records_read, summary.checked, summary.lines_valid) == (412, 412, 2240)
    # SOURCE.md: 0 / 412 with Decimal cents (a float comparison reports 56).
    assert _count(result, "chinook.total_is_line_sum") == 0
    stats = result.engine.stats.row(0, named=True)
    assert (stats["checked"], stats["failed"]) == (412, 0)
    assert result.control_totals.select("currency", "invoices", "total_minor").rows() == [
        ("USD", 412, 232860)]  # $2,328.60, exact


def test_chinook_float_comparison_would_report_false_mismatches() -> None:
    """The trap the exact path avoids: SQLite REAL arithmetic gives 56 mismatches."""
    import sqlite3

    con = sqlite3.connect(DATASETS / "chinook" / "Chinook_Sqlite.sqlite")
    (bad,) = con.execute(
        "SELECT COUNT(*) FROM Invoice i WHERE i.Total <> "
        "(SELECT SUM(UnitPrice * Quantity) FROM InvoiceLine l WHERE l.InvoiceId = i.InvoiceId)"
    ).fetchone()
    assert bad == 56


AW_RULES = """
rules:
  - id: aw.total_due
    title: TotalDue = SubTotal + TaxAmt + Freight
    type: expression
    field: total_minor
    expect: subtotal_minor + tax_minor + shipping_minor
  - id: aw.subtotal_is_line_sum
    title: SubTotal = Σ LineTotal
    type: aggregate
    sum: unit_amount * quantity
    field: subtotal_minor
  - id: aw.subtotal_is_rounded_line_sum
    title: SubTotal = Σ LineTotal rounded per line
    type: aggregate
    sum: amount_minor
    field: subtotal_minor
"""


def _aw_config(header: Path, detail: Path | None, amounts_id: str = "SalesOrderID") -> str:
    lines = "" if detail is None else f"""
    lines:
      path: {detail}
      columns: {{invoice_id: SalesOrderID, line_id: SalesOrderDetailID,
                 currency: {{value: USD}}, unit_amount: LineTotal, quantity: {{value: "1"}}}}"""
    return f"""
period: {{start: 2000-01-01, end: 2100-01-01}}
sources:
  aw:
    provider: file
    path: {header}
    columns: {{invoice_id: {amounts_id}, currency: {{value: USD}}, subtotal_minor: SubTotal,
               tax_minor: TaxAmt, shipping_minor: Freight, total_minor: TotalDue}}{lines}
rules: [rules.yaml]
"""


def test_adventureworks_lt_cent_rounding_and_header_line_gap(write) -> None:
    lt = DATASETS / "adventureworks_lt"
    result = _run(write, _aw_config(lt / "SalesOrderHeader.csv", lt / "SalesOrderDetail.csv"),
                  AW_RULES)
    # SOURCE.md: exact at 4 dp 0/32; each component rounded to cents half-up: 14/32.
    assert _count(result, "aw.total_due") == 14
    # SOURCE.md: SubTotal == Σ LineTotal fails on 32/32 by large amounts.
    assert _count(result, "aw.subtotal_is_line_sum") == 32
    # Every 4-dp amount that was rounded is reported as residue, none hidden.
    assert {r.field for r in result.residues} >= {"subtotal_minor", "total_minor"}
    assert all(abs(r.residue) <= Decimal("0.5") for r in result.residues)


def test_adventureworks_oltp_31465_headers(write, tmp_path: Path) -> None:
    source = DATASETS / "adventureworks_oltp" / "SalesOrderHeader_money_only_31465.csv"
    # SOURCE.md: no id column; row i is SalesOrderID 43659 + i.
    with source.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keyed = tmp_path / "headers.csv"
    with keyed.open("w", newline="", encoding="utf-8") as fh:
        out = csv.DictWriter(fh, ["SalesOrderID", *rows[0].keys()])
        out.writeheader()
        for i, row in enumerate(rows):
            out.writerow({"SalesOrderID": 43659 + i, **row})
    result = _run(write, _aw_config(keyed, None), AW_RULES)
    assert result.sources[0].checked == 31465
    # SOURCE.md: exact 0; components rounded to cents first: 5,306 (naive float: 11,432).
    assert _count(result, "aw.total_due") == 5306


def test_adventureworks_oltp_sample_lines_at_cent_level(write) -> None:
    oltp = DATASETS / "adventureworks_oltp"
    result = _run(write, _aw_config(oltp / "sample_SalesOrderHeader.csv",
                                    oltp / "sample_SalesOrderDetail.csv"), AW_RULES)
    assert result.sources[0].checked == 1561
    assert result.sources[0].lines_valid == 6032
    # SOURCE.md: SubTotal == Σ LineTotal exact: 32 sub-cent gaps; at cent level: 0.
    assert _count(result, "aw.subtotal_is_line_sum") == 0
    # Rounding each 6-dp line to cents first opens 1–6 cent gaps on 104 orders:
    # line-level vs total-level rounding (the largest gap is 6 cents).
    gaps = result.findings.filter(pl.col("rule_id") == "aw.subtotal_is_rounded_line_sum")
    assert gaps.height == 104
    assert gaps["delta_minor"].abs().max() == 6
