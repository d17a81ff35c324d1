"""Tests for sync.workbook.planner: whether a cell still holds what the merge read, and what xlsx cannot hold."""

from __future__ import annotations

import pytest

from sync.mapping import Mapping
from sync.sheet import EXCEL_MAX_CHARS, EXCEL_MAX_ROWS
from sync.workbook.planner import removed_marker, still_holds, unstorable


@pytest.mark.parametrize(
    ("kind", "cell", "old"),
    [
        ("key", "01001", "1001"),  # a spreadsheet dropped or kept the id's zeros: the same row
        ("key", "", "row:7"),  # a new row's key is its empty cell
        ("tags", "Newsletter, A-Kunde", "A-Kunde, Newsletter"),  # the same tags in another order
        ("checkbox", "WAHR", "1"),
        ("checkbox", "", "0"),  # an emptied box reads as unchecked
        ("number", "42,0", "42"),
        ("bool", "FALSCH", "0"),
        ("date", "01.02.2024", "2024-02-01"),
        ("text", "1067", "01067"),  # a spreadsheet's rendering of the text
    ],
)
def test_a_cell_as_a_spreadsheet_rewrote_it_still_holds_the_value(
    mapping: Mapping, kind: str, cell: str, old: str
) -> None:
    assert still_holds(mapping.sheets["clients"], kind, cell, old)


@pytest.mark.parametrize(
    ("kind", "cell", "old"),
    [
        ("key", "1002", "1001"),
        ("key", "1001", "row:7"),
        ("tags", "A-Kunde", "A-Kunde, Newsletter"),
        ("checkbox", "0", "1"),
        ("number", "43", "42"),
        ("date", "02.02.2024", "2024-02-01"),
        ("text", "Müller", "Meier"),
        ("text", "", "Meier"),
    ],
)
def test_a_cell_typed_over_does_not_hold_the_value(mapping: Mapping, kind: str, cell: str, old: str) -> None:
    assert not still_holds(mapping.sheets["clients"], kind, cell, old)


def test_what_an_xlsx_cell_cannot_hold_while_csv_holds_anything() -> None:
    long = "x" * (EXCEL_MAX_CHARS + 1)
    assert "characters" in (unstorable(long, EXCEL_MAX_ROWS) or "")
    assert "non-character" in (unstorable("a\ufffeb", EXCEL_MAX_ROWS) or "")
    assert unstorable("x" * EXCEL_MAX_CHARS, EXCEL_MAX_ROWS) is None
    assert unstorable(long, EXCEL_MAX_ROWS * 2) is None  # a CSV folder


def test_the_removed_marker_is_what_desired_skips() -> None:
    from sync.desired import REMOVED_KEY

    assert removed_marker("1002") == "gelöscht-1002" and REMOVED_KEY.match(removed_marker("1002"))
