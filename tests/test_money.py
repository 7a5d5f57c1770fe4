from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile import money

CODES = sorted(money.active_codes())


def test_exponents_match_iso_4217() -> None:
    assert [money.exponent(c) for c in ("JPY", "USD", "KWD", "CLF", "BHD")] == [0, 2, 3, 4, 3]
    assert len(CODES) == 165  # 178 active ISO codes less 13 without a minor unit
    assert "XAU" not in CODES and "XXX" not in CODES
    with pytest.raises(money.MoneyError):
        money.exponent("XAU")


def test_iso_not_cldr_where_they_differ() -> None:
    # Babel/CLDR says 0 digits for these; ISO 4217 says 2 (IQD: 3).
    assert money.exponent("AFN") == 2 and money.exponent("IQD") == 3


def test_provider_overrides_follow_stripe() -> None:
    assert money.exponent("MGA") == 2 and money.exponent("MGA", "stripe") == 0
    assert money.exponent("ISK") == 0 and money.exponent("ISK", "stripe") == 2
    assert money.provider_minor_to_iso(500, "ISK", "stripe") == 5
    assert money.provider_minor_to_iso(7, "MGA", "stripe") == 700
    assert money.provider_minor_to_iso(1234, "USD", "stripe") == 1234
    with pytest.raises(money.MoneyError):
        money.provider_minor_to_iso(550, "ISK", "stripe")


def test_rounding_policy_half_away_from_zero_with_residue() -> None:
    assert money.major_to_minor("117.225", "USD") == money.Converted(11723, Decimal("-0.5"))
    assert money.major_to_minor("-117.225", "USD") == money.Converted(-11723, Decimal("0.5"))
    assert money.major_to_minor("1.5", "JPY").minor == 2
    assert money.major_to_minor("12.3456", "KWD") == money.Converted(12346, Decimal("-0.4"))
    assert money.major_to_minor("31.25", "USD") == money.Converted(3125, Decimal(0))


def test_floats_and_garbage_are_refused() -> None:
    for bad in (0.1, "n/a", "", None, True, float("nan"), "Infinity"):
        with pytest.raises(money.MoneyError):
            money.major_to_minor(bad, "USD")
    with pytest.raises(money.MoneyError):
        money.minor_int("12.5")
    with pytest.raises(money.MoneyError):
        money.minor_int("99999999999999999999")  # beyond int64
    assert money.minor_int("-4900") == -4900


@given(st.sampled_from(CODES), st.integers(min_value=-(10**15), max_value=10**15))
def test_minor_round_trips_through_major_text(code: str, minor: int) -> None:
    text = money.format_minor(minor, code)
    assert money.major_to_minor(text, code) == money.Converted(minor, Decimal(0))
    assert money.minor_to_decimal(minor, code) == Decimal(text)


@given(st.sampled_from(["JPY", "USD", "KWD", "CLF"]),
       st.decimals(min_value=-(10**12), max_value=10**12, places=6, allow_nan=False))
def test_rounding_residue_is_exact_and_at_most_half(code: str, value: Decimal) -> None:
    conv = money.major_to_minor(value, code)
    exact = value.scaleb(money.exponent(code))
    assert Decimal(conv.minor) + conv.residue == exact
    assert abs(conv.residue) <= Decimal("0.5")


@given(st.lists(st.tuples(st.sampled_from(CODES), st.integers(-(10**17), 10**17)),
                min_size=1, max_size=30))
def test_polars_formatting_matches_python(pairs: list[tuple[str, int]]) -> None:
    frame = pl.DataFrame({"c": [c for c, _ in pairs], "m": [m for _, m in pairs]})
    got = frame.select(money.format_minor_expr(pl.col("m"), pl.col("c")))["m"].to_list()
    assert got == [money.format_minor(m, c) for c, m in pairs]
