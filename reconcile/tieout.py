"""Tie-outs: does every pairing's difference in totals add up to its findings?

For each pairing and currency, on ``total_minor``::

    difference  = Σ right − Σ left                 (every record of each side)
    explained   = amount differences of matched invoices   (compare findings)
                + currency mismatches: +right in its currency, −left in its own
                + missing counterparts: −left / +right      (presence findings)
                + timing (counterpart in a neighbouring period)
                + counterpart quarantined (it exists but could not be read)
                + ambiguous keys: +Σ right − Σ left          (their records)
                + tolerance absorbed (signed)
    unexplained = difference − explained

The totals are computed from the sources, independently of matching and the
rules; the explanations come from the findings the run produced. A non-zero
``unexplained`` means a difference no finding accounts for (a matched pair with
an amount missing on one side, or a rule pack without the compare or presence
rules): that is itself a finding, ``pairing.tie_out``, of severity error.

Ambiguous keys (more records per key than the pairing's cardinality allows)
become ``pairing.ambiguous`` findings here, one per key, naming every record.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from reconcile.money import format_minor_expr
from reconcile.rule_types._common import RIGHT, PairData, fmt, money
from reconcile.rule_types.compare import Compare
from reconcile.rule_types.not_booked import billing_side
from reconcile.rule_types.presence import Presence
from reconcile.ruleset import Rule
from reconcile.schema import WIDE, conform_findings, no_findings

TIEOUT_SCHEMA: dict[str, pl.DataType] = {
    "pairing": pl.String(),
    "currency": pl.String(),
    "left_records": pl.UInt32(),
    "left_total_minor": WIDE,
    "right_records": pl.UInt32(),
    "right_total_minor": WIDE,
    "difference_minor": WIDE,
    "amount_differences_minor": WIDE,
    "currency_mismatch_minor": WIDE,
    "missing_minor": WIDE,
    "timing_minor": WIDE,
    "quarantined_minor": WIDE,
    "ambiguous_minor": WIDE,
    "absorbed_minor": WIDE,
    "void_unbooked_minor": WIDE,
    "unexplained_minor": WIDE,
}
PARTS = (
    "amount_differences_minor",
    "currency_mismatch_minor",
    "missing_minor",
    "timing_minor",
    "quarantined_minor",
    "ambiguous_minor",
    "absorbed_minor",
    "void_unbooked_minor",
)


def control_totals(invoices: pl.LazyFrame) -> pl.LazyFrame:
    """Per currency: invoices, the sum of total_minor, and how many totals are null
    (a source's control totals, and a pairing side's totals in the tie-out)."""
    return invoices.group_by("currency").agg(
        pl.len().cast(pl.UInt32).alias("invoices"),
        pl.col("total_minor").cast(WIDE).sum().alias("total_minor"),
        pl.col("total_minor").is_null().sum().cast(pl.UInt32).alias("missing_total"),
    )


def _side_totals(pair: PairData, left: bool) -> pl.LazyFrame:
    side = pair.pairing.left if left else pair.pairing.right
    data = pair.left if left else pair.right
    prefix = "left" if left else "right"
    if side.filter is None and data.totals is not None:  # the source's, computed once
        totals = data.totals.lazy()
    else:
        frame = data.invoices if side.filter is None else data.invoices.filter(side.filter)
        totals = control_totals(frame)
    return totals.select(
        "currency",
        pl.col("invoices").alias(f"{prefix}_records"),
        pl.col("total_minor").alias(f"{prefix}_total_minor"),
    )


def _named_pairs(findings: pl.LazyFrame, pair: PairData, field: str) -> pl.LazyFrame:
    """The matched pairs that ``pair``'s compare findings on ``field`` name, as the id of
    the side that is one record (a "many" side's findings list its ids): ``invoice_id``,
    or ``invoice_id__r`` when the left side is the many side."""
    own = "counterpart_invoice_id" if pair.pairing.many_left else "invoice_id"
    mine_id = "invoice_id" + (RIGHT if pair.pairing.many_left else "")
    return (
        findings.filter((pl.col("rule_type") == "compare") & (pl.col("field") == field))
        .select(pl.col(own).alias(mine_id))
        .unique()
    )


def _checked_by_total_rules(pair: PairData, rules: Sequence[Rule]) -> pl.Expr:
    """True for a matched pair that some applicable compare rule on ``total_minor``
    checks on this pairing (a rule without a filter checks every pair)."""
    covers: list[pl.Expr] = []
    for rule in rules:
        if not isinstance(rule.check, Compare) or rule.check.field != "total_minor":
            continue
        needed = rule.invoice_columns
        if (
            not rule.scope.matches_pairing(pair.name)
            or needed - pair.left.provided
            or needed - pair.right.provided
        ):
            continue  # not on this pairing, or not applicable (N/A)
        covers.append(pl.lit(True) if rule.filter is None else rule.filter.fill_null(False))
    return pl.any_horizontal(covers) if covers else pl.lit(False)


def ambiguous_findings(pair: PairData) -> pl.DataFrame:
    """One ``pairing.ambiguous`` finding per key that breaks the cardinality."""
    amb = pair.ambiguous
    if amb.is_empty():
        return no_findings()
    p = pair.pairing
    left_name, right_name = pair.left.name, pair.right.name
    named = amb.sort("__key", pl.col("__left").not_(), "invoice_id").with_columns(
        pl.when(pl.col("__left"))
        .then(pl.lit(left_name))
        .otherwise(pl.lit(right_name))
        .alias("__side")
    )
    per_key = named.group_by("__key", maintain_order=True).agg(
        pl.col("invoice_id").filter(pl.col("__left")).first().alias("__first_left"),
        pl.col("invoice_id").filter(~pl.col("__left")).first().alias("__first_right"),
        pl.col("__left").sum().alias("__n_left"),
        (~pl.col("__left")).sum().alias("__n_right"),
        pl.concat_str([pl.col("__side"), pl.lit(" "), pl.col("invoice_id")])
        .str.join(", ")
        .alias("__records"),
        pl.col("currency").first().alias("currency"),
        pl.col("currency").n_unique().alias("__currencies"),
    )
    surplus_left = pl.col("__n_left") > 1
    return conform_findings(
        per_key.select(
            pl.lit("pairing.ambiguous").alias("rule_id"),
            pl.lit("matching").alias("rule_type"),
            pl.lit("error").alias("severity"),
            pl.when(surplus_left | pl.col("__first_right").is_null())
            .then(pl.lit(left_name))
            .otherwise(pl.lit(right_name))
            .alias("source"),
            pl.when(surplus_left | pl.col("__first_right").is_null())
            .then(pl.col("__first_left"))
            .otherwise(pl.col("__first_right"))
            .alias("invoice_id"),
            pl.when(surplus_left | pl.col("__first_right").is_null())
            .then(pl.lit(right_name))
            .otherwise(pl.lit(left_name))
            .alias("counterpart_source"),
            pl.when(surplus_left | pl.col("__first_right").is_null())
            .then(pl.col("__first_right"))
            .otherwise(pl.col("__first_left"))
            .alias("counterpart_invoice_id"),
            pl.lit(f"{p.left.key_name} ↔ {p.right.key_name}").alias("field"),
            pl.lit(
                f"at most the records cardinality {p.cardinality} allows, in one currency"
            ).alias("expected"),
            fmt(
                "{} {} + {} {}",
                pl.col("__n_left"),
                pl.lit(left_name),
                pl.col("__n_right"),
                pl.lit(right_name),
            ).alias("actual"),
            pl.col("currency"),
            pl.lit("ambiguous").alias("classification"),
            fmt(
                "pairing {}: key {} matches {} {} and {} {} record(s), more than cardinality {} "
                "allows{}; they are not compared: {}.",
                pl.lit(pair.name),
                pl.col("__key"),
                pl.col("__n_left"),
                pl.lit(left_name),
                pl.col("__n_right"),
                pl.lit(right_name),
                pl.lit(p.cardinality),
                pl.when(pl.col("__currencies") > 1)
                .then(pl.lit(" (in different currencies)"))
                .otherwise(pl.lit("")),
                pl.col("__records"),
            ).alias("message"),
            pl.lit(f"pairing {pair.name}").alias("location"),
            pl.lit(pair.name).alias("pairing"),
        )
    )


def _matched_parts(pair: PairData, mine: pl.LazyFrame, rules: Sequence[Rule]) -> list[pl.LazyFrame]:
    """What the matched pairs explain, per currency: amount differences (a compare
    finding on ``total_minor`` flagged them), tolerance absorbed (a rule checked them
    but none flagged them), and currency mismatches (+right in its currency, −left in
    its own)."""
    mine_id = "invoice_id" + (RIGHT if pair.pairing.many_left else "")
    # The amounts of the pairs a currency finding names, each in its own currency.
    # (a currency finding names a pair whose currencies differ: only those few
    # are looked up by id, not every matched pair)
    differ = (pl.col("currency") != pl.col("currency" + RIGHT)).fill_null(True)
    mismatched = pair.matched.filter(differ).join(
        _named_pairs(mine, pair, "currency"), on=mine_id, how="semi"
    )
    # Matched pairs in one currency whose totals differ: flagged, absorbed or neither.
    delta = pl.col("total_minor" + RIGHT) - pl.col("total_minor")
    differing = pair.matched.filter(~differ & (delta != 0).fill_null(False)).with_columns(
        delta.alias("__delta")
    )
    flagged = _named_pairs(mine, pair, "total_minor")
    checked = _checked_by_total_rules(pair, rules)
    return [
        differing.join(flagged, on=mine_id, how="semi").select(
            "currency", pl.col("__delta").alias("amount_differences_minor")
        ),
        differing.join(flagged, on=mine_id, how="anti")
        .filter(checked)
        .select("currency", pl.col("__delta").alias("absorbed_minor")),
        mismatched.select("currency", (0 - pl.col("total_minor")).alias("currency_mismatch_minor")),
        mismatched.select(
            pl.col("currency" + RIGHT).alias("currency"),
            pl.col("total_minor" + RIGHT).alias("currency_mismatch_minor"),
        ),
    ]


def _record_parts(pair: PairData, mine: pl.LazyFrame) -> list[pl.LazyFrame]:
    """What records without a compared counterpart explain, per currency: presence
    findings' deltas by classification (missing, timing, counterpart quarantined), and
    the records of ambiguous keys (+right, −left)."""
    presence = mine.filter(pl.col("rule_type") == "presence")
    return [
        presence.filter(pl.col("classification") == "missing").select(
            "currency", pl.col("delta_minor").alias("missing_minor")
        ),
        presence.filter(pl.col("classification") == "timing").select(
            "currency", pl.col("delta_minor").alias("timing_minor")
        ),
        presence.filter(pl.col("classification") == "counterpart_quarantined").select(
            "currency", pl.col("delta_minor").alias("quarantined_minor")
        ),
        pair.ambiguous.lazy().select(
            "currency",
            pl.when(pl.col("__left"))
            .then(0 - pl.col("total_minor"))
            .otherwise(pl.col("total_minor"))
            .alias("ambiguous_minor"),
        ),
    ]


def _unbooked_parts(pair: PairData, rules: Sequence[Rule]) -> list[pl.LazyFrame]:
    """The billing records the pairing's presence rules exempt (Presence.exempt: an
    ``unbooked:`` status, on a billing ↔ ledger pairing) and that have no booking:
    what they leave out of the books, per currency (+right, −left)."""
    side = billing_side(pair)
    if side is None:
        return []
    left = side == ""
    exempt = [
        rule.check.exempt(pair, left)
        for rule in rules
        if isinstance(rule.check, Presence)
        and rule.check.unbooked
        and rule.scope.matches_pairing(pair.name)
    ]
    if not exempt:
        return []
    frame = pair.left_only if left else pair.right_only
    total = 0 - pl.col("total_minor") if left else pl.col("total_minor")
    return [
        frame.filter(pl.any_horizontal(exempt)).select(
            "currency", total.alias("void_unbooked_minor")
        )
    ]


def _tie_table(
    name: str, left_t: pl.DataFrame, right_t: pl.DataFrame, expl: pl.DataFrame
) -> pl.DataFrame:
    """One pairing's tie-out rows (TIEOUT_SCHEMA) from each side's totals and what the
    findings explain, per currency: the difference, and what no part explains."""
    table = (
        left_t.join(right_t, on="currency", how="full", coalesce=True)
        .join(expl, on="currency", how="full", coalesce=True)
        .with_columns(pl.lit(name).alias("pairing"))
        .with_columns(
            [
                pl.col(c).fill_null(0)
                for c in TIEOUT_SCHEMA
                if c not in ("pairing", "currency", "difference_minor", "unexplained_minor")
            ]
        )
    )
    table = table.with_columns(
        (pl.col("right_total_minor") - pl.col("left_total_minor")).alias("difference_minor")
    )
    table = table.with_columns(
        (pl.col("difference_minor") - pl.sum_horizontal(*PARTS)).alias("unexplained_minor")
    )
    return table.select(list(TIEOUT_SCHEMA)).cast(TIEOUT_SCHEMA)  # type: ignore[arg-type]


def _tie_rows(pair: PairData, rules: Sequence[Rule], findings: pl.DataFrame) -> pl.DataFrame:
    """One pairing's tie-out rows: its totals and its explanations in one collect."""
    pair = pair.widened()  # (differences and sums in 128 bits: Int64 would wrap)
    # (lazy: the findings are read in the one collect below, in parallel)
    mine = findings.lazy().filter(pl.col("pairing") == pair.name)
    parts = [
        *_matched_parts(pair, mine, rules),
        *_record_parts(pair, mine),
        *_unbooked_parts(pair, rules),
    ]
    explained = (
        # (an empty part of every column: a part no record has is a column of zeros)
        pl.concat(
            [*parts, pl.LazyFrame(schema={"currency": pl.String, **dict.fromkeys(PARTS, WIDE)})],
            how="diagonal_relaxed",
        )
        .group_by("currency")
        .agg(pl.col(c).cast(WIDE).sum() for c in PARTS)
    )
    left_t, right_t, expl = pl.collect_all(
        [_side_totals(pair, True), _side_totals(pair, False), explained]
    )
    return _tie_table(pair.name, left_t, right_t, expl)


def tie_out(
    pairs: Sequence[PairData], rules: Sequence[Rule], findings: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(tie-out rows per pairing and currency, ``pairing.tie_out`` findings).

    ``findings`` carry ``pairing`` (the pairing they were evaluated on). A matched
    pair's difference in one currency counts once, whatever the number of compare
    rules on ``total_minor``: as an amount difference when one of them flagged it,
    else as absorbed by tolerance when one of them checked it (its filter holds),
    else it stays unexplained. (The engine's per-rule absorbed table counts a pair
    once per rule that absorbed it: it is reported, not summed here.)
    """
    rows = [_tie_rows(pair, rules, findings) for pair in pairs]
    result = (pl.concat(rows) if rows else pl.DataFrame(schema=TIEOUT_SCHEMA)).sort(
        "pairing", "currency"
    )
    return result, _unexplained_findings(result, pairs)


def _unexplained_findings(table: pl.DataFrame, pairs: Sequence[PairData]) -> pl.DataFrame:
    sides = {p.name: (p.left.name, p.right.name) for p in pairs}
    bad = table.filter(pl.col("unexplained_minor") != 0)
    if bad.is_empty():
        return no_findings()
    names = bad.with_columns(
        pl.col("pairing").replace_strict({k: v[0] for k, v in sides.items()}).alias("__l"),
        pl.col("pairing").replace_strict({k: v[1] for k, v in sides.items()}).alias("__r"),
    )
    unexplained = pl.col("unexplained_minor")
    return conform_findings(
        names.select(
            pl.lit("pairing.tie_out").alias("rule_id"),
            pl.lit("tie_out").alias("rule_type"),
            pl.lit("error").alias("severity"),
            pl.col("__l").alias("source"),
            pl.col("__r").alias("counterpart_source"),
            pl.lit("total_minor").alias("field"),
            pl.lit("0").alias("expected"),
            money(unexplained).alias("actual"),
            unexplained.alias("delta_minor"),
            pl.col("currency"),
            pl.lit("unexplained").alias("classification"),
            fmt(
                "pairing {}, {}: totals differ by {} ({} − {}), of which {} is not explained by "
                "any finding (e.g. an amount missing on one side of a matched pair, or no "
                "compare/presence rule on this pairing).",
                pl.col("pairing"),
                pl.col("currency"),
                money(pl.col("difference_minor")),
                format_minor_expr(pl.col("right_total_minor"), pl.col("currency")),
                format_minor_expr(pl.col("left_total_minor"), pl.col("currency")),
                money(unexplained),
            ).alias("message"),
            fmt("pairing {}", pl.col("pairing")).alias("location"),
            pl.col("pairing"),
        )
    )


__all__ = ["TIEOUT_SCHEMA", "ambiguous_findings", "control_totals", "tie_out"]
