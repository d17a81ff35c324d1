"""Tests for sync.workbook.patch: the workbook part's edits (recalculation, filter names, sheet order)."""

from __future__ import annotations

from sync.workbook.patch import full_calc_on_load, grow_filter_name, sheet_order

WORKBOOK = (
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Kunden" sheetId="1" r:id="rId1"/><sheet name="A &amp; &quot;B&quot;" sheetId="2" r:id="rId2"/></sheets>'
    '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">Kunden!$A$1:$C$9</definedName>'
    '<definedName name="_xlnm._FilterDatabase" localSheetId="1" hidden="1">\'A &amp; "B"\'!$A$1:$C$9</definedName>'
    "</definedNames>{calc}</workbook>"
)


def test_full_calc_on_load_is_set_once() -> None:
    without = WORKBOOK.format(calc="")
    once = full_calc_on_load(without)
    assert once == without.replace("</definedNames>", '</definedNames><calcPr fullCalcOnLoad="1"/>')
    assert full_calc_on_load(once) == once
    existing = WORKBOOK.format(calc='<calcPr calcId="191029"/>')
    assert '<calcPr calcId="191029" fullCalcOnLoad="1"/>' in full_calc_on_load(existing)


def test_the_filter_name_of_the_grown_sheet_follows_its_filter() -> None:
    workbook = WORKBOOK.format(calc="")
    grown = grow_filter_name(workbook, 0, "A1:C9", "A1:D12")
    assert "Kunden!$A$1:$D$12" in grown
    assert "'!$A$1:$C$9" in grown  # the other sheet's name is left alone


def test_sheet_order_reads_the_names_as_written() -> None:
    assert sheet_order(WORKBOOK.format(calc="")) == ["Kunden", 'A & "B"']
