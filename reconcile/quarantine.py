"""Records kept out of the rules: their schema findings, and their keys as counterparts.

A record that cannot be read or fails the canonical schema is quarantined: one
finding per failure (:func:`schema_findings`, :func:`reject_findings`; line items
whose invoice the source does not have: :func:`orphan_findings`), never dropped.

A record that fails reading (``schema.unreadable_record``) or the canonical schema
(``schema.<column>.<check>``) is kept out of the rules and named in its schema
finding. If it has an id or a key, a pairing must not then report its
counterpart on the other side as *missing*: the booking is there, it is this
record. :func:`records` gathers, per source, each quarantined record's text
columns (ids, keys, what a pairing filter reads) with where it was read
(``__qref``) and its schema finding's rule (``__qrule``); matching classifies an
unmatched record whose key one of them carries as ``counterpart_quarantined``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import polars as pl

from reconcile.providers._base import Reject
from reconcile.rule_types._common import fmt
from reconcile.schema import (
    FINDING_ROW_SCHEMA,
    INVOICE_SCHEMA,
    LINE_SCHEMA,
    WIDE,
    conform_findings,
    no_findings,
    widen,
)

QREF, QRULE = "__qref", "__qrule"
#: the columns a quarantined record is matched on: every text column (ids, keys,
#: and what a pairing side's filter reads, such as origin_system)
TEXT = {c: t for c, t in INVOICE_SCHEMA.items() if t == pl.String()}
SCHEMA = {**TEXT, QREF: pl.String(), QRULE: pl.String()}


def schema_rule_id(column: str, check: str, prefix: str = "") -> str:
    """The rule id of a schema finding: ``schema.currency.str_length``."""
    slug = re.sub(r"[^a-z0-9_]+", "_", check.split("(")[0].strip().lower()).strip("_")
    return f"schema.{prefix}{'row' if column == '<row>' else column}.{slug or 'check'}"


def _rejected(rejects: Sequence[Reject]) -> pl.DataFrame:
    rows = [
        {
            **dict.fromkeys(SCHEMA),
            "invoice_id": r.invoice_id,
            **dict(r.keys),
            QREF: r.location,
            QRULE: "schema.unreadable_record",
        }
        for r in rejects
    ]
    return pl.DataFrame(rows, schema=SCHEMA)


def records(
    source: str,
    rejects: Sequence[Reject],
    unreadable: pl.DataFrame | None,
    invoices: pl.DataFrame,
    failures: pl.DataFrame,
    location: pl.Expr,
    constants: Mapping[str, str],
) -> pl.DataFrame:
    """Every quarantined record of a source that carries an id or a key.

    ``rejects``: records that could not be read (a provider's keeps its id and the
    keys it still had; a file's rows are in ``unreadable``, as far as they were
    read); ``invoices`` and ``failures``: the frame the canonical schema validated
    and its failures (row, column, check), ``location`` where a row was read.
    """
    read_partly = set() if unreadable is None else set(unreadable.get_column("__reject"))
    parts = [_rejected([r for r in rejects if r.location not in read_partly])]
    if unreadable is not None and unreadable.height:
        parts.append(
            widen(unreadable, TEXT, dict(constants))
            .with_columns(
                pl.col("__reject").alias(QREF), pl.lit("schema.unreadable_record").alias(QRULE)
            )
            .select(list(SCHEMA))
            .collect()
        )
    if failures.height:
        first = (
            failures.sort("row", "column", "check")
            .group_by("row", maintain_order=True)
            .first()
            .with_columns(
                pl.struct("column", "check")
                .map_elements(
                    lambda f: schema_rule_id(f["column"], f["check"]), return_dtype=pl.String
                )
                .alias(QRULE)
            )
        )
        rows = (
            widen(invoices.with_row_index("__validated"), INVOICE_SCHEMA, dict(constants))
            .filter(pl.col("__validated").is_in(first.get_column("row").implode()))
            .with_columns(location.alias(QREF), pl.col("__validated").cast(pl.Int64))
            .collect()
            .join(first.select(pl.col("row").alias("__validated"), QRULE), on="__validated")
        )
        parts.append(rows.select(list(SCHEMA)))
    found = pl.concat([p.select(list(SCHEMA)) for p in parts], how="vertical")
    keyed = pl.any_horizontal(pl.col(c).is_not_null() for c in TEXT if c != "source")
    return found.with_columns(pl.lit(source).alias("source")).filter(keyed)


def schema_findings(
    source: str,
    rows: pl.DataFrame | pl.LazyFrame,
    failures: pl.DataFrame,
    prefix: str,
    location: pl.Expr,
    constants: dict[str, str] | None = None,
) -> pl.DataFrame:
    """One finding per failing (row, column, check); ``rows`` is the frame that was validated
    (failure row numbers index into it), ``location`` says where a row was read."""
    if failures.is_empty():
        return no_findings()
    columns = LINE_SCHEMA if prefix else INVOICE_SCHEMA
    failing = failures.get_column("row").unique().implode()
    rows = (
        widen(rows.with_row_index("__validated"), columns, constants)
        .filter(pl.col("__validated").is_in(failing))
        .select(
            pl.col("__validated").cast(pl.Int64).alias("row"),
            "invoice_id",
            "currency",
            location.alias("record_ref"),
        )
        .collect()
    )
    joined = failures.join(rows, on="row", how="left")
    return joined.select(
        pl.struct("column", "check")
        .map_elements(
            lambda f: schema_rule_id(f["column"], f["check"], prefix), return_dtype=pl.String
        )
        .alias("rule_id"),
        pl.lit("schema").alias("rule_type"),
        pl.lit("error").alias("severity"),
        pl.lit(source).alias("source"),
        pl.col("invoice_id"),
        pl.lit(None, pl.String).alias("counterpart_source"),
        pl.lit(None, pl.String).alias("counterpart_invoice_id"),
        pl.col("column").replace("<row>", None).alias("field"),
        pl.col("check").alias("expected"),
        pl.col("failure_case").alias("actual"),
        pl.lit(None, WIDE).alias("delta_minor"),
        pl.col("currency"),
        fmt(
            "{} {}: {} {} fails the check {}; the record is quarantined (kept out of the rules).",
            pl.lit(source),
            pl.col("invoice_id").fill_null("(no id)"),
            pl.col("column"),
            pl.col("failure_case").fill_null("(empty)"),
            pl.col("check"),
        ).alias("message"),
        pl.col("record_ref").alias("location"),
    )


def orphan_findings(source: str, orphans: pl.DataFrame) -> pl.DataFrame:
    """One finding per invoice id that has lines but no invoice in the source."""
    return orphans.select(
        pl.lit("schema.line.orphan").alias("rule_id"),
        pl.lit("schema").alias("rule_type"),
        pl.lit("error").alias("severity"),
        pl.lit(source).alias("source"),
        pl.col("invoice_id"),
        pl.lit(None, pl.String).alias("counterpart_source"),
        pl.lit(None, pl.String).alias("counterpart_invoice_id"),
        pl.lit("invoice_id").alias("field"),
        pl.lit("an invoice in this source").alias("expected"),
        pl.lit(None, pl.String).alias("actual"),
        pl.lit(None, WIDE).alias("delta_minor"),
        pl.lit(None, pl.String).alias("currency"),
        fmt(
            "{}: {} line(s) belong to invoice {}, which this source does not have; the lines "
            "are quarantined.",
            pl.lit(source),
            pl.col("__lines"),
            pl.col("invoice_id"),
        ).alias("message"),
        pl.lit(None, pl.String).alias("location"),
    ).pipe(conform_findings)


def reject_findings(rejects: Sequence[Reject]) -> pl.DataFrame:
    rows = [
        {
            "rule_id": "schema.unreadable_record",
            "rule_type": "schema",
            "severity": "error",
            "source": r.source,
            "invoice_id": r.invoice_id,
            "counterpart_source": None,
            "counterpart_invoice_id": None,
            "field": None,
            "expected": None,
            "actual": None,
            "delta_minor": None,
            "currency": None,
            "message": f"{r.source}: {r.location}: {r.reason}; the record is quarantined.",
            "location": r.location,
        }
        for r in rejects
    ]
    return pl.DataFrame(rows, schema=FINDING_ROW_SCHEMA) if rows else no_findings()
