"""Cell XML: column letters, one escaping for every writer, a row's cells, dimension, guarded edits."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, unescape

from sync.errors import WorkbookError

PREFIX = r"(?:[A-Za-z_][\w.-]*:)?"  # an optional namespace prefix, in a pattern
ROW = re.compile(rf"<(?P<p>{PREFIX})row\b(?P<a>[^>]*?)(?P<empty>/?)>")
CELL = re.compile(rf"<(?P<p>{PREFIX})c\b(?P<a>[^>]*?)(?P<empty>/?)>")
COL = re.compile(rf"<{PREFIX}col\b([^>]*?)/?>")
ATTR = re.compile(r"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
DIMENSION = re.compile(rf"<{PREFIX}dimension\b[^>]*?\bref=\"([^\"]*)\"")
REF = re.compile(r"^([A-Z]{1,3})(\d+)$")
# "_x0041_" in a string means "A" to every xlsx reader: a literal one is escaped as "_x005F_x0041_".
# Also before a control character, which becomes "_x000D_"-like itself ("_x0041\r" must not read "A\r").
_ESCAPE_LIKE = re.compile(r"_(?=x[0-9A-Fa-f]{4}(?:_|[\x00-\x08\x0b-\x1f]))")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_TEXT = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?t\b[^>]*?(?:/>|>(.*?)</(?:[A-Za-z_][\w.-]*:)?t>)", re.S)
_VALUE = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?v\b[^>]*>(.*?)</(?:[A-Za-z_][\w.-]*:)?v>", re.S)
_FORMULA = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?f\b")


def attrs(text: str) -> dict[str, str]:
    """The attributes of one start tag's inside (`r="A1" s="3"`) as a dict."""
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in ATTR.finditer(text)}


def letters(col: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    out, col = "", col + 1
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def col_index(text: str) -> int:
    """A → 0, Z → 25, AA → 26."""
    n = 0
    for ch in text:
        n = n * 26 + ord(ch) - 64
    return n - 1


def xml_text(value: str) -> str:
    """A string as xlsx stores it in <t>: "_xHHHH_" look-alikes and control characters escaped."""
    if "_x" in value:
        value = _ESCAPE_LIKE.sub("_x005F_", value)
    value = _CONTROL.sub(lambda m: f"_x{ord(m.group(0)):04X}_", value)
    return escape(value)


def read_text(raw: str) -> str:
    """The string an xlsx reader sees in <t>'s raw XML text (the inverse of `xml_text`)."""
    return _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), unescape(raw, {"&quot;": '"', "&apos;": "'"}))


def cell_xml(prefix: str, ref: str, style: str | None, value: str) -> str:
    """An inline-string cell (no shared-strings table to touch, and always text: an id is never a
    number); an empty value is an empty cell that keeps its style."""
    s = f' s="{escape(style)}"' if style not in (None, "", "0") else ""
    if value == "":
        return f'<{prefix}c r="{ref}"{s}/>'
    keep = ' xml:space="preserve"' if value != value.strip() or "\n" in value else ""
    return (
        f'<{prefix}c r="{ref}"{s} t="inlineStr"><{prefix}is><{prefix}t{keep}>{xml_text(value)}'
        f"</{prefix}t></{prefix}is></{prefix}c>"
    )


def row_cells(body: str, number: int, path: Path, sheet: str) -> list[tuple[int, int, int, dict[str, str]]]:
    """(0-based column, start, end, attributes) of every <c> in a row's inner XML."""
    out = []
    for match in CELL.finditer(body):
        found = attrs(match.group("a"))
        ref = REF.match(found.get("r", ""))
        if ref is None:
            raise WorkbookError(
                f"row {number} has cells without a reference; open and save the workbook in Excel",
                file=path,
                sheet=sheet,
            )
        if match.group("empty"):
            end = match.end()
        else:
            close = f"</{match.group('p')}c>"
            end = body.find(close, match.end())
            if end < 0:
                raise WorkbookError(f"a cell of row {number} is not closed", file=path, sheet=sheet, row=number)
            end += len(close)
        out.append((col_index(ref.group(1)), match.start(), end, found))
    return out


def column_styles(xml: str) -> dict[int, str]:
    """0-based column → its default style (`<col min max style>`), for cells that do not exist yet."""
    head = xml[: xml.find("sheetData")] if "sheetData" in xml else ""
    out: dict[int, str] = {}
    for match in COL.finditer(head):
        found = attrs(match.group(1))
        if "style" in found and found.get("min", "").isdigit() and found.get("max", "").isdigit():
            for col in range(int(found["min"]) - 1, min(int(found["max"]), 16_384)):
                out[col] = found["style"]
    return out


def widen_dimension(xml: str, cells: Collection[tuple[int, int]]) -> str:
    """Grow `<dimension ref>` to hold the (sheet row, 0-based column) cells (readers may size the sheet by it)."""
    match = DIMENSION.search(xml)
    if match is None:
        return xml
    corners = [REF.match(p) for p in match.group(1).split(":")]
    if not all(corners):
        return xml
    cols = [col_index(c.group(1)) for c in corners if c] + [col for _, col in cells]
    rows = [int(c.group(2)) for c in corners if c] + [row for row, _ in cells]
    ref = f"{letters(min(cols))}{min(rows)}:{letters(max(cols))}{max(rows)}"
    if ref == match.group(1) or ref == f"{match.group(1)}:{match.group(1)}":
        return xml
    return xml[: match.start(1)] + ref + xml[match.end(1) :]


# --------------------------------------------------------------------------------------------------
# The guarded cell edit: write NEW where the cell still holds EXPECT, checked on the XML being patched
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellEdit:
    """Write `new` into the cell at (sheet row, 0-based column) if it still holds `expect`."""

    row: int
    col: int
    expect: str
    new: str


@dataclass(frozen=True)
class Refused:
    """A guarded edit not made: the cell holds `found`, not what the plan expected."""

    edit: CellEdit
    found: str


def cell_text(cell: str, shared: list[str] | None = None) -> str:
    """The text a cell's XML holds (inline, shared or plain value; a formula's cached value)."""
    start = CELL.match(cell)
    kind = attrs(start.group("a")).get("t", "n") if start else "n"
    if kind == "inlineStr":
        return "".join(read_text(m.group(1) or "") for m in _TEXT.finditer(cell))
    value = _VALUE.search(cell)
    raw = value.group(1) if value else ""
    if kind == "s" and raw.strip().isdigit():
        index = int(raw)
        if shared is None or index >= len(shared):
            raise WorkbookError(f"the cell {cell[:40]} points at a shared string the package does not have")
        return shared[index]
    return read_text(raw) if kind in ("str", "e") else unescape(raw)


def edit_cells(
    xml: str, edits: Iterable[CellEdit], path: Path, sheet: str, shared: list[str] | None = None
) -> tuple[str, list[Refused]]:
    """The sheet XML with every edit made whose cell still holds its `expect` (a missing cell holds "");
    the edits refused because the cell holds something else, or a formula, are returned."""
    by_row: dict[int, list[CellEdit]] = {}
    for edit in edits:
        by_row.setdefault(edit.row, []).append(edit)
    refused: list[Refused] = []
    pieces: list[tuple[int, int, str]] = []
    styles = column_styles(xml)
    for match in ROW.finditer(xml):
        number = int(attrs(match.group("a")).get("r", "0") or 0)
        wanted = by_row.pop(number, None)
        if not wanted or match.group("empty"):
            if wanted:
                by_row[number] = wanted  # an empty <row/>: handled below as a missing row
            continue
        close = f"</{match.group('p')}row>"
        end = xml.find(close, match.end())
        if end < 0:
            raise WorkbookError(f"row {number} is not closed", file=path, sheet=sheet, row=number)
        body = xml[match.end() : end]
        cells = {c[0]: c for c in row_cells(body, number, path, sheet)}
        for edit in sorted(wanted, key=lambda e: e.col):
            ref = f"{letters(edit.col)}{number}"
            existing = cells.get(edit.col)
            if existing is None:
                if edit.expect != "":
                    refused.append(Refused(edit, ""))
                    continue
                after = next((c for c in sorted(cells) if c > edit.col), None)
                at = match.end() + (cells[after][1] if after is not None else len(body))
                pieces.append((at, at, cell_xml(match.group("p"), ref, styles.get(edit.col), edit.new)))
                continue
            _, start, stop, found = existing
            current = body[start:stop]
            text = "=formula" if _FORMULA.search(current) else cell_text(current, shared)
            if text != edit.expect:
                refused.append(Refused(edit, text))
                continue
            style = found.get("s") or styles.get(edit.col)
            pieces.append((match.end() + start, match.end() + stop, cell_xml(match.group("p"), ref, style, edit.new)))
    # Rows the sheet does not have: the cell is blank, so only an edit expecting "" may go on.
    for wanted in by_row.values():
        refused.extend(Refused(e, "") for e in wanted if e.expect != "")
        if any(e.expect == "" for e in wanted):
            raise WorkbookError(
                f"row {wanted[0].row} does not exist in the sheet; adding rows is not a cell edit",
                file=path,
                sheet=sheet,
                row=wanted[0].row,
            )
    for start, stop, text in sorted(pieces, key=lambda p: (p[0], p[1]), reverse=True):
        xml = xml[:start] + text + xml[stop:]
    return xml, refused
