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

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconcile import yamlio
from reconcile.config._model import (
    OUTPUTS,
    PERIOD_BOUNDS,
    PERIOD_FIELDS,
    PROVIDERS,
    Config,
    FileSpec,
    SourceConfig,
)
from reconcile.config._pairings import read_pairing
from reconcile.config._reader import Reader
from reconcile.config._sources import read_source
from reconcile.errors import ConfigError

__all__ = [
    "OUTPUTS",
    "PERIOD_BOUNDS",
    "PERIOD_FIELDS",
    "PROVIDERS",
    "Config",
    "FileSpec",
    "SourceConfig",
    "load_config",
]


def _date(r: Reader, node: Mapping[str, Any], key: str) -> dt.datetime:
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
    r = Reader(path)
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
    sources = tuple(
        read_source(r, str(name), raw_sources[name], raw_sources) for name in raw_sources
    )
    names = {s.name for s in sources}
    raw_pairings = top.get("pairings") or []
    if not isinstance(raw_pairings, list):
        raise r.error("'pairings' must be a list", top, "pairings")
    pairings = tuple(read_pairing(r, p, names, raw_pairings, i) for i, p in enumerate(raw_pairings))
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
