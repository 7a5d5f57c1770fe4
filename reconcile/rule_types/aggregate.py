"""Aggregate: line items summed per invoice must equal a header field.

``sum`` is a SQL expression over line columns (default ``amount_minor``, each
line already in minor units); ``unit_amount * quantity`` sums the exact line
values and rounds the sum once by the money policy, which is how an invoice
whose lines carry sub-cent precision is checked at the cent;
``lines_filter`` selects the lines that count (e.g. charge lines only). An
invoice without any counted line sums to zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from reconcile import yamlio
from reconcile.money import round_minor_expr
from reconcile.rule_types._common import SourceData, canonical_column, evaluated, fmt, money
from reconcile.schema import LINE_SCHEMA


@dataclass(frozen=True)
class Aggregate:
    name: ClassVar[str] = "aggregate"
    keys: ClassVar[frozenset[str]] = frozenset({"lines_filter", "sum", "field"})
    pairwise: ClassVar[bool] = False

    field: str
    total: pl.Expr
    lines_filter: pl.Expr | None
    needs_lines: ClassVar[bool] = True

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Any) -> Aggregate:
        from reconcile.ruleset import compile_sql

        field = canonical_column(raw, "field", where, pl.Int64())
        total = compile_sql(raw.get("sum", "amount_minor"), where, "sum", schema=LINE_SCHEMA,
                            line=yamlio.line_of(raw, "sum"))
        lines_filter = None
        if "lines_filter" in raw:
            lines_filter = compile_sql(raw["lines_filter"], where, "lines_filter",
                                       schema=LINE_SCHEMA, boolean=True,
                                       line=yamlio.line_of(raw, "lines_filter"))
        return cls(field, total, lines_filter)

    def invoice_columns(self) -> frozenset[str]:
        return frozenset({self.field, "currency"})

    @property
    def reads_lines(self) -> bool:
        """Whether the rule needs the line items, not only Σ amount_minor per invoice."""
        return not (self.lines_filter is None and self.total.meta.eq(pl.col("amount_minor")))

    def evaluate(self, rule: Any, src: SourceData) -> pl.LazyFrame:
        if src.sums_attached and not self.reads_lines:
            joined = src.invoices  # __sum attached once per source by the pipeline
        else:
            assert src.lines is not None, "the pipeline keeps lines when a rule reads them"
            lines = src.lines
            if self.lines_filter is not None:
                lines = lines.filter(self.lines_filter)
            sums = lines.group_by("invoice_id").agg(
                round_minor_expr(self.total.sum()).alias("__sum"))
            joined = src.invoices.drop("__sum", strict=False).join(sums, on="invoice_id",
                                                                     how="left")
        total = pl.col("__sum").fill_null(0)  # no counted line: sums to zero
        if src.incomplete_lines.height:
            # an invoice with a quarantined line cannot be summed: N/A, not a failure
            incomplete = src.incomplete_lines.get_column("invoice_id").implode()
            total = pl.when(pl.col("invoice_id").is_in(incomplete)).then(None).otherwise(total)
        joined = joined.with_columns(total.alias("__sum"))
        delta = pl.col(self.field) - pl.col("__sum")
        return joined.with_columns(
            (delta.abs() <= rule.tolerance.expr(pl.col("currency"), pl.col("__sum"))).alias("ok"),
            delta.alias("delta_minor"))

    def render(self, rule: Any, failed: pl.LazyFrame, target: Any) -> pl.LazyFrame:
        actual, expected, delta = pl.col(self.field), pl.col("__sum"), pl.col("delta_minor")
        return evaluated(
            failed, source=pl.lit(target.name), invoice_id=pl.col("invoice_id"),
            currency=pl.col("currency"), location=target.locate(), field=self.field,
            delta_minor=delta, ok=pl.col("ok"), expected=money(expected), actual=money(actual),
            message=fmt(
                "{} invoice {}: line items sum to {} but {} is {}, a difference of {}.",
                pl.lit(target.name), pl.col("invoice_id"), money(expected), pl.lit(self.field),
                money(actual), money(delta)),
        )
