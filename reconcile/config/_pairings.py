"""A pairing: two sides, their keys, filters, normalization, tolerance."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from reconcile import yamlio
from reconcile.errors import ConfigError, RuleError
from reconcile.matching import CARDINALITIES, KeyNormalization, Pairing, Side
from reconcile.schema import INVOICE_SCHEMA
from reconcile.sql import compile_row_expression

if TYPE_CHECKING:
    pass

from reconcile.config._reader import Reader


def read_pairing(r: Reader, node: Any, sources: set[str], parent: Any, index: int) -> Pairing:
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


def _normalization(r: Reader, name: str, node: Any, parent: Any) -> KeyNormalization:
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


def _sql(r: Reader, name: str, node: Mapping[str, Any], key: str, *, boolean: bool) -> pl.Expr:
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


def _key_expression(r: Reader, name: str, node: Mapping[str, Any]) -> pl.Expr:
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
