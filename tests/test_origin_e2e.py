"""End to end: a workbook saved from an older copy never undoes what changed in Billomat (SPEC §4),
and push sends the workbook's edits, not the whole workbook (SPEC §2). The real CLI against the
emulator over HTTP on 127.0.0.1.

The office story: a colleague corrects client 1005's city in Billomat; the nightly sync writes it into
kunden.xlsx; the accountant, who had the workbook open since yesterday, saves their older copy (the
old city) with one edit of their own. billsync must send that edit and keep the colleague's city.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest

from sync.emulator import Emulator
from sync.mapping import load_mapping
from sync.origin import ORIGIN_FILE, ORIGIN_PROPERTY, read_origin, write_origin
from sync.sheet import read_workbook
from tests.e2e import API_KEY, REPO, Result, billomat_env, pull_once, run_cli

pytestmark = pytest.mark.e2e

MAPPING = load_mapping(REPO / "mappings" / "billomat.yaml")
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
COLLEAGUE_CITY = "Billomat-Neustadt"  # client 1005 is in Düsseldorf in the sample account


@pytest.fixture
def emu(make_emulator):  # noqa: ANN001, ANN201
    """The sample account on a running emulator (fake clock, no rate limit)."""
    return make_emulator(api_key=API_KEY, contacts_bulk="allow")


def cli(emu: Emulator, *argv: str) -> Result:
    return run_cli([*argv, "--no-progress"], billomat_env(emu.billomat_url))


def pulled(emu: Emulator, path: Path) -> Path:
    result = pull_once(emu, ["pull", "--out", str(path), "--no-progress"], billomat_env(emu.billomat_url))
    assert result.code == 0, result.text
    return path


def writes(emu: Emulator) -> list:
    return [r for r in emu.requests if r.method in ("POST", "PUT", "DELETE")]


def kunden(path: Path) -> dict[str, dict[str, str]]:
    """Kunden rows by Billomat-ID as billsync reads them."""
    table = read_workbook(path, MAPPING)["Kunden"]
    return {row["Billomat-ID"]: row for row in table.to_dict("records") if row["Billomat-ID"]}


def city(emu: Emulator, client_id: str) -> str:
    return emu.state.table("clients")[client_id]["city"]


def edit_xlsx(path: Path, client_id: str, header: str, value: str, *, target: Path | None = None) -> None:
    """The accountant's edit of one cell, saved with openpyxl (stands in for Excel) to `target`."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    col = {c.value: c.column for c in ws[1]}[header]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == client_id)
    ws.cell(row, col).value = value
    wb.save(target or path)


def libreoffice_save(source: Path, target: Path, profile: Path) -> None:
    """Open `source` in LibreOffice headless and save it as xlsx over `target` ("open and save")."""
    assert SOFFICE is not None
    out = target.parent / "lo-out"
    command = [
        SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
        "--convert-to", "xlsx", "--outdir", str(out), str(source),
    ]  # fmt: skip
    env = {**os.environ, "HOME": str(profile)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, check=False)
    saved = out / source.name
    assert saved.exists(), f"LibreOffice did not write {saved.name}: {done.stdout} {done.stderr}"
    with zipfile.ZipFile(saved) as zf:  # really LibreOffice's file, not a copy of billsync's
        assert b"LibreOffice" in zf.read("docProps/app.xml")
    shutil.copy2(saved, target)


# --------------------------------------------------------------------------------------------------
# The stale copy, through sync
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("saved_by", ["openpyxl", "libreoffice"])
def test_an_older_copy_saved_after_a_sync_keeps_billomats_change_and_sends_the_own_edit(
    emu, tmp_path, lo_profile, saved_by
):
    if saved_by == "libreoffice" and SOFFICE is None:
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui")
    path = pulled(emu, tmp_path / "kunden.xlsx")
    opened = tmp_path / "opened-yesterday.xlsx"
    shutil.copy2(path, opened)  # the copy the accountant has open
    emu.state.update_client("1005", {"city": COLLEAGUE_CITY})  # a colleague, in Billomat
    night = cli(emu, "sync", "--sheet", str(path))
    assert night.code == 0, night.text
    assert kunden(path)["1005"]["Ort"] == COLLEAGUE_CITY

    # The accountant saves their older copy (old city) with one edit of their own over the workbook.
    if saved_by == "openpyxl":
        edit_xlsx(opened, "1003", "Ort", "Leipzig", target=path)
    else:
        edit_xlsx(opened, "1003", "Ort", "Leipzig")
        libreoffice_save(opened, path, lo_profile)
    assert kunden(path)["1005"]["Ort"] == "Düsseldorf"  # the stale value is really in the file

    result = cli(emu, "sync", "--sheet", str(path))
    assert result.code == 0, result.text
    assert city(emu, "1005") == COLLEAGUE_CITY  # the colleague's correction stays
    assert city(emu, "1003") == "Leipzig"  # the accountant's edit goes through
    assert "Düsseldorf" not in result.out.split("To the workbook")[0]  # never proposed to Billomat
    rows = kunden(path)
    assert (rows["1005"]["Ort"], rows["1003"]["Ort"]) == (COLLEAGUE_CITY, "Leipzig")  # both

    before, data = len(writes(emu)), path.read_bytes()
    again = cli(emu, "sync", "--sheet", str(path))
    assert again.code == 0, again.text
    assert len(writes(emu)) == before and path.read_bytes() == data  # one more sync writes nothing


def test_an_older_copy_of_the_csv_folder_keeps_billomats_change(emu, tmp_path):
    folder = pulled(emu, tmp_path / "kunden")
    assert (folder / ORIGIN_FILE).is_file()
    opened = tmp_path / "copy-from-yesterday"
    shutil.copytree(folder, opened)  # the folder travels with its stamp
    emu.state.update_client("1005", {"city": COLLEAGUE_CITY})
    assert cli(emu, "sync", "--sheet", str(folder)).code == 0
    assert read_origin(folder) != read_origin(opened)
    # The old folder comes back (with its old stamp), the accountant's edit in it.
    shutil.rmtree(folder)
    shutil.copytree(opened, folder)
    csv = folder / "Kunden.csv"
    csv.write_bytes(csv.read_bytes().replace(b"Chemnitz", b"Leipzig", 1))

    result = cli(emu, "sync", "--sheet", str(folder))
    assert result.code == 0, result.text
    assert (city(emu, "1005"), city(emu, "1003")) == (COLLEAGUE_CITY, "Leipzig")
    assert (kunden(folder)["1005"]["Ort"], kunden(folder)["1003"]["Ort"]) == (COLLEAGUE_CITY, "Leipzig")
    before = len(writes(emu))
    assert cli(emu, "sync", "--sheet", str(folder)).code == 0
    assert len(writes(emu)) == before


# --------------------------------------------------------------------------------------------------
# push sends edits
# --------------------------------------------------------------------------------------------------


def test_push_sends_the_edit_and_lists_what_billomat_changed_without_reverting_it(emu, tmp_path):
    path = pulled(emu, tmp_path / "kunden.xlsx")
    emu.state.update_client("1005", {"city": COLLEAGUE_CITY})
    edit_xlsx(path, "1003", "Ort", "Leipzig")

    plan = cli(emu, "plan", "--sheet", str(path))
    assert plan.code == 1, plan.text
    assert "Leipzig" in plan.out and "clients 1 update" in plan.out
    assert f"Billomat {COLLEAGUE_CITY!r}" in plan.out  # listed: what push leaves alone
    before = len(writes(emu))
    result = cli(emu, "push", "--sheet", str(path))
    assert result.code == 0, result.text
    assert [r.path for r in writes(emu)[before:]] == ["/clients/1003"]
    assert (city(emu, "1005"), city(emu, "1003")) == (COLLEAGUE_CITY, "Leipzig")
    assert "Kunden row" in result.out and f"Billomat {COLLEAGUE_CITY!r}" in result.out  # listed
    assert "left alone" in result.out

    # The workbook still shows the old city (push is one-way): the next push still leaves it alone.
    assert kunden(path)["1005"]["Ort"] == "Düsseldorf"
    before = len(writes(emu))
    again = cli(emu, "push", "--sheet", str(path))
    assert again.code == 0, again.text
    assert len(writes(emu)) == before and city(emu, "1005") == COLLEAGUE_CITY
    assert "no changes" in cli(emu, "plan", "--sheet", str(path)).out


def test_a_field_changed_on_both_sides_is_held_by_push_until_prefer_sheet(emu, tmp_path):
    path = pulled(emu, tmp_path / "kunden.xlsx")
    edit_xlsx(path, "1003", "Ort", "Leipzig")
    edit_xlsx(path, "1005", "Telefon", "+49 211 999")
    emu.state.update_client("1003", {"city": "Dresden"})

    before = len(writes(emu))
    held = cli(emu, "push", "--sheet", str(path))
    assert held.code == 1, held.text
    assert city(emu, "1003") == "Dresden"  # held: nothing sent for it
    assert emu.state.table("clients")["1005"]["phone"] == "+49 211 999"  # the other edit went through
    assert "both_changed" in held.out and "1003" in held.out and "'Leipzig'" in held.out
    assert "conflicts 1 held" in held.err + held.out
    # Still held next time (nobody wins silently), and nothing else is sent again.
    after_first = len(writes(emu))
    assert after_first - before == 1
    assert cli(emu, "push", "--sheet", str(path)).code == 1
    assert len(writes(emu)) == after_first and city(emu, "1003") == "Dresden"

    decided = cli(emu, "push", "--sheet", str(path), "--prefer", "sheet")
    assert decided.code == 0, decided.text
    assert city(emu, "1003") == "Leipzig"
    final = len(writes(emu))
    third = cli(emu, "push", "--sheet", str(path))
    assert third.code == 0, third.text
    assert len(writes(emu)) == final


def test_a_workbook_without_any_recorded_state_is_master_as_a_whole(emu, tmp_path):
    path = pulled(emu, tmp_path / "kunden.xlsx")
    shutil.rmtree(tmp_path / ".billsync")  # never pulled here, as far as billsync knows
    emu.state.update_client("1005", {"city": COLLEAGUE_CITY})
    result = cli(emu, "push", "--sheet", str(path))
    assert result.code == 0, result.text
    assert city(emu, "1005") == "Düsseldorf"  # the workbook is master


# --------------------------------------------------------------------------------------------------
# No known origin
# --------------------------------------------------------------------------------------------------


def strip_stamp(path: Path) -> None:
    """The workbook saved by a program that dropped the custom document property."""
    wb = openpyxl.load_workbook(path)
    props = wb.custom_doc_props
    props.props = [p for p in props.props if p.name != ORIGIN_PROPERTY]
    wb.save(path)


def stale_copy_of_unknown_origin(emu: Emulator, tmp_path: Path, how: str) -> Path:
    """The office story of the module docstring, the saved copy without a known origin."""
    path = pulled(emu, tmp_path / "kunden.xlsx")
    opened = tmp_path / "opened-yesterday.xlsx"
    shutil.copy2(path, opened)
    emu.state.update_client("1005", {"city": COLLEAGUE_CITY})
    assert cli(emu, "sync", "--sheet", str(path)).code == 0
    edit_xlsx(opened, "1003", "Ort", "Leipzig", target=path)
    if how == "stamp removed":
        strip_stamp(path)
        assert read_origin(path) is None
    else:
        write_origin(path, "20000101T000000-0badf00d")
    return path


@pytest.mark.parametrize("how", ["stamp removed", "state rotated out"])
def test_a_workbook_of_unknown_origin_holds_reverted_values_as_conflicts(emu, tmp_path, how):
    path = stale_copy_of_unknown_origin(emu, tmp_path, how)

    before = len(writes(emu))
    first = cli(emu, "push", "--sheet", str(path))
    assert first.code == 1, first.text
    warnings = [line for line in first.err.splitlines() if "cannot tell which billsync run" in line]
    assert len(warnings) == 1 and str(path) in warnings[0], first.err
    assert ("no longer keeps" if how == "state rotated out" else ORIGIN_PROPERTY) in warnings[0]
    assert "stale_copy" in first.out and "1005" in first.out  # the reverted value: a conflict, named
    assert city(emu, "1005") == COLLEAGUE_CITY  # ... never sent
    assert city(emu, "1003") == "Leipzig"  # the real edit went through
    assert len(writes(emu)) - before == 1

    # The accountant decides for the workbook: the second run completes it, the third writes nothing.
    second = cli(emu, "push", "--sheet", str(path), "--prefer", "sheet")
    assert second.code == 0, second.text
    assert city(emu, "1005") == "Düsseldorf"
    done = len(writes(emu))
    third = cli(emu, "push", "--sheet", str(path))
    assert third.code == 0, third.text
    assert len(writes(emu)) == done
    assert "cannot tell which billsync run" not in third.err  # stamped by the second run


def test_sync_holds_a_reverted_value_of_a_workbook_without_stamp(emu, tmp_path):
    path = stale_copy_of_unknown_origin(emu, tmp_path, "stamp removed")
    result = cli(emu, "sync", "--sheet", str(path))
    assert result.code == 1, result.text
    assert (city(emu, "1005"), city(emu, "1003")) == (COLLEAGUE_CITY, "Leipzig")
    rows = list(openpyxl.load_workbook(path)["Konflikte"].iter_rows(values_only=True))
    assert any(COLLEAGUE_CITY in row and "Düsseldorf" in row for row in rows[1:])
    # Held means held: still a conflict next night, and the colleague's city is never reverted.
    assert cli(emu, "sync", "--sheet", str(path)).code == 1
    assert city(emu, "1005") == COLLEAGUE_CITY
