"""Tests for sync.sheet: building the tables, and the xlsx/CSV round trip of hostile values."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sync.errors import WorkbookError
from sync.frames import AccountFrames
from sync.mapping import Mapping, mapping_from_text
from sync.sheet import (
    READ_ONLY_NOTE,
    build_tables,
    cell_text,
    property_columns,
    read_workbook,
    sheet_cells,
    write_workbook,
)
from sync.sheet import write as sheet_module

SHIPPED = Path(__file__).resolve().parents[1] / "mappings" / "billomat.yaml"

# Every value a spreadsheet likes to "help" with (prior-art §C2, §E1).
HOSTILE = [
    "00042",
    "01067",
    "+49 30 1234567",
    "0049 89 123",
    "DE89370400440532013000",
    "12345678901234567890",
    "Müller & Söhne",
    "Weißenburger Straße",
    "=SUMME(A1:A3)",
    "+1",
    "-5",
    "- keine Angabe -",
    "@home",
    "\tTab",
    "\rCR",
    "'quoted",
    "''double",
    "'=1+1",
    "Zeile 1\nZeile 2",
    "Zeile 1\r\nZeile 2",
    "  spaces  ",
    " ",
    "1.0",
    "1e5",
    "0503E000",
    "TRUE",
    "0,5",
    "01.02.2024",
    "1-2",
    "3/4",
    "NA",
    "None",
    "nan",
    "#N/A",
    "😀 Emoji 👩‍👩‍👧",
    "x" * 2000,
    "_x000D_",  # a literal Excel escape sequence must stay literal
    "a\x01b",  # a control character (stored as _x0001_ in xlsx)
    '"in quotes"',
    "a;b,c\td",
    "",
]


def tiny_frames() -> AccountFrames:
    return AccountFrames.from_records(
        {
            "clients": [
                {"id": "10", "client_number": "KD00010", "name": "Zehn GmbH", "zip": "01067", "note": "a\nb"},
                {"id": "9", "client_number": "KD00009", "name": "Neun AG", "archived": "1"},
                {"id": "100", "client_number": "KD00100", "name": "Hundert KG"},
            ],
            "contacts": [
                {"id": "502", "client_id": "9", "name": "Anna"},
                {"id": "501", "client_id": "10", "name": "Bert", "zip": "00042"},
                {"id": "503", "client_id": "4711", "name": "Waise"},  # client not in the account
            ],
            "client_properties": [
                {"id": "13", "name": "Firma", "type": "TEXTFIELD"},  # collides with a column header
                {"id": "7", "name": "Stammkunde", "type": "CHECKBOX"},
                {"id": "12", "name": "Branche", "type": "TEXTFIELD"},
                {"id": "14", "name": "Branche", "type": "TEXTAREA"},  # a second property of that name
            ],
            "client_property_values": [
                {"id": "1", "client_id": "10", "client_property_id": "7", "value": "1"},
                {"id": "2", "client_id": "10", "client_property_id": "12", "value": "Handel"},
                {"id": "3", "client_id": "9", "client_property_id": "7", "value": "0"},
                {"id": "4", "client_id": "9", "client_property_id": "12", "value": ""},
                {"id": "5", "client_id": "10", "client_property_id": "13", "value": "Filiale"},
                {
                    "id": "6",
                    "client_id": "10",
                    "client_property_id": "12",
                    "value": "Großhandel",
                },  # newer row wins
                {"id": "7", "client_id": "10", "client_property_id": "99", "value": "orphan"},
            ],
            "client_tags": [
                {"client_id": "10", "name": "b-Kunde"},
                {"client_id": "10", "name": "A-Kunde"},
                {"client_id": "10", "name": "Newsletter"},
                {"client_id": "10", "name": "A-Kunde"},
                {"client_id": "9", "name": "VIP"},
            ],
        }
    )


# ------------------------------------------------------------------------------------------
# build_tables
# ------------------------------------------------------------------------------------------


def test_build_tables_clients(mapping: Mapping) -> None:
    tables = build_tables(tiny_frames(), mapping)
    assert list(tables) == ["Kunden", "Kontakte"]
    kunden = tables["Kunden"]
    declared = list(mapping.sheets["clients"].headers)
    properties = ["Stammkunde", "Branche", "Firma (Attribut)", "Branche (Attribut)"]  # ordered by id
    assert list(kunden.columns) == [*declared, *properties, "Schlagwörter", "Sync"]  # Sync: pulled empty (SPEC §9)
    assert list(kunden["Billomat-ID"]) == ["9", "10", "100"]  # numeric order, not "10" < "9"
    assert list(kunden["Firma"]) == ["Neun AG", "Zehn GmbH", "Hundert KG"]
    assert list(kunden["PLZ"]) == ["", "01067", ""]
    assert list(kunden["Stammkunde"]) == ["0", "1", ""]  # CHECKBOX as the API's "0"/"1"; no row = ""
    assert list(kunden["Branche"]) == ["", "Großhandel", ""]
    assert list(kunden["Firma (Attribut)"]) == ["", "Filiale", ""]
    assert list(kunden["Branche (Attribut)"]) == ["", "", ""]
    assert list(kunden["Schlagwörter"]) == ["VIP", "A-Kunde, b-Kunde, Newsletter", ""]
    assert list(kunden["Archiviert"]) == ["1", "", ""]
    assert list(kunden["Angelegt"]) == ["", "", ""]  # a field the records lack is "" (never NaN)
    assert all(type(v) is str for col in kunden.columns for v in kunden[col])


def test_build_tables_contacts_get_the_client_number(mapping: Mapping) -> None:
    kontakte = build_tables(tiny_frames(), mapping)["Kontakte"]
    assert list(kontakte.columns) == list(mapping.sheets["contacts"].headers)
    assert list(kontakte["Kontakt-ID"]) == ["501", "502", "503"]
    assert list(kontakte["Kunden-ID"]) == ["10", "9", "4711"]
    assert list(kontakte["Kundennummer"]) == ["KD00010", "KD00009", ""]
    assert list(kontakte["PLZ"]) == ["00042", "", ""]
    assert not kontakte.isna().any().any()


def test_build_tables_of_an_empty_account(mapping: Mapping) -> None:
    tables = build_tables(AccountFrames.from_records({}), mapping)
    assert list(tables["Kunden"].columns) == [*mapping.sheets["clients"].headers, "Schlagwörter", "Sync"]
    assert len(tables["Kunden"]) == 0 and len(tables["Kontakte"]) == 0


def test_property_headers_and_mapped_checkbox() -> None:
    text = (
        SHIPPED.read_text(encoding="utf-8")
        .replace('unchecked: "0"', 'unchecked: "nein"')
        .replace('checked: "1"', 'checked: "ja"')
    )
    mapping = mapping_from_text(text)
    frames = tiny_frames()
    assert property_columns(frames.client_properties, mapping.sheets["clients"]) == [
        ("7", "Stammkunde"),
        ("12", "Branche"),
        ("13", "Firma (Attribut)"),
        ("14", "Branche (Attribut)"),
    ]
    kunden = build_tables(frames, mapping)["Kunden"]
    assert list(kunden["Stammkunde"]) == ["nein", "ja", ""]
    assert list(kunden["Branche"]) == ["", "Großhandel", ""]  # only CHECKBOX values are mapped


def test_build_tables_without_properties_and_tags_blocks(mapping: Mapping) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    text = text[: text.index("    # One column per client property")] + text[text.index("  contacts:") :]
    plain = mapping_from_text(text)
    kunden = build_tables(tiny_frames(), plain)["Kunden"]
    assert list(kunden.columns) == [*plain.sheets["clients"].headers, "Sync"]


# ------------------------------------------------------------------------------------------
# the hostile round trip
# ------------------------------------------------------------------------------------------


def hostile_tables(mapping: Mapping) -> dict[str, pd.DataFrame]:
    """Both sheets, every column filled with the hostile values (rotated), plus hostile headers."""
    tables = build_tables(AccountFrames.from_records({}), mapping)
    n = len(HOSTILE)
    out = {}
    for name, empty in tables.items():
        headers = [*empty.columns, "=Attribut", "-Spalte-", "Spalte 'x'"]
        data = {"key": [str(i + 1) for i in range(n)]}
        for j, header in enumerate(headers[1:], start=1):
            data[header] = [HOSTILE[(i + j) % n] for i in range(n)]
        data = {headers[0]: data.pop("key"), **data}
        out[name] = pd.DataFrame(data, dtype=object)
    return out


def assert_same_cells(expected: dict[str, pd.DataFrame], got: dict[str, pd.DataFrame]) -> None:
    assert list(got) == list(expected)
    for name, table in expected.items():
        back = got[name]
        assert list(back.columns) == list(table.columns), name
        assert len(back) == len(table), name
        for column in table.columns:
            for row, (want, have) in enumerate(zip(table[column], back[column], strict=True)):
                assert type(have) is str, (name, column, row, have)
                assert have == want, (name, column, row, want, have)


def test_hostile_round_trip_xlsx(tmp_path: Path, mapping: Mapping) -> None:
    tables = hostile_tables(mapping)
    path = tmp_path / "kunden.xlsx"
    write_workbook(tables, path, mapping)
    back = read_workbook(path, mapping)
    assert_same_cells(tables, back)
    assert list(back["Kunden"].index) == list(range(2, len(HOSTILE) + 2))  # the sheet's row numbers

    # No cell is a formula, every filled cell is a string, dangerous ones carry the quote prefix.
    wb = openpyxl.load_workbook(path)
    for name, table in tables.items():
        ws = wb[name]
        for r, row in enumerate(ws.iter_rows(min_row=1, max_row=len(table) + 1), start=1):
            for cell in row:
                assert cell.data_type != "f", (name, cell.coordinate)
                if cell.value is None:
                    assert r > 1
                    continue
                assert cell.data_type == "s", (name, cell.coordinate, cell.value)
                text = table.columns[cell.column - 1] if r == 1 else table.iat[r - 2, cell.column - 1]
                if text[:1] in ("=", "+", "-", "@", "\t", "\r", "'"):
                    assert cell.quotePrefix, (name, cell.coordinate, text)
                else:
                    assert not cell.quotePrefix, (name, cell.coordinate, text)
                assert cell.number_format == "@"
    wb.close()


def test_hostile_round_trip_csv(tmp_path: Path, mapping: Mapping) -> None:
    tables = hostile_tables(mapping)
    folder = tmp_path / "workbook"
    write_workbook(tables, folder, mapping)
    assert sorted(p.name for p in folder.iterdir()) == ["Kontakte.csv", "Kunden.csv"]
    raw = (folder / "Kunden.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfBillomat-ID;Kundennummer;Angelegt;Firma;")
    assert raw.split(b"\r\n", 1)[0].count(b";") == len(tables["Kunden"].columns) - 1
    assert b"'=SUMME(A1:A3)" in raw
    assert b"=SUMME" not in raw.replace(b"'=SUMME", b"")  # never without the prefix
    assert b"'''double" in raw and b"''quoted" in raw  # a leading ' gets one more
    assert b"'-5" in raw and b"'@home" in raw and b"'+49 30 1234567" in raw
    assert b"00042" in raw and b"'00042" not in raw  # digits are left alone
    assert_same_cells(tables, read_workbook(folder, mapping))


@pytest.mark.parametrize("separator", [",", "\t"])
def test_csv_read_detects_the_separator(tmp_path: Path, mapping: Mapping, separator: str) -> None:
    tables = hostile_tables(mapping)
    other = mapping_from_text(
        SHIPPED.read_text(encoding="utf-8").replace(
            'separator: ";"', f'separator: "{separator}"'.replace("\t", "\\t")
        )
    )
    folder = tmp_path / "wb"
    write_workbook(tables, folder, other)
    assert (folder / "Kunden.csv").read_bytes().split(b"\r\n", 1)[0].count(separator.encode()) > 10
    assert_same_cells(tables, read_workbook(folder, mapping))  # the mapping says ";", the file has another


def test_csv_without_bom_and_with_lf_line_ends(tmp_path: Path, mapping: Mapping) -> None:
    folder = tmp_path / "wb"
    folder.mkdir()
    (folder / "Kunden.csv").write_text("Billomat-ID;Firma;PLZ\n1;Müller;01067\n\n2;'=1;\n", encoding="utf-8")
    (folder / "Kontakte.csv").write_text("Kontakt-ID;Kunden-ID\n", encoding="utf-8")
    back = read_workbook(folder, mapping)
    assert back["Kunden"].to_dict("list") == {
        "Billomat-ID": ["1", "2"],
        "Firma": ["Müller", "=1"],
        "PLZ": ["01067", ""],
    }
    assert list(back["Kunden"].index) == [2, 4]  # the empty row 3 is skipped, numbers stay true
    assert len(back["Kontakte"]) == 0 and list(back["Kontakte"].columns) == ["Kontakt-ID", "Kunden-ID"]


def test_round_trip_after_a_spreadsheet_program_saves(tmp_path: Path, mapping: Mapping) -> None:
    """Open and save without edits (openpyxl as the program): every value reads back the same.

    Pinned exception: openpyxl 3.1 writes whitespace-only text (" ", "\t") without
    xml:space="preserve", and calamine then reads it as "". Excel and LibreOffice always write
    the attribute; a write-back that saves with openpyxl has to keep this in mind.
    """
    tables = hostile_tables(mapping)
    path = tmp_path / "k.xlsx"
    write_workbook(tables, path, mapping)
    wb = openpyxl.load_workbook(path)
    wb.save(path)
    expected = {name: t.map(lambda v: "" if v and not v.strip() else v) for name, t in tables.items()}
    assert_same_cells(expected, read_workbook(path, mapping))


def test_round_trip_of_built_tables(tmp_path: Path, mapping: Mapping) -> None:
    tables = build_tables(tiny_frames(), mapping)
    for target in (tmp_path / "k.xlsx", tmp_path / "csv"):
        write_workbook(tables, target, mapping)
        back = read_workbook(target, mapping)
        for name, table in tables.items():
            pd.testing.assert_frame_equal(back[name].reset_index(drop=True), table)


@pytest.mark.parametrize("target", ["k.xlsx", "csv"])
def test_the_writer_tells_its_progress_row_by_row_slices(
    tmp_path: Path, mapping: Mapping, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    # 100k clients take half a minute to write: the writer says how far it is, in slices.
    monkeypatch.setattr(sheet_module, "PROGRESS_ROWS", 2)
    tables = build_tables(tiny_frames(), mapping)
    told: list[int] = []
    write_workbook(tables, tmp_path / target, mapping, progress=told.append)
    assert sum(told) == sum(len(table) for table in tables.values())
    assert told.count(2) >= 2  # told during the write, not once at the end


# ------------------------------------------------------------------------------------------
# xlsx formatting
# ------------------------------------------------------------------------------------------


def test_xlsx_header_and_read_only_marking(tmp_path: Path, mapping: Mapping) -> None:
    tables = build_tables(tiny_frames(), mapping)
    path = tmp_path / "k.xlsx"
    write_workbook(tables, path, mapping)
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(tables['Kunden'].columns)).column_letter}4"
    headers = {cell.value: cell for cell in ws[1]}
    assert all(cell.font.b for cell in ws[1])
    for name in ("Billomat-ID", "Kundennummer", "Angelegt"):
        cell = headers[name]
        assert cell.comment is not None and cell.comment.text.strip() == READ_ONLY_NOTE
        assert cell.fill.fgColor.rgb.endswith("BFBFBF")
        column_style = ws.column_dimensions[cell.column_letter]
        assert column_style.fill.fgColor.rgb.endswith("F2F2F2") and column_style.number_format == "@"
    assert ws["A2"].value == "9" and ws["A2"].fill.fgColor.rgb.endswith("F2F2F2")
    for name in ("Firma", "PLZ", "Stammkunde", "Schlagwörter"):
        assert headers[name].comment is None
        assert ws.cell(2, headers[name].column).fill.fill_type is None
    note = ws.cell(3, headers["Notiz"].column)
    assert note.value == "a\nb" and note.alignment.wrap_text
    assert not ws.cell(3, headers["Firma"].column).alignment.wrap_text
    for name, cell in headers.items():
        width = ws.column_dimensions[cell.column_letter].width
        assert 8 <= width <= 51, (name, width)
    assert ws.column_dimensions[headers["Schlagwörter"].column_letter].width >= len(
        "A-Kunde, b-Kunde, Newsletter"
    )
    # Kontakte: the looked-up client number is read-only, the client id is not.
    kontakte = {cell.value: cell for cell in wb["Kontakte"][1]}
    assert kontakte["Kundennummer"].comment is not None
    assert kontakte["Kunden-ID"].comment is None
    wb.close()
    with zipfile.ZipFile(path) as zf:
        sheet_xml = zf.read("xl/worksheets/sheet1.xml").decode()
    assert '<ignoredError sqref="A1:XFD1048576" numberStoredAsText="1"/>' in sheet_xml
    assert "dataValidation" in sheet_xml  # Archiviert offers 0/1


def test_xlsx_empty_cells_stay_blank(tmp_path: Path, mapping: Mapping) -> None:
    tables = build_tables(tiny_frames(), mapping)
    path = tmp_path / "k.xlsx"
    write_workbook(tables, path, mapping)
    ws = openpyxl.load_workbook(path)["Kunden"]
    headers = [cell.value for cell in ws[1]]
    assert ws.cell(2, headers.index("PLZ") + 1).value is None
    assert ws.cell(3, headers.index("PLZ") + 1).value == "01067"


# ------------------------------------------------------------------------------------------
# values xlsx cannot hold, typed cells, atomic writes
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["_x0041_x0042_", "_x005F_x0041_", "_x0041\r", "a\ufffeb"])
def test_values_xlsx_cannot_store_exactly_are_refused(tmp_path: Path, mapping: Mapping, value: str) -> None:
    """xlsxwriter escapes these so that they read back changed ("_x0041_x0042_" → "_x0041B")."""
    tables = build_tables(tiny_frames(), mapping)
    tables["Kunden"].loc[1, "Notiz"] = value
    with pytest.raises(WorkbookError) as info:
        write_workbook(tables, tmp_path / "k.xlsx", mapping)
    assert (info.value.sheet, info.value.row, info.value.column) == ("Kunden", 3, "Notiz")
    assert not (tmp_path / "k.xlsx").exists()
    write_workbook(tables, tmp_path / "csv", mapping)  # CSV holds them
    assert read_workbook(tmp_path / "csv", mapping)["Kunden"]["Notiz"].iloc[1] == value


def test_xlsx_escapes_that_do_round_trip(tmp_path: Path, mapping: Mapping) -> None:
    """Pinned: calamine undoes Excel's _xHHHH_ escapes exactly as xlsxwriter writes them."""
    values = ["_x000D_", "\r", "a\r\nb", "_x0041_ lit", "a_x0041_b_x0042_", "x\x00y", "\x0b", "_x005f_"]
    tables = build_tables(
        AccountFrames.from_records({"clients": [{"id": str(i), "note": v} for i, v in enumerate(values, 1)]}),
        mapping,
    )
    write_workbook(tables, tmp_path / "k.xlsx", mapping)
    assert list(read_workbook(tmp_path / "k.xlsx", mapping)["Kunden"]["Notiz"]) == values


def test_too_long_for_an_excel_cell(tmp_path: Path, mapping: Mapping) -> None:
    tables = build_tables(tiny_frames(), mapping)
    tables["Kunden"].loc[0, "Notiz"] = "x" * 32_768
    with pytest.raises(WorkbookError, match="32767") as info:
        write_workbook(tables, tmp_path / "k.xlsx", mapping)
    assert (info.value.row, info.value.column) == (2, "Notiz")


def test_write_is_atomic(tmp_path: Path, mapping: Mapping, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(tiny_frames(), mapping), path, mapping)
    before = path.read_bytes()

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(sheet_module, "_write_sheet", crash)
    with pytest.raises(RuntimeError):
        write_workbook(build_tables(tiny_frames(), mapping), path, mapping)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.xlsx"]  # no temp file left behind

    folder = tmp_path / "csv"
    monkeypatch.undo()
    write_workbook(build_tables(tiny_frames(), mapping), folder, mapping)
    before_csv = (folder / "Kunden.csv").read_bytes()
    monkeypatch.setattr(sheet_module, "_csv_escape", crash)
    with pytest.raises(RuntimeError):
        write_workbook(build_tables(tiny_frames(), mapping), folder, mapping)
    assert (folder / "Kunden.csv").read_bytes() == before_csv
    assert sorted(p.name for p in folder.iterdir()) == ["Kontakte.csv", "Kunden.csv"]


def test_write_refuses_single_file_suffixes(tmp_path: Path, mapping: Mapping) -> None:
    with pytest.raises(WorkbookError, match=r"\.xlsx, or a folder"):
        write_workbook(build_tables(tiny_frames(), mapping), tmp_path / "kunden.csv", mapping)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("01067", "01067"),
        (42, "42"),
        (42.0, "42"),
        (-3.0, "-3"),
        (42.5, "42.5"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        (True, "1"),
        (False, "0"),
        (dt.datetime(2024, 2, 1), "2024-02-01"),
        (dt.datetime(2024, 2, 1, 10, 30), "2024-02-01T10:30:00"),
        (dt.date(2024, 2, 1), "2024-02-01"),
        (dt.time(10, 30), "10:30:00"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_typed_xlsx_cells_become_canonical_text(tmp_path: Path, mapping: Mapping) -> None:
    """A workbook where someone typed numbers, booleans and dates into cells."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Kunden"
    ws.append(
        [
            "\ufeffBillomat-ID",
            "Firma",
            "Debitorenkonto",
            "Archiviert",
            "Angelegt",
            "Eigene Spalte",
            None,
            "Notiz",
        ]
    )
    ws.append([1001, "A", 10001.0, True, dt.datetime(2024, 2, 1), 0.5, "ohne Kopf", None])
    ws.append([None, None, None, None, None, None, None, None])
    ws.append([1002.0, "B", 1.5, False, dt.datetime(2024, 2, 1, 8, 15), "x", None, "Zeile"])
    wb.create_sheet("Kontakte").append(["Kontakt-ID", "Kunden-ID"])
    wb.create_sheet("Notizen der Buchhaltung").append(["egal"])
    wb.save(tmp_path / "k.xlsx")
    back = read_workbook(tmp_path / "k.xlsx", mapping)
    assert list(back) == ["Kunden", "Kontakte"]  # extra sheets are not read
    kunden = back["Kunden"]
    # The BOM is stripped from the header, the column without a header is left out, extra columns are kept.
    assert list(kunden.columns) == [
        "Billomat-ID",
        "Firma",
        "Debitorenkonto",
        "Archiviert",
        "Angelegt",
        "Eigene Spalte",
        "Notiz",
    ]
    assert kunden.to_dict("list") == {
        "Billomat-ID": ["1001", "1002"],
        "Firma": ["A", "B"],
        "Debitorenkonto": ["10001", "1.5"],
        "Archiviert": ["1", "0"],
        "Angelegt": ["2024-02-01", "2024-02-01T08:15:00"],
        "Eigene Spalte": ["0.5", "x"],
        "Notiz": ["", "Zeile"],
    }
    assert list(kunden.index) == [2, 4]


def test_an_empty_column_a_and_empty_rows_above_keep_their_places(tmp_path: Path, mapping: Mapping) -> None:
    """calamine reads a sheet from its first used cell on: column A and row 1 must stay where they are."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Kunden"
    ws["B1"], ws["C1"] = "Billomat-ID", "Firma"
    ws["B3"], ws["C3"] = "1001", "A"
    ws["D1"], ws["D3"] = "Eigene Spalte", "=1+1"  # a formula: found by its column letter
    kontakte = wb.create_sheet("Kontakte")
    kontakte["C2"] = "Kontakt-ID"  # row 1 empty: there is no header row, row 2 is none
    wb.save(tmp_path / "k.xlsx")
    with pytest.raises(WorkbookError, match="no header row") as info:
        read_workbook(tmp_path / "k.xlsx", mapping)
    assert (info.value.sheet, info.value.row) == ("Kontakte", 1)
    kontakte.delete_rows(1)
    kontakte["D1"] = "Kunden-ID"
    wb.save(tmp_path / "k.xlsx")
    kunden = read_workbook(tmp_path / "k.xlsx", mapping)["Kunden"]
    assert kunden.to_dict("index") == {3: {"Billomat-ID": "1001", "Firma": "A", "Eigene Spalte": ""}}
    cells = sheet_cells(kunden)
    assert cells is not None and cells.formulas == ((3, "Eigene Spalte"),)


def test_equal_cells_of_a_column_are_one_string_across_thousands_of_rows(tmp_path: Path, mapping: Mapping) -> None:
    """Rows are read a chunk at a time; a value repeated down a column is held once, ragged rows padded."""
    folder = tmp_path / "csv"
    folder.mkdir()
    rows = [["Billomat-ID", "Firma", "Ort"]] + [[str(i), f"Firma {i}", "Dresden"] for i in range(1, 3001)]
    rows[2500] = rows[2500][:2]  # a short row far down (a CSV line without its last separator)
    for name, grid in (("Kunden", rows), ("Kontakte", [["Kontakt-ID"]])):
        with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh, delimiter=";").writerows(grid)
    kunden = read_workbook(folder, mapping)["Kunden"]
    ort = kunden["Ort"].tolist()
    assert len(ort) == 3000 and ort[2499] == "" and set(ort) == {"Dresden", ""}
    assert len({id(v) for v in ort if v}) == 1
    assert kunden["Firma"].tolist() == [f"Firma {i}" for i in range(1, 3001)]


# ------------------------------------------------------------------------------------------
# errors name file, sheet, row and column
# ------------------------------------------------------------------------------------------


def test_error_not_an_xlsx(tmp_path: Path, mapping: Mapping) -> None:
    path = tmp_path / "k.xlsx"
    path.write_text("Billomat-ID;Firma\n1;A\n", encoding="utf-8")
    with pytest.raises(WorkbookError, match="not an xlsx workbook") as info:
        read_workbook(path, mapping)
    assert info.value.file == str(path)
    csv_file = tmp_path / "Kunden.csv"
    csv_file.write_text("x", encoding="utf-8")
    with pytest.raises(WorkbookError, match="give the folder"):
        read_workbook(csv_file, mapping)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(WorkbookError, match="not a readable xlsx") as info:
        read_workbook(broken, mapping)
    assert info.value.file == str(broken)


def test_error_empty_files(tmp_path: Path, mapping: Mapping) -> None:
    empty = tmp_path / "k.xlsx"
    empty.write_bytes(b"")
    with pytest.raises(WorkbookError, match="empty") as info:
        read_workbook(empty, mapping)
    assert info.value.file == str(empty)
    folder = tmp_path / "csv"
    write_workbook(build_tables(tiny_frames(), mapping), folder, mapping)
    (folder / "Kunden.csv").write_bytes(b"\xef\xbb\xbf\r\n")
    with pytest.raises(WorkbookError, match="empty") as info:
        read_workbook(folder, mapping)
    assert (info.value.file, info.value.sheet, info.value.row) == (str(folder / "Kunden.csv"), "Kunden", 1)


def test_error_empty_sheet(tmp_path: Path, mapping: Mapping) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "Kunden"
    wb.create_sheet("Kontakte").append(["Kontakt-ID"])
    wb.save(tmp_path / "k.xlsx")
    with pytest.raises(WorkbookError, match="the sheet is empty") as info:
        read_workbook(tmp_path / "k.xlsx", mapping)
    assert info.value.sheet == "Kunden"


def test_error_missing_sheet(tmp_path: Path, mapping: Mapping) -> None:
    path = tmp_path / "k.xlsx"
    tables = build_tables(tiny_frames(), mapping)
    write_workbook({"Kunden": tables["Kunden"], "Sonstiges": tables["Kontakte"]}, path, mapping)
    with pytest.raises(
        WorkbookError, match=r"sheet is missing \(the workbook has: Kunden, Sonstiges\)"
    ) as info:
        read_workbook(path, mapping)
    assert (info.value.file, info.value.sheet) == (str(path), "Kontakte")
    folder = tmp_path / "csv"
    write_workbook({"Kunden": tables["Kunden"]}, folder, mapping)
    with pytest.raises(WorkbookError, match="Kontakte.csv is missing") as info:
        read_workbook(folder, mapping)
    assert info.value.sheet == "Kontakte"


def test_csv_file_name_case_is_forgiven(tmp_path: Path, mapping: Mapping) -> None:
    folder = tmp_path / "csv"
    write_workbook(build_tables(tiny_frames(), mapping), folder, mapping)
    (folder / "Kontakte.csv").rename(folder / "kontakte.CSV")
    assert len(read_workbook(folder, mapping)["Kontakte"]) == 3


@pytest.mark.parametrize("target", ["k.xlsx", "csv"])
def test_error_missing_key_column(tmp_path: Path, mapping: Mapping, target: str) -> None:
    tables = build_tables(tiny_frames(), mapping)
    tables["Kunden"] = tables["Kunden"].drop(columns=["Billomat-ID"])
    write_workbook(tables, tmp_path / target, mapping)
    with pytest.raises(WorkbookError, match="the key column is missing") as info:
        read_workbook(tmp_path / target, mapping)
    assert (info.value.sheet, info.value.row, info.value.column) == ("Kunden", 1, "Billomat-ID")
    assert "Billomat-ID" in str(info.value) and "Kunden" in str(info.value)


def test_error_duplicate_header(tmp_path: Path, mapping: Mapping) -> None:
    folder = tmp_path / "csv"
    write_workbook(build_tables(tiny_frames(), mapping), folder, mapping)
    (folder / "Kontakte.csv").write_text("\ufeffKontakt-ID;Firma;Firma\r\n1;a;b\r\n", encoding="utf-8")
    with pytest.raises(WorkbookError, match=r"header appears twice \(columns B and C\)") as info:
        read_workbook(folder, mapping)
    assert (info.value.sheet, info.value.row, info.value.column) == ("Kontakte", 1, "Firma")


def test_error_cp1252_csv(tmp_path: Path, mapping: Mapping) -> None:
    """Excel's plain "CSV" export writes Windows-1252: refuse it, naming where the first umlaut is."""
    folder = tmp_path / "csv"
    write_workbook(build_tables(tiny_frames(), mapping), folder, mapping)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    writer.writerows([["Billomat-ID", "Firma", "Ort"], ["1", "Acme", "Berlin"], ["2", "Müller", "Köln"]])
    (folder / "Kunden.csv").write_bytes(buf.getvalue().encode("cp1252"))
    with pytest.raises(WorkbookError, match="not UTF-8.*CSV UTF-8") as info:
        read_workbook(folder, mapping)
    err = info.value
    assert (err.file, err.sheet, err.row, err.column) == (str(folder / "Kunden.csv"), "Kunden", 3, "Firma")
    assert "0xFC" in str(err) and "'ü'" in str(err)


def test_error_path_does_not_exist(tmp_path: Path, mapping: Mapping) -> None:
    with pytest.raises(WorkbookError, match="does not exist"):
        read_workbook(tmp_path / "nope.xlsx", mapping)


def test_larger_round_trip(tmp_path: Path, mapping: Mapping) -> None:
    """A few thousand generated clients survive both formats (the 100k timing is measured by hand)."""
    clients = [
        {
            "id": str(i),
            "client_number": f"KD{i:05d}",
            "name": f"Firma {i}",
            "zip": f"{i % 100000:05d}",
            "phone": f"+49 {i}",
        }
        for i in range(1, 3001)
    ]
    frames = AccountFrames.from_records(
        {"clients": clients, "client_tags": [{"client_id": "7", "name": "x"}]}
    )
    tables = build_tables(frames, mapping)
    for target in (tmp_path / "k.xlsx", tmp_path / "csv"):
        write_workbook(tables, target, mapping)
        back = read_workbook(target, mapping)
        pd.testing.assert_frame_equal(back["Kunden"].reset_index(drop=True), tables["Kunden"])
