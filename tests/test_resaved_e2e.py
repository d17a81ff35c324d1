"""End to end (issue #9, points 5 and 6): workbooks re-saved by the programs of a real office.

Through the real CLI against the emulator over HTTP on 127.0.0.1: a CSV folder re-saved by German
Excel, an xlsx re-saved by an openpyxl script, and cells no spreadsheet program makes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.emulator import Emulator
from tests.resave import replace_in_xlsx, resave_csv_folder_as_german_excel, resave_with_openpyxl
from tests.test_push_e2e import HEADER, ID, KUNDEN, Book, cli, no_traceback, pull, serve, writes

pytestmark = pytest.mark.e2e

# Values German Excel re-types, beyond the sample's own: an ISO date, a decimal point, a thousands
# dot, a decimal comma too long for a "Standard" cell.
RETYPED = {"1002": "2026-12-05", "1005": "12.50", "1007": "1.234", "1012": "3,14159265358979"}


def _left_out_line(text: str, file: Path, row: int, column: str) -> str:
    """The one "left out" line naming this file, sheet, row and column."""
    where = f"{file}, sheet {KUNDEN!r}, row {row}, column {column!r}"
    lines = [line for line in text.splitlines() if "left out" in line and where in line]
    assert len(lines) == 1, text
    return lines[0]


def test_a_csv_folder_resaved_by_german_excel_plans_nothing_and_pushes_nothing(tmp_path: Path) -> None:
    emu = serve()
    with emu.running():
        for client, note in RETYPED.items():
            emu.state.update_client(client, {"note": note})
        folder = pull(emu, tmp_path / "kunden-csv")
        pulled = (folder / f"{KUNDEN}.csv").read_bytes()
        resave_csv_folder_as_german_excel(folder)
        saved = (folder / f"{KUNDEN}.csv").read_text(encoding="utf-8-sig")
        for shown in ("1,23457E+16", "05.12.2026", "12,5", "3,141592654", ";1067;"):
            assert shown in saved  # German Excel's renderings are really in the file
        assert saved.encode("utf-8") != pulled
        start = len(emu.requests)
        plan = cli(emu, "plan", "--sheet", str(folder))
        push = cli(emu, "push", "--sheet", str(folder))
        sent = writes(emu, start)
    assert plan.code == 0 and "no changes" in plan.out, plan.text
    assert push.code == 0, push.text
    for result in (plan, push):
        assert "left out" not in result.text and "warning" not in result.text.lower(), result.text
    assert sent == []
    assert emu.state.table("clients")["1019"]["debitor_account_number"] == "00012345678901234567"


def test_a_long_number_edited_then_shortened_by_excel_is_a_row_problem_and_is_not_sent(
    tmp_path: Path,
) -> None:
    emu = serve()
    with emu.running():
        folder = pull(emu, tmp_path / "kunden-csv")
        book = Book(folder)
        book.set(KUNDEN, "1019", HEADER["debitor_account_number"], "12345678901234567890")  # → 1,23457E+19
        book.set(KUNDEN, "1019", HEADER["city"], "Esslingen")  # same row: waits with it
        book.set(KUNDEN, "1002", HEADER["city"], "Potsdam")  # another row: goes through
        book.save()
        resave_csv_folder_as_german_excel(folder)
        row = book.row_of(KUNDEN, ID, "1019")
        start = len(emu.requests)
        result = cli(emu, "push", "--sheet", str(folder))
        sent = writes(emu, start)
    assert result.code == 1, result.text
    line = _left_out_line(result.err, folder / f"{KUNDEN}.csv", row, HEADER["debitor_account_number"])
    assert "'1,23457E+19'" in line and "'00012345678901234567'" in line, line
    assert [(r.method, r.path) for r in sent] == [("PUT", "/clients/1002")]
    clients = emu.state.table("clients")
    assert clients["1019"]["debitor_account_number"] == "00012345678901234567"
    assert clients["1019"]["city"] == "Stuttgart"
    assert clients["1002"]["city"] == "Potsdam"
    no_traceback(result)


def test_a_whitespace_only_note_blanked_by_an_openpyxl_resave_is_no_edit(tmp_path: Path) -> None:
    emu = serve()
    with emu.running():
        assert emu.state.table("clients")["1018"]["note"] == "   "  # the sample's whitespace-only note
        book = pull(emu, tmp_path / "kunden.xlsx")
        resave_with_openpyxl(book)
        start = len(emu.requests)
        plan = cli(emu, "plan", "--sheet", str(book))
        push = cli(emu, "push", "--sheet", str(book))
        sent = writes(emu, start)
    assert plan.code == 0 and "no changes" in plan.out, plan.text
    assert push.code == 0, push.text
    assert sent == []
    assert emu.state.table("clients")["1018"]["note"] == "   "


def _put_long_note(emu: Emulator, book_path: Path, note: str) -> int:
    """Client 1005's note becomes `note` (past openpyxl's cut at 32,767 for xlsx); its sheet row."""
    book = Book(book_path)
    book.set(KUNDEN, "1002", HEADER["city"], "Potsdam")
    row = book.row_of(KUNDEN, ID, "1005")
    book.set(KUNDEN, "1005", HEADER["note"], note if book.is_csv else "LANGE-NOTIZ")
    book.save()
    if not book.is_csv:
        replace_in_xlsx(book_path, "LANGE-NOTIZ", note)
    return row


@pytest.mark.parametrize("form", ["xlsx", "csv"])
@pytest.mark.parametrize("command", ["plan", "push"])
def test_a_cell_of_40000_characters_is_a_row_problem_and_the_other_rows_go_through(
    tmp_path: Path, form: str, command: str
) -> None:
    emu = serve()
    note = "Lieferhinweis " * 2857 + "xx"  # 40,000 characters
    assert len(note) == 40_000
    with emu.running():
        path = pull(emu, tmp_path / ("kunden.xlsx" if form == "xlsx" else "kunden-csv"))
        row = _put_long_note(emu, path, note)
        start = len(emu.requests)
        result = cli(emu, command, "--sheet", str(path))
        sent = writes(emu, start)
    assert result.code == 1, result.text
    file = path if form == "xlsx" else path / f"{KUNDEN}.csv"
    line = _left_out_line(result.err, file, row, HEADER["note"])
    assert "40,000 characters" in line and "32,767" in line, line
    assert note not in result.text
    clients = emu.state.table("clients")
    assert clients["1005"].get("note", "") == ""
    if command == "push":
        assert [(r.method, r.path) for r in sent] == [("PUT", "/clients/1002")]
        assert clients["1002"]["city"] == "Potsdam"
    else:
        assert sent == []
    no_traceback(result)
