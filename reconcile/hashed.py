"""Exact work on millions of string keys through 64-bit hashes.

Hashing and comparing a string is what a join, a count per key or a semi-join
on invoice ids spends its time on; the same step on a 64-bit hash of the key
runs two to three times faster. Equal strings always have equal hashes, so a
hash can only *over*-report: two different keys that share a hash (a collision)
look like one key. Every function here checks its result on the strings
themselves, so the answer is exact whatever the hash does; the hashes are used
within one run only and never stored (Polars' hash may change between versions).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import polars as pl

HASH = "__hash"


def key_hash(key: pl.Expr) -> pl.Expr:
    """A 64-bit hash of a key (the one place it is computed; tests replace it with a
    deliberately colliding one)."""
    return key.hash(seed=0x5EC0)


def repeated_rows(frame: pl.DataFrame | pl.LazyFrame, key: str) -> pl.DataFrame:
    """The rows of ``frame`` whose ``key`` occurs more than once (nulls aside).

    The keys are hashed once; the hashes, sorted, name the candidates where a value
    equals its neighbour (true repeats, and keys that merely share a hash; sorting
    64-bit integers costs less than counting them in a hash table); only the
    candidates' rows are then counted by their strings.
    """
    frame = frame.lazy().collect()  # (a DataFrame as it is)
    hashes = frame.lazy().select(key_hash(pl.col(key)).alias(HASH)).collect().to_series()
    ordered = hashes.sort()
    candidates = ordered.filter(ordered == ordered.shift(1)).unique()
    if candidates.is_empty():  # (the usual case: every key once)
        return frame.clear()
    near = (
        frame.with_columns(hashes)
        .lazy()  # (columns shared, not copied)
        .filter(pl.col(HASH).is_in(candidates.implode()) & pl.col(key).is_not_null())
        .drop(HASH)
    )
    return near.filter(pl.col(key).is_duplicated()).collect()


def with_keys(frame: pl.DataFrame | pl.LazyFrame, key: str, keys: pl.Series) -> pl.DataFrame:
    """The rows of ``frame`` whose ``key`` is among ``keys``: narrowed by hash over all
    rows, then by the strings over the few left."""
    hashes = keys.to_frame(key).select(key_hash(pl.col(key))).to_series()
    near = frame.lazy().filter(key_hash(pl.col(key)).is_in(hashes.implode())).collect()
    return near.filter(pl.col(key).is_in(keys.implode()))


def _gathered(parts: list[tuple[pl.DataFrame, pl.Series]]) -> pl.DataFrame:
    """Each frame's rows at its positions, the frames side by side.

    Column by column on two threads, each column made one chunk first: a frame
    collected by the streaming engine comes in dozens of chunks, and a gather over
    those looks up the chunk of every position (about ten times slower at 5M rows).
    """
    columns = [(column, at) for frame, at in parts for column in frame.iter_columns()]
    with ThreadPoolExecutor(max_workers=2) as pool:  # (Polars releases the GIL)
        return pl.DataFrame(pool.map(lambda c: c[0].rechunk().gather(c[1]), columns))


def inner_join(
    left: pl.DataFrame, right: pl.DataFrame, l_on: str, r_on: str
) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """The inner join of two frames each unique by its key, keys never null: every
    column of both (no two alike by name), one row per pair, in no particular order;
    and each pair's row in ``left`` and in ``right``.

    Joined on narrow frames of (hash, row number), the pairs then gathered from each
    side: a join that carries every column (strings among them) through its hash
    table costs about three times as much. Equal keys have equal hashes, so every
    true pair is found; a collision could only add a pair of two different keys, so
    the pairs' keys are compared, and on any difference the pairs are found again by
    the strings themselves. (Null hashes alike, so two null keys would pair.)
    """

    def pairs(key: Callable[[str], pl.Expr]) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
        l_row, r_row = "__l_row", "__r_row"
        rows = (
            left.lazy()
            .select(key(l_on).alias(HASH))
            .with_row_index(l_row)
            .join(
                right.lazy().select(key(r_on).alias(HASH)).with_row_index(r_row),
                on=HASH,
                how="inner",
            )
            .select(l_row, r_row)
            .collect()
        )
        at_l, at_r = rows.get_column(l_row), rows.get_column(r_row)
        return _gathered([(left, at_l), (right, at_r)]), at_l, at_r

    joined = pairs(lambda on: key_hash(pl.col(on)))
    if joined[0].lazy().select((pl.col(l_on) != pl.col(r_on)).any()).collect().item():
        joined = pairs(pl.col)  # two different keys shared a hash: pair by the strings
    return joined


__all__ = ["inner_join", "key_hash", "repeated_rows", "with_keys"]
