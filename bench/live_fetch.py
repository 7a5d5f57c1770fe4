"""Live close of the sample month: every source fetched at once vs source by source.

Starts ``python -m reconcile.testing serve --latency SECONDS`` (the five sample-month
provider servers, each request held ``SECONDS`` as a distant API would; a child
process, so servers and client do not share a GIL), reads the config and credentials
it prints, and times ``reconcile.pipeline.run(config, run_dir=...)`` on it, with the
sources fetched all at once (the default) and with ``sequential=True`` (source by
source in the calling thread, how a live run went before). Each round runs both, in
an order alternating from round to round, after one warm-up round; per mode the
median and the minimum, and per round the paired ratio sequential ÷ at once, whose
median is reported ("paired"), as is the time saved. Two times per run: the whole
``pipeline.run`` (config, rules, sources, matching, rules evaluated) and its sources
stage (``fetch_all.read_sources``: fetching, snapshots, reading back, preparing).
Nothing is asserted; it prints figures. The findings of the two modes are compared
(they must be equal, as the tests check byte for byte).

    python bench/live_fetch.py                         # 50 ms, 1 warm-up + 7 rounds
    python bench/live_fetch.py --latency 0.2 --rounds 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl

from reconcile import fetch_all, fetching, pipeline

MODES = ("at once", "sequential")


@contextmanager
def sample_servers(latency: float, folder: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """``python -m reconcile.testing serve`` in a child process: (its config, its env)."""
    command = [sys.executable, "-m", "reconcile.testing", "serve"]
    child = subprocess.Popen(
        [*command, "--latency", str(latency), "--dir", str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert child.stdout is not None
    config, env = None, {}
    try:
        for line in child.stdout:
            line = line.strip()
            if line.startswith("Config: "):
                config = Path(line.removeprefix("Config: "))
            elif line.startswith("export "):
                name, _, value = line.removeprefix("export ").partition("=")
                env[name] = value
            elif line.startswith("Ctrl-C stops the servers"):
                break
        if config is None or not env:
            raise RuntimeError("reconcile.testing serve did not print a config")
        yield config, env
    finally:
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def timed_run(config: Path, out: Path, sequential: bool) -> dict[str, Any]:
    """One live close: whole-run and sources-stage seconds, per-source fetch seconds."""
    stage: list[float] = []
    read_sources: Callable[..., Any] = fetch_all.read_sources

    def timed_stage(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return read_sources(*args, **kwargs)
        finally:
            stage.append(time.perf_counter() - started)

    log = fetching.FetchLog()
    fetch_all.read_sources = timed_stage  # type: ignore[assignment]
    try:
        started = time.perf_counter()
        result = pipeline.run(config, run_dir=out, fetch_progress=log, sequential=sequential)
        total = time.perf_counter() - started
    finally:
        fetch_all.read_sources = read_sources  # type: ignore[assignment]
    return {
        "total": total,
        "sources": stage[0],
        "fetch_sum": sum(r.seconds for r in log.reports.values()),
        "pages": sum(r.pages for r in log.reports.values()),
        "findings": result.findings,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds (after 1 warm-up)")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {m: [] for m in MODES}
    with (
        tempfile.TemporaryDirectory(prefix="reconcile-live-bench-") as tmp,
        sample_servers(args.latency, Path(tmp)) as (config, env),
    ):
        os.environ.update(env)
        reference: pl.DataFrame | None = None
        for n in range(args.rounds + 1):
            order = MODES if n % 2 == 0 else MODES[::-1]
            for mode in order:
                out = Path(tmp) / f"out-{n}-{mode.replace(' ', '-')}"
                got = timed_run(config, out, sequential=mode == "sequential")
                findings = got.pop("findings")
                if reference is None:
                    reference = findings
                elif not findings.equals(reference):
                    raise SystemExit(f"round {n} {mode}: findings differ")
                if n:  # (round 0 warms up)
                    runs[mode].append(got)
    report(runs, args)
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": None}, "runs": runs}))
    return 0


def report(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    print(
        f"live sample close, {args.latency * 1000:g} ms per request, {args.rounds} rounds "
        f"(+1 warm-up), {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"pages fetched per run: {runs['at once'][0]['pages']}")
    for key, label in (("total", "pipeline.run"), ("sources", "sources stage")):
        print(f"\n{label}:")
        for mode in MODES:
            values = [r[key] for r in runs[mode]]
            print(
                f"  {mode:<11} median {statistics.median(values):6.3f} s  min {min(values):6.3f} s"
            )
        ratios = [s[key] / a[key] for s, a in zip(runs["sequential"], runs["at once"], strict=True)]
        saved = [s[key] - a[key] for s, a in zip(runs["sequential"], runs["at once"], strict=True)]
        print(
            f"  paired: sequential ÷ at once, median {statistics.median(ratios):.2f}× "
            f"(range {min(ratios):.2f}–{max(ratios):.2f}); saved median "
            f"{statistics.median(saved):.3f} s"
        )
    fetch = statistics.median(r["fetch_sum"] for r in runs["at once"])
    print(f"\nsum of the sources' own fetch seconds, at once (median): {fetch:.3f} s")


if __name__ == "__main__":
    sys.exit(main())
