"""The CLI as a user runs it: a real subprocess, exit codes, files written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from reconcile import cli

BOOKS = """id,ref,cur,amount,customer,memo
JE-1,in_1,USD,10.00,Smith & Sons | <Retail>,"a | b *c*"
JE-2,in_2,JPY,125000,Tanaka,
JE-3,in_3,KWD,12.345,Gulf Co,
"""
BILLING = """id,cur,amount
in_1,USD,10.00
in_2,JPY,125000
in_3,KWD,12.345
"""


def config(write, books: str = BOOKS, billing: str = BILLING, extra: str = "") -> Path:
    write("books.csv", books)
    write("billing.csv", billing)
    return write(
        "close.yaml",
        f"""
name: Test close
period: {{start: 2026-10-01, end: 2026-11-01}}
sources:
  books:
    provider: file
    path: books.csv
    columns: {{invoice_id: id, external_ref: ref, currency: cur, total_minor: amount,
               customer_name: customer, memo: memo}}
  billing:
    provider: file
    path: billing.csv
    columns: {{invoice_id: id, currency: cur, total_minor: amount}}
pairings:
  - name: billing-books
    left: {{source: billing, key: invoice_id}}
    right: {{source: books, key: external_ref}}
{extra}""",
    )


def reconcile(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconcile", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_clean_run_exits_0_and_writes_everything(write, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = reconcile("run", config(write), "--out", out)
    assert proc.returncode == 0, proc.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {
        "findings.json",
        "findings.csv",
        "findings.parquet",
        "report.html",
        "report.md",
        "summary.json",
        ".reconcile.lock",
    }  # (the run's lock)
    assert json.loads((out / "findings.json").read_text()) == []
    summary = json.loads((out / "summary.json").read_text())
    totals = {(c["source"], c["currency"]): c["total"] for c in summary["control_totals"]}
    assert totals[("books", "KWD")] == "12.345" and totals[("books", "JPY")] == "125,000"
    assert summary["status"] == "clean"


def test_findings_exit_1_and_fail_on_never(write, tmp_path: Path) -> None:
    cfg = config(write, billing=BILLING.replace("125000", "125001"))
    proc = reconcile("run", cfg, "--out", tmp_path / "o1")
    assert proc.returncode == 1, proc.stderr
    findings = pl.read_parquet(tmp_path / "o1" / "findings.parquet")
    assert findings.select("rule_id", "invoice_id", "delta_minor").rows() == [
        ("xsrc.total_agrees", "in_2", -1)
    ]
    assert reconcile("run", cfg, "--out", tmp_path / "o2", "--fail-on", "never").returncode == 0


def test_report_escapes_untrusted_text(write, tmp_path: Path) -> None:
    # Invoice ids come from providers and exports: untrusted, and shown in findings.
    evil = "in_<img src=x onerror=alert(1)>|*x*"
    cfg = config(
        write,
        books=BOOKS.replace("JE-1,in_1", f'JE-1,"{evil}"'),
        billing=BILLING.replace("in_1,USD,10.00", f'"{evil}",USD,10.01'),
    )
    out = tmp_path / "out"
    assert reconcile("run", cfg, "--out", out).returncode == 1
    html = (out / "report.html").read_text()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    md = (out / "report.md").read_text()
    row = next(line for line in md.splitlines() if "onerror" in line and "xsrc" not in line)
    assert "\\<img src=x onerror=alert\\(1\\)\\>\\|\\*x\\*" in row  # escaped cell
    assert row.count(" | ") == 9  # the pipe inside the id did not add a column


def test_same_input_same_bytes(write, tmp_path: Path) -> None:
    cfg = config(write, billing=BILLING.replace("125000", "99"))
    reconcile("run", cfg, "--out", tmp_path / "a")
    reconcile("run", cfg, "--out", tmp_path / "b")
    for name in ("findings.json", "findings.csv", "findings.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    stamp = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
    for name in ("report.html", "report.md", "summary.json"):
        a, b = ((tmp_path / d / name).read_text() for d in "ab")
        assert len(stamp.findall(a)) == 1  # the run timestamp, once
        assert stamp.sub("<run timestamp>", a) == stamp.sub("<run timestamp>", b)


def test_config_errors_exit_2_with_file_and_line(write, tmp_path: Path) -> None:
    cfg = config(write, extra="colour: blue\n")
    proc = reconcile("run", cfg, "--out", tmp_path / "o")
    assert proc.returncode == 2
    assert "close.yaml:" in proc.stderr and "colour" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_bad_rule_file_exits_2_before_reading_data(write, tmp_path: Path) -> None:
    write(
        "rules.yaml",
        'rules:\n  - id: r.one\n    title: t\n    type: expression\n    assert: "totl_minor > 0"\n',
    )
    cfg = config(write, books="not,even\ncsv", extra="rules: [rules.yaml]\n")
    proc = reconcile("run", cfg, "--out", tmp_path / "o")
    assert proc.returncode == 2
    assert "rules.yaml:5: rule r.one" in proc.stderr and "totl_minor" in proc.stderr
    check = reconcile("rules", "check", tmp_path / "rules.yaml")
    assert check.returncode == 2 and "rules.yaml:5" in check.stderr


def test_missing_input_exits_3(write, tmp_path: Path) -> None:
    cfg = config(write)
    (tmp_path / "books.csv").unlink()
    proc = reconcile("run", cfg, "--out", tmp_path / "o")
    assert proc.returncode == 3
    assert "books" in proc.stderr and "books.csv" in proc.stderr
    assert not (tmp_path / "o" / "report.html").exists()


def test_bad_rows_become_findings_not_crashes(write, tmp_path: Path) -> None:
    books = (
        BOOKS + "JE-4,in_4,USD,ten dollars,X,\nJE-5,in_5,ZZZ,1.00,Y,\n"
        "JE-6,in_6,USD,99999999999999999999.99,Z,\n"
    )
    proc = reconcile("run", config(write, books=books), "--out", tmp_path / "o")
    assert proc.returncode == 1, proc.stderr
    findings = json.loads((tmp_path / "o" / "findings.json").read_text())
    unreadable = {
        f["invoice_id"]: f for f in findings if f["rule_id"] == "schema.unreadable_record"
    }
    assert set(unreadable) == {"JE-4", "JE-6"}
    assert "books.csv row 5" in unreadable["JE-4"]["location"]
    assert "64-bit" in unreadable["JE-6"]["message"]
    # an unknown code is read (its digits do not depend on it) and reported as a code
    (zzz,) = [f for f in findings if f["rule_id"] == "currency.iso4217"]
    assert (zzz["invoice_id"], zzz["actual"]) == ("JE-5", "ZZZ")
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    books_summary = next(s for s in summary["sources"] if s["name"] == "books")
    assert (books_summary["records_read"], books_summary["quarantined"]) == (6, 2)


def test_rules_list_shows_the_default_pack() -> None:
    proc = reconcile("rules", "list")
    assert proc.returncode == 0
    assert "commet.total_identity" in proc.stdout and "identities.yaml" in proc.stdout


def test_internal_error_exits_4(monkeypatch: pytest.MonkeyPatch, write, tmp_path: Path) -> None:
    from reconcile import pipeline

    def boom(*_a, **_k):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(pipeline, "run", boom)
    result = CliRunner().invoke(cli.main, ["run", str(config(write)), "--out", str(tmp_path / "o")])
    assert result.exit_code == 4
    assert "internal error" in result.output and "simulated bug" in result.output


def test_lines_take_their_invoice_currency_and_bad_lines_make_sums_not_applicable(
    write, tmp_path: Path
) -> None:
    write(
        "lines.csv", "inv,amount\nin_1,6.00\nin_1,4.00\nin_2,125000\nin_3,oops\nin_3,1\nin_9,1.00\n"
    )
    extra = """rules: [rules.yaml]
"""
    write(
        "rules.yaml",
        """rules:
  - id: lines.sum
    title: lines sum to total
    type: aggregate
    field: total_minor
""",
    )
    cfg = (
        config(write, extra=extra)
        .read_text()
        .replace(
            "    columns: {invoice_id: id, currency: cur, total_minor: amount}",
            "    columns: {invoice_id: id, currency: cur, total_minor: amount}\n"
            "    lines: {path: lines.csv, columns: {invoice_id: inv, amount_minor: amount}}",
        )
    )
    (tmp_path / "close.yaml").write_text(cfg)
    proc = reconcile("run", tmp_path / "close.yaml", "--out", tmp_path / "o")
    findings = json.loads((tmp_path / "o" / "findings.json").read_text())
    by_rule = {}
    for f in findings:
        by_rule.setdefault(f["rule_id"], []).append(f)
    # in_1 (USD 6.00 + 4.00) and in_2 (JPY 125000) sum exactly in their invoice's currency;
    # in_3 has an unreadable line, so its sum is N/A, not a failure.
    assert "lines.sum" not in by_rule, by_rule.get("lines.sum")
    unreadable = {f["location"]: f for f in by_rule["schema.unreadable_record"]}
    assert sorted(unreadable) == ["lines.csv row 5", "lines.csv row 7"]
    # a line whose invoice the source does not have is quarantined, not dropped
    assert "invoice is not in this source" in unreadable["lines.csv row 7"]["message"]
    assert proc.returncode == 1
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    cov = next(c for c in summary["coverage"] if c["rule_id"] == "lines.sum")
    assert (cov["checked"], cov["failed"], cov["not_applicable_rows"]) == (3, 0, 1)


def test_reports_never_print_python_none(tmp_path: Path) -> None:
    from tests.conftest import REPO

    proc = reconcile("run", REPO / "sample_data" / "close.yaml", "--out", tmp_path / "o")
    assert proc.returncode == 1, proc.stderr
    html = (tmp_path / "o" / "report.html").read_text()
    md = (tmp_path / "o" / "report.md").read_text()
    assert ">None<" not in html and "| None |" not in md


def test_parquet_instants_convert_to_utc(write, tmp_path: Path) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from reconcile import pipeline

    tokyo = datetime(2026, 10, 1, 8, 30, tzinfo=ZoneInfo("Asia/Tokyo"))  # 2026-09-30 23:30Z
    pl.DataFrame(
        {
            "id": ["a", "b"],
            "cur": ["JPY", "JPY"],
            "amount": [100, 200],
            "at": [tokyo, tokyo.replace(day=2)],
        }
    ).write_parquet(tmp_path / "x.parquet")
    cfg = write(
        "p.yaml",
        """
period: {start: 2026-10-01, end: 2026-11-01}
sources:
  x:
    provider: file
    path: x.parquet
    amounts: minor
    period_field: issued_at
    columns: {invoice_id: id, currency: cur, total_minor: amount, issued_at: at}
""",
    )
    result = pipeline.run(cfg)
    # 08:30 in Tokyo on 1 October is still 30 September in UTC: out of period.
    assert (result.sources[0].out_of_period, result.sources[0].checked) == (1, 1)


def _close_with_lines(
    write,
    invoices: str,
    lines: str,
    columns: str,
    *,
    period_field: str | None = None,
    sum_to: str | None = None,
) -> Path:
    """One file source, ``inv.csv`` and ``lines.csv`` (column ``inv``, ``amount``) in minor
    units; ``sum_to``: with the rule ``sum``, lines sum to that field."""
    write("inv.csv", invoices)
    write("lines.csv", lines)
    rules = ""
    if sum_to:
        write(
            "rules.yaml",
            "rules:\n  - id: sum\n    title: lines sum to the invoice\n"
            f"    type: aggregate\n    field: {sum_to}\n",
        )
        rules = "rules: [rules.yaml]\n"
    period = f"    period_field: {period_field}\n" if period_field else ""
    return write(
        "c.yaml",
        f"""
period: {{start: 2026-10-01, end: 2026-11-01}}
sources:
  s:
    provider: file
    path: inv.csv
    amounts: minor
{period}    columns: {{{columns}}}
    lines: {{path: lines.csv, amounts: minor, columns: {{invoice_id: inv, amount_minor: amount}}}}
{rules}""",
    )


def test_orphan_lines_in_minor_units_are_named_not_dropped(write, tmp_path: Path) -> None:
    from reconcile import pipeline

    cfg = _close_with_lines(
        write,
        "id,cur,total\na,USD,300\nb,JPY,50\n",
        "inv,amount\na,100\na,200\nb,50\nghost,7\nghost,8\n",
        "invoice_id: id, currency: cur, total_minor: total",
        sum_to="total_minor",
    )
    result = pipeline.run(cfg)
    (orphan,) = result.findings.filter(pl.col("rule_id") == "schema.line.orphan").to_dicts()
    assert orphan["invoice_id"] == "ghost" and "2 line(s)" in orphan["message"]
    s = result.sources[0]
    assert (s.lines_read, s.lines_valid, s.lines_quarantined) == (5, 3, 2)
    assert result.findings.filter(pl.col("rule_id") == "sum").is_empty()


def test_orphan_lines_are_named_even_when_invoices_are_dropped(write, tmp_path: Path) -> None:
    from reconcile import pipeline

    # invoice c is out of period, so lines are narrowed to checked invoices;
    # the orphan must still be found first.
    cfg = _close_with_lines(
        write,
        "id,cur,total,at\na,USD,300,2026-10-05\nc,USD,1,2026-12-01\n",
        "inv,amount\na,300\nc,1\nghost,7\n",
        "invoice_id: id, currency: cur, total_minor: total, issued_at: at",
        period_field="issued_at",
    )
    result = pipeline.run(cfg)
    orphans = result.findings.filter(pl.col("rule_id") == "schema.line.orphan")
    assert orphans["invoice_id"].to_list() == ["ghost"]
    assert result.sources[0].out_of_period == 1


def test_line_sums_go_to_the_first_record_of_each_id(write, tmp_path: Path) -> None:
    from reconcile import pipeline

    # Rows out of period and a repeated id before and between the others: each sum
    # must land on its own invoice's first in-period record, by row, never shifted.
    cfg = _close_with_lines(
        write,
        "id,cur,sub,at\n"
        "z,USD,7,2026-09-30\n"  # out of period; its line is not an orphan
        "a,USD,300,2026-10-02\n"
        "b,USD,10,2026-10-03\n"  # no lines: sums to zero, 10 off
        "a,USD,999,2026-10-04\n"  # repeat of a: set aside, not compared
        "c,JPY,50,2026-10-05\n",
        "inv,amount\nc,20\na,100\nz,7\nc,31\na,200\n",
        "invoice_id: id, currency: cur, subtotal_minor: sub, issued_at: at",
        period_field="issued_at",
        sum_to="subtotal_minor",
    )
    result = pipeline.run(cfg)
    got = {(f["rule_id"], f["invoice_id"], f["delta_minor"]) for f in result.findings.to_dicts()}
    assert got == {("sum", "b", 10), ("sum", "c", -1)}
    sums = result.data["s"].invoices.select("invoice_id", "__lines", "__sum").collect()
    assert sorted(sums.rows()) == [("a", 2, 300), ("b", None, None), ("c", 2, 51)]
    s = result.sources[0]
    assert (s.out_of_period, s.repeated_ids, s.checked) == (1, 1, 3)
    assert result.data["s"].all_invoices.collect().height == 4


def test_an_unexplained_tie_out_is_a_finding_with_an_id(write) -> None:
    from reconcile import engine, pipeline

    # no compare rule on the pairing: the 5 between a and x is explained by nothing
    write("l.csv", "id,cur,total\na,USD,100\nb,USD,7\n")
    write("r.csv", "id,ref,cur,total\nx,a,USD,105\ny,b,USD,7\n")
    write("rules.yaml", "rules:\n  - id: present\n    title: present\n    type: presence\n")
    cfg = write(
        "c.yaml",
        """
period: {start: 2026-10-01, end: 2026-11-01}
sources:
  l: {provider: file, path: l.csv, amounts: minor, period_field: none,
      columns: {invoice_id: id, currency: cur, total_minor: total}}
  r: {provider: file, path: r.csv, amounts: minor, period_field: none,
      columns: {invoice_id: id, external_ref: ref, currency: cur, total_minor: total}}
pairings:
  - {name: l-r, left: {source: l, key: invoice_id}, right: {source: r, key: external_ref}}
rules: [rules.yaml]
""",
    )
    result = pipeline.run(cfg)
    (tie,) = result.findings.filter(pl.col("rule_id") == "pairing.tie_out").to_dicts()
    assert (tie["delta_minor"], tie["currency"], tie["pairing"]) == (5, "USD", "l-r")
    assert result.findings["finding_id"].is_unique().all()
    again = engine.with_finding_ids(result.findings.drop("finding_id"))
    assert again.equals(result.findings)  # ids and order as if computed in one pass


def test_file_currency_codes_are_trimmed_and_upper_cased() -> None:
    from reconcile.sources import _upper_codes

    codes = pl.Series([" usd", "EUR", None, "gbp ", "usd", "EUR"])
    assert _upper_codes(codes).to_list() == ["USD", "EUR", None, "GBP", "USD", "EUR"]
    clean = pl.Series(["USD", "JPY"])
    assert _upper_codes(clean) is clean  # nothing to change: the column as it is


def _streamed_close(write, tmp_path: Path, lines: pl.DataFrame) -> Path:
    write("inv.csv", "id,cur,sub\nin_1,USD,10.00\nin_2,JPY,125000\nin_3,USD,5.00\n")
    lines.write_parquet(tmp_path / "lines.parquet")
    write(
        "rules.yaml",
        """rules:
  - id: lines.sum
    title: lines sum to the subtotal
    type: aggregate
    field: subtotal_minor
""",
    )
    return write(
        "close.yaml",
        """
name: streamed lines
period: {start: 2026-10-01, end: 2026-11-01}
sources:
  s:
    provider: file
    path: inv.csv
    columns: {invoice_id: id, currency: cur, subtotal_minor: sub}
    lines: {path: lines.parquet, amounts: minor, columns: {invoice_id: inv, amount_minor: amt}}
rules: [rules.yaml]
""",
    )


def test_parquet_lines_are_streamed_into_their_sums(write, tmp_path: Path) -> None:
    from reconcile import pipeline, sources
    from reconcile.config import load_config

    lines = pl.DataFrame(
        {"inv": ["in_1", "in_1", "in_2", "in_3", "in_9"], "amt": [600, 400, 125000, 499, 7]}
    )
    cfg_path = _streamed_close(write, tmp_path, lines)
    cfg = load_config(cfg_path)
    assert isinstance(sources.load_source(cfg.sources[0], tmp_path).lines, pl.LazyFrame)
    result = pipeline.run(cfg_path)
    got = {(f["rule_id"], f["invoice_id"], f["delta_minor"]) for f in result.findings.to_dicts()}
    # in_3 sums to 4.99 against 5.00; in_9's line has no invoice (named, not dropped)
    assert got == {("lines.sum", "in_3", 1), ("schema.line.orphan", "in_9", None)}
    (summary,) = result.sources
    assert (summary.lines_read, summary.lines_valid, summary.lines_quarantined) == (5, 4, 1)


def test_a_bad_streamed_line_falls_back_to_full_validation(write, tmp_path: Path) -> None:
    from reconcile import pipeline

    lines = pl.DataFrame(
        {"inv": ["in_1", "in_1", "in_2", "", "in_3"], "amt": [600, 400, 125000, 3, 500]}
    )
    result = pipeline.run(_streamed_close(write, tmp_path, lines))
    (bad,) = result.findings.filter(pl.col("rule_id").str.starts_with("schema.")).to_dicts()
    assert (bad["rule_id"], bad["location"]) == (
        "schema.line.invoice_id.str_length",
        "lines.parquet row 3",
    )
    assert result.findings.height == 1  # the other sums hold
    (summary,) = result.sources
    assert (summary.lines_read, summary.lines_valid, summary.lines_quarantined) == (5, 4, 1)
