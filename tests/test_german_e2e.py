"""End to end (issue 11 points 5, 6): messages name the record; what the accountants read is German."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from sync.emulator import Emulator
from tests.e2e import billomat_env, pull_once, run_cli, sample_emulator

pytestmark = pytest.mark.e2e


@pytest.fixture
def emu():
    """The sample account (copy reading of contact inheritance)."""
    emulator = sample_emulator("copy")
    with emulator.running():
        yield emulator


def cli(emu: Emulator, *args: str):  # noqa: ANN201
    return run_cli([*args, "--no-progress"], billomat_env(emu.billomat_url))


def pulled(emu: Emulator, tmp_path: Path) -> Path:
    path = tmp_path / "kunden.xlsx"
    result = pull_once(emu, ["pull", "--out", str(path), "--no-progress"], billomat_env(emu.billomat_url))
    assert result.code == 0, result.text
    return path


def edit(path: Path, client_id: str, header: str, value: str | None) -> None:
    """An accountant's edit of one Kunden cell (the key is in column A)."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    col = {c.value: c.column for c in ws[1]}[header]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == client_id)
    ws.cell(row, col).value = value
    wb.save(path)


def rows(path: Path, sheet: str) -> list[tuple]:
    return list(openpyxl.load_workbook(path)[sheet].iter_rows(values_only=True))


def test_an_edited_vs_deleted_conflict_names_the_record_and_says_datensatz(emu, tmp_path):
    path = pulled(emu, tmp_path)
    client = emu.state.table("clients")["1030"]
    edit(path, "1030", "Ort", "Rostock")
    emu.state.delete_client("1030")
    result = cli(emu, "sync", "--sheet", str(path))
    assert result.code == 1, result.text
    line = next(line for line in result.text.splitlines() if "conflict (edited_vs_deleted" in line)
    # id, client number and name; "Datensatz" for a whole record, never an empty column name.
    assert f"client 1030 {client['client_number']} {client['name']}" in line
    assert "Datensatz" in line and ", :" not in line
    konflikte = rows(path, "Konflikte")
    head, row = konflikte[0], konflikte[1]
    cell = dict(zip(head, row, strict=True))
    assert cell["Datensatz"] == f"1030 {client['client_number']} {client['name']}"
    assert cell["Spalte"] == "Datensatz" and cell["Ressource"] == "Kunde"
    assert isinstance(cell["Zeile"], int)


def test_konflikte_speaks_german_and_its_decision_is_read_back(emu, tmp_path):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Telefon", "+49 341 1111")
    emu.state.update_client("1003", {"phone": "+49 341 2222"})
    assert cli(emu, "sync", "--sheet", str(path)).code == 1
    konflikte = rows(path, "Konflikte")
    head = konflikte[0]
    cell = dict(zip(head, konflikte[1], strict=True))
    # Issue 11 (6): no `clients`, no `phone` — the workbook's header and German words.
    assert (cell["Ressource"], cell["Schlüssel"], cell["Feld-ID"], cell["Spalte"]) == ("Kunde", "1003", "Telefon", "Telefon")
    assert "1003 KD00003" in cell["Datensatz"]
    assert not any(isinstance(v, str) and v in ("clients", "phone") for row in konflikte for v in row)
    # The accountant decides in German; the next sync reads it back and Billomat's value wins.
    wb = openpyxl.load_workbook(path)
    ws = wb["Konflikte"]
    ws.cell(2, head.index("Entscheidung") + 1).value = "Billomat"
    wb.save(path)
    result = cli(emu, "sync", "--sheet", str(path))
    assert result.code == 0, result.text
    kunden = rows(path, "Kunden")
    tel = kunden[0].index("Telefon")
    assert next(r for r in kunden if r[0] == "1003")[tel] == "+49 341 2222"


def delete_row(path: Path, client_id: str) -> None:
    """The accountant deletes a Kunden row."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    ws.delete_rows(next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == client_id))
    wb.save(path)


def test_row_problems_and_held_deletes_name_their_record_in_the_terminal_and_the_report(emu, tmp_path):
    path = pulled(emu, tmp_path)
    clients = emu.state.table("clients")
    edit(path, "1005", "E-Mail", "praxis(at)weiss.example")
    delete_row(path, "1030")
    report = tmp_path / "plan.xlsx"
    result = cli(emu, "plan", "--sheet", str(path), "--report", str(report))
    five, gone = clients["1005"], clients["1030"]
    problem = next(line for line in result.text.splitlines() if "praxis(at)weiss.example" in line)
    assert f"(1005 {five['client_number']} {five['name']})" in problem
    held = next(line for line in result.text.splitlines() if "delete client 1030" in line)
    assert f"{gone['client_number']} {gone['name']}" in held
    wb = openpyxl.load_workbook(report)
    probleme = [dict(zip([c.value for c in wb["Probleme"][1]], r, strict=True))
                for r in wb["Probleme"].iter_rows(min_row=2, values_only=True)]
    row = next(p for p in probleme if p["Spalte"] == "E-Mail")
    assert row["Datensatz"] == f"1005 {five['client_number']} {five['name']}" and isinstance(row["Zeile"], int)
    held_rows = list(wb["Zurückgehalten"].iter_rows(min_row=2, values_only=True))
    assert held_rows[0][2:4] == ("1030", f"{gone['client_number']} {gone['name']}")
