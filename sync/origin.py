"""The origin stamp (SPEC §4): which of billsync's recorded states a workbook descends from.

A workbook saved from an older copy (opened before a sync wrote into it, saved after) holds the values
of an older state. Comparing it with the newest state would read those old values as the accountant's
edits and send them back to Billomat. So every workbook billsync writes carries the id of the state it
was written from, in a form spreadsheet programs keep when they save:

- xlsx: the custom document property `billsync-origin` (`docProps/custom.xml`, "File → Properties →
  Custom" in Excel and LibreOffice). Excel, LibreOffice and openpyxl (>= 3.1) carry it through a save,
  so an older copy carries the older id.
- CSV folder: a file `.billsync-origin` in the folder (one line, the id). A copy of the folder carries
  its own stamp; spreadsheet programs never touch it (they open the CSV files, not the folder).

The id names a state in the state dir (`StateDir.read_state`). Writing the stamp into an existing xlsx
rewrites only the three package parts involved (`docProps/custom.xml`, and when the property part is
new, `[Content_Types].xml` and `_rels/.rels`); every other part is copied byte for byte.
"""

from __future__ import annotations

import re
import secrets
import time
import zipfile
from pathlib import Path
from posixpath import normpath
from xml.sax.saxutils import escape, unescape

from sync.atomic import atomic_write_bytes
from sync.errors import WorkbookError
from sync.workbook.save import save_package
from sync.workbook_guard import WorkbookGuard

ORIGIN_PROPERTY = "billsync-origin"
ORIGIN_FILE = ".billsync-origin"
CUSTOM_PART = "docProps/custom.xml"
_CUSTOM_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
_VT_NS = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
_CUSTOM_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
_FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"  # the one fmtid Office uses for user-defined properties
_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,63}")  # ids become file names in the state dir
_EMPTY_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>'
)


def new_state_id() -> str:
    """A fresh state id: sortable by time, unique by a random tail (two runs in one second differ)."""
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"


def valid_state_id(value: str | None) -> bool:
    """True when `value` is a well-formed state id (never a path, never markup)."""
    return bool(value) and _ID.fullmatch(value or "") is not None


def read_origin(path: Path | str) -> str | None:
    """The state id the workbook carries, or None (no stamp, a damaged one, or no such workbook)."""
    path = Path(path)
    if path.is_dir():
        try:
            value = (path / ORIGIN_FILE).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return value if valid_state_id(value) else None
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            part = _custom_part(zf, names)
            if part is None or part not in names:
                return None
            xml = zf.read(part).decode("utf-8", errors="replace")
    except (OSError, zipfile.BadZipFile, KeyError):
        return None
    match = _property(xml)
    if match is None:
        return None
    value = unescape(re.sub(r"<[^>]*>", "", match.group("body")), {"&quot;": '"', "&apos;": "'"}).strip()
    return value if valid_state_id(value) else None


def write_origin(path: Path | str, state_id: str, *, guard: WorkbookGuard | None = None) -> bool:
    """Stamp the workbook with `state_id`; True when the file changed (False: it already carries it).

    Atomic like every workbook write; no `.bak` (the workbook's cells are unchanged). `guard`: the
    workbook as the run read (and wrote) it; WorkbookInUseError when it is open or changed since.
    """
    path = Path(path)
    if not valid_state_id(state_id):
        raise ValueError(f"not a state id: {state_id!r}")
    if read_origin(path) == state_id:
        return False
    if path.is_dir():
        if guard is not None:
            guard.check()  # open, or a CSV file saved since the run read it: the folder keeps its stamp
        atomic_write_bytes(path / ORIGIN_FILE, f"{state_id}\n".encode())
        return True
    if not path.is_file():
        raise WorkbookError("does not exist; its origin stamp could not be written", file=path)
    try:
        with zipfile.ZipFile(path) as zf:
            parts = _stamped_parts(zf, state_id)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError) as exc:
        raise WorkbookError(
            f"not a readable xlsx workbook ({exc}); its origin stamp was not written", file=path
        ) from None
    # New parts are appended in name order (the order the stamp has always had).
    save_package(path, dict(sorted(parts.items())), guard, backup=False)
    return True


# --------------------------------------------------------------------------------------------
# xlsx package parts
# --------------------------------------------------------------------------------------------


def _custom_part(zf: zipfile.ZipFile, names: set[str]) -> str | None:
    """The custom-properties part the package relationships name (else the usual name, if present)."""
    if "_rels/.rels" in names:
        rels = zf.read("_rels/.rels").decode("utf-8", errors="replace")
        for rel in re.finditer(r"<Relationship\b[^>]*>", rels):
            attrs = dict(re.findall(r'(\w+)="([^"]*)"', rel.group(0)))
            if attrs.get("Type") == _CUSTOM_REL and attrs.get("TargetMode") != "External":
                return normpath(attrs.get("Target", "").lstrip("/"))
    return CUSTOM_PART if CUSTOM_PART in names else None


def _property(xml: str) -> re.Match[str] | None:
    """The <property name="billsync-origin"> element (any namespace prefix)."""
    pattern = (
        r"<(?P<p>(?:\w+:)?)property\b[^>]*\bname=\"" + re.escape(ORIGIN_PROPERTY)
        + r"\"[^>]*>(?P<body>.*?)</(?P=p)property>"
    )  # fmt: skip
    return re.search(pattern, xml, flags=re.S)


def _stamped_parts(zf: zipfile.ZipFile, state_id: str) -> dict[str, bytes]:
    """The package parts to replace or add so the custom property says `state_id`."""
    names = set(zf.namelist())
    part = _custom_part(zf, names) or CUSTOM_PART
    if part in names:
        xml = _with_property(zf.read(part).decode("utf-8"), state_id)
    else:
        xml = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
            f'xmlns:vt="{_VT_NS}"><property fmtid="{_FMTID}" pid="2" name="{ORIGIN_PROPERTY}">'
            f"<vt:lpwstr>{escape(state_id)}</vt:lpwstr></property></Properties>"
        )
    out = {part: xml.encode("utf-8")}
    # A part Excel finds: its content type and the package relationship, added when missing.
    types = zf.read("[Content_Types].xml").decode("utf-8")
    if f'PartName="/{part}"' not in types:
        override = f'<Override PartName="/{part}" ContentType="{_CUSTOM_TYPE}"/>'
        out["[Content_Types].xml"] = types.replace("</Types>", f"{override}</Types>", 1).encode("utf-8")
    rels = zf.read("_rels/.rels").decode("utf-8") if "_rels/.rels" in names else _EMPTY_RELS
    if _CUSTOM_REL not in rels:
        taken = set(re.findall(r'\bId="([^"]*)"', rels))
        number = next(n for n in range(1, len(taken) + 2) if f"rId{n}" not in taken)
        relation = f'<Relationship Id="rId{number}" Type="{_CUSTOM_REL}" Target="{part}"/>'
        out["_rels/.rels"] = _append_child(rels, "Relationships", relation).encode("utf-8")
    return out


def _with_property(xml: str, state_id: str) -> str:
    """An existing custom-properties part with the origin property set (added or its value replaced)."""
    declared = re.search(r'xmlns:(\w+)="' + re.escape(_VT_NS) + '"', xml)
    vt = declared.group(1) if declared else "vt"
    value = f"<{vt}:lpwstr>{escape(state_id)}</{vt}:lpwstr>"
    found = _property(xml)
    if found is not None:
        return xml[: found.start("body")] + value + xml[found.end("body") :]
    root = re.search(r"<(\w+:)?Properties\b", xml)
    p = (root.group(1) or "") if root else ""
    if declared is None:
        xml = re.sub(rf"<{p}Properties\b", f'<{p}Properties xmlns:vt="{_VT_NS}"', xml, count=1)
    pids = [int(n) for n in re.findall(r'\bpid="(\d+)"', xml)]
    element = f'<{p}property fmtid="{_FMTID}" pid="{max([1, *pids]) + 1}" name="{ORIGIN_PROPERTY}">{value}</{p}property>'
    return _append_child(xml, f"{p}Properties", element)


def _append_child(xml: str, tag: str, child: str) -> str:
    """`child` as the last child of the root element `tag` (also when it is written `<tag .../>`)."""
    if f"</{tag}>" in xml:
        return xml.replace(f"</{tag}>", f"{child}</{tag}>", 1)
    return re.sub(rf"(<{tag}\b[^>]*)/>", lambda m: f"{m.group(1)}>{child}</{tag}>", xml, count=1)

