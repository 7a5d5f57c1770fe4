"""Uniqueness: a key (invoice id, invoice number, ledger reference) occurs once per source.

One finding per duplicated key value, naming every record that carries it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import polars as pl

from reconcile.rule_types._common import SourceData, canonical_column, evaluated, fmt
from reconcile.schema import ROW, WIDE

if TYPE_CHECKING:
    from reconcile.ruleset import Rule
    from reconcile.sql import Where


@dataclass(frozen=True)
class Uniqueness:
    name: ClassVar[str] = "uniqueness"
    keys: ClassVar[frozenset[str]] = frozenset({"key"})
    needs_lines: ClassVar[bool] = False
    reads_lines: ClassVar[bool] = False
    #: its rows are line items (a rule filter then reads line columns)
    line_rows: ClassVar[bool] = False
    pairwise: ClassVar[Literal[False]] = False

    key: str

    @property
    def unique_key(self) -> str:
        """The column whose repeats this rule reports (a pairing's many side expects them)."""
        return self.key

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Where) -> Uniqueness:
        return cls(canonical_column(raw, "key", where, pl.String(), "invoice_id"))

    def invoice_columns(self) -> frozenset[str]:
        return frozenset({self.key})

    def evaluate(self, rule: Rule, src: SourceData) -> pl.LazyFrame:
        """One unit per key value: how many records carry it (a count per key is all
        the clean keys need; the records are looked up for repeated keys only)."""
        flags = [
            (pl.col("__n") == 1).alias("ok"),
            pl.lit(None, WIDE).alias("delta_minor"),
            pl.lit(None, pl.String).alias("currency"),
        ]
        if self.key == "invoice_id" and src.repeated is not None:
            # The pipeline found the repeated ids while setting them aside: one unit
            # per checked invoice (one per id), the clean ones without their ids.
            failing = src.repeated.group_by("invoice_id").len(name="__n")
            # checked ids = records − the ones set aside (a count without a pass)
            records = src.all_invoices.select(pl.len()).collect().item()
            ids = records - (src.repeated.height - failing.height)
            clean = pl.LazyFrame().select(
                pl.repeat(1, ids - failing.height, dtype=pl.UInt32).alias("__n")
            )
            return pl.concat([failing.lazy(), clean], how="diagonal").with_columns(flags)
        return (
            src.all_invoices.filter(pl.col(self.key).is_not_null())
            .group_by(self.key)
            .len(name="__n")
            .with_columns(flags)
        )

    def render(self, rule: Rule, failed: pl.LazyFrame, target: SourceData) -> pl.LazyFrame:
        # Name every record of each repeated key, in source order: by invoice id,
        # or by where it was read when the invoice id is itself the key.
        counts = failed.select(self.key, "__n", "ok")
        if self.key == "invoice_id" and target.repeated is not None:
            records = target.repeated.lazy()  # the records of the repeated ids, no more
        else:  # the few records of the repeated keys, without a join over all records
            records = target.all_invoices.join(counts, on=self.key, how="semi")
        order = ROW if ROW in records.collect_schema().names() else None
        if order is None:  # keep the loaded order (source order) through the join
            records = records.with_row_index("__order")
            order = "__order"
        records = records.join(counts, on=self.key, how="left").sort(order)
        where = target.locate()
        name = where if self.key == "invoice_id" else pl.col("invoice_id")
        records = (
            records.with_columns(where.alias("__where"), name.alias("__name"))
            .group_by(self.key, maintain_order=True)
            .agg(
                pl.col(
                    *(
                        c
                        for c in ("invoice_id", "currency", "__where", "__n", "ok")
                        if c != self.key
                    )
                ).first(),
                pl.col("__name").alias("__ids"),
            )
            # (a list joined afterwards: str.join inside the group-by takes
            # twice as long)
            .with_columns(pl.col("__ids").list.join(", "))
        )
        return evaluated(
            records,
            source=pl.lit(target.name),
            invoice_id=pl.col("invoice_id"),
            field=self.key,
            currency=pl.col("currency"),
            location=pl.col("__where"),
            ok=pl.col("ok"),
            expected=pl.lit("1"),
            actual=pl.col("__n").cast(pl.String),
            message=fmt(
                "{} has {} records with {} = {}: {}.",
                pl.lit(target.name),
                pl.col("__n"),
                pl.lit(self.key),
                pl.col(self.key),
                pl.col("__ids"),
            ),
        )
