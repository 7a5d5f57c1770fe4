"""One source of the config: a file, a recording, or live settings."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from reconcile import yamlio
from reconcile.config._files import read_file_spec
from reconcile.config._live import dates_as_text, option_errors, read_base_url, read_http_policy
from reconcile.config._model import PERIOD_FIELDS, PROVIDERS, ROLES, SourceConfig
from reconcile.config._reader import Reader
from reconcile.money import DEFAULT_ROUNDING, ROUNDING_MODES
from reconcile.schema import INVOICE_SCHEMA, LINE_SCHEMA

_LIVE_KEYS = ("base_url", "credential_env", "http")
_PROVIDER_KEYS = {
    "provider",
    "recording",
    "options",
    "period_field",
    "rounding",
    "role",
    *_LIVE_KEYS,
}
_FILE_KEYS = {
    "provider",
    "path",
    "format",
    "amounts",
    "columns",
    "lines",
    "period_field",
    "options",
    "rounding",
    "number_format",
    "encoding",
    "role",
}
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
#: a live source's name names its snapshot folder (raw/<name>/)
_FOLDER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def read_source(r: Reader, name: str, node: Any, parent: Any) -> SourceConfig:
    source = _source_settings(r, name, node, parent)
    rounding = node.get("rounding", DEFAULT_ROUNDING)
    if rounding not in ROUNDING_MODES:
        raise r.error(
            f"source {name!r}: rounding must be one of {', '.join(ROUNDING_MODES)} "
            f"(got {rounding!r})",
            node,
            "rounding",
        )
    role = node.get("role", "ledger" if source.provider == "file" else "billing")
    if role not in ROLES:
        raise r.error(
            f"source {name!r}: role must be one of {', '.join(ROLES)} (got {role!r})", node, "role"
        )
    return dataclasses.replace(source, rounding=str(rounding), role=str(role))


def _source_settings(r: Reader, name: str, node: Any, parent: Any) -> SourceConfig:
    if not isinstance(node, Mapping):
        raise r.error(f"source {name!r} must be a mapping", parent, name)
    provider = node.get("provider")
    if provider == "file":
        return _file_source(r, name, node, parent)
    if provider not in PROVIDERS:
        raise r.error(
            f"source {name!r}: provider must be one of {', '.join(PROVIDERS)} or "
            f"'file' (got {provider!r})",
            node,
            "provider",
        )
    r.mapping(node, f"source {name!r}", _PROVIDER_KEYS)
    live_keys = [k for k in _LIVE_KEYS if k in node]
    if "recording" in node and live_keys:
        raise r.error(
            f"source {name!r}: give either 'recording:' (replay recorded pages) or "
            f"live settings ({', '.join(live_keys)}), not both",
            node,
            live_keys[0],
        )
    live = "recording" not in node
    if live and "credential_env" not in node:
        raise r.error(
            f"source {name!r}: give 'recording:' (a folder of recorded API pages) or "
            "'credential_env:' (the environment variable holding the credential, to "
            "fetch live)",
            node,
            live_keys[0] if live_keys else None,
        )
    options = node.get("options") or {}
    if not isinstance(options, Mapping):
        raise r.error("'options' must be a mapping", node, "options")
    from reconcile.providers.registry import MODULES

    module = MODULES[str(provider)]
    plain_options = dates_as_text(module, yamlio.plain(options))
    for key, message in option_errors(module, plain_options, live):
        raise r.error(
            f"source {name!r}: {message}", options if key else node, key if key else "options"
        )
    if live:
        return _live_source(r, name, node, parent, module, plain_options)
    return SourceConfig(
        name,
        str(provider),
        _period_field(r, node, "period_start"),
        r.rel(node["recording"], node, "recording"),
        options=plain_options,
        line=yamlio.line_of(parent, name),
    )


def _file_source(r: Reader, name: str, node: Mapping[str, Any], parent: Any) -> SourceConfig:
    r.mapping(node, f"source {name!r}", _FILE_KEYS)
    invoices = read_file_spec(r, node, name, INVOICE_SCHEMA, "invoice")
    lines = None
    if "lines" in node:
        lnode = r.mapping(
            node["lines"],
            f"source {name!r} lines",
            {"path", "format", "amounts", "columns", "number_format", "encoding"},
            node,
            "lines",
        )
        lines = read_file_spec(r, lnode, name, LINE_SCHEMA, "line", invoices)
    return SourceConfig(
        name,
        "file",
        _period_field(r, node, "none"),
        None,
        invoices,
        lines,
        dict(node.get("options") or {}),
        yamlio.line_of(parent, name),
    )


def _live_source(
    r: Reader,
    name: str,
    node: Mapping[str, Any],
    parent: Any,
    module: Any,
    options: dict[str, Any],
) -> SourceConfig:
    """A provider source fetched over HTTP: its name (a folder), the credential's
    variable name (never its value), the base URL and the HTTP policy."""
    if not _FOLDER_NAME.fullmatch(name):
        raise r.error(
            f"source {name!r}: a live source's name must be letters, digits, '.', '_' "
            "and '-' (it names the snapshot folder raw/<name>/)",
            parent,
            name,
        )
    env = node.get("credential_env")
    if not isinstance(env, str) or not _ENV_NAME.fullmatch(env):
        # never echo the value: it may be the secret pasted in by mistake
        raise r.error(
            f"source {name!r}: 'credential_env' must be the *name* of an environment "
            "variable (upper-case letters, digits and _), not the credential itself",
            node,
            "credential_env",
        )
    base_url = node.get("base_url", module.base_url(options))
    if base_url is None:
        raise r.error(
            f"source {name!r}: 'base_url' is required: provider {node.get('provider')} has "
            "no public default address",
            node,
        )
    return SourceConfig(
        name,
        str(node.get("provider")),
        _period_field(r, node, "period_start"),
        options=options,
        line=yamlio.line_of(parent, name),
        base_url=read_base_url(r, base_url, node),
        credential_env=env,
        http=read_http_policy(r, node.get("http"), node),
    )


def _period_field(r: Reader, node: Mapping[str, Any], default: str) -> str:
    value = node.get("period_field", default)
    if value not in PERIOD_FIELDS:
        raise r.error(
            f"period_field must be one of {', '.join(PERIOD_FIELDS)}", node, "period_field"
        )
    return str(value)
