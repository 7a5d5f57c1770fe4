"""Money: exact to the source, rounded once, where it is compared across sources.

* Exponents come from the ISO 4217 table shipped by the ``iso4217`` package
  (JPY 0, USD 2, KWD 3, CLF 4). A provider that deviates from ISO has an
  override table here (``PROVIDER_EXPONENTS``), e.g. Stripe's zero-decimal list.
  A code that is not an active ISO code (``EURO``, a typo) is still read: its
  amounts are taken as if it had :data:`NOMINAL_EXPONENT` decimals (their digits
  do not depend on the code) and the currency rule reports the code.
* Amounts are parsed from JSON text or strings through :class:`~decimal.Decimal`
  (JSON is read with ``parse_float=Decimal``), never through ``float``, and kept
  **exactly** as the source states them: an amount finer than the minor unit (an
  ERP's 4-decimal ``money``, Amberflo's ``117.225``) keeps its digits. A source's
  frame carries such amounts as integers at the source's *scale* (decimal places
  beyond the minor unit, at most :data:`MAX_PLACES`); see ``reconcile.precision``.
* **Float noise** (:func:`without_float_noise`): a provider whose amounts are
  float64 results (Amberflo) sends ``0.30000000000000004`` for 0.30. Such a value
  is rounded half to even to :data:`FLOAT_DECIMALS` decimal places of the major
  unit: float64 carries 15–17 significant digits, so below 10^9 its error (a few
  units in the last place, < 2.5·10^-7) is far below half a millionth, and an
  amount that has at most six decimals comes back exactly.
* **Rounding** (:func:`round_scaled_expr`, :func:`round_decimal`; the only
  functions in the project that round): a finer amount becomes whole minor units
  once, by its source's mode — ``half_up`` (half away from zero, commercial
  rounding, SQL ``ROUND``; the default) or ``half_even`` (banker's rounding, as
  some ERPs do) — where amounts are compared across sources, totalled or tied
  out, and where an identity compares a finer side with a coarser one.
* Minor-unit values must fit a signed 64-bit integer; digits and exponents are
  bounded before any conversion (``Decimal('1e9999999')`` is refused, not expanded).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from functools import cache

import iso4217
import polars as pl

#: rounding modes a source may name (``rounding:``), as Python's decimal constants
ROUNDING_MODES: dict[str, str] = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}
DEFAULT_ROUNDING = "half_up"
ROUNDING_NAMES = {
    "half_up": "half away from zero (half_up, commercial rounding)",
    "half_even": "half to even (half_even, banker's rounding)",
}
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: decimals an unknown currency code's amounts are read and shown with
NOMINAL_EXPONENT = 2
#: decimal places beyond the minor unit an amount may carry (a 4-decimal SQL
#: ``money`` in USD needs 2, a 6-decimal line total 4); finer: the record is refused
MAX_PLACES = 6
#: decimal places of the major unit a float64 source's amounts are cleaned to
FLOAT_DECIMALS = 6
#: significant digits and exponent an amount may have before it is refused unread:
#: bounds the work (``int(Decimal('1E+9999999'))`` would take minutes)
_MAX_DIGITS, _MAX_ADJUSTED = 40, 24
#: exact arithmetic on bounded values: no silent rounding at 28 digits
_EXACT = Context(prec=80, traps=[InvalidOperation])

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
            f"unknown currency {code!r} (not an active ISO 4217 code with minor units)"
        )
    return exp


def minor_exponent(code: str, provider: str | None = None) -> int:
    """:func:`exponent`, or :data:`NOMINAL_EXPONENT` for a code that is not an active
    ISO 4217 code: its amounts are still read (the currency rule reports the code)."""
    try:
        return exponent(code, provider)
    except MoneyError:
        return NOMINAL_EXPONENT


@cache
def exponents_frame() -> pl.DataFrame:
    """ISO exponents as a frame (currency, exponent) for joins and formatting."""
    rows = sorted(active_codes())
    return pl.DataFrame(
        {"currency": rows, "exponent": [_iso_table()[c] for c in rows]},
        schema={"currency": pl.String, "exponent": pl.Int8},
    )


def exponent_expr(currency: pl.Expr) -> pl.Expr:
    """Polars twin of :func:`minor_exponent` (ISO, else the nominal exponent), Int32."""
    exps = exponents_frame()
    return currency.replace_strict(
        exps["currency"],
        exps["exponent"].cast(pl.Int32),
        default=NOMINAL_EXPONENT,
        return_dtype=pl.Int32,
    )


#: a plain decimal as text: ASCII digits, one optional sign, one optional point
_PLAIN = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_EXPONENT = re.compile(r"[eE][+-]?[0-9]{1,4}")
_TEXT_MAX = 200


@dataclass(frozen=True)
class NumberFormat:
    """How a source writes numbers as text. The default is the strict plain form
    (``-1234.50``: ASCII digits, one sign, one point). A ledger's own conventions
    are opted into per source, never guessed: a group separator (``1,234.50``), a
    decimal comma (``1.234,50``), a negative in parentheses (``(150.65)``), an
    exponent (``1.5e3``)."""

    decimal: str = "."
    group: str | None = None
    parentheses: bool = False
    exponent: bool = False

    def parse(self, text: str) -> Decimal:
        """``text`` as an exact Decimal, or :class:`MoneyError` saying why not."""
        raw = text.strip()
        if len(raw) > _TEXT_MAX:
            raise MoneyError(f"not an amount: {len(raw)} characters")
        body, negative = raw, False
        if self.parentheses and raw.startswith("(") and raw.endswith(")"):
            body, negative = raw[1:-1].strip(), True
        if self.group:
            body = body.replace(self.group, "")
        if self.decimal != ".":
            body = body.replace(".", "\x00").replace(self.decimal, ".")
        mantissa, exponent = body, ""
        if self.exponent and (found := _EXPONENT.search(body)) and found.end() == len(body):
            mantissa, exponent = body[: found.start()], found.group()
        if not _PLAIN.fullmatch(mantissa) or (negative and mantissa[:1] in "+-"):
            raise MoneyError(f"not a decimal number: {_short_text(text)}")
        value = Decimal(mantissa + exponent)
        return -value if negative else value


PLAIN = NumberFormat()


def to_decimal(value: object, numbers: NumberFormat = PLAIN) -> Decimal:
    """A JSON number (int or Decimal) or a decimal text (in ``numbers``' format) as an
    exact Decimal, bounded: at most 40 significant digits, an exponent within ±24."""
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"not an amount: {value!r}")
    if isinstance(value, float):
        raise MoneyError("refusing a binary float amount; parse JSON with parse_float=Decimal")
    if isinstance(value, int | Decimal):
        result = Decimal(value)
    elif isinstance(value, str):
        result = numbers.parse(value)
    else:
        raise MoneyError(f"not an amount: {value!r}")
    if not result.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    if not result:  # 0E+9999 is zero, not a number of 10,000 digits
        return Decimal(0)
    if (
        result.adjusted() > _MAX_ADJUSTED
        or len(result.as_tuple().digits) > _MAX_DIGITS
        or result.adjusted() < -_MAX_DIGITS
    ):
        raise MoneyError(f"amount {_short(result)} is out of range")
    return result


def _short_text(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "…"


def _short(value: Decimal) -> str:
    text = str(value)
    return text if len(text) <= 30 else f"{text[:12]}…{text[-12:]}"


def places(value: Decimal | int) -> int:
    """Decimal places ``value`` needs (trailing zeros do not count): ``1.50`` → 1."""
    if isinstance(value, int) or not value:
        return 0
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # infinity, NaN: not an amount at all
        raise MoneyError(f"{value} is not a finite number")
    zeros = len(digits) - len(bytes(digits).rstrip(b"\x00"))
    # (from the digits, not normalize(): a context's Emin turns 1E-99999999 into 0)
    return max(0, -(exponent + zeros))


def without_float_noise(value: Decimal, decimals: int = FLOAT_DECIMALS) -> Decimal:
    """A float64 result's text without its binary noise (see the module docstring):
    ``0.30000000000000004`` → ``0.3``, ``2099.9999999999995`` → ``2100``."""
    if places(value) <= decimals:
        return value
    return value.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_EVEN, _EXACT).normalize(_EXACT)


def exact_minor(
    value: object,
    currency: str,
    provider: str | None = None,
    *,
    float_noise: int | None = None,
    numbers: NumberFormat = PLAIN,
) -> Decimal:
    """An amount in major units as exact minor units (``"117.225"`` USD → ``11722.5``).

    ``float_noise``: the source's amounts are float64 results, cleaned to that many
    decimals first (:func:`without_float_noise`). The result may carry at most
    :data:`MAX_PLACES` places beyond the minor unit and its whole minor units must
    fit int64 (else :class:`MoneyError`)."""
    major = to_decimal(value, numbers)
    if float_noise is not None:
        major = without_float_noise(major, float_noise)
    return checked_exact(major.scaleb(minor_exponent(currency, provider), _EXACT))


def checked_exact(minor: Decimal | int) -> Decimal:
    """An exact minor-unit amount within what a canonical frame holds (see exact_minor)."""
    value = Decimal(minor)
    if places(value) > MAX_PLACES:
        raise MoneyError(
            f"{_short(value)} minor units has more than {MAX_PLACES} decimal "
            "places beyond the currency's minor unit"
        )
    if not INT64_MIN <= value <= INT64_MAX:
        raise MoneyError(f"amount {_short(value)} minor units does not fit a signed 64-bit integer")
    return value


def _checked(minor: int) -> int:
    if not INT64_MIN <= minor <= INT64_MAX:
        raise MoneyError(f"amount {minor} minor units does not fit a signed 64-bit integer")
    return minor


_INTEGER = re.compile(r"[+-]?[0-9]+")


def minor_int(value: object) -> int:
    """An integer minor-unit amount sent as a JSON integer or an int64 string (``"4900"``:
    ASCII digits and one optional sign, nothing else)."""
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"not an integer amount: {value!r}")
    if isinstance(value, int):
        return _checked(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) > _TEXT_MAX or not _INTEGER.fullmatch(text):
            raise MoneyError(f"not an integer amount: {_short_text(value)}")
        if len(text.lstrip("+-0")) > 19:
            raise MoneyError(
                f"amount {_short_text(text)} minor units does not fit a signed 64-bit integer"
            )
        return _checked(int(text))
    if isinstance(value, Decimal) and value.is_finite():
        if abs(value.adjusted()) > 20:
            raise MoneyError(f"amount {_short(value)} is out of range")
        if places(value) == 0:
            return _checked(int(value))
    raise MoneyError(f"not an integer amount: {_short_text(str(value))}")


def minor_to_decimal(minor: int, currency: str, provider: str | None = None) -> Decimal:
    return Decimal(minor).scaleb(-minor_exponent(currency, provider))


def product(a: Decimal, b: Decimal) -> Decimal:
    """``a × b`` exactly (no rounding at the default context's 28 digits)."""
    return a.fma(b, Decimal(0), _EXACT)


def round_decimal(value: Decimal, places_: int, mode: str) -> Decimal:
    """``value`` rounded to ``places_`` decimal places by ``mode`` (see ROUNDING_MODES)."""
    return value.quantize(Decimal(1).scaleb(-places_), ROUNDING_MODES[mode], _EXACT)


def round_scaled_expr(expr: pl.Expr, drop: int | pl.Expr, mode: str) -> pl.Expr:
    """An integer expression divided by 10^``drop``, rounded by ``mode`` (``half_up``:
    half away from zero; ``half_even``: half to even), in integer arithmetic.

    The one place, with :func:`round_decimal`, where an amount loses digits: a
    source's exact amounts become minor units for cross-source work, and an
    identity's finer side meets its coarser side. ``drop`` may be an expression
    (a precision found in the data); 0 returns ``expr`` unchanged.
    """
    if isinstance(drop, int) and drop == 0:
        return expr
    dtype = pl.Int128
    x = expr.cast(dtype)
    divisor = pl.lit(10, dtype).pow(drop) if isinstance(drop, pl.Expr) else pl.lit(10**drop, dtype)
    if mode == "half_up":
        magnitude = (x.abs() + divisor // 2) // divisor
        return pl.when(x < 0).then(pl.lit(0, dtype) - magnitude).otherwise(magnitude)
    if mode == "half_even":
        quotient, twice = x // divisor, (x % divisor) * 2
        up = (twice > divisor) | ((twice == divisor) & (quotient % 2 != 0))
        return quotient + up.cast(dtype)
    raise ValueError(f"unknown rounding mode {mode!r}")


def format_minor(minor: int | None, currency: str | None, extra: int = 0) -> str:
    """``12345, 'USD'`` -> ``'123.45'``; ``1234, 'JPY'`` -> ``'1234'``; ``extra``: the value
    is in units of 10^-extra minor units (``1172250, 'USD', 2`` -> ``'117.2250'``). An
    unknown code shows :data:`NOMINAL_EXPONENT` decimals."""
    if minor is None:
        return ""
    exp = minor_exponent(currency or "") + extra
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor)).rjust(exp + 1, "0")
    return f"{sign}{digits[:-exp]}.{digits[-exp:]}" if exp else f"{sign}{digits}"


def format_minor_expr(minor: pl.Expr, currency: pl.Expr, extra: int = 0) -> pl.Expr:
    """Polars twin of :func:`format_minor` for building finding messages in bulk.

    Integer arithmetic, one lookup of the currency's scale (10^exponent; an
    unknown code has the nominal exponent): sign, whole part, ``.`` and the
    fraction padded by adding the scale and dropping its leading ``1``; with no
    fraction (scale 1) the trailing ``.`` is stripped. One string concatenation
    per row, no branch per part: messages for hundreds of thousands of findings
    use it. ``extra``: the values are in units of 10^-extra minor units.
    """
    exps = exponents_frame()
    wide = pl.Int128  # (a sum of Int64 amounts, schema.WIDE, may not fit 64 bits)
    scale = currency.replace_strict(
        exps["currency"],
        [10 ** (e + extra) for e in exps["exponent"]],
        default=10 ** (NOMINAL_EXPONENT + extra),
        return_dtype=wide,
    )
    absval = minor.cast(wide).abs()
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
    shift = minor_exponent(currency) - minor_exponent(currency, provider)
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
