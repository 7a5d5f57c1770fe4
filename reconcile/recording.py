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
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconcile import jsonio
from reconcile.errors import InputDataError
from reconcile.providers._base import Page

FORMAT = "reconcile-recording/1"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_recording(
    folder: Path,
    provider: str,
    pages: Sequence[dict[str, Any]],
    *,
    meta: Mapping[str, Any] | None = None,
    gzip_from: int | None = None,
) -> Path:
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
        raise InputDataError(
            "no manifest.json in the recording folder", source=source, location=str(folder)
        )
    try:
        manifest = jsonio.loads(path.read_bytes())
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        raise InputDataError(
            f"manifest is unreadable: {exc}", source=source, location=str(path)
        ) from None
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


#: the largest page a recording may hold, stored and once inflated (as a live response)
MAX_PAGE_BYTES = 256 * 1024 * 1024


def read_recording(
    folder: Path, source: str, base: Path | None = None, max_bytes: int = MAX_PAGE_BYTES
) -> tuple[str, list[Page]]:
    """Return (provider, pages) from a recording folder; locations relative to ``base``.

    Every page must be a file inside the folder (no ``..``, no absolute path, no link
    leading out of it), match its SHA-256, hold at most ``max_bytes`` (inflated too, for
    a ``.gz`` page) and have been answered with a 2xx status; the folder must hold at
    least one page. Anything else is exit 3 naming the folder or the page. The one
    exception is declared: ``"expected_empty": true`` on the manifest allows no pages,
    and on a page an error status (a provider that answers 404 for "nothing here"):
    that page is checked like any other and then holds no records."""
    manifest_path = folder / "manifest.json"
    manifest = read_manifest(folder, source)
    try:
        provider, entries = manifest["provider"], manifest["pages"]
        if manifest.get("format") != FORMAT:
            raise ValueError(f"format is {manifest.get('format')!r}, expected {FORMAT!r}")
        if not isinstance(provider, str) or not isinstance(entries, list):
            raise ValueError("'provider' must be a name and 'pages' a list")
        if not entries and manifest.get("expected_empty") is not True:
            raise ValueError(
                'no pages: a recording holds at least one answer (or says "expected_empty": true)'
            )
    except (ValueError, KeyError, TypeError) as exc:
        raise InputDataError(
            f"manifest is unreadable: {exc}", source=source, location=str(manifest_path)
        ) from None
    pages = []
    for number, entry in enumerate(entries, start=1):
        path, body = _page(folder, entry, number, source, max_bytes)
        if entry.get("expected_empty") is True:
            continue  # an answer of "nothing here", declared: no records
        endpoint = f"{entry.get('method', 'GET')} {entry.get('url', '')}"
        headers = entry.get("headers")
        pages.append(
            Page(
                body=body,
                location=shown(path, base),
                endpoint=endpoint,
                kind=str(entry.get("kind", "list")),
                headers={
                    str(k).lower(): str(v)
                    for k, v in (headers.items() if isinstance(headers, dict) else ())
                },
            )
        )
    return provider, pages


def _page(folder: Path, entry: Any, number: int, source: str, max_bytes: int) -> tuple[Path, bytes]:
    """A manifest entry's page: its path, checked to stay inside ``folder``, and its body."""
    where = str(folder / "manifest.json")
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("file"), str)
        or not isinstance(entry.get("sha256"), str)
    ):
        raise InputDataError(
            f"manifest is unreadable: page {number} needs 'file' and 'sha256'",
            source=source,
            location=where,
        )
    status = entry.get("status", 200)
    if not isinstance(status, int) or (
        not 200 <= status < 300 and entry.get("expected_empty") is not True
    ):
        raise InputDataError(
            f"page {number} was recorded with status {status}: an error answer, not data",
            source=source,
            location=where,
        )
    path = folder / entry["file"]
    inside = folder.resolve()
    if Path(entry["file"]).is_absolute() or not path.resolve().is_relative_to(inside):
        raise InputDataError(
            f"page {number} ({entry['file'][:80]!r}) is outside the recording folder",
            source=source,
            location=where,
        )
    if not path.is_file():
        raise InputDataError(
            "page listed in manifest.json is missing", source=source, location=str(path)
        )
    if path.stat().st_size > max_bytes:
        raise InputDataError(
            f"page is larger than {max_bytes} bytes", source=source, location=str(path)
        )
    stored = path.read_bytes()
    if sha256(stored) != entry["sha256"]:
        raise InputDataError(
            "page does not match its SHA-256 in manifest.json", source=source, location=str(path)
        )
    if path.suffix != ".gz":
        return path, stored
    try:
        return path, inflate(stored, max_bytes)
    except ValueError as exc:
        raise InputDataError(str(exc), source=source, location=str(path)) from None


def inflate(stored: bytes, max_bytes: int) -> bytes:
    """A gzip body, inflated to at most ``max_bytes`` (a bomb stops there), complete."""
    unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
    # a megabyte at a time into one growing buffer: one decompress() call up to the
    # bound grew its output by copies and peaked at twice the bound (522 MiB for 256)
    body, pending = bytearray(), stored
    try:
        while pending and len(body) <= max_bytes:
            body += unpacker.decompress(pending, 1 << 20)
            pending = unpacker.unconsumed_tail
        if not pending and len(body) <= max_bytes:
            body += unpacker.flush()  # (what inflate held back when the chunk was full)
    except zlib.error as exc:
        raise ValueError(f"not a gzip body: {exc}") from None
    if len(body) > max_bytes or pending:
        raise ValueError(f"inflates to more than {max_bytes} bytes")
    if not unpacker.eof:
        raise ValueError("the gzip body is truncated (it ends before its end)")
    return bytes(body)
