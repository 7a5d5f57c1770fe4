"""The prepare stage: one source's records as the rules read them.

Every record read ends up counted in exactly one place per source:

    records read = quarantined (schema findings) + valid
    valid        = out of period + in period
    in period    = checked + repeated ids set aside (named by the uniqueness rule)
                   + drafts (outside the close: listed, not checked)

Validation (pandera, reconcile.schema) quarantines what does not fit the canonical
model; the rest is scoped to the period (the neighbouring periods kept apart for
timing), line items are tallied per invoice (sums attached to each id's first
record: reconcile.line_tally), repeated ids and drafts are set aside and lines
without an invoice are named.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

from reconcile import hashed, line_tally, precision, quarantine, schema, tieout
from reconcile.config import Config
from reconcile.providers._base import Reject
from reconcile.rule_types._common import SourceData, fmt
from reconcile.schema import ROW, WIDE
from reconcile.sources import Loaded


@dataclass(frozen=True)
class SourceSummary:
    name: str
    provider: str
    records_read: int
    valid: int
    quarantined: int
    out_of_period: int
    in_period: int
    repeated_ids: int  # valid in-period rows whose invoice_id repeats (set aside after the first)
    #: in-period drafts: outside the close (not checked, matched or totalled; listed)
    drafts: int
    checked: int
    identical_repeats_dropped: int
    #: records a fetch read for the neighbouring periods only (timing; not in records_read)
    neighbours_read: int
    lines_read: int
    lines_valid: int
    lines_quarantined: int
    provided: frozenset[str]
    has_lines: bool
    period_field: str


def _set_aside_repeats(
    scoped: pl.DataFrame, records: pl.DataFrame
) -> tuple[pl.LazyFrame, pl.DataFrame, pl.DataFrame]:
    """(first record of each invoice_id in source order, the records after the first,
    ``records`` in source order).

    ``records`` are every record of the ids that occur more than once (invoice_id,
    currency and where it was read, see _identity): usually none, and then the frame
    is returned as it is, without a pass over millions of ids. The first records
    are a lazy filter of ``scoped``, not a copy of millions of rows: each reader
    takes its columns through it.
    """
    if records.is_empty():
        return scoped.lazy(), scoped.clear(), records
    records = records.sort(ROW)
    later = records.filter(~pl.col("invoice_id").is_first_distinct()).get_column(ROW).implode()
    is_later = pl.col(ROW).is_in(later)
    return scoped.lazy().filter(~is_later), scoped.lazy().filter(is_later).collect(), records


def _identity(scoped: pl.DataFrame) -> pl.DataFrame:
    """What names a record: invoice_id, currency and where it was read."""
    return scoped.select(
        "invoice_id", "currency", *(c for c in (ROW, "record_ref") if c in scoped.columns)
    )


#: line totals of the ids that have lines but no invoice among the checked ones
_HOMELESS: dict[str, pl.DataType] = {
    "invoice_id": pl.String(),
    "__lines": pl.UInt32(),
    "__sum": WIDE,
}


#: what the report lists of each draft set outside the close
DRAFT_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "invoice_id": pl.String(),
    "invoice_number": pl.String(),
    "customer_name": pl.String(),
    "currency": pl.String(),
    "total_minor": pl.Int64(),
    "location": pl.String(),
}


def _set_aside_drafts(
    checked: pl.LazyFrame, loaded: Loaded, derived: dict[str, pl.Expr]
) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """(the records the close checks, the drafts among them).

    A draft is not yet an invoice: it may still change or never be sent. It is
    outside the close: not checked, not matched, not in the control totals, not
    expected in the ledger; it is counted and listed. (A source without a status
    column, a ledger, has no drafts.)"""
    none = pl.DataFrame(schema=DRAFT_SCHEMA)
    if "status" not in checked.collect_schema().names():
        return checked, none
    is_draft = pl.col("status") == "draft"
    located = schema.widen(
        checked.filter(is_draft), schema.INVOICE_SCHEMA, loaded.constants, derived
    )
    drafts = located.select(
        pl.lit(loaded.name).alias("source"),
        *(pl.col(c) for c in ("invoice_id", "invoice_number", "customer_name", "currency")),
        pl.col("total_minor"),
        pl.col("record_ref").alias("location"),
    ).collect()
    if drafts.is_empty():
        return checked, none
    return checked.filter(~is_draft), drafts.cast(DRAFT_SCHEMA)  # type: ignore[arg-type]


def _locator(loaded: Loaded) -> dict[str, pl.Expr]:
    """``record_ref`` of a file source's invoices, built from the row (see SourceData.locate)."""
    if loaded.locator is None:
        return {}
    label, offset = loaded.locator
    return {"record_ref": fmt("{} row {}", pl.lit(label), pl.col(ROW) + offset)}


def _scoped(
    cfg: Config, period_field: str, valid: pl.DataFrame, loaded: Loaded, derived: dict[str, pl.Expr]
) -> tuple[pl.DataFrame, pl.LazyFrame | None]:
    """(the records of the period, the valid records of the neighbouring periods — as
    long as this one, either side — or None where the source is not scoped by period).

    A counterpart found among the neighbours explains a missing one as timing. The
    records a fetch read for the neighbouring periods only (Loaded.beside: Stripe's
    widened window) are neighbours whatever their dates say; one that fails the
    canonical schema is simply not a neighbour."""
    parts = []
    if loaded.beside is not None and loaded.beside.height:
        near = schema.validate_invoices(
            loaded.beside, loaded.normalized.provided, loaded.normalized.nullable
        ).valid
        parts.append(near.with_row_index(ROW))
    if period_field == "none":
        scoped = valid
    else:
        moment = pl.col(period_field)
        start, end = cfg.period_start, cfg.period_end
        span = end - start
        scoped = valid.filter(moment.is_null() | ((moment >= start) & (moment < end)))
        parts.append(
            valid.filter(
                ((moment >= start - span) & (moment < start))
                | ((moment >= end) & (moment < end + span))
            )
        )
    if not parts:
        return scoped, None
    neighbours = pl.concat(
        [schema.widen(p, schema.INVOICE_SCHEMA, loaded.constants, derived) for p in parts],
        how="diagonal_relaxed",
    )
    return scoped, neighbours.collect().lazy()


@dataclass(frozen=True)
class Prepared:
    """A source after the prepare stage: what the rules read, its counts, its schema
    findings (quarantined records, orphan lines) and its rounding summary."""

    data: SourceData
    summary: SourceSummary
    findings: pl.DataFrame
    rounding: pl.DataFrame
    #: the in-period drafts set outside the close (DRAFT_SCHEMA)
    drafts: pl.DataFrame = dataclasses.field(
        default_factory=lambda: pl.DataFrame(schema=DRAFT_SCHEMA)
    )


def prepare_source(cfg: Config, loaded: Loaded, keep_lines: bool) -> Prepared:
    """Validate, scope to the period, set repeated ids aside and attach line sums; then
    the control totals and the rounding summary of the checked invoices.

    ``keep_lines``: some rule reads the lines themselves (not only their sums);
    otherwise the line items are dropped once summed, which keeps a large month
    out of memory. (Returning lets the frames as read go: only the checked
    invoices stay.)
    """
    data, summary, findings, drafts = _prepare(cfg, loaded, keep_lines)
    totals, rounded = pl.collect_all(
        [
            tieout.control_totals(data.invoices),
            precision.rounding_summary(data.name, data.invoices, data.precision),
        ]
    )
    return Prepared(dataclasses.replace(data, totals=totals), summary, findings, rounded, drafts)


@dataclass(frozen=True)
class _Quarantined:
    """Records kept out of the rules: their keys (a pairing's counterpart lookup), their
    findings, and the rejects that are line items of a lines file."""

    records: pl.DataFrame
    findings: pl.DataFrame
    line_rejects: list[Reject]


def _quarantine(
    loaded: Loaded, failures: pl.DataFrame, derived: dict[str, pl.Expr]
) -> _Quarantined:
    out = loaded.normalized
    lines_file = loaded.lines_file
    line_rejects = [
        r for r in out.rejects if lines_file and r.location.startswith(lines_file + " row ")
    ]
    record_ref = derived.get("record_ref", pl.col("record_ref"))
    records = quarantine.records(  # (a line's reject is not an invoice: no counterpart)
        loaded.name,
        [r for r in out.rejects if r not in line_rejects],
        loaded.unreadable,
        loaded.invoices,
        failures,
        record_ref,
        loaded.constants,
    )
    findings = pl.concat(
        [
            schema.conform_findings(f)
            for f in (
                quarantine.reject_findings(out.rejects),
                quarantine.schema_findings(
                    loaded.name, loaded.invoices, failures, "", record_ref, loaded.constants
                ),
            )
        ]
    )
    return _Quarantined(records, findings, line_rejects)


def _repeats_and_homeless(
    scoped: pl.DataFrame, tally: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(every record of the ids that repeat, the line totals of ids without a checked
    invoice)."""
    if tally is None:  # no line items: only the repeated ids' records to find
        return hashed.repeated_rows(_identity(scoped), "invoice_id"), pl.DataFrame(schema=_HOMELESS)
    repeated, homeless = pl.collect_all(
        [
            tally.lazy().filter(pl.col("__n") > 1).select("invoice_id"),
            tally.lazy().filter(pl.col("__n") == 0).select(list(_HOMELESS)),
        ]
    )
    identity = _identity(scoped)
    records = (
        identity.clear()
        if repeated.is_empty()
        else hashed.with_keys(identity, "invoice_id", repeated.get_column("invoice_id"))
    )
    return records, homeless


def _orphans(loaded: Loaded, homeless: pl.DataFrame) -> pl.DataFrame:
    """Line totals of the ids the source has no invoice for at all (among every record
    read): named, never dropped silently. Lines follow their invoice out of the checks
    (quarantined, out of period), and a repeated id keeps its lines."""
    if not homeless.height:
        return homeless
    known = (
        loaded.invoices.lazy()
        .select("invoice_id")
        .filter(pl.col("invoice_id").is_in(homeless.get_column("invoice_id").implode()))
        .unique()
        .collect()
    )
    return homeless.join(known, on="invoice_id", how="anti")


def _kept_lines(
    loaded: Loaded, valid_lines: pl.DataFrame | pl.LazyFrame | None, homeless: pl.DataFrame
) -> pl.LazyFrame | None:
    """The valid lines the rules read (None: dropped once summed), without those of
    ids that have no checked invoice."""
    if valid_lines is None:
        return None
    if homeless.height:
        valid_lines = valid_lines.lazy().join(
            homeless.lazy().select("invoice_id"), on="invoice_id", how="anti"
        )
    return schema.widen(valid_lines, schema.LINE_SCHEMA, loaded.constants)


def _prepare(
    cfg: Config, loaded: Loaded, keep_lines: bool
) -> tuple[SourceData, SourceSummary, pl.DataFrame, pl.DataFrame]:
    """The stage proper (see :func:`prepare_source`)."""
    src_cfg = next(s for s in cfg.sources if s.name == loaded.name)
    out = loaded.normalized
    # finer-than-minor line amounts: their identities read the lines themselves
    keep_lines = keep_lines or loaded.line_precision.scale > 0
    inv = schema.validate_invoices(loaded.invoices, out.provided, out.nullable)
    derived = _locator(loaded)
    held = _quarantine(loaded, inv.failures, derived)
    scoped, neighbours = _scoped(cfg, src_cfg.period_field, inv.valid, loaded, derived)
    summed = line_tally.sum_lines(loaded, scoped, keep_lines)
    if out.has_lines:  # (a repeated id's sums go with its first record)
        scoped = line_tally.with_line_sums(scoped, summed.tally)
    repeated_records, homeless = _repeats_and_homeless(scoped, summed.tally)
    checked, extras, repeated_records = _set_aside_repeats(scoped, repeated_records)
    checked, drafts = _set_aside_drafts(checked, loaded, derived)
    orphans = _orphans(loaded, homeless)
    orphan_lines = int(orphans["__lines"].sum()) if orphans.height else 0
    findings = pl.concat(
        [held.findings, summed.findings]
        + ([quarantine.orphan_findings(loaded.name, orphans)] if orphan_lines else [])
    )
    # invoices whose line sums are unknown: a line quarantined, or sent without lines
    unknown_sums = [r.invoice_id for r in held.line_rejects if r.invoice_id is not None]
    unknown_sums += sorted(out.lines_unknown)
    incomplete = pl.concat(
        [
            summed.quarantined.select("invoice_id"),
            pl.DataFrame({"invoice_id": unknown_sums}, schema={"invoice_id": pl.String}),
        ]
    ).unique()
    data = SourceData(
        name=loaded.name,
        provider=src_cfg.provider,
        role=src_cfg.role,
        invoices=schema.widen(checked, schema.INVOICE_SCHEMA, loaded.constants, derived),
        all_invoices=schema.widen(scoped, schema.INVOICE_SCHEMA, loaded.constants, derived),
        lines=_kept_lines(loaded, summed.valid, homeless),
        provided=out.provided,
        has_lines=out.has_lines,
        incomplete_lines=incomplete,
        locator=loaded.locator,
        repeated=repeated_records,
        sums_attached=out.has_lines,
        neighbours=neighbours,
        precision=loaded.precision,
        line_precision=loaded.line_precision
        if summed.valid is None
        else precision.product_places(loaded.line_precision, summed.valid),
        lines_file=loaded.lines_file,
        quarantined=held.records,
    )
    summary = SourceSummary(
        name=loaded.name,
        provider=src_cfg.provider,
        records_read=out.records_read,
        valid=inv.valid.height,
        quarantined=out.records_read - inv.valid.height,
        out_of_period=inv.valid.height - scoped.height,
        in_period=scoped.height,
        repeated_ids=extras.height,
        drafts=drafts.height,
        checked=scoped.height - extras.height - drafts.height,
        identical_repeats_dropped=out.duplicates_dropped,
        neighbours_read=out.neighbours_read,
        lines_read=summed.read + len(held.line_rejects),
        lines_valid=summed.ok - orphan_lines,
        lines_quarantined=summed.quarantined.height + len(held.line_rejects) + orphan_lines,
        provided=out.provided,
        has_lines=out.has_lines,
        period_field=src_cfg.period_field,
    )
    return data, summary, findings.with_columns(pl.col("currency").cast(pl.String)), drafts
