"""What a config file says, as frozen dataclasses (reconcile.config)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconcile.matching import Pairing
from reconcile.money import DEFAULT_ROUNDING, PLAIN, NumberFormat

if TYPE_CHECKING:
    from reconcile.providers._http import HttpPolicy


PROVIDERS = ("f5xc", "amberflo", "commet", "frontier", "stripe")
#: the dates a period may start and end at, inclusive (naive, read as the date's own zone)
PERIOD_BOUNDS = (dt.datetime(1970, 1, 2), dt.datetime(2200, 1, 1))
PERIOD_FIELDS = ("period_start", "period_end", "issued_at", "due_at", "none")
OUTPUTS = ("html", "md", "json", "csv", "parquet")
#: what a source is to the close: a billing system (it bills; a void invoice is not
#: booked) or a ledger (the books)
ROLES = ("billing", "ledger")


@dataclass(frozen=True)
class FileSpec:
    path: Path
    format: str
    columns: Mapping[str, Any]
    amounts: str = "major"  # "major": decimal strings in major units; "minor": integers
    #: how the file writes numbers as text (money.NumberFormat; default: plain)
    numbers: NumberFormat = PLAIN
    #: the file's text encoding (default UTF-8; anything else must be named)
    encoding: str = "utf-8"


@dataclass(frozen=True)
class SourceConfig:
    name: str
    provider: str  # one of PROVIDERS, or "file"
    period_field: str
    recording: Path | None = None
    invoices: FileSpec | None = None
    lines: FileSpec | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None
    #: live fetching (instead of ``recording``): where, which credential, how
    base_url: str | None = None
    credential_env: str | None = None
    http: HttpPolicy | None = None
    #: how this source's amounts finer than the minor unit become minor units
    #: (money.ROUNDING_MODES): half_up (default) or half_even
    rounding: str = DEFAULT_ROUNDING
    #: ROLES: "ledger" for a file source unless it says otherwise, else "billing"
    role: str = "billing"

    @property
    def live(self) -> bool:
        """Fetched over HTTP (``credential_env``), not replayed from ``recording``."""
        return self.credential_env is not None


@dataclass(frozen=True)
class Config:
    path: Path
    name: str
    period_start: dt.datetime
    period_end: dt.datetime
    sources: tuple[SourceConfig, ...]
    pairings: tuple[Pairing, ...]
    rule_paths: tuple[Path, ...] | None
    templates: Path | None
    outputs: tuple[str, ...]
