"""Malformed and hostile input through the CLI: every case ends as a quarantined record
(exit 1, the finding names it) or as exit 2/3 with a located one-line message; never a
traceback, never exit 4. (In process, through click's runner: the CLI turns every
exception into its exit code, so a bug shows as 4 with "internal error".)"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconcile import cli
from reconcile.recording import write_recording

PERIOD = "period: {start: 2026-10-01, end: 2026-11-01}\n"
F5_URL = "/api/web/namespaces/system/usage/invoices/custom_list"
GOOD = {
    "name": "inv-1",
    "currency": "USD",
    "amount": "1000",
    "status": "STATUS_PAID",
    "period_start": "2026-10-01T00:00:00Z",
    "period_end": "2026-11-01T00:00:00Z",
}


def invoke(*args: str | Path) -> Any:
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def f5_close(folder: Path, body: bytes, *, gz: bool = False) -> Path:
    write_recording(
        folder / "rec", "f5xc", [{"body": body, "url": F5_URL}], gzip_from=0 if gz else None
    )
    return write(
        folder,
        "close.yaml",
        PERIOD
        + """sources:
  f5: {provider: f5xc, recording: rec, options: {customer_id: c}}
""",
    )


def no_outputs(out: Path) -> bool:
    """A failed run leaves no report, findings or summary (only its lock file)."""
    return not out.exists() or {p.name for p in out.iterdir()} <= {".reconcile.lock"}


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def f5_record(**changes: Any) -> bytes:
    return json.dumps({"invoices": [GOOD, {**GOOD, "name": "inv-2", **changes}]}).encode()


def quarantined(result: Any, folder: Path, needle: str) -> None:
    """Exit 1, and inv-2 is a schema finding whose message says ``needle``."""
    assert result.exit_code == 1, result.output
    findings = json.loads((folder / "out" / "findings.json").read_text())
    (bad,) = [f for f in findings if f["rule_id"] == "schema.unreadable_record"]
    assert bad["invoice_id"] == "inv-2" and needle in bad["message"], bad["message"]


@pytest.mark.parametrize(
    ("amount", "needle"),
    [
        ("²", "not an integer amount"),
        ("+-5", "not an integer amount"),
        ("--5", "not an integer amount"),
        ("9" * 5000, "not an integer amount"),
        ("99999999999999999999", "64-bit"),
        ("١٢٣", "not an integer amount"),
    ],
)
def test_a_bad_integer_amount_is_a_quarantined_record(
    tmp_path: Path, amount: str, needle: str
) -> None:
    config = f5_close(tmp_path, f5_record(amount=amount))
    quarantined(invoke("run", config, "--out", tmp_path / "out"), tmp_path, needle)


@pytest.mark.parametrize(
    ("number", "needle"),
    [
        (b"1e9999999", "out of range"),
        (b"1" + b"0" * 5000, "out of range"),
        (b"12345678901234567890123456789012345678901234", "out of range"),
    ],
)
def test_a_huge_json_number_is_refused_without_expanding_it(
    tmp_path: Path, number: bytes, needle: str
) -> None:
    body = f5_record(amount="__N__").replace(b'"__N__"', number)
    quarantined(
        invoke("run", f5_close(tmp_path, body), "--out", tmp_path / "out"), tmp_path, needle
    )


def test_a_lone_utf16_surrogate_quarantines_its_record(tmp_path: Path) -> None:
    """JSON's escape ``\\ud83d`` (an encoder that cut an emoji in two) is valid JSON but
    not Unicode text: no frame or report can hold it, so its record is quarantined
    (found by tests/hostile/test_fuzz.py: it ended in exit 4)."""
    body = f5_record(currency="USD\ud83d")
    assert b"\\ud83d" in body
    config = f5_close(tmp_path, body)
    quarantined(invoke("run", config, "--out", tmp_path / "out"), tmp_path, "not Unicode text")


PAGE_CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "latin-1 page": (
        lambda d: f5_close(
            d,
            f5_record(name="Soci\xe9t\xe9").replace(
                b"Soci\\u00e9t\\u00e9", "Société".encode("latin-1")
            ),
        ),
        "not UTF-8: byte",
    ),
    "duplicate key": (lambda d: f5_close(d, b'{"invoices": [], "invoices": []}'), "appears twice"),
    "deep nesting": (
        lambda d: f5_close(d, b'{"invoices": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
        "nested too deep",
    ),
    "truncated gz": (lambda d: _truncated_gz(d), "0001.json.gz"),
    "plain json named gz": (lambda d: _misnamed_gz(d), "0001.json.gz"),
    "manifest without sha256": (
        lambda d: _manifest(d, lambda m: m["pages"][0].pop("sha256")),
        "manifest.json",
    ),
    "manifest without file": (
        lambda d: _manifest(d, lambda m: m["pages"][0].pop("file")),
        "manifest.json",
    ),
    "manifest pages not a list": (
        lambda d: _manifest(d, lambda m: m.update(pages=7)),
        "manifest.json",
    ),
    "manifest escaping its folder": (
        lambda d: _manifest(d, lambda m: m["pages"][0].update(file="../../../../etc/passwd")),
        "outside",
    ),
    "manifest absolute path": (
        lambda d: _manifest(d, lambda m: m["pages"][0].update(file="/etc/passwd")),
        "outside",
    ),
    "recorded status 500": (
        lambda d: _manifest(d, lambda m: m["pages"][0].update(status=500)),
        "status 500",
    ),
    "empty recording": (lambda d: _manifest(d, lambda m: m.update(pages=[])), "no pages"),
}


def _manifest(folder: Path, edit: Callable[[dict[str, Any]], Any]) -> Path:
    return _edited(f5_close(folder, f5_record()), edit)


def _edited(config: Path, edit: Callable[[dict[str, Any]], Any]) -> Path:
    path = config.parent / "rec" / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    return config


def _truncated_gz(folder: Path) -> Path:
    config = f5_close(folder, f5_record(), gz=True)
    page = folder / "rec" / "0001.json.gz"
    page.write_bytes(page.read_bytes()[:20])
    return _edited(
        config, lambda m: m["pages"][0].update(sha256=hashlib.sha256(page.read_bytes()).hexdigest())
    )


def _misnamed_gz(folder: Path) -> Path:
    config = f5_close(folder, f5_record())
    (folder / "rec" / "0001.json").rename(folder / "rec" / "0001.json.gz")
    return _edited(config, lambda m: m["pages"][0].update(file="0001.json.gz"))


@pytest.mark.parametrize("case", sorted(PAGE_CASES))
def test_a_broken_page_or_recording_is_exit_3_naming_it(tmp_path: Path, case: str) -> None:
    build, needle = PAGE_CASES[case]
    result = invoke("run", build(tmp_path), "--out", tmp_path / "out")
    assert result.exit_code == 3, result.output
    line = result.output.strip().splitlines()[-1]
    assert "reconcile: error: f5" in line and needle in line, line
    assert "Traceback" not in result.output and no_outputs(tmp_path / "out")


def test_a_recording_page_behind_a_link_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    config = f5_close(tmp_path, f5_record())
    outside = write(tmp_path, "elsewhere.json", f5_record())
    page = tmp_path / "rec" / "0001.json"
    page.unlink()
    page.symlink_to(outside)
    result = invoke("run", config, "--out", tmp_path / "out")
    assert result.exit_code == 3 and "outside" in result.output, result.output


def test_an_empty_answer_is_accepted_only_where_the_manifest_declares_it(tmp_path: Path) -> None:
    """A 404 page, or no pages at all, is data only when the recording says it
    expected that; the declared page holds no records and the run says so."""
    config = f5_close(tmp_path, f5_record())
    path = tmp_path / "rec" / "manifest.json"
    meta = json.loads(path.read_text())
    empty = dict(meta["pages"][0], status=404, expected_empty=True)
    path.write_text(json.dumps(dict(meta, pages=[*meta["pages"], empty])))
    result = invoke("run", config, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "f5: read 2, quarantined 0" in result.output.replace("  ", " ").lstrip()
    path.write_text(json.dumps(dict(meta, pages=[], expected_empty=True)))
    result = invoke("run", config, "--out", tmp_path / "out")
    assert result.exit_code == 0 and "read 0" in result.output, result.output
    path.write_text(json.dumps(dict(meta, pages=[dict(empty, expected_empty=False)])))
    result = invoke("run", config, "--out", tmp_path / "out")
    assert result.exit_code == 3 and "status 404" in result.output, result.output
