"""An identity within one source, checked at the precision the source states.

Both sides of an identity (``field`` against ``expect``, a header field against
its line items' sum) become integers in units of 10^-scale minor units (a
:class:`Scaled`), with the places beyond the minor unit their values need. They
are compared at the **coarser** side's places: the finer side is rounded once,
by the source's rounding mode (money.round_scaled_expr), and a difference that
this rounding alone removes is counted as *absorbed by rounding* (not a
finding, reported). Tolerance (default 0) then applies to the compared
difference. A source that states whole minor units (scale 0 on both sides, the
usual case) is compared as it is: no rounding, no extra column.

A source whose amounts were float64 results cleaned to ``float_decimals`` of the
major unit (Amberflo: money.without_float_noise) has one more rounding the tool
made: each cleaned term may be off its float by up to half a unit of that last
decimal. Compared at that full precision, a difference of at most half a unit
per term is that cleaning's, not the source's: absorbed by rounding, counted,
never a finding (a cent is thousands of times more).

The evaluated frame gets ``ok`` and ``delta_minor`` (the compared difference in
minor units, rounded half away from zero when the comparison was finer than
the minor unit), and, where some side was finer than the minor unit:
``__exact`` (the difference before rounding) and ``__compared`` (after), both in
units of 10^-``__scale`` minor units, ``__at`` (the places compared at) and
``__noise`` (the float-noise bound absorbed the difference).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from reconcile.money import exponent_expr, round_scaled_expr

if TYPE_CHECKING:
    from reconcile.ruleset import Rule

_WIDE = pl.Int128


@dataclass(frozen=True)
class Scaled:
    """An amount as integers in units of 10^-``scale`` minor units."""

    value: pl.Expr
    scale: int
    #: decimal places beyond the minor unit its values need: known (a source's
    #: stated precision) or found in the data (a decimal computed by a rule)
    places: int | pl.Expr


@dataclass(frozen=True)
class FloatNoise:
    """A float64 source's cleaning (see the module docstring): its decimals of the
    major unit, and how many cleaned terms each row's identity adds up."""

    decimals: int
    terms: pl.Expr


def scaled(expr: pl.Expr, dtype: pl.DataType, scale: int, places: int) -> Scaled:
    """``expr`` (of ``dtype`` in the frame it is evaluated on) as a :class:`Scaled`.

    An exact twin, or a sum or difference of them, is a decimal at the source's
    ``scale``: its places are those the source states (``places``). Another decimal
    (``unit_amount * quantity``, an amount times a rate) has the places its values
    need over all rows. An integer is whole minor units."""
    if isinstance(dtype, pl.Decimal):
        units = expr.to_physical()
        if dtype.scale == scale:
            return Scaled(units, scale, places)
        return Scaled(units, dtype.scale, data_places(units, dtype.scale))
    return Scaled(expr, 0, 0)


def data_places(units: pl.Expr, scale: int) -> pl.Expr:
    """The places beyond the minor unit that integers at ``scale`` need, over every row
    that has a value (trailing zeros do not count): one value, broadcast."""
    if scale == 0:
        return pl.lit(0, pl.Int32)
    zeros = pl.sum_horizontal(
        (units % pl.lit(10**k, _WIDE) == 0).cast(pl.Int32) for k in range(1, scale + 1)
    )
    need = (pl.lit(scale, pl.Int32) - zeros).filter(units.is_not_null())
    return need.max().fill_null(0).cast(pl.Int32)


def _static(value: int | pl.Expr) -> int | None:
    return value if isinstance(value, int) else None


def _power(exponent: int | pl.Expr) -> pl.Expr:
    if isinstance(exponent, int):
        return pl.lit(10**exponent, _WIDE)
    return pl.lit(10, _WIDE).pow(exponent)


def _at(actual: Scaled, expected: Scaled) -> int | pl.Expr:
    """The coarser side's places."""
    pa, pe = actual.places, expected.places
    if isinstance(pa, int) and isinstance(pe, int):
        return min(pa, pe)
    return pl.min_horizontal(
        pl.lit(pa, pl.Int32) if isinstance(pa, int) else pa,
        pl.lit(pe, pl.Int32) if isinstance(pe, int) else pe,
    )


def _within_noise(
    delta: pl.Expr, at: int | pl.Expr, currency: pl.Expr, noise: FloatNoise | None
) -> pl.Expr:
    """Whether ``delta`` (in units of 10^-at minor units) is at most half a unit of the
    cleaned decimals per term, where the comparison is as fine as those decimals."""
    if noise is None:
        return pl.lit(False)
    # the last cleaned decimal in units of 10^-at minor units: 10^(at + exponent − decimals)
    shift = (
        (pl.lit(at, pl.Int32) if isinstance(at, int) else at)
        + exponent_expr(currency)
        - pl.lit(noise.decimals, pl.Int32)
    )
    return (shift >= 0) & (
        delta.abs() * 2
        <= noise.terms.cast(_WIDE)
        * pl.lit(10, _WIDE).pow(pl.max_horizontal(shift, pl.lit(0, pl.Int32)))
    )


def identity_columns(
    actual: Scaled,
    expected: Scaled,
    rule: Rule,
    mode: str,
    currency: pl.Expr | None = None,
    noise: FloatNoise | None = None,
) -> list[pl.Expr]:
    """``ok``, ``delta_minor`` (and ``__exact``, ``__compared``, ``__scale``, ``__at``,
    ``__noise`` where a side is finer than the minor unit) for ``actual`` = ``expected``."""
    currency = pl.col("currency") if currency is None else currency
    if actual.scale == expected.scale == 0 and _static(expected.places) == 0 == _static(
        actual.places
    ):
        delta = actual.value - expected.value  # whole minor units on both sides
        return [
            (delta.abs() <= rule.tolerance.expr(currency, expected.value)).alias("ok"),
            delta.alias("delta_minor"),
        ]
    at = _at(actual, expected)
    a = round_scaled_expr(actual.value, _drop(actual.scale, at), mode)
    e = round_scaled_expr(expected.value, _drop(expected.scale, at), mode)
    delta = a.cast(_WIDE) - e.cast(_WIDE)  # in units of 10^-at minor units
    within = delta.abs() <= rule.tolerance.expr(currency, e, scale=at)
    noisy = (~within & _within_noise(delta, at, currency, noise)).fill_null(False)
    wide = max(actual.scale, expected.scale)
    exact = actual.value.cast(_WIDE) * _power(wide - actual.scale) - expected.value.cast(
        _WIDE
    ) * _power(wide - expected.scale)
    return [
        (within | noisy).alias("ok"),
        round_scaled_expr(delta, at, "half_up").cast(_WIDE).alias("delta_minor"),
        exact.alias("__exact"),
        (delta * _power(_drop(wide, at))).alias("__compared"),
        pl.lit(wide, pl.Int32).alias("__scale"),
        (pl.lit(at, pl.Int32) if isinstance(at, int) else at).alias("__at"),
        noisy.alias("__noise"),
    ]


def _drop(scale: int, at: int | pl.Expr) -> int | pl.Expr:
    return scale - at if isinstance(at, int) else pl.lit(scale, pl.Int32) - at


def sides_scale(actual: Scaled, expected: Scaled) -> int:
    """The scale both sides' exact values are shown at (0: whole minor units)."""
    if actual.scale == expected.scale == 0 and _static(actual.places) == 0 == _static(
        expected.places
    ):
        return 0
    return max(actual.scale, expected.scale)


def shown(actual: Scaled, expected: Scaled) -> tuple[pl.Expr, pl.Expr, pl.Expr, int]:
    """``(actual, expected, difference, scale)`` to show a failing row: the exact
    values and the compared difference, in units of 10^-scale minor units."""
    wide = sides_scale(actual, expected)
    if wide == 0:
        return actual.value, expected.value, pl.col("delta_minor"), 0
    return (
        actual.value.cast(_WIDE) * _power(wide - actual.scale),
        expected.value.cast(_WIDE) * _power(wide - expected.scale),
        pl.col("__compared"),
        wide,
    )


def rounded_note(scale: int) -> pl.Expr:
    """Where the finer side was rounded to the coarser side's precision, say so."""
    if scale == 0:
        return pl.lit("")
    return (
        pl.when(pl.col("__exact") != pl.col("__compared"))
        .then(pl.lit(" (the finer side rounded to the coarser side's precision)"))
        .otherwise(pl.lit(""))
    )
