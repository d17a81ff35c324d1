"""`billsync check` (sync/commands/check.py), through the CLI: config, mappings, credentials, workbook.

Writes nothing; exit 0 when all is good, 1 for row problems in the workbook, 2 for the first fatal one.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from sync.emulator import Emulator
from tests.e2e import billomat_env, run_cli

pytestmark = pytest.mark.e2e


def files(root: Path) -> list[str]:
    """Every path below root, relative."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_check_against_the_emulator_makes_one_call_and_writes_nothing(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    emulator.clear_log()
    result = run_cli(["check", "--no-progress"], billomat_env(emulator.billomat_url, emulator.config.api_key))
    assert result.code == 0, result.text
    assert f"billomat  ok  {emulator.billomat_url}" in result.out and "(API key accepted)" in result.out
    assert "check: all good; 1 request;" in result.text
    assert len(emulator.requests) == 1
    assert files(tmp_path) == []


def test_a_wrong_api_key_is_fatal_and_never_shown(emulator: Emulator, tmp_path: Path) -> None:
    result = run_cli(["check", "--no-progress"], billomat_env(emulator.billomat_url, "wrong-key-0815"))
    assert result.code == 2, result.text
    assert "wrong-key-0815" not in result.text and "Traceback" not in result.text
    assert "all good" not in result.text


def test_a_broken_mapping_is_fatal_before_any_call(emulator: Emulator, tmp_path: Path) -> None:
    mapping = tmp_path / "billomat.yaml"
    mapping.write_text("version: 1\nsheets: [\n", encoding="utf-8")
    config = tmp_path / "billsync.yaml"
    config.write_text("mapping: billomat.yaml\n", encoding="utf-8")
    emulator.clear_log()
    result = run_cli(
        ["--config", str(config), "check", "--no-progress"],
        billomat_env(emulator.billomat_url, emulator.config.api_key),
    )
    assert result.code == 2, result.text
    assert "billomat.yaml" in result.text and "line" in result.text and "Traceback" not in result.text
    assert emulator.requests == []


def test_check_sheet_reads_the_rows_against_the_last_pull(emulator: Emulator, tmp_path: Path) -> None:
    env = billomat_env(emulator.billomat_url, emulator.config.api_key)
    book = tmp_path / "kunden.xlsx"
    assert run_cli(["pull", "--out", str(book), "--no-progress"], env).code == 0
    before = book.read_bytes()
    good = run_cli(["check", "--sheet", str(book), "--no-progress"], env)
    assert good.code == 0, good.text
    assert f"workbook  ok  {book}" in good.out and "checked against Billomat as of" in good.out

    wb = openpyxl.load_workbook(book)
    headers = [c.value for c in wb["Kunden"][1]]
    wb["Kunden"].cell(row=3, column=headers.index("E-Mail") + 1).value = "info@schulz"
    wb.save(book)
    edited = book.read_bytes()
    bad = run_cli(["check", "--sheet", str(book), "--no-progress"], env)
    assert bad.code == 1, bad.text
    assert "row problem:" in bad.text and "'info@schulz' is not a valid email address" in bad.text
    assert "Kunden" in bad.text and "E-Mail" in bad.text
    assert f"workbook  !!  {book}" in bad.out and "1 row problem(s)" in bad.text
    assert book.read_bytes() == edited != before  # check writes nothing


def test_check_sheet_without_a_pull_checks_the_structure_only(emulator: Emulator, tmp_path: Path) -> None:
    env = billomat_env(emulator.billomat_url, emulator.config.api_key)
    book = tmp_path / "pulled" / "kunden.xlsx"
    assert run_cli(["pull", "--out", str(book), "--no-progress"], env).code == 0
    elsewhere = tmp_path / "copy" / "kunden.xlsx"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(book.read_bytes())
    result = run_cli(["check", "--sheet", str(elsewhere), "--no-progress"], env)
    assert result.code == 0, result.text
    assert "rows not checked against Billomat: no pull recorded here yet" in result.out
