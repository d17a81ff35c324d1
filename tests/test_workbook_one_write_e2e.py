"""End to end: a run writes the workbook at most once (one .bak), and a run with nothing to do writes nothing."""

# ruff: noqa: F811  (`emu` is the fixture of tests/test_sync_e2e.py, imported to be shared)

from __future__ import annotations

import os
from pathlib import Path

import openpyxl
import pytest

from sync.workbook.save import backup_path
from tests.e2e import billomat_env, run_cli
from tests.test_sync_e2e import edit, emu, kunden, pulled  # noqa: F401

pytestmark = pytest.mark.e2e


def _replaces_onto(monkeypatch: pytest.MonkeyPatch, target: Path) -> list[Path]:
    """Every os.replace that lands on `target` (the only way billsync puts a workbook in place)."""
    seen: list[Path] = []
    real = os.replace

    def counting(src, dst, *args, **kwargs):  # noqa: ANN001, ANN202
        if Path(dst) == target:
            seen.append(Path(src))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", counting)
    return seen


def _add_row(path: Path, firma: str) -> None:
    """A new row without an id, as an accountant types it (openpyxl stands in for Excel)."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    col = {c.value: c.column for c in ws[1]}
    row = ws.max_row + 1
    ws.cell(row, col["Firma"]).value = firma
    ws.cell(row, col["Ort"]).value = "Leipzig"
    wb.save(path)


def _sync(emu, path: Path):  # noqa: ANN001, ANN202
    return run_cli(["sync", "--sheet", str(path), "--no-progress"], billomat_env(emu.billomat_url))


def test_a_sync_with_changes_both_ways_and_new_rows_writes_the_workbook_once(emu, tmp_path, monkeypatch):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")
    _add_row(path, "Ganz Neu GmbH")
    emu.state.update_client("1005", {"email": "neu@praxis-weiss.de"})
    emu.state.update_client("1007", {"city": "Dresden"})
    edit(path, "1007", "Ort", "Halle")  # a held conflict: the Konflikte sheet is written too
    before_run = path.read_bytes()
    replaces = _replaces_onto(monkeypatch, path)
    result = _sync(emu, path)
    assert result.code == 1, result.text
    assert len(replaces) == 1, replaces
    rows = kunden(path)
    assert rows["1005"]["E-Mail"] == "neu@praxis-weiss.de"  # Billomat's change
    new_id = next(i for i, r in rows.items() if r["Firma"] == "Ganz Neu GmbH")  # the new id
    assert new_id in {c["id"] for c in emu.state.clients}
    assert "Konflikte" in openpyxl.load_workbook(path).sheetnames
    assert backup_path(path).read_bytes() == before_run  # the one .bak: the workbook before the run
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".staged")] == []
    # The stamp came with that one write: the next run knows its origin and has nothing to do.
    again = _sync(emu, path)
    assert again.code == 1, again.text  # the conflict is still held
    assert "cannot tell which billsync run" not in again.text
    assert len(replaces) == 1


def test_a_sync_with_nothing_to_do_writes_neither_workbook_nor_snapshot(emu, tmp_path, monkeypatch):
    path = pulled(emu, tmp_path)
    snapshot = tmp_path / ".billsync" / "snapshot.zip"
    assert snapshot.is_file()
    files = [path, snapshot]
    before = {f: (f.read_bytes(), f.stat().st_mtime_ns, f.stat().st_ino) for f in files}
    replaces = _replaces_onto(monkeypatch, path)
    result = _sync(emu, path)
    assert result.code == 0, result.text
    assert replaces == []
    assert {f: (f.read_bytes(), f.stat().st_mtime_ns, f.stat().st_ino) for f in files} == before
    assert not backup_path(path).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, ".billsync"])


def test_a_push_with_new_rows_writes_ids_and_stamp_in_one_write(emu, tmp_path, monkeypatch):
    path = pulled(emu, tmp_path)
    _add_row(path, "Push Neu GmbH")
    before_run = path.read_bytes()
    replaces = _replaces_onto(monkeypatch, path)
    result = run_cli(["push", "--sheet", str(path), "--no-progress"], billomat_env(emu.billomat_url))
    assert result.code == 0, result.text
    assert len(replaces) == 1, replaces
    assert any(r["Firma"] == "Push Neu GmbH" for r in kunden(path).values())
    assert backup_path(path).read_bytes() == before_run
    again = _sync(emu, path)
    assert again.code == 0, again.text
    assert "cannot tell which billsync run" not in again.text
    assert len(replaces) == 1
