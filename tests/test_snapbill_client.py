"""The SnapBill client against recorded responses (tests/fixtures/snapbill, see NOTES.md) via requests-mock."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
import requests

from sync import SnapBill
from sync.clients.snapbill import ClientForm, SnapBillPaging, SnapBillRejectedError, encode_form, error_text
from sync.clock import FakeClock
from sync.errors import AuthError, ConfigError, NetworkError, NotFoundError, ProtocolError, ServerError

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "snapbill"
BASE = "https://api.snapbill.com/v1"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def form_of(request: Any) -> list[tuple[str, str]]:
    return parse_qsl(request.text or "", keep_blank_values=True)


@pytest.fixture
def sb() -> SnapBill:
    return SnapBill("demo", "s3cret-pass", BASE, clock=FakeClock())


def client_record(id: int, number: str, **fields: Any) -> dict[str, Any]:
    record = copy.deepcopy(fixture("client_get.json")["client"])
    record.update({"id": id, "xid": f"X:{id}", "number": number, **fields})
    return record


def test_basic_auth_json_accept_and_form_encoded_post(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.post(f"{BASE}/client/add.json", json=fixture("client_add.json"))
    client = sb.clients.add({"firstname": "jane", "email": "jane@example.com", "data": {"vat_number": "ZA1"}})
    request = requests_mock.last_request
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"demo:s3cret-pass").decode()
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    # snapbill-api.md §2: custom fields go as data-<key>, flat, never data[vat_number].
    assert form_of(request) == [("firstname", "jane"), ("email", "jane@example.com"), ("data-vat_number", "ZA1")]
    assert client.id == "158975" and client.xid == "Clw:mz_" and client["number"] == "018"
    assert client.custom["vat_number"] is None  # what the recorded answer says


def test_get_is_a_post_with_an_empty_body(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.post(f"{BASE}/client/158975/get.json", json=fixture("client_get.json"))
    client = sb.clients.find(158975)
    assert requests_mock.last_request.method == "POST"
    assert not requests_mock.last_request.text
    assert client["name"] == "jane"


def test_update_returns_the_object_inside_a_result(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.post(f"{BASE}/client/158975/update.json", json=fixture("client_update.json"))
    updated = sb.clients.update(158975, {"company": "helkom", "state": "suspended"})
    assert updated is not None and updated["company"] == "helkom"
    # the recorded answer: state=suspended was silently ignored (§1); the client shows it, never hides it.
    assert updated["state"] == "active"


def test_delete_and_set_payment_answer_result_ok_without_an_object(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.post(f"{BASE}/client/158975/delete.json", json=fixture("client_delete.json"))
    requests_mock.post(f"{BASE}/client/158975/set_payment.json", json=fixture("client_set_payment.json"))
    sb.clients.delete(158975)
    sb.clients.new({"id": 158975}).set_payment("other")
    assert form_of(requests_mock.last_request) == [("payment_method_code", "other")]


def test_list_pages_until_numpages_with_perpage_100_and_no_total(requests_mock: Any, sb: SnapBill) -> None:
    pages = {
        "1": {"code": 200, "type": "list", "page": 1, "numpages": 3, "class": "client",
              "list": [client_record(1, "001"), client_record(2, "002")]},
        "2": {"code": 200, "type": "list", "page": 2, "numpages": 3, "class": "client",
              "list": [client_record(3, "003")]},
        "3": {"code": 200, "type": "list", "page": 3, "numpages": 3, "class": "client",
              "list": [client_record(3, "003"), client_record(4, "004")]},  # 3 moved while paging
    }
    requests_mock.post(
        f"{BASE}/client/list.json",
        json=lambda request, context: pages[dict(form_of(request))["page"]],
    )
    clients = sb.clients.list()
    assert [c.id for c in clients] == ["1", "2", "3", "4"]
    sent = [dict(form_of(r)) for r in requests_mock.request_history]
    assert [s["page"] for s in sent] == ["1", "2", "3"]
    assert {s["perpage"] for s in sent} == {"100"}


def test_paged_list_gives_numpages(requests_mock: Any, sb: SnapBill) -> None:
    body = fixture("invoice_list_paged.json") | {"class": "client"}
    requests_mock.post(f"{BASE}/client/list.json", json=body)
    page = sb.clients.paged_list(1, 2)
    assert page.paging == SnapBillPaging(page=1, per_page=2, numpages=7)
    assert page.paging.total is None
    assert len(page.data) == 2


def test_a_server_that_ignores_page_is_a_protocol_error(requests_mock: Any, sb: SnapBill) -> None:
    body = {"code": 200, "type": "list", "page": 1, "numpages": 5, "class": "client", "list": [client_record(1, "001")]}
    requests_mock.post(f"{BASE}/client/list.json", json=body)
    with pytest.raises(ProtocolError, match="ignores paging"):
        sb.clients.list()


def test_by_number_filters_the_fuzzy_query_exactly(requests_mock: Any, sb: SnapBill) -> None:
    body = {"code": 200, "type": "list", "page": 1, "numpages": 1, "class": "client",
            "list": [client_record(1, "KD00042"), client_record(2, "KD000421"), client_record(3, "00042")]}
    requests_mock.post(f"{BASE}/client/list.json", json=body)
    assert [c.id for c in sb.clients.by_number("KD00042")] == ["1"]
    assert dict(form_of(requests_mock.last_request))["query"] == "KD00042"


def test_data_keys_come_from_the_add_form(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.get(f"{BASE}/client/add.json", json=fixture("client_add_form_get.json"))
    form = sb.clients.form()
    assert requests_mock.last_request.method == "GET"
    assert form.data_keys == {
        "vat_number", "public_street", "public_postal", "public_city", "public_province", "public_country",
        "public_postcode", "public_phone", "public_fax",
    }
    assert form.options("currency_code") == ("ZAR",)
    assert form.options("payment_method_code") == ("netcash", "other")
    assert form.control("country_code").default == "ZA"


def test_data_keys_fall_back_to_a_listed_client(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.get(f"{BASE}/client/add.json", status_code=404, json={"code": 404, "message": "Command not found"})
    requests_mock.post(f"{BASE}/client/list.json", json=fixture("client_list.json"))
    assert "public_city" in sb.clients.data_keys()


def test_validation_errors_carry_message_and_errors_by_field(requests_mock: Any, sb: SnapBill) -> None:
    body = {"code": 400, "type": "error", "status": "error", "message": "The client could not be added",
            "errors": {"firstname": "Required unless surname or company", "": "Try again"}}
    requests_mock.post(f"{BASE}/client/add.json", status_code=400, json=body)
    with pytest.raises(SnapBillRejectedError) as caught:
        sb.clients.add({"email": "x@example.com"})
    assert caught.value.errors == {"firstname": "Required unless surname or company", "": "Try again"}
    assert caught.value.status == 400
    assert "[firstname] Required unless surname or company; Try again" in str(caught.value)
    assert requests_mock.call_count == 1  # a 400 is never retried


def test_an_error_inside_a_200_is_an_error(requests_mock: Any, sb: SnapBill) -> None:
    body = {"code": 400, "type": "result", "status": "error", "message": "bad", "errors": {"number": "in use"}}
    requests_mock.post(f"{BASE}/client/1/update.json", json=body)
    with pytest.raises(SnapBillRejectedError) as caught:
        sb.clients.update(1, {"number": "x"})
    assert caught.value.errors == {"number": "in use"}


def test_401_404_and_5xx(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.post(f"{BASE}/client/list.json", status_code=401, text="Unauthorized",
                       headers={"WWW-Authenticate": 'Basic realm="SnapBill API"'})
    with pytest.raises(AuthError):
        sb.clients.list()
    requests_mock.post(f"{BASE}/client/9/get.json", status_code=404, json={"code": 404, "message": "Not found"})
    with pytest.raises(NotFoundError, match="Not found"):
        sb.clients.find(9)
    requests_mock.post(f"{BASE}/client/9/update.json", [
        {"status_code": 502, "text": "<html><title>502 Bad Gateway</title></html>"},
        {"json": fixture("client_update.json")},
    ])
    assert sb.clients.update(9, {"company": "helkom"}) is not None  # update is safe to repeat
    requests_mock.post(f"{BASE}/client/add.json", status_code=503, text="<title>503</title>")
    with pytest.raises(ServerError):
        sb.clients.add({"company": "x"})  # add without a landed check: never repeated blindly
    assert requests_mock.last_request.url.endswith("/client/add.json")


def test_a_lost_add_is_looked_up_before_it_is_sent_again(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.post(f"{BASE}/client/add.json", exc=requests.ConnectionError("connection reset"))
    landed_record = client_record(77, "KD1", company="ACME")
    calls: list[str] = []

    def landed() -> Any:
        calls.append("looked")
        return sb.clients.new(landed_record)

    client = sb.clients.add({"company": "ACME", "number": "KD1"}, landed=landed)
    assert client.id == "77" and calls == ["looked"]
    assert sum(1 for r in requests_mock.request_history if r.url.endswith("/add.json")) == 1


def test_a_lost_add_that_did_not_land_is_sent_again(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.post(f"{BASE}/client/add.json", [
        {"exc": requests.ConnectionError("reset")},
        {"json": fixture("client_add.json")},
    ])
    client = sb.clients.add({"firstname": "jane"}, landed=lambda: None)
    assert client.id == "158975"


def test_network_errors_on_add_without_landed_are_raised(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.post(f"{BASE}/client/add.json", exc=requests.ConnectionError("reset"))
    with pytest.raises(NetworkError):
        sb.clients.add({"company": "x"})
    assert requests_mock.call_count == 1


def test_model_save_sends_only_changed_writable_params(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.post(f"{BASE}/client/158975/get.json", json=fixture("client_get.json"))
    requests_mock.post(f"{BASE}/client/158975/update.json", json=fixture("client_update.json"))
    client = sb.clients.find(158975)
    client["company"] = "helkom"
    client.custom["vat_number"] = "ZA9"
    client.save()
    assert dict(form_of(requests_mock.last_request)) == {"company": "helkom", "data-vat_number": "ZA9"}
    assert client["name"] == "helkom (jane)"


def test_model_save_creates_without_id(requests_mock: Any, sb: SnapBill) -> None:
    requests_mock.post(f"{BASE}/client/add.json", json=fixture("client_add.json"))
    client = sb.clients.new({"firstname": "jane", "data-public_city": "Cape Town", "credit": "5.00"}).save()
    sent = dict(form_of(requests_mock.last_request))
    assert sent == {"data-public_city": "Cape Town", "firstname": "jane"}  # never credit (§3)
    assert client.id == "158975"


def test_encode_form_lists_and_data() -> None:
    assert encode_form({"state": ["new", "active"], "data": {"a": None}, "x": True}) == [
        ("state[]", "new"), ("state[]", "active"), ("data-a", ""), ("x", "1")
    ]


def test_error_text_general_and_field_errors() -> None:
    assert error_text({"message": "m", "errors": {"": "general"}}) == ("m: general", {"": "general"})
    assert error_text({"errors": {"email": "bad"}})[0] == "[email] bad"
    assert error_text("nonsense") == ("", {})


def test_client_form_parses_the_recorded_form() -> None:
    form = ClientForm.from_body(fixture("client_add_form_get.json"))
    assert "data-vat_number" in form.params
    assert form.control("currency_code").required


def test_settings_and_secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNAPBILL_USER", "demo")
    monkeypatch.setenv("SNAPBILL_PASSWORD", "pw-very-secret")
    monkeypatch.setenv("SNAPBILL_BASE_URL", "http://127.0.0.1:9/snapbill/v1")
    sb = SnapBill.from_env()
    assert sb.base_url == "http://127.0.0.1:9/snapbill/v1"
    assert "pw-very-secret" not in repr(sb)
    with pytest.raises(ConfigError):
        SnapBill("demo", "", BASE)
    with pytest.raises(ConfigError):
        SnapBill("demo", "pw", "http://example.com/v1")  # plain http only to loopback
