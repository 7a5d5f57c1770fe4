"""Uniqueness: a key (invoice id, invoice number, ledger reference) occurs once per source.

One finding per duplicated key value, naming every record that carries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from reconcile import yamlio
from reconcile.rule_types._common import SourceData, evaluated, fmt
from reconcile.schema import INVOICE_SCHEMA


@dataclass(frozen=True)
class Uniqueness:
    name: ClassVar[str] = "uniqueness"
    keys: ClassVar[frozenset[str]] = frozenset({"key"})
    pairwise: ClassVar[bool] = False
    #: uniqueness reads every valid row, before duplicates are set aside
    reads_all_rows: ClassVar[bool] = True

    key: str

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Any) -> Uniqueness:
        key = raw.get("key", "invoice_id")
        if INVOICE_SCHEMA.get(key) != pl.String():
            raise where.error(f"'key' must be a canonical text column (got {key!r})",
                              yamlio.line_of(raw, "key"))
        return cls(key)

    def invoice_columns(self) -> frozenset[str]:
        return frozenset({self.key})

    def evaluate(self, rule: Any, src: SourceData) -> pl.LazyFrame:
        keyed = src.all_invoices.filter(pl.col(self.key).is_not_null())
        groups = keyed.group_by(pl.col(self.key).alias("__key")).agg(
            pl.col("source").first(),
            pl.col("invoice_id").first().alias("__first_id"),
            pl.col("currency").first(),
            pl.col("record_ref").first(),
            pl.len().alias("__n"),
        )
        # Name every record of a repeated key, building the list only for repeats.
        repeated = groups.filter(pl.col("__n") > 1).select("__key")
        names = (keyed.join(repeated, left_on=self.key, right_on="__key", how="semi")
                 .group_by(pl.col(self.key).alias("__key"))
                 .agg(pl.col("invoice_id").sort().str.join(", ").alias("__ids")))
        return groups.join(names, on="__key", how="left").with_columns(
            (pl.col("__n") == 1).alias("ok"), pl.lit(None, pl.Int64).alias("delta_minor"))

    def render(self, rule: Any, failed: pl.LazyFrame) -> pl.LazyFrame:
        return evaluated(
            failed, source=pl.col("source"), invoice_id=pl.col("__first_id"),
            field=self.key, currency=pl.col("currency"), location=pl.col("record_ref"),
            ok=pl.col("ok"), expected=pl.lit("1"), actual=pl.col("__n").cast(pl.String),
            message=fmt("{} has {} records with {} = {}: {}.", pl.col("source"),
                              pl.col("__n"), pl.lit(self.key), pl.col("__key"),
                              pl.col("__ids")),
        )
