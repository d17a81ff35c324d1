"""Tests for sync.cellvalues: what a spreadsheet did to a value, recognised and undone where provable."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.cellvalues import (
    canonical_bool,
    canonical_date,
    canonical_number,
    lossy_rendering,
    spreadsheet_rendering,
)
from sync.emulator import load_seed
from sync.frames import RESOURCES
from tests.resave import german_excel_cell

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("current", "cell"),
    [
        ("01067", "1067"),  # leading zero lost
        ("00421", "421"),
        ("+4930123456", "4930123456"),  # "+" read as the sign
        (" 42", "42"),
        ("1.0", "1"),  # trailing decimal zeros
        ("0,5", "0.5"),  # German decimal comma, re-read by a German Excel
        ("12345678901234567890", "1.23456789012346E+019"),  # LibreOffice CSV, 15 digits
        ("00012345678901234567", "1.23456789012346e+16"),  # an xlsx number cell (cell_text)
        ("12345678901234567890", "1,23457E+19"),  # a German Excel CSV shows 6 digits
        ("1e5", "1.00E+05"),
        ("0503E000", "5.03E+02"),
        ("TRUE", "1"),  # re-read as a boolean
        ("falsch", "0"),
        ("01.02.2024", "2024-02-01"),  # re-read as a date
        ("3/4", "03/04/26"),  # LibreOffice (en-US) CSV display format, year added
        ("1.2.", "2026-02-01"),
        ("10:30", "10:30:00"),
        ("50%", "0.5"),
        ("Zeile 1\r\nZeile 2", "Zeile 1\nZeile 2"),  # LibreOffice saves CR LF and a lone CR as LF
        ("\rAlte Notiz", "\nAlte Notiz"),
        ("   ", ""),  # a whitespace-only value that openpyxl's re-save blanked
        ("\n", ""),
        ("00012345678901234567", "1,23457E+16"),  # German Excel CSV: 6 digits, decimal comma
        ("12.50", "12,5"),  # German Excel: decimal comma, trailing zero gone
        ("1.234", "1234"),  # German Excel reads the dot as a thousands separator
        ("2026-12-05", "05.12.2026"),  # German Excel CSV date display
        ("TRUE", "WAHR"),
        ("FALSE", "FALSCH"),
        ("3.14159265358979", "3,141592654"),  # General shows 11 characters
        ("0.1234567890123456789", "0.123456789012346"),  # Excel keeps 15 digits
        ("1234567890.5", "1234567891"),
    ],
)
def test_spreadsheet_rewrites_are_recognised(current: str, cell: str) -> None:
    assert spreadsheet_rendering(cell, current)


@pytest.mark.parametrize(
    ("current", "cell"),
    [
        ("01067", "1068"),
        ("01067", ""),  # emptied: an edit
        ("+49 30 123", "4930123"),  # with blanks it was never a number
        ("12345678901234567890", "12345678901234500000"),  # no exponent: must be exact
        ("12345678901234567890", "1.23456789012347E+019"),
        ("1.2", "1.2.2025"),  # a typed date, not a spreadsheet's display
        ("01.02.2024", "2024-02-02"),
        ("01.02.2024", "2025-02-01"),
        ("TRUE", "0"),
        ("Zeile 1\r\nZeile 2", "Zeile 1 Zeile 2"),
        ("A-Kunde", "a-kunde"),  # case is the diff's normalisation, not a repair
        (" x ", ""),  # not whitespace-only: emptied by a person
        ("00012345678901234567", "1,23457E+19"),  # an exponent form of another number
        ("0.123456789012", "0,12"),  # rounded by a person, not to General's width
        ("3.14159", "3,14"),
        ("0.125", "125"),  # a leading 0 is no thousands group
        ("1.234", "1235"),
    ],
)
def test_real_edits_are_not_repaired(current: str, cell: str) -> None:
    assert not spreadsheet_rendering(cell, current)


def test_german_excel_renders_every_sample_value_recognisably() -> None:
    """Every value of the sample account, as German Excel re-saves it in a CSV, is no change."""
    account = load_seed(REPO / "sample_data")
    values = {
        value
        for name in RESOURCES
        for record in getattr(account, name)
        for value in record.values()
        if isinstance(value, str)
    }
    rewritten = {value: german_excel_cell(value) for value in values}
    assert sum(cell != value for value, cell in rewritten.items()) >= 10  # the helper rewrites for real
    assert [value for value, cell in rewritten.items() if not spreadsheet_rendering(cell, value)] == []


@pytest.mark.parametrize(
    ("cell", "current", "kind", "words"),
    [
        ("1,23457E+19", "00012345678901234567", "text", ["20-digit", "6 digits", "'00012345678901234567'"]),
        ("1,23457E+19", "00012345678901234567", "number", ["20-digit", "'00012345678901234567'"]),
        ("1,23457E+16", None, "text", ["17-digit number", "all digits as text"]),  # a new row
        ("1.23456789012345e+16", "", "number", ["15 digits"]),  # an xlsx number cell Excel rounded
        ("1E+17", "5", "text", ["18-digit"]),
        ("1069", "01067", "text", ["leading zeros", "'01067'", "'01069'"]),
        ("42", "00042", "text", ["'00042'"]),
    ],
)
def test_lossy_renderings_say_what_was_expected(
    cell: str, current: str | None, kind: str, words: list[str]
) -> None:
    why = lossy_rendering(cell, current, kind)
    assert why is not None
    for word in words:
        assert word in why, (word, why)


@pytest.mark.parametrize(
    ("cell", "current", "kind"),
    [
        ("10115", "01067", "text"),  # a new zip of full length
        ("1069", "01067", "number"),  # leading zeros mean nothing in a number column
        ("1069", "1067", "text"),
        ("1.5e-05", "", "number"),  # a small number Python writes in exponent form: exact
        ("1e5", "", "text"),  # typed by a person (Excel shows a sign and two exponent digits)
        ("1,5E+03", "", "text"),  # fits General's width: not a shortened long number
        ("1.2345678901234568e+16", "", "number"),  # 17 digits: every digit is there
        ("Müller", "01067", "text"),
    ],
)
def test_edits_that_are_no_lossy_rendering(cell: str, current: str | None, kind: str) -> None:
    assert lossy_rendering(cell, current, kind) is None


@pytest.mark.parametrize(
    ("text", "want"),
    [("42.0", "42"), ("42", "42"), ("0,5", "0.5"), ("1.234,50", "1234.5"), ("1.0E+15", "1000000000000000"),
     ("-3,00", "-3"), ("007", "007"), (" 12 ", "12"), ("abc", None), ("1,2,3", None), ("", None),
     ("1e999999", None)],
)  # fmt: skip
def test_canonical_number(text: str, want: str | None) -> None:
    assert canonical_number(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [("1", "1"), ("0", "0"), ("WAHR", "1"), ("falsch", "0"), ("TRUE", "1"), ("False", "0"), ("ja", "1"),
     ("Nein", "0"), ("x", "1"), (" X ", "1"), ("vielleicht", None)],
)  # fmt: skip
def test_canonical_bool(text: str, want: str | None) -> None:
    assert canonical_bool(text) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [("2024-02-01", "2024-02-01"), ("2024-02-01T00:00:00", "2024-02-01"), ("2024-02-01T08:15:00", "2024-02-01"),
     ("01.02.2024", "2024-02-01"), ("1.2.2024", "2024-02-01"), ("01.02.24", "2024-02-01"),
     ("2024-02-01T10:00:00+01:00", "2024-02-01"), ("45323", "2024-02-01"), ("31.02.2024", None),
     ("morgen", None), ("2024-13-01", None)],
)  # fmt: skip
def test_canonical_date(text: str, want: str | None) -> None:
    assert canonical_date(text) == want
