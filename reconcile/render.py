"""The single door to Jinja: autoescaped HTML, strict undefined, Markdown-safe cells."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-!|~])")


def md_cell(value: Any) -> str:
    """Escape a value for a GitHub-flavoured Markdown table cell (``|``, ``*``, ``<`` ...)."""
    if value is None:
        return ""
    text = " ".join(str(value).split())  # no newlines inside a table row
    return _MD_SPECIAL.sub(r"\\\1", text)


def default_templates_dir() -> Path:
    from reconcile.resources import packaged_path

    return packaged_path("reports")


def environment(templates: Path | None = None) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates or default_templates_dir())),
        # report.html.j2 ends in "j2": list both so HTML is always escaped.
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "htm")),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = md_cell
    return env


def render(name: str, model: dict[str, Any], templates: Path | None = None) -> str:
    return environment(templates).get_template(name).render(**model)
