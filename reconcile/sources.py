"""Reading a configured source into canonical frames.

* Provider sources replay a recording folder (``recording.py``) through the
  provider's pure normalizer (``providers/``).
* File sources read a ledger/ERP export (CSV, Parquet or JSON) through a column
  mapping. ``amounts: major`` reads decimal strings in major units (converted
  with the currency's exponent, rounding by the money policy, residues kept);
  ``amounts: minor`` reads integers. A float money column in Parquet or JSON
  numbers with a fraction are parsed exactly (never through float). A row
  that cannot be read becomes a reject naming file and row.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from reconcile import jsonio, money
from reconcile.config import FileSpec, SourceConfig
from reconcile.errors import InputDataError
from reconcile.jsonio import is_unicode
from reconcile.precision import Precision, exact_names, money_columns
from reconcile.providers._base import Converter, Normalized, Reject, rfc3339
from reconcile.providers.registry import NORMALIZERS
from reconcile.recording import shown
from reconcile.schema import (
    INVOICE_SCHEMA,
    LINE_MONEY_COLUMNS,
    LINE_SCHEMA,
    MONEY_COLUMNS,
    QUANTITY_DTYPE,
    ROW,
    UNIT_AMOUNT_DTYPE,
    UTC_US,
)

if TYPE_CHECKING:
    from reconcile.fetching import FetchProgress


@dataclass
class Loaded:
    """A source's canonical frames before validation, with what it could not read."""

    name: str
    provider: str
    invoices: pl.DataFrame
    #: a LazyFrame when the lines are streamed from a file (see _scan_lines)
    lines: pl.DataFrame | pl.LazyFrame
    normalized: Normalized  # rejects, provided, counts
    #: for file sources with lines: the lines file as findings show it (line_no is its row)
    lines_file: str | None = None
    #: columns the same on every row, kept out of the frames (see schema.widen)
    constants: dict[str, str] = field(default_factory=dict)
    #: file sources: (file as findings show it, number of its first data row); the
    #: invoices carry ``__row`` instead of ``record_ref`` (see SourceData.locate)
    locator: tuple[str, int] | None = None
    #: how finely the invoices' and the lines' amounts are stated (reconcile.precision)
    precision: Precision = field(default_factory=Precision)
    line_precision: Precision = field(default_factory=Precision)
    #: file rows that could not be read, as far as they were (``__reject``: where): the
    #: ids and keys that still name them (see SourceData.quarantined)
    unreadable: pl.DataFrame | None = None
    #: records read for the neighbouring periods only (a widened fetch): neighbours, out
    #: of the close and its counts
    beside: pl.DataFrame | None = None


def _money_of(schema: Mapping[str, pl.DataType]) -> tuple[str, ...]:
    return LINE_MONEY_COLUMNS if schema is LINE_SCHEMA else MONEY_COLUMNS


def frame(
    rows: list[dict[str, Any]],
    schema: Mapping[str, pl.DataType],
    rounding: str = money.DEFAULT_ROUNDING,
    float_decimals: int | None = None,
) -> tuple[pl.DataFrame, Precision]:
    """Rows (dicts with canonical keys; money as exact minor units, int or Decimal) to a
    frame with exactly the canonical schema, plus the exact twins of the money columns
    where some amount is finer than the minor unit (reconcile.precision)."""
    if not rows:
        return pl.DataFrame(schema=dict(schema)), Precision(rounding=rounding)
    names = _money_of(schema)
    money_cols, precision = money_columns(
        {c: [r[c] for r in rows] for c in names}, rounding, float_decimals
    )
    rest = {c: t for c, t in schema.items() if c not in names}
    base = pl.DataFrame(
        [{c: r[c] for c in rest} for r in rows], schema=rest, strict=True, infer_schema_length=None
    )
    out = base.with_columns(money_cols.values())
    return out.select(*schema, *exact_names(schema, money_cols)), precision


def load_source(
    cfg: SourceConfig,
    base: Path | None = None,
    *,
    run_dir: Path | None = None,
    replay: Path | None = None,
    period: tuple[datetime, datetime] | None = None,
    progress: FetchProgress | None = None,
) -> Loaded:
    """Read one source; locations in findings are shown relative to ``base``.

    A live provider source is fetched (snapshot under ``run_dir``) or, with ``replay``,
    read from that run folder's snapshot; see ``reconcile.fetching``.
    """
    if cfg.provider == "file":
        return _load_file_source(cfg, base)
    from reconcile.fetching import provider_pages

    pages, _report = provider_pages(
        cfg, base, run_dir=run_dir, replay=replay, period=period, progress=progress
    )
    provider = cfg.provider
    out = NORMALIZERS[provider](pages, cfg.name, cfg.options)
    for row in out.invoices:
        row["source"] = cfg.name
    for row in out.lines:
        row["source"] = cfg.name
    beside = _set_beside_apart(out)
    invoices, precision = frame(out.invoices, INVOICE_SCHEMA, cfg.rounding, out.float_decimals)
    lines, line_precision = frame(out.lines, LINE_SCHEMA, cfg.rounding, out.float_decimals)
    near = frame(beside, INVOICE_SCHEMA, cfg.rounding, out.float_decimals)[0] if beside else None
    return Loaded(
        cfg.name,
        provider,
        invoices.with_row_index(ROW),
        lines,
        out,
        precision=precision,
        line_precision=line_precision,
        beside=near,
    )


def _set_beside_apart(out: Normalized) -> list[dict[str, Any]]:
    """The records read for the neighbouring periods only (Normalized.beside_pages) out
    of ``out``: not counted, no finding for one that cannot be read; returned, to be
    the neighbours a missing counterpart is looked for in (timing)."""
    if not out.beside_pages:
        return []
    near = [row for row in out.invoices if out.beside(row["record_ref"])]
    unread = [r for r in out.rejects if out.beside(r.location)]
    out.invoices = [row for row in out.invoices if not out.beside(row["record_ref"])]
    out.rejects = [r for r in out.rejects if not out.beside(r.location)]
    out.neighbours_read = len(near) + len(unread)
    out.records_read -= out.neighbours_read
    return near


# --- files ------------------------------------------------------------------------


def _read_table(spec: FileSpec, source: str) -> pl.DataFrame:
    try:
        if spec.format == "parquet":
            wanted = {c for c in spec.columns.values() if isinstance(c, str)}
            available = pl.read_parquet_schema(spec.path)
            return pl.read_parquet(spec.path, columns=[c for c in available if c in wanted])
        raw = spec.path.read_bytes()
        if spec.format == "csv":
            return _read_csv(raw, spec)
        return _json_table(jsonio.loads(_text(raw, spec).encode()), spec, source)
    except FileNotFoundError:
        raise InputDataError("file not found", source=source, location=str(spec.path)) from None
    except _Unreadable as exc:
        raise InputDataError(str(exc), source=source, location=str(spec.path)) from None
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:  # (jsonio.JSONError too)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InputDataError(
            f"cannot read {spec.format}: {first}", source=source, location=str(spec.path)
        ) from None


def _json_table(data: Any, spec: FileSpec, source: str) -> pl.DataFrame:
    """A JSON export's rows as text columns (numbers keep their exact decimal spelling)."""
    if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
        raise InputDataError(
            "a JSON export must be a list of objects", source=source, location=str(spec.path)
        )
    rows = [{k: None if v is None else str(v) for k, v in r.items()} for r in data]
    for i, row in enumerate(rows):
        for key, value in row.items():
            if not (is_unicode(key) and (value is None or is_unicode(value))):
                raise _Unreadable(
                    f"row {i}: the value of {key!r} is not Unicode text (a lone UTF-16 "
                    "surrogate, such as \\ud83d)"
                )
    return pl.DataFrame(rows, infer_schema_length=None)


class _Unreadable(Exception):
    """A file this tool will not guess at (its encoding, a broken row): one line, located."""


def _text(raw: bytes, spec: FileSpec) -> str:
    """The file's text in its declared encoding (UTF-8 unless ``encoding:`` names another),
    or an error naming the first byte that is not: never replacement characters."""
    codec = "utf-8-sig" if spec.encoding == "utf-8" else spec.encoding
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        raise _Unreadable(
            f"not {spec.encoding}: byte {exc.start} is 0x{raw[exc.start]:02x}; "
            "name the file's encoding with encoding: (e.g. latin-1, cp1252, "
            "utf-16)"
        ) from None


def _read_csv(raw: bytes, spec: FileSpec) -> pl.DataFrame:
    """A CSV as text columns; a row with the wrong number of fields, an unterminated quote
    or a header naming a column twice is an error naming the row."""
    text = _text(raw, spec)
    data = raw if spec.encoding == "utf-8" else text.encode()
    header = next(csv.reader(io.StringIO(text)), [])
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise _Unreadable(f"the header names column {repeated[0]!r} twice")
    try:
        return pl.read_csv(io.BytesIO(data), infer_schema=False)
    except pl.exceptions.PolarsError:
        raise _Unreadable(_csv_problem(text)) from None


def _csv_problem(text: str) -> str:
    """Where a CSV that Polars refused goes wrong, as a spreadsheet numbers rows."""
    reader = csv.reader(io.StringIO(text), strict=True)
    width = None
    try:
        for row in reader:
            width = len(row) if width is None else width
            if row and len(row) != width:
                return f"row {reader.line_num} has {len(row)} fields, the header {width}"
    except csv.Error as exc:
        return f"row {reader.line_num}: {exc} (an unterminated quote?)"
    return "not a CSV this tool can read"


def _column(table: pl.DataFrame, spec: Any, canon: str, source: str, path: Path) -> pl.Series:
    if isinstance(spec, Mapping):
        return pl.repeat(spec["value"], table.height, eager=True).alias(canon)
    if spec not in table.columns:
        raise InputDataError(
            f"column {spec!r} (mapped to {canon}) is not in the file; it has "
            f"{', '.join(table.columns)}",
            source=source,
            location=str(path),
        )
    series = table.get_column(spec)
    if series.dtype.is_float():
        raise InputDataError(
            f"column {spec!r} is binary floating point; export money and "
            "quantities as decimal or text",
            source=source,
            location=str(path),
        )
    return series.alias(canon)


class _RowErrors:
    def __init__(self, source: str, path: str, offset: int) -> None:
        self.source, self.path, self.offset = source, path, offset
        self.bad: dict[int, str] = {}

    def add(self, row: int, message: str) -> None:
        self.bad.setdefault(row, message)

    def rejects(self, ids: list[Any]) -> list[Reject]:
        return [
            Reject(
                self.source,
                f"{self.path} row {row + self.offset}",
                msg,
                str(ids[row]) if ids[row] is not None else None,
            )
            for row, msg in sorted(self.bad.items())
        ]


_NO_CURRENCY = (
    "no currency to convert it with (no currency column, or a line whose invoice is not "
    "in this source)"
)
#: a money column as read: an integer Series, or exact minor units per row
_Amounts = pl.Series | list[Decimal | int | None]


def _convert(
    table: pl.DataFrame,
    spec: FileSpec,
    schema: Mapping[str, pl.DataType],
    source: str,
    conv: Converter,
    errors: _RowErrors,
) -> tuple[dict[str, pl.Series], dict[str, _Amounts]]:
    """The file's columns as canonical columns, and its money columns as exact amounts
    (made columns by reconcile.precision.money_columns)."""
    cols = {c: _column(table, s, c, source, spec.path) for c, s in spec.columns.items()}
    ids = (
        cols["invoice_id"].cast(pl.String)
        if "invoice_id" in cols
        else pl.repeat(None, table.height, dtype=pl.String, eager=True)
    )
    if "currency" not in cols:
        currencies = pl.repeat(None, table.height, dtype=pl.String, eager=True)
    elif spec.columns["currency"] == _LINE_CURRENCY:  # the invoice's: already canonical
        currencies = cols["currency"]
    else:
        currencies = _upper_codes(cols["currency"].cast(pl.String))
    out: dict[str, pl.Series] = {}
    amounts: dict[str, _Amounts] = {}
    for canon, series in cols.items():
        dtype = schema[canon]
        if canon == "currency":
            out[canon] = currencies
        elif dtype == pl.Int64() and spec.amounts == "minor" and series.dtype.is_integer():
            amounts[canon] = series.cast(pl.Int64)
        elif dtype == pl.Int64() and canon != "line_no":
            values: list[Decimal | int | None] = []
            for row, (raw, cur) in enumerate(
                zip(series.cast(pl.String).to_list(), currencies.to_list(), strict=True)
            ):
                if raw is None or raw.strip() == "":
                    values.append(None)
                    continue
                try:
                    if spec.amounts == "minor":
                        values.append(money.minor_int(money.to_decimal(raw, spec.numbers)))
                    elif not cur:
                        raise money.MoneyError(_NO_CURRENCY)
                    else:
                        values.append(
                            conv(money.to_decimal(raw, spec.numbers), cur, str(ids[row]), canon)
                        )
                except (money.MoneyError, ValueError) as exc:
                    errors.add(row, f"{canon} {_shown(raw)}: {exc}")
                    values.append(None)
            amounts[canon] = values
        elif dtype == UTC_US:
            out[canon] = _instants(series, canon, errors)
        elif dtype in (QUANTITY_DTYPE, UNIT_AMOUNT_DTYPE):
            scales = None
            if canon == "unit_amount" and spec.amounts == "major":
                # unit_amount is kept exact in minor units, like every amount.
                scales = [_exponent_or_none(c) for c in currencies.to_list()]
            assert isinstance(dtype, pl.Decimal)
            out[canon] = _decimals(series, canon, dtype, errors, spec.numbers, scales)
        else:
            out[canon] = series.cast(dtype)
    return out, amounts


def _shown(raw: str) -> str:
    """A value as an error message shows it: quoted, at most 40 characters."""
    return repr(raw) if len(raw) <= 40 else repr(raw[:40]) + "…"


def _upper_codes(codes: pl.Series) -> pl.Series:
    """Currency codes trimmed and upper-cased; a column has few distinct codes, so the
    distinct ones are normalized and mapped back (millions of rows: one hash pass)."""
    distinct = codes.unique().drop_nulls()
    normal = distinct.str.strip_chars().str.to_uppercase()
    if (distinct == normal).all():
        return codes
    return codes.replace_strict(distinct, normal, default=None)


def _instants(series: pl.Series, canon: str, errors: _RowErrors) -> pl.Series:
    if series.dtype == pl.Date:
        return series.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias(canon)
    if isinstance(series.dtype, pl.Datetime):
        # aware instants convert to UTC; naive ones in an export are taken as UTC
        moment = series.dt.cast_time_unit("us")
        zone = series.dtype.time_zone
        return (
            moment.dt.replace_time_zone("UTC")
            if zone is None
            else moment.dt.convert_time_zone("UTC")
        ).alias(canon)
    values: list[Any] = []
    for row, raw in enumerate(series.cast(pl.String).to_list()):
        if raw is None or not raw.strip():
            values.append(None)
            continue
        text = raw.strip()
        if len(text) == 10:
            text += "T00:00:00Z"
        elif "Z" not in text.upper() and "+" not in text[10:] and "-" not in text[10:]:
            text += "Z"  # a naive timestamp in an export is taken as UTC
        try:
            values.append(rfc3339(text.replace(" ", "T"), canon))
        except ValueError as exc:
            errors.add(row, str(exc))
            values.append(None)
    return pl.Series(canon, values, UTC_US)


def _exponent_or_none(code: str | None) -> int | None:
    return money.minor_exponent(code) if code else None


def _decimals(
    series: pl.Series,
    canon: str,
    dtype: pl.Decimal,
    errors: _RowErrors,
    numbers: money.NumberFormat,
    scales: list[int | None] | None = None,
) -> pl.Series:
    """Exact decimals (a quantity, a unit amount in minor units) that must fit ``dtype``'s
    places: one finer is refused, naming its row, never rounded by the column."""
    values: list[Decimal | None] = []
    for row, raw in enumerate(series.cast(pl.String).to_list()):
        try:
            if raw is None or not raw.strip():
                values.append(None)
                continue
            value = money.to_decimal(raw, numbers)
            if scales is not None:
                scale = scales[row]
                if scale is None:
                    raise money.MoneyError("unknown currency: cannot scale to minor units")
                value = value.scaleb(scale)
            if money.places(value) > (dtype.scale or 0):
                raise money.MoneyError(f"{value} has more than {dtype.scale} decimal places")
            values.append(value)
        except money.MoneyError as exc:
            errors.add(row, f"{canon}: {exc}")
            values.append(None)
    return pl.Series(canon, values, dtype)


def _canonical(
    table: pl.DataFrame,
    spec: FileSpec,
    schema: Mapping[str, pl.DataType],
    name: str,
    conv: Converter,
    offset: int,
    base: Path | None,
    rounding: str,
) -> tuple[pl.DataFrame, list[Reject], Precision, pl.DataFrame]:
    """The file's rows as canonical rows (narrow: the columns it maps), the rows it
    could not read (as Rejects, and as the partial rows they left: their ids and keys
    still name them), and how finely the amounts are stated."""
    errors = _RowErrors(name, shown(spec.path, base), offset)
    cols, amounts = _convert(table, spec, schema, name, conv, errors)
    money_cols, precision = money_columns(amounts, rounding)
    cols.update(money_cols)
    height = table.height
    frame_ = pl.DataFrame([cols[c] for c in cols]) if cols else pl.DataFrame(height=height)
    if frame_.width == 0:
        frame_ = pl.DataFrame({"__n": pl.zeros(height, eager=True)})
    # A record is located by its file row: ``__row`` (index from 0) for an invoice,
    # ``line_no`` (as the file numbers rows) for a line. Building a "file row N"
    # string for millions of records costs more than the rest of the load, so it
    # is built only for the records a finding names (SourceData.locate).
    defaults: dict[str, pl.Expr] = {}  # source and a default status: constants, see Loaded
    if schema is LINE_SCHEMA:
        defaults["line_no"] = pl.int_range(offset, pl.len() + offset, dtype=pl.Int32)
    # Narrow: only the columns the file provides (plus the defaults above); the
    # pipeline widens lazily, so absent columns are never materialized.
    result = frame_.select(
        [
            pl.col(c).cast(dtype) if c in cols else defaults[c].cast(dtype).alias(c)
            for c, dtype in schema.items()
            if c in cols or c in defaults
        ]
        + [pl.col(c) for c in exact_names(schema, money_cols)]
    )
    if schema is INVOICE_SCHEMA:
        result = result.with_row_index(ROW)
    rejects: list[Reject] = []
    partial = result.clear().with_columns(pl.lit(None, pl.String).alias("__reject"))
    if errors.bad:
        rejects = errors.rejects(result.get_column("invoice_id").to_list())
        keep = pl.Series([i not in errors.bad for i in range(height)])
        partial = result.filter(~keep).with_columns(
            pl.Series("__reject", [r.location for r in rejects], pl.String)
        )
        result = result.filter(keep)
    return result, rejects, precision, partial


def _load_file_source(cfg: SourceConfig, base: Path | None) -> Loaded:
    assert cfg.invoices is not None
    out = Normalized(has_lines=cfg.lines is not None)
    conv = Converter(cfg.name, None)
    # CSV rows are numbered as a spreadsheet shows them: header is row 1.
    offset = 2 if cfg.invoices.format == "csv" else 0
    table = _read_table(cfg.invoices, cfg.name)
    invoices, rejects, precision, partial = _canonical(
        table, cfg.invoices, INVOICE_SCHEMA, cfg.name, conv, offset, base, cfg.rounding
    )
    out.rejects.extend(rejects)
    out.records_read = table.height
    out.provided = frozenset(cfg.invoices.columns) | {"source", "status", "record_ref"}
    lines: pl.DataFrame | pl.LazyFrame = pl.DataFrame(schema=LINE_SCHEMA)
    line_precision = Precision(rounding=cfg.rounding)
    lines_file = None
    if cfg.lines is not None:
        lines, line_precision = _load_lines(cfg, cfg.lines, conv, out, base, invoices)
        lines_file = shown(cfg.lines.path, base)
    constants = {"source": cfg.name}
    if "status" not in invoices.columns:
        constants["status"] = "unknown"  # a ledger row has no billing status
    return Loaded(
        cfg.name,
        "file",
        invoices,
        lines,
        out,
        lines_file,
        constants,
        (shown(cfg.invoices.path, base), offset),
        precision,
        line_precision,
        partial,
    )


_LINE_CURRENCY = "__invoice_currency"


def _scan_lines(spec: FileSpec) -> pl.LazyFrame | None:
    """Parquet line items whose columns map straight onto canonical ones (integer
    minor units, text ids): a lazy scan, so millions of lines are streamed into
    their sums and never held whole. None: read them eagerly (conversions)."""
    if spec.format != "parquet" or spec.amounts != "minor" or "amount_minor" not in spec.columns:
        return None
    try:
        available = pl.read_parquet_schema(spec.path)
    except (OSError, pl.exceptions.PolarsError):
        return None  # the eager path reports it
    exprs = []
    for canon, src in spec.columns.items():
        target = LINE_SCHEMA.get(canon)
        if isinstance(src, Mapping) or src not in available or target is None:
            return None
        dtype = available[src]
        if target == pl.Int64() and canon != "line_no" and dtype.is_integer():
            exprs.append(pl.col(src).cast(pl.Int64).alias(canon))
        elif target == pl.String() and canon != "currency" and dtype == pl.String():
            exprs.append(pl.col(src).alias(canon))
        else:
            return None
    # line_no: the file row, as the eager path numbers it
    return (
        pl.scan_parquet(spec.path)
        .with_row_index("line_no")
        .select(*exprs, pl.col("line_no").cast(pl.Int32))
    )


def _load_lines(
    cfg: SourceConfig,
    spec: FileSpec,
    conv: Converter,
    out: Normalized,
    base: Path | None,
    invoices: pl.DataFrame,
) -> tuple[pl.DataFrame | pl.LazyFrame, Precision]:
    scanned = _scan_lines(spec)
    if scanned is not None:
        return scanned, Precision(rounding=cfg.rounding)
    table = _read_table(spec, cfg.name)
    needs_currency = spec.amounts == "major" or "amount_minor" not in spec.columns
    if (
        "currency" not in spec.columns
        and needs_currency
        and isinstance(spec.columns.get("invoice_id"), str)
    ):
        # Converting major units needs the currency: a line without its own is in
        # its invoice's; a line whose invoice is unknown gets none and is rejected.
        # (Minor-unit lines skip this 25M-row join; they have no currency column.)
        currencies = invoices.select("invoice_id", pl.col("currency").alias(_LINE_CURRENCY))
        key = spec.columns["invoice_id"]
        if key in table.columns:
            table = table.join(
                currencies.unique("invoice_id"),
                left_on=pl.col(key).cast(pl.String),
                right_on="invoice_id",
                how="left",
                maintain_order="left",
            )
            spec = dataclasses.replace(spec, columns={**spec.columns, "currency": _LINE_CURRENCY})
    derive = "amount_minor" not in spec.columns
    if derive and not {"unit_amount", "quantity"} <= set(spec.columns):
        raise InputDataError(
            "lines need 'amount_minor', or 'unit_amount' and 'quantity' to derive it",
            source=cfg.name,
            location=str(spec.path),
        )
    mapping = dict(spec.columns)
    unit_spec = mapping.pop("unit_amount", None) if derive else None
    offset = 2 if spec.format == "csv" else 0
    core = dataclasses.replace(spec, columns=mapping)
    lines, rejects, precision, _ = _canonical(
        table, core, LINE_SCHEMA, cfg.name, conv, offset, base, cfg.rounding
    )
    if derive:
        lines, precision, bad = _derived_amounts(
            lines,
            _column(table, unit_spec, "unit_amount", cfg.name, spec.path).cast(pl.String),
            {int(r.location.rsplit(" ", 1)[1]) - offset for r in rejects},
            spec,
            cfg,
            shown(spec.path, base),
            offset,
        )
        rejects += bad
    out.rejects.extend(rejects)
    return lines, precision


def _derived_amounts(
    lines: pl.DataFrame,
    unit: pl.Series,
    bad_rows: set[int],
    spec: FileSpec,
    cfg: SourceConfig,
    label: str,
    offset: int,
) -> tuple[pl.DataFrame, Precision, list[Reject]]:
    """Lines whose amount is unit price × quantity: exact (no rounding here; see
    reconcile.precision), with unit_amount kept exact in minor units. A line whose
    product cannot be held (beyond int64, finer than money.MAX_PLACES) is refused,
    named by its row, and the others are kept."""
    amounts: list[Decimal | int | None] = []
    units: list[Decimal | None] = []
    rejects: list[Reject] = []
    good = [i for i in range(unit.len()) if i not in bad_rows]
    rows = zip(
        [unit[i] for i in good],
        lines["quantity"].to_list(),
        lines["currency"].to_list(),
        lines["invoice_id"].to_list(),
        strict=True,
    )
    for i, (u, q, cur, iid) in enumerate(rows):
        try:
            if spec.amounts == "major" and not cur:
                raise money.MoneyError(_NO_CURRENCY)
            per_unit = (
                money.to_decimal(u, spec.numbers)
                if spec.amounts == "minor"
                else money.exact_minor(u, cur, numbers=spec.numbers)
            )
            amounts.append(
                money.checked_exact(money.product(per_unit, q if q is not None else Decimal(1)))
            )
            units.append(per_unit)
        except (money.MoneyError, ValueError) as exc:
            rejects.append(
                Reject(
                    cfg.name,
                    f"{label} row {good[i] + offset}",
                    f"amount_minor = unit_amount × quantity: {exc}",
                    None if iid is None else str(iid),
                )
            )
            amounts.append(None)
            units.append(None)
    cols, precision = money_columns({"amount_minor": amounts}, cfg.rounding)
    lines = lines.with_columns(*cols.values(), pl.Series("unit_amount", units, UNIT_AMOUNT_DTYPE))
    if rejects:
        lines = lines.filter(pl.Series([a is not None for a in amounts]))
    return lines, precision, rejects
