"""Lock files of Excel and LibreOffice, and the check that a workbook is still the file billsync read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sync.atomic import atomic_path, atomic_write_bytes
from sync.workbook_guard import (
    WorkbookGuard,
    WorkbookInUseError,
    check_not_open,
    lock_files,
    parse_excel_lock,
    parse_libreoffice_lock,
)
from tests.test_workbook_guard_e2e import excel_lock


def word_lock(user: str) -> bytes:
    """Word's layout: the 8-bit name padded with zeros to 54, then length and UTF-16 name."""
    data = bytes([len(user)]) + user.encode("cp1252")
    data += b"\x00" * (54 - len(data))
    data += bytes([len(user), 0]) + user.encode("utf-16-le")
    return data + b"\x00" * (162 - len(data))


def test_excel_lock_user_is_read_from_its_utf16_copy() -> None:
    assert parse_excel_lock(excel_lock("Max Müller")) == "Max Müller"
    assert parse_excel_lock(excel_lock("Ζωή")) == "Ζωή"  # the 8-bit copy could not hold it


def test_word_layout_of_the_owner_file_is_read_as_well() -> None:
    assert parse_excel_lock(word_lock("Erika")) == "Erika"


def test_excel_lock_without_a_utf16_copy_falls_back_to_the_8bit_name() -> None:
    assert parse_excel_lock(bytes([4]) + "Jörg".encode("cp1252") + b" " * 50) == "Jörg"


@pytest.mark.parametrize("data", [b"", b"\x00" * 165, b"\xff" * 10, bytes([60]) + b"x" * 200])
def test_an_unreadable_excel_lock_has_no_user_and_no_error(data: bytes) -> None:
    assert parse_excel_lock(data) == ""


def test_libreoffice_lock_fields_with_escapes() -> None:
    fields = parse_libreoffice_lock(b",Muster\\, Erika,BUERO-PC,16.05.2024 08:12,file:///home/e;")
    assert fields == ["", "Muster, Erika", "BUERO-PC", "16.05.2024 08:12", "file:///home/e"]
    assert parse_libreoffice_lock(b"") == []


def test_lock_files_of_a_workbook_ignore_other_workbooks_and_match_case_insensitively(tmp_path: Path) -> None:
    book = tmp_path / "kunden.xlsx"
    book.write_bytes(b"PK")
    (tmp_path / "~$andere.xlsx").write_bytes(excel_lock("Someone"))
    (tmp_path / ".~lock.andere.xlsx#").write_bytes(b",Other,H,T,U;")
    assert lock_files(book) == []
    (tmp_path / "~$KUNDEN.xlsx").write_bytes(excel_lock("Max"))
    (tmp_path / ".~lock.kunden.xlsx#").write_bytes(b",erika,BUERO-PC,16.05.2024 08:12,file:///x;")
    found = {lock.program: lock for lock in lock_files(book)}
    assert found["Excel"].user == "Max"
    assert found["LibreOffice"].user == "erika" and found["LibreOffice"].host == "BUERO-PC"
    with pytest.raises(WorkbookInUseError) as caught:
        check_not_open(book)
    assert caught.value.exit_code == 1 and "~$KUNDEN.xlsx" in str(caught.value)


def test_an_unreadable_lock_file_still_counts_with_the_user_unknown(tmp_path: Path) -> None:
    book = tmp_path / "kunden.xlsx"
    book.write_bytes(b"PK")
    (tmp_path / "~$kunden.xlsx").mkdir()  # reading it fails like a lock another machine holds
    [lock] = lock_files(book)
    assert lock.user == "" and "unknown user" in lock.who()


def test_csv_folder_locks_are_those_beside_its_csv_files(tmp_path: Path) -> None:
    (tmp_path / "Kunden.csv").write_text("a\n")
    (tmp_path / ".~lock.Kunden.csv#").write_bytes(b",Erika,H,T,U;")
    (tmp_path / ".~lock.notiz.txt#").write_bytes(b",Other,H,T,U;")
    assert [lock.target for lock in lock_files(tmp_path)] == ["Kunden.csv"]


def test_the_guard_refuses_a_file_changed_with_the_same_size_and_time(tmp_path: Path) -> None:
    book = tmp_path / "kunden.xlsx"
    book.write_bytes(b"version 1")
    guard = WorkbookGuard.capture(book)
    stat = book.stat()
    book.write_bytes(b"version 2")
    os.utime(book, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    with pytest.raises(WorkbookInUseError, match="someone saved it during the run"), atomic_path(book, guard=guard) as tmp:
        tmp.write_bytes(b"billsync's version")
    assert book.read_bytes() == b"version 2"


def test_the_guard_lets_the_run_write_twice_and_refuses_a_file_that_appeared(tmp_path: Path) -> None:
    (tmp_path / "Kunden.csv").write_text("a\n")
    guard = WorkbookGuard.capture(tmp_path)
    for content in (b"first\n", b"second\n"):  # billsync's own write is what it expects next
        with atomic_path(tmp_path / "Kunden.csv", guard=guard) as tmp:
            tmp.write_bytes(content)
    assert (tmp_path / "Kunden.csv").read_bytes() == b"second\n"
    atomic_write_bytes(tmp_path / "Konflikte.csv", b"someone else's\n")
    with pytest.raises(WorkbookInUseError, match="did not exist then"):
        guard.check(tmp_path / "Konflikte.csv")
