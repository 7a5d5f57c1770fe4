"""Ledger exports as they come: numbers are read strictly unless the source names its
format, text in its declared encoding, and a malformed file is exit 3 with the row
and a short message. Nothing is guessed, nothing silently replaced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.test_inputs import PERIOD, invoke, no_outputs, write

COLUMNS = "{invoice_id: id, total_minor: amount, currency: currency, customer_name: name}"


def _ledger(folder: Path, body: bytes, options: str = "") -> Path:
    write(folder, "ledger.csv", b"id,amount,currency,name\n" + body)
    return write(
        folder,
        "close.yaml",
        PERIOD
        + f"""sources:
  ledger: {{provider: file, path: ledger.csv, amounts: major, columns: {COLUMNS}{options}}}
""",
    )


def _run(folder: Path, config: Path) -> tuple[int, list[dict[str, object]], str]:
    result = invoke("run", config, "--out", folder / "out")
    path = folder / "out" / "findings.json"
    findings = json.loads(path.read_text()) if path.exists() else []
    return result.exit_code, findings, result.output


@pytest.mark.parametrize(
    ("amount", "needle"),
    [
        ("1e5", "not a decimal number"),
        ("1_000.00", "not a decimal number"),
        ("١٢٣", "not a decimal number"),  # Arabic-Indic digits
        ("１２３", "not a decimal number"),  # full-width digits
        ('"1,234.50"', "not a decimal number"),
        ("(150.65)", "not a decimal number"),
        ("0.00499999999999999999999999999999", "more than 6 decimal places"),
    ],
)
def test_an_amount_in_an_undeclared_format_is_quarantined_not_guessed(
    tmp_path: Path, amount: str, needle: str
) -> None:
    """Python's Decimal and int() accept 1_000, full-width and Arabic-Indic digits;
    a ledger says what it writes, or the record is quarantined with its row."""
    config = _ledger(tmp_path, f"A,1.00,USD,x\nB,{amount},USD,x\n".encode())
    code, findings, output = _run(tmp_path, config)
    assert code == 1, output
    (bad,) = findings
    assert bad["rule_id"] == "schema.unreadable_record" and bad["invoice_id"] == "B"
    assert "ledger.csv row 3" in bad["message"] and needle in bad["message"], bad["message"]


@pytest.mark.parametrize(
    ("number_format", "text", "minor"),
    [
        ('{group: ","}', '"1,234.50"', 123450),
        ('{group: ",", parentheses: true}', '"(1,150.65)"', -115065),
        ('{decimal: ",", group: "."}', '"1.234,50"', 123450),
        ("{exponent: true}", "1.5e3", 150000),
        ('{group: "\'"}', "1'234.5", 123450),
    ],
)
def test_a_declared_number_format_reads_exactly(
    tmp_path: Path, number_format: str, text: str, minor: int
) -> None:
    config = _ledger(tmp_path, f"A,{text},USD,x\n".encode(), f", number_format: {number_format}")
    code, findings, output = _run(tmp_path, config)
    assert code == 0 and findings == [], output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [c["total_minor"] for c in summary["control_totals"]] == [minor]


def test_a_number_format_that_contradicts_itself_is_a_config_error(tmp_path: Path) -> None:
    config = _ledger(tmp_path, b"A,1.00,USD,x\n", ', number_format: {decimal: ",", group: ","}')
    result = invoke("run", config, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "number_format.group" in result.output, result.output
    assert f"{config}:3:" in result.output


def test_latin_1_is_an_error_naming_the_byte_unless_declared(tmp_path: Path) -> None:
    body = "A,1.00,USD,Société\n".encode("latin-1")
    code, _, output = _run(tmp_path, _ledger(tmp_path, body))
    assert code == 3 and "ledger.csv: not utf-8: byte 39 is 0xe9" in output, output
    assert "encoding:" in output and no_outputs(tmp_path / "out")
    code, findings, output = _run(tmp_path, _ledger(tmp_path, body, ", encoding: latin-1"))
    assert code == 0 and findings == [], output
    assert "Société" not in output  # (read, not echoed) — and the name is intact:
    report = (tmp_path / "out" / "report.md").read_text()
    assert "\ufffd" not in report


def test_utf_16_says_so_instead_of_a_field_count(tmp_path: Path) -> None:
    config = _ledger(tmp_path, b"")
    (tmp_path / "ledger.csv").write_text(
        "id,amount,currency,name\nA,1.00,USD,x\n", encoding="utf-16"
    )
    code, _, output = _run(tmp_path, config)
    assert code == 3 and "not utf-8: byte 0 is 0xff" in output, output
    utf16 = (tmp_path / "ledger.csv").read_bytes()
    config = _ledger(tmp_path, b"", ", encoding: utf-16")
    (tmp_path / "ledger.csv").write_bytes(utf16)
    code, findings, output = _run(tmp_path, config)
    assert code == 0 and findings == [], output


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"A,1.00,USD,x,extra\n", "row 2 has 5 fields, the header 4"),
        (
            b'A,1.00,USD,"unterminated\nB,2.00,USD,x\nC,3.00,USD,' + b"y" * 20000 + b"\n",
            "unexpected end of data (an unterminated quote?)",
        ),
    ],
)
def test_a_malformed_csv_names_the_row_in_one_short_line(
    tmp_path: Path, body: bytes, needle: str
) -> None:
    code, _, output = _run(tmp_path, _ledger(tmp_path, body))
    assert code == 3, output
    line = output.strip().splitlines()[-1]
    assert line.startswith(f"reconcile: error: ledger: {tmp_path / 'ledger.csv'}: "), line
    assert needle in line, line
    assert len(output) < 400 and "yyyy" not in output


def test_a_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    config = _ledger(tmp_path, b"")
    (tmp_path / "ledger.csv").write_text("id,amount,currency,name,amount\nA,1.00,USD,x,2\n")
    code, _, output = _run(tmp_path, config)
    assert code == 3 and "the header names column 'amount' twice" in output, output


def test_a_lone_utf16_surrogate_in_a_json_export_names_the_row(tmp_path: Path) -> None:
    write(tmp_path, "ledger.json", b'[{"id": "A", "amount": "1.00"}, {"id": "B\\ud83d"}]')
    config = write(
        tmp_path,
        "close.yaml",
        PERIOD
        + """sources:
  ledger: {provider: file, path: ledger.json, amounts: major,
           columns: {invoice_id: id, total_minor: amount, currency: {value: USD}}}
""",
    )
    code, findings, output = _run(tmp_path, config)
    assert code == 3 and findings == [], output
    assert "ledger.json: row 1: the value of 'id' is not Unicode text" in output, output
    assert "Traceback" not in output and no_outputs(tmp_path / "out")


def test_a_blank_tax_cell_in_a_ledger_is_a_quarantined_row(tmp_path: Path) -> None:
    """Only a provider whose published schema lets a column be null (Stripe's draft
    taxes) reads null as N/A; a ledger that maps a tax column and leaves a cell blank
    has a row that cannot be checked, named by its row."""
    write(tmp_path, "ledger.csv", b"id,amount,tax,currency\nA,1.00,0.10,USD\nB,2.00,,USD\n")
    config = write(
        tmp_path,
        "close.yaml",
        PERIOD
        + """sources:
  ledger: {provider: file, path: ledger.csv, amounts: major,
           columns: {invoice_id: id, total_minor: amount, tax_minor: tax, currency: currency}}
""",
    )
    code, findings, output = _run(tmp_path, config)
    assert code == 1, output
    (bad,) = findings
    assert bad["rule_id"].startswith("schema.") and bad["location"] == "ledger.csv row 3", bad
