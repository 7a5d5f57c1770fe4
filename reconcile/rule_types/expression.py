"""Row expression: a boolean SQL ``assert``, or ``field`` equals the SQL ``expect``.

The second form is the one for money identities: ``delta = field − expect`` in
minor units, compared with the rule's tolerance, so expected, actual and the
difference appear in the finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from reconcile import yamlio
from reconcile.rule_types._common import SourceData, canonical_column, evaluated, fmt, money


@dataclass(frozen=True)
class Expression:
    name: ClassVar[str] = "expression"
    keys: ClassVar[frozenset[str]] = frozenset({"assert", "field", "expect"})
    pairwise: ClassVar[bool] = False

    assertion: pl.Expr | None
    field: str | None
    expect: pl.Expr | None
    expect_sql: str | None

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Any) -> Expression:
        from reconcile.ruleset import compile_sql

        if "assert" in raw:
            if "field" in raw or "expect" in raw:
                raise where.error("use either 'assert' or 'field' + 'expect', not both")
            expr = compile_sql(raw["assert"], where, "assert", boolean=True,
                               line=yamlio.line_of(raw, "assert"))
            return cls(expr, None, None, None)
        field, expect = raw.get("field"), raw.get("expect")
        if field is None or expect is None:
            raise where.error("an expression rule needs 'assert', or 'field' and 'expect'")
        field = canonical_column(raw, "field", where, pl.Int64())
        expr = compile_sql(expect, where, "expect", line=yamlio.line_of(raw, "expect"))
        return cls(None, field, expr, str(expect))

    def invoice_columns(self) -> frozenset[str]:
        if self.assertion is not None:
            return frozenset(self.assertion.meta.root_names())
        assert self.expect is not None and self.field is not None
        return frozenset([self.field, *self.expect.meta.root_names(), "currency"])

    def evaluate(self, rule: Any, src: SourceData) -> pl.LazyFrame:
        if self.assertion is not None:
            return src.invoices.with_columns(
                self.assertion.alias("ok"), pl.lit(None, pl.Int64).alias("delta_minor"))
        assert self.expect is not None and self.field is not None
        delta = pl.col(self.field) - self.expect
        return src.invoices.with_columns(
            (delta.abs() <= rule.tolerance.expr(pl.col("currency"), self.expect)).alias("ok"),
            delta.alias("delta_minor"))

    def render(self, rule: Any, failed: pl.LazyFrame, target: Any) -> pl.LazyFrame:
        base = {"source": pl.lit(target.name), "invoice_id": pl.col("invoice_id"),
                "currency": pl.col("currency"), "location": target.locate(),
                "ok": pl.col("ok"), "delta_minor": pl.col("delta_minor")}
        if self.assertion is not None:
            return evaluated(
                failed, **base,
                message=fmt("{} invoice {}: fails '{}'.", pl.lit(target.name),
                                  pl.col("invoice_id"), pl.lit(rule.title)),
            )
        assert self.expect is not None and self.field is not None
        actual, expected, delta = pl.col(self.field), self.expect, pl.col("delta_minor")
        return evaluated(
            failed, **base, field=self.field, expected=money(expected), actual=money(actual),
            message=fmt(
                "{} invoice {}: {} is {} but {} gives {}, a difference of {}.",
                pl.lit(target.name), pl.col("invoice_id"), pl.lit(self.field), money(actual),
                pl.lit(self.expect_sql), money(expected), money(delta)),
        )
