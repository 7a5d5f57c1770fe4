"""Not booked: a billing system's invoice of these statuses (void) has no booking.

A void invoice was cancelled before it was owed: the books must not hold it. On a
pairing of a billing source with a ledger (``role:`` in the config), a matched pair
whose billing side has one of ``statuses`` is a finding (``void_booked``); one
without a booking is as it should be, and the presence rule does not call it
missing (its ``unbooked:``). Pairings of two billing systems (a mirror) or two
ledgers have nothing to check here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import polars as pl

from reconcile import yamlio
from reconcile.rule_types._common import RIGHT, PairData, evaluated, fmt, money
from reconcile.schema import STATUSES, WIDE

if TYPE_CHECKING:
    from reconcile.ruleset import Rule
    from reconcile.sql import Where


def billing_side(pair: PairData) -> str | None:
    """``""`` when the pairing's left side is a billing source booked in a ledger on
    the right, ``RIGHT`` for the other way round, None for any other pairing."""
    roles = (pair.left.role, pair.right.role)
    return {("billing", "ledger"): "", ("ledger", "billing"): RIGHT}.get(roles)


def statuses_of(raw: Mapping[str, Any], key: str, where: Where) -> tuple[str, ...]:
    """A rule's list of canonical statuses under ``key`` (none when absent)."""
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(v in STATUSES for v in value):
        raise where.error(
            f"{key!r} must be a list of statuses ({', '.join(STATUSES)})",
            yamlio.line_of(raw, key),
        )
    return tuple(value)


@dataclass(frozen=True)
class NotBooked:
    name: ClassVar[str] = "not_booked"
    keys: ClassVar[frozenset[str]] = frozenset({"statuses"})
    needs_lines: ClassVar[bool] = False
    reads_lines: ClassVar[bool] = False
    unique_key: ClassVar[str | None] = None
    line_rows: ClassVar[bool] = False
    pairwise: ClassVar[Literal[True]] = True

    statuses: tuple[str, ...]

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Where) -> NotBooked:
        statuses = statuses_of(raw, "statuses", where)
        if not statuses:
            raise where.error(
                "'statuses' must name at least one status", yamlio.line_of(raw, "statuses")
            )
        return cls(statuses)

    def invoice_columns(self) -> frozenset[str]:
        return frozenset({"status", "record_ref", "total_minor", "currency"})

    def evaluate(self, rule: Rule, pair: PairData) -> pl.LazyFrame:
        """The matched pairs of a billing ↔ ledger pairing (none for another pairing)."""
        side = billing_side(pair)
        matched = pair.matched if side is not None else pair.matched.filter(pl.lit(False))
        status = pl.col("status" + (side or ""))
        return matched.with_columns(
            (~status.is_in(list(self.statuses))).fill_null(True).alias("ok"),
            pl.lit(None, WIDE).alias("delta_minor"),
        )

    def render(self, rule: Rule, failed: pl.LazyFrame, target: PairData) -> pl.LazyFrame:
        side = billing_side(target) or ""
        book = RIGHT if side == "" else ""
        bill, books = (target.left, target.right) if side == "" else (target.right, target.left)
        failed = target.with_member_ids(failed)
        booked = money(pl.col("total_minor" + book), pl.col("currency" + book))
        return evaluated(
            failed,
            source=pl.lit(bill.name),
            invoice_id=pl.col("__ids" + side),
            counterpart_source=pl.lit(books.name),
            counterpart_invoice_id=pl.col("__ids" + book),
            field="status",
            currency=pl.col("currency" + side),
            location=bill.locate(side),
            ok=pl.col("ok"),
            delta_minor=pl.col("delta_minor"),
            classification=pl.lit("void_booked"),
            expected=pl.lit("not booked"),
            actual=fmt("booked as {}: {}", pl.col("__ids" + book), booked),
            message=fmt(
                "{} invoice {} is {}, yet {} books it as {} ({}): an invoice that was "
                "never owed must not be in the books.",
                pl.lit(bill.name),
                pl.col("__ids" + side),
                pl.col("status" + side),
                pl.lit(books.name),
                pl.col("__ids" + book),
                booked,
            ),
        )
