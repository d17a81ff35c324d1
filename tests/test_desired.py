"""Tests for sync.desired: the workbook read back as the state Billomat should reach."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sync.desired import (
    Desired,
    RowProblem,
    read_desired,
)
from sync.emulator import load_seed
from sync.frames import RESOURCES, AccountFrames
from sync.mapping import Mapping, mapping_from_text
from sync.sheet import EXCEL_MAX_CHARS, build_tables, read_workbook, write_workbook
from tests.resave import (
    replace_in_xlsx,
    resave_csv_folder_as_german_excel,
    resave_with_openpyxl,
)

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "mappings" / "billomat.yaml"


def small_account() -> AccountFrames:
    return AccountFrames.from_records(
        {
            "clients": [
                {
                    "id": "10",
                    "client_number": "KD00010",
                    "name": "Zehn GmbH",
                    "zip": "01067",
                    "email": "info@zehn.de",
                    "archived": "0",
                    "debitor_account_number": "10010",
                    "note": "Zeile 1\r\nZeile 2",
                },
                {"id": "9", "client_number": "KD00009", "name": "Neun AG", "archived": "1", "zip": "80331"},
            ],
            "contacts": [
                {"id": "501", "client_id": "10", "name": "Bert", "zip": "00042"},
                {"id": "502", "client_id": "9", "name": "Anna"},
            ],
            "client_properties": [
                {"id": "7", "name": "Stammkunde", "type": "CHECKBOX"},
                {"id": "12", "name": "Branche", "type": "TEXTFIELD"},
            ],
            "client_property_values": [
                {"id": "1", "client_id": "10", "client_property_id": "7", "value": "1"},
                {"id": "2", "client_id": "10", "client_property_id": "12", "value": "00421"},
                {"id": "3", "client_id": "9", "client_property_id": "7", "value": "0"},
            ],
            "client_tags": [
                {"client_id": "10", "name": "A-Kunde"},
                {"client_id": "10", "name": "Nord, Süd"},  # holds the separator's comma
                {"client_id": "9", "name": "VIP"},
            ],
        }
    )


def sample_account() -> AccountFrames:
    account = load_seed(REPO / "sample_data")
    return AccountFrames.from_records({name: getattr(account, name) for name in RESOURCES})


def pulled(frames: AccountFrames, mapping: Mapping, target: Path) -> dict[str, pd.DataFrame]:
    """Pull-like: build the tables, write them, read them back."""
    write_workbook(build_tables(frames, mapping), target, mapping)
    return read_workbook(target, mapping)


def edited_xlsx(
    frames: AccountFrames, mapping: Mapping, path: Path, edits: dict[tuple[str, int, str], object]
) -> dict[str, pd.DataFrame]:
    """Pull to xlsx, set cells (sheet, row, header) → value with openpyxl, read back."""
    write_workbook(build_tables(frames, mapping), path, mapping)
    wb = openpyxl.load_workbook(path)
    for (sheet, row, header), value in edits.items():
        ws = wb[sheet]
        headers = [c.value for c in ws[1]]
        if header not in headers:
            ws.cell(row=1, column=len(headers) + 1, value=header)
            headers.append(header)
        ws.cell(row=row, column=headers.index(header) + 1).value = value  # cell(value=None) keeps the old
    wb.save(path)
    return read_workbook(path, mapping)


def edit_csv(file: Path, edits: dict[tuple[int, str], str]) -> None:
    """Set cells (sheet row, header) of a pulled CSV as a text editor would (values unescaped)."""
    with file.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))
    for (row, header), value in edits.items():
        rows[row - 1][rows[0].index(header)] = value
    with file.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh, delimiter=";", lineterminator="\r\n").writerows(rows)


def cells(desired: Desired) -> set[tuple[str, str, str, str]]:
    """Every value of the desired state as (resource, key, field, value)."""
    out: set[tuple[str, str, str, str]] = set()
    for resource, frame in (("clients", desired.clients), ("contacts", desired.contacts)):
        for record in frame.to_dict("records"):
            for name, value in record.items():
                if name not in ("_row", "_key", "client_key"):
                    out.add((resource, record["_key"], name, value))
    for record in desired.property_values.to_dict("records"):
        out.add(("property", record["client_key"], record["client_property_id"], record["value"]))
    for record in desired.tags.to_dict("records"):
        out.add(("tag", record["client_key"], record["name"], ""))
    return out


def current_cells(frames: AccountFrames, mapping: Mapping) -> set[tuple[str, str, str, str]]:
    """The same set built straight from Billomat's frames (writable mapped fields only)."""
    out: set[tuple[str, str, str, str]] = set()
    for resource in ("clients", "contacts"):
        sm = mapping.sheets[resource]
        frame = frames.frame(resource)
        fields = [c.field for c in sm.columns if not c.ignored_on_read]
        for record in frame.to_dict("records"):
            for name in fields:
                out.add((resource, record["id"], name, record.get(name, "")))
    values = {
        (v["client_id"], v["client_property_id"]): v["value"]
        for v in sorted(frames.client_property_values.to_dict("records"), key=lambda v: int(v["id"]))
    }
    for client in frames.clients["id"]:
        for pid in frames.client_properties["id"]:
            out.add(("property", client, pid, values.get((client, pid), "")))
    for tag in frames.client_tags.to_dict("records"):
        if tag["name"]:
            out.add(("tag", tag["client_id"], tag["name"], ""))
    return out


# ------------------------------------------------------------------------------------------
# shapes and values
# ------------------------------------------------------------------------------------------


def test_frames_of_a_small_account(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    desired = read_desired(pulled(frames, mapping, tmp_path / "k.xlsx"), mapping, frames)
    writable = [c.field for c in mapping.sheets["clients"].columns if not c.ignored_on_read]
    assert list(desired.clients.columns) == ["_row", "_key", *writable]
    assert "id" not in desired.clients.columns and "client_number" not in desired.clients.columns
    assert list(desired.clients["_row"]) == [2, 3] and desired.clients["_row"].dtype == "int64"
    assert list(desired.clients["_key"]) == ["9", "10"]
    assert list(desired.clients["zip"]) == ["80331", "01067"]
    assert list(desired.clients["archived"]) == ["1", "0"]

    contacts = desired.contacts
    assert list(contacts.columns[:3]) == ["_row", "_key", "client_key"]
    assert "client_number" not in contacts.columns  # a lookup column is never sent
    assert list(contacts["_key"]) == ["501", "502"]
    assert list(contacts["client_key"]) == list(contacts["client_id"]) == ["10", "9"]
    assert list(contacts["zip"]) == ["00042", ""]

    assert list(desired.property_values.columns) == ["_row", "client_key", "client_property_id", "value"]
    assert desired.property_values.to_dict("records") == [
        {"_row": 2, "client_key": "9", "client_property_id": "7", "value": "0"},
        {"_row": 2, "client_key": "9", "client_property_id": "12", "value": ""},
        {"_row": 3, "client_key": "10", "client_property_id": "7", "value": "1"},
        {"_row": 3, "client_key": "10", "client_property_id": "12", "value": "00421"},
    ]
    assert sorted(map(tuple, desired.tags[["client_key", "name"]].to_numpy().tolist())) == [
        ("10", "A-Kunde"),
        ("10", "Nord, Süd"),  # an unedited cell is exactly the current tags, separator or not
        ("9", "VIP"),
    ]
    assert desired.problems == [] and desired.warnings == []
    assert desired.source == str(tmp_path / "k.xlsx")
    assert desired.missing == {} and desired.deletes_blocked == {}
    for frame in (desired.clients, desired.contacts, desired.property_values, desired.tags):
        for name in frame.columns:
            if name != "_row":
                assert frame[name].dtype == object
                assert all(type(v) is str for v in frame[name])


@pytest.mark.parametrize("target", ["k.xlsx", "csv"])
def test_no_op_round_trip_of_the_sample_account(tmp_path: Path, mapping: Mapping, target: str) -> None:
    frames = sample_account()
    desired = read_desired(pulled(frames, mapping, tmp_path / target), mapping, frames)
    assert desired.problems == [] and desired.warnings == []
    assert cells(desired) == current_cells(frames, mapping)
    assert len(desired.clients) == 30 and len(desired.contacts) == 37


def test_an_empty_account_reads_as_nothing(tmp_path: Path, mapping: Mapping) -> None:
    frames = AccountFrames.from_records({})
    desired = read_desired(pulled(frames, mapping, tmp_path / "k.xlsx"), mapping, frames)
    assert desired.clients.empty and desired.contacts.empty
    assert list(desired.property_values.columns) == ["_row", "client_key", "client_property_id", "value"]
    assert list(desired.tags.columns) == ["_row", "client_key", "name"]


# ------------------------------------------------------------------------------------------
# what a spreadsheet does to values
# ------------------------------------------------------------------------------------------


def test_excel_numbers_for_text_fields_are_repaired(tmp_path: Path, mapping: Mapping) -> None:
    """A CSV opened and saved by Excel: zip, property and number field lose their zeros."""
    frames = small_account()
    folder = tmp_path / "csv"
    write_workbook(build_tables(frames, mapping), folder, mapping)
    text = (folder / "Kunden.csv").read_text(encoding="utf-8-sig")
    text = text.replace("01067", "1067").replace("00421", "421").replace("10010", "10010.0")
    (folder / "Kunden.csv").write_text(text, encoding="utf-8-sig")
    kontakte = (folder / "Kontakte.csv").read_text(encoding="utf-8-sig").replace("00042", "42")
    (folder / "Kontakte.csv").write_text(kontakte, encoding="utf-8-sig")
    desired = read_desired(read_workbook(folder, mapping), mapping, frames)
    assert desired.problems == [] and desired.warnings == []
    assert cells(desired) == current_cells(frames, mapping)


def test_typed_cells_become_canonical(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    edits = {
        ("Kunden", 2, "Archiviert"): "WAHR",  # client 9 is archived already: no change
        ("Kunden", 3, "Archiviert"): "x",  # client 10: archive
        ("Kunden", 3, "Debitorenkonto"): 20020.0,  # a number cell
        ("Kunden", 2, "Debitorenkonto"): "0,5",
        ("Kunden", 2, "Stammkunde"): "ja",
        ("Kunden", 3, "Stammkunde"): None,  # emptied box: unchecked
    }
    desired = read_desired(edited_xlsx(frames, mapping, tmp_path / "k.xlsx", edits), mapping, frames)
    assert desired.problems == []
    clients = desired.clients.set_index("_key")
    assert clients.loc["9", "archived"] == "1" and clients.loc["10", "archived"] == "1"
    assert clients.loc["10", "debitor_account_number"] == "20020"
    assert clients.loc["9", "debitor_account_number"] == "0.5"
    values = desired.property_values.set_index(["client_key", "client_property_id"])["value"]
    assert values[("9", "7")] == "1" and values[("10", "7")] == "0"


def test_emptied_bool_cell(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    edits = {("Kunden", 2, "Archiviert"): None, ("Kunden", 3, "Archiviert"): None}
    desired = read_desired(edited_xlsx(frames, mapping, tmp_path / "k.xlsx", edits), mapping, frames)
    # "x / empty": an emptied yes/no cell is "0" (client 9 is un-archived; client 10 stays "0").
    assert list(desired.clients["archived"]) == ["0", "0"]


def test_invalid_typed_values_are_row_problems(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    edits = {
        ("Kunden", 2, "Archiviert"): "vielleicht",
        ("Kunden", 3, "Debitorenkonto"): "zehn",
        ("Kunden", 3, "Stammkunde"): "jein",
    }
    desired = read_desired(edited_xlsx(frames, mapping, tmp_path / "k.xlsx", edits), mapping, frames)
    assert [(p.row, p.column) for p in desired.problems] == [(2, "Archiviert"), (3, "Debitorenkonto"), (3, "Stammkunde")]
    assert "'vielleicht' is not a yes/no value" in desired.problems[0].message
    assert "'zehn' is not a number" in desired.problems[1].message
    assert "use '1' or '0'" in desired.problems[2].message
    assert desired.clients.empty and desired.property_values.empty and desired.tags.empty
    assert desired.left_out == {"clients": frozenset({"9", "10"}), "contacts": frozenset()}
    assert desired.deletes_blocked == {}


def test_a_csv_folder_german_excel_resaved_is_no_change(tmp_path: Path, mapping: Mapping) -> None:
    """Exponent form, lost zeros, dd.mm.yyyy, decimal comma, WAHR: each is the current value."""
    frames = sample_account()
    folder = tmp_path / "csv"
    write_workbook(build_tables(frames, mapping), folder, mapping)
    before = (folder / "Kunden.csv").read_bytes()
    resave_csv_folder_as_german_excel(folder)
    assert "1,23457E+16" in (folder / "Kunden.csv").read_text(encoding="utf-8-sig") != before
    desired = read_desired(read_workbook(folder, mapping), mapping, frames)
    assert desired.problems == [] and desired.warnings == []
    assert cells(desired) == current_cells(frames, mapping)


def test_a_lossy_rendering_in_a_csv_is_a_row_problem_and_nothing_of_its_row_is_sent(
    tmp_path: Path, mapping: Mapping
) -> None:
    frames = small_account()
    folder = tmp_path / "csv"
    write_workbook(build_tables(frames, mapping), folder, mapping)
    # Client 10: a long account number typed, then shortened by Excel; its name edit must wait.
    # Client 9: its zip changed from 80331 (no zero to lose) to a zip Excel shortened: an edit.
    edit_csv(
        folder / "Kunden.csv",
        {(3, "Debitorenkonto"): "1,23457E+19", (3, "Firma"): "Zehn AG", (2, "PLZ"): "1069"},
    )
    edit_csv(folder / "Kontakte.csv", {(2, "PLZ"): "43"})  # contact 501 had "00042"
    resave_csv_folder_as_german_excel(folder)
    desired = read_desired(read_workbook(folder, mapping), mapping, frames)
    assert [(p.file, p.sheet, p.row, p.column) for p in desired.problems] == [
        (str(folder / "Kontakte.csv"), "Kontakte", 2, "PLZ"),
        (str(folder / "Kunden.csv"), "Kunden", 3, "Debitorenkonto"),
    ]
    assert "'00043'" in desired.problems[0].message and "'00042'" in desired.problems[0].message
    assert "shortened" in desired.problems[1].message and "'10010'" in desired.problems[1].message
    assert list(desired.clients["_key"]) == ["9"] and list(desired.clients["zip"]) == ["1069"]
    assert list(desired.contacts["_key"]) == ["502"]
    assert desired.left_out == {"clients": frozenset({"10"}), "contacts": frozenset({"501"})}


def small_account_with(
    values: dict[tuple[str, str, str], str], property_values: tuple[dict[str, str], ...] = ()
) -> AccountFrames:
    """small_account with (resource, id, field) → value set, and property values added."""
    frames = small_account()
    records = {name: frames.frame(name).fillna("").to_dict("records") for name in RESOURCES}
    for (resource, ident, name), value in values.items():
        next(r for r in records[resource] if r["id"] == ident)[name] = value
    records["client_property_values"] += list(property_values)
    return AccountFrames.from_records(records)


def whitespace_account() -> AccountFrames:
    """small_account with whitespace-only values: a note, a contact's street, a property value."""
    return small_account_with(
        {("clients", "9", "note"): "   ", ("contacts", "502", "street"): "\n"},
        ({"id": "4", "client_id": "9", "client_property_id": "12", "value": " \n "},),
    )


def test_whitespace_only_values_blanked_by_an_openpyxl_resave_are_no_change(
    tmp_path: Path, mapping: Mapping
) -> None:
    frames = whitespace_account()
    book = tmp_path / "k.xlsx"
    write_workbook(build_tables(frames, mapping), book, mapping)
    resave_with_openpyxl(book)
    tables = read_workbook(book, mapping)
    assert tables["Kunden"].loc[2, "Notiz"] == ""  # the re-save blanked it (what the reader sees)
    desired = read_desired(tables, mapping, frames)
    assert desired.problems == [] and desired.warnings == []
    assert cells(desired) == current_cells(frames, mapping)
    # A value with more than whitespace that is emptied stays an edit.
    edited = read_desired(
        edited_xlsx(frames, mapping, tmp_path / "e.xlsx", {("Kunden", 3, "Notiz"): None}), mapping, frames
    )
    assert list(edited.clients["note"]) == ["   ", ""]


LONG = "x" * 40_000


@pytest.mark.parametrize("target", ["k.xlsx", "csv"])
@pytest.mark.parametrize(
    ("sheet", "header"),
    [("Kunden", "Notiz"), ("Kunden", "Debitorenkonto"), ("Kunden", "Branche"), ("Kunden", "Schlagwörter"),
     ("Kontakte", "Nachname"), ("Kontakte", "Kunden-ID")],
)  # fmt: skip
def test_a_cell_longer_than_excel_holds_is_a_row_problem(
    tmp_path: Path, mapping: Mapping, target: str, sheet: str, header: str
) -> None:
    frames = small_account()
    path = tmp_path / target
    edits = {(sheet, 3, header): LONG, ("Kunden", 2, "Ort"): "Köln", ("Kontakte", 2, "Vorname"): "Berta"}
    if target == "csv":
        write_workbook(build_tables(frames, mapping), path, mapping)
        for name in ("Kunden", "Kontakte"):
            edit_csv(path / f"{name}.csv", {(r, h): v for (s, r, h), v in edits.items() if s == name})
        tables = read_workbook(path, mapping)
    else:
        edited_xlsx(frames, mapping, path, {**edits, (sheet, 3, header): "LANGER-TEXT"})
        replace_in_xlsx(path, "LANGER-TEXT", LONG)  # openpyxl itself would cut it at 32,767
        tables = read_workbook(path, mapping)
    assert (tables[sheet][header] == LONG).sum() == 1
    desired = read_desired(tables, mapping, frames)
    assert [(p.sheet, p.row, p.column) for p in desired.problems] == [(sheet, 3, header)]
    message = desired.problems[0].message
    assert "40,000 characters" in message and f"{EXCEL_MAX_CHARS:,}" in message and len(message) < 300
    if sheet == "Kunden":  # client 10 is left out; client 9's edit goes through
        assert list(desired.clients["_key"]) == ["9"] and list(desired.clients["city"]) == ["Köln"]
        assert set(desired.property_values["client_key"]) == {"9"}
    else:  # contact 502 (row 3) is left out; 501's edit goes through
        assert list(desired.contacts["_key"]) == ["501"] and list(desired.contacts["first_name"]) == ["Berta"]
    assert LONG not in cells(desired) and all(LONG not in str(p) for p in desired.problems)


def test_a_value_that_long_which_billomat_holds_is_no_change(tmp_path: Path, mapping: Mapping) -> None:
    """A CSV pulled from an account with a 40,000-character note: unedited, so nothing to refuse."""
    frames = small_account_with({("clients", "10", "note"): LONG})
    desired = read_desired(pulled(frames, mapping, tmp_path / "csv"), mapping, frames)
    assert desired.problems == [] and desired.warnings == []
    assert list(desired.clients["note"]) == ["", LONG]


def test_date_fields(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8").replace(
        "      - {field: archived,",
        "      - {field: sepa_mandate_date, header: Mandatsdatum, type: date}\n      - {field: archived,",
    )
    mapping = mapping_from_text(text)
    frames = AccountFrames.from_records(
        {"clients": [{"id": "1", "name": "A", "sepa_mandate_date": "2024-02-01"}, {"id": "2", "name": "B"}]}
    )
    edits = {("Kunden", 2, "Mandatsdatum"): "01.02.2024", ("Kunden", 3, "Mandatsdatum"): "15.3.2024"}
    desired = read_desired(edited_xlsx(frames, mapping, tmp_path / "k.xlsx", edits), mapping, frames)
    assert list(desired.clients["sepa_mandate_date"]) == ["2024-02-01", "2024-03-15"]
    bad = read_desired(
        edited_xlsx(frames, mapping, tmp_path / "b.xlsx", {("Kunden", 3, "Mandatsdatum"): "nächste Woche"}),
        mapping,
        frames,
    )
    assert [(p.row, p.column) for p in bad.problems] == [(3, "Mandatsdatum")]


# ------------------------------------------------------------------------------------------
# read-only columns, missing columns, keys
# ------------------------------------------------------------------------------------------


def test_read_only_edits_are_warnings(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    edits = {
        ("Kunden", 3, "Kundennummer"): "KD99999",
        ("Kunden", 2, "Kundennummer"): " KD00009 ",  # only blanks: normalised equal, no warning
        ("Kontakte", 2, "Kundennummer"): "KD12345",
        ("Kunden", 3, "Firma"): "Zehn GmbH & Co. KG",
    }
    book = tmp_path / "k.xlsx"
    desired = read_desired(edited_xlsx(frames, mapping, book, edits), mapping, frames)
    assert desired.problems == []
    assert [str(w).removeprefix(f"{book}, ") for w in desired.warnings] == [
        # Issue 11 (5): the record is named (contact id and person, its client as the row shows it).
        "sheet 'Kontakte', row 2, column 'Kundennummer' (501 Bert, Kunde 10 KD12345): Kundennummer is read-only;"
        " the edit is ignored"
        " (Billomat has 'KD00010')",
        "sheet 'Kunden', row 3, column 'Kundennummer' (10 KD99999 Zehn GmbH & Co. KG): Kundennummer is"
        " read-only; the edit is ignored (Billomat has 'KD00010')",
    ]
    assert all(w.level == "warning" for w in desired.warnings)
    assert desired.clients.set_index("_key").loc["10", "name"] == "Zehn GmbH & Co. KG"


def test_moving_a_contact_keeps_its_lookup_quiet(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    edits = {("Kontakte", 2, "Kunden-ID"): "9", ("Kontakte", 2, "Kundennummer"): "KD00009"}
    desired = read_desired(edited_xlsx(frames, mapping, tmp_path / "k.xlsx", edits), mapping, frames)
    assert desired.warnings == [] and desired.problems == []
    assert desired.contacts.set_index("_key").loc["501", "client_key"] == "9"


def test_missing_columns_leave_billomat_alone(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    tables = build_tables(frames, mapping)
    tables["Kunden"] = tables["Kunden"].drop(columns=["Fax", "Stammkunde", "Schlagwörter", "Kundennummer"])
    tables["Kontakte"] = tables["Kontakte"].drop(columns=["E-Mail"])
    write_workbook(tables, tmp_path / "k.xlsx", mapping)
    desired = read_desired(read_workbook(tmp_path / "k.xlsx", mapping), mapping, frames)
    assert "fax" not in desired.clients.columns and "email" not in desired.contacts.columns
    assert desired.missing == {
        "clients": ("fax",),
        "client_property_values": ("7",),
        "client_tags": ("name",),
        "contacts": ("email",),
    }
    assert set(desired.property_values["client_property_id"]) == {"12"}
    assert desired.tags.empty and desired.has_tags is False
    assert {(w.sheet, w.row, w.column) for w in desired.warnings} == {
        ("Kunden", None, "Fax"),
        ("Kunden", None, "Stammkunde"),
        ("Kunden", None, "Schlagwörter"),
        ("Kontakte", None, "E-Mail"),
    }  # a missing read-only column (Kundennummer) is no loss


def test_added_columns_and_sheets_are_ignored(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    edits = {("Kunden", 2, "Umsatz 2024"): 1234.5, ("Kunden", 5, "Umsatz 2024"): "=SUMME(Z2:Z3)"}
    path = tmp_path / "k.xlsx"
    tables = edited_xlsx(frames, mapping, path, edits)
    wb = openpyxl.load_workbook(path)
    wb.create_sheet("Notizen").append(["egal", "=1+1"])
    wb.save(path)
    desired = read_desired(read_workbook(path, mapping), mapping, frames)
    assert desired.problems == [] and desired.warnings == []
    assert len(desired.clients) == 2  # the sum in row 5 (own column only) is not a new client
    assert "Umsatz 2024" in tables["Kunden"].columns


def test_new_rows_blank_and_neu_keys(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    edits = {
        ("Kunden", 4, "Firma"): "Neu ohne Schlüssel",
        ("Kunden", 5, "Billomat-ID"): "neu-1",
        ("Kunden", 5, "Firma"): "Neu mit Schlüssel",
        ("Kunden", 5, "Schlagwörter"): "B, A ,, B",
        ("Kunden", 5, "Stammkunde"): "1",
        ("Kunden", 6, "Billomat-ID"): " New-Zwei ",
        ("Kunden", 6, "Firma"): "Zweiter",
        ("Kontakte", 4, "Kunden-ID"): "NEU-1",  # keys match case-insensitively
        ("Kontakte", 4, "Vorname"): "Nina",
        ("Kontakte", 5, "Kontakt-ID"): "neu-x",  # a contact needs no reference key
        ("Kontakte", 5, "Kunden-ID"): 10,  # a number cell
        ("Kontakte", 5, "Vorname"): "Otto",
    }
    desired = read_desired(edited_xlsx(frames, mapping, tmp_path / "k.xlsx", edits), mapping, frames)
    assert desired.problems == [] and desired.warnings == []
    clients = desired.clients.set_index("_row")
    assert clients.loc[4, "_key"] == "row:4" and clients.loc[4, "name"] == "Neu ohne Schlüssel"
    assert clients.loc[5, "_key"] == "neu-1"
    assert clients.loc[6, "_key"] == "New-Zwei"
    contacts = desired.contacts.set_index("_row")
    assert contacts.loc[4, ["_key", "client_key", "first_name"]].tolist() == ["row:4", "neu-1", "Nina"]
    assert contacts.loc[5, ["_key", "client_key"]].tolist() == ["row:5", "10"]
    tags = desired.tags[desired.tags["client_key"] == "neu-1"]
    assert list(tags["name"]) == ["B", "A"]  # split, stripped, empties dropped, de-duplicated
    values = desired.property_values
    assert values[values["client_key"] == "neu-1"].set_index("client_property_id")["value"].to_dict() == {
        "7": "1",
        "12": "",
    }


def test_key_problems_leave_rows_out_and_block_deletes(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    edits = {
        ("Kunden", 4, "Billomat-ID"): "1O",  # letter O
        ("Kunden", 4, "Firma"): "Tippfehler",
        ("Kunden", 5, "Billomat-ID"): 4711,
        ("Kunden", 5, "Firma"): "Gelöscht?",
        ("Kontakte", 4, "Kunden-ID"): "neu-9",
        ("Kontakte", 4, "Vorname"): "Waise",
        ("Kontakte", 5, "Kunden-ID"): None,
        ("Kontakte", 5, "Vorname"): "Ohne Kunde",
        ("Kontakte", 6, "Kunden-ID"): "4711",
        ("Kontakte", 6, "Vorname"): "Unbekannt",
    }
    desired = read_desired(edited_xlsx(frames, mapping, tmp_path / "k.xlsx", edits), mapping, frames)
    found = [(p.sheet, p.row, p.column) for p in desired.problems]
    assert found == [
        ("Kontakte", 4, "Kunden-ID"),
        ("Kontakte", 5, "Kunden-ID"),
        ("Kontakte", 6, "Kunden-ID"),
        ("Kunden", 4, "Billomat-ID"),
        ("Kunden", 5, "Billomat-ID"),
    ]
    messages = [p.message for p in desired.problems]
    assert "'neu-9' is not the neu-… key of any row in sheet 'Kunden'" in messages[0]
    assert "Kunden-ID is empty" in messages[1]
    assert "'4711' is neither a client id Billomat knows" in messages[2]
    assert messages[3].startswith("malformed key '1O'")
    assert messages[4] == "Billomat-ID 4711 is unknown to Billomat (deleted there, or a typo?)"
    assert list(desired.clients["_key"]) == ["9", "10"] and list(desired.contacts["_key"]) == ["501", "502"]
    assert set(desired.deletes_blocked) == {"clients"}
    assert "row 4" in desired.deletes_blocked["clients"]
    assert desired.excluded_keys == frozenset({"4711"})  # the malformed key names no record


def test_contact_of_a_new_client_with_a_problem(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    edits = {
        ("Kunden", 4, "Billomat-ID"): "neu-1",
        ("Kunden", 4, "E-Mail"): "kein-at-zeichen.de",
        ("Kontakte", 4, "Kunden-ID"): "neu-1",
        ("Kontakte", 4, "Vorname"): "Nina",
    }
    book = tmp_path / "k.xlsx"
    desired = read_desired(edited_xlsx(frames, mapping, book, edits), mapping, frames)
    assert [str(p).removeprefix(f"{book}, ") for p in desired.problems] == [
        "sheet 'Kontakte', row 4, column 'Kunden-ID' (Nina, Kunde neu-1): its new client 'neu-1' (sheet 'Kunden'"
        " row 4) has a"
        " problem and is left out",
        "sheet 'Kunden', row 4, column 'E-Mail' (neu-1): 'kein-at-zeichen.de' is not a valid email address",
    ]


def test_a_new_row_with_billomat_values_looks_like_a_deleted_id(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    edits = {("Kunden", 3, "Billomat-ID"): None}  # row 3 keeps Kundennummer KD00010
    desired = read_desired(edited_xlsx(frames, mapping, tmp_path / "k.xlsx", edits), mapping, frames)
    assert [(p.row, p.column) for p in desired.problems] == [(3, "Billomat-ID")]
    assert "no Billomat-ID but a Kundennummer ('KD00010')" in desired.problems[0].message
    assert list(desired.clients["_key"]) == ["9"]


def test_leading_zeros_of_an_id_are_dropped(tmp_path: Path, mapping: Mapping) -> None:
    frames = small_account()
    desired = read_desired(
        edited_xlsx(frames, mapping, tmp_path / "k.xlsx", {("Kunden", 3, "Billomat-ID"): "0010"}), mapping, frames
    )
    assert desired.problems == [] and list(desired.clients["_key"]) == ["9", "10"]


def test_row_problem_text() -> None:
    problem = RowProblem("Kunden", 7, "E-Mail", "'x' is not a valid email address")
    assert str(problem) == "sheet 'Kunden', row 7, column 'E-Mail': 'x' is not a valid email address"
    assert str(RowProblem("Kunden", None, None, "m", "warning")) == "sheet 'Kunden': m"


def test_row_problem_names_the_file_it_was_read_from(tmp_path: Path, mapping: Mapping) -> None:
    """A problem names the workbook (the sheet's own file for a CSV folder) before sheet, row, column."""
    frames = small_account()
    folder = tmp_path / "csv"
    write_workbook(build_tables(frames, mapping), folder, mapping)
    edit_csv(folder / "Kunden.csv", {(3, "E-Mail"): "kein-at-zeichen.de"})
    desired = read_desired(read_workbook(folder, mapping), mapping, frames)
    assert [str(p) for p in desired.problems] == [
        f"{folder / 'Kunden.csv'}, sheet 'Kunden', row 3, column 'E-Mail' (10 KD00010 Zehn GmbH):"
        " 'kein-at-zeichen.de' is not a"
        " valid email address"
    ]
    assert str(RowProblem("Kunden", 7, None, "m", "error", "k.xlsx")) == "k.xlsx, sheet 'Kunden', row 7: m"
