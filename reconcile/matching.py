"""Pairings: which invoice on one side is the same invoice on the other.

A pairing names a left and a right source, the key on each side (one column or
several: a composite key; names may differ, e.g. Frontier ``external_ref`` =
Stripe ``invoice_id``), an optional SQL filter per side (e.g. ledger rows of one
billing system), key normalization (trim, case, prefix and suffix strip) and
its **cardinality**:

* ``1:1`` (default): one record per key on each side;
* ``1:N``: one left record matches every right record with its key, compared
  with their sum (an invoice booked as several ledger lines);
* ``N:1``: the reverse (several invoices booked as one entry).

Matching never multiplies rows and never drops one. Every record of each side
ends up in exactly one of:

* **matched**: in a key group the cardinality allows, with a counterpart;
* **unmatched**: no key, or no counterpart with its key;
* **ambiguous**: its key has more records than the cardinality allows on a
  side (two left records for one key in a 1:1 pairing), or a "many" group mixes
  currencies. An ambiguous key is a finding of its own (``pairing.ambiguous``)
  naming every record involved; its records are not compared.

Matching is vectorized: a count per key (skipped when the key is the invoice
id, unique by then), one inner join per pairing (on a 64-bit hash of the keys,
checked for collisions; a side's unmatched records are the positions no pair
took), and a group-by on the "many" side.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from reconcile import hashed
from reconcile.precision import EXACT
from reconcile.rule_types._common import RIGHT, PairData, SourceData
from reconcile.schema import INVOICE_SCHEMA, ROW, WIDE

CARDINALITIES = ("1:1", "1:N", "N:1")


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
class Pairing:
    name: str
    left: Side
    right: Side
    normalize: KeyNormalization = KeyNormalization()
    cardinality: str = "1:1"
    #: the pairing's own tolerance for amount comparisons (a ruleset.Tolerance), or None
    tolerance: object | None = None

    def describe(self) -> str:
        return (
            f"{self.left.source}.{self.left.key_name} ↔ "
            f"{self.right.source}.{self.right.key_name} ({self.cardinality})"
        )

    @property
    def many_left(self) -> bool:
        return self.cardinality == "N:1"

    @property
    def many_right(self) -> bool:
        return self.cardinality == "1:N"


KEY = "__key"
TIMING = "__timing"  # an unmatched record whose counterpart is in a neighbouring period
#: an unmatched record whose counterpart is a quarantined record: where that was read
#: and its schema finding's rule
QUARANTINED = "__quarantined"
N = "__n"  # records in a matched group (1 unless the side is the "many" side)
#: columns every pairing carries whatever the rules read (and where a record was read:
#: ``record_ref``, or a file source's ``__row``, see SourceData.locate)
IDENTITY = ("invoice_id", "currency", "total_minor")
_MONEY = frozenset(c for c, t in INVOICE_SCHEMA.items() if t == pl.Int64())


def _carried(data: SourceData, side: Side, columns: frozenset[str]) -> list[str]:
    located = [] if data.locator is not None else ["record_ref"]
    names = data.invoices.collect_schema().names()
    if ROW in names:  # source order, and a file's rows
        located.append(ROW)
    wanted = (set(IDENTITY) | columns | set(side.columns)) - {"source", "record_ref"}
    # an amount finer than the minor unit: its exact twin, so that a difference that
    # only its rounding made is classified as such (compare.classify)
    exact = [EXACT + c for c in sorted(wanted & _MONEY) if EXACT + c in names]
    return sorted(wanted) + exact + located


@dataclass(frozen=True)
class _Keyed:
    records: pl.LazyFrame  # every record of the side, with its key column
    key: str  # the key column: KEY, or the invoice id itself (unique, never null)

    @property
    def unique(self) -> bool:
        return self.key != KEY


def _records(side: Side, data: SourceData) -> pl.LazyFrame:
    return data.invoices if side.filter is None else data.invoices.filter(side.filter)


def _ids_unchanged(side: Side, data: SourceData, norm: KeyNormalization) -> pl.LazyFrame | None:
    """When the side's key is the invoice id: a one-value plan, whether normalization
    leaves every id as it is (and none is empty); None for any other key."""
    if not side.is_invoice_id():
        return None
    norm = side.normalize or norm
    raw = pl.col("invoice_id")
    return _records(side, data).select(((norm.transform(raw) == raw) & (raw != "")).all())


def _keyed(
    side: Side, data: SourceData, norm: KeyNormalization, columns: list[str], ids_unchanged: bool
) -> _Keyed:
    frame = _records(side, data)
    if ids_unchanged:
        # Checked invoices are unique by invoice_id: when normalization leaves every
        # id as it is (one cheap pass, see _ids_unchanged), no count per key is needed
        # and the join reads the column itself (a normalized copy of millions of keys
        # costs more).
        return _Keyed(frame.select(columns), "invoice_id")
    return _Keyed(frame.select(*columns, side.key_of(norm).alias(KEY)), KEY)


def _aggregate(
    records: pl.LazyFrame,
    columns: list[str],
    ordered: bool = False,
    skip: frozenset[str] = frozenset(),
) -> pl.LazyFrame:
    """A "many" side's records as one row per key: money summed, the first record
    (in source order) for the rest, and ``__currencies`` (distinct codes: a group
    mixing currencies is ambiguous)."""
    if ROW in columns and not ordered:
        records = records.sort(ROW)  # source order: "first" is the first read
    aggs = [pl.len().cast(pl.UInt32).alias(N), pl.col("currency").n_unique().alias("__currencies")]
    # invoice_id: the group's first; findings list every member (PairData.member_ids),
    # which costs a string per failing group instead of one per group
    for c in columns:
        if c not in skip:
            if c in _MONEY:  # (Int64 would wrap; an exact twin's Decimal sum is checked)
                aggs.append(pl.col(c).cast(WIDE).sum())
            else:
                summed = c.removeprefix(EXACT) in _MONEY
                aggs.append(pl.col(c).sum() if summed else pl.col(c).first())
    # ``skip``: the raw key columns; the group is its (normalized) key, and taking the
    # first of millions of strings no rule reads is most of a grouping's cost
    return (
        records.group_by(KEY)
        .agg(aggs)
        .with_columns(pl.lit(None, pl.String).alias(c) for c in sorted(skip))
    )


def _taken(positions: pl.Series, size: int) -> pl.Series:
    """A mask of ``size`` rows, true at ``positions`` (the rows a pair took)."""
    mask = pl.repeat(False, size, dtype=pl.Boolean, eager=True)
    return mask.scatter(positions, True) if positions.len() else mask


def _in_neighbours(
    side: Side, data: SourceData, norm: KeyNormalization, keys: pl.Series
) -> pl.Series:
    """Whether each key is among ``data``'s records of the neighbouring periods."""
    found = pl.Series(TIMING, [False] * len(keys), pl.Boolean)
    if data.neighbours is None or keys.is_empty():
        return found
    frame = data.neighbours if side.filter is None else data.neighbours.filter(side.filter)
    there = frame.select(side.key_of(norm).alias(KEY)).drop_nulls().unique().collect()
    if there.is_empty():
        return found
    return keys.is_in(there.get_column(KEY).implode()).fill_null(False).alias(TIMING)


def _in_quarantine(
    side: Side, data: SourceData, norm: KeyNormalization, keys: pl.Series
) -> pl.Series:
    """For each key, the quarantined record of ``data`` that carries it (on the side's
    filter, where the record says enough to tell): ``"<where> (<schema rule>)"``, else
    null. Such a counterpart exists: the unmatched record is not missing."""
    none = pl.Series(QUARANTINED, [None] * len(keys), pl.String)
    found = data.quarantined
    if (
        found is None
        or found.is_empty()
        or keys.is_empty()
        or not set(side.columns) <= set(found.columns)
    ):
        return none
    frame = found.lazy()
    if side.filter is not None and set(side.filter.meta.root_names()) <= set(found.columns):
        frame = frame.filter(side.filter.fill_null(False))
    named = (
        frame.select(
            side.key_of(norm).alias(KEY),
            pl.concat_str([pl.col("__qref"), pl.lit(" ("), pl.col("__qrule"), pl.lit(")")]).alias(
                QUARANTINED
            ),
        )
        .drop_nulls(KEY)
        .unique(KEY, keep="first", maintain_order=True)
        .collect()
    )
    if named.is_empty():
        return none
    return (
        keys.alias(KEY)
        .to_frame()
        .join(named, on=KEY, how="left", maintain_order="left")
        .get_column(QUARANTINED)
    )


def match(
    pairing: Pairing, left: SourceData, right: SourceData, columns: frozenset[str] | None = None
) -> PairData:
    """Match once: matched / left only / right only / ambiguous, materialized once.

    ``columns`` are the canonical columns the pairwise rules read; only those
    (plus identity, location and key columns) are carried, which keeps the join
    narrow; ``None`` carries every canonical column. The source name is a literal
    added afterwards. Row order is not kept: findings are sorted on stable keys.
    """
    if columns is None:
        columns = frozenset(INVOICE_SCHEMA)
    l_cols = _carried(left, pairing.left, columns)
    r_cols = _carried(right, pairing.right, columns)
    checks = [
        _ids_unchanged(pairing.left, left, pairing.normalize),
        _ids_unchanged(pairing.right, right, pairing.normalize),
    ]
    answers = iter(pl.collect_all([c for c in checks if c is not None]))
    unchanged = [c is not None and bool(next(answers).item()) for c in checks]
    lk = _keyed(pairing.left, left, pairing.normalize, l_cols, unchanged[0])
    rk = _keyed(pairing.right, right, pairing.normalize, r_cols, unchanged[1])
    empty = pl.DataFrame(schema={KEY: pl.String})

    def keyed_records(k: _Keyed) -> pl.LazyFrame:
        """The side's records with a key, as KEY; a normalized key is computed once."""
        if k.unique:
            return k.records.with_columns(pl.col(k.key).alias(KEY))
        return k.records.filter(pl.col(KEY).is_not_null())

    # One pass per side that can break the cardinality: the "many" side grouped
    # (sums, and currencies per group), or a count of the keys that repeat.
    keyed = [lk, rk]
    many = [pairing.many_left, pairing.many_right]
    cols = [l_cols, r_cols]
    ordered = [False, False]
    # Keyed records materialized once (a normalized key is computed once and read by
    # several passes); then one pass per side that can break the cardinality.
    todo = [i for i in (0, 1) if not keyed[i].unique]
    for i, frame in zip(todo, pl.collect_all([keyed[i].records for i in todo]), strict=True):
        keyed[i] = _Keyed(frame.lazy(), KEY)
        if ROW in cols[i] and frame.get_column(ROW).is_sorted():
            ordered[i] = True  # already in source order: no sort before grouping
    plans: list[pl.LazyFrame] = []
    for i in (0, 1):
        if many[i]:
            side = pairing.left if i == 0 else pairing.right
            raw_key = frozenset(side.columns) - {"invoice_id", "currency"} - columns
            plans.append(_aggregate(keyed_records(keyed[i]), cols[i], ordered[i], raw_key))
        elif not keyed[i].unique:
            plans.append(
                keyed_records(keyed[i]).group_by(KEY).len(name=N).filter(pl.col(N) > 1).select(KEY)
            )
    done = iter(pl.collect_all(plans) if plans else [])
    groups: dict[int, pl.DataFrame] = {}
    surplus: list[pl.DataFrame] = []
    for i in (0, 1):
        if many[i]:
            groups[i] = next(done)
            surplus.append(groups[i].filter(pl.col("__currencies") > 1).select(KEY))
        elif not keyed[i].unique:
            surplus.append(next(done))
    lk, rk = keyed
    ambiguous_keys = pl.concat(surplus).unique() if surplus else empty
    lc, rc = keyed_records(lk), keyed_records(rk)

    def cleared(i: int, frame: pl.LazyFrame, cols: list[str]) -> pl.LazyFrame:
        """The side as the join reads it: ambiguous keys out, a many side grouped."""
        if i in groups:
            frame = groups[i].lazy()
        if not ambiguous_keys.is_empty():
            frame = frame.join(ambiguous_keys.lazy(), on=KEY, how="anti")
        if i in groups:
            return frame.select(*cols, KEY, N)
        return frame.select(*cols, *([] if keyed[i].unique else [KEY]))

    l_in = cleared(0, lc, l_cols)
    r_in = cleared(1, rc, r_cols)
    l_on = KEY if pairing.many_left or not lk.unique else lk.key
    r_on = (KEY if pairing.many_right or not rk.unique else rk.key) + RIGHT
    renamed = r_in.rename({c: c + RIGHT for c in r_in.collect_schema().names()})
    # Each side as the join reads it, materialized once: the inner join gives the
    # matched pairs and their rows, and a side's unmatched records are the rows no
    # pair took (a mask over integers; no full join to split, no anti-join over
    # millions of keys).
    plans = [l_in, renamed]
    # records without a key, and the records of ambiguous keys (usually none)
    if not lk.unique:
        plans.append(lk.records.filter(pl.col(KEY).is_null()))
    if not rk.unique:
        plans.append(rk.records.filter(pl.col(KEY).is_null()))
    if not ambiguous_keys.is_empty():
        plans += [
            lc.join(ambiguous_keys.lazy(), on=KEY, how="semi"),
            rc.join(ambiguous_keys.lazy(), on=KEY, how="semi"),
        ]
    l_df, r_df, *rest = pl.collect_all(plans)
    keyed_l, keyed_r = [*l_cols, KEY], [*r_cols, KEY]
    l_nokey = (
        rest.pop(0) if not lk.unique else pl.DataFrame(schema=lc.select(keyed_l).collect_schema())
    )
    r_nokey = (
        rest.pop(0) if not rk.unique else pl.DataFrame(schema=rc.select(keyed_r).collect_schema())
    )
    l_amb_rec = rest.pop(0) if rest else lc.select(*keyed_l).clear().collect()
    r_amb_rec = rest.pop(0) if rest else rc.select(*keyed_r).clear().collect()

    def with_key(frame: pl.LazyFrame, on: str, cols: list[str], suffix: str = "") -> pl.LazyFrame:
        """``cols`` and the key as KEY (the key column itself when it is unique)."""
        key = pl.col(on).alias(KEY) if on.removesuffix(suffix) != KEY else pl.col(on)
        return frame.select(*(pl.col(c + suffix).alias(c) for c in cols), key.alias(KEY))

    both, l_taken, r_taken = hashed.inner_join(l_df, r_df, l_on, r_on)
    # Split once (each rule then reads its part without filtering again); an
    # unmatched group of a "many" side is unmatched record by record.
    l_un = l_df.filter(~_taken(l_taken, l_df.height)).lazy()
    r_un = r_df.filter(~_taken(r_taken, r_df.height)).lazy()
    l_only, r_only = pl.collect_all(
        [
            pl.concat(
                [
                    l_nokey.lazy().select(keyed_l),
                    lc.join(l_un.select(pl.col(l_on).alias(KEY)), on=KEY, how="semi").select(
                        keyed_l
                    )
                    if pairing.many_left
                    else with_key(l_un, l_on, l_cols),
                ]
            ),
            pl.concat(
                [
                    r_nokey.lazy().select(keyed_r),
                    rc.join(r_un.select(pl.col(r_on).alias(KEY)), on=KEY, how="semi").select(
                        keyed_r
                    )
                    if pairing.many_right
                    else with_key(r_un, r_on, r_cols, RIGHT),
                ]
            ),
        ]
    )
    del l_df, r_df, l_un, r_un, l_taken, r_taken
    # A record without counterpart whose key the other side has in a neighbouring
    # period is explained by timing.
    # ... and one whose counterpart was read but quarantined is not missing either.
    l_keys, r_keys = l_only.get_column(KEY), r_only.get_column(KEY)
    l_only = l_only.with_columns(
        _in_neighbours(pairing.right, right, pairing.normalize, l_keys),
        _in_quarantine(pairing.right, right, pairing.normalize, l_keys),
    )
    r_only = r_only.with_columns(
        _in_neighbours(pairing.left, left, pairing.normalize, r_keys),
        _in_quarantine(pairing.left, left, pairing.normalize, r_keys),
    )
    l_name, r_name = pl.lit(left.name).alias("source"), pl.lit(right.name).alias("source")
    names = set(both.columns)
    one = pl.lit(1, pl.UInt32)
    matched = both.lazy().select(
        l_name,
        *l_cols,
        pl.col(l_on).alias(KEY),
        pl.col(N) if N in names else one.alias(N),
        pl.lit(right.name).alias("source" + RIGHT),
        *(c + RIGHT for c in r_cols),
        pl.col(N + RIGHT) if N + RIGHT in names else one.alias(N + RIGHT),
    )
    order_l = [ROW] if ROW in l_cols else []
    order_r = [ROW] if ROW in r_cols else []

    def amb_rows(frame: pl.DataFrame, is_left: bool) -> pl.LazyFrame:
        n = pl.col(N) if N in frame.columns else pl.lit(1, pl.UInt32).alias(N)
        return frame.lazy().select(
            pl.lit(is_left).alias("__left"), "invoice_id", "currency", "total_minor", KEY, n
        )

    amb = pl.concat([amb_rows(l_amb_rec, True), amb_rows(r_amb_rec, False)]).collect()
    counts = {
        "left_matched": int(both[N].sum()) if N in names else both.height,
        "right_matched": int(both[N + RIGHT].sum()) if N + RIGHT in names else both.height,
        "left_unmatched": l_only.height,
        "right_unmatched": r_only.height,
        "left_ambiguous": l_amb_rec.height,
        "right_ambiguous": r_amb_rec.height,
        "ambiguous_keys": ambiguous_keys.height,
    }
    return PairData(
        pairing.name,
        left,
        right,
        pairing.left.key_name,
        pairing.right.key_name,
        matched,
        l_only.lazy().select(l_name, *keyed_l, TIMING, QUARANTINED),
        r_only.lazy().select(r_name, *keyed_r, TIMING, QUARANTINED),
        pairing=pairing,
        # (views of the keyed records materialized above, not copies)
        members=(
            lc.select(KEY, *order_l, "invoice_id") if pairing.many_left else None,
            rc.select(KEY, *order_r, "invoice_id") if pairing.many_right else None,
        ),
        ambiguous=amb,
        counts=counts,
    )
