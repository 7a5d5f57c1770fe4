"""Sums, control totals, tie-outs and rule arithmetic never wrap: amounts at the edge
of 64 bits give exact totals and differences, a rule whose arithmetic could leave
128 bits is refused at load, and one that fails on the data names itself (exit 3)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from tests.hostile.test_inputs import PERIOD, invoke, write

#: the largest amount a canonical frame holds, in cents: 2^63 − 1 minor units (the
#: issue's two ledger rows that wrapped)
EDGE = "92233720368547758.07"
EDGE_MINOR = 2**63 - 1
COLUMNS = "{invoice_id: id, total_minor: amount, currency: currency}"


def _close(folder: Path, books: list[str], ledger: list[str], rules: str = "") -> Path:
    write(
        folder,
        "books.csv",
        "id,amount,currency\n"
        + "".join(f"{i},{a},USD\n" for i, a in zip("AB", books, strict=True)),
    )
    write(
        folder,
        "ledger.csv",
        "id,amount,currency\n"
        + "".join(f"{i},{a},USD\n" for i, a in zip("AB", ledger, strict=True)),
    )
    extra = ""
    if rules:
        write(folder, "rules.yaml", rules)
        extra = "rules: rules.yaml\n"
    return write(
        folder,
        "close.yaml",
        PERIOD
        + f"""sources:
  books: {{provider: file, path: books.csv, amounts: major, columns: {COLUMNS}}}
  ledger: {{provider: file, path: ledger.csv, amounts: major, columns: {COLUMNS}}}
pairings:
  - name: books-ledger
    left: {{source: books, key: invoice_id}}
    right: {{source: ledger, key: invoice_id}}
"""
        + extra,
    )


def _books_rule(rule_id: str, expect: str) -> str:
    return f"""rules:
  - id: {rule_id}
    title: t
    type: expression
    applies_to: {{source: books}}
    field: total_minor
    expect: "{expect}"
"""


def test_two_edge_amounts_total_exactly_and_a_sign_difference_is_not_a_tie(tmp_path: Path) -> None:
    """Int64 sums wrapped: two rows of 92,233,720,368,547,758.07 gave a control total of
    −0.04 and a tie-out that "ties". Now the totals are exact, and the ledger booking B
    negative is a difference of exactly 2 × the amount, explained by its finding."""
    config = _close(tmp_path, [EDGE, EDGE], [EDGE, "-" + EDGE])
    result = invoke("run", config, "--out", tmp_path / "out")
    assert result.exit_code == 1, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    totals = {c["source"]: c["total_minor"] for c in summary["control_totals"]}
    assert totals == {"books": 2 * EDGE_MINOR, "ledger": 0}
    (tie,) = summary["reconciliation"][0]["tieout"]
    assert tie["left_total_minor"] == 2 * EDGE_MINOR and tie["right_total_minor"] == 0
    assert tie["difference_minor"] == -2 * EDGE_MINOR
    assert tie["amount_differences_minor"] == -2 * EDGE_MINOR and tie["unexplained_minor"] == 0
    findings = json.loads((tmp_path / "out" / "findings.json").read_text())
    (diff,) = [f for f in findings if f["invoice_id"] == "B" and f["field"] == "total_minor"]
    assert diff["delta_minor"] == -2 * EDGE_MINOR and diff["classification"] == "sign_flip"
    assert (
        "-184467440737095516.14" in diff["message"]
        or "184,467,440,737,095,516.14" in (diff["message"])
    ), diff["message"]
    # every output keeps the exact difference; Parquet as DECIMAL(38, 0), which any
    # reader knows (Polars' own Int128 is a bare 16-byte array to others)
    parquet = pl.read_parquet(tmp_path / "out" / "findings.parquet")
    assert parquet.schema["delta_minor"] == pl.Decimal(38, 0)
    row = parquet.filter((pl.col("invoice_id") == "B") & (pl.col("field") == "total_minor"))
    assert row["delta_minor"].to_list() == [Decimal(-2 * EDGE_MINOR)]
    csv = (tmp_path / "out" / "findings.csv").read_text()
    assert str(-2 * EDGE_MINOR) in csv


def test_a_rule_multiplying_an_amount_gives_the_exact_product(tmp_path: Path) -> None:
    """``expect: total_minor * 922337203685477580`` wrapped to a negative total."""
    rules = _books_rule("x.scaled", "total_minor * 922337203685477580")
    config = _close(tmp_path, ["10.00", "0.00"], ["10.00", "0.00"], rules)
    result = invoke("run", config, "--out", tmp_path / "out")
    assert result.exit_code == 1, result.output
    findings = json.loads((tmp_path / "out" / "findings.json").read_text())
    (only,) = [f for f in findings if f["rule_id"] == "x.scaled"]
    assert only["invoice_id"] == "A"
    product = 1000 * 922337203685477580
    assert only["delta_minor"] == 1000 - product
    assert only["expected"] == f"{Decimal(product).scaleb(-2):f} USD", only["expected"]


@pytest.mark.parametrize(
    ("expression", "needle"),
    [
        ("total_minor * total_minor * total_minor", "could exceed 128-bit integers"),
        ("CAST(total_minor AS INT)", "casts to INT"),
    ],
)
def test_arithmetic_that_could_leave_its_type_is_refused_at_load(
    tmp_path: Path, expression: str, needle: str
) -> None:
    rules = f"""rules:
  - id: x.cube
    title: t
    type: expression
    field: total_minor
    expect: "{expression}"
"""
    config = _close(tmp_path, ["1.00", "2.00"], ["1.00", "2.00"], rules)
    for args in (
        ["rules", "check", tmp_path / "rules.yaml"],
        ["run", config, "--out", tmp_path / "out"],
    ):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        line = result.output.strip().splitlines()[-1]
        assert f"{tmp_path / 'rules.yaml'}:6: rule x.cube" in line and needle in line, line


def test_a_rule_that_fails_on_the_data_names_rule_and_source(tmp_path: Path) -> None:
    """Amounts finer than the minor unit are checked as exact decimals (38 digits,
    whose arithmetic Polars checks): a product of two such edge amounts overflows
    them at run time. The run stops with exit 3 naming the rule's file and line and
    the source, not a traceback, and writes no report."""
    rules = _books_rule("x.square", "total_minor * total_minor")
    config = _close(tmp_path, ["92233720368547758.055", "1.005"], ["1.00", "2.00"], rules)
    result = invoke("run", config, "--out", tmp_path / "out")
    assert result.exit_code == 3, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith(f"reconcile: error: books: {tmp_path / 'rules.yaml'}:2: rule x.square")
    assert "cannot be evaluated on this data" in line and "overflow" in line, line
    assert not (tmp_path / "out" / "report.html").exists()


@pytest.mark.parametrize(
    ("tolerance", "needle"),
    [
        ('{relative: "1e-99999999"}', "at most 12 decimal places"),
        ('{relative: "0.5e-12"}', "at most 12 decimal places"),
        ("100000000000000000000", "at most 1000000000000000"),
        ('{relative: "' + "1" * 5000 + '"}', "tolerance 'relative'"),
    ],
)
def test_a_huge_tolerance_is_refused_at_once(tmp_path: Path, tolerance: str, needle: str) -> None:
    write(
        tmp_path,
        "rules.yaml",
        f"""rules:
  - id: x.tol
    title: t
    type: expression
    tolerance: {tolerance}
    field: total_minor
    expect: "subtotal_minor"
""",
    )
    result = invoke("rules", "check", tmp_path / "rules.yaml")
    assert result.exit_code == 2 and needle in result.output, result.output
    assert "rules.yaml:" in result.output and len(result.output) < 600
