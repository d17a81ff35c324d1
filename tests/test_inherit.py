"""sync/inherit.py: the next base keeps what the workbook holds in contact cells that inherit their client."""

from __future__ import annotations

from sync.inherit import client_values, keep_unedited
from tests.diffkit import MAPPING, account, desired

CONTACTS = MAPPING.sheets["contacts"]
CLIENT = {"id": "1001", "name": "Müller GmbH", "street": "Hauptstr. 1", "city": "Dresden"}
MOVED = {**CLIENT, "street": "Ring 2", "city": "Pirna"}
CONTACT = {"id": "5001", "client_id": "1001", "name": "Müller GmbH", "street": "Hauptstr. 1", "city": "Dresden",
           "phone": "+49 1"}  # fmt: skip


def row(**cells: str) -> dict:
    """The workbook's row of CONTACT, with some cells edited."""
    fields = {k: v for k, v in CONTACT.items() if k not in ("id", "client_id")}
    return {"_row": 2, "_key": "5001", "client_key": "1001", **fields, **cells}


def contact(frames, field: str) -> str:  # noqa: ANN001
    return frames.contacts.set_index("id").loc["5001", field]


def test_an_unedited_cell_keeps_the_bases_value_where_billomat_now_shows_the_clients_newer_one() -> None:
    base = account(clients=[CLIENT], contacts=[CONTACT])
    nxt = account(clients=[MOVED], contacts=[{**CONTACT, "street": "Ring 2", "city": "Pirna"}])
    kept = keep_unedited(nxt, base, desired(contacts=[row()]).contacts, CONTACTS)
    assert (contact(kept, "street"), contact(kept, "city")) == ("Hauptstr. 1", "Dresden")
    assert kept.clients is nxt.clients  # only contacts are touched


def test_an_edited_cell_and_a_value_of_the_contacts_own_take_the_new_value() -> None:
    base = account(clients=[CLIENT], contacts=[CONTACT])
    nxt = account(
        clients=[MOVED], contacts=[{**CONTACT, "street": "Ring 2", "city": "Meißen", "phone": "+49 2"}]
    )
    kept = keep_unedited(nxt, base, desired(contacts=[row(street="Ring 2")]).contacts, CONTACTS)
    assert contact(kept, "street") == "Ring 2"  # the accountant typed it: it is what the workbook holds
    assert contact(kept, "city") == "Meißen"  # not the client's value: a real change in Billomat
    assert contact(kept, "phone") == "+49 2"  # not an inherited field


def test_without_a_base_or_a_kontakte_sheet_the_next_base_is_unchanged() -> None:
    nxt = account(clients=[MOVED], contacts=[{**CONTACT, "street": "Ring 2"}])
    wanted = desired(contacts=[row()]).contacts
    assert keep_unedited(nxt, None, wanted, CONTACTS) is nxt
    assert keep_unedited(nxt, account(clients=[CLIENT], contacts=[CONTACT]), wanted, None) is nxt


def test_client_values_are_per_contact_and_none_for_an_unknown_client() -> None:
    frames = account(clients=[CLIENT], contacts=[CONTACT, {**CONTACT, "id": "5002", "client_id": "9"}])
    assert client_values(frames.contacts, frames.clients, "city").tolist() == ["Dresden", None]
