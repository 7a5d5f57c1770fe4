from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.errors import InputDataError
from reconcile.providers import commet
from reconcile.providers._base import Normalized, Page
from reconcile.providers.registry import NORMALIZERS
from reconcile.schema import ALWAYS_PROVIDED

from .conftest import (
    by_id,
    check_invariants,
    json_page,
    lines_of,
    raw_page,
    sample_json,
    sample_page,
)

LIST_0711 = "commet_list_invoices_v2026-07-11.json"
GET_0711 = "commet_get_invoice_v2026-07-11.json"
LIST_0731 = "commet_list_invoices_v2026-07-31.json"
GET_0731 = "commet_get_invoice_v2026-07-31.json"
PAID, ADJUSTMENT = "inv_8Kq2Lm4Np6Rt", "inv_2Pz9Qa1Sb5Tc"
COLUMNS = {
    "invoice_number",
    "customer_id",
    "raw_status",
    "memo",
    "subtotal_minor",
    "discount_minor",
    "tax_minor",
    "total_minor",
    "period_start",
    "period_end",
    "issued_at",
    "due_at",
}


def _run(*pages: Page, **options: Any) -> Normalized:
    out = commet.normalize(list(pages), "cm", options)
    check_invariants(out)
    return out


def _detail(name: str = GET_0731, iid: str = PAID) -> Page:
    return sample_page(name, kind="detail", endpoint=f"GET /invoices/{iid}")


def _adjustment_detail() -> Page:
    """``GET /invoices/inv_2Pz9Qa1Sb5Tc`` in 2026-07-31: the full invoice from the 07-11 list."""
    full = sample_json(LIST_0711)["data"][1]
    return json_page(full, "rec/0003.json", kind="detail", endpoint=f"GET /invoices/{ADJUSTMENT}")


def test_registered() -> None:
    assert NORMALIZERS["commet"] is commet.normalize


def test_v0711_list_full_invoices() -> None:
    page = sample_page(LIST_0711)
    out = _run(page, api_version="2026-07-11")
    assert out.records_read == 2 and not out.rejects
    assert out.has_lines is True
    assert out.provided == ALWAYS_PROVIDED | COLUMNS | {"credit_minor"}
    paid = by_id(out)[PAID]
    assert paid["invoice_number"] == "INV-0043" and paid["customer_id"] == "acme-corp"
    assert paid["currency"] == "USD"
    assert (paid["status"], paid["raw_status"]) == ("paid", "paid")
    assert (
        paid["subtotal_minor"],
        paid["discount_minor"],
        paid["credit_minor"],
        paid["tax_minor"],
        paid["total_minor"],
    ) == (14900, 1490, 500, 1291, 14201)
    assert paid["period_start"] == datetime(2026, 7, 1, tzinfo=UTC)
    assert paid["period_end"] == paid["issued_at"] == datetime(2026, 8, 1, tzinfo=UTC)
    assert paid["due_at"] == datetime(2026, 8, 1, tzinfo=UTC)
    assert paid["memo"] is None and paid["record_ref"] == f"{page.location} record 0"
    adjustment = by_id(out)[ADJUSTMENT]
    assert (adjustment["status"], adjustment["raw_status"]) == ("open", "outstanding")
    assert adjustment["memo"] == "Customer requested"
    assert adjustment["due_at"] == datetime(2026, 8, 12, 14, tzinfo=UTC)
    assert [line["amount_minor"] for line in lines_of(out, PAID)] == [9900, 5000, -1490, -500]
    assert [line["line_type"] for line in lines_of(out, ADJUSTMENT)] == ["one_time"]


def test_lines_exact() -> None:
    out = _run(sample_page(GET_0711))
    lines = lines_of(out, PAID)
    assert [line["line_no"] for line in lines] == [0, 1, 2, 3]
    overage = lines[1]
    assert overage["line_type"] == "feature_overage"
    assert overage["description"] == "API calls overage (2,500 units)"
    assert (overage["quantity"], overage["unit_amount"]) == (Decimal(2500), Decimal(2))
    assert isinstance(overage["unit_amount"], Decimal)
    assert (overage["amount_minor"], overage["currency"], overage["line_id"]) == (5000, "USD", None)
    assert lines[3]["line_type"] == "credit" and lines[3]["unit_amount"] == Decimal(-500)


def test_v0731_list_merged_with_detail() -> None:
    detail = _detail()
    out = _run(sample_page(LIST_0731), detail, _adjustment_detail())
    assert out.records_read == 2 and not out.rejects
    assert out.has_lines is True and "credit_minor" in out.provided
    paid = by_id(out)[PAID]
    assert paid["credit_minor"] == 500 and paid["total_minor"] == 14201
    assert paid["record_ref"].endswith("commet_list_invoices_v2026-07-31.json record 0")
    assert {line["record_ref"] for line in lines_of(out, PAID)} == {detail.location}
    assert len(lines_of(out, PAID)) == 4 and len(lines_of(out, ADJUSTMENT)) == 1
    assert by_id(out)[ADJUSTMENT]["credit_minor"] == 0


def test_v0731_rows_match_v0711_rows() -> None:
    old = _run(sample_page(LIST_0711), api_version="2026-07-11")
    new = _run(sample_page(LIST_0731), _detail(), _adjustment_detail())

    def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in row.items() if k != "record_ref"} for row in rows]

    assert strip(old.invoices) == strip(new.invoices)
    assert strip(old.lines) == strip(new.lines)


def test_listed_invoice_without_its_detail_is_rejected() -> None:
    out = _run(sample_page(LIST_0731), _detail())
    assert [r["invoice_id"] for r in out.invoices] == [PAID]
    (reject,) = out.rejects
    assert reject.invoice_id == ADJUSTMENT
    assert reject.location.endswith("commet_list_invoices_v2026-07-31.json record 1")
    assert f"GET /invoices/{ADJUSTMENT}" in reject.reason
    assert out.records_read == 2


def test_v0731_list_only_has_no_lines_and_no_credit() -> None:
    out = _run(sample_page(LIST_0731))
    assert out.has_lines is False and out.lines == []
    assert out.provided == ALWAYS_PROVIDED | COLUMNS
    assert "credit_minor" not in out.provided
    assert [r["credit_minor"] for r in out.invoices] == [None, None]
    assert [r["total_minor"] for r in out.invoices] == [14201, 5000]


def test_detail_page_on_its_own_is_an_invoice() -> None:
    out = _run(_detail())
    assert [r["invoice_id"] for r in out.invoices] == [PAID]
    assert out.invoices[0]["record_ref"].endswith("commet_get_invoice_v2026-07-31.json record 0")
    assert len(out.lines) == 4


def test_v0724_object_list_of_full_invoices() -> None:
    body = sample_json(LIST_0711)
    page = json_page({"object": "list", "data": body["data"], "hasMore": False}, "rec/0001.json")
    out = _run(page, api_version="2026-07-24")
    assert out.has_lines is True and len(out.lines) == 5 and not out.rejects


def test_identical_pages_are_deduplicated() -> None:
    out = _run(sample_page(LIST_0711), sample_page(LIST_0711), sample_page(GET_0711))
    assert len(out.invoices) == 2 and out.duplicates_dropped == 3 and len(out.lines) == 5
    repeated = _run(sample_page(LIST_0731), _detail(), _detail(), _adjustment_detail())
    assert repeated.duplicates_dropped == 1 and not repeated.rejects


def test_conflicting_details_reject_the_invoice() -> None:
    changed = sample_json(GET_0731)
    changed["total"] = 14202
    other = json_page(changed, "rec/0009.json", kind="detail")
    out = _run(sample_page(LIST_0731), _detail(), other, _adjustment_detail())
    assert [r["invoice_id"] for r in out.invoices] == [ADJUSTMENT]
    assert "conflicting GET /invoices/inv_8Kq2Lm4Np6Rt" in out.rejects[0].reason
    assert "rec/0009.json" in out.rejects[0].reason


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("draft", "draft"),
        ("upcoming", "draft"),
        ("outstanding", "open"),
        ("OUTSTANDING", "open"),
        ("void", "void"),
        ("uncollectible", "uncollectible"),
        ("Paid", "paid"),
        ("pending", "unknown"),
    ],
)
def test_status_mapping(raw: str, expected: str) -> None:
    body = sample_json(GET_0731)
    body["status"] = raw
    row = _run(json_page(body, "rec/0001.json", kind="detail")).invoices[0]
    assert (row["status"], row["raw_status"]) == (expected, raw)


def test_error_envelope_stops_the_run() -> None:
    page = sample_page("commet_error.json")
    with pytest.raises(InputDataError, match="invoice_not_found") as info:
        _run(page)
    assert "Invoice inv_doesNotExist not found" in str(info.value)
    assert page.location in str(info.value) and info.value.exit_code == 3
    current = sample_json("commet_error.json")
    del current["success"]  # 2026-07-24+: {"error": {...}}
    with pytest.raises(InputDataError, match="invoice_not_found"):
        _run(json_page(current, "rec/0002.json", kind="detail"))


@pytest.mark.parametrize(
    "body",
    [{"success": True, "data": "x"}, {"object": "list", "data": {}}, {"items": []}, [], None],
)
def test_wrong_envelope(body: Any) -> None:
    with pytest.raises(InputDataError, match=r"rec/0001\.json.*documented shape"):
        _run(json_page(body, "rec/0001.json"))


def test_not_json() -> None:
    with pytest.raises(InputDataError, match=r"rec/0001\.json: page is not valid JSON"):
        _run(raw_page(b"\x00\x01gzip?", "rec/0001.json"))


def test_bad_records_and_lines_are_rejected() -> None:
    good = sample_json(LIST_0711)["data"][0]
    bad_total = {**good, "id": "inv_a", "total": "abc"}
    fractional = {**good, "id": "inv_b", "total": 12.5}
    huge = {**good, "id": "inv_c", "subtotal": 99999999999999999999}
    bad_line = copy.deepcopy({**good, "id": "inv_d"})
    bad_line["lineItems"][2]["amount"] = 12.5
    fine_unit = copy.deepcopy({**good, "id": "inv_e"})
    fine_unit["lineItems"][1]["unitAmount"] = 0.0000000000001
    bad_date = {**good, "id": "inv_g", "issueDate": "yesterday"}
    records = [good, bad_total, fractional, huge, bad_line, fine_unit, bad_date]
    page = json_page({"success": True, "data": records, "hasMore": False}, "rec/0001.json")
    out = _run(page, api_version="2026-07-11")
    assert [r["invoice_id"] for r in out.invoices] == [PAID]
    assert len(out.lines) == 4  # rejected invoices leave no lines behind
    assert out.records_read == 7 == len(out.invoices) + len(out.rejects)
    reasons = {r.invoice_id: r.reason for r in out.rejects}
    assert [r.location for r in out.rejects] == [f"rec/0001.json record {i}" for i in range(1, 7)]
    assert "field 'total'" in reasons["inv_a"] and "'abc'" in reasons["inv_a"]
    assert "field 'total'" in reasons["inv_b"] and "12.5" in reasons["inv_b"]
    assert "64-bit" in reasons["inv_c"]
    assert reasons["inv_d"].startswith("lineItems[2]: field 'amount'")
    assert reasons["inv_e"].startswith("lineItems[1]: field 'unitAmount'")
    assert "more than 12 decimals" in reasons["inv_e"]
    assert "issueDate" in reasons["inv_g"]


def test_optional_credit_and_line_items_may_be_absent() -> None:
    """``creditApplied`` and ``lineItems`` are optional in Commet's ``Invoice`` type: an
    invoice without them is read, its credit null (never 0), without lines (issue 13;
    it used to be rejected as 'missing required field')."""
    good = sample_json(LIST_0711)["data"][0]
    bare = {k: v for k, v in good.items() if k not in ("creditApplied", "lineItems")}
    page = json_page({"success": True, "data": [bare], "hasMore": False}, "rec/0001.json")
    out = _run(page, api_version="2026-07-11")
    assert out.rejects == [] and out.lines == []
    assert out.invoices[0]["credit_minor"] is None and out.invoices[0]["total_minor"] == 14201
    detail = {k: v for k, v in sample_json(GET_0731).items() if k != "creditApplied"}
    out = _run(sample_page(LIST_0731), json_page(detail, "rec/0002.json", kind="detail"))
    assert [r.invoice_id for r in out.rejects] == [ADJUSTMENT]  # listed, no detail page
    assert by_id(out)[PAID]["credit_minor"] is None and len(lines_of(out, PAID)) == 4


@given(st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1))
def test_integer_amounts_round_trip(total: int) -> None:
    body = sample_json(GET_0731)
    body["total"] = total
    out = commet.normalize([json_page(body, "mem", kind="detail")], "cm", {})
    assert out.invoices[0]["total_minor"] == total
