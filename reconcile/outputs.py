"""Writing a run's outputs: findings (JSON, CSV, Parquet), reports, summary.

All files are first written under temporary names and renamed into place at
the end, so a failed run never leaves a half-written report that looks complete.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from reconcile import render, report

FILES = {
    "json": "findings.json",
    "csv": "findings.csv",
    "parquet": "findings.parquet",
    "html": "report.html",
    "md": "report.md",
}


def _json_findings(findings: pl.DataFrame) -> str:
    return json.dumps(findings.to_dicts(), indent=2, ensure_ascii=False) + "\n"


def write_all(out_dir: Path, findings: pl.DataFrame, model: dict[str, Any],
              outputs: tuple[str, ...], templates: Path | None) -> list[Path]:
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
            findings.write_parquet(stage(FILES["parquet"]), statistics=False)
        if "html" in outputs:
            stage(FILES["html"]).write_text(render.render("report.html.j2", model, templates),
                                            encoding="utf-8")
        if "md" in outputs:
            stage(FILES["md"]).write_text(render.render("report.md.j2", model, templates),
                                          encoding="utf-8")
        stage("summary.json").write_text(
            json.dumps(report.summary_json(model), indent=2, ensure_ascii=False) + "\n",
            encoding="utf-8")
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, final in staged:
        tmp.replace(final)
    return [final for _, final in staged]
