"""Uniqueness: a key (invoice id, invoice number, ledger reference) occurs once per source.

One finding per duplicated key value, naming every record that carries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from reconcile.rule_types._common import SourceData, canonical_column, evaluated, fmt


@dataclass(frozen=True)
class Uniqueness:
    name: ClassVar[str] = "uniqueness"
    keys: ClassVar[frozenset[str]] = frozenset({"key"})
    pairwise: ClassVar[bool] = False

    key: str

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Any) -> Uniqueness:
        return cls(canonical_column(raw, "key", where, pl.String(), "invoice_id"))

    def invoice_columns(self) -> frozenset[str]:
        return frozenset({self.key})

    def evaluate(self, rule: Any, src: SourceData) -> pl.LazyFrame:
        """One unit per key value: how many records carry it (a count per key is all
        the clean keys need; the records are looked up for repeated keys only)."""
        return (src.all_invoices.filter(pl.col(self.key).is_not_null())
                .group_by(self.key).len(name="__n")
                .with_columns((pl.col("__n") == 1).alias("ok"),
                              pl.lit(None, pl.Int64).alias("delta_minor"),
                              pl.lit(None, pl.String).alias("currency")))

    def render(self, rule: Any, failed: pl.LazyFrame, target: Any) -> pl.LazyFrame:
        # Name every record of each repeated key, in source order: by invoice id,
        # or by where it was read when the invoice id is itself the key.
        name = pl.col("record_ref" if self.key == "invoice_id" else "invoice_id")
        records = (target.all_invoices
                   .join(failed.select(self.key, "__n", "ok"), on=self.key, how="inner",
                         maintain_order="left")
                   .group_by(self.key, maintain_order=True)
                   .agg(pl.col(*(c for c in ("source", "invoice_id", "currency", "record_ref",
                                             "__n", "ok") if c != self.key)).first(),
                        name.str.join(", ").alias("__ids")))
        return evaluated(
            records, source=pl.col("source"), invoice_id=pl.col("invoice_id"),
            field=self.key, currency=pl.col("currency"), location=pl.col("record_ref"),
            ok=pl.col("ok"), expected=pl.lit("1"), actual=pl.col("__n").cast(pl.String),
            message=fmt("{} has {} records with {} = {}: {}.", pl.col("source"),
                        pl.col("__n"), pl.lit(self.key), pl.col(self.key), pl.col("__ids")),
        )
