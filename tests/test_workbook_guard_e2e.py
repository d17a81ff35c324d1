"""End to end: a workbook that is open in Excel/LibreOffice, or saved while billsync runs, is never rewritten.

Through the real CLI against the emulator (SPEC §4 "The workbook is shared with people"): the run exits 1,
names the lock file and who holds it (or the file that changed), changes not a byte of the workbook, and
the next run completes exactly what was left; a third run writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

import sync.jobs.one_way
import sync.jobs.prepare
import sync.jobs.two_way
from sync.clock import FakeClock
from sync.emulator import Emulator, EmulatorConfig, load_seed
from tests.e2e import API_KEY, REPO, billomat_env, pull_once, run_cli
from tests.test_sync_e2e import edit, kunden, writes

pytestmark = pytest.mark.e2e

NEW_FIRM = "Neu aus der Arbeitsmappe GmbH"


@pytest.fixture
def emu():
    """The sample account, served fresh for each test (writes are counted per test)."""
    emulator = Emulator(
        EmulatorConfig(
            billomat_id="musterfirma", api_key=API_KEY, account=load_seed(REPO / "sample_data"), clock=FakeClock()
        )
    )
    with emulator.running():
        yield emulator


def run(emu: Emulator, command: str, path: Path, *extra: str):  # noqa: ANN201
    flag = "--out" if command == "pull" else "--sheet"
    return run_cli([command, flag, str(path), "--no-progress", *extra], billomat_env(emu.billomat_url))


def pulled(emu: Emulator, tmp_path: Path, name: str = "kunden.xlsx") -> Path:
    path = tmp_path / name
    result = pull_once(emu, ["pull", "--out", str(path), "--no-progress"], billomat_env(emu.billomat_url))
    assert result.code == 0, result.text
    return path


def add_row(path: Path) -> None:
    """A new client row typed into the workbook (no id yet)."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    col = {c.value: c.column for c in ws[1]}
    row = ws.max_row + 1
    ws.cell(row, col["Billomat-ID"]).value = "neu-1"
    ws.cell(row, col["Firma"]).value = NEW_FIRM
    ws.cell(row, col["Ort"]).value = "Bautzen"
    wb.save(path)


def assert_a_third_run_writes_nothing(emu: Emulator, command: str, path: Path) -> None:
    settled, sent = path.read_bytes(), len(writes(emu))
    third = run(emu, command, path)
    assert third.code == 0, third.text
    assert path.read_bytes() == settled and len(writes(emu)) == sent


def created(emu: Emulator) -> list[dict[str, str]]:
    return [c for c in emu.state.clients if c["name"] == NEW_FIRM]


def excel_lock(user: str) -> bytes:
    """An Excel owner file (165 bytes): length, 8-bit name padded with blanks to 55, length, UTF-16 name."""
    data = bytes([len(user)]) + user.encode("cp1252", errors="replace")  # Windows' 8-bit code page
    data += b" " * (55 - len(data))
    data += bytes([len(user), 0]) + user.encode("utf-16-le")
    while len(data) < 165:
        data += b" \x00"
    return data[:165]


def libreoffice_lock(user: str) -> bytes:
    return f",{user},BUERO-PC,16.05.2024 08:12,file:///home/erika/.config/libreoffice/4;".encode()


LOCKS: dict[str, Callable[[Path], tuple[Path, bytes, str]]] = {
    "excel": lambda p: (p.parent / f"~${p.name}", excel_lock("Max Müller"), "Max Müller"),
    "libreoffice": lambda p: (p.parent / f".~lock.{p.name}#", libreoffice_lock("Erika Muster"), "Erika Muster"),
}


def lock(path: Path, kind: str) -> tuple[Path, str]:
    """Open the workbook 'in' Excel or LibreOffice: its lock file beside it. Returns (lock file, user)."""
    lock_path, data, user = LOCKS[kind](path)
    lock_path.write_bytes(data)
    return lock_path, user


# ---------------------------------------------------------------------------------------------------
# Lock files at the start of a run
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(LOCKS))
def test_sync_of_a_workbook_open_in_a_spreadsheet_program_changes_nothing_and_the_next_run_completes(
    emu, tmp_path, kind
):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")
    emu.state.update_client("1005", {"city": "Görlitz"})
    lock_path, user = lock(path, kind)
    before, sent = path.read_bytes(), len(writes(emu))

    result = run(emu, "sync", path)

    assert result.code == 1, result.text
    assert str(lock_path) in result.err and user in result.err
    assert "Close it in" in result.err and f"delete {lock_path}" in result.err
    assert path.read_bytes() == before
    assert not (tmp_path / "kunden.bak.xlsx").exists()
    assert len(writes(emu)) == sent  # nothing went to Billomat either: the next run does all of it

    lock_path.unlink()
    second = run(emu, "sync", path)
    assert second.code == 0, second.text
    assert emu.state.table("clients")["1003"]["city"] == "Leipzig"
    assert kunden(path)["1005"]["Ort"] == "Görlitz"

    assert_a_third_run_writes_nothing(emu, "sync", path)


@pytest.mark.parametrize("kind", sorted(LOCKS))
def test_push_of_a_workbook_open_in_a_spreadsheet_program_changes_nothing_and_the_next_run_writes_the_ids(
    emu, tmp_path, kind
):
    path = pulled(emu, tmp_path)
    add_row(path)
    lock_path, user = lock(path, kind)
    before = path.read_bytes()

    result = run(emu, "push", path)

    assert result.code == 1, result.text
    assert str(lock_path) in result.err and user in result.err
    assert path.read_bytes() == before
    assert created(emu) == []

    lock_path.unlink()
    second = run(emu, "push", path)
    assert second.code == 0, second.text
    [record] = created(emu)
    assert kunden(path)[record["id"]]["Firma"] == NEW_FIRM

    assert_a_third_run_writes_nothing(emu, "push", path)


def test_a_lock_beside_one_csv_file_stops_the_sync_of_the_whole_folder(emu, tmp_path):
    folder = pulled(emu, tmp_path, "csv")
    emu.state.update_client("1005", {"city": "Görlitz"})
    lock_path = folder / ".~lock.Kontakte.csv#"
    lock_path.write_bytes(libreoffice_lock("Erika Muster"))
    before = {p.name: p.read_bytes() for p in folder.iterdir()}

    result = run(emu, "sync", folder)

    assert result.code == 1, result.text
    assert str(lock_path) in result.err and "Erika Muster" in result.err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    lock_path.unlink()
    assert run(emu, "sync", folder).code == 0
    assert kunden(folder)["1005"]["Ort"] == "Görlitz"


def test_plan_of_an_open_workbook_says_who_has_it_open_and_still_plans(emu, tmp_path):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")
    lock_path, user = lock(path, "libreoffice")
    result = run(emu, "plan", path)
    assert result.code == 1, result.text  # a change is pending
    assert "update client 1003" in result.out
    assert str(lock_path) in result.err and user in result.err and "last saved version" in result.err


# ---------------------------------------------------------------------------------------------------
# Opened or saved while the run was going on
# ---------------------------------------------------------------------------------------------------


def during(monkeypatch: pytest.MonkeyPatch, module: object, name: str, action: Callable[[], None]) -> None:
    """Run `action` (someone saving or opening the workbook) right after `module.name` did its work."""
    real = getattr(module, name)

    def wrapped(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)
        action()
        return result

    monkeypatch.setattr(module, name, wrapped)


def test_a_workbook_saved_while_billomat_was_read_is_not_written_and_nothing_goes_to_billomat(
    emu, tmp_path, monkeypatch
):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")
    emu.state.update_client("1005", {"city": "Görlitz"})
    sent = len(writes(emu))
    during(monkeypatch, sync.jobs.prepare, "extract_account", lambda: edit(path, "1007", "Ort", "Zwickau"))

    result = run(emu, "sync", path)

    assert result.code == 1, result.text
    assert str(path) in result.err and "someone saved it during the run" in result.err
    assert len(writes(emu)) == sent
    assert kunden(path)["1005"]["Ort"] != "Görlitz" and kunden(path)["1007"]["Ort"] == "Zwickau"
    monkeypatch.undo()
    assert run(emu, "sync", path).code == 0
    clients = emu.state.table("clients")
    assert clients["1003"]["city"] == "Leipzig" and clients["1007"]["city"] == "Zwickau"
    assert kunden(path)["1005"]["Ort"] == "Görlitz"


def test_a_workbook_saved_during_the_billomat_writes_of_a_sync_is_not_written_and_the_next_sync_completes(
    emu, tmp_path, monkeypatch
):
    path = pulled(emu, tmp_path)
    add_row(path)
    edit(path, "1003", "Ort", "Leipzig")
    emu.state.update_client("1005", {"city": "Görlitz"})
    saved: list[bytes] = []

    def save() -> None:
        edit(path, "1007", "Ort", "Zwickau")
        saved.append(path.read_bytes())

    during(monkeypatch, sync.jobs.two_way, "apply_plan", save)
    result = run(emu, "sync", path)

    assert result.code == 1, result.text
    assert str(path) in result.err and "someone saved it during the run" in result.err
    assert "went to Billomat" in result.err
    assert path.read_bytes() == saved[0]  # the accountant's save, not a byte of billsync's
    assert len(created(emu)) == 1 and emu.state.table("clients")["1003"]["city"] == "Leipzig"

    monkeypatch.undo()
    second = run(emu, "sync", path)
    assert second.code == 0, second.text
    [record] = created(emu)  # adopted by its marker, not created twice, no conflict
    rows = kunden(path)
    assert rows[record["id"]]["Firma"] == NEW_FIRM and "neu-1" not in rows
    assert rows["1005"]["Ort"] == "Görlitz" and rows["1007"]["Ort"] == "Zwickau"
    assert emu.state.table("clients")["1007"]["city"] == "Zwickau"

    assert_a_third_run_writes_nothing(emu, "sync", path)


@pytest.mark.parametrize("kind", sorted(LOCKS))
def test_a_workbook_opened_during_a_push_gets_no_ids_and_the_next_push_finds_the_records(
    emu, tmp_path, monkeypatch, kind
):
    path = pulled(emu, tmp_path)
    add_row(path)
    before = path.read_bytes()
    opened: list[tuple[Path, str]] = []
    during(monkeypatch, sync.jobs.one_way, "apply_plan", lambda: opened.append(lock(path, kind)))

    result = run(emu, "push", path)

    assert result.code == 1, result.text
    lock_path, user = opened[0]
    assert str(lock_path) in result.err and user in result.err and "went to Billomat" in result.err
    assert path.read_bytes() == before
    assert len(created(emu)) == 1

    monkeypatch.undo()
    lock_path.unlink()
    second = run(emu, "push", path)
    assert second.code == 0, second.text
    [record] = created(emu)
    assert kunden(path)[record["id"]]["Firma"] == NEW_FIRM

    assert_a_third_run_writes_nothing(emu, "push", path)
