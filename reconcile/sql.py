"""The one door to rule SQL: a row expression, checked before and after Polars compiles it.

A rule's ``filter``, ``assert``, ``expect``, ``sum`` and a pairing side's ``key``
are SQL over canonical columns, compiled by ``pl.sql_expr`` (never ``eval``).
What compiles here runs on the data:

1. **Bounded** first: at most :data:`MAX_CHARS` characters, parsed by sqlglot (a
   pure-Python parser: nesting too deep for it ends in a caught ``RecursionError``)
   into at most :data:`MAX_NODES` nodes, about 200 terms. Polars' optimiser takes
   time about cubic in a chain of AND/OR terms (measured: 250 terms 0.37 s, 500
   terms 2.9 s, 1,000 terms 23 s, 2,000 terms 186 s), and its parser crashed the
   interpreter (a segmentation fault) on 7,000 OR-ed terms.
2. **A row expression**: no subquery, join, union, window or aggregate (``avg``
   of a column would compare each row with the whole source).
3. **Columns and types**: every column is canonical, and the expression is
   evaluated on an empty frame of the canonical schema, so a type error fails
   here. A boolean where one is needed; an amount (``expect``, ``sum``) an
   integer of at least 64 bits or a decimal, never a float (``total_minor / 3 *
   3``) or a narrow integer (``CAST(total_minor AS SMALLINT)``) that would fail
   or wrap on the data.

Errors are :class:`~reconcile.errors.RuleError` values via the caller's ``where``
(file, line, rule id).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import polars as pl
import sqlglot
from sqlglot import exp

MAX_CHARS = 4000
MAX_NODES = 1000
#: what a row expression may not contain, by the name its error gives
_NOT_ROWWISE: tuple[tuple[type[Any], str], ...] = (
    (exp.Select, "a subquery"),
    (exp.Subquery, "a subquery"),
    (exp.Join, "a join"),
    (exp.Union, "a union"),
    (exp.Window, "a window function"),
    (exp.AggFunc, "an aggregate"),
)
#: what an amount may be: wide integers and decimals (a constant may be any integer)
_AMOUNT_TYPES = (pl.Int64, pl.Int128, pl.UInt64, pl.Decimal)


class Where(Protocol):
    """Where a rule expression sits (file, rule id): makes its located error."""

    def error(self, message: str, line: int | None = None) -> Exception: ...


def _structure(sql: str, shown: str) -> str | None:
    """Why ``sql`` is not a bounded row expression, or None."""
    if len(sql) > MAX_CHARS:
        return f"{shown!r} is {len(sql)} characters long (at most {MAX_CHARS})"
    try:
        tree = sqlglot.parse_one(sql, dialect="postgres")
    except sqlglot.errors.SqlglotError as exc:
        return f"invalid SQL expression {shown!r}: {_first_line(exc)}"
    except RecursionError:
        return f"{shown!r} is nested too deep"
    nodes, stack = 0, [tree]
    while stack:
        node = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return (
                f"{shown!r} is too large for a row expression (more than {MAX_NODES} "
                "parse nodes; a long list of alternatives is shorter as IN (...))"
            )
        for kind, name in _NOT_ROWWISE:
            if isinstance(node, kind):
                return (
                    f"{shown!r} contains {name} ({node.sql(dialect='postgres')[:60]}); a row "
                    "expression gives one value per row from that row alone"
                )
        stack.extend(node.iter_expressions())
    return None


def compile_row_expression(
    sql: object,
    where: Where,
    key: str,
    *,
    schema: Mapping[str, pl.DataType],
    boolean: bool = False,
    amount: bool = False,
    line: int | None = None,
) -> pl.Expr:
    """``sql`` compiled with ``pl.sql_expr`` and checked (see the module docstring)."""
    if not isinstance(sql, str) or not sql.strip():
        raise where.error(f"{key!r} must be a non-empty SQL expression string", line)
    shown = sql if len(sql) <= 200 else sql[:200] + "…"
    problem = _structure(sql, shown)
    if problem:
        raise where.error(f"{key!r}: {problem}", line)
    try:
        expr = pl.sql_expr(sql)
    except Exception as exc:  # polars raises several error types for bad SQL
        raise where.error(
            f"{key!r}: invalid SQL expression {shown!r}: {_first_line(exc)}", line
        ) from None
    unknown = sorted(set(expr.meta.root_names()) - set(schema))
    if unknown:
        raise where.error(
            f"{key!r}: unknown column(s) {', '.join(unknown)} in {shown!r} "
            f"(canonical columns: {', '.join(sorted(schema))})",
            line,
        )
    dtype = _probe(expr, schema, where, key, shown, line)
    if boolean and dtype != pl.Boolean:
        raise where.error(f"{key!r}: {shown!r} must be a boolean condition, not {dtype}", line)
    constant = not expr.meta.root_names()
    if amount and not (isinstance(dtype, _AMOUNT_TYPES) or (constant and dtype.is_integer())):
        raise where.error(
            f"{key!r}: {shown!r} gives {dtype}; an amount must be an integer of "
            "64 bits or more, or a decimal (no float division, no narrow cast)",
            line,
        )
    return expr


def _probe(
    expr: pl.Expr,
    schema: Mapping[str, pl.DataType],
    where: Where,
    key: str,
    shown: str,
    line: int | None,
) -> pl.DataType:
    """The expression's type on a two-row frame of the schema (nulls); one value per row,
    or one constant (broadcast)."""
    probe = pl.DataFrame(schema=dict(schema)).extend(pl.DataFrame([{}, {}], schema=dict(schema)))
    try:
        out = probe.lazy().select(expr.alias("__out")).collect()
    except Exception as exc:
        raise where.error(
            f"{key!r}: {shown!r} does not type-check: {_first_line(exc)}", line
        ) from None
    if out.height not in (probe.height, 1) or (out.height == 1 and expr.meta.root_names()):
        raise where.error(
            f"{key!r}: {shown!r} aggregates rows; a row expression must give one value per row",
            line,
        )
    return out.schema["__out"]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
