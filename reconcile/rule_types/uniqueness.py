"""Uniqueness: a key (invoice id, invoice number, ledger reference) occurs once per source.

One finding per duplicated key value, naming every record that carries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from reconcile.rule_types._common import SourceData, canonical_column, evaluated, fmt
from reconcile.schema import ROW


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
        flags = [(pl.col("__n") == 1).alias("ok"), pl.lit(None, pl.Int64).alias("delta_minor"),
                 pl.lit(None, pl.String).alias("currency")]
        if self.key == "invoice_id" and src.repeated is not None:
            # The pipeline counted records per id while setting repeats aside: one
            # unit per checked invoice; the counts are joined to the failing ones.
            repeated = src.repeated.get_column("invoice_id").implode()
            return src.invoices.select(
                "invoice_id", (~pl.col("invoice_id").is_in(repeated)).alias("ok"),
                pl.lit(None, pl.Int64).alias("delta_minor"),
                pl.lit(None, pl.String).alias("currency"))
        return (src.all_invoices.filter(pl.col(self.key).is_not_null())
                .group_by(self.key).len(name="__n").with_columns(flags))

    def render(self, rule: Any, failed: pl.LazyFrame, target: Any) -> pl.LazyFrame:
        # Name every record of each repeated key, in source order: by invoice id,
        # or by where it was read when the invoice id is itself the key.
        if "__n" in failed.collect_schema().names():
            counts = failed.select(self.key, "__n", "ok")
        else:  # the pipeline's counts (see evaluate)
            counts = failed.select(self.key, "ok").join(target.repeated.lazy(), on=self.key)
        # The few records of the repeated keys (found without a join over all
        # records), in source order: the loaded order.
        records = target.all_invoices
        order = ROW if ROW in records.collect_schema().names() else "__order"
        if order != ROW:
            records = records.with_row_index(order)
        records = (records.join(counts, on=self.key, how="semi")
                   .join(counts, on=self.key, how="left").sort(order))
        where = target.locate()
        name = where if self.key == "invoice_id" else pl.col("invoice_id")
        records = (records.with_columns(where.alias("__where"), name.alias("__name"))
                   .group_by(self.key, maintain_order=True)
                   .agg(pl.col(*(c for c in ("invoice_id", "currency", "__where",
                                             "__n", "ok") if c != self.key)).first(),
                        pl.col("__name").str.join(", ").alias("__ids")))
        return evaluated(
            records, source=pl.lit(target.name), invoice_id=pl.col("invoice_id"),
            field=self.key, currency=pl.col("currency"), location=pl.col("__where"),
            ok=pl.col("ok"), expected=pl.lit("1"), actual=pl.col("__n").cast(pl.String),
            message=fmt("{} has {} records with {} = {}: {}.", pl.lit(target.name),
                        pl.col("__n"), pl.lit(self.key), pl.col(self.key), pl.col("__ids")),
        )
