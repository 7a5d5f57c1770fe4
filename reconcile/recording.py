"""Recorded API pages: a folder holding response bodies exactly as received.

Layout (the same as the raw snapshot a live run writes)::

    <folder>/manifest.json
    <folder>/0001.json, 0002.json, ...        bodies, byte for byte (``.gz`` allowed)

``manifest.json``::

    {"format": "reconcile-recording/1", "provider": "stripe",
     "pages": [{"file": "0001.json", "kind": "list", "method": "GET",
                "url": "/v1/invoices", "query": {"limit": "100"}, "status": 200,
                "sha256": "<hex of the stored bytes>"}]}

Pages are replayed in manifest order; a missing file or a SHA-256 mismatch is an
input-data error (exit 3), so a tampered or truncated recording never passes as
complete.

A live run's snapshot (``<run>/raw/<source>/``, written by ``reconcile.fetching``)
extends the format compatibly; readers ignore keys they do not know:

* per page: ``headers`` (response headers worth keeping: content type, date,
  request id, rate-limit headers; never cookies or auth), ``request_body`` (the
  JSON sent with a POST), ``attempts``; a body stored gzipped (``0001.json.gz``,
  for large bodies) also has ``bytes`` and ``body_sha256`` of the body as received
  (``sha256`` is always of the stored file);
* top level: ``source``, ``base_url`` (no credentials), ``fetched_at``,
  ``period`` (``start``/``end`` the fetch asked for), ``options``, ``fetch``
  (pages, records, retries, seconds, bytes) and ``documents`` (archived source
  documents: file relative to the run folder, invoice, SHA-256).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconcile import jsonio
from reconcile.errors import InputDataError
from reconcile.providers._base import Page

FORMAT = "reconcile-recording/1"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_recording(folder: Path, provider: str, pages: Sequence[dict[str, Any]], *,
                    meta: Mapping[str, Any] | None = None, gzip_from: int | None = None) -> Path:
    """Write bodies and a manifest. Each page: body (bytes), kind, method, url, query, status,
    optionally headers, request_body (bytes), attempts. ``meta`` adds top-level keys;
    bodies of ``gzip_from`` bytes or more are stored gzipped (deterministically)."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for number, page in enumerate(pages, start=1):
        body: bytes = page["body"]
        packed = gzip_from is not None and len(body) >= gzip_from
        name = f"{number:04d}.json" + (".gz" if packed else "")
        stored = gzip.compress(body, compresslevel=6, mtime=0) if packed else body
        (folder / name).write_bytes(stored)
        entry: dict[str, Any] = {
            "file": name,
            "kind": page.get("kind", "list"),
            "method": page.get("method", "GET"),
            "url": page["url"],
            "query": page.get("query", {}),
            "status": page.get("status", 200),
            "sha256": sha256(stored),
        }
        if packed:
            entry["bytes"], entry["body_sha256"] = len(body), sha256(body)
        for key in ("headers", "attempts"):
            if key in page:
                entry[key] = page[key]
        if page.get("request_body") is not None:
            entry["request_body"] = page["request_body"].decode("utf-8", errors="replace")
        entries.append(entry)
    manifest = {"format": FORMAT, "provider": provider, "pages": entries, **(meta or {})}
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def read_manifest(folder: Path, source: str) -> dict[str, Any]:
    """The manifest of a recording or snapshot folder (its top-level keys and pages)."""
    path = folder / "manifest.json"
    if not path.is_file():
        raise InputDataError("no manifest.json in the recording folder", source=source,
                             location=str(folder))
    try:
        manifest = jsonio.loads(path.read_bytes())
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        raise InputDataError(f"manifest is unreadable: {exc}", source=source,
                             location=str(path)) from None
    return manifest


def shown(path: Path, base: Path | None) -> str:
    """A path as findings show it: relative to ``base`` (the config's folder) when inside it,
    so the same data gives the same bytes wherever it is checked out."""
    if base is not None:
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


def read_recording(folder: Path, source: str, base: Path | None = None) -> tuple[str, list[Page]]:
    """Return (provider, pages) from a recording folder; locations relative to ``base``."""
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise InputDataError("no manifest.json in the recording folder", source=source,
                             location=str(folder))
    try:
        manifest = jsonio.loads(manifest_path.read_bytes())
        provider = manifest["provider"]
        entries = manifest["pages"]
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format is {manifest.get('format')!r}, expected {FORMAT!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise InputDataError(f"manifest is unreadable: {exc}", source=source,
                             location=str(manifest_path)) from None
    pages = []
    for entry in entries:
        path = folder / entry["file"]
        if not path.is_file():
            raise InputDataError("page listed in manifest.json is missing", source=source,
                                 location=str(path))
        stored = path.read_bytes()
        if sha256(stored) != entry["sha256"]:
            raise InputDataError("page does not match its SHA-256 in manifest.json",
                                 source=source, location=str(path))
        body = gzip.decompress(stored) if path.suffix == ".gz" else stored
        endpoint = f"{entry.get('method', 'GET')} {entry.get('url', '')}"
        pages.append(Page(body=body, location=shown(path, base), endpoint=endpoint,
                          kind=entry.get("kind", "list")))
    return provider, pages
