"""Each rule type on tiny inline frames, through the engine (one plan, collected once)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import polars as pl

from reconcile import engine
from reconcile.matching import KeyNormalization, Pairing, Side, match
from reconcile.precision import Precision
from reconcile.rule_types._common import SourceData
from reconcile.ruleset import load_rules
from reconcile.schema import INVOICE_SCHEMA, LINE_SCHEMA


def invoices(source: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    full = [
        {"source": source, "status": "open", "record_ref": f"row {i}", **r}
        for i, r in enumerate(rows)
    ]
    return pl.DataFrame(full, schema=INVOICE_SCHEMA)


def src(
    name: str,
    rows: list[dict[str, Any]],
    provided: set[str],
    lines: list[dict] = (),
    provider: str = "test",
) -> SourceData:
    inv = invoices(name, rows)
    line_frame = pl.DataFrame(
        [{"source": name, "record_ref": "l", **r} for r in lines], schema=LINE_SCHEMA
    )
    return SourceData(
        name,
        provider,
        inv.unique("invoice_id", keep="first", maintain_order=True).lazy(),
        inv.lazy(),
        line_frame.lazy(),
        frozenset(provided | {"source", "invoice_id", "currency", "status"}),
        bool(lines),
    )


def rules(write, text: str):
    return load_rules([write("r.yaml", "rules:\n" + text)])


def test_expression_with_tolerance_absorbs_and_reports(write) -> None:
    rs = rules(
        write,
        """
  - id: id.total
    title: total = subtotal + tax
    type: expression
    field: total_minor
    expect: subtotal_minor + tax_minor
    tolerance: {default: 0, JPY: 1}
""",
    )
    s = src(
        "s",
        [
            {
                "invoice_id": "a",
                "currency": "USD",
                "subtotal_minor": 100,
                "tax_minor": 10,
                "total_minor": 110,
            },
            {
                "invoice_id": "b",
                "currency": "USD",
                "subtotal_minor": 100,
                "tax_minor": 10,
                "total_minor": 111,
            },
            {
                "invoice_id": "c",
                "currency": "JPY",
                "subtotal_minor": 100,
                "tax_minor": 10,
                "total_minor": 111,
            },
            {
                "invoice_id": "d",
                "currency": "USD",
                "subtotal_minor": None,
                "tax_minor": 10,
                "total_minor": 111,
            },
        ],
        {"subtotal_minor", "tax_minor", "total_minor"},
    )
    res = engine.evaluate(rs, [s], [])
    f = res.findings
    assert f["invoice_id"].to_list() == ["b"]
    row = f.row(0, named=True)
    assert (row["delta_minor"], row["expected"], row["actual"]) == (1, "1.10 USD", "1.11 USD")
    assert "a difference of 0.01 USD" in row["message"]
    stats = res.stats.row(0, named=True)
    assert (stats["checked"], stats["failed"], stats["not_applicable_rows"], stats["absorbed"]) == (
        4,
        1,
        1,
        1,
    )
    assert res.absorbed.select("currency", "absorbed", "absorbed_minor").rows() == [("JPY", 1, 1)]


def test_rule_is_not_applicable_where_inputs_are_missing(write) -> None:
    rs = rules(
        write,
        """
  - id: id.total
    title: t
    type: expression
    field: total_minor
    expect: subtotal_minor - discount_minor
""",
    )
    f5 = src("f5", [{"invoice_id": "x", "currency": "USD", "total_minor": 5}], {"total_minor"})
    res = engine.evaluate(rs, [f5], [])
    assert res.findings.is_empty()
    (cov,) = res.coverage
    assert not cov.applicable and cov.missing == ("discount_minor", "subtotal_minor")
    assert res.stats.is_empty()


def test_boolean_assert_and_filter(write) -> None:
    rs = rules(
        write,
        """
  - id: pos
    title: non-void invoices are positive
    type: expression
    filter: "status <> 'void'"
    assert: "total_minor > 0"
""",
    )
    s = src(
        "s",
        [
            {"invoice_id": "a", "currency": "USD", "total_minor": -5},
            {"invoice_id": "b", "currency": "USD", "total_minor": -5, "status": "void"},
        ],
        {"total_minor"},
    )
    res = engine.evaluate(rs, [s], [])
    assert res.findings["invoice_id"].to_list() == ["a"]


def test_aggregate_lines_sum_with_filter(write) -> None:
    rs = rules(
        write,
        """
  - id: lines
    title: charge lines sum to subtotal
    type: aggregate
    lines_filter: "line_type <> 'credit'"
    field: subtotal_minor
""",
    )
    s = src(
        "s",
        [
            {"invoice_id": "a", "currency": "USD", "subtotal_minor": 300},
            {"invoice_id": "b", "currency": "USD", "subtotal_minor": 300},
            {"invoice_id": "c", "currency": "USD", "subtotal_minor": 0},
        ],
        {"subtotal_minor"},
        lines=[
            {
                "invoice_id": "a",
                "line_no": 0,
                "line_type": "x",
                "amount_minor": 300,
                "currency": "USD",
            },
            {
                "invoice_id": "a",
                "line_no": 1,
                "line_type": "credit",
                "amount_minor": -50,
                "currency": "USD",
            },
            {
                "invoice_id": "b",
                "line_no": 0,
                "line_type": "x",
                "amount_minor": 200,
                "currency": "USD",
            },
        ],
    )
    res = engine.evaluate(rs, [s], [])
    assert res.findings.select("invoice_id", "delta_minor").rows() == [("b", 100)]


#: compare total and currency, and presence: the pairwise checks used across tests
PAIR_RULES = """
  - id: total
    title: totals agree
    type: compare
    field: total_minor
  - id: cur
    title: currency agrees
    type: compare
    field: currency
  - id: present
    title: present on both sides
    type: presence
"""


def _pair(
    left: SourceData,
    right: SourceData,
    lkey: str = "invoice_id",
    rkey: str = "invoice_id",
    case: str | None = None,
):
    pairing = Pairing(
        "p", Side(left.name, lkey), Side(right.name, rkey), KeyNormalization(case=case)
    )
    return match(pairing, left, right)


def test_compare_and_presence_across_a_pairing(write) -> None:
    rs = rules(write, PAIR_RULES)
    left = src(
        "stripe",
        [
            {"invoice_id": "in_1", "currency": "USD", "total_minor": 100},
            {"invoice_id": "in_2", "currency": "JPY", "total_minor": 125000},
            {"invoice_id": "in_3", "currency": "EUR", "total_minor": 5},
        ],
        {"total_minor"},
    )
    right = src(
        "ledger",
        [
            {"invoice_id": "JE-1", "external_ref": " IN_1 ", "currency": "USD", "total_minor": 100},
            {"invoice_id": "JE-2", "external_ref": "in_2", "currency": "USD", "total_minor": 1250},
            {"invoice_id": "JE-9", "external_ref": "in_9", "currency": "USD", "total_minor": 1},
        ],
        {"total_minor", "external_ref"},
    )
    res = engine.evaluate(
        rs, [left, right], [_pair(left, right, rkey="external_ref", case="lower")]
    )
    got = res.findings.select(
        "rule_id", "source", "invoice_id", "counterpart_invoice_id", "delta_minor", "classification"
    ).rows()
    # in_2's amounts are in different currencies: not compared (N/A), the currency
    # rule reports the pair
    assert sorted(got, key=str) == sorted(
        [
            ("cur", "stripe", "in_2", "JE-2", None, "currency_mismatch"),
            ("present", "stripe", "in_3", None, -5, "missing"),  # moves right − left by −5
            ("present", "ledger", "JE-9", None, 1, "missing"),
        ],
        key=str,
    )
    cur = res.findings.filter(pl.col("rule_id") == "cur").row(0, named=True)
    assert (cur["expected"], cur["actual"]) == ("JPY", "USD")
    total = res.stats.filter(pl.col("rule_id") == "total").row(0, named=True)
    assert (total["checked"], total["failed"], total["not_applicable_rows"]) == (2, 0, 1)


def test_uniqueness_reports_each_duplicated_key_once(write) -> None:
    rs = rules(
        write,
        """
  - id: uniq
    title: references unique
    type: uniqueness
    key: external_ref
""",
    )
    s = src(
        "ledger",
        [
            {"invoice_id": "JE-1", "external_ref": "A", "currency": "USD"},
            {"invoice_id": "JE-2", "external_ref": "A", "currency": "USD"},
            {"invoice_id": "JE-3", "external_ref": "B", "currency": "USD"},
            {"invoice_id": "JE-4", "external_ref": None, "currency": "USD"},
        ],
        {"external_ref"},
    )
    res = engine.evaluate(rs, [s], [])
    (row,) = res.findings.to_dicts()
    assert (row["invoice_id"], row["actual"]) == ("JE-1", "2")
    assert "JE-1, JE-2" in row["message"]


def test_a_uniqueness_rule_with_a_filter_reads_invoice_columns(write) -> None:
    """(a uniqueness rule with ``filter:`` raised AttributeError: it declared no
    ``line_rows``; found when the rule-type seam was typed)"""
    rs = rules(
        write,
        """
  - id: uniq
    title: open references unique
    type: uniqueness
    key: external_ref
    filter: "status <> 'void'"
""",
    )
    s = src(
        "ledger",
        [
            {"invoice_id": "JE-1", "external_ref": "A", "currency": "USD", "status": "open"},
            {"invoice_id": "JE-2", "external_ref": "A", "currency": "USD", "status": "void"},
            {"invoice_id": "JE-3", "external_ref": "B", "currency": "USD", "status": "open"},
            {"invoice_id": "JE-4", "external_ref": "B", "currency": "USD", "status": "open"},
        ],
        {"external_ref", "status"},
    )
    (row,) = engine.evaluate(rs, [s], []).findings.to_dicts()
    assert (row["invoice_id"], row["actual"]) == ("JE-3", "2")


def test_validity_flags_inactive_codes(write) -> None:
    rs = rules(
        write,
        """
  - id: cur
    title: iso
    type: validity
    field: currency
""",
    )
    s = src(
        "s",
        [
            {"invoice_id": "a", "currency": "USD"},
            {"invoice_id": "b", "currency": "UDS"},
            {"invoice_id": "c", "currency": "XAU"},
        ],
        set(),
    )
    res = engine.evaluate(rs, [s], [])
    assert res.findings["invoice_id"].to_list() == ["b", "c"]


def test_finding_ids_are_stable_and_unique(write) -> None:
    rs = rules(
        write,
        """
  - id: cur
    title: iso
    type: validity
""",
    )
    s = src("s", [{"invoice_id": i, "currency": "ZZZ"} for i in "abc"], set())
    first = engine.with_finding_ids(engine.evaluate(rs, [s], []).findings)["finding_id"].to_list()
    again = engine.with_finding_ids(engine.evaluate(rs, [s], []).findings)["finding_id"].to_list()
    assert first == again and len(set(first)) == 3
    # the recipe is pinned: XXH3-64 of rule, source, invoice, counterpart (source,
    # invoice), field and the location part, joined by \x1f (README, findings schema)
    import xxhash

    assert (
        first[0]
        == xxhash.xxh3_64_hexdigest(b"cur\x1fs\x1fa\x1f\x1f\x1fcurrency\x1f")
        == "de0bfb410ea2f7d2"
    )


def test_finding_ids_sort_and_number_repeated_fingerprints_whatever_the_input_order() -> None:
    """Two findings of one fingerprint (same rule, source, invoice and field; only
    the location differs) get ``<id>`` and ``<id>-2`` in report order, and the input's
    row order changes neither the order nor the ids."""
    from reconcile.schema import FINDING_ROW_SCHEMA

    def finding(rule: str, severity: str, invoice: str | None, location: str) -> dict:
        row: dict[str, Any] = dict.fromkeys(FINDING_ROW_SCHEMA)
        row.update(
            rule_id=rule,
            rule_type="expression",
            severity=severity,
            source="s",
            invoice_id=invoice,
            field="total_minor",
            message="m",
            location=location,
        )
        return row

    rows = [
        finding("b.rule", "error", "x", "row 9"),
        finding("a.rule", "warning", "y", "row 1"),
        finding("b.rule", "error", "x", "row 3"),
        finding("b.rule", "error", None, "row 5"),
        finding("a.rule", "error", "z", "row 2"),
    ]
    frame = pl.DataFrame(rows, schema=FINDING_ROW_SCHEMA)
    out = engine.with_finding_ids(frame)
    assert out.select("rule_id", "invoice_id", "location").rows() == [
        ("a.rule", "z", "row 2"),
        ("b.rule", "x", "row 3"),
        ("b.rule", "x", "row 9"),
        ("b.rule", None, "row 5"),
        ("a.rule", "y", "row 1"),
    ]  # errors first, nulls last
    ids = out["finding_id"].to_list()
    assert ids[2] == ids[1] + "-2" and len(set(ids)) == 5
    assert "-" not in ids[1] and "-" not in ids[3]  # no invoice id: the location tells
    assert engine.with_finding_ids(frame.reverse()).equals(out)


def test_uniqueness_on_invoice_id_itself(write) -> None:
    rs = rules(
        write,
        """
  - id: uniq
    title: ids unique
    type: uniqueness
""",
    )
    s = src(
        "s",
        [
            {"invoice_id": "a", "currency": "USD"},
            {"invoice_id": "a", "currency": "USD"},
            {"invoice_id": "b", "currency": "USD"},
        ],
        set(),
    )
    res = engine.evaluate(rs, [s], [])
    assert res.findings.select("invoice_id", "actual").rows() == [("a", "2")]


def test_fmt_builds_messages_and_shows_nulls() -> None:
    from reconcile.rule_types._common import fmt

    frame = pl.DataFrame({"a": ["x", None], "n": [1, 2]})
    got = frame.select(fmt("{} has {} ({})", pl.col("a"), pl.col("n"), pl.lit("k")))
    assert got.to_series().to_list() == ["x has 1 (k)", "— has 2 (k)"]


def test_uniqueness_is_not_applicable_on_a_pairing_s_many_side(write) -> None:
    """A ledger that books an invoice as several lines under one reference (the 1:N
    pairing's many side) repeats that reference by design: uniqueness is N/A for those
    records (counted, with the reason), checked for the others; the groups' sums are
    compared by the compare rule instead."""
    rs = rules(
        write,
        """
  - id: unique.ref
    title: a reference once
    type: uniqueness
    key: external_ref
  - id: total
    title: total agrees
    type: compare
    field: total_minor
""",
    )
    billing = src(
        "bill",
        [
            {"invoice_id": "A", "currency": "USD", "total_minor": 1000},
            {"invoice_id": "B", "currency": "USD", "total_minor": 500},
        ],
        {"total_minor"},
    )
    # A split over two lines, B over two lines 3 cents high, Z booked twice elsewhere
    bookings = [
        ("1", 800, "A", "bill"),
        ("2", 200, "A", "bill"),
        ("3", 300, "B", "bill"),
        ("4", 203, "B", "bill"),
        ("5", 9, "Z", "other"),
        ("6", 9, "Z", "other"),
    ]
    ledger = src(
        "gl",
        [
            {
                "invoice_id": i,
                "currency": "USD",
                "total_minor": amount,
                "external_ref": ref,
                "origin_system": origin,
            }
            for i, amount, ref, origin in bookings
        ],
        {"total_minor", "external_ref", "origin_system"},
    )
    side_filter = pl.sql_expr("origin_system = 'bill'")
    pairing = Pairing(
        "bill-gl",
        Side("bill", "invoice_id"),
        Side("gl", "external_ref", side_filter, "origin_system = 'bill'"),
        KeyNormalization(),
        "1:N",
    )
    pair = match(pairing, billing, ledger)
    res = engine.evaluate(rs, [billing, ledger], [pair])
    found = res.findings.select("rule_id", "invoice_id", "delta_minor").sort("rule_id").rows()
    # the other system's double booking is still found; the split groups are not
    assert found == [("total", "B", 3), ("unique.ref", "5", None)]
    stats = res.stats.filter(pl.col("target") == "gl").row(0, named=True)
    assert (stats["failed"], stats["not_applicable_rows"]) == (1, 4)
    (cov,) = [c for c in res.coverage if c.target == "gl"]
    assert cov.applicable and "bill-gl" in cov.note
    # with no side filter every record is on the many side: N/A for the whole source
    whole = dataclasses.replace(pairing, right=Side("gl", "external_ref"))
    res = engine.evaluate(rs, [billing, ledger], [match(whole, billing, ledger)])
    (cov,) = [c for c in res.coverage if c.target == "gl"]
    assert not cov.applicable and "many side of pairing bill-gl" in cov.missing[0]


def test_line_expression_checks_each_line_exactly(write) -> None:
    rs = rules(
        write,
        """
  - id: line.amount
    title: amount = quantity × unit amount
    type: expression
    rows: lines
    field: amount_minor
    expect: quantity * unit_amount
""",
    )
    s = src(
        "c",
        [{"invoice_id": "a", "currency": "USD", "total_minor": 0}],
        set(),
        lines=[
            {
                "invoice_id": "a",
                "line_no": 0,
                "amount_minor": 300,
                "currency": "USD",
                "quantity": Decimal(3),
                "unit_amount": Decimal(100),
            },
            {
                "invoice_id": "a",
                "line_no": 1,
                "amount_minor": 301,
                "currency": "USD",
                "quantity": Decimal(3),
                "unit_amount": Decimal(100),
            },
            {
                "invoice_id": "a",
                "line_no": 2,
                "amount_minor": 100,
                "currency": "USD",
                "quantity": Decimal(3),
                "unit_amount": Decimal("33.333333333333"),
            },  # 99.999…
            {
                "invoice_id": "a",
                "line_no": 3,
                "amount_minor": 5,
                "currency": "USD",
                "quantity": None,
                "unit_amount": Decimal(5),
            },
        ],
    )
    res = engine.evaluate(rs, [s], [])
    (row,) = res.findings.to_dicts()
    assert (row["invoice_id"], row["delta_minor"]) == ("a", 1)
    assert "c invoice a line 2" in row["message"]
    stats = res.stats.row(0, named=True)
    # the third line is compared at the amount's precision (whole cents): 99.999… → 100,
    # absorbed by that rounding and counted; the fourth has no quantity: N/A
    assert (stats["checked"], stats["failed"], stats["not_applicable_rows"]) == (4, 1, 1)
    assert res.rounded.select("rule_id", "rounded").rows() == [("line.amount", 1)]


def test_identity_at_the_coarser_precision(write) -> None:
    """A total stated in cents against components stated at 4 decimals (a coarser side and
    a finer side): compared in cents, the finer side rounded once; the same at 4 decimals
    on both sides is exact, and one ten-thousandth off is a finding."""
    rs = rules(
        write,
        """
  - id: id.total
    title: total = subtotal + tax
    type: expression
    field: total_minor
    expect: subtotal_minor + tax_minor
""",
    )
    rows = [
        # exact 4-decimal components 10.0050 + 1.0000 = 11.0050, total 11.01 (cents)
        {
            "invoice_id": "a",
            "currency": "USD",
            "total_minor": 1101,
            "subtotal_minor": 1001,
            "tax_minor": 100,
            "__x_total_minor": 110100,
            "__x_subtotal_minor": 100050,
            "__x_tax_minor": 10000,
        },
        # total 11.02: a cent more than the components round to
        {
            "invoice_id": "b",
            "currency": "USD",
            "total_minor": 1102,
            "subtotal_minor": 1001,
            "tax_minor": 100,
            "__x_total_minor": 110200,
            "__x_subtotal_minor": 100050,
            "__x_tax_minor": 10000,
        },
    ]
    s = exact_src("s", rows, Precision(2, {"subtotal_minor": 2}))
    res = engine.evaluate(rs, [s], [])
    assert res.findings.select("invoice_id", "delta_minor").rows() == [("b", 1)]
    assert res.findings["actual"].item() == "11.02 USD"
    assert res.findings["expected"].item() == "11.005 USD"
    assert res.rounded.select("currency", "rounded", "rounded_minor").rows() == [("USD", 1, "0.5")]
    # all at 4 decimals: exact, 0.0001 USD off is found
    four = Precision(2, {"subtotal_minor": 2, "total_minor": 2})
    rows[0]["__x_total_minor"] = 110051
    res = engine.evaluate(rs, [exact_src("s", rows[:1], four)], [])
    assert res.findings.select("delta_minor", "expected", "actual").rows() == [
        (0, "11.005 USD", "11.0051 USD")
    ]


def exact_src(name: str, rows: list[dict[str, Any]], precision: Precision) -> SourceData:
    """Rows whose ``__x_`` twins are given in units of 10^-scale minor units."""
    twins = sorted({k for r in rows for k in r if k.startswith("__x_")})
    dtype = pl.Decimal(38, precision.scale)
    frame = invoices(
        name, [{k: v for k, v in r.items() if not k.startswith("__x_")} for r in rows]
    ).with_columns(
        pl.Series(k, [Decimal(r[k]).scaleb(-precision.scale) for r in rows], dtype) for k in twins
    )
    provided = {k for r in rows for k in r if not k.startswith("__")}
    return dataclasses.replace(
        src(name, rows=[], provided=provided),
        invoices=frame.lazy(),
        all_invoices=frame.lazy(),
        precision=precision,
    )
