"""The local provider servers of ``reconcile.testing``, tested with plain httpx.

No reconcile fetcher is involved: these tests pin down what the servers speak
(pagination, filters, auth, error bodies, faults) so the live-fetch tests can
trust them. Shapes are compared with ``../shared/reference/samples``.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconcile.testing import (
    FOREVER,
    ORG_ID,
    PROVIDERS,
    Fault,
    ProviderServer,
    commet_invoices,
    loads,
    records_from_recording,
    sample_options,
    sample_records,
    serve_sample_month,
)
from tests.conftest import REPO, sample_path

RECORDINGS = REPO / "sample_data" / "recordings"
SECRET = "s3cr3t-value"

AUTH: dict[str, Callable[[str], dict[str, str]]] = {
    "f5xc": lambda c: {"Authorization": f"APIToken {c}"},
    "amberflo": lambda c: {"X-API-KEY": c},
    "commet": lambda c: {"x-api-key": c},
    "frontier": lambda c: {"Authorization": f"Bearer {c}"},
    "stripe": lambda c: {"Authorization": f"Bearer {c}"},
}

#: one list request per provider: (method, path, params or JSON body)
LIST: dict[str, tuple[str, str, dict[str, Any]]] = {
    "f5xc": ("GET", "/api/web/namespaces/system/usage/invoices/custom_list", {"limit": "100"}),
    "amberflo": (
        "GET",
        "/payments/billing/customer-product-invoice/all",
        {"customerId": "aurora-labs", "fromCache": "false"},
    ),
    "commet": ("GET", "/api/v1/invoices", {"limit": "25"}),
    "frontier": (
        "POST",
        "/raystack.frontier.v1beta1.FrontierService/ListInvoices",
        {"org_id": ORG_ID},
    ),
    "stripe": ("GET", "/v1/invoices", {"limit": "10"}),
}

#: the provider's error body, by the status it was sent with
ERROR_BODY: dict[str, Callable[[Any, int], bool]] = {
    "f5xc": lambda b, s: (
        set(b) == {"code", "message", "details"}
        and b["code"] == {401: 16, 429: 8, 500: 13, 503: 14}[s]
    ),
    "amberflo": lambda b, s: set(b) == {"message"} and isinstance(b["message"], str),
    "commet": lambda b, s: (
        set(b) == {"error"}
        and b["error"]["type"]
        == {
            401: "authentication_error",
            429: "rate_limit_error",
            500: "internal_error",
            503: "internal_error",
        }[s]
        and b["error"]["doc_url"].startswith("https://commet.co/")
    ),
    "frontier": lambda b, s: (
        set(b) == {"code", "message"}
        and b["code"]
        == {401: "unauthenticated", 429: "resource_exhausted", 500: "internal", 503: "unavailable"}[
            s
        ]
    ),
    "stripe": lambda b, s: (
        set(b) == {"error"}
        and b["error"]["type"] == ("api_error" if s >= 500 else "invalid_request_error")
        and (s != 429 or b["error"]["code"] == "rate_limit")
    ),
}


def sample(name: str) -> Any:
    return loads(sample_path(name).read_bytes())


def server(provider: str, **kwargs: Any) -> ProviderServer:
    if "records" not in kwargs and "recording" not in kwargs:
        kwargs["recording"] = RECORDINGS / provider
    return ProviderServer(provider, credential=SECRET, **kwargs)


def client(srv: ProviderServer, credential: str | None = SECRET, **kwargs: Any) -> httpx.Client:
    headers = AUTH[srv.provider](credential) if credential is not None else {}
    headers.update(kwargs.pop("headers", {}))
    return httpx.Client(
        base_url=srv.url, headers=headers, timeout=kwargs.pop("timeout", 10), **kwargs
    )


def list_once(srv: ProviderServer, http: httpx.Client) -> httpx.Response:
    method, path, args = LIST[srv.provider]
    if method == "POST":
        return http.post(path, json=args)
    return http.get(path, params=args)


def shape(value: Any) -> Any:
    """Keys and JSON types, recursively (a list by its first item)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | Decimal):
        return "number"
    return "null" if value is None else type(value).__name__


# --- the bundled month, served ------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_recorded_request_gets_the_recorded_body(provider: str) -> None:
    """A server built from a recording answers each recorded request with the recorded page."""
    folder = RECORDINGS / provider
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    with server(provider) as srv, client(srv) as http:
        for entry in manifest["pages"]:
            if entry["method"] == "POST":
                response = http.post(entry["url"], json={"org_id": ORG_ID})
            else:
                response = http.get(entry["url"], params=entry["query"])
            assert response.status_code == 200, (entry, response.text)
            recorded = (folder / entry["file"]).read_bytes()
            assert loads(response.content or b"null") == loads(recorded), entry["file"]
        assert srv.errors == []


def test_sample_records_are_the_recorded_invoices() -> None:
    counts = {p: len(sample_records(p)) for p in PROVIDERS}
    assert counts == {"f5xc": 6, "amberflo": 23, "commet": 32, "frontier": 30, "stripe": 30}
    commet = sample_records("commet")
    assert all("lineItems" in r and "creditApplied" in r for r in commet)  # from detail pages
    assert len(sample_options("amberflo")["customers"]) == 21  # kite-ventures has none
    provider, records, options = records_from_recording(RECORDINGS / "commet")
    assert (provider, options) == ("commet", {"api_version": "2026-07-31"})
    assert [r["id"] for r in records] == [r["id"] for r in commet]


def test_amounts_keep_their_exact_decimals() -> None:
    """Amberflo major units stay exact Decimals (never float), and go out digit for digit."""
    records = sample_records("amberflo")
    bills = [r["totalBill"]["totalPrice"] for r in records]
    assert Decimal("117.225") in bills and not any(isinstance(b, float) for b in bills)
    with server("amberflo") as srv, client(srv) as http:
        body = http.get(LIST["amberflo"][1], params={"customerId": "aurora-labs"}).content
    assert b'"totalPrice":117.225' in body


# --- pagination and filters --------------------------------------------------------------


def walk_commet(
    http: httpx.Client, version: str, limit: int = 100, **params: str
) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages, cursor = 0, None
    while True:
        query = {"limit": str(limit), **params, **({"cursor": cursor} if cursor else {})}
        body = http.get(
            "/api/v1/invoices", params=query, headers={"Commet-Version": version}
        ).json()
        pages += 1
        items += body["data"]
        if not body["hasMore"]:
            assert "nextCursor" not in body
            return items, pages
        cursor = body["nextCursor"]


@pytest.mark.parametrize("version", ["2026-07-11", "2026-07-24", "2026-07-31"])
def test_commet_pages_walk_every_record_once(version: str) -> None:
    records = commet_invoices(53, seed=1)
    with server("commet", records=records, page_size=7) as srv, client(srv) as http:
        items, pages = walk_commet(http, version)
        first = http.get("/api/v1/invoices", headers={"Commet-Version": version}).json()
    assert [i["id"] for i in items] == [r["id"] for r in records]
    assert pages == 8  # 53 records, at most 7 a page (the client asked for 100)
    assert ("success" in first) == (version == "2026-07-11")
    assert ("object" in first) == (version != "2026-07-11")
    assert all(("lineItems" in i) == (version != "2026-07-31") for i in items)
    assert [r.headers["commet-version"] for r in srv.requests[:2]] == [version, version]


def test_commet_default_limit_filters_and_cursor_is_created_at() -> None:
    records = commet_invoices(60, seed=2)
    with server("commet", records=records) as srv, client(srv) as http:
        first = http.get("/api/v1/invoices").json()
        paid, _ = walk_commet(http, "2026-07-31", limit=10, status="paid")
    assert len(first["data"]) == 25  # Commet's default page
    assert first["nextCursor"] == records[24]["createdAt"]
    assert [i["id"] for i in paid] == [r["id"] for r in records if r["status"] == "paid"]


def test_commet_detail_by_version() -> None:
    records = commet_invoices(3, seed=3)
    invoice_id = records[1]["id"]
    with server("commet", records=records) as srv, client(srv) as http:
        current = http.get(f"/api/v1/invoices/{invoice_id}").json()
        legacy = http.get(
            f"/api/v1/invoices/{invoice_id}", headers={"Commet-Version": "2026-07-11"}
        ).json()
        missing = http.get("/api/v1/invoices/inv_nope")
    assert current == records[1]
    assert legacy == {"success": True, "data": records[1]}
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "invoice_not_found"


@pytest.mark.parametrize(
    ("params", "headers", "param"),
    [
        ({"limit": "101"}, {}, "limit"),
        ({"limit": "0"}, {}, "limit"),
        ({"cursor": "not-a-cursor"}, {}, "cursor"),
        ({}, {"Commet-Version": "2027-01-01"}, "Commet-Version"),
    ],
)
def test_commet_refuses_bad_requests(
    params: dict[str, str], headers: dict[str, str], param: str
) -> None:
    with server("commet") as srv, client(srv) as http:
        response = http.get("/api/v1/invoices", params=params, headers=headers)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["param"]) == ("validation_error", param)


def walk_stripe(http: httpx.Client, path: str, **params: str) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    pages, after = 0, None
    while True:
        query = {**params, **({"starting_after": after} if after else {})}
        body = http.get(path, params=query).json()
        pages += 1
        items += body["data"]
        assert body["url"] == path
        if not body["has_more"]:
            return items, pages
        after = body["data"][-1]["id"]


def test_stripe_pages_newest_first_within_the_created_window() -> None:
    records = sample_records("stripe")
    created = sorted({r["created"] for r in records})
    low, high = created[3], created[-5]
    with server("stripe", page_size=4) as srv, client(srv) as http:
        items, pages = walk_stripe(
            http,
            "/v1/invoices",
            limit="100",
            **{"created[gte]": str(low), "created[lt]": str(high)},
        )
        everything, _ = walk_stripe(http, "/v1/invoices", limit="7")
    expected = [
        r["id"] for r in sorted(records, key=lambda r: -r["created"]) if low <= r["created"] < high
    ]
    assert [i["id"] for i in items] == expected
    assert len(set(expected)) == len(expected) and len(expected) < len(records)
    assert pages == -(-len(expected) // 4)
    assert sorted(i["id"] for i in everything) == sorted(r["id"] for r in records)


def stripe_invoice(invoice_id: str, created: int, n_lines: int) -> dict[str, Any]:
    lines = [
        {
            "id": f"il_{invoice_id}_{n:03d}",
            "object": "line_item",
            "amount": 100 + n,
            "currency": "usd",
        }
        for n in range(n_lines)
    ]
    return {
        "id": invoice_id,
        "object": "invoice",
        "created": created,
        "currency": "usd",
        "total": sum(line["amount"] for line in lines),
        "status": "paid",
        "customer": "cus_1",
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/invoices/{invoice_id}/lines",
        },
    }


def test_stripe_lines_embedded_then_paged() -> None:
    records = [stripe_invoice("in_big", 1_790_000_000, 25), stripe_invoice("in_small", 1, 2)]
    with server("stripe", records=records) as srv, client(srv) as http:
        listed = http.get("/v1/invoices").json()["data"]
        lines, pages = walk_stripe(http, "/v1/invoices/in_big/lines", limit="10")
        retrieved = http.get("/v1/invoices/in_big").json()
    big, small = listed
    assert (len(big["lines"]["data"]), big["lines"]["has_more"]) == (10, True)
    assert (len(small["lines"]["data"]), small["lines"]["has_more"]) == (2, False)
    assert [line["id"] for line in lines] == [line["id"] for line in records[0]["lines"]["data"]]
    assert pages == 3
    assert retrieved == big


def test_stripe_ending_before_and_unknown_cursor() -> None:
    records = [stripe_invoice(f"in_{n}", 1_000 - n, 1) for n in range(9)]
    with server("stripe", records=records) as srv, client(srv) as http:
        before = http.get("/v1/invoices", params={"ending_before": "in_6", "limit": "3"}).json()
        earliest = http.get("/v1/invoices", params={"ending_before": "in_2", "limit": "5"}).json()
        unknown = http.get("/v1/invoices", params={"starting_after": "in_nope"})
        too_many = http.get("/v1/invoices", params={"limit": "101"})
    assert [i["id"] for i in before["data"]] == ["in_3", "in_4", "in_5"] and before["has_more"]
    assert [i["id"] for i in earliest["data"]] == ["in_0", "in_1"] and not earliest["has_more"]
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "resource_missing"
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "limit"


def test_f5_limit_namespace_and_pdf() -> None:
    with server("f5xc") as srv, client(srv) as http:
        path = LIST["f5xc"][1]
        everything = http.get(path).json()["invoices"]
        two = http.get(path, params={"limit": "2"}).json()["invoices"]
        other = http.get(path.replace("/system/", "/shared/"))
        pdf = http.get(
            "/api/web/namespaces/system/usage/invoice_pdf", params={"name": "inv-northwind-2026-10"}
        ).json()
        no_pdf = http.get(
            "/api/web/namespaces/system/usage/invoice_pdf", params={"name": "inv-nope"}
        )
        expected_pdf = srv.pdf("inv-northwind-2026-10")
    assert [r["name"] for r in everything] == [r["name"] for r in sample_records("f5xc")]
    assert two == everything[:2]
    assert other.status_code == 404 and set(other.json()) == {"code", "message", "details"}
    data = base64.b64decode(pdf["pdf"], validate=True)
    assert data == expected_pdf
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    assert b"inv-northwind-2026-10" in data and b"12990.00 USD" in data
    assert no_pdf.status_code == 404


def test_amberflo_customers_then_one_page_each() -> None:
    customers = sample_options("amberflo")["customers"]
    with server("amberflo") as srv, client(srv) as http:
        listed = http.get("/customers").json()
        pages = {
            c: http.get(LIST["amberflo"][1], params={"customerId": c, "productId": "1"})
            for c in customers
        }
        no_customer = http.get(LIST["amberflo"][1])
        other_product = http.get(
            LIST["amberflo"][1], params={"customerId": "aurora-labs", "productId": "2"}
        )
    assert [c["customerId"] for c in listed] == customers
    assert pages["kite-ventures"].content == b"null"
    found = [r for c in customers for r in loads(pages[c].content) or []]
    assert found == sample_records("amberflo")  # exact, Decimal for Decimal
    assert no_customer.status_code == 400
    assert other_product.content == b"null"


@pytest.mark.parametrize("empty", ["[]", ""])
def test_amberflo_empty_body_option(empty: str) -> None:
    with server("amberflo", options={"empty_body": empty}) as srv, client(srv) as http:
        response = http.get(LIST["amberflo"][1], params={"customerId": "kite-ventures"})
    assert response.content == empty.encode()


def test_frontier_rest_emits_every_field_connect_omits_zero_values() -> None:
    rest_sample = sample("frontier_list_invoices_rest_v0.90.json")
    connect_sample = sample("frontier_list_invoices_connect_v0.91plus.json")
    records = connect_sample["invoices"]
    with server("frontier", records=records, options={"api": "both"}) as srv, client(srv) as http:
        rest = http.get(f"/v1beta1/organizations/{ORG_ID}/billing/bill-1/invoices").json()
        rest_short = http.get(f"/v1beta1/organizations/{ORG_ID}/billing/invoices").json()
        connect = http.post(LIST["frontier"][1], json={"org_id": ORG_ID}).json()
        nonzero = http.post(
            LIST["frontier"][1], json={"orgId": ORG_ID, "nonzeroAmountOnly": True}
        ).json()
        nonzero_rest = http.get(
            f"/v1beta1/organizations/{ORG_ID}/billing/invoices",
            params={"nonzero_amount_only": "true"},
        ).json()
    assert rest == rest_sample == rest_short
    assert connect == connect_sample
    assert [i["id"] for i in nonzero["invoices"]] == [records[1]["id"]]
    assert nonzero_rest["invoices"] == rest_sample["invoices"][1:]


def test_frontier_expand_customer() -> None:
    expanded = sample("frontier_list_invoices_rest_v0.90_expand_customer.json")
    with (
        server("frontier", records=expanded["invoices"], options={"api": "rest"}) as srv,
        client(srv) as http,
    ):
        path = f"/v1beta1/organizations/{ORG_ID}/billing/invoices"
        with_customer = http.get(path, params=[("expand", "customer"), ("expand", "other")])
        without = http.get(path).json()
        connect = http.post(LIST["frontier"][1], json={"org_id": ORG_ID})
    assert with_customer.json() == expanded
    assert without["invoices"][0]["customer"] is None
    assert connect.status_code == 404  # a REST-era server has no Connect route


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "invalid_argument"),
        (
            b'{"org_id": "org-northwind", "billing_id": "b"}',
            "application/json",
            400,
            "invalid_argument",
        ),
        (b'{"org_id": "org-elsewhere"}', "application/json", 404, "not_found"),
        (b'{"org_id": "org-northwind"}', "text/plain", 415, "invalid_argument"),
    ],
)
def test_frontier_connect_errors(body: bytes, content_type: str, status: int, code: str) -> None:
    with server("frontier") as srv, client(srv) as http:
        response = http.post(
            LIST["frontier"][1], content=body, headers={"Content-Type": content_type}
        )
    assert response.status_code == status
    assert set(response.json()) == {"code", "message"} and response.json()["code"] == code
    if body == b"{not json":
        assert response.json() == sample("frontier_error_connect_v0.91plus.json")


def test_frontier_rest_error_is_a_grpc_status() -> None:
    with server("frontier", options={"api": "rest"}) as srv, client(srv) as http:
        response = http.get("/v1beta1/organizations/org-elsewhere/billing/invoices")
    assert response.status_code == 404
    assert shape(response.json()) == shape(sample("frontier_error_rest_v0.90.json"))
    assert response.json()["code"] == 5


# --- shapes as the samples show them ---------------------------------------------------


def test_f5_and_amberflo_pages_equal_the_samples() -> None:
    f5 = sample("f5xc_list_invoices.json")
    with server("f5xc", records=f5["invoices"]) as srv, client(srv) as http:
        assert http.get(LIST["f5xc"][1]).json() == json.loads(json.dumps(f5))
        pdf = http.get(
            "/api/web/namespaces/system/usage/invoice_pdf", params={"name": "inv-acme-2026-07"}
        )
        assert shape(pdf.json()) == shape(sample("f5xc_invoice_pdf.json"))
    invoices = sample("amberflo_list_invoices.json")
    with server("amberflo", records=invoices) as srv, client(srv) as http:
        listed = http.get(LIST["amberflo"][1], params={"customerId": "acme-corp"})
        latest = http.get(
            "/payments/billing/customer-product-invoice",
            params={"customerId": "acme-corp", "latest": "true"},
        )
        july = http.get(
            "/payments/billing/customer-product-invoice",
            params={
                "customerId": "acme-corp",
                "productPlanId": invoices[0]["invoiceKey"]["productPlanId"],
                "year": "2026",
                "month": "7",
                "day": "1",
            },
        )
    assert loads(listed.content) == invoices
    assert loads(latest.content) == sample("amberflo_get_latest_invoice.json")
    assert loads(july.content) == invoices[0]


def test_commet_pages_equal_the_samples() -> None:
    full = sample("commet_get_invoice_v2026-07-31.json")
    summary_list = sample("commet_list_invoices_v2026-07-31.json")
    records = [full, summary_list["data"][1]]
    with server("commet", records=records) as srv, client(srv) as http:
        listed = http.get("/api/v1/invoices").json()
        detail = http.get(f"/api/v1/invoices/{full['id']}").json()
        legacy = http.get(
            f"/api/v1/invoices/{full['id']}", headers={"Commet-Version": "2026-07-11"}
        ).json()
        legacy_list = http.get(
            "/api/v1/invoices", params={"limit": "1"}, headers={"Commet-Version": "2026-07-11"}
        ).json()
        missing = http.get(
            "/api/v1/invoices/inv_doesNotExist", headers={"Commet-Version": "2026-07-11"}
        ).json()
        missing_now = http.get("/api/v1/invoices/inv_doesNotExist").json()
    assert listed == summary_list
    assert detail == sample("commet_get_invoice_v2026-07-31.json")
    assert legacy == sample("commet_get_invoice_v2026-07-11.json")
    assert shape(legacy_list) == shape(sample("commet_list_invoices_v2026-07-11.json"))
    error = sample("commet_error.json")
    assert shape(missing) == shape(error)
    assert missing_now["error"] == error["error"]  # the sample's doc_url is 2026-07-31's


def test_stripe_pages_equal_the_samples() -> None:
    listed = sample("stripe_list_invoices.json")
    with server("stripe", records=listed["data"]) as srv, client(srv) as http:
        page = http.get("/v1/invoices", params={"limit": "1"}).json()
        everything = loads(http.get("/v1/invoices", params={"limit": "100"}).content)
        missing = http.get("/v1/invoices/in_doesNotExist").json()
    assert list(page) == list(listed) and page["has_more"] is (len(listed["data"]) > 1)
    assert everything["data"] == listed["data"]
    error = sample("stripe_error.json")
    assert shape(missing) == shape(error)
    assert {k: v for k, v in missing["error"].items() if k != "request_log_url"} == {
        k: v for k, v in error["error"].items() if k != "request_log_url"
    }


# --- auth ----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("credential", [None, "wrong-value", f"{SECRET}x"])
def test_requests_without_the_credential_are_refused(provider: str, credential: str | None) -> None:
    with server(provider) as srv, client(srv, credential) as http:
        response = list_once(srv, http)
    assert response.status_code == 401
    assert ERROR_BODY[provider](response.json(), 401)
    assert SECRET not in response.text and (credential is None or credential not in response.text)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_requests_with_the_credential_are_served(provider: str) -> None:
    with server(provider) as srv, client(srv) as http:
        response = list_once(srv, http)
    assert response.status_code == 200
    assert [(r.endpoint, r.status, r.fault) for r in srv.requests] == [("list", 200, None)]
    assert (
        srv.requests[0]
        .headers["x-api-key" if provider in ("amberflo", "commet") else "authorization"]
        .endswith(SECRET)
    )


@pytest.mark.parametrize(
    ("provider", "header"),
    [
        ("frontier", "Basic " + base64.b64encode(SECRET.encode()).decode()),
        ("frontier", "Basic " + base64.b64encode(f"client-id:{SECRET}".encode()).decode()),
        ("stripe", "Basic " + base64.b64encode(f"{SECRET}:".encode()).decode()),
    ],
)
def test_basic_auth_where_the_provider_takes_it(provider: str, header: str) -> None:
    with server(provider) as srv, client(srv, None, headers={"Authorization": header}) as http:
        assert list_once(srv, http).status_code == 200


def test_unknown_path_is_the_providers_404_and_not_counted() -> None:
    with server("stripe", faults=[Fault("503", request=1)]) as srv, client(srv) as http:
        unknown = http.get("/v1/charges")
        listed = http.get("/v1/invoices")
    assert unknown.status_code == 404 and "error" in unknown.json()
    assert listed.status_code == 503  # request 1 of the invoice endpoints
    assert [r.endpoint for r in srv.requests] == [None, "list"]


# --- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    ("kind", "retry_after"),
    [("429", "2"), ("503", None), ("500", None), ("429", "Wed, 21 Oct 2026 07:28:00 GMT")],
)
def test_status_faults_fire_once_with_the_providers_body(
    provider: str, kind: str, retry_after: str | None
) -> None:
    fault = Fault(kind, retry_after=retry_after)
    with server(provider, faults=[fault]) as srv, client(srv) as http:
        first, second = list_once(srv, http), list_once(srv, http)
    assert first.status_code == int(kind)
    assert ERROR_BODY[provider](first.json(), int(kind))
    assert first.headers.get("retry-after") == retry_after
    assert second.status_code == 200
    assert [(r.status, r.fault) for r in srv.requests] == [(int(kind), kind), (200, None)]


def test_status_fault_on_a_chosen_request_and_times() -> None:
    faults = [Fault("503", request=2, times=2)]
    with server("commet", faults=faults) as srv, client(srv) as http:
        statuses = [list_once(srv, http).status_code for _ in range(5)]
    assert statuses == [200, 503, 503, 200, 200]


def test_persistent_fault_and_extra_headers() -> None:
    fault = Fault("429", times=FOREVER, headers=(("Stripe-Should-Retry", "false"),))
    with server("stripe", faults=[fault]) as srv, client(srv) as http:
        responses = [list_once(srv, http) for _ in range(4)]
    assert {r.status_code for r in responses} == {429}
    assert all(r.headers["stripe-should-retry"] == "false" for r in responses)


def test_fault_401_despite_the_right_credential() -> None:
    with server("frontier", faults=[Fault("401")]) as srv, client(srv) as http:
        first, second = list_once(srv, http), list_once(srv, http)
    assert (first.status_code, second.status_code) == (401, 200)
    assert ERROR_BODY["frontier"](first.json(), 401)


def test_path_contains_counts_only_matching_requests() -> None:
    records = commet_invoices(4, seed=4)
    fault = Fault("503", request=2, path_contains="/invoices/inv_")
    with server("commet", records=records, faults=[fault]) as srv, client(srv) as http:
        assert http.get("/api/v1/invoices").status_code == 200
        details = [http.get(f"/api/v1/invoices/{r['id']}").status_code for r in records]
    assert details == [200, 503, 200, 200]


def test_slow_response_beyond_the_read_timeout() -> None:
    with (
        server("f5xc", faults=[Fault("slow", delay=1.5)]) as srv,
        client(srv, timeout=httpx.Timeout(5, read=0.3)) as http,
    ):
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            list_once(srv, http)
        assert time.monotonic() - started < 1.4
        assert list_once(srv, http).status_code == 200


def test_slow_response_within_the_timeout_is_complete() -> None:
    with server("stripe", faults=[Fault("slow", delay=0.3)]) as srv, client(srv) as http:
        started = time.monotonic()
        response = list_once(srv, http)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200 and len(response.json()["data"]) == 10


def test_reset_drops_the_connection_without_a_response() -> None:
    with server("commet", faults=[Fault("reset")]) as srv, client(srv) as http:
        with pytest.raises(httpx.TransportError):
            list_once(srv, http)
        assert list_once(srv, http).status_code == 200
    assert [(r.status, r.fault) for r in srv.requests] == [(None, "reset"), (200, None)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_html_and_truncated_pages(provider: str) -> None:
    faults = [
        Fault("malformed", request=2),
        Fault("html", request=3),
        Fault("truncated", request=4),
    ]
    with server(provider, faults=faults) as srv, client(srv) as http:
        normal, malformed, html, truncated = (list_once(srv, http) for _ in range(4))
    assert all(r.status_code == 200 for r in (normal, malformed, html, truncated))
    assert loads(malformed.content) == {"result": loads(normal.content or b"null")}
    assert html.headers["content-type"].startswith("text/html")
    assert html.content.startswith(b"<!DOCTYPE html>")
    assert normal.content.startswith(truncated.content) and len(truncated.content) < len(
        normal.content
    )
    assert int(truncated.headers["content-length"]) == len(truncated.content)
    for broken in (html, truncated):
        with pytest.raises(ValueError):
            loads(broken.content)


def test_commet_repeat_cursor_points_back() -> None:
    with (
        server(
            "commet",
            records=commet_invoices(30, seed=5),
            page_size=10,
            faults=[Fault("repeat_cursor")],
        ) as srv,
        client(srv) as http,
    ):
        first = http.get("/api/v1/invoices").json()
        second = http.get("/api/v1/invoices", params={"cursor": first["nextCursor"]}).json()
    assert second["hasMore"] is True and second["nextCursor"] == first["nextCursor"]
    assert [r.fault for r in srv.requests] == [None, "repeat_cursor"]  # not the cursor-less one


def test_stripe_repeat_cursor_serves_the_same_page_again() -> None:
    with server("stripe", page_size=5, faults=[Fault("repeat_cursor")]) as srv, client(srv) as http:
        first = http.get("/v1/invoices").json()
        after = first["data"][-1]["id"]
        second = http.get("/v1/invoices", params={"starting_after": after}).json()
    assert second["data"] == first["data"] and second["has_more"] is True
    assert second["data"][-1]["id"] == after


@pytest.mark.parametrize("provider", ["commet", "stripe"])
@pytest.mark.parametrize("kind", ["repeat", "conflicting_repeat"])
def test_repeated_record_on_the_next_page(provider: str, kind: str) -> None:
    with server(provider, page_size=5, faults=[Fault(kind)]) as srv, client(srv) as http:
        first = list_once(srv, http).json()
        cursor = (
            {"cursor": first["nextCursor"]}
            if provider == "commet"
            else {"starting_after": first["data"][-1]["id"]}
        )
        second = http.get(LIST[provider][1], params=cursor).json()
    last, repeated = first["data"][-1], second["data"][0]
    assert repeated["id"] == last["id"]
    assert len(second["data"]) == 6  # the repeat, then a full page
    if kind == "repeat":
        assert repeated == last
    else:
        assert repeated["total"] == last["total"] + 1
        assert {k: v for k, v in repeated.items() if k != "total"} == {
            k: v for k, v in last.items() if k != "total"
        }


def test_stripe_repeat_in_line_pages() -> None:
    records = [stripe_invoice("in_big", 1_790_000_000, 25)]
    with (
        server("stripe", records=records, faults=[Fault("conflicting_repeat")]) as srv,
        client(srv) as http,
    ):
        first = http.get("/v1/invoices/in_big/lines", params={"limit": "10"}).json()
        second = http.get(
            "/v1/invoices/in_big/lines",
            params={"limit": "10", "starting_after": first["data"][-1]["id"]},
        ).json()
    assert second["data"][0]["id"] == first["data"][-1]["id"]
    assert second["data"][0]["amount"] == first["data"][-1]["amount"] + 1


def test_stripe_total_count_true_then_wrong() -> None:
    with server("stripe", faults=[Fault("wrong_total", request=2)]) as srv, client(srv) as http:
        asked = http.get("/v1/invoices", params={"include[]": "total_count"}).json()
        wrong = http.get("/v1/invoices").json()
        plain = http.get("/v1/invoices").json()
    assert asked["total_count"] == 30 and wrong["total_count"] == 31
    assert "total_count" not in plain


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Fault("teapot"), "unknown fault kind"),
        (lambda: Fault("slow"), "delay"),
        (lambda: Fault("429", delay=1.0), "delay"),
        (lambda: Fault("reset", retry_after="1"), "retry_after"),
        (lambda: Fault("503", request=0), "counts from 1"),
        (lambda: Fault("503", times=0), "at least 1"),
        (lambda: ProviderServer("f5xc", faults=[Fault("repeat_cursor")]), "does not apply"),
        (lambda: ProviderServer("commet", faults=[Fault("wrong_total")]), "does not apply"),
        (lambda: ProviderServer("amberflo", page_size=10), "does not paginate"),
        (lambda: ProviderServer("paypal"), "unknown provider"),
        (lambda: ProviderServer("stripe", records=[], recording=RECORDINGS / "stripe"), "not both"),
        (lambda: ProviderServer("stripe", recording=RECORDINGS / "commet"), "commet recording"),
    ],
)
def test_misuse_is_refused(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def test_float_money_is_refused() -> None:
    with pytest.raises(TypeError, match="float"):
        ProviderServer("amberflo", records=[{"totalBill": {"totalPrice": 117.225}}])


# --- synthetic data, the sample month, the command ----------------------------------------------


def test_commet_invoices_are_deterministic_and_add_up() -> None:
    invoices = commet_invoices(500, seed=7)
    assert invoices == commet_invoices(500, seed=7) != commet_invoices(500, seed=8)
    assert len({i["id"] for i in invoices}) == len({i["createdAt"] for i in invoices}) == 500
    assert [i["createdAt"] for i in invoices] == sorted(
        (i["createdAt"] for i in invoices), reverse=True
    )
    for inv in invoices:
        assert inv["total"] == (
            inv["subtotal"] - inv["discountAmount"] - inv["creditApplied"] + inv["taxAmount"]
        )
        charges = [
            line["amount"]
            for line in inv["lineItems"]
            if line["lineType"] not in ("discount", "promo_code_discount", "credit")
        ]
        assert sum(charges) == inv["subtotal"]
        money = [
            inv[k] for k in ("subtotal", "discountAmount", "creditApplied", "taxAmount", "total")
        ] + [line["amount"] for line in inv["lineItems"]]
        assert all(type(v) is int for v in money)
        assert "2026-10-01" <= inv["createdAt"] < "2026-11-01"
    assert set(commet_invoices(3, seed=7)[0]) == set(sample("commet_get_invoice_v2026-07-31.json"))


def test_serve_sample_month_writes_a_live_config(tmp_path: Path) -> None:
    from ruamel.yaml import YAML

    with serve_sample_month() as month:
        path = month.write_config(tmp_path, sources={"stripe": {"http": {"max_attempts": 2}}})
        doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
        credentials = {p: s.credential for p, s in month.servers.items()}
        urls = {p: s.url for p, s in month.servers.items()}
        with client(month.servers["stripe"], credentials["stripe"]) as http:
            assert len(http.get("/v1/invoices", params={"limit": "100"}).json()["data"]) == 30
    assert set(month.servers) == set(PROVIDERS)
    assert len(set(credentials.values())) == 5
    sources = doc["sources"]
    for name in PROVIDERS:
        src = sources[name]
        assert "recording" not in src
        assert src["base_url"] == urls[src["provider"]]
        assert month.env[src["credential_env"]] == credentials[src["provider"]]
    assert sources["stripe"]["http"] == {"max_attempts": 2}
    assert sources["frontier"]["options"] == {"api": "connect", "org_id": ORG_ID}
    assert sources["commet"]["options"] == {"api_version": "2026-07-31"}
    assert sources["f5xc"]["options"]["customer_id"] == "northwind"
    assert (tmp_path / sources["ledger"]["path"]).is_file()
    assert not any(secret in path.read_text(encoding="utf-8") for secret in credentials.values())


def test_serve_command_prints_a_ready_config(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "reconcile.testing", "serve", "--dir", str(tmp_path)]
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:
        try:
            assert proc.stdout is not None
            lines: list[str] = []
            while not lines or ("Ctrl-C" not in lines[-1] and lines[-1]):
                lines.append(proc.stdout.readline())
            text = "".join(lines)
            urls = dict(
                line.split()[:2] for line in lines if line.startswith("  ") and "http://" in line
            )
            exports = dict(line.split()[1].split("=", 1) for line in lines if "export " in line)
            assert set(urls) == set(PROVIDERS), text
            assert (tmp_path / "close.yaml").is_file() and f"{tmp_path}/close.yaml" in text
            response = httpx.get(
                urls["commet"] + "/api/v1/invoices",
                headers={"x-api-key": exports["RECONCILE_SAMPLE_COMMET_KEY"]},
            )
            assert response.status_code == 200 and len(response.json()["data"]) == 25
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert proc.returncode == 0
