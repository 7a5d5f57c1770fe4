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

A provider source either replays a ``recording:`` folder or fetches live::

    stripe:
      provider: stripe
      credential_env: STRIPE_API_KEY     # the variable's *name*; its value is never read here
      base_url: https://api.stripe.com   # optional where the provider has a public default
      options: {api_version: 2025-03-31.basil}
      http: {read_timeout: 30, max_attempts: 6, concurrency: 4, rate_per_second: 20}

``options`` are checked against the provider's ``OPTIONS`` and ``http`` against
``HttpPolicy``. ``base_url`` must be https (plain http only for a loopback test
server) and carry no user, password, query or fragment: credentials come from
the environment only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import polars as pl

from reconcile import yamlio
from reconcile.errors import ConfigError, RuleError
from reconcile.matching import CARDINALITIES, KeyNormalization, Pairing, Side
from reconcile.money import DEFAULT_ROUNDING, PLAIN, ROUNDING_MODES, NumberFormat
from reconcile.schema import INVOICE_SCHEMA, LINE_SCHEMA
from reconcile.sql import compile_row_expression

if TYPE_CHECKING:
    from reconcile.providers._http import HttpPolicy

PROVIDERS = ("f5xc", "amberflo", "commet", "frontier", "stripe")
#: the dates a period may start and end at, inclusive (naive, read as the date's own zone)
PERIOD_BOUNDS = (dt.datetime(1970, 1, 2), dt.datetime(2200, 1, 1))
PERIOD_FIELDS = ("period_start", "period_end", "issued_at", "due_at", "none")
OUTPUTS = ("html", "md", "json", "csv", "parquet")


@dataclass(frozen=True)
class FileSpec:
    path: Path
    format: str
    columns: Mapping[str, Any]
    amounts: str = "major"  # "major": decimal strings in major units; "minor": integers
    #: how the file writes numbers as text (money.NumberFormat; default: plain)
    numbers: NumberFormat = PLAIN
    #: the file's text encoding (default UTF-8; anything else must be named)
    encoding: str = "utf-8"


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
    #: live fetching (instead of ``recording``): where, which credential, how
    base_url: str | None = None
    credential_env: str | None = None
    http: HttpPolicy | None = None
    #: how this source's amounts finer than the minor unit become minor units
    #: (money.ROUNDING_MODES): half_up (default) or half_even
    rounding: str = DEFAULT_ROUNDING

    @property
    def live(self) -> bool:
        """Fetched over HTTP (``credential_env``), not replayed from ``recording``."""
        return self.credential_env is not None


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

    def mapping(
        self, node: Any, what: str, allowed: set[str], parent: Any = None, key: Any = None
    ) -> Mapping[str, Any]:
        if not isinstance(node, Mapping):
            raise self.error(f"{what} must be a mapping", parent, key)
        extra = yamlio.unknown_keys(node, allowed)
        if extra:
            raise self.error(
                f"unknown key(s) in {what}: {', '.join(extra)} "
                f"(allowed: {', '.join(sorted(allowed))})",
                node,
                extra[0],
            )
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
            raise r.error(
                f"period {key} must be a date like 2026-10-01 (got {value!r})", node, key
            ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    if not PERIOD_BOUNDS[0] <= moment.replace(tzinfo=None) <= PERIOD_BOUNDS[1]:
        raise r.error(
            f"period {key} {value} is outside {PERIOD_BOUNDS[0]:%Y-%m-%d} .. "
            f"{PERIOD_BOUNDS[1]:%Y-%m-%d} (the range every provider's dates can "
            "express: Unix seconds from 1970)",
            node,
            key,
        )
    return moment.astimezone(dt.UTC)


def load_config(path: Path) -> Config:
    r = _Reader(path)
    try:
        doc = yamlio.load(path)
    except yamlio.YamlSyntaxError as exc:
        raise ConfigError(str(exc), path=path, line=exc.line) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", path=path) from None
    top = r.mapping(
        doc,
        "the config",
        {"name", "period", "sources", "pairings", "rules", "templates", "outputs"},
    )
    period = r.mapping(top.get("period"), "'period'", {"start", "end"}, top, "period")
    start, end = _date(r, period, "start"), _date(r, period, "end")
    if not start < end:
        raise r.error("period start must be before period end", period, "start")
    raw_sources = r.mapping(
        top.get("sources"), "'sources'", set(top.get("sources") or {}), top, "sources"
    )
    if not raw_sources:
        raise r.error("at least one source is required", top, "sources")
    sources = tuple(_source(r, str(name), raw_sources[name], raw_sources) for name in raw_sources)
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
    raw_outputs = top.get("outputs") or list(OUTPUTS)
    if not isinstance(raw_outputs, list):
        raise r.error(
            f"'outputs' must be a list such as [{', '.join(OUTPUTS)}] (got {raw_outputs!r})",
            top,
            "outputs",
        )
    outputs = tuple(str(o) for o in raw_outputs)
    bad = [o for o in outputs if o not in OUTPUTS]
    if bad:
        raise r.error(
            f"unknown output(s) {', '.join(bad)} (allowed: {', '.join(OUTPUTS)})", top, "outputs"
        )
    return Config(
        path,
        str(top.get("name") or path.stem),
        start,
        end,
        sources,
        pairings,
        rule_paths,
        templates,
        outputs,
    )


_LIVE_KEYS = ("base_url", "credential_env", "http")
_PROVIDER_KEYS = {"provider", "recording", "options", "period_field", "rounding", *_LIVE_KEYS}
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
}
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
#: a live source's name names its snapshot folder (raw/<name>/)
_FOLDER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def _source(r: _Reader, name: str, node: Any, parent: Any) -> SourceConfig:
    source = _source_settings(r, name, node, parent)
    rounding = node.get("rounding", DEFAULT_ROUNDING)
    if rounding not in ROUNDING_MODES:
        raise r.error(
            f"source {name!r}: rounding must be one of {', '.join(ROUNDING_MODES)} "
            f"(got {rounding!r})",
            node,
            "rounding",
        )
    return dataclasses.replace(source, rounding=str(rounding))


def _source_settings(r: _Reader, name: str, node: Any, parent: Any) -> SourceConfig:
    if not isinstance(node, Mapping):
        raise r.error(f"source {name!r} must be a mapping", parent, name)
    provider = node.get("provider")
    if provider == "file":
        r.mapping(node, f"source {name!r}", _FILE_KEYS)
        invoices = _file_spec(r, node, name, INVOICE_SCHEMA, "invoice")
        lines = None
        if "lines" in node:
            lnode = r.mapping(
                node["lines"],
                f"source {name!r} lines",
                {"path", "format", "amounts", "columns", "number_format", "encoding"},
                node,
                "lines",
            )
            lines = _file_spec(r, lnode, name, LINE_SCHEMA, "line", invoices)
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
    plain_options = _dates_as_text(module, yamlio.plain(options))
    for key, message in _option_errors(module, plain_options, live):
        raise r.error(
            f"source {name!r}: {message}", options if key else node, key if key else "options"
        )
    line = yamlio.line_of(parent, name)
    if not live:
        return SourceConfig(
            name,
            str(provider),
            _period_field(r, node, "period_start"),
            r.rel(node["recording"], node, "recording"),
            options=plain_options,
            line=line,
        )
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
    base_url = node.get("base_url", module.base_url(plain_options))
    if base_url is None:
        raise r.error(
            f"source {name!r}: 'base_url' is required: provider {provider} has no "
            "public default address",
            node,
        )
    return SourceConfig(
        name,
        str(provider),
        _period_field(r, node, "period_start"),
        options=plain_options,
        line=line,
        base_url=_base_url(r, base_url, node),
        credential_env=env,
        http=_http_policy(r, node.get("http"), node),
    )


def _dates_as_text(module: Any, options: dict[str, Any]) -> dict[str, Any]:
    """YAML reads an unquoted ``2026-07-31`` as a date; a text option means the text."""
    return {
        k: v.isoformat()
        if isinstance(v, dt.date) and getattr(module.OPTIONS.get(k), "kind", None) is str
        else v
        for k, v in options.items()
    }


def _option_errors(
    module: Any, options: Mapping[str, Any], live: bool
) -> list[tuple[str | None, str]]:
    from reconcile.providers._base import option_errors

    return option_errors(module.OPTIONS, options, live=live)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _base_url(r: _Reader, value: Any, node: Mapping[str, Any]) -> str:
    if not isinstance(value, str) or not value:
        raise r.error("'base_url' must be a URL like https://api.example.com", node, "base_url")
    try:
        url = urlsplit(value)
        host = url.hostname or ""
        _ = url.port  # raises on a malformed port
    except ValueError:
        raise r.error("'base_url' is not a valid URL", node, "base_url") from None
    if url.username is not None or url.password is not None:
        raise r.error(
            "'base_url' must not carry a user or password: the credential comes from "
            "the environment variable named by credential_env",
            node,
            "base_url",
        )
    if url.query or url.fragment:
        raise r.error("'base_url' must not have a query or fragment", node, "base_url")
    if not host or url.scheme not in {"http", "https"}:
        raise r.error(f"'base_url' must be an https URL (got {value!r})", node, "base_url")
    if url.scheme == "http" and not _is_loopback(host):
        raise r.error(
            "'base_url' must be https: plain http is allowed only for a local test "
            "server (localhost, 127.0.0.1, ::1)",
            node,
            "base_url",
        )
    return value.rstrip("/")


_POLICY_FIELDS = {
    "connect_timeout": "seconds",
    "read_timeout": "seconds",
    "max_seconds": "seconds",
    "max_attempts": "count",
    "concurrency": "count",
    "rate_per_second": "rate",
    "max_response_bytes": "bytes",
}
#: bounds of http.max_response_bytes: 1 KiB to 64 GiB
_BYTES = (1 << 10, 1 << 36)


def _http_policy(r: _Reader, node: Any, parent: Mapping[str, Any]) -> HttpPolicy:
    from reconcile.providers._http import HttpPolicy

    if node is None:
        return HttpPolicy()
    http = r.mapping(node, "'http'", set(_POLICY_FIELDS), parent, "http")
    values: dict[str, Any] = {}
    for key, value in http.items():
        what = _POLICY_FIELDS[key]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        whole = isinstance(value, int) and not isinstance(value, bool)
        if what == "count":
            ok = whole and 1 <= value <= 100
            need = "a whole number from 1 to 100"
        elif what == "bytes":
            ok = whole and _BYTES[0] <= value <= _BYTES[1]
            need = f"a whole number of bytes from {_BYTES[0]} to {_BYTES[1]}"
        elif what == "rate":
            ok = value is None or (number and value > 0)
            need = "a positive number of requests per second (or null: no limit)"
        else:
            ok = number and value > 0
            need = "a positive number of seconds"
        if not ok:
            raise r.error(f"http.{key} must be {need} (got {value!r})", http, key)
        values[key] = float(value) if what in ("seconds", "rate") and value is not None else value
    return HttpPolicy(**values)


def _period_field(r: _Reader, node: Mapping[str, Any], default: str) -> str:
    value = node.get("period_field", default)
    if value not in PERIOD_FIELDS:
        raise r.error(
            f"period_field must be one of {', '.join(PERIOD_FIELDS)}", node, "period_field"
        )
    return str(value)


_NUMBER_KEYS = {"decimal", "group", "parentheses", "exponent"}


def _number_format(r: _Reader, node: Mapping[str, Any], inherited: NumberFormat) -> NumberFormat:
    """``number_format: {decimal: ",", group: ".", parentheses: true, exponent: true}``."""
    if "number_format" not in node:
        return inherited
    spec = r.mapping(node["number_format"], "'number_format'", _NUMBER_KEYS, node, "number_format")
    decimal, group = spec.get("decimal", "."), spec.get("group")
    if decimal not in (".", ","):
        raise r.error("number_format.decimal must be '.' or ','", spec, "decimal")
    if group not in (None, ",", ".", " ", "'", "_") or group == decimal:
        raise r.error(
            "number_format.group must be one of , . ' _ or a space, and not the decimal mark",
            spec,
            "group",
        )
    for flag in ("parentheses", "exponent"):
        if not isinstance(spec.get(flag, False), bool):
            raise r.error(f"number_format.{flag} must be true or false", spec, flag)
    return NumberFormat(
        decimal, group, bool(spec.get("parentheses", False)), bool(spec.get("exponent", False))
    )


def _encoding(r: _Reader, node: Mapping[str, Any], inherited: str) -> str:
    import codecs

    value = node.get("encoding", inherited)
    try:
        return codecs.lookup(str(value)).name
    except LookupError:
        raise r.error(
            f"unknown encoding {value!r} (e.g. utf-8, latin-1, cp1252, utf-16)", node, "encoding"
        ) from None


def _file_spec(
    r: _Reader,
    node: Mapping[str, Any],
    name: str,
    schema: Mapping[str, Any],
    what: str,
    parent: FileSpec | None = None,
) -> FileSpec:
    path = r.rel(node.get("path"), node, "path")
    fmt = node.get("format") or path.suffix.lstrip(".").lower()
    if fmt not in {"csv", "parquet", "json"}:
        raise r.error(
            f"source {name!r}: format must be csv, parquet or json (got {fmt!r})", node, "format"
        )
    amounts = node.get("amounts", "major")
    if amounts not in {"major", "minor"}:
        raise r.error(
            "'amounts' must be 'major' (decimal strings) or 'minor' (integers)", node, "amounts"
        )
    columns = node.get("columns")
    if not isinstance(columns, Mapping) or not columns:
        raise r.error(
            f"source {name!r}: 'columns' maps canonical {what} columns to columns of the file",
            node,
            "columns",
        )
    needed = {"invoice_id", "currency"} if what == "invoice" else {"invoice_id"}
    missing = sorted(needed - set(columns))
    if missing:
        raise r.error(f"source {name!r}: 'columns' must map {', '.join(missing)}", node, "columns")
    for canon, spec in columns.items():
        if canon not in schema or canon in {"source", "record_ref"}:
            raise r.error(
                f"unknown canonical {what} column {canon!r} (allowed: "
                f"{', '.join(c for c in schema if c not in {'source', 'record_ref'})})",
                columns,
                canon,
            )
        if not (isinstance(spec, str) or (isinstance(spec, Mapping) and set(spec) == {"value"})):
            raise r.error(
                f"column {canon!r}: give a file column name or {{value: constant}}", columns, canon
            )
    numbers = _number_format(r, node, parent.numbers if parent else PLAIN)
    encoding = _encoding(r, node, parent.encoding if parent else "utf-8")
    return FileSpec(path, fmt, yamlio.plain(columns), amounts, numbers, encoding)


def _pairing(r: _Reader, node: Any, sources: set[str], parent: Any, index: int) -> Pairing:
    from reconcile.ruleset import Where, parse_tolerance

    p = r.mapping(
        node,
        "a pairing",
        {"name", "left", "right", "normalize", "cardinality", "tolerance"},
        parent,
        index,
    )
    name = p.get("name")
    if not isinstance(name, str) or not name:
        raise r.error("a pairing needs a 'name'", p)

    def side(key: str) -> Side:
        s = r.mapping(
            p.get(key), f"pairing {name!r} {key}", {"source", "key", "filter", "normalize"}, p, key
        )
        if s.get("source") not in sources:
            raise r.error(
                f"pairing {name!r}: {key} source {s.get('source')!r} is not a configured source",
                s,
                "source",
            )
        filt = None
        if "filter" in s:
            filt = _sql(r, name, s, "filter", boolean=True)
        own = _normalization(r, name, s["normalize"], s) if "normalize" in s else None
        raw = s.get("key", "invoice_id")
        if isinstance(raw, str) and raw not in INVOICE_SCHEMA:  # a SQL expression
            expr = _key_expression(r, name, s)
            return Side(str(s["source"]), raw.strip(), filt, s.get("filter"), expr, own)
        cols = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else None
        if not cols:
            raise r.error(
                f"pairing {name!r}: key must be a column, a list of columns or a SQL expression",
                s,
                "key",
            )
        for col in cols:
            if INVOICE_SCHEMA.get(col) is None:
                raise r.error(
                    f"pairing {name!r}: key {col!r} is not a canonical invoice column", s, "key"
                )
        key_cols: str | tuple[str, ...] = str(cols[0]) if len(cols) == 1 else tuple(cols)
        return Side(str(s["source"]), key_cols, filt, s.get("filter"), None, own)

    norm = _normalization(r, name, p.get("normalize") or {}, p)
    cardinality = str(p.get("cardinality", "1:1")).upper().replace("N", "N")
    cardinality = cardinality.replace("n", "N")
    if cardinality not in CARDINALITIES:
        raise r.error(
            f"pairing {name!r}: cardinality must be one of "
            f"{', '.join(CARDINALITIES)} (got {p.get('cardinality')!r})",
            p,
            "cardinality",
        )
    tolerance = None
    if "tolerance" in p:
        tolerance = parse_tolerance(
            p["tolerance"],
            Where(r.path, yamlio.line_of(p, "tolerance"), None),
            yamlio.line_of(p, "tolerance"),
        )
    return Pairing(name, side("left"), side("right"), norm, cardinality, tolerance)


def _normalization(r: _Reader, name: str, node: Any, parent: Any) -> KeyNormalization:
    norm = r.mapping(
        node,
        f"pairing {name!r} normalize",
        {"trim", "case", "strip_prefix", "strip_suffix"},
        parent,
        "normalize",
    )
    if norm.get("case") not in {None, "upper", "lower"}:
        raise r.error("normalize.case must be upper or lower", norm, "case")
    return KeyNormalization(
        bool(norm.get("trim", True)),
        norm.get("case"),
        norm.get("strip_prefix"),
        norm.get("strip_suffix"),
    )


def _sql(r: _Reader, name: str, node: Mapping[str, Any], key: str, *, boolean: bool) -> pl.Expr:
    """A pairing side's SQL (``filter``, ``key``), compiled and column-checked like a rule's;
    an error names the file, the line and the pairing."""
    from reconcile.ruleset import Where

    try:
        return compile_row_expression(
            node[key],
            Where(r.path, yamlio.line_of(node, key), None),
            key,
            schema=INVOICE_SCHEMA,
            boolean=boolean,
        )
    except RuleError as exc:
        raise ConfigError(f"pairing {name!r}: {exc.message}", path=r.path, line=exc.line) from None


#: ``$1`` / ``${1}`` in a replacement: Polars SQL (like PostgreSQL) writes ``\1``
_DOLLAR_GROUP = re.compile(r"\$\{?\d")


def _key_expression(r: _Reader, name: str, node: Mapping[str, Any]) -> pl.Expr:
    """A side's ``key`` given as a SQL expression over canonical columns (a ledger's own
    way of writing an id): compiled with ``pl.sql_expr``, checked to give text."""
    text = str(node["key"])
    if _DOLLAR_GROUP.search(text):
        raise r.error(
            f"pairing {name!r}: key {text!r}: write a capture group in a "
            "regexp_replace replacement as \\1, not $1 or ${1} (Polars SQL follows "
            "PostgreSQL)",
            node,
            "key",
        )
    expr = _sql(r, name, node, "key", boolean=False)
    dtype = pl.LazyFrame(schema=dict(INVOICE_SCHEMA)).select(expr).collect_schema().dtypes()[0]
    if dtype != pl.String():
        raise r.error(
            f"pairing {name!r}: key {text!r} must give text (it gives {dtype}); "
            "cast it, e.g. CAST(... AS VARCHAR)",
            node,
            "key",
        )
    return expr
