"""Benchmark the reconcile engine against a hand-planned Polars query and DuckDB.

    python bench/run.py --sizes 1000000                 # generate if needed, then run
    python bench/run.py --sizes 1000000 5000000 --repeat 5 --cli-repeat 1 --full-outputs

For each N, in this one process: the read floor, the engine
(``reconcile.pipeline.run``, with the time inside ``engine.evaluate``, Pandera
validation and the other phases measured by wrapping them), a hand-planned
Polars query and one DuckDB SQL query: 1 warm-up round + ``--repeat`` timed
rounds, each round running every tool once in a rotated order (median and min per
tool, and the median of the per-round paired ratios engine ÷ tool). Peak RSS: each
tool once more in a fresh subprocess (its ``ru_maxrss``, through ``/usr/bin/time``).
``reconcile run`` (the CLI) is timed as a subprocess. Every tool's discrepancies,
as a set of (kind, invoice_id), are compared with the generator's
``expected.json``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
TEMPLATE = BENCH / "close.yaml"
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
GIB = 1024**3


# --- data and config ----------------------------------------------------------------------


def data_dir(n: int) -> Path:
    return DATA / f"n{n}"


def ensure_data(n: int, seed: int) -> Path:
    d = data_dir(n)
    if not (d / "expected.json").exists():
        print(f"generating N={n:,} ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(BENCH / "generate.py"),
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


def config_for(n: int, *, all_outputs: bool = False) -> Path:
    """bench/close.yaml (written for N=1,000,000), pointed at data/n<N>/."""
    text = TEMPLATE.read_text(encoding="utf-8")
    assert text.count("data/n1000000/") == 3 and "\nrules: [rules]\n" in text
    text = text.replace("data/n1000000/", f"n{n}/").replace(
        "\nrules: [rules]\n", "\nrules: [../rules]\n"
    )
    if all_outputs:
        assert "\noutputs: [parquet]\n" in text
        text = text.replace("\noutputs: [parquet]\n", "\n")
    path = DATA / f"close_n{n}{'_all' if all_outputs else ''}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def expected_set(d: Path) -> set[tuple[str, str]]:
    doc = json.loads((d / "expected.json").read_text(encoding="utf-8"))
    return {(k, i) for k, ids in doc["kinds"].items() for i in ids}


# --- the engine, instrumented -------------------------------------------------------------

PHASES: dict[str, float] = {}


def _timed(name: str, fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            PHASES[name] = PHASES.get(name, 0.0) + time.perf_counter() - t0

    return wrapper


_INSTRUMENTED = False


def instrument_engine() -> None:
    """Wrap the pipeline's phases (module attributes looked up at call time)."""
    global _INSTRUMENTED
    if _INSTRUMENTED:
        return
    import reconcile.engine
    import reconcile.pipeline
    import reconcile.prepare
    import reconcile.schema

    for mod, attr, name in [
        (reconcile.pipeline, "load_config", "config"),
        (reconcile.pipeline, "load_rules", "rules"),
        (reconcile.pipeline, "load_source", "read+convert"),
        (reconcile.schema, "validate_invoices", "validate invoices"),
        (reconcile.schema, "validate_lines", "validate lines"),
        (reconcile.prepare, "prepare_source", "prepare (incl. validate)"),
        (reconcile.pipeline, "match", "match"),
        (reconcile.engine, "evaluate", "engine.evaluate"),
        (reconcile.engine, "with_finding_ids", "with_finding_ids"),
        (reconcile.schema, "validate_findings", "validate findings"),
    ]:
        setattr(mod, attr, _timed(name, getattr(mod, attr)))
    _INSTRUMENTED = True


def engine_kinds(findings: pl.DataFrame) -> pl.DataFrame:
    rule, src = pl.col("rule_id"), pl.col("source")
    kind = (
        pl.when(rule == "bench.total_identity")
        .then(pl.lit("identity"))
        .when(rule == "bench.lines_sum_to_subtotal")
        .then(pl.lit("lines"))
        .when(rule == "bench.total_agrees")
        .then(pl.lit("total"))
        .when(rule == "bench.currency_agrees")
        .then(pl.lit("currency"))
        .when((rule == "bench.counterpart_present") & (src == "a"))
        .then(pl.lit("missing_in_b"))
        .when((rule == "bench.counterpart_present") & (src == "b"))
        .then(pl.lit("missing_in_a"))
        .when((rule == "bench.unique_invoice_id") & (src == "a"))
        .then(pl.lit("duplicate_a"))
        .when((rule == "bench.unique_invoice_id") & (src == "b"))
        .then(pl.lit("duplicate_b"))
        .otherwise(pl.format("other:{}:{}", rule, src))
    )
    return findings.select(kind.alias("kind"), "invoice_id")


def run_engine(n: int) -> pl.DataFrame:
    from reconcile import pipeline

    return pipeline.run(DATA / f"close_n{n}.yaml").findings


# --- hand-planned Polars ------------------------------------------------------------------


def run_polars(n: int) -> pl.DataFrame:
    """One group-by per table (first occurrence + count), one join for the pairing, one
    left join with the line sums, then only the bad rows become findings."""
    d = data_dir(n)
    money = ["subtotal_minor", "discount_minor", "credit_minor", "tax_minor", "total_minor"]
    a = (
        pl.scan_parquet(d / "a_invoices.parquet")
        .select("invoice_id", "currency", *money)
        .group_by("invoice_id")
        .agg(pl.len().alias("n_a"), pl.col("currency", *money).first())
    )
    b = (
        pl.scan_parquet(d / "b_invoices.parquet")
        .group_by("invoice_id")
        .agg(
            pl.len().alias("n_b"),
            pl.col("currency").first().alias("currency_b"),
            pl.col("total_minor").first().alias("total_b"),
        )
    )
    sums = (
        pl.scan_parquet(d / "a_lines.parquet")
        .group_by("invoice_id")
        .agg(pl.col("amount_minor").sum().alias("line_sum"))
    )
    in_a, in_b = pl.col("n_a").is_not_null(), pl.col("n_b").is_not_null()
    expect = (
        pl.col("subtotal_minor")
        - pl.col("discount_minor")
        - pl.col("credit_minor")
        + pl.col("tax_minor")
    )
    flags = {
        "duplicate_a": pl.col("n_a") > 1,
        "duplicate_b": pl.col("n_b") > 1,
        "identity": pl.col("total_minor") != expect,
        "lines": in_a & (pl.col("subtotal_minor") != pl.col("line_sum").fill_null(0)),
        "total": pl.col("total_minor") != pl.col("total_b"),
        "currency": pl.col("currency") != pl.col("currency_b"),
        "missing_in_b": in_a & ~in_b,
        "missing_in_a": in_b & ~in_a,
    }
    flags = {k: v.fill_null(False) for k, v in flags.items()}  # null input: N/A, not a failure
    joined = a.join(sums, on="invoice_id", how="left").join(
        b, on="invoice_id", how="full", coalesce=True
    )
    bad = joined.filter(pl.any_horizontal(*flags.values()))
    return (
        bad.select(
            "invoice_id",
            pl.concat_list([pl.when(f).then(pl.lit(k)) for k, f in flags.items()])
            .list.drop_nulls()
            .alias("kind"),
            (pl.col("total_minor") - expect).alias("identity_delta"),
            (pl.col("subtotal_minor") - pl.col("line_sum").fill_null(0)).alias("lines_delta"),
            (pl.col("total_b") - pl.col("total_minor")).alias("total_delta"),
        )
        .explode("kind")
        .sort("kind", "invoice_id")
        .collect(engine="streaming")
    )


# --- DuckDB, one SQL query ----------------------------------------------------------------

DUCKDB_SQL = """
WITH a AS (
    SELECT invoice_id, count(*) AS n_a,
           {{'currency': arg_min(currency, file_row_number),
             'subtotal': arg_min(subtotal_minor, file_row_number),
             'discount': arg_min(discount_minor, file_row_number),
             'credit': arg_min(credit_minor, file_row_number),
             'tax': arg_min(tax_minor, file_row_number),
             'total': arg_min(total_minor, file_row_number)}} AS r
    FROM read_parquet('{a}', file_row_number = true)
    GROUP BY invoice_id),
b AS (
    SELECT invoice_id, count(*) AS n_b,
           {{'currency': arg_min(currency, file_row_number),
             'total': arg_min(total_minor, file_row_number)}} AS r
    FROM read_parquet('{b}', file_row_number = true)
    GROUP BY invoice_id),
l AS (
    SELECT invoice_id, sum(amount_minor) AS line_sum
    FROM read_parquet('{lines}') GROUP BY invoice_id),
j AS (
    SELECT coalesce(a.invoice_id, b.invoice_id) AS invoice_id, a.n_a, b.n_b,
           a.r.total - (a.r.subtotal - a.r.discount - a.r.credit + a.r.tax) AS identity_delta,
           a.r.subtotal - coalesce(l.line_sum, 0) AS lines_delta,
           b.r.total - a.r.total AS total_delta,
           a.r.currency AS currency_a, b.r.currency AS currency_b
    FROM a LEFT JOIN l ON l.invoice_id = a.invoice_id
           FULL JOIN b ON b.invoice_id = a.invoice_id),
f AS (
    SELECT *,
           coalesce(n_a > 1, false) AS duplicate_a,
           coalesce(n_b > 1, false) AS duplicate_b,
           coalesce(identity_delta <> 0, false) AS identity,
           n_a IS NOT NULL AND lines_delta <> 0 AS lines,
           coalesce(total_delta <> 0, false) AS total,
           coalesce(currency_a <> currency_b, false) AS currency,
           n_a IS NOT NULL AND n_b IS NULL AS missing_in_b,
           n_b IS NOT NULL AND n_a IS NULL AS missing_in_a
    FROM j)
SELECT k.kind, f.invoice_id, f.identity_delta, f.lines_delta, f.total_delta
FROM (SELECT * FROM f WHERE duplicate_a OR duplicate_b OR identity OR lines OR total
                            OR currency OR missing_in_b OR missing_in_a) AS f,
     unnest(list_filter([
        CASE WHEN duplicate_a THEN 'duplicate_a' END, CASE WHEN duplicate_b THEN 'duplicate_b' END,
        CASE WHEN identity THEN 'identity' END, CASE WHEN lines THEN 'lines' END,
        CASE WHEN total THEN 'total' END, CASE WHEN currency THEN 'currency' END,
        CASE WHEN missing_in_b THEN 'missing_in_b' END,
        CASE WHEN missing_in_a THEN 'missing_in_a' END], lambda x: x IS NOT NULL)) AS k(kind)
ORDER BY k.kind, f.invoice_id
"""


def run_duckdb(n: int) -> pl.DataFrame:
    import duckdb

    d = data_dir(n)
    sql = DUCKDB_SQL.format(
        a=d / "a_invoices.parquet", b=d / "b_invoices.parquet", lines=d / "a_lines.parquet"
    )
    with duckdb.connect() as con:
        return pl.DataFrame(con.sql(sql))  # Arrow C stream, no pyarrow needed


# --- the read floor -----------------------------------------------------------------------


def run_floor(n: int) -> pl.DataFrame:
    d = data_dir(n)
    pl.collect_all(
        [
            pl.scan_parquet(d / "a_invoices.parquet").select(
                "invoice_id",
                "currency",
                "subtotal_minor",
                "discount_minor",
                "credit_minor",
                "tax_minor",
                "total_minor",
            ),
            pl.scan_parquet(d / "a_lines.parquet").select("invoice_id", "amount_minor"),
            pl.scan_parquet(d / "b_invoices.parquet").select(
                "invoice_id", "currency", "total_minor"
            ),
        ]
    )
    return pl.DataFrame(schema={"kind": pl.String, "invoice_id": pl.String})


TOOLS: dict[str, Callable[[int], pl.DataFrame]] = {
    "floor (read needed columns)": run_floor,
    "engine (pipeline.run)": run_engine,
    "hand Polars (streaming)": run_polars,
    "DuckDB (one SQL query)": run_duckdb,
}
SHORT = {
    "floor": "floor (read needed columns)",
    "engine": "engine (pipeline.run)",
    "polars": "hand Polars (streaming)",
    "duckdb": "DuckDB (one SQL query)",
}


def kinds_of(tool: str, out: pl.DataFrame) -> pl.DataFrame:
    return engine_kinds(out) if tool.startswith("engine") else out.select("kind", "invoice_id")


# --- measuring ----------------------------------------------------------------------------


def child_rss(args: list[str]) -> tuple[float, float, int]:
    """Run a fresh subprocess; (wall s, peak RSS GiB, exit code) of that process alone.

    The peak comes from ``/usr/bin/time`` (its own child's ``ru_maxrss``): a child
    forked straight from this process would report at least *this* process's peak,
    since Linux carries the pre-exec high-water mark of a (v)forked child over.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        t0 = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", rss.name, *args],
            stdout=subprocess.DEVNULL,
            check=False,
        )
        wall = time.perf_counter() - t0
        kib = int(rss.read().strip().splitlines()[-1])
    return wall, kib * 1024 / GIB, proc.returncode


def correctness(kinds: pl.DataFrame, expected: set[tuple[str, str]]) -> tuple[bool, str]:
    got = set(kinds.iter_rows())
    dupes = kinds.height - len(got)
    missing, extra = expected - got, got - expected
    if not missing and not extra and not dupes:
        return True, "exact"

    def per_kind(s: set[tuple[str, str]]) -> str:
        counts: dict[str, int] = {}
        for k, _ in s:
            counts[k] = counts.get(k, 0) + 1
        return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))

    return False, (
        f"missing {len(missing)} ({per_kind(missing)}); extra {len(extra)} "
        f"({per_kind(extra)}); repeated rows {dupes}; e.g. "
        f"{sorted(missing)[:2]} {sorted(extra)[:2]}"
    )


def bench_tools(keys: list[str], n: int, repeat: int, expected: set[tuple[str, str]]) -> list[dict]:
    """1 warm-up round + ``repeat`` timed rounds; each round runs every tool once, the
    order rotated from round to round, so that a shared machine's drift (it moves
    whole runs by several percent) falls on every tool alike. Each timed round also
    gives paired ratios (engine ÷ tool in that round); their median is the figure
    least moved by drift. Correctness is checked on the warm-up's output."""
    tools = [SHORT[k] for k in keys]
    times: dict[str, list[float]] = {t: [] for t in tools}
    phases: dict[str, list[dict[str, float]]] = {t: [] for t in tools}
    checked: dict[str, tuple[bool | None, str, int | None]] = {}
    for i in range(repeat + 1):
        turn = i % len(tools)
        for tool in tools[turn:] + tools[:turn]:
            gc.collect()
            PHASES.clear()
            t0 = time.perf_counter()
            out = TOOLS[tool](n)
            elapsed = time.perf_counter() - t0
            if i == 0:
                kinds = kinds_of(tool, out)
                ok, detail = (
                    correctness(kinds, expected) if not tool.startswith("floor") else (None, "")
                )
                found = (
                    out.height
                    if tool.startswith("engine")
                    else (None if tool.startswith("floor") else kinds.height)
                )
                checked[tool] = (ok, detail, found)
                print(f"  {tool}: warm-up {elapsed:.2f} s", flush=True)
                continue
            times[tool].append(elapsed)
            phases[tool].append(dict(PHASES))
            print(f"  {tool}: round {i} {elapsed:.2f} s", flush=True)
            del out
    rows = []
    for tool in tools:
        ok, detail, found = checked[tool]
        row = {
            "tool": tool,
            "n": n,
            "median": statistics.median(times[tool]),
            "min": min(times[tool]),
            "times": times[tool],
            "findings": found,
            "correct": ok,
            "detail": detail,
        }
        if phases[tool] and phases[tool][0]:
            row["phases"] = {
                k: statistics.median(p.get(k, 0.0) for p in phases[tool]) for k in phases[tool][0]
            }
        rows.append(row)
    engine = SHORT["engine"]
    if engine in times:
        for row in rows:
            row["paired"] = statistics.median(
                e / t for e, t in zip(times[engine], times[row["tool"]], strict=True)
            )
    return rows


def bench_cli(
    n: int,
    repeat: int,
    cfg: Path,
    expected: set[tuple[str, str]],
    label: str = "reconcile run (CLI)",
) -> dict:
    exe = shutil.which("reconcile") or str(Path(sys.executable).with_name("reconcile"))
    times, rss = [], []
    for i in range(repeat + 1):
        out_dir = Path(tempfile.mkdtemp(prefix="reconcile-bench-"))
        try:
            wall, peak, code = child_rss(
                [exe, "run", str(cfg), "--out", str(out_dir), "--quiet", "--fail-on", "never"]
            )
            if code != 0:
                raise SystemExit(f"reconcile run exited {code}")
            files = {p.name: p.stat().st_size for p in out_dir.iterdir()}
            findings = (
                pl.read_parquet(out_dir / "findings.parquet")
                if (out_dir / "findings.parquet").exists()
                else None
            )
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        if repeat and i == 0:
            print(f"  {label}: warm-up {wall:.2f} s", flush=True)
            continue
        times.append(wall)
        rss.append(peak)
        print(f"  {label}: run {len(times)} {wall:.2f} s, peak RSS {peak:.2f} GiB", flush=True)
    ok, detail = (
        correctness(engine_kinds(findings), expected)
        if findings is not None
        else (None, "no findings.parquet")
    )
    return {
        "tool": label,
        "n": n,
        "median": statistics.median(times),
        "min": min(times),
        "times": times,
        "rss": max(rss),
        "findings": None if findings is None else findings.height,
        "correct": ok,
        "detail": detail,
        "files": files,
    }


def measure_rss(tool: str, n: int) -> float:
    key = next(k for k, v in SHORT.items() if v == tool)
    _, peak, code = child_rss(
        [sys.executable, str(Path(__file__).resolve()), "--child", key, "--n", str(n)]
    )
    if code != 0:
        raise SystemExit(f"child {key} exited {code}")
    return peak


def describe_setup() -> str:
    import platform

    import duckdb

    def git(*cmd: str) -> str:
        try:
            return subprocess.run(
                ["git", *cmd], cwd=BENCH.parent, capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"

    dirty = git("status", "--porcelain", "--", "reconcile", "rules")
    return (
        f"reconcile @ {git('rev-parse', '--short', 'HEAD')}"
        f"{' + uncommitted changes in reconcile/ or rules/' if dirty else ''}; "
        f"Python {platform.python_version()}, Polars {pl.__version__}, "
        f"DuckDB {duckdb.__version__}, {os.cpu_count()} CPUs; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


# --- reporting ----------------------------------------------------------------------------


def fmt_table(rows: list[dict]) -> str:
    head = [
        "tool",
        "N",
        "median s",
        "min s",
        "peak RSS GiB",
        "× hand Polars",
        "× DuckDB",
        "engine ÷ tool (paired)",
        "findings",
        "correct",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ref = {t["tool"]: t["median"] for t in rows if t["n"] == r["n"]}
        hp, dk = ref.get(SHORT["polars"]), ref.get(SHORT["duckdb"])
        lines.append(
            "| "
            + " | ".join(
                [
                    r["tool"],
                    f"{r['n']:,}",
                    f"{r['median']:.2f}",
                    f"{r['min']:.2f}",
                    f"{r['rss']:.2f}" if r.get("rss") is not None else "–",
                    f"{r['median'] / hp:.2f}" if hp else "–",
                    f"{r['median'] / dk:.2f}" if dk else "–",
                    f"{r['paired']:.2f}" if r.get("paired") is not None else "–",
                    f"{r['findings']:,}" if r.get("findings") is not None else "–",
                    {True: "yes", False: "NO", None: "n/a"}[r["correct"]],
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
            f"engine phases at N={r['n']:,} (median of the timed runs; nested phases "
            "are inside their parent):"
        )
        total = r["median"]
        for name, secs in r["phases"].items():
            out.append(f"  {name:<28} {secs:7.2f} s  {100 * secs / total:5.1f} %")
        out.append(f"  {'pipeline.run total':<28} {total:7.2f} s")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per tool (after 1 warm-up)")
    ap.add_argument(
        "--cli-repeat",
        type=int,
        default=None,
        help="timed CLI runs (default: --repeat; 0 = one run, no warm-up)",
    )
    ap.add_argument(
        "--tools",
        default="floor,engine,polars,duckdb,cli",
        help="comma list of floor, engine, polars, duckdb, cli",
    )
    ap.add_argument("--no-rss", action="store_true", help="skip the fresh-process RSS runs")
    ap.add_argument(
        "--full-outputs",
        action="store_true",
        help="also one CLI run with every output (html, md, json, csv, parquet)",
    )
    ap.add_argument("--json", type=Path, default=None, help="write all results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:  # one run of one tool in a fresh process (for its peak RSS)
        TOOLS[SHORT[args.child]](args.n)
        return

    instrument_engine()
    print(describe_setup(), flush=True)
    wanted = args.tools.split(",")
    rows: list[dict] = []
    extra: list[dict] = []
    for n in args.sizes:
        d = ensure_data(n, args.seed)
        config_for(n)
        expected = expected_set(d)
        print(f"N={n:,}: {len(expected):,} expected findings", flush=True)
        keys = [k for k in ["floor", "engine", "polars", "duckdb"] if k in wanted]
        for row in bench_tools(keys, n, args.repeat, expected) if keys else []:
            if not args.no_rss:
                row["rss"] = measure_rss(row["tool"], n)
            if row["correct"] is False:
                print(f"  {row['tool']} INCORRECT: {row['detail']}", flush=True)
            rows.append(row)
            gc.collect()
        if "cli" in wanted:
            reps = args.repeat if args.cli_repeat is None else args.cli_repeat
            rows.append(bench_cli(n, reps, DATA / f"close_n{n}.yaml", expected))
        if args.full_outputs:
            row = bench_cli(
                n, 0, config_for(n, all_outputs=True), expected, "reconcile run, all outputs (CLI)"
            )
            extra.append(row)
        print(flush=True)
        print(fmt_table(rows), flush=True)
        print(fmt_phases([r for r in rows if r["n"] == n]), flush=True)

    print("\n## Results\n")
    print(fmt_table(rows))
    print()
    print(fmt_phases(rows))
    for r in extra:
        print(
            f"\n{r['tool']} at N={r['n']:,}: {r['median']:.2f} s (one run), peak RSS "
            f"{r['rss']:.2f} GiB, findings {r['findings']:,}, correct "
            f"{'yes' if r['correct'] else 'NO'}; files: "
            + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(r["files"].items()))
        )
    for r in rows + extra:
        if r["correct"] is False:
            print(f"\n{r['tool']} N={r['n']:,} incorrect: {r['detail']}")
    if args.json:
        args.json.write_text(
            json.dumps(rows + extra, indent=1, default=str) + "\n", encoding="utf-8"
        )


if __name__ == "__main__":
    main()
