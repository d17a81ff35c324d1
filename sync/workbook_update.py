"""The workbook side of the nightly sync: apply `Merge.to_workbook` and the conflicts to the accountants' workbook.

`apply_workbook_changes(path, mapping, changes, conflicts)` writes into an xlsx workbook or a CSV folder

- **updates**: each cell `(sheet, row, header)` gets `new`, but only while it still holds `old` (also as
  a spreadsheet program re-wrote it: `01067` → `1067`, `WAHR` for `1`, `01.02.2024` for `2024-02-01`, tags
  in another order); a cell typed over meanwhile is left alone and reported. A text cell keeps its style;
  text starting with `=`, `+`, `-`, `@`, tab, CR or `'` gets the quote prefix (the cell's own style with
  `quotePrefix="1"`: an existing identical `cellXfs` entry is reused, else one is appended to
  `xl/styles.xml` — the same kind of style `sheet.write_workbook` gives such cells).
- **appends**: new rows go below the last row that holds anything in any column (a value or a formula,
  also in the accountants' own columns), so a row that still carries an accountant's notes is never
  filled with another record. Each cell of the table's columns is styled like the cell above it (text
  format, grey read-only columns, wrapping carry on; the quote prefix is switched per value); the
  accountants' own columns stay empty. A record whose id is already in the key column is not appended
  twice (so a repeated call is harmless). `<dimension>` grows; a sheet `autoFilter` that reached the
  table's last row is extended over the new rows (and the `_xlnm._FilterDatabase` name with it). A column
  an append or update needs that the sheet lacks (a property Billomat added) is added to the right of
  every used column, its header styled like the header before it.
- **removals**: rows are never deleted from an xlsx (every later row would shift, and the accountants'
  formulas, names, comments, validations that refer to them would have to be rewritten). `removal="clear"`
  (default) empties the row's cells in the table's columns — the key cell included, styles kept — and
  leaves the accountants' own columns as they are; `sync.desired.read_desired` skips such a row (it has
  nothing in a synced column). `removal="mark"` keeps every value and writes `gelöscht-<id>` into the key
  cell (`removed_marker`; `REMOVED_KEY` matches it) — see the module's notes for what desired.py must
  do about it. A removal with `after_delete` (a contact row of a client deleted from the workbook) is
  only applied when that client id is in `deleted_ids` (the client deletes the push completed); else
  it is deferred. A row whose key cell no longer holds the record's id is reported and left.
- **Konflikte**: the sheet `Konflikte` (CSV: `Konflikte.csv`) belongs to billsync and is rewritten each
  run from `conflicts`: one row per conflict (held ones "offen", decided ones "entschieden: …") with
  Blatt, Zeile, Billomat-ID, Datensatz (id, client number, name), Spalte, Stand letzter Abgleich,
  Billomat, Arbeitsmappe, Art, Entscheidung, Status and the conflict's id (Ressource, Schlüssel,
  Feld-ID) — all in German with the workbook's headers (the rows come from `sync.konflikte`). The accountant types `Billomat` or
  `Arbeitsmappe` into Entscheidung; `read_decisions` turns those into `merge_account(decisions=...)`. A
  decision typed for a conflict that is still held is carried over when the sheet is rewritten. Without
  conflicts the sheet is not created; an existing one keeps its header and says "Keine Konflikte."
  (deleting a sheet would renumber sheet-local names, print areas and the active tab).

**Surgical and atomic, like `sync.writeback`.** Only the affected `<c>`/`<row>` elements of the sheet
XML change (inline strings: no shared-string table to rewrite); every other part of the package is
copied byte for byte, except `xl/styles.xml` when a style had to be added, `xl/workbook.xml` (a new
sheet, a grown filter name, `fullCalcOnLoad="1"` on `<calcPr>` when cells changed in a workbook with
formulas, so the accountants' formulas are recalculated when Excel opens it), its rels and
`[Content_Types].xml` (a new sheet). The new package goes to a temp file, the previous version to
`<name>.bak.xlsx`, then a rename. A call that has nothing to change writes nothing.

**CSV folder**: the affected `<Sheet>.csv` files are rewritten (each atomically, one `.bak` each),
keeping every column, separator, BOM and line ending; new values get the CSV formula guard
(`'` before `=+-@`, tab, CR and `'`) exactly as `sheet.write_workbook` writes them.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from posixpath import dirname, relpath
from posixpath import join as posix_join
from typing import Literal, cast
from xml.sax.saxutils import unescape

import numpy as np
import pandas as pd

from sync.desired import (
    REMOVED_KEY,
    canonical_bool,
    canonical_date,
    canonical_number,
    spreadsheet_rendering,
)
from sync.errors import WorkbookError
from sync.konflikte import (
    KONFLIKTE_HEADERS,
    KONFLIKTE_WIDTHS,
    ZEILE_COL,
    conflict_rows,
    decision_id,
    row_height,
)
from sync.mapping import Mapping, SheetMap
from sync.merge import REMOVAL_COLUMNS, UPDATE_COLUMNS, Conflict, Side, WorkbookChanges
from sync.sheet import (
    _CSV_ESCAPE,
    _XLSX_QUOTE_PREFIX,
    EXCEL_MAX_CHARS,
    EXCEL_MAX_ROWS,
    property_columns,
    xlsx_formula_cells,
)
from sync.wording import CONFLICT_KINDS
from sync.workbook.cells import ATTR as _ATTR
from sync.workbook.cells import REF as _REF
from sync.workbook.cells import ROW as _ROW
from sync.workbook.cells import attrs as _attrs
from sync.workbook.cells import cell_xml as _cell_xml
from sync.workbook.cells import col_index as _col_index
from sync.workbook.cells import column_styles as _column_styles
from sync.workbook.cells import letters as _letters
from sync.workbook.cells import row_cells, widen_dimension
from sync.workbook.cells import xml_text as _xml_text
from sync.workbook.parts import decode as _decode
from sync.workbook.parts import rels as _rels
from sync.workbook.parts import sheet_parts as _sheet_parts
from sync.workbook.parts import workbook_part as _workbook_part
from sync.workbook.parts import workbook_rels_part as _workbook_rels
from sync.workbook.save import backup_path, replacing, save_package
from sync.workbook_guard import WorkbookGuard
from sync.writeback import _CsvFile, _read_csv, _save_csv, _unescape, _xlsx_grids

RemovalMode = Literal["clear", "mark"]

KONFLIKTE = "Konflikte"
_WIDTHS = KONFLIKTE_WIDTHS
NO_CONFLICTS = "Keine Konflikte."
KIND_TEXT = CONFLICT_KINDS
# What the accountant may type into Entscheidung (case and blanks ignored).
DECISION_WORDS: dict[str, Side] = {
    "billomat": "billomat",
    "b": "billomat",
    "arbeitsmappe": "sheet",
    "mappe": "sheet",
    "tabelle": "sheet",
    "excel": "sheet",
    "a": "sheet",
}

# The key cell of a row Billomat deleted, in removal="mark" mode: "gelöscht-1002".
REMOVED_PREFIX = "gelöscht-"
# REMOVED_KEY (from sync.desired): the marker pattern; one definition, desired.py skips what this writes.

_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_REL_NS_STRICT = "http://purl.oclc.org/ooxml/officeDocument/relationships"
_WORKSHEET_TYPE = _REL_NS + "/worksheet"
_WORKSHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_P = r"(?:[A-Za-z_][\w.-]*:)?"  # an optional namespace prefix
# "_x0041_" in a string means "A" to every xlsx reader: a literal one is escaped as "_x005F_x0041_".
# Also before a control character, which becomes "_x000D_"-like itself ("_x0041\r" must not read "A\r").
def removed_marker(key: str) -> str:
    """The key cell of a row whose record Billomat deleted, in removal="mark" mode."""
    return f"{REMOVED_PREFIX}{key}"


@dataclass
class WorkbookUpdateReport:
    """What apply_workbook_changes did.

    `unwritten` holds the changes that did not land (problems, deferred removals), for
    `Merge.next_base(after, unwritten=report.unwritten)`: the next run then makes them again.
    """

    updated: int = 0  # cells set
    appended: int = 0  # rows appended
    removed: int = 0  # rows cleared (or marked)
    unchanged: int = 0  # changes already in place (a repeated call)
    deferred: int = 0  # after_delete removals whose client delete is not done
    conflicts: int = 0  # rows listed in the Konflikte sheet
    problems: list[str] = field(default_factory=list)
    unwritten: WorkbookChanges | None = None
    written: bool = False  # a file was replaced
    backup: Path | None = None
    appended_rows: dict[str, dict[str, int]] = field(default_factory=dict)  # sheet → key → row it went to


@dataclass(frozen=True)
class OwnedSheet:
    """A sheet billsync owns and rewrites each run (Konflikte, Löschungen): headers, rows, decision column."""

    name: str
    headers: tuple[str, ...]
    widths: tuple[int, ...]
    rows: Sequence[Sequence[str | int]]
    decision: str  # the header of the column the accountant types into
    choices: str  # what Excel offers there as a list: "Billomat,Arbeitsmappe"
    empty: str  # the only row when there is nothing to list: "Keine Konflikte."
    number_col: int | None = None  # a column of row numbers, stored as numbers (Konflikte's Zeile)

    def body(self) -> Sequence[Sequence[str | int]]:
        """The rows below the header ("Keine …" alone when there are none)."""
        return self.rows or [[self.empty] + [""] * (len(self.headers) - 1)]


def _konflikte_sheet(
    conflicts: Sequence[Conflict], carried: dict[tuple[str, str, str], str], mapping: Mapping
) -> OwnedSheet:
    return OwnedSheet(
        KONFLIKTE,
        KONFLIKTE_HEADERS,
        _WIDTHS,
        conflict_rows(conflicts, carried, mapping),
        "Entscheidung",
        "Billomat,Arbeitsmappe",
        NO_CONFLICTS,
        ZEILE_COL,
    )


def _konflikte_sheets(
    conflicts: Sequence[Conflict] | None, carried: dict[tuple[str, str, str], str], mapping: Mapping
) -> list[OwnedSheet]:
    """Konflikte as this call writes it: none when `conflicts` is None (the sheet is left as it is)."""
    return [] if conflicts is None else [_konflikte_sheet(conflicts, carried, mapping)]


def apply_workbook_changes(
    path: Path | str,
    mapping: Mapping,
    changes: WorkbookChanges,
    conflicts: Sequence[Conflict] | None = (),
    *,
    removal: RemovalMode | None = None,
    deleted_ids: Collection[str] | None = None,
    client_properties: pd.DataFrame | Sequence[pd.DataFrame] | None = None,
    guard: WorkbookGuard | None = None,
    owned: Sequence[OwnedSheet] = (),
    backup: bool = True,
) -> WorkbookUpdateReport:
    """Make the workbook (xlsx file or CSV folder) what `changes` says; list `conflicts` in Konflikte.

    - removal: "clear" (empty the table's cells of the row) or "mark" (`gelöscht-<id>` in the key cell);
      None (the default) takes each sheet's `deleted_rows` from the mapping;
    - deleted_ids: client ids whose delete in Billomat is done; a removal with `after_delete` waits for it;
    - client_properties: Billomat's property definitions (a frame, or several: base and current), so the
      property columns count as the table's columns (cleared on removal, typed for comparing checkboxes);
    - guard: the workbook as the run read it (else as this call reads it): no file is replaced while the
      workbook is open or after it changed since (WorkbookInUseError);
    - owned: further sheets billsync owns (Löschungen), written like Konflikte: created when they have
      rows, rewritten when they exist; `conflicts` None leaves Konflikte as it is (push: its decisions are
      sync's).
    - backup: keep the xlsx file as it was as its `.bak` (False: a staged copy, `sync.workbook.stage`).
    """
    path = Path(path)
    if removal not in (None, "clear", "mark"):
        raise ValueError(f"removal must be 'clear' or 'mark', not {removal!r}")
    for own in (KONFLIKTE, *(o.name for o in owned)):
        if any(s.sheet.casefold() == own.casefold() for s in mapping.sheets.values()):
            raise WorkbookError(f"the mapping names a sheet {own!r}; billsync needs that name for its own list")
    frames = (
        []
        if client_properties is None
        else [client_properties]
        if isinstance(client_properties, pd.DataFrame)
        else list(client_properties)
    )
    guard = guard or WorkbookGuard.capture(path)
    if path.is_dir():
        return _CsvTarget(path, mapping, guard).apply(changes, conflicts, removal, deleted_ids, frames, owned)
    if not path.is_file():
        raise WorkbookError("does not exist; the workbook changes could not be written", file=path)
    return _XlsxTarget(path, mapping, guard, backup).apply(changes, conflicts, removal, deleted_ids, frames, owned)


def read_decisions(
    path: Path | str, mapping: Mapping | None = None
) -> tuple[dict[tuple[str, str, str], Side], list[str]]:
    """The accountant's decisions from the Konflikte sheet, for `merge_account(decisions=...)`.

    Rows with "Billomat" or "Arbeitsmappe" (also B / A / Mappe / Tabelle / Excel) in Entscheidung give
    `(Ressource, Schlüssel, Feld-ID) → "billomat" | "sheet"`; anything else typed there is a problem.
    Read them before the run rewrites the sheet (a decision of a conflict still held is kept). With the
    `mapping`, the German id cells ("Kunde", "neue Zeile 37", "Telefon") are read back as the merge's ids.
    """
    path = Path(path)
    rows = _konflikte_rows(path)
    out: dict[tuple[str, str, str], Side] = {}
    problems: list[str] = []
    if not rows:
        return out, problems
    headers = [h.strip() for h in rows[0]]
    try:
        cols = [headers.index(h) for h in ("Entscheidung", "Ressource", "Schlüssel", "Feld-ID")]
    except ValueError:
        return out, [f"sheet {KONFLIKTE!r}: the header row is not billsync's; no decision read"]
    for number, row in enumerate(rows[1:], start=2):
        cells = [row[c] if c < len(row) else "" for c in cols]
        typed, resource, key, fld = (c.strip() for c in cells)
        if not typed or not resource:
            continue
        side = DECISION_WORDS.get(typed.casefold())
        if side is None:
            problems.append(
                f"sheet {KONFLIKTE!r}, row {number}, column 'Entscheidung': {typed!r} is no decision;"
                " type Billomat or Arbeitsmappe"
            )
            continue
        out[decision_id(resource, key, fld, mapping)] = side
    return out, problems


# --------------------------------------------------------------------------------------------------
# What changes (the same for xlsx and CSV): cells per sheet
# --------------------------------------------------------------------------------------------------


@dataclass
class _Edit:
    value: str
    style_from: tuple[int, int] | None = None  # the (row, col) whose style the cell takes; None: its own


@dataclass
class _SheetPlan:
    name: str
    cells: dict[tuple[int, int], _Edit] = field(default_factory=dict)
    appended_rows: list[int] = field(default_factory=list)
    table_last: int = 1  # the last row with a value in a table column, before the appends
    new_columns: list[int] = field(default_factory=list)


def _strip(header: str) -> str:
    return header.lstrip("\ufeff").strip()


def _same_key(cell: str, key: str) -> bool:
    c, k = cell.strip(), key.strip()
    if k.startswith("row:"):
        return c == ""
    if c.casefold() == k.casefold():
        return True
    return c.isascii() and c.isdigit() and k.isascii() and k.isdigit() and int(c) == int(k)


def _needs_quote(value: str) -> bool:
    return value[:1] in _XLSX_QUOTE_PREFIX


class _Planner:
    def __init__(
        self,
        mapping: Mapping,
        grids: dict[str, list[list[str]]],
        formulas: dict[str, set[tuple[int, int]]],
        props: list[pd.DataFrame],
        max_rows: int,
    ) -> None:
        self.mapping = mapping
        self.grids = grids
        self.formulas = formulas
        self.max_rows = max_rows
        self.problems: list[str] = []
        self.plans: dict[str, _SheetPlan] = {}
        self.headers: dict[str, list[str]] = {
            n: [_strip(h) for h in g[0]] if g else [] for n, g in grids.items()
        }
        self.prop_headers: dict[str, str] = {}  # header -> property id
        self.prop_types: dict[str, str] = {}
        cs = mapping.sheets.get("clients")
        for frame in props:
            if cs is not None:
                for pid, header in property_columns(frame, cs):
                    self.prop_headers.setdefault(header, pid)
            if "id" in frame.columns and "type" in frame.columns:
                self.prop_types.update(zip(frame["id"].astype(str), frame["type"].astype(str), strict=True))
        self.updated = self.appended = self.removed = self.unchanged = self.deferred = 0
        self.failed_updates: list[int] = []
        self.failed_removals: list[int] = []
        self.failed_appends: dict[str, list[int]] = {}
        self.appended_rows: dict[str, dict[str, int]] = {}  # sheet → key → row (Löschungen names it later)

    # -- helpers ---------------------------------------------------------------------------------

    def plan(self, sheet: str) -> _SheetPlan:
        if sheet not in self.plans:
            grid = self.grids[sheet]
            self.plans[sheet] = _SheetPlan(sheet, table_last=self.table_last(sheet, grid))
        return self.plans[sheet]

    def table_columns(self, sm: SheetMap, extra: Collection[str] = ()) -> set[str]:
        """Headers billsync owns in the sheet: declared columns, property columns, tags (and `extra`)."""
        out = set(sm.headers) | set(extra)
        if sm.tags is not None:
            out.add(sm.tags.header)
        if sm.resource == "clients" and sm.properties is not None:
            out |= set(self.prop_headers)
        return out

    def table_last(self, sheet: str, grid: list[list[str]]) -> int:
        sm = self.mapping.sheet_named(sheet)
        headers = self.headers[sheet]
        owned = self.table_columns(sm) if sm is not None else set()
        cols = [i for i, h in enumerate(headers) if h in owned]
        for number in range(len(grid), 1, -1):
            row = grid[number - 1]
            if any(c < len(row) and row[c] != "" for c in cols):
                return number
        return 1

    def last_used(self, sheet: str) -> int:
        """The last row with anything in it (a value or a formula, in any column)."""
        grid = self.grids[sheet]
        last = 1
        for number in range(len(grid), 1, -1):
            if any(v != "" for v in grid[number - 1]):
                last = number
                break
        rows = [r for r, _ in self.formulas.get(sheet, ())]
        return max([last, *rows])

    def cell(self, sheet: str, row: int, col: int) -> str:
        grid = self.grids[sheet]
        cells = grid[row - 1] if 0 < row <= len(grid) else []
        return cells[col] if col < len(cells) else ""

    def column(self, sheet: str, header: str, *, create: bool) -> int | None:
        headers = self.headers[sheet]
        if header in headers:
            return headers.index(header)
        if not create:
            return None
        # A new column right of everything used (never between the accountants' columns).
        grid = self.grids[sheet]
        width = max((max((i for i, v in enumerate(r) if v != ""), default=-1) + 1 for r in grid), default=0)
        width = max([width, len(headers), *(c + 1 for _, c in self.formulas.get(sheet, ()))])
        plan = self.plan(sheet)
        last_header = max((i for i, h in enumerate(headers) if h), default=None)
        headers.extend([""] * (width - len(headers)))
        headers.append(header)
        col = len(headers) - 1
        plan.cells[(1, col)] = _Edit(header, (1, last_header) if last_header is not None else None)
        plan.new_columns.append(col)
        return col

    def kind(self, sm: SheetMap, resource: str, header: str, fld: str) -> str:
        if header == sm.key_column.header:
            return "key"
        if sm.tags is not None and header == sm.tags.header:
            return "tags"
        if resource == "client_property_values":
            return "checkbox" if self.prop_types.get(fld) == "CHECKBOX" else "text"
        col = sm.by_header(header)
        return col.type if col is not None else "text"

    def still(self, sm: SheetMap, kind: str, cell: str, old: str) -> bool:
        """True when `cell` still holds `old` (as the merge read it), also as a spreadsheet rewrote it."""
        if cell == old:
            return True
        if kind == "key":
            return _same_key(cell, old)
        if kind == "tags" and sm.tags is not None:
            sep = sm.tags.separator.strip() or sm.tags.separator
            names = [{n.strip() for n in v.split(sep) if n.strip()} for v in (cell, old)]
            return names[0] == names[1]
        if kind == "checkbox" and sm.properties is not None:
            words = {sm.properties.checkbox_checked.strip().casefold(): "1"}
            words[sm.properties.checkbox_unchecked.strip().casefold()] = "0"
            flag = words.get(cell.strip().casefold()) or canonical_bool(cell)
            mapped = words.get(old.strip().casefold()) or canonical_bool(old)
            if flag is not None and flag == mapped:
                return True
            # An emptied box reads as unchecked ("0"), or as "" where Billomat has no value.
            return not cell.strip() and (mapped == "0" or not old.strip())
        if spreadsheet_rendering(cell, old):
            return True
        if kind == "number":
            return bool(cell.strip()) and canonical_number(cell) == old
        if kind == "bool":
            return canonical_bool(cell) == old or (not cell.strip() and old in ("", "0"))
        if kind == "date":
            day = canonical_date(cell) if cell.strip() else None
            return day is not None and day == canonical_date(old)
        return False

    def storable(self, value: str) -> str | None:
        """Why xlsx cannot hold `value` unchanged, or None."""
        if self.max_rows == EXCEL_MAX_ROWS:  # xlsx (CSV holds anything)
            if len(value) > EXCEL_MAX_CHARS:
                return f"has {len(value)} characters; an Excel cell holds at most {EXCEL_MAX_CHARS}"
            if "\ufffe" in value or "\uffff" in value:
                return "contains a non-character (U+FFFE/U+FFFF) xlsx cannot store"
        return None

    # -- the three kinds of change ---------------------------------------------------------------

    def updates(self, updates: pd.DataFrame) -> None:
        for i, u in enumerate(updates.itertuples(index=False)):
            sheet, row, header, fld = str(u.sheet), int(cast(int, u.row)), str(u.header), str(u.field)
            old, new = str(u.old), str(u.new)
            sm = self.mapping.sheet_named(sheet)
            where = f"sheet {sheet!r}, row {row}, column {header!r}"
            if sm is None or sheet not in self.grids:
                self.problems.append(f"sheet {sheet!r} is missing; {header!r} of row {row} not updated")
                self.failed_updates.append(i)
                continue
            col = self.column(sheet, header, create=old == "" and header in self.table_columns(sm))
            if col is None:
                self.problems.append(f"{where}: the column is missing; {new!r} not written")
                self.failed_updates.append(i)
                continue
            if row < 2 or row > self.max_rows:
                self.problems.append(f"{where}: no such data row; {new!r} not written")
                self.failed_updates.append(i)
                continue
            if (row, col) in self.formulas.get(sheet, ()):
                self.problems.append(f"{where}: holds a formula; {new!r} not written")
                self.failed_updates.append(i)
                continue
            if (why := self.storable(new)) is not None:
                self.problems.append(f"{where}: the new value {why}; not written")
                self.failed_updates.append(i)
                continue
            cell = self.cell(sheet, row, col)
            if cell == new:
                self.unchanged += 1
            elif self.still(sm, self.kind(sm, str(u.resource), header, fld), cell, old):
                self.plan(sheet).cells[(row, col)] = _Edit(new)
                self.updated += 1
            else:
                shown = f"says {cell!r}" if cell else "is empty"
                self.problems.append(
                    f"{where}: the cell {shown}, expected {old!r} (edited meanwhile?); {new!r} not written"
                )
                self.failed_updates.append(i)

    def removals(
        self, removals: pd.DataFrame, removal: RemovalMode | None, deleted_ids: Collection[str] | None
    ) -> None:
        done = {str(i) for i in deleted_ids or ()}
        for i, r in enumerate(removals.itertuples(index=False)):
            sheet, row, key = str(r.sheet), int(cast(int, r.row)), str(r.key)
            after = str(r.after_delete or "")
            if after and after not in done:
                self.deferred += 1
                self.failed_removals.append(i)
                continue
            sm = self.mapping.sheet_named(sheet)
            if sm is None or sheet not in self.grids:
                self.problems.append(f"sheet {sheet!r} is missing; row {row} ({key}) not removed")
                self.failed_removals.append(i)
                continue
            where = f"sheet {sheet!r}, row {row}"
            key_col = self.column(sheet, sm.key_column.header, create=False)
            if key_col is None or row < 2:
                self.problems.append(f"{where}: the key column is missing; {key} not removed")
                self.failed_removals.append(i)
                continue
            now = self.cell(sheet, row, key_col)
            owned = self.table_columns(sm)
            cols = [c for c, h in enumerate(self.headers[sheet]) if h in owned]
            formulas = self.formulas.get(sheet, set())
            # The mapping says per sheet (`deleted_rows`); an explicit `removal` overrides it.
            if (removal or sm.deleted_rows) == "mark":
                if REMOVED_KEY.match(now):
                    self.unchanged += 1
                elif _same_key(now, key) and now.strip():
                    if (row, key_col) in formulas:
                        self.problems.append(f"{where}: the key cell holds a formula; {key} not marked")
                        self.failed_removals.append(i)
                        continue
                    self.plan(sheet).cells[(row, key_col)] = _Edit(removed_marker(key))
                    self.removed += 1
                else:
                    self.problems.append(self.moved(where, sm, now, key))
                    self.failed_removals.append(i)
                continue
            filled = [c for c in cols if self.cell(sheet, row, c) != "" or (row, c) in formulas]
            if not now.strip() and not filled:
                self.unchanged += 1
            elif not _same_key(now, key) or not now.strip():
                self.problems.append(self.moved(where, sm, now, key))
                self.failed_removals.append(i)
            elif any((row, c) in formulas for c in filled):
                # Clearing around a formula would leave a row that reads as a new record.
                self.problems.append(f"{where}: a synced cell holds a formula; {key} not removed")
                self.failed_removals.append(i)
            else:
                plan = self.plan(sheet)
                for c in filled:
                    plan.cells[(row, c)] = _Edit("")
                self.removed += 1

    @staticmethod
    def moved(where: str, sm: SheetMap, now: str, key: str) -> str:
        shown = f"says {now!r}" if now.strip() else "is empty"
        return f"{where}: {sm.key_column.header} {shown}, expected {key} (was the row moved?); not removed"

    def appends(self, appends: dict[str, pd.DataFrame]) -> None:
        for sheet, frame in appends.items():
            if not len(frame):
                continue
            sm = self.mapping.sheet_named(sheet)
            if sm is None or sheet not in self.grids:
                self.problems.append(f"sheet {sheet!r} is missing; {len(frame)} new row(s) not appended")
                self.failed_appends[sheet] = list(range(len(frame)))
                continue
            key_header = sm.key_column.header
            key_col = self.column(sheet, key_header, create=False)
            if key_col is None:
                self.problems.append(
                    f"sheet {sheet!r}: the key column {key_header!r} is missing; nothing appended"
                )
                self.failed_appends[sheet] = list(range(len(frame)))
                continue
            grid = self.grids[sheet]
            present = {
                str(int(k)) if k.isascii() and k.isdigit() else k.casefold()
                for k in (r[key_col].strip() if key_col < len(r) else "" for r in grid[1:])
                if k
            }
            headers = [str(h) for h in frame.columns]
            plan = self.plan(sheet)
            last = self.last_used(sheet)
            template = last if last >= 2 else None
            cols = [self.column(sheet, h, create=True) for h in headers]
            values = frame.to_numpy(dtype=object)
            for i, row_values in enumerate(values):
                texts = ["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in row_values]
                key = texts[headers.index(key_header)].strip() if key_header in headers else ""
                if key and (str(int(key)) if key.isascii() and key.isdigit() else key.casefold()) in present:
                    self.unchanged += 1
                    continue
                number = max([last, *plan.appended_rows]) + 1
                bad = next(
                    ((h, why) for h, t in zip(headers, texts, strict=True) if (why := self.storable(t))), None
                )
                if number > self.max_rows or bad is not None:
                    reason = f"column {bad[0]!r} {bad[1]}" if bad else "the sheet is full"
                    self.problems.append(f"sheet {sheet!r}: {key or 'a new row'} not appended: {reason}")
                    self.failed_appends.setdefault(sheet, []).append(i)
                    continue
                for col, text in zip(cols, texts, strict=True):
                    assert col is not None
                    plan.cells[(number, col)] = _Edit(text, (template, col) if template else None)
                plan.appended_rows.append(number)
                self.appended += 1
                if key:
                    self.appended_rows.setdefault(sheet, {})[key] = number
                    present.add(str(int(key)) if key.isascii() and key.isdigit() else key.casefold())

    def unwritten(self, changes: WorkbookChanges) -> WorkbookChanges:
        updates = changes.updates.iloc[self.failed_updates].reset_index(drop=True)
        removals = changes.removals.iloc[self.failed_removals].reset_index(drop=True)
        appends: dict[str, pd.DataFrame] = {}
        appended: dict[str, tuple[str, ...]] = {}
        for sheet, positions in self.failed_appends.items():
            frame = changes.appends[sheet].iloc[positions].reset_index(drop=True)
            appends[sheet] = frame
            sm = self.mapping.sheet_named(sheet)
            if sm is not None and sm.key_column.header in frame.columns:
                ids = tuple(str(k) for k in frame[sm.key_column.header] if str(k))
                appended[sm.resource] = appended.get(sm.resource, ()) + ids
        return WorkbookChanges(updates, appends, removals, appended)


def _plan_all(
    planner: _Planner,
    changes: WorkbookChanges,
    removal: RemovalMode | None,
    deleted_ids: Collection[str] | None,
) -> None:
    # Appends first: they go below the rows as they are now (a row cleared in this call keeps its place).
    planner.appends(changes.appends)
    planner.updates(_frame_or_empty(changes.updates, UPDATE_COLUMNS))
    planner.removals(_frame_or_empty(changes.removals, REMOVAL_COLUMNS), removal, deleted_ids)


def _frame_or_empty(frame: pd.DataFrame | None, columns: tuple[str, ...]) -> pd.DataFrame:
    if frame is None or not len(frame):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return frame


# --------------------------------------------------------------------------------------------------
# The Konflikte sheet: rows
# --------------------------------------------------------------------------------------------------


def _carried_decisions(rows: list[list[str]], mapping: Mapping | None = None) -> dict[tuple[str, str, str], str]:
    """What the accountant typed into Entscheidung, by conflict id (to keep it for a conflict still held)."""
    if not rows:
        return {}
    headers = [h.strip() for h in rows[0]]
    try:
        cols = [headers.index(h) for h in ("Entscheidung", "Ressource", "Schlüssel", "Feld-ID")]
    except ValueError:
        return {}
    out = {}
    for row in rows[1:]:
        typed, resource, key, fld = (row[c] if c < len(row) else "" for c in cols)
        if typed.strip() and resource.strip():
            out[decision_id(resource, key, fld, mapping)] = typed
    return out


def _konflikte_rows(path: Path) -> list[list[str]]:
    return owned_rows(path, KONFLIKTE)


def owned_rows(path: Path | str, name: str) -> list[list[str]]:
    """The cells of a sheet billsync owns (header row first) as the accountant left them; [] when absent."""
    path = Path(path)
    if path.is_dir():
        listing = {p.name.casefold(): p for p in path.iterdir() if p.is_file()}
        found = listing.get(f"{name}.csv".casefold())
        if found is None:
            return []
        return [[_unescape(v) for v in r] for r in _read_csv(found, ";").rows]
    if not path.is_file():
        raise WorkbookError("does not exist", file=path)
    grids = _xlsx_grids(path, [name])
    return grids.get(name, [])


# --------------------------------------------------------------------------------------------------
# xlsx
# --------------------------------------------------------------------------------------------------


def _canon(item: str) -> str:
    """An XML fragment with its attributes sorted and the blanks between tags dropped (for comparing)."""

    def tag(m: re.Match[str]) -> str:
        attrs = sorted((k, v or w) for k, v, w in _ATTR.findall(m.group(2)))
        return "<" + m.group(1) + "".join(f' {k}="{v}"' for k, v in attrs) + m.group(3) + ">"

    item = re.sub(r">\s+<", "><", item.strip())
    return re.sub(r"<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(/?)>", tag, item)


class _Section:
    """One list in styles.xml (fonts, fills, cellXfs): its items, and items to append."""

    def __init__(self, xml: str, name: str, item: str) -> None:
        self.found = False
        self.items: list[str] = []
        self.added: list[str] = []
        self.prefix = ""
        match = re.search(rf"<({_P}){name}\b[^>]*?(/?)>", xml)
        if match is None:
            return
        self.found = True
        self.prefix = match.group(1)
        self.open_start, self.open_end = match.start(), match.end()
        self.open_tag = match.group(0)
        if match.group(2):  # <cellXfs/>
            self.close_start = self.close_end = match.end()
            self.empty = True
        else:
            self.empty = False
            close = f"</{self.prefix}{name}>"
            self.close_start = xml.find(close, match.end())
            self.close_end = self.close_start + len(close)
        inner = "" if self.empty else xml[self.open_end : self.close_start]
        pattern = rf"<{re.escape(self.prefix)}{item}\b[^>]*?/>|<{re.escape(self.prefix)}{item}\b[^>]*?>.*?</{re.escape(self.prefix)}{item}>"
        self.items = [m.group(0) for m in re.finditer(pattern, inner, re.DOTALL)]
        self.name = name
        self.canon = [_canon(i) for i in self.items]

    def index(self, item: str) -> int:
        """Position of an item equal to `item`, appending it if there is none."""
        c = _canon(item)
        if c in self.canon:
            return self.canon.index(c)
        self.items.append(item)
        self.canon.append(c)
        self.added.append(item)
        return len(self.items) - 1

    def patch(self, xml: str) -> str:
        if not self.added:
            return xml
        count = len(self.items)
        tag = self.open_tag
        tag = (
            re.sub(r'\scount="\d*"', f' count="{count}"', tag)
            if "count=" in tag
            else tag.replace(f"<{self.prefix}{self.name}", f'<{self.prefix}{self.name} count="{count}"', 1)
        )
        if self.empty:
            tag = tag[:-2].rstrip() + ">"
            body = "".join(self.added) + f"</{self.prefix}{self.name}>"
            return xml[: self.open_start] + tag + body + xml[self.open_end :]
        return (
            xml[: self.open_start]
            + tag
            + xml[self.open_end : self.close_start]
            + "".join(self.added)
            + xml[self.close_start :]
        )


class _Styles:
    """xl/styles.xml: find or add the cell formats billsync needs (quote prefix, Konflikte's)."""

    def __init__(self, part: str | None, data: bytes | None) -> None:
        self.part = part
        self.xml = data.decode("utf-8") if data is not None else None
        self.original = data
        if self.xml is not None:
            self.xfs = _Section(self.xml, "cellXfs", "xf")
            self.fonts = _Section(self.xml, "fonts", "font")
            self.fills = _Section(self.xml, "fills", "fill")
        self._konflikte: dict[str, str | None] | None = None

    @property
    def usable(self) -> bool:
        return self.xml is not None and self.xfs.found and bool(self.xfs.items)

    def with_quote(self, style: str | None, quote: bool) -> str | None:
        """The cell format `style` with the quote prefix on (or off); None/"" is format 0."""
        if not self.usable:
            return style
        index = int(style) if style and style.isdigit() else 0
        if index >= len(self.xfs.items):
            return style
        item = self.xfs.items[index]
        start = re.match(r"<[^>]*?(/?)>", item)
        assert start is not None
        attrs = _attrs(start.group(0))
        if (attrs.get("quotePrefix") in ("1", "true")) == quote:
            return style
        tag = re.sub(r'\squotePrefix\s*=\s*("[^"]*"|\'[^\']*\')', "", start.group(0))
        if quote:
            end = len(tag) - (2 if tag.endswith("/>") else 1)
            tag = tag[:end].rstrip() + ' quotePrefix="1"' + tag[end:]
        new = self.xfs.index(tag + item[start.end() :])
        return str(new)

    def konflikte(self) -> dict[str, str | None]:
        """Header (bold, blue), body (text, top, wrapped), its quote-prefixed twin, decision (yellow)."""
        if self._konflikte is not None:
            return self._konflikte
        if not self.usable or not self.fonts.found or not self.fills.found or not self.fonts.items:
            self._konflikte = {"header": None, "body": None, "quote": None, "decision": None, "dquote": None}
            return self._konflikte
        p = self.xfs.prefix
        font = self.fonts.items[0]
        if not re.search(rf"<{re.escape(self.fonts.prefix)}b\s*/>", font):
            opened = re.match(r"<[^>]*?(/?)>", font)
            assert opened is not None
            if opened.group(1):  # <font/>
                font = opened.group(0)[:-2].rstrip() + f"><{self.fonts.prefix}b/></{self.fonts.prefix}font>"
            else:
                font = font[: opened.end()] + f"<{self.fonts.prefix}b/>" + font[opened.end() :]
        bold = self.fonts.index(font)
        fp = self.fills.prefix

        def fill(rgb: str) -> int:
            return self.fills.index(
                f'<{fp}fill><{fp}patternFill patternType="solid"><{fp}fgColor rgb="{rgb}"/>'
                f'<{fp}bgColor indexed="64"/></{fp}patternFill></{fp}fill>'
            )

        blue, yellow = fill("FFDDEBF7"), fill("FFFFF2CC")

        def xf(font_id: int, fill_id: int, quote: bool, wrap: bool) -> str:
            q = ' quotePrefix="1"' if quote else ""
            w = ' wrapText="1"' if wrap else ""
            return str(
                self.xfs.index(
                    f'<{p}xf numFmtId="49" fontId="{font_id}" fillId="{fill_id}" borderId="0" xfId="0"{q}'
                    f' applyNumberFormat="1" applyFont="1" applyFill="1" applyAlignment="1">'
                    f'<{p}alignment vertical="top"{w}/></{p}xf>'
                )
            )

        self._konflikte = {
            "header": xf(bold, blue, False, False),
            "body": xf(0, 0, False, True),
            "quote": xf(0, 0, True, True),
            "decision": xf(0, yellow, False, False),
            "dquote": xf(0, yellow, True, False),
        }
        return self._konflikte

    def patched(self) -> bytes | None:
        if self.xml is None:
            return None
        xml = self.xml
        # Back to front, so the earlier sections' positions stay valid.
        for section in sorted(
            (self.fonts, self.fills, self.xfs), key=lambda s: s.open_start if s.found else -1, reverse=True
        ):
            if section.found:
                xml = section.patch(xml)
        data = xml.encode("utf-8")
        return None if data == self.original else data


@dataclass
class _RowSpan:
    start: int
    end: int
    body_start: int
    body_end: int
    tag: str
    attrs: dict[str, str]
    empty: bool


class _XlsxTarget:
    def __init__(self, path: Path, mapping: Mapping, guard: WorkbookGuard, backup: bool = True) -> None:
        self.path = path
        self.mapping = mapping
        self.guard = guard
        self.backup = backup

    def apply(
        self,
        changes: WorkbookChanges,
        conflicts: Sequence[Conflict] | None,
        removal: RemovalMode | None,
        deleted_ids: Collection[str] | None,
        props: list[pd.DataFrame],
        owned: Sequence[OwnedSheet] = (),
    ) -> WorkbookUpdateReport:
        path = self.path
        if changes.is_empty and not conflicts and not any(o.rows for o in owned):
            with zipfile.ZipFile(path) as zf:
                present = {name.casefold() for name in _sheet_parts(zf, path)}
            listed = [o.name for o in owned] + ([KONFLIKTE] if conflicts is not None else [])
            if not any(own.casefold() in present for own in listed):
                # Nothing to write and no list of billsync's to empty: the usual night. Reading every
                # sheet (seconds at 100k rows) would only confirm that nothing changes.
                return WorkbookUpdateReport(unwritten=changes)
        names = [s.sheet for s in self.mapping.sheets.values()]
        grids = _xlsx_grids(path, [*names, KONFLIKTE])
        konflikte_grid = grids.pop(KONFLIKTE, None)
        formulas = {k: set(v) for k, v in xlsx_formula_cells(path, names).items()}
        planner = _Planner(self.mapping, grids, formulas, props, EXCEL_MAX_ROWS)
        _plan_all(planner, changes, removal, deleted_ids)
        report = WorkbookUpdateReport(
            planner.updated,
            planner.appended,
            planner.removed,
            planner.unchanged,
            planner.deferred,
            len(conflicts or ()),
            planner.problems,
            planner.unwritten(changes),
            appended_rows=planner.appended_rows,
        )
        with zipfile.ZipFile(path) as zf:
            patched, added = self.patch_package(zf, planner, conflicts, konflikte_grid, owned)
        if not patched and not added:
            return report
        save_package(path, {**patched, **added}, self.guard, backup=self.backup)
        report.written = True
        report.backup = backup_path(path) if self.backup else None
        return report

    def patch_package(
        self,
        zf: zipfile.ZipFile,
        planner: _Planner,
        conflicts: Sequence[Conflict] | None,
        konflikte_grid: list[list[str]] | None,
        owned: Sequence[OwnedSheet] = (),
    ) -> tuple[dict[str, bytes], dict[str, bytes]]:
        path = self.path
        parts = _sheet_parts(zf, path)
        workbook_part = _workbook_part(zf, path)
        names = set(zf.namelist())
        styles_part = _styles_part(zf, workbook_part)
        styles = _Styles(styles_part, zf.read(styles_part) if styles_part in names else None)
        workbook = zf.read(workbook_part).decode("utf-8")
        original_workbook = workbook
        patched: dict[str, bytes] = {}
        added: dict[str, bytes] = {}
        values_changed = False
        sheet_order = _sheet_order(workbook)
        for sheet, plan in planner.plans.items():
            if not plan.cells:
                continue
            part = parts.get(sheet)
            if part is None:
                raise WorkbookError("sheet not found in the workbook package", file=path, sheet=sheet)
            xml = _decode(zf.read(part), path, sheet)
            xml, filter_change = _patch_sheet(xml, plan, styles, path, sheet)
            patched[part] = xml.encode("utf-8")
            values_changed = True
            if filter_change is not None and sheet in sheet_order:
                workbook = _grow_filter_name(workbook, sheet_order.index(sheet), *filter_change)
        # Konflikte, Löschungen: created when they list something, rewritten when they exist
        carried = _carried_decisions(konflikte_grid or [], self.mapping)
        sheets = [*_konflikte_sheets(conflicts, carried, self.mapping), *owned]
        for own in sheets:
            existing = next((n for n in parts if n.casefold() == own.name.casefold()), None)
            if not own.rows and existing is None:
                continue
            owned_xml = _owned_xml(own, styles)
            if existing is not None:
                part = parts[existing]
                if zf.read(part) != owned_xml:
                    patched[part] = owned_xml
            else:
                part, workbook, rels, types = _add_sheet(
                    zf, workbook_part, workbook, names | set(added), own.name, patched
                )
                added[part] = owned_xml
                patched[rels[0]] = rels[1]
                patched[types[0]] = types[1]
        if values_changed and _has_formulas(zf, parts.values()):
            workbook = _full_calc_on_load(workbook)
        if workbook != original_workbook:
            patched[workbook_part] = workbook.encode("utf-8")
        style_data = styles.patched()
        if style_data is not None and styles_part is not None:
            patched[styles_part] = style_data
        return patched, added


def _styles_part(zf: zipfile.ZipFile, workbook_part: str) -> str | None:
    try:
        rels = _rels(zf, _workbook_rels(workbook_part), dirname(workbook_part))
    except KeyError:
        return None
    return next((t for typ, t in rels.values() if typ.endswith("/styles")), None)


def _sheet_order(workbook: str) -> list[str]:
    """Sheet names in workbook order (a sheet-local name's localSheetId is the position here)."""
    entities = {"&quot;": '"', "&apos;": "'"}
    return [
        unescape(_attrs(m.group(1)).get("name", ""), entities)
        for m in re.finditer(rf"<{_P}sheet\b([^>]*?)/?>", workbook)
    ]


def _has_formulas(zf: zipfile.ZipFile, parts: Collection[str]) -> bool:
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


def _full_calc_on_load(workbook: str) -> str:
    """`fullCalcOnLoad="1"` on <calcPr>: Excel recalculates the accountants' formulas over changed cells."""
    match = re.search(rf"<({_P})calcPr\b([^>]*?)(/?)>", workbook)
    if match is not None:
        if _attrs(match.group(2)).get("fullCalcOnLoad") in ("1", "true"):
            return workbook
        tag = re.sub(r'\sfullCalcOnLoad\s*=\s*("[^"]*"|\'[^\']*\')', "", match.group(0))
        end = len(tag) - (2 if match.group(3) else 1)
        tag = tag[:end].rstrip() + ' fullCalcOnLoad="1"' + tag[end:]
        return workbook[: match.start()] + tag + workbook[match.end() :]
    # No <calcPr>: it follows <definedNames> (or <sheets>) in the schema's order.
    for name in ("definedNames", "sheets"):
        close = re.search(rf"</({_P}){name}>", workbook)
        if close is not None:
            return (
                workbook[: close.end()]
                + f'<{close.group(1)}calcPr fullCalcOnLoad="1"/>'
                + workbook[close.end() :]
            )
    return workbook


def _grow_filter_name(workbook: str, index: int, old: str, new: str) -> str:
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

    return re.sub(rf"(<{_P}definedName\b([^>]*)>)([^<]*)(</{_P}definedName>)", fix, workbook)


def _patch_sheet(
    xml: str, plan: _SheetPlan, styles: _Styles, path: Path, sheet: str
) -> tuple[str, tuple[str, str] | None]:
    """The sheet XML with the planned cells set and rows added; everything else byte-identical."""
    by_row: dict[int, dict[int, _Edit]] = {}
    for (row, col), edit in plan.cells.items():
        by_row.setdefault(row, {})[col] = edit
    sources = {e.style_from[0] for e in plan.cells.values() if e.style_from}
    data_start = re.search(rf"<({_P})sheetData\b[^>]*?(/?)>", xml)
    if data_start is None:
        raise WorkbookError("the sheet XML has no sheetData", file=path, sheet=sheet)
    prefix = data_start.group(1)
    if data_start.group(2):
        xml = xml[: data_start.start()] + f"<{prefix}sheetData></{prefix}sheetData>" + xml[data_start.end() :]
        data_start = re.search(rf"<({_P})sheetData\b[^>]*?>", xml)
        assert data_start is not None
    data_end = xml.find(f"</{prefix}sheetData>", data_start.end())
    rows: dict[int, _RowSpan] = {}
    order: list[int] = []
    for match in _ROW.finditer(xml, data_start.end(), data_end):
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

    def style_of(edit: _Edit, own: str | None, col: int) -> str | None:
        if edit.style_from is not None:
            src_row, src_col = edit.style_from
            cells, row_style = source_styles.get(src_row, ({}, None))
            if src_col in cells:
                base = cells[src_col]
            elif row_style is not None:
                base = row_style
            else:
                base = column_styles.get(col)
            return styles.with_quote(base, _needs_quote(edit.value)) if edit.value or base else base
        if _needs_quote(edit.value):
            return styles.with_quote(own, True)
        return own

    spans: list[tuple[int, int, str]] = []
    sorted_order = sorted(order)
    for number in sorted(by_row):
        edits = by_row[number]
        found = rows.get(number)
        if found is None:
            cells_xml = "".join(
                _cell_xml(prefix, f"{_letters(c)}{number}", style_of(e, column_styles.get(c), c), e.value)
                for c, e in sorted(edits.items())
            )
            at = next((rows[n].start for n in sorted_order if n > number), data_end)
            spans.append((at, at, f'<{prefix}row r="{number}">{cells_xml}</{prefix}row>'))
            continue
        body = xml[found.body_start : found.body_end]
        existing = {col: (start, end, attrs) for col, start, end, attrs in row_cells(body, number, path, sheet)}
        pieces: list[tuple[int, int, str]] = []
        inserted = False
        for col, edit in sorted(edits.items()):
            ref = f"{_letters(col)}{number}"
            if col in existing:
                start, end, attrs = existing[col]
                own = attrs.get("s")
                pieces.append((start, end, _cell_xml(prefix, ref, style_of(edit, own, col), edit.value)))
            else:
                row_style = found.attrs.get("s") if found.attrs.get("customFormat") in ("1", "true") else None
                own = row_style if row_style is not None else column_styles.get(col)
                position = next((existing[c][0] for c in sorted(existing) if c > col), len(body))
                pieces.append(
                    (position, position, _cell_xml(prefix, ref, style_of(edit, own, col), edit.value))
                )
                inserted = True
        for start, end, replacement in sorted(pieces, key=lambda e: (e[0], e[1]), reverse=True):
            body = body[:start] + replacement + body[end:]
        tag = found.tag
        if inserted and "spans" in found.attrs:
            tag = re.sub(r"\s+spans\s*=\s*(\"[^\"]*\"|'[^']*')", "", tag)
        if found.empty:
            tag = tag[:-2].rstrip() + ">"
        p = _ROW.match(found.tag)
        closing = f"</{p.group('p') if p else prefix}row>"
        spans.append((found.start, found.end, tag + body + closing))
    pieces_out, position = [], 0
    for start, end, replacement in sorted(spans, key=lambda s: (s[0], s[1])):
        pieces_out += [xml[position:start], replacement]
        position = end
    pieces_out.append(xml[position:])
    xml = widen_dimension("".join(pieces_out), list(plan.cells))
    return _grow_filter(xml, plan)


def _grow_filter(xml: str, plan: _SheetPlan) -> tuple[str, tuple[str, str] | None]:
    """Extend the sheet's autoFilter over appended rows (and new columns) when it covered the table."""
    if not plan.appended_rows and not plan.new_columns:
        return xml, None
    match = re.search(rf"<{_P}autoFilter\b[^>]*?\bref=\"([^\"]*)\"", xml[xml.rfind("sheetData>") :])
    if match is None:
        return xml, None
    offset = xml.rfind("sheetData>")
    old = match.group(1)
    corners = [_REF.match(p) for p in old.split(":")]
    if len(corners) != 2 or not all(corners):
        return xml, None
    c0, r0 = _col_index(corners[0].group(1)), int(corners[0].group(2))  # type: ignore[union-attr]
    c1, r1 = _col_index(corners[1].group(1)), int(corners[1].group(2))  # type: ignore[union-attr]
    if r0 != 1:
        return xml, None
    if plan.appended_rows and r1 >= plan.table_last:
        r1 = max(r1, *plan.appended_rows)
    if plan.new_columns and c1 >= min(plan.new_columns) - 1:
        c1 = max(c1, *plan.new_columns)
    new = f"{_letters(c0)}{r0}:{_letters(c1)}{r1}"
    if new == old:
        return xml, None
    start, end = offset + match.start(1), offset + match.end(1)
    return xml[:start] + new + xml[end:], (old, new)


def _owned_xml(sheet: OwnedSheet, styles: _Styles) -> bytes:
    s = styles.konflikte()
    headers, rows = list(sheet.headers), sheet.rows
    body = sheet.body()
    decision_col = headers.index(sheet.decision)
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
        f'<worksheet xmlns="{_MAIN_NS}" xmlns:r="{_REL_NS}">',
        f'<dimension ref="A1:{_letters(len(headers) - 1)}{len(body) + 1}"/>',
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft"'
        ' state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>',
        '<sheetFormatPr defaultRowHeight="15"/><cols>',
    ]
    for i, width in enumerate(sheet.widths, start=1):
        out.append(f'<col min="{i}" max="{i}" width="{width}" customWidth="1"/>')
    out.append("</cols><sheetData>")
    out.append('<row r="1">')
    for c, header in enumerate(headers):
        out.append(_cell_xml("", f"{_letters(c)}1", s["header"], header))
    out.append("</row>")
    for r, values in enumerate(body, start=2):
        height = row_height(values)
        out.append(f'<row r="{r}"' + (f' ht="{height:g}" customHeight="1">' if height else ">"))
        for c, cell in enumerate(values):
            ref = f"{_letters(c)}{r}"
            decision = c == decision_col and bool(rows)
            value = _display(str(cell))
            if c == sheet.number_col and value.isdigit():
                style = s["body"]
                out.append(f'<c r="{ref}"' + (f' s="{style}"' if style else "") + f"><v>{value}</v></c>")
                continue
            if decision:
                style = s["dquote"] if _needs_quote(value) else s["decision"]
            else:
                style = s["quote"] if _needs_quote(value) else s["body"]
            if value or decision:
                out.append(_cell_xml("", ref, style, value))
        out.append("</row>")
    out.append("</sheetData>")
    if rows:
        col = _letters(decision_col)
        out.append(
            '<dataValidations count="1"><dataValidation type="list" errorStyle="warning" allowBlank="1"'
            f' showErrorMessage="1" sqref="{col}2:{col}{len(rows) + 1}"><formula1>"{_xml_text(sheet.choices)}"'
            "</formula1></dataValidation></dataValidations>"
        )
    out.append('<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>')
    out.append('<ignoredErrors><ignoredError sqref="A1:XFD1048576" numberStoredAsText="1"/></ignoredErrors>')
    out.append("</worksheet>")
    return "".join(out).encode("utf-8")


def _display(value: str) -> str:
    """A value as the Konflikte sheet can show it (it is only read by people): cut to Excel's limit."""
    value = value.replace("\ufffe", "\ufffd").replace("\uffff", "\ufffd")
    if len(value) > EXCEL_MAX_CHARS:
        value = value[: EXCEL_MAX_CHARS - 1] + "…"
    return value


def _add_sheet(
    zf: zipfile.ZipFile,
    workbook_part: str,
    workbook: str,
    names: set[str],
    sheet_name: str = KONFLIKTE,
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
    rels_part = _workbook_rels(workbook_part)
    rels = read(rels_part)
    used = set(re.findall(r'\sId="([^"]*)"', rels))
    m = 1
    while f"rId{m}" in used:
        m += 1
    rid = f"rId{m}"
    close = re.search(rf"</({_P})Relationships>", rels)
    if close is None:
        raise WorkbookError("the workbook's relationships are not as expected", file=None)
    rp = close.group(1)
    target = relpath(part, base) if base else part
    rels = (
        rels[: close.start()]
        + f'<{rp}Relationship Id="{rid}" Type="{_WORKSHEET_TYPE}" Target="{target}"/>'
        + rels[close.start() :]
    )
    sheets_close = re.search(rf"</({_P})sheets>", workbook)
    if sheets_close is None:
        raise WorkbookError("the workbook has no <sheets>", file=None)
    ids = [int(v) for v in re.findall(r'\ssheetId="(\d+)"', workbook)]
    root = re.search(rf"<{_P}workbook\b[^>]*>", workbook)
    rel_prefix = None
    if root is not None:
        for name, uri in re.findall(r'xmlns:([\w.-]+)="([^"]*)"', root.group(0)):
            if uri in (_REL_NS, _REL_NS_STRICT):
                rel_prefix = name
                break
    ns = "" if rel_prefix else f' xmlns:r="{_REL_NS}"'
    sp = sheets_close.group(1)
    element = f'<{sp}sheet name="{_xml_text(sheet_name)}" sheetId="{max(ids, default=0) + 1}"{ns} {rel_prefix or "r"}:id="{rid}"/>'
    workbook = workbook[: sheets_close.start()] + element + workbook[sheets_close.start() :]
    types = read("[Content_Types].xml")
    tclose = re.search(rf"</({_P})Types>", types)
    if tclose is None:
        raise WorkbookError("[Content_Types].xml is not as expected", file=None)
    types = (
        types[: tclose.start()]
        + f'<{tclose.group(1)}Override PartName="/{part}" ContentType="{_WORKSHEET_CT}"/>'
        + types[tclose.start() :]
    )
    return part, workbook, (rels_part, rels.encode("utf-8")), ("[Content_Types].xml", types.encode("utf-8"))


# --------------------------------------------------------------------------------------------------
# CSV folder
# --------------------------------------------------------------------------------------------------


def _csv_value(value: str) -> str:
    return "'" + value if value and value[0] in _CSV_ESCAPE else value


class _CsvTarget:
    def __init__(self, folder: Path, mapping: Mapping, guard: WorkbookGuard) -> None:
        self.folder = folder
        self.mapping = mapping
        self.guard = guard

    def apply(
        self,
        changes: WorkbookChanges,
        conflicts: Sequence[Conflict] | None,
        removal: RemovalMode | None,
        deleted_ids: Collection[str] | None,
        props: list[pd.DataFrame],
        owned: Sequence[OwnedSheet] = (),
    ) -> WorkbookUpdateReport:
        folder, mapping = self.folder, self.mapping
        listing = {p.name.casefold(): p for p in folder.iterdir() if p.is_file()}
        files: dict[str, _CsvFile] = {}
        for sm in mapping.sheets.values():
            found = listing.get(f"{sm.sheet}.csv".casefold())
            if found is not None:
                files[sm.sheet] = _read_csv(found, mapping.csv.separator)
        grids = {name: [[_unescape(v) for v in row] for row in f.rows] for name, f in files.items()}
        planner = _Planner(mapping, grids, {}, props, np.iinfo(np.int64).max)
        _plan_all(planner, changes, removal, deleted_ids)
        report = WorkbookUpdateReport(
            planner.updated,
            planner.appended,
            planner.removed,
            planner.unchanged,
            planner.deferred,
            len(conflicts or ()),
            planner.problems,
            planner.unwritten(changes),
            appended_rows=planner.appended_rows,
        )
        for name, plan in planner.plans.items():
            if not plan.cells:
                continue
            file = files[name]
            width = max((len(r) for r in file.rows), default=0)
            for (row, col), edit in sorted(plan.cells.items()):
                while len(file.rows) < row:
                    file.rows.append([""] * width)
                cells = file.rows[row - 1]
                cells.extend([""] * (col + 1 - len(cells)))
                cells[col] = _csv_value(edit.value)
            with replacing(file.path, self.guard) as tmp:
                _save_csv(file, tmp)
            report.written = True
            report.backup = backup_path(file.path)
        existing = listing.get(f"{KONFLIKTE}.csv".casefold())
        carried = (
            _carried_decisions(
                [[_unescape(v) for v in r] for r in _read_csv(existing, mapping.csv.separator).rows], mapping
            )
            if existing is not None
            else {}
        )
        for own in (*_konflikte_sheets(conflicts, carried, mapping), *owned):
            self.owned(own, files, listing, report)
        return report

    def owned(
        self,
        sheet: OwnedSheet,
        files: dict[str, _CsvFile],
        listing: dict[str, Path],
        report: WorkbookUpdateReport,
    ) -> None:
        existing = listing.get(f"{sheet.name}.csv".casefold())
        if not sheet.rows and existing is None:
            return
        like = next(iter(files.values()), None)
        target = existing if existing is not None else self.folder / f"{sheet.name}.csv"
        rows = sheet.body()
        out = _CsvFile(
            target,
            like.bom if like else self.mapping.csv.encoding.replace("_", "-").lower() == "utf-8-sig",
            like.separator if like else self.mapping.csv.separator,
            like.newline if like else "\r\n",
            [[_csv_value(str(v)) for v in row] for row in [list(sheet.headers), *rows]],
        )
        buffer = io.StringIO()
        csv.writer(
            buffer, delimiter=out.separator, lineterminator=out.newline, quoting=csv.QUOTE_MINIMAL
        ).writerows(out.rows)
        data = (b"\xef\xbb\xbf" if out.bom else b"") + buffer.getvalue().encode("utf-8")
        if existing is not None and existing.read_bytes() == data:
            return
        with replacing(target, self.guard) as tmp:
            _save_csv(out, tmp)
        report.written = True
        report.backup = report.backup or backup_path(target)


__all__ = [
    "KIND_TEXT",
    "KONFLIKTE",
    "KONFLIKTE_HEADERS",
    "OwnedSheet",
    "REMOVED_KEY",
    "REMOVED_PREFIX",
    "WorkbookUpdateReport",
    "apply_workbook_changes",
    "owned_rows",
    "read_decisions",
    "removed_marker",
]
