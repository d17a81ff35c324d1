"""plan_undo: a run's done writes against Billomat as it is now become an ordinary plan."""

from __future__ import annotations

from sync.frames import AccountFrames
from sync.journal import Entry
from sync.plan import NEED_FLAG
from sync.undo import UNDO_KEY, plan_undo, undo_marker

RUN = "20261205-010203.000-abcdef"


def account(**changes: object) -> AccountFrames:
    clients = [
        {"id": "1001", "client_number": "KD1", "name": "Alt GmbH", "city": "Bonn", "phone": "1", "customfield": ""},
        {"id": "1031", "client_number": "KD31", "name": "Neu GmbH", "city": "Ulm", "customfield": "billsync:m"},
        *[{"id": str(2000 + n), "name": f"K{n}", "customfield": ""} for n in range(20)],
    ]
    records = {
        "clients": clients,
        "contacts": [{"id": "5001", "client_id": "1001", "label": "Einkauf", "customfield": ""}],
        "client_properties": [{"id": "11", "name": "Branche"}],
        "client_property_values": [{"id": "7", "client_id": "1001", "client_property_id": "11", "value": "Bau"}],
        "client_tags": [{"client_id": "1001", "name": "Export"}, {"client_id": "1031", "name": "VIP"}],
    }
    records.update(changes)  # type: ignore[arg-type]
    return AccountFrames.from_records(records)


def write(resource: str, action: str, key: str, fields: dict[str, list[str]] | None = None, **extra: object) -> Entry:
    return {"resource": resource, "action": action, "key": key, "sheet": "Kunden", "row": 3, "status": "done",
            "fields": fields or {}, "client_id": "", "client_key": "", "ref": "", "record_id": "", **extra}


def test_an_update_goes_back_field_by_field_and_a_field_changed_since_is_held_as_a_conflict() -> None:
    update = write("clients", "update", "1001", {"city": ["Köln", "Bonn"], "phone": ["0", "1"], "name": ["Vorher", "X"]})
    undo = plan_undo(RUN, [update], account())
    (change,) = undo.plan.changes
    assert (change.action, change.key) == ("update", "1001")
    # city and phone still hold the run's value: back; name holds a third value: a conflict.
    assert change.payload == {"city": "Köln", "phone": "0"}
    (held,) = undo.plan.held
    assert held.change.fields == {"name": ("Alt GmbH", "Vorher")}  # now -> what undo would have set
    assert "name was changed in Billomat since run" in held.reason and "now 'Alt GmbH'" in held.reason


def test_a_create_is_undone_as_a_delete_under_the_delete_guard() -> None:
    create = write("clients", "create", "row:31", {"name": ["", "Neu GmbH"]}, record_id="1031")
    held = plan_undo(RUN, [create], account())
    assert held.plan.changes == [] and held.plan.held[0].reason == NEED_FLAG
    allowed = plan_undo(RUN, [create], account(), allow_deletes=True)
    (change,) = allowed.plan.changes
    assert (change.resource, change.action, change.key) == ("clients", "delete", "1031")
    assert "Neu GmbH" in change.label


def test_a_created_record_changed_since_is_held_not_deleted() -> None:
    create = write("clients", "create", "row:31", {"name": ["", "Neu AG"]}, record_id="1031")
    undo = plan_undo(RUN, [create], account(), allow_deletes=True)
    assert undo.plan.changes == [] and "not deleted" in undo.plan.held[0].reason


def test_a_deleted_client_comes_back_with_its_contacts_values_and_tags_under_a_marker() -> None:
    before = {
        "record": {"id": "1029", "client_number": "KD29", "number": "29", "name": "Stadtwerke", "created": "x",
                   "customfield": "ERP-1", "revenue_net": "5"},
        "contacts": [{"id": "5034", "client_id": "1029", "first_name": "Eva", "created": "y"}],
        "client_property_values": [{"client_id": "1029", "client_property_id": "11", "value": "Energie"},
                                   {"client_id": "1029", "client_property_id": "12", "value": ""}],
        "client_tags": [{"client_id": "1029", "name": "Großkunde"}],
    }
    delete = write("clients", "delete", "1029", client_id="1029", before=before, row=None)
    undo = plan_undo(RUN, [delete], account())
    by = {(c.resource, c.action): c for c in undo.plan.changes}
    client = by[("clients", "create")]
    # Writable fields only (no id, created, client number, revenue, customfield: the loader sets the marker).
    assert client.payload == {"number": "29", "name": "Stadtwerke"}
    assert client.key == UNDO_KEY + "1029" and client.marker == undo_marker(RUN, "clients", "1029")
    contact = by[("contacts", "create")]
    assert contact.payload == {"first_name": "Eva", "client_id": UNDO_KEY + "1029"}
    assert by[("client_property_values", "set")].payload["value"] == "Energie"  # the empty one is not sent
    assert by[("client_tags", "add")].ref == "Großkunde"
    assert [c.resource for c in undo.plan.changes] == ["clients", "contacts", "client_property_values", "client_tags"]
    # Once it is back (its marker in Billomat), a second undo plans nothing for it.
    restored = account()
    clients = [*restored.clients.to_dict("records"),
               {"id": "1040", "name": "Stadtwerke", "customfield": undo_marker(RUN, "clients", "1029")}]
    again = plan_undo(RUN, [delete], account(clients=clients))
    assert again.plan.changes == [] and again.nothing_to_do == 1


def test_values_and_tags_go_back_and_what_is_already_back_counts_as_nothing_to_do() -> None:
    value = write("client_property_values", "set", "1001", {"value": ["", "Bau"]}, client_id="1001", ref="11")
    tag_add = write("client_tags", "add", "1001", {"name": ["", "Export"]}, client_id="1001", ref="Export")
    tag_remove = write("client_tags", "remove", "1001", {"name": ["Newsletter", ""]}, client_id="1001", ref="Newsletter")
    undo = plan_undo(RUN, [value, tag_add, tag_remove], account())
    got = {(c.resource, c.action, c.ref) for c in undo.plan.changes}
    assert got == {("client_property_values", "clear", "11"), ("client_tags", "remove", "Export"),
                   ("client_tags", "add", "Newsletter")}
    tags = [{"client_id": "1001", "name": "Newsletter"}]
    values: list[dict[str, str]] = []
    done = plan_undo(RUN, [value, tag_add, tag_remove], account(client_tags=tags, client_property_values=values))
    assert done.plan.changes == [] and done.nothing_to_do == 3


def test_writes_that_failed_or_touched_a_client_the_run_created_need_nothing() -> None:
    create = write("clients", "create", "row:31", {"name": ["", "Neu GmbH"]}, record_id="1031")
    tag = write("client_tags", "add", "1031", {"name": ["", "VIP"]}, client_id="1031", ref="VIP")
    failed = write("clients", "update", "1001", {"city": ["Köln", "Bonn"]}, status="failed")
    undo = plan_undo(RUN, [create, tag, failed], account(), allow_deletes=True)
    assert [(c.action, c.key) for c in undo.plan.changes] == [("delete", "1031")]  # its tag goes with it
