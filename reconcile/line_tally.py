"""Line items in the prepare stage: validated, and tallied with their invoices in one
pass (per invoice id: how many invoices, its first record, its lines, their sum and
whether they all pass), the sums then attached to each id's first record.

(The speed technique, folding lines that come grouped by invoice into runs, is
:func:`runs`, chosen inside :func:`tally`; tests/test_tally.py holds it to the
plain per-line tally.)
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from reconcile import quarantine, schema
from reconcile.rule_types._common import fmt
from reconcile.schema import ROW, WIDE
from reconcile.sources import Loaded


def with_line_sums(scoped: pl.DataFrame, counted: pl.DataFrame | None) -> pl.DataFrame:
    """``scoped`` with ``__lines``/``__sum`` on each id's first record (null when an
    invoice has no line, and on the records of an id after its first).

    The tally names each id's first record (``__first``, its ``__row``): the sums
    are scattered to those rows and gathered back at ``scoped``'s rows, integer
    work only (a join on millions of string ids costs several times more).
    """
    rows = scoped.get_column(ROW)
    if rows.is_empty() or counted is None:
        return scoped.with_columns(
            pl.lit(None, pl.UInt32).alias("__lines"), pl.lit(None, WIDE).alias("__sum")
        )
    owned = counted.lazy().filter((pl.col("__n") > 0) & (pl.col("__lines") > 0)).collect()
    size = int(rows.max()) + 1  # type: ignore[arg-type]
    at = owned.get_column("__first")
    # distinct row numbers (a row index, filtered): ascending and as many as the
    # largest + 1 means every row, in order, and the gather is the identity
    every_row = rows.len() == size and rows.is_sorted()
    attached = []
    for name, dtype in (("__lines", pl.UInt32), ("__sum", WIDE)):
        by_row = pl.Series(name, [None], dtype).extend_constant(None, size - 1)
        by_row.scatter(at, owned.get_column(name))
        attached.append(by_row if every_row else by_row.gather(rows))
    return scoped.with_columns(attached)


@dataclass
class Lines:
    """A source's line items once validated and summed (the lines themselves are let go)."""

    tally: pl.DataFrame | None  # per invoice id (see tally); None: the source has no lines
    findings: pl.DataFrame  # schema findings of the lines
    quarantined: pl.DataFrame
    valid: pl.DataFrame | pl.LazyFrame | None  # kept only when a rule reads the lines
    read: int
    ok: int


#: rows of the line items looked at to judge whether they come grouped by invoice
RUN_SAMPLE = 100_000


def runs(lines: pl.LazyFrame, ok: pl.Expr) -> pl.LazyFrame:
    """Line items folded into runs of one invoice id (consecutive rows with the same
    id): per run the id, ``__lines``, ``__sum`` and ``__ok``, as the tally takes them.

    Line items nearly always come grouped by invoice (nested in it by every API, an
    export sorted by invoice): five lines of one invoice then reach the tally's
    string group-by as one row. Lines in no order would gain nothing and cost a
    second pass, so a sample of the first rows decides (see tally).
    """
    # (the run as a column: grouping by the rle_id expression itself is not
    # streamed and takes nearly twice as long)
    return (
        lines.with_columns(pl.col("invoice_id").rle_id().alias("__run"))
        .group_by("__run")
        .agg(
            pl.col("invoice_id").first(),
            pl.len().cast(pl.UInt32).alias("__lines"),
            pl.col("amount_minor").cast(WIDE).sum().alias("__sum"),  # (Int64 would wrap)
            ok.all().alias("__ok"),
        )
        .drop("__run")
    )


def tally(
    scoped: pl.DataFrame, lines: pl.DataFrame | pl.LazyFrame, ok: pl.Expr | None = None
) -> pl.LazyFrame:
    """One group-by per invoice id over the invoices and their lines together.

    Per id: ``__n`` invoices in ``scoped``, ``__first`` (the ``__row`` of the first),
    ``__lines`` and ``__sum`` (Σ amount_minor) of its lines, and ``__ok`` (each of
    its lines passes ``ok``). Kept: the ids that repeat or have lines. This one
    pass counts the repeats, sums the lines and finds the lines whose invoice is
    not there (``__n`` = 0), where a count, a group-by and a join would read the
    ids three times. Lines that come grouped by invoice are first folded into runs
    (runs), which takes about a tenth off the whole at five lines per invoice.
    """
    first = pl.col("__first")
    ok = pl.lit(True) if ok is None else ok
    lines = lines.lazy()
    sample = (
        lines.head(RUN_SAMPLE)
        .select(pl.col("invoice_id").rle_id().max().fill_null(0) + 1, pl.len())
        .collect()
        .row(0)
    )
    if sample[0] * 2 <= sample[1]:  # (at least two lines per run on average)
        line_ids = runs(lines, ok).select(
            "invoice_id", pl.lit(None, pl.UInt32).alias("__first"), "__lines", "__sum", "__ok"
        )
    else:
        line_ids = lines.select(
            "invoice_id",
            pl.lit(None, pl.UInt32).alias("__first"),
            pl.lit(1, pl.UInt32).alias("__lines"),
            pl.col("amount_minor").cast(WIDE).alias("__sum"),
            ok.alias("__ok"),
        )
    invoices = scoped.lazy().select(
        "invoice_id",
        pl.col(ROW).alias("__first"),
        pl.lit(None, pl.UInt32).alias("__lines"),
        pl.lit(None, WIDE).alias("__sum"),
        pl.lit(None, pl.Boolean).alias("__ok"),
    )
    return (
        pl.concat([invoices, line_ids])
        .group_by("invoice_id")
        .agg(
            first.count().cast(pl.UInt32).alias("__n"),
            first.min(),
            pl.col("__lines").sum().cast(pl.UInt32),
            pl.col("__sum").sum(),
            pl.col("__ok").all(),
        )
        .filter((pl.col("__n") > 1) | (pl.col("__lines") > 0))
    )


def sum_lines(loaded: Loaded, scoped: pl.DataFrame, keep_lines: bool) -> Lines:
    """Validate the line items and tally them with the ``scoped`` invoices (tally).

    Streamed lines (a Parquet scan) are screened and tallied in one pass and never
    held whole; if some line would fail, they are read whole and pandera
    validates them like any other frame, naming every failure.
    """
    if (
        not loaded.normalized.has_lines
        and isinstance(loaded.lines, pl.DataFrame)
        and loaded.lines.is_empty()
    ):  # a source without line items: nothing to check
        return Lines(
            None, schema.no_findings(), loaded.lines, loaded.lines if keep_lines else None, 0, 0
        )
    location = pl.col("record_ref")
    if loaded.lines_file is not None:  # file lines: located by their file row
        location = location.fill_null(
            fmt("{} row {}", pl.lit(loaded.lines_file), pl.col("line_no"))
        )

    if isinstance(loaded.lines, pl.LazyFrame):
        streamed = loaded.lines
        screen, model = schema.screen_lines(streamed)
        # one scan: the tally, and per invoice whether all its lines pass the checks
        streamed_tally = tally(scoped, streamed, screen).collect()
        if streamed_tally.get_column("__ok").all():
            schema.validate_schema_only(streamed, model)
            read = int(streamed_tally.get_column("__lines").sum() or 0)
            loaded.lines = streamed.clear()
            return Lines(
                streamed_tally,
                schema.no_findings(),
                pl.DataFrame(schema=schema.LINE_SCHEMA),
                streamed if keep_lines else None,
                read,
                read,
            )
        loaded.lines = streamed.collect()  # some line fails: pandera names every failure
    validated = schema.validate_lines(loaded.lines)
    # (no line at all: nothing to tally; the caller finds the repeated ids alone)
    counted = tally(scoped, validated.valid).collect() if validated.valid.height else None
    found = schema.conform_findings(
        quarantine.schema_findings(
            loaded.name, loaded.lines, validated.failures, "line.", location, loaded.constants
        )
    )
    ok = validated.valid.height
    result = Lines(
        counted,
        found,
        validated.quarantined,
        validated.valid if keep_lines else None,
        ok + validated.quarantined.height,
        ok,
    )
    # Summed: unless a rule reads the lines themselves, let them go (the caller
    # hands over ``loaded``; a large month's lines are most of it).
    loaded.lines = loaded.lines.clear()
    return result
