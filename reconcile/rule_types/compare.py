"""Cross-source compare: a field of the same invoice agrees on both sides of a pairing.

Money fields compare in minor units with the rule's tolerance (keyed by the
left side's currency); other fields (``currency``) compare exactly. The left
side's value is *expected*, the right side's *actual*, ``delta = right − left``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from reconcile import yamlio
from reconcile.rule_types._common import RIGHT, PairData, evaluated, fmt, money
from reconcile.schema import INVOICE_SCHEMA


@dataclass(frozen=True)
class Compare:
    name: ClassVar[str] = "compare"
    keys: ClassVar[frozenset[str]] = frozenset({"field"})
    pairwise: ClassVar[bool] = True

    field: str

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Any) -> Compare:
        field = raw.get("field")
        if field not in INVOICE_SCHEMA or field in {"source", "record_ref"}:
            raise where.error(f"'field' must be a canonical invoice column (got {field!r})",
                              yamlio.line_of(raw, "field"))
        return cls(field)

    def invoice_columns(self) -> frozenset[str]:
        return frozenset({self.field, "currency"})

    def evaluate(self, rule: Any, pair: PairData) -> pl.LazyFrame:
        left, right = pl.col(self.field), pl.col(self.field + RIGHT)
        if INVOICE_SCHEMA[self.field] == pl.Int64():
            delta = right - left
            return pair.matched.with_columns(
                (delta.abs() <= rule.tolerance.expr(pl.col("currency"))).alias("ok"),
                delta.alias("delta_minor"))
        return pair.matched.with_columns((left == right).alias("ok"),
                                         pl.lit(None, pl.Int64).alias("delta_minor"))

    def render(self, rule: Any, failed: pl.LazyFrame, target: Any) -> pl.LazyFrame:
        left, right = pl.col(self.field), pl.col(self.field + RIGHT)
        cur_l, cur_r = pl.col("currency"), pl.col("currency" + RIGHT)
        base = dict(
            source=pl.lit(target.left.name), invoice_id=pl.col("invoice_id"),
            counterpart_source=pl.lit(target.right.name),
            counterpart_invoice_id=pl.col("invoice_id" + RIGHT), field=self.field,
            currency=cur_l, location=target.left.locate(), ok=pl.col("ok"),
            delta_minor=pl.col("delta_minor"),
        )
        if INVOICE_SCHEMA[self.field] == pl.Int64():
            return evaluated(
                failed, **base, expected=money(left, cur_l), actual=money(right, cur_r),
                message=fmt(
                    "{} invoice {} has {} {} but {} {} has {}, a difference of {}.",
                    pl.lit(target.left.name), pl.col("invoice_id"), pl.lit(self.field),
                    money(left, cur_l), pl.lit(target.right.name), pl.col("invoice_id" + RIGHT),
                    money(right, cur_r), money(pl.col("delta_minor"), cur_l)),
            )
        as_text = left.cast(pl.String), right.cast(pl.String)
        return evaluated(
            failed, **base, expected=as_text[0], actual=as_text[1],
            message=fmt(
                "{} invoice {} has {} {} but {} {} has {}.",
                pl.lit(target.left.name), pl.col("invoice_id"), pl.lit(self.field), as_text[0],
                pl.lit(target.right.name), pl.col("invoice_id" + RIGHT), as_text[1]),
        )
