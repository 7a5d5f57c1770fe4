from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RECONCILE_SHARED", REPO.parent / "shared"))
DATASETS = SHARED / "datasets"
SAMPLES = SHARED / "reference" / "samples"


def sample_path(name: str) -> Path:
    """A provider wire sample from ``shared/reference/samples``; the test is skipped
    (with the reason) where that folder is not beside the checkout (CI has it)."""
    if not SAMPLES.is_dir():
        pytest.skip(f"provider samples not present ({SAMPLES})")
    return SAMPLES / name


@pytest.fixture
def write(tmp_path: Path):
    """Write a text file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write
