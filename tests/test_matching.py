"""Matching cardinality, discrepancy classification and tie-outs on constructed cases."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcile import engine, money, tieout
from reconcile.matching import KeyNormalization, Pairing, Side, match
from reconcile.precision import Precision
from reconcile.ruleset import Tolerance
from tests.test_rule_types import PAIR_RULES, rules, src


def run_pair(
    write,
    left_rows: list[dict[str, Any]],
    right_rows: list[dict[str, Any]],
    *,
    cardinality: str = "1:1",
    rkey: Any = "external_ref",
    lkey: Any = "invoice_id",
    norm: KeyNormalization | None = None,
    tolerance: Tolerance | None = None,
    exact: dict[str, Decimal] | None = None,
):
    """``exact``: left totals stated finer than the minor unit (invoice id -> exact minor
    units); their ``total_minor`` is then the rounded value the test gives."""
    left = src("L", left_rows, {"total_minor", "invoice_number", "customer_id"})
    if exact:
        scale = max(money.places(v) for v in exact.values())
        twin = pl.col("invoice_id").replace_strict(
            exact, default=None, return_dtype=pl.Decimal(38, scale)
        )
        left = dataclasses.replace(
            left,
            precision=Precision(scale, {"total_minor": scale}),
            invoices=left.invoices.with_columns(
                twin.fill_null(pl.col("total_minor").cast(pl.Decimal(38, scale))).alias(
                    "__x_total_minor"
                )
            ),
        )
    right = src("R", right_rows, {"total_minor", "external_ref", "customer_id"})
    pairing = Pairing(
        "L-R", Side("L", lkey), Side("R", rkey), norm or KeyNormalization(), cardinality, tolerance
    )
    pair = match(pairing, left, right)
    rs = rules(write, PAIR_RULES)
    res = engine.evaluate(rs, [left, right], [pair])
    table, unexplained = tieout.tie_out([pair], rs, res.findings)
    findings = pl.concat([res.findings, tieout.ambiguous_findings(pair), unexplained])
    return pair, findings, table


def classes(findings: pl.DataFrame) -> list[tuple[str, str, str | None]]:
    return sorted(findings.select("rule_id", "invoice_id", "classification").rows(), key=str)


def inv(i: str, total: int, cur: str = "USD", **kw: Any) -> dict[str, Any]:
    return {"invoice_id": i, "currency": cur, "total_minor": total, **kw}


def led(i: str, ref: str, total: int, cur: str = "USD") -> dict[str, Any]:
    return {"invoice_id": i, "external_ref": ref, "currency": cur, "total_minor": total}


# --- classification -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "cur", "expected"),
    [
        (125000, 1250, "JPY", "scale_error"),  # JPY booked as if it had two decimals
        (1250, 125000, "JPY", "scale_error"),
        (12345, 123450, "KWD", "scale_error"),  # ×10
        (5000, 5000000, "USD", "scale_error"),  # ×1000
        (5000, -5000, "USD", "sign_flip"),  # credit note booked as a charge
        (-700, 700, "KWD", "sign_flip"),
        (1000, 1001, "USD", "amount_mismatch"),  # both whole minor units: a real cent
        (1000, 1002, "USD", "amount_mismatch"),
        (1000, 1500, "JPY", "amount_mismatch"),
        (0, 10, "USD", "amount_mismatch"),  # 0 × 10^k is 0: not a scale error
    ],
)
def test_each_class(write, left: int, right: int, cur: str, expected: str) -> None:
    _, findings, table = run_pair(write, [inv("a", left, cur)], [led("x", "a", right, cur)])
    total = findings.filter(pl.col("rule_id") == "total")
    assert total.select("classification", "delta_minor").rows() == [(expected, right - left)]
    assert table["unexplained_minor"].to_list() == [0]


def test_rounding_only_where_a_finer_side_was_rounded(write) -> None:
    """A difference is ``rounding`` only where a side states sub-minor digits and the exact
    amounts are less than one minor unit apart; otherwise it is a real difference."""
    left = [inv("a", 1001), inv("b", 1000), inv("c", 1001), inv("d", 1000)]
    right = [led("w", "a", 1000), led("x", "b", 1001), led("y", "c", 1002), led("z", "d", 1001)]
    exact = {"a": Decimal("1000.5"), "b": Decimal("1000.4"), "c": Decimal("1000.5")}
    _, findings, table = run_pair(write, left, right, exact=exact)
    assert classes(findings.filter(pl.col("rule_id") == "total")) == [
        ("total", "a", "rounding"),  # 1000.5 → 1001 half up; the ledger's 1000 too
        ("total", "b", "rounding"),  # 1000.4 → 1000; 1001 is 0.6 away
        ("total", "c", "amount_mismatch"),  # 1002 is 1.5 away from 1000.5
        ("total", "d", "amount_mismatch"),
    ]  # whole units on both sides
    assert table["unexplained_minor"].to_list() == [0]


def test_currency_mismatch_is_not_an_amount_difference(write) -> None:
    _, findings, table = run_pair(
        write,
        [inv("a", 1000, "USD"), inv("b", 500, "JPY")],
        [led("x", "a", 1000, "EUR"), led("y", "b", 500, "JPY")],
    )
    assert classes(findings) == [("cur", "a", "currency_mismatch")]
    # tie-out: the USD left amount and the EUR right amount are both explained
    rows = {r["currency"]: r for r in table.to_dicts()}
    assert rows["USD"]["currency_mismatch_minor"] == -1000
    assert rows["EUR"]["currency_mismatch_minor"] == 1000
    assert all(r["unexplained_minor"] == 0 for r in rows.values())


def test_percentage_in_the_message(write) -> None:
    _, findings, _ = run_pair(write, [inv("a", 10000, "KWD")], [led("x", "a", 9877, "KWD")])
    msg = findings.filter(pl.col("rule_id") == "total")["message"].item()
    assert "a difference of -0.123 KWD (-1.23 %)" in msg


# --- cardinality ----------------------------------------------------------------------------


def test_one_to_many_matches_by_sum(write) -> None:
    left = [inv("a", 1000), inv("b", 700), inv("c", 50)]
    right = [
        led("x1", "a", 600),
        led("x2", "a", 400),  # sums to 1000: agrees
        led("y1", "b", 300),
        led("y2", "b", 300),  # 600 ≠ 700
        led("z", "q", 9),
    ]  # no counterpart
    pair, findings, table = run_pair(write, left, right, cardinality="1:N")
    assert pair.counts == {
        "left_matched": 2,
        "right_matched": 4,
        "left_unmatched": 1,
        "right_unmatched": 1,
        "left_ambiguous": 0,
        "right_ambiguous": 0,
        "ambiguous_keys": 0,
    }
    total = findings.filter(pl.col("rule_id") == "total").to_dicts()
    assert [(t["invoice_id"], t["counterpart_invoice_id"], t["delta_minor"]) for t in total] == [
        ("b", "y1, y2", -100)
    ]
    assert classes(findings.filter(pl.col("rule_id") == "present")) == [
        ("present", "c", "missing"),
        ("present", "z", "missing"),
    ]
    assert table["unexplained_minor"].to_list() == [0]


def test_many_to_one(write) -> None:
    left = [inv("a1", 100, invoice_number="B-1"), inv("a2", 250, invoice_number="B-1")]
    right = [led("x", "B-1", 350)]
    pair, findings, table = run_pair(write, left, right, cardinality="N:1", lkey="invoice_number")
    assert findings.is_empty()
    assert (pair.counts["left_matched"], pair.counts["right_matched"]) == (2, 1)
    assert table["unexplained_minor"].to_list() == [0]


def test_a_key_beyond_the_cardinality_is_ambiguous_and_named(write) -> None:
    left = [
        inv("a", 100, invoice_number="K"),
        inv("b", 100, invoice_number="K"),
        inv("c", 5, invoice_number="M"),
    ]
    right = [led("x", "K", 100), led("y", "M", 5)]
    pair, findings, table = run_pair(write, left, right, lkey="invoice_number")
    (amb,) = findings.filter(pl.col("rule_id") == "pairing.ambiguous").to_dicts()
    assert amb["classification"] == "ambiguous" and amb["source"] == "L"
    assert "L a, L b, R x" in amb["message"]
    # nothing else: the ambiguous records are not compared, and never matched to the first
    assert findings.height == 1
    assert (
        pair.counts["left_ambiguous"],
        pair.counts["right_ambiguous"],
        pair.counts["left_matched"],
    ) == (2, 1, 1)
    assert table.select("ambiguous_minor", "unexplained_minor").rows() == [(-100, 0)]


def test_one_to_many_group_mixing_currencies_is_ambiguous(write) -> None:
    right = [led("x1", "a", 600, "USD"), led("x2", "a", 400, "EUR")]
    pair, findings, table = run_pair(write, [inv("a", 1000)], right, cardinality="1:N")
    (amb,) = findings.to_dicts()
    assert amb["rule_id"] == "pairing.ambiguous" and "different currencies" in amb["message"]
    assert (pair.counts["left_ambiguous"], pair.counts["right_ambiguous"]) == (1, 2)
    assert table["unexplained_minor"].to_list() == [0, 0]


@pytest.mark.parametrize("cardinality", ["1:1", "1:N"])
def test_a_hash_collision_in_the_join_never_pairs_different_keys(
    write, monkeypatch: pytest.MonkeyPatch, cardinality: str
) -> None:
    from reconcile import hashed

    left = [inv("a1", 100), inv("b2", 200), inv("c3", 300), inv("dd44", 5)]
    right = [led("x", "a1", 100), led("y", "b2", 250), led("z", "zz", 7), led("w", "e5", 9)]
    want_pair, want, _ = run_pair(write, left, right, cardinality=cardinality)
    # every key of the same length now shares a hash: the hashed join pairs a1 with
    # b2, c3, e5 ... and the string join must take over
    monkeypatch.setattr(hashed, "key_hash", lambda key: key.str.len_bytes().cast(pl.UInt64))
    pair, got, _ = run_pair(write, left, right, cardinality=cardinality)
    assert (
        classes(got)
        == classes(want)
        == [
            ("present", "c3", "missing"),
            ("present", "dd44", "missing"),
            ("present", "w", "missing"),
            ("present", "z", "missing"),
            ("total", "b2", "amount_mismatch"),
        ]
    )
    assert pair.counts == want_pair.counts
    assert pair.matched.collect().height == 2


def test_composite_key_and_normalization(write) -> None:
    left = [
        inv("a", 100, invoice_number="inv-7", customer_id="C1"),
        inv("b", 200, invoice_number="inv-7", customer_id="C2"),
    ]
    right = [
        {
            "invoice_id": "x",
            "external_ref": " INV-7/A ",
            "customer_id": "c1",
            "currency": "USD",
            "total_minor": 100,
        },
        {
            "invoice_id": "y",
            "external_ref": "INV-7/A",
            "customer_id": "C2",
            "currency": "USD",
            "total_minor": 200,
        },
    ]
    norm = KeyNormalization(trim=True, case="upper", strip_suffix="/A")
    pair, findings, _ = run_pair(
        write,
        left,
        right,
        lkey=("invoice_number", "customer_id"),
        rkey=("external_ref", "customer_id"),
        norm=norm,
    )
    assert findings.is_empty()
    assert pair.counts["left_matched"] == 2


def test_relative_and_pairing_tolerance_absorb_and_report(write) -> None:
    tol = Tolerance(0, {}, Decimal("0.001"))  # 0.1 % of the left amount
    _, findings, table = run_pair(
        write,
        [inv("a", 100000), inv("b", 100000)],
        [led("x", "a", 100100), led("y", "b", 100101)],
        tolerance=tol,
    )
    assert classes(findings) == [("total", "b", "amount_mismatch")]
    row = table.row(0, named=True)
    assert (row["absorbed_minor"], row["amount_differences_minor"], row["unexplained_minor"]) == (
        100,
        101,
        0,
    )


def test_a_difference_wholly_absorbed_by_tolerance_ties_out(write) -> None:
    # the compare rule has no finding at all here; its absorbed amount still explains
    tol = Tolerance(0, {}, Decimal("0.001"))
    _, findings, table = run_pair(write, [inv("a", 100000)], [led("x", "a", 100100)], tolerance=tol)
    assert findings.is_empty()
    row = table.row(0, named=True)
    assert (row["difference_minor"], row["absorbed_minor"], row["unexplained_minor"]) == (
        100,
        100,
        0,
    )


def _tie_out_with(write, rule_yaml: str, left_rows, right_rows):
    left = src("L", left_rows, {"total_minor"})
    right = src("R", right_rows, {"total_minor", "external_ref"})
    pair = match(Pairing("L-R", Side("L", "invoice_id"), Side("R", "external_ref")), left, right)
    rs = rules(write, rule_yaml)
    res = engine.evaluate(rs, [left, right], [pair])
    return tieout.tie_out([pair], rs, res.findings)


def test_two_total_rules_count_a_difference_once(write) -> None:
    # "warn on any difference, error above 1.00": the warning flags the pair, the error
    # rule absorbs it; the tie-out counts the 50 once, as an amount difference
    table, unexplained = _tie_out_with(
        write,
        """
  - id: total-any
    title: totals agree
    severity: warning
    type: compare
    field: total_minor
  - id: total-big
    title: totals agree within 1.00
    type: compare
    field: total_minor
    tolerance: 100
""",
        [inv("a", 1000), inv("b", 2000)],
        [led("x", "a", 1050), led("y", "b", 2000)],
    )
    row = table.row(0, named=True)
    assert (
        row["difference_minor"],
        row["amount_differences_minor"],
        row["absorbed_minor"],
        row["unexplained_minor"],
    ) == (50, 50, 0, 0)
    assert unexplained.is_empty()


def test_a_difference_no_total_rule_checks_stays_unexplained(write) -> None:
    # the only total rule is filtered to EUR: the USD pair's 7 is explained by nothing
    table, unexplained = _tie_out_with(
        write,
        """
  - id: total-eur
    title: EUR totals agree within 10.00
    type: compare
    field: total_minor
    filter: "currency = 'EUR'"
    tolerance: 1000
""",
        [inv("a", 100), inv("e", 100, "EUR")],
        [led("x", "a", 107), led("z", "e", 105, "EUR")],
    )
    got = {r["currency"]: (r["absorbed_minor"], r["unexplained_minor"]) for r in table.to_dicts()}
    assert got == {"EUR": (5, 0), "USD": (0, 7)}
    assert unexplained.select("currency", "delta_minor").rows() == [("USD", 7)]


def test_timing_when_the_counterpart_is_in_the_neighbouring_period(write) -> None:
    left = src("L", [inv("a", 100), inv("b", 100)], {"total_minor"})
    right = src("R", [led("x", "b", 100)], {"total_minor", "external_ref"})
    right = dataclasses.replace(
        right,
        neighbours=pl.LazyFrame([led("w", "a", 100)], schema_overrides={"total_minor": pl.Int64}),
    )
    pairing = Pairing("L-R", Side("L", "invoice_id"), Side("R", "external_ref"))
    pair = match(pairing, left, right)
    res = engine.evaluate(rules(write, PAIR_RULES), [left, right], [pair])
    assert classes(res.findings) == [("present", "a", "timing")]
    assert "neighbouring period" in res.findings["message"].item()


def test_an_unexplained_difference_is_a_finding(write) -> None:
    # no compare rule on this pairing: the 5 unit difference is explained by nothing
    left = src("L", [inv("a", 100)], {"total_minor"})
    right = src("R", [led("x", "a", 105)], {"total_minor", "external_ref"})
    pair = match(Pairing("L-R", Side("L", "invoice_id"), Side("R", "external_ref")), left, right)
    presence_only = rules(
        write,
        """
  - id: present
    title: present
    type: presence
""",
    )
    res = engine.evaluate(presence_only, [left, right], [pair])
    table, unexplained = tieout.tie_out([pair], presence_only, res.findings)
    assert table["unexplained_minor"].to_list() == [5]
    (f,) = unexplained.to_dicts()
    assert (f["rule_id"], f["severity"], f["delta_minor"], f["classification"]) == (
        "pairing.tie_out",
        "error",
        5,
        "unexplained",
    )


# --- property: the tie-out always closes, every injected difference is found and classified

KINDS = ("ok", "amount", "scale", "sign", "currency", "missing_right", "missing_left")


@st.composite
def month(draw: Any) -> tuple[list[dict], list[dict], dict[str, str]]:
    n = draw(st.integers(1, 25))
    left, right, truth = [], [], {}
    for i in range(n):
        cur = draw(st.sampled_from(["USD", "JPY", "KWD"]))
        amount = draw(st.integers(1, 10**9))
        kind = draw(st.sampled_from(KINDS))
        key = f"k{i}"
        if kind != "missing_left":
            left.append(inv(key, amount, cur))
        r_amount, r_cur = amount, cur
        if kind == "amount":
            r_amount = amount + draw(st.integers(2, 10**6)) * draw(st.sampled_from([1, -1]))
            while r_amount in (-amount, amount * 10, amount * 100, amount * 1000) or amount in (
                r_amount * 10,
                r_amount * 100,
                r_amount * 1000,
            ):
                r_amount += 1_000_003  # not a sign flip or scale error by chance
        elif kind == "scale":
            r_amount = amount * 10 ** draw(st.integers(1, 3))
        elif kind == "sign":
            r_amount = -amount
        elif kind == "currency":
            r_cur = {"USD": "EUR", "JPY": "USD", "KWD": "JPY"}[cur]
        if kind != "missing_right":
            right.append(led(f"r{i}", key, r_amount, r_cur))
        truth[key] = kind
    return left, right, truth


EXPECTED_CLASS = {
    "amount": ("total", "amount_mismatch"),
    "scale": ("total", "scale_error"),
    "sign": ("total", "sign_flip"),
    "currency": ("cur", "currency_mismatch"),
    "missing_right": ("present", "missing"),
    "missing_left": ("present", "missing"),
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(month())
def test_tie_out_closes_and_every_difference_is_classified(write, case) -> None:
    left_rows, right_rows, truth = case
    if not left_rows or not right_rows:
        return
    _, findings, table = run_pair(write, left_rows, right_rows)
    assert table["unexplained_minor"].to_list() == [0] * table.height
    got = {}
    for f in findings.to_dicts():
        key = (
            f["invoice_id"]
            if f["source"] == "L"
            else next(r["external_ref"] for r in right_rows if r["invoice_id"] == f["invoice_id"])
        )
        got[key] = (f["rule_id"], f["classification"])
    want = {k: EXPECTED_CLASS[v] for k, v in truth.items() if v != "ok"}
    assert got == want


def test_relative_tolerance_on_an_identity_rule(write) -> None:
    rs = rules(
        write,
        """
  - id: id.total
    title: total = subtotal + tax
    type: expression
    field: total_minor
    expect: subtotal_minor + tax_minor
    tolerance: {default: 0, relative: "0.01"}
""",
    )
    s = src(
        "s",
        [
            {
                "invoice_id": "a",
                "currency": "USD",
                "subtotal_minor": 1000,
                "tax_minor": 0,
                "total_minor": 1010,
            },  # 1 % of 1000: absorbed
            {
                "invoice_id": "b",
                "currency": "USD",
                "subtotal_minor": 1000,
                "tax_minor": 0,
                "total_minor": 1011,
            },  # beyond it
        ],
        {"subtotal_minor", "tax_minor", "total_minor"},
    )
    res = engine.evaluate(rs, [s], [])
    assert res.findings["invoice_id"].to_list() == ["b"]
    assert res.absorbed.select("absorbed", "absorbed_minor").rows() == [(1, 10)]
