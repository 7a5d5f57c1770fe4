"""Servers that send too much, or too slowly: the fetch stops at its limits, exit 3 naming
provider, endpoint and the limit, within ``max_seconds`` + 5 s and in bounded memory."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from reconcile.testing import Fault, ProviderServer, sample_records
from tests.hostile.conftest import run_cli

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


class _EchoHandler(BaseHTTPRequestHandler):
    """A login page that echoes the token it was sent (status 200)."""

    def do_GET(self) -> None:
        token = self.headers.get("Authorization", "").split(" ", 1)[-1]
        body = f"<html><body><form>Login. Your token {token} has expired.</form>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_page_echoing_the_token_never_shows_a_piece_of_it(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fake = type("S", (), {"url": f"http://127.0.0.1:{server.server_address[1]}"})()
        run = run_cli(
            ["run", close(tmp_path, fake, {"max_attempts": 1}), "--out", tmp_path / "out"],
            env={"HOSTILE_KEY": SECRET},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 3, run.output
    assert "not valid JSON" in run.stderr and "[redacted]" in run.stderr
    assert "f5xc GET /api/web/namespaces/system/usage/invoices/custom_list" in run.stderr
    pieces = {SECRET[i : i + 4] for i in range(len(SECRET) - 3)}
    assert not any(piece in run.output for piece in pieces), run.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.json"))


BASIC_ID, BASIC_HALF = "svc-client-7781", "Zq8v-Kx3m-Wp7t-Jr2n-Yb5h"


class _HalfEchoHandler(BaseHTTPRequestHandler):
    """Frontier's ListInvoices answering with only the secret half of the Basic credential
    it was sent (``client_id:secret``), in JSON (kept in the snapshot) or in a login page."""

    html = False

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        token = self.headers.get("Authorization", "").split(" ", 1)[-1]
        half = base64.b64decode(token).decode().partition(":")[2]
        if self.html:
            body = f"<html><body>Login. Your secret {half} has expired.</body>".encode()
        else:
            body = json.dumps({"invoices": [], "detail": f"signed with {half}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if self.html else "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("html", [False, True], ids=["json", "login-page"])
def test_a_server_echoing_the_secret_half_of_a_basic_credential(tmp_path: Path, html: bool) -> None:
    handler = type("Handler", (_HalfEchoHandler,), {"html": html})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = {
        "period": {"start": "2026-10-01", "end": "2026-11-01"},
        "sources": {
            "frontier": {
                "provider": "frontier",
                "base_url": f"http://127.0.0.1:{server.server_address[1]}",
                "credential_env": "HOSTILE_BASIC",
                "http": {"max_attempts": 1},
                "options": {"org_id": "org-1"},
            }
        },
    }
    (tmp_path / "close.yaml").write_text(json.dumps(config), encoding="utf-8")
    try:
        run = run_cli(
            ["run", tmp_path / "close.yaml", "--out", tmp_path / "out"],
            env={"HOSTILE_BASIC": f"{BASIC_ID}:{BASIC_HALF}"},
        )
    finally:
        server.shutdown()
        server.server_close()
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
