"""Exact amounts beside minor units: a source's precision, and where it is rounded.

A canonical frame's money columns (``*_minor``) hold Int64 **minor units**: what
sources are compared, totalled and tied out in. A source that states amounts
finer than its currency's minor unit (an ERP's 4-decimal ``money``, Amberflo's
``117.225``) has a :class:`Precision` with ``scale`` > 0; beside each money
column ``c`` its frame then carries ``__x_c``, the exact amount in minor units
as a ``Decimal(38, scale)`` (``117.225`` USD: ``11722.5``; its physical Int128 is
the amount in units of 10^-scale minor units), and ``c`` is that amount rounded
**once**, by the source's rounding mode (:func:`reconcile.money.round_scaled_expr`).
Being minor units, a rule's literals mean the same on both: ``subtotal_minor +
100`` adds one dollar whether the source is exact to the cent or to 1/10000. A source that
sends whole minor units (every provider but Amberflo, a ledger in cents) has
scale 0 and no exact columns: nothing is rounded, nothing is copied.

* Per-source identities (expression and aggregate rules) read the exact amounts
  (:func:`exact_view`): a source's own arithmetic is checked at the precision it
  was stated in. Where the two sides of an identity differ in precision
  (``places``: the decimals beyond the minor unit a column's values need), the
  finer side is rounded once to the coarser side's places (see
  ``rule_types._common.identity_check``).
* Matching, compare and presence rules, control totals and tie-outs read the
  minor units; :func:`rounding_summary` reports, per source, field and currency,
  how many amounts that rounding changed and by how much in all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import polars as pl

from reconcile import money
from reconcile.schema import LINE_MONEY_COLUMNS, MONEY_COLUMNS, WIDE

#: prefix of a money column's exact twin (Int128, units of 10^-scale minor units)
EXACT = "__x_"
#: unit_amount (12 places) × quantity (9 places) needs 21 places to be exact; Polars
#: rounds a decimal product to the larger operand's scale, so the lines' exact view
#: widens unit_amount to the places the product needs (see product_places)
PRODUCT_DTYPE = pl.Decimal(38, 21)

ROUNDING_SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "field": pl.String(),
    "currency": pl.String(),
    "amounts": pl.UInt32(),
    "rounded": pl.UInt32(),
    "residue_minor": pl.String(),
}


@dataclass(frozen=True)
class Precision:
    """How finely a frame's money columns are stated."""

    #: decimal places beyond the minor unit the exact columns carry (0: none)
    scale: int = 0
    #: per money column, the places beyond the minor unit its values need (≤ scale)
    places: Mapping[str, int] = field(default_factory=dict)
    #: how the exact amounts become minor units (money.ROUNDING_MODES)
    rounding: str = money.DEFAULT_ROUNDING
    #: the amounts were float64 results cleaned to this many decimals of the major
    #: unit (money.without_float_noise; Amberflo), else None
    float_decimals: int | None = None
    #: line items: the places their (unit_amount, quantity) need (product_places);
    #: None: unknown, the widest (12, 9)
    product: tuple[int, int] | None = None

    def places_of(self, columns: Sequence[str]) -> int:
        """The places the finest of ``columns`` needs (0 for none)."""
        return max((self.places.get(c, 0) for c in columns), default=0)


def twin_dtype(scale: int) -> pl.Decimal:
    """The exact twins' type: minor units with ``scale`` places."""
    return pl.Decimal(38, scale)


def money_columns(
    values: Mapping[str, pl.Series | Sequence[Decimal | int | None]],
    rounding: str,
    float_decimals: int | None = None,
) -> tuple[dict[str, pl.Series], Precision]:
    """Money columns from exact minor-unit values: Int64 minor units, and, when some
    value is finer than that, every column's exact ``__x_`` twin.

    A value is an ``int`` or a ``Decimal`` (at most money.MAX_PLACES places, checked by
    money.checked_exact), or a column is an integer Series already (whole minor units:
    a file of integers, millions of rows, never turned into Python values)."""
    places = {
        c: 0
        if isinstance(vals, pl.Series)
        else max((money.places(v) for v in vals if isinstance(v, Decimal)), default=0)
        for c, vals in values.items()
    }
    scale = max(places.values(), default=0)
    out: dict[str, pl.Series] = {}
    for column, vals in values.items():
        if isinstance(vals, pl.Series):
            out[column] = vals.cast(pl.Int64).alias(column)
            if scale:
                out[EXACT + column] = out[column].cast(twin_dtype(scale)).alias(EXACT + column)
        elif scale == 0:
            out[column] = pl.Series(column, [None if v is None else int(v) for v in vals], pl.Int64)
        else:
            exact = pl.Series(
                EXACT + column, [None if v is None else Decimal(v) for v in vals], twin_dtype(scale)
            )
            out[EXACT + column] = exact
            out[column] = (
                exact.to_frame()
                .select(
                    money.round_scaled_expr(
                        pl.col(EXACT + column).to_physical(), scale, rounding
                    ).cast(pl.Int64)
                )
                .to_series()
                .alias(column)
            )
    return out, Precision(scale, {c: p for c, p in places.items() if p}, rounding, float_decimals)


def exact_names(schema: Mapping[str, pl.DataType], present: Mapping[str, pl.Series]) -> list[str]:
    """The exact twins among ``present``, in ``schema``'s order (after the canonical columns)."""
    return [EXACT + c for c in schema if EXACT + c in present]


def wide_view(frame: pl.LazyFrame, suffixes: tuple[str, ...] = ("",)) -> pl.LazyFrame:
    """``frame`` with its Int64 money columns (``c + suffix`` for each suffix: a
    pairing's right side) widened to schema.WIDE, so that a rule's arithmetic on
    them (a filter, a comparison) cannot wrap; projection pushdown casts only the
    columns a rule reads."""
    names = {c + s for c in (*MONEY_COLUMNS, *LINE_MONEY_COLUMNS, "__sum") for s in suffixes}
    wide = [
        pl.col(name).cast(WIDE)
        for name, dtype in frame.collect_schema().items()
        if name in names and dtype == pl.Int64
    ]
    return frame.with_columns(wide) if wide else frame


def exact_view(frame: pl.LazyFrame, precision: Precision, lines: bool = False) -> pl.LazyFrame:
    """``frame`` as a source's own rules read it: each money column replaced by its
    exact twin (minor units, a Decimal at the source's scale, whose arithmetic Polars
    checks), or, where the source states whole minor units, widened to 128 bits
    (schema.WIDE: Int64 arithmetic would wrap silently); line items also get
    unit_amount widened so that ``unit_amount * quantity`` is exact (PRODUCT_DTYPE)."""
    names = set(frame.collect_schema().names())
    swaps = [
        pl.col(EXACT + c).alias(c)
        if precision.scale and EXACT + c in names
        else pl.col(c).cast(WIDE)
        for c in (LINE_MONEY_COLUMNS if lines else MONEY_COLUMNS)
        if c in names
    ]
    if lines and "unit_amount" in names:
        swaps += _product_operands(precision.product, "quantity" in names)
    return frame.with_columns(swaps) if swaps else frame


def _product_operands(product: tuple[int, int] | None, quantity: bool) -> list[pl.Expr]:
    """unit_amount and quantity at the scales that make their product exact and as
    roomy as can be: Polars multiplies two decimals at the sum of their scales (in
    128 bits, 38 digits) and rounds to the larger one; unit_amount at ``pu + pq`` places
    and quantity at ``pq`` keep the result exact, and whole-number lines get 38
    digits, not the 8 that scales 21 × 9 leave."""
    if product is None:
        return [pl.col("unit_amount").cast(PRODUCT_DTYPE)]
    unit, qty = product
    swaps = [pl.col("unit_amount").cast(pl.Decimal(38, unit + qty))]
    return [*swaps, pl.col("quantity").cast(pl.Decimal(38, qty))] if quantity else swaps


def decimal_places(frame: pl.DataFrame, column: str) -> int:
    """The fewest decimal places that state every value of a Decimal ``column`` exactly."""
    dtype = frame.schema[column]
    assert isinstance(dtype, pl.Decimal)
    scale = dtype.scale
    physical = pl.col(column).to_physical()
    whole = frame.select(
        [(physical % pl.lit(10**k, pl.Int128) == 0).all().alias(str(k)) for k in range(scale + 1)]
    ).row(0)
    return scale - max(k for k, ok in enumerate(whole) if ok)


def product_places(precision: Precision, lines: pl.DataFrame | pl.LazyFrame) -> Precision:
    """``precision`` (of ``lines``) knowing the places of their unit_amount and
    quantity (a lazy scan of lines has neither column: both 0)."""
    if isinstance(lines, pl.LazyFrame):
        names = lines.collect_schema().names()
        if "unit_amount" in names or "quantity" in names:
            return precision  # unknown without reading them: the widest
        return dataclasses.replace(precision, product=(0, 0))
    places = [
        decimal_places(lines, c) if c in lines.columns else 0 for c in ("unit_amount", "quantity")
    ]
    return dataclasses.replace(precision, product=(places[0], places[1]))


def rounding_summary(name: str, invoices: pl.LazyFrame, precision: Precision) -> pl.LazyFrame:
    """Per money column and currency of ``invoices`` (the checked ones): amounts, how
    many the rounding to minor units changed, and the net residue (exact − rounded)
    in minor units, exact, as text. Nothing for a source without exact columns."""
    names = set(invoices.collect_schema().names())
    columns = [c for c in MONEY_COLUMNS if precision.scale and EXACT + c in names]
    if not columns:
        return pl.LazyFrame(schema=ROUNDING_SUMMARY_SCHEMA)
    unit = pl.lit(10**precision.scale, pl.Int128)
    residue = [pl.col(EXACT + c).to_physical() - pl.col(c).cast(pl.Int128) * unit for c in columns]
    parts = [
        invoices.filter(pl.col(c).is_not_null())
        .group_by("currency")
        .agg(
            pl.lit(c).alias("field"),
            pl.len().cast(pl.UInt32).alias("amounts"),
            (r != 0).sum().cast(pl.UInt32).alias("rounded"),
            r.sum().alias("__residue"),
        )
        for c, r in zip(columns, residue, strict=True)
    ]
    return (
        pl.concat(parts)
        .filter(pl.col("rounded") > 0)
        .select(
            pl.lit(name).alias("source"),
            "field",
            "currency",
            "amounts",
            "rounded",
            pl.col("__residue")
            .map_elements(lambda v: scaled_text(v, precision.scale), return_dtype=pl.String)
            .alias("residue_minor"),
        )
    )


def scaled_text(value: int | None, scale: int) -> str | None:
    """An integer in units of 10^-scale minor units as exact minor units: ``-35, 1`` →
    ``-3.5``; ``0`` → ``0``."""
    if value is None:
        return None
    exact = Decimal(int(value)).scaleb(-scale)
    return f"{exact.normalize():f}" if exact else "0"
