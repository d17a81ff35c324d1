"""Broken workbooks: every one gives a message naming file, sheet, row and column, never a traceback.

Structural problems raise WorkbookError (exit 2, nothing is written); a problem of one row is a
RowProblem that leaves the row out while the other rows go on.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sync.desired import Desired, read_desired
from sync.errors import EXIT_FATAL, BillsyncError, WorkbookError
from sync.frames import AccountFrames
from sync.mapping import Mapping
from sync.sheet import build_tables, read_workbook, sheet_cells, write_workbook, xlsx_formula_cells


def account() -> AccountFrames:
    return AccountFrames.from_records(
        {
            "clients": [
                {"id": "1001", "client_number": "KD01001", "name": "Müller GmbH", "email": "a@mueller.de"},
                {"id": "1002", "client_number": "KD01002", "name": "Schulz KG"},
                {"id": "1003", "client_number": "KD01003", "name": "Weiß AG"},
            ],
            "contacts": [
                {"id": "5001", "client_id": "1001", "first_name": "Anna"},
                {"id": "5002", "client_id": "1002", "first_name": "Bert"},
            ],
            "client_properties": [{"id": "11", "name": "Branche", "type": "TEXTFIELD"}],
            "client_property_values": [{"id": "1", "client_id": "1001", "client_property_id": "11", "value": "Bau"}],
            "client_tags": [{"client_id": "1001", "name": "A-Kunde"}],
        }
    )


def pull(mapping: Mapping, target: Path, frames: AccountFrames | None = None) -> Path:
    write_workbook(build_tables(frames or account(), mapping), target, mapping)
    return target


def load(path: Path, mapping: Mapping, frames: AccountFrames | None = None) -> Desired:
    """What plan/push do: read the workbook, then the desired state."""
    return read_desired(read_workbook(path, mapping), mapping, frames or account())


def edit(path: Path, changes: dict[tuple[str, str], object]) -> None:
    """Set cells by (sheet, "B3") with openpyxl and save (the accountant's Excel)."""
    wb = openpyxl.load_workbook(path)
    for (sheet, ref), value in changes.items():
        wb[sheet][ref].value = value
    wb.save(path)


def where(err: WorkbookError) -> tuple[str | None, str | None, int | None, str | None]:
    return err.file, err.sheet, err.row, err.column


# ------------------------------------------------------------------------------------------
# not a workbook at all
# ------------------------------------------------------------------------------------------


def test_a_text_file_renamed_to_xlsx(tmp_path: Path, mapping: Mapping) -> None:
    path = tmp_path / "kunden.xlsx"
    path.write_text("Billomat-ID;Firma\r\n1001;Müller\r\n", encoding="utf-8")
    with pytest.raises(WorkbookError, match="not an xlsx workbook") as info:
        load(path, mapping)
    assert where(info.value) == (str(path), None, None, None)
    assert str(info.value).startswith(str(path))
    assert isinstance(info.value, BillsyncError) and info.value.exit_code == EXIT_FATAL


def test_an_old_xls_file(tmp_path: Path, mapping: Mapping) -> None:
    path = tmp_path / "kunden.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)  # the OLE2 header of .xls
    with pytest.raises(WorkbookError, match=r"Excel 97-2003 \.xls file\? save it as") as info:
        load(path, mapping)
    assert info.value.file == str(path)


def test_an_empty_xlsx_file(tmp_path: Path, mapping: Mapping) -> None:
    path = tmp_path / "kunden.xlsx"
    path.write_bytes(b"")
    with pytest.raises(WorkbookError, match=r"the file is empty \(0 bytes\)") as info:
        load(path, mapping)
    assert info.value.file == str(path)


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\r\n\r\n"])
def test_an_empty_csv_file(tmp_path: Path, mapping: Mapping, content: bytes) -> None:
    folder = pull(mapping, tmp_path / "csv")
    (folder / "Kontakte.csv").write_bytes(content)
    with pytest.raises(WorkbookError, match="the file is empty: no header row") as info:
        load(folder, mapping)
    assert where(info.value) == (str(folder / "Kontakte.csv"), "Kontakte", 1, None)


def test_a_cp1252_csv(tmp_path: Path, mapping: Mapping) -> None:
    """Excel's plain "CSV (Trennzeichen-getrennt)" saves Windows-1252: refused, naming the first umlaut."""
    folder = pull(mapping, tmp_path / "csv")
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerows([["Billomat-ID", "Firma", "Ort"], ["1001", "Acme", "Berlin"], ["1002", "Schulz", "Köln"]])
    (folder / "Kunden.csv").write_bytes(buf.getvalue().encode("cp1252"))
    with pytest.raises(WorkbookError, match=r"not UTF-8: byte 0xF6 \('ö' in Windows-1252\)") as info:
        load(folder, mapping)
    assert where(info.value) == (str(folder / "Kunden.csv"), "Kunden", 3, "Ort")


def test_a_cp1252_csv_names_an_umlaut_header_readably(tmp_path: Path, mapping: Mapping) -> None:
    """The header row is Windows-1252 too: the message says 'Straße', not mojibake."""
    folder = pull(mapping, tmp_path / "csv")
    text = "Billomat-ID;Firma;Straße\r\n1001;Acme;Weißenburger Str. 1\r\n"
    (folder / "Kunden.csv").write_bytes(text.encode("cp1252"))
    with pytest.raises(WorkbookError) as info:
        load(folder, mapping)
    assert where(info.value) == (str(folder / "Kunden.csv"), "Kunden", 1, "Straße")


# ------------------------------------------------------------------------------------------
# structure: missing sheet or key column, duplicate keys, merged cells, emptied sheets
# ------------------------------------------------------------------------------------------


def test_a_missing_sheet(tmp_path: Path, mapping: Mapping) -> None:
    path = tmp_path / "k.xlsx"
    tables = build_tables(account(), mapping)
    write_workbook({"Kunden": tables["Kunden"], "Tabelle1": tables["Kontakte"]}, path, mapping)
    with pytest.raises(WorkbookError, match=r"sheet is missing \(the workbook has: Kunden, Tabelle1\)") as info:
        load(path, mapping)
    assert where(info.value) == (str(path), "Kontakte", None, None)


def test_a_missing_sheet_in_memory(mapping: Mapping) -> None:
    tables = build_tables(account(), mapping)
    with pytest.raises(WorkbookError, match="sheet is missing") as info:
        read_desired({"Kunden": tables["Kunden"]}, mapping, account(), source="in-memory.xlsx")
    assert where(info.value) == ("in-memory.xlsx", "Kontakte", None, None)


@pytest.mark.parametrize("target", ["k.xlsx", "csv"])
def test_a_missing_key_column(tmp_path: Path, mapping: Mapping, target: str) -> None:
    tables = build_tables(account(), mapping)
    tables["Kontakte"] = tables["Kontakte"].rename(columns={"Kontakt-ID": "ID"})
    write_workbook(tables, tmp_path / target, mapping)
    with pytest.raises(WorkbookError, match="the key column is missing") as info:
        load(tmp_path / target, mapping)
    file = str(tmp_path / target) if target.endswith(".xlsx") else str(tmp_path / target / "Kontakte.csv")
    assert where(info.value) == (file, "Kontakte", 1, "Kontakt-ID")
    assert "nothing was changed" in str(info.value)


def test_duplicate_ids(tmp_path: Path, mapping: Mapping) -> None:
    path = pull(mapping, tmp_path / "k.xlsx")
    edit(path, {("Kunden", "A4"): "1001"})  # row 4 held 1003
    with pytest.raises(WorkbookError, match="'1001' appears more than once: rows 2 and 4") as info:
        load(path, mapping)
    assert where(info.value) == (str(path), "Kunden", 4, "Billomat-ID")


def test_duplicate_contact_ids_in_csv(tmp_path: Path, mapping: Mapping) -> None:
    folder = pull(mapping, tmp_path / "csv")
    text = (folder / "Kontakte.csv").read_text(encoding="utf-8-sig").replace("5002;1002", "5001;1002")
    (folder / "Kontakte.csv").write_text(text, encoding="utf-8-sig")
    with pytest.raises(WorkbookError, match="'5001' appears more than once: rows 2 and 3") as info:
        load(folder, mapping)
    assert where(info.value) == (str(folder / "Kontakte.csv"), "Kontakte", 3, "Kontakt-ID")


def test_duplicate_neu_keys(tmp_path: Path, mapping: Mapping) -> None:
    path = pull(mapping, tmp_path / "k.xlsx")
    edit(path, {("Kunden", "A5"): "neu-1", ("Kunden", "D5"): "X", ("Kunden", "A6"): "NEU-1", ("Kunden", "D6"): "Y"})
    with pytest.raises(WorkbookError, match="'neu-1' appears more than once: rows 5 and 6") as info:
        load(path, mapping)
    assert where(info.value) == (str(path), "Kunden", 6, "Billomat-ID")


def test_merged_cells(tmp_path: Path, mapping: Mapping) -> None:
    path = pull(mapping, tmp_path / "k.xlsx")
    wb = openpyxl.load_workbook(path)
    wb["Kunden"].merge_cells("D3:E4")  # Firma and Anrede of two rows
    wb.save(path)
    with pytest.raises(WorkbookError, match=r"merged cells D3:E4 in the synced columns; unmerge") as info:
        load(path, mapping)
    assert where(info.value) == (str(path), "Kunden", 3, "Firma")


def test_merged_cells_in_an_own_column_are_fine(tmp_path: Path, mapping: Mapping) -> None:
    path = pull(mapping, tmp_path / "k.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    own = ws.max_column + 2  # a header, then a merged block to its right beyond the synced table
    ws.cell(row=1, column=own, value="Bemerkung")
    ws.merge_cells(start_row=2, start_column=own, end_row=4, end_column=own + 1)
    ws.cell(row=2, column=own, value="Q1 geprüft")
    wb.save(path)
    tables = read_workbook(path, mapping)
    cells = sheet_cells(tables["Kunden"])
    assert cells is not None and len(cells.merged) == 1
    assert load(path, mapping).problems == []


def test_formula_cells(tmp_path: Path, mapping: Mapping) -> None:
    path = pull(mapping, tmp_path / "k.xlsx")
    kunden = list(build_tables(account(), mapping)["Kunden"].columns)
    branche = openpyxl.utils.get_column_letter(kunden.index("Branche") + 1)
    edit(
        path,
        {
            ("Kunden", "D3"): "=D2&\" Nord\"",  # Firma of 1002
            ("Kunden", f"{branche}4"): "=1+1",  # a property column of 1003
            ("Kunden", "B2"): "=\"KD\"&A2",  # read-only Kundennummer: its edits are ignored anyway
            ("Kontakte", "C3"): "=SVERWEIS(B3;Kunden!A:B;2;FALSCH)",  # lookup column: allowed
        },
    )
    assert xlsx_formula_cells(path, ["Kunden", "Kontakte"]) == {
        "Kunden": sorted([(2, 1), (3, 3), (4, kunden.index("Branche"))]),
        "Kontakte": [(3, 2)],
    }
    desired = load(path, mapping)
    assert [str(p).removeprefix(f"{path}, ") for p in desired.problems] == [
        # Issue 11 (5): the record is named (the formula's cached value is no name; the id and number are).
        "sheet 'Kunden', row 3, column 'Firma' (1002 KD01002): holds a formula; billsync syncs values — paste as"
        " values (Inhalte einfügen → Werte)",
        "sheet 'Kunden', row 4, column 'Branche' (1003 KD01003 Weiß AG): holds a formula; billsync syncs values"
        " — paste as values (Inhalte einfügen → Werte)",
    ]
    assert list(desired.clients["_key"]) == ["1001"]
    assert desired.left_out["clients"] == frozenset({"1002", "1003"})
    assert set(desired.property_values["client_key"]) == {"1001"}


def test_formula_scan_of_a_prefixed_sheet_xml(tmp_path: Path) -> None:
    """Writers built on the Open XML SDK spell every element with a prefix (<x:c>, <x:f>)."""
    import zipfile

    path = tmp_path / "sdk.xlsx"
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(
            "xl/workbook.xml",
            f'<x:workbook xmlns:x="{ns}" xmlns:r="{rel}"><x:sheets>'
            '<x:sheet name="Kunden" sheetId="1" r:id="rId1"/></x:sheets></x:workbook>',
        )
        z.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="x" Target="/xl/worksheets/sheet1.xml"/></Relationships>',
        )
        z.writestr(
            "xl/worksheets/sheet1.xml",
            f'<x:worksheet xmlns:x="{ns}"><x:sheetData><x:row r="7">'
            '<x:c r="AB7" s="1"><x:f>1+1</x:f><x:v>2</x:v></x:c></x:row></x:sheetData></x:worksheet>',
        )
    assert xlsx_formula_cells(path, ["Kunden", "Fehlt"]) == {"Kunden": [(7, 27)]}


def test_an_emptied_clients_sheet(tmp_path: Path, mapping: Mapping) -> None:
    tables = build_tables(account(), mapping)
    tables["Kunden"] = tables["Kunden"].iloc[0:0]
    write_workbook(tables, tmp_path / "k.xlsx", mapping)
    with pytest.raises(WorkbookError, match=r"the sheet is empty \(no data rows\) while Billomat has 3 clients;"
                       " nothing will be deleted") as info:  # fmt: skip
        load(tmp_path / "k.xlsx", mapping)
    assert where(info.value) == (str(tmp_path / "k.xlsx"), "Kunden", 2, None)


def test_an_emptied_contacts_sheet(tmp_path: Path, mapping: Mapping) -> None:
    tables = build_tables(account(), mapping)
    tables["Kontakte"] = tables["Kontakte"].iloc[0:0]
    write_workbook(tables, tmp_path / "k.xlsx", mapping)
    with pytest.raises(WorkbookError, match="while Billomat has 2 contacts; nothing will be deleted") as info:
        load(tmp_path / "k.xlsx", mapping)
    assert info.value.sheet == "Kontakte"


def test_empty_sheets_are_fine_when_billomat_is_empty_too(tmp_path: Path, mapping: Mapping) -> None:
    no_contacts = AccountFrames.from_records({"clients": [{"id": "1", "name": "A"}]})
    path = pull(mapping, tmp_path / "k.xlsx", no_contacts)
    desired = load(path, mapping, no_contacts)
    assert len(desired.clients) == 1 and desired.contacts.empty


def test_a_cleared_key_column(tmp_path: Path, mapping: Mapping) -> None:
    """Every id gone (column cleared, or a workbook typed from scratch): never "delete all, create all"."""
    tables = build_tables(account(), mapping)
    tables["Kunden"] = tables["Kunden"].assign(**{"Billomat-ID": "", "Kundennummer": ""})
    write_workbook(tables, tmp_path / "k.xlsx", mapping)
    with pytest.raises(WorkbookError, match="no row has a Billomat-ID that Billomat knows") as info:
        load(tmp_path / "k.xlsx", mapping)
    assert where(info.value) == (str(tmp_path / "k.xlsx"), "Kunden", None, "Billomat-ID")


def test_structural_errors_come_before_row_problems(tmp_path: Path, mapping: Mapping) -> None:
    path = pull(mapping, tmp_path / "k.xlsx")
    edit(path, {("Kunden", "M2"): "kaputt", ("Kontakte", "A3"): "5001"})  # bad email; duplicate contact
    with pytest.raises(WorkbookError, match="'5001' appears more than once"):
        load(path, mapping)


# ------------------------------------------------------------------------------------------
# row problems: the row is left out, the rest goes on
# ------------------------------------------------------------------------------------------


def only_problem(desired: Desired) -> tuple[str, int | None, str | None, str]:
    assert len(desired.problems) == 1, desired.problems
    p = desired.problems[0]
    assert p.level == "error"
    return p.sheet, p.row, p.column, p.message


def test_an_id_unknown_to_billomat(tmp_path: Path, mapping: Mapping) -> None:
    path = pull(mapping, tmp_path / "k.xlsx")
    edit(path, {("Kunden", "A3"): "1099"})
    desired = load(path, mapping)
    assert only_problem(desired) == (
        "Kunden",
        3,
        "Billomat-ID",
        "Billomat-ID 1099 is unknown to Billomat (deleted there, or a typo?)",
    )
    assert list(desired.clients["_key"]) == ["1001", "1003"]
    assert "clients" in desired.deletes_blocked  # 1002 is absent now, but may be meant by the typo


def test_an_invalid_email(tmp_path: Path, mapping: Mapping) -> None:
    path = pull(mapping, tmp_path / "k.xlsx")
    edit(path, {("Kunden", "M3"): "info@schulz", ("Kontakte", "M2"): " anna@mueller.de"})
    desired = load(path, mapping)
    assert [(p.sheet, p.row, p.column) for p in desired.problems] == [
        ("Kontakte", 2, "E-Mail"),
        ("Kunden", 3, "E-Mail"),
    ]
    assert desired.problems[0].message == (
        "' anna@mueller.de' is not a valid email address (remove the blanks at the start or end)"
    )
    assert desired.problems[1].message == "'info@schulz' is not a valid email address"
    assert desired.left_out == {"clients": frozenset({"1002"}), "contacts": frozenset({"5001"})}
    assert desired.excluded_keys == frozenset({"1002", "5001"})
    assert desired.deletes_blocked == {}


def test_an_unchanged_email_is_not_checked(tmp_path: Path, mapping: Mapping) -> None:
    """Billomat's own value is never a problem (and " A@Mueller.de " normalises to it: no change)."""
    frames = account()
    frames.clients.loc[1, "email"] = "alt@"  # whatever Billomat holds
    path = pull(mapping, tmp_path / "k.xlsx", frames)
    edit(path, {("Kunden", "M2"): " A@Mueller.de "})
    assert load(path, mapping, frames).problems == []


def test_a_malformed_key(tmp_path: Path, mapping: Mapping) -> None:
    path = pull(mapping, tmp_path / "k.xlsx")
    edit(path, {("Kunden", "A3"): "1002a"})
    assert only_problem(load(path, mapping))[:3] == ("Kunden", 3, "Billomat-ID")
    assert "malformed key '1002a'" in only_problem(load(path, mapping))[3]


def test_an_unknown_neu_reference_in_contacts(tmp_path: Path, mapping: Mapping) -> None:
    path = pull(mapping, tmp_path / "k.xlsx")
    edit(path, {("Kontakte", "B4"): "neu-7", ("Kontakte", "E4"): "Neuer Kontakt"})
    desired = load(path, mapping)
    assert only_problem(desired) == (
        "Kontakte",
        4,
        "Kunden-ID",
        "'neu-7' is not the neu-… key of any row in sheet 'Kunden'",
    )
    assert list(desired.contacts["_key"]) == ["5001", "5002"]


def test_problems_leave_other_rows_alone(tmp_path: Path, mapping: Mapping) -> None:
    path = pull(mapping, tmp_path / "k.xlsx")
    edit(path, {("Kunden", "M3"): "kaputt", ("Kunden", "D4"): "Weiß & Co. AG"})
    desired = load(path, mapping)
    assert len(desired.problems) == 1
    clients = desired.clients.set_index("_key")
    assert list(clients.index) == ["1001", "1003"]
    assert clients.loc["1003", "name"] == "Weiß & Co. AG"
    assert isinstance(desired.clients, pd.DataFrame)
