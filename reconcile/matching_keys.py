"""A pairing side's key: how it is written and normalized, and the side's records keyed.

A side names its key as one canonical column, several (a composite key) or a SQL
expression; ``KeyNormalization`` says how a key is compared (trim, case, prefix and
suffix strip; an empty key is no key). ``keyed`` gives a side's records with their
key: a normalized copy of the key as ``KEY``, or, when the key is the invoice id and
normalization leaves every id as it is (``ids_unchanged``), the invoice id column
itself, which needs no copy and no count per key. ``reconcile.matching`` pairs the
sides on these keys (and re-exports ``KeyNormalization`` and ``Side``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from reconcile.rule_types._common import SourceData

KEY = "__key"


@dataclass(frozen=True)
class KeyNormalization:
    trim: bool = True
    case: str | None = None  # "upper" | "lower" | None
    strip_prefix: str | None = None
    strip_suffix: str | None = None

    def apply(self, expr: pl.Expr) -> pl.Expr:
        """The normalized key; an empty key is no key (null)."""
        expr = self.transform(expr)
        return pl.when(expr == "").then(None).otherwise(expr)

    def transform(self, expr: pl.Expr) -> pl.Expr:
        expr = expr.cast(pl.String)
        if self.trim:
            expr = expr.str.strip_chars()
        if self.case == "upper":
            expr = expr.str.to_uppercase()
        elif self.case == "lower":
            expr = expr.str.to_lowercase()
        if self.strip_prefix:
            expr = expr.str.strip_prefix(self.strip_prefix)
        if self.strip_suffix:
            expr = expr.str.strip_suffix(self.strip_suffix)
        return expr

    def key(self, columns: tuple[str, ...]) -> pl.Expr:
        """The normalized key; a composite key joins its parts (null if any part is)."""
        if len(columns) == 1:
            return self.apply(pl.col(columns[0]))
        return pl.concat_str([self.apply(pl.col(c)) for c in columns], separator=" | ")


@dataclass(frozen=True)
class Side:
    source: str
    #: a canonical column, several (a composite key), or, with ``expr``, the SQL text
    key: str | tuple[str, ...]
    filter: pl.Expr | None = None
    filter_sql: str | None = None
    #: a key computed by a SQL expression over canonical columns (its text is ``key``),
    #: e.g. a ledger's own way of writing the provider's id; None: a column or columns
    expr: pl.Expr | None = None
    #: this side's own key normalization (None: the pairing's)
    normalize: KeyNormalization | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The canonical columns the key reads."""
        if self.expr is not None:
            return tuple(sorted(set(self.expr.meta.root_names())))
        return (self.key,) if isinstance(self.key, str) else tuple(self.key)

    @property
    def key_name(self) -> str:
        if self.expr is not None:
            return str(self.key)
        return " + ".join(self.columns)

    def key_of(self, norm: KeyNormalization) -> pl.Expr:
        """The side's normalized key (its own normalization, else ``norm``)."""
        norm = self.normalize or norm
        if self.expr is not None:
            return norm.apply(self.expr)
        return norm.key(self.columns)

    def is_invoice_id(self) -> bool:
        """Whether the key is the invoice id itself (unique once repeats are set aside)."""
        return self.expr is None and self.columns == ("invoice_id",)

    @property
    def reads(self) -> frozenset[str]:
        """The canonical columns the side's key is made of."""
        return frozenset(self.columns)


@dataclass(frozen=True)
class Keyed:
    records: pl.LazyFrame  # every record of the side, with its key column
    key: str  # the key column: KEY, or the invoice id itself (unique, never null)

    @property
    def unique(self) -> bool:
        return self.key != KEY

    def keyed_records(self) -> pl.LazyFrame:
        """The side's records with a key, as KEY; a normalized key is computed once."""
        if self.unique:
            return self.records.with_columns(pl.col(self.key).alias(KEY))
        return self.records.filter(pl.col(KEY).is_not_null())


def side_records(side: Side, data: SourceData) -> pl.LazyFrame:
    return data.invoices if side.filter is None else data.invoices.filter(side.filter)


def ids_unchanged(side: Side, data: SourceData, norm: KeyNormalization) -> pl.LazyFrame | None:
    """When the side's key is the invoice id: a one-value plan, whether normalization
    leaves every id as it is (and none is empty); None for any other key."""
    if not side.is_invoice_id():
        return None
    norm = side.normalize or norm
    raw = pl.col("invoice_id")
    return side_records(side, data).select(((norm.transform(raw) == raw) & (raw != "")).all())


def keyed(
    side: Side, data: SourceData, norm: KeyNormalization, columns: list[str], ids_unchanged: bool
) -> Keyed:
    frame = side_records(side, data)
    if ids_unchanged:
        # Checked invoices are unique by invoice_id: when normalization leaves every
        # id as it is (one cheap pass, see ids_unchanged), no count per key is needed
        # and the join reads the column itself (a normalized copy of millions of keys
        # costs more).
        return Keyed(frame.select(columns), "invoice_id")
    return Keyed(frame.select(*columns, side.key_of(norm).alias(KEY)), KEY)


__all__ = ["KEY", "KeyNormalization", "Keyed", "Side", "ids_unchanged", "keyed", "side_records"]
