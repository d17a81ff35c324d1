"""Reading an xlsx package's parts by following its relationships (never by hard-coded names)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from posixpath import dirname, normpath
from posixpath import join as posix_join
from xml.etree import ElementTree as ET

import python_calamine

from sync.errors import WorkbookError

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_NS_STRICT = "http://purl.oclc.org/ooxml/officeDocument/relationships"


def rels(zf: zipfile.ZipFile, name: str, base: str) -> dict[str, tuple[str, str]]:
    """Relationship id → (type, part name) of one .rels part (external targets left out)."""
    out: dict[str, tuple[str, str]] = {}
    for element in ET.fromstring(zf.read(name)).iter():
        if element.tag.rsplit("}", 1)[-1] != "Relationship" or element.get("TargetMode") == "External":
            continue
        target = element.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else normpath(posix_join(base, target))
        out[element.get("Id", "")] = (element.get("Type", ""), part)
    return out


def workbook_part(zf: zipfile.ZipFile, path: Path) -> str:
    """The workbook part's name, from `_rels/.rels` (usually xl/workbook.xml, but not always)."""
    if "_rels/.rels" not in zf.NameToInfo and "xl/workbook.xml" in zf.NameToInfo:
        return "xl/workbook.xml"  # some writers leave out the package rels; readers still open it
    try:
        root = rels(zf, "_rels/.rels", "")
        return next(t for typ, t in root.values() if typ.endswith("/officeDocument"))
    except (KeyError, StopIteration, ET.ParseError) as exc:
        raise WorkbookError(f"the xlsx package is not as expected ({exc})", file=path) from None


def workbook_rels_part(workbook: str) -> str:
    """The name of the workbook part's own .rels part."""
    return posix_join(dirname(workbook), "_rels", workbook.rsplit("/", 1)[-1] + ".rels")


def workbook_rels(zf: zipfile.ZipFile, workbook: str) -> dict[str, tuple[str, str]]:
    """The workbook part's relationships (sheets, styles, shared strings)."""
    return rels(zf, workbook_rels_part(workbook), dirname(workbook))


def related_part(zf: zipfile.ZipFile, workbook: str, kind: str) -> str | None:
    """The workbook's part of one relationship kind ("styles", "sharedStrings"), if the package has it."""
    try:
        found = workbook_rels(zf, workbook)
    except KeyError:
        return None
    part = next((t for typ, t in found.values() if typ.endswith("/" + kind)), None)
    return part if part is not None and part in zf.NameToInfo else None


def sheet_parts(zf: zipfile.ZipFile, path: Path) -> dict[str, str]:
    """Sheet name → its part in the package (via _rels/.rels → the workbook part → its rels)."""
    try:
        workbook = workbook_part(zf, path)
        found = workbook_rels(zf, workbook)
        parts: dict[str, str] = {}
        for element in ET.fromstring(zf.read(workbook)).iter():
            if element.tag.rsplit("}", 1)[-1] != "sheet":
                continue
            rid = next((v for k, v in element.attrib.items() if k.endswith("}id")), "")
            if rid in found:
                parts[element.get("name", "")] = found[rid][1]
        return parts
    except (KeyError, ET.ParseError) as exc:
        raise WorkbookError(f"the xlsx package is not as expected ({exc})", file=path) from None


def decode(data: bytes, path: Path, sheet: str) -> str:
    """A part's XML as text; only UTF-8 is patched (Excel always writes it)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise WorkbookError(
            "the sheet XML is not UTF-8; open and save the workbook in Excel", file=path, sheet=sheet
        ) from None


@contextmanager
def open_calamine(path: Path) -> Iterator[python_calamine.CalamineWorkbook]:
    """The workbook opened with python-calamine, closed afterwards; WorkbookError naming the file when
    it is no readable xlsx."""
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.CalamineError as exc:
        raise WorkbookError(f"not a readable xlsx workbook ({exc})", file=path) from None
    try:
        yield workbook
    finally:
        workbook.close()
