"""Workbook I/O: AccountFrames + Mapping → sheet tables → xlsx or a folder of CSV files, and back."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import python_calamine  # reads xlsx 6-19x faster than openpyxl (prior-art.md §D2); openpyxl stays for write-back

from sync.atomic import atomic_path
from sync.errors import WorkbookError
from sync.frames import AccountFrames
from sync.mapping import Mapping, SheetMap
from sync.origin import ORIGIN_PROPERTY, write_origin
from sync.progress import Progress
from sync.workbook.cells import col_index
from sync.workbook.parts import open_calamine, sheet_parts
from sync.workbook_guard import WorkbookGuard

# First characters that make a spreadsheet treat text as a formula (OWASP CSV injection, CWE-1236).
FORMULA_TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
# xlsx: these cells get Excel's quote prefix. "'" is added because Excel strips a leading "'" when
# someone re-enters such a cell (F2, Enter) unless the cell carries the quote prefix itself.
_XLSX_QUOTE_PREFIX = frozenset((*FORMULA_TRIGGERS, "'"))
# CSV: a value starting with a trigger gets a leading "'" (Excel then shows text, not a formula).
# Values that already start with "'" get one more, so the reader strips exactly one "'" from every
# value that starts with one: the escaping is exactly invertible, and "'=1" stays distinct from "=1".
_CSV_ESCAPE = frozenset((*FORMULA_TRIGGERS, "'"))

READ_ONLY_NOTE = "Schreibgeschützt – Änderungen hier werden ignoriert"
EXCEL_MAX_CHARS = 32_767
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLS = 16_384
CSV_SEPARATORS = (";", ",", "\t")
_BOM = "\ufeff"
_WIDTH_SAMPLE = 1000
_MIN_WIDTH, _MAX_WIDTH = 8, 50
# The writers tell their progress every this many rows (100k clients: about 50 times for the Kunden sheet).
PROGRESS_ROWS = 2000

# Values xlsxwriter cannot store so that they read back unchanged: it escapes a literal "_x0041_"
# as "_x005F_x0041_", but misses a second escape sharing the underscore ("_x0041_x0042_") or one
# it creates from a control character ("_x0041\r"); and U+FFFE/U+FFFF are not XML characters.
# Measured: this pattern matches exactly the strings calamine reads back differently.
_XLSX_UNSAFE = re.compile(r"[\ufffe\uffff]|_x[0-9A-Fa-f]{4}(?=_x[0-9A-Fa-f]{4}_|[\x00-\x08\x0b-\x1f])")
# Where a path is surely meant as one file, not as the folder of CSV files.
_FILE_SUFFIXES = {".xls", ".xlsm", ".xlsb", ".ods", ".csv", ".tsv", ".txt"}


# --------------------------------------------------------------------------------------------
# AccountFrames → tables
# --------------------------------------------------------------------------------------------


def property_columns(client_properties: pd.DataFrame, sheet: SheetMap) -> list[tuple[str, str]]:
    """(property id, header) per client property, ordered by id; headers unique within the sheet."""
    if sheet.properties is None or client_properties.empty:
        return []
    props = _sorted_by_id(client_properties)
    used = {h.casefold() for h in sheet.headers}
    if sheet.tags is not None:
        used.add(sheet.tags.header.casefold())
    if sheet.sync_column:
        used.add(sheet.sync_column.casefold())
    out: list[tuple[str, str]] = []
    suffix = sheet.properties.header_suffix
    for pid, name in zip(_text(props, "id"), _text(props, "name"), strict=True):
        name = name.strip() or f"Attribut {pid}"
        header = name
        if header.casefold() in used:
            header = f"{name}{suffix}"
        if header.casefold() in used:  # two properties with one name: the id tells them apart
            header = f"{name}{suffix} {pid}"
        used.add(header.casefold())
        out.append((pid, header))
    return out


def build_tables(frames: AccountFrames, mapping: Mapping) -> dict[str, pd.DataFrame]:
    """Sheet name → all-text table (columns = headers in order, rows ordered by id)."""
    tables: dict[str, pd.DataFrame] = {}
    for sheet in mapping.sheets.values():
        source = frames.frame(sheet.resource)
        rows = _sorted_by_id(source)
        data: dict[str, np.ndarray] = {}
        for col in sheet.columns:
            if col.lookup is not None:
                data[col.header] = _lookup(rows, frames.frame(col.lookup), col.field)
            else:
                data[col.header] = _text(rows, col.field)
        if sheet.resource == "clients":
            ids = _text(rows, "id")
            if sheet.properties is not None:
                data.update(_property_values(frames, sheet, ids))
            if sheet.tags is not None:
                data[sheet.tags.header] = _joined_tags(frames.client_tags, sheet, ids)
            if sheet.sync_column:
                # The accountant's switch (sync/parking.py); Billomat knows nothing of it: pulled empty.
                data[sheet.sync_column] = np.full(len(ids), "", dtype=object)
        tables[sheet.sheet] = pd.DataFrame(data, columns=list(data), dtype=object)
    return tables


def _text(df: pd.DataFrame, column: str) -> np.ndarray:
    """A column as an object array of str ("" where missing)."""
    if column not in df.columns:
        return np.full(len(df), "", dtype=object)
    values = df[column]
    if values.isna().any():
        values = values.where(values.notna(), "")
    return values.to_numpy(dtype=object)


def _sorted_by_id(df: pd.DataFrame) -> pd.DataFrame:
    # Numeric order (9 before 10); ids that are not numbers (never from Billomat) go last.
    if df.empty or "id" not in df.columns:
        return df.reset_index(drop=True)
    ids = df["id"].astype(object)
    order = pd.DataFrame({"n": pd.to_numeric(ids, errors="coerce"), "s": ids.astype(str)})
    positions = order.sort_values(["n", "s"], na_position="last", kind="stable").index
    return df.loc[positions].reset_index(drop=True)


def _lookup(rows: pd.DataFrame, other: pd.DataFrame, field: str) -> np.ndarray:
    """For each row, `field` of the record its client_id points at ("" when there is none)."""
    if field not in other.columns or "client_id" not in rows.columns or other.empty:
        return np.full(len(rows), "", dtype=object)
    by_id = other.drop_duplicates("id").set_index("id")[field]
    return rows["client_id"].map(by_id).fillna("").to_numpy(dtype=object)


def _property_values(frames: AccountFrames, sheet: SheetMap, ids: np.ndarray) -> dict[str, np.ndarray]:
    """One column per property: client_property_values pivoted to client × property."""
    assert sheet.properties is not None
    columns = property_columns(frames.client_properties, sheet)
    if not columns:
        return {}
    prop_ids = [pid for pid, _ in columns]
    values = frames.client_property_values
    wide = pd.DataFrame(index=pd.Index(ids, dtype=object), columns=pd.Index(prop_ids, dtype=object))
    if not values.empty:
        values = values[values["client_property_id"].isin(prop_ids)]
        if "id" in values.columns:
            values = _sorted_by_id(values)
        # Should Billomat hold two rows for one client and property, the newest (highest id) wins.
        values = values.drop_duplicates(["client_id", "client_property_id"], keep="last")
        if not values.empty:
            pivot = values.pivot(index="client_id", columns="client_property_id", values="value")
            wide = pivot.reindex(index=pd.Index(ids, dtype=object), columns=pd.Index(prop_ids, dtype=object))
    types = dict(
        zip(_text(frames.client_properties, "id"), _text(frames.client_properties, "type"), strict=True)
    )
    props = sheet.properties
    out: dict[str, np.ndarray] = {}
    for pid, header in columns:
        col = wide[pid]
        col = col.where(col.notna(), "")
        if types.get(pid) == "CHECKBOX" and (props.checkbox_unchecked, props.checkbox_checked) != ("0", "1"):
            col = col.where(col != "0", props.checkbox_unchecked).where(col != "1", props.checkbox_checked)
        out[header] = col.to_numpy(dtype=object)
    return out


def joined_tags(tags: pd.DataFrame, sheet: SheetMap, ids: np.ndarray) -> np.ndarray:
    """Each client's tags cell exactly as `build_tables` writes it ("" for ids without tags)."""
    return _joined_tags(tags, sheet, ids)


def tag_groups(tags: pd.DataFrame, sheet: SheetMap) -> dict[str, list[str]]:
    """Client id → its tag names in cell order (no empties or repeats; sorted if the mapping says so)."""
    assert sheet.tags is not None
    if tags.empty:
        return {}
    # Plain dicts, not drop_duplicates + sort_values + groupby().agg(join): agg calls join per client
    # from Python anyway, with pandas' per-group overhead on top (100k clients: 1.4 s → 0.15 s).
    names: dict[str, dict[str, None]] = {}
    for client_id, name in zip(_text(tags, "client_id"), _text(tags, "name"), strict=True):
        if name:
            names.setdefault(client_id, {})[name] = None  # first occurrence, in order
    if sheet.tags.sort:
        return {
            c: sorted(group, key=_tag_order) if len(group) > 1 else list(group) for c, group in names.items()
        }
    return {c: list(group) for c, group in names.items()}


def _tag_order(name: str) -> tuple[str, str]:
    return (name.casefold(), name)


def _joined_tags(tags: pd.DataFrame, sheet: SheetMap, ids: np.ndarray) -> np.ndarray:
    """Each client's tag names joined into one cell (sorted case-insensitively when the mapping says so)."""
    assert sheet.tags is not None
    groups = tag_groups(tags, sheet)
    separator = sheet.tags.separator
    joined = {client_id: separator.join(group) for client_id, group in groups.items()}
    return (
        np.array([joined.get(i, "") for i in ids], dtype=object) if len(ids) else np.full(0, "", dtype=object)
    )


# --------------------------------------------------------------------------------------------
# tables → xlsx / CSV
# --------------------------------------------------------------------------------------------


def write_workbook(
    tables: dict[str, pd.DataFrame],
    path: Path | str,
    mapping: Mapping,
    progress: Progress | None = None,
    *,
    guard: WorkbookGuard | None = None,
    origin: str | None = None,
) -> None:
    """Write the tables: `.xlsx` → one workbook; any other path → a folder with one `<Sheet>.csv` each.

    `progress(n)` is told every few thousand data rows written (100k clients take half a minute).
    `guard` runs right before each file is replaced (`sync.workbook_guard.WorkbookGuard`).
    `origin`: the id of the state the workbook is written from (`sync.origin`), stamped into it.
    """
    path = Path(path)
    texts = {name: _table_texts(table, name, path) for name, table in tables.items()}
    suffix = path.suffix.lower()
    tell = progress or _no_progress
    if suffix == ".xlsx":
        _write_xlsx(texts, path, mapping, tell, guard, origin)
    elif suffix in _FILE_SUFFIXES:
        raise WorkbookError(
            f"cannot write {suffix!r}: give a path ending in .xlsx, or a folder for one CSV file per sheet",
            file=path,
        )
    else:
        _write_csv_folder(texts, path, mapping, tell, guard)
        if origin is not None:
            write_origin(path, origin, guard=guard)


def _no_progress(_rows: int) -> None:
    pass


def _table_texts(table: pd.DataFrame, sheet: str, path: Path) -> tuple[list[str], list[list[str]]]:
    """Headers and columns as plain lists of str (None/NaN → ""), checked for duplicate headers."""
    headers = [str(h) for h in table.columns]
    seen: set[str] = set()
    for header in headers:
        if header in seen:
            raise WorkbookError("header appears twice", file=path, sheet=sheet, column=header)
        seen.add(header)
    columns = []
    for i in range(table.shape[1]):
        values = table.iloc[:, i]
        if values.isna().any():
            values = values.where(values.notna(), "")
        array = values.to_numpy(dtype=object)
        if set(map(type, array)) - {str}:
            array = np.array([v if isinstance(v, str) else str(v) for v in array], dtype=object)
        columns.append(array.tolist())
    return headers, columns


def _check_xlsx_values(sheet: str, headers: list[str], columns: list[list[str]], path: Path) -> None:
    """Refuse what xlsx cannot hold exactly, before a file is touched (never silently cut or alter)."""
    nrows = len(columns[0]) if columns else 0
    if nrows + 1 > EXCEL_MAX_ROWS:
        raise WorkbookError(
            f"{nrows} rows do not fit in an Excel sheet (max {EXCEL_MAX_ROWS - 1}); use CSV",
            file=path,
            sheet=sheet,
        )
    if len(headers) > EXCEL_MAX_COLS:
        raise WorkbookError(f"{len(headers)} columns do not fit in an Excel sheet", file=path, sheet=sheet)
    for header, values in zip(headers, columns, strict=True):
        cells = [header, *values]
        # One C-level pass per column first; the per-cell search runs only for a suspect column.
        if max(map(len, cells)) > EXCEL_MAX_CHARS:
            row = next(i for i, v in enumerate(cells, start=1) if len(v) > EXCEL_MAX_CHARS)
            raise WorkbookError(
                f"value has {len(cells[row - 1])} characters; an Excel cell holds at most {EXCEL_MAX_CHARS}"
                " (use CSV)",
                file=path,
                sheet=sheet,
                row=row,
                column=header,
            )
        joined = "\x00".join(cells)
        if ("_x" in joined or "\ufffe" in joined or "\uffff" in joined) and _XLSX_UNSAFE.search(joined):
            for row, value in enumerate(cells, start=1):
                if _XLSX_UNSAFE.search(value):
                    raise WorkbookError(
                        "value contains an escape sequence like '_x0041_x0042_' or a non-character that"
                        " xlsx cannot store unchanged (use CSV)",
                        file=path,
                        sheet=sheet,
                        row=row,
                        column=header,
                    )


def _write_xlsx(
    texts: dict[str, tuple[list[str], list[list[str]]]],
    path: Path,
    mapping: Mapping,
    progress: Progress,
    guard: WorkbookGuard | None,
    origin: str | None,
) -> None:
    import xlsxwriter

    for sheet, (headers, columns) in texts.items():
        _check_xlsx_values(sheet, headers, columns, path)
    with atomic_path(path, guard=guard) as tmp:
        # constant_memory streams each row to disk: flat memory at 100k rows, same speed. Strings
        # are converted nowhere: every cell goes through write_string (never a number or formula).
        workbook = xlsxwriter.Workbook(
            str(tmp),
            {
                "constant_memory": True,
                "strings_to_numbers": False,
                "strings_to_formulas": False,
                "strings_to_urls": False,
            },
        )
        try:
            if origin is not None:
                workbook.set_custom_property(ORIGIN_PROPERTY, origin)
            formats = _Formats(workbook)
            for sheet, (headers, columns) in texts.items():
                _write_sheet(
                    workbook.add_worksheet(sheet), formats, mapping.sheet_named(sheet), headers, columns, progress
                )
        finally:
            workbook.close()


class _Formats:
    """xlsxwriter formats, made once per kind of cell (Excel limits the number of styles)."""

    def __init__(self, workbook: Any) -> None:
        self.workbook = workbook
        self.cache: dict[tuple[bool, bool, bool, bool], Any] = {}

    def get(self, *, header: bool, read_only: bool, wrap: bool, quote: bool) -> Any:
        key = (header, read_only, wrap, quote)
        if key not in self.cache:
            # "@" (Text) on every cell, so what an accountant types later stays text as well.
            props: dict[str, Any] = {"num_format": "@", "valign": "top"}
            if header:
                props.update(bold=True, bottom=1, bg_color="#BFBFBF" if read_only else "#DDEBF7")
            else:
                if read_only:
                    props.update(bg_color="#F2F2F2", font_color="#595959")
                if wrap:
                    props["text_wrap"] = True
            if quote:
                props["quote_prefix"] = True
            self.cache[key] = self.workbook.add_format(props)
        return self.cache[key]


def _column_traits(sheet_map: SheetMap | None, headers: list[str]) -> list[tuple[bool, bool]]:
    """(read_only, wrap) per column; columns the mapping does not declare are plain, editable text."""
    traits = []
    for header in headers:
        col = sheet_map.by_header(header) if sheet_map is not None else None
        traits.append((col.ignored_on_read, col.wrap) if col is not None else (False, False))
    return traits


def _width(header: str, values: list[str]) -> float:
    """Column width from the header and a sample of values (longest line), capped."""
    sample = values[:_WIDTH_SAMPLE]
    longest = max((len(line) for v in sample if v for line in v.splitlines() or [v]), default=0)
    # Header: bold text plus the autofilter arrow need about three characters more.
    return float(min(_MAX_WIDTH, max(_MIN_WIDTH, len(header) + 3, longest + 1)))


def _write_sheet(
    ws: Any,
    formats: _Formats,
    sheet_map: SheetMap | None,
    headers: list[str],
    columns: list[list[str]],
    progress: Progress,
) -> None:
    nrows = len(columns[0]) if columns else 0
    traits = _column_traits(sheet_map, headers)
    plain: list[Any] = []
    quoted: list[Any] = []
    for c, (header, values, (read_only, wrap)) in enumerate(zip(headers, columns, traits, strict=True)):
        # A column whose values have line breaks (notes, TEXTAREA properties) is wrapped as well.
        wrap = wrap or "\n" in "\x00".join(values)
        plain.append(formats.get(header=False, read_only=read_only, wrap=wrap, quote=False))
        quoted.append(formats.get(header=False, read_only=read_only, wrap=wrap, quote=True))
        ws.set_column(c, c, _width(header, values), plain[c])
        fmt = formats.get(
            header=True, read_only=read_only, wrap=False, quote=header[:1] in _XLSX_QUOTE_PREFIX
        )
        ws.write_string(0, c, header, fmt)
        if read_only:
            ws.write_comment(0, c, READ_ONLY_NOTE, {"author": "billsync", "x_scale": 1.6, "y_scale": 0.6})
        if sheet_map is not None and not read_only:
            col = sheet_map.by_header(header)
            if col is not None and col.type == "bool":
                ws.data_validation(
                    1,
                    c,
                    EXCEL_MAX_ROWS - 1,
                    c,
                    {
                        "validate": "list",
                        "source": ["0", "1"],
                        "error_type": "warning",
                        "error_message": "Bitte 0 (nein) oder 1 (ja) eintragen.",
                    },
                )
    if headers:
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, nrows, len(headers) - 1)
    # Every cell is text on purpose (zip codes, ids): no green "number stored as text" triangles.
    ws.ignore_errors({"number_stored_as_text": "A1:XFD1048576"})

    write = ws.write_string
    trigger = _XLSX_QUOTE_PREFIX
    for r, row in enumerate(zip(*columns, strict=True), start=1):
        for c, value in enumerate(row):
            if value:  # empty stays a blank cell
                write(r, c, value, quoted[c] if value[0] in trigger else plain[c])
        if not r % PROGRESS_ROWS:
            progress(PROGRESS_ROWS)
    progress(nrows % PROGRESS_ROWS)


def _csv_escape(values: list[str]) -> list[str]:
    escape = _CSV_ESCAPE
    return [("'" + v) if v and v[0] in escape else v for v in values]


def _write_csv_folder(
    texts: dict[str, tuple[list[str], list[list[str]]]],
    folder: Path,
    mapping: Mapping,
    progress: Progress,
    guard: Callable[[Path, Path], None] | None,
) -> None:
    if folder.exists() and not folder.is_dir():
        raise WorkbookError(
            "exists and is not a folder (a path not ending in .xlsx means a folder of CSV files)", file=folder
        )
    folder.mkdir(parents=True, exist_ok=True)
    for sheet, (headers, columns) in texts.items():
        target = folder / f"{sheet}.csv"
        with atomic_path(target, guard=guard) as tmp:
            # newline="" so the csv module's own "\r\n" and the line breaks inside notes stay as they are.
            with open(tmp, "w", encoding=mapping.csv.encoding, newline="") as fh:
                writer = csv.writer(
                    fh, delimiter=mapping.csv.separator, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL
                )
                writer.writerow(_csv_escape(headers))
                rows = zip(*(_csv_escape(col) for col in columns), strict=True)
                # In slices, so progress can be told; writerows stays the fast C loop within each.
                while chunk := list(itertools.islice(rows, PROGRESS_ROWS)):
                    writer.writerows(chunk)
                    progress(len(chunk))


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


def _grid(rows: list[list[Any]], convert: Callable[[Any], str]) -> tuple[list[str], np.ndarray]:
    """Rows of cell values → (headers, 2-D object array of str below them); ragged rows padded with ""."""
    if not rows:
        return [], np.empty((0, 0), dtype=object)
    width = max(map(len, rows))
    if width == 0:
        return [], np.empty((len(rows) - 1, 0), dtype=object)
    if any(len(r) != width for r in rows):
        rows = [list(r) + [""] * (width - len(r)) for r in rows]
    grid = np.empty((len(rows), width), dtype=object)
    grid[:] = rows
    # Nearly every cell is already a str; convert only the columns that hold something else.
    if set(map(type, grid.ravel())) != {str}:
        for j in range(width):
            column = grid[:, j]
            if set(map(type, column)) != {str}:
                grid[:, j] = [v if type(v) is str else convert(v) for v in column]
    headers = [h.lstrip(_BOM).strip() for h in grid[0]]
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
    # The formula scan inflates the sheet XML a second time; it runs beside calamine (which releases
    # the GIL), so on two cores it costs about nothing: 100k clients 4.39 s with it, 4.34 s without.
    scan = _Background(lambda: xlsx_formula_cells(path, names))
    out: dict[str, _Raw] = {}
    try:
        for name, rows, merged in _xlsx_rows(path, names):
            headers, grid = _grid(rows, cell_text)
            if not any(headers):
                raise WorkbookError("the sheet is empty: no header row", file=path, sheet=name, row=1)
            out[name] = _Raw(headers, grid, path, merged=merged)
        formulas = scan.result()
    finally:
        scan.join()
    return {name: _with_formulas(raw, formulas.get(name, [])) for name, raw in out.items()}


def _with_formulas(raw: _Raw, formulas: list[tuple[int, int]]) -> _Raw:
    return _Raw(raw.headers, raw.grid, raw.file, formulas=tuple(formulas), merged=raw.merged)


class _Background:
    """Run one call in a daemon thread; result() re-raises its exception in the caller."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = call()
            except BaseException as exc:  # handed to the caller by result()
                self._error = exc

        self._thread = threading.Thread(target=run, name="billsync-xlsx-scan", daemon=True)
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _missing_sheet(path: Path, name: str, present: list[str]) -> WorkbookError:
    return WorkbookError(
        f"sheet is missing (the workbook has: {', '.join(present) or 'no sheets'})", file=path, sheet=name
    )


_Merged = tuple[tuple[int, int, int, int], ...]


def _xlsx_rows(path: Path, names: list[str]) -> Iterator[tuple[str, list[list[Any]], _Merged]]:
    with open_calamine(path) as workbook:
        present = list(workbook.sheet_names)
        for name in names:
            if name not in present:
                raise _missing_sheet(path, name, present)
        for name in names:
            try:
                sheet = workbook.get_sheet_by_name(name)
                # skip_empty_area=False: row 1 / column A stay where they are, even when empty.
                rows = sheet.to_python(skip_empty_area=False)
                # calamine parses <mergeCell> with the sheet: ((first row, col), (last row, col)), 0-based.
                merged = tuple((r0, c0, r1, c1) for (r0, c0), (r1, c1) in sheet.merged_cell_ranges or ())
            except python_calamine.CalamineError as exc:
                raise WorkbookError(f"cannot read the sheet ({exc})", file=path, sheet=name) from None
            yield name, rows, merged


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
    separator = _detect_separator(text, preferred)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=False)
    rows = list(reader)
    headers, grid = _grid(rows, str)
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


def _detect_separator(text: str, preferred: str) -> str:
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
    separator = _detect_separator(header_line, preferred)
    headers = next(csv.reader([header_line], delimiter=separator), [])
    # Count separators before the bad byte; fine for the lines Excel writes (quoted breaks are rare).
    prefix = _decode_for_message(data[line_start:start])
    field = next(csv.reader([prefix + "x"], delimiter=separator), [""])
    index = len(field) - 1
    column = headers[index].lstrip(_BOM).strip() if 0 <= index < len(headers) else None
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
