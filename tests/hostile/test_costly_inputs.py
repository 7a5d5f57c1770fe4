"""Inputs of a few bytes that used to cost minutes or gigabytes, each through the real
CLI in a child process with a bound on its time and its peak memory (``wait4``), and
the exit code and located message the README promises; and two real runs racing for
one ``--out`` folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from reconcile.recording import write_recording
from reconcile.testing import ProviderServer, sample_records
from tests.hostile.conftest import BOOT, answering, run_cli
from tests.hostile.test_inputs import GOOD, PERIOD, f5_close, f5_record, write
from tests.hostile.test_servers import close as f5_live_close

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "recordings"
AMBERFLO_URL = "/payments/billing/customer-product-invoice/all"
#: a child process with polars loaded and a small close: about 150 MiB
SMALL_MIB = 400


def _quarantined(folder: Path, run: object, location: str, needle: str) -> None:
    """Exit 1 in bounded time and memory; the record is a schema finding at ``location``."""
    assert run.returncode == 1, run.output  # type: ignore[attr-defined]
    assert run.seconds < 30 and run.peak_mib < SMALL_MIB, (run.seconds, run.peak_mib)  # type: ignore[attr-defined]
    findings = json.loads((folder / "out" / "findings.json").read_text())
    (bad,) = [f for f in findings if f["rule_id"] == "schema.unreadable_record"]
    assert bad["location"].endswith(location) and needle in bad["message"], bad


@pytest.mark.parametrize(
    "number", [b"1e9999999", b"-1E+999999999", b"9" * 5000, b"0." + b"0" * 5000 + b"1"]
)
def test_a_huge_f5_amount_is_quarantined_in_bounded_time(tmp_path: Path, number: bytes) -> None:
    """``1e9999999`` as an F5 ``amount`` ran for 351 s of CPU (int(Decimal) is
    quadratic in the exponent)."""
    body = f5_record(amount="__N__").replace(b'"__N__"', number)
    run = run_cli(["run", f5_close(tmp_path, body), "--out", tmp_path / "out"], timeout=60)
    _quarantined(tmp_path, run, "0001.json record 1", "out of range")


def _amberflo_close(folder: Path, total: bytes) -> Path:
    records = json.loads((SAMPLE / "amberflo" / "0001.json").read_bytes())
    records[0]["totalBill"]["totalPrice"] = "__N__"
    body = json.dumps(records).encode().replace(b'"__N__"', total)
    write_recording(folder / "rec", "amberflo", [{"body": body, "url": AMBERFLO_URL}])
    return write(
        folder,
        "close.yaml",
        PERIOD + "sources:\n  af: {provider: amberflo, recording: rec, options: {currency: USD}}\n",
    )


@pytest.mark.parametrize(
    ("total", "needle"),
    [
        (b"1e999999", "out of range"),
        (b"12345678901234567890123456789.5", "out of range"),
    ],
)
def test_a_huge_amberflo_total_is_quarantined_in_bounded_time(
    tmp_path: Path, total: bytes, needle: str
) -> None:
    """An Amberflo ``totalPrice`` of ``1e999999`` or 29+ significant digits ended in exit 4
    (decimal.Overflow, InvalidOperation). (Digits far beyond the point are float noise
    there, cleaned to 6 decimals: tests/test_float_noise.py.)"""
    run = run_cli(["run", _amberflo_close(tmp_path, total), "--out", tmp_path / "out"])
    _quarantined(tmp_path, run, "0001.json record 0", needle)


def _rule_file(folder: Path, body: str) -> Path:
    return write(folder, "rules.yaml", "rules:\n" + body)


def test_a_tiny_relative_tolerance_is_refused_at_once(tmp_path: Path) -> None:
    """``relative: "1e-99999999"``: ``run`` was still going after 120 s."""
    rules = _rule_file(
        tmp_path,
        """  - id: x.total
    title: t
    type: expression
    field: total_minor
    expect: total_minor
    tolerance: {relative: "1e-99999999"}
""",
    )
    config = f5_close(tmp_path, f5_record())
    config.write_text(config.read_text() + f"rules: [{rules.name}]\n")
    run = run_cli(["run", config, "--out", tmp_path / "out"], timeout=60)
    assert run.returncode == 2, run.output
    assert f"{rules}:7:" in run.stderr and "x.total" in run.stderr, run.stderr
    assert run.seconds < 30 and run.peak_mib < SMALL_MIB, (run.seconds, run.peak_mib)
    assert not (tmp_path / "out" / "findings.json").exists()


def _laughs(indent: str) -> str:
    """Nine nested anchors, nine aliases each (387 million strings expanded), as one flow
    sequence: the value of a key that the config reads."""
    levels = ['&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"&{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "[\n" + ",\n".join(indent + level for level in levels) + "]\n"


BOMB_PLACES = {
    # (close.yaml, rules.yaml or None, the file and line the error names)
    "name": (lambda: "name: " + _laughs("  ") + PERIOD, None, "close.yaml:3:"),
    "options.customers": (
        lambda: (
            PERIOD
            + "sources:\n  af:\n    provider: amberflo\n    recording: rec\n"
            + "    options:\n      currency: USD\n      customers: "
            + _laughs("        ")
        ),
        None,
        "close.yaml:10:",
    ),
    "rule description": (
        lambda: (
            PERIOD
            + "sources:\n  af: {provider: amberflo, recording: rec, options: {currency: USD}}\n"
            + "rules: [rules.yaml]\n"
        ),
        lambda: (
            "rules:\n  - id: x.bomb\n    title: t\n    type: expression\n"
            + "    field: total_minor\n    expect: total_minor\n    description: "
            + _laughs("      ")
        ),
        "rules.yaml:9:",
    ),
}


@pytest.mark.parametrize("place", sorted(BOMB_PLACES))
def test_a_billion_laughs_anywhere_costs_nothing(tmp_path: Path, place: str) -> None:
    """Nested anchors as the value of ``name:``, of ``options.customers`` or of a rule's
    ``description:`` reached 4.2 GB after 87 s (the expansion happened in ``str()``)."""
    config_text, rules_text, where = BOMB_PLACES[place]
    _amberflo_close(tmp_path, b'"1.00"')  # (the recording; its close.yaml is replaced)
    config = write(tmp_path, "close.yaml", config_text())
    if rules_text is not None:
        write(tmp_path, "rules.yaml", rules_text())
    run = run_cli(["run", config, "--out", tmp_path / "out"], timeout=60)
    assert run.returncode == 2, run.output
    assert "an alias (*a) is not accepted" in run.stderr and where in run.stderr, run.stderr
    assert run.seconds < 30 and run.peak_mib < SMALL_MIB, (run.seconds, run.peak_mib)


def _or_terms(n: int) -> str:
    terms = " OR ".join(f"total_minor = {i}" for i in range(n))
    return f"""  - id: x.wide
    title: t
    type: expression
    assert: "{terms}"
"""


@pytest.mark.parametrize("command", ["rules check", "run"])
def test_seven_thousand_or_terms_are_refused_not_a_segfault(tmp_path: Path, command: str) -> None:
    """7,000 OR-ed terms in an ``assert:``: segmentation fault (rc 139) in both commands."""
    rules = _rule_file(tmp_path, _or_terms(7000))
    if command == "run":
        config = f5_close(tmp_path, f5_record())
        config.write_text(config.read_text() + "rules: [rules.yaml]\n")
        args: list[str | Path] = ["run", config, "--out", tmp_path / "out"]
    else:
        args = ["rules", "check", rules]
    run = run_cli(args, timeout=60)
    assert run.returncode == 2, run.output
    assert f"{rules}:5:" in run.stderr and "x.wide" in run.stderr, run.stderr
    assert "characters long (at most 4000)" in run.stderr and "Traceback" not in run.output
    assert run.seconds < 30 and run.peak_mib < SMALL_MIB, (run.seconds, run.peak_mib)


@pytest.mark.parametrize(
    ("expect", "needle"),
    [
        ("CAST(total_minor AS SMALLINT)", "SMALLINT"),
        ("total_minor / 3 * 3", "division"),
        ("total_minor + AVG(total_minor)", "aggregate"),
    ],
)
def test_a_rule_that_run_would_trip_on_is_refused_by_rules_check(
    tmp_path: Path, expect: str, needle: str
) -> None:
    """Each passed ``rules check`` and then crashed ``run``."""
    rules = _rule_file(
        tmp_path,
        f"""  - id: x.bad
    title: t
    type: expression
    field: total_minor
    expect: "{expect}"
""",
    )
    run = run_cli(["rules", "check", rules], timeout=60)
    assert run.returncode == 2, run.output
    assert f"{rules}:6:" in run.stderr and "x.bad" in run.stderr, run.stderr
    assert needle.lower() in run.stderr.lower(), run.stderr


def test_extract_year_is_read_as_a_row_expression(tmp_path: Path) -> None:
    """``EXTRACT(year FROM issued_at)`` was refused as a subquery; it is a row's value."""
    write(
        tmp_path,
        "ledger.csv",
        "id,amount,posted\nA,1.00,2026-10-03\nB,2.00,2026-10-04\n",
    )
    rules = _rule_file(
        tmp_path,
        """  - id: x.year
    title: issued this year
    type: expression
    filter: "EXTRACT(year FROM issued_at) = 2026"
    assert: "total_minor < 150"
""",
    )
    config = write(
        tmp_path,
        "close.yaml",
        PERIOD
        + """sources:
  ledger: {provider: file, path: ledger.csv, amounts: major, period_field: issued_at,
           columns: {invoice_id: id, total_minor: amount, currency: {value: USD},
                     issued_at: posted}}
rules: [rules.yaml]
""",
    )
    run = run_cli(["run", config, "--out", tmp_path / "out"], timeout=60)
    assert run.returncode == 1, run.output
    findings = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert [(f["rule_id"], f["invoice_id"]) for f in findings] == [("x.year", "B")], rules


def _not_utf8(headers: Mapping[str, str]) -> tuple[bytes, str]:
    """An F5 page with a 0xff byte inside a JSON string (declared application/json)."""
    page = {"invoices": [GOOD, {**GOOD, "name": "inv-2", "description": "Soci__X__t"}]}
    return json.dumps(page).encode().replace(b"__X__", b"\xff"), "application/json"


def test_a_live_page_that_is_not_utf8_is_exit_3_and_leaves_no_snapshot(tmp_path: Path) -> None:
    """A ``\\xff`` inside a live JSON string ended in exit 4 and left ``raw/`` behind."""
    with answering(_not_utf8) as url:
        config = f5_live_close(tmp_path, type("S", (), {"url": url})(), {"max_attempts": 1})
        run = run_cli(
            ["run", config, "--out", tmp_path / "out"], env={"HOSTILE_KEY": "k" * 24}, timeout=60
        )
    assert run.returncode == 3, run.output
    assert "f5xc GET /api/web/namespaces/system/usage/invoices/custom_list page 1" in run.stderr
    assert "not UTF-8: byte" in run.stderr and "Traceback" not in run.output
    left = {p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")}
    assert left <= {".reconcile.lock"}, left


def _held(lock: Path, within: float = 30) -> bool:
    """Whether another process takes ``lock`` within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if lock.exists():
            try:
                FileLock(lock, timeout=0).acquire().lock.release()
            except Timeout:
                return True
        time.sleep(0.05)
    return False


def test_two_real_runs_into_one_folder_one_waits_its_turn_not_a_mix(tmp_path: Path) -> None:
    """Two live runs into one ``--out`` broke each other in 7 of 42 trials. The second
    is refused (exit 2) while the first holds the folder; the first's outputs are whole."""
    with ProviderServer(
        "f5xc", records=sample_records("f5xc"), credential="k" * 24, latency=3.0
    ) as server:
        config = f5_live_close(tmp_path, server, {"max_attempts": 1})
        out = tmp_path / "out"
        first = subprocess.Popen(
            [sys.executable, "-c", BOOT, "run", str(config), "--out", str(out)],
            env={**os.environ, "HOSTILE_KEY": "k" * 24},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert _held(out / ".reconcile.lock"), "the first run never took the folder"
        second = run_cli(["run", config, "--out", out], env={"HOSTILE_KEY": "k" * 24})
        _, first_err = first.communicate(timeout=60)
    assert second.returncode == 2, second.output
    assert "another reconcile run is writing to" in second.stderr, second.stderr
    assert first.returncode in (0, 1), first_err.decode()
    summary = json.loads((out / "summary.json").read_text())
    findings = json.loads((out / "findings.json").read_text())
    assert summary["total_findings"] == len(findings)
    assert not list(out.rglob("*.partial*"))
