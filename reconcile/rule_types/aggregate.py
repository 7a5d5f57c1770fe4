"""Aggregate: line items summed per invoice must equal a header field.

``sum`` is a SQL expression over line columns (default ``amount_minor``);
``unit_amount * quantity`` sums the exact line values. ``lines_filter``
selects the lines that count (e.g. charge lines only). An invoice without any
counted line sums to zero. The sum and the header field are compared at the
coarser of their precisions (see ``_identity``): a 4-decimal ``SubTotal``
against 6-decimal line totals is checked at 4 decimals, the sum rounded once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import polars as pl

from reconcile import yamlio
from reconcile.rule_types._common import SourceData, canonical_column, evaluated, fmt, money
from reconcile.rule_types._identity import (
    FloatNoise,
    Scaled,
    identity_columns,
    rounded_note,
    scaled,
    shown,
)
from reconcile.schema import LINE_MONEY_COLUMNS, LINE_SCHEMA
from reconcile.sql import Where, compile_row_expression

if TYPE_CHECKING:
    from reconcile.ruleset import Rule


@dataclass(frozen=True)
class Aggregate:
    name: ClassVar[str] = "aggregate"
    keys: ClassVar[frozenset[str]] = frozenset({"lines_filter", "sum", "field"})
    unique_key: ClassVar[str | None] = None
    #: its rows are line items (a rule filter then reads line columns)
    line_rows: ClassVar[bool] = False
    pairwise: ClassVar[Literal[False]] = False

    field: str
    total: pl.Expr
    lines_filter: pl.Expr | None
    needs_lines: ClassVar[bool] = True

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Where) -> Aggregate:
        field = canonical_column(raw, "field", where, pl.Int64())
        total = compile_row_expression(
            raw.get("sum", "amount_minor"),
            where,
            "sum",
            schema=LINE_SCHEMA,
            amount=True,
            summed=True,
            line=yamlio.line_of(raw, "sum"),
        )
        lines_filter = None
        if "lines_filter" in raw:
            lines_filter = compile_row_expression(
                raw["lines_filter"],
                where,
                "lines_filter",
                schema=LINE_SCHEMA,
                boolean=True,
                line=yamlio.line_of(raw, "lines_filter"),
            )
        return cls(field, total, lines_filter)

    def invoice_columns(self) -> frozenset[str]:
        return frozenset({self.field, "currency"})

    @property
    def reads_lines(self) -> bool:
        """Whether the rule needs the line items, not only Σ amount_minor per invoice."""
        return not (self.lines_filter is None and self.total.meta.eq(pl.col("amount_minor")))

    def _summed(self, src: SourceData) -> tuple[pl.LazyFrame, Scaled, FloatNoise | None]:
        """The invoices with ``__sum`` (their counted lines' sum; null: N/A, an invoice
        with a quarantined line or a line without the summed value), the sum as a
        :class:`Scaled`, and the float-noise bound of a source whose amounts need it."""
        lines = src.line_precision
        if src.sums_attached and not self.reads_lines and not lines.scale:
            # __sum (Σ amount_minor, whole minor units) attached once per source
            joined = src.invoices
            dtype: pl.DataType = pl.Int64()
        else:
            assert src.lines is not None, "the pipeline keeps lines when a rule reads them"
            counted = src.lines
            if self.lines_filter is not None:
                counted = counted.filter(self.lines_filter)
            sums = counted.group_by("invoice_id").agg(
                self.total.sum().alias("__sum"),
                pl.len().cast(pl.Int64).alias("__terms"),
                self.total.is_null().any().alias("__gap"),
            )
            dtype = sums.collect_schema()["__sum"]
            joined = src.invoices.drop("__sum", strict=False).join(
                sums, on="invoice_id", how="left"
            )
        total = pl.col("__sum").fill_null(pl.lit(0, dtype))  # no counted line: sums to zero
        if "__gap" in joined.collect_schema().names():  # a line without the value: N/A
            total = pl.when(pl.col("__gap").fill_null(False)).then(None).otherwise(total)
        if src.incomplete_lines.height:
            # an invoice with a quarantined line cannot be summed: N/A, not a failure
            incomplete = src.incomplete_lines.get_column("invoice_id").implode()
            total = pl.when(pl.col("invoice_id").is_in(incomplete)).then(None).otherwise(total)
        roots = [c for c in self.total.meta.root_names() if c in LINE_MONEY_COLUMNS]
        summed = scaled(pl.col("__sum"), dtype, lines.scale, lines.places_of(roots))
        noise = (
            None
            if lines.float_decimals is None
            else FloatNoise(lines.float_decimals, pl.col("__terms").fill_null(0) + 1)
        )
        return joined.with_columns(total.alias("__sum")), summed, noise

    def _field(self, src: SourceData) -> Scaled:
        dtype = src.invoices.select(self.field).collect_schema()[self.field]
        return scaled(
            pl.col(self.field), dtype, src.precision.scale, src.precision.places.get(self.field, 0)
        )

    def evaluate(self, rule: Rule, src: SourceData) -> pl.LazyFrame:
        joined, summed, noise = self._summed(src)
        return joined.with_columns(
            identity_columns(self._field(src), summed, rule, src.precision.rounding, noise=noise)
        )

    def render(self, rule: Rule, failed: pl.LazyFrame, target: SourceData) -> pl.LazyFrame:
        _, summed, _ = self._summed(target)
        actual, expected, delta, scale = shown(self._field(target), summed)
        return evaluated(
            failed,
            source=pl.lit(target.name),
            invoice_id=pl.col("invoice_id"),
            currency=pl.col("currency"),
            location=target.locate(),
            field=self.field,
            delta_minor=pl.col("delta_minor"),
            ok=pl.col("ok"),
            expected=money(expected, extra=scale),
            actual=money(actual, extra=scale),
            message=fmt(
                "{} invoice {}: line items sum to {} but {} is {}, a difference of {}{}.",
                pl.lit(target.name),
                pl.col("invoice_id"),
                money(expected, extra=scale),
                pl.lit(self.field),
                money(actual, extra=scale),
                money(delta, extra=scale),
                rounded_note(scale),
            ),
        )
