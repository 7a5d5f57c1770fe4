"""Invoice records from a recording folder, and the bundled sample month's."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

from ._exact_json import loads


def _recorded_pages(folder: Path) -> tuple[str, list[tuple[dict[str, Any], Any]]]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    pages = []
    for entry in manifest["pages"]:
        raw = (folder / entry["file"]).read_bytes()
        if entry["file"].endswith(".gz"):
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8-sig").strip()
        pages.append((entry, loads(text) if text else None))
    return str(manifest["provider"]), pages


def records_from_recording(folder: Path) -> tuple[str, list[dict[str, Any]], dict[str, Any]]:
    """``(provider, records, server options)`` from a recording folder.

    The records are the invoices as the provider holds them: Commet list items
    completed by their ``GET /invoices/{id}`` pages, Stripe invoices with the
    line items of their ``/lines`` pages; so a server built from them serves the
    same invoices the recording holds, in the same order.
    """
    provider, pages = _recorded_pages(folder)
    records: list[dict[str, Any]] = []
    options: dict[str, Any] = {}
    if provider == "f5xc":
        for entry, body in pages:
            records += body["invoices"]
            found = re.search(r"/namespaces/([^/]+)/", entry["url"])
            if found:
                options["namespace"] = found.group(1)
    elif provider == "amberflo":
        options["customers"] = []
        for entry, body in pages:
            options["customers"].append(entry["query"]["customerId"])
            records += body or []
    elif provider == "commet":
        listed, details = [], {}
        for entry, body in pages:
            if entry.get("kind") == "detail":
                invoice = body["data"] if body.get("success") is True else body
                details[invoice["id"]] = invoice
                continue
            listed += body["data"]
            if body.get("success") is True:
                options["api_version"] = "2026-07-11"
        records = [details.get(item["id"]) or item for item in listed]
        if "api_version" not in options:
            options["api_version"] = "2026-07-31" if details else "2026-07-24"
    elif provider == "frontier":
        for entry, body in pages:
            records += body["invoices"]
            options["api"] = "connect" if entry.get("method") == "POST" else "rest"
    elif provider == "stripe":
        by_id: dict[str, dict[str, Any]] = {}
        for entry, body in pages:
            if entry.get("kind") == "lines":
                invoice_id = re.search(r"/invoices/([^/]+)/lines", entry["url"])
                if invoice_id and invoice_id.group(1) in by_id:
                    lines = by_id[invoice_id.group(1)]["lines"]
                    known = {line["id"] for line in lines["data"]}
                    lines["data"] += [line for line in body["data"] if line["id"] not in known]
                    lines["has_more"] = False
                continue
            for invoice in body["data"]:
                by_id[invoice["id"]] = invoice
                records.append(invoice)
    else:  # pragma: no cover - the manifest names a provider reconcile does not know
        raise ValueError(f"{folder}: unknown provider {provider!r}")
    return provider, records, options


def _sample_dir() -> Path:
    from reconcile.resources import packaged_path

    return packaged_path("sample_data")


def sample_records(provider: str) -> list[dict[str, Any]]:
    """The invoices of the bundled sample month (October 2026) in ``provider``'s wire format."""
    return records_from_recording(_sample_dir() / "recordings" / provider)[1]


def sample_options(provider: str) -> dict[str, Any]:
    """Server options that reproduce the sample month's recording (customers, version...)."""
    return records_from_recording(_sample_dir() / "recordings" / provider)[2]
