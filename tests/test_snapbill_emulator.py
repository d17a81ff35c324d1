"""The SnapBill half of the emulator behaves as reference/snapbill-api.md §8 describes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from sync.emulator import Emulator, SnapBillAccount, SnapBillConfig, load_snapbill_seed
from sync.emulator.snapbill_state import xid_part

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "snapbill"
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
MakeEmu = Callable[..., Emulator]


class Snap:
    """A raw HTTP client for the emulated SnapBill API (what billsync's client does, minus retries)."""

    def __init__(self, emu: Emulator, user: str = "demo", password: str = "emu-snapbill-password") -> None:
        self.url = emu.snapbill_url
        self.s = requests.Session()
        self.s.auth = (user, password)

    def post(self, path: str, data: Any = None) -> requests.Response:
        return self.s.post(f"{self.url}/{path}.json", data=data or {}, timeout=5)

    def get(self, path: str) -> requests.Response:
        return self.s.get(f"{self.url}/{path}.json", timeout=5)


@pytest.fixture
def snap(make_emulator: MakeEmu) -> Snap:
    return Snap(make_emulator())


def test_xid_matches_the_recorded_ones() -> None:
    assert xid_part(10608) == "Clw" and xid_part(158975) == "mz_"


def test_unauthenticated_requests_get_the_basic_challenge(make_emulator: MakeEmu) -> None:
    emu = make_emulator()
    for auth in (None, ("demo", "wrong")):
        response = requests.post(f"{emu.snapbill_url}/client/list.json", auth=auth, timeout=5)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="SnapBill API"'
    assert not emu.snapbill_state.records


def test_add_answers_the_recorded_item_envelope(snap: Snap) -> None:
    body = snap.post("client/add", {"firstname": "jane", "email": "jane@example.com"}).json()
    recorded = json.loads((FIXTURES / "client_add.json").read_text())
    assert list(body) == list(recorded)
    assert list(body["client"]) == list(recorded["client"])
    client = body["client"]
    assert (client["id"], client["xid"], client["number"], client["name"]) == (158975, "Clw:mz_", "001", "jane")
    assert client["data"] == recorded["client"]["data"]  # every defined key, null when unset
    assert client["credit"] == "0.00" and client["credit_cents"] == 0


def test_update_ignores_state_and_unknown_parameters_and_returns_the_object(snap: Snap) -> None:
    client = snap.post("client/add", {"firstname": "jane"}).json()["client"]
    body = snap.post(f"client/{client['id']}/update",
                     {"company": "helkom", "state": "suspended", "colour": "blue", "data-undefined": "x"}).json()
    assert (body["type"], body["status"], body["class"]) == ("result", "ok", "client")
    assert body["client"]["name"] == "helkom (jane)"
    assert body["client"]["state"] == "active"  # §1: the recorded update ignored state=suspended
    assert "undefined" not in body["client"]["data"]


def test_data_fields_are_stored_from_data_dash_keys(snap: Snap) -> None:
    client = snap.post("client/add", {"company": "ACME", "data-vat_number": "DE1", "data-public_city": "Köln"}).json()
    assert client["client"]["data"]["vat_number"] == "DE1"
    assert client["client"]["data"]["public_city"] == "Köln"


def test_name_rule_email_number_unique(snap: Snap) -> None:
    response = snap.post("client/add", {"email": "a@example.com"})
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "error" and "firstname" in body["errors"] and body["message"]
    assert snap.post("client/add", {"company": "A", "number": "KD1"}).status_code == 200
    duplicate = snap.post("client/add", {"company": "B", "number": "KD1"})
    assert duplicate.status_code == 400 and "number" in duplicate.json()["errors"]
    assert snap.post("client/add", {"company": "C", "email": "not-an-address"}).status_code == 400


def test_soft_delete_to_dead_hidden_from_list(snap: Snap) -> None:
    client = snap.post("client/add", {"company": "Gone"}).json()["client"]
    assert snap.post(f"client/{client['id']}/delete").json() == {"code": 200, "type": "result", "status": "ok"}
    assert snap.post(f"client/{client['xid']}/get").json()["client"]["state"] == "dead"
    assert snap.post("client/list").json()["list"] == []


def test_list_paging_numpages_perpage_cap_and_filters(make_emulator: MakeEmu) -> None:
    emu = make_emulator()
    snap = Snap(emu)
    for i in range(1, 231):
        snap.post("client/add", {"company": f"Firma {i}", "number": f"KD{i:05d}", "email": f"f{i}@example.com"})
    first = snap.post("client/list").json()
    assert (first["page"], first["numpages"], len(first["list"])) == (1, 10, 25)  # default perpage 25
    assert "total" not in first
    capped = snap.post("client/list", {"perpage": "500", "page": "3"}).json()
    assert (capped["numpages"], len(capped["list"])) == (3, 30)  # max 100
    assert snap.post("client/list", {"page": "9", "perpage": "100"}).json()["list"] == []
    fuzzy = snap.post("client/list", {"query": "KD0001"}).json()["list"]
    assert len(fuzzy) > 1  # query is a loose search
    exact = snap.post("client/list", {"email": "F7@example.com"}).json()["list"]
    assert [c["number"] for c in exact] == ["KD00007"]


def test_discovery_gets(snap: Snap) -> None:
    assert snap.get("client").json() == json.loads((FIXTURES / "client_index_get.json").read_text())
    form = snap.get("client/add").json()
    recorded = json.loads((FIXTURES / "client_add_form_get.json").read_text())
    assert form == recorded
    assert snap.get("nothing/here").status_code == 404
    assert snap.post("client/1/fly").status_code == 404


def test_unknown_id_status_is_a_switch(make_emulator: MakeEmu) -> None:
    assert Snap(make_emulator()).post("client/999/get").status_code == 404
    emu = make_emulator(snapbill=SnapBillConfig(unknown_id_status=400))
    assert Snap(emu).post("client/999/get").status_code == 400


def test_unconfirmed_switches(make_emulator: MakeEmu) -> None:
    emu = make_emulator(snapbill=SnapBillConfig(
        unknown_data="reject", duplicate_number="allow", list_dead=True, initial_state="new",
        update_state="apply", data_in_response=False, page_past_end="error", error_type="result",
    ))
    snap = Snap(emu)
    assert snap.post("client/add", {"company": "A", "data-foo": "x"}).status_code == 400
    a = snap.post("client/add", {"company": "A", "number": "1"}).json()["client"]
    b = snap.post("client/add", {"company": "B", "number": "1"}).json()["client"]
    assert a["state"] == "new" and "data" not in a
    assert snap.post(f"client/{b['id']}/update", {"state": "suspended"}).json()["client"]["state"] == "suspended"
    snap.post(f"client/{b['id']}/delete")
    assert len(snap.post("client/list").json()["list"]) == 2
    error = snap.post("client/list", {"page": "5"})
    assert error.status_code == 400 and error.json()["type"] == "result"


def test_currency_must_be_enabled(make_emulator: MakeEmu) -> None:
    emu = make_emulator(snapbill=SnapBillConfig(account=load_snapbill_seed(SAMPLE)))
    snap = Snap(emu)
    assert snap.post("client/add", {"company": "A", "currency_code": "CHF"}).json()["client"]["currency"]["code"] == "CHF"
    assert snap.post("client/add", {"company": "B", "currency_code": "USD"}).status_code == 400
    assert snap.post("client/add", {"company": "C"}).json()["client"]["currency"]["code"] == "EUR"


def test_faults_and_request_log_cover_snapbill(make_emulator: MakeEmu) -> None:
    emu = make_emulator()
    snap = Snap(emu)
    emu.force("lost", method="POST", path_contains="/client/add")
    with pytest.raises(requests.ConnectionError):
        snap.post("client/add", {"company": "Landed anyway"})
    assert len(emu.snapbill_state.clients) == 1  # the write happened, the answer never came
    emu.force("502", path_contains="/snapbill/")
    response = snap.post("client/add", {"company": "Never"})
    assert response.status_code == 502 and "<html>" in response.text
    assert len(emu.snapbill_state.clients) == 1
    logged = [r for r in emu.requests if r.path.startswith("/snapbill/")]
    assert [(r.path, r.fault) for r in logged] == [
        ("/snapbill/v1/client/add.json", "lost"), ("/snapbill/v1/client/add.json", "502")
    ]
    assert logged[0].query == {"company": "Landed anyway"}


def test_seed_clients_and_validation(tmp_path: Path) -> None:
    account = load_snapbill_seed(SAMPLE)
    assert "billomat_id" in [f["key"] for f in account.fields]
    bad = tmp_path / "snapbill.json"
    bad.write_text(json.dumps({"default_currency": "XYZ"}))
    with pytest.raises(ValueError, match="default_currency"):
        load_snapbill_seed(tmp_path)
    seeded = SnapBillAccount(clients=[{"company": "Alt", "number": "900", "data-vat_number": "V"}])
    from sync.emulator import Emulator as Emu
    from sync.emulator import EmulatorConfig

    emu = Emu(EmulatorConfig(snapbill=SnapBillConfig(account=seeded)))
    assert emu.snapbill_state.clients[0]["data"]["vat_number"] == "V"
