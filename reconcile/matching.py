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
took), and a group-by on the "many" side. The sides' keys (``Side``,
``KeyNormalization``) and keyed records are defined in ``reconcile.matching_keys``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import polars as pl

from reconcile import hashed
from reconcile.matching_keys import KEY, Keyed, KeyNormalization, Side, ids_unchanged, keyed
from reconcile.precision import EXACT
from reconcile.rule_types._common import RIGHT, PairData, SourceData
from reconcile.schema import INVOICE_SCHEMA, ROW, WIDE

CARDINALITIES = ("1:1", "1:N", "N:1")


@dataclass(frozen=True)
class Pairing:
    name: str
    left: Side
    right: Side
    #: (KeyNormalization is frozen: one default instance shared is safe)
    normalize: KeyNormalization = KeyNormalization()  # noqa: RUF009
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


@dataclass(frozen=True)
class _Half:
    """One side of a pairing being matched: its source, the columns carried, and its
    records keyed (a normalized key materialized once)."""

    side: Side
    data: SourceData
    cols: list[str]  # the columns carried (see _carried)
    many: bool  # the cardinality's "many" side: grouped by key, compared by its sums
    keyed: Keyed
    ordered: bool  # the keyed records are in source order: no sort before grouping
    suffix: str  # its columns' suffix in the joined frame ("" or RIGHT)

    @property
    def unique(self) -> bool:
        return self.keyed.unique

    @cached_property
    def with_key(self) -> pl.LazyFrame:
        """The records with a key, as KEY (one plan, read by every pass of match)."""
        return self.keyed.keyed_records()

    @property
    def keyed_cols(self) -> list[str]:
        return [*self.cols, KEY]

    @property
    def on(self) -> str:
        """The column the join reads the key from (suffixed as in the joined frame)."""
        return (KEY if self.many or not self.unique else self.keyed.key) + self.suffix


def _keyed_sides(
    pairing: Pairing, left: SourceData, right: SourceData, columns: frozenset[str]
) -> tuple[_Half, _Half]:
    """Both sides keyed: one collect answers whether each invoice-id key can be read
    as it is (ids_unchanged), a second materializes the normalized keys."""
    norm = pairing.normalize
    l_cols = _carried(left, pairing.left, columns)
    r_cols = _carried(right, pairing.right, columns)
    checks = [ids_unchanged(pairing.left, left, norm), ids_unchanged(pairing.right, right, norm)]
    answers = iter(pl.collect_all([c for c in checks if c is not None]))
    unchanged = [c is not None and bool(next(answers).item()) for c in checks]
    sides = [
        keyed(pairing.left, left, norm, l_cols, unchanged[0]),
        keyed(pairing.right, right, norm, r_cols, unchanged[1]),
    ]
    cols = [l_cols, r_cols]
    ordered = [False, False]
    # Keyed records materialized once (a normalized key is computed once and read by
    # several passes: the group or count per key, the join inputs, the unmatched).
    todo = [i for i in (0, 1) if not sides[i].unique]
    for i, frame in zip(todo, pl.collect_all([sides[i].records for i in todo]), strict=True):
        sides[i] = Keyed(frame.lazy(), KEY)
        if ROW in cols[i] and frame.get_column(ROW).is_sorted():
            ordered[i] = True  # already in source order: no sort before grouping
    return (
        _Half(pairing.left, left, l_cols, pairing.many_left, sides[0], ordered[0], ""),
        _Half(pairing.right, right, r_cols, pairing.many_right, sides[1], ordered[1], RIGHT),
    )


_Groups = tuple[pl.DataFrame | None, pl.DataFrame | None]


def _groups_and_ambiguous(
    halves: tuple[_Half, _Half], columns: frozenset[str]
) -> tuple[_Groups, pl.DataFrame]:
    """A "many" side's records grouped by key, and the keys that break the
    cardinality (as KEY), in one collect."""
    # One pass per side that can break the cardinality: the "many" side grouped
    # (sums, and currencies per group), or a count of the keys that repeat.
    plans: list[pl.LazyFrame] = []
    for h in halves:
        if h.many:
            raw_key = frozenset(h.side.columns) - {"invoice_id", "currency"} - columns
            plans.append(_aggregate(h.with_key, h.cols, h.ordered, raw_key))
        elif not h.unique:
            plans.append(h.with_key.group_by(KEY).len(name=N).filter(pl.col(N) > 1).select(KEY))
    done = iter(pl.collect_all(plans) if plans else [])
    groups: list[pl.DataFrame | None] = [None, None]
    surplus: list[pl.DataFrame] = []
    for i, h in enumerate(halves):
        if h.many:
            group = groups[i] = next(done)
            surplus.append(group.filter(pl.col("__currencies") > 1).select(KEY))
        elif not h.unique:
            surplus.append(next(done))
    empty = pl.DataFrame(schema={KEY: pl.String})
    return (groups[0], groups[1]), pl.concat(surplus).unique() if surplus else empty


def _cleared(h: _Half, group: pl.DataFrame | None, ambiguous_keys: pl.DataFrame) -> pl.LazyFrame:
    """The side as the join reads it: ambiguous keys out, a many side grouped."""
    frame = h.with_key if group is None else group.lazy()
    if not ambiguous_keys.is_empty():
        frame = frame.join(ambiguous_keys.lazy(), on=KEY, how="anti")
    if group is not None:
        return frame.select(*h.cols, KEY, N)
    return frame.select(*h.cols, *([] if h.unique else [KEY]))


_Frames = tuple[pl.DataFrame, pl.DataFrame]


def _join_inputs(
    halves: tuple[_Half, _Half], groups: _Groups, ambiguous_keys: pl.DataFrame
) -> tuple[_Frames, _Frames, _Frames]:
    """In one collect: each side as the join reads it (the right side's columns
    suffixed), each side's records without a key, and the records of ambiguous keys."""
    lh, rh = halves
    l_in = _cleared(lh, groups[0], ambiguous_keys)
    r_in = _cleared(rh, groups[1], ambiguous_keys)
    renamed = r_in.rename({c: c + RIGHT for c in r_in.collect_schema().names()})
    # Each side as the join reads it, materialized once: the inner join gives the
    # matched pairs and their rows, and a side's unmatched records are the rows no
    # pair took (a mask over integers; no full join to split, no anti-join over
    # millions of keys).
    plans = [l_in, renamed]
    # records without a key, and the records of ambiguous keys (usually none)
    if not lh.unique:
        plans.append(lh.keyed.records.filter(pl.col(KEY).is_null()))
    if not rh.unique:
        plans.append(rh.keyed.records.filter(pl.col(KEY).is_null()))
    if not ambiguous_keys.is_empty():
        plans += [
            lh.with_key.join(ambiguous_keys.lazy(), on=KEY, how="semi"),
            rh.with_key.join(ambiguous_keys.lazy(), on=KEY, how="semi"),
        ]
    l_df, r_df, *rest = pl.collect_all(plans)
    l_nokey = rest.pop(0) if not lh.unique else _no_rows(lh)
    r_nokey = rest.pop(0) if not rh.unique else _no_rows(rh)
    l_amb_rec = rest.pop(0) if rest else lh.with_key.select(*lh.keyed_cols).clear().collect()
    r_amb_rec = rest.pop(0) if rest else rh.with_key.select(*rh.keyed_cols).clear().collect()
    return (l_df, r_df), (l_nokey, r_nokey), (l_amb_rec, r_amb_rec)


def _no_rows(h: _Half) -> pl.DataFrame:
    """No records, with the columns of the side's keyed records (and KEY)."""
    return pl.DataFrame(schema=h.with_key.select(h.keyed_cols).collect_schema())


def _with_key(frame: pl.LazyFrame, on: str, cols: list[str], suffix: str = "") -> pl.LazyFrame:
    """``cols`` and the key as KEY (the key column itself when it is unique)."""
    key = pl.col(on).alias(KEY) if on.removesuffix(suffix) != KEY else pl.col(on)
    return frame.select(*(pl.col(c + suffix).alias(c) for c in cols), key.alias(KEY))


def _unmatched(h: _Half, rest: pl.LazyFrame, nokey: pl.DataFrame) -> pl.LazyFrame:
    """The side's unmatched records with their key: those without one, then ``rest``
    (the rows of its join input no pair took; a "many" side's groups as their records)."""
    if h.many:
        named = rest.select(pl.col(h.on).alias(KEY))
        rest = h.with_key.join(named, on=KEY, how="semi").select(h.keyed_cols)
    else:
        rest = _with_key(rest, h.on, h.cols, h.suffix)
    return pl.concat([nokey.lazy().select(h.keyed_cols), rest])


def _paired(
    halves: tuple[_Half, _Half], frames: _Frames, nokey: _Frames
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The matched pairs (the hashed inner join) and each side's unmatched records."""
    (lh, rh), (l_df, r_df) = halves, frames
    both, l_taken, r_taken = hashed.inner_join(l_df, r_df, lh.on, rh.on)
    # Split once (each rule then reads its part without filtering again); an
    # unmatched group of a "many" side is unmatched record by record.
    l_un = l_df.filter(~_taken(l_taken, l_df.height)).lazy()
    r_un = r_df.filter(~_taken(r_taken, r_df.height)).lazy()
    l_only, r_only = pl.collect_all(
        [_unmatched(lh, l_un, nokey[0]), _unmatched(rh, r_un, nokey[1])]
    )
    return both, l_only, r_only


def _annotated(only: pl.DataFrame, other: _Half, norm: KeyNormalization) -> pl.DataFrame:
    """A side's unmatched records with TIMING and QUARANTINED: whether the ``other``
    side has the key in a neighbouring period, or in a quarantined record."""
    keys = only.get_column(KEY)
    return only.with_columns(
        _in_neighbours(other.side, other.data, norm, keys),
        _in_quarantine(other.side, other.data, norm, keys),
    )


def _matched(both: pl.DataFrame, lh: _Half, rh: _Half) -> pl.LazyFrame:
    """The pairs as PairData.matched: the sources, the columns carried, the key, and
    each side's records in the pair (N, 1 unless the side was grouped)."""
    names = set(both.columns)
    one = pl.lit(1, pl.UInt32)
    return both.lazy().select(
        pl.lit(lh.data.name).alias("source"),
        *lh.cols,
        pl.col(lh.on).alias(KEY),
        pl.col(N) if N in names else one.alias(N),
        pl.lit(rh.data.name).alias("source" + RIGHT),
        *(c + RIGHT for c in rh.cols),
        pl.col(N + RIGHT) if N + RIGHT in names else one.alias(N + RIGHT),
    )


def _ambiguous_rows(frame: pl.DataFrame, is_left: bool) -> pl.LazyFrame:
    n = pl.col(N) if N in frame.columns else pl.lit(1, pl.UInt32).alias(N)
    return frame.lazy().select(
        pl.lit(is_left).alias("__left"), "invoice_id", "currency", "total_minor", KEY, n
    )


def _members(h: _Half) -> pl.LazyFrame | None:
    """A "many" side's records by key (ids listed by findings); None for a "one" side."""
    if not h.many:
        return None
    # (a view of the keyed records materialized above, not a copy)
    return h.with_key.select(KEY, *([ROW] if ROW in h.cols else []), "invoice_id")


def _pair_data(
    pairing: Pairing,
    halves: tuple[_Half, _Half],
    both: pl.DataFrame,
    only: _Frames,
    ambiguous: _Frames,
    ambiguous_keys: pl.DataFrame,
) -> PairData:
    """The pairing after matching: matched pairs, each side's unmatched records, the
    records of ambiguous keys, and the records per outcome."""
    (lh, rh), (l_only, r_only), (l_amb_rec, r_amb_rec) = halves, only, ambiguous
    l_name, r_name = pl.lit(lh.data.name).alias("source"), pl.lit(rh.data.name).alias("source")
    matched = _matched(both, lh, rh)
    amb = pl.concat([_ambiguous_rows(l_amb_rec, True), _ambiguous_rows(r_amb_rec, False)]).collect()
    names = set(both.columns)
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
        lh.data,
        rh.data,
        pairing.left.key_name,
        pairing.right.key_name,
        matched,
        l_only.lazy().select(l_name, *lh.keyed_cols, TIMING, QUARANTINED),
        r_only.lazy().select(r_name, *rh.keyed_cols, TIMING, QUARANTINED),
        pairing=pairing,
        members=(_members(lh), _members(rh)),
        ambiguous=amb,
        counts=counts,
    )


def match(
    pairing: Pairing, left: SourceData, right: SourceData, columns: frozenset[str] | None = None
) -> PairData:
    """Match once: matched / left only / right only / ambiguous, materialized once.

    ``columns`` are the canonical columns the pairwise rules read; only those
    (plus identity, location and key columns) are carried, which keeps the join
    narrow; ``None`` carries every canonical column. The source name is a literal
    added afterwards. Row order is not kept: findings are sorted on stable keys.

    The plan is hand-tuned (see bench/README.md): one ``collect_all`` over both sides
    per step (whether invoice-id keys are unchanged; the normalized keys; a "many"
    side's groups and the repeated keys, when either is wanted; the join inputs; the
    unmatched records), the hashed inner join, and the lookups of unmatched keys.
    """
    if columns is None:
        columns = frozenset(INVOICE_SCHEMA)
    halves = _keyed_sides(pairing, left, right, columns)
    groups, ambiguous_keys = _groups_and_ambiguous(halves, columns)
    frames, nokey, ambiguous = _join_inputs(halves, groups, ambiguous_keys)
    both, l_only, r_only = _paired(halves, frames, nokey)
    del frames  # (the join inputs: not read again, freed before the lookups below)
    # A record without counterpart whose key the other side has in a neighbouring
    # period is explained by timing.
    # ... and one whose counterpart was read but quarantined is not missing either.
    l_only = _annotated(l_only, halves[1], pairing.normalize)
    r_only = _annotated(r_only, halves[0], pairing.normalize)
    return _pair_data(pairing, halves, both, (l_only, r_only), ambiguous, ambiguous_keys)


__all__ = ["CARDINALITIES", "KeyNormalization", "Pairing", "Side", "match"]
