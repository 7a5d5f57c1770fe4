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
from reconcile.schema import INVOICE_SCHEMA, ROW


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
#: columns every pairing carries whatever the rules read (and where a record was read:
#: ``record_ref``, or a file source's ``__row``, see SourceData.locate)
IDENTITY = ("invoice_id", "currency")


def _carried(data: SourceData, side: Side, columns: frozenset[str]) -> list[str]:
    located = [] if data.locator is not None else ["record_ref"]
    if ROW in data.invoices.collect_schema().names():  # source order, and a file's rows
        located.append(ROW)
    wanted = (set(IDENTITY) | columns | {side.key}) - {"source", "record_ref"}
    return sorted(wanted) + located


def _side(side: Side, data: SourceData, norm: KeyNormalization, columns: list[str]
          ) -> tuple[pl.LazyFrame, pl.LazyFrame | None, str]:
    """(records to join, records without a key, the column to join on).

    Each key is normalized; records with no key are unmatched, and a key that
    several records share keeps the first (in source order) for matching. One
    cheap pass first: checked invoices are already unique by ``invoice_id``, so
    when that is the key and normalization leaves every value as it is, the
    records go to the join as they are, on their own column (joining on a
    normalized copy of millions of keys costs more than the check).
    """
    frame = data.invoices if side.filter is None else data.invoices.filter(side.filter)
    raw = pl.col(side.key)
    key = norm.apply(raw)
    unchanged, keyless = frame.select(
        (key.is_null() | (key == raw.cast(pl.String))).all().alias("unchanged"),
        key.is_null().sum().alias("keyless"),
    ).collect().row(0)
    if side.key == "invoice_id" and unchanged is not False and not keyless:
        return frame.select(columns), None, side.key
    keyed = frame.select(*columns, key.alias(KEY))
    with_key = keyed.filter(pl.col(KEY).is_not_null())
    if side.key != "invoice_id" or unchanged is False:
        ordered = with_key.sort(ROW) if ROW in columns else with_key
        with_key = ordered.filter(pl.col(KEY).is_first_distinct())
    return with_key, keyed.filter(pl.col(KEY).is_null()).select(columns), KEY


def match(pairing: Pairing, left: SourceData, right: SourceData,
          columns: frozenset[str] | None = None) -> PairData:
    """Match once: the joined pairing is materialized once, split into matched, left
    only and right only, and every pairwise rule reads those lazily, never copies.

    ``columns`` are the canonical columns the pairwise rules read; only those
    (plus identity, location and key columns) are carried, which keeps the join
    narrow; ``None`` carries every canonical column. One full join gives matched,
    left-only and right-only records together. The source name is a literal
    added after the join.
    """
    if columns is None:
        columns = frozenset(INVOICE_SCHEMA)
    l_cols = _carried(left, pairing.left, columns)
    r_cols = _carried(right, pairing.right, columns)
    lk, l_nokey, l_on = _side(pairing.left, left, pairing.normalize, l_cols)
    rk, r_nokey, r_on = _side(pairing.right, right, pairing.normalize, r_cols)
    r_on += RIGHT
    renamed = rk.rename({c: c + RIGHT for c in rk.collect_schema().names()})
    # Row order is not kept through the join: findings are sorted on stable keys.
    joined_df, *nokey = pl.collect_all([
        lk.join(renamed, left_on=l_on, right_on=r_on, how="full", coalesce=False),
        *(f for f in (l_nokey, r_nokey) if f is not None)])
    l_nokey_df = nokey.pop(0) if l_nokey is not None else pl.DataFrame(
        schema=lk.select(l_cols).collect_schema())
    r_nokey_df = nokey.pop(0) if r_nokey is not None else pl.DataFrame(
        schema=rk.select(r_cols).collect_schema())
    joined = joined_df.lazy()
    # every record on a side has a key: a null key column means "not on that side"
    in_l, in_r = pl.col(l_on).is_not_null(), pl.col(r_on).is_not_null()
    l_name, r_name = pl.lit(left.name).alias("source"), pl.lit(right.name).alias("source")
    # Split once (each rule then reads its part without filtering the whole join again).
    both, l_only, r_only = pl.collect_all([
        joined.filter(in_l & in_r).select(*l_cols, *(c + RIGHT for c in r_cols)),
        pl.concat([l_nokey_df.lazy(), joined.filter(in_l & ~in_r).select(l_cols)]),
        pl.concat([r_nokey_df.lazy(), joined.filter(in_r & ~in_l)
                   .select(pl.col(c + RIGHT).alias(c) for c in r_cols)]),
    ])
    del joined, joined_df
    matched = both.lazy().select(l_name, *l_cols, pl.lit(right.name).alias("source" + RIGHT),
                                 *(c + RIGHT for c in r_cols))
    left_only = l_only.lazy().select(l_name, *l_cols)
    right_only = r_only.lazy().select(r_name, *r_cols)
    return PairData(pairing.name, left, right, pairing.left.key, pairing.right.key,
                    matched, left_only, right_only)
