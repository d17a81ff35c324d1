"""The seed documents' examples, in the Python form of SPEC §8, against the emulator over HTTP.

One test per snippet of seeds/000_03d8a7294022e638.txt (the Ruby gem and curl calls for clients,
contacts, client property values, the customfield and client tags) and of the SnapBill examples of
seeds/003_3ed5e3b5d3cc8c0e.txt. The seed's ids (7299528, 9672334, …) become ids of the sample
account; what the API does where the reference says UNCONFIRMED is parametrized over the emulator's
switches, so the client is right under each answer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sync import Billomat, SnapBill
from sync.clients.billomat import Client, ClientPropertyValue, Contact
from sync.clients.paging import Paging
from sync.clock import FakeClock
from sync.emulator import Account, Emulator, SnapBillAccount, SnapBillConfig, load_snapbill_seed
from sync.errors import NotFoundError

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
BULK_MODES = ["allow", "refuse", "empty"]  # GET /contacts without client_id (billomat-api.md §4.2)
PV_POST = ["upsert", "duplicate"]  # a 2nd POST for one (client, property) (billomat-api.md §4.4)
PV_PUT_DELETE = [True, False]  # PUT/DELETE /client-property-values/{id} exist? (billomat-api.md §4.4)

MakeEmu = Callable[..., Emulator]


@pytest.fixture
def connect(
    make_emulator: MakeEmu, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., tuple[Billomat, Emulator]]:
    """connect(**switches) -> (Billomat.from_env() on a fresh emulator of the sample account, the emulator)."""
    monkeypatch.chdir(tmp_path)  # no ./billsync.yaml: the environment alone configures the client

    def make(**switches: Any) -> tuple[Billomat, Emulator]:
        emu = make_emulator(**switches)
        monkeypatch.setenv("BILLOMAT_BASE_URL", emu.billomat_url)
        monkeypatch.setenv("BILLOMAT_API_KEY", emu.config.api_key)
        return Billomat.from_env(clock=fake_clock), emu

    return make


def ids(models: list[Any]) -> list[str]:
    return [m.id for m in models]


def by_id(records: list[dict[str, str]]) -> list[str]:
    """The seed records' ids in id order (the order the client pins when paging)."""
    return sorted((r["id"] for r in records), key=int)


def effective_values(bm: Billomat, client_id: str) -> dict[str, str]:
    """client_property_id -> value of one client, as pull reads it: of two rows the newest wins."""
    rows = bm.client_property_values.where(client_id=client_id)
    return {r.data["client_property_id"]: r.data["value"] for r in sorted(rows, key=lambda r: int(r.id or 0))}


def writes(emu: Emulator) -> list[tuple[str, str, int | None]]:
    return [(r.method, r.path, r.status) for r in emu.requests if r.method not in ("GET", "HEAD")]


# -- clients ------------------------------------------------------------------------------------


def test_clients_list_gives_every_client_with_text_data(connect: Any, sample_account: Account) -> None:
    bm, _ = connect()
    clients = bm.clients.list()
    assert ids(clients) == by_id(sample_account.clients)
    assert all(isinstance(c, Client) and all(isinstance(v, str) for v in c.data.values()) for c in clients)
    assert clients[0].data["name"] == sample_account.clients[0]["name"]


def test_clients_paged_list_gives_page_two_of_ten_with_its_paging(
    connect: Any, sample_account: Account
) -> None:
    bm, _ = connect()
    page = bm.clients.paged_list(page=2, per_page=10)
    assert ids(page.data) == by_id(sample_account.clients)[10:20]
    assert page.paging == Paging(page=2, per_page=10, total=len(sample_account.clients))


def test_clients_list_with_page_and_per_page_gives_only_that_page(
    connect: Any, sample_account: Account
) -> None:
    bm, _ = connect()
    assert ids(bm.clients.list(page=2, per_page=10)) == by_id(sample_account.clients)[10:20]
    assert len(bm.clients.list(per_page=10)) == len(sample_account.clients)  # no page: every page


def test_clients_where_client_number_takes_one_dict_or_keywords(connect: Any) -> None:
    bm, _ = connect()
    number = bm.clients.find(1004).data["client_number"]  # the seed's "KD2" is KD00004 here
    assert ids(bm.clients.where({"client_number": number})) == ["1004"]
    assert ids(bm.clients.where(client_number=number)) == ["1004"]


def test_clients_where_property_id_filters_by_a_property_value(connect: Any, sample_account: Account) -> None:
    bm, _ = connect()
    value = next(v for v in sample_account.client_property_values if v["id"] == "7001")["value"]
    holders = sorted(
        v["client_id"]
        for v in sample_account.client_property_values
        if v["client_property_id"] == "11" and v["value"] == value
    )
    assert ids(bm.clients.where({"property11": value})) == holders
    assert ids(bm.clients.where(property11=value)) == holders


def test_client_new_and_save_creates_it_and_refreshes_its_data(connect: Any) -> None:
    bm, emu = connect()
    client = bm.clients.new(
        {
            "name": "Test Company",
            "first_name": "Tara",
            "last_name": "Testarossa",
            "street": "Via Ticino 6",
            "city": "Turin",
            "country_code": "IT",
        }
    )
    client.save()
    assert client.id and client.data["city"] == "Turin" and client.data["client_number"]  # the answer
    assert bm.clients.find(client.id).data["name"] == "Test Company"
    assert writes(emu) == [("POST", "/clients", 201)]


def test_client_new_with_id_and_save_updates_it(connect: Any) -> None:
    bm, emu = connect()
    before = bm.clients.find(1004).data
    client = bm.clients.new({"id": 1004, "street": "Via Ticino 2"})
    client.save()
    after = bm.clients.find(1004).data
    assert after["street"] == "Via Ticino 2" and client.data["street"] == "Via Ticino 2"
    assert after["name"] == before["name"]  # only the field given changed
    assert writes(emu) == [("PUT", "/clients/1004", 200)]


def test_client_new_with_id_and_delete_deletes_it(connect: Any, sample_account: Account) -> None:
    bm, _ = connect()
    deletable = next(c["id"] for c in sample_account.clients if c["id"] not in sample_account.documents)
    bm.clients.new({"id": deletable}).delete()
    with pytest.raises(NotFoundError):
        bm.clients.find(deletable)


def test_client_customfield_is_set_by_save_and_filtered_by_where(connect: Any) -> None:
    bm, _ = connect()
    bm.clients.new({"id": 1005, "customfield": "test data"}).save()
    assert ids(bm.clients.where({"customfield": "test data"})) == ["1005"]
    # The curl form: PUT /clients/{id}/customfield.
    assert bm.clients.set_customfield(1006, "muster") == "muster"
    assert bm.clients.customfield(1006) == "muster"


# -- contacts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bulk", BULK_MODES)
def test_contacts_list_gives_every_contact(connect: Any, sample_account: Account, bulk: str) -> None:
    bm, _ = connect(contacts_bulk=bulk)
    contacts = bm.contacts.list()
    assert ids(contacts) == by_id(sample_account.contacts)
    assert all(isinstance(c, Contact) for c in contacts)


@pytest.mark.parametrize("bulk", BULK_MODES)
def test_contacts_paged_list_gives_page_two_of_ten_with_the_total(
    connect: Any, sample_account: Account, bulk: str
) -> None:
    bm, _ = connect(contacts_bulk=bulk)
    page = bm.contacts.paged_list(page=2, per_page=10)
    assert ids(page.data) == by_id(sample_account.contacts)[10:20]
    assert page.paging == Paging(page=2, per_page=10, total=len(sample_account.contacts))
    last = bm.contacts.paged_list(page=4, per_page=10)
    assert ids(last.data) == by_id(sample_account.contacts)[30:]


@pytest.mark.parametrize("bulk", BULK_MODES)
def test_contacts_list_with_page_and_per_page_gives_only_that_page(
    connect: Any, sample_account: Account, bulk: str
) -> None:
    bm, _ = connect(contacts_bulk=bulk)
    assert ids(bm.contacts.list(page=2, per_page=10)) == by_id(sample_account.contacts)[10:20]


@pytest.mark.parametrize("bulk", BULK_MODES)
def test_contacts_where_last_name_finds_the_namesakes(
    connect: Any, sample_account: Account, bulk: str
) -> None:
    bm, _ = connect(contacts_bulk=bulk)
    webers = by_id([c for c in sample_account.contacts if c.get("last_name") == "Weber"])
    assert len(webers) == 2
    assert ids(bm.contacts.where({"last_name": "Weber"})) == webers
    assert ids(bm.contacts.where(last_name="Weber")) == webers
    assert bm.contacts.where(last_name="Mustaman") == []


@pytest.mark.parametrize("bulk", BULK_MODES)
def test_contacts_where_client_id_lists_one_clients_contacts(
    connect: Any, sample_account: Account, bulk: str
) -> None:
    bm, emu = connect(contacts_bulk=bulk)
    expected = by_id([c for c in sample_account.contacts if c["client_id"] == "1001"])
    assert ids(bm.contacts.where({"client_id": 1001})) == expected
    assert all(r.query.get("client_id") == "1001" for r in emu.requests if r.path == "/contacts")


def test_contact_new_and_save_creates_it_for_its_client(connect: Any) -> None:
    bm, emu = connect()
    contact = bm.contacts.new(
        {
            "client_id": 1006,
            "first_name": "Maria",
            "last_name": "Mustaman",
            "street": "Musterstr. 2",
            "city": "Mutterstadt",
            "email": "maria@example.com",
        }
    )
    contact.save()
    assert contact.id and contact.data["client_id"] == "1006" and contact.data["city"] == "Mutterstadt"
    assert ids(bm.contacts.where(last_name="Mustaman")) == [contact.id]
    assert writes(emu) == [("POST", "/contacts", 201)]


def test_contact_new_with_id_and_save_updates_it(connect: Any) -> None:
    bm, emu = connect()
    first_name = bm.contacts.find(5001).data["first_name"]
    bm.contacts.new({"id": 5001, "last_name": "Meyer"}).save()
    after = bm.contacts.find(5001).data
    assert after["last_name"] == "Meyer" and after["first_name"] == first_name
    assert writes(emu) == [("PUT", "/contacts/5001", 200)]


def test_contact_new_with_id_and_delete_deletes_it(connect: Any) -> None:
    bm, _ = connect()
    bm.contacts.new({"id": 5001}).delete()
    with pytest.raises(NotFoundError):
        bm.contacts.find(5001)


# -- client properties and their values ---------------------------------------------------------


def test_client_properties_list_and_new_and_save_define_a_property(
    connect: Any, sample_account: Account
) -> None:
    bm, _ = connect()
    assert ids(bm.client_properties.list()) == by_id(sample_account.client_properties)
    prop = bm.client_properties.new({"name": "Externe Nummer", "type": "TEXTFIELD"}).save()
    assert prop.id and prop.id in ids(bm.client_properties.list())


@pytest.mark.parametrize("post", PV_POST)
def test_property_values_list_paged_list_and_list_with_page(
    connect: Any, sample_account: Account, post: str
) -> None:
    bm, _ = connect(property_value_post=post)
    every = by_id(sample_account.client_property_values)
    values = bm.client_property_values.list()
    assert ids(values) == every and all(isinstance(v, ClientPropertyValue) for v in values)
    page = bm.client_property_values.paged_list(page=2, per_page=10)
    assert ids(page.data) == every[10:20] and page.paging == Paging(2, 10, len(every))
    assert ids(bm.client_property_values.list(page=2, per_page=10)) == every[10:20]


def test_property_values_where_client_id_takes_one_dict_or_keywords(
    connect: Any, sample_account: Account
) -> None:
    # The seed's `ClientPropertyValue.where({"client_number": "KD2"})` is a copy slip: the filter it
    # shows by curl is client_id.
    bm, _ = connect()
    expected = by_id([v for v in sample_account.client_property_values if v["client_id"] == "1001"])
    assert ids(bm.client_property_values.where({"client_id": 1001})) == expected
    assert ids(bm.client_property_values.where(client_id=1001)) == expected


@pytest.mark.parametrize("post", PV_POST)
def test_property_value_new_and_save_sets_a_clients_value(connect: Any, post: str) -> None:
    bm, emu = connect(property_value_post=post)
    value = bm.client_property_values.new(
        {"client_id": "1006", "client_property_id": "11", "value": "ext-1007"}
    )
    value.save()
    assert value.id and value.data["value"] == "ext-1007"
    assert effective_values(bm, "1006")["11"] == "ext-1007"
    assert writes(emu) == [("POST", "/client-property-values", 201)]


@pytest.fixture(
    params=[(post, put_delete) for post in PV_POST for put_delete in PV_PUT_DELETE],
    ids=lambda p: f"{p[0]}-{'put+delete' if p[1] else 'post-only'}",
)
def pv_api(request: pytest.FixtureRequest, connect: Any) -> tuple[Billomat, Emulator, str, bool]:
    """(client, emulator, property_value_post, property_value_put_delete) under each UNCONFIRMED answer."""
    post, put_delete = request.param
    bm, emu = connect(property_value_post=post, property_value_put_delete=put_delete)
    return bm, emu, post, put_delete


def test_property_value_new_with_id_and_save_updates_the_value(
    pv_api: tuple[Billomat, Emulator, str, bool],
) -> None:
    bm, emu, post, put_delete = pv_api
    before = effective_values(bm, "1001")
    value = bm.client_property_values.new({"id": 7001, "value": "ext-12345"})
    value.save()
    assert value.data["value"] == "ext-12345" and value.data["client_id"] == "1001"
    assert effective_values(bm, "1001") == {**before, "11": "ext-12345"}
    # A second update in the same session goes straight to the call that worked.
    bm.client_property_values.new({"id": 7004, "value": "ext-2"}).save()
    assert effective_values(bm, "1002")["11"] == "ext-2"
    if put_delete:
        assert value.id == "7001"
        assert writes(emu) == [
            ("PUT", "/client-property-values/7001", 200),
            ("PUT", "/client-property-values/7004", 200),
        ]
    else:
        # No PUT: one 405 teaches the session to POST the row's client and property.
        assert writes(emu) == [
            ("PUT", "/client-property-values/7001", 405),
            ("POST", "/client-property-values", 201),
            ("POST", "/client-property-values", 201),
        ]
        assert (value.id == "7001") is (post == "upsert")  # a duplicate is the new, newest row


def test_property_value_new_with_id_and_delete_removes_the_value(
    pv_api: tuple[Billomat, Emulator, str, bool],
) -> None:
    bm, emu, _, put_delete = pv_api
    before = effective_values(bm, "1001")
    bm.client_property_values.new({"id": 7001}).delete()
    # billomat-api.md §4.4: no row and an empty value mean the same.
    assert effective_values(bm, "1001").get("11", "") == ""
    assert {k: v for k, v in effective_values(bm, "1001").items() if k != "11"} == {
        k: v for k, v in before.items() if k != "11"
    }
    if put_delete:
        with pytest.raises(NotFoundError):
            bm.client_property_values.find(7001)
        assert writes(emu) == [("DELETE", "/client-property-values/7001", 200)]
    else:  # no DELETE: the value is set empty on the row's client and property
        assert writes(emu) == [
            ("DELETE", "/client-property-values/7001", 405),
            ("POST", "/client-property-values", 201),
        ]


# -- client tags --------------------------------------------------------------------------------


def _cloud(sample_account: Account) -> dict[str, int]:
    counts: dict[str, int] = {}
    for tag in sample_account.client_tags:
        counts[tag["name"]] = counts.get(tag["name"], 0) + 1
    return counts


@pytest.mark.parametrize("item_key", ["client-tag", "tag"])
def test_client_tags_list_is_the_tag_cloud(connect: Any, sample_account: Account, item_key: str) -> None:
    bm, _ = connect(tag_cloud_item_key=item_key)
    cloud = {t.data["name"]: int(t.data["count"]) for t in bm.client_tags.list()}
    assert cloud == _cloud(sample_account)


@pytest.mark.parametrize("item_key", ["client-tag", "tag"])
def test_client_tags_paged_list_and_list_with_page(
    connect: Any, sample_account: Account, item_key: str
) -> None:
    bm, _ = connect(tag_cloud_item_key=item_key)
    every = bm.client_tags.list()
    total = len(_cloud(sample_account))
    page = bm.client_tags.paged_list(page=2, per_page=10)  # the seed's page: past the end of a small cloud
    assert page.data == [] and page.paging.total == total
    assert ids(bm.client_tags.paged_list(page=2, per_page=2).data) == ids(every[2:4])
    assert ids(bm.client_tags.list(page=2, per_page=2)) == ids(every[2:4])


def test_client_tags_where_client_id_lists_that_clients_tags(connect: Any, sample_account: Account) -> None:
    bm, _ = connect()
    expected = sorted(t["name"] for t in sample_account.client_tags if t["client_id"] == "1001")
    assert sorted(t.data["name"] for t in bm.client_tags.where({"client_id": 1001})) == expected
    assert sorted(t.data["name"] for t in bm.client_tags.where(client_id=1001)) == expected


@pytest.mark.parametrize("tag_post", ["dedupe", "duplicate"])
def test_client_tag_new_and_save_tags_the_client(connect: Any, tag_post: str) -> None:
    bm, _ = connect(tag_post=tag_post)
    tag = bm.client_tags.new({"client_id": "1002", "name": "api-posted"}).save()
    assert tag.id and tag.data["client_id"] == "1002"
    assert "api-posted" in [t.data["name"] for t in bm.client_tags.where(client_id=1002)]


def test_client_tag_new_with_id_and_delete_untags_the_client(connect: Any, sample_account: Account) -> None:
    bm, _ = connect()
    tag = next(t for t in sample_account.client_tags if t["client_id"] == "1002")
    bm.client_tags.new({"id": tag["id"]}).delete()
    assert tag["name"] not in [t.data["name"] for t in bm.client_tags.where(client_id=1002)]


# -- SnapBill (seeds/003) -----------------------------------------------------------------------

SNAPBILL_CLIENTS = 30


@pytest.fixture
def snapbill(
    make_emulator: MakeEmu, fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., tuple[SnapBill, Emulator]]:
    """snapbill(**switches) -> (SnapBill.from_env(), the emulator): the shipped account with 30 clients.

    The first seeded client gets the seed's id 158975 and is the seed's "jane".
    """
    monkeypatch.chdir(tmp_path)
    shipped = load_snapbill_seed(SAMPLE_DATA)
    people = [{"firstname": "jane", "email": "jane@example.com"}] + [
        {"firstname": f"Kunde{i}", "surname": "Muster", "email": f"kunde{i}@example.com"}
        for i in range(2, SNAPBILL_CLIENTS + 1)
    ]
    account = SnapBillAccount(**{**shipped.__dict__, "clients": people})

    def make(**switches: Any) -> tuple[SnapBill, Emulator]:
        config = SnapBillConfig(account=account, **switches)
        emu = make_emulator(snapbill=config)
        monkeypatch.setenv("SNAPBILL_BASE_URL", emu.snapbill_url)
        monkeypatch.setenv("SNAPBILL_USER", config.user)
        monkeypatch.setenv("SNAPBILL_PASSWORD", config.password)
        return SnapBill.from_env(clock=fake_clock), emu

    return make


def test_snapbill_client_get_by_id(snapbill: Any) -> None:
    sb, _ = snapbill()
    client = sb.clients.find(158975)
    assert (
        client.id == "158975" and client.data["name"] == "jane" and client.data["email"] == "jane@example.com"
    )


def test_snapbill_client_new_and_save_adds_it(snapbill: Any) -> None:
    sb, _ = snapbill()
    client = sb.clients.new({"firstname": "jane", "email": "jane2@example.com"}).save()
    assert client.id and client.data["name"] == "jane" and client.data["state"] in ("new", "active")
    assert sb.clients.find(client.id).data["email"] == "jane2@example.com"


@pytest.mark.parametrize("update_state", ["ignore", "apply"])
def test_snapbill_client_new_with_id_and_save_updates_it(snapbill: Any, update_state: str) -> None:
    sb, emu = snapbill(update_state=update_state)
    client = sb.clients.new({"id": 158975, "company": "helkom", "state": "suspended"}).save()
    assert client.data["company"] == "helkom" and client.data["name"] == "helkom (jane)"
    found = sb.clients.find(158975).data
    assert found["company"] == "helkom" and found["firstname"] == "jane"
    # §1: the recorded update ignored state=suspended; either answer is taken as the API gives it.
    assert found["state"] == ("suspended" if update_state == "apply" else "active")
    assert [r.path for r in emu.requests if r.path.endswith("/update.json")] == [
        "/snapbill/v1/client/158975/update.json"
    ]


def test_snapbill_client_set_payment_sets_the_payment_method(snapbill: Any) -> None:
    sb, _ = snapbill()
    sb.clients.set_payment(158975, "netcash")
    assert sb.clients.find(158975).data["payment_method"]["code"] == "netcash"
    sb.clients.find(158975).set_payment("other")
    assert sb.clients.find(158975).data["payment_method"]["code"] == "other"


@pytest.mark.parametrize("list_dead", [False, True])
def test_snapbill_client_new_with_id_and_delete_soft_deletes_it(snapbill: Any, list_dead: bool) -> None:
    sb, _ = snapbill(list_dead=list_dead)
    sb.clients.new({"id": 158975}).delete()
    assert sb.clients.find(158975).data["state"] == "dead"
    living = [c for c in sb.clients.list() if c.data["state"] != "dead"]
    assert "158975" not in ids(living) and len(living) == SNAPBILL_CLIENTS - 1


@pytest.mark.parametrize("per_page_max", [100, 20])
def test_snapbill_clients_list_paged_list_and_list_with_page(snapbill: Any, per_page_max: int) -> None:
    sb, _ = snapbill(per_page_max=per_page_max)
    every = sb.clients.list()
    assert len(every) == SNAPBILL_CLIENTS and every[0].id == "158975"
    page = sb.clients.paged_list(page=2, per_page=10)
    assert ids(page.data) == ids(every[10:20])
    assert (page.paging.page, page.paging.per_page, page.paging.numpages) == (2, 10, 3)
    assert ids(sb.clients.list(page=2, per_page=10)) == ids(every[10:20])


def test_snapbill_clients_where_email_takes_one_dict_or_keywords(snapbill: Any) -> None:
    sb, _ = snapbill()
    assert [c.data["firstname"] for c in sb.clients.where({"email": "kunde5@example.com"})] == ["Kunde5"]
    assert [c.data["firstname"] for c in sb.clients.where(email="kunde5@example.com")] == ["Kunde5"]
    assert ids(sb.clients.where({"query": "jane"})) == ["158975"]
