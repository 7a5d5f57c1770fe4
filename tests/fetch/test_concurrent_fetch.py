"""Live sources fetched all at once (``reconcile.fetch_all``): the same bytes as a fetch
source by source, fetches that really overlap, a failure that cancels the others, Ctrl-C.

Against the local sample-month servers (``reconcile.testing``), never the internet.
Nothing here is timed: overlap and cancellation are asserted from what the servers
saw (when requests arrived, connections a client closed, requests still being
served); the few bounds are for a hang, not a benchmark.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconcile import cli, pipeline
from reconcile.fetching import FetchEvent, FetchReport
from reconcile.outputs import FILES, SUMMARY
from reconcile.providers import _http
from reconcile.testing import FOREVER, PROVIDERS, Fault, ProviderServer, serve_sample_month
from tests.fetch._server import Reply, Scripted
from tests.hostile.conftest import BOOT

REPO = Path(__file__).resolve().parents[2]
REPORTS = (*FILES.values(), SUMMARY)


def invoke(args: list[str], env: Mapping[str, str]) -> Any:
    return CliRunner().invoke(cli.main, ["run", *args], env=dict(env), catch_exceptions=False)


def eventually(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    """``condition`` became true within ``seconds`` (a bound for a hang, not a timing)."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def overlaps(servers: Mapping[str, ProviderServer], latency: float) -> set[frozenset[str]]:
    """Pairs of providers that had requests in flight at the same moment: one arrived
    while the other's was still held by the servers' ``latency``."""
    arrivals = [(r.at, p) for p, s in servers.items() for r in s.requests]
    return {
        frozenset((p, q))
        for at, p in arrivals
        for other, q in arrivals
        if p != q and at <= other < at + latency
    }


# --- (a) the same bytes as source by source ------------------------------------------

_STAMP = re.compile(r"Prepared(</dt><dd>| )\S+")


def _masked(name: str, text: str) -> str:
    """A report without what differs between two runs of the same inputs: when it was
    prepared, and each live fetch's seconds and start time."""
    if name == SUMMARY:
        doc = json.loads(text)
        doc.pop("generated_at")
        for source in doc["sources"]:
            if source["fetch"]:
                source["fetch"].pop("seconds")
                source["fetch"].pop("fetched_at")
        return json.dumps(doc, indent=1)
    cut = " | " if name.endswith(".md") else "</td><td"
    lines = []
    for line in _STAMP.sub("Prepared …", text).splitlines():
        cells = line.split(cut)
        if len(cells) == 11 and cells[2].endswith("live"):  # a fetched source's row
            cells[8] = cells[10] = "…"
        lines.append(cut.join(cells))
    return "\n".join(lines)


def test_concurrent_live_run_gives_the_bytes_of_a_sequential_one(tmp_path, monkeypatch):
    with serve_sample_month(page_sizes={"commet": 7, "stripe": 4}) as month:
        config = month.write_config(tmp_path)
        at_once = invoke([str(config), "--out", str(tmp_path / "at_once")], month.env)
        one_by_one = functools.partial(pipeline.run, sequential=True)
        monkeypatch.setattr(pipeline, "run", one_by_one)
        sequential = invoke([str(config), "--out", str(tmp_path / "sequential")], month.env)
    assert at_once.exit_code == sequential.exit_code == 1, at_once.output
    a, b = tmp_path / "at_once", tmp_path / "sequential"
    for name in ("findings.json", "findings.csv", "findings.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for name in ("report.md", "report.html", SUMMARY):
        first, second = (d.joinpath(name).read_text(encoding="utf-8") for d in (a, b))
        assert _masked(name, first) == _masked(name, second), name
    pages = sorted(p.relative_to(a) for p in (a / "raw").rglob("0*.json*"))
    assert len(pages) > 60  # the same pages, byte for byte, in the same files
    assert pages == sorted(p.relative_to(b) for p in (b / "raw").rglob("0*.json*"))
    assert all((a / p).read_bytes() == (b / p).read_bytes() for p in pages)


# --- (b) fetches overlap ---------------------------------------------------------------


def test_live_sources_are_in_flight_at_once_and_not_when_sequential(tmp_path, monkeypatch):
    # (each request held 0.3 s: far longer than the sources take to start one after another)
    latency = 0.3
    with serve_sample_month(latency=latency) as month:
        config = month.write_config(tmp_path)
        for name, value in month.env.items():
            monkeypatch.setenv(name, value)
        pipeline.run(config, run_dir=tmp_path / "sequential", sequential=True)
        assert overlaps(month.servers, latency) == set()  # the oracle: one source at a time
        for server in month.servers.values():
            server.requests.clear()
        pipeline.run(config, run_dir=tmp_path / "at_once")
        together = overlaps(month.servers, latency)
    # every provider had a request in flight while another provider's was
    assert set().union(*together) == set(PROVIDERS), together


# --- (c) a failure cancels the other fetches ------------------------------------------


@pytest.mark.parametrize("slow", ["latency", "drip"])
def test_a_failing_source_ends_the_run_and_cancels_a_slow_one(slow, tmp_path):
    # stripe (first in the config) is slow: its list page is held for two minutes, or
    # drips one byte every 50 ms; commet (third) refuses the credential half a
    # second in, when stripe's request is surely in flight.
    faults = {"commet": [Fault("401", times=FOREVER)]}
    latency = {"commet": 0.5}
    if slow == "latency":
        latency["stripe"] = 120.0
    else:
        faults["stripe"] = [Fault("drip", delay=0.05, times=FOREVER)]
    out = tmp_path / "out"
    with serve_sample_month(faults=faults, latency=latency) as month:
        config = month.write_config(tmp_path)
        result = invoke([str(config), "--out", str(out)], month.env)
        stripe = month.servers["stripe"]
        # the client hung up on the slow request: the server stops serving it
        assert eventually(lambda: stripe.in_flight == 0)
        served = list(stripe.requests)
    assert result.exit_code == 2, result.output
    assert "RECONCILE_SAMPLE_COMMET_KEY" in result.output and "401" in result.output
    assert len(served) == 1  # the list page cut short, and nothing after it
    if slow == "latency":
        assert served[0].client_left and served[0].status is None
    else:
        assert served[0].fault == "drip"
    assert not (out / "raw" / "stripe").exists() and not (out / "raw" / "commet").exists()
    assert not any((out / name).exists() for name in REPORTS)


# --- (d) Ctrl-C -----------------------------------------------------------------------


def test_ctrl_c_stops_every_fetch_at_once_and_writes_no_report(tmp_path):
    out = tmp_path / "out"
    with serve_sample_month(latency=120.0) as month:
        config = month.write_config(tmp_path)
        child = subprocess.Popen(
            [sys.executable, "-c", BOOT, "run", str(config), "--out", str(out)],
            env={**os.environ, **month.env},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            # every live source has a request held by its server: all are fetching
            assert eventually(lambda: all(s.in_flight for s in month.servers.values()), 60)
            child.send_signal(signal.SIGINT)
            stdout, stderr = child.communicate(timeout=20)  # gone long before the replies
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
        assert eventually(lambda: not any(s.in_flight for s in month.servers.values()))
    err = stderr.decode()
    assert child.returncode == 130, err  # interrupted: not 1, which means "findings"
    assert "interrupted: every fetch was stopped; no report was written" in err
    assert "Traceback" not in err + stdout.decode()
    assert not any((out / name).exists() for name in REPORTS)
    assert not any((out / "raw" / p).exists() for p in PROVIDERS)


# --- the run-wide cancel in the HTTP door -----------------------------------------------


class _Watched(_http.Cancel):
    """A cancel that says when a client starts waiting on it (a retry wait)."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, seconds: float) -> bool:
        self.waiting.set()
        return super().wait(seconds)


def _get_in_thread(
    server: Scripted, cancel: _http.Cancel
) -> tuple[threading.Thread, list[BaseException]]:
    """``GET /v1/invoices`` in a thread, by a client given ``cancel``; what it raised."""
    fetch = _http.ProviderClient(
        source="src",
        provider="stripe",
        base_url=server.url,
        headers={"Authorization": "Bearer sk_test_cancelled"},
        credential_env="SRC_API_KEY",
        policy=_http.HttpPolicy(read_timeout=120, max_attempts=3),
        cancel=cancel,
    )
    raised: list[BaseException] = []

    def get() -> None:
        try:
            with fetch:
                fetch.get("/v1/invoices")
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=get, daemon=True)
    thread.start()
    return thread, raised


def test_cancel_cuts_a_request_the_server_holds(scripted):
    server = scripted(Reply(delay=60))
    cancel = _http.Cancel()
    thread, raised = _get_in_thread(server, cancel)
    assert eventually(lambda: len(server.requests) == 1)
    cancel.set("test")
    thread.join(20)
    assert not thread.is_alive()
    assert len(raised) == 1 and isinstance(raised[0], _http.FetchCancelled), raised
    assert len(server.requests) == 1


def test_cancel_wakes_a_retry_wait_and_retries_no_more(scripted):
    _http.set_testing(False)  # a real wait: Retry-After 60 s
    server = scripted(Reply(503, b"{}", (("Retry-After", "60"),)), Reply())
    cancel = _Watched()
    thread, raised = _get_in_thread(server, cancel)
    assert cancel.waiting.wait(20)  # the client is waiting to retry
    cancel.set("test")
    thread.join(20)
    assert not thread.is_alive()
    assert len(raised) == 1 and isinstance(raised[0], _http.FetchCancelled), raised
    assert len(server.requests) == 1


# --- the progress display ----------------------------------------------------------------


def test_progress_shows_the_sources_under_way_on_one_line(capsys):
    show = cli._FetchDisplay()
    show(FetchEvent("stripe", "stripe", 1, 100, 0))
    show._shown = 0.0  # (redraws are at most ten a second)
    show(FetchEvent("commet", "commet", 2, 14, 1))
    show.note("reading ledger (file)")
    show(
        FetchEvent(
            "stripe",
            "stripe",
            3,
            250,
            0,
            FetchReport("stripe", "stripe", "live", 3, 250, 0, 1.25, 9),
        )
    )
    show.finish()
    err = capsys.readouterr().err.replace("\033[K", "")  # (click strips it off a terminal)
    assert "stripe: 1 pages, 100 records · commet: 2 pages, 14 records, 1 retries" in err
    lines = [part.split("\r")[-1] for part in err.split("\n")]
    # messages and finished sources get lines of their own; the status line is cleared
    assert lines[-3:] == [
        "  … reading ledger (file)",
        "  … stripe: fetched 3 pages, 250 records (1.2 s)",
        "",
    ]
    assert err.endswith("\r")
