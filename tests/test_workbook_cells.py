"""sync.workbook.cells: one escaping for every writer, column letters, the guarded cell edit."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from python_calamine import CalamineWorkbook

from sync.errors import WorkbookError
from sync.workbook.cells import CellEdit, cell_text, cell_xml, col_index, edit_cells, letters, xml_text

SHEET = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<dimension ref="A1:B2"/><sheetData>'
    '<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>Firma</t></is></c></row>'
    '<row r="2"><c r="B2" s="4" t="inlineStr"><is><t>Alt GmbH</t></is></c></row>'
    '<row r="3"><c r="A3"><v>42</v></c><c r="B3" t="s"><v>0</v></c></row>'
    "</sheetData></worksheet>"
)


def test_column_letters_round_trip() -> None:
    assert [letters(c) for c in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]
    assert all(col_index(letters(c)) == c for c in range(2000))


def test_a_literal_escape_lookalike_is_escaped() -> None:
    assert xml_text("_x0041_") == "_x005F_x0041_"
    assert xml_text("a_x0041\r") == "a_x005F_x0041_x000D_"
    assert xml_text("A & <B>") == "A &amp; &lt;B&gt;"


def test_control_characters_are_escaped_and_tabs_newlines_kept() -> None:
    assert xml_text("a\x01b\x1fc") == "a_x0001_b_x001F_c"
    assert xml_text("a\tb\nc") == "a\tb\nc"
    assert 'xml:space="preserve"' in cell_xml("", "A1", None, "zwei\nZeilen")
    assert cell_xml("x:", "B2", "3", "") == '<x:c r="B2" s="3"/>'


def _book(tmp_path: Path, value: str) -> Path:
    path = tmp_path / "k.xlsx"
    sheet = SHEET.replace('<c r="B2" s="4" t="inlineStr"><is><t>Alt GmbH</t></is></c>', cell_xml("", "B2", "4", value))
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
        zf.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        zf.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Kunden" sheetId="1" r:id="rId1"/></sheets></workbook>')
        zf.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        zf.writestr("xl/worksheets/sheet1.xml", sheet.replace('<c r="B3" t="s"><v>0</v></c>', ""))
    return path


@pytest.mark.parametrize("value", ["_x0041_", "a\x01b", " Leer ", "x_x000D_\ny"])
def test_calamine_reads_back_exactly_what_was_written(tmp_path: Path, value: str) -> None:
    path = _book(tmp_path, value)
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Kunden").to_python()
    assert rows[1][1] == value


def test_cell_text_reads_inline_shared_and_escaped_values() -> None:
    assert cell_text('<c r="A1" t="inlineStr"><is><t>_x005F_x0041_</t></is></c>') == "_x0041_"
    assert cell_text('<c r="A1" t="s"><v>1</v></c>', ["a", "b"]) == "b"
    assert cell_text('<c r="A1"><v>42</v></c>') == "42"
    assert cell_text('<c r="A1"/>') == ""


def test_a_guarded_edit_writes_where_the_cell_still_holds_the_expected_value() -> None:
    edits = [CellEdit(2, 1, "Alt GmbH", "Neu GmbH"), CellEdit(2, 0, "", "1200")]
    xml, refused = edit_cells(SHEET, edits, Path("k.xlsx"), "Kunden", ["geteilt"])
    assert refused == []
    assert '<c r="A2" t="inlineStr"><is><t>1200</t></is></c><c r="B2" s="4" t="inlineStr"><is><t>Neu GmbH</t>' in xml
    assert xml.count("Alt GmbH") == 0


def test_a_guarded_edit_refuses_when_the_cell_changed() -> None:
    edits = [CellEdit(2, 1, "Andere GmbH", "Neu GmbH"), CellEdit(3, 0, "", "1200"), CellEdit(3, 1, "geteilt", "x")]
    xml, refused = edit_cells(SHEET, edits, Path("k.xlsx"), "Kunden", ["geteilt"])
    assert [(r.edit.row, r.edit.col, r.found) for r in refused] == [(2, 1, "Alt GmbH"), (3, 0, "42")]
    assert "Alt GmbH" in xml and "1200" not in xml
    assert '<c r="B3" t="inlineStr"><is><t>x</t></is></c>' in xml  # the unchanged shared-string cell was edited


def test_a_guarded_edit_never_overwrites_a_formula() -> None:
    sheet = SHEET.replace('<c r="A3"><v>42</v></c>', '<c r="A3"><f>1+41</f><v>42</v></c>')
    _, refused = edit_cells(sheet, [CellEdit(3, 0, "42", "43")], Path("k.xlsx"), "Kunden")
    assert [r.found for r in refused] == ["=formula"]


def test_a_guarded_edit_of_a_row_the_sheet_lacks_is_an_error() -> None:
    with pytest.raises(WorkbookError, match="row 9 does not exist"):
        edit_cells(SHEET, [CellEdit(9, 0, "", "x")], Path("k.xlsx"), "Kunden")
