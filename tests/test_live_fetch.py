"""``reconcile run`` fetching live: the real CLI in a subprocess against local provider servers.

The servers (``reconcile.testing``) serve the bundled October 2026 month in each
provider's wire format, with injected faults. Retries do not sleep: the CLI runs
as ``python -c BOOT`` where BOOT turns on ``reconcile.providers._http.set_testing``
before calling the click entry point (one test runs the plain ``python -m
reconcile`` to show a ``Retry-After`` really is waited for).
"""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconcile.testing import (
    FOREVER,
    ORG_ID,
    Fault,
    ProviderServer,
    ServedRequest,
    credential_env,
    sample_records,
    serve_sample_month,
)
from tests.conftest import REPO

SAMPLE = REPO / "sample_data"
BOOT = (
    "from reconcile.providers._http import set_testing; set_testing(True); "
    "from reconcile.cli import main; main()"
)
#: two providers paged (the servers cap pages below the fetchers' limit of 100)
PAGE_SIZES = {"commet": 10, "stripe": 7}
#: config options a single-source config needs per provider
OPTIONS: dict[str, dict[str, Any]] = {
    "f5xc": {"customer_id": "northwind", "namespace": "system"},
    "amberflo": {"currency": "USD"},
    "commet": {"api_version": "2026-07-31"},
    "frontier": {"org_id": ORG_ID},
    "stripe": {},
}


def reconcile(
    *args: str | Path, env: Mapping[str, str], sleep: bool = False
) -> subprocess.CompletedProcess[str]:
    """The CLI as a subprocess; ``sleep``: without the testing switch (retries really wait)."""
    head = ["-m", "reconcile"] if sleep else ["-c", BOOT]
    return subprocess.run(
        [sys.executable, *head, *map(str, args)],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def every_file(folder: Path) -> Iterator[tuple[Path, bytes]]:
    """Each file under ``folder`` (hidden ones too), gzip bodies also decompressed."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            yield path, data
            if path.suffix == ".gz":
                yield path, gzip.decompress(data)


def assert_no_secret(
    secrets: Sequence[str], out: Path, proc: subprocess.CompletedProcess[str]
) -> None:
    """No credential, nor its base64 (Basic auth), in any output file, stdout or stderr."""
    forms = [s.encode() for s in secrets] + [base64.b64encode(s.encode()) for s in secrets]
    checked = 0
    for path, data in every_file(out):
        checked += 1
        leaked = [f for f in forms if f in data]
        assert not leaked, f"{path} holds a credential"
    for stream in (proc.stdout, proc.stderr):
        assert not any(f.decode() in stream for f in forms)
    assert checked or not out.exists()


def findings(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / "findings.json").read_text(encoding="utf-8"))


def fetch_summary(out: Path) -> dict[str, dict[str, Any]]:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return {s["name"]: s for s in summary["sources"]}


# --- the sample month, live ----------------------------------------------------------


@dataclass
class LiveRun:
    proc: subprocess.CompletedProcess[str]
    out: Path
    config: Path
    env: dict[str, str]
    requests: dict[str, list[ServedRequest]]
    pdfs: dict[str, bytes]


def run_sample_month(
    folder: Path,
    faults: Mapping[str, Sequence[Fault]] | None = None,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
) -> LiveRun:
    with serve_sample_month(faults=faults, page_sizes=PAGE_SIZES) as month:
        config = month.write_config(folder, sources)
        out = folder / "out"
        proc = reconcile("run", config, "--out", out, env=month.env)
    # stopped: every request is logged, also one still waiting out a "slow" fault
    requests = {p: list(s.requests) for p, s in month.servers.items()}
    assert all(s.errors == [] for s in month.servers.values())
    name = "inv-northwind-2026-10-waap-upgrade"
    return LiveRun(
        proc, out, config, dict(month.env), requests, {name: month.servers["f5xc"].pdf(name)}
    )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> LiveRun:
    """The sample month fetched live once, fault-free (the servers are stopped afterwards)."""
    return run_sample_month(tmp_path_factory.mktemp("live"))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled close, from its recordings."""
    out = tmp_path_factory.mktemp("recorded") / "out"
    proc = reconcile("run", SAMPLE / "close.yaml", "--out", out, "--quiet", env={})
    assert proc.returncode == 1, proc.stderr
    return out


def without_location(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Findings without where their page is stored (``raw/...`` live, ``recordings/...``)."""
    return [{k: v for k, v in f.items() if k not in ("location", "message")} for f in items]


def planted_count() -> int:
    """Findings sample_data/expected_findings.json lists: each plant and its secondaries."""
    items = json.loads((SAMPLE / "expected_findings.json").read_text(encoding="utf-8"))
    return sum(1 + len(item.get("secondary") or []) for item in items)


def test_live_sample_month_finds_what_the_recordings_find(live: LiveRun, recorded: Path) -> None:
    assert live.proc.returncode == 1, live.proc.stderr
    got, want = findings(live.out), findings(recorded)
    assert len(got) == planted_count()
    assert without_location(got) == without_location(want)
    assert all(
        f["location"].startswith("raw/")
        for f in got
        if f["source"] not in (None, "ledger") and f["location"] and f["rule_type"] != "matching"
    )  # a pairing's finding names the pairing
    sources = fetch_summary(live.out)
    assert {
        name: (s["fetch"]["mode"], s["records_read"])
        for name, s in sources.items()
        if s.get("fetch")
    } == {
        "stripe": ("live", 30),
        "frontier": ("live", 30),
        "commet": ("live", 32),
        "amberflo": ("live", 23),
        "f5xc": ("live", 6),
    }
    # 30 invoices, 7 a page; one (empty) page for each neighbouring month (timing)
    assert sources["stripe"]["fetch"]["pages"] == 5 + 2
    assert sources["commet"]["fetch"]["pages"] == 4 + 32  # list pages + GET /invoices/{id}


def test_live_fetch_asks_as_documented(live: LiveRun) -> None:
    req = live.requests
    stripe = [r for r in req["stripe"] if r.endpoint == "list"]
    # [2026-10-01, 2026-11-01) UTC, then the 31 days before and after it (timing)
    assert [(r.query["created[gte]"], r.query["created[lt]"]) for r in stripe] == [
        ("1790812800", "1793491200")
    ] * 5 + [("1788134400", "1790812800"), ("1793491200", "1796169600")]
    assert all(
        r.headers["authorization"] == f"Bearer {live.env[credential_env('stripe')]}"
        for r in req["stripe"]
    )
    assert [r.query.get("starting_after") is None for r in stripe] == [True] + [False] * 4 + [
        True,
        True,
    ]
    commet = req["commet"]
    assert {r.headers["commet-version"] for r in commet} == {"2026-07-31"}
    assert sum(r.endpoint == "detail" for r in commet) == 32
    assert all(r.query["limit"] == "100" for r in commet if r.endpoint == "list")
    amberflo = [r for r in req["amberflo"] if r.endpoint == "list"]
    assert len(amberflo) == 21 and {r.query["fromCache"] for r in amberflo} == {"false"}
    assert req["amberflo"][0].endpoint == "customers"
    (frontier,) = req["frontier"]
    assert (frontier.method, json.loads(frontier.body)["org_id"]) == ("POST", ORG_ID)
    assert [r.endpoint for r in req["f5xc"]] == ["list", "pdf"]


def test_live_run_archives_the_f5_invoice_pdf(live: LiveRun) -> None:
    ((name, data),) = live.pdfs.items()
    stored = live.out / "documents" / "f5xc" / f"{name}.pdf"
    assert stored.read_bytes() == data
    manifest = json.loads((live.out / "raw" / "f5xc" / "manifest.json").read_text("utf-8"))
    (doc,) = manifest["documents"]
    assert doc["sha256"] == hashlib.sha256(data).hexdigest()


def test_no_secret_in_any_output(live: LiveRun) -> None:
    assert len(live.env) == 5
    assert_no_secret(list(live.env.values()), live.out, live.proc)
    assert (live.out / "raw" / "stripe" / "manifest.json").is_file()  # the snapshot was searched


def test_replay_gives_identical_findings_offline(live: LiveRun, tmp_path: Path) -> None:
    """The servers are gone: --replay reads only the run folder's snapshot."""
    out = tmp_path / "replayed"
    proc = reconcile("run", live.config, "--out", out, "--replay", live.out, env=live.env)
    assert proc.returncode == 1, proc.stderr
    for name in ("findings.json", "findings.csv"):
        assert (out / name).read_bytes() == (live.out / name).read_bytes(), name
    assert {s["fetch"]["mode"] for s in fetch_summary(out).values() if s.get("fetch")} == {"replay"}
    # without the credentials too: a replay needs none
    bare = {k: "" for k in live.env}
    again = reconcile(
        "run", live.config, "--out", tmp_path / "again", "--replay", live.out, env=bare
    )
    assert again.returncode == 1, again.stderr
    assert (tmp_path / "again" / "findings.json").read_bytes() == (
        live.out / "findings.json"
    ).read_bytes()


def test_transient_faults_still_give_the_complete_month(live: LiveRun, tmp_path: Path) -> None:
    faults = {
        "stripe": [Fault("429", request=2, retry_after="1"), Fault("reset", request=4)],
        "commet": [
            Fault("503", request=2),
            Fault("429", request=6, retry_after="2", path_contains="/invoices/inv_"),
            Fault("reset", request=10),
        ],
        "amberflo": [Fault("reset", request=1), Fault("503", request=5)],
        "frontier": [
            Fault("503", request=1),
            Fault("429", request=2, retry_after="Wed, 21 Oct 2015 07:28:00 GMT"),
        ],
        "f5xc": [Fault("500", request=1), Fault("slow", request=2, delay=3.0)],
    }
    run = run_sample_month(tmp_path, faults, {"f5xc": {"http": {"read_timeout": 0.5}}})
    assert run.proc.returncode == 1, run.proc.stderr
    assert (run.out / "findings.json").read_bytes() == (live.out / "findings.json").read_bytes()
    retries = {
        name: s["fetch"]["retries"] for name, s in fetch_summary(run.out).items() if s.get("fetch")
    }
    assert retries == {"stripe": 2, "commet": 3, "amberflo": 2, "frontier": 2, "f5xc": 2}
    for provider, served in run.requests.items():  # every fault fired, each once
        fired = sorted(r.fault for r in served if r.fault)
        assert fired == sorted(f.kind for f in faults[provider]), provider
    assert_no_secret(list(run.env.values()), run.out, run.proc)


# --- one source at a time ----------------------------------------------------------------


def single_source(
    folder: Path,
    srv: ProviderServer,
    *,
    http: Mapping[str, Any] | None = None,
    env_name: str | None = None,
) -> Path:
    """A close with one live source (no ledger, no pairings). JSON is YAML 1.2."""
    source: dict[str, Any] = {
        "provider": srv.provider,
        "base_url": srv.url,
        "credential_env": env_name or credential_env(srv.provider),
        "options": OPTIONS[srv.provider],
    }
    if http:
        source["http"] = dict(http)
    config = {
        "name": f"{srv.provider} live",
        "period": {"start": "2026-10-01", "end": "2026-11-01"},
        "sources": {srv.provider: source},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "close.yaml"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def serve(provider: str, faults: Sequence[Fault] = (), **kwargs: Any) -> ProviderServer:
    return ProviderServer(
        provider,
        recording=SAMPLE / "recordings" / provider,
        faults=faults,
        credential=f"{provider}-live-secret-7f3a",
        **kwargs,
    )


def run_single(
    tmp_path: Path,
    srv: ProviderServer,
    *,
    http: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    sleep: bool = False,
) -> subprocess.CompletedProcess[str]:
    config = single_source(tmp_path, srv, http=http)
    env = {credential_env(srv.provider): srv.credential} if env is None else env
    return reconcile("run", config, "--out", tmp_path / "out", env=env, sleep=sleep)


def test_retry_after_is_really_waited_for(tmp_path: Path) -> None:
    """Without the testing switch: the retry comes at least Retry-After seconds later."""
    with serve("stripe", [Fault("429", request=1, retry_after="1")]) as srv:
        proc = run_single(tmp_path, srv, sleep=True)
        first, second, *_ = srv.requests  # (then the other pages and windows)
    assert proc.returncode == 1, proc.stderr  # the month's three planted Stripe findings
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0
    assert fetch_summary(tmp_path / "out")["stripe"]["fetch"]["retries"] == 1


@pytest.mark.parametrize("provider", ["commet", "stripe"])
def test_identical_repeats_are_dropped_and_counted(provider: str, tmp_path: Path) -> None:
    with serve(provider, [Fault("repeat")], page_size=PAGE_SIZES[provider]) as srv:
        proc = run_single(tmp_path, srv)
    assert proc.returncode == 1, proc.stderr
    summary = fetch_summary(tmp_path / "out")[provider]
    assert summary["identical_repeats_dropped"] == 1
    assert summary["records_read"] == len(srv.records)


#: (provider, faults, server kwargs, http policy, what stderr names)
PERSISTENT: list[tuple[str, list[Fault], dict[str, Any], dict[str, Any], list[str]]] = [
    (
        "stripe",
        [Fault("503", times=FOREVER)],
        {},
        {"max_attempts": 3},
        ["stripe GET /v1/invoices", "gave up after 3 attempt(s)", "503"],
    ),
    (
        "commet",
        [Fault("reset", times=FOREVER)],
        {},
        {"max_attempts": 2},
        ["commet GET /api/v1/invoices", "gave up after 2 attempt(s)", "no response"],
    ),
    (
        "f5xc",
        [Fault("slow", delay=5.0, times=FOREVER)],
        {},
        {"max_attempts": 2, "read_timeout": 0.5},
        ["f5xc GET /api/web/namespaces/system/usage/invoices/custom_list", "ReadTimeout"],
    ),
    (
        "commet",
        [Fault("429", times=FOREVER)],
        {},
        {},
        ["commet GET /api/v1/invoices", "429", "Retry-After"],
    ),
    (
        "stripe",
        [Fault("429", retry_after="3600")],
        {},
        {"max_seconds": 60},
        ["stripe GET /v1/invoices", "429", "Retry-After"],
    ),
    (
        "commet",
        [Fault("malformed", request=3)],
        {"page_size": 10},
        {},
        ["commet GET /api/v1/invoices page 3", "not the documented shape"],
    ),
    (
        "frontier",
        [Fault("html")],
        {},
        {},
        [
            "frontier POST /raystack.frontier.v1beta1.FrontierService/ListInvoices",
            "not valid JSON",
            "text/html",
        ],
    ),
    (
        "amberflo",
        [Fault("truncated", request=4)],
        {},
        {},
        ["amberflo GET /payments/billing/customer-product-invoice/all", "not valid JSON"],
    ),
    (
        "commet",
        [Fault("repeat_cursor")],
        {"page_size": 10},
        {},
        ["commet GET /api/v1/invoices page 2", "pagination loop"],
    ),
    (
        "stripe",
        [Fault("repeat_cursor")],
        {"page_size": 7},
        {},
        ["stripe GET /v1/invoices page 2", "pagination loop"],
    ),
    (
        "stripe",
        [Fault("conflicting_repeat", request=3)],
        {"page_size": 7},
        {},
        ["stripe GET /v1/invoices page 3", "already on page 2 with different content"],
    ),
    (
        "stripe",
        [Fault("wrong_total")],
        {},
        {},
        ["stripe GET /v1/invoices", "total_count says 31, the pages hold 30"],
    ),
]


@pytest.mark.parametrize(
    ("provider", "faults", "server_kwargs", "http", "named"),
    PERSISTENT,
    ids=[f"{p}-{f[0].kind}" for p, f, *_ in PERSISTENT],
)
def test_persistent_faults_and_bad_pages_exit_3(
    provider: str,
    faults: list[Fault],
    server_kwargs: dict[str, Any],
    http: dict[str, Any],
    named: list[str],
    tmp_path: Path,
) -> None:
    with serve(provider, faults, **server_kwargs) as srv:
        proc = run_single(tmp_path, srv, http=http)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    for text in named:
        assert text in proc.stderr, (text, proc.stderr)
    assert not (tmp_path / "out" / "findings.json").exists()  # no report that looks complete
    assert_no_secret([srv.credential], tmp_path / "out", proc)


def test_a_missing_credential_variable_exits_2_before_any_request(tmp_path: Path) -> None:
    with serve("commet") as srv:
        config = single_source(tmp_path, srv, env_name="RECONCILE_TEST_NOT_SET_ANYWHERE")
        env = {k: v for k, v in os.environ.items() if k != "RECONCILE_TEST_NOT_SET_ANYWHERE"}
        proc = subprocess.run(
            [sys.executable, "-c", BOOT, "run", str(config), "--out", str(tmp_path / "out")],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert proc.returncode == 2, proc.stderr
    assert "RECONCILE_TEST_NOT_SET_ANYWHERE" in proc.stderr and "is not set" in proc.stderr
    assert srv.requests == []


@pytest.mark.parametrize(
    ("provider", "faults", "credential"),
    [
        ("stripe", [], "sk_test_wrong_value_1234"),
        ("frontier", [], "client:wrong-secret-5678"),
        ("commet", [Fault("401", request=3)], None),  # refused mid-fetch, on list page 3
    ],
    ids=["stripe-wrong-key", "frontier-wrong-key", "commet-401-midway"],
)
def test_a_refused_credential_exits_2_naming_the_variable(
    provider: str, faults: list[Fault], credential: str | None, tmp_path: Path
) -> None:
    with serve(provider, faults, **({"page_size": 10} if provider == "commet" else {})) as srv:
        env = {credential_env(provider): credential or srv.credential}
        proc = run_single(tmp_path, srv, env=env)
        statuses = [r.status for r in srv.requests]
    assert proc.returncode == 2, proc.stderr
    assert credential_env(provider) in proc.stderr and "401" in proc.stderr
    assert statuses[-1] == 401 and statuses.count(401) == 1  # never retried
    assert_no_secret([env[credential_env(provider)], srv.credential], tmp_path / "out", proc)


def test_the_neighbouring_periods_are_read_for_timing_only(tmp_path: Path) -> None:
    """Stripe's window before the period holds one readable invoice and one that cannot be
    read: neither is checked, counted as read or reported; the close is the month's."""
    records = copy.deepcopy(sample_records("stripe"))
    september = 1790812800 - 5 * 86400
    near = [
        {
            **copy.deepcopy(records[0]),
            "id": "in_sept_ok",
            "created": september,
            "period_start": september,
            "period_end": september,
        },
        {k: v for k, v in copy.deepcopy(records[1]).items() if k != "total"},
    ]
    near[1].update(id="in_sept_broken", created=september + 60)
    with ProviderServer(
        "stripe", records=records + near, credential="stripe-live-secret-7f3a"
    ) as srv:
        proc = run_single(tmp_path, srv)
    assert proc.returncode == 1, proc.stderr  # the month's planted Stripe findings only
    findings = json.loads((tmp_path / "out" / "findings.json").read_text())
    assert {f["rule_id"] for f in findings} == {
        "stripe.total",
        "stripe.total_excluding_tax",
        "stripe.amount_remaining",
    }
    summary = fetch_summary(tmp_path / "out")["stripe"]
    assert (summary["records_read"], summary["quarantined"], summary["neighbours_read"]) == (
        30,
        0,
        2,
    )
