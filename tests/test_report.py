"""The report of the sample month: reconciliation per pairing, waterfalls, summary.json.

The sample's plants (sample_data/README.md) fix every number asserted here: the
stripe-ledger pairing has a JPY scale error (#9) and a EUR amount mismatch (#8),
commet-ledger a currency mismatch (#10), a ledger row without Commet invoice
(#13) and an ambiguous invoice number, amberflo-ledger an ambiguous reference
(booked twice) and a ledger row without Amberflo invoice.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from reconcile import outputs, pipeline, report, report_reconciliation
from tests.conftest import REPO

AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
SCALE_LEFT, SCALE_RIGHT = "in_1QHllHTCAWDtG5hodkoMnLkb", "JE-2026-10-0059"


@pytest.fixture(scope="module")
def result() -> pipeline.RunResult:
    return pipeline.run(REPO / "sample_data" / "close.yaml")


@pytest.fixture(scope="module")
def model(result: pipeline.RunResult) -> dict[str, Any]:
    return report.build(result, fail_on="error", generated_at=AT)


@pytest.fixture(scope="module")
def out(
    result: pipeline.RunResult, model: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    folder = tmp_path_factory.mktemp("report")
    outputs.write_all(folder, result.findings, model, ("html", "md", "json"), None)
    return folder


def _pairing(model: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in model["reconciliation"] if r["name"] == name)


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


# --- the model ---------------------------------------------------------------------------


def test_every_side_ties_records_to_matched_unmatched_ambiguous(model: dict[str, Any]) -> None:
    assert [r["name"] for r in model["reconciliation"]] == [
        "stripe-frontier",
        "stripe-ledger",
        "commet-ledger",
        "amberflo-ledger",
        "f5xc-ledger",
    ]
    counts = {
        (r["name"], s["side"]): (
            s["records"],
            s["matched"],
            s["unmatched"],
            s["ambiguous"],
            s["ties"],
        )
        for r in model["reconciliation"]
        for s in r["sides"]
    }
    assert counts == {
        ("stripe-frontier", "left"): (30, 30, 0, 0, True),
        ("stripe-frontier", "right"): (30, 30, 0, 0, True),
        ("stripe-ledger", "left"): (30, 30, 0, 0, True),
        ("stripe-ledger", "right"): (30, 30, 0, 0, True),
        # INV-1011 twice in Commet, once in the ledger: 3 ambiguous records, 1 key
        ("commet-ledger", "left"): (32, 30, 0, 2, True),
        ("commet-ledger", "right"): (32, 30, 1, 1, True),
        # cedar-analytics booked twice: 1 Amberflo + 2 ledger records ambiguous
        ("amberflo-ledger", "left"): (22, 21, 0, 1, True),
        ("amberflo-ledger", "right"): (24, 21, 1, 2, True),
        ("f5xc-ledger", "left"): (4, 3, 1, 0, True),
        ("f5xc-ledger", "right"): (3, 3, 0, 0, True),
    }
    assert _pairing(model, "commet-ledger")["ambiguous_keys"] == 1
    assert _pairing(model, "amberflo-ledger")["ambiguous_keys"] == 1


def test_stripe_ledger_tie_out_and_classes(model: dict[str, Any]) -> None:
    recon = _pairing(model, "stripe-ledger")
    assert recon["describe"] == "stripe.invoice_id ↔ ledger.external_ref (1:1)"
    assert recon["ties"] is True
    rows = {t["currency"]: t for t in recon["tieout"]}
    assert sorted(rows) == ["EUR", "JPY", "KWD", "USD"]
    jpy = rows["JPY"]
    assert (
        jpy["left_records"],
        jpy["left_total"],
        jpy["right_records"],
        jpy["right_total"],
        jpy["difference"],
        jpy["explained"],
        jpy["unexplained"],
        jpy["ties"],
    ) == (4, "454,274", 4, "330,524", "-123,750", "-123,750", "0", True)
    # the parts in tieout.PARTS order: amount differences carry the scale error
    assert [p["text"] for p in jpy["parts"]] == ["-123,750", "0", "0", "0", "0", "0", "0"]
    assert rows["EUR"]["difference"] == "-10.00" and rows["KWD"]["left_total"] == "582.700"
    assert [(c["label"], c["currency"], c["count"], c["net"]) for c in recon["classes"]] == [
        ("scale error", "JPY", 1, "-123,750"),
        ("amount mismatch", "EUR", 1, "-10.00"),
    ]
    assert {(f["invoice_id"], f["counterpart_invoice_id"]) for f in recon["findings"]} == {
        (SCALE_LEFT, SCALE_RIGHT),
        ("in_1QjmE9zHp88aSfzPlzZD5qxU", "JE-2026-10-0019"),
    }


def test_commet_ledger_explains_currency_missing_and_ambiguous(model: dict[str, Any]) -> None:
    recon = _pairing(model, "commet-ledger")
    rows = {t["currency"]: t for t in recon["tieout"]}
    titles = model["tie_parts"]
    parts = {c: dict(zip(titles, (p["text"] for p in rows[c]["parts"]), strict=True)) for c in rows}
    # GBP 112.08 booked as EUR: out of GBP, into EUR; INV-1999 booked without invoice
    assert parts["GBP"]["Currency mismatch"] == "-112.08"
    assert (parts["EUR"]["Currency mismatch"], parts["EUR"]["Missing"]) == ("112.08", "850.00")
    assert parts["USD"]["Ambiguous keys"] == "-477.06"
    assert all(t["unexplained"] in ("0.00", "0.000") for t in recon["tieout"])
    assert [(c["classification"], c["currency"], c["count"]) for c in recon["classes"]] == [
        ("currency_mismatch", "GBP", 1),
        ("missing", "EUR", 1),
        ("ambiguous", "USD", 1),
    ]
    assert recon["findings_total"] == 3


def test_every_cross_source_finding_lands_in_one_configured_pairing(
    result: pipeline.RunResult, model: dict[str, Any]
) -> None:
    findings = result.findings
    sources = {p.name: {p.left.name, p.right.name} for p in result.pairings}
    cross = findings.filter(pl.col("rule_type").is_in(["compare", "presence", "matching"]))
    assert cross.height == 10 and cross["pairing"].null_count() == 0
    for f in cross.to_dicts():  # a configured pairing joining the finding's two sources
        assert sources[f["pairing"]] == {f["source"], f["counterpart_source"]}, f
    where = {(f["rule_id"], f["invoice_id"]): f["pairing"] for f in cross.to_dicts()}
    assert where[("xsrc.total_agrees", "in_1QM13ireqz8Cs4aUt3ExO2Nb")] == "stripe-frontier"
    assert where[("xsrc.total_agrees", SCALE_LEFT)] == "stripe-ledger"
    assert where[("xsrc.counterpart_present", "JE-2026-10-0062")] == "commet-ledger"
    assert where[("xsrc.counterpart_present", "JE-2026-10-0076")] == "amberflo-ledger"
    assert where[("pairing.ambiguous", "JE-2026-10-0067")] == "amberflo-ledger"
    per_source = findings.filter(pl.col("rule_type").is_in(["expression", "aggregate", "schema"]))
    assert per_source["pairing"].null_count() == per_source.height
    # the report lists each of them under its pairing, and nothing else there
    listed = {f["finding_id"]: r["name"] for r in model["reconciliation"] for f in r["findings"]}
    assert listed == dict(
        findings.filter(pl.col("pairing").is_not_null()).select("finding_id", "pairing").iter_rows()
    )
    assert sum(r["findings_total"] for r in model["reconciliation"]) == len(listed)


def test_scale_error_waterfall_shows_both_sides(model: dict[str, Any]) -> None:
    fall = next(
        w
        for w in model["waterfalls"]
        if [s["invoice"] for s in w["sides"]] == [SCALE_LEFT, SCALE_RIGHT]
    )
    assert fall["pairing"] == "stripe-ledger" and fall["cross_source"]
    stripe, ledger = fall["sides"]
    assert fall["titles"] == ["Subtotal", "− Discount", "− Credit", "+ Tax", "+ Shipping"]
    # Stripe walks 113,636 + 11,364 tax = 125,000; it sends no credit column
    assert stripe["cells"] == ["113,636", "0", "—", "11,364", "0"]
    assert (stripe["total"], stripe["walked"], stripe["residual"]) == ("125,000", "125,000", "0")
    # the ledger sends only its total
    assert ledger["cells"] == ["—"] * 5 and ledger["total"] == "1,250"
    assert ledger["walked"] == "—" and ledger["currency"] == "JPY"
    [finding] = fall["findings"]
    assert (
        finding["rule_id"],
        finding["label"],
        finding["expected"],
        finding["actual"],
        finding["delta"],
    ) == ("xsrc.total_agrees", "scale error", "125000 JPY", "1250 JPY", "-123,750")


def test_arithmetic_waterfall_shows_the_residual(model: dict[str, Any]) -> None:
    fall = next(w for w in model["waterfalls"] if w["sides"][0]["invoice"] == "inv_EKLxvxkGy1LZ")
    [side] = fall["sides"]
    # plant #1: 27500 − 2750 − 500 + 1794 = 26044, but the total says 26144
    assert side["cells"] == ["275.00", "27.50", "5.00", "17.94"]
    assert (side["total"], side["walked"], side["residual"], side["off"]) == (
        "261.44",
        "260.44",
        "1.00",
        True,
    )
    assert fall["findings"][0]["rule_id"] == "commet.total_identity"
    # one waterfall per flagged invoice or pair: 7 arithmetic + 5 cross-source
    assert model["waterfalls_total"] == len(model["waterfalls"]) == 12


def test_waterfalls_are_capped_and_skipped_without_detail(
    result: pipeline.RunResult, model: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_reconciliation, "WATERFALL_LIMIT", 3)
    monkeypatch.setattr(report_reconciliation, "DETAIL_LIMIT", 1)
    capped = report.build(result, fail_on="error", generated_at=AT)
    assert [w["sides"][0]["invoice"] for w in capped["waterfalls"]] == [
        w["sides"][0]["invoice"] for w in model["waterfalls"][:3]
    ]
    assert (capped["waterfalls_total"], capped["waterfalls_more"]) == (12, 9)
    recon = _pairing(capped, "commet-ledger")
    assert (len(recon["findings"]), recon["findings_more"]) == (1, 2)
    html = report_html(capped)
    assert "Showing 3 of 12; 9 more in <code>findings.json</code>." in html
    assert "2 more finding(s) of this pairing" in html
    lean = report.build(result, fail_on="error", generated_at=AT, detail=False)
    assert lean["waterfalls"] == [] and _pairing(lean, "commet-ledger")["findings"] == []
    assert (
        report.summary_json(lean)["reconciliation"] == report.summary_json(model)["reconciliation"]
    )


def report_html(model: dict[str, Any]) -> str:
    from reconcile import render

    return render.render("report.html.j2", model)


# --- the files ---------------------------------------------------------------------------


def test_summary_json_ties_out_in_minor_units(out: Path) -> None:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    recon = summary["reconciliation"]
    assert [r["pairing"] for r in recon] == sorted(r["pairing"] for r in recon)
    assert len(recon) == 5
    parts = (
        "amount_differences_minor",
        "currency_mismatch_minor",
        "missing_minor",
        "timing_minor",
        "quarantined_minor",
        "ambiguous_minor",
        "absorbed_minor",
    )
    for r in recon:
        assert r["ties"] is True
        assert [t["currency"] for t in r["tieout"]] == sorted(t["currency"] for t in r["tieout"])
        for t in r["tieout"]:
            assert t["unexplained_minor"] == 0, (r["pairing"], t)
            assert t["difference_minor"] == t["right_total_minor"] - t["left_total_minor"]
            assert t["difference_minor"] == sum(t[p] for p in parts)
            assert all(type(v) is int for k, v in t.items() if k != "currency")
    stripe_ledger = next(r for r in recon if r["pairing"] == "stripe-ledger")
    assert next(t for t in stripe_ledger["tieout"] if t["currency"] == "JPY") == {
        "currency": "JPY",
        "left_records": 4,
        "left_total_minor": 454274,
        "right_records": 4,
        "right_total_minor": 330524,
        "difference_minor": -123750,
        "amount_differences_minor": -123750,
        "currency_mismatch_minor": 0,
        "missing_minor": 0,
        "timing_minor": 0,
        "quarantined_minor": 0,
        "ambiguous_minor": 0,
        "absorbed_minor": 0,
        "void_unbooked_minor": 0,
        "unexplained_minor": 0,
    }
    assert stripe_ledger["findings_by_classification"] == {"amount_mismatch": 1, "scale_error": 1}
    commet = next(r for r in recon if r["pairing"] == "commet-ledger")
    assert commet["counts"] == {
        "ambiguous_keys": 1,
        "left_ambiguous": 2,
        "left_matched": 30,
        "left_unmatched": 0,
        "right_ambiguous": 1,
        "right_matched": 30,
        "right_unmatched": 1,
    }
    assert list(commet["counts"]) == sorted(commet["counts"])
    assert summary["findings_by_classification"] == {
        "ambiguous": 2,
        "amount_mismatch": 2,
        "counterpart_quarantined": 1,
        "currency_mismatch": 2,
        "missing": 2,
        "scale_error": 1,
    }


def test_html_reconciliation_section(out: Path) -> None:
    html = (out / "report.html").read_text(encoding="utf-8")
    section = _section(html, "<h2>3. Reconciliation", "<h2>4. Exceptions by rule")
    block = _section(section, 'id="pairing-stripe-ledger"', "</section>")
    assert "ties ✓" in block
    assert (
        "<tr><td>right</td><td>ledger</td><td><code>external_ref</code></td>"
        "<td><code>origin_system = &#39;stripe&#39;</code></td>"
    ) in block
    jpy = re.search(r"<tr><td>JPY</td>(.*?)</tr>", block)
    assert jpy is not None
    cells = re.findall(r"<td[^>]*>(?:<span[^>]*>)?([^<]*)", jpy.group(1))
    assert cells == [
        "4",
        "454,274",
        "4",
        "330,524",
        "-123,750",
        "-123,750",
        "0",
        "0",
        "0",
        "0",
        "0",
        "0",
        "-123,750",
        "0",
    ]
    assert "<td>scale error</td><td>JPY</td>" in block
    commet = _section(section, 'id="pairing-commet-ledger"', "</section>")
    assert "✓</span> 32 = 30 + 1 + 1" in commet and "pairing.ambiguous" in commet
    # the f5xc invoice in "UDS": an unknown code, its amounts shown as read, and said so
    assert "UDS (not an ISO 4217 code: amounts shown with 2 decimals)" in section


def test_html_highlights_an_unexplained_remainder(
    result: pipeline.RunResult, model: dict[str, Any]
) -> None:
    broken = dict(model)
    recon = [dict(r) for r in model["reconciliation"]]
    row = dict(recon[1]["tieout"][1], unexplained="5", ties=False)
    recon[1] = dict(
        recon[1], tieout=[recon[1]["tieout"][0], row, *recon[1]["tieout"][2:]], ties=False
    )
    broken["reconciliation"] = recon
    html = report_html(broken)
    block = _section(html, 'id="pairing-stripe-ledger"', "</section>")
    assert "does not tie ✗" in block
    assert '<tr class="bad"><td>JPY</td>' in block
    assert '<span class="bad">5</span>' in block
    assert "does not tie" not in _section(html, 'id="pairing-commet-ledger"', "</section>")


def test_html_and_markdown_waterfall(out: Path) -> None:
    html = (out / "report.html").read_text(encoding="utf-8")
    falls = _section(html, "<h2>6. Per-invoice waterfalls", "<h2>7. Rule coverage")
    block = _section(falls, f"<h4>stripe {SCALE_LEFT} ↔ ledger {SCALE_RIGHT}", "</div>")
    assert "(pairing stripe-ledger)" in block
    assert '<td class="num"><strong>125,000</strong></td>' in block
    assert '<td class="num"><strong>1,250</strong></td>' in block
    assert "scale error" in block and "<strong>-123,750</strong>" in block
    md = (out / "report.md").read_text(encoding="utf-8")
    section = md[md.index("## 6. Per-invoice waterfalls") :]  # the last section
    heading = "### stripe in\\_1QHllHTCAWDtG5hodkoMnLkb ↔ ledger JE\\-2026\\-10\\-0059"
    assert heading in section
    after = section[section.index(heading) :]
    ledger_row = next(line for line in after.splitlines() if line.startswith("| ledger |"))
    assert "**1,250**" in ledger_row and ledger_row.count(" | ") == 10  # 11 cells


def test_markdown_reconciliation_tables_are_well_formed(out: Path) -> None:
    md = (out / "report.md").read_text(encoding="utf-8")
    section = _section(md, "## 3. Reconciliation", "## 4. Exceptions by rule")
    assert section.count("\n### ") == 5
    lines = section.splitlines()
    jpy = next(
        line
        for line in _section(section, "### stripe\\-ledger", "### commet").splitlines()
        if line.startswith("| JPY |")
    )
    assert jpy == (
        "| JPY | 4 | 454,274 | 4 | 330,524 | \\-123,750 | \\-123,750 | 0 | 0 | 0 "
        "| 0 | 0 | 0 | \\-123,750 | 0 |"
    )
    # every table row has as many cells as its header
    width = None
    for line in lines:
        if not line.startswith("|"):
            width = None
            continue
        cells = len(re.split(r"(?<!\\)\|", line)) - 2
        width = width or cells
        assert cells == width, line


def test_two_pairings_on_the_same_sources_are_told_apart(write, tmp_path: Path) -> None:
    # Both pairings join billing to books (by different filters): the sources alone
    # cannot say which pairing a finding belongs to; its ``pairing`` column does.
    write(
        "books.csv",
        "id,sys,ref,cur,amount\n"
        "JE-1,A,in_1,USD,10.00\nJE-2,B,in_1,USD,12.00\nJE-3,B,in_9,USD,3.00\n",
    )
    write("billing.csv", "id,cur,amount\nin_1,USD,10.00\nin_2,USD,5.00\n")
    cfg = write(
        "close.yaml",
        """
period: {start: 2026-10-01, end: 2026-11-01}
sources:
  books: {provider: file, path: books.csv,
          columns: {invoice_id: id, origin_system: sys, external_ref: ref, currency: cur,
                    total_minor: amount}}
  billing: {provider: file, path: billing.csv,
            columns: {invoice_id: id, currency: cur, total_minor: amount}}
pairings:
  - name: via-a
    left: {source: billing, key: invoice_id}
    right: {source: books, key: external_ref, filter: "origin_system = 'A'"}
  - name: via-b
    left: {source: billing, key: invoice_id}
    right: {source: books, key: external_ref, filter: "origin_system = 'B'"}
""",
    )
    result = pipeline.run(cfg)
    got = sorted(
        (
            f["rule_id"],
            f["source"],
            f["invoice_id"],
            f["counterpart_invoice_id"] or "",
            f["pairing"],
        )
        for f in result.findings.to_dicts()
        if f["rule_id"].startswith("xsrc.")
    )
    assert got == [
        # in_2 has a counterpart in neither: one presence finding per pairing
        ("xsrc.counterpart_present", "billing", "in_2", "", "via-a"),
        ("xsrc.counterpart_present", "billing", "in_2", "", "via-b"),
        ("xsrc.counterpart_present", "books", "JE-3", "", "via-b"),
        ("xsrc.total_agrees", "billing", "in_1", "JE-2", "via-b"),
    ]
    model = report.build(result, fail_on="error", generated_at=AT)
    classes = {
        r["name"]: [(c["label"], c["count"], c["net"]) for c in r["classes"]]
        for r in model["reconciliation"]
    }
    assert classes == {
        "via-a": [("missing", 1, "-5.00")],
        "via-b": [("amount mismatch", 1, "2.00"), ("missing", 2, "-2.00")],
    }


def test_waterfall_sums_the_many_side_of_a_1_to_n_pairing(write) -> None:
    write("books.csv", "id,ref,cur,amount\nJE-1,in_1,USD,60.00\nJE-2,in_1,USD,30.00\n")
    write("billing.csv", "id,cur,amount,sub,tax\nin_1,USD,100.00,80.00,20.00\n")
    cfg = write(
        "close.yaml",
        """
period: {start: 2026-10-01, end: 2026-11-01}
sources:
  books: {provider: file, path: books.csv,
          columns: {invoice_id: id, external_ref: ref, currency: cur, total_minor: amount}}
  billing: {provider: file, path: billing.csv,
            columns: {invoice_id: id, currency: cur, total_minor: amount,
                      subtotal_minor: sub, tax_minor: tax}}
pairings:
  - name: split
    left: {source: billing, key: invoice_id}
    right: {source: books, key: external_ref}
    cardinality: 1:N
""",
    )
    result = pipeline.run(cfg)
    model = report.build(result, fail_on="error", generated_at=AT)
    [fall] = [w for w in model["waterfalls"] if w["cross_source"]]
    billing, books = fall["sides"]
    assert (billing["cells"], billing["total"], billing["residual"]) == (
        ["80.00", "—", "—", "20.00"],
        "100.00",
        "0.00",
    )
    assert (books["invoice"], books["records"], books["total"]) == ("JE-1, JE-2", 2, "90.00")
    assert fall["findings"][0]["delta"] == "-10.00"
    html = report_html(model)
    assert 'JE-1, JE-2 <span class="muted">(2 records, summed)</span>' in html
    [recon] = model["reconciliation"]
    assert [(s["records"], s["matched"]) for s in recon["sides"]] == [(1, 1), (2, 2)]


def test_waterfall_reads_a_source_in_no_pairing(write) -> None:
    write("books.csv", "id,ref,cur,amount\nJE-1,in_1,USD,100.00\n")
    write("billing.csv", "id,cur,amount,sub,tax\nin_1,USD,100.00,80.00,20.00\n")
    write("shop.csv", "id,cur,amount,sub,tax\nsh_1,USD,50.00,40.00,5.00\n")
    columns = (
        "{invoice_id: id, currency: cur, total_minor: amount, subtotal_minor: sub, tax_minor: tax}"
    )
    write(
        "shop.yaml",
        """
rules:
  - id: shop.total_identity
    title: Total is subtotal plus tax
    type: expression
    applies_to: {source: shop}
    field: total_minor
    expect: subtotal_minor + tax_minor
""",
    )
    cfg = write(
        "close.yaml",
        f"""
period: {{start: 2026-10-01, end: 2026-11-01}}
sources:
  books: {{provider: file, path: books.csv,
          columns: {{invoice_id: id, external_ref: ref, currency: cur, total_minor: amount}}}}
  billing: {{provider: file, path: billing.csv, columns: {columns}}}
  shop: {{provider: file, path: shop.csv, columns: {columns}}}
pairings:
  - name: books
    left: {{source: billing, key: invoice_id}}
    right: {{source: books, key: external_ref}}
rules: [shop.yaml]
""",
    )
    result = pipeline.run(cfg)
    assert "shop" not in {s for p in result.pairings for s in (p.left.name, p.right.name)}
    model = report.build(result, fail_on="error", generated_at=AT)
    [fall] = model["waterfalls"]
    [side] = fall["sides"]
    assert (side["source"], side["invoice"], fall["pairing"], fall["unavailable"]) == (
        "shop",
        "sh_1",
        "",
        [],
    )
    assert (side["cells"], side["total"], side["walked"], side["residual"], side["off"]) == (
        ["40.00", "—", "—", "5.00"],
        "50.00",
        "45.00",
        "5.00",
        True,
    )


def test_exception_detail_names_the_pairing(out: Path) -> None:
    html = (out / "report.html").read_text(encoding="utf-8")
    detail = _section(html, "<h2>5. Exceptions — detail", "<h2>6. Per-invoice waterfalls")
    present = _section(detail, 'id="xsrc.counterpart_present"', "</section>")
    assert (
        '<td>commet —<br><a class="muted" href="#pairing-commet-ledger">(commet-ledger)</a></td>'
    ) in present
    # a per-source rule belongs to no pairing
    assert "#pairing-" not in _section(detail, 'id="commet.total_identity"', "</section>")
    md = (out / "report.md").read_text(encoding="utf-8")
    row = next(
        line for line in md.splitlines() if line.startswith("| ledger | JE\\-2026\\-10\\-0062 |")
    )
    assert "| commet — (commet\\-ledger) |" in row
