"""Validation: the screen that spares pandera's data pass on clean millions agrees with it."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconcile import schema

LINE = {
    "source": pl.String,
    "invoice_id": pl.String,
    "line_no": pl.Int32,
    "amount_minor": pl.Int64,
    "currency": pl.String,
}

line_rows = st.lists(
    st.fixed_dictionaries(
        {
            "source": st.sampled_from(["s", "", None]),
            "invoice_id": st.sampled_from(["in_1", "é", "", " ", None]),
            "line_no": st.sampled_from([0, 3, -1, None]),
            "amount_minor": st.sampled_from([0, -5, 125, None]),
            "currency": st.sampled_from(["USD", "usd", "US", "USDX", "JPY", None]),
        }
    ),
    min_size=1,
    max_size=12,
)


def _pandera_failing_rows(frame: pl.DataFrame, model: Any) -> set[int]:
    import pandera.polars as pa

    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return {int(i) for i in exc.failure_cases["index"].drop_nulls().to_list()}
    return set()


@settings(max_examples=150, deadline=None)
@given(line_rows)
def test_the_screen_flags_exactly_the_rows_pandera_rejects(rows: list[dict[str, Any]]) -> None:
    lines_model = schema._line_model()
    model = lines_model.to_schema()
    frame = pl.DataFrame(rows, schema=LINE)
    model = model.remove_columns([c for c in model.columns if c not in frame.columns])
    passes = schema._all_pass(model)
    assert passes is not None  # the line model has only mirrored checks
    flagged = set(frame.with_row_index("i").filter(~passes)["i"].to_list())
    assert flagged == _pandera_failing_rows(frame, model)


def test_a_dataframe_wide_check_is_not_screened() -> None:
    invoices_model = schema._invoice_model()
    assert schema._all_pass(invoices_model.to_schema()) is None  # period order: pandera


@pytest.mark.parametrize("bad", [None, 7])
def test_large_frames_are_screened_then_fully_validated_when_needed(bad: int | None) -> None:
    n = schema.SCREEN_FROM + 5
    frame = pl.DataFrame(
        {
            "source": ["s"] * n,
            "invoice_id": [f"in_{i % 1000}" for i in range(n)],
            "line_no": pl.int_range(0, n, dtype=pl.Int32, eager=True),
            "amount_minor": [100] * n,
            "currency": ["USD"] * n,
        },
        schema=LINE,
    )
    if bad is not None:
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == bad)
            .then(pl.lit(""))
            .otherwise(pl.col("invoice_id"))
            .alias("invoice_id")
        )
    out = schema.validate_lines(frame)
    if bad is None:
        assert out.valid.height == n and out.failures.is_empty()
    else:
        assert out.valid.height == n - 1
        assert out.failures.select("row", "column", "check").rows() == [
            (bad, "invoice_id", "str_length(1, None)")
        ]


def test_a_screened_frame_still_gets_its_schema_checked() -> None:
    n = schema.SCREEN_FROM + 1
    frame = pl.DataFrame(
        {
            "source": ["s"] * n,
            "invoice_id": ["a"] * n,
            "line_no": pl.int_range(0, n, eager=True),  # Int64, not Int32
            "amount_minor": [1] * n,
            "currency": ["USD"] * n,
        }
    )
    with pytest.raises(RuntimeError, match="canonical frame violates its schema"):
        schema.validate_lines(frame)
