"""Quarantined records as counterparts: a record that exists but could not be checked.

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
from reconcile.schema import INVOICE_SCHEMA, widen

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
    rows = [{**dict.fromkeys(SCHEMA), "invoice_id": r.invoice_id, **dict(r.keys),
             QREF: r.location, QRULE: "schema.unreadable_record"} for r in rejects]
    return pl.DataFrame(rows, schema=SCHEMA)


def records(source: str, rejects: Sequence[Reject], unreadable: pl.DataFrame | None,
            invoices: pl.DataFrame, failures: pl.DataFrame, location: pl.Expr,
            constants: Mapping[str, str]) -> pl.DataFrame:
    """Every quarantined record of a source that carries an id or a key.

    ``rejects``: records that could not be read (a provider's keeps its id and the
    keys it still had; a file's rows are in ``unreadable``, as far as they were
    read); ``invoices`` and ``failures``: the frame the canonical schema validated
    and its failures (row, column, check), ``location`` where a row was read.
    """
    read_partly = set() if unreadable is None else set(unreadable.get_column("__reject"))
    parts = [_rejected([r for r in rejects if r.location not in read_partly])]
    if unreadable is not None and unreadable.height:
        parts.append(widen(unreadable, TEXT, dict(constants)).with_columns(
            pl.col("__reject").alias(QREF), pl.lit("schema.unreadable_record").alias(QRULE))
            .select(list(SCHEMA)).collect())
    if failures.height:
        first = failures.sort("row", "column", "check").group_by("row", maintain_order=True) \
            .first().with_columns(pl.struct("column", "check").map_elements(
                lambda f: schema_rule_id(f["column"], f["check"]),
                return_dtype=pl.String).alias(QRULE))
        rows = (widen(invoices.with_row_index("__validated"), INVOICE_SCHEMA, dict(constants))
                .filter(pl.col("__validated").is_in(first.get_column("row").implode()))
                .with_columns(location.alias(QREF), pl.col("__validated").cast(pl.Int64))
                .collect().join(first.select(pl.col("row").alias("__validated"), QRULE),
                                on="__validated"))
        parts.append(rows.select(list(SCHEMA)))
    found = pl.concat([p.select(list(SCHEMA)) for p in parts], how="vertical")
    keyed = pl.any_horizontal(pl.col(c).is_not_null() for c in TEXT if c != "source")
    return found.with_columns(pl.lit(source).alias("source")).filter(keyed)
