"""Seeded benchmark data for the reconcile engine (see shared/reference/performance.md).

    python bench/generate.py --n 1000000 --seed 42 --out bench/data/n1000000

Writes zstd Parquet files and the exact injected discrepancies:

* ``a_invoices.parquet``: invoice_id, customer_id, currency (USD/EUR/GBP/JPY),
  subtotal_minor, discount_minor, credit_minor, tax_minor, total_minor (Int64);
  1.01 N rows (N invoices + 1% repeated ids).
* ``a_lines.parquet``: invoice_id, amount_minor (Int64); 1–9 lines per invoice
  (about 5 N rows), contiguous per invoice, in the order of ``a_invoices``.
* ``b_invoices.parquet``: invoice_id, currency, total_minor; 1.01 N rows.
* ``expected.json``: ``{"kinds": {kind: [invoice_id, ...]}}``, the ids of the
  eight injected kinds (1% of N each, pairwise disjoint):

  ============== ==========================================================
  identity       A total_minor off by ±1–5 minor units (B agrees with A)
  lines          A line items do not sum to subtotal_minor (one line +1–999)
  total          B total_minor differs from A (±1–9,999)
  currency       B currency differs from A
  missing_in_b   the invoice is in A only
  missing_in_a   the invoice is in B only (an extra B invoice)
  duplicate_a    the id occurs twice in A
  duplicate_b    the id occurs twice in B
  ============== ==========================================================

  A repeated row always comes *after* the first occurrence in the file and
  carries different amounts (its own subtotal and total, +1–999), so a tool
  that keeps the wrong occurrence reports extra lines/total findings. Kept
  first occurrences are otherwise clean: each injected id has exactly one kind.

Randomness is Polars' seeded ``hash`` of row numbers (no numpy); the files are
reproducible for a given seed and Polars version. Rows are shuffled (A and B in
different orders) so joins see realistic, unsorted keys.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import polars as pl

CURRENCIES = ["USD", "EUR", "GBP", "JPY"]
KINDS = [
    "identity",
    "lines",
    "total",
    "currency",
    "missing_in_b",
    "missing_in_a",
    "duplicate_a",
    "duplicate_b",
]
# kinds injected on base invoices (positions in the shuffled base); missing_in_a is
# an extra invoice that only B has.
BASE_KINDS = [
    "identity",
    "lines",
    "total",
    "currency",
    "missing_in_b",
    "duplicate_a",
    "duplicate_b",
]
U64_MAX = 2**64 - 1


def rnd(expr: pl.Expr, seed: int, lo: int, hi: int) -> pl.Expr:
    """A pseudo-random Int64 in [lo, hi) derived from ``expr`` (an integer column)."""
    return (expr.hash(seed) % (hi - lo)).cast(pl.Int64) + lo


def rnd_sign(expr: pl.Expr, seed: int) -> pl.Expr:
    return pl.when(rnd(expr, seed, 0, 2) == 0).then(-1).otherwise(1)


def invoice_id(i: pl.Expr) -> pl.Expr:
    return pl.format("INV{}", i.cast(pl.String).str.zfill(10))


def generate(n: int, seed: int, out: Path) -> dict[str, int]:
    if n % 100 or n < 100:
        raise SystemExit("--n must be a positive multiple of 100")
    k = n // 100
    s = seed * 1000
    out.mkdir(parents=True, exist_ok=True)

    # Disjoint kind sets: a seeded permutation of 0..N-1; positions [j*k, (j+1)*k) of the
    # permutation get BASE_KINDS[j].
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
    code = {name: j for j, name in enumerate(BASE_KINDS)}

    i = pl.col("i")
    base = pl.DataFrame({"i": pl.int_range(0, n, eager=True, dtype=pl.Int64)}).hstack(kind_of)
    base = base.with_columns(
        invoice_id(i).alias("invoice_id"),
        pl.format("CUS{}", rnd(i, s + 1, 0, max(n // 10, 1)).cast(pl.String).str.zfill(7)).alias(
            "customer_id"
        ),
        rnd(i, s + 2, 0, 4).alias("cur"),
        rnd(i, s + 3, 1, 10).alias("n_lines"),
        i.hash(s + 4).alias("key_a"),  # file order of A (and of the lines)
        i.hash(s + 5).alias("key_b"),  # file order of B
    ).sort("key_a")

    # Line items, contiguous per invoice in A's order.
    lines = (
        base.select("i", "invoice_id", "kind", pl.int_ranges(0, pl.col("n_lines")).alias("j"))
        .explode("j")
        .with_columns(
            rnd(pl.col("i") * 16 + pl.col("j"), s + 6, 100, 200_000).alias("amount_minor")
        )
    )
    sums = lines.group_by("i").agg(pl.col("amount_minor").sum().alias("subtotal_minor"))
    lines = lines.with_columns(
        pl.when((pl.col("kind") == code["lines"]) & (pl.col("j") == 0))
        .then(pl.col("amount_minor") + rnd(pl.col("i"), s + 7, 1, 1000))
        .otherwise(pl.col("amount_minor"))
        .alias("amount_minor")
    )
    lines.select("invoice_id", "amount_minor").write_parquet(
        out / "a_lines.parquet", compression="zstd"
    )
    n_lines = lines.height
    del lines

    sub = pl.col("subtotal_minor")
    base = (
        base.join(sums, on="i", how="left", maintain_order="left")
        .with_columns(
            pl.when(rnd(i, s + 8, 0, 10) < 3)
            .then(rnd(i, s + 9, 0, 1 << 40) % (sub // 10 + 1))
            .otherwise(0)
            .alias("discount_minor"),
            pl.when(rnd(i, s + 10, 0, 10) < 1)
            .then(rnd(i, s + 11, 0, 1 << 40) % (sub // 20 + 1))
            .otherwise(0)
            .alias("credit_minor"),
            rnd(i, s + 12, 0, 4)
            .replace_strict([0, 1, 2, 3], [0, 500, 1000, 2000], return_dtype=pl.Int64)
            .alias("tax_bp"),
        )
        .with_columns(
            (
                (sub - pl.col("discount_minor") - pl.col("credit_minor"))
                * pl.col("tax_bp")
                // 10_000
            ).alias("tax_minor"),
        )
        .with_columns(
            (sub - pl.col("discount_minor") - pl.col("credit_minor") + pl.col("tax_minor")).alias(
                "total_minor"
            ),
        )
    )
    kind = pl.col("kind")
    base = base.with_columns(
        pl.when(kind == code["identity"])
        .then(pl.col("total_minor") + rnd_sign(i, s + 13) * rnd(i, s + 14, 1, 6))
        .otherwise(pl.col("total_minor"))
        .alias("total_minor"),
        pl.col("cur")
        .replace_strict([0, 1, 2, 3], CURRENCIES, return_dtype=pl.String)
        .alias("currency"),
    )
    a_cols = [
        "invoice_id",
        "customer_id",
        "currency",
        "subtotal_minor",
        "discount_minor",
        "credit_minor",
        "tax_minor",
        "total_minor",
    ]
    # A: every base invoice, plus a later, different second row for duplicate_a ids.
    d_a = rnd(i, s + 15, 1, 1000)
    a_dups = base.filter(kind == code["duplicate_a"]).with_columns(
        (pl.col("subtotal_minor") + d_a).alias("subtotal_minor"),
        (pl.col("total_minor") + d_a).alias("total_minor"),
        (pl.col("key_a") + (U64_MAX - pl.col("key_a")) // 2).alias("key_a"),
    )
    a = pl.concat([base, a_dups]).sort("key_a").select(a_cols)
    a.write_parquet(out / "a_invoices.parquet", compression="zstd")
    a_rows = a.height
    del a, a_dups

    # B: base invoices except missing_in_b, with the cross-source kinds applied, plus
    # extra invoices (missing_in_a) and a later, different row for duplicate_b ids.
    b = base.filter(kind != code["missing_in_b"]).select(
        "i",
        "invoice_id",
        "key_b",
        "kind",
        pl.when(kind == code["currency"])
        .then(
            ((pl.col("cur") + rnd(i, s + 16, 1, 4)) % 4).replace_strict(
                [0, 1, 2, 3], CURRENCIES, return_dtype=pl.String
            )
        )
        .otherwise(pl.col("currency"))
        .alias("currency"),
        pl.when(kind == code["total"])
        .then(pl.col("total_minor") + rnd_sign(i, s + 17) * rnd(i, s + 18, 1, 10_000))
        .otherwise(pl.col("total_minor"))
        .alias("total_minor"),
    )
    extra = pl.DataFrame({"i": pl.int_range(n, n + k, eager=True, dtype=pl.Int64)}).select(
        "i",
        invoice_id(i).alias("invoice_id"),
        i.hash(s + 5).alias("key_b"),
        pl.lit(-2, pl.Int8).alias("kind"),
        rnd(i, s + 2, 0, 4)
        .replace_strict([0, 1, 2, 3], CURRENCIES, return_dtype=pl.String)
        .alias("currency"),
        rnd(i, s + 19, 100, 2_000_000).alias("total_minor"),
    )
    b_dups = b.filter(kind == code["duplicate_b"]).with_columns(
        (pl.col("total_minor") + rnd(i, s + 20, 1, 1000)).alias("total_minor"),
        (pl.col("key_b") + (U64_MAX - pl.col("key_b")) // 2).alias("key_b"),
    )
    b_all = pl.concat([b, extra, b_dups]).sort("key_b")
    b_all.select("invoice_id", "currency", "total_minor").write_parquet(
        out / "b_invoices.parquet", compression="zstd"
    )
    b_rows = b_all.height

    kinds = {
        name: base.filter(kind == code[name])["invoice_id"].sort().to_list() for name in BASE_KINDS
    }
    kinds["missing_in_a"] = extra["invoice_id"].sort().to_list()
    expected = {
        "n": n,
        "seed": seed,
        "polars": pl.__version__,
        "rows": {"a_invoices": a_rows, "a_lines": n_lines, "b_invoices": b_rows},
        "findings": sum(len(v) for v in kinds.values()),
        "kinds": {name: kinds[name] for name in KINDS},
    }
    (out / "expected.json").write_text(json.dumps(expected) + "\n", encoding="utf-8")
    return expected["rows"] | {"findings": expected["findings"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="invoices (multiple of 100)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument(
        "--out", type=Path, default=None, help="output directory (default bench/data/n<N>)"
    )
    args = ap.parse_args()
    out = args.out or Path(__file__).resolve().parent / "data" / f"n{args.n}"
    t0 = time.perf_counter()
    counts = generate(args.n, args.seed, out)
    print(f"wrote {out} in {time.perf_counter() - t0:.1f} s: {counts}")


if __name__ == "__main__":
    main()
