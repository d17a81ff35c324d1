"""End to end: a pulled workbook opened and saved by a real spreadsheet program (LibreOffice headless)
reads back as exactly Billomat's state, so a plan after it has zero operations.

Skipped where LibreOffice is not installed. On Debian/Ubuntu (and in CI):
    apt-get install -y --no-install-recommends libreoffice-calc-nogui

What LibreOffice 7.4 changes, measured here and pinned below:
- xlsx: every cell stays a string cell; only line breaks change ("\\r\\n" → "\\n").
- CSV (imported with column type "Standard", as a user opening the file gets): leading zeros are
  lost ("01067" → "1067"), digit strings of 16+ digits become "1.23456789012346E+016", "1.0" → "1",
  a lone "\\r" and "\\r\\n" become "\\n"; with a German import language also "0,5" → "0.5" and
  "01.02.2024" → "02/01/24". desired.read_desired recognises each as unedited.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from sync.desired import read_desired
from sync.diff import diff_account
from sync.frames import AccountFrames
from sync.mapping import Mapping
from sync.sheet import build_tables, read_workbook, write_workbook
from tests.test_desired import cells, current_cells, sample_account
from tests.test_sheet import hostile_tables

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
TIMEOUT = 120

pytestmark = pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui",
)

# LibreOffice's CSV filter options: separator ";" (59), text delimiter '"' (34), UTF-8 (76), from
# line 1, no column types (every column "Standard", as a user opening the file gets), language.
CSV_US = "59,34,76,1,,1033"
CSV_DE = "59,34,76,1,,1031"


@pytest.fixture
def profile(lo_profile: Path) -> Path:
    """The worker's private LibreOffice user profile (conftest.lo_profile)."""
    return lo_profile


def soffice(profile: Path, out: Path, files: list[Path], *, convert_to: str, infilter: str | None = None) -> None:
    """Open `files` in LibreOffice headless and save them into `out` (what "open and save" does)."""
    assert SOFFICE is not None
    out.mkdir(parents=True, exist_ok=True)
    command = [SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore"]
    if infilter:
        command.append(f"--infilter={infilter}")
    command += ["--convert-to", convert_to, "--outdir", str(out), *map(str, files)]
    env = {**os.environ, "HOME": str(profile)}  # some builds write to ~/.config despite the profile
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False)
    for file in files:
        assert (out / file.name).exists(), f"LibreOffice did not write {file.name}: {done.stdout} {done.stderr}"


def raw_differences(before: dict[str, pd.DataFrame], after: dict[str, pd.DataFrame]) -> set[tuple[str, str, str]]:
    """(sheet, before, after) of every cell the program changed."""
    out = set()
    for name, table in before.items():
        back = after[name]
        assert list(back.columns) == list(table.columns)
        assert len(back) == len(table)
        for column in table.columns:
            for want, have in zip(table[column], back[column], strict=True):
                if want != have:
                    out.add((name, want, have))
    return out


def test_xlsx_saved_by_libreoffice_is_a_no_op(tmp_path: Path, mapping: Mapping, profile: Path) -> None:
    frames = sample_account()
    tables = build_tables(frames, mapping)
    write_workbook(tables, tmp_path / "in" / "kunden.xlsx", mapping)
    soffice(profile, tmp_path / "out", [tmp_path / "in" / "kunden.xlsx"], convert_to="xlsx")
    back = read_workbook(tmp_path / "out" / "kunden.xlsx", mapping)

    # Pinned: LibreOffice rewrites "\r\n" as "\n" in xlsx and changes nothing else.
    changed = raw_differences(tables, back)
    assert changed and all(have == want.replace("\r\n", "\n") != want for _, want, have in changed)

    desired = read_desired(back, mapping, frames)
    assert desired.problems == [] and desired.warnings == []
    assert cells(desired) == current_cells(frames, mapping)  # zero differences
    assert diff_account(frames, desired, mapping).is_empty  # so a plan has 0 operations


def test_hostile_values_in_xlsx_saved_by_libreoffice(tmp_path: Path, mapping: Mapping, profile: Path) -> None:
    """Formula triggers, quotes, control characters, long digit strings: only CR LF changes."""
    tables = hostile_tables(mapping)
    write_workbook(tables, tmp_path / "in" / "h.xlsx", mapping)
    soffice(profile, tmp_path / "out", [tmp_path / "in" / "h.xlsx"], convert_to="xlsx")
    changed = raw_differences(tables, read_workbook(tmp_path / "out" / "h.xlsx", mapping))
    assert {(want, have) for _, want, have in changed} == {("Zeile 1\r\nZeile 2", "Zeile 1\nZeile 2")}


@pytest.mark.parametrize("options", [CSV_US, CSV_DE], ids=["en-US", "de-DE"])
def test_csv_saved_by_libreoffice_is_a_no_op(
    tmp_path: Path, mapping: Mapping, profile: Path, options: str
) -> None:
    frames = sample_account()
    tables = build_tables(frames, mapping)
    write_workbook(tables, tmp_path / "in", mapping)
    files = sorted((tmp_path / "in").glob("*.csv"))
    soffice(
        profile,
        tmp_path / "out",
        files,
        convert_to=f"csv:Text - txt - csv (StarCalc):{options}",
        infilter=f"CSV:{options}",
    )
    back = read_workbook(tmp_path / "out", mapping)

    # Pinned: what LibreOffice did to the text (so the repairs below are really exercised).
    changed = {(want, have) for _, want, have in raw_differences(tables, back)}
    assert ("01067", "1067") in changed
    assert ("00012345678901234567", "1.23456789012346E+016") in changed
    assert ("00421", "421") in changed
    assert any(want.startswith("\r") and have == "\n" + want[1:] for want, have in changed)
    if options == CSV_DE:
        assert ("0,5", "0.5") in changed and ("01.02.2024", "02/01/24") in changed
    else:
        assert ("1.0", "1") in changed

    desired = read_desired(back, mapping, frames)
    assert desired.problems == [] and desired.warnings == []
    assert cells(desired) == current_cells(frames, mapping)
    assert diff_account(frames, desired, mapping).is_empty


def test_an_edit_saved_by_libreoffice_is_seen(tmp_path: Path, mapping: Mapping, profile: Path) -> None:
    """The repairs do not hide real edits: a changed zip code survives the program and the reader."""
    frames = AccountFrames.from_records(
        {"clients": [{"id": "1", "name": "A", "zip": "01067"}, {"id": "2", "name": "B", "zip": "01069"}]}
    )
    tables = build_tables(frames, mapping)
    tables["Kunden"].loc[1, "PLZ"] = "01097"
    write_workbook(tables, tmp_path / "in", mapping)
    files = sorted((tmp_path / "in").glob("*.csv"))
    soffice(profile, tmp_path / "out", files, convert_to=f"csv:Text - txt - csv (StarCalc):{CSV_US}",
            infilter=f"CSV:{CSV_US}")  # fmt: skip
    desired = read_desired(read_workbook(tmp_path / "out", mapping), mapping, frames)
    # "1067" is the program's rendering of 01067; "1097" is an edit the program took the zero of:
    # never sent as "1097", the row is left out and the problem says what was expected.
    assert list(desired.clients["zip"]) == ["01067"]
    assert [(p.row, p.column) for p in desired.problems] == [(3, "PLZ")]
    assert "'1097'" in desired.problems[0].message and "'01097'" in desired.problems[0].message
