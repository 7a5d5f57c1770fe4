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


def test_amounts_are_read_exactly_in_minor_units() -> None:
    assert money.exact_minor("117.225", "USD") == Decimal("11722.5")
    assert money.exact_minor("-117.225", "USD") == Decimal("-11722.5")
    assert money.exact_minor("1.5", "JPY") == Decimal("1.5")
    assert money.exact_minor("12.3456", "KWD") == Decimal("12345.6")
    assert money.exact_minor("31.25", "USD") == 3125
    # an unknown code keeps its digits, read with the nominal two decimals
    assert money.exact_minor("2500.00", "EURO") == 250000
    with pytest.raises(money.MoneyError, match="more than 6 decimal places"):
        money.exact_minor("0.000000001", "USD")


def test_floats_and_garbage_are_refused() -> None:
    for bad in (0.1, "n/a", "", None, True, float("nan"), "Infinity", "1e9999999", "9" * 60):
        with pytest.raises(money.MoneyError):
            money.exact_minor(bad, "USD")
    with pytest.raises(money.MoneyError):
        money.minor_int("12.5")
    with pytest.raises(money.MoneyError, match="64-bit"):
        money.minor_int("99999999999999999999")  # beyond int64
    assert money.minor_int("-4900") == -4900


@given(st.sampled_from(CODES), st.integers(min_value=-(10**15), max_value=10**15))
def test_minor_round_trips_through_major_text(code: str, minor: int) -> None:
    text = money.format_minor(minor, code)
    assert money.exact_minor(text, code) == minor
    assert money.minor_to_decimal(minor, code) == Decimal(text)


@given(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.integers(0, 6),
    st.sampled_from(["half_up", "half_even"]),
)
def test_polars_rounding_matches_decimal(units: int, drop: int, mode: str) -> None:
    """The vectorized rounding (integer arithmetic) against Python's decimal module."""
    got = (
        pl.DataFrame({"u": [units]}).select(money.round_scaled_expr(pl.col("u"), drop, mode)).item()
    )
    assert got == int(money.round_decimal(Decimal(units).scaleb(-drop), 0, mode))


def test_rounding_modes_at_the_half() -> None:
    halves = [Decimal(x) for x in ("0.5", "1.5", "2.5", "-0.5", "-1.5", "-2.5")]
    assert [int(money.round_decimal(x, 0, "half_up")) for x in halves] == [1, 2, 3, -1, -2, -3]
    assert [int(money.round_decimal(x, 0, "half_even")) for x in halves] == [0, 2, 2, 0, -2, -2]


def test_float_noise_rule() -> None:
    assert money.without_float_noise(Decimal("0.30000000000000004")) == Decimal("0.3")
    assert money.without_float_noise(Decimal("2099.9999999999995")) == 2100
    assert money.without_float_noise(Decimal("117.225")) == Decimal("117.225")  # kept
    assert money.without_float_noise(Decimal("0.1234565"), 6) == Decimal("0.123456")  # even


@given(
    st.lists(
        st.tuples(st.sampled_from(CODES), st.integers(-(10**17), 10**17)), min_size=1, max_size=30
    )
)
def test_polars_formatting_matches_python(pairs: list[tuple[str, int]]) -> None:
    frame = pl.DataFrame({"c": [c for c, _ in pairs], "m": [m for _, m in pairs]})
    got = frame.select(money.format_minor_expr(pl.col("m"), pl.col("c")))["m"].to_list()
    assert got == [money.format_minor(m, c) for c, m in pairs]
