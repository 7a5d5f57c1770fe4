"""The report model: everything the templates show, computed and formatted here.

Templates only lay it out (no arithmetic, no formatting logic in Jinja). The
model is plain dicts and lists, sorted, so the same input renders to the same
bytes apart from ``generated_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from reconcile import __version__, money
from reconcile.pipeline import RunResult
from reconcile.report_reconciliation import (
    TIE_PARTS,
    amount,
    class_counts,
    reconciliation,
    shown_parts,
    waterfalls,
)
from reconcile.schema import SEVERITIES

if TYPE_CHECKING:
    from reconcile.config import Config
    from reconcile.fetching import FetchReport


def control_totals(result: RunResult) -> list[dict[str, Any]]:
    """Per source and currency: invoices checked and the sum of their totals."""
    return [
        {**r, "total": amount(r["total_minor"], r["currency"])}
        for r in result.control_totals.to_dicts()
    ]


def _rule_titles(result: RunResult) -> dict[str, dict[str, str]]:
    return {
        r.id: {
            "title": r.title,
            "type": r.type,
            "severity": r.severity,
            "description": r.description,
            "scope": r.scope.describe(),
            "where": f"{r.where.path.name}:{r.where.line}",
        }
        for r in result.rules
    }


#: the pipeline's own rule ids (no rule file): title, type, description
_BUILTIN = {
    "pairing.ambiguous": (
        "Key matches more records than the pairing's cardinality allows",
        "matching",
        "The records of such a key are not compared; each is named in the finding.",
    ),
    "pairing.tie_out": (
        "Pairing totals do not tie out: a difference no finding explains",
        "tie_out",
        "The engine missed something: the tie-out's unexplained remainder is not zero.",
    ),
}


def _builtin_meta(rule_id: str) -> dict[str, str]:
    if rule_id in _BUILTIN:
        title, kind, description = _BUILTIN[rule_id]
    elif rule_id == "schema.unreadable_record":
        title, kind, description = (
            "Record could not be read (wrong type, missing field, amount out of range)",
            "schema",
            "",
        )
    else:
        title, kind = (
            "Record fails the canonical schema: " + rule_id.removeprefix("schema."),
            "schema",
        )
        description = ""
    return {
        "title": title,
        "type": kind,
        "severity": "error",
        "description": description,
        "scope": "",
        "where": "",
    }


def _fetch_entry(report: FetchReport | None, identical_repeats: int) -> dict[str, Any] | None:
    """A source's fetch as the report shows it (None: not fetched, e.g. a file or recording)."""
    if report is None:
        return None
    return {
        "mode": report.mode,
        "pages": report.pages,
        "records": report.records,
        "retries": report.retries,
        "identical_repeats_dropped": identical_repeats,
        "seconds": round(report.seconds, 3),
        "bytes": report.bytes,
        "documents": report.documents,
        "fetched_at": report.fetched_at or "",
    }


def _severity_counts(findings: pl.DataFrame) -> dict[str, int]:
    """Findings per severity, every severity listed (most severe first)."""
    severity_counts = {s: 0 for s in SEVERITIES}
    for sev, n in findings.group_by("severity").len().iter_rows():
        severity_counts[sev] = n
    return severity_counts


def _by_rule(result: RunResult, detail: bool) -> list[dict[str, Any]]:
    """Per rule with findings: its title and meta, the count, and (``detail``) its
    findings with the delta formatted; most severe first, then by rule id."""
    findings = result.findings
    titles = _rule_titles(result)
    by_rule = []
    shown = findings.with_columns(
        money.format_minor_expr(pl.col("delta_minor"), pl.col("currency")).alias("delta")
    )
    counts = dict(findings.group_by("rule_id").len().iter_rows())
    groups = dict(shown.partition_by("rule_id", as_dict=True)) if detail else {}
    for rule_id in counts:
        meta = titles.get(str(rule_id)) or _builtin_meta(str(rule_id))
        rows = groups[(rule_id,)].to_dicts() if detail else []
        by_rule.append({"rule_id": rule_id, **meta, "count": counts[rule_id], "findings": rows})
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    by_rule.sort(key=lambda g: (rank[g["severity"]], g["rule_id"]))
    return by_rule


def _coverage(result: RunResult) -> list[dict[str, Any]]:
    """Per rule and target: whether it applied (what was missing) and its counts."""
    stats = {(r["rule_id"], r["target"]): r for r in result.engine.stats.to_dicts()}
    coverage = []
    for c in sorted(result.engine.coverage, key=lambda c: (c.rule_id, c.target)):
        s = stats.get((c.rule_id, c.target), {})
        coverage.append(
            {
                "rule_id": c.rule_id,
                "target": c.target,
                "applicable": c.applicable,
                "missing": ", ".join(c.missing) or c.note,
                "checked": s.get("checked", 0),
                "failed": s.get("failed", 0),
                "not_applicable_rows": s.get("not_applicable_rows", 0),
                "absorbed": s.get("absorbed", 0),
            }
        )
    return coverage


def _sources(result: RunResult, fetch: Mapping[str, FetchReport]) -> list[dict[str, Any]]:
    """Per source: what was read, kept and set aside (and its fetch, if fetched)."""
    return [
        {
            "name": s.name,
            "provider": s.provider,
            "records_read": s.records_read,
            "valid": s.valid,
            "quarantined": s.quarantined,
            "out_of_period": s.out_of_period,
            "in_period": s.in_period,
            "repeated_ids": s.repeated_ids,
            "drafts": s.drafts,
            "checked": s.checked,
            "identical_repeats_dropped": s.identical_repeats_dropped,
            "neighbours_read": s.neighbours_read,
            "lines_read": s.lines_read,
            "lines_valid": s.lines_valid,
            "lines_quarantined": s.lines_quarantined,
            "has_lines": s.has_lines,
            "period_field": s.period_field,
            "balanced": s.records_read == s.valid + s.quarantined
            and s.in_period == s.checked + s.repeated_ids + s.drafts,
            "fetch": _fetch_entry(fetch.get(s.name), s.identical_repeats_dropped),
        }
        for s in result.sources
    ]


def _drafts(result: RunResult) -> list[dict[str, Any]]:
    """The in-period drafts set outside the close, their totals formatted."""
    return [
        {**d, "total": amount(d["total_minor"], d["currency"])} for d in result.drafts.to_dicts()
    ]


def _fetched(result: RunResult, fetch: Mapping[str, FetchReport]) -> list[dict[str, Any]]:
    """The sources that were fetched (live, or a replayed snapshot), as the report's
    fetch table shows them."""
    fetched: list[dict[str, Any]] = []
    for summary in result.sources:
        got = _fetch_entry(fetch.get(summary.name), summary.identical_repeats_dropped)
        if got is not None:
            fetched.append(
                {
                    "name": summary.name,
                    "provider": summary.provider,
                    **got,
                    "neighbours_read": summary.neighbours_read,
                    "seconds_text": f"{got['seconds']:.2f}",
                    "how": "replayed snapshot" if got["mode"] == "replay" else "live",
                }
            )
    return fetched


def _pairings(cfg: Config) -> list[dict[str, str]]:
    """Per pairing: its description and each side's filter (as written)."""
    return [
        {
            "name": p.name,
            "describe": p.describe(),
            "left_filter": p.left.filter_sql or "",
            "right_filter": p.right.filter_sql or "",
        }
        for p in cfg.pairings
    ]


def _absorbed(result: RunResult) -> list[dict[str, Any]]:
    """What tolerances absorbed, per rule, target and currency, the amount formatted."""
    return [
        {**a, "amount": amount(a["absorbed_minor"], a["currency"])}
        for a in result.engine.absorbed.to_dicts()
    ]


def _residues(result: RunResult, modes: Mapping[str, str]) -> list[dict[str, Any]]:
    """The rounding residues per source, with the source's rounding mode named."""
    return [
        {**r, "rounding": money.ROUNDING_NAMES[modes[r["source"]]]}
        for r in result.rounding.to_dicts()
    ]


def _rounding(modes: Mapping[str, str]) -> str:
    """The sources' rounding modes where not the default (else one line saying so)."""
    return (
        "; ".join(
            f"{name}: {money.ROUNDING_NAMES[mode]}"
            for name, mode in sorted(modes.items())
            if mode != money.DEFAULT_ROUNDING
        )
        or f"every source: {money.ROUNDING_NAMES[money.DEFAULT_ROUNDING]}"
    )


def build(
    result: RunResult,
    *,
    fail_on: str,
    generated_at: dt.datetime,
    detail: bool = True,
    fetch: Mapping[str, FetchReport] | None = None,
) -> dict[str, Any]:
    """The report model; ``detail=False`` leaves out per-finding rows (no HTML/Markdown).

    ``fetch``: per source, what its live fetch (or the replayed snapshot's fetch) did
    (``reconcile.fetching.FetchLog.reports``)."""
    fetch = fetch or {}
    cfg = result.config
    findings = result.findings
    severity_counts = _severity_counts(findings)
    coverage = _coverage(result)
    modes = {c.name: c.rounding for c in cfg.sources}
    recon = reconciliation(result, detail=detail)
    falls, falls_total = waterfalls(result) if detail else ([], 0)
    gate = [s for s in SEVERITIES[: SEVERITIES.index(fail_on) + 1]] if fail_on != "never" else []
    blocking = sum(severity_counts[s] for s in gate)
    return {
        "title": cfg.name,
        "period_start": cfg.period_start.date().isoformat(),
        "period_end": cfg.period_end.date().isoformat(),
        "generated_at": generated_at.isoformat().replace("+00:00", "Z"),
        "version": __version__,
        "config": cfg.path.name,
        "fail_on": fail_on,
        "status": "exceptions" if blocking else "clean",
        "blocking": blocking,
        "total_findings": findings.height,
        "severity_counts": severity_counts,
        "rules_count": len(result.rules),
        "rounding": _rounding(modes),
        "sources": _sources(result, fetch),
        "drafts": _drafts(result),
        "fetched": _fetched(result, fetch),
        "control_totals": control_totals(result),
        "pairings": _pairings(cfg),
        "reconciliation": recon,
        "tie_parts": [TIE_PARTS[p] for p in shown_parts(result.tieouts)],
        "findings_by_classification": class_counts(findings),
        "waterfalls": falls,
        "waterfalls_total": falls_total,
        "waterfalls_more": falls_total - len(falls),
        "by_rule": _by_rule(result, detail),
        "coverage": coverage,
        "not_applicable": [c for c in coverage if not c["applicable"] or c["missing"]],
        "absorbed": _absorbed(result),
        "residues": _residues(result, modes),
        "rounded_identities": result.engine.rounded.to_dicts(),
    }


def summary_json(model: dict[str, Any]) -> dict[str, Any]:
    """The machine-readable part of the report (no finding rows, no timestamp noise)."""
    keys = (
        "title",
        "period_start",
        "period_end",
        "generated_at",
        "version",
        "fail_on",
        "status",
        "total_findings",
        "severity_counts",
        "sources",
        "drafts",
        "control_totals",
        "coverage",
        "absorbed",
        "residues",
        "rounded_identities",
    )
    out = {k: model[k] for k in keys}
    out["findings_by_rule"] = [
        {"rule_id": g["rule_id"], "severity": g["severity"], "count": g["count"]}
        for g in model["by_rule"]
    ]
    out["findings_by_classification"] = model["findings_by_classification"]
    out["reconciliation"] = sorted(
        (r["summary"] for r in model["reconciliation"]), key=lambda r: r["pairing"]
    )
    return out
