"""Money: Int64 minor units beside an upper-case ISO 4217 code. No floats, ever.

* Exponents come from the ISO 4217 table shipped by the ``iso4217`` package
  (JPY 0, USD 2, KWD 3, CLF 4). A provider that deviates from ISO has an
  override table here (``PROVIDER_EXPONENTS``), e.g. Stripe's zero-decimal list.
* Amounts are parsed from JSON text or strings through :class:`~decimal.Decimal`
  (JSON is read with ``parse_float=Decimal``), never through ``float``.
* **Rounding policy** (the only place in the project that rounds): a major-unit
  value finer than the currency's exponent (Amberflo's hourly prices such as
  ``117.225`` USD, an ERP's 4-decimal SQL ``money``) is rounded to the minor unit
  *half away from zero* (``ROUND_HALF_UP``, commercial rounding, the same as
  SQL ``ROUND`` on decimals). The residue (exact − rounded, in minor units) is
  returned to the caller, which reports it; it is never dropped silently.
* Minor-unit values must fit a signed 64-bit integer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

import iso4217
import polars as pl

ROUNDING = ROUND_HALF_UP
ROUNDING_NAME = "half away from zero (ROUND_HALF_UP)"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

#: Providers whose API minor units differ from ISO 4217 (code -> exponent).
#: Stripe: https://docs.stripe.com/currencies#zero-decimal — MGA is zero-decimal
#: in Stripe (ISO: 2); ISK is sent as a two-decimal amount (ISO: 0).
PROVIDER_EXPONENTS: dict[str, dict[str, int]] = {
    "stripe": {"MGA": 0, "ISK": 2},
    # Frontier mirrors Stripe's amounts verbatim (`amount` = Stripe `total`).
    "frontier": {"MGA": 0, "ISK": 2},
}


class MoneyError(ValueError):
    """A value that cannot be turned into exact minor units."""


@cache
def _iso_table() -> dict[str, int | None]:
    table: dict[str, int | None] = {}
    for cur in iso4217.Currency:
        table[cur.code.upper()] = cur.exponent
    return table


def active_codes() -> frozenset[str]:
    """Active ISO 4217 codes that have a minor unit (excludes XAU, XXX, ...)."""
    return frozenset(code for code, exp in _iso_table().items() if exp is not None)


def is_active_currency(code: str | None) -> bool:
    return code is not None and code in active_codes()


def exponent(code: str, provider: str | None = None) -> int:
    """Minor-unit exponent of ``code``, honouring provider overrides."""
    code = code.upper()
    if provider is not None:
        override = PROVIDER_EXPONENTS.get(provider, {}).get(code)
        if override is not None:
            return override
    exp = _iso_table().get(code)
    if exp is None:
        raise MoneyError(
            f"unknown currency {code!r} (not an active ISO 4217 code with minor units)")
    return exp


@cache
def exponents_frame() -> pl.DataFrame:
    """ISO exponents as a frame (currency, exponent) for joins and formatting."""
    rows = sorted(active_codes())
    return pl.DataFrame(
        {"currency": rows, "exponent": [_iso_table()[c] for c in rows]},
        schema={"currency": pl.String, "exponent": pl.Int8},
    )


def to_decimal(value: object) -> Decimal:
    """A JSON number (int or Decimal) or a decimal string as an exact Decimal."""
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"not an amount: {value!r}")
    if isinstance(value, float):
        raise MoneyError("refusing a binary float amount; parse JSON with parse_float=Decimal")
    if isinstance(value, int | Decimal):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise MoneyError(f"not a decimal number: {value!r}") from None
    else:
        raise MoneyError(f"not an amount: {value!r}")
    if not result.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    return result


def _checked(minor: int) -> int:
    if not INT64_MIN <= minor <= INT64_MAX:
        raise MoneyError(f"amount {minor} minor units does not fit a signed 64-bit integer")
    return minor


@dataclass(frozen=True, slots=True)
class Converted:
    minor: int
    #: exact value minus the rounded one, in minor units (0 when exact)
    residue: Decimal


def major_to_minor(value: object, currency: str, provider: str | None = None) -> Converted:
    """Major units (``"117.225"``, ``Decimal('31.25')``) to minor units, rounded by policy."""
    exact = to_decimal(value).scaleb(exponent(currency, provider))
    rounded = exact.quantize(Decimal(1), rounding=ROUNDING)
    return Converted(_checked(int(rounded)), exact - rounded)


def minor_int(value: object) -> int:
    """An integer minor-unit amount sent as a JSON integer or an int64 string (``"4900"``)."""
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"not an integer amount: {value!r}")
    if isinstance(value, int):
        return _checked(value)
    if isinstance(value, str):
        text = value.strip()
        if not text or not text.lstrip("+-").isdigit():
            raise MoneyError(f"not an integer amount: {value!r}")
        return _checked(int(text))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return _checked(int(value))
    raise MoneyError(f"not an integer amount: {value!r}")


def minor_to_decimal(minor: int, currency: str, provider: str | None = None) -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency, provider))


def format_minor(minor: int | None, currency: str | None) -> str:
    """``12345, 'USD'`` -> ``'123.45'``; ``1234, 'JPY'`` -> ``'1234'``; unknown code: raw minor."""
    if minor is None:
        return ""
    try:
        exp = exponent(currency or "")
    except MoneyError:
        return str(minor)
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(exp + 1, "0")
    return f"{sign}{digits[:-exp]}.{digits[-exp:]}" if exp else f"{sign}{digits}"


def format_minor_expr(minor: pl.Expr, currency: pl.Expr) -> pl.Expr:
    """Polars twin of :func:`format_minor` for building finding messages in bulk.

    Integer arithmetic, one lookup of the currency's scale (10^exponent; an
    unknown code shows the bare number): sign, whole part, ``.`` and the fraction
    padded by adding the scale and dropping its leading ``1``; with no fraction
    (scale 1) the trailing ``.`` is stripped. One string concatenation per row,
    no branch per part: messages for hundreds of thousands of findings use it.
    """
    exps = exponents_frame()
    scale = currency.replace_strict(
        exps["currency"], [10**e for e in exps["exponent"]], default=1, return_dtype=pl.Int64)
    absval = minor.abs()
    fraction = ((absval % scale) + scale).cast(pl.String).str.slice(1)
    # one concatenation, no branch over the text (a when/then there doubles the cost);
    # named after ``minor`` as before
    sign = pl.when(minor < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    text = pl.concat_str([sign, (absval // scale).cast(pl.String), pl.lit("."), fraction])
    return text.str.strip_suffix(".").name.keep()


def provider_minor_to_iso(minor: int, currency: str, provider: str) -> int:
    """Rescale a provider's minor-unit amount to ISO minor units.

    Stripe sends ISK as two-decimal (``500`` = 5 ISK, ISO exponent 0) and MGA as
    zero-decimal (ISO exponent 2); every other code passes through unchanged.
    An amount that would need a fraction of an ISO minor unit is an error.
    """
    shift = exponent(currency) - exponent(currency, provider)
    if shift == 0:
        return minor
    if shift > 0:
        return _checked(minor * 10**shift)
    quotient, remainder = divmod(minor, 10**-shift)
    if remainder:
        raise MoneyError(
            f"{minor} {currency} in {provider}'s minor units is not a whole ISO minor unit"
        )
    return _checked(quotient)


def round_minor_expr(expr: pl.Expr) -> pl.Expr:
    """An exact (decimal) minor-unit expression rounded to Int64 by the money policy.

    Used where rules sum exact line values (``unit_amount * quantity``): the sum
    is rounded once, half away from zero, like :func:`major_to_minor`.
    """
    return expr.round(0, mode="half_away_from_zero").cast(pl.Int64)
