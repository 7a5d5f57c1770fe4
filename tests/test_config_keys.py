"""A pairing side's key as a SQL expression, per-side normalization, and a source's
rounding mode: read from the config and checked there (exit 2 with file, line and
pairing), before any data is read."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from reconcile import pipeline
from reconcile.config import load_config
from reconcile.errors import ConfigError

SOURCES = """
period: {start: 2026-10-01, end: 2026-11-01}
sources:
  billing:
    provider: file
    path: billing.csv
    columns: {invoice_id: id, customer_id: customer, currency: cur, total_minor: amount}
  books:
    provider: file
    path: books.csv
    rounding: ROUNDING
    columns: {invoice_id: id, external_ref: ref, currency: cur, total_minor: amount}
pairings:
  - name: billing-books
    left:
      source: billing
      key: KEY
    right:
      source: books
      key: external_ref
      normalize: {case: upper}
"""


def close(write, key: str, rounding: str = "half_up") -> Path:
    write(
        "billing.csv",
        "id,customer,cur,amount\nacme/1/p/2026-10-01,acme,USD,10.005\n"
        "zeta/1/q/2026-10-01,zeta,USD,20.00\n",
    )
    write(
        "books.csv",
        "id,ref,cur,amount\nJE-1,ACME/P/2026-10-01,USD,10.01\nJE-2,zeta/q/2026-10-01,USD,20.00\n",
    )
    return write("close.yaml", SOURCES.replace("KEY", key).replace("ROUNDING", rounding))


def test_a_key_expression_pairs_a_ledger_s_own_ids(write) -> None:
    """billing ``acme/1/p/2026-10-01`` ↔ books ``ACME/P/2026-10-01``: the left key drops the
    product, the right side upper-cases (its own normalize), the left does not."""
    result = pipeline.run(
        close(write, "upper(regexp_replace(invoice_id, '^([^/]+)/[^/]+/', '\\1/'))")
    )
    assert result.pairings[0].counts["left_matched"] == 2
    # 10.005 is rounded half up to 10.01 for the ledger: no difference, one rounded amount
    assert result.findings.is_empty(), result.findings
    rounding = result.rounding.filter(pl.col("source") == "billing")
    assert rounding.select("rounded", "residue_minor").row(0) == (1, "-0.5")


def test_half_even_rounding_is_the_source_s_choice(write) -> None:
    """billing's 10.005 in banker's rounding is 10.00; the books' 10.01 is then a cent
    away, a difference that exists only because billing's finer amount was rounded."""
    path = close(write, "upper(regexp_replace(invoice_id, '^([^/]+)/[^/]+/', '\\1/'))")
    text = path.read_text().replace(
        "columns: {invoice_id: id, customer_id: customer",
        "rounding: half_even\n    columns: {invoice_id: id, customer_id: customer",
    )
    path.write_text(text)
    assert [s.rounding for s in load_config(path).sources] == ["half_even", "half_up"]
    found = pipeline.run(path).findings
    assert found.select("rule_id", "invoice_id", "delta_minor", "classification").rows() == [
        ("xsrc.total_agrees", "acme/1/p/2026-10-01", 1, "rounding")
    ]


@pytest.mark.parametrize(
    ("key", "rounding", "message"),
    [
        ("regexp_replace(invoice_id, '^([^/]+)/', '$1')", "half_up", r"\\1, not \$1"),
        ("nonsense(invoice_id", "half_up", "invalid SQL expression"),
        ("upper(no_such_column)", "half_up", "unknown column"),
        ("total_minor + 1", "half_up", "must give text"),
        ("invoice_id", "banker", "rounding must be one of half_up, half_even"),
    ],
)
def test_a_bad_key_or_mode_names_file_line_and_pairing(
    write, key: str, rounding: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(close(write, key, rounding))
    err = info.value
    assert err.line is not None and str(err).startswith(f"{err.path}:{err.line}:")
    assert err.line == (11 if rounding == "banker" else 17)  # the rounding or key line
    if rounding != "banker":
        assert "pairing 'billing-books'" in str(err)
    assert re.search(message, str(err)), str(err)
