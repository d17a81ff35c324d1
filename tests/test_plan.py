"""The plan: changes in dependency order, exact payloads, markers, and the delete guard (SPEC §5)."""

from __future__ import annotations

import json

import pytest

from sync.diff import diff_account
from sync.frames import AccountFrames
from sync.plan import NEED_FLAG, Plan, build_plan, create_marker, default_delete_limit
from tests.diffkit import MAPPING, account, desired

CLIENT = {"id": "1001", "client_number": "KD00042", "name": "Müller GmbH", "city": "Dresden"}
CONTACT = {
    "id": "5001",
    "client_id": "1001",
    "name": "Müller GmbH",
    "city": "Dresden",
    "first_name": "Sabine",
}


def plan(current: AccountFrames, wanted, **guard) -> Plan:  # noqa: ANN001
    return build_plan(diff_account(current, wanted, MAPPING), wanted, current, MAPPING, **guard)


def mixed() -> tuple[AccountFrames, object]:
    current = account(
        clients=[
            CLIENT,
            {"id": "1002", "client_number": "KD00043", "name": "Weg AG"},
            {"id": "1003", "client_number": "KD00044", "name": "Bleibt KG", "city": "Bonn"},
        ],
        contacts=[CONTACT, {"id": "5002", "client_id": "1003", "first_name": "Eva", "last_name": "Ernst"}],
        properties=[{"id": "11", "name": "Branche", "type": "TEXTFIELD"}],
        values=[{"id": "7001", "client_id": "1001", "client_property_id": "11", "value": "IT"}],
        tags=[{"client_id": "1001", "name": "VIP"}],
    )
    wanted = desired(
        clients=[
            {"_row": 2, "_key": "1001", "name": "Müller GmbH", "city": "Leipzig"},
            {"_row": 3, "_key": "1003", "name": "Bleibt KG", "city": "Bonn"},
            {"_row": 4, "_key": "neu-1", "name": "Neu GmbH", "city": "Köln"},
        ],
        contacts=[
            {
                "_row": 2,
                "_key": "5001",
                "client_key": "1001",
                "name": "",
                "city": "Dresden",
                "first_name": "Sabina",
            },
            {"_row": 3, "_key": "row:3", "client_key": "neu-1", "name": "", "city": "", "first_name": "Udo"},
        ],
        values=[
            {"_row": 2, "client_key": "1001", "client_property_id": "11", "value": ""},
            {"_row": 3, "client_key": "1003", "client_property_id": "11", "value": ""},
            {"_row": 4, "client_key": "neu-1", "client_property_id": "11", "value": "Bau"},
        ],
        tags=[
            {"_row": 2, "client_key": "1001", "name": "VIP"},
            {"_row": 2, "client_key": "1001", "name": "A-Kunde"},
            {"_row": 4, "client_key": "neu-1", "name": "Neu"},
        ],
    )
    return current, wanted


def change(
    resource, action, key, sheet, row, fields=None, payload=None, client_key="", ref="", marker="", label=""
):  # noqa: ANN001, ANN201, PLR0913
    return {
        "resource": resource,
        "action": action,
        "key": key,
        "sheet": sheet,
        "row": row,
        "fields": {k: {"old": o, "new": n} for k, (o, n) in (fields or {}).items()},
        "payload": payload or {},
        "client_key": client_key,
        "ref": ref,
        "marker": marker,
        "label": label,
    }


def test_mixed_plan_whole_dict() -> None:
    current, wanted = mixed()
    result = plan(current, wanted, allow_deletes=True, max_deletes=1).to_dict()
    assert result == {
        "counts": {
            "clients": {"create": 1, "update": 1, "delete": 1},
            "contacts": {"update": 1, "create": 1, "delete": 1},
            "client_property_values": {"clear": 1, "set": 1},
            "client_tags": {"add": 2},
        },
        "changes": [
            change("clients", "create", "neu-1", "Kunden", 4,
                   {"name": ("", "Neu GmbH"), "city": ("", "Köln")}, {"name": "Neu GmbH", "city": "Köln"},
                   marker="billsync:67f693be448b63ef"),
            change("clients", "update", "1001", "Kunden", 2, {"city": ("Dresden", "Leipzig")}, {"city": "Leipzig"}),
            change("contacts", "update", "5001", "Kontakte", 2, {"first_name": ("Sabine", "Sabina")},
                   {"first_name": "Sabina"}, client_key="1001"),
            change("contacts", "create", "row:3", "Kontakte", 3,
                   {"client_id": ("", "neu-1"), "first_name": ("", "Udo")}, {"client_id": "neu-1", "first_name": "Udo"},
                   client_key="neu-1", marker="billsync:724c63f433eb16c1"),
            change("client_property_values", "clear", "1001", "Kunden", 2, {"value": ("IT", "")},
                   {"client_id": "1001", "client_property_id": "11", "value": ""}, client_key="1001", ref="11",
                   label="Branche"),
            change("client_property_values", "set", "neu-1", "Kunden", 4, {"value": ("", "Bau")},
                   {"client_id": "neu-1", "client_property_id": "11", "value": "Bau"}, client_key="neu-1", ref="11",
                   label="Branche"),
            change("client_tags", "add", "1001", "Kunden", 2, {"name": ("", "A-Kunde")},
                   {"client_id": "1001", "name": "A-Kunde"}, client_key="1001", ref="A-Kunde"),
            change("client_tags", "add", "neu-1", "Kunden", 4, {"name": ("", "Neu")},
                   {"client_id": "neu-1", "name": "Neu"}, client_key="neu-1", ref="Neu"),
            change("contacts", "delete", "5002", "Kontakte", None, client_key="1003", label="Eva Ernst"),
            change("clients", "delete", "1002", "Kunden", None, label="KD00043 Weg AG"),
        ],
        "held": [],
        "problems": [],
        "warnings": [],
    }  # fmt: skip
    json.dumps(result)  # the --json output


def test_dependency_order() -> None:
    current, wanted = mixed()
    order = [(c.resource, c.action) for c in plan(current, wanted, allow_deletes=True, max_deletes=1).changes]
    groups = [
        {("clients", "create")},
        {("clients", "update")},
        {("contacts", "create"), ("contacts", "update")},
        {("client_property_values", "set"), ("client_property_values", "clear")},
        {("client_tags", "add"), ("client_tags", "remove")},
        {("contacts", "delete")},
        {("clients", "delete")},
    ]
    ranks = [next(i for i, g in enumerate(groups) if step in g) for step in order]
    assert ranks == sorted(ranks)


def test_plan_is_deterministic_and_stable() -> None:
    current, wanted = mixed()
    first = json.dumps(plan(current, wanted, allow_deletes=True, max_deletes=1).to_dict())
    current2, wanted2 = mixed()
    assert json.dumps(plan(current2, wanted2, allow_deletes=True, max_deletes=1).to_dict()) == first


def test_no_op_plan_is_empty() -> None:
    current = account(clients=[CLIENT], contacts=[CONTACT])
    wanted = desired(
        clients=[{"_row": 2, "_key": "1001", "name": "Müller GmbH", "city": "Dresden"}],
        contacts=[
            {"_row": 2, "_key": "5001", "client_key": "1001", "name": "", "city": "", "first_name": "Sabine"}
        ],
    )
    result = plan(current, wanted)
    assert result.changes == [] and result.held == [] and result.counts() == {}


# ------------------------------------------------------------------ the delete guard


def clients(n: int) -> list[dict]:
    return [{"id": str(1000 + i), "client_number": f"KD{i:05d}", "name": f"Firma {i}"} for i in range(n)]


def keep(rows: list[dict], deleted: int) -> object:
    kept = rows[deleted:]
    return desired(clients=[{"_row": i + 2, "_key": r["id"], "name": r["name"]} for i, r in enumerate(kept)])


@pytest.mark.parametrize(
    ("records", "limit"),
    [(0, 0), (5, 0), (9, 0), (10, 1), (30, 3), (39, 3), (99, 9), (100, 10), (101, 10), (5000, 10)],
)
def test_default_delete_limit_is_the_smaller_of_10_rows_and_10_percent_rounded_down(
    records: int, limit: int
) -> None:
    assert default_delete_limit(records) == limit


def test_deletes_without_the_flag_are_held() -> None:
    rows = clients(30)
    result = plan(account(clients=rows), keep(rows, 1))
    assert [c.action for c in result.changes] == []
    assert [(h.change.key, h.reason) for h in result.held] == [("1000", NEED_FLAG)]
    assert result.to_dict()["held"][0]["reason"] == "deletes need --allow-deletes"


def test_deletes_within_the_default_limit_are_planned() -> None:
    rows = clients(30)
    result = plan(account(clients=rows), keep(rows, 3), allow_deletes=True)
    assert [c.key for c in result.changes if c.action == "delete"] == ["1000", "1001", "1002"]
    assert result.held == []


def test_deletes_over_10_percent_are_all_held_with_the_numbers() -> None:
    rows = clients(30)
    result = plan(account(clients=rows), keep(rows, 4), allow_deletes=True)
    assert not [c for c in result.changes if c.action == "delete"]
    assert len(result.held) == 4
    assert result.held[0].reason == (
        "4 of 30 clients would be deleted, more than the default limit of 3 (at most 10 rows and 10 %); "
        "pass --max-deletes 4 to allow them"
    )


def test_deletes_over_10_rows_are_held_even_under_10_percent() -> None:
    rows = clients(200)
    assert len(plan(account(clients=rows), keep(rows, 10), allow_deletes=True).held) == 0
    held = plan(account(clients=rows), keep(rows, 11), allow_deletes=True).held
    assert len(held) == 11 and "11 of 200 clients" in held[0].reason and "limit of 10" in held[0].reason


def test_explicit_max_deletes_replaces_the_default() -> None:
    rows = clients(30)
    assert len(plan(account(clients=rows), keep(rows, 5), allow_deletes=True, max_deletes=5).held) == 0
    held = plan(account(clients=rows), keep(rows, 5), allow_deletes=True, max_deletes=4).held
    assert [h.reason for h in held][:1] == [
        "5 clients deletes exceed --max-deletes 4; pass --max-deletes 5 to allow them"
    ]
    assert len(plan(account(clients=rows), keep(rows, 1), allow_deletes=True, max_deletes=0).held) == 1


def test_deleting_every_record_is_always_held() -> None:
    rows = clients(3)
    wanted = desired(clients=[])  # desired.py refuses an empty Kunden sheet; the plan holds anyway
    held = plan(account(clients=rows), wanted, allow_deletes=True, max_deletes=1000).held
    assert len(held) == 3 and held[0].reason.startswith("all 3 clients would be deleted")


def test_deletes_desired_blocks_are_held_with_its_reason() -> None:
    rows = clients(30)
    wanted = keep(rows, 1)
    blocked = type(wanted)(
        wanted.clients,
        wanted.contacts,
        wanted.property_values,
        wanted.tags,
        deletes_blocked={"clients": "row 5 has a malformed id; no client is deleted this run"},
    )
    result = plan(account(clients=rows), blocked, allow_deletes=True, max_deletes=100)
    assert [(h.change.key, h.reason) for h in result.held] == [
        ("1000", "row 5 has a malformed id; no client is deleted this run")
    ]


def test_guard_is_per_resource() -> None:
    rows = clients(30)
    contacts = [{"id": str(5000 + i), "client_id": "1010", "first_name": f"K{i}"} for i in range(10)]
    wanted = keep(rows, 1)
    wanted_contacts = desired(
        clients=wanted.clients.to_dict("records"),
        contacts=[
            {"_row": i + 2, "_key": c["id"], "client_key": "1010", "first_name": c["first_name"]}
            for i, c in enumerate(contacts[2:])
        ],
    )
    result = plan(account(clients=rows, contacts=contacts), wanted_contacts, allow_deletes=True)
    # 1 of 30 clients is within 3; 2 of 10 contacts is over 1.
    assert [c.key for c in result.changes if c.action == "delete"] == ["1000"]
    assert [(h.change.resource, h.change.key) for h in result.held] == [
        ("contacts", "5000"),
        ("contacts", "5001"),
    ]


def test_tag_removes_and_property_clears_are_not_guarded() -> None:
    current = account(
        clients=[CLIENT],
        properties=[{"id": "11", "name": "Branche", "type": "TEXTFIELD"}],
        values=[{"id": "7001", "client_id": "1001", "client_property_id": "11", "value": "IT"}],
        tags=[{"client_id": "1001", "name": "VIP"}],
    )
    wanted = desired(
        clients=[{"_row": 2, "_key": "1001", "name": "Müller GmbH"}],
        values=[{"_row": 2, "client_key": "1001", "client_property_id": "11", "value": ""}],
    )
    result = plan(current, wanted)
    assert [(c.resource, c.action) for c in result.changes] == [
        ("client_property_values", "clear"),
        ("client_tags", "remove"),
    ]
    assert result.held == []


# ------------------------------------------------------------------ markers and problems


def test_markers_are_deterministic_and_distinct_for_identical_rows() -> None:
    rows = [{"_row": r, "_key": f"row:{r}", "name": "Gleich GmbH", "city": "Köln"} for r in (5, 6)]
    first = plan(account(), desired(clients=rows))
    again = plan(account(), desired(clients=rows))
    markers = [c.marker for c in first.changes]
    assert markers == [c.marker for c in again.changes]
    assert len(set(markers)) == 2 and all(m.startswith("billsync:") and len(m) == 25 for m in markers)
    assert markers[0] == create_marker("Kunden", "row:5", {"name": "Gleich GmbH", "city": "Köln"})


def test_marker_changes_with_content_and_occurrence() -> None:
    base = create_marker("Kunden", "neu-1", {"name": "A"})
    assert base != create_marker("Kunden", "neu-1", {"name": "B"})
    assert base != create_marker("Kunden", "neu-1", {"name": "A"}, occurrence=1)
    assert base == create_marker("Kunden", "neu-1", {"name": "A"})


def test_creates_send_only_non_empty_fields() -> None:
    wanted = desired(clients=[{"_row": 2, "_key": "row:2", "name": "Neu", "city": "", "street": "  "}])
    (create,) = plan(account(), wanted).changes
    assert create.payload == {"name": "Neu"}


def test_unknown_ids_and_dangling_client_keys_are_row_problems() -> None:
    wanted = desired(
        clients=[
            {"_row": 2, "_key": "1001", "name": "Müller GmbH", "city": "Dresden"},
            {"_row": 3, "_key": "4711", "name": "X"},
        ],
        contacts=[
            {"_row": 2, "_key": "5001", "client_key": "1001", "name": "", "city": "", "first_name": "Sabine"},
            {"_row": 3, "_key": "row:3", "client_key": "neu-9", "first_name": "Waise"},
        ],
    )
    result = plan(account(clients=[CLIENT], contacts=[CONTACT]), wanted)
    assert result.changes == []
    assert [str(p) for p in result.problems] == [
        "sheet 'Kunden', row 3, column 'Billomat-ID': Billomat has no client with id '4711' (deleted there?); "
        "leave the cell empty to create the row as a new client",
        "sheet 'Kontakte', row 3: client 'neu-9' is neither in Billomat nor a new row of sheet 'Kunden' this run; "
        "contacts create skipped",
    ]


# ------------------------------------------------------------------ through desired.py


def test_mixed_edits_of_the_pulled_sample_workbook() -> None:
    """Edits an accountant makes in the pulled workbook, read by desired.py: one change per edit."""
    from sync import sheet
    from sync.clients.billomat import Billomat
    from sync.clock import FakeClock
    from sync.desired import read_desired
    from sync.emulator import Emulator, EmulatorConfig, load_seed
    from sync.extract import extract_account
    from tests.diffkit import REPO

    emu = Emulator(EmulatorConfig(account=load_seed(REPO / "sample_data"), clock=FakeClock(), rate_limit=0))
    with emu.running():
        frames, _ = extract_account(Billomat(base_url=emu.billomat_url, api_key=emu.config.api_key))
    tables = sheet.build_tables(frames, MAPPING)
    kunden, kontakte = tables["Kunden"], tables["Kontakte"]
    kunden.index, kontakte.index = range(2, len(kunden) + 2), range(2, len(kontakte) + 2)
    kunden.loc[2, "Ort"] = "Leipzig"  # client 1001
    kunden.loc[3, "Schlagwörter"] = ""  # client 1002 had "Newsletter"
    kunden.loc[4, "Branche"] = "Neu-Branche"  # client 1003
    kunden.loc[32] = {
        **dict.fromkeys(kunden.columns, ""),
        "Billomat-ID": "neu-1",
        "Firma": "Neu GmbH",
        "Schlagwörter": "VIP",
    }
    kontakte.loc[39] = {**dict.fromkeys(kontakte.columns, ""), "Kunden-ID": "neu-1", "Vorname": "Udo"}
    kontakte = kontakte.drop(index=3)  # contact 5002

    wanted = read_desired({"Kunden": kunden, "Kontakte": kontakte}, MAPPING, frames)
    result = build_plan(diff_account(frames, wanted, MAPPING), wanted, frames, MAPPING, allow_deletes=True)
    assert [(c.resource, c.action, c.key, c.row, c.payload) for c in result.changes] == [
        ("clients", "create", "neu-1", 32, {"name": "Neu GmbH"}),
        ("clients", "update", "1001", 2, {"city": "Leipzig"}),
        ("contacts", "create", "row:39", 39, {"client_id": "neu-1", "first_name": "Udo"}),
        (
            "client_property_values",
            "set",
            "1003",
            4,
            {"client_id": "1003", "client_property_id": "11", "value": "Neu-Branche"},
        ),
        ("client_tags", "remove", "1002", 3, {}),
        ("client_tags", "add", "neu-1", 32, {"client_id": "neu-1", "name": "VIP"}),
        ("contacts", "delete", "5002", None, {}),
    ]
    assert result.held == [] and result.problems == []
