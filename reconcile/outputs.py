"""Writing a run's outputs: findings (JSON, CSV, Parquet), reports, summary.

The ``--out`` folder is claimed before anything is read (:func:`claim`): the
templates compile, the folder can be written, no input is one of the files the run
writes, and no other run is writing there (an exclusive lock, released when the
process ends however it ends). The previous run's reports are then removed, so a
run that fails leaves no report at all rather than an older one that looks like
its result. All files are first written under temporary names and renamed into
place at the end, so a failed run never leaves a half-written report.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
from filelock import FileLock, Timeout

from reconcile import render, report
from reconcile.config import Config
from reconcile.errors import UsageError

FILES = {
    "json": "findings.json",
    "csv": "findings.csv",
    "parquet": "findings.parquet",
    "html": "report.html",
    "md": "report.md",
}
SUMMARY = "summary.json"
TEMPLATES = {"html": "report.html.j2", "md": "report.md.j2"}
LOCK = ".reconcile.lock"
#: delta_minor in findings.parquet: Parquet's DECIMAL(38, 0), which every reader knows
#: (Polars writes its Int128 as a bare 16-byte array: DuckDB reads a BLOB)
PARQUET_DELTA = pl.Decimal(38, 0)


@contextlib.contextmanager
def claim(out_dir: Path, cfg: Config) -> Iterator[None]:
    """Hold ``out_dir`` for one run (see the module docstring); a UsageError (exit 2)
    before any data is read when it cannot be had."""
    render.preflight(cfg.templates, [TEMPLATES[o] for o in cfg.outputs if o in TEMPLATES])
    written = {(out_dir / name).resolve() for name in [*FILES.values(), SUMMARY]}
    for name, path in _inputs(cfg):
        if path.resolve() in written:
            raise UsageError(
                f"--out {out_dir} would write over {name} ({path}); choose another --out folder"
            )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create the --out folder {out_dir}: {exc.strerror or exc}"
        ) from None
    lock = FileLock(out_dir / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise UsageError(
            f"another reconcile run is writing to {out_dir}; wait for it or "
            "choose another --out folder"
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot write to the --out folder {out_dir}: {exc.strerror or exc}"
        ) from None
    try:
        for stale in [
            *out_dir.glob(".*.partial-*"),
            *(out_dir / n for n in [*FILES.values(), SUMMARY]),
        ]:
            stale.unlink(missing_ok=True)
        yield
    finally:
        lock.release()


def _inputs(cfg: Config) -> Iterator[tuple[str, Path]]:
    """The files a run reads, by what they are."""
    yield "the config", cfg.path
    for source in cfg.sources:
        for spec in (source.invoices, source.lines):
            if spec is not None:
                yield f"source {source.name!r}", spec.path


def _json_findings(findings: pl.DataFrame) -> str:
    return json.dumps(findings.to_dicts(), indent=2, ensure_ascii=False) + "\n"


def write_all(
    out_dir: Path,
    findings: pl.DataFrame,
    model: dict[str, Any],
    outputs: tuple[str, ...],
    templates: Path | None,
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []

    def stage(name: str) -> Path:
        final = out_dir / name
        tmp = out_dir / f".{name}.partial-{os.getpid()}"
        staged.append((tmp, final))
        return tmp

    try:
        if "json" in outputs:
            stage(FILES["json"]).write_text(_json_findings(findings), encoding="utf-8")
        if "csv" in outputs:
            findings.write_csv(stage(FILES["csv"]))
        if "parquet" in outputs:
            findings.with_columns(pl.col("delta_minor").cast(PARQUET_DELTA)).write_parquet(
                stage(FILES["parquet"]), statistics=False
            )
        if "html" in outputs:
            stage(FILES["html"]).write_text(
                render.render("report.html.j2", model, templates), encoding="utf-8"
            )
        if "md" in outputs:
            stage(FILES["md"]).write_text(
                render.render("report.md.j2", model, templates), encoding="utf-8"
            )
        stage(SUMMARY).write_text(
            json.dumps(report.summary_json(model), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        tmp.replace(final)
    return [final for _, final in staged]
