"""The single door to Jinja: sandboxed, autoescaped HTML, strict undefined,
Markdown-safe cells.

A config may name its own ``templates:`` folder, so templates are code from the
config's author: they render in Jinja's sandbox (no attribute starting with an
underscore, no ``str.format`` escape, ``range`` capped at 100,000 items) and are
compiled before the run starts (:func:`preflight`), so a syntax error stops the run
at once with its file and line, not after a long fetch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
    select_autoescape,
)
from jinja2.sandbox import SandboxedEnvironment

from reconcile.errors import ConfigError

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


def environment(templates: Path | None = None) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
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


def preflight(templates: Path | None, names: list[str]) -> None:
    """Compile the templates a run will render; a missing folder or file, or a syntax
    error, is a ConfigError naming the template's file and line."""
    folder = templates or default_templates_dir()
    if not folder.is_dir():
        raise ConfigError(f"the templates folder {folder} does not exist")
    env = environment(templates)
    for name in names:
        try:
            env.get_template(name)
        except TemplateNotFound:
            raise ConfigError(f"the templates folder has no {name}", path=folder) from None
        except TemplateSyntaxError as exc:
            raise ConfigError(
                f"template syntax error: {exc.message}", path=folder / name, line=exc.lineno
            ) from None


def render(name: str, model: dict[str, Any], templates: Path | None = None) -> str:
    """``name`` rendered with ``model``; an error raised in the template (an unknown
    variable, an unsafe attribute, a range too big, a division by zero) is a
    ConfigError naming the template's file and line."""
    try:
        return environment(templates).get_template(name).render(**model)
    except Exception as exc:
        line = _template_line(exc, name)
        if line is None and not isinstance(exc, TemplateError):
            raise  # not the template's doing: a bug, shown as one
        message = exc.message if isinstance(exc, TemplateError) else str(exc)
        raise ConfigError(
            f"template {type(exc).__name__}: {message or exc}",
            path=(templates or default_templates_dir()) / name,
            line=line,
        ) from None


def _template_line(exc: BaseException, name: str) -> int | None:
    """The template line a render error happened at (Jinja's rewritten traceback)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(name):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
