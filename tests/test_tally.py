"""line_tally.tally: lines folded into runs of one invoice id give the same tally as
lines taken one by one, whatever their order."""

from __future__ import annotations

import polars as pl
import pytest

from reconcile import line_tally
from reconcile.schema import ROW

#: invoices as the tally reads them: id and row; "i2" repeats, "i4" has no line
SCOPED = pl.DataFrame(
    {"invoice_id": ["i1", "i2", "i3", "i2", "i4"], ROW: pl.Series([0, 1, 2, 3, 4], dtype=pl.UInt32)}
)
#: 12 lines in 6 runs (two lines per run: folded), grouped by invoice except that
#: i1 and i3 come back later; "zz" has no invoice, one amount is null and one line
#: fails the screen
LINES = pl.DataFrame(
    {
        "invoice_id": ["i1", "i1", "i2", "i2", "i2", "i3", "i3", "i1", "zz", "zz", "i3", "i3"],
        "amount_minor": [100, 250, 10, None, 30, 7, 0, 1, 5, 6, -7, 0],
    }
)
OK = pl.col("amount_minor") != 30  # (a null amount passes: null is not false)


def tally(lines: pl.DataFrame, sample: int, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.setattr(line_tally, "RUN_SAMPLE", sample)
    out = line_tally.tally(SCOPED, lines.lazy(), OK).collect()
    return {r["invoice_id"]: r for r in out.sort("invoice_id").to_dicts()}


def test_runs_and_single_lines_tally_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = {
        "i1": {"__n": 1, "__first": 0, "__lines": 3, "__sum": 351, "__ok": True},
        "i2": {"__n": 2, "__first": 1, "__lines": 3, "__sum": 40, "__ok": False},
        "i3": {"__n": 1, "__first": 2, "__lines": 4, "__sum": 0, "__ok": True},
        "zz": {"__n": 0, "__first": None, "__lines": 2, "__sum": 11, "__ok": True},
    }  # (i4: one record, no line: not kept)
    for sample in (1, 100):  # one line: one run, lines one by one; all: folded
        got = tally(LINES, sample, monkeypatch)
        assert {
            k: {c: v for c, v in r.items() if c != "invoice_id"} for k, r in got.items()
        } == expected
    shuffled = LINES.sample(fraction=1.0, shuffle=True, seed=3)
    assert tally(shuffled, 100, monkeypatch) == tally(LINES, 1, monkeypatch)


def test_the_sample_decides_whether_lines_are_folded(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[int] = []
    real = line_tally.runs
    monkeypatch.setattr(line_tally, "runs", lambda *a: runs.append(1) or real(*a))
    tally(LINES, 1, monkeypatch)  # one line sampled: one run of one line
    assert runs == []
    tally(LINES, 100, monkeypatch)  # 12 lines in 6 runs
    assert runs == [1]
    tally(LINES.head(11), 100, monkeypatch)  # 11 lines in 6 runs: fewer than two a run
    assert runs == [1]
