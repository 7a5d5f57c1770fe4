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


def _keyed(side: Side, data: SourceData, norm: KeyNormalization) -> pl.LazyFrame:
    frame = data.invoices
    if side.filter is not None:
        frame = frame.filter(side.filter)
    return frame.with_columns(norm.apply(pl.col(side.key)).alias(KEY))


def match(pairing: Pairing, left: SourceData, right: SourceData) -> PairData:
    lk = _keyed(pairing.left, left, pairing.normalize)
    rk = _keyed(pairing.right, right, pairing.normalize)
    l_unique = lk.filter(pl.col(KEY).is_not_null()).unique(KEY, keep="first", maintain_order=True)
    r_unique = rk.filter(pl.col(KEY).is_not_null()).unique(KEY, keep="first", maintain_order=True)
    r_renamed = r_unique.rename(lambda c: c if c == KEY else c + RIGHT)
    matched = l_unique.join(r_renamed, on=KEY, how="inner")
    left_only = pl.concat([lk.filter(pl.col(KEY).is_null()),
                           l_unique.join(r_unique.select(KEY), on=KEY, how="anti")])
    right_only = pl.concat([rk.filter(pl.col(KEY).is_null()),
                            r_unique.join(l_unique.select(KEY), on=KEY, how="anti")])
    return PairData(pairing.name, left, right, pairing.left.key, pairing.right.key,
                    matched.drop(KEY), left_only.drop(KEY), right_only.drop(KEY))
