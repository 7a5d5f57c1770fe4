"""API version drift is named, not guessed: a page answered in a version whose shape a
normalizer does not read stops the run (exit 3) naming the version and what is read;
a pinned version the normalizer cannot read is a config error."""

from __future__ import annotations

import pytest

from reconcile.errors import InputDataError
from reconcile.providers._base import Page, check_version
from reconcile.providers._options import Option, option_errors
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


def _stripe_close(folder, version: str, extra: str = "") -> object:
    import json
    from pathlib import Path

    from tests.hostile.test_inputs import invoke

    sample = Path(__file__).resolve().parents[2] / "sample_data" / "recordings" / "stripe"
    body = (sample / "0001.json").read_bytes()
    write_recording(
        folder / "rec",
        "stripe",
        [{"body": body, "url": "/v1/invoices", "headers": {"Stripe-Version": version}}],
    )
    config = folder / "close.yaml"
    config.write_text(
        "period: {start: 2026-10-01, end: 2026-11-01}\n"
        f"sources:\n  s: {{provider: stripe, recording: rec{extra}}}\n",
        encoding="utf-8",
    )
    assert json.loads(body)["object"] == "list"
    return invoke("run", config, "--out", folder / "out")


def test_a_stripe_page_of_an_older_api_version_is_exit_3_naming_it(tmp_path) -> None:
    """Before basil (2025-03-31) an invoice had tax and total_tax_amounts, not
    total_taxes: every record would have been quarantined as malformed."""
    result = _stripe_close(tmp_path, "2024-06-20")
    assert result.exit_code == 3, result.output
    assert "rec/0001.json" in result.output
    assert "stripe-version '2024-06-20'; this normalizer reads 2025-03-31.basil or later" in (
        result.output
    )
    assert _stripe_close(tmp_path / "b", "2025-09-30.clover").exit_code in (0, 1)


def test_a_pinned_stripe_version_it_cannot_read_is_a_config_error(tmp_path) -> None:
    result = _stripe_close(tmp_path, "2025-03-31.basil", ", options: {api_version: 2023-10-16}")
    assert result.exit_code == 2, result.output
    assert "api_version" in result.output and "2025-03-31.basil or later" in result.output


def test_a_commet_page_of_a_version_it_does_not_read_is_exit_3_naming_it(tmp_path) -> None:
    from pathlib import Path

    from tests.hostile.test_inputs import invoke

    sample = Path(__file__).resolve().parents[2] / "sample_data" / "recordings" / "commet"
    write_recording(
        tmp_path / "rec",
        "commet",
        [
            {
                "body": (sample / "0001.json").read_bytes(),
                "url": "/api/v1/invoices",
                "headers": {"Commet-Version": "2026-11-02"},
            }
        ],
    )
    config = tmp_path / "close.yaml"
    config.write_text(
        "period: {start: 2026-10-01, end: 2026-11-01}\n"
        "sources:\n  c: {provider: commet, recording: rec}\n",
        encoding="utf-8",
    )
    result = invoke("run", config, "--out", tmp_path / "out")
    assert result.exit_code == 3, result.output
    assert "commet-version '2026-11-02'; this normalizer reads 2026-07-11, 2026-07-24" in (
        result.output
    )
