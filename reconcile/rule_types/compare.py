"""Cross-source compare: a field of the same invoice agrees on both sides of a pairing.

Money fields compare in minor units with the rule's tolerance (keyed by the
left side's currency); other fields (``currency``) compare exactly. The left
side's value is *expected*, the right side's *actual*, ``delta = right − left``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import polars as pl

from reconcile import yamlio
from reconcile.precision import EXACT
from reconcile.rule_types._common import RIGHT, PairData, evaluated, fmt, money
from reconcile.schema import INVOICE_SCHEMA, WIDE

if TYPE_CHECKING:
    from reconcile.ruleset import Rule
    from reconcile.sql import Where


@dataclass(frozen=True)
class Compare:
    name: ClassVar[str] = "compare"
    keys: ClassVar[frozenset[str]] = frozenset({"field"})
    needs_lines: ClassVar[bool] = False
    reads_lines: ClassVar[bool] = False
    unique_key: ClassVar[str | None] = None
    #: its rows are line items (a rule filter then reads line columns)
    line_rows: ClassVar[bool] = False
    pairwise: ClassVar[Literal[True]] = True

    field: str

    @classmethod
    def compile(cls, raw: Mapping[str, Any], where: Where) -> Compare:
        field = raw.get("field")
        if field not in INVOICE_SCHEMA or field in {"source", "record_ref"}:
            raise where.error(
                f"'field' must be a canonical invoice column (got {field!r})",
                yamlio.line_of(raw, "field"),
            )
        return cls(field)

    def invoice_columns(self) -> frozenset[str]:
        return frozenset({self.field, "currency"})

    def evaluate(self, rule: Rule, pair: PairData) -> pl.LazyFrame:
        left, right = pl.col(self.field), pl.col(self.field + RIGHT)
        cur_l, cur_r = pl.col("currency"), pl.col("currency" + RIGHT)
        if INVOICE_SCHEMA[self.field] != pl.Int64():
            return pair.matched.with_columns(
                (left == right).alias("ok"), pl.lit(None, WIDE).alias("delta_minor")
            )
        # The pairing's own tolerance, if it declares one, else the rule's.
        tolerance = pair.pairing.tolerance or rule.tolerance
        delta = right - left
        # Amounts in different currencies are not comparable: N/A here, and the
        # currency rule reports the pair (classification currency_mismatch).
        ok = pl.when(cur_l == cur_r).then(delta.abs() <= tolerance.expr(cur_l, left))
        return pair.matched.with_columns(ok.alias("ok"), delta.alias("delta_minor"))

    def render(self, rule: Rule, failed: pl.LazyFrame, target: PairData) -> pl.LazyFrame:
        failed = target.with_member_ids(failed)  # a "many" side names all its records
        left, right = pl.col(self.field), pl.col(self.field + RIGHT)
        cur_l, cur_r = pl.col("currency"), pl.col("currency" + RIGHT)
        source, other = pl.lit(target.left.name), pl.lit(target.right.name)
        base = dict(
            source=source,
            invoice_id=pl.col("__ids"),
            counterpart_source=other,
            counterpart_invoice_id=pl.col("__ids" + RIGHT),
            field=self.field,
            currency=cur_l,
            location=target.left.locate(),
            ok=pl.col("ok"),
            delta_minor=pl.col("delta_minor"),
        )
        if INVOICE_SCHEMA[self.field] == pl.Int64():
            kind = classify(left, right, rounding_only(target, self.field))
            delta = pl.col("delta_minor")
            # the difference as a percentage of the left amount, 2 decimals, no floats
            # (truncated toward zero; "n/a" against a zero left amount)
            hundredths = delta.abs().cast(pl.Int128) * 10_000 // left.abs()
            percent = (
                pl.when(left != 0)
                .then(
                    pl.concat_str(
                        [
                            pl.when(delta < 0).then(pl.lit("-")).otherwise(pl.lit("")),
                            (hundredths // 100).cast(pl.String),
                            pl.lit("."),
                            (hundredths % 100 + 100).cast(pl.String).str.slice(1),
                            pl.lit(" %"),
                        ],
                    )
                )
                .otherwise(pl.lit("n/a"))
            )
            return evaluated(
                failed,
                **base,
                expected=money(left, cur_l),
                actual=money(right, cur_r),
                classification=kind,
                message=fmt(
                    "{} invoice {} has {} {} but {} {} has {}, a difference of {} ({}): {}.",
                    source,
                    pl.col("__ids"),
                    pl.lit(self.field),
                    money(left, cur_l),
                    other,
                    pl.col("__ids" + RIGHT),
                    money(right, cur_r),
                    money(delta, cur_l),
                    percent,
                    kind.str.replace_all("_", " "),
                ),
            )
        as_text = left.cast(pl.String), right.cast(pl.String)
        kind = pl.lit("currency_mismatch" if self.field == "currency" else None, pl.String)
        return evaluated(
            failed,
            **base,
            expected=as_text[0],
            actual=as_text[1],
            classification=kind,
            message=fmt(
                "{} invoice {} has {} {} but {} {} has {}.",
                source,
                pl.col("__ids"),
                pl.lit(self.field),
                as_text[0],
                other,
                pl.col("__ids" + RIGHT),
                as_text[1],
            ),
        )


def rounding_only(pair: PairData, field: str) -> pl.Expr:
    """True for a matched pair whose ``field`` differs only because a side finer than
    the minor unit was rounded: some side's exact amount is not whole minor units, and
    the exact amounts are less than one minor unit apart (the coarse side is a
    rounding of the fine one, or both round to neighbours). False where both sides
    state whole minor units: any difference between them is a real one."""
    scales = (pair.left.precision.scale, pair.right.precision.scale)
    names = set(pair.matched.collect_schema().names())
    exact_l, exact_r = EXACT + field, EXACT + field + RIGHT
    if not any(scales) or (exact_l not in names and exact_r not in names):
        return pl.lit(False)
    wide = max(scales)

    def side(exact: str, plain: str, scale: int) -> tuple[pl.Expr, pl.Expr]:
        minor = pl.col(plain).cast(pl.Int128) * pl.lit(10**wide, pl.Int128)
        if exact not in names:
            return minor, pl.lit(False)
        value = pl.col(exact).to_physical() * pl.lit(10 ** (wide - scale), pl.Int128)
        return value, value != minor

    value_l, rounded_l = side(exact_l, field, scales[0])
    value_r, rounded_r = side(exact_r, field + RIGHT, scales[1])
    return (
        (rounded_l | rounded_r) & ((value_r - value_l).abs() < pl.lit(10**wide, pl.Int128))
    ).fill_null(False)


def classify(left: pl.Expr, right: pl.Expr, rounding: pl.Expr) -> pl.Expr:
    """Why two amounts of the same invoice differ (``right − left``), checked in order:

    * ``sign_flip``: right = −left (a credit note booked as a charge, or the reverse);
    * ``scale_error``: one is the other × 10^k, k = 1..3 (a currency exponent or a
      cents/units mix-up, e.g. JPY booked as if it had two decimals);
    * ``rounding``: ``rounding`` holds: the difference exists only because a side
      stated finer than the minor unit was rounded (see :func:`rounding_only`);
    * ``amount_mismatch``: anything else, even one minor unit between two sides
      that both state whole minor units.

    Null when the amounts agree (or either is null). A currency difference is
    classified by the caller (``currency_mismatch``).
    """
    delta = right - left
    scaled = pl.lit(False)
    for k in (1, 2, 3):
        factor = 10**k
        scaled = scaled | (right == left * factor) | (left == right * factor)
    return (
        pl.when(left.is_null() | right.is_null() | (delta == 0))
        .then(None)
        .when((left != 0) & (right == 0 - left))  # (Polars has no unary minus for Int128)
        .then(pl.lit("sign_flip"))
        .when((left != 0) & (right != 0) & scaled)
        .then(pl.lit("scale_error"))
        .when(rounding)
        .then(pl.lit("rounding"))
        .otherwise(pl.lit("amount_mismatch"))
    )
