"""Patching an xlsx package's XML in place: a sheet's rows and cells, and the workbook part around it.

`patch_sheet` sets the planned cells of one sheet (styles through `Styles`, rows added in order,
`<dimension>` and a table-wide `autoFilter` grown); the rest of the sheet XML stays byte-identical.
The workbook-level edits: `add_sheet` (a new worksheet part, its rel, `<sheet>` and content type),
`grow_filter_name` (the `_xlnm._FilterDatabase` name follows its filter), `full_calc_on_load` (Excel
recalculates the accountants' formulas over changed cells), `sheet_order`, `has_formulas`.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from posixpath import dirname, relpath
from posixpath import join as posix_join
from xml.sax.saxutils import unescape

from sync.errors import WorkbookError
from sync.workbook.cells import (
    PREFIX,
    REF,
    ROW,
    cell_xml,
    col_index,
    letters,
    row_cells,
    widen_dimension,
    xml_text,
)
from sync.workbook.cells import attrs as _attrs
from sync.workbook.cells import column_styles as _column_styles
from sync.workbook.parts import REL_NS, REL_NS_STRICT, workbook_rels_part
from sync.workbook.planner import Edit, SheetPlan
from sync.workbook.styles import Styles, needs_quote

_WORKSHEET_TYPE = REL_NS + "/worksheet"
_WORKSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


@dataclass
class _RowSpan:
    start: int
    end: int
    body_start: int
    body_end: int
    tag: str
    attrs: dict[str, str]
    empty: bool


def sheet_order(workbook: str) -> list[str]:
    """Sheet names in workbook order (a sheet-local name's localSheetId is the position here)."""
    entities = {"&quot;": '"', "&apos;": "'"}
    return [
        unescape(_attrs(m.group(1)).get("name", ""), entities)
        for m in re.finditer(rf"<{PREFIX}sheet\b([^>]*?)/?>", workbook)
    ]


def has_formulas(zf: zipfile.ZipFile, parts: Collection[str]) -> bool:
    pattern = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")
    for part in parts:
        if part in zf.NameToInfo:
            with zf.open(part) as fh:
                tail = b""
                while chunk := fh.read(1 << 22):
                    if pattern.search(tail + chunk):
                        return True
                    tail = chunk[-16:]
    return False


def full_calc_on_load(workbook: str) -> str:
    """`fullCalcOnLoad="1"` on <calcPr>: Excel recalculates the accountants' formulas over changed cells."""
    match = re.search(rf"<({PREFIX})calcPr\b([^>]*?)(/?)>", workbook)
    if match is not None:
        if _attrs(match.group(2)).get("fullCalcOnLoad") in ("1", "true"):
            return workbook
        tag = re.sub(r'\sfullCalcOnLoad\s*=\s*("[^"]*"|\'[^\']*\')', "", match.group(0))
        end = len(tag) - (2 if match.group(3) else 1)
        tag = tag[:end].rstrip() + ' fullCalcOnLoad="1"' + tag[end:]
        return workbook[: match.start()] + tag + workbook[match.end() :]
    # No <calcPr>: it follows <definedNames> (or <sheets>) in the schema's order.
    for name in ("definedNames", "sheets"):
        close = re.search(rf"</({PREFIX}){name}>", workbook)
        if close is not None:
            return (
                workbook[: close.end()]
                + f'<{close.group(1)}calcPr fullCalcOnLoad="1"/>'
                + workbook[close.end() :]
            )
    return workbook


def grow_filter_name(workbook: str, index: int, old: str, new: str) -> str:
    """The sheet's `_xlnm._FilterDatabase` name follows its grown autoFilter range."""

    def absolute(ref: str) -> str:
        return ":".join(re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", p) for p in ref.split(":"))

    def fix(m: re.Match[str]) -> str:
        attrs = _attrs(m.group(2))
        if attrs.get("name") != "_xlnm._FilterDatabase" or attrs.get("localSheetId") != str(index):
            return m.group(0)
        text = m.group(3)
        if text.endswith("!" + absolute(old)):
            text = text[: -len(absolute(old))] + absolute(new)
        elif text.endswith("!" + old):
            text = text[: -len(old)] + new
        return m.group(1) + text + m.group(4)

    return re.sub(rf"(<{PREFIX}definedName\b([^>]*)>)([^<]*)(</{PREFIX}definedName>)", fix, workbook)


def patch_sheet(
    xml: str, plan: SheetPlan, styles: Styles, path: Path, sheet: str
) -> tuple[str, tuple[str, str] | None]:
    """The sheet XML with the planned cells set and rows added; everything else byte-identical."""
    by_row: dict[int, dict[int, Edit]] = {}
    for (row, col), edit in plan.cells.items():
        by_row.setdefault(row, {})[col] = edit
    sources = {e.style_from[0] for e in plan.cells.values() if e.style_from}
    data_start = re.search(rf"<({PREFIX})sheetData\b[^>]*?(/?)>", xml)
    if data_start is None:
        raise WorkbookError("the sheet XML has no sheetData", file=path, sheet=sheet)
    prefix = data_start.group(1)
    if data_start.group(2):
        xml = xml[: data_start.start()] + f"<{prefix}sheetData></{prefix}sheetData>" + xml[data_start.end() :]
        data_start = re.search(rf"<({PREFIX})sheetData\b[^>]*?>", xml)
        assert data_start is not None
    data_end = xml.find(f"</{prefix}sheetData>", data_start.end())
    rows: dict[int, _RowSpan] = {}
    order: list[int] = []
    for match in ROW.finditer(xml, data_start.end(), data_end):
        attrs = _attrs(match.group("a"))
        if "r" not in attrs:
            raise WorkbookError(
                "the sheet has rows without a row number; open and save the workbook in Excel",
                file=path,
                sheet=sheet,
            )
        number = int(attrs["r"])
        p = match.group("p")
        if match.group("empty"):
            span = _RowSpan(match.start(), match.end(), match.end(), match.end(), match.group(0), attrs, True)
        else:
            close = xml.find(f"</{p}row>", match.end())
            if close < 0:
                raise WorkbookError(f"row {number} is not closed in the sheet XML", file=path, sheet=sheet)
            span = _RowSpan(
                match.start(), close + len(f"</{p}row>"), match.end(), close, match.group(0), attrs, False
            )
        rows[number] = span
        order.append(number)
    column_styles = _column_styles(xml)
    # The styles of the rows cells copy theirs from (the row above the appends; the header row).
    source_styles: dict[int, tuple[dict[int, str | None], str | None]] = {}
    for number in sources:
        source = rows.get(number)
        cells: dict[int, str | None] = {}
        row_style = None
        if source is not None:
            for col, _, _, attrs in row_cells(xml[source.body_start : source.body_end], number, path, sheet):
                cells[col] = attrs.get("s")
            if source.attrs.get("customFormat") in ("1", "true"):
                row_style = source.attrs.get("s")
        source_styles[number] = (cells, row_style)

    def style_of(edit: Edit, own: str | None, col: int) -> str | None:
        if edit.style_from is not None:
            src_row, src_col = edit.style_from
            cells, row_style = source_styles.get(src_row, ({}, None))
            if src_col in cells:
                base = cells[src_col]
            elif row_style is not None:
                base = row_style
            else:
                base = column_styles.get(col)
            return styles.with_quote(base, needs_quote(edit.value)) if edit.value or base else base
        if needs_quote(edit.value):
            return styles.with_quote(own, True)
        return own

    spans: list[tuple[int, int, str]] = []
    sorted_order = sorted(order)
    for number in sorted(by_row):
        edits = by_row[number]
        found = rows.get(number)
        if found is None:
            cells_xml = "".join(
                cell_xml(prefix, f"{letters(c)}{number}", style_of(e, column_styles.get(c), c), e.value)
                for c, e in sorted(edits.items())
            )
            at = next((rows[n].start for n in sorted_order if n > number), data_end)
            spans.append((at, at, f'<{prefix}row r="{number}">{cells_xml}</{prefix}row>'))
            continue
        body = xml[found.body_start : found.body_end]
        existing = {
            col: (start, end, attrs) for col, start, end, attrs in row_cells(body, number, path, sheet)
        }
        pieces: list[tuple[int, int, str]] = []
        inserted = False
        for col, edit in sorted(edits.items()):
            ref = f"{letters(col)}{number}"
            if col in existing:
                start, end, attrs = existing[col]
                own = attrs.get("s")
                pieces.append((start, end, cell_xml(prefix, ref, style_of(edit, own, col), edit.value)))
            else:
                row_style = found.attrs.get("s") if found.attrs.get("customFormat") in ("1", "true") else None
                own = row_style if row_style is not None else column_styles.get(col)
                position = next((existing[c][0] for c in sorted(existing) if c > col), len(body))
                pieces.append(
                    (position, position, cell_xml(prefix, ref, style_of(edit, own, col), edit.value))
                )
                inserted = True
        for start, end, replacement in sorted(pieces, key=lambda e: (e[0], e[1]), reverse=True):
            body = body[:start] + replacement + body[end:]
        tag = found.tag
        if inserted and "spans" in found.attrs:
            tag = re.sub(r"\s+spans\s*=\s*(\"[^\"]*\"|'[^']*')", "", tag)
        if found.empty:
            tag = tag[:-2].rstrip() + ">"
        p = ROW.match(found.tag)
        closing = f"</{p.group('p') if p else prefix}row>"
        spans.append((found.start, found.end, tag + body + closing))
    pieces_out, position = [], 0
    for start, end, replacement in sorted(spans, key=lambda s: (s[0], s[1])):
        pieces_out += [xml[position:start], replacement]
        position = end
    pieces_out.append(xml[position:])
    xml = widen_dimension("".join(pieces_out), list(plan.cells))
    return _grow_filter(xml, plan)


def _grow_filter(xml: str, plan: SheetPlan) -> tuple[str, tuple[str, str] | None]:
    """Extend the sheet's autoFilter over appended rows (and new columns) when it covered the table."""
    if not plan.appended_rows and not plan.new_columns:
        return xml, None
    match = re.search(rf"<{PREFIX}autoFilter\b[^>]*?\bref=\"([^\"]*)\"", xml[xml.rfind("sheetData>") :])
    if match is None:
        return xml, None
    offset = xml.rfind("sheetData>")
    old = match.group(1)
    corners = [REF.match(p) for p in old.split(":")]
    if len(corners) != 2 or not all(corners):
        return xml, None
    c0, r0 = col_index(corners[0].group(1)), int(corners[0].group(2))  # type: ignore[union-attr]
    c1, r1 = col_index(corners[1].group(1)), int(corners[1].group(2))  # type: ignore[union-attr]
    if r0 != 1:
        return xml, None
    if plan.appended_rows and r1 >= plan.table_last:
        r1 = max(r1, *plan.appended_rows)
    if plan.new_columns and c1 >= min(plan.new_columns) - 1:
        c1 = max(c1, *plan.new_columns)
    new = f"{letters(c0)}{r0}:{letters(c1)}{r1}"
    if new == old:
        return xml, None
    start, end = offset + match.start(1), offset + match.end(1)
    return xml[:start] + new + xml[end:], (old, new)


def add_sheet(
    zf: zipfile.ZipFile,
    workbook_part: str,
    workbook: str,
    names: set[str],
    sheet_name: str,
    patched: dict[str, bytes] | None = None,
) -> tuple[str, str, tuple[str, bytes], tuple[str, bytes]]:
    """A new worksheet part for an owned sheet: its rel, its <sheet> (last), its content type.

    `patched`: parts already changed in this write (a second new sheet builds on the first one's rels)."""
    patched = patched or {}

    def read(part: str) -> str:
        return (patched[part] if part in patched else zf.read(part)).decode("utf-8")

    base = dirname(workbook_part)
    n = 1
    while posix_join(base, "worksheets", f"sheet{n}.xml") in names:
        n += 1
    part = posix_join(base, "worksheets", f"sheet{n}.xml")
    rels_part = workbook_rels_part(workbook_part)
    rels = read(rels_part)
    used = set(re.findall(r'\sId="([^"]*)"', rels))
    m = 1
    while f"rId{m}" in used:
        m += 1
    rid = f"rId{m}"
    close = re.search(rf"</({PREFIX})Relationships>", rels)
    if close is None:
        raise WorkbookError("the workbook's relationships are not as expected", file=None)
    rp = close.group(1)
    target = relpath(part, base) if base else part
    rels = (
        rels[: close.start()]
        + f'<{rp}Relationship Id="{rid}" Type="{_WORKSHEET_TYPE}" Target="{target}"/>'
        + rels[close.start() :]
    )
    sheets_close = re.search(rf"</({PREFIX})sheets>", workbook)
    if sheets_close is None:
        raise WorkbookError("the workbook has no <sheets>", file=None)
    ids = [int(v) for v in re.findall(r'\ssheetId="(\d+)"', workbook)]
    root = re.search(rf"<{PREFIX}workbook\b[^>]*>", workbook)
    rel_prefix = None
    if root is not None:
        for name, uri in re.findall(r'xmlns:([\w.-]+)="([^"]*)"', root.group(0)):
            if uri in (REL_NS, REL_NS_STRICT):
                rel_prefix = name
                break
    ns = "" if rel_prefix else f' xmlns:r="{REL_NS}"'
    sp = sheets_close.group(1)
    element = f'<{sp}sheet name="{xml_text(sheet_name)}" sheetId="{max(ids, default=0) + 1}"{ns} {rel_prefix or "r"}:id="{rid}"/>'
    workbook = workbook[: sheets_close.start()] + element + workbook[sheets_close.start() :]
    types = read("[Content_Types].xml")
    tclose = re.search(rf"</({PREFIX})Types>", types)
    if tclose is None:
        raise WorkbookError("[Content_Types].xml is not as expected", file=None)
    types = (
        types[: tclose.start()]
        + f'<{tclose.group(1)}Override PartName="/{part}" ContentType="{_WORKSHEET_CT}"/>'
        + types[tclose.start() :]
    )
    return part, workbook, (rels_part, rels.encode("utf-8")), ("[Content_Types].xml", types.encode("utf-8"))
