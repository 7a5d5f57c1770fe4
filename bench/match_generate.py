"""Seeded matching workload: N invoices per side, paired 1:1 and 1:N.

    python bench/match_generate.py --n 1000000 --seed 42 --out bench/data/match_n1000000

Writes zstd Parquet files and the exact injected discrepancies:

* ``a.parquet``: invoice_id (``A…``, unique), invoice_number (``INV…``, the pairing
  key), currency (USD/EUR/GBP/JPY), total_minor (Int64); N + N/100 rows.
* ``b_1to1.parquet``: invoice_id (``B…``, unique), external_ref (= A's
  invoice_number), currency, total_minor; about N rows, one per A key.
* ``b_1toN.parquet``: the same columns; each A invoice split into 1–4 records whose
  total_minor sum exactly to A's total (about 2.5 N rows).
* ``expected.json``: ``{"workloads": {"1:1" | "1:N": {"kinds": {kind: [key, ...]},
  "counts": {...}}}}``: the keys of each injected kind and the records per side
  that must end up matched / unmatched / ambiguous.

Kinds, on 1% of N keys each, pairwise disjoint (both workloads share A and the
key sets):

============== ================================================================
amount         B's total (1:N: the sum of its records) differs by ±1–9,999
currency       B's currency (every record of the key) differs from A's
missing_in_b   the key is in A only
extra_in_b     the key is in B only (1:N: 1–4 records)
ambiguous_a    the key occurs twice in A (a second invoice, its own invoice_id)
ambiguous_b    1:1: the key occurs twice in B; 1:N: its 2–4 B records mix
               currencies
============== ================================================================

The key is ``invoice_number``, not ``invoice_id``, on A: the engine sets a repeated
``invoice_id`` aside before matching, so a repeated *key* has to live in another
column to reach the matcher. Randomness is Polars' seeded ``hash`` of row numbers
(no numpy); files are reproducible for a seed and a Polars version. Rows are
shuffled, A and each B in their own order.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import polars as pl

CURRENCIES = ["USD", "EUR", "GBP", "JPY"]
#: kinds injected on A keys (positions in a seeded permutation of 0..N-1);
#: extra_in_b keys are new keys N..N+N/100-1
BASE_KINDS = ["amount", "currency", "missing_in_b", "ambiguous_a", "ambiguous_b"]
KINDS = [*BASE_KINDS[:3], "extra_in_b", *BASE_KINDS[3:]]
WORKLOADS = {"1:1": "b_1to1.parquet", "1:N": "b_1toN.parquet"}


def rnd(expr: pl.Expr, seed: int, lo: int, hi: int) -> pl.Expr:
    """A pseudo-random Int64 in [lo, hi) derived from ``expr`` (an integer column)."""
    return (expr.hash(seed) % (hi - lo)).cast(pl.Int64) + lo


def rnd_sign(expr: pl.Expr, seed: int) -> pl.Expr:
    return pl.when(rnd(expr, seed, 0, 2) == 0).then(-1).otherwise(1)


def ident(prefix: str, i: pl.Expr, suffix: str = "") -> pl.Expr:
    return pl.concat_str([pl.lit(prefix), i.cast(pl.String).str.zfill(10), pl.lit(suffix)])


def cur_name(code: pl.Expr) -> pl.Expr:
    return code.replace_strict([0, 1, 2, 3], CURRENCIES, return_dtype=pl.String)


def generate(n: int, seed: int, out: Path) -> dict:
    if n % 100 or n < 100:
        raise SystemExit("--n must be a positive multiple of 100")
    k = n // 100
    s = seed * 1000
    out.mkdir(parents=True, exist_ok=True)
    i = pl.col("i")

    perm = pl.int_range(0, n, eager=True, dtype=pl.Int64).shuffle(seed=seed)
    kind_of = (
        pl.DataFrame({"i": perm, "pos": pl.int_range(0, n, eager=True, dtype=pl.Int64)})
        .sort("i")
        .select(
            pl.when(pl.col("pos") < len(BASE_KINDS) * k)
            .then(pl.col("pos") // k)
            .otherwise(-1)
            .cast(pl.Int8)
            .alias("kind")
        )
    )
    code = {name: j for j, name in enumerate(BASE_KINDS)} | {"extra_in_b": -2}
    kind = pl.col("kind")

    # Keys 0..N-1 (in A) and N..N+k-1 (extra keys, B only).
    keys = pl.concat(
        [
            pl.DataFrame({"i": pl.int_range(0, n, eager=True, dtype=pl.Int64)}).hstack(kind_of),
            pl.DataFrame({"i": pl.int_range(n, n + k, eager=True, dtype=pl.Int64)}).with_columns(
                pl.lit(code["extra_in_b"], pl.Int8).alias("kind")
            ),
        ]
    ).with_columns(
        ident("INV", i).alias("key"),
        rnd(i, s + 1, 0, 4).alias("cur"),
        rnd(i, s + 2, 100, 2_000_000).alias("total_minor"),
        rnd(i, s + 3, 1, 5).alias("parts"),  # B records per key in 1:N
    )

    # A: every key but the extra ones; a second, different invoice for ambiguous_a.
    a_keys = keys.filter(kind != code["extra_in_b"])
    a = (
        pl.concat(
            [
                a_keys.select(
                    ident("A", i).alias("invoice_id"),
                    "key",
                    "cur",
                    "total_minor",
                    i.hash(s + 4).alias("order"),
                ),
                a_keys.filter(kind == code["ambiguous_a"]).select(
                    ident("A", i, "-2").alias("invoice_id"),
                    "key",
                    "cur",
                    (pl.col("total_minor") + rnd(i, s + 5, 1, 1000)).alias("total_minor"),
                    i.hash(s + 6).alias("order"),
                ),
            ]
        )
        .sort("order")
        .select(
            "invoice_id",
            pl.col("key").alias("invoice_number"),
            cur_name(pl.col("cur")).alias("currency"),
            "total_minor",
        )
    )
    a.write_parquet(out / "a.parquet", compression="zstd")
    a_rows = a.height
    del a

    # B records per key, before the per-workload splitting: every key but missing_in_b;
    # the currency moved on `currency` keys, the total moved on `amount` keys.
    b_keys = keys.filter(kind != code["missing_in_b"]).with_columns(
        pl.when(kind == code["currency"])
        .then((pl.col("cur") + rnd(i, s + 7, 1, 4)) % 4)
        .otherwise(pl.col("cur"))
        .alias("cur_b"),
        pl.when(kind == code["amount"])
        .then(rnd_sign(i, s + 8) * rnd(i, s + 9, 1, 10_000))
        .otherwise(0)
        .alias("delta"),
    )

    def write_b(frame: pl.DataFrame, name: str, seed_order: int) -> pl.DataFrame:
        """Shuffle, number (invoice_id B…), write; return (key, records) per key."""
        frame = (
            frame.with_columns(pl.col("order").hash(seed_order).alias("order"))
            .sort("order")
            .with_row_index("r")
            .select(
                ident("B", pl.col("r")).alias("invoice_id"),
                pl.col("key").alias("external_ref"),
                cur_name(pl.col("cur_b")).alias("currency"),
                "total_minor",
            )
        )
        frame.write_parquet(out / name, compression="zstd")
        return frame.group_by("external_ref").len("records")

    # 1:1: one record per key; ambiguous_b keys get a second, different record.
    one = pl.concat(
        [
            b_keys.select(
                "key",
                "cur_b",
                (pl.col("total_minor") + pl.col("delta")).alias("total_minor"),
                (i * 2).alias("order"),
            ),
            b_keys.filter(kind == code["ambiguous_b"]).select(
                "key",
                "cur_b",
                (pl.col("total_minor") + rnd(i, s + 10, 1, 1000)).alias("total_minor"),
                (i * 2 + 1).alias("order"),
            ),
        ]
    )
    per_key = {"1:1": write_b(one, WORKLOADS["1:1"], s + 11)}
    b_rows = {"1:1": one.height}
    del one

    # 1:N: split each total into `parts` records (weights 1–1000, exact integer split:
    # part j = ⌊T·W_j/W⌋ − ⌊T·W_{j−1}/W⌋ with W_j the running weight sum); the amount
    # change goes on the first record; ambiguous_b keys get ≥ 2 records and their
    # second record another currency.
    amb_b = kind == code["ambiguous_b"]
    many = (
        b_keys.with_columns(
            pl.when(amb_b)
            .then(pl.max_horizontal(pl.col("parts"), 2))
            .otherwise(pl.col("parts"))
            .alias("parts")
        )
        .with_columns(pl.int_ranges(0, pl.col("parts")).alias("j"))
        .explode("j")
        .with_columns(rnd(i * 8 + pl.col("j"), s + 12, 1, 1001).alias("w"))
    )
    many = many.with_columns(
        pl.col("w").cum_sum().over("i").alias("cw"), pl.col("w").sum().over("i").alias("W")
    )
    tot = pl.col("total_minor")
    many = many.select(
        "key",
        pl.when(amb_b & (pl.col("j") == 1))
        .then((pl.col("cur_b") + rnd(i, s + 13, 1, 4)) % 4)
        .otherwise(pl.col("cur_b"))
        .alias("cur_b"),
        (
            tot * pl.col("cw") // pl.col("W")
            - tot * (pl.col("cw") - pl.col("w")) // pl.col("W")
            + pl.when(pl.col("j") == 0).then(pl.col("delta")).otherwise(0)
        ).alias("total_minor"),
        (i * 8 + pl.col("j")).alias("order"),
    )
    per_key["1:N"] = write_b(many, WORKLOADS["1:N"], s + 14)
    b_rows["1:N"] = many.height
    del many

    names = {name: keys.filter(kind == c)["key"].sort().to_list() for name, c in code.items()}
    workloads = {}
    for card, recs in per_key.items():
        recs = recs.rename({"external_ref": "key"}).join(keys.select("key", "kind"), on="key")

        def b_records(*kinds: str, recs: pl.DataFrame = recs) -> int:
            return int(recs.filter(pl.col("kind").is_in([code[x] for x in kinds]))["records"].sum())

        # Every record of each side is matched, unmatched or ambiguous (both sides of
        # an ambiguous key are).
        counts = {
            "left_records": a_rows,
            "right_records": b_rows[card],
            "left_ambiguous": 2 * k + k,
            "right_ambiguous": b_records("ambiguous_a", "ambiguous_b"),
            "left_unmatched": k,
            "right_unmatched": b_records("extra_in_b"),
            "ambiguous_keys": 2 * k,
        }
        counts["left_matched"] = a_rows - counts["left_ambiguous"] - k
        counts["right_matched"] = (
            b_rows[card] - counts["right_ambiguous"] - counts["right_unmatched"]
        )
        workloads[card] = {
            "file": WORKLOADS[card],
            "kinds": {x: names[x] for x in KINDS},
            "counts": counts,
        }
    expected = {
        "n": n,
        "seed": seed,
        "polars": pl.__version__,
        "rows": {"a": a_rows} | b_rows,
        "workloads": workloads,
    }
    (out / "expected.json").write_text(json.dumps(expected) + "\n", encoding="utf-8")
    return expected["rows"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="invoices per side (multiple of 100)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--out", type=Path, default=None, help="output directory (default bench/data/match_n<N>)"
    )
    args = ap.parse_args()
    out = args.out or Path(__file__).resolve().parent / "data" / f"match_n{args.n}"
    t0 = time.perf_counter()
    rows = generate(args.n, args.seed, out)
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s: rows {rows}")


if __name__ == "__main__":
    main()
