"""Rule files: YAML in, compiled rules out, before any data is read.

A rule file is ``{rules: [...]}``; each rule has ``id``, ``title``, ``severity``
(error/warning/info), ``type`` (one of :data:`reconcile.rule_types.RULE_TYPES`),
what it applies to (``applies_to`` for one source / provider / all sources, or
``pairings`` for cross-source types), an optional SQL ``filter``, type-specific
keys, and a ``tolerance`` in minor units (default 0; a number or
``{default: N, JPY: M}``).

Every SQL expression is compiled with ``pl.sql_expr`` (never ``eval``) and run
against an empty frame with the canonical schema, so an unknown column or a
type error fails here, with file, line and rule id, in milliseconds. Row
expressions may not contain subqueries, window functions or aggregates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from reconcile import yamlio
from reconcile.errors import RuleError
from reconcile.money import places
from reconcile.resources import packaged_path
from reconcile.schema import INVOICE_SCHEMA, LINE_SCHEMA, SEVERITIES
from reconcile.sql import compile_row_expression

if TYPE_CHECKING:
    from reconcile.rule_types import Check

COMMON_KEYS = frozenset(
    {
        "id",
        "title",
        "severity",
        "type",
        "description",
        "applies_to",
        "pairings",
        "filter",
        "tolerance",
    }
)
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Where:
    """Where a rule sits: for error messages."""

    path: Path
    line: int | None
    rule_id: str | None

    def error(self, message: str, line: int | None = None) -> RuleError:
        return RuleError(message, path=self.path, line=line or self.line, rule_id=self.rule_id)


@dataclass(frozen=True)
class Tolerance:
    """How far an amount may be off and still pass: absolute in minor units (a
    default, optionally per currency), and optionally relative to the expected
    amount (``relative: 0.001`` = 0.1 %, rounded down to whole minor units); the
    larger allowance wins. Default: exactly zero."""

    default: int = 0
    per_currency: Mapping[str, int] = field(default_factory=dict)
    relative: Decimal | None = None

    @property
    def is_zero(self) -> bool:
        return self.default == 0 and not any(self.per_currency.values()) and not self.relative

    def expr(
        self, currency: pl.Expr, base: pl.Expr | None = None, scale: int | pl.Expr = 0
    ) -> pl.Expr:
        """The allowance for a row; ``base`` is the expected amount. Both in units of
        10^-``scale`` minor units (0: minor units; an expression: a precision found
        in the data): the allowance stays whole minor units."""
        if not self.per_currency:
            absolute = pl.lit(self.default, pl.Int64)
        else:
            codes = list(self.per_currency)
            absolute = currency.replace_strict(
                codes,
                [self.per_currency[c] for c in codes],
                default=self.default,
                return_dtype=pl.Int64,
            )
        unit: pl.Expr | None = None
        if not (isinstance(scale, int) and scale == 0):
            unit = (
                pl.lit(10**scale, pl.Int128)
                if isinstance(scale, int)
                else pl.lit(10, pl.Int128).pow(scale)
            )
            absolute = absolute.cast(pl.Int128) * unit
        if not self.relative or base is None:
            return absolute
        numerator, denominator = self.relative.as_integer_ratio()  # exact
        share = base.abs().cast(pl.Int128) * numerator // denominator
        share = share if unit is None else share // unit * unit
        return pl.max_horizontal(absolute, share.fill_null(0))


@dataclass(frozen=True)
class Scope:
    """What a rule applies to: sources (by name/provider/all) or pairings (names/all)."""

    sources: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    all_sources: bool = False
    pairings: tuple[str, ...] = ()
    all_pairings: bool = False

    def matches_source(self, name: str, provider: str) -> bool:
        return self.all_sources or name in self.sources or provider in self.providers

    def matches_pairing(self, name: str) -> bool:
        return self.all_pairings or name in self.pairings

    def describe(self) -> str:
        if self.all_pairings or self.pairings:
            return "all pairings" if self.all_pairings else "pairings " + ", ".join(self.pairings)
        if self.all_sources:
            return "all sources"
        parts = [f"provider {p}" for p in self.providers] + [f"source {s}" for s in self.sources]
        return ", ".join(parts)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    type: str
    scope: Scope
    tolerance: Tolerance
    where: Where
    filter: pl.Expr | None
    filter_sql: str | None
    #: the compiled rule type (reconcile.rule_types.*): a SourceCheck or a PairCheck
    check: Check
    description: str = ""

    @property
    def invoice_columns(self) -> frozenset[str]:
        cols = set(self.check.invoice_columns())
        if self.filter is not None and not self.check.line_rows:
            cols |= set(self.filter.meta.root_names())
        return frozenset(cols)


# --- loading ------------------------------------------------------------------------


def default_rules_dir() -> Path:
    return packaged_path("rules")


def rule_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"}))
        elif path.is_file():
            files.append(path)
        else:
            raise RuleError("no such rule file or directory", path=path, line=None)
    return files


def load_rules(paths: Iterable[Path]) -> list[Rule]:
    """Load, validate and compile every rule; ids must be unique across files."""
    rules: list[Rule] = []
    seen: dict[str, Where] = {}
    for path in rule_files(paths):
        for rule in load_rule_file(path):
            if rule.id in seen:
                first = seen[rule.id]
                raise rule.where.error(
                    f"duplicate rule id (first defined at {first.path}:{first.line})"
                )
            seen[rule.id] = rule.where
            rules.append(rule)
    return rules


def load_rule_file(path: Path) -> list[Rule]:
    where = Where(path, None, None)
    try:
        doc = yamlio.load(path)
    except yamlio.YamlSyntaxError as exc:
        raise where.error(str(exc), exc.line) from None
    except OSError as exc:
        raise where.error(f"cannot read: {exc}") from None
    if not isinstance(doc, Mapping) or "rules" not in doc:
        raise where.error("a rule file is a mapping with a 'rules:' list", yamlio.line_of(doc))
    extra = yamlio.unknown_keys(doc, {"rules"})
    if extra:
        raise where.error(
            f"unknown top-level key(s): {', '.join(extra)}", yamlio.line_of(doc, extra[0])
        )
    items = doc["rules"]
    if not isinstance(items, list):
        raise where.error("'rules:' must be a list", yamlio.line_of(doc, "rules"))
    return [
        compile_rule(item, Where(path, yamlio.line_of(items, i), None))
        for i, item in enumerate(items)
    ]


def compile_rule(raw: Any, where: Where) -> Rule:
    from reconcile.rule_types import RULE_TYPES

    if not isinstance(raw, Mapping):
        raise where.error("a rule must be a mapping")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        raise where.error(
            f"'id' must be lower-case letters, digits, '.', '_' or '-' (got {rule_id!r})",
            yamlio.line_of(raw, "id"),
        )
    where = Where(where.path, where.line, rule_id)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in RULE_TYPES:
        raise where.error(
            f"'type' must be one of {', '.join(sorted(RULE_TYPES))} (got {kind!r})",
            yamlio.line_of(raw, "type"),
        )
    rule_type = RULE_TYPES[kind]
    extra = yamlio.unknown_keys(raw, COMMON_KEYS | rule_type.keys)
    if extra:
        raise where.error(
            f"unknown key(s) for a {kind} rule: {', '.join(extra)}", yamlio.line_of(raw, extra[0])
        )
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        raise where.error("'title' is required", yamlio.line_of(raw))
    severity = raw.get("severity", "error")
    if severity not in SEVERITIES:
        raise where.error(
            f"'severity' must be one of {', '.join(SEVERITIES)} (got {severity!r})",
            yamlio.line_of(raw, "severity"),
        )
    scope = _scope(raw, where, pairwise=rule_type.pairwise)
    filter_sql = raw.get("filter")
    filt = None
    if filter_sql is not None:  # over the rule's rows: invoices, or line items (rows: lines)
        rows = (
            LINE_SCHEMA if kind == "expression" and raw.get("rows") == "lines" else INVOICE_SCHEMA
        )
        filt = compile_row_expression(
            filter_sql,
            where,
            "filter",
            boolean=True,
            schema=rows,
            line=yamlio.line_of(raw, "filter"),
        )
    check = rule_type.compile(raw, where)
    return Rule(
        id=rule_id,
        title=title.strip(),
        severity=severity,
        type=kind,
        scope=scope,
        tolerance=parse_tolerance(raw.get("tolerance", 0), where, yamlio.line_of(raw, "tolerance")),
        where=where,
        filter=filt,
        filter_sql=filter_sql,
        check=check,
        description=str(raw.get("description") or "").strip(),
    )


def _names(value: Any, where: Where, key: str, line: int | None) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise where.error(f"{key!r} must be a name or a list of names", line)


def _scope(raw: Mapping[str, Any], where: Where, *, pairwise: bool) -> Scope:
    if pairwise:
        if "applies_to" in raw:
            raise where.error(
                "cross-source rules use 'pairings:', not 'applies_to:'",
                yamlio.line_of(raw, "applies_to"),
            )
        value = raw.get("pairings", "all")
        if value == "all":
            return Scope(all_pairings=True)
        return Scope(pairings=_names(value, where, "pairings", yamlio.line_of(raw, "pairings")))
    if "pairings" in raw:
        raise where.error(
            "'pairings:' is only for compare and presence rules", yamlio.line_of(raw, "pairings")
        )
    value = raw.get("applies_to", "all")
    line = yamlio.line_of(raw, "applies_to")
    if value == "all":
        return Scope(all_sources=True)
    if not isinstance(value, Mapping) or not value:
        raise where.error("'applies_to' must be 'all' or {provider: ...} / {source: ...}", line)
    extra = yamlio.unknown_keys(value, {"provider", "source"})
    if extra:
        raise where.error(f"unknown key(s) in applies_to: {', '.join(extra)}", line)
    return Scope(
        sources=_names(value["source"], where, "source", line) if "source" in value else (),
        providers=_names(value["provider"], where, "provider", line) if "provider" in value else (),
    )


#: bounds of a tolerance: an absolute one in minor units (any more is not a tolerance,
#: and the bound keeps it an Int64 literal), a relative one's decimal places (its exact
#: ratio is computed per row in 128 bits: 10^-99999999 would be a number of 10^8 digits)
MAX_TOLERANCE = 10**15
MAX_RELATIVE_PLACES = 12


def parse_tolerance(value: Any, where: Where, line: int | None) -> Tolerance:
    """``0`` | ``{default: 0, JPY: 1, relative: "0.001"}`` (currency keys upper-cased)."""

    def amount(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= MAX_TOLERANCE:
            raise where.error(
                "'tolerance' is a whole, non-negative number of minor units, at most "
                f"{MAX_TOLERANCE} (got {str(v)[:40]!r})",
                line,
            )
        return v

    if isinstance(value, Mapping):
        relative = None
        if "relative" in value:
            text = str(value["relative"]).strip()
            try:
                relative = Decimal(text) if len(text) <= 40 else None
            except ArithmeticError:
                relative = None
            if (
                relative is None
                or not relative.is_finite()
                or not 0 <= relative < 1
                or places(relative) > MAX_RELATIVE_PLACES
            ):
                raise where.error(
                    "tolerance 'relative' is a fraction between 0 and 1 with at most "
                    f"{MAX_RELATIVE_PLACES} decimal places, e.g. 0.001 for 0.1 % "
                    f"(got {text[:40]!r})",
                    line,
                )
        per = {
            str(k).upper(): amount(v) for k, v in value.items() if k not in ("default", "relative")
        }
        return Tolerance(amount(value.get("default", 0)), per, relative)
    return Tolerance(amount(value))
