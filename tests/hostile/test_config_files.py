"""Config, rule and template files, and the --out folder, as a careless or hostile
author might leave them: every case stops before any data is read with exit 2 and
one located line, in bounded time and memory; never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from filelock import FileLock

from tests.hostile.conftest import run_cli
from tests.hostile.test_inputs import PERIOD, f5_close, f5_record, invoke, no_outputs, write

BOMB = """a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def usage_error(result: object, needle: str, where: str) -> str:
    """Exit 2; the last line is a located error saying ``needle``."""
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    line = result.output.strip().splitlines()[-1]  # type: ignore[attr-defined]
    assert line.startswith(f"reconcile: error: {where}") and needle in line, line
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    return line


@pytest.mark.parametrize(
    ("name", "text", "needle", "line"),
    [
        ("bomb", BOMB, "an alias (*a) is not accepted", 2),
        ("deep flow", "a: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 100 levels", 1),
        (
            "deep block",
            "".join(" " * (2 * i) + f"k{i}:\n" for i in range(300)),
            "nested more than 100 levels",
            102,
        ),
        ("latin-1", "name: Soci\xe9t\xe9\n", "not UTF-8: byte 10 is 0xe9", 1),
        (
            "impossible date",
            "period: {start: 2026-02-30, end: 2026-03-01}\n",
            "'2026-02-30' is not a real date",
            1,
        ),
        (
            "impossible hour",
            "period: {start: 2026-10-01, end: 2026-11-01T25:00:00}\n",
            "is not a real date or time (hour must be in 0..23)",
            1,
        ),
        ("year 1", "period: {start: 0001-01-01, end: 2026-11-01}\n", "is outside 1970-01-02", 1),
        ("year 9999", "period: {start: 2026-10-01, end: 9999-12-31}\n", "is outside 1970-01-02", 1),
    ],
)
def test_a_hostile_config_is_refused_with_its_line(
    tmp_path: Path, name: str, text: str, needle: str, line: int
) -> None:
    config = write(tmp_path, "close.yaml", text.encode("latin-1") if name == "latin-1" else text)
    usage_error(invoke("run", config, "--out", tmp_path / "out"), needle, f"{config}:{line}:")
    assert not (tmp_path / "out").exists()


def test_a_huge_config_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    config = write(tmp_path, "close.yaml", "# " + "x" * (2 << 20) + "\n")
    usage_error(
        invoke("run", config, "--out", tmp_path / "out"),
        "a config or rule file is at most 1048576",
        str(config),
    )


def test_a_yaml_bomb_in_a_rule_file_costs_nothing(tmp_path: Path) -> None:
    """Expanded, the nine lines are 387 million strings; refused, the child process
    stays at the size of the interpreter with polars loaded."""
    rules = write(tmp_path, "rules.yaml", BOMB)
    result = run_cli(["rules", "check", rules], timeout=60)
    assert result.returncode == 2 and "an alias (*a) is not accepted" in result.stderr
    assert result.seconds < 30 and result.peak_mib < 400, (result.seconds, result.peak_mib)


def test_outputs_must_be_a_list(tmp_path: Path) -> None:
    config = f5_close(tmp_path, f5_record())
    config.write_text(config.read_text() + "outputs: html\n")
    usage_error(
        invoke("run", config, "--out", tmp_path / "out"),
        "'outputs' must be a list such as [html, md",
        f"{config}:4:",
    )


def _with_templates(tmp_path: Path, html: str) -> Path:
    folder = tmp_path / "templates"
    write(folder, "report.html.j2", html)
    write(folder, "report.md.j2", "{{ total_findings }}\n")
    config = f5_close(tmp_path, f5_record())
    config.write_text(config.read_text() + "templates: templates\n")
    return config


@pytest.mark.parametrize(
    ("html", "needle", "line"),
    [
        ("<p>\n{% for f in findings %}\n", "template syntax error: Unexpected end of template", 2),
        ("ok\n{{ ''.__class__.__mro__ }}\n", "SecurityError: access to attribute '__class__'", 2),
        ("{% for i in range(10**12) %}{% endfor %}\n", "OverflowError: Range too big", 1),
        ("{{ 1 // 0 }}\n", "ZeroDivisionError", 1),
        ("{{ no_such_variable }}\n", "UndefinedError: 'no_such_variable' is undefined", 1),
    ],
)
def test_a_template_error_names_the_template_and_line(
    tmp_path: Path, html: str, needle: str, line: int
) -> None:
    """Syntax errors stop the run before anything is read; render errors (the sandbox
    refusing an attribute, an unknown variable) stop it before any report is written."""
    config = _with_templates(tmp_path, html)
    usage_error(
        invoke("run", config, "--out", tmp_path / "out"),
        needle,
        f"{tmp_path / 'templates' / 'report.html.j2'}:{line}:",
    )
    assert no_outputs(tmp_path / "out")


def test_a_missing_templates_folder_is_refused_before_the_run(tmp_path: Path) -> None:
    config = f5_close(tmp_path, f5_record())
    config.write_text(config.read_text() + "templates: nowhere\n")
    usage_error(
        invoke("run", config, "--out", tmp_path / "out"),
        "the templates folder",
        f"the templates folder {tmp_path / 'nowhere'}",
    )


def test_out_never_writes_over_an_input(tmp_path: Path) -> None:
    write(tmp_path, "findings.csv", "invoice_id,total_minor,currency\ninv-1,100,USD\n")
    config = write(
        tmp_path,
        "close.yaml",
        PERIOD
        + """sources:
  books: {provider: file, path: findings.csv, amounts: minor,
          columns: {invoice_id: invoice_id, total_minor: total_minor, currency: currency}}
""",
    )
    usage_error(
        invoke("run", config, "--out", tmp_path), "would write over source 'books'", "--out"
    )
    assert (tmp_path / "findings.csv").read_text().startswith("invoice_id,")


def test_out_that_cannot_be_a_folder_is_refused(tmp_path: Path) -> None:
    config = f5_close(tmp_path, f5_record())
    write(tmp_path, "taken", "a file")
    usage_error(
        invoke("run", config, "--out", tmp_path / "taken" / "out"),
        "cannot create the --out folder",
        "cannot create",
    )


def test_one_run_at_a_time_writes_to_a_folder(tmp_path: Path) -> None:
    config = f5_close(tmp_path, f5_record())
    out = tmp_path / "out"
    out.mkdir()
    with FileLock(out / ".reconcile.lock"):  # another run holds the folder
        usage_error(
            invoke("run", config, "--out", out), "another reconcile run is writing to", "another"
        )
    assert invoke("run", config, "--out", out).exit_code == 0


def test_a_failed_run_leaves_no_older_report_behind(tmp_path: Path) -> None:
    """Last month's report in --out, then a run that fails: the folder must not show
    the old report as if it were this run's result; stale partial files go too."""
    config = f5_close(tmp_path, f5_record())
    out = tmp_path / "out"
    assert invoke("run", config, "--out", out).exit_code == 0
    assert (out / "report.html").is_file()
    write(out, ".report.html.partial-999999", "half")
    manifest = tmp_path / "rec" / "manifest.json"
    meta = json.loads(manifest.read_text())
    meta["pages"][0]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(meta))
    result = invoke("run", config, "--out", out)
    assert result.exit_code == 3, result.output
    assert no_outputs(out), sorted(p.name for p in out.iterdir())
