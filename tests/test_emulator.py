"""The Billomat emulator behaves like the real API as described in reference/billomat-api.md."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from sync.clock import FakeClock
from sync.emulator import (
    Account,
    Emulator,
    EmulatorConfig,
    FaultSpec,
    LoggedRequest,
    generate_account,
    load_seed,
)

MakeEmu = Callable[..., Emulator]
NOW_WINDOW_RESET = 1_700_000_100  # FakeClock starts at 1_700_000_000; next 15-minute boundary


class Api:
    """A tiny JSON client for the emulated account (what billsync's own client does, minus retries)."""

    def __init__(self, emu: Emulator, key: str = "emu-key", **headers: str) -> None:
        self.url = emu.billomat_url
        self.s = requests.Session()
        self.s.headers.update({"X-BillomatApiKey": key, "Accept": "application/json", **headers})

    def get(self, path: str, timeout: float = 5, **params: Any) -> requests.Response:
        return self.s.get(self.url + path, params=params, timeout=timeout)

    def head(self, path: str, **params: Any) -> requests.Response:
        return self.s.head(self.url + path, params=params, timeout=5)

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.s.post(self.url + path, json=body, timeout=5)

    def put(self, path: str, body: dict[str, Any], timeout: float = 5) -> requests.Response:
        return self.s.put(self.url + path, json=body, timeout=timeout)

    def delete(self, path: str) -> requests.Response:
        return self.s.delete(self.url + path, timeout=5)


def items(doc: dict[str, Any], plural: str, singular: str) -> list[dict[str, Any]]:
    """Normalise a list envelope on the item value's type (never on @total)."""
    value = doc[plural].get(singular)
    return [] if value is None else [value] if isinstance(value, dict) else value


def err(resp: requests.Response) -> str:
    return resp.json()["errors"]["error"]


@pytest.fixture
def api(emulator: Emulator) -> Api:
    return Api(emulator)


# ---------------------------------------------------------------------- envelopes and values


def test_list_with_two_or_more_items_is_an_array_with_string_paging(api: Api) -> None:
    doc = api.get("/clients").json()
    assert isinstance(doc["clients"]["client"], list)
    assert (doc["clients"]["@page"], doc["clients"]["@per_page"], doc["clients"]["@total"]) == (
        "1",
        "100",
        "30",
    )
    assert list(doc["clients"])[0] == "client"  # item key first, then the @ attributes


def test_list_with_exactly_one_item_is_an_object(api: Api) -> None:
    doc = api.get("/clients", client_number="KD00042").json()
    assert isinstance(doc["clients"]["client"], dict)
    assert doc["clients"]["client"]["id"] == "1001"
    assert doc["clients"]["@total"] == "1"


def test_list_with_no_items_has_no_item_key(api: Api) -> None:
    doc = api.get("/clients", name="gibt es nicht").json()
    assert doc == {"clients": {"@page": "1", "@per_page": "100", "@total": "0"}}


def test_page_past_the_end_has_no_item_key_but_keeps_the_total(api: Api) -> None:
    doc = api.get("/clients", per_page=10, page=4).json()
    assert doc == {"clients": {"@page": "4", "@per_page": "10", "@total": "30"}}


def test_last_page_with_one_item_is_an_object_although_total_is_larger(api: Api) -> None:
    doc = api.get("/clients", per_page=29, page=2).json()
    assert isinstance(doc["clients"]["client"], dict)
    assert doc["clients"]["@total"] == "30"


def _leaves(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return [leaf for v in obj.values() for leaf in _leaves(v)]
    if isinstance(obj, list):
        return [leaf for v in obj for leaf in _leaves(v)]
    return [obj]


def test_every_scalar_is_a_string_and_empty_fields_are_empty_strings(api: Api) -> None:
    for path in (
        "/clients",
        "/clients/1001",
        "/contacts?client_id=1001",
        "/client-property-values",
        "/client-tags",
        "/client-properties",
        "/clients/myself",
    ):
        leaves = _leaves(api.get(path).json())
        assert leaves and all(isinstance(v, str) for v in leaves), path
    client = api.get("/clients/1026").json()["client"]
    assert client["phone"] == "" and client["street"] == "" and client["note"] == ""


def test_json_is_php_style_with_unicode_and_slash_escapes(api: Api) -> None:
    raw = api.get("/clients/1001").content
    assert b"M\\u00fcller & S\\u00f6hne GmbH" in raw
    assert b"https:\\/\\/musterfirma.billomat.net\\/customerportal" in raw
    assert raw.isascii()
    emoji = api.get("/clients/1008")
    assert b"\\ud83c\\udf40" in emoji.content  # non-BMP as a surrogate pair, like PHP
    assert emoji.json()["client"]["name"] == "Café Glück 🍀"


def test_hostile_values_round_trip_through_json(api: Api) -> None:
    got = {
        cid: api.get(f"/clients/{cid}").json()["client"] for cid in ("1009", "1010", "1011", "1021", "1004")
    }
    assert got["1009"]["name"] == "Schreinerei Holzwurm " and got["1009"]["first_name"] == " Jens"
    assert got["1010"]["note"].startswith("\t")
    assert got["1011"]["note"].startswith("\r")
    assert "\r\n" in got["1021"]["note"]
    assert got["1004"]["note"] == "=SUMME(A1:A3)"


def test_client_get_embeds_a_value_row_for_every_property(api: Api) -> None:
    client = api.get("/clients/1002").json()["client"]
    rows = client["client-property-values"]["client-property-value"]
    assert [r["client_property_id"] for r in rows] == ["11", "12", "13"]
    by_prop = {r["client_property_id"]: r for r in rows}
    assert by_prop["11"]["value"] == "Dienstleistung" and by_prop["11"]["type"] == "TEXTFIELD"
    assert by_prop["12"] == {
        "id": "",
        "client_id": "1002",
        "client_property_id": "12",
        "type": "TEXTAREA",
        "name": "Lieferhinweis",
        "value": "",
        "customfield": "",
    }
    assert "updated" not in client  # no client response ever had it


def test_client_list_embeds_property_values_only_when_configured(make_emulator: MakeEmu) -> None:
    plain = Api(make_emulator()).get("/clients").json()["clients"]["client"]
    assert all("client-property-values" not in c for c in plain)
    embedded = (
        Api(make_emulator(list_embeds_property_values=True)).get("/clients").json()["clients"]["client"]
    )
    assert all(len(c["client-property-values"]["client-property-value"]) == 3 for c in embedded)


def test_without_json_accept_the_answer_is_406_plain_text(emulator: Emulator) -> None:
    r = requests.get(emulator.billomat_url + "/clients", headers={"X-BillomatApiKey": "emu-key"}, timeout=5)
    assert r.status_code == 406
    assert r.headers["Content-Type"].startswith("text/plain")
    assert "application/json" in r.text
    ok = requests.get(
        emulator.billomat_url + "/clients?format=json", headers={"X-BillomatApiKey": "emu-key"}, timeout=5
    )
    assert ok.status_code == 200 and ok.json()["clients"]["@total"] == "30"


def test_head_on_a_list_returns_x_total_count_without_body(api: Api) -> None:
    r = api.head("/clients", name="gmbh")
    assert r.status_code == 200 and r.content == b""
    assert r.headers["X-Total-Count"] == api.get("/clients", name="gmbh").json()["clients"]["@total"]


# ---------------------------------------------------------------------- writes


def test_post_answers_201_with_full_object_put_200_and_delete_200_with_empty_body(api: Api) -> None:
    created = api.post("/clients", {"client": {"name": "Neukunde GmbH", "zip": "01234"}})
    assert created.status_code == 201
    client = created.json()["client"]
    assert client["zip"] == "01234" and client["tax_rule"] == "COUNTRY" and client["country_code"] == "DE"
    updated = api.put(f"/clients/{client['id']}", {"client": {"city": "Görlitz"}})
    assert updated.status_code == 200
    assert updated.json()["client"]["city"] == "Görlitz" and updated.json()["client"]["zip"] == "01234"
    deleted = api.delete(f"/clients/{client['id']}")
    assert deleted.status_code == 200 and deleted.content == b""
    assert deleted.headers["Content-Type"] == "application/json"
    assert api.get(f"/clients/{client['id']}").status_code == 404


def test_post_without_number_takes_next_free_number_and_derives_client_number(api: Api) -> None:
    client = api.post("/clients", {"client": {"name": "Nummer GmbH"}}).json()["client"]
    assert (client["number"], client["client_number"]) == ("43", "KD00043")
    padded = api.post("/clients", {"client": {"name": "X", "number": "00077", "number_pre": ""}}).json()[
        "client"
    ]
    assert (padded["number"], padded["client_number"]) == ("77", "00077")  # INT field: re-read what you wrote


def test_created_is_iso_8601_with_offset_from_the_clock(api: Api, fake_clock: FakeClock) -> None:
    client = api.post("/clients", {"client": {"name": "Zeit GmbH"}}).json()["client"]
    assert client["created"] == "2023-11-14T23:13:20+01:00"


def test_write_bodies_must_be_wrapped_in_the_singular_name(api: Api) -> None:
    r = api.post("/clients", {"name": "unwrapped"})
    assert r.status_code == 400 and "client" in err(r)


def test_non_string_scalars_in_write_bodies_are_stored_as_strings(api: Api) -> None:
    client = api.post("/clients", {"client": {"name": "Typen", "archived": True, "price_group": 3}}).json()[
        "client"
    ]
    assert (client["archived"], client["price_group"]) == ("1", "3")


def test_invalid_email_is_400_invalid_email_address(api: Api) -> None:
    r = api.post("/clients", {"client": {"name": "X", "email": "kein-at-zeichen"}})
    assert r.status_code == 400 and r.json() == {"errors": {"error": "invalid email address"}}
    r = api.put("/contacts/5001", {"contact": {"email": "a b@c.de"}})
    assert r.status_code == 400 and err(r) == "invalid email address"
    assert api.post("/clients", {"client": {"name": "Y", "email": ""}}).status_code == 201


def test_client_without_any_name_is_400(api: Api) -> None:
    r = api.post("/clients", {"client": {"street": "Nur Straße 1"}})
    assert r.status_code == 400
    assert api.post("/clients", {"client": {"last_name": "Privat"}}).status_code == 201


def test_contact_needs_an_existing_client_id(api: Api) -> None:
    assert err(api.post("/contacts", {"contact": {"first_name": "A"}})) == "client_id is required"
    assert api.post("/contacts", {"contact": {"client_id": "999999", "first_name": "A"}}).status_code == 400


def test_delete_of_a_client_with_documents_is_400(api: Api, emulator: Emulator) -> None:
    r = api.delete("/clients/1001")
    assert r.status_code == 400 and "documents" in err(r)
    assert "1001" in emulator.state.table("clients")


def test_delete_of_a_client_removes_its_contacts_values_and_tags(api: Api, emulator: Emulator) -> None:
    assert api.delete("/clients/1002").status_code == 200
    st = emulator.state
    assert not any(c["client_id"] == "1002" for c in st.contacts)
    assert not any(v["client_id"] == "1002" for v in st.client_property_values)
    assert not any(t["client_id"] == "1002" for t in st.client_tags)
    assert api.get("/clients", name="@home").json()["clients"]["@total"] == "0"


def test_contacts_inherit_empty_address_fields_from_their_client(api: Api, emulator: Emulator) -> None:
    seeded = emulator.state.table("contacts")["5002"]  # seed gave only its own street
    assert (seeded["street"], seeded["zip"], seeded["city"], seeded["name"]) == (
        "Lagerstraße 5",
        "01067",
        "Dresden",
        "Müller & Söhne GmbH",
    )
    new = api.post(
        "/contacts", {"contact": {"client_id": "1003", "first_name": "Neu", "zip": "09112"}}
    ).json()
    contact = new["contact"]
    assert contact["street"] == "Straße der Nationen 7" and contact["city"] == "Chemnitz"
    assert contact["zip"] == "09112" and contact["name"] == "Bäckerei Groß"
    emptied = api.put(f"/contacts/{contact['id']}", {"contact": {"zip": ""}}).json()["contact"]
    assert emptied["zip"] == "09111"


def test_contacts_under_copy_keep_the_copied_values_when_their_client_moves(api: Api) -> None:
    assert api.put("/clients/1005", {"client": {"street": "Neue Straße 1"}}).status_code == 200
    for contact in items(api.get("/contacts", client_id="1005").json(), "contacts", "contact"):
        assert contact["street"] == "Königsallee 60"  # copied when written; the client's move is not seen
    assert api.get("/contacts/5008").json()["contact"]["street"] == "Königsallee 60"


def test_contacts_under_read_show_their_clients_current_values(make_emulator: MakeEmu) -> None:
    emu = make_emulator(contact_inherit="read", contacts_bulk="allow")
    api = Api(emu)
    stored = emu.state.table("contacts")["5002"]
    assert (stored["street"], stored["zip"], stored["name"]) == ("Lagerstraße 5", "", "")  # stored empty
    shown = api.get("/contacts/5002").json()["contact"]
    assert (shown["street"], shown["zip"], shown["city"], shown["name"]) == (
        "Lagerstraße 5",
        "01067",
        "Dresden",
        "Müller & Söhne GmbH",
    )
    assert "Lagerstraße 5" in shown["address"] and "01067 Dresden" in shown["address"]

    # Writing the client changes what its contacts show: in the list, in a find, in the bulk list.
    assert api.put("/clients/1001", {"client": {"zip": "01069", "name": "Müller AG"}}).status_code == 200
    listed = items(api.get("/contacts", client_id="1001").json(), "contacts", "contact")
    by_id = {c["id"]: c for c in listed}
    assert (by_id["5002"]["zip"], by_id["5002"]["name"], by_id["5002"]["street"]) == (
        "01069",
        "Müller AG",
        "Lagerstraße 5",
    )
    assert by_id["5003"]["zip"] == "80807"  # its own value stays
    assert api.get("/contacts/5001").json()["contact"]["zip"] == "01069"
    bulk = {c["id"]: c for c in items(api.get("/contacts", per_page=1000).json(), "contacts", "contact")}
    assert bulk["5001"]["name"] == "Müller AG"
    assert emu.state.table("contacts")["5001"]["zip"] == ""  # still stored empty

    # A write's answer shows the same; an emptied field inherits again.
    created = api.post("/contacts", {"contact": {"client_id": "1001", "last_name": "Neu"}}).json()["contact"]
    assert created["zip"] == "01069" and emu.state.table("contacts")[created["id"]]["zip"] == ""
    emptied = api.put("/contacts/5002", {"contact": {"street": ""}}).json()["contact"]
    assert emptied["street"] == "Weißenburger Str. 12" and emu.state.table("contacts")["5002"]["street"] == ""

    # Sorting uses what is shown (stored, the empty zips would come before 5003's own 80807).
    api.put("/clients/1001", {"client": {"zip": "99999"}})
    ordered = items(api.get("/contacts", client_id="1001", order_by="zip ASC").json(), "contacts", "contact")
    assert [c["zip"] for c in ordered] == ["80807", "99999", "99999", "99999"]


def test_the_emulator_command_takes_the_contact_inherit_switch() -> None:
    import argparse

    from sync.commands.emulator import add_arguments, build_emulator

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert build_emulator(parser.parse_args([]), "k").config.contact_inherit == "copy"
    emu = build_emulator(parser.parse_args(["--contact-inherit", "read", "--port", "0"]), "k")
    assert emu.config.contact_inherit == "read"
    with pytest.raises(SystemExit):
        parser.parse_args(["--contact-inherit", "sometimes"])


def test_unknown_id_is_404_row_not_found(api: Api) -> None:
    for r in (
        api.get("/clients/999999"),
        api.put("/clients/999999", {"client": {"name": "x"}}),
        api.delete("/contacts/999999"),
        api.get("/client-tags/42424242"),
    ):
        assert r.status_code == 404 and r.json() == {"errors": {"error": "Row not found"}}


def test_foreign_id_get_is_401_unauthorized_and_write_is_404(api: Api, make_emulator: MakeEmu) -> None:
    r = api.get("/clients/111")
    assert r.status_code == 401 and r.json() == {"errors": {"error": "Unauthorized"}}
    assert api.put("/clients/111", {"client": {"name": "x"}}).status_code == 404
    assert api.delete("/contacts/11").status_code == 404
    strict = Api(make_emulator(foreign_ids=frozenset({"4711"}), foreign_write_status=401))
    assert strict.delete("/clients/4711").status_code == 401
    assert strict.get("/clients/111").status_code == 404


def test_myself_returns_the_own_account(api: Api) -> None:
    assert api.get("/clients/myself").json()["client"]["name"] == "Musterfirma GmbH"


def test_customfield_get_put_and_filter(api: Api) -> None:
    assert api.get("/clients/1014/customfield").json() == {"client": {"id": "1014", "customfield": "1e5"}}
    r = api.put("/clients/1003/customfield", {"client": {"customfield": "ERP-0815"}})
    assert r.status_code == 200 and r.json()["client"]["customfield"] == "ERP-0815"
    found = api.get("/clients", customfield="ERP-0815").json()["clients"]["client"]
    assert found["id"] == "1003"


# ---------------------------------------------------------------------- auth and account


def test_missing_or_wrong_api_key_is_401_unauthorized(emulator: Emulator) -> None:
    for key in ("", "falsch"):
        r = Api(emulator, key=key).get("/clients")
        assert r.status_code == 401 and r.json() == {"errors": {"error": "Unauthorized"}}


def test_api_key_query_parameter_works_and_is_never_logged(emulator: Emulator) -> None:
    r = requests.get(
        emulator.billomat_url + "/clients/1001", params={"api_key": "emu-key", "format": "json"}, timeout=5
    )
    assert r.status_code == 200
    assert emulator.requests[-1].query == {"format": "json"}


def test_unknown_account_is_404_account_not_found(emulator: Emulator) -> None:
    r = requests.get(
        emulator.base_url + "/billomat/wrongid/api/clients",
        headers={"X-BillomatApiKey": "emu-key", "Accept": "application/json"},
        timeout=5,
    )
    assert r.status_code == 404 and r.json() == {"errors": {"error": "Account not Found"}}


def test_registered_app_gets_the_app_quota_and_a_bad_secret_is_refused(make_emulator: MakeEmu) -> None:
    emu = make_emulator(rate_limit=300, rate_limit_app=1000, app_id="billsync", app_secret="geheim")
    plain = Api(emu).get("/clients")
    assert plain.headers["X-Rate-Limit-Remaining"] == "299"
    app = Api(emu, **{"X-AppId": "billsync", "X-AppSecret": "geheim"}).get("/clients")
    assert app.headers["X-Rate-Limit-Remaining"] == "999"
    bad = Api(emu, **{"X-AppId": "billsync", "X-AppSecret": "falsch"}).get("/clients")
    assert bad.status_code == 401 and bad.json() == {"errors": {"error": "invalid secret"}}
    emu400 = make_emulator(app_id="a", app_secret="s", app_secret_error_status=400)
    assert Api(emu400, **{"X-AppId": "a", "X-AppSecret": "x"}).get("/clients").status_code == 400


# ---------------------------------------------------------------------- paging, order, filters


def test_per_page_over_1000_is_clamped_and_echoed_or_refused(make_emulator: MakeEmu) -> None:
    doc = Api(make_emulator()).get("/clients", per_page=5000).json()
    assert doc["clients"]["@per_page"] == "1000"
    assert Api(make_emulator(per_page_over_max="error")).get("/clients", per_page=1001).status_code == 400


def test_default_order_is_creation_order(api: Api) -> None:
    new_id = api.post("/clients", {"client": {"name": "AAA zuerst im Alphabet"}}).json()["client"]["id"]
    ids = [c["id"] for c in api.get("/clients").json()["clients"]["client"]]
    assert ids[:3] == ["1001", "1002", "1003"] and ids[-1] == new_id


def test_order_by_text_desc_numeric_and_several_keys(api: Api) -> None:
    def names(order: str) -> list[str]:
        return [c["name"] for c in api.get("/clients", order_by=order).json()["clients"]["client"]]

    assert names("name ASC")[:4] == [
        "",
        "'t Hoekje Import B.V.",
        "@home Service GmbH",
        "Alte Firma Schulze KG (aufgelöst)",
    ]
    assert names("name ASC")[4] == "Ärztehaus am Ring"  # umlauts sort with their base letter
    assert names("name DESC")[0] == "Zürcher Uhren AG"
    assert names("city ASC, name DESC")[:4] == [
        "Nur Name GmbH",
        "Brückner Sanitär- und Heizungstechnik",
        "Größenwahn Bühnenbau GmbH",
        "@home Service GmbH",
    ]
    numbers = [c["id"] for c in api.get("/clients", order_by="number DESC").json()["clients"]["client"]]
    assert numbers[:3] == ["1001", "1002", "1030"]  # 42, 42 (ties in creation order), 30
    ids = [c["id"] for c in api.get("/clients", order_by="id DESC", per_page=2).json()["clients"]["client"]]
    assert ids == ["1030", "1029"]


def test_order_by_unknown_field_or_literal_plus_is_400(api: Api, make_emulator: MakeEmu) -> None:
    assert api.get("/clients", order_by="bogus ASC").status_code == 400
    assert api.get("/clients", order_by="id+ASC").status_code == 400  # requests sends %2B, Billomat says no
    assert api.get("/clients", order_by="id ASC").status_code == 200
    assert Api(make_emulator(order_by_id_allowed=False)).get("/clients", order_by="id ASC").status_code == 400


def test_name_filter_is_a_case_insensitive_substring(api: Api, sample_account: Account) -> None:
    found = items(api.get("/clients", name="GMBH").json(), "clients", "client")
    expected = [c["id"] for c in sample_account.clients if "gmbh" in c["name"].lower()]
    assert len(expected) > 5 and [c["id"] for c in found] == expected
    assert items(api.get("/clients", name="müller").json(), "clients", "client")[0]["id"] == "1001"


def test_exact_filters_client_number_email_country_archived(api: Api) -> None:
    assert items(api.get("/clients", client_number="00042").json(), "clients", "client")[0]["id"] == "1002"
    assert items(api.get("/clients", client_number="0004").json(), "clients", "client") == []
    assert [c["id"] for c in items(api.get("/clients", country_code="AT").json(), "clients", "client")] == [
        "1024"
    ]
    assert [c["id"] for c in items(api.get("/clients", archived="1").json(), "clients", "client")] == ["1006"]
    assert api.get("/clients", email="info@mueller-soehne.de").json()["clients"]["client"]["id"] == "1001"


def test_archived_clients_can_be_left_out_of_the_list(make_emulator: MakeEmu) -> None:
    api = Api(make_emulator(list_includes_archived=False))
    assert api.get("/clients").json()["clients"]["@total"] == "29"
    assert api.get("/clients", archived="1").json()["clients"]["@total"] == "1"


def test_property_filter_matches_value_and_unset_counts_as_empty(api: Api) -> None:
    branche = [
        c["id"] for c in items(api.get("/clients", property11="Maschinenbau").json(), "clients", "client")
    ]
    assert branche == ["1001", "1020"]
    unset = items(api.get("/clients", property12="").json(), "clients", "client")
    assert "1002" in [c["id"] for c in unset] and "1001" not in [c["id"] for c in unset]


def test_tags_filter_needs_all_given_tags(api: Api) -> None:
    both = items(api.get("/clients", tags="A-Kunde,Großkunde").json(), "clients", "client")
    assert [c["id"] for c in both] == ["1001", "1014", "1020"]
    amp = items(api.get("/clients", tags="Ärzte & Praxen").json(), "clients", "client")
    assert [c["id"] for c in amp] == ["1005", "1021", "1028"]


# ---------------------------------------------------------------------- tags, contacts, property values


def test_tag_cloud_without_client_id_counts_clients_per_name(api: Api) -> None:
    cloud = items(api.get("/client-tags").json(), "client-tags", "client-tag")
    by_name = {t["name"]: t for t in cloud}
    assert set(by_name) == {
        "A-Kunde",
        "Großkunde",
        "Newsletter",
        "Export",
        "Zahlungsverzug",
        "Ärzte & Praxen",
    }
    assert by_name["A-Kunde"]["count"] == "4" and set(by_name["A-Kunde"]) == {
        "id",
        "name",
        "count",
        "customfield",
    }


def test_tag_cloud_item_key_can_be_tag(make_emulator: MakeEmu) -> None:
    doc = Api(make_emulator(tag_cloud_item_key="tag")).get("/client-tags").json()
    assert "tag" in doc["client-tags"] and "client-tag" not in doc["client-tags"]


def test_tags_per_client_with_client_id_and_no_put(api: Api) -> None:
    one = api.get("/client-tags", client_id="1002").json()["client-tags"]
    assert one["client-tag"] == {"id": "9004", "name": "Newsletter", "client_id": "1002", "customfield": ""}
    assert "client-tag" not in api.get("/client-tags", client_id="1007").json()["client-tags"]
    created = api.post("/client-tags", {"client-tag": {"client_id": "1007", "name": "Export"}})
    assert created.status_code == 201 and created.json()["client-tag"]["client_id"] == "1007"
    tag_id = created.json()["client-tag"]["id"]
    assert api.put(f"/client-tags/{tag_id}", {"client-tag": {"name": "x"}}).status_code == 405
    assert api.delete(f"/client-tags/{tag_id}").status_code == 200


@pytest.mark.parametrize(
    ("mode", "status", "total"), [("refuse", 400, None), ("empty", 200, "0"), ("allow", 200, "37")]
)
def test_contacts_without_client_id_follow_contacts_bulk(
    make_emulator: MakeEmu, mode: str, status: int, total: str | None
) -> None:
    r = Api(make_emulator(contacts_bulk=mode)).get("/contacts")
    assert r.status_code == status
    if total is None:
        assert err(r) == "client_id is required"
    else:
        assert r.json()["contacts"]["@total"] == total


def test_contacts_per_client_show_all_three_envelope_shapes(api: Api) -> None:
    assert isinstance(api.get("/contacts", client_id="1001").json()["contacts"]["contact"], list)
    assert isinstance(api.get("/contacts", client_id="1002").json()["contacts"]["contact"], dict)
    assert "contact" not in api.get("/contacts", client_id="1007").json()["contacts"]


def test_property_value_post_upserts_by_default(api: Api) -> None:
    r = api.post(
        "/client-property-values",
        {"client-property-value": {"client_id": "1001", "client_property_id": "11", "value": "Neu"}},
    )
    assert r.status_code == 201 and r.json()["client-property-value"]["id"] == "7001"
    rows = items(
        api.get("/client-property-values", client_id="1001", client_property_id="11").json(),
        "client-property-values",
        "client-property-value",
    )
    assert [(v["id"], v["value"]) for v in rows] == [("7001", "Neu")]


def test_property_value_post_can_duplicate(make_emulator: MakeEmu) -> None:
    api = Api(make_emulator(property_value_post="duplicate"))
    body = {"client-property-value": {"client_id": "1001", "client_property_id": "11", "value": "Neu"}}
    assert api.post("/client-property-values", body).json()["client-property-value"]["id"] != "7001"
    rows = api.get("/client-property-values", client_id="1001", client_property_id="11").json()
    assert len(rows["client-property-values"]["client-property-value"]) == 2


def test_property_value_put_and_delete_can_be_switched_off(make_emulator: MakeEmu) -> None:
    api = Api(make_emulator())
    assert (
        api.put("/client-property-values/7001", {"client-property-value": {"value": "X"}}).json()[
            "client-property-value"
        ]["value"]
        == "X"
    )
    assert api.delete("/client-property-values/7001").status_code == 200
    off = Api(make_emulator(property_value_put_delete=False))
    assert (
        off.put("/client-property-values/7002", {"client-property-value": {"value": "X"}}).status_code == 405
    )
    assert off.delete("/client-property-values/7002").status_code == 405
    assert off.get("/client-property-values/7002").status_code == 200


# ---------------------------------------------------------------------- rate limit


def test_every_response_carries_rate_headers_with_absolute_reset_and_a_clock_date(
    make_emulator: MakeEmu,
) -> None:
    api = Api(make_emulator(rate_limit=300))
    r = api.get("/clients/1001")
    assert r.headers["X-Rate-Limit-Remaining"] == "299"
    assert r.headers["X-Rate-Limit-Reset"] == str(NOW_WINDOW_RESET)
    assert r.headers["Date"] == "Tue, 14 Nov 2023 22:13:20 GMT"
    assert api.get("/clients/999999").headers["X-Rate-Limit-Remaining"] == "298"  # errors count too


def test_over_the_limit_is_429_until_the_next_clock_aligned_window(
    make_emulator: MakeEmu, fake_clock: FakeClock
) -> None:
    api = Api(make_emulator(rate_limit=3))
    assert [api.get("/clients").headers["X-Rate-Limit-Remaining"] for _ in range(3)] == ["2", "1", "0"]
    fake_clock.advance(40)
    r = api.get("/clients")
    assert r.status_code == 429
    assert r.json() == {
        "errors": {"error": "Maximum number of requests (3 per 15 minutes) reached. Try again in 60 seconds."}
    }
    assert r.headers["X-Rate-Limit-Remaining"] == "0" and r.headers["X-Rate-Limit-Reset"] == str(
        NOW_WINDOW_RESET
    )
    fake_clock.advance(60)
    ok = api.get("/clients")
    assert ok.status_code == 200 and ok.headers["X-Rate-Limit-Remaining"] == "2"
    assert ok.headers["X-Rate-Limit-Reset"] == str(NOW_WINDOW_RESET + 900)


def test_rate_headers_can_be_absent_and_limit_off_reports_a_large_remaining(make_emulator: MakeEmu) -> None:
    assert (
        "X-Rate-Limit-Remaining"
        not in Api(make_emulator(rate_limit=300, rate_headers=False)).get("/clients").headers
    )
    off = Api(make_emulator(rate_limit=0)).get("/clients")
    assert int(off.headers["X-Rate-Limit-Remaining"]) >= 1_000_000


def test_a_quota_other_than_billomats_is_stated_in_x_rate_limit_limit(make_emulator: MakeEmu) -> None:
    # Billomat sends no such header (billomat-api.md §2); the emulator's `--rate-limit N` does, so
    # billsync can budget for a quota it could not otherwise know.
    assert "X-Rate-Limit-Limit" not in Api(make_emulator(rate_limit=300)).get("/clients").headers
    stated = Api(make_emulator(rate_limit=20, rate_limit_header=True)).get("/clients")
    assert stated.headers["X-Rate-Limit-Limit"] == "20"


@pytest.mark.parametrize(("limit", "stated"), [(300, False), (0, False), (20, True)])
def test_the_emulator_command_states_only_a_made_up_quota(limit: int, stated: bool) -> None:
    from sync.cli import build_parser
    from sync.commands.emulator import build_emulator

    args = build_parser().parse_args(["emulator", "--rate-limit", str(limit)])
    assert build_emulator(args, api_key="k").config.rate_limit_header is stated


# ---------------------------------------------------------------------- faults


def test_lost_response_performs_the_write_but_the_client_sees_a_connection_error(
    api: Api, emulator: Emulator
) -> None:
    emulator.force("lost", method="POST")
    with pytest.raises(requests.ConnectionError):
        api.post("/clients", {"client": {"name": "Verloren GmbH"}})
    assert any(c["name"] == "Verloren GmbH" for c in emulator.state.clients)
    last = emulator.requests[-1]
    assert (last.method, last.path, last.status, last.fault) == ("POST", "/clients", 201, "lost")
    assert api.get("/clients", name="Verloren").json()["clients"]["@total"] == "1"  # the session recovers


def test_injected_502_has_an_nginx_html_body_and_writes_nothing(api: Api, emulator: Emulator) -> None:
    emulator.force("502", method="PUT", path_contains="/clients")
    r = api.put("/clients/1001", {"client": {"name": "Nie geschrieben"}})
    assert r.status_code == 502 and r.headers["Content-Type"] == "text/html"
    assert "<title>502 Bad Gateway</title>" in r.text
    assert emulator.state.table("clients")["1001"]["name"] == "Müller & Söhne GmbH"
    assert api.put("/clients/1001", {"client": {"name": "Jetzt"}}).status_code == 200


def test_timeout_holds_the_connection_and_writes_nothing(make_emulator: MakeEmu) -> None:
    emu = make_emulator(timeout_hold=0.5)
    api = Api(emu)
    emu.force("timeout", count=1)
    with pytest.raises(requests.Timeout):
        api.put("/clients/1001", {"client": {"name": "Zu spät"}}, timeout=0.2)
    assert emu.state.table("clients")["1001"]["name"] == "Müller & Söhne GmbH"
    assert emu.requests[-1].fault == "timeout" and emu.requests[-1].status is None
    assert api.get("/clients/1001").status_code == 200


def test_injected_429_has_the_json_body_and_uses_no_quota(make_emulator: MakeEmu) -> None:
    emu = make_emulator(rate_limit=300)
    api = Api(emu)
    emu.force("429", count=2)
    r = api.get("/clients")
    assert r.status_code == 429 and err(r).startswith("Maximum number of requests (300 per 15 minutes)")
    assert r.headers["X-Rate-Limit-Reset"] == str(NOW_WINDOW_RESET)
    api.get("/clients")
    assert api.get("/clients").headers["X-Rate-Limit-Remaining"] == "299"


def test_truncated_response_is_cut_json(api: Api, emulator: Emulator) -> None:
    emulator.force("truncate", path_contains="/clients/1001")
    r = api.get("/clients/1001")
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()


def test_fault_spec_parses_rates_methods_after_and_rejects_nonsense() -> None:
    spec = FaultSpec.parse(
        "5xx=0.1,429=0.05,timeout=0.02,lost=0.05,truncate=0.01,seed=7,methods=POST+PUT,after=3"
    )
    assert (spec.http_5xx, spec.http_429, spec.timeout, spec.lost, spec.truncate) == (
        0.1,
        0.05,
        0.02,
        0.05,
        0.01,
    )
    assert (spec.seed, spec.methods, spec.after) == (7, frozenset({"POST", "PUT"}), 3)
    assert FaultSpec.parse(str(spec)) == spec
    assert not FaultSpec.parse("").active
    for bad in ("5xx=2", "bogus=1", "lost", "5xx=0.6,lost=0.6"):
        with pytest.raises(ValueError):
            FaultSpec.parse(bad)


def test_seeded_faults_are_deterministic_and_respect_methods_and_after(make_emulator: MakeEmu) -> None:
    def run(spec: str) -> list[int]:
        api = Api(make_emulator(faults=FaultSpec.parse(spec)))
        return [api.get("/clients/1001").status_code for _ in range(30)]

    first = run("5xx=0.3,seed=7")
    assert first == run("5xx=0.3,seed=7") and {502, 503} & set(first) and 200 in first
    assert set(run("5xx=1,methods=POST")) == {200}
    after = run("5xx=1,after=2")
    assert after[:2] == [200, 200] and set(after[2:]) <= {502, 503}


# ---------------------------------------------------------------------- request log


def test_request_log_has_relative_paths_string_queries_and_statuses(api: Api, emulator: Emulator) -> None:
    emulator.clear_log()
    api.get("/clients", per_page=5, order_by="id ASC")
    api.get("/clients/999999")
    log = emulator.requests
    assert log[0] == LoggedRequest(
        "GET", "/clients", {"per_page": "5", "order_by": "id ASC"}, 200, None, log[0].at
    )
    assert (log[1].path, log[1].status) == ("/clients/999999", 404)
    emulator.clear_log()
    assert emulator.requests == []


# ---------------------------------------------------------------------- seeds and generated accounts


def test_sample_seed_holds_the_hostile_values(sample_account: Account) -> None:
    acc = sample_account
    values = [
        v
        for recs in (acc.clients, acc.contacts, acc.client_property_values)
        for r in recs
        for v in r.values()
    ]
    emu = Emulator(EmulatorConfig(account=acc))
    numbers = {c["client_number"] for c in emu.state.clients}
    assert {"KD00042", "00042"} <= numbers
    assert {"01067", "09111"} <= set(values)
    assert {"+49 30 1234567", "0800 123 456", "DE89370400440532013000"} <= set(values)
    assert any(v.startswith("0049 ") for v in values)
    assert any(v.isdigit() and len(v) >= 20 for v in values)
    assert {
        "Müller & Söhne GmbH",
        "Weißenburger Str. 12",
        "@home Service GmbH",
        "=SUMME(A1:A3)",
        "- keine Angabe -",
        "1.0",
        "1e5",
        "TRUE",
        "0,5",
        "01.02.2024",
        "1-2",
        "00421",
    } <= set(values)
    for prefix in ("=", "+", "-", "@", "\t", "\r", "'"):
        assert any(v.startswith(prefix) for v in values), prefix
    assert any("\r\n" in v for v in values) and any("\n" in v and "\r" not in v for v in values)
    assert any(v != v.strip() and v.strip() for v in values)
    assert any(len(v) >= 2000 for v in values)
    assert any(ord(ch) > 0xFFFF for v in values for ch in v)  # emoji
    assert any(c.get("archived") == "1" for c in acc.clients)
    with_contacts = {c["client_id"] for c in acc.contacts}
    assert any(c["id"] not in with_contacts for c in acc.clients)
    assert any("&" in t["name"] for t in acc.client_tags)
    assert {p["type"] for p in acc.client_properties} == {"TEXTFIELD", "TEXTAREA", "CHECKBOX"}
    assert any("\n" in v["value"] for v in acc.client_property_values)
    partly = [c for c in acc.contacts if c.get("street") and not c.get("zip")]
    assert partly and emu.state.table("contacts")[partly[0]["id"]]["zip"] != ""
    assert 25 <= len(acc.clients) <= 35 and len(acc.client_tags) > 0


def test_bad_seed_gives_a_value_error_naming_file_and_record(tmp_path: Path) -> None:
    seed = tmp_path / "billomat.json"
    seed.write_text(
        json.dumps({"clients": [{"id": "1", "name": "A"}, {"id": "2", "zip": 1067}]}), encoding="utf-8"
    )
    with pytest.raises(ValueError, match=r"billomat\.json: clients\[1\] \(id 2\): value of 'zip'"):
        load_seed(tmp_path)
    seed.write_text(json.dumps({"contacts": [{"id": "5", "client_id": "77"}]}), encoding="utf-8")
    with pytest.raises(ValueError, match=r"contacts\[0\] \(id 5\): client_id '77' does not exist"):
        load_seed(seed)
    with pytest.raises(ValueError, match="not found"):
        load_seed(tmp_path / "nope")


def test_generated_account_is_deterministic_and_realistic() -> None:
    a, b = generate_account(300, seed=3), generate_account(300, seed=3)
    assert a.clients == b.clients and a.contacts == b.contacts and a.client_tags == b.client_tags
    assert generate_account(300, seed=4).clients != a.clients
    assert a.clients[0]["id"] == "100001" and len(a.contacts) == 600
    assert any(c["zip"].startswith("0") for c in a.clients)
    assert any(c["phone"].startswith("+49 ") for c in a.clients)
    assert any(ch in "äöüß" for c in a.clients for ch in c["name"] + c["street"])
    emu = Emulator(EmulatorConfig(account=a))  # loads: every email valid, every reference resolves
    assert len(emu.state.clients) == 300


@pytest.mark.slow
def test_hundred_thousand_clients_generate_and_any_page_is_served_from_the_cached_order() -> None:
    acc = generate_account(100_000, contacts_per_client=2, properties=3, tags=10, seed=1)
    assert (len(acc.clients), len(acc.contacts)) == (100_000, 200_000)
    assert {p["type"] for p in acc.client_properties} == {"TEXTFIELD", "TEXTAREA", "CHECKBOX"}
    with_values = {v["client_id"] for v in acc.client_property_values}
    assert 0.35 < len(with_values) / 100_000 < 0.95
    per_tag: dict[str, int] = {}
    for t in acc.client_tags:
        per_tag[t["name"]] = per_tag.get(t["name"], 0) + 1
    assert len(per_tag) == 10 and max(per_tag.values()) > 1000
    emu = Emulator(EmulatorConfig(account=acc, clock=FakeClock(), rate_limit=0))
    with emu.running():
        api = Api(emu)
        first = api.get("/clients", per_page=1000, order_by="id ASC", page=1)  # builds the cached order
        assert first.json()["clients"]["@total"] == "100000"
        page = api.get("/clients", per_page=1000, order_by="id ASC", page=57)
        items = page.json()["clients"]["client"]
        assert len(items) == 1000 and items[0]["id"] == str(100_001 + 56_000)


def test_state_views_are_lists_of_records_and_wait_returns_after_stop(make_emulator: MakeEmu) -> None:
    emu = make_emulator()
    assert [c["id"] for c in emu.state.clients][:2] == ["1001", "1002"]
    assert emu.state.table("clients")["1001"] is emu.state.clients[0]
    assert emu.wait(timeout=0.05) is False
    emu.stop()
    assert emu.wait() is True
