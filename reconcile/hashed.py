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

import polars as pl

HASH = "__hash"


def key_hash(key: pl.Expr) -> pl.Expr:
    """A 64-bit hash of a key (the one place it is computed; tests replace it with a
    deliberately colliding one)."""
    return key.hash(seed=0x5EC0)


def repeated_keys(frame: pl.DataFrame | pl.LazyFrame, key: str) -> pl.DataFrame:
    """The values of ``key`` that occur more than once (nulls aside), as one column.

    The hashes, sorted, name the candidates where a value equals its neighbour (true
    repeats, and keys that merely share a hash; sorting 64-bit integers costs less
    than counting them in a hash table); only the candidates' records are then
    counted by their strings.
    """
    h = key_hash(pl.col(key))
    hashes = frame.lazy().select(h.alias(HASH)).collect().get_column(HASH).sort()
    candidates = hashes.filter(hashes == hashes.shift(1)).unique()
    if candidates.is_empty():
        return pl.DataFrame(schema={key: frame.lazy().collect_schema()[key]})
    return (frame.lazy().filter(h.is_in(candidates.implode()) & pl.col(key).is_not_null())
            .group_by(key).len().filter(pl.col("len") > 1).select(key).collect())


def with_keys(frame: pl.DataFrame | pl.LazyFrame, key: str, keys: pl.Series) -> pl.DataFrame:
    """The rows of ``frame`` whose ``key`` is among ``keys``: narrowed by hash over all
    rows, then by the strings over the few left."""
    hashes = keys.to_frame(key).select(key_hash(pl.col(key))).to_series()
    near = frame.lazy().filter(key_hash(pl.col(key)).is_in(hashes.implode())).collect()
    return near.filter(pl.col(key).is_in(keys.implode()))


def inner_join(left: pl.LazyFrame, right: pl.LazyFrame, l_on: str, r_on: str, *,
               hashed: bool = True) -> pl.LazyFrame:
    """An inner join of two frames each unique by its key, and the keys never null
    (null hashes alike, so two null keys would pair; a string join would not pair
    them).

    ``hashed``: joined on the keys' hashes. Equal keys have equal hashes, so every
    true pair is found; a collision can only add a pair of different keys, which
    :func:`false_pairs` detects, and the caller then joins the strings
    (``hashed=False``).
    """
    if not hashed:
        return left.join(right, left_on=l_on, right_on=r_on, how="inner", coalesce=False)
    r_hash = HASH + "_right"
    return (left.with_columns(key_hash(pl.col(l_on)).alias(HASH))
            .join(right.with_columns(key_hash(pl.col(r_on)).alias(r_hash)),
                  left_on=HASH, right_on=r_hash, how="inner", coalesce=False)
            .drop(HASH, r_hash))


def false_pairs(joined: pl.DataFrame, l_on: str, r_on: str) -> bool:
    """Whether a row of an :func:`inner_join` pairs two different keys (a collision)."""
    return bool((joined.get_column(l_on) != joined.get_column(r_on)).any())


__all__ = ["false_pairs", "inner_join", "key_hash", "repeated_keys", "with_keys"]
