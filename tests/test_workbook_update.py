"""The workbook side of the nightly sync: merge results go into the accountants' workbook, nothing of theirs changes."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

from sync.desired import REMOVED_KEY, read_desired
from sync.diff import diff_account
from sync.frames import AccountFrames
from sync.konflikte import KONFLIKTE_HEADERS
from sync.mapping import Mapping
from sync.merge import (
    REMOVAL_COLUMNS,
    UPDATE_COLUMNS,
    Conflict,
    WorkbookChanges,
    merge_account,
    reading_frames,
)
from sync.sheet import build_tables, read_workbook, write_workbook
from sync.workbook.owned import KONFLIKTE, NO_CONFLICTS
from sync.workbook.planner import removed_marker
from sync.workbook.save import backup_path
from sync.workbook.scan import xlsx_grids as _xlsx_grids
from sync.workbook.update import apply_workbook_changes

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
YELLOW = "FFFFFF00"
PROPS = [
    {"id": "11", "name": "Branche", "type": "TEXTFIELD", "default_value": "", "is_nvl": "0"},
    {"id": "12", "name": "Stammkunde", "type": "CHECKBOX", "default_value": "0", "is_nvl": "0"},
]
# Values that break naive writers: leading zeros, formulas, CR LF, whitespace only, escapes, umlauts.
HOSTILE = [
    "00042",
    "=SUMME(A1:A3)",
    "Zeile 1\r\nZeile 2",
    " ",
    "  ",
    "_x000D_",
    "Weißenburger Straße",
    "+49 30 1",
    "'quoted",
    "@home",
    "-5",
    "\tTab",
]


def account(n: int = 8) -> AccountFrames:
    clients = [
        {
            "id": str(1001 + i),
            "client_number": f"KD{1001 + i:05d}",
            "name": f"Firma {i} Müller & Söhne",
            "zip": "01067",
            "city": "Köln",
            "note": "Zeile 1\nZeile 2" if i % 2 else "",
            "archived": "0",
        }
        for i in range(n)
    ]
    contacts = [
        {"id": str(5001 + i), "client_id": str(1001 + i), "first_name": f"Anna {i}", "last_name": "Groß"}
        for i in range(n)
    ]
    values = [
        {"id": str(7001 + i), "client_id": str(1001 + i), "client_property_id": "11", "value": "Bau"}
        for i in range(n)
    ]
    tags = [{"client_id": str(1001 + i), "name": "VIP"} for i in range(0, n, 2)]
    return AccountFrames.from_records(
        {
            "clients": clients,
            "contacts": contacts,
            "client_properties": PROPS,
            "client_property_values": values,
            "client_tags": tags,
        }
    )


def new_records(mapping: Mapping, clients: list[dict[str, str]], contacts: list[dict[str, str]] = ()) -> dict:
    """Rows as the merge appends them: build_tables of the new records."""
    frames = AccountFrames.from_records(
        {"clients": clients, "contacts": list(contacts), "client_properties": PROPS}
    )
    tables = build_tables(frames, mapping)
    out = {}
    if clients:
        out["Kunden"] = tables["Kunden"]
    if contacts:
        out["Kontakte"] = tables["Kontakte"][
            tables["Kontakte"]["Kontakt-ID"].isin([c["id"] for c in contacts])
        ]
        out["Kontakte"] = out["Kontakte"].reset_index(drop=True)
    return out


def changes(
    updates: list[tuple[Any, ...]] = (),
    appends: dict[str, pd.DataFrame] | None = None,
    removals: list[tuple[Any, ...]] = (),
) -> WorkbookChanges:
    up = (
        pd.DataFrame(list(updates), columns=list(UPDATE_COLUMNS))
        if updates
        else pd.DataFrame(columns=list(UPDATE_COLUMNS))
    )
    rm = (
        pd.DataFrame(list(removals), columns=list(REMOVAL_COLUMNS))
        if removals
        else pd.DataFrame(columns=list(REMOVAL_COLUMNS))
    )
    return WorkbookChanges(up, appends or {}, rm)


def update(tables: dict[str, pd.DataFrame], sheet: str, row: int, header: str, new: str) -> tuple[Any, ...]:
    """An update of one cell, `old` read from the workbook as it is now (as the merge would)."""
    table = tables[sheet]
    key = table.at[row, table.columns[0]]
    resource = "clients" if sheet == "Kunden" else "contacts"
    fld = {"Branche": "11", "Stammkunde": "12", "Schlüssel": "tags"}.get(header, header)
    if header in ("Branche", "Stammkunde"):
        resource = "client_property_values"
    if header == "Schlagwörter":
        resource, fld = "client_tags", "tags"
    return (resource, sheet, row, key, header, fld, table.at[row, header], new)


def accountant_edits(path: Path) -> None:
    """What accountants do in Excel: a fill, an extra formula column, a note column, a sheet, a comment,
    a width, a filter."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    ws["D2"].fill = PatternFill("solid", fgColor=YELLOW)
    intern = ws.max_column + 1
    ws.cell(1, intern, "Intern")
    for row in range(2, ws.max_row + 1):
        ws.cell(row, intern, f"=LEN(D{row})")
    ws.cell(1, intern + 1, "Bemerkung")
    for row in range(2, ws.max_row + 1):
        ws.cell(row, intern + 1, f"geprüft {row}")
    ws["E3"].comment = Comment("Bitte prüfen", "Buchhaltung")
    ws.column_dimensions["D"].width = 33
    ws.auto_filter.ref = f"A1:{ws.cell(1, intern + 1).column_letter}{ws.max_row}"
    notes = wb.create_sheet("Notizen")
    notes["A1"] = "Offene Punkte"
    notes["A2"] = "=Kunden!D2"
    wb["Kontakte"].column_dimensions["B"].width = 21
    wb.save(path)


def assert_edits_survive(path: Path, last_row: int) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    assert ws["D2"].fill.fgColor.rgb == YELLOW
    header = [c.value for c in ws[1]]
    intern = header.index("Intern") + 1
    for row in range(2, 10):  # the pulled rows (appended rows leave the accountants' columns empty)
        cell = ws.cell(row, intern)
        assert cell.data_type == "f" and cell.value == f"=LEN(D{row})"
        assert ws.cell(row, intern + 1).value == f"geprüft {row}"
    assert ws["E3"].comment is not None and ws["E3"].comment.text == "Bitte prüfen"
    assert ws.column_dimensions["D"].width == 33
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, intern + 1).column_letter}{last_row}"
    assert ws.freeze_panes == "A2"
    assert wb["Notizen"]["A2"].value == "=Kunden!D2"
    assert wb["Kontakte"].column_dimensions["B"].width == 21
    assert wb.sheetnames[:3] == ["Kunden", "Kontakte", "Notizen"]
    wb.close()


def expect(tables: dict[str, pd.DataFrame], ups: list[tuple[Any, ...]]) -> dict[str, pd.DataFrame]:
    out = {name: table.copy() for name, table in tables.items()}
    for _, sheet, row, _, header, _, _, new in ups:
        out[sheet].at[row, header] = new
    return out


def assert_same(expected: dict[str, pd.DataFrame], got: dict[str, pd.DataFrame]) -> None:
    for name, table in expected.items():
        back = got[name]
        assert list(back.index) == list(table.index), name
        for column in table.columns:
            for row in table.index:
                assert back.at[row, column] == table.at[row, column], (name, row, column)


def konflikte(path: Path) -> list[list[str]]:
    if path.is_dir():
        text = (path / f"{KONFLIKTE}.csv").read_bytes().decode("utf-8-sig")
        return [
            [v[1:] if v[:1] == "'" else v for v in r]
            for r in csv.reader(io.StringIO(text, newline=""), delimiter=";")
        ]
    return _xlsx_grids(path, [KONFLIKTE])[KONFLIKTE]


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


CONFLICTS_1 = [
    Conflict(
        "clients", "1001", "Kunden", 2, "city", "Ort", "Köln", "=Bonn", "Zeile 1\r\nZeile 2", "both_changed"
    ),
    Conflict(
        "clients",
        "1005",
        "Kunden",
        6,
        "",
        "",
        "KD01005 Firma 4",
        None,
        "KD01005 Firma 4",
        "edited_vs_deleted_in_billomat",
    ),
]
CONFLICTS_2 = [
    Conflict("client_property_values", "1002", "Kunden", 3, "11", "Branche", "Bau", "00042", " ", "both_changed"),
    Conflict("clients", "1001", "Kunden", 2, "city", "Ort", "Köln", "=Bonn", "Zeile 1\r\nZeile 2", "both_changed",
             resolved_by="billomat"),
]  # fmt: skip


# ------------------------------------------------------------------------------------------------
# xlsx
# ------------------------------------------------------------------------------------------------


def test_three_syncs_apply_exactly_their_changes_and_keep_every_accountant_edit(
    tmp_path: Path, mapping: Mapping
) -> None:
    frames = account()
    path = tmp_path / "Kunden.xlsx"
    write_workbook(build_tables(frames, mapping), path, mapping)
    accountant_edits(path)
    props = frames.client_properties

    # --- sync 1: hostile values into cells, a client and a contact appended, a client removed (cleared)
    before = read_workbook(path, mapping)
    ups = [update(before, "Kunden", 2 + i, header, value) for i, (header, value) in enumerate(
        [("Firma", "=SUMME(A1:A3)"), ("PLZ", "00042"), ("Notiz", "Zeile 1\r\nZeile 2"), ("Ort", " "),
         ("Straße", "Weißenburger Straße"), ("Telefon", "+49 30 1")]
    )]  # fmt: skip
    ups.append(update(before, "Kontakte", 2, "Vorname", "_x000D_"))
    appends = new_records(
        mapping,
        [{"id": "1101", "client_number": "KD01101", "name": "-Neu GmbH", "zip": "00042", "note": "a\r\nb"}],
        [{"id": "5101", "client_id": "1001", "first_name": "@home", "last_name": "  "}],
    )
    removals = [("clients", "Kunden", 9, "1008", "KD01008 Firma 7", "")]
    previous = path.read_bytes()
    report = apply_workbook_changes(
        path, mapping, changes(ups, appends, removals), CONFLICTS_1, client_properties=props
    )
    assert report.problems == [] and report.written
    assert (report.updated, report.appended, report.removed, report.conflicts) == (7, 2, 1, 2)
    assert backup_path(path).read_bytes() == previous
    after = read_workbook(path, mapping)
    want = expect(before, ups)
    # Row 9 was cleared: only the accountants' note is left, so it reads as a row without synced values.
    row9 = after["Kunden"].loc[9]
    assert row9["Bemerkung"] == "geprüft 9" and (row9.drop(["Bemerkung", "Intern"]) == "").all()
    want["Kunden"].loc[9, [c for c in want["Kunden"].columns if c not in ("Bemerkung", "Intern")]] = ""
    assert_same({n: t.loc[t.index] for n, t in want.items()}, {n: after[n].loc[want[n].index] for n in want})
    new_row = after["Kunden"].loc[10]
    assert (new_row["Billomat-ID"], new_row["Firma"], new_row["PLZ"], new_row["Notiz"]) == (
        "1101",
        "-Neu GmbH",
        "00042",
        "a\r\nb",
    )
    assert new_row["Intern"] == "" and new_row["Bemerkung"] == ""
    contact = after["Kontakte"].loc[10]
    assert (contact["Kontakt-ID"], contact["Vorname"], contact["Nachname"]) == ("5101", "@home", "  ")
    assert_edits_survive(path, 10)
    ws = openpyxl.load_workbook(path)["Kunden"]
    assert ws["D2"].quotePrefix and ws["D2"].value == "=SUMME(A1:A3)" and ws["D2"].data_type == "s"
    assert ws["D2"].fill.fgColor.rgb == YELLOW  # the cell keeps its own style, quote prefix added
    assert ws["D10"].quotePrefix and ws["D10"].number_format == "@"  # "-Neu GmbH", styled like the row above
    assert ws["A10"].fill.fgColor.rgb.endswith("F2F2F2")  # read-only grey carries on
    assert ws["A9"].value is None and ws["A9"].fill.fgColor.rgb.endswith("F2F2F2")  # cleared, style kept
    rows = konflikte(path)
    assert rows[0] == list(KONFLIKTE_HEADERS)
    # Issue 11 (6): a Datensatz column names the record, a whole-record conflict says "Datensatz".
    assert rows[1][:11] == ["Kunden", "2", "1001", "1001", "Ort", "Köln", "=Bonn", "Zeile 1\r\nZeile 2",
                            "in beiden geändert", "", "offen"]  # fmt: skip
    assert rows[2][6] == "(nicht vorhanden)" and rows[2][4] == "Datensatz"
    # The cleared row is skipped by read_desired: no client, no problem (its note column is no data).
    current = AccountFrames(
        frames.clients[frames.clients["id"] != "1008"], frames.contacts, props,
        frames.client_property_values, frames.client_tags,
    )  # fmt: skip
    desired = read_desired(after, mapping, current)
    assert 9 not in set(desired.clients["_row"]) and not [p for p in desired.problems if p.row == 9]

    # --- sync 2: tags, a checkbox property, a cell of the appended row, another append; mark a contact
    before = after
    ups = [
        update(before, "Kunden", 2, "Schlagwörter", "A-Kunde, VIP"),
        update(before, "Kunden", 3, "Stammkunde", "1"),
        update(before, "Kunden", 10, "Ort", "Zeile 1\r\nZeile 2"),
        update(before, "Kunden", 4, "Branche", "00042"),
    ]
    appends = new_records(mapping, [{"id": "1102", "name": "Über Öl AG", "city": "'quoted"}])
    removals = [("contacts", "Kontakte", 3, "5002", "Anna 1 Groß", "")]
    previous = path.read_bytes()
    report = apply_workbook_changes(
        path, mapping, changes(ups, appends, removals), CONFLICTS_2, removal="mark", client_properties=props
    )
    assert report.problems == [] and (report.updated, report.appended, report.removed) == (4, 1, 1)
    assert backup_path(path).read_bytes() == previous
    after = read_workbook(path, mapping)
    want = expect(before, ups)
    want["Kontakte"].at[3, "Kontakt-ID"] = removed_marker("5002")
    assert_same(want, {n: after[n].loc[want[n].index] for n in want})
    assert after["Kunden"].at[11, "Firma"] == "Über Öl AG" and after["Kunden"].at[11, "Ort"] == "'quoted"
    assert REMOVED_KEY.match(after["Kontakte"].at[3, "Kontakt-ID"])
    assert_edits_survive(path, 11)
    rows = konflikte(path)
    assert len(rows) == 3 and rows[1][4:11] == [
        "Branche",
        "Bau",
        "00042",
        " ",
        "in beiden geändert",
        "",
        "offen",
    ]
    assert rows[2][10] == "entschieden: Billomat"

    # --- sync 3: a contact row waits for its client's delete, then goes; no conflicts left
    before = after
    ups = [update(before, "Kunden", 5, "E-Mail", "müller@example.de")]
    removals = [("contacts", "Kontakte", 4, "5003", "Anna 2 Groß", "1003")]
    report = apply_workbook_changes(path, mapping, changes(ups, None, removals), [], client_properties=props)
    assert report.problems == [] and (report.updated, report.removed, report.deferred) == (1, 0, 1)
    assert report.unwritten is not None and list(report.unwritten.removals["key"]) == ["5003"]
    assert read_workbook(path, mapping)["Kontakte"].at[4, "Kontakt-ID"] == "5003"
    previous = path.read_bytes()
    report = apply_workbook_changes(
        path, mapping, changes(ups, None, removals), [], deleted_ids={"1003"}, client_properties=props
    )
    assert report.problems == [] and (report.updated, report.unchanged, report.removed) == (0, 1, 1)
    assert backup_path(path).read_bytes() == previous
    after = read_workbook(path, mapping)
    assert 4 not in after["Kontakte"].index  # the row had no accountant values: it reads as empty
    assert after["Kunden"].at[5, "E-Mail"] == "müller@example.de"
    assert_edits_survive(path, 11)
    assert konflikte(path)[1][0] == NO_CONFLICTS and len(konflikte(path)) == 2

    # A repeat finds everything in place and does not even rewrite the file.
    mtime, data = path.stat().st_mtime_ns, path.read_bytes()
    again = apply_workbook_changes(
        path, mapping, changes(ups, None, removals), [], deleted_ids={"1003"}, client_properties=props
    )
    assert (again.written, again.updated, again.removed, again.problems) == (False, 0, 0, [])
    assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Kunden.bak.xlsx", "Kunden.xlsx"]


def test_only_the_changed_parts_of_the_package_differ(tmp_path: Path, mapping: Mapping) -> None:
    frames = account(3)
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(frames, mapping), path, mapping)
    accountant_edits(path)
    original = members(path)
    tables = read_workbook(path, mapping)
    report = apply_workbook_changes(path, mapping, changes([update(tables, "Kunden", 2, "Ort", "Bonn")]))
    assert report.updated == 1 and report.written
    after = members(path)
    changed = {name for name in original if original[name] != after[name]}
    # Kunden's XML (and workbook.xml where it lacked fullCalcOnLoad: the =LEN() formulas recalculate).
    assert "xl/worksheets/sheet1.xml" in changed <= {"xl/worksheets/sheet1.xml", "xl/workbook.xml"}
    assert b'fullCalcOnLoad="1"' in after["xl/workbook.xml"]
    assert after.keys() == original.keys()


def test_a_cell_edited_meanwhile_or_holding_a_formula_is_left_and_reported(
    tmp_path: Path, mapping: Mapping
) -> None:
    frames = account(3)
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(frames, mapping), path, mapping)
    wb = openpyxl.load_workbook(path)
    wb["Kunden"]["J2"] = "Bonn"  # Ort typed over after the merge read "Köln"
    wb["Kunden"]["I3"] = '="01067"'  # a formula in PLZ
    wb["Kunden"]["I4"] = 1067  # Excel turned the zip into a number: still "01067"
    wb.save(path)
    tables = read_workbook(path, mapping)
    ups = [
        ("clients", "Kunden", 2, "1001", "Ort", "city", "Köln", "Leipzig"),
        ("clients", "Kunden", 3, "1002", "PLZ", "zip", "01067", "04109"),
        ("clients", "Kunden", 4, "1003", "PLZ", "zip", "01067", "04109"),
    ]
    report = apply_workbook_changes(path, mapping, changes(ups))
    assert report.updated == 1 and len(report.problems) == 2
    assert "row 2, column 'Ort': the cell says 'Bonn', expected 'Köln'" in report.problems[0]
    assert "row 3, column 'PLZ': holds a formula" in report.problems[1]
    assert report.unwritten is not None and list(report.unwritten.updates["row"]) == [2, 3]
    after = read_workbook(path, mapping)
    assert after["Kunden"].at[2, "Ort"] == "Bonn" and after["Kunden"].at[4, "PLZ"] == "04109"
    assert tables["Kunden"].at[3, "PLZ"] == after["Kunden"].at[3, "PLZ"]


def test_a_removal_of_a_moved_row_is_refused(tmp_path: Path, mapping: Mapping) -> None:
    frames = account(3)
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(frames, mapping), path, mapping)
    data = path.read_bytes()
    report = apply_workbook_changes(
        path, mapping, changes(removals=[("clients", "Kunden", 2, "1002", "x", "")])
    )
    assert report.removed == 0 and "Billomat-ID says '1001', expected 1002" in report.problems[0]
    assert path.read_bytes() == data and not report.written


def test_a_marked_row_is_skipped_by_read_desired(tmp_path: Path, mapping: Mapping) -> None:
    frames = account(3)
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(frames, mapping), path, mapping)
    apply_workbook_changes(
        path, mapping, changes(removals=[("clients", "Kunden", 3, "1002", "x", "")]), removal="mark"
    )
    tables = read_workbook(path, mapping)
    assert tables["Kunden"].at[3, "Billomat-ID"] == "gelöscht-1002"
    current = AccountFrames(
        frames.clients[frames.clients["id"] != "1002"], frames.contacts, frames.client_properties,
        frames.client_property_values, frames.client_tags,
    )  # fmt: skip
    desired = read_desired(tables, mapping, current)
    assert desired.problems == [] and not desired.deletes_blocked
    assert 3 not in set(desired.clients["_row"])


def test_a_crash_while_saving_leaves_the_workbook_intact(
    tmp_path: Path, mapping: Mapping, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(account(3), mapping), path, mapping)
    accountant_edits(path)
    original = path.read_bytes()
    tables = read_workbook(path, mapping)
    todo = changes(
        [update(tables, "Kunden", 2, "Ort", "Bonn")], new_records(mapping, [{"id": "1200", "name": "X"}])
    )

    def crash(source: Path, target: Path, parts: dict) -> None:
        target.write_bytes(b"PK\x03\x04half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sync.workbook.save.copy_package", crash)
    with pytest.raises(OSError, match="No space left"):
        apply_workbook_changes(path, mapping, todo, CONFLICTS_1)
    assert path.read_bytes() == original
    assert read_workbook(path, mapping)["Kunden"].at[2, "Ort"] == "Köln"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.xlsx"]  # no temp file, no backup
    monkeypatch.undo()
    report = apply_workbook_changes(path, mapping, todo, CONFLICTS_1)
    assert report.written and read_workbook(path, mapping)["Kunden"].at[2, "Ort"] == "Bonn"


def test_a_property_added_in_billomat_becomes_a_new_column_right_of_everything(
    tmp_path: Path, mapping: Mapping
) -> None:
    frames = account(2)
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(frames, mapping), path, mapping)
    accountant_edits(path)
    props = pd.concat(
        [frames.client_properties, pd.DataFrame([{"id": "13", "name": "Region", "type": "TEXTFIELD"}])]
    ).fillna("")
    ups = [("client_property_values", "Kunden", 2, "1001", "Region", "13", "", "Nord")]
    appended = AccountFrames.from_records(
        {"clients": [{"id": "1300", "name": "Neu"}], "client_properties": props.to_dict("records"),
         "client_property_values": [{"id": "1", "client_id": "1300", "client_property_id": "13", "value": "Süd"}]}
    )  # fmt: skip
    report = apply_workbook_changes(
        path,
        mapping,
        changes(ups, {"Kunden": build_tables(appended, mapping)["Kunden"]}),
        client_properties=props,
    )
    assert report.problems == [] and report.updated == 1 and report.appended == 1
    after = read_workbook(path, mapping)["Kunden"]
    assert list(after.columns)[-3:] == ["Intern", "Bemerkung", "Region"]
    assert after.at[2, "Region"] == "Nord" and after.at[4, "Region"] == "Süd" and after.at[3, "Region"] == ""
    assert_edits_survive_light(path)


def assert_edits_survive_light(path: Path) -> None:
    ws = openpyxl.load_workbook(path)["Kunden"]
    header = [c.value for c in ws[1]]
    assert ws["D2"].fill.fgColor.rgb == YELLOW and ws.cell(2, header.index("Intern") + 1).value == "=LEN(D2)"


def test_the_merge_result_applied_leaves_nothing_to_do(tmp_path: Path, mapping: Mapping) -> None:
    """End to end with the real merge: Billomat changed, added and deleted; after the write the next
    merge against Billomat's state finds nothing for either side."""
    base = account(5)
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(base, mapping), path, mapping)
    accountant_edits(path)
    clients = base.clients.copy()
    clients.loc[clients["id"] == "1002", "city"] = "=Bonn"
    clients.loc[clients["id"] == "1003", "zip"] = "00042"
    clients = clients[clients["id"] != "1004"]
    new = pd.DataFrame(
        [{**dict.fromkeys(clients.columns, ""), "id": "1100", "name": "Neu ÄG", "zip": "01234"}]
    )
    clients = pd.concat([clients, new], ignore_index=True)
    contacts = base.contacts[base.contacts["client_id"] != "1004"]
    values = base.client_property_values.copy()
    values.loc[values["client_id"] == "1001", "value"] = "Handel\r\nund Bau"
    tags = pd.concat(
        [base.client_tags, pd.DataFrame([{"client_id": "1002", "name": "Export"}])], ignore_index=True
    )
    current = AccountFrames(clients, contacts, base.client_properties, values, tags)

    tables = read_workbook(path, mapping)
    desired = read_desired(tables, mapping, reading_frames(base, current))
    merge = merge_account(base, current, desired, mapping)
    assert merge.conflicts == () and not merge.to_workbook.is_empty
    report = apply_workbook_changes(
        path, mapping, merge.to_workbook, merge.conflicts, client_properties=current.client_properties
    )
    assert report.problems == [] and report.removed == 2 and report.appended == 1

    tables = read_workbook(path, mapping)
    desired = read_desired(tables, mapping, current)
    assert desired.problems == []
    again = merge_account(current, current, desired, mapping)
    assert again.to_workbook.is_empty and again.conflicts == ()
    diff = diff_account(current, desired, mapping)
    assert not len(diff.clients.creates) and not len(diff.clients.updates) and not len(diff.clients.deletes)
    assert not len(diff.contacts.creates) and not len(diff.contacts.deletes)
    assert not len(diff.property_values.set) and not len(diff.tags.add)
    assert_edits_survive_light(path)


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_opens_the_result(tmp_path: Path, mapping: Mapping, lo_profile: Path) -> None:
    frames = account(3)
    path = tmp_path / "in" / "k.xlsx"
    write_workbook(build_tables(frames, mapping), path, mapping)
    accountant_edits(path)
    tables = read_workbook(path, mapping)
    ups = [update(tables, "Kunden", 2, "Firma", "=SUMME(A1:A3)"), update(tables, "Kunden", 3, "PLZ", "00042")]
    apply_workbook_changes(
        path, mapping, changes(ups, new_records(mapping, [{"id": "1200", "name": "Öl", "zip": "00001"}])),
        CONFLICTS_1,
    )  # fmt: skip
    profile = lo_profile
    out = tmp_path / "out"
    command = [SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
               "--convert-to", "xlsx", "--outdir", str(out), str(path)]  # fmt: skip
    env = {**os.environ, "HOME": str(profile)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)
    assert (out / "k.xlsx").exists(), done.stdout + done.stderr
    back = read_workbook(out / "k.xlsx", mapping)["Kunden"]
    assert back.at[2, "Firma"] == "=SUMME(A1:A3)" and back.at[3, "PLZ"] == "00042"
    assert back.at[5, "Billomat-ID"] == "1200" and back.at[5, "PLZ"] == "00001"
    assert konflikte(out / "k.xlsx")[1][:3] == ["Kunden", "2", "1001"]


# ------------------------------------------------------------------------------------------------
# CSV folder
# ------------------------------------------------------------------------------------------------
