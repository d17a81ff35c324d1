"""Read an xlsx workbook (python-calamine) or a folder of CSV files back into all-text tables, row numbers kept."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import python_calamine  # reads xlsx 6-19x faster than openpyxl (prior-art.md §D2); openpyxl stays for write-back

from sync.errors import WorkbookError
from sync.mapping import Mapping, SheetMap
from sync.sheet.layout import BOM, CSV_SEPARATORS
from sync.workbook.cells import col_index
from sync.workbook.parts import open_calamine, sheet_parts

# --------------------------------------------------------------------------------------------
# xlsx / CSV → tables
# --------------------------------------------------------------------------------------------


def read_workbook(path: Path | str, mapping: Mapping) -> dict[str, pd.DataFrame]:
    """Sheet name → all-text table of every mapped sheet; the index is the row number in the sheet.

    Columns are the sheet's headers (BOM and surrounding blanks stripped), in the sheet's order;
    columns with an empty header and sheets the mapping does not name are left out. Completely
    empty rows are skipped. Every cell is a str ("" for empty); typed xlsx cells are turned into
    text (42.0 → "42", True → "1", a date → "2024-02-01") and the CSV formula prefix is undone.
    Each table carries a `SheetCells` (see `sheet_cells`): its file, and for xlsx the formula
    cells and merged ranges of its named columns, which `desired.read_desired` refuses.
    """
    path = Path(path)
    if path.is_dir():
        raw = _read_csv_folder(path, mapping)
    elif path.exists():
        raw = _read_xlsx(path, mapping)
    else:
        raise WorkbookError("does not exist", file=path)
    return {sheet.sheet: _table(raw[sheet.sheet], sheet) for sheet in mapping.sheets.values()}


@dataclass(frozen=True)
class SheetCells:
    """What a sheet holds besides its values: its file, formula cells and merged ranges (xlsx only)."""

    file: str
    # (sheet row, header) of every formula cell in a column with a header, rows of the table only.
    formulas: tuple[tuple[int, str], ...] = ()
    # (range like "B4:C5", first row, headers of the columns it covers) of every merged range.
    merged: tuple[tuple[str, int, tuple[str, ...]], ...] = ()

    def __deepcopy__(self, memo: dict[int, Any]) -> SheetCells:
        # pandas deep-copies DataFrame.attrs into every frame derived from a table (even a column);
        # this object is immutable, so sharing it keeps that free however many formulas it lists.
        return self


_CELLS_ATTR = "billsync.cells"


def sheet_cells(table: pd.DataFrame) -> SheetCells | None:
    """The SheetCells `read_workbook` attached to a table (None for a table built in memory)."""
    cells = table.attrs.get(_CELLS_ATTR)
    return cells if isinstance(cells, SheetCells) else None


@dataclass(frozen=True)
class _Raw:
    headers: list[str]
    grid: np.ndarray  # 2-D object array of str cells below the header row
    file: Path
    formulas: tuple[tuple[int, int], ...] = ()  # (sheet row, 0-based column) of formula cells
    merged: tuple[tuple[int, int, int, int], ...] = ()  # 0-based first row, first col, last row, last col


def _table(raw: _Raw, sheet: SheetMap) -> pd.DataFrame:
    headers, grid, file = raw.headers, raw.grid, raw.file
    keep: list[int] = []
    seen: dict[str, int] = {}
    for i, header in enumerate(headers):
        if not header:
            continue
        if header in seen:
            raise WorkbookError(
                f"header appears twice (columns {_col_letter(seen[header])} and {_col_letter(i)})",
                file=file,
                sheet=sheet.sheet,
                row=1,
                column=header,
            )
        seen[header] = i
        keep.append(i)
    key_header = sheet.key_column.header
    if key_header not in seen:
        raise WorkbookError(
            "the key column is missing; without it no row can be matched (nothing was changed)",
            file=file,
            sheet=sheet.sheet,
            row=1,
            column=key_header,
        )
    cells = grid[:, keep]
    # Skip rows where every cell is empty (Excel keeps formatted empty rows; CSVs end with blank lines).
    filled = (cells != "").any(axis=1) if cells.size else np.zeros(len(cells), dtype=bool)
    index = pd.Index(np.flatnonzero(filled) + 2, name="row")  # row 1 is the header
    table = pd.DataFrame(cells[filled], index=index, columns=[headers[i] for i in keep], dtype=object)
    table.attrs[_CELLS_ATTR] = _sheet_cells(raw, set(index))
    return table


def _sheet_cells(raw: _Raw, rows: set[int]) -> SheetCells:
    """Formula cells and merged ranges in terms of sheet rows and headers (named columns only)."""
    headers = raw.headers

    def named(col: int) -> str:
        return headers[col] if 0 <= col < len(headers) else ""

    formulas = tuple(
        sorted((row, named(col)) for row, col in raw.formulas if named(col) and (row in rows or row == 1))
    )
    merged = []
    for r0, c0, r1, c1 in raw.merged:
        covered = tuple(h for h in map(named, range(c0, c1 + 1)) if h)
        ref = f"{_col_letter(c0)}{r0 + 1}:{_col_letter(c1)}{r1 + 1}"
        merged.append((ref, r0 + 1, covered))
    return SheetCells(file=str(raw.file), formulas=formulas, merged=tuple(merged))


def _col_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_text(value: Any) -> str:
    """A cell value as the canonical text billsync compares (None → "", 42.0 → "42", True → "1")."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return ""
        # Whole numbers as integers ("42", not "42.0") while they are exact in a double.
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(timespec="seconds" if not value.microsecond else "auto")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


class _Grid:
    """Rows of cell values in, one 2-D object array of str out, a chunk of rows at a time.

    Each chunk is made text (`convert` for the few cells that are not str) and equal cells of a column
    become one str object (pandas' hash table in C, then a pool per column) before the next chunk is
    read: calamine and the csv module give every cell a string of its own, and 100,000 clients with
    200,000 contacts are 6.8 million strings (325 MB) for 1.4 million distinct values (82 MB). A chunk's
    copies die while the next is read, so memory holds the distinct values, not every cell at once.
    """

    CHUNK = 2048

    def __init__(self, convert: Callable[[Any], str]) -> None:
        self.convert = convert
        self.parts: list[np.ndarray] = []
        self.pools: list[dict[str, str]] = []

    def add_all(self, rows: Iterable[list[Any]]) -> int:
        """Every row of `rows` (ragged ones are padded with ""), a chunk at a time; how many there were."""
        count = 0
        it = iter(rows)
        while chunk := list(islice(it, self.CHUNK)):
            count += len(chunk)
            self._add_chunk(chunk)
        return count

    def build(self) -> np.ndarray:
        """Every row added, as one array as wide as the widest row."""
        if not self.parts:
            return np.empty((0, 0), dtype=object)
        width = max(part.shape[1] for part in self.parts)
        parts = [_padded(part, width) for part in self.parts]
        self.parts = []
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _add_chunk(self, rows: list[list[Any]]) -> None:
        width = max(map(len, rows))
        if any(len(r) != width for r in rows):
            rows = [list(r) + [""] * (width - len(r)) for r in rows]
        grid = np.empty((len(rows), width), dtype=object)
        grid[:] = rows
        del rows
        self.pools += [{} for _ in range(width - len(self.pools))]
        for j in range(width):
            column = grid[:, j]
            # Nearly every cell is already a str; convert only the columns that hold something else.
            if set(map(type, column)) != {str}:
                grid[:, j] = [v if type(v) is str else self.convert(v) for v in column]
                column = grid[:, j]
            codes, uniques = pd.factorize(column)
            if len(uniques) == len(codes):
                continue  # all distinct (ids, phone numbers): nothing to share
            pool = self.pools[j]
            shared = np.array([pool.setdefault(v, v) for v in uniques], dtype=object)
            grid[:, j] = shared.take(codes)
        self.parts.append(grid)


def _padded(grid: np.ndarray, width: int) -> np.ndarray:
    if grid.shape[1] == width:
        return grid
    out = np.full((grid.shape[0], width), "", dtype=object)
    out[:, : grid.shape[1]] = grid
    return out


def _header_and_rows(grid: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(headers, the rows below them) of a grid whose first row is the header row."""
    if not grid.size:
        return [], np.empty((max(len(grid) - 1, 0), 0), dtype=object)
    headers = [h.lstrip(BOM).strip() for h in grid[0]]
    return headers, grid[1:]


_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls (and other OLE2 files)


def _read_xlsx(path: Path, mapping: Mapping) -> dict[str, _Raw]:
    if path.stat().st_size == 0:
        raise WorkbookError("the file is empty (0 bytes), not an xlsx workbook", file=path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic != b"PK\x03\x04":
        if path.suffix.lower() == ".csv":
            hint = " (a CSV file? give the folder that holds the CSV files)"
        elif magic == _OLE_MAGIC:
            hint = " (an old Excel 97-2003 .xls file? save it as 'Excel-Arbeitsmappe (*.xlsx)')"
        else:
            hint = ""
        raise WorkbookError(f"not an xlsx workbook{hint}", file=path)
    names = [s.sheet for s in mapping.sheets.values()]
    _check_sheets(path, names)
    # One thread per sheet, each with a calamine workbook of its own (one is not shared between threads),
    # and one for the formula scan, which inflates the sheet XML a second time. calamine releases the
    # GIL while it parses, so on two cores the sheets take about the time of the largest (100k clients:
    # 6.2 s one after the other) and the scan costs about nothing (4.39 s with it, 4.34 s without).
    out: dict[str, _Raw] = {}
    with ThreadPoolExecutor(len(names) + 1, thread_name_prefix="billsync-xlsx") as pool:
        scan = pool.submit(xlsx_formula_cells, path, names)
        parsed = [pool.submit(_parse_sheet, path, name) for name in names]
        for name, job in zip(names, parsed, strict=True):
            cells, merged = job.result()
            headers, grid = _header_and_rows(cells)
            if not any(headers):
                raise WorkbookError("the sheet is empty: no header row", file=path, sheet=name, row=1)
            out[name] = _Raw(headers, grid, path, merged=merged)
        formulas = scan.result()
    return {name: _with_formulas(raw, formulas.get(name, [])) for name, raw in out.items()}


def _with_formulas(raw: _Raw, formulas: list[tuple[int, int]]) -> _Raw:
    return _Raw(raw.headers, raw.grid, raw.file, formulas=tuple(formulas), merged=raw.merged)


def _missing_sheet(path: Path, name: str, present: list[str]) -> WorkbookError:
    return WorkbookError(
        f"sheet is missing (the workbook has: {', '.join(present) or 'no sheets'})", file=path, sheet=name
    )


_Merged = tuple[tuple[int, int, int, int], ...]


def _check_sheets(path: Path, names: list[str]) -> None:
    with open_calamine(path) as workbook:
        present = list(workbook.sheet_names)
    for name in names:
        if name not in present:
            raise _missing_sheet(path, name, present)


def _parse_sheet(path: Path, name: str) -> tuple[np.ndarray, _Merged]:
    grid = _Grid(cell_text)
    with open_calamine(path) as workbook:
        try:
            sheet = workbook.get_sheet_by_name(name)
            # Row by row (not to_python's one list of every row): see _Grid. Row 1 and column A stay
            # where they are even when empty: iter_rows starts at the sheet's first used column, so
            # the columns left of it are padded back (to_python(skip_empty_area=False) does the same).
            first_row, first_col = sheet.start or (0, 0)
            lead = [""] * first_col
            rows = sheet.iter_rows()
            seen = grid.add_all((lead + row for row in rows) if first_col else rows)
            # calamine merged ranges: ((first row, col), (last row, col)), 0-based.
            merged = tuple((r0, c0, r1, c1) for (r0, c0), (r1, c1) in sheet.merged_cell_ranges or ())
        except python_calamine.CalamineError as exc:
            raise WorkbookError(f"cannot read the sheet ({exc})", file=path, sheet=name) from None
    cells = grid.build()
    if first_row and seen == sheet.height:  # rows above the used area not yielded either: put them back
        cells = np.concatenate([np.full((first_row, cells.shape[1]), "", dtype=object), cells])
    return cells, merged


# A formula element in sheet XML: <f>, <f t="shared" .../>, or with a namespace prefix (<x:f>).
_ROOT_PREFIX = re.compile(rb"<(?:([A-Za-z_][\w.\-]*):)?worksheet[\s>]")
_CELL_REF = re.compile(rb'\sr="([A-Z]{1,3})([0-9]{1,7})"')
_SCAN_CHUNK = 1 << 24
_SCAN_TAIL = 4096  # a cell's start tag (<c r="B2" s="3" t="s">) is far shorter


def xlsx_formula_cells(path: Path | str, sheets: list[str]) -> dict[str, list[tuple[int, int]]]:
    """(sheet row, 0-based column) of every cell holding a formula, per named sheet (missing: absent).

    python-calamine reads only a formula's cached value, so this reads the sheet XML from the zip
    and looks for formula elements: one streaming pass, no openpyxl, about 0.3 s per 100 MB of XML.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            parts = sheet_parts(archive, path)
            out: dict[str, list[tuple[int, int]]] = {}
            for name in sheets:
                part = parts.get(name)
                if part is not None and part in archive.NameToInfo:
                    with archive.open(part) as fh:
                        out[name] = _scan_formulas(fh)
            return out
    except (zipfile.BadZipFile, ElementTree.ParseError, OSError, KeyError, EOFError) as exc:
        raise WorkbookError(f"not a readable xlsx workbook ({exc})", file=path) from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _scan_formulas(fh: Any) -> list[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    prefix = b""
    tail = b""
    first = True
    while True:
        chunk = fh.read(_SCAN_CHUNK)
        if not chunk:
            break
        if first:
            first = False
            root = _ROOT_PREFIX.search(chunk[: _SCAN_TAIL * 4])
            if root is not None and root.group(1):  # <x:worksheet>: cells are <x:c>, formulas <x:f>
                prefix = root.group(1) + b":"
        needle, cell_open = b"<" + prefix + b"f", b"<" + prefix + b"c "
        data = tail + chunk
        # Fast path: one C-level find per 16 MB; the regex only runs where "<f" occurs at all (after
        # sheetData, xlsxwriter's <formula1> of the yes/no validation is such a place). Matches in
        # the overlap with the previous chunk are found twice; the set keeps one.
        if data.find(needle) >= 0:
            for match in re.finditer(re.escape(needle) + rb"[\s/>]", data):
                # <f> is the first child of its cell: the nearest "<c " before it opens that cell.
                cell = data.rfind(cell_open, 0, match.start())
                ref = _CELL_REF.search(data, cell, data.find(b">", cell) + 1) if cell >= 0 else None
                if ref is not None:
                    found.add((int(ref.group(2)), col_index(ref.group(1).decode("ascii"))))
        tail = data[-_SCAN_TAIL:]
    return sorted(found)


def _read_csv_folder(folder: Path, mapping: Mapping) -> dict[str, _Raw]:
    out: dict[str, _Raw] = {}
    files = {p.name.casefold(): p for p in folder.iterdir() if p.is_file()}
    for sheet in mapping.sheets.values():
        file = folder / f"{sheet.sheet}.csv"
        if not file.is_file():
            # Windows and macOS users may save "kunden.csv"; accept any case.
            found = files.get(f"{sheet.sheet}.csv".casefold())
            if found is None:
                present = sorted(p.name for p in files.values() if p.suffix.lower() == ".csv")
                raise WorkbookError(
                    f"{file.name} is missing (the folder has: {', '.join(present) or 'no CSV files'})",
                    file=folder,
                    sheet=sheet.sheet,
                )
            file = found
        headers, grid = _read_csv_file(file, sheet.sheet, mapping.csv.separator)
        out[sheet.sheet] = _Raw(headers, grid, file)
    return out


def _read_csv_file(file: Path, sheet: str, preferred: str) -> tuple[list[str], np.ndarray]:
    data = file.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise WorkbookError("the file is empty: no header row", file=file, sheet=sheet, row=1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _encoding_error(file, sheet, data, exc.start, preferred) from None
    separator = detect_separator(text, preferred)
    cells = _Grid(str)
    cells.add_all(csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=False))
    headers, grid = _header_and_rows(cells.build())
    if not any(headers):
        raise WorkbookError("the file is empty: no header row", file=file, sheet=sheet, row=1)
    headers = [_csv_unescape(h) for h in headers]
    for j in range(grid.shape[1]):
        column = grid[:, j]
        # A fast scan first: only columns where some value starts with "'" need the per-cell pass.
        joined = "\x00".join(column)
        if joined.startswith("'") or "\x00'" in joined:
            grid[:, j] = [v[1:] if v[:1] == "'" else v for v in column]
    return headers, grid


def _csv_unescape(value: str) -> str:
    return value[1:] if value[:1] == "'" else value


def detect_separator(text: str, preferred: str) -> str:
    """The separator of the header line: the most frequent of ; , tab outside quotes (ties: the mapping's)."""
    counts = dict.fromkeys(CSV_SEPARATORS, 0)
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            if ch in "\r\n":
                break
            if ch in counts:
                counts[ch] += 1
    best = max(counts.values())
    if best == 0 or counts.get(preferred, 0) == best:
        return preferred
    return max(CSV_SEPARATORS, key=lambda s: counts[s])


def _decode_for_message(raw: bytes) -> str:
    """Text for an error message: UTF-8 if it is, else Windows-1252 (what Excel's plain "CSV" writes)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _encoding_error(file: Path, sheet: str, data: bytes, start: int, preferred: str) -> WorkbookError:
    """Name the row and column of the first byte that is not UTF-8 (typically Excel's ANSI "CSV" export)."""
    row = data.count(b"\n", 0, start) + 1
    line_start = data.rfind(b"\n", 0, start) + 1
    header_line = _decode_for_message(data.split(b"\n", 1)[0]).rstrip("\r")
    separator = detect_separator(header_line, preferred)
    headers = next(csv.reader([header_line], delimiter=separator), [])
    # Count separators before the bad byte; fine for the lines Excel writes (quoted breaks are rare).
    prefix = _decode_for_message(data[line_start:start])
    field = next(csv.reader([prefix + "x"], delimiter=separator), [""])
    index = len(field) - 1
    column = headers[index].lstrip(BOM).strip() if 0 <= index < len(headers) else None
    try:
        sample = data[start : start + 1].decode("cp1252")
        found = f" ({sample!r} in Windows-1252)"
    except UnicodeDecodeError:
        found = ""
    return WorkbookError(
        f"not UTF-8: byte 0x{data[start]:02X}{found}; in Excel save as 'CSV UTF-8 (durch Trennzeichen getrennt)'",
        file=file,
        sheet=sheet,
        row=row,
        column=column,
    )
