"""sync.workbook.parts and save: parts found by following the rels; one copy keeps every other part."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from sync.errors import WorkbookError
from sync.workbook.parts import related_part, sheet_parts, workbook_part
from sync.workbook.save import copy_package

_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"


def _package(path: Path) -> Path:
    """A package whose workbook is not at xl/workbook.xml and whose sheet target is absolute."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("_rels/.rels", f'<Relationships xmlns="{_PKG}"><Relationship Id="r1" Type="{_RELS}/officeDocument" Target="book/main.xml"/></Relationships>')
        zf.writestr("book/main.xml", f'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{_RELS}"><sheets><sheet name="Kunden" r:id="a"/><sheet name="Kontakte" r:id="b"/></sheets></workbook>')
        zf.writestr("book/_rels/main.xml.rels", f'<Relationships xmlns="{_PKG}"><Relationship Id="a" Type="{_RELS}/worksheet" Target="sheets/one.xml"/><Relationship Id="b" Type="{_RELS}/worksheet" Target="/elsewhere/two.xml"/><Relationship Id="c" Type="{_RELS}/styles" Target="../styles.xml"/><Relationship Id="x" Type="{_RELS}/hyperlink" Target="https://example.invalid" TargetMode="External"/></Relationships>')
        zf.writestr("book/sheets/one.xml", "<worksheet/>")
        zf.writestr("elsewhere/two.xml", "<worksheet/>")
        zf.writestr("styles.xml", "<styleSheet/>")
    return path


def test_sheet_parts_follow_the_relationships(tmp_path: Path) -> None:
    path = _package(tmp_path / "k.xlsx")
    with zipfile.ZipFile(path) as zf:
        assert workbook_part(zf, path) == "book/main.xml"
        assert sheet_parts(zf, path) == {"Kunden": "book/sheets/one.xml", "Kontakte": "elsewhere/two.xml"}
        assert related_part(zf, "book/main.xml", "styles") == "styles.xml"
        assert related_part(zf, "book/main.xml", "sharedStrings") is None


def test_a_package_without_root_rels_is_named_as_unexpected(tmp_path: Path) -> None:
    path = tmp_path / "k.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    with zipfile.ZipFile(path) as zf, pytest.raises(WorkbookError, match="not as expected"):
        sheet_parts(zf, path)


def test_copy_package_replaces_streams_and_appends_parts_in_order(tmp_path: Path) -> None:
    source = _package(tmp_path / "k.xlsx")
    target = tmp_path / "out.xlsx"

    def upper(src, dst) -> None:  # type: ignore[no-untyped-def]
        dst.write(src.read().upper())

    copy_package(source, target, {"styles.xml": b"<new/>", "elsewhere/two.xml": upper, "z.xml": b"1", "a.xml": b"2"})
    with zipfile.ZipFile(source) as a, zipfile.ZipFile(target) as b:
        assert b.namelist() == a.namelist() + ["z.xml", "a.xml"]
        assert b.read("styles.xml") == b"<new/>"
        assert b.read("elsewhere/two.xml") == b"<WORKSHEET/>"
        assert b.read("book/main.xml") == a.read("book/main.xml")
        assert [i.date_time for i in b.infolist()[:6]] == [i.date_time for i in a.infolist()]
