"""API version drift is named, not guessed: a page answered in a version whose shape a
normalizer does not read stops the run (exit 3) naming the version and what is read;
a pinned version the normalizer cannot read is a config error."""

from __future__ import annotations

import pytest

from reconcile.errors import InputDataError
from reconcile.providers._base import Option, Page, check_version, option_errors
from reconcile.recording import read_recording, write_recording


def test_a_page_keeps_the_response_headers_its_manifest_recorded(tmp_path) -> None:
    write_recording(
        tmp_path / "rec",
        "stripe",
        [{"body": b"{}", "url": "/v1/invoices", "headers": {"Stripe-Version": "2024-06-20"}}],
    )
    _, (page,) = read_recording(tmp_path / "rec", "s")
    assert page.headers == {"stripe-version": "2024-06-20"}


def test_a_version_the_normalizer_does_not_read_stops_the_run() -> None:
    page = Page(b"{}", "rec/0001.json", headers={"stripe-version": "2024-06-20"})
    with pytest.raises(InputDataError) as info:
        check_version(page, "s", "stripe-version", lambda v: v >= "2025-03-31", "2025-03-31+")
    assert info.value.location == "rec/0001.json"
    assert "stripe-version '2024-06-20'; this normalizer reads 2025-03-31+" in str(info.value)
    check_version(
        Page(b"{}", "x", headers={"stripe-version": "2025-09-30.clover"}),
        "s",
        "stripe-version",
        lambda v: v >= "2025-03-31",
        "2025-03-31+",
    )
    check_version(Page(b"{}", "x"), "s", "stripe-version", lambda v: False, "none")  # not said


def test_an_option_can_name_what_it_accepts() -> None:
    spec = {"v": Option(str, "a version", accepts=lambda v: v >= "2025", accepts_help="≥ 2025")}
    assert option_errors(spec, {"v": "2026-01-01"}, live=True) == []
    assert option_errors(spec, {"v": "2024-06-20"}, live=True) == [
        ("v", "option 'v' must be ≥ 2025 (got '2024-06-20')")
    ]
