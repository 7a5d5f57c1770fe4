from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RECONCILE_SHARED", REPO.parent / "shared"))
DATASETS = SHARED / "datasets"
SAMPLES = SHARED / "reference" / "samples"

# HYPOTHESIS_PROFILE=slow: property tests that follow the loaded profile draw many more
# examples, at random (the default run keeps each test's own, derandomized bound:
# see tests/providers/test_stripe_conformance.py).
settings.register_profile(
    "slow",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])


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
