"""Servers that send too much, or too slowly: the fetch stops at its limits, exit 3 naming
provider, endpoint and the limit, within ``max_seconds`` + 5 s and in bounded memory."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from reconcile.testing import Fault, ProviderServer, sample_records
from tests.hostile.conftest import Respond, answering, run_cli

SECRET = "sup3r-s3cret-T0KEN-4242-xy"


def close(folder: Path, server: ProviderServer, http: dict[str, object]) -> Path:
    config = {
        "period": {"start": "2026-10-01", "end": "2026-11-01"},
        "sources": {
            "f5xc": {
                "provider": "f5xc",
                "base_url": server.url,
                "credential_env": "HOSTILE_KEY",
                "http": http,
                "options": {"customer_id": "northwind"},
            }
        },
    }
    path = folder / "close.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("fault", "http", "message"),
    [
        (
            Fault("endless", times=99),
            {"max_response_bytes": 8 << 20},
            "larger than http.max_response_bytes (8388608 bytes)",
        ),
        (
            Fault("gzip_bomb", size=1 << 30, times=99),
            {},
            "larger than http.max_response_bytes (268435456 bytes)",
        ),
        (
            Fault("drip", delay=2.0, times=99),
            {"read_timeout": 5, "max_seconds": 6},
            "did not complete within max_seconds 6",
        ),
    ],
)
def test_a_hostile_body_is_cut_at_its_limit(
    tmp_path: Path, fault: Fault, http: dict[str, object], message: str
) -> None:
    with ProviderServer(
        "f5xc", records=sample_records("f5xc"), faults=[fault], credential=SECRET
    ) as server:
        run = run_cli(
            [
                "run",
                close(tmp_path, server, {"max_attempts": 2, **http}),
                "--out",
                tmp_path / "out",
            ],
            env={"HOSTILE_KEY": SECRET},
            timeout=60,
        )
    assert run.returncode == 3, run.output
    assert message in run.stderr and "f5xc GET /api/web/namespaces" in run.stderr
    assert "Traceback" not in run.output and SECRET not in run.output
    seconds = float(http.get("max_seconds", 300))
    assert run.seconds < seconds + 5
    assert run.peak_mib < 900, run.peak_mib  # the default cap is 256 MiB: twice that, plus
    assert not (tmp_path / "out" / "report.html").exists()


def _login_page(headers: Mapping[str, str]) -> tuple[bytes, str]:
    """A login page that echoes the token it was sent (status 200)."""
    token = headers.get("Authorization", "").split(" ", 1)[-1]
    return f"<html><body><form>Login. Your token {token} has expired.</form>".encode(), "text/html"


def test_a_page_echoing_the_token_never_shows_a_piece_of_it(tmp_path: Path) -> None:
    with answering(_login_page) as url:
        fake = type("S", (), {"url": url})()
        run = run_cli(
            ["run", close(tmp_path, fake, {"max_attempts": 1}), "--out", tmp_path / "out"],
            env={"HOSTILE_KEY": SECRET},
        )
    assert run.returncode == 3, run.output
    assert "not valid JSON" in run.stderr and "[redacted]" in run.stderr
    assert "f5xc GET /api/web/namespaces/system/usage/invoices/custom_list" in run.stderr
    pieces = {SECRET[i : i + 4] for i in range(len(SECRET) - 3)}
    assert not any(piece in run.output for piece in pieces), run.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.json"))


BASIC_ID, BASIC_HALF = "svc-client-7781", "Zq8v-Kx3m-Wp7t-Jr2n-Yb5h"


def _half_echo(html: bool) -> Respond:
    """Frontier's ListInvoices answering with only the secret half of the Basic credential
    it was sent (``client_id:secret``), in JSON (kept in the snapshot) or in a login page."""

    def respond(headers: Mapping[str, str]) -> tuple[bytes, str]:
        token = headers.get("Authorization", "").split(" ", 1)[-1]
        half = base64.b64decode(token).decode().partition(":")[2]
        if html:
            return (
                f"<html><body>Login. Your secret {half} has expired.</body>".encode(),
                "text/html",
            )
        body = json.dumps({"invoices": [], "detail": f"signed with {half}"}).encode()
        return body, "application/json"

    return respond


@pytest.mark.parametrize("html", [False, True], ids=["json", "login-page"])
def test_a_server_echoing_the_secret_half_of_a_basic_credential(tmp_path: Path, html: bool) -> None:
    config = {
        "period": {"start": "2026-10-01", "end": "2026-11-01"},
        "sources": {
            "frontier": {
                "provider": "frontier",
                "base_url": "",
                "credential_env": "HOSTILE_BASIC",
                "http": {"max_attempts": 1},
                "options": {"org_id": "org-1"},
            }
        },
    }
    with answering(_half_echo(html)) as url:
        config["sources"]["frontier"]["base_url"] = url  # type: ignore[index]
        (tmp_path / "close.yaml").write_text(json.dumps(config), encoding="utf-8")
        run = run_cli(
            ["run", tmp_path / "close.yaml", "--out", tmp_path / "out"],
            env={"HOSTILE_BASIC": f"{BASIC_ID}:{BASIC_HALF}"},
        )
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert not any(BASIC_HALF.encode() in p.read_bytes() for p in written)
    assert BASIC_HALF not in run.output and "Traceback" not in run.output
    if html:
        assert run.returncode == 3, run.output
        assert "not valid JSON" in run.stderr and "[redacted]" in run.stderr
        pieces = {BASIC_HALF[i : i + 4] for i in range(len(BASIC_HALF) - 3)}
        assert not any(piece in run.output for piece in pieces), run.output
    else:
        assert run.returncode == 0, run.output
        snapshot = (tmp_path / "out" / "raw" / "frontier" / "0001.json").read_bytes()
        assert json.loads(snapshot)["detail"] == "signed with [redacted]"
