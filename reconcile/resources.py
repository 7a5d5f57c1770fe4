"""Where the shipped data lives: inside the wheel when installed, else the repository."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def packaged_path(name: str) -> Path:
    """``rules``, ``reports`` or ``sample_data``: ``reconcile/_data/<name>`` in an
    installed wheel, else the repository's top-level folder (checkout, editable install)."""
    packaged = Path(str(resources.files("reconcile") / "_data" / name))
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / name
