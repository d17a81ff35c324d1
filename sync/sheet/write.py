"""Write the tables of `layout.build_tables` as an xlsx workbook (xlsxwriter) or a folder of CSV files."""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sync.atomic import atomic_path
from sync.errors import WorkbookError
from sync.mapping import Mapping, SheetMap
from sync.origin import ORIGIN_PROPERTY, write_origin
from sync.progress import Progress
from sync.sheet.layout import (
    CSV_ESCAPE,
    EXCEL_MAX_CHARS,
    EXCEL_MAX_COLS,
    EXCEL_MAX_ROWS,
    READ_ONLY_NOTE,
    XLSX_QUOTE_PREFIX,
)
from sync.workbook_guard import WorkbookGuard

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
            header=True, read_only=read_only, wrap=False, quote=header[:1] in XLSX_QUOTE_PREFIX
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
    trigger = XLSX_QUOTE_PREFIX
    for r, row in enumerate(zip(*columns, strict=True), start=1):
        for c, value in enumerate(row):
            if value:  # empty stays a blank cell
                write(r, c, value, quoted[c] if value[0] in trigger else plain[c])
        if not r % PROGRESS_ROWS:
            progress(PROGRESS_ROWS)
    progress(nrows % PROGRESS_ROWS)


def _csv_escape(values: list[str]) -> list[str]:
    escape = CSV_ESCAPE
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
