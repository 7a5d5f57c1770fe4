"""Stripe conformance (issue 13): every record Stripe's published schema allows is read.

* Stripe's own fixtures (``shared/datasets/stripe_fixtures/fixtures3.json``, MIT,
  Copyright Stripe, Inc.; see its SOURCE.md): every invoice, line item and invoice
  item, read with nothing quarantined through the real read path — a recording →
  ``sources.load_source`` (the normalizer, the canonical frames) →
  ``schema.validate_invoices`` / ``validate_lines``. Skipped, naming the path, where
  ``shared/`` is not beside the checkout.
* Invoices built from Stripe's published schema (``stripe_schema.json``, vendored from
  the ``stripe`` SDKs: see ``stripe_schema.README.md``) for the fields the normalizer
  reads: each nullable field sometimes null, each optional one sometimes absent, each
  enum drawn from the spec's values plus one it does not list. The normalizer never
  raises and quarantines nothing the schema allows; the one record it refuses is an
  invoice without ``id`` (optional in 2025-03-31.basil, for preview invoices, which
  a list never returns): no rule can do without it. On invoices built to satisfy them
  the ``stripe.*`` identities of the default pack hold, through ``pipeline.run``.

Examples are bounded and derandomized (the same on every run); HYPOTHESIS_PROFILE=slow
(tests/conftest.py) runs many more, at random.
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from reconcile import pipeline, schema, sources
from reconcile.config import SourceConfig
from reconcile.providers._base import Normalized
from reconcile.recording import write_recording
from reconcile.ruleset import default_rules_dir
from tests.conftest import DATASETS

SCHEMA = json.loads(Path(__file__).with_name("stripe_schema.json").read_text("utf-8"))
FIXTURES = DATASETS / "stripe_fixtures" / "fixtures3.json"
#: an enum value no version of the spec lists (newer SDKs type Stripe's enums as open)
UNKNOWN = "not_in_the_spec"


def bounded(examples: int, *, shrink: bool = True) -> settings:
    """``examples`` derandomized examples; the ``slow`` profile's, at random, with
    HYPOTHESIS_PROFILE=slow. ``shrink=False``: a failing example is shown as found
    (each one is a whole close: shrinking one took minutes)."""
    quiet = [HealthCheck.too_slow, HealthCheck.data_too_large]
    phases = tuple(p for p in Phase if shrink or p is not Phase.shrink)
    if os.environ.get("HYPOTHESIS_PROFILE") == "slow":
        slow = settings.get_profile("slow")
        return settings(slow, deadline=None, suppress_health_check=quiet, phases=phases)
    return settings(
        phases=phases,
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=quiet,
    )


# --- the schema, over the API versions it was taken from ------------------------------------


@dataclass(frozen=True)
class Field:
    """A field as any of the vendored API versions allows it."""

    type: str
    nullable: bool
    optional: bool  # may be absent: optional (``name?:``) or not in some version
    enum: tuple[str, ...]
    ref: str | None  # the object an ``object`` field holds, or an array's items


def _field(obj: str, name: str) -> Field:
    specs = [version[obj][name] for version in SCHEMA["versions"].values()]
    present = [s for s in specs if s is not None]
    kinds = {s["type"] for s in present}
    kind = "decimal_string" if "decimal_string" in kinds else kinds.pop()
    return Field(
        type=kind,
        nullable=any(s["nullable"] for s in present),
        optional=len(present) < len(specs) or any(s["optional"] for s in present),
        enum=tuple(sorted({v for s in present for v in s.get("enum", ())})),
        ref=present[-1].get("ref") or present[-1].get("items"),
    )


FIELDS = {
    obj: {name: _field(obj, name) for name in fields}
    for obj, fields in next(iter(SCHEMA["versions"].values())).items()
}


def test_the_vendored_schema_says_what_the_normalizer_reads_as_null() -> None:
    """The fields this file's strategies rely on, as Stripe publishes them."""
    invoice, line = FIELDS["Invoice"], FIELDS["InvoiceLineItem"]
    for name in ("total_taxes", "total_discount_amounts", "ending_balance", "customer"):
        assert invoice[name].nullable and not invoice[name].optional, name
    assert invoice["id"].optional  # 2025-03-31.basil: preview invoices have none
    assert not invoice["total"].nullable and not invoice["currency"].nullable
    assert line["taxes"].nullable and line["discount_amounts"].nullable
    assert line["quantity_decimal"].optional  # not in 2025-03-31.basil
    assert invoice["status"].enum == ("draft", "open", "paid", "uncollectible", "void")


# --- the real read path ---------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    normalized: Normalized
    invoices: pl.DataFrame  # canonical rows, before validation
    lines: pl.DataFrame
    failures: list[dict[str, Any]]  # invoice and line schema failures

    def quarantined(self) -> list[str]:
        return [f"{r.location}: {r.reason}" for r in self.normalized.rejects] + [
            f"row {f['row']} {f['column']}: {f['check']}" for f in self.failures
        ]


def list_page(data: list[dict[str, Any]], url: str = "/v1/invoices") -> dict[str, Any]:
    """A recorded page of GET ``url``: the last of its list (``has_more`` false)."""
    body = {"object": "list", "data": data, "has_more": False, "url": url}
    kind = "list" if url == "/v1/invoices" else "lines"
    return {"body": json.dumps(body).encode(), "url": url, "kind": kind}


def lines_page(invoice_id: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    return list_page(lines, f"/v1/invoices/{invoice_id}/lines")


def run_close(invoices: list[dict[str, Any]], period: str, **rules: Any) -> pipeline.RunResult:
    """``pipeline.run`` on a close of one source: a recorded page of these invoices."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_recording(folder / "rec", "stripe", [list_page(invoices)])
        close = folder / "close.yaml"
        source = "sources:\n  st: {provider: stripe, recording: rec}\n"
        close.write_text(f"period: {period}\n{source}", encoding="utf-8")
        return pipeline.run(close, **rules)


def read(pages: list[dict[str, Any]]) -> Read:
    """recording → sources.load_source → schema.validate_invoices / validate_lines."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_recording(folder / "rec", "stripe", pages)
        cfg = SourceConfig("st", "stripe", "period_start", recording=folder / "rec")
        loaded = sources.load_source(cfg, folder)
    out = loaded.normalized
    assert isinstance(loaded.lines, pl.DataFrame)
    invoices = schema.validate_invoices(loaded.invoices, out.provided, out.nullable)
    lines = schema.validate_lines(loaded.lines)
    failures = pl.concat([invoices.failures, lines.failures]).to_dicts()
    return Read(out, loaded.invoices, loaded.lines, failures)


# --- (a) Stripe's own fixtures -----------------------------------------------------------------


def fixtures() -> dict[str, Any]:
    if not FIXTURES.is_file():
        pytest.skip(f"Stripe's fixtures not present ({FIXTURES})")
    resources: dict[str, Any] = json.loads(FIXTURES.read_text("utf-8"))["resources"]
    return resources


def of_object(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """Every ``{"object": kind}`` in the fixtures, where it is (deleted_* stubs aside:
    a list never returns them)."""
    found: list[tuple[str, dict[str, Any]]] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            if value.get("object") == kind and not value.get("deleted"):
                found.append((path, value))
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")

    walk(fixtures(), "resources")
    return found


def test_the_invoice_fixture_is_read() -> None:
    """Stripe's ``invoice`` (a draft: ``total_taxes`` null) as a one-page recording of
    GET /v1/invoices: read, nothing quarantined, the nulls read as null."""
    ((where, invoice),) = of_object("invoice")
    assert where == "resources.invoice"
    got = read([list_page([invoice])])
    assert got.quarantined() == []
    (row,) = got.invoices.to_dicts()
    assert (row["invoice_id"], row["status"], row["currency"]) == (invoice["id"], "draft", "USD")
    assert row["tax_minor"] is None and row["ending_balance_minor"] is None
    assert (row["total_minor"], row["discount_minor"], row["amount_due_minor"]) == (1000, 0, 1000)
    assert got.lines.height == len(invoice["lines"]["data"]) == 1
    assert got.lines["tax_minor"].to_list() == [None]  # the line's taxes: null


def test_the_invoice_fixture_is_a_draft_in_no_exception() -> None:
    """Run as a close: counted as a draft, outside the close, in no finding."""
    ((_, invoice),) = of_object("invoice")
    result = run_close([invoice], "{start: 2009-02-01, end: 2009-03-01}")
    assert result.findings.height == 0, result.findings.to_dicts()
    assert result.drafts["invoice_id"].to_list() == [invoice["id"]]


def test_every_line_item_fixture_is_read() -> None:
    """Each ``line_item`` (the invoice's embedded one and the ``line_item`` resource):
    as the line of an invoice's ``lines.data``, and on a GET /v1/invoices/{id}/lines
    page completing an invoice whose embedded list says ``has_more``."""
    ((_, invoice),) = of_object("invoice")
    items = of_object("line_item")
    assert [where for where, _ in items] == [
        "resources.invoice.lines.data[0]",
        "resources.line_item",
    ]
    for where, item in items:
        embedded = copy.deepcopy(invoice)
        embedded["lines"]["data"] = [item]
        got = read([list_page([embedded])])
        assert got.quarantined() == [], where
        assert got.lines["line_id"].to_list() == [item["id"]], where
        paged = copy.deepcopy(invoice)
        paged["lines"].update(data=[], has_more=True)
        got = read([list_page([paged]), lines_page(invoice["id"], [item])])
        assert got.quarantined() == [], where
        (line,) = got.lines.to_dicts()
        assert (line["amount_minor"], line["currency"]) == (item["amount"], "USD"), where
        assert line["line_type"] == item["parent"]["type"]


def test_the_invoice_item_fixture_fields_a_line_shares_are_read() -> None:
    """The normalizer does not read invoice items (GET /v1/invoiceitems is not fetched):
    an invoice item reaches the close as the line item it becomes on its invoice. The
    fields of the ``invoiceitem`` fixture that such a line carries, and the normalizer
    reads, are read from a line: amount, currency, description, quantity and
    ``quantity_decimal``, ``discounts``, ``pricing``."""
    ((_, invoice),) = of_object("invoice")
    ((_, item),) = of_object("invoiceitem")
    shared = ("amount", "currency", "description", "quantity", "quantity_decimal")
    line = {key: item[key] for key in (*shared, "discounts", "pricing")}
    line.update(
        id="il_from_" + item["id"],
        object="line_item",
        invoice=invoice["id"],
        discount_amounts=[],
        taxes=None,
        parent={
            "type": "invoice_item_details",
            "invoice_item_details": {"invoice_item": item["id"]},
        },
    )
    embedded = copy.deepcopy(invoice)
    embedded["lines"]["data"] = [line]
    got = read([list_page([embedded])])
    assert got.quarantined() == []
    (row,) = got.lines.to_dicts()
    assert row["amount_minor"] == item["amount"] and row["description"] == item["description"]
    assert row["quantity"] == Decimal(item["quantity_decimal"])  # preferred to ``quantity``
    assert row["unit_amount"] is None  # pricing.unit_amount_decimal: null


# --- (b) invoices built from the published schema ---------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=10)
ID = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8)
AMOUNT = st.integers(min_value=-(10**12), max_value=10**12)
#: Unix seconds from 1970 to 2100
EPOCH = st.integers(min_value=0, max_value=4_102_444_800)
CURRENCY = st.sampled_from(["usd", "eur", "jpy", "gbp", "chf"])


def decimal_text(places: int, minimum: int) -> st.SearchStrategy[str]:
    """A plain decimal string with at most ``places`` decimals (Stripe's Decimal)."""
    return st.integers(min_value=0, max_value=places).flatmap(
        lambda p: st.decimals(min_value=minimum, max_value=10**6, places=p).map(
            lambda d: format(d, "f")
        )
    )


#: values the types alone do not say: which integers are instants, the 12 decimal
#: places Stripe's Decimal strings allow, a non-negative quantity
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "period_start": EPOCH,
    "period_end": EPOCH,
    "effective_at": EPOCH,
    "due_date": EPOCH,
    "finalized_at": EPOCH,
    "quantity": st.integers(min_value=0, max_value=10**6),
    "quantity_decimal": decimal_text(12, 0),
    "unit_amount_decimal": decimal_text(12, -(10**6)),
}


def value(obj: str, name: str, spec: Field) -> st.SearchStrategy[Any]:
    """What the schema allows in one field: its type's values, null where nullable."""
    if name in VALUES:
        base = VALUES[name]
    elif spec.enum:
        literal = len(spec.enum) == 1 and obj == "ApiList"  # the envelope's 'list'
        base = st.sampled_from(spec.enum if literal else [*spec.enum, UNKNOWN])
    elif spec.type in ("integer", "string", "boolean"):
        base = {"integer": AMOUNT, "string": TEXT, "boolean": st.booleans()}[spec.type]
    elif spec.type == "decimal_string":
        base = decimal_text(12, -(10**6))
    elif spec.type == "id_or_object":
        base = ID | st.builds(lambda i: {"id": i}, ID)
    elif spec.type == "array" and spec.ref in FIELDS:
        base = st.lists(of(spec.ref), max_size=3)
    elif spec.type == "array":  # discounts: ids or expanded discounts
        base = st.lists(ID | st.builds(lambda i: {"id": i}, ID), max_size=2)
    else:
        assert spec.type == "object" and spec.ref is not None, (obj, name, spec)
        base = of(spec.ref)
    return st.none() | base if spec.nullable else base


def of(obj: str, **fixed: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object of the schema: required fields always, optional ones sometimes."""
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, spec in FIELDS[obj].items():
        strategy = fixed[name] if name in fixed else value(obj, name, spec)
        (optional if spec.optional else required)[name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


@dataclass
class Case:
    """Invoices for one list page, and the line pages that complete them."""

    invoices: list[dict[str, Any]]
    line_pages: list[dict[str, Any]]

    def pages(self) -> list[dict[str, Any]]:
        return [list_page(self.invoices), *self.line_pages]


@st.composite
def schema_invoices(draw: st.DrawFn) -> Case:
    """1-3 invoices as the schema allows them; ids (where present) and line ids unique.
    A list whose ``has_more`` is true gets its remaining lines on a lines page."""
    case = Case([], [])
    for number in range(draw(st.integers(min_value=1, max_value=3))):
        currency = draw(CURRENCY)
        lines = draw(st.lists(of("InvoiceLineItem", currency=st.just(currency)), max_size=3))
        for index, line in enumerate(lines):
            line["id"] = f"il_{number}_{index}"
        invoice = draw(of("Invoice", currency=st.just(currency), lines=st.just({})))
        if "id" in invoice:
            invoice["id"] = f"in_{number}"
        start, end = invoice["period_start"], invoice["period_end"]
        invoice["period_start"], invoice["period_end"] = min(start, end), max(start, end)
        more = "id" in invoice and draw(st.booleans())
        cut = draw(st.integers(min_value=0, max_value=len(lines))) if more else len(lines)
        invoice["lines"] = {"object": "list", "data": lines[:cut], "has_more": more, "url": "/x"}
        if more:
            case.line_pages.append(lines_page(invoice["id"], lines[cut:]))
        case.invoices.append(invoice)
    return case


@bounded(60)
@given(schema_invoices())
def test_what_the_schema_allows_is_read(case: Case) -> None:
    got = read(case.pages())  # (raises nothing)
    out = got.normalized
    assert out.records_read + out.duplicates_dropped == len(case.invoices)
    assert got.failures == [], got.quarantined()
    for reject in out.rejects:  # the one thing no rule can do without
        assert reject.reason == "missing required field 'id'", got.quarantined()
    assert len(out.rejects) == sum("id" not in i for i in case.invoices) - out.duplicates_dropped
    rows = {row["invoice_id"]: row for row in got.invoices.to_dicts()}
    for invoice in (i for i in case.invoices if "id" in i):
        row = rows[invoice["id"]]
        assert (row["tax_minor"] is None) == (invoice["total_taxes"] is None)
        assert (row["discount_minor"] is None) == (invoice["total_discount_amounts"] is None)
        assert (row["ending_balance_minor"] is None) == (invoice["ending_balance"] is None)
        assert row["raw_status"] == invoice["status"]
        known = invoice["status"] in FIELDS["Invoice"]["status"].enum
        assert (row["status"] == "unknown") == (not known)


# --- identities, on invoices built to satisfy them --------------------------------------------


@st.composite
def consistent_invoice(draw: st.DrawFn, number: int) -> dict[str, Any]:
    """An invoice of the schema whose amounts add up as Stripe's do, some of the
    nullable amounts null (a draft's taxes, discounts not computed, an unfinalized
    balance). A line's tax is exclusive (added to the total) or inclusive (inside its
    amount, so inside subtotal and total but not in the excluding-tax amounts)."""
    currency = draw(st.sampled_from(["usd", "eur", "jpy"]))
    no_taxes, no_discounts = draw(st.booleans()), draw(st.booleans())
    lines, owns, shared_total = [], [], 0
    taxed = {"exclusive": 0, "inclusive": 0}
    for index in range(draw(st.integers(min_value=0, max_value=3))):
        amount = draw(st.integers(min_value=0, max_value=10**9))
        own = 0 if no_discounts else draw(st.integers(min_value=0, max_value=amount))
        shared = 0 if no_discounts else draw(st.integers(min_value=0, max_value=amount - own))
        behavior = draw(st.sampled_from(sorted(taxed)))
        room = 10**8 if behavior == "exclusive" else amount - own - shared
        tax = 0 if no_taxes else draw(st.integers(min_value=0, max_value=room))
        own_id = f"di_own_{number}_{index}"
        line = draw(of("InvoiceLineItem", currency=st.just(currency)))
        line.update(
            id=f"il_{number}_{index}",
            amount=amount,
            discounts=[own_id] if own else [],
            discount_amounts=None
            if no_discounts
            else [{"amount": own, "discount": own_id}] * bool(own)
            + [{"amount": shared, "discount": "di_invoice"}],
            taxes=None if no_taxes else [{"amount": tax, "tax_behavior": behavior}],
        )
        lines.append(line)
        owns += [{"amount": own, "discount": own_id}] * bool(own)
        shared_total += shared
        taxed[behavior] += tax
    subtotal = sum(line["amount"] for line in lines) - sum(own["amount"] for own in owns)
    total = subtotal - shared_total + taxed["exclusive"]
    subtotal_excluding_tax = subtotal - taxed["inclusive"]
    invoice = draw(of("Invoice", currency=st.just(currency), lines=st.just({})))
    invoice.update(
        id=f"in_{number}", status=draw(st.sampled_from(FIELDS["Invoice"]["status"].enum))
    )
    invoice.update(balances(draw, total, invoice["status"]))
    excluding = draw(st.booleans())  # subtotal/total_excluding_tax: both null, or both set
    invoice.update(
        subtotal=subtotal,
        subtotal_excluding_tax=subtotal_excluding_tax if excluding else None,
        total=total,
        total_excluding_tax=subtotal_excluding_tax - shared_total if excluding else None,
        total_discount_amounts=None
        if no_discounts
        else [*owns, {"amount": shared_total, "discount": "di_invoice"}],
        total_taxes=None
        if no_taxes
        else [{"amount": taxed[b], "tax_behavior": b} for b in sorted(taxed)],
        amount_shipping=0,
        period_start=1_767_225_600 + number,  # 2026-01-01
        period_end=1_769_904_000,  # 2026-02-01
        lines={"object": "list", "data": lines, "has_more": False, "url": "/x"},
    )
    return invoice


def balances(draw: Callable[..., Any], total: int, status: str) -> dict[str, Any]:
    """amount_due = max(0, total + starting_balance) − pre-payment credit notes;
    ending_balance = starting + total − amount_due − those notes (null on a draft)."""
    starting = draw(st.integers(min_value=-(10**9), max_value=10**9))
    chargeable = max(0, total + starting)
    credit_notes = draw(st.integers(min_value=0, max_value=chargeable))
    due = chargeable - credit_notes
    paid = draw(st.integers(min_value=0, max_value=due))
    return {
        "starting_balance": starting,
        "pre_payment_credit_notes_amount": credit_notes,
        "amount_due": due,
        "amount_paid": paid,
        "amount_remaining": due - paid,
        "ending_balance": None
        if status == "draft" or draw(st.booleans())
        else starting + total - due - credit_notes,
    }


IDENTITIES = default_rules_dir() / "identities.yaml"
#: the stripe.* rules of the default pack (rules/identities.yaml)
STRIPE_RULES = sorted(re.findall(r"- id: (stripe\.\w+)", IDENTITIES.read_text("utf-8")))


@bounded(20, shrink=False)
@given(
    st.integers(min_value=1, max_value=4).flatmap(
        lambda n: st.tuples(*(consistent_invoice(i) for i in range(n)))
    )
)
def test_identities_hold_on_invoices_built_to_satisfy_them(
    invoices: tuple[dict[str, Any], ...],
) -> None:
    period = "{start: 2026-01-01, end: 2026-02-01}"
    result = run_close(list(invoices), period, rule_paths=[IDENTITIES])
    stats = result.engine.stats.filter(pl.col("rule_id").str.starts_with("stripe."))
    assert sorted(stats["rule_id"]) == STRIPE_RULES  # every one of them ran
    assert stats["failed"].sum() == 0, result.findings.to_dicts()
    assert result.findings.filter(pl.col("rule_id").str.starts_with("schema.")).height == 0
    finalized = [i for i in invoices if i["status"] != "draft"]
    total = stats.filter(pl.col("rule_id") == "stripe.amount_remaining").to_dicts()[0]
    assert total["checked"] == len(finalized)  # drafts are outside the close
