"""The bundled October 2026 close finds exactly the planted discrepancies, nothing else.

The plant list is sample_data/expected_findings.json, written by
sample_data/generate.py alongside the recordings and the ledger.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from reconcile import pipeline
from tests.conftest import REPO

SAMPLE = REPO / "sample_data"

RULE_FOR_KIND = {
    "commet_identity": "commet.total_identity",
    "commet_lines": "commet.lines_sum_to_subtotal",
    "stripe_total_excluding_tax": "stripe.total_excluding_tax",
    "stripe_total": "stripe.total",
    "stripe_amount_remaining": "stripe.amount_remaining",
    "amberflo_identity": "amberflo.total_identity",
    "amberflo_items": "amberflo.items_sum_to_item_price",
    "amount_mismatch": "xsrc.total_agrees",
    "scale_error": "xsrc.total_agrees",
    "currency_mismatch": "xsrc.currency_agrees",
    "missing_in_ledger": "xsrc.counterpart_present",
    "missing_in_provider": "xsrc.counterpart_present",
    "counterpart_quarantined": "xsrc.counterpart_present",
    "duplicate_booking": "unique.external_ref",
    "duplicate_invoice_number": "unique.invoice_number",
    "invalid_currency": "currency.iso4217",
    "schema": "schema.unreadable_record",
    "ambiguous_key": "pairing.ambiguous",
}


@pytest.fixture(scope="module")
def result() -> pipeline.RunResult:
    return pipeline.run(SAMPLE / "close.yaml")


def _planted() -> list[dict]:
    items = json.loads((SAMPLE / "expected_findings.json").read_text(encoding="utf-8"))
    flat = []
    for item in items:
        flat.append(item)
        flat.extend({**s, "n": item["n"]} for s in item.get("secondary", []))
    return flat


#: the classification a cross-source finding of each kind carries (others: none)
CLASS_FOR_KIND = {
    "amount_mismatch": "amount_mismatch",
    "scale_error": "scale_error",
    "currency_mismatch": "currency_mismatch",
    "missing_in_ledger": "missing",
    "missing_in_provider": "missing",
    "counterpart_quarantined": "counterpart_quarantined",
    "ambiguous_key": "ambiguous",
}


def _matches(finding: dict, plant: dict) -> bool:
    if finding["rule_id"] != RULE_FOR_KIND[plant["kind"]]:
        return False
    if finding["classification"] != CLASS_FOR_KIND.get(plant["kind"]):
        return False
    ids = set(plant.get("related_ids") or []) | {plant["invoice_id"]}
    mine = {(finding["source"], finding["invoice_id"])}
    if finding["counterpart_source"]:
        mine.add((finding["counterpart_source"], finding["counterpart_invoice_id"]))
    return any(src == plant["source"] and inv in ids for src, inv in mine) or (
        # a cross-source finding may name the pair from the other side
        plant.get("counterpart_source") is not None
        and (plant["counterpart_source"], plant.get("counterpart_key")) in mine
        and any(inv in ids for _, inv in mine)
    )


def test_exactly_the_planted_discrepancies(result: pipeline.RunResult) -> None:
    findings = result.findings.to_dicts()
    planted = _planted()
    unmatched_plants = [p for p in planted if not any(_matches(f, p) for f in findings)]
    unexplained = [f for f in findings if not any(_matches(f, p) for p in planted)]
    assert unmatched_plants == [], "planted but not found"
    assert unexplained == [], "found but not planted"
    assert len(findings) == len(planted) == 21


def test_amounts_of_the_planted_differences(result: pipeline.RunResult) -> None:
    by_rule = {}
    for f in result.findings.to_dicts():
        by_rule.setdefault(f["rule_id"], []).append(f)
    deltas = {(f["rule_id"], f["invoice_id"]): f["delta_minor"] for f in result.findings.to_dicts()}
    for plant in _planted():
        if plant.get("expected_minor") is None or plant.get("actual_minor") is None:
            continue
        rule = RULE_FOR_KIND[plant["kind"]]
        want = plant["actual_minor"] - plant["expected_minor"]
        got = [
            d
            for (r, inv), d in deltas.items()
            if r == rule
            and d is not None
            and inv in {plant["invoice_id"], plant.get("counterpart_key")}
        ]
        assert got and abs(got[0]) == abs(want), plant["kind"]


def test_completeness_ties_per_source(result: pipeline.RunResult) -> None:
    by_name = {s.name: s for s in result.sources}
    for s in result.sources:
        assert s.records_read == s.valid + s.quarantined
        assert s.valid == s.out_of_period + s.in_period
        assert s.in_period == s.checked + s.repeated_ids + s.drafts
    assert (by_name["amberflo"].records_read, by_name["amberflo"].quarantined) == (23, 1)
    assert (by_name["f5xc"].records_read, by_name["f5xc"].out_of_period) == (6, 2)
    assert by_name["ledger"].checked == 89
    assert by_name["commet"].lines_valid > 0 and by_name["stripe"].lines_valid > 0


def test_sub_cent_amounts_are_exact_and_rounded_once_for_cross_source(
    result: pipeline.RunResult,
) -> None:
    """Amberflo's 3-decimal amounts: its identities hold exactly (nothing absorbed, no
    tolerance in the pack), and the rounding to cents for the ledger is reported."""
    assert result.engine.absorbed.is_empty() and result.engine.rounded.is_empty()
    amberflo = result.data["amberflo"]
    assert amberflo.precision.scale == 1  # one digit beyond the cent
    totals = result.rounding.filter(
        (pl.col("source") == "amberflo") & (pl.col("field") == "total_minor")
    )
    assert totals.select("currency", "amounts", "rounded", "residue_minor").rows() == [
        ("USD", 22, 7, "-3.5")
    ]


def test_not_applicable_where_providers_lack_inputs(result: pipeline.RunResult) -> None:
    na = {(c.rule_id, c.target) for c in result.engine.coverage if not c.applicable}
    applied = {(c.rule_id, c.target) for c in result.engine.coverage if c.applicable}
    # F5 and Frontier send no subtotal or tax; Amberflo has no tax; ledger no lines.
    assert ("unique.invoice_number", "f5xc") in na
    assert ("commet.total_identity", "commet") in applied
    assert ("xsrc.total_agrees", "stripe-frontier") in applied


def test_deterministic_findings(result: pipeline.RunResult) -> None:
    again = pipeline.run(SAMPLE / "close.yaml")
    assert again.findings.equals(result.findings)


def test_recording_is_checked_against_its_manifest(tmp_path: Path) -> None:
    import shutil

    from reconcile.errors import InputDataError
    from reconcile.recording import read_recording

    copy = tmp_path / "stripe"
    shutil.copytree(SAMPLE / "recordings" / "stripe", copy)
    page = copy / "0002.json"
    page.write_bytes(page.read_bytes().replace(b'"total": ', b'"total": 1', 1))
    with pytest.raises(InputDataError, match="SHA-256"):
        read_recording(copy, "stripe")


def _copy_sample(tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "sample"
    shutil.copytree(SAMPLE, target, ignore=shutil.ignore_patterns("generate.py", "*.md"))
    return target


def _rewrite_page(folder: Path, name: str, transform) -> None:
    """Edit a recorded page and re-seal it in the manifest (a provider sending it so)."""
    from reconcile.recording import sha256

    page = folder / name
    page.write_bytes(transform(page.read_bytes()))
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["pages"]:
        if entry["file"] == name:
            entry["sha256"] = sha256(page.read_bytes())
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconcile", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_output_bytes_do_not_depend_on_where_the_data_is(tmp_path: Path) -> None:
    copy = _copy_sample(tmp_path)
    _cli("run", SAMPLE / "close.yaml", "--out", tmp_path / "a")
    _cli("run", copy / "close.yaml", "--out", tmp_path / "b")
    for name in ("findings.json", "findings.csv", "findings.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_wrong_types_in_a_page_become_findings_naming_page_and_record(tmp_path: Path) -> None:
    copy = _copy_sample(tmp_path)
    stripe = copy / "recordings" / "stripe"

    def break_records(body: bytes) -> bytes:
        page = json.loads(body)
        page["data"][0]["total"] = "lots"  # wrong type
        del page["data"][1]["currency"]  # missing field
        page["data"][2]["amount_due"] = 2**63  # beyond int64
        page["data"][3]["currency"] = "zzz"  # unknown currency
        return json.dumps(page).encode()

    _rewrite_page(stripe, "0002.json", break_records)
    proc = _cli("run", copy / "close.yaml", "--out", tmp_path / "o")
    assert proc.returncode == 1, proc.stderr
    findings = json.loads((tmp_path / "o" / "findings.json").read_text())
    unreadable = [
        f
        for f in findings
        if f["rule_id"] == "schema.unreadable_record" and f["source"] == "stripe"
    ]
    assert sorted(f["location"] for f in unreadable) == [
        f"recordings/stripe/0002.json record {i}" for i in range(3)
    ]
    messages = {f["location"][-1]: f["message"] for f in unreadable}
    assert "'total'" in messages["0"] and "currency" in messages["1"]
    assert "64-bit" in messages["2"]
    # An unknown code is read all the same (its digits do not depend on it): reported
    # by the currency rule, and compared on currency with its counterparts.
    unknown = [
        f for f in findings if f["rule_id"] == "currency.iso4217" and f["source"] == "stripe"
    ]
    assert [f["actual"] for f in unknown] == ["ZZZ"]
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    stripe_summary = next(s for s in summary["sources"] if s["name"] == "stripe")
    assert (stripe_summary["records_read"], stripe_summary["quarantined"]) == (30, 3)


def test_html_error_page_exits_3_naming_source_and_page(tmp_path: Path) -> None:
    copy = _copy_sample(tmp_path)
    _rewrite_page(
        copy / "recordings" / "commet",
        "0002.json",
        lambda _b: b"<html><body>502 Bad Gateway</body></html>",
    )
    proc = _cli("run", copy / "close.yaml", "--out", tmp_path / "o")
    assert proc.returncode == 3
    assert "commet" in proc.stderr and "0002.json" in proc.stderr
    assert "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o" / "report.html").exists()
