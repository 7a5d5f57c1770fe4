"""Servers that send too much, or too slowly: the fetch stops at its limits, exit 3 naming
provider, endpoint and the limit, within ``max_seconds`` + 5 s and in bounded memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconcile.testing import Fault, ProviderServer, sample_records
from tests.hostile.conftest import run_cli

SECRET = "sup3r-s3cret-T0KEN-4242-xy"


def close(folder: Path, server: ProviderServer, http: dict[str, object]) -> Path:
    config = {"period": {"start": "2026-10-01", "end": "2026-11-01"},
              "sources": {"f5xc": {"provider": "f5xc", "base_url": server.url,
                                   "credential_env": "HOSTILE_KEY", "http": http,
                                   "options": {"customer_id": "northwind"}}}}
    path = folder / "close.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.mark.parametrize(("fault", "http", "message"), [
    (Fault("endless", times=99), {"max_response_bytes": 8 << 20},
     "larger than http.max_response_bytes (8388608 bytes)"),
    (Fault("gzip_bomb", size=1 << 30, times=99), {},
     "larger than http.max_response_bytes (268435456 bytes)"),
    (Fault("drip", delay=2.0, times=99), {"read_timeout": 5, "max_seconds": 6},
     "did not complete within max_seconds 6"),
])
def test_a_hostile_body_is_cut_at_its_limit(tmp_path: Path, fault: Fault,
                                            http: dict[str, object], message: str) -> None:
    with ProviderServer("f5xc", records=sample_records("f5xc"), faults=[fault],
                        credential=SECRET) as server:
        run = run_cli(["run", close(tmp_path, server, {"max_attempts": 2, **http}),
                       "--out", tmp_path / "out"], env={"HOSTILE_KEY": SECRET}, timeout=60)
    assert run.returncode == 3, run.output
    assert message in run.stderr and "f5xc GET /api/web/namespaces" in run.stderr
    assert "Traceback" not in run.output and SECRET not in run.output
    seconds = float(http.get("max_seconds", 300))
    assert run.seconds < seconds + 5
    assert run.peak_mib < 900, run.peak_mib  # the default cap is 256 MiB: twice that, plus
    assert not (tmp_path / "out" / "report.html").exists()
