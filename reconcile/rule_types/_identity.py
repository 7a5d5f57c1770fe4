"""An identity within one source, checked at the precision the source states.

Both sides of an identity (``field`` against ``expect``, a header field against
its line items' sum) are integers in units of 10^-scale minor units (a
:class:`Scaled`), with the places beyond the minor unit their values need. They
are compared at the **coarser** side's places: the finer side is rounded once,
by the source's rounding mode (money.round_scaled_expr), and a difference that
this rounding alone removes is counted as *absorbed by rounding* (not a
finding, reported). Tolerance (default 0) then applies to the compared
difference. A source that states whole minor units (scale 0 on both sides, the
usual case) is compared as it is: no rounding, no extra column.

The evaluated frame gets ``ok`` and ``delta_minor`` (the compared difference in
minor units, rounded half away from zero when the comparison was finer than
the minor unit), and, where some side was finer than the minor unit:
``__exact`` (the difference before rounding) and ``__compared`` (after), both in
units of 10^-``__scale`` minor units, and ``__at`` (the places compared at).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from reconcile.money import round_scaled_expr

_WIDE = pl.Int128


@dataclass(frozen=True)
class Scaled:
    """An amount as integers in units of 10^-``scale`` minor units."""

    value: pl.Expr
    scale: int
    #: decimal places beyond the minor unit its values need: known (a source's
    #: stated precision) or found in the data (a decimal computed by a rule)
    places: int | pl.Expr


def scaled(expr: pl.Expr, dtype: pl.DataType, scale: int, places: int) -> Scaled:
    """``expr`` (of ``dtype`` in the frame it is evaluated on) as a :class:`Scaled`: an
    integer amount at ``scale`` with ``places``, or a decimal (``unit_amount *
    quantity``) at its own scale, with the places its values need over all rows."""
    if isinstance(dtype, pl.Decimal):
        units = expr.to_physical()
        return Scaled(units, dtype.scale, data_places(units, dtype.scale))
    return Scaled(expr, scale, places)


def data_places(units: pl.Expr, scale: int) -> pl.Expr:
    """The places beyond the minor unit that integers at ``scale`` need, over every row
    (trailing zeros do not count): one value, broadcast."""
    if scale == 0:
        return pl.lit(0, pl.Int32)
    zeros = pl.sum_horizontal(
        (units % pl.lit(10**k, _WIDE) == 0).cast(pl.Int32) for k in range(1, scale + 1))
    return (pl.lit(scale, pl.Int32) - zeros).max().fill_null(0).cast(pl.Int32)


def _static(value: int | pl.Expr) -> int | None:
    return value if isinstance(value, int) else None


def _power(exponent: int | pl.Expr) -> pl.Expr:
    if isinstance(exponent, int):
        return pl.lit(10**exponent, _WIDE)
    return pl.lit(10, _WIDE).pow(exponent)


def identity_columns(actual: Scaled, expected: Scaled, rule: Any, mode: str,
                     currency: pl.Expr | None = None) -> list[pl.Expr]:
    """``ok``, ``delta_minor`` (and ``__exact``, ``__compared``, ``__scale``, ``__at``
    where a side is finer than the minor unit) for ``actual`` = ``expected``."""
    currency = pl.col("currency") if currency is None else currency
    if actual.scale == expected.scale == 0 and _static(expected.places) == 0 == _static(
            actual.places):
        delta = actual.value - expected.value  # whole minor units on both sides
        return [(delta.abs() <= rule.tolerance.expr(currency, expected.value)).alias("ok"),
                delta.alias("delta_minor")]
    pa, pe = actual.places, expected.places
    if isinstance(pa, int) and isinstance(pe, int):
        at: int | pl.Expr = min(pa, pe)
    else:
        at = pl.min_horizontal(pl.lit(pa, pl.Int32) if isinstance(pa, int) else pa,
                               pl.lit(pe, pl.Int32) if isinstance(pe, int) else pe)
    a = round_scaled_expr(actual.value, _drop(actual.scale, at), mode)
    e = round_scaled_expr(expected.value, _drop(expected.scale, at), mode)
    delta = a.cast(_WIDE) - e.cast(_WIDE)  # in units of 10^-at minor units
    ok = delta.abs() <= rule.tolerance.expr(currency, e, scale=at)
    wide = max(actual.scale, expected.scale)
    exact = (actual.value.cast(_WIDE) * _power(wide - actual.scale)
             - expected.value.cast(_WIDE) * _power(wide - expected.scale))
    return [ok.alias("ok"),
            round_scaled_expr(delta, at, "half_up").cast(pl.Int64).alias("delta_minor"),
            exact.alias("__exact"), (delta * _power(_drop(wide, at))).alias("__compared"),
            pl.lit(wide, pl.Int32).alias("__scale"),
            (pl.lit(at, pl.Int32) if isinstance(at, int) else at).alias("__at"),
            delta.alias("__delta_at")]


def _drop(scale: int, at: int | pl.Expr) -> int | pl.Expr:
    return scale - at if isinstance(at, int) else pl.lit(scale, pl.Int32) - at


def sides_scale(actual: Scaled, expected: Scaled) -> int:
    """The scale both sides' exact values are shown at (0: whole minor units)."""
    if actual.scale == expected.scale == 0 and _static(actual.places) == 0 == _static(
            expected.places):
        return 0
    return max(actual.scale, expected.scale)


def shown(actual: Scaled, expected: Scaled) -> tuple[pl.Expr, pl.Expr, pl.Expr, int]:
    """``(actual, expected, difference, scale)`` to show a failing row: the exact
    values and the compared difference, in units of 10^-scale minor units."""
    wide = sides_scale(actual, expected)
    if wide == 0:
        return actual.value, expected.value, pl.col("delta_minor"), 0
    return (actual.value.cast(_WIDE) * _power(wide - actual.scale),
            expected.value.cast(_WIDE) * _power(wide - expected.scale),
            pl.col("__compared"), wide)


def rounded_note(scale: int) -> pl.Expr:
    """Where the finer side was rounded to the coarser side's precision, say so."""
    if scale == 0:
        return pl.lit("")
    return pl.when(pl.col("__exact") != pl.col("__compared")).then(pl.lit(
        " (the finer side rounded to the coarser side's precision)")).otherwise(pl.lit(""))
