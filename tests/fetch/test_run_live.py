"""``reconcile run`` against the five sample-month servers: live, replay, faults, secrets."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconcile import cli
from reconcile.fetching import FetchEvent, FetchReport
from reconcile.resources import packaged_path
from reconcile.testing import FOREVER, Fault, serve_sample_month

FINDING_FILES = ("findings.json", "findings.csv", "findings.parquet")


def invoke(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli.main, ["run", *args], env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Findings of the bundled recordings: what a live fetch of the same month must find."""
    out = tmp_path_factory.mktemp("recorded")
    result = invoke([str(packaged_path("sample_data") / "close.yaml"), "--out", str(out)])
    assert result.exit_code == 1, result.output
    return json.loads((out / "findings.json").read_text())


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Any, Any, Path]]:
    """One live run of the sample month (pages of 7 for Commet and Stripe)."""
    folder = tmp_path_factory.mktemp("live")
    with serve_sample_month(page_sizes={"commet": 7, "stripe": 4}) as month:
        config = month.write_config(folder)
        result = invoke([str(config), "--out", str(folder / "out")], env=month.env)
        yield config, month, result, folder / "out"


def without_locations(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in f.items() if k not in {"location", "message"}} for f in findings]


def test_live_run_finds_what_the_recordings_find(live, recorded):
    _, _, result, out = live
    assert result.exit_code == 1, result.output
    findings = json.loads((out / "findings.json").read_text())
    assert without_locations(findings) == without_locations(recorded)
    assert {
        f["location"].split("/")[0]
        for f in findings
        if f["location"] and not f["location"].startswith(("ledger", "pairing "))
    } == {"raw"}
    for source in ("stripe", "frontier", "commet", "amberflo", "f5xc"):
        manifest = json.loads((out / "raw" / source / "manifest.json").read_text())
        assert manifest["format"] == "reconcile-recording/1" and manifest["provider"] == source
        assert manifest["period"] == {
            "start": "2026-10-01T00:00:00Z",
            "end": "2026-11-01T00:00:00Z",
        }
        assert manifest["fetch"]["pages"] == len(manifest["pages"])
    amberflo = json.loads((out / "raw" / "amberflo" / "manifest.json").read_text())
    assert all(p["query"]["fromCache"] == "false" for p in amberflo["pages"] if p["kind"] == "list")
    f5 = json.loads((out / "raw" / "f5xc" / "manifest.json").read_text())
    assert f5["documents"] and all(
        (out / d["file"]).read_bytes().startswith(b"%PDF-") for d in f5["documents"]
    )


def test_report_states_pages_records_retries_and_time(live):
    _, _, result, out = live
    summary = json.loads((out / "summary.json").read_text())
    fetched = {s["name"]: s["fetch"] for s in summary["sources"]}
    assert fetched["ledger"] is None
    commet = fetched["commet"]
    assert commet["mode"] == "live" and commet["records"] == 32
    assert commet["pages"] == 5 + 32  # lists of 7, and each invoice's detail
    assert set(commet) >= {"pages", "records", "retries", "seconds", "identical_repeats_dropped"}
    report = (out / "report.md").read_text()
    assert (
        "### Fetched from the providers" in report
        and "| commet | commet | live | 37 | 32 |" in report
    )
    assert "fetched 37 pages, 32 records" in result.output


def test_replay_gives_byte_identical_findings_offline(live, tmp_path):
    config, _, _, out = live
    again = tmp_path / "again"
    result = invoke([str(config), "--out", str(again), "--replay", str(out)], env={})
    assert result.exit_code == 1, result.output
    for name in FINDING_FILES:
        assert (again / name).read_bytes() == (out / name).read_bytes(), name
    summary = json.loads((again / "summary.json").read_text())
    assert {s["fetch"]["mode"] for s in summary["sources"] if s["fetch"]} == {"replay"}
    # the new run folder carries the snapshot its findings' locations name
    copied = sorted(p.relative_to(again) for p in (again / "raw").rglob("*") if p.is_file())
    original = sorted(p.relative_to(out) for p in (out / "raw").rglob("*") if p.is_file())
    assert copied == original and len(copied) > 5
    assert all((again / p).read_bytes() == (out / p).read_bytes() for p in copied)
    assert not list(again.glob("raw/.*.partial"))


def test_no_secret_in_any_output(live):
    _, month, result, out = live
    secrets = [s.encode() for s in month.env.values()]
    secrets += [base64.b64encode(s) for s in secrets]  # as a Basic auth header carries it
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) > 40
    for path in files:
        data = path.read_bytes()
        assert not any(s in data for s in secrets), path
    assert not any(s.decode() in result.output for s in secrets)


def test_missing_credential_is_exit_2_before_any_request(tmp_path):
    with serve_sample_month() as month:
        config = month.write_config(tmp_path)
        env = dict(month.env)
        missing = sorted(env)[-1]
        env[missing] = ""
        result = invoke([str(config), "--out", str(tmp_path / "out")], env=env)
        assert result.exit_code == 2
        assert missing in result.output and month.env[missing] not in result.output
        assert all(server.requests == [] for server in month.servers.values())


def test_persistent_503_is_exit_3_naming_provider_endpoint_status(tmp_path):
    with serve_sample_month(faults={"stripe": [Fault("503", times=FOREVER)]}) as month:
        config = month.write_config(tmp_path, {"stripe": {"http": {"max_attempts": 3}}})
        result = invoke([str(config), "--out", str(tmp_path / "out")], env=month.env)
        assert len(month.servers["stripe"].requests) == 3
    assert result.exit_code == 3
    assert "stripe GET /v1/invoices" in result.output and "last status 503" in result.output
    assert not (tmp_path / "out" / "report.html").exists()
    assert not (tmp_path / "out" / "raw" / "stripe").exists()


def test_refused_credential_is_exit_2_naming_the_variable(tmp_path):
    with serve_sample_month(faults={"commet": [Fault("401", times=FOREVER)]}) as month:
        config = month.write_config(tmp_path)
        result = invoke([str(config), "--out", str(tmp_path / "out")], env=month.env)
    assert result.exit_code == 2
    assert "RECONCILE_SAMPLE_COMMET_KEY" in result.output
    assert month.env["RECONCILE_SAMPLE_COMMET_KEY"] not in result.output


def test_transient_faults_still_give_the_same_findings(tmp_path, live):
    faults = {
        "stripe": [Fault("429", request=2, retry_after="2")],
        "commet": [Fault("503", request=3), Fault("reset", request=6)],
        "frontier": [Fault("slow", delay=1.5)],
    }
    with serve_sample_month(faults=faults, page_sizes={"commet": 7, "stripe": 4}) as month:
        config = month.write_config(tmp_path, {"frontier": {"http": {"read_timeout": 0.5}}})
        result = invoke([str(config), "--out", str(tmp_path / "out")], env=month.env)
    assert result.exit_code == 1, result.output
    for name in FINDING_FILES:
        assert (tmp_path / "out" / name).read_bytes() == (live[3] / name).read_bytes(), name
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    retries = {s["name"]: s["fetch"]["retries"] for s in summary["sources"] if s["fetch"]}
    assert retries == {"stripe": 1, "frontier": 1, "commet": 2, "amberflo": 0, "f5xc": 0}


def test_replay_refuses_a_snapshot_of_another_period(live, tmp_path):
    config, _, _, out = live
    other = tmp_path / "close.yaml"
    other.write_text(config.read_text().replace("2026-11-01", "2026-10-31"))
    result = invoke([str(other), "--out", str(tmp_path / "o"), "--replay", str(out)])
    assert result.exit_code == 3 and "fetched for the period" in result.output


def test_progress_display_rewrites_one_line_per_source(capsys):
    show = cli._FetchDisplay()
    show(FetchEvent("stripe", "stripe", 1, 100, 0))
    report = FetchReport("stripe", "stripe", "live", 3, 250, 1, 1.25, 9000)
    show(FetchEvent("stripe", "stripe", 3, 250, 1, report))
    err = capsys.readouterr().err
    assert "stripe: 1 pages, 100 records" in err
    assert err.endswith("stripe: fetched 3 pages, 250 records, 1 retries (1.2 s)\n")


def test_progress_is_silent_without_a_terminal(live):
    _, _, result, _ = live
    assert "…" not in result.stderr and "…" not in result.output
    assert "fetched 37 pages" in result.stdout  # the closing summary, not progress


def test_sources_are_prepared_in_worker_threads_unless_sequential(monkeypatch, tmp_path):
    # A local run prepares two sources at a time in worker threads; a fetching run
    # fetches every live source at once, each in a thread of its own (Ctrl-C is
    # handled by the calling thread, which only waits: tests/fetch/test_concurrent_fetch.py);
    # ``sequential=True`` (the tests' oracle) reads source by source in the calling thread.
    import threading

    from reconcile import pipeline, prepare

    seen: list[str] = []
    real = prepare.prepare_source

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(prepare, "prepare_source", spy)
    pipeline.run(packaged_path("sample_data") / "close.yaml")
    assert len(seen) == 6 and threading.main_thread().name not in seen
    with serve_sample_month() as month:
        config = month.write_config(tmp_path)
        for name, value in month.env.items():
            monkeypatch.setenv(name, value)
        seen.clear()
        pipeline.run(config, run_dir=tmp_path / "out")
        assert sorted(seen) == sorted([*(f"source-{s}" for s in month.servers), "source-ledger"])
        seen.clear()
        pipeline.run(config, run_dir=tmp_path / "again", sequential=True)
    assert seen == [threading.main_thread().name] * 6
