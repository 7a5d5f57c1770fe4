from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.errors import InputDataError
from reconcile.money import INT64_MAX, INT64_MIN
from reconcile.providers import frontier
from reconcile.providers._base import Normalized, Page
from reconcile.providers.registry import NORMALIZERS
from reconcile.schema import ALWAYS_PROVIDED

from .conftest import by_id, check_invariants, json_page, raw_page, sample_json, sample_page

REST = "frontier_list_invoices_rest_v0.90.json"
CONNECT = "frontier_list_invoices_connect_v0.91plus.json"
EXPANDED = "frontier_list_invoices_rest_v0.90_expand_customer.json"
DRAFT, PAID = "0f9e8d7c-6b5a-4948-8372-6150f4e3d2c1", "c1a7e3d2-4b5f-4a6e-9d8c-7b6a5f4e3d2c"
CUSTOMER = "5b2f8a64-1c3d-4e5f-8a9b-0c1d2e3f4a5b"
COLUMNS = {
    "external_ref",
    "customer_id",
    "raw_status",
    "total_minor",
    "period_start",
    "period_end",
    "issued_at",
    "due_at",
}


def _run(*pages: Page) -> Normalized:
    out = frontier.normalize(list(pages), "fr", {})
    check_invariants(out)
    return out


def _paid(**changes: Any) -> Page:
    record = {**sample_json(CONNECT)["invoices"][1], **changes}
    return json_page({"invoices": [record]}, "mem://frontier.json")


def test_registered() -> None:
    assert NORMALIZERS["frontier"] is frontier.normalize


def test_rest_sample_exact() -> None:
    page = sample_page(REST)
    out = _run(page)
    assert out.records_read == 2 and not out.rejects and out.has_lines is False
    assert out.provided == ALWAYS_PROVIDED | COLUMNS
    for column in ("subtotal_minor", "tax_minor", "discount_minor", "customer_name"):
        assert column not in out.provided
    paid = by_id(out)[PAID]
    assert paid["external_ref"] == "in_1PqRsT2eZvKYlo2CAbCdEfGh"
    assert (paid["customer_id"], paid["customer_name"]) == (CUSTOMER, None)
    assert (paid["currency"], paid["total_minor"]) == ("USD", 4900)
    assert (paid["status"], paid["raw_status"]) == ("paid", "paid")
    assert paid["period_start"] == datetime(2026, 7, 1, tzinfo=UTC)
    assert paid["period_end"] == datetime(2026, 8, 1, tzinfo=UTC)
    assert paid["issued_at"] == datetime(2026, 8, 1, 1, 2, 3, tzinfo=UTC)  # effective_at
    assert paid["due_at"] == datetime(2026, 8, 8, tzinfo=UTC)
    assert paid["record_ref"] == f"{page.location} record 1"
    draft = by_id(out)[DRAFT]
    assert (draft["status"], draft["total_minor"]) == ("draft", 0)  # amount "0"
    assert draft["issued_at"] == datetime(2026, 8, 14, 10, 20, 30, tzinfo=UTC)  # created_at
    assert draft["due_at"] is None
    assert out.lines == []


def test_rest_and_connect_give_identical_rows() -> None:
    rest, connect = _run(sample_page(REST)), _run(sample_page(CONNECT))

    def canonical(out: Normalized) -> dict[str, dict[str, Any]]:
        return {
            iid: {k: v for k, v in row.items() if k not in ("record_ref", "source")}
            for iid, row in by_id(out).items()
        }

    assert canonical(rest) == canonical(connect)
    assert rest.provided == connect.provided
    # Connect omitted the zero amount of the draft: still 0, not null
    assert "amount" not in sample_json(CONNECT)["invoices"][0]
    assert by_id(connect)[DRAFT]["total_minor"] == 0


def test_expanded_customer_name() -> None:
    out = _run(sample_page(EXPANDED))
    assert out.invoices[0]["customer_name"] == "Acme Corp"
    assert out.provided == ALWAYS_PROVIDED | COLUMNS | {"customer_name"}


def test_empty_connect_page_means_no_invoices() -> None:
    out = _run(json_page({}, "rec/0001.json"), json_page({"invoices": []}, "rec/0002.json"))
    assert (out.invoices, out.rejects, out.records_read) == ([], [], 0)
    # ProtoJSON: null for a repeated field is its default, the empty list
    out = _run(json_page({"invoices": None}, "rec/0003.json"))
    assert (out.invoices, out.rejects, out.records_read) == ([], [], 0)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("frontier_error_rest_v0.90.json", "5: customer not found"),
        ("frontier_error_connect_v0.91plus.json", "invalid_argument: invalid syntax in body"),
    ],
)
def test_error_bodies_stop_the_run(name: str, needle: str) -> None:
    page = sample_page(name)
    with pytest.raises(InputDataError, match=needle) as info:
        _run(page)
    assert page.location in str(info.value)


def test_not_json_and_wrong_envelope() -> None:
    with pytest.raises(InputDataError, match=r"rec/0001\.json: page is not valid JSON"):
        _run(raw_page(b"upstream connect error", "rec/0001.json"))
    with pytest.raises(InputDataError, match="documented shape"):
        _run(json_page({"invoices": {}}, "rec/0002.json"))
    with pytest.raises(InputDataError, match="documented shape"):
        _run(json_page([{"id": "x"}], "rec/0003.json"))


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("open", "open"),
        ("void", "void"),
        ("uncollectible", "uncollectible"),
        ("PAID", "paid"),
        ("deleted", "unknown"),
    ],
)
def test_state_mapping(state: str, expected: str) -> None:
    row = _run(_paid(state=state)).invoices[0]
    assert (row["status"], row["raw_status"]) == (expected, state)


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [("jpy", "4900", 4900), ("isk", "50000", 500), ("mga", "5000", 500000), ("kwd", "4900", 4900)],
)
def test_stripe_minor_units_rescaled_to_iso(currency: str, amount: str, expected: int) -> None:
    row = _run(_paid(currency=currency, amount=amount)).invoices[0]
    assert (row["currency"], row["total_minor"]) == (currency.upper(), expected)


def test_bad_records_become_rejects() -> None:
    good = sample_json(CONNECT)["invoices"][1]
    bad = [
        ({**good, "id": "a", "amount": "12.5"}, "'12.5'"),
        ({**good, "id": "b", "amount": "99999999999999999999"}, "64-bit"),
        ({k: v for k, v in good.items() if k != "currency"}, "'currency'"),
        ({**good, "id": "c", "currency": ""}, "no currency"),
        ({**good, "id": "d", "currency": "isk", "amount": "50050"}, "not a whole ISO minor unit"),
        ({**good, "id": "e", "due_date": "2026-08-08"}, "due_date"),
        ({**good, "id": "f", "customer": "acme"}, "'customer'"),
        # what ProtoJSON refuses (issue 13)
        ({**good, "id": "g", "amount": " 5"}, "not an int64"),
        ({**good, "id": "h", "amount": "+5"}, "not an int64"),
        ({**good, "id": ""}, "missing required field 'id'"),
        ({**good, "id": "i", "created_at": "2026-08-01T00:00:12"}, "'created_at'"),  # unused
        ({**good, "id": "j", "period_start_at": "2026-07-01T00:00:00.Z"}, "'period_start_at'"),
        ({**good, "id": "k", "dueDate": "2026-08-08T00:00:00Z"}, "'due_date' is sent twice"),
        ({**good, "id": "l", "customer": {"name": 5}}, "customer: field 'name'"),
    ]
    page = json_page({"invoices": [good] + [r for r, _ in bad]}, "rec/0004.json")
    out = _run(page)
    assert [r["invoice_id"] for r in out.invoices] == [PAID]
    assert out.records_read == 1 + len(bad) == len(out.invoices) + len(out.rejects)
    for index, (reject, (_, needle)) in enumerate(zip(out.rejects, bad, strict=True), start=1):
        assert reject.location == f"rec/0004.json record {index}"
        assert needle in reject.reason, reject.reason


def test_lower_camel_case_names_read_as_proto_names() -> None:
    """A ProtoJSON parser accepts a field's json_name (``dueDate``) as well as its proto
    name: the same invoice under either gives the same row (issue 13)."""
    good = sample_json(CONNECT)["invoices"][1]
    camel = {
        (k.split("_")[0] + "".join(p.capitalize() for p in k.split("_")[1:])): v
        for k, v in good.items()
    }
    assert {"dueDate", "periodStartAt", "providerId", "customerId"} <= camel.keys()
    rows = [_run(json_page({"invoices": [r]}, "rec/0001.json")).invoices[0] for r in (good, camel)]
    assert rows[0] == rows[1]


@pytest.mark.parametrize(
    "amount", [b'"4900"', b"4900", b'"4.9e3"', b"4.9e3", b'"4900.0"', b"49E+2", b'"4900e0"']
)
def test_int64_in_the_forms_protojson_accepts(amount: bytes) -> None:
    """A string or a number, exponent notation or a zero fraction (issue 13)."""
    body = b'{"invoices": [{"id": "x", "currency": "usd", "amount": ' + amount + b"}]}"
    assert _run(raw_page(body, "rec/0001.json")).invoices[0]["total_minor"] == 4900


def test_identical_records_across_pages_dropped() -> None:
    out = _run(sample_page(REST), sample_page(REST))
    assert len(out.invoices) == 2 and out.duplicates_dropped == 2
    # the expanded page has different content for the same id: kept, not merged
    both = _run(sample_page(REST), sample_page(EXPANDED))
    assert [r["invoice_id"] for r in both.invoices].count(PAID) == 2
    # the name is sent (provided); invoices fetched without expand=customer have none
    assert "customer_name" in both.provided
    assert [r["customer_name"] for r in both.invoices] == [None, None, "Acme Corp"]


@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
def test_int64_amount_strings_round_trip(amount: int) -> None:
    out = frontier.normalize([_paid(amount=str(amount))], "fr", {})
    assert out.invoices[0]["total_minor"] == amount
