from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.errors import InputDataError
from reconcile.money import INT64_MAX, INT64_MIN
from reconcile.providers import f5xc
from reconcile.providers.registry import NORMALIZERS
from reconcile.schema import ALWAYS_PROVIDED

from .conftest import by_id, check_invariants, json_page, raw_page, sample_json, sample_page

SAMPLE = "f5xc_list_invoices.json"


PERIOD = {"period_start": "2026-07-01T00:00:00Z", "period_end": "2026-08-01T00:00:00Z"}


def _one(record: dict[str, Any], *, validate: bool = True) -> dict[str, Any]:
    out = f5xc.normalize([json_page({"invoices": [record]}, "mem://f5")], "f5", {})
    check_invariants(out, validate=validate)
    assert not out.rejects, out.rejects
    return out.invoices[0]


def test_registered() -> None:
    assert NORMALIZERS["f5xc"] is f5xc.normalize
    assert f5xc.PROVIDER == "f5xc"


def test_sample_rows_exact() -> None:
    page = sample_page(SAMPLE)
    out = f5xc.normalize([page], "f5", {})
    check_invariants(out)
    assert out.records_read == 3 and not out.rejects and out.duplicates_dropped == 0
    assert [r["invoice_id"] for r in out.invoices] == [
        "inv-acme-2026-08",
        "inv-acme-2026-07",
        "inv-acme-2026-06",
    ]
    rows = by_id(out)
    running = rows["inv-acme-2026-08"]
    assert running["total_minor"] == 48213
    assert running["currency"] == "USD"
    assert (running["status"], running["raw_status"]) == ("draft", "STATUS_PENDING")
    assert running["period_start"] == datetime(2026, 8, 1, tzinfo=UTC)
    # nanoseconds (…59.999999999Z) truncated to microseconds, never rounded up to the next day
    assert running["period_end"] == datetime(2026, 8, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert running["source"] == "f5"
    assert running["record_ref"] == f"{page.location} record 0"
    assert running["customer_id"] is None
    assert (rows["inv-acme-2026-07"]["status"], rows["inv-acme-2026-07"]["total_minor"]) == (
        "paid",
        129900,
    )
    overdue = rows["inv-acme-2026-06"]
    assert (overdue["status"], overdue["raw_status"]) == ("open", "OVERDUE")
    assert overdue["record_ref"].endswith("record 2")


def test_provided_and_no_lines() -> None:
    out = f5xc.normalize([sample_page(SAMPLE)], "f5", {})
    assert out.provided == ALWAYS_PROVIDED | {
        "raw_status",
        "total_minor",
        "period_start",
        "period_end",
    }
    for column in ("subtotal_minor", "tax_minor", "discount_minor", "customer_id", "due_at"):
        assert column not in out.provided
    assert out.has_lines is False and out.lines == []


def test_tenant_is_the_customer() -> None:
    out = f5xc.normalize([sample_page(SAMPLE)], "f5", {"customer_id": "acme"})
    check_invariants(out)
    assert "customer_id" in out.provided
    assert {r["customer_id"] for r in out.invoices} == {"acme"}


@pytest.mark.parametrize(
    ("status", "active", "expected"),
    [
        ("STATUS_ISSUED", False, "open"),
        ("OVERDUE", False, "open"),
        ("STATUS_PAID", False, "paid"),
        ("STATUS_CANCELLED", False, "void"),
        ("STATUS_REFUNDED", False, "refunded"),
        ("STATUS_PENDING", False, "draft"),
        ("STATUS_UNKNOWN", False, "unknown"),
        ("STATUS_ISSUED", True, "draft"),  # active = not finalised
        ("STATUS_UNKNOWN", True, "draft"),
        ("STATUS_PAID", True, "paid"),
        ("STATUS_CANCELLED", True, "void"),
        ("status_paid", False, "paid"),  # case-insensitive
        ("overdue", False, "open"),
    ],
)
def test_status_mapping(status: str, active: bool, expected: str) -> None:
    record = {"name": "i", "currency": "USD", "status": status, "active": active, **PERIOD}
    row = _one(record)
    assert (row["status"], row["raw_status"]) == (expected, status)


def test_unknown_status_is_kept_raw() -> None:
    row = _one({"name": "i", "currency": "usd", "status": "STATUS_DISPUTED", **PERIOD})
    assert (row["status"], row["raw_status"]) == ("unknown", "STATUS_DISPUTED")
    assert row["currency"] == "USD"


def test_proto3_defaults_when_omitted() -> None:
    row = _one({"name": "i", "currency": "EUR"}, validate=False)
    assert row["total_minor"] == 0
    assert (row["status"], row["raw_status"]) == ("unknown", None)
    assert row["period_start"] is None


def test_bad_records_become_rejects_and_the_rest_is_kept() -> None:
    good = sample_json(SAMPLE)["invoices"][1]
    bad = [
        ({**good, "name": "a", "amount": "12.5"}, "'12.5'"),
        ({**good, "name": "b", "amount": "99999999999999999999"}, "64-bit"),
        ({**good, "name": "c", "amount": 12.5}, "amount"),
        ({k: v for k, v in good.items() if k != "currency"}, "currency"),
        ({**good, "name": None}, "'name'"),
        ({**good, "name": 7}, "'name'"),
        ({**good, "name": "d", "period_end": "31/07/2026"}, "period_end"),
        ({**good, "name": "e", "active": "yes"}, "active"),
        ("not an object", "not a JSON object"),
    ]
    page = json_page({"invoices": [good] + [record for record, _ in bad]}, "rec/0001.json")
    out = f5xc.normalize([page], "f5", {})
    check_invariants(out)
    assert [r["invoice_id"] for r in out.invoices] == ["inv-acme-2026-07"]
    assert out.records_read == 1 + len(bad) == len(out.invoices) + len(out.rejects)
    for index, (reject, (_, needle)) in enumerate(zip(out.rejects, bad, strict=True), start=1):
        assert reject.location == f"rec/0001.json record {index}"
        assert needle in reject.reason
        assert reject.source == "f5"
    assert out.rejects[0].invoice_id == "a"


def test_not_json_page_names_its_location() -> None:
    page = raw_page(b"<html>502 Bad Gateway</html>", "rec/0002.json")
    with pytest.raises(InputDataError, match=r"rec/0002\.json.*not valid JSON") as info:
        f5xc.normalize([page], "f5", {})
    assert info.value.exit_code == 3


@pytest.mark.parametrize("body", [{"data": []}, {"invoices": {}}, [], None, "invoices"])
def test_wrong_envelope(body: Any) -> None:
    with pytest.raises(InputDataError, match=r"rec/0003\.json.*documented shape"):
        f5xc.normalize([json_page(body, "rec/0003.json")], "f5", {})


def test_empty_proto3_page_means_no_invoices() -> None:
    out = f5xc.normalize([json_page({}, "rec/0001.json")], "f5", {})
    assert (out.invoices, out.rejects, out.records_read) == ([], [], 0)


def test_identical_records_across_pages_are_dropped_once() -> None:
    out = f5xc.normalize([sample_page(SAMPLE), sample_page(SAMPLE)], "f5", {})
    check_invariants(out)
    assert len(out.invoices) == 3 and out.duplicates_dropped == 3


def test_same_id_different_content_is_kept_twice() -> None:
    changed = sample_json(SAMPLE)
    changed["invoices"][0]["amount"] = "48214"
    out = f5xc.normalize([sample_page(SAMPLE), json_page(changed, "p2")], "f5", {})
    assert out.duplicates_dropped == 2
    assert [r["total_minor"] for r in out.invoices if r["invoice_id"] == "inv-acme-2026-08"] == [
        48213,
        48214,
    ]


@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
def test_int64_string_amounts_round_trip(amount: int) -> None:
    record = {"name": "i", "currency": "USD", "amount": str(amount), **PERIOD}
    row = _one(record, validate=False)
    assert row["total_minor"] == amount and type(row["total_minor"]) is int


@given(st.integers(min_value=INT64_MAX + 1, max_value=2**80) | st.integers(max_value=INT64_MIN - 1))
def test_amounts_beyond_int64_are_rejected(amount: int) -> None:
    page = json_page({"invoices": [{"name": "i", "currency": "USD", "amount": str(amount)}]}, "p")
    out = f5xc.normalize([page], "f5", {})
    assert out.invoices == [] and "64-bit" in out.rejects[0].reason
