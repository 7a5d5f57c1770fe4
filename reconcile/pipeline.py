"""The one orchestrator: config and rules → sources (read, prepared: reconcile.prepare)
→ matching → rules → tie-outs and findings. It only puts the stages in order.

Nothing here prints; ``cli.py`` does. Progress is reported through a callback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from reconcile import engine, fetch_all, prepare, schema, tieout
from reconcile.config import Config, SourceConfig, load_config
from reconcile.matching import match
from reconcile.prepare import SourceSummary
from reconcile.rule_types._common import PairData, SourceData
from reconcile.ruleset import Rule, default_rules_dir, load_rules
from reconcile.schema import WIDE
from reconcile.sources import load_source

Progress = Callable[[str], None]
#: the control totals frame of a run without sources
_TOTALS: dict[str, pl.DataType] = {
    "source": pl.String(),
    "currency": pl.String(),
    "invoices": pl.UInt32(),
    "total_minor": WIDE,
    "missing_total": pl.UInt32(),
}


@dataclass
class RunResult:
    config: Config
    rules: list[Rule]
    findings: pl.DataFrame
    engine: engine.EngineResult
    sources: list[SourceSummary]
    #: per source and currency: invoices checked, sum of total_minor, totals missing
    control_totals: pl.DataFrame
    #: per source, field and currency: amounts rounded to minor units for cross-source
    #: work, and their net residue (precision.rounding_summary)
    rounding: pl.DataFrame
    pairings: list[PairData] = field(default_factory=list)
    #: each source's checked data (what the rules read), by name
    data: dict[str, SourceData] = field(default_factory=dict)
    #: per pairing and currency: totals, difference, what explains it (tieout.py)
    tieouts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=tieout.TIEOUT_SCHEMA))
    #: the in-period drafts set outside the close, per source (prepare.DRAFT_SCHEMA)
    drafts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=prepare.DRAFT_SCHEMA))


def run(
    config_path: Path,
    *,
    rule_paths: Sequence[Path] | None = None,
    progress: Progress | None = None,
    run_dir: Path | None = None,
    replay: Path | None = None,
    fetch_progress: Callable[..., None] | None = None,
    sequential: bool = False,
) -> RunResult:
    """Run the close. Live provider sources are fetched and snapshotted under ``run_dir``
    (or, with ``replay``, read from that run folder's snapshot); ``fetch_progress`` gets a
    ``reconcile.fetching.FetchEvent`` per page and a final one with the source's report
    (a ``fetching.FetchLog`` keeps those). Live sources are fetched all at once;
    ``sequential``: source by source in this thread instead (see ``fetch_all``)."""
    say = progress or (lambda _msg: None)
    cfg = load_config(config_path)
    # Rules compile and column-check before any data is read.
    rules = load_rules(rule_paths or cfg.rule_paths or [default_rules_dir()])
    say(f"{len(rules)} rules compiled")
    keep_lines = any(r.check.reads_lines for r in rules)

    def read(
        src_cfg: SourceConfig, snapshot: Path | None, fetched: Callable[..., None] | None
    ) -> prepare.Prepared:
        say(f"reading {src_cfg.name} ({src_cfg.provider})")
        loaded = load_source(
            src_cfg,
            cfg.path.parent,
            run_dir=run_dir,
            replay=snapshot,
            period=(cfg.period_start, cfg.period_end),
            progress=fetched,
        )
        return prepare.prepare_source(cfg, loaded, keep_lines)

    # Sources are independent until matching: live ones fetched all at once, each
    # prepared two at a time (Polars releases the GIL), results in config order; the
    # first failure or Ctrl-C cancels every fetch (see fetch_all).
    prepared = fetch_all.read_sources(
        cfg.sources,
        read,
        run_dir=run_dir,
        replay=replay,
        period=(cfg.period_start, cfg.period_end),
        progress=fetch_progress,
        sequential=sequential,
    )
    sources = [p.data for p in prepared]
    by_name = {s.name: s for s in sources}
    pair_columns = frozenset(c for r in rules if r.check.pairwise for c in r.invoice_columns)
    pairs = [
        match(p, by_name[p.left.source], by_name[p.right.source], pair_columns)
        for p in cfg.pairings
    ]
    say(f"evaluating {len(rules)} rules over {len(sources)} sources and {len(pairs)} pairings")
    result = engine.evaluate(rules, sources, pairs)
    findings, tieouts = _findings_and_tieouts(prepared, result, pairs, rules)
    totals = pl.concat(
        [
            s.totals.select(pl.lit(s.name).alias("source"), pl.all())
            for s in sources
            if s.totals is not None
        ]
        or [pl.DataFrame(schema=_TOTALS)]
    ).sort("source", "currency")
    rounded = pl.concat([p.rounding for p in prepared]).sort("source", "field", "currency")
    summaries = [p.summary for p in prepared]
    drafts = pl.concat([p.drafts for p in prepared]).sort("source", "invoice_id")
    return RunResult(
        cfg, rules, findings, result, summaries, totals, rounded, pairs, by_name, tieouts, drafts
    )


def _findings_and_tieouts(
    prepared: Sequence[prepare.Prepared],
    result: engine.EngineResult,
    pairs: Sequence[PairData],
    rules: Sequence[Rule],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every finding with its id (schema, rules, ambiguous keys, tie-outs), checked
    against the findings model, and the tie-out table.

    Each pairing's totals are tied out against the findings that explain them while
    the findings get their ids; a tie-out finding (rare) and the ids are redone."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        tied = pool.submit(tieout.tie_out, pairs, rules, result.findings)
        findings = engine.with_finding_ids(
            pl.concat(
                [
                    *(p.findings for p in prepared),
                    result.findings,
                    *(tieout.ambiguous_findings(p) for p in pairs),
                ]
            )
        )
        tieouts, unexplained = tied.result()
    if unexplained.height:
        findings = engine.with_finding_ids(pl.concat([findings.drop("finding_id"), unexplained]))
    schema.validate_findings(findings)
    return findings, tieouts


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)
