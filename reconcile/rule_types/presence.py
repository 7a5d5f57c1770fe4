"""Presence: every record on either side of a pairing has a counterpart.

``unbooked:`` (statuses, e.g. ``[void]``): on a pairing of a billing source with a
ledger, the billing records of these statuses need none: a void invoice is not
booked (reconcile.rule_types.not_booked finds one that is). The tie-out counts what
they leave out of the books as its own part."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import polars as pl

from reconcile.rule_types._common import PairData, SourceData, evaluated, fmt
from reconcile.rule_types.not_booked import billing_side, statuses_of
from reconcile.schema import ROW, WIDE

if TYPE_CHECKING:
    from reconcile.ruleset import Rule
    from reconcile.sql import Where


@dataclass(frozen=True)
class Presence:
    name: ClassVar[str] = "presence"
    keys: ClassVar[frozenset[str]] = frozenset({"unbooked"})
    needs_lines: ClassVar[bool] = False
    reads_lines: ClassVar[bool] = False
    unique_key: ClassVar[str | None] = None
    #: its rows are line items (a rule filter then reads line columns)
    line_rows: ClassVar[bool] = False
    pairwise: ClassVar[Literal[True]] = True

    #: statuses a billing record needs no booking in: its ledger counterpart may be absent
    unbooked: tuple[str, ...] = ()

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Where) -> Presence:
        return cls(statuses_of(raw, "unbooked", where))

    def invoice_columns(self) -> frozenset[str]:
        return frozenset({"status"}) if self.unbooked else frozenset()

    def exempt(self, pair: PairData, left: bool) -> pl.Expr:
        """True for an unmatched record of that side that needs no counterpart: a
        billing record of an ``unbooked`` status, paired with a ledger."""
        side = billing_side(pair)
        if not self.unbooked or side is None or (side == "") != left:
            return pl.lit(False)
        return pl.col("status").is_in(list(self.unbooked)).fill_null(False)

    def evaluate(self, rule: Rule, pair: PairData) -> pl.LazyFrame:
        """Every record of both sides, with the side's key and the other side's name."""

        def side(frame: pl.LazyFrame, data: SourceData, key: str, matched: bool) -> pl.LazyFrame:
            # Where the record was read, built as text only for the failing rows
            # (render): a file source carries its row number, others record_ref.
            row = pl.col(ROW).cast(pl.Int64) if data.locator else pl.lit(None, pl.Int64)
            ref = pl.lit(None, pl.String) if data.locator else pl.col("record_ref")
            # Names and keys are literals added in render, to the failing rows only.
            return frame.select(
                "invoice_id",
                "currency",
                row.alias("__at_row"),
                ref.alias("__at_ref"),
                pl.col("__key"),
                pl.col("total_minor"),
                (pl.col("__timing") if not matched else pl.lit(False)).alias("__timing"),
                (pl.col("__quarantined") if not matched else pl.lit(None, pl.String)).alias(
                    "__quarantined"
                ),
                (pl.lit(True) if matched else self.exempt(pair, data is pair.left)).alias("ok"),
                pl.lit(None, WIDE).alias("delta_minor"),
                pl.lit(data is pair.left).alias("__left"),
            )

        return pl.concat(
            [
                side(pair.matched, pair.left, pair.left_key, True),
                side(pair.left_only, pair.left, pair.left_key, False),
                side(pair.right_only, pair.right, pair.right_key, False),
            ]
        )

    def render(self, rule: Rule, failed: pl.LazyFrame, target: PairData) -> pl.LazyFrame:
        def where(data: SourceData) -> pl.Expr:
            if data.locator is None:
                return pl.col("__at_ref")
            label, offset = data.locator
            return fmt("{} row {}", pl.lit(label), pl.col("__at_row") + offset)

        def either(left: str, right: str) -> pl.Expr:
            return pl.when(pl.col("__left")).then(pl.lit(left)).otherwise(pl.lit(right))

        left, right = target.left, target.right
        location = pl.when(pl.col("__left")).then(where(left)).otherwise(where(right))
        source, other = either(left.name, right.name), either(right.name, left.name)
        key_name = either(target.left_key, target.right_key)
        timing = pl.col("__timing").fill_null(False)
        quarantined = pl.col("__quarantined").is_not_null()
        # delta: what the record's absence moves (right − left) by, in its currency
        signed = (
            pl.when(pl.col("__left"))
            .then(0 - pl.col("total_minor"))
            .otherwise(pl.col("total_minor"))
        )
        record = fmt(
            "{} invoice {} ({} {})", source, pl.col("invoice_id"), key_name, pl.col("__key")
        )
        return evaluated(
            failed,
            source=source,
            invoice_id=pl.col("invoice_id"),
            counterpart_source=other,
            field=key_name,
            delta_minor=signed,
            currency=pl.col("currency"),
            location=location,
            ok=pl.col("ok"),
            classification=pl.when(quarantined)
            .then(pl.lit("counterpart_quarantined"))
            .when(timing)
            .then(pl.lit("timing"))
            .otherwise(pl.lit("missing")),
            expected=fmt("a {} record with {} = {}", other, key_name, pl.col("__key")),
            actual=pl.when(quarantined).then(
                fmt(  # its schema finding's rule (where: message)
                    "quarantined ({})", pl.col("__quarantined").str.extract(r"\(([^()]*)\)$")
                )
            ),
            message=pl.when(quarantined)
            .then(
                fmt(
                    "{}: its counterpart in {} exists but is quarantined, {}; the two could not "
                    "be compared.",
                    record,
                    other,
                    pl.col("__quarantined"),
                )
            )
            .when(timing)
            .then(
                fmt(
                    "{} has no counterpart in {} in this period; {} has one in a neighbouring "
                    "period (timing).",
                    record,
                    other,
                    other,
                )
            )
            .otherwise(fmt("{} has no counterpart in {}.", record, other)),
        )
