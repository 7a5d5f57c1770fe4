"""Pairings: which invoice on one side is the same invoice on the other.

A pairing names a left and a right source, the key column on each side (keys
may differ in name, e.g. Frontier ``external_ref`` = Stripe ``invoice_id``), an
optional SQL filter per side (e.g. ledger rows of one billing system) and key
normalization (trim, case, prefix strip). Matching is 1:1: a key that occurs
more than once on a side keeps its first record for matching (the uniqueness
rules report the duplicates); records with no key are unmatched.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from reconcile.rule_types._common import RIGHT, PairData, SourceData
from reconcile.schema import INVOICE_SCHEMA


@dataclass(frozen=True)
class KeyNormalization:
    trim: bool = True
    case: str | None = None  # "upper" | "lower" | None
    strip_prefix: str | None = None

    def apply(self, expr: pl.Expr) -> pl.Expr:
        expr = expr.cast(pl.String)
        if self.trim:
            expr = expr.str.strip_chars()
        if self.case == "upper":
            expr = expr.str.to_uppercase()
        elif self.case == "lower":
            expr = expr.str.to_lowercase()
        if self.strip_prefix:
            expr = expr.str.strip_prefix(self.strip_prefix)
        return pl.when(expr == "").then(None).otherwise(expr)


@dataclass(frozen=True)
class Side:
    source: str
    key: str
    filter: pl.Expr | None = None
    filter_sql: str | None = None


@dataclass(frozen=True)
class Pairing:
    name: str
    left: Side
    right: Side
    normalize: KeyNormalization = KeyNormalization()

    def describe(self) -> str:
        return (f"{self.left.source}.{self.left.key} ↔ {self.right.source}.{self.right.key}")


KEY = "__key"
_IN_LEFT, _IN_RIGHT = "__in_left", "__in_right"
#: columns every pairing carries whatever the rules read
IDENTITY = ("source", "invoice_id", "currency", "record_ref")


def _keyed(side: Side, data: SourceData, norm: KeyNormalization,
           columns: list[str]) -> pl.LazyFrame:
    frame = data.invoices
    if side.filter is not None:
        frame = frame.filter(side.filter)
    return frame.select(*columns, norm.apply(pl.col(side.key)).alias(KEY))


def _first_per_key(keyed: pl.DataFrame, key: str) -> pl.DataFrame:
    """Records with a key, the first of each key. Checked invoices are already unique
    by ``invoice_id``; when normalization left that key as it was, skip the pass."""
    with_key = keyed.filter(pl.col(KEY).is_not_null())
    if key == "invoice_id" and with_key.height == keyed.height and \
            with_key.select((pl.col(KEY) == pl.col("invoice_id")).all()).item():
        return with_key
    return with_key.filter(pl.col(KEY).is_first_distinct())


def match(pairing: Pairing, left: SourceData, right: SourceData,
          columns: frozenset[str] | None = None) -> PairData:
    """Match once: the joined pairing is materialized once, and every pairwise rule
    reads it through lazy filters (matched, left only, right only), never copies.

    ``columns`` are the canonical columns the pairwise rules read; only those
    (plus identity and key columns) are carried, which keeps the join narrow;
    ``None`` carries every canonical column. One full join gives matched,
    left-only and right-only records together.
    """
    if columns is None:
        columns = frozenset(INVOICE_SCHEMA)

    def wanted(side: Side) -> list[str]:
        return sorted(set(IDENTITY) | columns | {side.key})

    l_cols, r_cols = wanted(pairing.left), wanted(pairing.right)
    lk, rk = pl.collect_all([_keyed(pairing.left, left, pairing.normalize, l_cols),
                             _keyed(pairing.right, right, pairing.normalize, r_cols)])
    # Row order is not kept through the join: findings are sorted on stable keys.
    joined_df = (
        _first_per_key(lk, pairing.left.key).lazy().with_columns(pl.lit(True).alias(_IN_LEFT))
        .join(_first_per_key(rk, pairing.right.key).lazy()
              .rename({c: c + RIGHT for c in r_cols})
              .with_columns(pl.lit(True).alias(_IN_RIGHT)),
              on=KEY, how="full", coalesce=True)
    ).collect()
    l_nokey = lk.filter(pl.col(KEY).is_null()).select(l_cols)
    r_nokey = rk.filter(pl.col(KEY).is_null()).select(r_cols)
    del lk, rk  # only the joined frame (and the few keyless records) stay in memory
    joined = joined_df.lazy()
    in_l, in_r = pl.col(_IN_LEFT).fill_null(False), pl.col(_IN_RIGHT).fill_null(False)
    matched = joined.filter(in_l & in_r).select(*l_cols, *(c + RIGHT for c in r_cols))
    left_only = pl.concat([l_nokey.lazy(), joined.filter(in_l & ~in_r).select(l_cols)])
    right_only = pl.concat([
        r_nokey.lazy(),
        joined.filter(in_r & ~in_l).select(pl.col(c + RIGHT).alias(c) for c in r_cols)])
    return PairData(pairing.name, left, right, pairing.left.key, pairing.right.key,
                    matched, left_only, right_only)
