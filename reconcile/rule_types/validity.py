"""Validity: a column holds an allowed value; ``allowed: iso4217`` = active ISO 4217 code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import polars as pl

from reconcile import yamlio
from reconcile.money import active_codes
from reconcile.rule_types._common import SourceData, canonical_column, evaluated, fmt
from reconcile.schema import WIDE

if TYPE_CHECKING:
    from reconcile.ruleset import Rule
    from reconcile.sql import Where


@dataclass(frozen=True)
class Validity:
    name: ClassVar[str] = "validity"
    keys: ClassVar[frozenset[str]] = frozenset({"field", "allowed"})
    needs_lines: ClassVar[bool] = False
    reads_lines: ClassVar[bool] = False
    unique_key: ClassVar[str | None] = None
    #: its rows are line items (a rule filter then reads line columns)
    line_rows: ClassVar[bool] = False
    pairwise: ClassVar[Literal[False]] = False

    field: str
    allowed: tuple[str, ...]
    allowed_name: str

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Where) -> Validity:
        field = canonical_column(raw, "field", where, pl.String(), "currency")
        allowed = raw.get("allowed", "iso4217")
        if allowed == "iso4217":
            return cls(field, tuple(sorted(active_codes())), "an active ISO 4217 code")
        if isinstance(allowed, list) and allowed and all(isinstance(a, str) for a in allowed):
            return cls(field, tuple(allowed), "one of " + ", ".join(allowed))
        raise where.error(
            "'allowed' must be 'iso4217' or a list of values", yamlio.line_of(raw, "allowed")
        )

    def invoice_columns(self) -> frozenset[str]:
        return frozenset({self.field})

    def evaluate(self, rule: Rule, src: SourceData) -> pl.LazyFrame:
        allowed = pl.Series(self.allowed, dtype=pl.String).implode()
        return src.invoices.with_columns(
            pl.col(self.field).is_in(allowed).alias("ok"),
            pl.lit(None, WIDE).alias("delta_minor"),
        )

    def render(self, rule: Rule, failed: pl.LazyFrame, target: SourceData) -> pl.LazyFrame:
        value = pl.col(self.field)
        return evaluated(
            failed,
            source=pl.lit(target.name),
            invoice_id=pl.col("invoice_id"),
            field=self.field,
            currency=pl.col("currency"),
            location=target.locate(),
            ok=pl.col("ok"),
            expected=pl.lit(self.allowed_name),
            actual=value,
            message=fmt(
                "{} invoice {}: {} {} is not {}.",
                pl.lit(target.name),
                pl.col("invoice_id"),
                pl.lit(self.field),
                value,
                pl.lit(self.allowed_name),
            ),
        )
