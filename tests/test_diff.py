"""The diff engine: keyed, field-level, normalised comparison of Billomat and the workbook."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sync import sheet
from sync.clients.billomat import Billomat
from sync.diff import Diff, diff_account
from sync.emulator import generate_account
from sync.extract import extract_account
from sync.frames import AccountFrames
from sync.mapping import mapping_from_text
from tests.diffkit import MAPPING, REPO, account, desired, desired_from_account, desired_from_tables

CLIENT = {"id": "1001", "client_number": "KD00042", "name": "Müller GmbH", "zip": "01067", "city": "Dresden",
          "country_code": "DE", "email": "info@mueller.de", "note": "Zeile 1\nZeile 2"}  # fmt: skip


def diff(current: AccountFrames, wanted, mapping=MAPPING) -> Diff:  # noqa: ANN001
    return diff_account(current, wanted, mapping)


def updates(result: Diff, resource: str = "clients") -> list[tuple]:
    return [
        tuple(r)
        for r in getattr(result, resource)
        .updates[["key", "row", "field", "old", "new"]]
        .itertuples(index=False)
    ]


def client_row(**fields: str) -> dict:
    """The workbook row of CLIENT (writable fields only), with some cells edited."""
    base = {k: v for k, v in CLIENT.items() if k not in ("id", "client_number")}
    return {"_row": 2, "_key": "1001", **base, **fields}


# ------------------------------------------------------------------ cells: the truth table

# (field, Billomat's value, the workbook's cell, is it a change?)
CELLS = [
    ("name", "Müller GmbH", "Müller GmbH", False),  # equal
    ("name", "Müller GmbH", "Müller AG", True),  # edited
    ("name", "Müller GmbH", "  Müller GmbH ", False),  # strip (the default normaliser)
    ("country_code", "DE", " de ", False),  # [strip, upper]
    ("country_code", "DE", "AT", True),
    ("email", "info@mueller.de", "Info@Mueller.DE", False),  # [strip, lower]
    ("email", "info@mueller.de", "info@mueller.com", True),
    ("zip", "01067", "1067", True),  # canonical strings: never a numeric compare
    ("zip", "00042", "42", True),
    ("zip", "01067", "01067", False),
    ("note", "Zeile 1\nZeile 2", "Zeile 1\nZeile 2 ", True),  # normalize: none
    ("note", "Zeile 1\nZeile 2", "Zeile 1\r\nZeile 2", True),
    ("city", "Dresden", "", True),  # emptied
    ("street", "", "", False),  # empty both
    ("street", "", "Hauptstr. 1", True),  # filled
]


@pytest.mark.parametrize(("field", "old", "new", "changed"), CELLS)
def test_cell_truth_table(field: str, old: str, new: str, changed: bool) -> None:
    current = account(clients=[{**CLIENT, field: old}])
    result = diff(current, desired(clients=[client_row(**{field: new})]))
    assert updates(result) == ([("1001", 2, field, old, new)] if changed else [])


def test_vat_and_iban_ignore_blanks_and_case() -> None:
    current = account(
        clients=[{**CLIENT, "vat_number": "DE123456789", "bank_iban": "DE89370400440532013000"}]
    )
    wanted = desired(
        clients=[client_row(vat_number="de 123 456 789", bank_iban="DE89 3704 0044 0532 0130 00")]
    )
    assert updates(diff(current, wanted)) == []


# ------------------------------------------------------------------ records


def test_no_change_is_an_empty_diff() -> None:
    result = diff(account(clients=[CLIENT]), desired(clients=[client_row()]))
    assert result.is_empty
    assert result.counts()["clients"] == {"create": 0, "update": 0, "delete": 0, "unknown": 0}


def test_only_changed_fields_are_reported_with_the_raw_workbook_value() -> None:
    result = diff(account(clients=[CLIENT]), desired(clients=[client_row(city=" Leipzig ", zip="04109")]))
    assert updates(result) == [
        ("1001", 2, "zip", "01067", "04109"),
        ("1001", 2, "city", "Dresden", " Leipzig "),  # compared stripped, sent as the cell holds it
    ]


def test_updates_come_in_sheet_row_then_column_order() -> None:
    current = account(clients=[CLIENT, {**CLIENT, "id": "1002"}])
    rows = [client_row(_row=3, _key="1001", city="A", name="X"), client_row(_row=2, _key="1002", city="B")]
    assert [(k, f) for k, _, f, _, _ in updates(diff(current, desired(clients=rows)))] == [
        ("1002", "city"),
        ("1001", "name"),
        ("1001", "city"),
    ]


def test_field_missing_in_billomat_counts_as_empty() -> None:
    # The API left `state` out: a blank cell is no change, a filled one sets it.
    assert "state" not in account(clients=[CLIENT]).clients.columns
    assert updates(diff(account(clients=[CLIENT]), desired(clients=[client_row(state="")]))) == []
    assert updates(diff(account(clients=[CLIENT]), desired(clients=[client_row(state="Sachsen")]))) == [
        ("1001", 2, "state", "", "Sachsen")
    ]


def test_column_missing_in_the_workbook_is_not_compared() -> None:
    row = client_row()
    del row["city"]
    assert diff(account(clients=[CLIENT]), desired(clients=[row])).is_empty


def test_read_only_fields_are_never_compared() -> None:
    # client_number and created are read-only in the mapping; id is the key.
    wanted = desired(clients=[client_row(client_number="KD99999", created="2020-01-01")])
    assert diff(account(clients=[{**CLIENT, "created": "2016-03-14"}]), wanted).is_empty


def test_missing_values_compare_as_empty() -> None:
    wanted = desired(clients=[client_row(street=None)])
    wanted.clients.loc[0, "state"] = float("nan")
    assert diff(account(clients=[CLIENT]), wanted).is_empty


def test_pandas_string_dtype_frames_diff_the_same() -> None:
    wanted = desired(clients=[client_row(city="Leipzig")])
    as_str = wanted.clients.astype({c: "str" for c in wanted.clients.columns if c != "_row"})
    result = diff(
        account(clients=[CLIENT]), type(wanted)(as_str, wanted.contacts, wanted.property_values, wanted.tags)
    )
    assert updates(result) == [("1001", 2, "city", "Dresden", "Leipzig")]


def test_blank_and_neu_keys_are_creates_with_their_raw_values() -> None:
    wanted = desired(
        clients=[
            client_row(),
            {"_row": 3, "_key": "row:3", "name": "Neu GmbH ", "city": ""},
            {"_row": 4, "_key": "neu-1", "name": "Neukunde KG", "city": "Köln"},
        ]
    )
    creates = diff(account(clients=[CLIENT]), wanted).clients.creates
    assert creates[["_key", "_row", "name", "city"]].values.tolist() == [
        ["row:3", 3, "Neu GmbH ", ""],
        ["neu-1", 4, "Neukunde KG", "Köln"],
    ]


def test_an_id_billomat_does_not_hold_is_unknown_not_a_create() -> None:
    result = diff(account(clients=[CLIENT]), desired(clients=[client_row(), client_row(_row=3, _key="4711")]))
    assert result.clients.unknown.values.tolist() == [["4711", 3]]
    assert result.clients.creates.empty


def test_a_client_missing_from_the_workbook_is_a_delete_with_a_label() -> None:
    current = account(clients=[CLIENT, {"id": "1002", "client_number": "KD00043", "name": "Weg AG"}])
    result = diff(current, desired(clients=[client_row()]))
    assert result.clients.deletes.values.tolist() == [["1002", "KD00043 Weg AG"]]


@pytest.mark.parametrize(
    "options",
    [
        {"left_out": {"clients": frozenset({"1002"}), "contacts": frozenset()}},  # as read_desired says it
        {"excluded_keys": frozenset({"1002"})},
    ],
)
def test_a_row_excluded_for_a_problem_is_never_deleted(options: dict) -> None:
    current = account(clients=[CLIENT, {"id": "1002", "name": "Kaputte Zeile AG"}])
    result = diff(current, desired(clients=[client_row()], **options))
    assert result.clients.deletes.empty


def test_left_out_ids_are_per_resource() -> None:
    # A left-out contact row 1002 says nothing about client 1002.
    current = account(clients=[CLIENT, {"id": "1002", "name": "Weg AG"}])
    result = diff(current, desired(clients=[client_row()], left_out={"contacts": frozenset({"1002"})}))
    assert result.clients.deletes["key"].tolist() == ["1002"]


def test_fields_desired_reports_missing_are_left_alone() -> None:
    wanted = desired(clients=[client_row(city="")], missing={"clients": ("city",)})
    assert diff(account(clients=[CLIENT]), wanted).is_empty


# ------------------------------------------------------------------ contacts

CONTACT = {"id": "5001", "client_id": "1001", "name": "Müller GmbH", "zip": "01067", "city": "Dresden",
           "first_name": "Sabine", "email": "s@mueller.de"}  # fmt: skip


def contact_row(**fields: str) -> dict:
    base = {k: v for k, v in CONTACT.items() if k not in ("id", "client_id")}
    return {"_row": 2, "_key": "5001", "client_key": "1001", **base, **fields}


def test_blank_contact_cell_where_billomat_echoes_the_client_is_no_change() -> None:
    # Billomat fills empty contact fields from the client (billomat-api.md §4.2).
    current = account(clients=[CLIENT], contacts=[CONTACT])
    wanted = desired(clients=[client_row()], contacts=[contact_row(name="", zip=" ", city="")])
    assert diff(current, wanted).is_empty


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ({"city": "Leipzig"}, [("5001", 2, "city", "Dresden", "Leipzig")]),  # a real edit
        ({"first_name": ""}, [("5001", 2, "first_name", "Sabine", "")]),  # not inherited: a clear
        ({"email": ""}, [("5001", 2, "email", "s@mueller.de", "")]),
    ],
)
def test_contact_edits_are_changes(edit: dict, expected: list) -> None:
    current = account(clients=[CLIENT], contacts=[CONTACT])
    assert (
        updates(diff(current, desired(clients=[client_row()], contacts=[contact_row(**edit)])), "contacts")
        == expected
    )


def test_blank_contact_cell_is_a_change_when_billomat_holds_its_own_value() -> None:
    current = account(clients=[CLIENT], contacts=[{**CONTACT, "city": "Radebeul"}])
    result = diff(current, desired(clients=[client_row()], contacts=[contact_row(city="")]))
    assert updates(result, "contacts") == [("5001", 2, "city", "Radebeul", "")]


# The client moved (street/city changed) after the workbook was written; under the "read" reading of
# billomat-api.md §4.2 the contact now shows the client's new values, the workbook still its old ones.
MOVED = {**CLIENT, "city": "Leipzig", "name": "Müller AG"}


def test_an_unedited_contact_cell_where_billomat_shows_the_clients_newer_value_is_no_change() -> None:
    base = account(clients=[CLIENT], contacts=[CONTACT])
    current = account(clients=[MOVED], contacts=[{**CONTACT, "city": "Leipzig", "name": "Müller AG"}])
    wanted = desired(clients=[client_row(city="Leipzig", name="Müller AG")], contacts=[contact_row()])
    assert diff_account(current, wanted, MAPPING, base).is_empty
    # Without the base nothing tells the old value from an edit: the workbook is master.
    assert updates(diff(current, wanted), "contacts") == [
        ("5001", 2, "name", "Müller AG", "Müller GmbH"),
        ("5001", 2, "city", "Leipzig", "Dresden"),
    ]


@pytest.mark.parametrize(
    ("billomat", "cell", "expected"),
    [
        # The accountant's edit goes through, also when Billomat shows the client's value.
        ("Leipzig", "Halle", [("5001", 2, "city", "Leipzig", "Halle")]),
        # Billomat holds a value of the contact's own (not the client's): the workbook stays master.
        ("Radebeul", "Dresden", [("5001", 2, "city", "Radebeul", "Dresden")]),
        # Unedited (the base's value) and Billomat shows the client's: left alone.
        ("Leipzig", "Dresden", []),
    ],
)
def test_only_unedited_inherited_cells_where_billomat_shows_the_clients_value_are_left_alone(
    billomat: str, cell: str, expected: list
) -> None:
    base = account(clients=[CLIENT], contacts=[CONTACT])
    current = account(clients=[MOVED], contacts=[{**CONTACT, "city": billomat}])
    wanted = desired(clients=[client_row(city="Leipzig", name="Müller AG")], contacts=[contact_row(city=cell)])
    result = diff_account(current, wanted, MAPPING, base)
    assert updates(result, "contacts") == expected


def test_a_contact_the_base_does_not_know_keeps_the_workbook_as_master() -> None:
    base = account(clients=[CLIENT])
    current = account(clients=[MOVED], contacts=[{**CONTACT, "city": "Leipzig"}])
    wanted = desired(clients=[client_row(city="Leipzig", name="Müller AG")], contacts=[contact_row()])
    assert updates(diff_account(current, wanted, MAPPING, base), "contacts") == [
        ("5001", 2, "city", "Leipzig", "Dresden")
    ]


def test_an_unedited_own_first_name_changed_in_billomat_is_still_written() -> None:
    base = account(clients=[CLIENT], contacts=[CONTACT])
    current = account(clients=[CLIENT], contacts=[{**CONTACT, "first_name": "Sabina"}])
    wanted = desired(clients=[client_row()], contacts=[contact_row()])
    assert updates(diff_account(current, wanted, MAPPING, base), "contacts") == [
        ("5001", 2, "first_name", "Sabina", "Sabine")
    ]


def test_contact_of_a_client_created_in_the_same_run() -> None:
    wanted = desired(
        clients=[client_row(), {"_row": 3, "_key": "neu-7", "name": "Neu GmbH"}],
        contacts=[contact_row(), {"_row": 3, "_key": "row:3", "client_key": "neu-7", "first_name": "Udo"}],
    )
    creates = diff(account(clients=[CLIENT], contacts=[CONTACT]), wanted).contacts.creates
    assert creates[["_key", "_row", "client_key", "first_name"]].values.tolist() == [
        ["row:3", 3, "neu-7", "Udo"]
    ]


def test_moving_a_contact_to_another_client_updates_its_client_id() -> None:
    current = account(clients=[CLIENT, {**CLIENT, "id": "1002"}], contacts=[CONTACT])
    wanted = desired(
        clients=[client_row(), client_row(_row=3, _key="1002")], contacts=[contact_row(client_key="1002")]
    )
    assert updates(diff(current, wanted), "contacts") == [("5001", 2, "client_id", "1001", "1002")]


def test_contacts_of_a_deleted_client_are_not_diffed_one_by_one() -> None:
    gone = {"id": "1002", "name": "Weg AG"}
    current = account(clients=[CLIENT, gone], contacts=[CONTACT, {"id": "5002", "client_id": "1002"}])
    # The contact row of the deleted client is still in Kontakte, edited: deleting the client wins.
    wanted = desired(
        clients=[client_row()],
        contacts=[contact_row(), {"_row": 3, "_key": "5002", "client_key": "1002", "first_name": "Neu"}],
    )
    result = diff(current, wanted)
    assert result.clients.deletes["key"].tolist() == ["1002"]
    assert result.contacts.deletes.empty and result.contacts.updates.empty


def test_a_contact_missing_from_the_sheet_is_a_delete() -> None:
    current = account(
        clients=[CLIENT],
        contacts=[CONTACT, {**CONTACT, "id": "5002", "first_name": "Eva", "last_name": "Ernst"}],
    )
    result = diff(current, desired(clients=[client_row()], contacts=[contact_row()]))
    assert result.contacts.deletes.values.tolist() == [["5002", "Eva Ernst", "1001"]]


def test_without_a_contacts_sheet_no_contact_is_ever_deleted() -> None:
    text = (REPO / "mappings" / "billomat.yaml").read_text(encoding="utf-8")
    only_clients = mapping_from_text(text.split("\n  contacts:\n")[0])
    assert "contacts" not in only_clients.sheets
    result = diff(
        account(clients=[CLIENT], contacts=[CONTACT]), desired(clients=[client_row()]), only_clients
    )
    assert result.is_empty


# ------------------------------------------------------------------ property values

PROPS = [
    {"id": "11", "name": "Branche", "type": "TEXTFIELD"},
    {"id": "13", "name": "Stammkunde", "type": "CHECKBOX"},
]


def value_rows(key: str = "1001", row: int = 2, **values: str) -> list[dict]:
    return [
        {"_row": row, "client_key": key, "client_property_id": pid, "value": v} for pid, v in values.items()
    ]


@pytest.mark.parametrize(
    ("billomat", "cell", "kind"),
    [
        (None, "", None),  # no row in Billomat == ""
        ("", "", None),
        (None, "Bau", "set"),
        ("IT", "Bau", "set"),
        ("IT", " IT ", None),  # the properties normaliser (strip)
        ("IT", "", "clear"),
        ("IT", "  ", "clear"),
        ("", "Bau", "set"),
    ],
)
def test_property_value_truth_table(billomat: str | None, cell: str, kind: str | None) -> None:
    values = (
        []
        if billomat is None
        else [{"id": "7001", "client_id": "1001", "client_property_id": "11", "value": billomat}]
    )
    current = account(clients=[CLIENT], properties=PROPS, values=values)
    result = diff(current, desired(clients=[client_row()], values=value_rows(**{"11": cell})))
    sets, clears = result.property_values.set, result.property_values.clear
    old = billomat or ""
    assert sets.values.tolist() == ([["1001", "11", old, cell, 2]] if kind == "set" else [])
    assert clears.values.tolist() == ([["1001", "11", old, "", 2]] if kind == "clear" else [])


def test_property_columns_absent_from_the_workbook_are_left_alone() -> None:
    values = [{"id": "7001", "client_id": "1001", "client_property_id": "13", "value": "1"}]
    current = account(clients=[CLIENT], properties=PROPS, values=values)
    assert diff(current, desired(clients=[client_row()], values=value_rows(**{"11": ""}))).is_empty


def test_property_values_of_a_new_client_are_set() -> None:
    wanted = desired(
        clients=[client_row(), {"_row": 3, "_key": "neu-1", "name": "N"}],
        values=value_rows("neu-1", 3, **{"11": "Bau", "13": ""}),
    )
    result = diff(account(clients=[CLIENT], properties=PROPS), wanted)
    assert result.property_values.set.values.tolist() == [["neu-1", "11", "", "Bau", 3]]
    assert result.property_values.clear.empty


def test_newest_property_value_row_wins_when_billomat_holds_two() -> None:
    values = [
        {"id": "7002", "client_id": "1001", "client_property_id": "11", "value": "Bau"},
        {"id": "7001", "client_id": "1001", "client_property_id": "11", "value": "IT"},
    ]
    current = account(clients=[CLIENT], properties=PROPS, values=values)
    assert diff(current, desired(clients=[client_row()], values=value_rows(**{"11": "Bau"}))).is_empty


# ------------------------------------------------------------------ tags


def tag_rows(key: str = "1001", row: int = 2, *names: str) -> list[dict]:
    return [{"_row": row, "client_key": key, "name": n} for n in names]


@pytest.mark.parametrize(
    ("billomat", "cell", "added", "removed"),
    [
        (["A-Kunde", "VIP"], ["VIP", "A-Kunde"], [], []),  # order does not matter
        (["A-Kunde"], ["A-Kunde", "Newsletter"], ["Newsletter"], []),
        (["A-Kunde", "VIP"], ["A-Kunde"], [], ["VIP"]),
        (["VIP"], ["vip"], ["vip"], ["VIP"]),  # case is a change (add `lower` to tags.normalize to ignore it)
        (["VIP "], ["VIP"], [], []),  # the tags normaliser (strip)
        (["A-Kunde"], [], [], ["A-Kunde"]),  # an emptied cell removes every tag
        ([], [], [], []),
    ],
)
def test_tag_truth_table(billomat: list[str], cell: list[str], added: list[str], removed: list[str]) -> None:
    current = account(clients=[CLIENT], tags=[{"client_id": "1001", "name": n} for n in billomat])
    result = diff(current, desired(clients=[client_row()], tags=tag_rows("1001", 2, *cell)))
    assert result.tags.add.values.tolist() == [["1001", n, 2] for n in added]
    assert result.tags.remove.values.tolist() == [["1001", n, 2] for n in removed]


@pytest.mark.parametrize("options", [{"missing": {"client_tags": ("name",)}}, {"has_tags": False}])
def test_tags_are_left_alone_without_a_tags_column(options: dict) -> None:
    current = account(clients=[CLIENT], tags=[{"client_id": "1001", "name": "VIP"}])
    assert diff(current, desired(clients=[client_row()], **options)).is_empty


def test_property_columns_desired_reports_missing_are_left_alone() -> None:
    values = [{"id": "7001", "client_id": "1001", "client_property_id": "13", "value": "1"}]
    current = account(clients=[CLIENT], properties=PROPS, values=values)
    wanted = desired(
        clients=[client_row()],
        values=value_rows(**{"11": "", "13": ""}),
        missing={"client_property_values": ("13",)},
    )
    assert diff(current, wanted).is_empty


def test_tags_and_values_of_an_excluded_row_are_left_alone() -> None:
    # Row 3 (client 1002) had a problem: desired.py left it out, so it has no tags and values either.
    current = account(
        clients=[CLIENT, {"id": "1002"}],
        properties=PROPS,
        values=[{"id": "7001", "client_id": "1002", "client_property_id": "11", "value": "IT"}],
        tags=[{"client_id": "1002", "name": "VIP"}],
    )
    assert diff(current, desired(clients=[client_row()], excluded_keys=frozenset({"1002"}))).is_empty


def test_tags_of_a_new_client_are_added() -> None:
    wanted = desired(
        clients=[client_row(), {"_row": 3, "_key": "row:3", "name": "N"}], tags=tag_rows("row:3", 3, "VIP")
    )
    assert diff(account(clients=[CLIENT]), wanted).tags.add.values.tolist() == [["row:3", "VIP", 3]]


# ------------------------------------------------------------------ round trips


@pytest.fixture(scope="module")
def sample_frames() -> AccountFrames:
    """The hostile sample account as `billsync pull` extracts it from the emulator."""
    from sync.clock import FakeClock
    from sync.emulator import Emulator, EmulatorConfig, load_seed

    emu = Emulator(EmulatorConfig(account=load_seed(REPO / "sample_data"), clock=FakeClock(), rate_limit=0))
    with emu.running():
        frames, _ = extract_account(Billomat(base_url=emu.billomat_url, api_key=emu.config.api_key))
    return frames


def test_hostile_sample_account_round_trip_is_a_no_op(sample_frames: AccountFrames) -> None:
    result = diff(sample_frames, desired_from_account(sample_frames))
    assert result.is_empty, result.counts()


@pytest.mark.parametrize("suffix", [".xlsx", ""])
def test_hostile_sample_account_through_the_workbook_is_a_no_op(
    sample_frames: AccountFrames, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"kunden{suffix}"
    sheet.write_workbook(sheet.build_tables(sample_frames, MAPPING), path, MAPPING)
    tables = sheet.read_workbook(path, MAPPING)
    result = diff(sample_frames, desired_from_tables(tables, sample_frames))
    assert result.is_empty, result.counts()


@pytest.mark.parametrize("suffix", [".xlsx", ""])
def test_pull_then_plan_is_zero_operations_on_the_hostile_sample(
    sample_frames: AccountFrames, tmp_path: Path, suffix: str
) -> None:
    """Issue 3 acceptance, pure part: the pulled workbook read back by desired.py plans nothing."""
    from sync.desired import read_desired
    from sync.plan import build_plan

    path = tmp_path / f"kunden{suffix}"
    sheet.write_workbook(sheet.build_tables(sample_frames, MAPPING), path, MAPPING)
    wanted = read_desired(sheet.read_workbook(path, MAPPING), MAPPING, sample_frames)
    result = diff(sample_frames, wanted)
    assert result.is_empty, result.counts()
    plan = build_plan(result, wanted, sample_frames, MAPPING, allow_deletes=True)
    assert plan.changes == [] and plan.held == [] and plan.problems == []


@pytest.mark.slow
def test_generated_account_round_trip_is_a_no_op() -> None:
    # 5,000 clients (10,000 contacts, 3 properties, 10 tags) reach every generated value kind; the size
    # that matters for speed is measured by `make bench`, not here.
    generated = generate_account(clients=5_000, contacts_per_client=2, properties=3, tags=10, seed=3)
    frames = AccountFrames.from_records(
        {
            name: getattr(generated, name)
            for name in ("clients", "contacts", "client_properties", "client_property_values", "client_tags")
        }
    )
    wanted = desired_from_account(frames)
    # Its speed is measured by `make bench` (docs/benchmarks.md), never asserted here.
    result = diff(frames, wanted)
    assert result.is_empty, result.counts()


def test_diff_is_pure() -> None:
    current = account(clients=[CLIENT], tags=[{"client_id": "1001", "name": "VIP"}])
    wanted = desired(clients=[client_row(city="X")], tags=tag_rows("1001", 2, "A"))
    before = (current.clients.copy(), wanted.clients.copy(), wanted.tags.copy())
    diff(current, wanted)
    pd.testing.assert_frame_equal(current.clients, before[0])
    pd.testing.assert_frame_equal(wanted.clients, before[1])
    pd.testing.assert_frame_equal(wanted.tags, before[2])
