"""Tests for sync.workbook.owned: the Konflikte sheet billsync owns, laid out and read back as decisions."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from sync.mapping import Mapping
from sync.merge import Conflict
from sync.sheet import build_tables, write_workbook
from sync.workbook.owned import KONFLIKTE, read_decisions
from sync.workbook.update import apply_workbook_changes
from tests.test_workbook_update import CONFLICTS_1, account, changes, konflikte


def test_konflikte_decisions_are_read_and_kept_while_held(tmp_path: Path, mapping: Mapping) -> None:
    frames = account(3)
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(frames, mapping), path, mapping)
    apply_workbook_changes(path, mapping, changes(), CONFLICTS_1)
    wb = openpyxl.load_workbook(path)
    ws = wb[KONFLIKTE]
    assert ws.freeze_panes == "A2" and ws["A1"].font.b and ws.column_dimensions["F"].width > 20
    # Issue 11 (6): the two-line workbook value wraps and its row is tall enough to show both lines.
    assert ws["H2"].alignment.wrap_text and ws.row_dimensions[2].height == 30 and ws.row_dimensions[3].height is None
    ws["J2"] = "Billomat"  # Entscheidung (after the Datensatz column of issue 11)
    ws["J3"] = "vielleicht"
    wb.save(path)
    # The id cells are German ("Kunde", "Ort"): the mapping reads them back as the merge's ids.
    decisions, problems = read_decisions(path, mapping)
    assert decisions == {("clients", "1001", "city"): "billomat"}
    assert problems == [
        "sheet 'Konflikte', row 3, column 'Entscheidung' (Kunden id 1005): 'vielleicht' is no decision;"
        " type Billomat or Arbeitsmappe"
    ]
    # Still held (e.g. the run stopped before the merge): the typed decision stays in the sheet.
    apply_workbook_changes(path, mapping, changes(), CONFLICTS_1)
    assert konflikte(path)[1][9] == "Billomat"
    # Decided: the row says so and Entscheidung is empty again (a stale decision never acts later).
    decided = [Conflict(**{**CONFLICTS_1[0].__dict__, "resolved_by": "billomat"})]
    apply_workbook_changes(path, mapping, changes(), decided)
    assert konflikte(path)[1][9:11] == ["", "entschieden: Billomat"]
    assert read_decisions(path, mapping) == ({}, [])


def test_no_conflicts_and_no_konflikte_sheet_changes_nothing(tmp_path: Path, mapping: Mapping) -> None:
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(account(2), mapping), path, mapping)
    data = path.read_bytes()
    report = apply_workbook_changes(path, mapping, changes(), [])
    assert not report.written and path.read_bytes() == data
    assert openpyxl.load_workbook(path).sheetnames == ["Kunden", "Kontakte"]


def test_a_typo_in_entscheidung_names_the_record_and_the_column_of_its_conflict(
    tmp_path: Path, mapping: Mapping
) -> None:
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(account(3), mapping), path, mapping)
    apply_workbook_changes(path, mapping, changes(), CONFLICTS_1)
    wb = openpyxl.load_workbook(path)
    wb[KONFLIKTE]["J2"] = "Bilomat"  # the conflict of Ort in client 1001
    wb.save(path)
    assert read_decisions(path, mapping) == (
        {},
        [
            "sheet 'Konflikte', row 2, column 'Entscheidung' (Kunden id 1001, column 'Ort'): 'Bilomat' is no"
            " decision; type Billomat or Arbeitsmappe"
        ],
    )


def test_a_typo_names_a_labelled_record_once_with_its_id(tmp_path: Path, mapping: Mapping) -> None:
    path = tmp_path / "k.xlsx"
    write_workbook(build_tables(account(3), mapping), path, mapping)
    labelled = [Conflict(**{**CONFLICTS_1[0].__dict__, "label": "1001 00057 Gärtnerei Krüger e.K."})]
    apply_workbook_changes(path, mapping, changes(), labelled)
    wb = openpyxl.load_workbook(path)
    wb[KONFLIKTE]["J2"] = "?"
    wb.save(path)
    assert read_decisions(path, mapping)[1] == [
        "sheet 'Konflikte', row 2, column 'Entscheidung' (Kunden id 1001 00057 Gärtnerei Krüger e.K., column 'Ort'):"
        " '?' is no decision; type Billomat or Arbeitsmappe"
    ]
