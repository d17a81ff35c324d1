"""Reading an xlsx sheet's cells: calamine for whole sheets, a streamed scan of the sheet XML for a few rows.

The scan reads only the rows a writer needs (kept as bytes with their offsets, which is also what a
patch needs) and gives exactly what calamine + `sheet.cell_text` would give; a cell it cannot be
sure of raises `Hard`, and the caller falls back to `xlsx_grids`.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

from sync.errors import WorkbookError
from sync.sheet import cell_text
from sync.workbook.cells import ROW as _ROW
from sync.workbook.cells import row_cells
from sync.workbook.parts import open_calamine, workbook_part, workbook_rels
from sync.workbook.save import CHUNK as _CHUNK


def xlsx_grids(path: Path, names: list[str]) -> dict[str, list[list[str]]]:
    """The cells of the named sheets as text; rows[0] is sheet row 1, index 0 is column A."""
    with open_calamine(path) as workbook:
        present = set(workbook.sheet_names)
        out: dict[str, list[list[str]]] = {}
        for name in names:
            if name in present:
                rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
                out[name] = [[cell_text(v) for v in row] for row in rows]
        return out


# --------------------------------------------------------------------------------------------------
# Reading only the cells the plan needs, straight from the sheet XML
#
# A 100k-row sheet is ~140 MB of XML; reading it all with calamine into lists of str took most of the
# time and over a GB. write_ids only needs the header row and the rows of its records (and, for `neu-…`
# references, one column of Kontakte: that case still reads the whole sheet). The sheet XML is streamed
# once; the wanted rows are kept as bytes with their offsets, which is also what the patch needs.
#
# The values must be exactly what `xlsx_grids` (calamine + cell_text) gives (measured with the
# python-calamine in use: line ends normalized, `<t>` trimmed unless xml:space="preserve", `_xHHHH_`
# decoded up to U+00FF). Every cell whose value is not certain to come out the same — phonetic runs,
# error and date cells, numbers in a cell with a non-plain number format, `_xHHHH_` above U+00FF — makes
# the sheet fall back to `xlsx_grids`; so does a row without a row number.
# --------------------------------------------------------------------------------------------------

_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?worksheet[\s>]")
_R_ATTR = re.compile(rb"""(?:^|\s)r\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot|apos)|#([0-9]+)|#x([0-9A-Fa-f]+));")
_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_PRESERVE = re.compile(r"\bxml:space\s*=\s*[\"']preserve[\"']")
_XML_SPACE = " \t\n\r"
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
# Number formats whose numbers calamine gives as plain floats (General, 0, 0.00, #,##0, %, 0.00E+00,
# fractions, accounting, ##0.0E+0, @); any other format (dates, times, custom) may give a date.
_PLAIN_FORMATS = {0, 1, 2, 3, 4, 9, 10, 11, 12, 13, 37, 38, 39, 40, 48, 49}


class Hard(Exception):
    """A cell whose value the sparse reader does not reproduce with certainty: read the sheet with calamine."""


@dataclass
class Scan:
    """The wanted rows of one sheet part: the XML before <sheetData>, each row element with its offsets."""

    part: str
    prefix: bytes
    head: bytes | None  # the bytes before the first "sheetData" (None: there is none)
    rows: dict[int, tuple[int, int, bytes]]  # row number -> (start, end, the <row> element)
    unnumbered: int | None  # offset of the first <row> without r, if one came before the last wanted row


def scan_sheet(zf: zipfile.ZipFile, part: str, wanted: set[int]) -> Scan:
    """One streaming pass over a sheet part, keeping the wanted rows (it stops after the last of them)."""
    pending = set(wanted)
    rows: dict[int, tuple[int, int, bytes]] = {}
    head: bytes | None = None
    prefix = b""
    row_re: re.Pattern[bytes] | None = None
    unnumbered: int | None = None
    data, base = b"", 0  # base: offset of data[0] in the part
    with zf.open(part) as fh:
        while True:
            chunk = fh.read(_CHUNK)
            eof = not chunk
            data += chunk
            if row_re is None:
                at = data.find(b"sheetData")
                if at < 0 and not eof:
                    continue
                head = data[:at] if at >= 0 else None
                root = _ROOT.search(data, 0, at if at >= 0 else len(data))
                prefix = (root.group(1) + b":") if root is not None and root.group(1) else b""
                if root is not None:
                    row_re = re.compile(b"<(" + re.escape(prefix) + rb")row\b([^>]*?)(/?)>")
                else:
                    row_re = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)row\b([^>]*?)(/?)>")
            done = 0  # data[:done] is handled
            keep: int | None = None  # where the next chunk must continue (an unfinished wanted row)
            for match in row_re.finditer(data):
                attr = _R_ATTR.search(match.group(2))
                value = (attr.group(1) if attr.group(1) is not None else attr.group(2)) if attr else b""
                number = int(value) if value.strip().isdigit() else None
                if number is None:
                    if unnumbered is None and pending:
                        unnumbered = base + match.start()
                    done = match.end()
                    continue
                if number not in pending:
                    done = match.end()
                    continue
                if match.group(3):
                    end = match.end()
                else:
                    close = data.find(b"</" + match.group(1) + b"row>", match.end())
                    if close < 0:
                        if eof:
                            end = -1
                        else:
                            keep = match.start()  # the rest of the row comes with the next chunk
                            break
                    else:
                        end = close + len(match.group(1)) + 6
                if end >= 0:
                    rows[number] = (base + match.start(), base + end, data[match.start() : end])
                    done = end
                else:
                    rows[number] = (base + match.start(), -1, b"")  # never closed
                    done = match.end()
                pending.discard(number)
                if not pending:
                    break
            if eof or not pending:
                break
            if keep is None:
                # What follows the last match may hold the start of an unfinished <row> tag.
                keep = max(done, len(data) - (1 << 16))
            base += keep
            data = data[keep:]
    return Scan(part, prefix, head, rows, unnumbered)


class SheetContext:
    """The shared strings and number formats of a package, read only when a cell needs them."""

    def __init__(self, zf: zipfile.ZipFile, path: Path) -> None:
        self.zf = zf
        self.path = path
        self._formats: list[int] | None = None
        self._plain = _PLAIN_FORMATS
        self._rels: dict[str, tuple[str, str]] | None = None

    def _part(self, kind: str) -> str | None:
        if self._rels is None:
            self._rels = workbook_rels(self.zf, workbook_part(self.zf, self.path))
        part = next((t for typ, t in self._rels.values() if typ.endswith("/" + kind)), None)
        return part if part is not None and part in self.zf.NameToInfo else None

    def plain_number(self, style: str | None) -> bool:
        """Whether calamine gives a number in a cell of this style as a float (not a date or time)."""
        if self._formats is None:
            self._formats = []
            part = self._part("styles")
            if part is not None:
                root = ET.fromstring(self.zf.read(part))
                custom = {e.get("numFmtId") for e in root.iter() if e.tag.rsplit("}", 1)[-1] == "numFmt"}
                self._plain = {f for f in _PLAIN_FORMATS if str(f) not in custom}
                for element in root:
                    if element.tag.rsplit("}", 1)[-1] == "cellXfs":
                        self._formats = [
                            int(xf.get("numFmtId", "0")) if xf.get("numFmtId", "0").isdigit() else -1
                            for xf in element
                            if xf.tag.rsplit("}", 1)[-1] == "xf"
                        ]
        index = int(style) if style and style.isdigit() else 0 if not style else -1
        if 0 <= index < len(self._formats):
            return self._formats[index] in self._plain
        return index == 0 and not self._formats

    def shared_strings(self, wanted: set[int]) -> dict[int, str]:
        """The wanted entries of the shared-strings table (streamed; a missing one is Hard)."""
        part = self._part("sharedStrings")
        if part is None:
            raise Hard
        out: dict[int, str] = {}
        last = max(wanted)
        index = 0
        data = b""
        si: re.Pattern[bytes] | None = None
        with self.zf.open(part) as fh:
            while index <= last:
                chunk = fh.read(_CHUNK)
                eof = not chunk
                data += chunk
                if si is None:
                    root = re.search(rb"<(?:([A-Za-z_][\w.-]*):)?sst[\s>]", data)
                    if root is None:
                        if eof:
                            raise Hard
                        continue
                    prefix = (root.group(1) + b":") if root.group(1) else b""
                    si = re.compile(b"<" + re.escape(prefix) + rb"si(?:\s[^>]*?)?(/?)>")
                    close = b"</" + prefix + b"si>"
                    text_prefix = prefix.decode("ascii")
                done = 0
                for match in si.finditer(data):
                    if match.group(1):
                        end = match.end()
                        body = ""
                    else:
                        end = data.find(close, match.end())
                        if end < 0:
                            break
                        body = data[match.end() : end].decode("utf-8") if index in wanted else ""
                        end += len(close)
                    if index in wanted:
                        out[index] = _rich_text(body, text_prefix)
                    index += 1
                    done = end
                    if index > last:
                        break
                if eof:
                    break
                data = data[done:]
        if len(out) != len(wanted):
            raise Hard
        return out


def sparse_grid(scan: Scan, context: SheetContext, length: int) -> list[list[str]]:
    """The scanned rows as `xlsx_grids` rows (row `n` at index n - 1); the other rows empty."""
    grid: list[list[str]] = [[] for _ in range(length)]
    shared: dict[tuple[int, int], int] = {}
    prefix = scan.prefix.decode("ascii")
    for number, (_, end, element) in scan.rows.items():
        if end < 0:
            raise Hard
        try:
            text = element.decode("utf-8")
        except UnicodeDecodeError:
            raise Hard from None
        start = _ROW.match(text)
        if start is None or start.group("p") != prefix:
            raise Hard
        body = "" if start.group("empty") else text[start.end() : len(text) - len(f"</{prefix}row>")]
        try:
            cells = row_cells(body, number, Path(), "")
        except WorkbookError:
            raise Hard from None
        values: dict[int, str] = {}
        for col, begin, end, attrs in cells:
            if col in values:
                raise Hard
            value = _cell_value(body[begin:end], attrs, prefix, context)
            if isinstance(value, int):
                shared[(number, col)] = value
                values[col] = ""
            else:
                values[col] = value
        if values:
            row = [""] * (max(values) + 1)
            for col, value in values.items():
                row[col] = value
            grid[number - 1] = row
    if shared:
        strings = context.shared_strings(set(shared.values()))
        for (number, col), index in shared.items():
            grid[number - 1][col] = strings[index]
    return grid


def _cell_value(xml: str, attrs: dict[str, str], prefix: str, context: SheetContext) -> str | int:
    """A cell's text as calamine + cell_text give it; an int is an index into the shared strings."""
    kind = attrs.get("t", "n")
    inner = "" if xml.endswith("/>") and xml.find(">") == len(xml) - 1 else xml[xml.find(">") + 1 :]
    if kind == "inlineStr":
        found = re.search(rf"<{re.escape(prefix)}is\b[^>]*?(/?)>", inner)
        if found is None:
            raise Hard
        if found.group(1):
            return ""
        close = inner.find(f"</{prefix}is>", found.end())
        if close < 0:
            raise Hard
        return _rich_text(inner[found.end() : close], prefix)
    v = re.search(rf"<{re.escape(prefix)}v(?:\s[^>]*)?>(.*?)</{re.escape(prefix)}v>", inner, re.S)
    if v is None:
        if kind in ("n", "str") and not re.search(rf"<{re.escape(prefix)}v\b", inner):
            return ""
        raise Hard
    raw = v.group(1)
    if kind == "s":
        if not raw.isascii() or not raw.isdigit():
            raise Hard
        return int(raw)
    if kind == "str":
        if raw != raw.strip(_XML_SPACE):
            raise Hard
        return _text(raw, preserve=True, strings=False)
    if kind == "b" and raw in ("0", "1"):
        return raw
    if kind == "n" and _NUMBER.fullmatch(raw) and context.plain_number(attrs.get("s")):
        return cell_text(float(raw))
    raise Hard


def _rich_text(xml: str, prefix: str) -> str:
    """The text of a string item (`<si>`/`<is>`): its `<t>` elements, also inside rich-text runs."""
    if "<" + prefix + "rPh" in xml or "<!" in xml or "<?" in xml:
        raise Hard
    p = re.escape(prefix)
    return "".join(
        _text(text or "", preserve=bool(_PRESERVE.search(attrs or "")))
        for attrs, text in re.findall(rf"<{p}t(\s[^>]*?)?(?:/>|>(.*?)</{p}t>)", xml, re.S)
    )


def _text(raw: str, *, preserve: bool, strings: bool = True) -> str:
    """XML character data as calamine reads it; Hard where that is not certain.

    Line ends are normalized (CR LF and CR → LF, as the XML parser does); without xml:space="preserve"
    the text is trimmed of XML white space; the entities are resolved; then, in strings, the `_xHHHH_`
    escapes of characters up to U+00FF (calamine leaves the others as they are).
    """
    if "<" in raw:
        raise Hard
    if "\r" in raw:
        if not strings:
            raise Hard
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if not preserve:
        raw = raw.strip(_XML_SPACE)
    if "&" in raw:
        if len(_ENTITY.findall(raw)) != raw.count("&"):
            raise Hard
        raw = _ENTITY.sub(_entity, raw)
        if not preserve and raw != raw.strip(_XML_SPACE):
            raise Hard  # white space from a character reference: trimmed or not?
    if "_x" in raw:
        if not strings:
            raise Hard
        raw = _ESCAPED.sub(_escaped, raw)
    return raw


def _escaped(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    if code > 0xFF:
        raise Hard
    return chr(code)


def _entity(match: re.Match[str]) -> str:
    if match.group(1):
        return _NAMED[match.group(1)]
    code = int(match.group(2)) if match.group(2) else int(match.group(3), 16)
    if code > 0x10FFFF:
        raise Hard
    return chr(code)
