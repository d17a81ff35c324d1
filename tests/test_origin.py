"""The origin stamp (sync/origin.py): written into xlsx and CSV folders, kept by the programs that save them."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl.packaging.custom import StringProperty

from sync.origin import (
    CUSTOM_PART,
    ORIGIN_FILE,
    ORIGIN_PROPERTY,
    new_state_id,
    read_origin,
    valid_state_id,
    write_origin,
)
from sync.sheet import build_tables, read_workbook, write_workbook
from tests.test_desired import sample_account

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
STATE = "20250102T030405-0a1b2c3d"


def pulled(tmp_path: Path, mapping, name: str = "kunden.xlsx", origin: str = STATE) -> Path:  # noqa: ANN001
    path = tmp_path / name
    write_workbook(build_tables(sample_account(), mapping), path, mapping, origin=origin)
    return path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_a_pulled_xlsx_carries_its_state_id_as_a_custom_document_property(tmp_path, mapping):
    path = pulled(tmp_path, mapping)
    assert read_origin(path) == STATE
    assert openpyxl.load_workbook(path).custom_doc_props[ORIGIN_PROPERTY].value == STATE


def test_a_pulled_csv_folder_carries_its_state_id_in_a_file_the_folder_keeps(tmp_path, mapping):
    folder = pulled(tmp_path, mapping, name="kunden")
    assert (folder / ORIGIN_FILE).read_text(encoding="utf-8").strip() == STATE
    assert read_origin(folder) == STATE
    assert set(read_workbook(folder, mapping)) == {"Kunden", "Kontakte"}  # not read as a sheet


def test_openpyxl_load_and_save_keeps_the_stamp(tmp_path, mapping):
    path = pulled(tmp_path, mapping)
    saved = tmp_path / "saved.xlsx"
    wb = openpyxl.load_workbook(path)
    wb["Kunden"]["C2"] = "edited"
    wb.save(saved)
    assert read_origin(saved) == STATE


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_open_and_save_keeps_the_stamp(tmp_path, mapping, lo_profile):
    path = pulled(tmp_path, mapping)
    profile, out = lo_profile, tmp_path / "out"
    command = [
        str(SOFFICE), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
        "--convert-to", "xlsx", "--outdir", str(out), str(path),
    ]  # fmt: skip
    subprocess.run(command, capture_output=True, timeout=120, env={**os.environ, "HOME": str(profile)}, check=False)
    saved = out / path.name
    assert b"LibreOffice" in members(saved)["docProps/app.xml"]
    assert read_origin(saved) == STATE


def test_stamping_a_workbook_without_custom_properties_adds_the_part_its_type_and_relationship(tmp_path):
    path = tmp_path / "plain.xlsx"
    wb = openpyxl.Workbook()
    wb.active["A1"] = "x"
    wb.save(path)
    before = members(path)
    assert CUSTOM_PART not in before
    assert write_origin(path, STATE) is True
    after = members(path)
    assert read_origin(path) == STATE
    assert b"/docProps/custom.xml" in after["[Content_Types].xml"]
    assert b"custom-properties" in after["_rels/.rels"] and b"docProps/custom.xml" in after["_rels/.rels"]
    # Every other part is copied byte for byte; Excel-compatible readers see the property.
    assert {k: v for k, v in after.items() if k not in ("[Content_Types].xml", "_rels/.rels", CUSTOM_PART)} == {
        k: v for k, v in before.items() if k not in ("[Content_Types].xml", "_rels/.rels")
    }
    assert openpyxl.load_workbook(path).custom_doc_props[ORIGIN_PROPERTY].value == STATE


def test_restamping_replaces_the_value_and_keeps_the_accountants_own_properties(tmp_path, mapping):
    path = tmp_path / "own.xlsx"
    wb = openpyxl.Workbook()
    wb.custom_doc_props.append(StringProperty(name="Abteilung", value="Buchhaltung"))
    wb.save(path)
    write_origin(path, STATE)
    later = new_state_id()
    assert write_origin(path, later) is True
    assert write_origin(path, later) is False  # already carries it: the file is not rewritten
    props = {p.name: p.value for p in openpyxl.load_workbook(path).custom_doc_props.props}
    assert props == {"Abteilung": "Buchhaltung", ORIGIN_PROPERTY: later}
    assert read_origin(path) == later


def test_a_workbook_without_a_stamp_or_with_a_malformed_one_has_no_origin(tmp_path, mapping):
    plain = tmp_path / "plain.xlsx"
    openpyxl.Workbook().save(plain)
    assert read_origin(plain) is None
    odd = tmp_path / "odd.xlsx"
    wb = openpyxl.Workbook()
    wb.custom_doc_props.append(StringProperty(name=ORIGIN_PROPERTY, value="../../etc/passwd"))
    wb.save(odd)
    assert read_origin(odd) is None  # ids name files in the state dir: never a path
    assert read_origin(tmp_path / "missing.xlsx") is None
    assert not valid_state_id("a/b") and valid_state_id(new_state_id())
    with pytest.raises(ValueError):
        write_origin(plain, "not an id")
