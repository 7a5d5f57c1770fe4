"""Provider sources' pages: fetched live (and snapshotted), replayed, or recorded.

* **Live** (``credential_env`` in the config): the provider's ``fetch`` runs through a
  :class:`~reconcile.providers._http.ProviderClient`; every response it used is
  written to ``<run>/raw/<source>/`` (``reconcile.recording`` format, extended: see
  that module) and source documents (F5 invoice PDFs) to
  ``<run>/documents/<source>/``, each with its SHA-256. The pages are then read
  back from the snapshot, so a live run normalizes exactly the bytes a replay reads.
* **Replay** (``reconcile run --replay RUN_DIR``): the same sources are read from
  ``RUN_DIR/raw/<source>/`` offline. The snapshot must be of the same provider and
  period as the config.
* **Recording** (``recording:`` in the config): a recorded folder, as before.

Page locations (which findings show) are relative to the run folder for live and
replayed pages (``raw/stripe/0001.json``), so a live run and its replay give
byte-identical findings. A folder is written under a temporary name and renamed
when complete, so a failed fetch never leaves a snapshot that looks complete.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconcile.config import SourceConfig
from reconcile.errors import ConfigError, InputDataError, UsageError
from reconcile.providers._base import Page
from reconcile.providers._http import (
    Cancel,
    Document,
    FetchCancelled,
    FetchedPage,
    FetchStats,
    ProviderClient,
)
from reconcile.providers.registry import FETCHERS, MODULES
from reconcile.recording import MAX_PAGE_BYTES, read_manifest, read_recording, write_recording

RAW = "raw"
DOCUMENTS = "documents"
#: bodies this large or larger are stored gzipped in the snapshot
GZIP_FROM = 1 << 20


@dataclass(frozen=True)
class FetchReport:
    """What one provider source's fetch did (for the report and summary.json)."""

    source: str
    provider: str
    mode: str  # "live" or "replay" (then the counts are the original fetch's)
    pages: int
    records: int
    retries: int
    seconds: float
    bytes: int
    documents: int = 0
    fetched_at: str | None = None


@dataclass(frozen=True)
class FetchEvent:
    """Progress of one source's fetch; ``report`` is set once, when it is done."""

    source: str
    provider: str
    pages: int
    records: int
    retries: int
    report: FetchReport | None = None


FetchProgress = Callable[[FetchEvent], None]


class FetchLog:
    """A progress sink that keeps each source's final :class:`FetchReport`.

    Pass it as ``pipeline.run(..., fetch_progress=log)``; ``display`` (optional) sees
    every event, from the fetch's worker threads too: sources are fetched at once
    (``reconcile.fetch_all``), each with its own request threads, and the calls are
    serialized here, so ``display`` never runs twice at a time.
    """

    def __init__(self, display: FetchProgress | None = None) -> None:
        self.display = display
        self.reports: dict[str, FetchReport] = {}
        self._lock = threading.Lock()

    def __call__(self, event: FetchEvent) -> None:
        with self._lock:
            if event.report is not None:
                self.reports[event.source] = event.report
            if self.display is not None:
                self.display(event)


# --- credentials -------------------------------------------------------------------------


def credential(cfg: SourceConfig) -> str:
    """The credential's value from the environment; its absence is a config error (exit 2)."""
    assert cfg.credential_env is not None
    value = os.environ.get(cfg.credential_env, "")
    if not value.strip():
        state = "is empty" if cfg.credential_env in os.environ else "is not set"
        raise ConfigError(
            f"source {cfg.name!r}: the environment variable {cfg.credential_env} "
            f"(credential_env) {state}; it must hold the {cfg.provider} "
            "credential to fetch live"
        )
    return value.strip()


def require_credentials(sources: Iterable[SourceConfig]) -> None:
    """Check every live source's credential before any request is made."""
    for cfg in sources:
        if cfg.live:
            credential(cfg)


# --- the three ways to pages ------------------------------------------------------------


def provider_pages(
    cfg: SourceConfig,
    base: Path | None,
    *,
    run_dir: Path | None = None,
    replay: Path | None = None,
    period: tuple[datetime, datetime] | None = None,
    progress: FetchProgress | None = None,
) -> tuple[list[Page], FetchReport | None]:
    """The pages of a provider source (live, replayed or recorded), checked for provider."""
    report = None
    if not cfg.live:
        assert cfg.recording is not None
        provider, pages = read_recording(cfg.recording, cfg.name, base)
        where = str(cfg.recording)
    elif replay is not None:
        provider, pages, report = _replay(cfg, replay, period, progress)
        where = str(replay / RAW / cfg.name)
        if run_dir is not None:
            _carry_snapshot(replay, run_dir, cfg.name)
    else:
        if run_dir is None:
            raise UsageError(
                f"source {cfg.name!r} is fetched live: a run folder (--out) is "
                "needed for its raw snapshot"
            )
        if period is None:
            raise UsageError(f"source {cfg.name!r} is fetched live: the close period is needed")
        provider, pages, report = _fetch(cfg, run_dir, period, progress)
        where = str(run_dir / RAW / cfg.name)
    if provider != cfg.provider:
        raise InputDataError(
            f"recording is of provider {provider!r}, config says {cfg.provider!r}",
            source=cfg.name,
            location=where,
        )
    return pages, report


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _fetch(
    cfg: SourceConfig,
    run_dir: Path,
    period: tuple[datetime, datetime],
    progress: FetchProgress | None,
) -> tuple[str, list[Page], FetchReport]:
    folder, report = fetch_snapshot(cfg, run_dir, period, progress)
    provider, replayed = read_recording(folder, cfg.name, run_dir, _page_limit(cfg))
    return provider, replayed, report


def fetch_snapshot(
    cfg: SourceConfig,
    run_dir: Path,
    period: tuple[datetime, datetime],
    progress: FetchProgress | None,
    cancel: Cancel | None = None,
) -> tuple[Path, FetchReport]:
    """Fetch a live source and write its snapshot: (``run_dir/raw/<source>``, the report).

    Its pages are then read back from that folder (by :func:`provider_pages`, live or
    as a replay of ``run_dir``). ``cancel``: the run-wide stop (another source failed,
    or Ctrl-C): the fetch ends at once with ``FetchCancelled`` and writes nothing.
    """
    secret = credential(cfg)
    module = MODULES[cfg.provider]
    assert cfg.base_url is not None and cfg.credential_env is not None

    def on_progress(stats: FetchStats) -> None:
        if progress is not None:
            progress(FetchEvent(cfg.name, cfg.provider, stats.pages, stats.records, stats.retries))

    fetched_at = _iso(datetime.now(UTC).replace(microsecond=0))
    client = ProviderClient(
        source=cfg.name,
        provider=cfg.provider,
        base_url=cfg.base_url,
        headers=module.auth_headers(secret, cfg.options),
        credential_env=cfg.credential_env,
        policy=cfg.http,
        secrets=[secret],
        progress=on_progress,
        cancel=cancel,
    )
    with client:
        pages = FETCHERS[cfg.provider](client, cfg.options, period[0], period[1])
    stats = client.stats
    if cancel is not None and cancel.is_set():  # complete, but the run is over
        raise FetchCancelled(cfg.name, cancel.reason)
    documents = _write_documents(run_dir, cfg.name, client.documents)
    meta = {
        "source": cfg.name,
        "base_url": cfg.base_url,
        "fetched_at": fetched_at,
        "period": {"start": _iso(period[0]), "end": _iso(period[1])},
        "options": dict(cfg.options),
        "fetch": stats.as_dict(),
        "documents": documents,
    }
    folder = _write_snapshot(run_dir, cfg, pages, meta)
    report = FetchReport(
        cfg.name,
        cfg.provider,
        "live",
        stats.pages,
        stats.records,
        stats.retries,
        round(stats.seconds, 3),
        stats.bytes,
        len(documents),
        fetched_at,
    )
    if progress is not None:
        progress(
            FetchEvent(cfg.name, cfg.provider, stats.pages, stats.records, stats.retries, report)
        )
    return folder, report


def _page_limit(cfg: SourceConfig) -> int:
    """The largest page a snapshot of ``cfg`` may hold: what its fetch accepted."""
    return cfg.http.max_response_bytes if cfg.http is not None else MAX_PAGE_BYTES


def _exchange_entry(page: Page) -> dict[str, Any]:
    if not isinstance(page, FetchedPage) or page.exchange is None:
        raise TypeError(f"a fetcher returned a page that was not fetched: {page.location}")
    ex = page.exchange
    return {
        "body": ex.body,
        "kind": page.kind,
        "method": ex.method,
        "url": ex.path,
        "query": dict(ex.query),
        "status": ex.status,
        "headers": dict(ex.headers),
        "request_body": ex.request_body,
        "attempts": ex.attempts,
    }


def _replace_dir(tmp: Path, final: Path) -> None:
    if final.exists():
        shutil.rmtree(final)
    tmp.replace(final)


def _write_snapshot(
    run_dir: Path, cfg: SourceConfig, pages: list[Page], meta: Mapping[str, Any]
) -> Path:
    raw = run_dir / RAW
    raw.mkdir(parents=True, exist_ok=True)
    tmp = raw / f".{cfg.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        write_recording(
            tmp, cfg.provider, [_exchange_entry(p) for p in pages], meta=meta, gzip_from=GZIP_FROM
        )
        final = raw / cfg.name
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _write_documents(run_dir: Path, source: str, documents: list[Document]) -> list[dict[str, Any]]:
    """Archive source documents; entries (file relative to the run folder, SHA-256)."""
    if not documents:
        return []
    folder = run_dir / DOCUMENTS
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{source}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    entries, used = [], set()
    try:
        for doc in sorted(documents, key=lambda d: (d.name, d.ref)):
            name, stem, n = doc.name, Path(doc.name).stem, 1
            while name in used:  # two refs that sanitize to one file name
                n += 1
                name = f"{stem}-{n}{Path(doc.name).suffix}"
            used.add(name)
            (tmp / name).write_bytes(doc.data)
            entries.append(
                {
                    "file": f"{DOCUMENTS}/{source}/{name}",
                    "ref": doc.ref,
                    "media_type": doc.media_type,
                    "bytes": len(doc.data),
                    "sha256": doc.sha256,
                }
            )
        _replace_dir(tmp, folder / source)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return entries


def _carry_snapshot(replay: Path, run_dir: Path, source: str) -> None:
    """Copy a replayed source's snapshot (and documents) into the new run folder, so
    the folder holds the evidence its findings' locations (``raw/<source>/…``) name."""
    for kind in (RAW, DOCUMENTS):
        origin, target = replay / kind / source, run_dir / kind / source
        if not origin.is_dir() or (target.exists() and target.resolve() == origin.resolve()):
            continue
        partial = target.with_name(f".{source}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(origin, partial)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)


def _replay(
    cfg: SourceConfig,
    run_dir: Path,
    period: tuple[datetime, datetime] | None,
    progress: FetchProgress | None,
) -> tuple[str, list[Page], FetchReport]:
    folder = run_dir / RAW / cfg.name
    if not (folder / "manifest.json").is_file():
        raise InputDataError(
            "the run folder has no snapshot of this source (raw/"
            f"{cfg.name}/manifest.json); was it fetched live in that run?",
            source=cfg.name,
            location=str(folder),
        )
    meta = read_manifest(folder, cfg.name)
    asked = meta.get("period")
    if period is not None and isinstance(asked, dict):
        wanted = {"start": _iso(period[0]), "end": _iso(period[1])}
        if {k: asked.get(k) for k in wanted} != wanted:
            raise InputDataError(
                f"the snapshot was fetched for the period {asked.get('start')} to "
                f"{asked.get('end')}, the config's period is {wanted['start']} to "
                f"{wanted['end']}",
                source=cfg.name,
                location=str(folder / "manifest.json"),
            )
    provider, pages = read_recording(folder, cfg.name, run_dir, _page_limit(cfg))
    fetch = meta.get("fetch")
    fetch = fetch if isinstance(fetch, dict) else {}
    docs = meta.get("documents")
    docs = docs if isinstance(docs, list) else []

    def count(key: str) -> int:
        value = fetch.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    report = FetchReport(
        cfg.name,
        str(provider),
        "replay",
        len(pages),
        count("records"),
        count("retries"),
        float(fetch.get("seconds") or 0.0),
        count("bytes"),
        len(docs),
        meta.get("fetched_at"),
    )
    if progress is not None:
        progress(
            FetchEvent(cfg.name, cfg.provider, len(pages), report.records, report.retries, report)
        )
    return str(provider), pages, report
