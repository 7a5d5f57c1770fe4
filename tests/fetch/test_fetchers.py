"""Each provider's ``fetch`` against a local server speaking its wire format.

The servers are ``reconcile.testing.ProviderServer`` (pages computed from wire
records, faults injected per request). A fetch must give the pages ``normalize``
consumes: the same invoices as the bundled recordings, however the server pages.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from reconcile import recording
from reconcile.errors import ExitCode
from reconcile.providers._base import Normalized, Page
from reconcile.providers._http import FetchError, HttpPolicy, ProviderClient
from reconcile.providers.registry import FETCHERS, MODULES, NORMALIZERS
from reconcile.resources import packaged_path
from reconcile.testing import (
    Fault,
    ProviderServer,
    commet_invoices,
    sample_options,
    sample_records,
)

OCT = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
#: the options the sample month's config gives the normalizers
NORMALIZE_OPTIONS: dict[str, dict[str, Any]] = {
    "f5xc": {"customer_id": "northwind"},
    "amberflo": {"currency": "USD"},
    "commet": {"api_version": "2026-07-31"},
    "frontier": {},
    "stripe": {},
}
FETCH_OPTIONS: dict[str, dict[str, Any]] = {
    "f5xc": {"namespace": "system"},
    "amberflo": {},
    "commet": {},
    "frontier": {"org_id": "org-northwind"},
    "stripe": {},
}


def fetch(
    server: ProviderServer,
    options: dict[str, Any],
    *,
    provider: str | None = None,
    policy: HttpPolicy | None = None,
    period: tuple[datetime, datetime] = OCT,
) -> tuple[list[Page], ProviderClient]:
    provider = provider or server.provider
    client = ProviderClient(
        source=provider,
        provider=provider,
        base_url=server.url,
        headers=MODULES[provider].auth_headers(server.credential, options),
        credential_env="PROVIDER_KEY",
        policy=policy or HttpPolicy(read_timeout=5),
        secrets=[server.credential],
    )
    with client:
        pages = FETCHERS[provider](client, options, *period)
    return pages, client


def rows(out: Normalized) -> list[dict[str, Any]]:
    """Invoice rows without where they were read (page names differ by design)."""
    return sorted(
        ({k: v for k, v in row.items() if k != "record_ref"} for row in out.invoices),
        key=lambda r: r["invoice_id"],
    )


def line_rows(out: Normalized) -> list[dict[str, Any]]:
    return sorted(
        ({k: v for k, v in row.items() if k != "record_ref"} for row in out.lines),
        key=lambda r: (r["invoice_id"], str(r["line_id"]), r["line_no"]),
    )


@pytest.mark.parametrize("provider", ["f5xc", "amberflo", "commet", "frontier", "stripe"])
def test_a_fetch_gives_what_the_recording_gives(provider):
    folder = packaged_path("sample_data") / "recordings" / provider
    _, recorded_pages = recording.read_recording(folder, provider)
    options = NORMALIZE_OPTIONS[provider]
    expected = NORMALIZERS[provider](recorded_pages, provider, options)
    page_size = {"commet": 7, "stripe": 4}.get(provider)
    with ProviderServer(provider, recording=folder, page_size=page_size) as server:
        pages, client = fetch(server, {**options, **FETCH_OPTIONS[provider]})
    got = NORMALIZERS[provider](pages, provider, options)
    assert rows(got) == rows(expected)
    assert line_rows(got) == line_rows(expected)
    assert got.rejects == [] or [r.reason for r in got.rejects] == [
        r.reason for r in expected.rejects
    ]
    assert client.stats.records == got.records_read + got.duplicates_dropped
    assert client.stats.pages == len(pages) == len(client.exchanges)


# --- Commet -------------------------------------------------------------------------------


def test_commet_follows_cursors_and_fetches_each_detail():
    with ProviderServer("commet", records=commet_invoices(23), page_size=10) as server:
        pages, client = fetch(server, {"api_version": "2026-07-31", "limit": 100})
    lists = [r for r in server.served("list")]
    assert [r.query.get("cursor") is None for r in lists] == [True, False, False]
    assert all(r.query["limit"] == "100" for r in lists)
    assert all(r.headers["Commet-Version"] == "2026-07-31" for r in server.served())
    assert all(r.headers["x-api-key"] == server.credential for r in server.served())
    assert len(server.served("detail")) == 23
    assert [p.kind for p in pages] == ["list"] * 3 + ["detail"] * 23
    out = NORMALIZERS["commet"](pages, "commet", {"api_version": "2026-07-31"})
    assert len(out.invoices) == 23 and out.rejects == [] and out.has_lines
    assert client.stats.records == 23


def test_commet_older_version_needs_no_detail_pages():
    with ProviderServer(
        "commet", records=commet_invoices(12), page_size=5, options={"api_version": "2026-07-11"}
    ) as server:
        pages, _ = fetch(server, {"api_version": "2026-07-11"})
    assert server.served("detail") == [] and len(pages) == 3
    out = NORMALIZERS["commet"](pages, "commet", {"api_version": "2026-07-11"})
    assert len(out.invoices) == 12 and out.has_lines and out.rejects == []


def test_commet_repeating_cursor_is_a_loop():
    with (
        ProviderServer(
            "commet",
            records=commet_invoices(30),
            page_size=10,
            faults=[Fault("repeat_cursor", request=2)],
        ) as server,
        pytest.raises(FetchError) as info,
    ):
        fetch(server, {})
    assert info.value.exit_code == ExitCode.INPUT_DATA
    assert "pagination loop" in str(info.value)
    assert "commet GET /api/v1/invoices page 2" in str(info.value)


def test_commet_record_repeated_with_different_content_stops_the_fetch():
    with (
        ProviderServer(
            "commet",
            records=commet_invoices(30),
            page_size=10,
            faults=[Fault("conflicting_repeat", request=2)],
        ) as server,
        pytest.raises(FetchError, match="different content") as info,
    ):
        fetch(server, {})
    assert info.value.page == 2


def test_commet_identical_repeat_is_dropped_once_and_counted():
    with ProviderServer(
        "commet", records=commet_invoices(30), page_size=10, faults=[Fault("repeat", request=2)]
    ) as server:
        pages, client = fetch(server, {})
    out = NORMALIZERS["commet"](pages, "commet", {})
    assert len(out.invoices) == 30 and out.duplicates_dropped == 1
    assert client.stats.records == 31


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("html", "not valid JSON"),
        ("truncated", "not valid JSON"),
        ("malformed", "not the documented shape"),
    ],
)
def test_commet_bad_page_stops_the_fetch_naming_it(fault, message):
    with (
        ProviderServer(
            "commet",
            records=commet_invoices(30),
            page_size=10,
            faults=[Fault(fault, request=2, path_contains="limit=")],
        ) as server,
        pytest.raises(FetchError, match=message) as info,
    ):
        fetch(server, {})
    assert info.value.exit_code == 3
    assert info.value.endpoint == "GET /api/v1/invoices" and info.value.page == 2


def test_commet_transient_faults_still_give_a_complete_fetch():
    faults = [
        Fault("429", request=2, retry_after="3"),
        Fault("503", request=5),
        Fault("reset", request=9),
    ]
    with ProviderServer(
        "commet", records=commet_invoices(25), page_size=10, faults=faults
    ) as server:
        pages, client = fetch(server, {})
    out = NORMALIZERS["commet"](pages, "commet", {})
    assert len(out.invoices) == 25 and out.rejects == []
    assert client.stats.retries == 3
    assert [w.retry_after for w in client.stats.waits if w.status == 429] == [3.0]


# --- Stripe -------------------------------------------------------------------------------


def _stripe_records() -> list[dict[str, Any]]:
    records = sample_records("stripe")
    # two invoices created in September and one in August: the period's list leaves
    # them out; the window before it (as long as the period) reads the September ones
    records[0] = {**records[0], "id": "in_sept_1", "created": 1790000000}
    records[1] = {**records[1], "id": "in_sept_2", "created": 1790812799}
    records[2] = {**records[2], "id": "in_aug_1", "created": 1788134399}
    return records


#: [2026-10-01, 2026-11-01) in epoch seconds, and the windows of 31 days either side
_PERIOD, _BEFORE, _AFTER = (
    ("1790812800", "1793491200"),
    ("1788134400", "1790812800"),
    ("1793491200", "1796169600"),
)


def test_stripe_asks_for_the_period_by_created_and_pages():
    with ProviderServer("stripe", records=_stripe_records(), page_size=8) as server:
        pages, _ = fetch(server, {"api_version": "2025-03-31.basil"})
    lists = server.served("list")
    window = [(r.query["created[gte]"], r.query["created[lt]"]) for r in lists]
    assert window == [_PERIOD] * 4 + [_BEFORE, _AFTER]  # the period first, 27 a page of 8
    assert all(r.headers["Stripe-Version"] == "2025-03-31.basil" for r in lists)
    assert all(r.headers["Authorization"] == f"Bearer {server.credential}" for r in lists)
    afters = [r.query.get("starting_after") for r in lists[:4]]
    assert afters[0] is None and len(set(afters[1:])) == 3
    assert [p.kind for p in pages if p.kind != "lines"] == ["list"] * 4 + ["beside"] * 2
    out = NORMALIZERS["stripe"](pages, "stripe", {})
    kept = {row["invoice_id"] for row in out.invoices if not out.beside(row["record_ref"])}
    beside = {row["invoice_id"] for row in out.invoices if out.beside(row["record_ref"])}
    assert len(kept) == 27 and beside == {"in_sept_1", "in_sept_2"}


def test_stripe_pages_through_lines_when_has_more():
    with ProviderServer(
        "stripe", records=sample_records("stripe"), options={"embedded_lines": 1}
    ) as server:
        pages, _ = fetch(server, {})
    line_requests = server.served("lines")
    assert line_requests and all(r.query["starting_after"] for r in line_requests)
    assert {p.kind for p in pages} == {"list", "lines", "beside"}
    expected = NORMALIZERS["stripe"](
        recording.read_recording(packaged_path("sample_data") / "recordings" / "stripe", "stripe")[
            1
        ],
        "stripe",
        {},
    )
    out = NORMALIZERS["stripe"](pages, "stripe", {})
    assert line_rows(out) == line_rows(expected) and out.rejects == []


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("wrong_total", "total_count says"),
        ("repeat_cursor", "pagination loop"),
        ("conflicting_repeat", "different content"),
    ],
)
def test_stripe_incomplete_lists_stop_the_fetch(fault, message):
    request = None if fault == "wrong_total" else 2
    with (
        ProviderServer(
            "stripe",
            records=sample_records("stripe"),
            page_size=8,
            faults=[Fault(fault, request=request, path_contains="created")],
        ) as server,
        pytest.raises(FetchError, match=message),
    ):
        fetch(server, {})


# --- F5, Amberflo, Frontier -------------------------------------------------------------


def test_f5_pdfs_are_decoded_checked_and_kept_with_their_sha256():
    with ProviderServer("f5xc", records=sample_records("f5xc")) as server:
        pages, client = fetch(server, {"pdfs": True})
    paid_in_october = sorted(
        r["name"]
        for r in sample_records("f5xc")
        if r.get("status") == "STATUS_PAID" and r["period_start"].startswith("2026-10")
    )
    assert sorted(d.ref for d in client.documents) == paid_in_october
    for doc in client.documents:
        assert doc.data == server.pdf(doc.ref) and doc.data.startswith(b"%PDF-")
        assert doc.sha256 == hashlib.sha256(doc.data).hexdigest()
    assert [p.kind for p in pages] == ["list"] + ["pdf"] * len(paid_in_october)
    assert all(
        r.headers["Authorization"] == f"APIToken {server.credential}" for r in server.served()
    )
    out = NORMALIZERS["f5xc"](pages, "f5xc", {})
    assert len(out.invoices) == len(sample_records("f5xc"))  # PDF pages are not invoices


def test_f5_a_list_as_long_as_the_limit_may_be_cut_short():
    with (
        ProviderServer("f5xc", records=sample_records("f5xc")) as server,
        pytest.raises(FetchError, match=r"raise options\.limit"),
    ):
        fetch(server, {"limit": 3})


def test_f5_html_page_stops_the_fetch():
    with (
        ProviderServer("f5xc", records=sample_records("f5xc"), faults=[Fault("html")]) as server,
        pytest.raises(FetchError, match="content-type text/html"),
    ):
        fetch(server, {})


def test_amberflo_lists_customers_and_reads_no_cache():
    customers = sample_options("amberflo")["customers"]
    with ProviderServer(
        "amberflo",
        records=sample_records("amberflo"),
        options={"customers": [*customers, "zz-no-invoices"]},
    ) as server:
        pages, _ = fetch(server, {})
    assert server.served("customers")
    invoice_requests = server.served("list")
    asked = [*customers, "zz-no-invoices"]
    assert sorted(r.query["customerId"] for r in invoice_requests) == sorted(asked)
    assert all(r.query["fromCache"] == "false" for r in invoice_requests)
    assert pages[0].kind == "customers"
    # concurrent requests, pages in the configured order all the same
    assert [page.exchange.query["customerId"] for page in pages[1:]] == asked
    assert all(page.exchange.query["fromCache"] == "false" for page in pages[1:])
    out = NORMALIZERS["amberflo"](pages, "amberflo", {})
    assert out.records_read == len(sample_records("amberflo"))


def test_amberflo_configured_customers_only():
    with ProviderServer(
        "amberflo", recording=packaged_path("sample_data") / "recordings" / "amberflo"
    ) as server:
        pages, _ = fetch(server, {"customers": ["baltic-ai", "aurora-labs"]})
    assert not server.served("customers")
    assert [page.exchange.query["customerId"] for page in pages] == ["baltic-ai", "aurora-labs"]
    out = NORMALIZERS["amberflo"](pages, "amberflo", {})
    assert {row["customer_id"] for row in out.invoices} == {"baltic-ai", "aurora-labs"}


@pytest.mark.parametrize("api", ["rest", "connect"])
@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_frontier_both_eras_and_auth_schemes_give_the_same_rows(api, auth):
    folder = packaged_path("sample_data") / "recordings" / "frontier"
    _, recorded = recording.read_recording(folder, "frontier")
    expected = NORMALIZERS["frontier"](recorded, "frontier", {})
    with ProviderServer("frontier", recording=folder, options={"api": api}) as server:
        options = {"org_id": "org-northwind", "api": api, "auth": auth, "expand_customer": True}
        pages, _ = fetch(server, options)
    [request] = server.served()
    header = request.headers["Authorization"]
    if auth == "bearer":
        assert header == f"Bearer {server.credential}"
    else:
        assert header == "Basic " + base64.b64encode(server.credential.encode()).decode()
    if api == "rest":
        assert request.method == "GET" and request.query["expand"] == "customer"
    else:
        assert request.method == "POST" and b'"expand":["customer"]' in request.body
    out = NORMALIZERS["frontier"](pages, "frontier", {})
    assert [{k: v for k, v in r.items() if k != "customer_name"} for r in rows(out)] == [
        {k: v for k, v in r.items() if k != "customer_name"} for r in rows(expected)
    ]


def _frontier_spread() -> list[dict[str, Any]]:
    """The sample month's Frontier invoices spread over three organizations; a fourth,
    ``org-idle``, has none (Connect answers ``{}`` for it)."""
    records = sample_records("frontier")
    orgs = ("org-northwind", "org-b", "org-c")
    return [{**r, "__org": orgs[i % 3]} for i, r in enumerate(records)]


@pytest.mark.parametrize("api", ["rest", "connect"])
def test_frontier_every_organization_in_one_source(api):
    """``org_ids: all`` lists the organizations (ListOrganizations, paged by page_num)
    and asks each for its invoices; a named list asks those only."""
    everyone = ("org-b", "org-c", "org-idle", "org-northwind")
    options = {"api": api, "organizations": list(everyone)}
    with ProviderServer("frontier", records=_frontier_spread(), options=options) as server:
        pages, _ = fetch(server, {"api": api, "org_ids": "all"})
        listed = server.served("organizations")
        asked = sorted(
            json.loads(r.body)["org_id"] if r.body else r.path.split("/")[3]
            for r in server.served("list")
        )
        named, _ = fetch(server, {"api": api, "org_ids": ["org-b", "org-c", "org-b"]})
    assert len(listed) == 1 and asked == list(everyone)
    assert [p.kind for p in pages] == ["organizations"] + ["list"] * 4
    out = NORMALIZERS["frontier"](pages, "frontier", {})
    expected = NORMALIZERS["frontier"](
        recording.read_recording(
            packaged_path("sample_data") / "recordings" / "frontier", "frontier"
        )[1],
        "frontier",
        {},
    )
    assert rows(out) == rows(expected) and out.rejects == []  # every invoice, once
    two = NORMALIZERS["frontier"](named, "frontier", {})
    assert len(two.invoices) == 20  # two of three organizations, each once


def test_frontier_organizations_are_paged_until_a_short_page(monkeypatch):
    from reconcile.providers import frontier

    monkeypatch.setattr(frontier, "ORGS_PAGE_SIZE", 2)
    everyone = [f"org-{i}" for i in range(5)]
    with ProviderServer("frontier", records=[], options={"organizations": everyone}) as server:
        pages, _ = fetch(server, {"org_ids": "all"})
    bodies = [json.loads(r.body) for r in server.served("organizations")]
    assert [b["page_num"] for b in bodies] == [1, 2, 3] and bodies[0]["page_size"] == 2
    assert [p.kind for p in pages].count("list") == 5


def test_frontier_organizations_page_of_the_wrong_shape_stops_the_fetch():
    with (
        ProviderServer(
            "frontier", records=[], faults=[Fault("malformed", path_contains="ListOrganizations")]
        ) as server,
        pytest.raises(FetchError, match="organizations"),
    ):
        fetch(server, {"org_ids": "all"})
