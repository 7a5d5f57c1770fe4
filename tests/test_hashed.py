"""reconcile.hashed: results on hashed keys are exact, collisions or not."""

from __future__ import annotations

import polars as pl
import pytest

from reconcile import hashed

IDS = ["a1", "b2", "a1", "c3", None, "dd44", "b2", "a1", None, "e5"]


@pytest.fixture(params=["real", "colliding"])
def hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "colliding":  # every key of one length shares a hash
        monkeypatch.setattr(
            hashed, "key_hash", lambda key: key.str.len_bytes().fill_null(0).cast(pl.UInt64)
        )
    return str(request.param)


def test_repeated_rows_are_exactly_the_rows_of_repeated_strings(hashes: str) -> None:
    frame = pl.DataFrame({"invoice_id": IDS, "n": range(len(IDS))})
    got = hashed.repeated_rows(frame, "invoice_id")  # not c3, dd44, e5, null
    assert sorted(got.rows(), key=lambda r: r[1]) == [
        ("a1", 0),
        ("b2", 1),
        ("a1", 2),
        ("b2", 6),
        ("a1", 7),
    ]
    assert hashed.repeated_rows(frame.filter(pl.col("n") < 2), "invoice_id").is_empty()
    assert sorted(hashed.repeated_rows(frame.lazy(), "invoice_id").rows()) == sorted(got.rows())


def test_with_keys_is_a_semi_join_on_the_strings(hashes: str) -> None:
    frame = pl.DataFrame({"invoice_id": IDS, "n": range(len(IDS))})
    got = hashed.with_keys(frame, "invoice_id", pl.Series(["b2", "zz"]))
    assert got.get_column("n").to_list() == [1, 6]


def test_inner_join_pairs_exactly_the_equal_keys(hashes: str) -> None:
    # (colliding: a1, c3 and e5 share a hash with b2, so the hashed join first
    # pairs b2 with e5 too; the keys are compared and the strings joined instead)
    left = pl.DataFrame({"k": ["a1", "b2", "c3", "dd44"], "x": [1, 2, 3, 4]})
    right = pl.DataFrame({"k_r": ["b2", "e5", "dd44", "zz"], "y": [20, 50, 40, 99]})
    joined, at_left, at_right = hashed.inner_join(left, right, "k", "k_r")
    assert joined.columns == ["k", "x", "k_r", "y"]
    assert sorted(joined.rows()) == [("b2", 2, "b2", 20), ("dd44", 4, "dd44", 40)]
    assert sorted(zip(at_left, at_right, strict=True)) == [(1, 0), (3, 2)]  # rows per side
    assert hashed.inner_join(left, right.clear(), "k", "k_r")[0].is_empty()
