"""Recorded pages are bounded like live ones (recording.MAX_PAGE_BYTES, 256 MiB): a
page too large is refused by its size before a byte is read, and a gzip page stops
inflating at the bound. Measured in a child process: exit 3, the page named, and
the peak memory of the whole run."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

from reconcile.recording import MAX_PAGE_BYTES, sha256
from tests.hostile.conftest import run_cli
from tests.hostile.test_inputs import f5_close, f5_record


def _replace_page(folder: Path, name: str, body_path: Path, digest: str) -> None:
    manifest = folder / "rec" / "manifest.json"
    meta = json.loads(manifest.read_text())
    (folder / "rec" / meta["pages"][0]["file"]).unlink()
    body_path.rename(folder / "rec" / name)
    meta["pages"][0].update(file=name, sha256=digest)
    manifest.write_text(json.dumps(meta))


def test_a_300_mb_page_is_refused_by_its_size(tmp_path: Path) -> None:
    """Before the bound, a 300 MB page took 15.7 GB; now it is never read."""
    config = f5_close(tmp_path, f5_record())
    big = tmp_path / "big.json"
    with big.open("wb") as handle:  # sparse: 300 MB on paper, nothing on disk
        handle.truncate(300 * 1024 * 1024)
    _replace_page(tmp_path, "0001.json", big, "0" * 64)
    result = run_cli(["run", config, "--out", tmp_path / "out"])
    assert result.returncode == 3, result.output
    assert f"page is larger than {MAX_PAGE_BYTES} bytes" in result.stderr
    assert "0001.json" in result.stderr and "Traceback" not in result.output
    assert result.peak_mib < 400, result.peak_mib


def test_a_gzip_bomb_page_stops_inflating_at_the_bound(tmp_path: Path) -> None:
    """2 MB on disk, 1 GiB inflated: refused once 256 MiB are out (was 4.25 GB)."""
    config = f5_close(tmp_path, f5_record())
    bomb = tmp_path / "bomb.json.gz"
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"0" * (16 << 20)
    with bomb.open("wb") as handle:
        for _ in range(64):  # 1 GiB of "0"
            handle.write(packer.compress(zeros))
        handle.write(packer.flush())
    assert bomb.stat().st_size < 4 << 20
    _replace_page(tmp_path, "0001.json.gz", bomb, sha256(bomb.read_bytes()))
    result = run_cli(["run", config, "--out", tmp_path / "out"])
    assert result.returncode == 3, result.output
    assert f"inflates to more than {MAX_PAGE_BYTES} bytes" in result.stderr
    assert "0001.json.gz" in result.stderr and "Traceback" not in result.output
    # the bound itself (256 MiB) plus the interpreter with polars loaded
    assert result.peak_mib < 700, result.peak_mib
