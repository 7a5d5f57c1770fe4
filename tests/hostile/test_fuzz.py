"""A hypothesis fuzz of every provider normalizer and of the file source.

Each example starts from real pages of the bundled sample month
(``sample_data/recordings/<provider>``) or rows of its ledger export, lets
hypothesis break them — any field of any record (nested line items, money, dates,
currency, ids) replaced by a hostile JSON value, removed, or joined by an extra key;
a record replaced whole; a page's envelope or its bytes (invalid UTF-8, truncation,
deep nesting); a file's cells, columns and bytes — and reads the result the way a
run does, from a recording or a file named in a close:

* the *read* tests go through ``sources.load_source`` (recording → normalizer →
  canonical frames) and the canonical schema (``schema.validate_*``): cheap, so
  hypothesis tries many records;
* the *close* tests run ``pipeline.run`` on a config, as the CLI does (the default
  rule pack, parsed once for the module), and check the source's summary and findings.

What must hold: nothing is raised but an :class:`InputDataError` naming the source and
the page or file, and only where the page or file itself is unusable (not JSON, not
the documented envelope, not UTF-8, a broken CSV, a mapped column missing); otherwise
nothing vanishes: every record put in is read (``records_read``, identical repeats
counted apart), ``read = valid + quarantined`` along the source's whole count chain,
every quarantined record is named by its page and position (or file row) in a
``schema.*`` finding, and no message carries a traceback.

Examples are derandomized (the same every run, no example database): a failure in CI
is the failure on a laptop.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from reconcile import jsonio, pipeline, schema, sources
from reconcile.config import SourceConfig
from reconcile.errors import InputDataError
from reconcile.recording import write_recording

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
PERIOD = "period: {start: 2026-10-01, end: 2026-11-01}\n"
#: the same examples on every run, no example database: CI reproduces any failure
BASE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(examples: int) -> settings:
    return settings(BASE, max_examples=examples)


# --- JSON text with any number token -----------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text written verbatim into a page: a number token (``1e9999999``, 400 digits)
    or deep nesting that no Python value spells."""

    text: str


def dump(value: Any) -> str:
    """``value`` as JSON text: Decimals and Raw tokens as written, text escaped (a lone
    surrogate becomes a ``\\ud800`` escape, as a JavaScript encoder writes one)."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


def recorded(provider: str, name: str) -> Any:
    """A recorded page as values, numbers exact (Decimal), for ``dump`` to write back."""
    return jsonio.loads((SAMPLE / "recordings" / provider / name).read_bytes())


def shown(value: Any) -> str:
    text = dump(value)
    return text if len(text) <= 60 else f"{text[:40]}…({len(text)} chars)"


# --- hostile values ------------------------------------------------------------------------

TRICKY_TEXT = [
    "",
    " ",
    "  5 ",
    "1_000",
    "1,000",
    "1.000,50",
    "(150.65)",
    "١٢٣",  # Arabic-Indic digits
    "१२३",  # Devanagari digits
    "²",
    "five",
    "NaN",
    "Infinity",
    "-Infinity",
    "0x1F",
    "+5",
    "--5",
    "+-5",
    "5.",
    ".5",
    "1e9999999",
    "-1E+25",
    "-0",
    "-0.0",
    "0.30000000000000004",
    "100000000000000000000",
    "9" * 5000,
    "-9223372036854775809",
    "\x00",
    "USD\x00",
    "usd",
    "U S D",
    "ſ",
    "İ",
    "\u202eDSU",
    "a\r\nb",
    '"quoted", with comma',
    "=HYPERLINK()",
    "2026-10-01",
    "2026-10-01 12:00",
    "2026-10-01T00:00:00",
    "2026-10-01T00:00:00.1234567890123Z",
    "2026-13-45T99:99:99Z",
    "0001-01-01",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "STATUS_PAID",
    "PAID",
    "null",
    "true",
    "x" * 20_000,
]
NUMBER_TOKENS = [
    "1e9999999",
    "-1e9999999",
    "1E+25",
    "1e308",
    "1.7976931348623157e308",
    "5e-324",
    "-0",
    "-0.0",
    "0.1",
    "0.30000000000000004",
    "2099.9999999999995",
    "1e-7",
    "123456789012345678901234567890123456789012345",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "1" + "0" * 400,
    "0." + "0" * 100 + "1",
    "1E+2",
    "100.000",
    "253402300800",  # 10000-01-01 in epoch seconds
    "253402300799",  # 9999-12-31T23:59:59
    "-62135596800",  # 0001-01-01
    "-62135596801",  # before it
    "100000000000000000000",
    "1E+19",
    "1E+20",
    "1e24",
    "-9.99e23",
    "123456789012345678901234",
    "123456789012345678.123456789",
    "92233720368547758.07",
    "92233720368547758.08",
    "0.0000001",
    "1.1234567",
    "1e-40",
    "1e-41",
    "0E+9999",
]
#: a JSON number as the grammar allows it (any digits, fraction and exponent)
NUMBER_TEXT = r"-?(0|[1-9][0-9]{0,45})(\.[0-9]{1,45})?([eE][+-]?[0-9]{1,9})?"
#: a number as a careless export writes it
NUMBER_LIKE = r"[+-]?[0-9]{1,60}(\.[0-9]{0,30})?([eE][+-]?[0-9]{1,8})?"


def nested(depth: int, inner: str = "1") -> Raw:
    """Arrays and objects inside each other, ``depth`` deep (within the parser's limit)."""
    opening = "".join('{"a":' if i % 2 else "[" for i in range(depth))
    closing = "".join("}" if i % 2 else "]" for i in reversed(range(depth)))
    return Raw(opening + inner + closing)


#: text a JavaScript encoder writes when it cuts an emoji in two: a UTF-16 half, alone
#: (JSON escapes it as ``\ud83d``; it is not Unicode text)
HALVES = ["\ud83d", "inv-\ude00", "\ud83d\ud83d", "\ud83d\ude00"]
_EDGES = st.one_of(
    st.sampled_from(TRICKY_TEXT + HALVES),
    st.sampled_from(NUMBER_TOKENS).map(Raw),
    st.sampled_from(NUMBER_TOKENS),
    st.sampled_from([0, -1, 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**30, 10**31]),
)
#: text, numbers and literals; the hand-picked edges drawn as often as all the rest
SCALARS = st.one_of(
    _EDGES,
    _EDGES,
    _EDGES,
    st.text(max_size=30),
    st.from_regex(NUMBER_LIKE, fullmatch=True),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.from_regex(NUMBER_TEXT, fullmatch=True).map(Raw),
    st.none(),
    st.booleans(),
)
#: any JSON value a field might hold instead of its documented one
HOSTILE = st.one_of(
    SCALARS,
    st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=6,
    ),
    # (deep, not at the parser's limit: where that limit falls depends on the stack)
    st.one_of(st.integers(1, 900), st.sampled_from([500, 900])).map(nested),
    st.builds(lambda: ["x"] * 3000),
)
#: what a spreadsheet cell might hold instead of its documented value
CELLS = st.one_of(
    st.sampled_from(TRICKY_TEXT),
    st.sampled_from(NUMBER_TOKENS),
    st.sampled_from(NUMBER_TOKENS).map(lambda n: n.replace(".", ",")),
    st.text(max_size=30),
    st.from_regex(NUMBER_LIKE, fullmatch=True),
    st.integers().map(str),
    st.just(""),
)


# --- mutations ----------------------------------------------------------------------------------


def slots(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[Any, Any, str]]:
    """``(container, key, path)`` of every value inside ``value``, depth first (six levels)."""
    if depth >= 6 or not isinstance(value, dict | list):
        return
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in list(items):
        where = f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]"
        yield value, key, where
        yield from slots(child, where, depth + 1)


class Mutated:
    """Values as the fuzz left them, shown as the changes made: a failing example names
    what was changed, not 40 kB of invoices."""

    def __init__(self, values: list[Any], changes: list[str]) -> None:
        self.values, self.changes = values, changes

    def __repr__(self) -> str:
        return f"Mutated({'; '.join(self.changes) or 'as recorded'})"


ACTIONS = ("replace", "replace", "replace", "remove", "extra", "append")
#: one draw in ten changes, leaves out or adds something (the rest keep things as they are)
ROLL = ("keep",) * 4 + ("change", "leave out", "add") + ("keep",) * 3


def one_in(draw: st.DrawFn, n: int) -> bool:
    """True about once in ``n`` draws (hypothesis favours the ends of a range: the
    middle is the rare case)."""
    return draw(st.integers(0, n - 1)) == n // 2


def mutate(draw: st.DrawFn, record: Any, hot: frozenset[str], keep: frozenset[str]) -> list[str]:
    """Change one to three fields of ``record`` in place (replaced, removed, added, a list
    grown). ``hot``: the names the normalizer reads, chosen three times in four; ``keep``:
    names left as they are (what makes a page the page it is)."""
    changes = []
    for _ in range(draw(st.integers(1, 3))):
        every = [s for s in slots(record) if not (isinstance(s[1], str) and s[1] in keep)]
        if not every:
            break
        names = sorted({s[1] for s in every if s[1] in hot})
        if names and not one_in(draw, 4):  # a name first: each field as likely
            name = draw(st.sampled_from(names))
            every = [s for s in every if s[1] == name]
        container, key, path = draw(st.sampled_from(every))
        action = draw(st.sampled_from(ACTIONS))
        if action == "remove":
            del container[key]
            changes.append(f"{path} removed")
        elif action == "extra" and isinstance(container, dict):
            extra = draw(st.text(max_size=12).filter(lambda k, c=container: k not in c))
            container[extra] = value = draw(HOSTILE)
            changes.append(f"{path} beside {extra!r} = {shown(value)}")
        elif action == "append" and isinstance(container[key], list):
            container[key].append(value := draw(HOSTILE))
            changes.append(f"{path} += {shown(value)}")
        else:
            container[key] = value = draw(HOSTILE)
            changes.append(f"{path} = {shown(value)}")
    return changes


@st.composite
def some_mutated(draw: st.DrawFn, spec: Provider) -> Mutated:
    """``spec``'s records with some of them changed (rarely, one replaced whole)."""
    out = copy.deepcopy(spec.records)
    changes = []
    chosen = draw(st.sets(st.integers(0, len(out) - 1), min_size=1, max_size=len(out)))
    for i in sorted(chosen):
        if one_in(draw, 20):
            out[i] = value = draw(HOSTILE)
            changes.append(f"record {i} = {shown(value)}")
        else:
            changes += [f"record {i}{c}" for c in mutate(draw, out[i], spec.hot, spec.keep)]
    return Mutated(out, changes)


# --- the providers ------------------------------------------------------------------------------

#: the pages as written (parsed back, and their bytes) -> the records they hold; None:
#: a page is unusable
Count = Callable[[list[Any], list[bytes]], int | None]


@dataclass(frozen=True)
class Provider:
    """A provider's real records and how they make pages."""

    name: str
    records: list[Any]
    #: the field names its normalizer reads (the fuzz aims there three times in four)
    hot: frozenset[str]
    #: records -> write_recording pages
    pages: Callable[[list[Any]], list[dict[str, Any]]]
    count: Count
    options: dict[str, str]
    keep: frozenset[str] = frozenset()


def page(body: Any, url: str, **extra: Any) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else dump(body).encode()
    return {"body": raw, "url": url, **extra}


def listed_in(key: str) -> Count:
    """``{key: [...]}`` pages (``{}``: none, as proto3 and Connect send an empty list)."""

    def count(bodies: list[Any], raw: list[bytes]) -> int | None:
        total = 0
        for body in bodies:
            records = [] if body == {} else body.get(key) if isinstance(body, dict) else None
            if not isinstance(records, list):
                return None
            total += len(records)
        return total

    return count


def stripe_count(bodies: list[Any], raw: list[bytes]) -> int | None:
    ok = all(
        isinstance(b, dict) and b.get("object") == "list" and isinstance(b.get("data"), list)
        for b in bodies
    )
    return sum(len(b["data"]) for b in bodies) if ok else None


def amberflo_count(bodies: list[Any], raw: list[bytes]) -> int | None:
    total = 0
    for body in bodies:
        if isinstance(body, list):
            total += len(body)
        elif isinstance(body, dict) and "invoiceKey" in body:
            total += 1
        elif body not in (None, {}):
            return None
    return total


def commet_count(bodies: list[Any], raw: list[bytes]) -> int | None:
    """The list page's invoices and the detail pages of invoices it does not list (each
    id once; an identical repeat is counted apart, as the run counts it)."""
    listing, *details = bodies
    envelope = isinstance(listing, dict) and not {"error", "success"} & listing.keys()
    if not envelope or listing.get("object") != "list" or not isinstance(listing.get("data"), list):
        return None
    if not all(isinstance(d, dict) and isinstance(d.get("id"), str) for d in details):
        return None
    if any("error" in d for d in details):
        return None
    ids = [r.get("id") for r in listing["data"] if isinstance(r, dict)]
    unlisted = {d["id"] for d in details} - {i for i in ids if isinstance(i, str)}
    repeats = len(details) - len(set(raw[1:]))
    return len(listing["data"]) + len(unlisted) + repeats


F5_URL = "/api/web/namespaces/system/usage/invoices/custom_list"
FRONTIER_URL = "/raystack.frontier.v1beta1.FrontierService/ListInvoices"
STRIPE_URL = "/v1/invoices"
AMBERFLO_URL = "/payments/billing/customer-product-invoice/all"
COMMET_URL = "/api/v1/invoices"
#: Commet: the first invoices of the list page and their detail pages, and the detail
#: page of an invoice no list page has
COMMET_LISTED = 4
COMMET_DETAILS = (3, 4, 5, 6, 30)


def stripe_list(records: list[Any]) -> dict[str, Any]:
    return {"object": "list", "data": records, "has_more": False, "url": STRIPE_URL}


def commet_pages(records: list[Any]) -> list[dict[str, Any]]:
    listing = {"object": "list", "data": records[:COMMET_LISTED], "hasMore": False}
    details = records[COMMET_LISTED:]
    return [page(listing, COMMET_URL)] + [
        page(d, f"{COMMET_URL}/{n}", kind="detail") for n, d in enumerate(details)
    ]


def hot(*names: str) -> frozenset[str]:
    return frozenset(names)


PROVIDERS = {
    spec.name: spec
    for spec in (
        Provider(
            "f5xc",
            recorded("f5xc", "0001.json")["invoices"],
            hot("name", "currency", "amount", "status", "active", "period_start", "period_end"),
            lambda records: [page({"invoices": records}, F5_URL)],
            listed_in("invoices"),
            {"customer_id": "c"},
        ),
        Provider(
            "frontier",
            recorded("frontier", "0001.json")["invoices"][:6],
            hot(
                *("id", "currency", "amount", "state", "customer", "name", "provider_id"),
                *("customer_id", "period_start_at", "period_end_at", "effective_at"),
                *("created_at", "due_date"),
            ),
            lambda records: [page({"invoices": records}, FRONTIER_URL, method="POST")],
            listed_in("invoices"),
            {},
        ),
        Provider(
            "stripe",
            [
                *(recorded("stripe", "0001.json")["data"][i] for i in (1, 6, 9)),
                recorded("stripe", "0002.json")["data"][9],
                recorded("stripe", "0003.json")["data"][5],
            ],
            hot(
                *("id", "currency", "status", "number", "customer", "customer_name"),
                *("description", "status_transitions", "finalized_at", "total_taxes"),
                *("total_discount_amounts", "lines", "data", "has_more", "amount"),
                *("quantity", "quantity_decimal", "parent", "type", "discount_amounts"),
                *("discounts", "discount", "taxes", "tax_behavior", "pricing"),
                *("unit_amount_decimal", "period_start", "period_end", "effective_at"),
                *("due_date", "subtotal", "subtotal_excluding_tax", "amount_shipping"),
                *("total", "total_excluding_tax", "amount_due", "amount_paid"),
                *("amount_remaining", "starting_balance", "ending_balance"),
                *("pre_payment_credit_notes_amount", "post_payment_credit_notes_amount"),
            ),
            lambda records: [
                page(stripe_list(records[:3]), STRIPE_URL),
                page(stripe_list(records[3:]), STRIPE_URL),
            ],
            stripe_count,
            {},
        ),
        Provider(
            "amberflo",
            [*(r for n in (1, 2, 9, 13) for r in recorded("amberflo", f"{n:04d}.json"))],
            hot(
                *("invoiceKey", "customerId", "productId", "productPlanId", "year", "month"),
                *("day", "totalBill", "totalPriceBeforeDiscount", "totalDiscount"),
                *("prepaid", "totalPrice", "itemPrice", "fixPrice", "gracePeriodInHours"),
                *("invoiceStartTimeInSeconds", "invoiceEndTimeInSeconds", "paymentStatus"),
                *("invoicePriceStatus", "productItemInvoices", "productPlanFees"),
                *("appliedPromotions", "meterUnits", "price", "cost", "discount"),
                *("productItemId", "productItemName", "id", "name", "promotionId"),
                "promotionName",
            ),
            lambda records: [page(records[:3], AMBERFLO_URL), page(records[3:], AMBERFLO_URL)],
            amberflo_count,
            {"currency": "USD"},
        ),
        Provider(
            "commet",
            [
                *recorded("commet", "0001.json")["data"][:COMMET_LISTED],
                *(recorded("commet", f"{n:04d}.json") for n in COMMET_DETAILS),
            ],
            hot(
                *("id", "currency", "status", "invoiceNumber", "customerId", "memo"),
                *("creditApplied", "subtotal", "discountAmount", "taxAmount", "total"),
                *("periodStart", "periodEnd", "issueDate", "dueDate", "lineItems"),
                *("lineType", "description", "quantity", "unitAmount", "amount"),
            ),
            commet_pages,
            commet_count,
            {},
            # what makes a detail page an invoice, not an envelope (the page fuzz's)
            keep=frozenset({"success", "data", "object", "error"}),
        ),
    )
}


# --- reading and closing, checked ------------------------------------------------------------


def written(pages: list[dict[str, Any]]) -> list[Any] | None:
    """The pages as the tool will parse them (None: one is not JSON it reads)."""
    try:
        return [jsonio.loads(p["body"]) if p["body"].strip() else None for p in pages]
    except jsonio.JSONError:
        return None


def expected_records(spec: Provider, pages: list[dict[str, Any]]) -> int | None:
    bodies = written(pages)
    return None if bodies is None else spec.count(bodies, [p["body"] for p in pages])


def recording(folder: Path, spec: Provider, pages: list[dict[str, Any]]) -> list[str]:
    """Write the recording; the pages as the run's messages name them."""
    write_recording(folder / "rec", spec.name, pages)
    return [f"rec/{n:04d}.json" for n in range(1, len(pages) + 1)]


def refused(exc: InputDataError, expected: int | None, where: list[str]) -> None:
    """A page the run refused: it must be one the test counts as unusable, named."""
    event("refused", exc.message.split(":")[2][:60])
    assert expected is None, f"a usable page stopped the run ({expected} records): {exc}"
    assert exc.source == "src", exc
    assert any(exc.location.endswith(p) for p in where), exc
    assert "Traceback" not in str(exc), exc


def a_record_of(pages: list[str]) -> Callable[[str], bool]:
    return lambda location: location.rsplit(" record ", 1)[0] in pages


def read_case(spec: Provider, pages: list[dict[str, Any]]) -> None:
    """The read path of a run: recording → normalizer → canonical frames → schema."""
    expected = expected_records(spec, pages)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        where = recording(folder, spec, pages)
        cfg = SourceConfig(
            "src", spec.name, "period_start", recording=folder / "rec", options=spec.options
        )
        try:
            loaded = sources.load_source(cfg, folder)
        except InputDataError as exc:
            refused(exc, expected, [*where, "rec/manifest.json"])
            return
    out = loaded.normalized
    event("records rejected", f"{len(out.rejects)} of {out.records_read}")
    if expected is not None:
        assert out.records_read + out.duplicates_dropped == expected, out
    assert out.records_read == loaded.invoices.height + len(out.rejects)
    rejected = [r.location for r in out.rejects]
    assert len(set(rejected)) == len(rejected) and all(map(a_record_of(where), rejected))
    assert all("Traceback" not in r.reason and r.reason for r in out.rejects)
    invoices = schema.validate_invoices(loaded.invoices, out.provided, out.nullable)
    failed = invoices.failures.get_column("row").n_unique()
    assert invoices.valid.height + failed == loaded.invoices.height
    assert isinstance(loaded.lines, pl.DataFrame)
    lines = schema.validate_lines(loaded.lines)
    assert lines.valid.height + lines.quarantined.height == loaded.lines.height


@pytest.fixture(autouse=True, scope="module")
def _rules_parsed_once() -> Iterator[None]:
    """The default rule pack parsed once for the module (half of a small close is its
    YAML): every close still runs the pipeline as the CLI does, on the same rules."""
    parsed_rules: dict[tuple[Path, ...], list[Any]] = {}
    load = pipeline.load_rules

    def cached(paths: Sequence[Path]) -> list[Any]:
        key = tuple(paths)
        if key not in parsed_rules:
            parsed_rules[key] = load(paths)
        return parsed_rules[key]

    with mock.patch.object(pipeline, "load_rules", cached):
        yield


def close(folder: Path, source: str) -> pipeline.RunResult | InputDataError:
    """``pipeline.run`` of a close of one source (its config line ``source``)."""
    config = folder / "close.yaml"
    config.write_text(PERIOD + f"sources:\n  src: {source}\n", encoding="utf-8")
    try:
        return pipeline.run(config)
    except InputDataError as exc:
        return exc


def close_case(spec: Provider, pages: list[dict[str, Any]]) -> None:
    """The whole close, as the CLI runs it, of one provider source."""
    expected = expected_records(spec, pages)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        where = recording(folder, spec, pages)
        options = ", ".join(f"{k}: {v}" for k, v in spec.options.items())
        result = close(folder, f"{{provider: {spec.name}, recording: rec, options: {{{options}}}}}")
    if isinstance(result, InputDataError):
        refused(result, expected, [*where, "rec/manifest.json"])
        return
    check_summary(result, expected, a_record_of(where))


def check_summary(
    result: pipeline.RunResult, records: int | None, names_a_record: Callable[[str], bool]
) -> None:
    """Nothing vanished: every record read, each valid or named in a schema finding."""
    (summary,) = result.sources
    event("records quarantined", f"{summary.quarantined} of {summary.records_read}")
    if records is not None:
        assert summary.records_read + summary.identical_repeats_dropped == records, summary
    assert summary.records_read == summary.valid + summary.quarantined, summary
    assert summary.valid == summary.out_of_period + summary.in_period, summary
    assert summary.in_period == summary.checked + summary.repeated_ids + summary.drafts, summary
    assert summary.lines_read == summary.lines_valid + summary.lines_quarantined, summary
    rule, location = pl.col("rule_id"), pl.col("location")
    invoice_level = result.findings.filter(
        rule.str.starts_with("schema.")
        & ~rule.str.starts_with("schema.line.")
        & location.map_elements(names_a_record, return_dtype=pl.Boolean)
    )
    named = set(invoice_level.get_column("location").to_list())
    assert len(named) == summary.quarantined, (sorted(named), summary)
    for message in result.findings.get_column("message").to_list():
        assert message and "Traceback" not in message and 'File "' not in message, message


# --- record-level fuzz: every provider ------------------------------------------------------


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@fuzz(150)
@given(data=st.data())
def test_fuzz_records_read(provider: str, data: st.DataObject) -> None:
    """Any field of any record broken: each record read is valid or a located reject."""
    spec = PROVIDERS[provider]
    read_case(spec, spec.pages(data.draw(some_mutated(spec), label="records").values))


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@fuzz(20)
@given(data=st.data())
def test_fuzz_records_closed(provider: str, data: st.DataObject) -> None:
    """The same through the whole close: the source's count chain holds, every
    quarantined record is named in a finding, no message is a traceback."""
    spec = PROVIDERS[provider]
    close_case(spec, spec.pages(data.draw(some_mutated(spec), label="records").values))


# --- page-level fuzz: envelopes and bytes -----------------------------------------------------

BAD_UTF8 = [
    b"\xff",
    b"\x80",
    b"\xc3\x28",
    b"\xc0\xaf",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
]
#: escapes of UTF-16 halves: a lone one (a JavaScript encoder cutting an emoji in two)
#: or a proper pair
SURROGATES = ["\\ud83d", "\\ude00", "\\ud83d\\ud83d", "\\ud83d\\ude00"]
BODIES = [b"", b"   ", b"null", b"{}", b"[]", b'""', b"0", b"<html>502 Bad Gateway</html>"]
ENVELOPE_KEYS = ["invoices", "data", "object", "success", "error", "code", "message", "id"]


class Broken:
    """Pages with one broken, shown as what was done to it."""

    def __init__(self, pages: list[dict[str, Any]], change: str) -> None:
        self.pages, self.change = pages, change

    def __repr__(self) -> str:
        return f"Broken({self.change})"


def envelope(draw: st.DrawFn, body: Any) -> tuple[Any, str]:
    """The page's own keys changed (not its records'): replaced, removed or added."""
    if not isinstance(body, dict) or not body or draw(st.booleans()):
        key = draw(st.sampled_from(ENVELOPE_KEYS))
        value = draw(st.one_of(HOSTILE, st.just({"code": "x", "message": "y"})))
        body = {**body, key: value} if isinstance(body, dict) else {key: value}
        return body, f"{key} = {shown(value)}"
    key = draw(st.sampled_from(sorted(body)))
    if draw(st.booleans()):
        return {k: v for k, v in body.items() if k != key}, f"{key} removed"
    value = draw(HOSTILE)
    return {**body, key: value}, f"{key} = {shown(value)}"


@st.composite
def broken_pages(draw: st.DrawFn, spec: Provider) -> Broken:
    """``spec``'s pages as recorded, one of them broken in its bytes or its envelope."""
    pages = spec.pages(spec.records)
    n = draw(st.integers(0, len(pages) - 1))
    body: bytes = pages[n]["body"]
    how = draw(st.sampled_from(["cut", "utf-8", "surrogate", "bom", "body", "envelope", "wrap"]))
    at = draw(st.integers(0, len(body)))
    if how == "cut":
        new, change = body[:at], f"cut at byte {at}"
    elif how == "utf-8":
        bad = draw(st.sampled_from(BAD_UTF8))
        new, change = body[:at] + bad + body[at:], f"{bad!r} at byte {at}"
    elif how == "surrogate":
        starts = [i + 1 for i in range(len(body) - 1) if body[i : i + 2] == b':"']
        at = draw(st.sampled_from(starts))
        escape = draw(st.sampled_from(SURROGATES))
        new, change = body[:at] + escape.encode() + body[at:], f"{escape} at byte {at}"
    elif how == "bom":
        new, change = b"\xef\xbb\xbf" + body, "a BOM before it"
    elif how == "body":
        new = draw(st.one_of(st.sampled_from(BODIES), HOSTILE.map(lambda v: dump(v).encode())))
        change = f"body {new[:40]!r}"
    elif how == "envelope":
        value, change = envelope(draw, jsonio.loads(body))
        new = dump(value).encode()
    else:
        depth = draw(st.sampled_from([1, 3, 2000, 100_000]))
        new, change = b"[" * depth + body + b"]" * depth, f"inside {depth} arrays"
    pages[n] = {**pages[n], "body": new}
    return Broken(pages, f"page {n + 1}: {change}")


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
@fuzz(60)
@given(data=st.data())
def test_fuzz_pages(provider: str, data: st.DataObject) -> None:
    """A page broken in its bytes or its envelope: refused with exit 3 naming source and
    page where it is unusable; read in full (every record counted) where it is not."""
    spec = PROVIDERS[provider]
    read_case(spec, data.draw(broken_pages(spec), label="pages").pages)


# --- the file source: ledger exports ------------------------------------------------------------

#: canonical column -> the export's column
LEDGER = {
    "invoice_id": "entry_id",
    "issued_at": "posted_on",
    "due_at": "due_on",
    "origin_system": "source_system",
    "external_ref": "reference",
    "customer_name": "customer",
    "currency": "currency",
    "status": "state",
    "subtotal_minor": "net",
    "tax_minor": "tax",
    "total_minor": "amount",
    "memo": "memo",
}
LINES = {
    "invoice_id": "entry_id",
    "line_id": "line",
    "description": "what",
    "quantity": "qty",
    "unit_amount": "unit_price",
}
NUMBER_FORMATS = [
    None,
    {"decimal": ",", "group": "."},
    {"group": ",", "parentheses": True},
    {"exponent": True},
]


def ledger_rows() -> list[dict[str, str]]:
    """The sample ledger's first rows, with a due date, a status, a subtotal and tax."""
    with (SAMPLE / "ledger.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:5]
    extra = {"due_on": "2026-11-15", "state": "open", "tax": "0.00"}
    return [{**row, **extra, "net": row["amount"]} for row in rows]


LEDGER_ROWS = ledger_rows()


class Export:
    """A ledger export (and maybe its lines) as files, shown as what was changed."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.source: dict[str, Any] = {}
        self.rows = 0
        self.lines = 0
        self.usable = True  # False: a whole-file problem the run may refuse (exit 3)
        self.changes: list[str] = []

    def __repr__(self) -> str:
        return f"Export({'; '.join(self.changes)})"


def cells(draw: st.DrawFn, rows: list[dict[str, Any]], out: Export, what: str) -> None:
    """Some cells replaced by hostile text; maybe a column added or one taken away."""
    for _ in range(draw(st.integers(1, 6))):
        row = draw(st.integers(0, len(rows) - 1))
        column = draw(st.sampled_from(sorted(rows[row])))
        rows[row][column] = value = draw(CELLS)
        out.changes.append(f"{what} row {row} {column} = {shown(value)}")
    if one_in(draw, 4):
        name = draw(st.text(min_size=1, max_size=10).filter(lambda n: n not in rows[0]))
        for row in rows:
            row[name] = draw(CELLS)
        out.changes.append(f"{what}: extra column {name!r}")
    if one_in(draw, 10):
        column = draw(st.sampled_from(sorted(rows[0])))
        for row in rows:
            del row[column]
        out.usable = False
        out.changes.append(f"{what}: column {column!r} missing")


def as_csv(rows: list[dict[str, Any]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode()


def as_json(draw: st.DrawFn, rows: list[dict[str, Any]], out: Export) -> bytes:
    """Rows as a JSON export: some values any JSON value, some keys left out of a row."""
    for row in rows:
        for column in list(row):
            roll = draw(st.sampled_from(ROLL))
            if roll == "change":
                row[column] = value = draw(HOSTILE)
                out.changes.append(f"{row.get('entry_id')!r} {column} = {shown(value)}")
            elif roll == "leave out":
                del row[column]
                out.changes.append(f"{row.get('entry_id')!r} {column} left out")
    return dump(rows).encode()


def damaged(draw: st.DrawFn, data: bytes, out: Export) -> bytes:
    """Now and then, the file's bytes broken: cut, not UTF-8, or a BOM (which is fine)."""
    roll = draw(st.sampled_from(ROLL))
    at = draw(st.integers(0, len(data)))
    if roll == "change":
        out.usable = False
        out.changes.append(f"cut at byte {at}")
        return data[:at]
    if roll == "leave out":
        out.usable = False
        bad = draw(st.sampled_from(BAD_UTF8))
        out.changes.append(f"{bad!r} at byte {at}")
        return data[:at] + bad + data[at:]
    if roll == "add":
        out.changes.append("a BOM")
        return b"\xef\xbb\xbf" + data
    return data


@st.composite
def exports(draw: st.DrawFn) -> Export:
    out = Export()
    fmt = draw(st.sampled_from(["csv", "json"]))
    amounts = draw(st.sampled_from(["major", "minor"]))
    rows = [
        {**r, **{k: r[k].replace(".", "") for k in ("amount", "net", "tax")}}
        if amounts == "minor"
        else dict(r)
        for r in LEDGER_ROWS
    ]
    cells(draw, rows, out, "ledger")
    data = as_csv(rows) if fmt == "csv" else as_json(draw, rows, out)
    if fmt == "json" and written([{"body": data}]) is None:
        out.usable = False  # not JSON the tool reads (a UTF-16 half alone): a file problem
    out.files[f"ledger.{fmt}"] = damaged(draw, data, out)
    out.rows = len(rows)
    out.source = {"provider": "file", "path": f"ledger.{fmt}", "amounts": amounts}
    out.source["columns"] = {c: f for c, f in LEDGER.items()}
    numbers = draw(st.sampled_from(NUMBER_FORMATS))
    if numbers is not None:
        out.source["number_format"] = numbers
        out.changes.append(f"number_format {numbers}")
    if draw(st.booleans()):
        lines = [
            {"entry_id": r["entry_id"], "line": f"L{i}", "what": "x", "qty": "2", "unit_price": "1"}
            for i, r in enumerate(LEDGER_ROWS)
        ]
        cells(draw, lines, out, "lines")
        out.files["lines.csv"] = damaged(draw, as_csv(lines), out)
        out.lines = len(lines)
        out.source["lines"] = {"path": "lines.csv", "columns": LINES}
    return out


@fuzz(60)
@given(exports())
def test_fuzz_file_source(export: Export) -> None:
    """A ledger export (CSV or JSON, and maybe a lines CSV) with hostile cells, columns
    added or missing, bytes broken: a whole-file problem is exit 3 naming the file; else
    every row is read and is valid or named, by its row, in a finding."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, data in export.files.items():
            (folder / name).write_bytes(data)
        result = close(folder, json.dumps(export.source))
    invoices = export.source["path"]
    if isinstance(result, InputDataError):
        assert not export.usable, f"a usable export stopped the run: {result}"
        assert result.source == "src" and Path(result.location).name in export.files, result
        return
    first = 2 if invoices.endswith(".csv") else 0  # a CSV's header is row 1
    rows = {f"{invoices} row {n}" for n in range(first, first + export.rows)}
    check_summary(result, export.rows if export.usable else None, rows.__contains__)
    (summary,) = result.sources
    if export.lines and export.usable:
        assert summary.lines_read == export.lines, summary
