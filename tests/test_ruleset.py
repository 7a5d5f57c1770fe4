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
    assert {"commet.total_identity", "stripe.amount_remaining", "xsrc.counterpart_present",
            "currency.iso4217"} <= set(ids)


def test_malformed_yaml_names_line(write) -> None:
    err = _error(write, "rules:\n  - id: a\n    title: [unclosed\n")
    assert err.line is not None and "r.yaml" in str(err) and "malformed YAML" in str(err)


def test_unknown_key_names_line_and_rule(write) -> None:
    err = _error(write, """rules:
  - id: x.one
    title: t
    type: expression
    assert: "total_minor >= 0"
    tolerence: 1
""")
    assert (err.line, err.rule_id) == (6, "x.one")
    assert "tolerence" in str(err) and "r.yaml:6" in str(err)


def test_bad_sql_names_line_and_rule(write) -> None:
    err = _error(write, """rules:
  - id: x.bad
    title: t
    type: expression
    field: total_minor
    expect: "subtotal_minor - - * tax"
""")
    assert (err.line, err.rule_id) == (6, "x.bad")
    assert "invalid SQL" in str(err)


def test_unknown_column_is_caught_at_load(write) -> None:
    err = _error(write, """rules:
  - id: x.col
    title: t
    type: expression
    field: total_minor
    expect: subtotl_minor + tax_minor
""")
    assert err.rule_id == "x.col" and err.line == 6
    assert "subtotl_minor" in str(err)


def test_type_error_and_aggregates_are_caught(write) -> None:
    err = _error(write, """rules:
  - id: x.type
    title: t
    type: expression
    assert: "currency + 1 > 2"
""")
    assert "type-check" in str(err) or "boolean" in str(err)
    err = _error(write, """rules:
  - id: x.agg
    title: t
    type: expression
    assert: "total_minor > (SELECT 1)"
""")
    assert "not allowed" in str(err)
    err = _error(write, """rules:
  - id: x.sum
    title: t
    type: expression
    field: total_minor
    expect: "SUM(total_minor)"
""")
    assert "aggregates rows" in str(err)


def test_assert_must_be_boolean(write) -> None:
    err = _error(write, """rules:
  - id: x.num
    title: t
    type: expression
    assert: "total_minor + 1"
""")
    assert "boolean" in str(err)


def test_duplicate_ids_across_files(write) -> None:
    rule = "rules:\n  - id: dup\n    title: t\n    type: uniqueness\n"
    a, b = write("a.yaml", rule), write("b.yaml", rule)
    with pytest.raises(RuleError) as info:
        load_rules([a, b])
    assert "duplicate rule id" in str(info.value) and "a.yaml:2" in str(info.value)


def test_tolerance_and_scope_validation(write) -> None:
    err = _error(write, "rules:\n  - id: t\n    title: t\n    type: uniqueness\n"
                        "    tolerance: -1\n")
    assert "tolerance" in str(err)
    err = _error(write, "rules:\n  - id: t\n    title: t\n    type: compare\n"
                        "    field: total_minor\n    applies_to: all\n")
    assert "pairings" in str(err)
    ok = write("ok.yaml", "rules:\n  - id: t\n    title: t\n    type: expression\n"
                          "    field: total_minor\n    expect: subtotal_minor\n"
                          "    tolerance: {default: 0, jpy: 2}\n")
    (rule,) = load_rules([ok])
    assert rule.tolerance.per_currency == {"JPY": 2}
