"""The HTTP door against a real server on 127.0.0.1: retries, Retry-After, caps, auth, secrets."""

from __future__ import annotations

import email.utils
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from reconcile.errors import ExitCode, InputDataError, UsageError
from reconcile.providers import _http
from reconcile.providers._http import CredentialError, FetchError, HttpPolicy, RetryWait
from reconcile.providers._secrets import Secrets
from tests.fetch._server import SECRET, Reply, client

OK = Reply(body=b'{"data": [1, 2.50]} ')
JSON = (("Content-Type", "application/json"),)


def retry_after(value: str, status: int = 429) -> Reply:
    return Reply(
        status=status,
        body=b'{"error": {"message": "slow down"}}',
        headers=(*JSON, ("Retry-After", value)),
    )


def test_a_page_is_the_exact_bytes_received_with_its_exchange(scripted):
    server = scripted(OK)
    with client(server) as c:
        page = c.get("/v1/invoices", params={"limit": 100, "created[gte]": 1})
    assert page.body == b'{"data": [1, 2.50]} '
    assert page.endpoint == "GET /v1/invoices" and page.kind == "list"
    ex = page.exchange
    assert ex is not None and ex.status == 200 and ex.body == page.body
    assert dict(ex.query) == {"created[gte]": "1", "limit": "100"}
    assert ex.headers["content-type"] == "application/json"
    assert c.exchanges == [ex]
    assert c.stats.pages == 1 and c.stats.bytes == len(page.body) and c.stats.retries == 0
    assert server.requests[0].path == "/v1/invoices?limit=100&created%5Bgte%5D=1"
    assert server.requests[0].headers["Authorization"] == f"Bearer {SECRET}"


def test_429_retry_after_seconds_is_honoured(scripted):
    server = scripted(retry_after("7"), OK)
    started = time.monotonic()
    with client(server) as c:
        page = c.get("/v1/invoices")
    assert page.body == OK.body
    assert len(server.requests) == 2
    assert c.stats.retries == 1
    assert c.stats.waits == [RetryWait(429, None, 7.0)]  # what was (not) slept, in test mode
    assert time.monotonic() - started < 5  # testing switch: no sleeping
    assert page.exchange is not None and page.exchange.attempts == 2


def test_429_retry_after_http_date_is_honoured(scripted):
    when = datetime.now(UTC) + timedelta(seconds=30)
    server = scripted(retry_after(email.utils.format_datetime(when, usegmt=True)), OK)
    with client(server) as c:
        c.get("/v1/invoices")
    [wait] = c.stats.waits
    assert wait.status == 429 and wait.retry_after is not None
    assert 27 <= wait.retry_after <= 30


def test_retry_after_is_slept_when_not_testing(scripted):
    server = scripted(retry_after("1", status=503), OK)
    _http.set_testing(False)
    started = time.monotonic()
    with client(server) as c:
        c.get("/v1/invoices")
    assert time.monotonic() - started >= 0.95
    assert c.stats.waits == [RetryWait(503, None, 1.0)]


def test_503_then_success_backs_off(scripted):
    server = scripted(Reply(status=503, body=b"busy"), Reply(status=502, body=b""), OK)
    with client(server) as c:
        page = c.get("/v1/invoices")
    assert page.body == OK.body
    assert c.stats.retries == 2
    assert c.stats.waits == [RetryWait(503, None, None), RetryWait(502, None, None)]


def test_read_timeout_is_retried(scripted):
    server = scripted(Reply(delay=1.0), OK)
    with client(server, policy=HttpPolicy(read_timeout=0.2)) as c:
        page = c.get("/v1/invoices")
    assert page.body == OK.body
    assert c.stats.waits == [RetryWait(None, "ReadTimeout", None)]


@pytest.mark.parametrize("drop", ["reset", "close"])
def test_connection_dropped_without_a_response_is_retried(scripted, drop):
    server = scripted(Reply(drop=drop), OK)
    with client(server) as c:
        page = c.get("/v1/invoices")
    assert page.body == OK.body
    assert c.stats.retries == 1
    assert c.stats.waits[0].status is None and c.stats.waits[0].error


def test_retry_cap_fails_with_exit_3_naming_provider_endpoint_status(scripted):
    server = scripted(Reply(status=503, body=b"down"))
    with client(server, policy=HttpPolicy(max_attempts=4)) as c, pytest.raises(FetchError) as info:
        c.get("/v1/invoices", params={"limit": 100})
    err = info.value
    assert isinstance(err, InputDataError) and err.exit_code == ExitCode.INPUT_DATA == 3
    assert len(server.requests) == 4
    text = str(err)
    assert text.startswith("src: stripe GET /v1/invoices:")
    assert "gave up after 4 attempt(s)" in text and "last status 503 Service Unavailable" in text
    assert err.status == 503 and err.provider == "stripe" and err.endpoint == "GET /v1/invoices"
    assert c.stats.retries == 3


def test_transport_errors_to_the_cap_name_the_last_error(scripted):
    server = scripted(Reply(drop="reset"))
    with client(server, policy=HttpPolicy(max_attempts=2)) as c, pytest.raises(FetchError) as info:
        c.get("/v1/invoices")
    assert "gave up after 2 attempt(s)" in str(info.value)
    assert "(no response)" in str(info.value) and info.value.status is None


def test_retry_after_beyond_the_time_budget_gives_up_at_once(scripted):
    server = scripted(retry_after("600"), OK)
    with client(server, policy=HttpPolicy(max_seconds=60)) as c, pytest.raises(FetchError) as info:
        c.get("/v1/invoices")
    assert len(server.requests) == 1
    assert "Retry-After" in str(info.value) and "retry budget" in str(info.value)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_is_exit_2_naming_the_variable_never_the_value(scripted, status):
    server = scripted(Reply(status=status, body=f'{{"error": "bad key {SECRET}"}}'.encode()))
    with client(server) as c, pytest.raises(CredentialError) as info:
        c.get("/v1/invoices")
    assert isinstance(info.value, UsageError) and info.value.exit_code == ExitCode.USAGE == 2
    assert "SRC_API_KEY" in str(info.value)
    assert SECRET not in str(info.value)
    assert len(server.requests) == 1  # never retried


def test_stripe_should_retry_false_is_not_retried(scripted):
    server = scripted(
        Reply(
            status=429,
            body=b"{}",
            headers=(*JSON, ("Retry-After", "1"), ("Stripe-Should-Retry", "false")),
        ),
        OK,
    )
    with client(server) as c, pytest.raises(FetchError) as info:
        c.get("/v1/invoices")
    assert len(server.requests) == 1
    assert "Stripe-Should-Retry" in str(info.value) and info.value.status == 429


def test_commet_429_without_retry_after_is_not_retried(scripted):
    server = scripted(Reply(status=429, body=b"{}"), OK)
    with client(server, provider="commet") as c, pytest.raises(FetchError) as info:
        c.get("/api/v1/invoices")
    assert len(server.requests) == 1
    assert "Retry-After" in str(info.value)


def test_commet_429_with_retry_after_is_retried(scripted):
    server = scripted(retry_after("2"), OK)
    with client(server, provider="commet") as c:
        c.get("/api/v1/invoices")
    assert c.stats.waits == [RetryWait(429, None, 2.0)]


def test_other_statuses_fail_at_once_with_the_api_message(scripted):
    server = scripted(
        Reply(status=404, body=b'{"error": {"code": "not_found", "message": "no such org"}}')
    )
    with client(server) as c, pytest.raises(FetchError) as info:
        c.get("/v1/invoices")
    assert len(server.requests) == 1
    assert "404 Not Found" in str(info.value) and "no such org" in str(info.value)


def test_redirects_are_not_followed(scripted):
    server = scripted(Reply(status=302, body=b"", headers=(("Location", "https://elsewhere/"),)))
    with client(server) as c, pytest.raises(FetchError) as info:
        c.get("/v1/invoices")
    assert len(server.requests) == 1 and "redirect" in str(info.value)


def test_secrets_stay_out_of_kept_query_headers_and_messages(scripted):
    server = scripted(
        Reply(body=b"{}", headers=(*JSON, ("Set-Cookie", f"s={SECRET}"), ("X-Request-Id", "req_1")))
    )
    with client(server) as c:
        page = c.get("/v1/x", params={"api_key": "abc123", "note": SECRET, "limit": 1})
    ex = page.exchange
    assert ex is not None
    assert ex.query == {"api_key": "[redacted]", "limit": "1", "note": "[redacted]"}
    assert "set-cookie" not in ex.headers and ex.headers["x-request-id"] == "req_1"
    assert SECRET not in page.location and "abc123" not in page.location
    assert SECRET not in c.fail(f"echo {SECRET}", endpoint="GET /v1/x").message


def test_each_part_of_a_client_id_secret_credential_of_8_characters_is_a_secret():
    basic = {"Authorization": "Basic c3ZjLWNsaWVudDpaOHZLM21XN3Q="}
    secrets = Secrets(["svc-client:Z8vK3mW7t"], basic)
    assert secrets.scrub("id svc-client, secret Z8vK3mW7t") == "id [redacted], secret [redacted]"
    assert secrets.redact(b'{"echo": "Z8vK3mW7t"}') == b'{"echo": "[redacted]"}'
    assert secrets.snippet("the secret is Z8vK3", 18) == "the secret is [redacted]"
    short = Secrets(["svc:Z8vK3mW7t:abc"], basic)  # split at the first ':' only
    assert short.scrub("svc Z8vK3mW7t:abc Z8vK3mW7t") == "svc [redacted] Z8vK3mW7t"


def test_post_sends_json_and_keeps_the_request_body(scripted):
    server = scripted(OK)
    with client(server) as c:
        page = c.post("/svc/List", json={"org_id": "o1", "expand": []})
    assert server.requests[0].method == "POST"
    assert server.requests[0].body == b'{"expand":[],"org_id":"o1"}'
    assert server.requests[0].headers["Content-Type"] == "application/json"
    assert page.exchange is not None and page.exchange.request_body == server.requests[0].body


def test_map_keeps_input_order_within_the_concurrency_limit(scripted):
    server = scripted(Reply(body=b"{}", delay=0.05))
    with client(server, policy=HttpPolicy(concurrency=3)) as c:
        pages = c.map(lambda n: c.get(f"/item/{n}"), range(12))
    assert [p.endpoint for p in pages] == [f"GET /item/{n}" for n in range(12)]
    assert 1 < server.max_in_flight <= 3


def test_map_raises_the_first_failure(scripted):
    server = scripted(Reply(body=b"{}"))
    with client(server, policy=HttpPolicy(concurrency=2)) as c:

        def work(n: int) -> int:
            if n == 3:
                raise c.fail("bad item", endpoint="GET /item")
            return n

        with pytest.raises(FetchError, match="bad item"):
            c.map(work, range(6))


def test_rate_limit_spaces_request_starts(scripted):
    server = scripted(Reply(body=b"{}"))
    started = time.monotonic()
    with client(server, policy=HttpPolicy(rate_per_second=20, concurrency=4)) as c:
        c.map(lambda n: c.get(f"/item/{n}"), range(6))
    assert time.monotonic() - started >= 5 / 20 - 0.01


def test_stats_are_thread_safe_and_seconds_measured(scripted):
    server = scripted(Reply(body=b"{}"))
    with client(server, policy=HttpPolicy(concurrency=4)) as c:
        threads = [
            threading.Thread(target=lambda: [c.add_records(1) for _ in range(500)])
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        c.get("/x")
    assert c.stats.records == 2000 and c.stats.pages == 1 and c.stats.seconds > 0
