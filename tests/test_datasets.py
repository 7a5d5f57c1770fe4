"""Real public data through the file source: the violation counts measured in
each dataset's SOURCE.md. Amounts are read exactly as the data states them (4
decimals for SQL Server's ``money``, 6 for a line total); an identity that holds
exactly in the data gives no finding, and one that does not is found.

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
        ("USD", 412, 232860)
    ]  # $2,328.60, exact


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
  - id: aw.subtotal_is_amount_sum
    title: SubTotal = Σ line amounts
    type: aggregate
    sum: amount_minor
    field: subtotal_minor
"""


def _rounded(result: pipeline.RunResult, rule_id: str) -> list[tuple[str, int, str]]:
    """(currency, passes, absorbed) of checks that passed only because the finer side of
    the identity was rounded to the coarser side's precision."""
    return (
        result.engine.rounded.filter(pl.col("rule_id") == rule_id)
        .select("currency", "rounded", "rounded_minor")
        .rows()
    )


def _aw_config(header: Path, detail: Path | None, amounts_id: str = "SalesOrderID") -> str:
    lines = (
        ""
        if detail is None
        else f"""
    lines:
      path: {detail}
      columns: {{invoice_id: SalesOrderID, line_id: SalesOrderDetailID,
                 currency: {{value: USD}}, unit_amount: LineTotal, quantity: {{value: "1"}}}}"""
    )
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


def test_adventureworks_lt_exact_at_four_decimals_and_the_header_line_gap(write) -> None:
    lt = DATASETS / "adventureworks_lt"
    result = _run(
        write, _aw_config(lt / "SalesOrderHeader.csv", lt / "SalesOrderDetail.csv"), AW_RULES
    )
    # SOURCE.md: exact at 4 dp 0/32 (rounding each component to cents first: 14/32).
    assert _count(result, "aw.total_due") == 0
    assert _rounded(result, "aw.total_due") == []
    # SubTotal == Σ LineTotal fails on 32/32 by large amounts: a real gap in the data.
    assert _count(result, "aw.subtotal_is_line_sum") == 32
    assert result.sources[0].checked == 32
    # Money is kept at 4 decimals (2 beyond the cent) and rounded once for the totals.
    aw = result.data["aw"]
    assert aw.precision.scale == 2 and aw.precision.places["total_minor"] == 2
    totals = result.rounding.filter(pl.col("field") == "total_minor")
    assert totals.select("amounts", "rounded").row(0) == (32, 32)


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
    # SOURCE.md: exact 0 (components rounded to cents first: 5,306; naive float: 11,432).
    assert _count(result, "aw.total_due") == 0
    stats = result.engine.stats.filter(pl.col("rule_id") == "aw.total_due").row(0, named=True)
    assert (stats["checked"], stats["failed"], stats["absorbed"]) == (31465, 0, 0)
    assert _rounded(result, "aw.total_due") == []  # same precision on both sides


def test_adventureworks_oltp_sample_lines_at_the_headers_precision(write) -> None:
    oltp = DATASETS / "adventureworks_oltp"
    result = _run(
        write,
        _aw_config(oltp / "sample_SalesOrderHeader.csv", oltp / "sample_SalesOrderDetail.csv"),
        AW_RULES,
    )
    assert result.sources[0].checked == 1561
    assert result.sources[0].lines_valid == 6032
    aw = result.data["aw"]
    assert (aw.precision.scale, aw.line_precision.scale) == (2, 4)  # 4 dp headers, 6 dp lines
    # SOURCE.md: SubTotal == Σ LineTotal exact: 32 sub-cent gaps (e.g. 44100: 81164.2329 vs
    # 81164.232876). At the header's 4 decimals, the sum rounded once: 0, and the 32
    # sums that rounding changed are counted.
    for rule in ("aw.subtotal_is_line_sum", "aw.subtotal_is_amount_sum"):
        assert _count(result, rule) == 0
        ((currency, passes, absorbed),) = _rounded(result, rule)
        assert (currency, passes) == ("USD", 32)
        assert Decimal(absorbed) < Decimal("0.01") * 32  # each under a hundredth of a cent
    assert _count(result, "aw.total_due") == 0


def test_a_one_cent_gap_at_four_decimals_is_found(write, tmp_path: Path) -> None:
    """The same data with one order's TotalDue one cent high: exactly that one finding."""
    oltp = DATASETS / "adventureworks_oltp"
    header = (oltp / "sample_SalesOrderHeader.csv").read_text(encoding="utf-8")
    changed = header.replace(",23153.2339\n", ",23153.2439\n", 1)
    assert changed != header
    (tmp_path / "h.csv").write_text(changed, encoding="utf-8")
    result = _run(write, _aw_config(tmp_path / "h.csv", None), AW_RULES)
    found = result.findings.filter(pl.col("rule_id") == "aw.total_due")
    assert found.select("invoice_id", "expected", "actual", "delta_minor").rows() == [
        ("43659", "23153.2339 USD", "23153.2439 USD", 1)
    ]
