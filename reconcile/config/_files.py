"""A file source's spec: path, format, columns, number format, encoding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconcile import yamlio
from reconcile.money import PLAIN, NumberFormat

if TYPE_CHECKING:
    pass

from reconcile.config._model import FileSpec
from reconcile.config._reader import Reader

_NUMBER_KEYS = {"decimal", "group", "parentheses", "exponent"}


def _number_format(r: Reader, node: Mapping[str, Any], inherited: NumberFormat) -> NumberFormat:
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


def _encoding(r: Reader, node: Mapping[str, Any], inherited: str) -> str:
    import codecs

    value = node.get("encoding", inherited)
    try:
        return codecs.lookup(str(value)).name
    except LookupError:
        raise r.error(
            f"unknown encoding {value!r} (e.g. utf-8, latin-1, cp1252, utf-16)", node, "encoding"
        ) from None


def read_file_spec(
    r: Reader,
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
