"""What every rule type shares: the targets it reads and the shape it returns.

A rule type has two steps. ``evaluate`` returns a LazyFrame of *evaluated
units* (invoices, invoice pairs, keys) with at least ``ok``, ``delta_minor`` and
``currency``: ``ok`` is True for a pass, False for a failure and null when an
input was null (not applicable for that row, counted as N/A, never as a pass);
``delta_minor`` is actual − expected when the check is numeric, and a pass with
a non-zero delta only held thanks to tolerance (counted as absorbed).
``render(rule, failed, target)`` turns the *failing* units only into the
:data:`EVALUATED` finding columns (messages, formatted amounts), so a clean row
costs no string work; ``target`` is the source or pairing evaluated, for a
render that needs more than the failing rows (uniqueness names every record).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from reconcile.money import format_minor_expr
from reconcile.precision import Precision, exact_view, wide_view
from reconcile.schema import INVOICE_SCHEMA, WIDE

if TYPE_CHECKING:
    from reconcile.sql import Where

EVALUATED: dict[str, pl.DataType] = {
    "source": pl.String(),
    "invoice_id": pl.String(),
    "counterpart_source": pl.String(),
    "counterpart_invoice_id": pl.String(),
    "field": pl.String(),
    "currency": pl.String(),
    "ok": pl.Boolean(),
    "delta_minor": WIDE,
    "expected": pl.String(),
    "actual": pl.String(),
    "message": pl.String(),
    "location": pl.String(),
    "classification": pl.String(),
}

RIGHT = "__r"  # suffix of the right side's columns in a matched pairing


@dataclass(frozen=True)
class SourceData:
    """One source's checked invoices (valid, in period, duplicates removed) and lines."""

    name: str
    provider: str
    #: checked invoices: one row per invoice_id (the first when an id repeats)
    invoices: pl.LazyFrame
    #: every valid in-period row, duplicates included (what uniqueness reads)
    all_invoices: pl.LazyFrame
    #: valid lines of the checked invoices; None when no rule reads lines beyond
    #: their sums (the pipeline then drops them once summed, see ``sums_attached``)
    lines: pl.LazyFrame | None
    provided: frozenset[str]
    has_lines: bool
    #: invoice_id of invoices with a quarantined line: line sums are N/A for them
    incomplete_lines: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"invoice_id": pl.String})
    )
    #: "billing" (it bills: a void invoice is not booked) or "ledger" (the books)
    role: str = "billing"
    #: for file sources: (file as findings show it, number of its first data row); the
    #: records carry their row index ``__row`` and ``record_ref`` is built from it only
    #: for the rows a finding names. ``None``: ``record_ref`` is a column.
    locator: tuple[str, int] | None = None
    #: every record of the ids that repeat in ``all_invoices`` (invoice_id, currency,
    #: ``__row`` / record_ref), found while setting repeats aside; uniqueness of
    #: invoice_id reads it instead of counting millions of ids again
    repeated: pl.DataFrame | None = None
    #: ``invoices`` carries ``__sum`` (Σ amount_minor of valid lines, null when none)
    sums_attached: bool = False
    #: valid records of the neighbouring periods (None: the source is not scoped by
    #: period); a pairing's missing counterpart found here is classified as timing
    neighbours: pl.LazyFrame | None = None
    #: per currency of the checked invoices: invoices, total_minor (their sum),
    #: missing_total (null totals); the control totals, computed once per source
    totals: pl.DataFrame | None = None
    #: how finely the invoices' and the lines' amounts are stated (reconcile.precision)
    precision: Precision = field(default_factory=Precision)
    line_precision: Precision = field(default_factory=Precision)
    #: file sources with lines: the lines file as findings show it (line_no is its row)
    lines_file: str | None = None
    #: invoice_id, key columns and the schema finding of each quarantined record that
    #: has an id: a pairing names it as the counterpart of an unmatched record
    quarantined: pl.DataFrame | None = None

    def locate(self, suffix: str = "") -> pl.Expr:
        """Where a record was read (``record_ref``), for the rows a finding names."""
        if self.locator is None:
            return pl.col("record_ref" + suffix)
        label, offset = self.locator
        return fmt("{} row {}", pl.lit(label), pl.col("__row" + suffix) + offset)

    def locate_line(self) -> pl.Expr:
        """Where a line item was read: ``record_ref``, or a lines file's row."""
        if self.lines_file is None:
            return pl.col("record_ref")
        return pl.col("record_ref").fill_null(
            fmt("{} row {}", pl.lit(self.lines_file), pl.col("line_no"))
        )

    def widened(self) -> SourceData:
        """This source with its Int64 money columns widened (precision.wide_view): what
        a rule's filter reads, so that its arithmetic cannot wrap."""
        return dataclasses.replace(
            self,
            invoices=wide_view(self.invoices),
            all_invoices=wide_view(self.all_invoices),
            lines=None if self.lines is None else wide_view(self.lines),
        )

    def exact(self) -> SourceData:
        """This source as its own identities read it: amounts exactly as stated (the
        ``__x_`` twins where finer than the minor unit; see reconcile.precision)."""
        return dataclasses.replace(
            self,
            invoices=exact_view(self.invoices, self.precision),
            lines=None
            if self.lines is None
            else exact_view(self.lines, self.line_precision, lines=True),
        )


@dataclass(frozen=True)
class PairData:
    """A pairing after matching: matched rows (left columns + right columns with ``__r``)."""

    name: str
    left: SourceData
    right: SourceData
    left_key: str
    right_key: str
    #: one row per matched key: left columns, ``__key``, ``__n`` (records in the left
    #: group), right columns with ``__r`` (a "many" side summed; ids listed)
    matched: pl.LazyFrame
    #: unmatched records of each side, with ``__key`` (null: the record has no key)
    left_only: pl.LazyFrame
    right_only: pl.LazyFrame
    #: the matching.Pairing (key, cardinality, tolerance)
    pairing: Any = None
    #: records of the keys that break the cardinality: __left, invoice_id, currency,
    #: total_minor, __key, __n (records with the key on that side)
    ambiguous: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={
                "__left": pl.Boolean,
                "invoice_id": pl.String,
                "currency": pl.String,
                "total_minor": pl.Int64,
                "__key": pl.String,
                "__n": pl.UInt32,
            }
        )
    )
    #: records per side: matched / unmatched / ambiguous (and the ambiguous keys)
    counts: dict[str, int] = field(default_factory=dict)
    #: per side, for a "many" side: its records' ``__key``, ``invoice_id`` (and
    #: ``__row``): a matched group carries its first id; findings list them all
    members: tuple[pl.LazyFrame | None, pl.LazyFrame | None] = (None, None)

    def widened(self) -> PairData:
        """Matched and unmatched rows with their Int64 money columns (both sides)
        widened (precision.wide_view), so that a filter or a comparison cannot wrap."""
        return dataclasses.replace(
            self,
            matched=wide_view(self.matched, ("", RIGHT)),
            left_only=wide_view(self.left_only),
            right_only=wide_view(self.right_only),
        )

    def with_member_ids(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        """``frame`` (matched rows) with ``__ids`` / ``__ids__r``: the invoice id, or for
        a "many" side every member's id in source order, joined by ", "."""
        out = frame
        for members, suffix in zip(self.members, ("", RIGHT), strict=True):
            name = "__ids" + suffix
            if members is None:
                out = out.with_columns(pl.col("invoice_id" + suffix).alias(name))
                continue
            order = [c for c in ("__row",) if c in members.collect_schema().names()]
            ids = (
                members.lazy()
                .join(out.select("__key").unique(), on="__key", how="semi")
                .sort(order or "invoice_id")
                .group_by("__key")
                .agg(pl.col("invoice_id").alias(name))
                .with_columns(pl.col(name).list.join(", "))
            )
            out = out.join(ids, on="__key", how="left")
        return out


def evaluated(frame: pl.LazyFrame, **columns: Any) -> pl.LazyFrame:
    """Select the EVALUATED columns; missing ones are null of the right type."""
    exprs = []
    for name, dtype in EVALUATED.items():
        value = columns.get(name)
        if value is None:
            exprs.append(pl.lit(None, dtype).alias(name))
        elif isinstance(value, pl.Expr):
            exprs.append(value.cast(dtype).alias(name))
        else:
            exprs.append(pl.lit(value, dtype).alias(name))
    return frame.select(exprs)


def money(expr: pl.Expr, currency: pl.Expr | None = None, extra: int = 0) -> pl.Expr:
    """A minor-unit amount formatted with its currency's decimals, e.g. ``12.50 USD``;
    ``extra``: in units of 10^-extra minor units, shown with the places it needs
    (``117.225 USD``), never fewer than the currency's."""
    currency = pl.col("currency") if currency is None else currency
    text = format_minor_expr(expr, currency, extra)
    if extra:
        text = text.str.replace(f"0{{1,{extra}}}$", "").str.strip_suffix(".")
    return pl.concat_str([text, pl.lit(" "), currency])


def fmt(template: str, *parts: pl.Expr) -> pl.Expr:
    """``"{} invoice {}"`` with expressions in the ``{}``; a null part shows as ``—``.

    Built on ``pl.concat_str`` rather than ``pl.format``: in Polars 2.1 the
    streaming engine panics (``binview/mod.rs: i < self.len()``) evaluating
    ``pl.format`` over a filtered multi-chunk frame, which is exactly where
    finding messages are built.
    """
    pieces = template.split("{}")
    if len(pieces) != len(parts) + 1:
        raise ValueError(f"template {template!r} needs {len(pieces) - 1} parts")
    exprs: list[pl.Expr] = []
    for text_piece, part in zip(pieces, [*parts, None], strict=True):
        if text_piece:
            exprs.append(pl.lit(text_piece))
        if part is not None:
            exprs.append(part.cast(pl.String).fill_null("—"))
    return pl.concat_str(exprs)


_KINDS = {pl.Int64(): "a minor-unit money column", pl.String(): "a canonical text column"}


def canonical_column(
    raw: Mapping[str, Any],
    key: str,
    where: Where,
    dtype: pl.DataType,
    default: str | None = None,
    schema: Mapping[str, pl.DataType] = INVOICE_SCHEMA,
) -> str:
    """The rule key ``key`` naming a canonical column of ``dtype`` (in ``schema``)."""
    from reconcile import yamlio

    column = raw.get(key, default)
    if schema.get(column) != dtype:
        raise where.error(
            f"{key!r} must be {_KINDS[dtype]} (got {column!r})", yamlio.line_of(raw, key)
        )
    return str(column)
