"""The Billomat Python API (SPEC §8): resources, models, paging over real envelopes, and the API's quirks."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sync import Billomat
from sync.clients.billomat import Client, ClientPropertyValue, ClientTag, Contact
from sync.clients.paging import Page, Paging
from sync.clock import FakeClock
from sync.errors import (
    AccountNotFoundError,
    AuthError,
    ConfigError,
    IncompleteError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    RejectedError,
    ServerError,
)
from sync.settings import BillomatSettings, Secret

BASE = "https://musterfirma.billomat.net/api"
KEY = "emu-key-0815"
FIXTURES = Path(__file__).parent / "fixtures" / "billomat"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def query(request: Any) -> dict[str, str]:
    """The request's query, case kept (requests_mock's .qs lowercases values)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query, keep_blank_values=True).items()}


def envelope(
    plural: str, singular: str, items: list[dict[str, Any]], page: int, per_page: int, total: int
) -> dict:
    """A list answer the way Billomat shapes it: 2+ items a list, 1 an object, 0 no key."""
    body: dict[str, Any] = {"@page": str(page), "@per_page": str(per_page), "@total": str(total)}
    if len(items) == 1:
        body[singular] = items[0]
    elif items:
        body[singular] = items
    return {plural: body}


def serve(
    mock: Any,
    records: list[dict[str, Any]],
    *,
    plural: str = "clients",
    singular: str = "client",
    clamp: int = 1000,
    total: int | None = None,
) -> list[dict[str, str]]:
    """Serve `records` as the pages of GET /{plural}; returns the list of queries received."""
    seen: list[dict[str, str]] = []

    def answer(request: Any, context: Any) -> dict:
        q = query(request)
        seen.append(q)
        page, per_page = int(q.get("page", "1")), min(int(q.get("per_page", "100")), clamp)
        chunk = records[(page - 1) * per_page : page * per_page]
        return envelope(plural, singular, chunk, page, per_page, len(records) if total is None else total)

    mock.get(f"{BASE}/{plural}", json=answer)
    return seen


def clients(n: int) -> list[dict[str, Any]]:
    return [{"id": str(1000 + i), "name": f"Kunde {i}", "zip": "01067"} for i in range(n)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bm(clock: FakeClock) -> Billomat:
    return Billomat("musterfirma", KEY, clock=clock)


# -- construction -------------------------------------------------------------------------------


def test_the_base_url_is_built_from_the_billomat_id_and_the_key_goes_in_a_header(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE}/clients/myself", json={"client": {"id": "1", "name": "Musterfirma GmbH"}})
    bm = Billomat("musterfirma", KEY, app_id="app-1", app_secret="app-secret-2", clock=FakeClock())
    assert bm.base_url == BASE
    bm.clients.myself()
    headers = requests_mock.last_request.headers
    assert headers["X-BillomatApiKey"] == KEY
    assert headers["X-AppId"] == "app-1" and headers["X-AppSecret"] == "app-secret-2"
    assert KEY not in repr(bm)


def test_app_headers_are_not_sent_when_not_configured(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(f"{BASE}/clients/myself", json={"client": {"id": "1"}})
    bm.clients.myself()
    assert "X-AppId" not in requests_mock.last_request.headers
    assert "X-AppSecret" not in requests_mock.last_request.headers


def test_a_base_url_overrides_the_billomat_id() -> None:
    bm = Billomat(api_key=KEY, base_url="http://127.0.0.1:8765/billomat/musterfirma/api/")
    assert bm.base_url == "http://127.0.0.1:8765/billomat/musterfirma/api"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"billomat_id": "musterfirma"}, "API key"),
        ({"api_key": KEY}, "BILLOMAT_ID"),
        ({"api_key": KEY, "base_url": "http://billomat.example/api"}, "loopback"),
    ],
)
def test_missing_or_unsafe_settings_are_config_errors(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Billomat(**kwargs)


def test_from_settings_takes_reserve_timeout_and_secrets(requests_mock: Any, clock: FakeClock) -> None:
    settings = BillomatSettings(
        billomat_id="musterfirma", api_key=Secret(KEY), base_url=BASE, rate_reserve=7, timeout=12.5
    )
    bm = Billomat.from_settings(settings, clock=clock, max_attempts=2)
    assert (
        bm.transport.budget.reserve == 7 and bm.transport.timeout == 12.5 and bm.transport.max_attempts == 2
    )
    requests_mock.get(f"{BASE}/clients/myself", json={"client": {"id": "1"}})
    bm.clients.myself()
    assert requests_mock.last_request.headers["X-BillomatApiKey"] == KEY


def test_from_env_reads_the_billomat_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no billsync.yaml here
    monkeypatch.setenv("BILLOMAT_ID", "musterfirma")
    monkeypatch.setenv("BILLOMAT_API_KEY", KEY)
    monkeypatch.delenv("BILLOMAT_BASE_URL", raising=False)
    bm = Billomat.from_env(clock=FakeClock())
    assert bm.base_url == BASE and bm.billomat_id == "musterfirma"


# -- list, iter_pages, paged_list, where --------------------------------------------------------


def test_list_pages_every_record_with_per_page_1000_in_id_order(requests_mock: Any, bm: Billomat) -> None:
    seen = serve(requests_mock, clients(2500))
    result = bm.clients.list()
    assert [c.id for c in result] == [str(1000 + i) for i in range(2500)]
    assert all(isinstance(c, Client) for c in result)
    assert [(q["page"], q["per_page"], q["order_by"]) for q in seen] == [
        ("1", "1000", "id ASC"),
        ("2", "1000", "id ASC"),
        ("3", "1000", "id ASC"),
    ]
    assert "order_by=id+ASC" in requests_mock.request_history[0].url  # a space, not a literal "+" (%2B)
    assert bm.request_count == 3


def test_list_follows_the_per_page_the_server_clamped_to(requests_mock: Any, bm: Billomat) -> None:
    seen = serve(requests_mock, clients(250), clamp=100)
    assert len(bm.clients.list()) == 250
    assert [q["page"] for q in seen] == ["1", "2", "3"]


def test_list_keeps_a_last_page_of_one_object(requests_mock: Any, bm: Billomat) -> None:
    seen = serve(requests_mock, clients(5), clamp=2)  # pages of 2, 2 and then 1 (an object)
    assert [c.data["name"] for c in bm.clients.list()] == [f"Kunde {i}" for i in range(5)]
    assert len(seen) == 3


def test_an_empty_list_is_one_request_and_no_records(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(
        f"{BASE}/clients", text=fixture("empty_list_invoice_items.json").replace("invoice-items", "clients")
    )
    assert bm.clients.list() == []
    assert requests_mock.call_count == 1


def test_the_recorded_single_object_list_gives_one_client(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(f"{BASE}/clients", text=fixture("clients_list_single_object.json"))
    [client] = bm.clients.list()
    assert (
        client.id == "169499"
        and client.data["street"] == "Königshügel 23"
        and client.data["number_pre"] == ""
    )


def test_values_are_text_and_empty_values_are_empty_strings(requests_mock: Any, bm: Billomat) -> None:
    serve(
        requests_mock,
        [{"id": 7, "number": 42, "archived": False, "reduction": 1.5, "note": None, "zip": "01067"}],
    )
    [client] = bm.clients.list()
    assert client.data == {
        "id": "7",
        "number": "42",
        "archived": "0",
        "reduction": "1.5",
        "note": "",
        "zip": "01067",
    }


def test_iter_pages_yields_each_page_of_models(requests_mock: Any, bm: Billomat) -> None:
    serve(requests_mock, clients(5))
    pages = list(bm.clients.iter_pages(per_page=2))
    assert [[c.id for c in page] for page in pages] == [["1000", "1001"], ["1002", "1003"], ["1004"]]


def test_paged_list_returns_one_page_with_its_paging(requests_mock: Any, bm: Billomat) -> None:
    seen = serve(requests_mock, clients(25))
    page = bm.clients.paged_list(page=2, per_page=10)
    assert isinstance(page, Page)
    assert page.paging == Paging(page=2, per_page=10, total=25)
    assert [c.id for c in page.data] == [str(1010 + i) for i in range(10)]
    assert seen[0]["page"] == "2" and seen[0]["per_page"] == "10"


def test_where_sends_the_filters_and_pages_all_results(requests_mock: Any, bm: Billomat) -> None:
    seen = serve(requests_mock, clients(3))
    result = bm.clients.where(
        client_number="KD2", property18280="abc", customfield="ext-1", tags=["A-Kunde", "VIP"]
    )
    assert len(result) == 3
    assert seen[0]["client_number"] == "KD2" and seen[0]["property18280"] == "abc"
    assert seen[0]["customfield"] == "ext-1" and seen[0]["tags"] == "A-Kunde,VIP"


def test_a_refused_order_by_is_dropped_once_and_remembered(
    requests_mock: Any, bm: Billomat, caplog: pytest.LogCaptureFixture
) -> None:
    records = clients(3)
    seen: list[dict[str, str]] = []

    def answer(request: Any, context: Any) -> dict:
        q = query(request)
        seen.append(q)
        if "order_by" in q:
            context.status_code = 400
            return {"errors": {"error": "invalid order_by"}}
        return envelope("clients", "client", records, 1, 1000, 3)

    requests_mock.get(f"{BASE}/clients", json=answer)
    caplog.set_level(logging.WARNING)
    assert len(bm.clients.list()) == 3
    assert len(bm.clients.list()) == 3
    assert ["order_by" in q for q in seen] == [True, False, False]
    assert "order_by" in caplog.text and "invalid order_by" in caplog.text


def test_a_400_for_another_reason_does_not_unpin_the_order(requests_mock: Any, bm: Billomat) -> None:
    # billomat-api.md §4.2: contacts without client_id may be refused whatever the order.
    requests_mock.get(f"{BASE}/contacts", status_code=400, json={"errors": {"error": "client_id is missing"}})
    with pytest.raises(RejectedError, match="client_id is missing"):
        list(bm.contacts.iter_records())  # the bare listing: contacts.list() would go per client
    assert requests_mock.call_count == 2  # once pinned, once without order_by
    assert bm.contacts.order_accepted is None  # still unknown: the 400 was not about the order


def test_once_the_order_was_accepted_a_later_400_is_not_blamed_on_it(
    requests_mock: Any, bm: Billomat
) -> None:
    serve(requests_mock, clients(2))
    bm.clients.list()
    assert bm.clients.order_accepted is True
    requests_mock.get(f"{BASE}/clients", status_code=400, json={"errors": {"error": "bad filter"}})
    with pytest.raises(RejectedError):
        bm.clients.list(email="x")
    assert requests_mock.call_count == 2


def test_a_400_with_a_caller_order_by_is_not_swallowed(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(f"{BASE}/clients", status_code=400, json={"errors": {"error": "invalid order_by"}})
    with pytest.raises(RejectedError):
        bm.clients.list(order_by="bogus ASC")
    assert requests_mock.call_count == 1


def test_records_that_shift_between_pages_are_counted_once(requests_mock: Any, bm: Billomat) -> None:
    a, b, c = clients(3)
    requests_mock.get(
        f"{BASE}/clients",
        [
            {"json": envelope("clients", "client", [a, b], 1, 2, 3)},
            {"json": envelope("clients", "client", [b, c], 2, 2, 3)},  # b moved onto page 2 as well
        ],
    )
    assert [m.id for m in bm.clients.list()] == ["1000", "1001", "1002"]


def test_a_count_that_differs_from_total_is_listed_again(requests_mock: Any, bm: Billomat) -> None:
    records = clients(3)
    requests_mock.get(
        f"{BASE}/clients",
        [
            {"json": envelope("clients", "client", records[:2], 1, 1000, 3)},  # one record was missing
            {"json": envelope("clients", "client", records, 1, 1000, 3)},
        ],
    )
    assert len(bm.clients.list()) == 3
    assert requests_mock.call_count == 2


def test_a_count_that_still_differs_from_total_is_an_incomplete_error(
    requests_mock: Any, bm: Billomat
) -> None:
    requests_mock.get(f"{BASE}/clients", json=envelope("clients", "client", clients(2), 1, 1000, 3))
    with pytest.raises(IncompleteError) as caught:
        bm.clients.list(name="gmbh")
    message = str(caught.value)
    assert message.startswith("GET /clients?name=gmbh")
    assert "2 distinct records" in message and "@total says 3" in message
    assert requests_mock.call_count == 2


def test_a_server_that_ignores_page_is_a_protocol_error(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(f"{BASE}/clients", json=envelope("clients", "client", clients(2), 1, 2, 10))
    with pytest.raises(ProtocolError, match="same records"):
        bm.clients.list()


def test_the_tag_cloud_and_a_clients_tags_are_listed(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(f"{BASE}/client-tags", text=fixture("client_tags_cloud_single.json"))
    [tag] = bm.client_tags.list()
    assert isinstance(tag, ClientTag) and tag.data["count"] == "2" and "client_id" not in tag.data
    requests_mock.get(f"{BASE}/client-tags", text=fixture("client_tags_by_client_single.json"))
    [tag] = bm.client_tags.list(client_id=796659)
    assert tag.data["client_id"] == "796659"
    assert query(requests_mock.last_request)["client_id"] == "796659"


def test_other_resources_use_their_envelope_keys(requests_mock: Any, bm: Billomat) -> None:
    serve(requests_mock, [{"id": "1", "client_id": "7"}], plural="contacts", singular="contact")
    serve(
        requests_mock,
        [{"id": "11", "name": "Branche"}],
        plural="client-properties",
        singular="client-property",
    )
    serve(
        requests_mock,
        [{"id": "2", "value": "x"}, {"id": "3", "value": "y"}],
        plural="client-property-values",
        singular="client-property-value",
    )
    assert isinstance(bm.contacts.list(client_id=7)[0], Contact)
    assert bm.client_properties.list()[0].data["name"] == "Branche"
    assert [v.data["value"] for v in bm.client_property_values.list(client_id=7)] == ["x", "y"]


# -- find, create, update, delete ---------------------------------------------------------------


def test_find_returns_the_client_with_text_data_and_nested_property_values(
    requests_mock: Any, bm: Billomat
) -> None:
    requests_mock.get(f"{BASE}/clients/485054", text=fixture("client_get_with_property_values.json"))
    client = bm.clients.find(485054)
    assert client.id == "485054" and client.data["city"] == "München"
    assert client.data["note"] == "Notizen\nNotizen"
    assert "client-property-values" not in client.data
    assert [v["client_property_id"] for v in client.nested["client-property-values"]] == [
        "7804",
        "13027",
        "13028",
    ]


def test_a_record_answer_without_the_record_key_is_a_protocol_error(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(f"{BASE}/clients/5", json={"contact": {"id": "5"}})
    with pytest.raises(ProtocolError) as caught:
        bm.clients.find(5)
    assert str(caught.value) == "GET /clients/5: expected a 'client' record, got contact"


def test_find_of_a_missing_id_is_not_found(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(
        f"{BASE}/clients/1111111", status_code=404, text=fixture("error_404_row_not_found.json")
    )
    with pytest.raises(NotFoundError, match="Row not found"):
        bm.clients.find("1111111")


def test_save_without_id_creates_with_post_and_refreshes_data(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.post(f"{BASE}/clients", status_code=201, text=fixture("client_post_201.json"))
    client = bm.clients.new({"name": "Musterfirma", "zip": 12345, "country_code": "DE"})
    assert client.id is None
    assert client.save() is client
    assert requests_mock.last_request.json() == {
        "client": {"name": "Musterfirma", "zip": "12345", "country_code": "DE"}
    }
    assert client.id == "170675"
    assert client.data["country_code"] == "GB"  # billomat-api.md §4.1: re-read what the server stored


def test_a_create_without_a_way_to_find_it_again_is_not_retried(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.post(f"{BASE}/clients", status_code=502, text="<html><title>502 Bad Gateway</title></html>")
    with pytest.raises(ServerError):
        bm.clients.new({"name": "Musterfirma"}).save()
    assert requests_mock.call_count == 1


def test_a_create_with_a_customfield_is_found_again_after_a_lost_answer(
    requests_mock: Any, bm: Billomat
) -> None:
    requests_mock.post(f"{BASE}/clients", exc=requests.ConnectionError("Connection reset by peer"))
    serve(requests_mock, [{"id": "170675", "name": "Musterfirma", "customfield": "row-17"}])
    client = bm.clients.new({"name": "Musterfirma", "customfield": "row-17"}).save()
    assert client.id == "170675"
    posts = [r for r in requests_mock.request_history if r.method == "POST"]
    assert len(posts) == 1
    assert query(requests_mock.last_request)["customfield"] == "row-17"


def test_a_create_with_an_explicit_landed_check_uses_it(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.post(f"{BASE}/contacts", status_code=503)
    existing = bm.contacts.new({"id": "55", "client_id": "7", "name": "Maria"})
    contact = bm.contacts.new({"client_id": "7", "name": "Maria"}).save(landed=lambda: existing)
    assert contact.id == "55" and requests_mock.call_count == 1


def test_save_with_id_updates_with_put_sending_only_the_data_given(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.put(f"{BASE}/clients/169499", text=fixture("client_put_200.json"))
    client = bm.clients.new({"id": 169499, "name": "new name"}).save()
    assert requests_mock.last_request.json() == {"client": {"name": "new name"}}
    assert client.data["name"] == "new name" and client.data["city"] == "Aachen"


def test_save_record_writes_as_a_model_save_does_and_gives_the_record_answered(
    requests_mock: Any, bm: Billomat
) -> None:
    requests_mock.post(f"{BASE}/clients", status_code=201, text=fixture("client_post_201.json"))
    requests_mock.put(f"{BASE}/clients/169499", text=fixture("client_put_200.json"))
    created = bm.clients.save_record({"name": "Musterfirma", "zip": 12345, "country_code": "DE"})
    assert requests_mock.request_history[0].json() == {
        "client": {"name": "Musterfirma", "zip": "12345", "country_code": "DE"}
    }
    assert created == bm.clients.new(json.loads(fixture("client_post_201.json"))["client"]).data
    assert created["id"] == "170675" and created["country_code"] == "GB"
    updated = bm.clients.save_record({"id": "169499", "name": "new name"})
    assert requests_mock.last_request.json() == {"client": {"name": "new name"}}
    assert updated["name"] == "new name" and updated["city"] == "Aachen"


def test_an_update_is_retried_like_any_idempotent_call(
    requests_mock: Any, bm: Billomat, clock: FakeClock
) -> None:
    requests_mock.put(
        f"{BASE}/clients/169499", [{"status_code": 503}, {"text": fixture("client_put_200.json")}]
    )
    bm.clients.new({"id": "169499", "name": "new name"}).save()
    assert requests_mock.call_count == 2 and len(clock.sleeps) == 1


def test_delete_sends_delete_and_accepts_the_empty_body(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.delete(f"{BASE}/clients/7272453", text="")
    bm.clients.new({"id": "7272453"}).delete()
    assert requests_mock.last_request.method == "DELETE"


def test_delete_without_an_id_is_refused_before_any_request(bm: Billomat) -> None:
    with pytest.raises(ValueError, match="no id"):
        bm.clients.new({"name": "x"}).delete()


PV_ROW = {"id": "9672334", "client_id": "7", "client_property_id": "11", "value": "B"}


def test_a_property_value_with_an_id_is_updated_by_put_with_its_value_only(
    requests_mock: Any, bm: Billomat
) -> None:
    answer = {"client-property-value": {**PV_ROW, "value": "ext-12345"}}
    requests_mock.put(f"{BASE}/client-property-values/9672334", json=answer)
    value = bm.client_property_values.new({"id": 9672334, "value": "ext-12345"}).save()
    assert isinstance(value, ClientPropertyValue) and value.data["client_id"] == "7"
    assert requests_mock.call_count == 1
    assert requests_mock.last_request.json() == {"client-property-value": {"value": "ext-12345"}}
    assert bm.client_property_values.put_accepted is True


def test_without_put_a_property_value_is_set_by_post_on_its_client_and_property(
    requests_mock: Any, bm: Billomat
) -> None:
    # billomat-api.md §4.4: officially no PUT; the row's client and property are read by id, then POSTed.
    requests_mock.put(f"{BASE}/client-property-values/9672334", status_code=405, json={"errors": {"error": "x"}})
    requests_mock.get(f"{BASE}/client-property-values/9672334", json={"client-property-value": PV_ROW})
    posted = {"client-property-value": {**PV_ROW, "value": "ext-12345"}}
    requests_mock.post(f"{BASE}/client-property-values", status_code=201, json=posted)
    values = bm.client_property_values
    assert values.new({"id": "9672334", "value": "ext-12345"}).save().data["value"] == "ext-12345"
    assert requests_mock.last_request.json() == {
        "client-property-value": {"client_id": "7", "client_property_id": "11", "value": "ext-12345"}
    }
    assert values.put_accepted is False
    requests_mock.reset_mock()
    values.new({**PV_ROW, "value": "C"}).save()  # client and property known: no GET, and no PUT again
    assert [r.method for r in requests_mock.request_history] == ["POST"]


def test_a_put_404_on_a_row_that_exists_switches_to_post(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.put(f"{BASE}/client-property-values/9672334", status_code=404, json={"errors": {"error": "x"}})
    requests_mock.get(f"{BASE}/client-property-values/9672334", json={"client-property-value": PV_ROW})
    requests_mock.post(f"{BASE}/client-property-values", status_code=201, json={"client-property-value": PV_ROW})
    bm.client_property_values.new({"id": "9672334", "value": "B"}).save()
    assert [r.method for r in requests_mock.request_history] == ["PUT", "GET", "POST"]


def test_a_put_404_on_a_row_that_is_gone_is_not_found_and_posts_nothing(
    requests_mock: Any, bm: Billomat
) -> None:
    gone = {"errors": {"error": "Row not found"}}
    requests_mock.put(f"{BASE}/client-property-values/9672334", status_code=404, json=gone)
    requests_mock.get(f"{BASE}/client-property-values/9672334", status_code=404, json=gone)
    with pytest.raises(NotFoundError):
        bm.client_property_values.new({"id": "9672334", "value": "B"}).save()
    assert [r.method for r in requests_mock.request_history] == ["PUT", "GET"]
    assert bm.client_property_values.put_accepted is None  # the call was not to blame


def test_without_delete_a_property_value_is_deleted_by_setting_it_empty(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.delete(f"{BASE}/client-property-values/9672334", status_code=405, json={"errors": {"error": "x"}})
    requests_mock.get(f"{BASE}/client-property-values/9672334", json={"client-property-value": PV_ROW})
    requests_mock.post(f"{BASE}/client-property-values", status_code=201, json={"client-property-value": PV_ROW})
    bm.client_property_values.new({"id": "9672334"}).delete()
    assert requests_mock.last_request.json() == {
        "client-property-value": {"client_id": "7", "client_property_id": "11", "value": ""}
    }
    assert bm.client_property_values.delete_accepted is False


def test_a_property_value_set_whose_answer_was_lost_is_checked_before_setting_again(
    requests_mock: Any, bm: Billomat
) -> None:
    requests_mock.post(f"{BASE}/client-property-values", exc=requests.ReadTimeout("read timed out"))
    row = {"id": "5", "client_id": "7", "client_property_id": "11", "value": "B"}
    seen = serve(requests_mock, [row], plural="client-property-values", singular="client-property-value")
    value = bm.client_property_values.new({"client_id": "7", "client_property_id": "11", "value": "B"}).save()
    assert value.id == "5"
    assert seen[0]["client_id"] == "7" and seen[0]["client_property_id"] == "11"


def test_a_tag_is_created_but_never_updated(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.post(f"{BASE}/client-tags", status_code=201, text=fixture("client_tag_get.json"))
    tag = bm.client_tags.new({"client_id": "796650", "name": "Testag"}).save()
    assert tag.id == "188527"
    with pytest.raises(RejectedError, match="delete it and create a new one"):
        tag.save()
    assert requests_mock.call_count == 1


def test_customfield_is_read_and_set(requests_mock: Any, bm: Billomat) -> None:
    url = f"{BASE}/clients/7245252/customfield"
    requests_mock.get(url, json={"client": {"id": "7245252", "customfield": "muster"}})
    requests_mock.put(url, json={"client": {"id": "7245252", "customfield": "neu"}})
    assert bm.clients.customfield(7245252) == "muster"
    assert bm.clients.set_customfield(7245252, "neu") == "neu"
    assert requests_mock.last_request.json() == {"client": {"customfield": "neu"}}


# -- credentials and 401 disambiguation ---------------------------------------------------------


def test_check_credentials_returns_the_accounts_own_client(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(f"{BASE}/clients/myself", json={"client": {"id": "1", "name": "Musterfirma GmbH"}})
    assert bm.check_credentials().data["name"] == "Musterfirma GmbH"
    assert requests_mock.call_count == 1


def test_check_credentials_says_the_key_was_refused_on_401(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(
        f"{BASE}/clients/myself", status_code=401, text=fixture("error_401_unauthorized_foreign_id.json")
    )
    with pytest.raises(
        AuthError, match="the API key was refused by Billomat account 'musterfirma'"
    ) as caught:
        bm.check_credentials()
    assert "BILLOMAT_API_KEY" in str(caught.value) and KEY not in str(caught.value)


def test_check_credentials_names_a_missing_account(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(
        f"{BASE}/clients/myself", status_code=404, text=fixture("error_404_account_not_found.json")
    )
    with pytest.raises(AccountNotFoundError, match="no Billomat account 'musterfirma'"):
        bm.check_credentials()


def test_a_401_for_a_record_of_another_account_is_not_found_when_the_key_works(
    requests_mock: Any, bm: Billomat
) -> None:
    requests_mock.get(
        f"{BASE}/clients/11", status_code=401, text=fixture("error_401_unauthorized_foreign_id.json")
    )
    requests_mock.get(f"{BASE}/clients/myself", json={"client": {"id": "1"}})
    with pytest.raises(NotFoundError, match="client 11 is not a record of this account") as caught:
        bm.clients.find(11)
    assert caught.value.status == 401


def test_a_401_for_a_record_is_an_auth_error_when_the_key_is_refused_too(
    requests_mock: Any, bm: Billomat
) -> None:
    body = fixture("error_401_unauthorized_foreign_id.json")
    requests_mock.get(f"{BASE}/clients/11", status_code=401, text=body)
    requests_mock.get(f"{BASE}/clients/myself", status_code=401, text=body)
    with pytest.raises(AuthError):
        bm.clients.find(11)


def test_a_network_failure_says_what_to_check(requests_mock: Any, clock: FakeClock) -> None:
    bm = Billomat("musterfirma", KEY, clock=clock, max_attempts=2)
    requests_mock.get(f"{BASE}/clients", exc=requests.ConnectionError("boom"))
    with pytest.raises(NetworkError, match="could not reach musterfirma.billomat.net.*BILLOMAT_ID"):
        bm.clients.list()


def test_the_api_key_is_in_no_log_line_of_a_whole_session(
    requests_mock: Any, bm: Billomat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    serve(requests_mock, clients(3))
    requests_mock.get(
        f"{BASE}/clients/11", status_code=401, text=fixture("error_401_unauthorized_foreign_id.json")
    )
    requests_mock.get(f"{BASE}/clients/myself", json={"client": {"id": "1"}})
    bm.clients.list()
    with pytest.raises(NotFoundError) as caught:
        bm.clients.find(11)
    assert KEY not in caplog.text and KEY not in str(caught.value)
    assert json.dumps(KEY) not in repr(bm.clients.list())


# -- iter_records and iter_ids: the extraction's model-free reads -------------------------------


def test_iter_records_gives_each_page_as_model_data_with_its_paging(requests_mock: Any, bm: Billomat) -> None:
    records = [
        *clients(2),
        {"id": 7, "number": 42, "archived": False, "note": None, "client-property-values": {"client-property-value": {"id": "1"}}},
    ]
    serve(requests_mock, records)
    [expected] = [[c.data for c in page] for page in bm.clients.iter_pages(per_page=2)][1:]
    first, second = list(bm.clients.iter_records(per_page=2))
    assert [r["id"] for r in first.data] == ["1000", "1001"] and first.paging == Paging(page=1, per_page=2, total=3)
    assert second.data == expected == [{"id": "7", "number": "42", "archived": "0", "note": ""}]
    assert all(value.__class__ is str for page in (first, second) for r in page.data for value in r.values())


def test_iter_records_and_iter_ids_send_the_requests_iter_pages_sends(requests_mock: Any, bm: Billomat) -> None:
    seen = serve(requests_mock, clients(5), clamp=2)  # pages of 2, 2 and 1 (an object)
    models = [[c.id for c in page] for page in bm.clients.iter_pages(tags="A")]
    by_models, seen[:] = list(seen), []
    records = [[r["id"] for r in page.data] for page in bm.clients.iter_records(tags="A")]
    by_records, seen[:] = list(seen), []
    ids = list(bm.clients.iter_ids(tags="A"))
    assert models == records == ids == [["1000", "1001"], ["1002", "1003"], ["1004"]]
    assert by_models == by_records == seen and len(seen) == 3
    assert all(q["order_by"] == "id ASC" and q["tags"] == "A" for q in seen)


def test_iter_ids_gives_the_text_id_of_a_record_that_sent_a_number(requests_mock: Any, bm: Billomat) -> None:
    serve(requests_mock, [{"id": 5, "name": "A"}, {"id": "6", "name": "B"}])
    assert list(bm.clients.iter_ids()) == [["5", "6"]]


def test_iter_records_and_iter_ids_stop_a_server_that_ignores_page(requests_mock: Any, bm: Billomat) -> None:
    requests_mock.get(f"{BASE}/clients", json=envelope("clients", "client", clients(2), 1, 2, 10))
    with pytest.raises(ProtocolError, match="same records"):
        list(bm.clients.iter_records())
    with pytest.raises(ProtocolError, match="same records"):
        list(bm.clients.iter_ids())


def test_iter_records_drops_order_by_once_it_is_refused(requests_mock: Any, bm: Billomat) -> None:
    seen: list[dict[str, str]] = []

    def answer(request: Any, context: Any) -> dict:
        seen.append(query(request))
        if "order_by" in seen[-1]:
            context.status_code = 400
            return {"errors": {"error": "invalid order_by"}}
        return envelope("clients", "client", clients(1), 1, 1000, 1)

    requests_mock.get(f"{BASE}/clients", json=answer)
    assert [[r["id"] for r in page.data] for page in bm.clients.iter_records()] == [["1000"]]
    assert list(bm.clients.iter_ids()) == [["1000"]]
    assert ["order_by" in q for q in seen] == [True, False, False]
