"""Presence: every record on either side of a pairing has a counterpart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from reconcile.rule_types._common import RIGHT, PairData, evaluated, fmt


@dataclass(frozen=True)
class Presence:
    name: ClassVar[str] = "presence"
    keys: ClassVar[frozenset[str]] = frozenset()
    pairwise: ClassVar[bool] = True

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Any) -> Presence:
        return cls()

    def invoice_columns(self) -> frozenset[str]:
        return frozenset()

    def evaluate(self, rule: Any, pair: PairData) -> pl.LazyFrame:
        """Every record of both sides, with the side's key and the other side's name."""
        def side(frame: pl.LazyFrame, key: str, other: str, matched: bool) -> pl.LazyFrame:
            return frame.select(
                "source", "invoice_id", "currency", "record_ref",
                pl.col(key).cast(pl.String).alias("__key"), pl.lit(key).alias("__key_name"),
                pl.lit(other).alias("__other"), pl.lit(matched).alias("ok"),
                pl.lit(None, pl.Int64).alias("delta_minor"))

        matched_left = pair.matched.select(
            [c for c in pair.matched.collect_schema().names() if not c.endswith(RIGHT)])
        return pl.concat([
            side(matched_left, pair.left_key, pair.right.name, True),
            side(pair.left_only, pair.left_key, pair.right.name, False),
            side(pair.right_only, pair.right_key, pair.left.name, False),
        ])

    def render(self, rule: Any, failed: pl.LazyFrame, target: Any) -> pl.LazyFrame:
        return evaluated(
            failed, source=pl.col("source"), invoice_id=pl.col("invoice_id"),
            counterpart_source=pl.col("__other"), field=pl.col("__key_name"),
            currency=pl.col("currency"), location=pl.col("record_ref"), ok=pl.col("ok"),
            expected=fmt("a {} record with {} = {}", pl.col("__other"),
                               pl.col("__key_name"), pl.col("__key")),
            message=fmt("{} invoice {} ({} {}) has no counterpart in {}.",
                              pl.col("source"), pl.col("invoice_id"), pl.col("__key_name"),
                              pl.col("__key"), pl.col("__other")),
        )
