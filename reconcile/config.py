"""The run configuration: one YAML file naming the period, sources, pairings,
rules and templates. Paths are relative to the config file. Unknown keys are
rejected with file and line. Secrets are never in the file, only the *name* of
the environment variable that holds them.

    name: Northwind Cloud Ltd — October 2026 close
    period: {start: 2026-10-01, end: 2026-11-01}     # half-open, UTC
    sources:
      stripe: {provider: stripe, recording: recordings/stripe}
      ledger:
        provider: file
        path: ledger.csv
        amounts: major                                # decimal strings in major units
        columns: {invoice_id: entry_id, external_ref: reference, currency: currency,
                  total_minor: amount, issued_at: posted_on}
    pairings:
      - name: stripe-ledger
        left: {source: stripe, key: invoice_id}
        right: {source: ledger, key: external_ref, filter: "origin_system = 'stripe'"}
    rules: [rules/]            # default: the rules shipped with reconcile
    templates: reports/        # default: the templates shipped with reconcile
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconcile import yamlio
from reconcile.errors import ConfigError, RuleError
from reconcile.matching import KeyNormalization, Pairing, Side
from reconcile.schema import INVOICE_SCHEMA, LINE_SCHEMA

PROVIDERS = ("f5xc", "amberflo", "commet", "frontier", "stripe")
PERIOD_FIELDS = ("period_start", "period_end", "issued_at", "due_at", "none")
OUTPUTS = ("html", "md", "json", "csv", "parquet")


@dataclass(frozen=True)
class FileSpec:
    path: Path
    format: str
    columns: Mapping[str, Any]
    amounts: str = "major"  # "major": decimal strings in major units; "minor": integers


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


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, message: str, node: Any = None, key: Any = None) -> ConfigError:
        return ConfigError(message, path=self.path, line=yamlio.line_of(node, key))

    def mapping(self, node: Any, what: str, allowed: set[str], parent: Any = None,
                key: Any = None) -> Mapping[str, Any]:
        if not isinstance(node, Mapping):
            raise self.error(f"{what} must be a mapping", parent, key)
        extra = yamlio.unknown_keys(node, allowed)
        if extra:
            raise self.error(f"unknown key(s) in {what}: {', '.join(extra)} "
                             f"(allowed: {', '.join(sorted(allowed))})", node, extra[0])
        return node

    def rel(self, value: Any, node: Any, key: str) -> Path:
        if not isinstance(value, str) or not value:
            raise self.error(f"{key!r} must be a path", node, key)
        path = Path(value)
        return path if path.is_absolute() else (self.path.parent / path)


def _date(r: _Reader, node: Mapping[str, Any], key: str) -> dt.datetime:
    value = node.get(key)
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise r.error(f"period {key} must be a date like 2026-10-01 (got {value!r})",
                          node, key) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def load_config(path: Path) -> Config:
    r = _Reader(path)
    try:
        doc = yamlio.load(path)
    except yamlio.YamlSyntaxError as exc:
        raise ConfigError(str(exc), path=path, line=exc.line) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", path=path) from None
    top = r.mapping(doc, "the config", {"name", "period", "sources", "pairings", "rules",
                                        "templates", "outputs"})
    period = r.mapping(top.get("period"), "'period'", {"start", "end"}, top, "period")
    start, end = _date(r, period, "start"), _date(r, period, "end")
    if not start < end:
        raise r.error("period start must be before period end", period, "start")
    raw_sources = r.mapping(top.get("sources"), "'sources'", set(top.get("sources") or {}),
                            top, "sources")
    if not raw_sources:
        raise r.error("at least one source is required", top, "sources")
    sources = tuple(_source(r, str(name), raw_sources[name], raw_sources)
                    for name in raw_sources)
    names = {s.name for s in sources}
    raw_pairings = top.get("pairings") or []
    if not isinstance(raw_pairings, list):
        raise r.error("'pairings' must be a list", top, "pairings")
    pairings = tuple(_pairing(r, p, names, raw_pairings, i) for i, p in enumerate(raw_pairings))
    seen: set[str] = set()
    for p in pairings:
        if p.name in seen:
            raise r.error(f"duplicate pairing name {p.name!r}", top, "pairings")
        seen.add(p.name)
    rules = top.get("rules")
    rule_paths = None
    if rules is not None:
        items = rules if isinstance(rules, list) else [rules]
        rule_paths = tuple(r.rel(v, top, "rules") for v in items)
    templates = r.rel(top["templates"], top, "templates") if "templates" in top else None
    outputs = tuple(top.get("outputs") or OUTPUTS)
    bad = [o for o in outputs if o not in OUTPUTS]
    if bad:
        raise r.error(f"unknown output(s) {', '.join(bad)} (allowed: {', '.join(OUTPUTS)})",
                      top, "outputs")
    return Config(path, str(top.get("name") or path.stem), start, end, sources, pairings,
                  rule_paths, templates, outputs)


_PROVIDER_KEYS = {"provider", "recording", "options", "period_field", "base_url",
                  "credential_env"}
_FILE_KEYS = {"provider", "path", "format", "amounts", "columns", "lines", "period_field",
              "options"}


def _source(r: _Reader, name: str, node: Any, parent: Any) -> SourceConfig:
    if not isinstance(node, Mapping):
        raise r.error(f"source {name!r} must be a mapping", parent, name)
    provider = node.get("provider")
    if provider == "file":
        r.mapping(node, f"source {name!r}", _FILE_KEYS)
        invoices = _file_spec(r, node, name, INVOICE_SCHEMA, "invoice")
        lines = None
        if "lines" in node:
            lnode = r.mapping(node["lines"], f"source {name!r} lines",
                              {"path", "format", "amounts", "columns"}, node, "lines")
            lines = _file_spec(r, lnode, name, LINE_SCHEMA, "line")
        return SourceConfig(name, "file", _period_field(r, node, "none"), None, invoices,
                            lines, dict(node.get("options") or {}), yamlio.line_of(parent, name))
    if provider not in PROVIDERS:
        raise r.error(f"source {name!r}: provider must be one of {', '.join(PROVIDERS)} or "
                      f"'file' (got {provider!r})", node, "provider")
    r.mapping(node, f"source {name!r}", _PROVIDER_KEYS)
    if "base_url" in node or "credential_env" in node:
        raise r.error(f"source {name!r}: live fetching (base_url, credential_env) is not "
                      "available in this version; use 'recording:'", node, "base_url")
    if "recording" not in node:
        raise r.error(f"source {name!r}: 'recording:' (a folder of recorded API pages) "
                      "is required", node)
    options = node.get("options") or {}
    if not isinstance(options, Mapping):
        raise r.error("'options' must be a mapping", node, "options")
    return SourceConfig(name, provider, _period_field(r, node, "period_start"),
                        r.rel(node["recording"], node, "recording"),
                        options=yamlio.plain(options), line=yamlio.line_of(parent, name))


def _period_field(r: _Reader, node: Mapping[str, Any], default: str) -> str:
    value = node.get("period_field", default)
    if value not in PERIOD_FIELDS:
        raise r.error(f"period_field must be one of {', '.join(PERIOD_FIELDS)}", node,
                      "period_field")
    return str(value)


def _file_spec(r: _Reader, node: Mapping[str, Any], name: str, schema: Mapping[str, Any],
               what: str) -> FileSpec:
    path = r.rel(node.get("path"), node, "path")
    fmt = node.get("format") or path.suffix.lstrip(".").lower()
    if fmt not in {"csv", "parquet", "json"}:
        raise r.error(f"source {name!r}: format must be csv, parquet or json (got {fmt!r})",
                      node, "format")
    amounts = node.get("amounts", "major")
    if amounts not in {"major", "minor"}:
        raise r.error("'amounts' must be 'major' (decimal strings) or 'minor' (integers)",
                      node, "amounts")
    columns = node.get("columns")
    if not isinstance(columns, Mapping) or not columns:
        raise r.error(f"source {name!r}: 'columns' maps canonical {what} columns to "
                      "columns of the file", node, "columns")
    needed = ({"invoice_id", "currency"} if what == "invoice" else {"invoice_id"})
    missing = sorted(needed - set(columns))
    if missing:
        raise r.error(f"source {name!r}: 'columns' must map {', '.join(missing)}", node,
                      "columns")
    for canon, spec in columns.items():
        if canon not in schema or canon in {"source", "record_ref"}:
            raise r.error(f"unknown canonical {what} column {canon!r} (allowed: "
                          f"{', '.join(c for c in schema if c not in {'source', 'record_ref'})})",
                          columns, canon)
        if not (isinstance(spec, str) or (isinstance(spec, Mapping) and set(spec) == {"value"})):
            raise r.error(f"column {canon!r}: give a file column name or {{value: constant}}",
                          columns, canon)
    return FileSpec(path, fmt, yamlio.plain(columns), amounts)


def _pairing(r: _Reader, node: Any, sources: set[str], parent: Any, index: int) -> Pairing:
    from reconcile.ruleset import Where, compile_sql

    p = r.mapping(node, "a pairing", {"name", "left", "right", "normalize"}, parent, index)
    name = p.get("name")
    if not isinstance(name, str) or not name:
        raise r.error("a pairing needs a 'name'", p)

    def side(key: str) -> Side:
        s = r.mapping(p.get(key), f"pairing {name!r} {key}", {"source", "key", "filter"}, p, key)
        if s.get("source") not in sources:
            raise r.error(f"pairing {name!r}: {key} source {s.get('source')!r} is not a "
                          "configured source", s, "source")
        col = s.get("key", "invoice_id")
        if INVOICE_SCHEMA.get(col) is None:
            raise r.error(f"pairing {name!r}: key {col!r} is not a canonical invoice column",
                          s, "key")
        filt = None
        if "filter" in s:
            try:
                filt = compile_sql(s["filter"], Where(r.path, yamlio.line_of(s, "filter"), None),
                                   "filter", boolean=True)
            except RuleError as exc:
                raise ConfigError(f"pairing {name!r}: {exc.message}", path=r.path,
                                  line=exc.line) from None
        return Side(str(s["source"]), str(col), filt, s.get("filter"))

    norm = r.mapping(p.get("normalize") or {}, f"pairing {name!r} normalize",
                     {"trim", "case", "strip_prefix"}, p, "normalize")
    if norm.get("case") not in {None, "upper", "lower"}:
        raise r.error("normalize.case must be upper or lower", norm, "case")
    return Pairing(name, side("left"), side("right"),
                   KeyNormalization(bool(norm.get("trim", True)), norm.get("case"),
                                    norm.get("strip_prefix")))
