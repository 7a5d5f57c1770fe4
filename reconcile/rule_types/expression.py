"""Row expression: a boolean SQL ``assert``, or ``field`` equals the SQL ``expect``.

The second form is the one for money identities: ``delta = field − expect``,
compared with the rule's tolerance at the precision the source states (see
``_identity``), so expected, actual and the difference appear in the finding.
``rows: lines`` checks each line item instead of each invoice (Commet's
``amount = quantity × unitAmount``); its columns are the line item's.
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
from reconcile.schema import (
    INVOICE_SCHEMA,
    LINE_MONEY_COLUMNS,
    LINE_SCHEMA,
    MONEY_COLUMNS,
    WIDE,
)
from reconcile.sql import Where, compile_row_expression

if TYPE_CHECKING:
    from reconcile.ruleset import Rule

ROWS = ("invoices", "lines")


@dataclass(frozen=True)
class Expression:
    name: ClassVar[str] = "expression"
    keys: ClassVar[frozenset[str]] = frozenset({"assert", "field", "expect", "rows"})
    unique_key: ClassVar[str | None] = None
    pairwise: ClassVar[Literal[False]] = False

    assertion: pl.Expr | None
    field: str | None
    expect: pl.Expr | None
    expect_sql: str | None
    #: checks line items (``rows: lines``), not invoices
    on_lines: bool = False

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Where) -> Expression:
        rows = raw.get("rows", "invoices")
        if rows not in ROWS:
            raise where.error(
                f"'rows' must be invoices or lines (got {rows!r})", yamlio.line_of(raw, "rows")
            )
        on_lines = rows == "lines"
        schema = LINE_SCHEMA if on_lines else INVOICE_SCHEMA
        if "assert" in raw:
            if "field" in raw or "expect" in raw:
                raise where.error("use either 'assert' or 'field' + 'expect', not both")
            expr = compile_row_expression(
                raw["assert"],
                where,
                "assert",
                boolean=True,
                schema=schema,
                line=yamlio.line_of(raw, "assert"),
            )
            return cls(expr, None, None, None, on_lines)
        field, expect = raw.get("field"), raw.get("expect")
        if field is None or expect is None:
            raise where.error("an expression rule needs 'assert', or 'field' and 'expect'")
        field = canonical_column(raw, "field", where, pl.Int64(), schema=schema)
        expr = compile_row_expression(
            expect, where, "expect", schema=schema, amount=True, line=yamlio.line_of(raw, "expect")
        )
        return cls(None, field, expr, str(expect), on_lines)

    def invoice_columns(self) -> frozenset[str]:
        if self.on_lines:
            return frozenset()  # line columns: the source must send line items
        if self.assertion is not None:
            return frozenset(self.assertion.meta.root_names())
        assert self.expect is not None and self.field is not None
        return frozenset([self.field, *self.expect.meta.root_names(), "currency"])

    @property
    def needs_lines(self) -> bool:
        return self.on_lines

    @property
    def reads_lines(self) -> bool:
        return self.on_lines

    @property
    def line_rows(self) -> bool:
        """Its rows are line items: a rule ``filter`` reads line columns."""
        return self.on_lines

    def _rows(self, src: SourceData) -> pl.LazyFrame:
        if self.on_lines:
            assert src.lines is not None, "the pipeline keeps lines when a rule reads them"
            return src.lines
        return src.invoices

    def _sides(
        self, src: SourceData, rows: pl.LazyFrame
    ) -> tuple[Scaled, Scaled, FloatNoise | None]:
        assert self.expect is not None and self.field is not None
        precision = src.line_precision if self.on_lines else src.precision
        money_columns = LINE_MONEY_COLUMNS if self.on_lines else MONEY_COLUMNS
        roots = [c for c in self.expect.meta.root_names() if c in money_columns]
        schema = rows.select(pl.col(self.field), self.expect.alias("__expect")).collect_schema()
        field_places = precision.places.get(self.field, 0)
        actual = scaled(pl.col(self.field), schema[self.field], precision.scale, field_places)
        expected = scaled(
            self.expect,
            schema["__expect"],
            precision.scale,
            precision.places_of(roots) if roots else field_places,
        )
        noise = (
            None
            if precision.float_decimals is None
            else FloatNoise(precision.float_decimals, pl.lit(1 + len(roots)))
        )
        return actual, expected, noise

    def evaluate(self, rule: Rule, src: SourceData) -> pl.LazyFrame:
        rows = self._rows(src)
        if self.assertion is not None:
            return rows.with_columns(
                self.assertion.alias("ok"), pl.lit(None, WIDE).alias("delta_minor")
            )
        actual, expected, noise = self._sides(src, rows)
        precision = src.line_precision if self.on_lines else src.precision
        return rows.with_columns(
            identity_columns(actual, expected, rule, precision.rounding, noise=noise)
        )

    def render(self, rule: Rule, failed: pl.LazyFrame, target: SourceData) -> pl.LazyFrame:
        what = fmt("{} invoice {}", pl.lit(target.name), pl.col("invoice_id"))
        if self.on_lines:  # a line's position in the invoice, or a lines file's row
            what = (
                fmt(
                    "{} invoice {} line {}",
                    pl.lit(target.name),
                    pl.col("invoice_id"),
                    pl.col("line_no") + 1,
                )
                if target.lines_file is None
                else fmt(
                    "{} invoice {}, the line at {} row {}",
                    pl.lit(target.name),
                    pl.col("invoice_id"),
                    pl.lit(target.lines_file),
                    pl.col("line_no"),
                )
            )
        base = {
            "source": pl.lit(target.name),
            "invoice_id": pl.col("invoice_id"),
            "currency": pl.col("currency"),
            "location": target.locate_line() if self.on_lines else target.locate(),
            "ok": pl.col("ok"),
            "delta_minor": pl.col("delta_minor"),
        }
        if self.assertion is not None:
            return evaluated(
                failed, **base, message=fmt("{}: fails '{}'.", what, pl.lit(rule.title))
            )
        assert self.field is not None
        actual, expected, delta, scale = shown(*self._sides(target, self._rows(target))[:2])
        return evaluated(
            failed,
            **base,
            field=self.field,
            expected=money(expected, extra=scale),
            actual=money(actual, extra=scale),
            message=fmt(
                "{}: {} is {} but {} gives {}, a difference of {}{}.",
                what,
                pl.lit(self.field),
                money(actual, extra=scale),
                pl.lit(self.expect_sql),
                money(expected, extra=scale),
                money(delta, extra=scale),
                rounded_note(scale),
            ),
        )
