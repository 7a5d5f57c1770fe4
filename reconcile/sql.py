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
3. **No wrap**: rules evaluate money in 128-bit integers (schema.WIDE; canonical
   frames hold 64-bit minor units, and Polars' integers wrap silently). Each
   integer sub-expression's magnitude is bounded from the parse tree (a column
   below 2^63, a literal its value, a sum the sum, a product the product): every
   one must stay below 2^127, and a ``sum`` over rows below 2^95 (room for 2^32
   rows). ``total_minor * 922337203685477580`` passes; a product of three amounts
   does not.
4. **Columns and types**: every column is canonical, and the expression is
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
#: the magnitudes rule arithmetic must stay below (see 3. above)
WIDE_LIMIT = 1 << 127
SUM_LIMIT = 1 << 95
#: a canonical integer column's magnitude, and an unknown function's (Polars' widest
#: integer result short of Int128)
_COLUMN, _FUNCTION = (1 << 63) - 1, 1 << 64
_BOOLEAN = (exp.Predicate, exp.Connector, exp.Not, exp.Boolean, exp.Is, exp.In, exp.Between)
_SAME = (exp.Paren, exp.Neg, exp.Abs, exp.Cast, exp.Ceil, exp.Floor, exp.Round)
_CHOICE = (exp.Case, exp.Coalesce, exp.Greatest, exp.Least, exp.Nullif)
#: what an amount may be: wide integers and decimals (a constant may be any integer)
_AMOUNT_TYPES = (pl.Int64, pl.Int128, pl.UInt64, pl.Decimal)


class Where(Protocol):
    """Where a rule expression sits (file, rule id): makes its located error."""

    def error(self, message: str, line: int | None = None) -> Exception: ...


def _structure(sql: str, shown: str, schema: Mapping[str, pl.DataType], summed: bool) -> str | None:
    """Why ``sql`` is not a bounded row expression, or None."""
    if len(sql) > MAX_CHARS:
        return f"{shown!r} is {len(sql)} characters long (at most {MAX_CHARS})"
    try:
        tree = sqlglot.parse_one(sql, dialect="postgres")
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        detail = f"{first.get('description', 'a syntax error')} at column {first.get('col', '?')}"
        return f"invalid SQL expression {shown!r}: {detail}"
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
    wraps = _wraps(tree, schema, summed)
    return f"{shown!r} {wraps}" if wraps else None


#: the largest magnitude each integer type a rule may cast to holds
_INTEGER_MAX = {
    "TINYINT": (1 << 7) - 1,
    "SMALLINT": (1 << 15) - 1,
    "INT": (1 << 31) - 1,
    "BIGINT": (1 << 63) - 1,
    "UTINYINT": (1 << 8) - 1,
    "USMALLINT": (1 << 16) - 1,
    "UINT": (1 << 32) - 1,
    "UBIGINT": (1 << 64) - 1,
    "INT128": (1 << 127) - 1,
}


def _cast_limit(node: exp.Cast) -> tuple[int, str] | None:
    """(the largest magnitude the cast's target holds, its name) for an integer or a
    decimal target; None for any other."""
    target = node.to
    if not isinstance(target, exp.DataType):
        return None
    kind = target.this.name
    if kind in _INTEGER_MAX:
        return _INTEGER_MAX[kind], kind
    if kind == "DECIMAL" and target.expressions:
        digits = [e.name for e in target.expressions]
        if all(d.isdigit() for d in digits):
            precision, scale = int(digits[0]), int(digits[1]) if len(digits) > 1 else 0
            return 10 ** max(precision - scale, 0) - 1, target.sql(dialect="postgres")
    return None


def _magnitude(
    node: exp.Expr, schema: Mapping[str, pl.DataType], worst: list[int], casts: list[str]
) -> int | None:
    """An upper bound of ``node``'s absolute value if it is integer arithmetic (None:
    a decimal, whose arithmetic Polars checks, a float or a text); the largest bound
    of any sub-expression goes to ``worst[0]``, a cast to a type too narrow for its
    operand's bound to ``casts``."""
    parts = [_magnitude(child, schema, worst, casts) for child in node.iter_expressions()]
    if isinstance(node, _BOOLEAN):
        bound: int | None = 1
    elif isinstance(node, exp.Column):
        dtype = schema.get(node.name)
        bound = _COLUMN if dtype is not None and dtype.is_integer() else None
    elif isinstance(node, exp.Literal):
        text = node.this
        bound = abs(int(text)) if not node.is_string and text.isdigit() else None
    elif isinstance(node, exp.DataType):
        return None
    elif isinstance(node, exp.Extract):
        bound = (1 << 31) - 1  # a date part: Polars gives 32 bits at most
    elif isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Mod | exp.Pow) and None in parts:
        bound = None
    elif isinstance(node, exp.Add | exp.Sub):
        bound = parts[0] + parts[1]  # type: ignore[operator]
    elif isinstance(node, exp.Mul):
        bound = parts[0] * parts[1]  # type: ignore[operator]
    elif isinstance(node, exp.Mod):
        bound = min(parts)  # type: ignore[type-var]
    elif isinstance(node, exp.Pow):
        power = node.expression
        small = isinstance(power, exp.Literal) and power.this.isdigit() and int(power.this) < 8
        bound = parts[0] ** int(power.this) if small else WIDE_LIMIT  # type: ignore[operator]
    elif isinstance(node, exp.Div):
        bound = None  # (a float in Polars SQL)
    elif isinstance(node, _SAME):
        bound = parts[0] if parts else None
    elif isinstance(node, exp.If):
        bound = parts[1] if len(parts) > 1 else None
    elif isinstance(node, _CHOICE):
        known = [b for b in parts if b is not None]
        bound = max(known) if known else None
    else:
        bound = _FUNCTION  # an unknown function: the widest integer it may give
    if isinstance(node, exp.Cast) and parts and parts[0] is not None:
        limit = _cast_limit(node)
        if limit is not None and parts[0] > limit[0] and not casts:
            casts.append(limit[1])
    if bound is not None:
        worst[0] = max(worst[0], min(bound, WIDE_LIMIT))
    return bound


def _wraps(tree: exp.Expr, schema: Mapping[str, pl.DataType], summed: bool) -> str | None:
    """Why ``tree``'s integer arithmetic could leave 128 bits, or None."""
    worst: list[int] = [0]
    casts: list[str] = []
    root = _magnitude(tree, schema, worst, casts)
    if casts:
        return (
            f"casts to {casts[0]}, which cannot hold every value of its operand (an "
            "amount is up to 2^63 − 1; a value beyond the type's range fails the run): "
            "cast to a wider type"
        )
    if worst[0] >= WIDE_LIMIT:
        return (
            "could exceed 128-bit integers (amounts are below 2^63; a product of more "
            "than two of them, or a power, can leave that range)"
        )
    if summed and root is not None and root >= SUM_LIMIT:
        return (
            "could exceed 128-bit integers once summed over the rows (each value is "
            f"bounded by {root:.3e}; a summed expression must stay below 2^95)"
        )
    return None


def compile_row_expression(
    sql: object,
    where: Where,
    key: str,
    *,
    schema: Mapping[str, pl.DataType],
    boolean: bool = False,
    amount: bool = False,
    summed: bool = False,
    line: int | None = None,
) -> pl.Expr:
    """``sql`` compiled with ``pl.sql_expr`` and checked (see the module docstring);
    ``summed``: its values are added up over rows (an aggregate's ``sum``)."""
    if not isinstance(sql, str) or not sql.strip():
        raise where.error(f"{key!r} must be a non-empty SQL expression string", line)
    shown = sql if len(sql) <= 200 else sql[:200] + "…"
    problem = _structure(sql, shown, schema, summed)
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
