"""Benchmark matching (1:1 and 1:N pairings) against a hand-written Polars join.

    python bench/match_bench.py                          # N = 1,000,000, both pairings
    python bench/match_bench.py --sizes 5000000 --repeat 3
    python bench/match_bench.py --sizes 10000 --repeat 1 --no-rss     # a quick check

For each N and each pairing (1:1, 1:N), in this one process, 1 warm-up each, then
``--repeat`` timed rounds, the tools interleaved (median, min) of:

* **engine**: ``reconcile.pipeline.run(config)`` with only pairing rules
  (``match_rules/``: compare total_minor, compare currency, presence); the time
  inside ``reconcile.matching.match`` and the other phases are measured by wrapping
  them (``bench/run.py``'s ``instrument_engine``; the package is not edited);
* **hand Polars**: one lazy plan, streaming engine: a group-by per side (count,
  first record; the many side summed, its currencies counted), one full join on the
  key, flags; only the bad keys become (kind, key, deltas) rows.

Peak RSS: each once more in a fresh subprocess through ``/usr/bin/time``
(``bench/run.py``'s ``child_rss``). Both tools' discrepancies, as a set of
(kind, key), are compared with ``match_generate.py``'s ``expected.json``, and the
engine's matched / unmatched / ambiguous record counts with the expected ones.
Nothing is asserted; it prints figures. See bench/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
sys.path.insert(0, str(BENCH))
import run as bench_run  # noqa: E402  (bench/run.py: child_rss, instrument_engine, PHASES)
from run import child_rss, correctness, describe_setup, instrument_engine  # noqa: E402

CARDS = {"1:1": "1to1", "1:N": "1toN"}
#: expected.json kinds → the kinds compared (both sides' ambiguity is one finding kind)
KIND_OF = {
    "amount": "amount",
    "currency": "currency",
    "missing_in_b": "missing_in_b",
    "extra_in_b": "extra_in_b",
    "ambiguous_a": "ambiguous",
    "ambiguous_b": "ambiguous",
}


# --- data and config ----------------------------------------------------------------------


def data_dir(n: int) -> Path:
    return DATA / f"match_n{n}"


def ensure_data(n: int, seed: int) -> Path:
    d = data_dir(n)
    if not (d / "expected.json").exists():
        print(f"generating N={n:,} ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(BENCH / "match_generate.py"),
                "--n",
                str(n),
                "--seed",
                str(seed),
                "--out",
                str(d),
            ],
            check=True,
        )
    return d


CONFIG = """\
# written by bench/match_bench.py
name: matching benchmark ({card})
period: {{start: 2000-01-01, end: 2100-01-01}}
sources:
  a:
    provider: file
    path: a.parquet
    format: parquet
    amounts: minor
    period_field: none
    columns:
      invoice_id: invoice_id
      invoice_number: invoice_number
      currency: currency
      total_minor: total_minor
  b:
    provider: file
    path: {b_file}
    format: parquet
    amounts: minor
    period_field: none
    columns:
      invoice_id: invoice_id
      external_ref: external_ref
      currency: currency
      total_minor: total_minor
pairings:
  - name: a-b
    left: {{source: a, key: invoice_number}}
    right: {{source: b, key: external_ref}}
    cardinality: "{card}"
rules: [../../match_rules]
outputs: [parquet]
"""


def config_path(n: int, card: str) -> Path:
    return data_dir(n) / f"match_{CARDS[card]}.yaml"


def write_config(n: int, card: str) -> Path:
    doc = json.loads((data_dir(n) / "expected.json").read_text(encoding="utf-8"))
    path = config_path(n, card)
    path.write_text(
        CONFIG.format(card=card, b_file=doc["workloads"][card]["file"]), encoding="utf-8"
    )
    return path


def expected_of(n: int, card: str) -> tuple[set[tuple[str, str]], dict[str, int]]:
    doc = json.loads((data_dir(n) / "expected.json").read_text(encoding="utf-8"))
    w = doc["workloads"][card]
    return ({(KIND_OF[k], key) for k, keys in w["kinds"].items() for key in keys}, w["counts"])


# --- the engine ---------------------------------------------------------------------------


def run_engine(n: int, card: str) -> tuple[pl.DataFrame, dict[str, int]]:
    from reconcile import pipeline

    result = pipeline.run(config_path(n, card))
    counts = dict(result.pairings[0].counts) if result.pairings else {}
    return result.findings, counts


def engine_kinds(n: int, card: str, findings: pl.DataFrame) -> pl.DataFrame:
    """(kind, key) per finding: kind by rule id / classification, key through the record."""
    rule, src = pl.col("rule_id"), pl.col("source")
    cls = (
        pl.col("classification")
        if "classification" in findings.columns
        else pl.lit(None, pl.String)
    )
    kind = (
        pl.when(rule.str.contains("ambiguous") | (cls == "ambiguous"))
        .then(pl.lit("ambiguous"))
        .when(rule == "match.total_agrees")
        .then(pl.lit("amount"))
        .when(rule == "match.currency_agrees")
        .then(pl.lit("currency"))
        .when((rule == "match.counterpart_present") & (src == "a"))
        .then(pl.lit("missing_in_b"))
        .when((rule == "match.counterpart_present") & (src == "b"))
        .then(pl.lit("extra_in_b"))
        .otherwise(pl.concat_str([pl.lit("other:"), rule, pl.lit(":"), src.fill_null("-")]))
    )
    d = data_dir(n)
    b_file = json.loads((d / "expected.json").read_text(encoding="utf-8"))["workloads"][card][
        "file"
    ]
    ids = pl.concat(
        [
            pl.scan_parquet(d / "a.parquet").select(
                pl.lit("a").alias("source"), "invoice_id", pl.col("invoice_number").alias("key")
            ),
            pl.scan_parquet(d / b_file).select(
                pl.lit("b").alias("source"), "invoice_id", pl.col("external_ref").alias("key")
            ),
        ]
    )
    return (
        findings.lazy()
        .select(kind.alias("kind"), "source", "invoice_id")
        .join(ids, on=["source", "invoice_id"], how="left")
        .select("kind", pl.col("key").fill_null(pl.col("invoice_id")))
        .collect()
    )


# --- hand-written Polars ------------------------------------------------------------------


def run_hand(n: int, card: str) -> pl.DataFrame:
    """A group-by per side (the many side summed), one full join, flags; only the bad
    keys become rows. Keys are trimmed, as the engine's default normalization does."""
    d = data_dir(n)
    b_file = "b_1toN.parquet" if card == "1:N" else "b_1to1.parquet"
    a = (
        pl.scan_parquet(d / "a.parquet")
        .select(
            pl.col("invoice_number").str.strip_chars().alias("key"),
            "invoice_id",
            "currency",
            "total_minor",
        )
        .group_by("key")
        .agg(pl.len().alias("n_a"), pl.col("invoice_id", "currency", "total_minor").first())
    )
    b_aggs = [
        pl.len().alias("n_b"),
        pl.col("total_minor").sum().alias("total_b"),
        pl.col("currency").first().alias("currency_b"),
    ]
    if card == "1:N":  # a "many" group mixing currencies is ambiguous (never null)
        b_aggs += [
            pl.col("currency").min().alias("cur_lo"),
            pl.col("currency").max().alias("cur_hi"),
        ]
        amb_b = pl.col("cur_lo") != pl.col("cur_hi")
    else:  # 1:1: a second record with the key is
        amb_b = pl.col("n_b") > 1
    b = (
        pl.scan_parquet(d / b_file)
        .select(pl.col("external_ref").str.strip_chars().alias("key"), "currency", "total_minor")
        .group_by("key")
        .agg(b_aggs)
    )
    in_a, in_b = pl.col("n_a").is_not_null(), pl.col("n_b").is_not_null()
    amb = (pl.col("n_a") > 1).fill_null(False) | amb_b.fill_null(False)
    same_cur = pl.col("currency") == pl.col("currency_b")
    flags = {
        "ambiguous": amb,
        "amount": ~amb
        & same_cur.fill_null(False)
        & (pl.col("total_minor") != pl.col("total_b")).fill_null(False),
        "currency": ~amb & (~same_cur).fill_null(False),
        "missing_in_b": ~amb & in_a & ~in_b,
        "extra_in_b": ~amb & in_b & ~in_a,
    }
    joined = a.join(b, on="key", how="full", coalesce=True)
    return (
        joined.filter(pl.any_horizontal(*flags.values()))
        .select(
            pl.concat_list([pl.when(f).then(pl.lit(k)) for k, f in flags.items()])
            .list.drop_nulls()
            .alias("kind"),
            "key",
            "invoice_id",
            "n_a",
            "n_b",
            (pl.col("total_b") - pl.col("total_minor")).alias("delta_minor"),
        )
        .explode("kind")
        .sort("kind", "key")
        .collect(engine="streaming")
    )


TOOLS: dict[str, Callable[[int, str], object]] = {"engine": run_engine, "hand": run_hand}
LABEL = {"engine": "engine (pipeline.run)", "hand": "hand Polars (streaming)"}


# --- measuring ----------------------------------------------------------------------------


def bench(tools: list[str], n: int, card: str, repeat: int) -> list[dict]:
    """1 warm-up each, then ``repeat`` rounds, each running every tool once (interleaved,
    so a burst of load from elsewhere on a shared machine hits both tools alike)."""
    times: dict[str, list[float]] = {t: [] for t in tools}
    phases: dict[str, list[dict[str, float]]] = {t: [] for t in tools}
    out: dict[str, object] = {}
    for i in range(repeat + 1):
        for tool in tools:
            out.pop(tool, None)
            gc.collect()
            bench_run.PHASES.clear()
            t0 = time.perf_counter()
            out[tool] = TOOLS[tool](n, card)
            elapsed = time.perf_counter() - t0
            print(
                f"  {card} {LABEL[tool]}: {'warm-up' if i == 0 else f'run {i}'} {elapsed:.2f} s",
                flush=True,
            )
            if i:
                times[tool].append(elapsed)
                phases[tool].append(dict(bench_run.PHASES))
    expected, exp_counts = expected_of(n, card)
    rows = []
    for tool in tools:
        ts = times[tool]
        row: dict = {
            "tool": LABEL[tool],
            "n": n,
            "card": card,
            "median": statistics.median(ts),
            "min": min(ts),
            "times": ts,
        }
        if tool == "engine":
            findings, counts = out[tool]  # type: ignore[misc]
            kinds = engine_kinds(n, card, findings)
            row["rows"] = findings.height
            row["counts"] = counts
            row["counts_ok"] = bool(counts) and all(
                counts.get(k) == v for k, v in exp_counts.items() if k in counts
            )
            row["phases"] = {
                k: statistics.median(p.get(k, 0.0) for p in phases[tool]) for k in phases[tool][0]
            }
        else:
            kinds = out[tool].select("kind", "key")  # type: ignore[attr-defined]
            row["rows"] = kinds.height
        # compared as sets: the engine names every record of a 1:N group left unmatched
        # (record by record); the hand plan gives one row per key
        ok, detail = correctness(kinds.unique(), expected)
        row["correct"], row["detail"] = ok, detail
        if not ok:
            print(f"  {card} {LABEL[tool]} INCORRECT: {detail}", flush=True)
        rows.append(row)
    out.clear()
    return rows


def measure_rss(tool: str, n: int, card: str) -> float | None:
    _, peak, code = child_rss(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            tool,
            "--n",
            str(n),
            "--card",
            card,
        ]
    )
    if code != 0:
        print(f"  child {tool} {card} exited {code}", flush=True)
        return None
    return peak


# --- reporting ----------------------------------------------------------------------------


def fmt_table(rows: list[dict]) -> str:
    head = [
        "N",
        "pairing",
        "tool",
        "median s",
        "min s",
        "inside match() s",
        "× hand",
        "peak RSS GiB",
        "rows",
        "correct",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        hand = next(
            (
                t["median"]
                for t in rows
                if t["n"] == r["n"] and t["card"] == r["card"] and t["tool"] == LABEL["hand"]
            ),
            None,
        )
        match_s = r.get("phases", {}).get("match")
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{r['n']:,}",
                    r["card"],
                    r["tool"],
                    f"{r['median']:.2f}",
                    f"{r['min']:.2f}",
                    f"{match_s:.2f}" if match_s is not None else "–",
                    f"{r['median'] / hand:.2f}" if hand else "–",
                    f"{r['rss']:.2f}" if r.get("rss") is not None else "–",
                    f"{r['rows']:,}",
                    ("yes" if r["correct"] else "NO")
                    + ("" if r.get("counts_ok", True) else " (counts NO)"),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def fmt_phases(rows: list[dict]) -> str:
    out = []
    for r in rows:
        if "phases" not in r:
            continue
        out.append(
            f"engine phases, N={r['n']:,} {r['card']} (medians; nested phases are "
            f"inside their parent): " + ", ".join(f"{k} {v:.2f} s" for k, v in r["phases"].items())
        )
        verdict = "as expected" if r["counts_ok"] else "NOT as expected"
        out.append(f"  records matched / unmatched / ambiguous: {r['counts']} ({verdict})")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per tool (after 1 warm-up)")
    ap.add_argument("--cards", default="1:1,1:N", help="comma list of 1:1, 1:N")
    ap.add_argument("--tools", default="engine,hand", help="comma list of engine, hand")
    ap.add_argument("--no-rss", action="store_true", help="skip the fresh-process RSS runs")
    ap.add_argument("--json", type=Path, default=None, help="write all results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--card", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:  # one run of one tool in a fresh process (for its peak RSS)
        TOOLS[args.child](args.n, args.card)
        return

    instrument_engine()
    print(describe_setup(), flush=True)
    rows: list[dict] = []
    for n in args.sizes:
        ensure_data(n, args.seed)
        for card in args.cards.split(","):
            write_config(n, card)
            expected, _ = expected_of(n, card)
            print(f"N={n:,} {card}: {len(expected):,} expected (kind, key)", flush=True)
            tools = args.tools.split(",")
            try:
                got = bench(tools, n, card, args.repeat)
            except Exception as exc:  # the engine may fail mid-change: report, go on
                msg = str(exc).strip().splitlines()
                print(
                    f"  {card} FAILED: {type(exc).__name__}: {' '.join(msg[:3])[:300]}", flush=True
                )
                continue
            gc.collect()
            for row, tool in zip(got, tools, strict=True):
                if not args.no_rss:
                    row["rss"] = measure_rss(tool, n, card)
                rows.append(row)
        print(flush=True)
        print(fmt_table([r for r in rows if r["n"] == n]), flush=True)

    print(
        f"\n## Results (load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())})\n"
    )
    print(fmt_table(rows))
    print()
    print(fmt_phases(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
