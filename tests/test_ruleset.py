"""Rule files fail before any data is read, naming file, line and rule id."""

from __future__ import annotations

import pytest

from reconcile.errors import RuleError
from reconcile.ruleset import default_rules_dir, load_rules


def _error(write, text: str) -> RuleError:
    path = write("r.yaml", text)
    with pytest.raises(RuleError) as info:
        load_rules([path])
    return info.value


def test_default_pack_compiles() -> None:
    rules = load_rules([default_rules_dir()])
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids)) >= 14
    assert {
        "commet.total_identity",
        "stripe.amount_remaining",
        "xsrc.counterpart_present",
        "currency.iso4217",
    } <= set(ids)


def test_malformed_yaml_names_line(write) -> None:
    err = _error(write, "rules:\n  - id: a\n    title: [unclosed\n")
    assert err.line is not None and "r.yaml" in str(err) and "malformed YAML" in str(err)


def test_unknown_key_names_line_and_rule(write) -> None:
    err = _error(
        write,
        """rules:
  - id: x.one
    title: t
    type: expression
    assert: "total_minor >= 0"
    tolerence: 1
""",
    )
    assert (err.line, err.rule_id) == (6, "x.one")
    assert "tolerence" in str(err) and "r.yaml:6" in str(err)


def test_bad_sql_names_line_and_rule(write) -> None:
    err = _error(
        write,
        """rules:
  - id: x.bad
    title: t
    type: expression
    field: total_minor
    expect: "subtotal_minor - - * tax"
""",
    )
    assert (err.line, err.rule_id) == (6, "x.bad")
    assert "invalid SQL" in str(err)


def test_unknown_column_is_caught_at_load(write) -> None:
    err = _error(
        write,
        """rules:
  - id: x.col
    title: t
    type: expression
    field: total_minor
    expect: subtotl_minor + tax_minor
""",
    )
    assert err.rule_id == "x.col" and err.line == 6
    assert "subtotl_minor" in str(err)


def test_type_error_and_aggregates_are_caught(write) -> None:
    err = _error(
        write,
        """rules:
  - id: x.type
    title: t
    type: expression
    assert: "currency + 1 > 2"
""",
    )
    assert "type-check" in str(err) or "boolean" in str(err)
    err = _error(
        write,
        """rules:
  - id: x.agg
    title: t
    type: expression
    assert: "total_minor > (SELECT 1)"
""",
    )
    assert "contains a subquery" in str(err) and err.line == 5
    err = _error(
        write,
        """rules:
  - id: x.sum
    title: t
    type: expression
    field: total_minor
    expect: "SUM(total_minor)"
""",
    )
    assert "contains an aggregate (SUM(total_minor))" in str(err) and err.line == 6


def test_assert_must_be_boolean(write) -> None:
    err = _error(
        write,
        """rules:
  - id: x.num
    title: t
    type: expression
    assert: "total_minor + 1"
""",
    )
    assert "boolean" in str(err)


def test_duplicate_ids_across_files(write) -> None:
    rule = "rules:\n  - id: dup\n    title: t\n    type: uniqueness\n"
    a, b = write("a.yaml", rule), write("b.yaml", rule)
    with pytest.raises(RuleError) as info:
        load_rules([a, b])
    assert "duplicate rule id" in str(info.value) and "a.yaml:2" in str(info.value)


def test_tolerance_and_scope_validation(write) -> None:
    err = _error(
        write, "rules:\n  - id: t\n    title: t\n    type: uniqueness\n    tolerance: -1\n"
    )
    assert "tolerance" in str(err)
    err = _error(
        write,
        "rules:\n  - id: t\n    title: t\n    type: compare\n"
        "    field: total_minor\n    applies_to: all\n",
    )
    assert "pairings" in str(err)
    ok = write(
        "ok.yaml",
        "rules:\n  - id: t\n    title: t\n    type: expression\n"
        "    field: total_minor\n    expect: subtotal_minor\n"
        "    tolerance: {default: 0, jpy: 2}\n",
    )
    (rule,) = load_rules([ok])
    assert rule.tolerance.per_currency == {"JPY": 2}


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("total_minor > AVG(total_minor) OVER ()", "contains a window function"),
        ("total_minor > AVG(total_minor)", "contains an aggregate"),
        ("invoice_id IN (SELECT invoice_id FROM x)", "contains a subquery"),
        ("EXISTS (SELECT 1 FROM a JOIN b ON a.x = b.x)", "contains a subquery"),
        (" OR ".join(["total_minor = 1"] * 7000), "characters long"),
        (" OR ".join(["total_minor=1"] * 220), "too large for a row expression"),
        ("(" * 300 + "total_minor > 0" + ")" * 300, "nested too deep"),
        ("total_minor >> ", "invalid SQL expression"),
    ],
)
def test_rule_sql_is_bounded_and_row_wise_before_polars_sees_it(
    write, sql: str, needle: str
) -> None:
    """sqlglot checks the structure first: Polars' own parser recursed into a crash on
    thousands of OR-ed terms; an aggregate or window would compare a row with the
    whole source."""
    err = _error(
        write,
        f"""rules:
  - id: x.bound
    title: t
    type: expression
    assert: "{sql}"
""",
    )
    assert needle in str(err) and err.line == 5 and err.rule_id == "x.bound", str(err)
    assert len(str(err)) < 700  # the expression is cut in the message


@pytest.mark.parametrize(
    ("expect", "needle"),
    [
        ("total_minor / 3 * 3", "gives Float64; an amount must be an integer of 64 bits or"),
        ("CAST(total_minor AS SMALLINT)", "casts to SMALLINT, which cannot hold every value"),
        ("CAST(total_minor + tax_minor AS BIGINT)", "casts to BIGINT, which cannot hold"),
        ("total_minor * total_minor * 4", "could exceed 128-bit integers"),
    ],
)
def test_an_expected_amount_is_a_wide_integer_or_a_decimal(write, expect: str, needle: str) -> None:
    err = _error(
        write,
        f"""rules:
  - id: x.amount
    title: t
    type: expression
    field: total_minor
    expect: "{expect}"
""",
    )
    assert needle in str(err) and err.line == 6, str(err)


def test_a_constant_expectation_and_a_wide_expression_compile(write) -> None:
    rules = load_rules(
        [
            write(
                "ok.yaml",
                """rules:
  - id: x.zero
    title: t
    type: expression
    field: discount_minor
    expect: "0"
  - id: x.sum
    title: t
    type: expression
    field: total_minor
    expect: "subtotal_minor - discount_minor + tax_minor"
  - id: x.filter
    title: t
    type: expression
    filter: "1 = 0"
    assert: "total_minor >= 0"
""",
            )
        ]
    )
    assert [r.id for r in rules] == ["x.zero", "x.sum", "x.filter"]


def test_a_type_that_is_not_text_names_its_line(write) -> None:
    """(``type: [compare]`` raised a TypeError: found when the rule-type seam was typed)"""
    err = _error(write, "rules:\n  - id: x.t\n    title: t\n    type: [compare]\n")
    assert (err.line, err.rule_id) == (4, "x.t") and "'type' must be one of" in str(err)
