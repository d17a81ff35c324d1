"""End to end: the sheet Löschungen (SPEC §9) — held deletes decided in the workbook — through the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from sync.held_deletes import HEADERS, LOESCHUNGEN, NO_DELETES
from sync.workbook.owned import KONFLIKTE, owned_rows
from tests import test_sync_e2e
from tests.e2e import billomat_env, run_cli
from tests.test_sync_e2e import kunden, pulled, sync, writes

pytestmark = pytest.mark.e2e
emu = test_sync_e2e.emu  # the sample account in the emulator (a fixture)


def delete_rows(path: Path, *client_ids: str, sheet: str = "Kunden") -> dict[str, int]:
    """The accountant deletes whole rows by the id in column A (openpyxl stands in for Excel); the rows
    they had before any was deleted."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    rows = {str(ws.cell(r, 1).value): r for r in range(2, ws.max_row + 1)}
    for client_id in client_ids:
        row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == client_id)
        ws.delete_rows(row)
    wb.save(path)
    return {client_id: rows[client_id] for client_id in client_ids}


def decide(path: Path, **words: str) -> None:
    """The accountant types löschen / behalten into Entscheidung, by Billomat-ID."""
    wb = openpyxl.load_workbook(path)
    ws = wb[LOESCHUNGEN]
    col = {c.value: c.column for c in ws[1]}
    for r in range(2, ws.max_row + 1):
        word = words.get(f"id{ws.cell(r, col['Billomat-ID']).value}")
        if word:
            ws.cell(r, col["Entscheidung"]).value = word
    wb.save(path)


def listed(path: Path) -> dict[str, dict[str, str]]:
    """Löschungen rows by Billomat-ID."""
    rows = owned_rows(path, LOESCHUNGEN)
    assert rows[0] == list(HEADERS)
    entries = [dict(zip(HEADERS, row, strict=False)) for row in rows[1:]]
    return {entry["Billomat-ID"]: entry for entry in entries if entry["Billomat-ID"]}


def test_held_deletes_are_listed_then_deleted_or_kept_as_the_accountant_decides(emu, tmp_path):
    path = pulled(emu, tmp_path)
    rows = delete_rows(path, "1007", "1026")
    held = sync(emu, path)
    assert held.code == 1, held.text
    assert "1007" in emu.state.table("clients") and "1026" in emu.state.table("clients")
    assert "2 held delete(s) listed in sheet 'Löschungen'" in held.text
    entries = listed(path)
    assert set(entries) == {"1007", "1026"}
    assert [entries["1007"][h] for h in ("Blatt", "Zeile", "Kundennummer", "Name")] == [
        "Kunden",
        str(rows["1007"]),  # the row it came from, not where the rows below it moved up to
        "KD00007",
        "Ingenieurbüro Krämer",
    ]
    assert entries["1026"]["Zeile"] == str(rows["1026"])
    assert "clients" not in {cell for row in owned_rows(path, LOESCHUNGEN) for cell in row}  # German only
    assert "--allow-deletes" in entries["1007"]["Grund"] and entries["1007"]["Entscheidung"] == ""

    decide(path, id1007="löschen", id1026="behalten")
    decided = sync(emu, path)
    assert decided.code == 0, decided.text
    assert "1007" not in emu.state.table("clients")  # deleted without --allow-deletes: the accountant decided
    assert "1026" in emu.state.table("clients")
    assert "1026" in kunden(path) and "1007" not in kunden(path)  # the kept client's row is back
    assert kunden(path)["1026"]["Firma"] == "Nur Name GmbH"
    assert owned_rows(path, LOESCHUNGEN)[1][0] == NO_DELETES

    before = len(writes(emu))
    again = sync(emu, path)
    assert again.code == 0, again.text
    assert len(writes(emu)) == before


def test_a_listed_delete_whose_row_reappears_leaves_the_list_by_itself(emu, tmp_path):
    path = pulled(emu, tmp_path)
    saved = tmp_path / "saved.xlsx"
    shutil.copy(path, saved)
    delete_rows(path, "1007")
    assert sync(emu, path).code == 1
    assert set(listed(path)) == {"1007"}
    # The accountant pastes the row back (here: the rows of the copy from before, into the Kunden sheet).
    source = openpyxl.load_workbook(saved)["Kunden"]
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    for row in source.iter_rows(min_row=2):
        if row[0].value == "1007":
            ws.append([cell.value for cell in row])
    wb.save(path)
    back = sync(emu, path)
    assert back.code == 0, back.text
    assert listed(path) == {} and "1007" in emu.state.table("clients")


def test_a_csv_folder_gets_loeschungen_csv(emu, tmp_path):
    folder = tmp_path / "csv"
    assert run_cli(["pull", "--out", str(folder), "--no-progress"], billomat_env(emu.billomat_url)).code == 0
    kunden_csv = folder / "Kunden.csv"
    lines = kunden_csv.read_bytes().split(b"\r\n")
    kunden_csv.write_bytes(b"\r\n".join(line for line in lines if not line.startswith(b"1007;")))
    held = sync(emu, folder)
    assert held.code == 1, held.text
    rows = owned_rows(folder, LOESCHUNGEN)
    assert rows[0] == list(HEADERS) and [row[:3] for row in rows[1:]] == [["Kunden", "8", "1007"]]
    assert (folder / "Löschungen.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    lines = (folder / "Löschungen.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[1].endswith(";")  # Entscheidung, the last column, is empty
    (folder / "Löschungen.csv").write_text("\r\n".join([lines[0], lines[1] + "löschen", ""]), encoding="utf-8-sig")
    pushed = run_cli(["push", "--sheet", str(folder), "--no-progress"], billomat_env(emu.billomat_url))
    assert pushed.code == 0, pushed.text
    assert "1007" not in emu.state.table("clients")
    assert owned_rows(folder, LOESCHUNGEN)[1][0] == NO_DELETES  # push rewrote Löschungen.csv too


def test_push_deletes_what_the_accountant_marked_loeschen_without_the_flag(emu, tmp_path):
    path = pulled(emu, tmp_path)
    delete_rows(path, "1007")
    assert sync(emu, path).code == 1
    decide(path, id1007="löschen")
    pushed = run_cli(["push", "--sheet", str(path), "--no-progress"], billomat_env(emu.billomat_url))
    assert pushed.code == 0, pushed.text
    assert "1007" not in emu.state.table("clients")
    assert owned_rows(path, LOESCHUNGEN)[1][0] == NO_DELETES  # push rewrote the sheet: the decided entry left


def test_push_rewrites_loeschungen_and_leaves_konflikte_to_sync(emu, tmp_path):
    path = pulled(emu, tmp_path)
    test_sync_e2e.edit(path, "1003", "Ort", "Leipzig")
    emu.state.update_client("1003", {"city": "Dresden"})  # a conflict, listed in Konflikte by sync
    delete_rows(path, "1007")
    assert sync(emu, path).code == 1
    konflikte = owned_rows(path, KONFLIKTE)
    decide(path, id1007="löschen")
    rows = delete_rows(path, "1026")
    pushed = run_cli(["push", "--sheet", str(path), "--no-progress"], billomat_env(emu.billomat_url))
    assert pushed.code == 1, pushed.text  # 1026 held, 1003 a conflict
    assert "1007" not in emu.state.table("clients") and "1026" in emu.state.table("clients")
    assert "1 held delete(s) listed in sheet 'Löschungen'" in pushed.text
    entries = listed(path)
    assert set(entries) == {"1026"} and entries["1026"]["Zeile"] == str(rows["1026"])
    assert owned_rows(path, KONFLIKTE) == konflikte
    decide(path, id1026="löschen")
    before = path.read_bytes()
    planned = run_cli(["plan", "--sheet", str(path)], billomat_env(emu.billomat_url))
    assert "1026" in planned.text, planned.text
    assert path.read_bytes() == before  # plan reads only


def test_loeschungen_names_the_row_a_record_appended_by_sync_came_from(emu, tmp_path):
    path = pulled(emu, tmp_path)
    created = emu.state.create_client({"name": "Frisch aus Billomat GmbH", "city": "Dresden"})
    assert sync(emu, path).code == 0  # its row is appended to Kunden
    contact = next(c for c in emu.state.contacts if c["client_id"] == "1003")["id"]
    rows = {**delete_rows(path, created["id"]), **delete_rows(path, contact, sheet="Kontakte")}
    held = sync(emu, path)
    assert held.code == 1, held.text
    entries = listed(path)
    assert (entries[created["id"]]["Blatt"], entries[created["id"]]["Zeile"]) == ("Kunden", str(rows[created["id"]]))
    assert (entries[contact]["Blatt"], entries[contact]["Zeile"]) == ("Kontakte", str(rows[contact]))
    # Still held the next night: still the row it came from.
    assert sync(emu, path).code == 1
    assert listed(path)[created["id"]]["Zeile"] == str(rows[created["id"]])


def test_a_row_push_created_a_client_from_is_the_row_loeschungen_names(emu, tmp_path):
    path = pulled(emu, tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    col = {c.value: c.column for c in ws[1]}
    new_row = ws.max_row + 1
    ws.cell(new_row, col["Firma"]).value = "Neu per Push GmbH"
    wb.save(path)
    pushed = run_cli(["push", "--sheet", str(path), "--no-progress"], billomat_env(emu.billomat_url))
    assert pushed.code == 0, pushed.text
    new_id = next(key for key, row in kunden(path).items() if row["Firma"] == "Neu per Push GmbH")
    assert delete_rows(path, new_id) == {new_id: new_row}
    assert sync(emu, path).code == 1
    assert listed(path)[new_id]["Zeile"] == str(new_row)


def test_a_delete_held_by_max_deletes_gives_its_reason_in_german(emu, tmp_path):
    path = pulled(emu, tmp_path)
    delete_rows(path, "1007", "1026")
    held = sync(emu, path, "--allow-deletes", "--max-deletes", "1")
    assert held.code == 1, held.text
    reason = listed(path)["1007"]["Grund"]
    assert reason == (
        "zurückgehalten: 2 Löschungen (Kunden) über --max-deletes 1; mit --max-deletes 2 oder der Entscheidung "
        "„löschen“ erlaubt"
    )
    assert "2 clients deletes exceed --max-deletes 1" in held.text  # the terminal: English for the IT person
