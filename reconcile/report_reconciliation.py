"""Report sections 3 and 6: the reconciliation per pairing and the per-invoice waterfalls.

Both read the findings' ``pairing`` column (the pairing a compare, presence,
``pairing.ambiguous`` or ``pairing.tie_out`` finding was evaluated on) and, for
the waterfalls, each source's checked data (``RunResult.data``). Like the rest
of the report model, values are formatted here; the templates only lay them out.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import polars as pl

from reconcile import money
from reconcile.pipeline import RunResult
from reconcile.rule_types._common import SourceData
from reconcile.schema import CLASSIFICATIONS
from reconcile.tieout import PARTS

#: rows shown per pairing in the report (every finding is in section 5 and findings.json)
DETAIL_LIMIT = 200
#: waterfalls shown in the report; the others are named by their findings
WATERFALL_LIMIT = 50
TIE_PARTS = {
    "amount_differences_minor": "Amount differences",
    "currency_mismatch_minor": "Currency mismatch",
    "missing_minor": "Missing",
    "timing_minor": "Timing",
    "quarantined_minor": "Quarantined",
    "ambiguous_minor": "Ambiguous keys",
    "absorbed_minor": "Tolerance absorbed",
    "void_unbooked_minor": "Void, not booked",
}
assert tuple(TIE_PARTS) == PARTS, "a tie-out part without a column title"
#: parts shown only in a run where some pairing has one (most closes have no voids)
_SHOWN_WHEN_USED = frozenset({"void_unbooked_minor"})


def shown_parts(tieouts: pl.DataFrame) -> list[str]:
    """The tie-out parts the report's tables show: every part, but a part of
    _SHOWN_WHEN_USED only where some pairing has a non-zero one. (Explained and
    Unexplained always count every part.)"""
    return [
        p
        for p in PARTS
        if p not in _SHOWN_WHEN_USED or (p in tieouts.columns and (tieouts[p] != 0).any())
    ]


_CLASS_RANK = {c: i for i, c in enumerate(CLASSIFICATIONS)}


# --- cells ------------------------------------------------------------------------------


def amount(minor: int | None, currency: str | None) -> str:
    """Grouped major units ("1,234.50"; an unknown code with the nominal two decimals, as
    it was read); "" when not sent."""
    if minor is None:
        return ""
    text = money.format_minor(int(minor), currency)
    head, _, tail = text.lstrip("-").partition(".")
    grouped = f"{int(head):,}" + (f".{tail}" if tail else "")
    return ("-" if text.startswith("-") else "") + grouped


def amount_cell(minor: int | None, currency: str | None) -> str:
    """A table cell: grouped amount (an unknown code with the nominal decimals; the
    currency cell says so, see :func:`currency_cell`), "—" when not sent."""
    if minor is None:
        return "—"
    return amount(minor, currency)


def currency_cell(currency: str | None) -> str:
    if currency is None or money.is_active_currency(currency):
        return currency or ""
    return (
        f"{currency} (not an ISO 4217 code: amounts shown with {money.NOMINAL_EXPONENT} decimals)"
    )


def _label(classification: str | None) -> str:
    return "not classified" if classification is None else classification.replace("_", " ")


def class_counts(findings: pl.DataFrame) -> dict[str, int]:
    """Findings per classification (unclassified ones left out), by name."""
    counts = (
        findings.filter(pl.col("classification").is_not_null()).group_by("classification").len()
    )
    return dict(sorted(counts.iter_rows()))


# --- reconciliation per pairing ----------------------------------------------------------


def _tie_row(row: dict[str, Any], shown: list[str]) -> dict[str, Any]:
    cur = row["currency"]
    explained = sum(row[p] for p in PARTS)
    return {
        "currency": currency_cell(cur),
        "left_records": row["left_records"],
        "right_records": row["right_records"],
        "left_total": amount_cell(row["left_total_minor"], cur),
        "right_total": amount_cell(row["right_total_minor"], cur),
        "difference": amount_cell(row["difference_minor"], cur),
        "parts": [{"text": amount_cell(row[p], cur), "zero": row[p] == 0} for p in shown],
        "explained": amount_cell(explained, cur),
        "unexplained": amount_cell(row["unexplained_minor"], cur),
        "ties": row["unexplained_minor"] == 0,
    }


def _classes(mine: pl.DataFrame) -> list[dict[str, Any]]:
    """Count and net difference per classification and currency (net: Σ delta_minor;
    none for a currency mismatch or an ambiguous key, whose effect the tie-out shows)."""
    grouped = mine.group_by("classification", "currency").agg(
        pl.len().alias("count"),
        pl.col("delta_minor").sum().alias("net"),
        pl.col("delta_minor").is_not_null().any().alias("has_net"),
    )
    out = [
        {
            "classification": r["classification"] or "",
            "label": _label(r["classification"]),
            "currency": r["currency"] or "",
            "count": r["count"],
            "net": amount_cell(r["net"] if r["has_net"] else None, r["currency"]),
        }
        for r in grouped.to_dicts()
    ]
    return sorted(
        out, key=lambda r: (_CLASS_RANK.get(r["classification"], len(_CLASS_RANK)), r["currency"])
    )


def _detail_rows(mine: pl.DataFrame) -> list[dict[str, Any]]:
    """The first DETAIL_LIMIT findings of a pairing, by classification then findings order."""
    rank = pl.col("classification").replace_strict(
        _CLASS_RANK, default=len(_CLASS_RANK), return_dtype=pl.Int64
    )
    return (
        mine.with_row_index("__at")
        .sort(rank, "__at")
        .head(DETAIL_LIMIT)
        .drop("__at")
        .with_columns(
            money.format_minor_expr(pl.col("delta_minor"), pl.col("currency")).alias("delta"),
            pl.col("classification")
            .map_elements(_label, return_dtype=pl.String, skip_nulls=False)
            .alias("label"),
        )
        .to_dicts()
    )


def reconciliation(result: RunResult, *, detail: bool = True) -> list[dict[str, Any]]:
    """Per pairing (config order): sides and their record tie, the tie-out per currency,
    discrepancies by classification, the first DETAIL_LIMIT findings (none without
    ``detail``); ``summary`` is the machine-readable part (integers in minor units)."""
    by_pairing = dict(
        result.findings.filter(pl.col("pairing").is_not_null()).partition_by(
            "pairing", as_dict=True
        )
    )
    nothing = result.findings.clear()
    shown = shown_parts(result.tieouts)
    out = []
    for pair in result.pairings:
        p = pair.pairing
        ties = result.tieouts.filter(pl.col("pairing") == pair.name).sort("currency").to_dicts()
        sides = []
        for which, side in (("left", p.left), ("right", p.right)):
            n = {
                k: pair.counts.get(f"{which}_{k}", 0) for k in ("matched", "unmatched", "ambiguous")
            }
            records = sum(r[f"{which}_records"] for r in ties)
            sides.append(
                {
                    "side": which,
                    "source": side.source,
                    "key": side.key_name,
                    "filter": side.filter_sql or "",
                    "records": records,
                    **n,
                    "ties": records == sum(n.values()),
                }
            )
        mine = by_pairing.get((pair.name,), nothing)
        rows = _detail_rows(mine) if detail else []
        ties_out = all(r["unexplained_minor"] == 0 for r in ties)
        out.append(
            {
                "name": pair.name,
                "describe": p.describe(),
                "cardinality": p.cardinality,
                "sides": sides,
                "ambiguous_keys": pair.counts.get("ambiguous_keys", 0),
                "tieout": [_tie_row(r, shown) for r in ties],
                "ties": ties_out,
                "classes": _classes(mine),
                "findings": rows,
                "findings_total": mine.height,
                "findings_more": mine.height - len(rows) if detail else 0,
                "summary": {
                    "pairing": pair.name,
                    "describe": p.describe(),
                    "cardinality": p.cardinality,
                    "left": {
                        "source": p.left.source,
                        "key": p.left.key_name,
                        "filter": p.left.filter_sql,
                    },
                    "right": {
                        "source": p.right.source,
                        "key": p.right.key_name,
                        "filter": p.right.filter_sql,
                    },
                    "counts": dict(sorted(pair.counts.items())),
                    "tieout": [{k: r[k] for k in sorted(r) if k != "pairing"} for r in ties],
                    "ties": ties_out,
                    "findings_by_classification": class_counts(mine),
                },
            }
        )
    return out


# --- per-invoice waterfall -----------------------------------------------------------------

#: the walk from subtotal to total: column, title, sign
_STEPS = (
    ("subtotal_minor", "Subtotal", 1),
    ("discount_minor", "− Discount", -1),
    ("credit_minor", "− Credit", -1),
    ("tax_minor", "+ Tax", 1),
    ("shipping_minor", "+ Shipping", 1),
)
_WATERFALL_COLUMNS = ["invoice_id", "currency", *(c for c, _, _ in _STEPS), "total_minor"]


def _invoice_values(
    data: dict[str, SourceData], wanted: dict[str, set[str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The waterfall columns of the wanted invoices only: a semi-join per source on a
    short id list (a source may hold millions of invoices)."""
    names = sorted(n for n in wanted if n in data and wanted[n])
    plans = [
        data[n]
        .invoices.join(
            pl.LazyFrame({"invoice_id": sorted(wanted[n])}, schema={"invoice_id": pl.String}),
            on="invoice_id",
            how="semi",
        )
        .select(_WATERFALL_COLUMNS)
        for n in names
    ]
    frames = pl.collect_all(plans) if plans else []
    return {
        (n, r["invoice_id"]): r for n, f in zip(names, frames, strict=True) for r in f.to_dicts()
    }


def _side(
    source: str,
    ids: list[str],
    data: dict[str, SourceData],
    values: dict[tuple[str, str], dict[str, Any]],
    steps: list[str],
) -> dict[str, Any]:
    """One side of a waterfall: its records summed (several on a pairing's "many" side)."""
    found = [values[(source, i)] for i in ids if (source, i) in values]
    side: dict[str, Any] = {
        "source": source,
        "invoice": ", ".join(ids),
        "records": len(ids),
        "available": bool(found),
        "currency": "",
        "cells": [],
        "total": "—",
        "walked": "—",
        "residual": "—",
        "off": False,
    }
    if not found:
        side["cells"] = ["—"] * len(steps)
        return side
    provided = data[source].provided
    cur = found[0]["currency"]

    def summed(col: str) -> int | None:
        got = [r[col] for r in found]
        return sum(got) if col in provided and None not in got else None

    sums = {c: summed(c) for c in [*steps, "total_minor"]}
    signs = {c: s for c, _, s in _STEPS}
    walked = None
    if sums["subtotal_minor"] is not None:
        walked = sum(signs[c] * v for c in steps if (v := sums[c]) is not None)
    total = sums["total_minor"]
    residual = None if walked is None or total is None else total - walked
    side.update(
        currency=currency_cell(cur),
        cells=[amount_cell(sums[c], cur) for c in steps],
        total=amount_cell(total, cur),
        walked=amount_cell(walked, cur),
        residual=amount_cell(residual, cur),
        off=bool(residual),
    )
    return side


def waterfalls(result: RunResult, limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """(the first ``limit`` waterfalls, how many invoices have one).

    One per invoice with an arithmetic finding (expression, aggregate) and one per
    pair with a compare finding, in findings order: subtotal → discount → credit →
    tax (→ shipping where sent) → total on each side, the walked total and its
    residual, then each finding's expected, actual and difference."""
    limit = WATERFALL_LIMIT if limit is None else limit
    paired = pl.col("rule_type") == "compare"
    flagged = result.findings.filter(
        (pl.col("rule_type").is_in(("expression", "aggregate")) | paired)
        & pl.col("invoice_id").is_not_null()
    ).with_columns(
        pl.when(paired).then(pl.col(c)).alias(f"__{c}")
        for c in ("counterpart_source", "counterpart_invoice_id")
    )
    key = ["source", "invoice_id", "__counterpart_source", "__counterpart_invoice_id", "pairing"]
    keys = flagged.select(key).unique(maintain_order=True)
    shown = keys.head(limit).rows()
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for f in flagged.join(keys.head(limit), on=key, how="semi", nulls_equal=True).to_dicts():
        by_key[tuple(f[k] for k in key)].append(f)
    pairs = {p.name: p.pairing for p in result.pairings}
    data = result.data
    wanted: dict[str, set[str]] = defaultdict(set)
    plan = []
    for k in shown:
        source, invoice, other, counterpart, pairing = k
        p = pairs.get(pairing) if pairing else None
        # a "many" side's ids are listed ", "-joined by matching
        lids = invoice.split(", ") if p is not None and p.many_left else [invoice]
        rids = (
            []
            if other is None
            else (
                (counterpart or "").split(", ") if p is not None and p.many_right else [counterpart]
            )
        )
        wanted[source].update(lids)
        if other is not None:
            wanted[other].update(rids)
        plan.append((k, lids, rids))
    values = _invoice_values(data, wanted)
    out = []
    for k, lids, rids in plan:
        source, _, other, _, pairing = k
        sends = [s for s in (source, other) if s in data]
        steps = [
            c
            for c, _, _ in _STEPS
            if c != "shipping_minor" or any(c in data[s].provided for s in sends)
        ]
        sides = [_side(source, lids, data, values, steps)]
        if other is not None:
            sides.append(_side(other, rids, data, values, steps))
        out.append(
            {
                "pairing": pairing or "",
                "cross_source": other is not None,
                "titles": [t for c, t, _ in _STEPS if c in steps],
                "sides": sides,
                "unavailable": [s["source"] for s in sides if not s["available"]],
                "findings": [
                    {
                        "rule_id": f["rule_id"],
                        "label": _label(f["classification"]) if f["classification"] else "",
                        "field": f["field"] or "",
                        "expected": f["expected"] or "",
                        "actual": f["actual"] or "",
                        "delta": ""
                        if f["delta_minor"] is None
                        else amount_cell(f["delta_minor"], f["currency"]),
                        "currency": f["currency"] or "",
                        "finding_id": f["finding_id"],
                    }
                    for f in by_key[k]
                ],
            }
        )
    return out, keys.height
