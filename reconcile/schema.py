"""The canonical model: invoices, line items and findings, as Pandera models.

Every source (provider API or file) is normalized into these frames. Money is
``*_minor`` Int64 beside an upper-case ``currency``; instants are UTC
microseconds. A column a provider does not send stays null for that source and
is left out of the source's *provided* set, so rules that need it are reported
as not applicable (N/A) there instead of passing or failing.

Validation is eager with ``lazy=True`` so every failure is collected; each
failing row becomes a ``schema.*`` finding and is quarantined (kept out of the
rules), never silently dropped.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import polars as pl

if TYPE_CHECKING:
    from pandera.polars import DataFrameSchema

UTC_US: Final = pl.Datetime("us", "UTC")
#: internal column: a record's index in its loaded frame (its row, for a file)
ROW: Final = "__row"
QUANTITY_DTYPE: Final = pl.Decimal(38, 9)
UNIT_AMOUNT_DTYPE: Final = pl.Decimal(38, 12)

STATUSES: Final = ("draft", "open", "paid", "void", "uncollectible", "refunded", "unknown")

MONEY_COLUMNS: Final = (
    "subtotal_minor",
    "discount_minor",
    "credit_minor",
    "tax_minor",
    "shipping_minor",
    "total_minor",
    "amount_due_minor",
    "amount_paid_minor",
    "amount_remaining_minor",
    # provider-specific subtotals used by their identities
    "subtotal_excluding_tax_minor",  # Stripe
    "total_excluding_tax_minor",  # Stripe
    "item_price_minor",  # Amberflo totalBill.itemPrice (usage)
    "fixed_price_minor",  # Amberflo totalBill.fixPrice (plan fees)
    # Stripe's customer balance and credit notes (amount_due and ending_balance identities)
    "starting_balance_minor",
    "ending_balance_minor",  # null until the invoice is finalized
    "pre_payment_credit_notes_minor",
    "post_payment_credit_notes_minor",
)
#: money columns that may be null wherever a source provides them (Stripe's
#: ending_balance before finalization): the rules that read them are N/A for that
#: record, never a quarantine. Each source adds the columns its own published schema
#: lets be null (providers._base.Normalized.nullable: Stripe's draft taxes, Commet's
#: optional creditApplied); a file's blank cell elsewhere is a quarantined row.
NULLABLE_MONEY: Final = frozenset({"ending_balance_minor"})
#: line items' money columns: the line amount and, where a source states them per
#: line, the discounts and (exclusive) taxes allocated to it
LINE_MONEY_COLUMNS: Final = ("amount_minor", "discount_minor", "tax_minor")
#: how long a currency code may be: an unknown code (``EURO``) is still read, and the
#: currency rule reports it; a longer text is not a code
CURRENCY_LENGTH: Final = 16

#: the type money is added, subtracted and multiplied in (rules, sums, totals, tie-outs):
#: a canonical frame stores Int64 minor units; a sum of up to 2^64 of them, or a
#: product of two, fits 128 bits exactly, and a rule's arithmetic is bounded at load
#: (reconcile.sql) so that it cannot leave them. Polars' integers wrap silently.
WIDE: Final = pl.Int128()

INVOICE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),
    "invoice_id": pl.String(),
    "invoice_number": pl.String(),
    "external_ref": pl.String(),  # e.g. Frontier provider_id (the Stripe id), ledger reference
    "origin_system": pl.String(),  # ledger/ERP rows: the billing system the entry books
    "customer_id": pl.String(),
    "customer_name": pl.String(),
    "currency": pl.String(),
    "status": pl.String(),
    "raw_status": pl.String(),
    **{c: pl.Int64() for c in MONEY_COLUMNS},
    "period_start": UTC_US,
    "period_end": UTC_US,
    "issued_at": UTC_US,
    "due_at": UTC_US,
    "memo": pl.String(),
    "record_ref": pl.String(),  # where the record came from: page file / row, record index
}

LINE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "source": pl.String(),
    "invoice_id": pl.String(),
    "line_no": pl.Int32(),  # position in the invoice (APIs) or row in the file (files)
    "line_id": pl.String(),
    "line_type": pl.String(),
    "description": pl.String(),
    "quantity": QUANTITY_DTYPE,
    "unit_amount": UNIT_AMOUNT_DTYPE,  # exact, in minor units of `currency`
    "amount_minor": pl.Int64(),
    "discount_minor": pl.Int64(),
    "tax_minor": pl.Int64(),
    "currency": pl.String(),
    "record_ref": pl.String(),
}

FINDING_SCHEMA: Final[dict[str, pl.DataType]] = {
    "finding_id": pl.String(),
    "rule_id": pl.String(),
    "rule_type": pl.String(),
    "severity": pl.String(),
    "source": pl.String(),
    "invoice_id": pl.String(),
    "counterpart_source": pl.String(),
    "counterpart_invoice_id": pl.String(),
    "field": pl.String(),
    "expected": pl.String(),
    "actual": pl.String(),
    "delta_minor": WIDE,
    "currency": pl.String(),
    "message": pl.String(),
    "location": pl.String(),
    # cross-source differences: currency_mismatch, scale_error, sign_flip, rounding,
    # amount_mismatch, counterpart_quarantined, missing, timing, ambiguous, unexplained
    "classification": pl.String(),
    # the pairing a cross-source, matching or tie-out finding belongs to
    "pairing": pl.String(),
}

#: Columns every invoice must have whatever the source.
ALWAYS_PROVIDED: Final = frozenset({"source", "invoice_id", "currency", "status", "record_ref"})
SEVERITIES: Final = ("error", "warning", "info")
#: what explains a cross-source difference (a finding's ``classification``)
CLASSIFICATIONS: Final = (
    "currency_mismatch",
    "scale_error",
    "sign_flip",
    "rounding",
    "timing",
    "amount_mismatch",
    "counterpart_quarantined",
    "missing",
    "ambiguous",
    "void_booked",
    "unexplained",
)


#: finding rows before their ids are given (once, over all findings of a run)
FINDING_ROW_SCHEMA: Final[dict[str, pl.DataType]] = {
    c: t for c, t in FINDING_SCHEMA.items() if c != "finding_id"
}


def no_findings() -> pl.DataFrame:
    """No finding rows (without ids), with every finding column."""
    return pl.DataFrame(schema=FINDING_ROW_SCHEMA)


def conform_findings(frame: pl.DataFrame) -> pl.DataFrame:
    """Finding rows (without ids) with every finding column (absent ones null), in order."""
    if frame.width == 0:
        return no_findings()
    names = set(frame.columns)
    return frame.select(
        [
            pl.col(c).cast(t) if c in names else pl.lit(None, t).alias(c)
            for c, t in FINDING_ROW_SCHEMA.items()
        ]
    )


# --- Pandera models -----------------------------------------------------------
# Imported lazily: commands that only compile rules should not pay for pandera.


@functools.cache
def _register_int128() -> None:
    """Teach pandera's Polars engine Int128 (schema.WIDE, the findings' delta_minor):
    it knows the widths up to 64 bits and calls Int128 "not guaranteed", then fails
    its own dtype check ("expected Int128, got Int128")."""
    from pandera import dtypes
    from pandera.engines.polars_engine import DataType, Engine

    @Engine.register_dtype(equivalents=["int128", pl.Int128])
    @dtypes.immutable
    class Int128(DataType, dtypes.Int):
        type = pl.Int128
        bit_width = 128


@functools.cache
def _invoice_model() -> Any:
    import pandera.polars as pa

    class Invoices(pa.DataFrameModel):
        source: str = pa.Field(str_length={"min_value": 1})
        invoice_id: str = pa.Field(str_length={"min_value": 1})
        invoice_number: str = pa.Field(nullable=True)
        external_ref: str = pa.Field(nullable=True)
        origin_system: str = pa.Field(nullable=True)
        customer_id: str = pa.Field(nullable=True)
        customer_name: str = pa.Field(nullable=True)
        currency: str = pa.Field(str_length={"min_value": 1, "max_value": CURRENCY_LENGTH})
        status: str = pa.Field(isin=STATUSES)
        raw_status: str = pa.Field(nullable=True)
        subtotal_minor: pl.Int64 = pa.Field(nullable=True)
        discount_minor: pl.Int64 = pa.Field(nullable=True)
        credit_minor: pl.Int64 = pa.Field(nullable=True)
        tax_minor: pl.Int64 = pa.Field(nullable=True)
        shipping_minor: pl.Int64 = pa.Field(nullable=True)
        total_minor: pl.Int64 = pa.Field(nullable=True)
        amount_due_minor: pl.Int64 = pa.Field(nullable=True)
        amount_paid_minor: pl.Int64 = pa.Field(nullable=True)
        amount_remaining_minor: pl.Int64 = pa.Field(nullable=True)
        subtotal_excluding_tax_minor: pl.Int64 = pa.Field(nullable=True)
        total_excluding_tax_minor: pl.Int64 = pa.Field(nullable=True)
        item_price_minor: pl.Int64 = pa.Field(nullable=True)
        fixed_price_minor: pl.Int64 = pa.Field(nullable=True)
        starting_balance_minor: pl.Int64 = pa.Field(nullable=True)
        ending_balance_minor: pl.Int64 = pa.Field(nullable=True)
        pre_payment_credit_notes_minor: pl.Int64 = pa.Field(nullable=True)
        post_payment_credit_notes_minor: pl.Int64 = pa.Field(nullable=True)
        period_start: UTC_US = pa.Field(nullable=True)  # type: ignore[valid-type]
        period_end: UTC_US = pa.Field(nullable=True)  # type: ignore[valid-type]
        issued_at: UTC_US = pa.Field(nullable=True)  # type: ignore[valid-type]
        due_at: UTC_US = pa.Field(nullable=True)  # type: ignore[valid-type]
        memo: str = pa.Field(nullable=True)
        record_ref: str

        @pa.dataframe_check(name="period_start_not_after_period_end")
        @classmethod
        def period_order(cls, data: pa.PolarsData) -> pl.LazyFrame:
            names = data.lazyframe.collect_schema().names()
            if "period_start" not in names or "period_end" not in names:
                return data.lazyframe.select(pl.first().is_null() | True)  # all pass
            start, end = pl.col("period_start"), pl.col("period_end")
            return data.lazyframe.select(start.is_null() | end.is_null() | (start <= end))

        class Config:
            strict = True
            coerce = False

    return Invoices


@functools.cache
def _line_model() -> Any:
    import pandera.polars as pa

    class LineItems(pa.DataFrameModel):
        source: str = pa.Field(str_length={"min_value": 1})
        invoice_id: str = pa.Field(str_length={"min_value": 1})
        line_no: pl.Int32 = pa.Field(ge=0)
        line_id: str = pa.Field(nullable=True)
        line_type: str = pa.Field(nullable=True)
        description: str = pa.Field(nullable=True)
        quantity: QUANTITY_DTYPE = pa.Field(nullable=True)  # type: ignore[valid-type]
        unit_amount: UNIT_AMOUNT_DTYPE = pa.Field(nullable=True)  # type: ignore[valid-type]
        amount_minor: pl.Int64
        discount_minor: pl.Int64 = pa.Field(nullable=True)
        tax_minor: pl.Int64 = pa.Field(nullable=True)
        currency: str = pa.Field(str_length={"min_value": 1, "max_value": CURRENCY_LENGTH})
        # file lines leave it empty: line_no is their file row (see sources.py)
        record_ref: str = pa.Field(nullable=True)

        class Config:
            strict = True
            coerce = False

    return LineItems


@functools.cache
def _finding_model() -> Any:
    import pandera.polars as pa

    _register_int128()

    class Findings(pa.DataFrameModel):
        finding_id: str = pa.Field(unique=True)
        rule_id: str
        rule_type: str
        severity: str = pa.Field(isin=SEVERITIES)
        source: str = pa.Field(nullable=True)
        invoice_id: str = pa.Field(nullable=True)
        counterpart_source: str = pa.Field(nullable=True)
        counterpart_invoice_id: str = pa.Field(nullable=True)
        field: str = pa.Field(nullable=True)
        expected: str = pa.Field(nullable=True)
        actual: str = pa.Field(nullable=True)
        delta_minor: pl.Int128 = pa.Field(nullable=True)
        currency: str = pa.Field(nullable=True)
        message: str
        location: str = pa.Field(nullable=True)
        classification: str = pa.Field(nullable=True, isin=CLASSIFICATIONS)
        pairing: str = pa.Field(nullable=True)

        class Config:
            strict = True
            coerce = False

    return Findings


@dataclass(frozen=True)
class Validated:
    valid: pl.DataFrame
    #: one row per failing (row, column, check): row index, column, check, failure_case
    failures: pl.DataFrame
    #: the full rows that failed (kept for the findings, out of the rules)
    quarantined: pl.DataFrame


#: frames larger than this are screened before pandera validates their data
SCREEN_FROM: Final = 100_000

FAILURE_SCHEMA = {
    "row": pl.Int64,
    "column": pl.String,
    "check": pl.String,
    "failure_case": pl.String,
}


def widen(
    frame: pl.DataFrame | pl.LazyFrame,
    columns: dict[str, pl.DataType],
    constants: dict[str, str] | None = None,
    derived: dict[str, pl.Expr] | None = None,
) -> pl.LazyFrame:
    """A narrow frame (only the columns a source sends) as the full canonical frame.

    The absent columns are literals in a lazy plan — ``constants`` (the source
    name, a default status), ``derived`` expressions (``record_ref`` from a file
    row) or null — and projection pushdown drops them again unless a rule reads
    them, so they cost nothing in memory. Internal columns (``__row``, ``__sum``)
    are kept, after the canonical ones.
    """
    lazy = frame.lazy()
    names = lazy.collect_schema().names()
    present = set(names)
    consts, extra = constants or {}, derived or {}
    return lazy.select(
        [
            pl.col(c)
            if c in present
            else extra[c].cast(dtype).alias(c)
            if c in extra
            else pl.lit(consts.get(c), dtype).alias(c)
            for c, dtype in columns.items()
        ]
        + [pl.col(c) for c in names if c.startswith("__")]
    )


def _mirror(name: str, check: Any) -> pl.Expr | None:
    """A Pandera built-in column check as a Polars expression (None: not mirrored).

    The same semantics as pandera's polars backend: ``str_matches`` anchors at the
    start, and a null passes (``ignore_na``, the default; nulls are the nullable
    check's business).
    """
    col, stats = pl.col(name), check.statistics
    expr: pl.Expr
    if check.name == "str_length":
        n = col.str.len_chars()
        if stats.get("exact_value") is not None:
            expr = n == stats["exact_value"]
        else:
            expr = pl.lit(True)
            if stats.get("min_value") is not None:
                expr = expr & (n >= stats["min_value"])
            if stats.get("max_value") is not None:
                expr = expr & (n <= stats["max_value"])
    elif check.name == "greater_than_or_equal_to":
        expr = col >= stats["min_value"]
    elif check.name == "isin":
        expr = col.is_in(pl.Series(list(stats["allowed_values"])).implode())
    elif check.name == "str_matches":
        pattern = str(stats["pattern"])
        expr = col.str.contains(pattern if pattern.startswith("^") else "^" + pattern)
    else:
        return None
    return expr | col.is_null() if check.ignore_na else expr.fill_null(False)


def _all_pass(schema: Any) -> pl.Expr | None:
    """True for a row that passes every check of ``schema``; None when some check
    (a dataframe-wide one, a custom one) has no mirror here."""
    if schema.checks:
        return None
    exprs: list[pl.Expr] = []
    for name, column in schema.columns.items():
        if not column.nullable:
            exprs.append(pl.col(name).is_not_null())
        for check in column.checks:
            mirrored = _mirror(name, check)
            if mirrored is None:
                return None
            exprs.append(mirrored)
    return pl.all_horizontal(exprs) if exprs else pl.lit(True)


def _validate(frame: pl.DataFrame, schema: DataFrameSchema) -> Validated:
    import pandera.polars as pa

    # Sources keep only the columns they send; the others are all null by
    # definition and are checked by the rules' N/A logic, not here.
    absent = [c for c in schema.columns if c not in frame.columns]
    if absent:
        schema = schema.remove_columns(absent)
    # Internal columns (``__row``) are ours, not the canonical model's.
    canonical = frame.select(c for c in frame.columns if not c.startswith("__"))
    # Millions of clean rows: pandera checks the schema (columns, dtypes) and a
    # mirror of its own column checks screens the data in one streaming pass; if
    # any row would fail, pandera validates the whole frame as usual (and names
    # every failure). tests/test_schema.py holds the mirror to pandera's verdicts.
    passes = _all_pass(schema)
    screened = (
        passes is not None
        and canonical.height > SCREEN_FROM
        and bool(canonical.lazy().select(passes.all()).collect().item())
    )
    try:
        schema.validate(
            canonical.head(0) if screened else canonical,
            lazy=True,
        )
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        failures = (
            fc.filter(pl.col("index").is_not_null())
            .select(
                pl.col("index").cast(pl.Int64).alias("row"),
                pl.col("column").cast(pl.String).fill_null("<row>"),
                pl.col("check").cast(pl.String).fill_null("not_nullable"),
                pl.col("failure_case").cast(pl.String),
            )
            .unique()
            .sort("row", "column", "check")
        )
        whole = fc.filter(pl.col("index").is_null())
        if whole.height:
            # A schema-level failure (missing column, wrong dtype) is our bug:
            # normalizers build frames with the canonical schema.
            raise RuntimeError(f"canonical frame violates its schema:\n{whole}") from exc
        bad = failures.get_column("row").unique().sort()
        mask = pl.int_range(pl.len()).is_in(bad.implode())
        return Validated(frame.filter(~mask), failures, frame.filter(mask))
    return Validated(frame, pl.DataFrame(schema=FAILURE_SCHEMA), frame.clear())


#: Provided columns that must then be filled on every row: the money a rule
#: computes with, and the record's identity. Descriptive columns (memo, names,
#: numbers, dates) may be empty even where a source sends them.
REQUIRED_WHEN_PROVIDED: Final = (frozenset(MONEY_COLUMNS) - NULLABLE_MONEY) | ALWAYS_PROVIDED


def validate_invoices(
    frame: pl.DataFrame, provided: frozenset[str], nullable: frozenset[str] = frozenset()
) -> Validated:
    """Validate canonical invoices; money columns the source *provides* must be non-null,
    unless its published schema lets them be null (``nullable``, Normalized.nullable)."""
    invoices_model = _invoice_model()
    schema = invoices_model.to_schema()
    required = {c: {"nullable": False} for c in (provided & REQUIRED_WHEN_PROVIDED) - nullable}
    return _validate(frame, schema.update_columns(required) if required else schema)


def validate_lines(frame: pl.DataFrame) -> Validated:
    lines_model = _line_model()
    return _validate(frame, lines_model.to_schema())


def screen_lines(lines: pl.LazyFrame) -> tuple[pl.Expr, Any]:
    """For line items read lazily (streamed, never held whole): an expression true
    for a line that passes every check of the line model, and the model.

    The caller evaluates it in the same scan that sums the lines; when every line
    passes, :func:`validate_schema_only` checks the columns and dtypes and the
    lines need no data pass by pandera (the same mirror as :func:`_validate`);
    when not, the caller reads the lines whole and validates them as usual.
    """
    lines_model = _line_model()
    model = lines_model.to_schema()
    names = lines.collect_schema().names()
    model = model.remove_columns([c for c in model.columns if c not in names])
    passes = _all_pass(model)
    return (passes if passes is not None else pl.lit(False)), model


def validate_schema_only(lines: pl.LazyFrame, model: Any) -> None:
    """Pandera on the columns and dtypes of a screened frame (no rows: none fail)."""
    _validate(lines.head(0).collect(), model)


def validate_findings(frame: pl.DataFrame) -> None:
    """Findings are our own output: a failure here is a bug (exit 4)."""
    findings_model = _finding_model()
    findings_model.validate(frame, lazy=True)
