"""Reports: the plan as text, as JSON and as an xlsx change report an accountant can read."""

from __future__ import annotations

import json

import openpyxl

from sync.desired import RowProblem
from sync.mapping import load_mapping
from sync.plan import Change, HeldChange, Plan
from sync.report import counts_text, plan_lines, write_change_report, write_json
from tests.e2e import REPO

MAPPING = load_mapping(REPO / "mappings" / "billomat.yaml")

PLAN = Plan(
    changes=[
        Change("clients", "create", "row:5", "Kunden", 5,
               {"name": ("", "Neu GmbH"), "note": ("", "Zeile 1\nZeile 2\nZeile 3"),
                "customfield": ("", "billsync:eef70123456789ab")}, {"name": "Neu GmbH"},
               marker="billsync:eef70123456789ab"),
        Change("clients", "update", "1001", "Kunden", 2, {"city": ("Dresden", "Leipzig"), "zip": ("01067", "04109")},
               {"city": "Leipzig", "zip": "04109"}),
        Change("client_tags", "add", "1001", "Kunden", 2, {"name": ("", "Export")}, {"name": "Export"},
               client_key="1001", ref="Export"),
        Change("client_property_values", "set", "1001", "Kunden", 2, {"value": ("", "=1+1")},
               {"value": "=1+1"}, client_key="1001", ref="11", label="Branche"),
    ],
    held=[HeldChange(Change("clients", "delete", "1002", "Kunden", None, label="KD00002 Alt GmbH"),
                     "deletes need --allow-deletes")],
    problems=[RowProblem("Kunden", 7, "E-Mail", "'info@' is not an email address")],
)


def test_counts_read_as_a_sentence():
    assert counts_text(PLAN.counts()) == "clients 1 create, 1 update; property values 1 set; tags 1 add"
    assert counts_text({"clients": {"update": 2}}, past=True) == "clients 2 updated"
    assert counts_text({}) == "no changes"


def test_plan_lines_show_each_field_old_to_new_with_workbook_headers():
    text = "\n".join(plan_lines(PLAN, MAPPING))
    assert "Kunden row 2: update client 1001" in text
    assert "Ort: 'Dresden' -> 'Leipzig'" in text and "PLZ: '01067' -> '04109'" in text
    assert "Kunden row 5: create client\n" in text
    assert "Kunden row 2: set attribute 'Branche' of client 1001\n      Branche: '' -> '=1+1'" in text
    assert "Kunden row 2: add tag 'Export' to client 1001" in text
    assert "Held (not done):" in text and "deletes need --allow-deletes" in text
    assert "problem: sheet 'Kunden', row 7, column 'E-Mail'" in text


def test_json_is_the_plan_dict(tmp_path):
    path = tmp_path / "plan.json"
    write_json(PLAN, path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data == json.loads(json.dumps(PLAN.to_dict()))
    assert data["changes"][1]["fields"]["zip"] == {"old": "01067", "new": "04109"}


def test_change_report_marks_rows_and_keeps_values_as_text(tmp_path):
    path = tmp_path / "report.xlsx"
    write_change_report(PLAN, MAPPING, path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Änderungen", "Zurückgehalten", "Probleme"]
    rows = list(wb["Änderungen"].iter_rows(min_row=2, values_only=True))
    # Issue 11 (6): the row is a number, a Datensatz column, a new row's key in German.
    assert ("Kunden", 2, "1001", "", "geändert", "PLZ", "01067", "04109") in rows
    assert ("Kunden", 5, "neue Zeile 5", "Neu GmbH", "neu", "Firma", "", "Neu GmbH") in rows
    assert any(r[6:] == ("", "=1+1") for r in rows)
    for row in wb["Änderungen"].iter_rows():
        for cell in row:
            assert cell.data_type != "f"
    fills = {c.value: c.fill.fgColor.rgb for c in wb["Änderungen"]["H"][1:]}
    assert fills["Neu GmbH"].endswith("C6EFCE") and fills["Leipzig"].endswith("FFEB9C")
    held = list(wb["Zurückgehalten"].iter_rows(min_row=2, values_only=True))
    assert held[0][2:4] == ("1002", "KD00002 Alt GmbH")  # the held delete names its record
    assert held[0][-1].startswith("Löschen nur mit --allow-deletes")
    assert list(wb["Probleme"].iter_rows(min_row=2, values_only=True))[0][:3] == ("Kunden", 7, "E-Mail")


def test_change_report_is_german_without_markers_and_multi_line_cells_show(tmp_path):
    path = tmp_path / "report.xlsx"
    write_change_report(PLAN, MAPPING, path)
    ws = openpyxl.load_workbook(path)["Änderungen"]
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    assert "Attribut gesetzt: Branche" in values and "Attribut gesetzt: 11" not in values
    assert not any(isinstance(v, str) and ("billsync:" in v or v.startswith("row:")) for v in values)
    note = next(c for row in ws.iter_rows() for c in row if c.value == "Zeile 1\nZeile 2\nZeile 3")
    assert note.alignment.wrap_text
    assert ws.row_dimensions[note.row].height >= 45  # three lines show
