"""Transport: error mapping, the one retry policy, creates that are never retried blindly, the rate budget."""

from __future__ import annotations

import json
import logging
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3.exceptions

from sync.clients.base import ConnectFailedError, Transport, TruncatedBodyError, _param, _query, decode_json
from sync.clients.ratelimit import RateWait
from sync.clock import FakeClock
from sync.errors import (
    AccountNotFoundError,
    ApiError,
    AuthError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RejectedError,
    ServerError,
)

BASE = "https://musterfirma.billomat.net/api"
KEY = "sekrit-KEY-4711"
CLIENTS = f"{BASE}/clients"
FIXTURES = Path(__file__).parent / "fixtures" / "billomat"
HINT = "check BILLOMAT_ID / BILLOMAT_BASE_URL and the network"
HTML_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def http_date(epoch: float) -> str:
    return formatdate(epoch, usegmt=True)


def make(clock: FakeClock | None = None, **options: Any) -> Transport:
    return Transport(
        BASE, {"X-BillomatApiKey": KEY}, clock=clock or FakeClock(), network_hint=HINT, **options
    )


def refused() -> requests.ConnectionError:
    """What requests raises when nothing listens on the port."""
    reason = urllib3.exceptions.NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused"
    )  # type: ignore[arg-type]
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/api/clients", reason))  # type: ignore[arg-type]


# -- success ------------------------------------------------------------------------------------


def test_get_returns_the_parsed_object_and_sends_json_accept_user_agent_and_key(requests_mock: Any) -> None:
    requests_mock.get(CLIENTS, text=fixture("clients_list_single_object.json"))
    body = make().request("GET", "/clients", params={"page": 2})
    assert body is not None and body["clients"]["client"]["city"] == "Aachen"  # \u00fc decoded too
    sent = requests_mock.last_request
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"].startswith("billsync/")
    assert sent.headers["X-BillomatApiKey"] == KEY
    assert sent.qs == {"page": ["2"]}


def test_an_empty_body_is_none_not_a_json_error(requests_mock: Any) -> None:
    # billomat-api.md §1: DELETE answers 200 with body "" and Content-Type application/json.
    requests_mock.delete(f"{CLIENTS}/7", text="", headers={"Content-Type": "application/json"})
    assert make().request("DELETE", "clients/7") is None


def test_post_sends_the_body_as_json(requests_mock: Any) -> None:
    requests_mock.post(CLIENTS, status_code=201, text=fixture("client_post_201.json"))
    body = make().request("POST", "clients", json={"client": {"name": "Musterfirma"}}, retry=False)
    assert body is not None and body["client"]["id"] == "170675"
    assert requests_mock.last_request.json() == {"client": {"name": "Musterfirma"}}


# -- error mapping ------------------------------------------------------------------------------

RECORDED_ERRORS = [
    ("error_404_account_not_found.json", 404, AccountNotFoundError, "Account not Found"),
    ("error_404_row_not_found.json", 404, NotFoundError, "Row not found"),
    ("error_404_put_row_not_found.json", 404, NotFoundError, "Row not found"),
    ("error_401_unauthorized_foreign_id.json", 401, AuthError, "Unauthorized"),
    ("error_400_invalid_email.json", 400, RejectedError, "invalid email address"),
    ("error_400_business_rule.json", 400, RejectedError, "Only status DRAFT can be completed"),
]


@pytest.mark.parametrize(("name", "status", "error", "message"), RECORDED_ERRORS)
def test_recorded_error_bodies_map_to_their_error_class(
    requests_mock: Any, name: str, status: int, error: type[ApiError], message: str
) -> None:
    requests_mock.get(CLIENTS, status_code=status, text=fixture(name))
    with pytest.raises(ApiError) as caught:
        make().request("GET", "clients", params={"page": 2})
    assert type(caught.value) is error
    assert caught.value.api_message == message
    assert caught.value.status == status
    assert str(caught.value).startswith(f"GET /clients?page=2 -> HTTP {status}: ")
    assert message in str(caught.value)
    assert requests_mock.call_count == 1  # none of these is retried


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (422, RejectedError),
        (403, AuthError),
        (405, ApiError),
        (409, ApiError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_other_statuses_map_to_their_error_class(
    requests_mock: Any, status: int, error: type[ApiError]
) -> None:
    requests_mock.get(CLIENTS, status_code=status, json={"errors": {"error": "nope"}})
    with pytest.raises(ApiError) as caught:
        make(max_attempts=1).request("GET", "clients")
    assert type(caught.value) is error
    assert "nope" in str(caught.value)


def test_several_errors_in_a_list_are_all_reported(requests_mock: Any) -> None:
    requests_mock.post(
        CLIENTS, status_code=400, json={"errors": {"error": ["invalid email address", "invalid IBAN"]}}
    )
    with pytest.raises(RejectedError) as caught:
        make().request("POST", "clients", json={"client": {}}, retry=False)
    assert caught.value.api_message == "invalid email address; invalid IBAN"


def test_an_html_502_is_a_server_error_named_by_its_title_without_the_page(requests_mock: Any) -> None:
    requests_mock.get(CLIENTS, status_code=502, text=HTML_502, headers={"Content-Type": "text/html"})
    with pytest.raises(ServerError) as caught:
        make(max_attempts=1).request("GET", "clients", params={"page": 3})
    assert str(caught.value) == "GET /clients?page=3 -> HTTP 502: server error: 502 Bad Gateway"
    assert "<" not in str(caught.value)


def test_an_xml_error_body_gives_its_error_text(requests_mock: Any) -> None:
    body = "<errors><error>Maximum number of requests (300 per 15 minutes) reached. Try again in 246 seconds.</error></errors>"
    requests_mock.get(CLIENTS, status_code=429, text=body, headers={"Content-Type": "application/xml"})
    with pytest.raises(RateLimitedError) as caught:
        make(max_attempts=1).request("GET", "clients")
    assert caught.value.api_message.startswith("Maximum number of requests")


def test_a_200_holding_only_errors_is_rejected_not_returned(requests_mock: Any) -> None:
    requests_mock.get(CLIENTS, json={"errors": {"error": "invalid secret"}})
    with pytest.raises(RejectedError, match="invalid secret"):
        make().request("GET", "clients")
    assert requests_mock.call_count == 1


def test_a_truncated_2xx_body_is_retried_twice_then_a_protocol_error(requests_mock: Any) -> None:
    clock = FakeClock()
    requests_mock.get(CLIENTS, text='{"clients": {"client": [{"id": "1"')
    with pytest.raises(ProtocolError, match="not valid JSON") as caught:
        make(clock).request("GET", "clients")
    assert isinstance(caught.value, TruncatedBodyError)
    assert requests_mock.call_count == 3
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(
    "body",
    [
        b'{"clients": {"client": [{"id": "1", "name": "M\xc3\xbcller & S\xc3\xb6hne"}]}}',  # the usual answer
        b'{"value": NaN}',  # json reads NaN; orjson refuses it
        b'{"id": 18446744073709551615, "min": -9223372036854775808}',  # the widest integers orjson reads as int
        b'{"name": "\\ud800 half a pair"}',  # a lone surrogate escape: orjson refuses it too
        '{"name": "Gr\u00f6\u00dfe"}'.encode("utf-16"),  # UTF-16 with a BOM: json detects it
    ],
)
def test_an_answer_body_decodes_exactly_as_the_json_module_decodes_it(body: bytes) -> None:
    expected = json.loads(body)
    decoded = decode_json(body)
    assert repr(decoded) == repr(expected)  # repr: NaN is never equal to itself


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "1001", "per_page": "1000", "page": _param(2)},
        {"tags": "Ärzte & Praxen", "name": "a=b;c+d/e?f#g", "empty": ""},
        {"order_by": "id ASC", "skip": _param(None), "ids": _param(["1", "2"]), "flag": _param(True)},
        {},
    ],
)
def test_the_query_string_is_the_one_requests_makes_of_the_params(params: dict[str, str]) -> None:
    url = "https://musterfirma.billomat.net/api/clients"
    expected = requests.Request("GET", url, params=params).prepare().url
    assert requests.Request("GET", url, params=_query(params)).prepare().url == expected


def test_a_body_that_is_not_json_is_a_value_error_from_either_decoder() -> None:
    with pytest.raises(ValueError):
        decode_json(b'{"clients": {"client": [{"id": "1"')


def test_a_truncated_body_then_a_whole_one_succeeds(requests_mock: Any) -> None:
    requests_mock.get(CLIENTS, [{"text": '{"clients": {'}, {"json": {"clients": {"@total": "0"}}}])
    assert make().request("GET", "clients") == {"clients": {"@total": "0"}}
    assert requests_mock.call_count == 2


def test_a_redirect_is_not_followed_because_it_would_carry_the_key(requests_mock: Any) -> None:
    requests_mock.get(CLIENTS, status_code=302, headers={"Location": "https://elsewhere.example/api/clients"})
    with pytest.raises(ProtocolError, match="elsewhere.example"):
        make().request("GET", "clients")
    assert requests_mock.call_count == 1


def test_a_connection_error_is_a_network_error_naming_the_host_and_what_to_check(requests_mock: Any) -> None:
    clock = FakeClock()
    requests_mock.get(CLIENTS, exc=requests.ConnectionError("Connection aborted."))
    with pytest.raises(NetworkError) as caught:
        make(clock).request("GET", "clients", params={"page": 2})
    message = str(caught.value)
    assert message.startswith("GET /clients?page=2: could not reach musterfirma.billomat.net")
    assert "BILLOMAT_ID" in message and "BILLOMAT_BASE_URL" in message
    assert requests_mock.call_count == 6 and len(clock.sleeps) == 5


def test_a_refused_connection_is_a_connect_failure_that_sent_nothing(requests_mock: Any) -> None:
    requests_mock.get(CLIENTS, exc=refused())
    with pytest.raises(ConnectFailedError, match="connection refused"):
        make(max_attempts=2).request("GET", "clients")


@pytest.mark.parametrize(
    "exc",
    [requests.ReadTimeout("read timed out"), requests.exceptions.ChunkedEncodingError("IncompleteRead")],
)
def test_timeouts_and_broken_bodies_are_network_errors(requests_mock: Any, exc: Exception) -> None:
    requests_mock.get(CLIENTS, exc=exc)
    with pytest.raises(NetworkError) as caught:
        make(max_attempts=1).request("GET", "clients")
    assert not isinstance(caught.value, ConnectFailedError)


# -- the retry policy ---------------------------------------------------------------------------


def test_503_503_200_succeeds_on_the_third_request_after_two_backoff_sleeps(requests_mock: Any) -> None:
    clock = FakeClock()
    retries: list[tuple[int, BaseException, float]] = []
    requests_mock.get(
        CLIENTS,
        [{"status_code": 503, "text": "busy"}, {"status_code": 503, "text": HTML_502}, {"json": {"ok": "1"}}],
    )
    transport = make(clock, on_retry=lambda attempt, error, wait: retries.append((attempt, error, wait)))
    assert transport.request("GET", "clients") == {"ok": "1"}
    assert requests_mock.call_count == 3
    assert transport.request_count == 3
    assert [attempt for attempt, _, _ in retries] == [1, 2]
    assert all(isinstance(error, ServerError) for _, error, _ in retries)
    assert [wait for _, _, wait in retries] == clock.sleeps
    assert 1 <= clock.sleeps[0] <= 2 and 2 <= clock.sleeps[1] <= 3  # exponential, with up to 1 s of jitter


def test_backoff_doubles_and_is_capped_at_60_seconds(requests_mock: Any) -> None:
    clock = FakeClock()
    requests_mock.get(CLIENTS, status_code=500)
    with pytest.raises(ServerError):
        make(clock, max_attempts=9).request("GET", "clients")
    assert requests_mock.call_count == 9
    lower = [1, 2, 4, 8, 16, 32, 60, 60]
    assert all(low <= wait <= min(low + 1, 60) for low, wait in zip(lower, clock.sleeps, strict=True))


def test_a_400_is_not_retried(requests_mock: Any) -> None:
    clock = FakeClock()
    requests_mock.get(CLIENTS, status_code=400, text=fixture("error_400_invalid_email.json"))
    with pytest.raises(RejectedError):
        make(clock).request("GET", "clients")
    assert requests_mock.call_count == 1 and clock.sleeps == []


def test_a_post_with_retry_false_is_not_retried_on_a_502(requests_mock: Any) -> None:
    requests_mock.post(CLIENTS, status_code=502, text=HTML_502)
    with pytest.raises(ServerError):
        make().request("POST", "clients", json={"client": {"name": "x"}}, retry=False)
    assert requests_mock.call_count == 1


def test_a_post_without_landed_check_is_not_retried_on_a_lost_answer(requests_mock: Any) -> None:
    requests_mock.post(CLIENTS, exc=requests.ReadTimeout("read timed out"))
    with pytest.raises(NetworkError):
        make().request("POST", "clients", json={"client": {"name": "x"}})
    assert requests_mock.call_count == 1


@pytest.mark.parametrize(
    "first",
    [
        {"status_code": 429, "json": {"errors": {"error": "Try again in 5 seconds."}}},
        {"exc": requests.ConnectTimeout("connect timed out")},
        {"exc": refused()},
    ],
)
def test_a_post_that_provably_did_nothing_is_retried_even_with_retry_false(
    requests_mock: Any, first: dict
) -> None:
    requests_mock.post(CLIENTS, [first, {"status_code": 201, "json": {"client": {"id": "5"}}}])
    assert make().request("POST", "clients", json={"client": {}}, retry=False) == {"client": {"id": "5"}}
    assert requests_mock.call_count == 2


def test_a_post_whose_answer_was_lost_is_not_sent_again_when_landed_finds_it(requests_mock: Any) -> None:
    requests_mock.post(CLIENTS, exc=requests.ConnectionError("Connection reset by peer"))
    checks: list[str] = []

    def landed() -> dict[str, Any] | None:
        checks.append("checked")
        return {"client": {"id": "170675", "name": "Musterfirma"}}

    body = make().request("POST", "clients", json={"client": {"name": "Musterfirma"}}, landed=landed)
    assert body == {"client": {"id": "170675", "name": "Musterfirma"}}
    assert requests_mock.call_count == 1 and checks == ["checked"]


def test_a_post_that_did_not_land_is_sent_again(requests_mock: Any) -> None:
    requests_mock.post(
        CLIENTS,
        [{"status_code": 502, "text": HTML_502}, {"status_code": 201, "json": {"client": {"id": "9"}}}],
    )
    body = make().request("POST", "clients", json={"client": {}}, landed=lambda: None)
    assert body == {"client": {"id": "9"}}
    assert requests_mock.call_count == 2


def test_the_landed_check_is_not_asked_when_nothing_was_sent(requests_mock: Any) -> None:
    requests_mock.post(CLIENTS, [{"exc": refused()}, {"status_code": 201, "json": {"client": {"id": "9"}}}])

    def landed() -> dict[str, Any] | None:
        raise AssertionError("a refused connection cannot have created anything")

    assert make().request("POST", "clients", json={"client": {}}, landed=landed) == {"client": {"id": "9"}}


def test_a_delete_whose_answer_was_lost_and_then_finds_nothing_did_land(requests_mock: Any) -> None:
    requests_mock.delete(
        f"{CLIENTS}/7",
        [
            {"exc": requests.ReadTimeout("read timed out")},
            {"status_code": 404, "text": fixture("error_404_row_not_found.json")},
        ],
    )
    assert make().request("DELETE", "clients/7") is None
    assert requests_mock.call_count == 2


# -- 429 and the rate-limit budget --------------------------------------------------------------


def test_a_429_with_reset_header_sleeps_until_the_reset_plus_one_second(requests_mock: Any) -> None:
    clock = FakeClock()
    now = clock.now()
    requests_mock.get(
        CLIENTS,
        [
            {
                "status_code": 429,
                "json": {"errors": {"error": "Maximum number of requests reached."}},
                "headers": {
                    "X-Rate-Limit-Remaining": "0",
                    "X-Rate-Limit-Reset": str(int(now + 120)),
                    "Date": http_date(now),
                },
            },
            {
                "json": {"ok": "1"},
                "headers": {"X-Rate-Limit-Remaining": "299", "X-Rate-Limit-Reset": str(int(now + 1020))},
            },
        ],
    )
    assert make(clock).request("GET", "clients") == {"ok": "1"}
    assert clock.sleeps == [121.0]
    assert requests_mock.call_count == 2


def test_a_429_wait_follows_the_server_clock_not_ours(requests_mock: Any) -> None:
    clock = FakeClock()
    server_now = clock.now() + 300  # Billomat's clock is five minutes ahead of this machine
    requests_mock.get(
        CLIENTS,
        [
            {
                "status_code": 429,
                "headers": {"X-Rate-Limit-Reset": str(int(server_now + 60)), "Date": http_date(server_now)},
            },
            {"json": {}},
        ],
    )
    make(clock).request("GET", "clients")
    assert clock.sleeps == [61.0]


def test_a_429_with_only_the_try_again_text_sleeps_that_long(requests_mock: Any) -> None:
    clock = FakeClock()
    text = "Maximum number of requests (300 per 15 minutes) reached. Try again in 246 seconds."
    requests_mock.get(CLIENTS, [{"status_code": 429, "json": {"errors": {"error": text}}}, {"json": {}}])
    make(clock).request("GET", "clients")
    assert clock.sleeps == [247.0]


def test_a_429_with_retry_after_sleeps_that_long(requests_mock: Any) -> None:
    clock = FakeClock()
    requests_mock.get(CLIENTS, [{"status_code": 429, "headers": {"Retry-After": "30"}}, {"json": {}}])
    make(clock).request("GET", "clients")
    assert clock.sleeps == [31.0]


def test_a_429_carries_reset_at_as_epoch_seconds(requests_mock: Any) -> None:
    clock = FakeClock()
    reset = int(clock.now() + 500)
    requests_mock.get(CLIENTS, status_code=429, headers={"X-Rate-Limit-Reset": str(reset)})
    with pytest.raises(RateLimitedError) as caught:
        make(clock, max_attempts=1).request("GET", "clients")
    assert caught.value.reset_at == reset


def budget_headers(remaining: int, reset_at: float, date: float | None = None) -> dict[str, str]:
    headers = {"X-Rate-Limit-Remaining": str(remaining), "X-Rate-Limit-Reset": str(int(reset_at))}
    if date is not None:
        headers["Date"] = http_date(date)
    return headers


def test_at_the_reserve_the_next_request_waits_for_the_window_instead_of_provoking_a_429(
    requests_mock: Any,
) -> None:
    clock = FakeClock()
    now = clock.now()
    waits: list[RateWait] = []
    requests_mock.get(CLIENTS, json={}, headers=budget_headers(30, now + 100, date=now))
    transport = make(clock, rate_reserve=30, on_wait=waits.append)
    transport.request("GET", "clients")
    assert clock.sleeps == [] and transport.rate_remaining == 30
    requests_mock.get(CLIENTS, json={}, headers=budget_headers(299, now + 1000, date=now + 101))
    transport.request("GET", "clients")
    assert clock.sleeps == [101.0]
    assert waits == [RateWait(101.0, now + 100, remaining=30, reserve=30, quota=300)]
    assert transport.request_count == 2 and transport.rate_remaining == 299


def test_the_budget_wait_is_computed_from_the_date_header_when_our_clock_is_off(requests_mock: Any) -> None:
    clock = FakeClock()
    server_now = clock.now() - 500  # this machine's clock runs 500 s ahead of Billomat's
    requests_mock.get(CLIENTS, json={}, headers=budget_headers(30, server_now + 100, date=server_now))
    transport = make(clock, rate_reserve=30)
    transport.request("GET", "clients")
    transport.request("GET", "clients")
    assert clock.sleeps == [101.0]  # not 1 s (our clock says the window is long over)


def test_without_a_date_header_the_budget_wait_uses_our_clock(requests_mock: Any) -> None:
    clock = FakeClock()
    requests_mock.get(CLIENTS, json={}, headers=budget_headers(0, clock.now() + 40))
    transport = make(clock)
    transport.request("GET", "clients")
    transport.request("GET", "clients")
    assert clock.sleeps[0] == 41.0


def test_above_the_reserve_nothing_waits(requests_mock: Any) -> None:
    clock = FakeClock()
    requests_mock.get(CLIENTS, json={}, headers=budget_headers(31, clock.now() + 100, date=clock.now()))
    transport = make(clock, rate_reserve=30)
    for _ in range(3):
        transport.request("GET", "clients")
    assert clock.sleeps == []


def test_a_window_that_has_already_reset_needs_no_wait(requests_mock: Any) -> None:
    clock = FakeClock()
    requests_mock.get(CLIENTS, json={}, headers=budget_headers(1, clock.now() + 10))
    transport = make(clock)
    transport.request("GET", "clients")
    clock.advance(20)
    transport.request("GET", "clients")
    assert clock.sleeps == []


def test_without_rate_limit_headers_there_is_no_budgeting(requests_mock: Any) -> None:
    # billomat-api.md §2: the 2012 API sent no rate-limit headers at all.
    clock = FakeClock()
    requests_mock.get(CLIENTS, json={})
    transport = make(clock, rate_reserve=30)
    for _ in range(50):
        transport.request("GET", "clients")
    assert clock.sleeps == [] and transport.rate_remaining is None and transport.request_count == 50


def test_a_run_started_with_the_reserve_left_makes_no_further_request_in_that_window(requests_mock: Any) -> None:
    # The field report: 30 left at the start was taken for the quota, and 27 of the reserve were used.
    clock = FakeClock()
    reset = clock.now() + 831
    waits: list[RateWait] = []
    requests_mock.get(
        CLIENTS,
        [
            {"json": {}, "headers": budget_headers(30, reset, date=clock.now())},
            {"json": {}, "headers": budget_headers(299, reset + 900, date=reset + 1)},
        ],
    )
    transport = make(clock, rate_reserve=30, on_wait=waits.append)
    transport.request("GET", "clients")
    transport.request("GET", "clients")
    assert clock.sleeps == [832.0]  # the second request went to the next window
    assert waits == [RateWait(832.0, reset, remaining=30, reserve=30, quota=300)]


def test_the_quota_is_the_documented_one_never_what_is_left_at_the_start(requests_mock: Any) -> None:
    clock = FakeClock()
    requests_mock.get(CLIENTS, json={}, headers=budget_headers(29, clock.now() + 600))
    transport = make(clock, rate_reserve=30)
    transport.request("GET", "clients")
    assert transport.budget.quota == 300 and transport.budget.effective_reserve() == 30
    assert make(clock, rate_quota=1000).budget.quota == 1000


def test_a_stated_quota_header_or_429_text_is_taken_as_the_quota(requests_mock: Any) -> None:
    clock = FakeClock()
    headers = {**budget_headers(10, clock.now() + 600), "X-Rate-Limit-Limit": "20"}
    requests_mock.get(CLIENTS, json={}, headers=headers)
    transport = make(clock)
    transport.request("GET", "clients")
    assert transport.budget.quota == 20
    text = "Maximum number of requests (1000 per 15 minutes) reached. Try again in 5 seconds."
    requests_mock.get(CLIENTS, [{"status_code": 429, "json": {"errors": {"error": text}}}, {"json": {}}])
    transport.request("GET", "clients")
    assert transport.budget.quota == 1000


def test_more_left_than_the_assumed_quota_raises_the_quota(requests_mock: Any) -> None:
    clock = FakeClock()
    requests_mock.get(CLIENTS, json={}, headers=budget_headers(4999, clock.now() + 600))
    transport = make(clock)
    transport.request("GET", "clients")
    assert transport.budget.quota == 5000


def test_a_reserve_as_large_as_the_stated_quota_shrinks_to_a_tenth_and_every_message_says_so(
    requests_mock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    reset = clock.now() + 600
    caplog.set_level(logging.WARNING)

    def answer(remaining: int, reset_at: float) -> dict[str, Any]:
        return {"json": {}, "headers": {**budget_headers(remaining, reset_at), "X-Rate-Limit-Limit": "20"}}

    requests_mock.get(CLIENTS, [answer(19, reset), answer(18, reset), answer(2, reset), answer(19, reset + 900)])
    waits: list[RateWait] = []
    transport = make(clock, rate_reserve=30, on_wait=waits.append)
    for _ in range(3):
        transport.request("GET", "clients")
    assert clock.sleeps == []  # 30 >= 20 would otherwise wait before every request
    transport.request("GET", "clients")
    assert clock.sleeps == [601.0]
    warnings = [r.getMessage() for r in caplog.records if "rate_limit_reserve" in r.getMessage()]
    assert warnings == [
        "billomat.rate_limit_reserve 30 is not below the account's quota of 20 requests per window; "
        "keeping 2 for other tools instead"
    ]
    assert [(w.reserve, w.quota) for w in waits] == [(2, 20)]


def test_on_request_reports_method_call_status_and_duration(requests_mock: Any) -> None:
    seen: list[tuple[str, str, int | None, float]] = []
    requests_mock.get(CLIENTS, [{"status_code": 503}, {"json": {}}])
    make(on_request=lambda *args: seen.append(args)).request(
        "GET", "clients", params={"page": 2, "api_key": KEY}
    )
    assert [(m, p, s) for m, p, s, _ in seen] == [
        ("GET", "/clients?page=2", 503),
        ("GET", "/clients?page=2", 200),
    ]
    assert all(seconds >= 0 for *_, seconds in seen)


# -- secrets ------------------------------------------------------------------------------------

LEAKY_ANSWERS: list[dict[str, Any]] = [
    {"status_code": 401, "json": {"errors": {"error": f"invalid api key {KEY}"}}},
    {"status_code": 404, "text": fixture("error_404_account_not_found.json")},
    {"status_code": 400, "json": {"errors": {"error": [f"bad key {KEY}", "x"]}}},
    {"status_code": 429, "text": f"<errors><error>{KEY} Try again in 1 seconds.</error></errors>"},
    {"status_code": 502, "text": f"<html><title>502 {KEY}</title></html>"},
    {"status_code": 200, "text": '{"clients": '},
    {"status_code": 200, "json": {"errors": {"error": KEY}}},
    {"exc": requests.ConnectionError(f"https://musterfirma.billomat.net/api/clients?api_key={KEY}")},
]


@pytest.mark.parametrize("answer", LEAKY_ANSWERS)
def test_the_api_key_never_appears_in_messages_or_logs(
    requests_mock: Any, caplog: pytest.LogCaptureFixture, answer: dict[str, Any]
) -> None:
    caplog.set_level(logging.DEBUG)
    reported: list[str] = []
    requests_mock.get(CLIENTS, [answer])
    transport = make(
        max_attempts=2,
        on_request=lambda method, path, status, seconds: reported.append(path),
        on_retry=lambda attempt, error, wait: reported.append(str(error)),
    )
    with pytest.raises(ApiError) as caught:
        transport.request("GET", "clients", params={"page": 1, "api_key": KEY})
    assert KEY not in str(caught.value)
    assert (
        KEY not in repr(caught.value.args)
        and KEY not in caught.value.api_message
        and KEY not in caught.value.path
    )
    assert KEY not in caplog.text
    assert not any(KEY in line for line in reported)
    assert "api_key" not in requests_mock.last_request.url  # never sent in the query at all


def test_describe_leaves_out_the_api_key_parameter() -> None:
    transport = make()
    assert transport.describe("get", "/clients", {"api_key": KEY, "page": "2"}) == "GET /clients?page=2"
    assert KEY not in repr(transport)


def test_the_error_message_of_a_json_body_without_errors_key_is_still_short(requests_mock: Any) -> None:
    requests_mock.get(CLIENTS, status_code=500, text=json.dumps({"message": "x" * 1000}))
    with pytest.raises(ServerError) as caught:
        make(max_attempts=1).request("GET", "clients")
    assert len(caught.value.api_message) <= 200


def test_proxy_and_ca_bundle_come_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.firma.local:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/firma-ca.pem")
    session = Transport("https://musterfirma.billomat.net/api").session
    assert session.proxies.get("https") == "http://proxy.firma.local:3128"
    assert session.verify == "/etc/ssl/firma-ca.pem"
    assert session.trust_env is False  # not re-read on every request
    monkeypatch.setenv("NO_PROXY", "musterfirma.billomat.net")
    assert "https" not in Transport("https://musterfirma.billomat.net/api").session.proxies
