"""Write-back of new ids: only the key cells change; the accountants' workbook keeps everything else."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import openpyxl
import pandas as pd
import pytest
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill

from sync import writeback
from sync.load import LoadReport, Result
from sync.mapping import Mapping
from sync.plan import Change
from sync.sheet import read_workbook, write_workbook
from sync.writeback import NewIds, NewRecord, backup_path, write_ids
from tests.test_sheet import HOSTILE

YELLOW = "FFFFFF00"
# Values openpyxl cannot round-trip (whitespace-only, literal escapes) plus the usual suspects.
TRICKY = [
    " ",
    "\t",
    "  spaces  ",
    "Zeile 1\r\nZeile 2",
    "\rCR",
    "=SUMME(A1:A3)",
    "_x000D_",
    "00042",
    "'quoted",
]


def _tables(mapping: Mapping, values: list[str]) -> dict[str, pd.DataFrame]:
    """Kunden: one existing client per value (in Firma, PLZ, Notiz), then a blank-key row and a neu-1 row.

    Kontakte: one contact per value, a new contact of neu-1, an existing contact moved to NEU-1, and a
    new contact of an existing client.
    """
    kunden_headers = [*mapping.sheets["clients"].headers, "Branche", "Schlagwörter"]
    kontakte_headers = list(mapping.sheets["contacts"].headers)
    kunden = []
    for i, value in enumerate(values):
        row = dict.fromkeys(kunden_headers, "")
        row.update(
            {"Billomat-ID": str(2000 + i), "Firma": value, "PLZ": value, "Notiz": value, "Branche": value}
        )
        kunden.append(row)
    blank = dict.fromkeys(kunden_headers, "")
    blank.update({"Firma": "Neu ohne ID GmbH", "Notiz": " ", "Ort": "Köln"})
    neu = dict.fromkeys(kunden_headers, "")
    neu.update({"Billomat-ID": "neu-1", "Firma": "Neu Eins KG", "PLZ": "01067", "Schlagwörter": "VIP"})
    kunden += [blank, neu]
    kontakte = []
    for i, value in enumerate(values):
        row = dict.fromkeys(kontakte_headers, "")
        row.update({"Kontakt-ID": str(6000 + i), "Kunden-ID": "2000", "Vorname": value, "PLZ": value})
        kontakte.append(row)
    new_contact = dict.fromkeys(kontakte_headers, "")
    new_contact.update({"Kunden-ID": "neu-1", "Vorname": "Eva", "Nachname": " "})
    moved = dict.fromkeys(kontakte_headers, "")
    moved.update({"Kontakt-ID": "6999", "Kunden-ID": "NEU-1 ", "Vorname": "Umzug"})
    other = dict.fromkeys(kontakte_headers, "")
    other.update({"Kunden-ID": "2001", "Vorname": "Max"})
    kontakte += [new_contact, moved, other]
    return {
        "Kunden": pd.DataFrame(kunden, columns=kunden_headers, dtype=object),
        "Kontakte": pd.DataFrame(kontakte, columns=kontakte_headers, dtype=object),
    }


def _new_ids(tables: dict[str, pd.DataFrame]) -> tuple[NewIds, dict[tuple[str, int, str], str]]:
    """The ids a push would have created for the new rows, and the cells they must end up in."""
    n_clients, n_contacts = len(tables["Kunden"]), len(tables["Kontakte"])
    blank_row, neu_row = n_clients, n_clients + 1  # sheet rows (row 1 is the header)
    new_contact_row, moved_row, other_row = n_contacts - 1, n_contacts, n_contacts + 1
    ids = NewIds(
        clients=(NewRecord(blank_row, f"row:{blank_row}", "3001"), NewRecord(neu_row, "neu-1", "3002")),
        contacts=(
            NewRecord(new_contact_row, f"row:{new_contact_row}", "7001"),
            NewRecord(other_row, f"row:{other_row}", "7002"),
        ),
    )
    expected = {
        ("Kunden", blank_row, "Billomat-ID"): "3001",
        ("Kunden", neu_row, "Billomat-ID"): "3002",
        ("Kontakte", new_contact_row, "Kontakt-ID"): "7001",
        ("Kontakte", new_contact_row, "Kunden-ID"): "3002",
        ("Kontakte", moved_row, "Kunden-ID"): "3002",
        ("Kontakte", other_row, "Kontakt-ID"): "7002",
    }
    return ids, expected


def _assert_only(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame], expected: dict) -> None:
    """Every cell reads back as before, except exactly the expected cells, which hold their ids."""
    assert before.keys() == after.keys()
    for name, table in before.items():
        back = after[name]
        assert list(back.columns) == list(table.columns), name
        assert list(back.index) == list(table.index), name
        for row in table.index:
            for col in table.columns:
                want = expected.get((name, row, col), table.at[row, col])
                assert back.at[row, col] == want, (name, row, col, table.at[row, col], back.at[row, col])


def _accountant_edits(path: Path) -> None:
    """What accountants do in Excel: colour, an extra formula column, a sheet, a comment, a width, a filter."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    ws["D2"].fill = PatternFill("solid", fgColor=YELLOW)
    ws.cell(ws.max_row, 1).fill = PatternFill("solid", fgColor=YELLOW)  # the neu-1 key cell itself
    extra = ws.max_column + 1
    ws.cell(1, extra, "Länge Firma")
    for row in range(2, ws.max_row + 1):
        ws.cell(row, extra, f"=LEN(D{row})")
    ws["E3"].comment = Comment("Bitte prüfen", "Buchhaltung")
    ws.column_dimensions["D"].width = 33
    ws.auto_filter.ref = f"A1:{ws.cell(1, extra).column_letter}{ws.max_row}"
    notes = wb.create_sheet("Notizen")
    notes["A1"] = "Offene Punkte"
    notes["A2"] = "Rechnung 4711 klären"
    wb["Kontakte"].column_dimensions["B"].width = 21
    wb.save(path)


def _assert_edits_survive(path: Path) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    assert ws["D2"].fill.fgColor.rgb == YELLOW
    assert ws.cell(ws.max_row, 1).fill.fgColor.rgb == YELLOW  # the style of the cell the id went into
    header = [c.value for c in ws[1]]
    extra = header.index("Länge Firma") + 1
    for row in range(2, ws.max_row + 1):
        cell = ws.cell(row, extra)
        assert cell.data_type == "f" and cell.value == f"=LEN(D{row})"
    assert ws["E3"].comment is not None and ws["E3"].comment.text == "Bitte prüfen"
    assert ws.column_dimensions["D"].width == 33
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, extra).column_letter}{ws.max_row}"
    assert ws.freeze_panes == "A2"
    assert any("1048576" in str(dv.sqref) for dv in ws.data_validations.dataValidation)  # Archiviert 0/1
    assert wb["Notizen"]["A2"].value == "Rechnung 4711 klären"
    assert wb["Kontakte"].column_dimensions["B"].width == 21
    assert wb.sheetnames == ["Kunden", "Kontakte", "Notizen"]
    wb.close()


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


# ------------------------------------------------------------------------------------------------
# xlsx
# ------------------------------------------------------------------------------------------------


def test_ids_go_into_key_cells_and_neu_references_and_nothing_else_changes(
    tmp_path: Path, mapping: Mapping
) -> None:
    tables = _tables(mapping, HOSTILE)
    path = tmp_path / "Kunden.xlsx"
    write_workbook(tables, path, mapping)
    before = read_workbook(path, mapping)
    ids, expected = _new_ids(tables)
    original = _members(path)

    report = write_ids(path, mapping, ids)

    assert report.written == len(expected) and report.problems == [] and report.unchanged == 0
    # Whitespace-only text, "_x000D_", "\r\n", quote-prefixed formulas: all read back unchanged.
    _assert_only(before, read_workbook(path, mapping), expected)
    assert report.backup == tmp_path / "Kunden.bak.xlsx"
    assert backup_path(path).read_bytes() != path.read_bytes()
    assert _members(backup_path(path)) == original
    # Every part of the package but the two sheets is byte for byte what it was.
    after = _members(path)
    changed = {name for name in original if original[name] != after[name]}
    assert changed == {"xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"}
    for name in changed:
        ET.fromstring(after[name])  # well-formed
    assert after.keys() == original.keys()
    # The quote prefix (a style) of the untouched formula-like cells is still there.
    ws = openpyxl.load_workbook(path)["Kunden"]
    firma = [c.value for c in ws[1]].index("Firma") + 1
    assert ws.cell(2 + HOSTILE.index("=SUMME(A1:A3)"), firma).quotePrefix
    # The new ids are text cells in the key column's style (Text format "@", read-only grey).
    key = ws.cell(len(tables["Kunden"]), 1)
    assert key.value == "3001" and key.data_type == "s" and key.number_format == "@"
    assert key.fill.fgColor.rgb.endswith("F2F2F2")


def test_accountants_edits_survive_three_write_backs(tmp_path: Path, mapping: Mapping) -> None:
    tables = _tables(mapping, TRICKY)
    path = tmp_path / "kunden.xlsx"
    write_workbook(tables, path, mapping)
    _accountant_edits(path)
    before = read_workbook(path, mapping)
    ids, expected = _new_ids(tables)
    # Three pushes in a row, each creating more of the new rows' records.
    rounds = [
        NewIds(clients=ids.clients[:1]),
        NewIds(clients=ids.clients, contacts=ids.contacts[:1]),
        ids,
    ]
    previous = path.read_bytes()
    for number, new_ids in enumerate(rounds, start=1):
        report = write_ids(path, mapping, new_ids)
        assert report.problems == [], number
        already = rounds[number - 2] if number > 1 else NewIds()
        assert report.written > 0 and report.unchanged == len(already)
        assert backup_path(path).read_bytes() == previous  # exactly one backup: the version before
        previous = path.read_bytes()
        _assert_edits_survive(path)
    _assert_only(before, read_workbook(path, mapping), expected)
    # Once every id is in place, a repeat changes nothing and does not even rewrite the file.
    mtime = path.stat().st_mtime_ns
    again = write_ids(path, mapping, ids)
    assert (again.written, again.unchanged, again.problems) == (0, len(ids), [])
    assert path.read_bytes() == previous and path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kunden.bak.xlsx", "kunden.xlsx"]  # no temp files


def test_a_key_cell_typed_over_meanwhile_is_not_overwritten(tmp_path: Path, mapping: Mapping) -> None:
    tables = _tables(mapping, ["a"])
    path = tmp_path / "k.xlsx"
    write_workbook(tables, path, mapping)
    ids, _ = _new_ids(tables)
    wb = openpyxl.load_workbook(path)
    wb["Kunden"].cell(ids.clients[0].row, 1, "4711")  # someone typed an id into the blank row
    wb.save(path)
    report = write_ids(path, mapping, NewIds(clients=ids.clients[:1]))
    assert report.written == 0 and len(report.problems) == 1
    assert "row 3" in report.problems[0] and "'4711'" in report.problems[0] and "3001" in report.problems[0]
    assert read_workbook(path, mapping)["Kunden"].at[ids.clients[0].row, "Billomat-ID"] == "4711"
    assert not backup_path(path).exists()


def test_a_formula_in_a_key_cell_is_reported_and_left_alone(tmp_path: Path, mapping: Mapping) -> None:
    tables = _tables(mapping, ["a"])
    path = tmp_path / "k.xlsx"
    write_workbook(tables, path, mapping)
    ids, _ = _new_ids(tables)
    wb = openpyxl.load_workbook(path)
    wb["Kunden"].cell(ids.clients[0].row, 1, '=""')  # reads as blank, but it is somebody's formula
    wb.save(path)
    report = write_ids(path, mapping, ids)
    assert report.written == 1 + 4  # neu-1 in Kunden; Kontakte: two ids, two references
    assert report.problems == [
        f"sheet 'Kunden', cell A{ids.clients[0].row}: holds a formula; new id 3001 not written"
    ]
    ws = openpyxl.load_workbook(path)["Kunden"]
    assert ws.cell(ids.clients[0].row, 1).value == '=""' and ws.cell(ids.clients[1].row, 1).value == "3002"


def test_a_crash_while_saving_leaves_the_workbook_intact(
    tmp_path: Path, mapping: Mapping, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = _tables(mapping, TRICKY)
    path = tmp_path / "k.xlsx"
    write_workbook(tables, path, mapping)
    original = path.read_bytes()
    ids, expected = _new_ids(tables)

    def crash(source: Path, target: Path, patched: dict[str, bytes]) -> None:
        target.write_bytes(b"PK\x03\x04half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sync.workbook.save.copy_package", crash)
    with pytest.raises(OSError, match="No space left"):
        write_ids(path, mapping, ids)
    assert path.read_bytes() == original
    assert read_workbook(path, mapping)["Kunden"].at[ids.clients[0].row, "Firma"] == "Neu ohne ID GmbH"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.xlsx"]  # no temp file, no backup

    # A crash while copying the backup: the workbook is still the original.
    monkeypatch.undo()
    monkeypatch.setattr(
        "sync.atomic.shutil.copy2", lambda *a, **k: (_ for _ in ()).throw(OSError(5, "I/O error"))
    )
    with pytest.raises(OSError, match="I/O error"):
        write_ids(path, mapping, ids)
    assert path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.xlsx"]

    monkeypatch.undo()
    before = read_workbook(path, mapping)
    write_ids(path, mapping, ids)
    _assert_only(before, read_workbook(path, mapping), expected)


def test_new_ids_come_from_the_done_creates_of_a_load_report() -> None:
    def create(resource: str, key: str, row: int, status: str, record_id: str) -> Result:
        sheet = "Kunden" if resource == "clients" else "Kontakte"
        return Result(Change(resource, "create", key, sheet, row), status, record_id)

    report = LoadReport(
        results=[
            create("clients", "neu-1", 5, "done", "31"),
            create("clients", "row:6", 6, "failed", ""),
            create("contacts", "row:3", 3, "done", "51"),
            Result(Change("clients", "update", "7", "Kunden", 2), "done", "7"),
        ]
    )
    ids = NewIds.from_report(report)
    assert ids.clients == (NewRecord(5, "neu-1", "31"),)
    assert ids.contacts == (NewRecord(3, "row:3", "51"),)
    assert ids.references == {"neu-1": "31"} and len(ids) == 2 and ids
    assert not NewIds()


def test_nothing_to_write_touches_nothing(tmp_path: Path, mapping: Mapping) -> None:
    missing = tmp_path / "nope.xlsx"
    assert write_ids(missing, mapping, NewIds()).written == 0
    assert not missing.exists()


# ------------------------------------------------------------------------------------------------
# CSV folder
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", [";", ","])
def test_csv_folder_keeps_every_column_separator_and_bom(
    tmp_path: Path, mapping: Mapping, separator: str
) -> None:
    tables = _tables(mapping, TRICKY)
    folder = tmp_path / "mappe"
    write_workbook(tables, folder, mapping)
    # An accountant's extra column, and (for ",") a file saved again by a program that prefers commas.
    kunden = folder / "Kunden.csv"
    text = kunden.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    rows = [[*row, "Bemerkung" if i == 0 else f"x{i}; y"] for i, row in enumerate(rows)]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=separator, lineterminator="\r\n").writerows(rows)
    kunden.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    before = read_workbook(folder, mapping)
    assert before["Kunden"].columns[-1] == "Bemerkung"
    ids, expected = _new_ids(tables)
    original = {p.name: p.read_bytes() for p in folder.iterdir()}

    report = write_ids(folder, mapping, ids)

    assert report.written == len(expected) and report.problems == []
    _assert_only(before, read_workbook(folder, mapping), expected)
    raw = kunden.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    header = raw[3:].split(b"\r\n", 1)[0].decode("utf-8")
    assert header.count(separator) == len(before["Kunden"].columns) - 1
    assert (folder / "Kunden.bak.csv").read_bytes() == original["Kunden.csv"]
    assert (folder / "Kontakte.bak.csv").read_bytes() == original["Kontakte.csv"]
    assert b"'=SUMME(A1:A3)" in raw  # the formula guard of untouched cells is kept
    assert write_ids(folder, mapping, ids).written == 0  # a repeat finds every id in place


def test_sparse_reader_reads_what_calamine_reads(tmp_path: Path) -> None:
    """The rows write_ids reads straight from the sheet XML are the rows `_xlsx_grids` gives (calamine):
    inline and shared strings, rich text, hostile text, numbers, booleans; unsure cells fall back."""
    import xlsxwriter

    values = [*TRICKY, *HOSTILE, " lead", "trail ", "\u00a0nb", "_x005F_x000D_", "_x2028_", "a&b<c>", "äöü"]
    path = tmp_path / "s.xlsx"
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False})
    sheet = book.add_worksheet("S")
    bold, date = book.add_format({"bold": True}), book.add_format({"num_format": "dd.mm.yyyy"})
    for row, value in enumerate(values):
        sheet.write_string(row, 0, value)
        sheet.write_number(row, 1, row * 1.5)
        sheet.write_boolean(row, 2, row % 2 == 0)
    sheet.write_rich_string(0, 3, "ab", bold, " cd ", "ef")
    sheet.write_number(1, 3, 45000, date)  # a date: calamine's business
    sheet.write_formula(2, 3, '="a"&"b"', None, "ab")
    book.close()
    expected = writeback._xlsx_grids(path, ["S"])["S"]
    with zipfile.ZipFile(path) as zf:
        part = writeback._sheet_parts(zf, path)["S"]
        context = writeback._Context(zf, path)
        fast = 0
        for number in range(1, len(values) + 1):
            scan = writeback._scan_sheet(zf, part, {number})
            try:
                grid = writeback._sparse_grid(scan, context, number)
            except writeback._Hard:
                continue
            fast += 1
            got, want = list(grid[number - 1]), list(expected[number - 1])
            got += [""] * (len(want) - len(got))
            assert got == want, number
    assert fast >= len(values) - 3
