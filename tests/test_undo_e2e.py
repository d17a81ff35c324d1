"""End to end (issue 11 points 3, 4): `billsync runs`, `show RUN` and `undo RUN` through the real CLI
against the emulator over HTTP on 127.0.0.1.

The oracle of "Billomat is back exactly" is the emulator's own state before the push, compared field
by field (ids aside: a deleted client comes back under a new id, found by its client number).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.emulator import Emulator
from tests.test_push_e2e import (
    CONTACT_HEADER,
    HEADER,
    KONTAKTE,
    KUNDEN,
    Book,
    Edits,
    NewClient,
    cli,
    no_traceback,
    property_headers,
    pull,
    serve,
    writes,
)

pytestmark = pytest.mark.e2e

DELETED = "1029"  # Stadtwerke Leipzig: 2 contacts, 2 attribute values, 1 tag (no documents)
# Stamped by the emulator or by billsync (markers): not what a user put there.
STAMPED = {"id", "created", "customfield", "client_id"}


def twelve_changes() -> Edits:
    """Creates, updates, a delete, attribute values and tags: 12 writes."""
    return Edits(
        updates={"1002": {"city": "Potsdam", "phone": "+49 331 998877"}, "1005": {"street": "Königsallee 1"}},
        contact_updates={"5001": {"label": "Einkauf"}},
        new_clients=[
            NewClient(
                "neu-1",
                {"name": "Neukunde Weiß GmbH", "zip": "04109", "city": "Leipzig"},
                {"12": "Tor 4"},
                ("Newsletter",),
                ({"first_name": "Erika", "last_name": "Weiß"},),
            )
        ],
        values={("1007", "11"): "Ingenieurwesen", ("1002", "11"): ""},
        tags_add=[("1011", "Export")],
        tags_remove=[("1005", "Newsletter")],
        delete_clients=[DELETED],
    )


def snapshot(emu: Emulator) -> dict:
    """The account keyed by client number (contacts by client number and name), without ids and stamps."""
    state = emu.state
    number = {c["id"]: c["client_number"] for c in state.clients}
    clients = {c["client_number"]: {k: v for k, v in c.items() if k not in STAMPED} for c in state.clients}
    contacts = {
        (number[c["client_id"]], c["first_name"], c["last_name"]): {k: v for k, v in c.items() if k not in STAMPED}
        for c in state.contacts
    }
    values = {
        (number[v["client_id"]], v["client_property_id"]): v["value"]
        for v in sorted(state.client_property_values, key=lambda v: int(v["id"]))
    }
    tags = sorted((number[t["client_id"]], t["name"]) for t in state.client_tags)
    return {
        "clients": clients,
        "contacts": contacts,
        "values": {k: v for k, v in values.items() if v},
        "tags": tags,
    }


def push_twelve(emu: Emulator, tmp_path: Path) -> tuple[Path, str]:
    """Pull, edit, push; the run id `runs` lists for the push."""
    book = pull(emu, tmp_path / "kunden.xlsx")
    twelve_changes().apply_to(book, property_headers(emu))
    pushed = cli(emu, "push", "--sheet", str(book), "--allow-deletes")
    assert pushed.code == 0, pushed.text
    listed = cli(emu, "runs", "--sheet", str(book), "--json")
    assert listed.code == 0, listed.text
    runs = json.loads(listed.out)
    assert [r["command"] for r in runs] == ["push"]
    return book, runs[0]["short"]


def test_runs_show_and_undo_put_billomat_back_exactly_and_a_second_undo_writes_nothing(tmp_path):
    emu = serve()
    with emu.running():
        before = snapshot(emu)
        deleted_number = emu.state.table("clients")[DELETED]["client_number"]
        book, run = push_twelve(emu, tmp_path)

        listed = cli(emu, "runs", "--sheet", str(book))
        assert listed.code == 0, listed.text
        line = next(x for x in listed.out.splitlines() if x.startswith(run))
        assert " push " in line and " 0 " in line and "clients 1 created, 2 updated, 1 deleted" in line, line

        shown = cli(emu, "show", run, "--sheet", str(book))
        assert shown.code == 0, shown.text
        # Field by field, with the workbook's German headers.
        assert f"{HEADER['city']}: 'Berlin' -> 'Potsdam'" in shown.out
        assert f"{CONTACT_HEADER['label']}: 'Buchhaltung' -> 'Einkauf'" in shown.out
        assert f"deleted client {DELETED}" in shown.out and "deleted with it: 2 contact(s), 2 attribute value(s), 1 tag(s)" in shown.out
        assert "added tag 'Export' of client 1011" in shown.out
        as_json = json.loads(cli(emu, "show", run, "--sheet", str(book), "--json").out)
        assert len(as_json["writes"]) == 12 and {w["status"] for w in as_json["writes"]} == {"done"}

        # The plan first, nothing sent: the delete of the client the push created is held by the guard.
        start = len(emu.requests)
        dry = cli(emu, "undo", run, "--sheet", str(book), "--dry-run")
        assert dry.code == 1, dry.text
        assert writes(emu, start) == []
        assert "deletes need --allow-deletes" in dry.out
        # The deleted client comes back with every field it had: those without a column by a German label.
        fields = {line.split(":")[0].strip() for line in dry.out.splitlines() if line.startswith("      ")}
        assert {"Steuerregel", "Nummer", HEADER["city"]} <= fields, dry.out
        assert not fields & {"tax_rule", "number", "number_pre", "locale"}, dry.out

        start = len(emu.requests)
        undone = cli(emu, "undo", run, "--sheet", str(book), "--allow-deletes")
        assert undone.code == 0, undone.text
        assert writes(emu, start)
        after = snapshot(emu)
        assert after["clients"].keys() == before["clients"].keys()
        for number, record in before["clients"].items():
            assert after["clients"][number] == record, number
        assert after["contacts"] == before["contacts"]
        assert after["values"] == before["values"]
        assert after["tags"] == before["tags"]
        # The deleted client is back under a new id, with its contacts, attribute values and tags.
        (again,) = [c for c in emu.state.clients if c["client_number"] == deleted_number]
        assert again["id"] != DELETED

        start = len(emu.requests)
        second = cli(emu, "undo", run, "--sheet", str(book), "--allow-deletes")
        assert second.code == 0, second.text
        assert writes(emu, start) == []
        assert "0 write requests" in second.out

        # Both undos are runs of their own.
        runs = json.loads(cli(emu, "runs", "--sheet", str(book), "--json").out)
        assert [r["command"] for r in runs] == ["undo", "undo", "push"]

        # The next sync brings the workbook in line: the restored client has a row again.
        synced = cli(emu, "sync", "--sheet", str(book))
        assert synced.code == 0, synced.text
        assert Book(book).rows_of(KUNDEN, HEADER["name"], again["name"])
        assert not Book(book).rows_of(KUNDEN, HEADER["name"], "Neukunde Weiß GmbH")
        assert len(Book(book).rows_of(KONTAKTE, "Kunden-ID", again["id"])) == 2
    no_traceback(undone)


def test_undo_holds_a_field_a_colleague_changed_since_and_undoes_the_rest(tmp_path):
    emu = serve()
    with emu.running():
        before = snapshot(emu)
        book, run = push_twelve(emu, tmp_path)
        emu.state.update_client("1002", {"city": "Cottbus"})  # a colleague, in Billomat

        undone = cli(emu, "undo", run, "--sheet", str(book), "--allow-deletes")
        assert undone.code == 1, undone.text
        assert f"conflict: {HEADER['city']} was changed in Billomat since run" in undone.out + undone.err
        assert "'Cottbus'" in undone.out + undone.err
        after = snapshot(emu)
        number = emu.state.table("clients")["1002"]["client_number"]
        assert after["clients"][number]["city"] == "Cottbus"  # held: the colleague's value stays
        assert after["clients"][number]["phone"] == before["clients"][number]["phone"]  # the rest undone
        # ... and Billomat's derived address follows the city.
        expected = {**before["clients"][number], "city": "Cottbus", "address": after["clients"][number]["address"]}
        assert after["clients"][number] == expected
        for key in before["clients"].keys() - {number}:
            assert after["clients"][key] == before["clients"][key], key
        assert after["contacts"] == before["contacts"]
        assert after["values"] == before["values"] and after["tags"] == before["tags"]
    no_traceback(undone)


def test_show_and_undo_name_an_unknown_run_and_exit_2(tmp_path):
    emu = serve()
    with emu.running():
        book, _run = push_twelve(emu, tmp_path)
        for command in ("show", "undo"):
            result = cli(emu, command, "zzzzzz", "--sheet", str(book))
            assert result.code == 2, result.text
            assert "no run 'zzzzzz'" in result.err and "billsync runs" in result.err
            no_traceback(result)


@pytest.mark.parametrize("reading", ["copy", "read"])
def test_a_restored_clients_contacts_inherit_its_address_again_under_either_reading(tmp_path, reading):
    emu = serve(contact_inherit=reading)
    with emu.running():
        state = emu.state
        shown = {c["id"]: state.shown_contact(c) for c in state.contacts if c["client_id"] == DELETED}
        stored = {c["id"]: dict(c) for c in state.contacts if c["client_id"] == DELETED}
        book = pull(emu, tmp_path / "kunden.xlsx")
        Edits(delete_clients=[DELETED]).apply_to(book, property_headers(emu))
        assert cli(emu, "push", "--sheet", str(book), "--allow-deletes").code == 0
        run = json.loads(cli(emu, "runs", "--sheet", str(book), "--json").out)[0]["short"]
        undone = cli(emu, "undo", run, "--sheet", str(book), "--allow-deletes")
        assert undone.code == 0, undone.text

        (again,) = [c for c in state.clients if c["name"] == "Stadtwerke Leipzig GmbH"]
        back = {c["label"]: c for c in state.contacts if c["client_id"] == again["id"]}
        by_label = {c["label"]: i for i, c in shown.items()}
        assert back.keys() == by_label.keys()
        for label, contact in back.items():
            old = by_label[label]
            # As Billomat shows it: what it showed before the delete; as stored: what was stored then
            # (under "read" the address fields stay empty: they are the client's).
            assert _without_ids(state.shown_contact(contact)) == _without_ids(shown[old])
            assert _without_ids(contact) == _without_ids(stored[old])

        # The restored contacts follow their client again (under "read"; under "copy" they keep the copy).
        state.update_client(again["id"], {"city": "Halle (Saale)"})
        cities = {state.shown_contact(c)["city"] for c in state.contacts if c["client_id"] == again["id"]}
        assert cities == ({"Halle (Saale)"} if reading == "read" else {"Leipzig"})


def _without_ids(contact: dict) -> dict:
    return {k: v for k, v in contact.items() if k not in STAMPED and k != "address"}
