"""The exact money model through whole runs on small files: what a rule's SQL means when
a source is finer than the minor unit, what tolerance and rounding absorb, and what
counts as a quarantined counterpart."""

from __future__ import annotations

import polars as pl

from reconcile import pipeline

PERIOD = "period: {start: 2026-10-01, end: 2026-11-01}\n"


def run(write, config: str, rules: str | None = None) -> pipeline.RunResult:
    if rules is not None:
        write("rules.yaml", "rules:\n" + rules)
        config += "rules: [rules.yaml]\n"
    return pipeline.run(write("close.yaml", PERIOD + config))


ONE_SOURCE = """sources:
  a:
    provider: file
    path: a.csv
    columns: {invoice_id: id, currency: {value: USD}, subtotal_minor: sub, total_minor: total,
              status: status}
"""


def test_a_rule_s_literals_are_minor_units_whatever_the_source_s_precision(write) -> None:
    """``subtotal_minor + 100`` adds one dollar on a source exact to a tenth of a cent as on
    one in cents (literals and filters read minor units, not the exact twins' units)."""
    write(
        "a.csv",
        "id,sub,total,status\nA1,10.005,11.005,paid\nA2,20.00,21.00,paid\nA3,30.00,31.01,void\n",
    )
    found = run(
        write,
        ONE_SOURCE,
        """
  - id: fee
    title: total = subtotal + a 1.00 fee
    type: expression
    filter: "total_minor > 1000 AND status <> 'void'"
    field: total_minor
    expect: subtotal_minor + 100
""",
    ).findings
    assert found.is_empty(), found.select("invoice_id", "message").rows()


def test_a_sub_cent_difference_absorbed_by_tolerance_is_reported(write) -> None:
    write("a.csv", "id,sub,total,status\nA1,10.004,10.001,paid\n")
    result = run(
        write,
        ONE_SOURCE,
        """
  - id: tol
    title: total = subtotal, within a cent
    type: expression
    field: total_minor
    expect: subtotal_minor
    tolerance: 1
""",
    )
    assert result.findings.is_empty()
    assert result.engine.absorbed.select("rule_id", "absorbed", "absorbed_minor").rows() == [
        ("tol", 1, 0)
    ]  # 0.3 of a cent, passed thanks to the tolerance: counted
    assert result.engine.rounded.is_empty()


TWO_SOURCES = """sources:
  l:
    provider: file
    path: l.csv
    columns: {invoice_id: id, currency: {value: USD}, total_minor: total}
    lines:
      path: l_lines.csv
      columns: {invoice_id: inv, currency: {value: USD}, amount_minor: amount}
  r:
    provider: file
    path: r.csv
    columns: {invoice_id: id, external_ref: ref, currency: {value: USD}, total_minor: total}
pairings:
  - {name: l-r, left: {source: l, key: invoice_id}, right: {source: r, key: external_ref}}
"""


def test_a_line_that_cannot_be_read_is_not_a_quarantined_invoice(write) -> None:
    """A bad line names its invoice id, but no invoice X9 was ever read: r's X9 is
    missing from l, not a quarantined counterpart."""
    write("l.csv", "id,total\nA1,10.00\n")
    write("l_lines.csv", "inv,amount\nA1,10.00\nX9,abc\n")
    write("r.csv", "id,ref,total\nR1,A1,10.00\nR2,X9,55.00\n")
    result = run(write, TWO_SOURCES)
    present = result.findings.filter(pl.col("rule_id") == "xsrc.counterpart_present")
    assert present.select("invoice_id", "classification").rows() == [("R2", "missing")]
    (row,) = result.tieouts.to_dicts()
    assert (row["missing_minor"], row["quarantined_minor"]) == (5500, 0)


def test_an_unreadable_invoice_with_a_key_is_the_counterpart(write) -> None:
    write("l.csv", "id,total\nA1,10.00\nX9,abc\n")
    write("l_lines.csv", "inv,amount\nA1,10.00\n")
    write("r.csv", "id,ref,total\nR1,A1,10.00\nR2,X9,55.00\n")
    result = run(write, TWO_SOURCES)
    present = result.findings.filter(pl.col("rule_id") == "xsrc.counterpart_present")
    assert present.select("invoice_id", "classification", "actual").rows() == [
        ("R2", "counterpart_quarantined", "quarantined (schema.unreadable_record)")
    ]
    assert "l.csv row 3" in present["message"].item()
    assert result.tieouts["quarantined_minor"].to_list() == [5500]


LINES_RULES = """
  - id: charges
    title: charge lines sum to the subtotal
    type: aggregate
    filter: "status <> 'draft'"
    lines_filter: "line_type = 'charge'"
    field: subtotal_minor
  - id: line.amount
    title: amount = quantity × unit amount
    type: expression
    rows: lines
    filter: "line_type = 'charge'"
    field: amount_minor
    expect: quantity * unit_amount
"""
LINES_SOURCE = """sources:
  a:
    provider: file
    path: a.csv
    columns: {invoice_id: id, currency: {value: USD}, subtotal_minor: sub, total_minor: sub,
              status: status}
    lines:
      path: lines.csv
      columns: {invoice_id: inv, line_type: kind, amount_minor: amount, quantity: qty,
                unit_amount: unit}
"""


def test_rule_filters_read_their_rule_s_rows(write) -> None:
    """An aggregate's filter reads invoices (it used to be applied to the lines), a line
    rule's reads lines; a line without a quantity is N/A whatever the other lines'
    precision (a null does not make the comparison finer)."""
    write("a.csv", "id,sub,status\nA1,20.0049,paid\nA2,5.00,draft\n")
    write(
        "lines.csv",
        "inv,kind,amount,qty,unit\nA1,charge,10.0049,1,10.00\n"
        "A1,charge,10.00,,10.00\nA1,tax,0.00,1,0.00\nA2,charge,4.00,1,4.00\n",
    )
    result = run(write, LINES_SOURCE, LINES_RULES)
    found = result.findings.select("rule_id", "invoice_id", "delta_minor").rows()
    assert found == [], found  # 10.0049 vs 10.00 × 1 compared in cents, the amount's side
    stats = {r["rule_id"]: r for r in result.engine.stats.to_dicts()}
    assert (stats["charges"]["checked"], stats["line.amount"]["checked"]) == (1, 3)
    assert stats["line.amount"]["not_applicable_rows"] == 1
    assert result.engine.rounded.filter(pl.col("rule_id") == "line.amount")[
        "rounded"
    ].to_list() == [1]


def test_a_file_line_is_named_by_its_row(write) -> None:
    write("a.csv", "id,sub,status\nA1,3.00,paid\n")
    write("lines.csv", "inv,kind,amount,qty,unit\nA1,charge,3.01,3,1.00\n")
    (row,) = (
        run(write, LINES_SOURCE, LINES_RULES)
        .findings.filter(pl.col("rule_id") == "line.amount")
        .to_dicts()
    )
    assert "the line at lines.csv row 2" in row["message"] and row["location"] == "lines.csv row 2"


def test_a_derived_line_too_fine_to_hold_is_refused_alone(write) -> None:
    write("a.csv", "id,sub,status\nA1,1.00,paid\nA2,0.19,paid\n")
    write("lines.csv", "inv,kind,qty,unit\nA1,charge,1,1.00\nA2,charge,150.5,0.001234567\n")
    result = run(write, LINES_SOURCE.replace("amount_minor: amount, ", ""), LINES_RULES)
    (bad,) = result.findings.filter(pl.col("rule_id") == "schema.unreadable_record").to_dicts()
    assert bad["location"] == "lines.csv row 3" and "more than 6 decimal places" in bad["message"]
    assert result.sources[0].lines_quarantined == 1 and result.sources[0].lines_valid == 1


def test_repeated_invoice_ids_on_a_many_side_are_still_reported(write) -> None:
    """Repeated ids are set aside before matching, so a 1:N side keyed on invoice_id never
    sums them: uniqueness of invoice_id stays checked there."""
    write("l.csv", "id,total\nX,30.00\n")
    write("l_lines.csv", "inv,amount\nX,30.00\n")
    write("r.csv", "id,ref,total\nX,X,10.00\nX,X,20.00\n")
    config = TWO_SOURCES.replace(
        "right: {source: r, key: external_ref}}",
        "right: {source: r, key: invoice_id}, cardinality: '1:N'}",
    )
    found = run(write, config).findings
    assert ("unique.invoice_id", "r") in found.select("rule_id", "source").rows()


def test_a_line_of_a_million_dollars_or_more_is_multiplied_exactly(write) -> None:
    """quantity × unit_amount at the places the lines need: whole-number lines have room
    for 38 digits (a scale of 21 × 9 left 8, and a $1,000,000 unit price stopped the run
    with an overflow); fractional ones stay exact, and a cent off is still found."""
    write("a.csv", "id,sub,status\nA1,60000000000.00,paid\nA2,450000000.00,paid\n")
    write(
        "lines.csv",
        "inv,kind,amount,qty,unit\n"
        "A1,charge,20000000000.00,2,10000000000.00\n"
        "A1,charge,40000000000.00,4,10000000000\n"
        "A2,charge,150000000.01,1.5,100000000.00\n"
        "A2,charge,300000000.00,0.75,400000000\n",
    )
    result = run(write, LINES_SOURCE, LINES_RULES)
    found = result.findings.filter(pl.col("rule_id") == "line.amount")
    assert found.select("location", "delta_minor").rows() == [("lines.csv row 4", 1)]
    stats = {r["rule_id"]: r for r in result.engine.stats.to_dicts()}
    assert stats["line.amount"]["checked"] == 4


def test_the_places_a_product_needs_are_those_of_its_values() -> None:
    from decimal import Decimal

    from reconcile.precision import Precision, product_places
    from reconcile.schema import QUANTITY_DTYPE, UNIT_AMOUNT_DTYPE

    def places(units: list[str | None], qty: list[str | None]) -> tuple[int, int] | None:
        lines = pl.DataFrame(
            {
                "unit_amount": [None if u is None else Decimal(u) for u in units],
                "quantity": [None if q is None else Decimal(q) for q in qty],
            },
            schema={"unit_amount": UNIT_AMOUNT_DTYPE, "quantity": QUANTITY_DTYPE},
        )
        return product_places(Precision(), lines).product

    assert places(["100", None], ["2", "3"]) == (0, 0)
    assert places(["1.5", "2.25"], ["0.001", None]) == (2, 3)
    assert places(["0.000000000001"], ["0.000000001"]) == (12, 9)
    assert places([None], [None]) == (0, 0)
    assert product_places(Precision(), pl.LazyFrame({"amount_minor": [1]})).product == (0, 0)
