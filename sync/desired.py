"""The workbook as the state it asks Billomat to reach: frames by API field, canonical strings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from sync.cellvalues import (
    BOOL_WORDS,
    canonical_bool,
    canonical_date,
    canonical_number,
    lossy_rendering,
    same_number,
    spreadsheet_rendering,
)
from sync.errors import WorkbookError
from sync.frames import AccountFrames
from sync.mapping import ColumnMap, Mapping, SheetMap
from sync.sheet import EXCEL_MAX_CHARS, property_columns, sheet_cells, tag_groups
from sync.wording import RESOURCE_WORDS, record_label

# A new client that Kontakte rows may reference before it has a Billomat id (docs/design.md "Keys").
NEW_KEY = re.compile(r"^(neu|new)-\S.*$", re.IGNORECASE)
# A row the two-way sync marked as deleted in Billomat (sync.workbook.update's "mark" removal mode).
REMOVED_KEY = re.compile(r"^\s*(gelöscht|geloescht|deleted)-", re.IGNORECASE)


def row_key(row: int) -> str:
    """The key of a new row that has no id and no neu-… reference."""
    return f"row:{row}"


@dataclass(frozen=True)
class RowProblem:
    """A problem with one row (or cell) of the workbook; errors leave the row out of the run."""

    sheet: str
    row: int | None
    column: str | None
    message: str
    level: Literal["error", "warning"] = "error"
    # The workbook, or the sheet's CSV file ("" when unknown, e.g. tables built in memory).
    file: str = ""
    # The record the row holds, for people: id, client number and name (a contact: person and client).
    record: str = ""

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                self.file,
                f"sheet {self.sheet!r}",
                f"row {self.row}" if self.row is not None else "",
                f"column {self.column!r}" if self.column else "",
            )
            if part
        )
        record = f" ({self.record})" if self.record else ""
        return f"{where}{record}: {self.message}"


@dataclass(frozen=True)
class Desired:
    """What the workbook wants Billomat to hold (see docs/design.md for the columns of each frame)."""

    clients: pd.DataFrame
    contacts: pd.DataFrame
    property_values: pd.DataFrame
    tags: pd.DataFrame
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    # Sheet names and source path, for messages.
    source: str = ""
    # Billomat ids per resource ("clients", "contacts") of rows left out for an error: the diff
    # must neither update nor delete them (nor, for clients, touch their property values or tags).
    left_out: dict[str, frozenset[str]] = field(default_factory=dict)
    # Resource → why no record of it may be deleted in this run: a malformed key or an id unknown
    # to Billomat may be a typo of an existing id, whose row would then look deleted.
    deletes_blocked: dict[str, str] = field(default_factory=dict)
    # What the workbook does not say, so the diff must leave it alone (never read "absent" as ""):
    # "clients"/"contacts" → API fields whose column is missing; "client_property_values" →
    # property ids whose column is missing; "client_tags" → ("name",) when the tags column is missing.
    missing: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Ids (and neu-… keys) of rows left out for a row problem: the diff never deletes a record whose
    # row is merely unreadable this run (sync/diff.py).
    excluded_keys: frozenset[str] = frozenset()
    # False when the Kunden sheet has no tags column: tags are then left alone instead of all removed.
    has_tags: bool = True


# The emulator's and Billomat's rule (billomat-api.md §1: a bad email is a 400 "invalid email address").
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")

# None as a 0-d object array: what np.where/np.append make of a bare None, in a form numpy's stubs accept.
_NONE = np.array(None, dtype=object)


# ------------------------------------------------------------------------------------------------
# Reading the tables
# ------------------------------------------------------------------------------------------------


_TAGS_COLUMNS = ("_row", "client_key", "name")
_VALUES_COLUMNS = ("_row", "client_key", "client_property_id", "value")


def _frame(data: dict[str, np.ndarray] | None = None, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A frame of object (str) columns and an int `_row`, as every frame of billsync holds.

    Explicit dtypes: from plain arrays pandas 3 would infer its `str` dtype, which costs about a
    second per 100k-row frame here and compares differently (NaN instead of None).
    """
    if data is None:
        data = {name: np.array([], dtype=np.int64 if name == "_row" else object) for name in columns}
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=np.int64 if name == "_row" else object, copy=False)
            for name, values in data.items()
        }
    )


def _ascii_digits(values: np.ndarray) -> np.ndarray:
    return np.fromiter((v.isascii() and v.isdigit() for v in values), dtype=bool, count=len(values))


@dataclass
class _Sheet:
    """One sheet while it is read: its rows, their keys and which rows are left out."""

    sm: SheetMap
    table: pd.DataFrame
    file: str
    rows: np.ndarray  # sheet row numbers (int)
    keys: np.ndarray  # the row's _key ("" when the key is malformed)
    ids: np.ndarray  # the Billomat id of rows whose record Billomat has, else ""
    known: np.ndarray  # bool: ids[i] is a record in `current`
    pos: np.ndarray  # position of that record in `current` (-1: none)
    current: pd.DataFrame  # the current frame of the resource, one row per id
    bad: np.ndarray  # bool: the row has an error and is left out
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    _in_order: bool | None = None

    def column(self, header: str) -> np.ndarray:
        return self.table[header].to_numpy(dtype=object)

    def aligned(self, field_name: str) -> np.ndarray:
        """The current value of `field_name` per row (None for rows without a Billomat record)."""
        if field_name not in self.current.columns:  # Billomat returns every field: absent is ""
            return np.where(self.known, "", _NONE).astype(object)
        values = self.current[field_name].to_numpy(dtype=object)
        if self.in_order:  # a pulled sheet lists Billomat's records in Billomat's order
            return values
        # Position -1 (no record) picks the None appended at the end.
        return np.append(values, _NONE)[self.pos]

    @property
    def in_order(self) -> bool:
        """Row i of the sheet is record i of `current`, for every row and record."""
        if self._in_order is None:
            n = len(self.pos)
            self._in_order = n == len(self.current) and bool((self.pos == np.arange(n)).all())
        return self._in_order

    def kept(self) -> np.ndarray:
        return ~self.bad

    def cell(self, i: int, fld: str) -> str:
        """Row i's text in the column of API field `fld` ("" without such a column)."""
        header = next((c.header for c in self.sm.columns if c.field == fld), None)
        if header is None or header not in self.table.columns:
            return ""
        value = self.table[header].iloc[i]
        return value.strip() if isinstance(value, str) else ""

    def label(self, i: int) -> str:
        """Row i's record for messages: id (or its key cell), client number and name, as far as the row has them."""
        key = str(self.ids[i] or self.cell(i, self.sm.key))
        person = f"{self.cell(i, 'first_name')} {self.cell(i, 'last_name')}".strip()
        if self.sm.resource == "contacts":
            client = record_label(self.cell(i, "client_id"), self.cell(i, "client_number"))
            own = record_label(key, "", person or self.cell(i, "name"))
            return f"{own}, {RESOURCE_WORDS['clients']} {client}" if client else own
        return record_label(key, self.cell(i, "client_number"), self.cell(i, "name") or person)


class _Reader:
    """Collects problems, warnings and what is missing while the sheets are read."""

    def __init__(
        self, tables: dict[str, pd.DataFrame], mapping: Mapping, current: AccountFrames, source: str
    ) -> None:
        self.tables = tables
        self.mapping = mapping
        self.current = current
        self.source = source
        self.problems: list[RowProblem] = []
        self.warnings: list[RowProblem] = []
        self.blocked: dict[str, str] = {}
        self.missing: dict[str, list[str]] = {}

    # -- structure ------------------------------------------------------------------------------

    def open(self, sm: SheetMap) -> _Sheet:
        """Structural checks of one sheet (WorkbookError) and its keys; nothing row-level yet."""
        table = self.tables.get(sm.sheet)
        if table is None:
            raise WorkbookError(
                f"sheet is missing (the workbook has: {', '.join(self.tables) or 'no sheets'})",
                file=self.source or None,
                sheet=sm.sheet,
            )
        cells = sheet_cells(table)
        # The sheet's own file: the CSV of that sheet, not the folder that holds it.
        file = (cells.file if cells else "") or self.source
        key_header = sm.key_column.header
        if key_header not in table.columns:
            raise WorkbookError(
                "the key column is missing; without it no row can be matched (nothing was changed)",
                file=file or None,
                sheet=sm.sheet,
                row=1,
                column=key_header,
            )
        mapped = [h for h in self.mapped_headers(sm) if h in table.columns]
        if cells is not None:
            for ref, first_row, covered in cells.merged:
                hit = [h for h in covered if h in mapped]
                if hit:
                    # A merged range holds its value in its first cell only: the other rows would read
                    # as emptied fields or as rows without a key.
                    raise WorkbookError(
                        f"merged cells {ref} in the synced columns; unmerge them (Zellen verbinden aufheben)"
                        " (nothing was changed)",
                        file=file or None,
                        sheet=sm.sheet,
                        row=first_row,
                        column=hit[0],
                    )
        if len(table) and (cells is None or len(mapped) < len(table.columns)):
            # Rows with nothing in any synced column (an accountant's sums or notes in own columns);
            # read_workbook already skipped rows that are empty in every column.
            filled = (table[mapped].to_numpy(dtype=object) != "").any(axis=1)
            if not filled.all():
                table = table[filled]
        if len(table):
            # A row the sync marked as deleted in Billomat ("gelöscht-<id>" in its key cell) is history,
            # kept for the accountants: not a client, not a problem, not a delete.
            marked = np.array([bool(REMOVED_KEY.match(k)) for k in table[key_header].to_numpy(dtype=object)])
            if marked.any():
                table = table[~marked]

        current = self.current.frame(sm.resource)
        if "id" not in current.columns:
            current = _frame({"id": np.array([], dtype=object)})
        current = current.drop_duplicates("id").reset_index(drop=True)
        id_index = pd.Index(current["id"].to_numpy(dtype=object), dtype=object)

        rows = table.index.to_numpy(dtype=np.int64)
        keys = np.array([k.strip() for k in table[key_header].to_numpy(dtype=object)], dtype=object)
        digits = _ascii_digits(keys)
        blank = keys == ""
        new = np.zeros(len(keys), dtype=bool)
        for i in np.flatnonzero(~digits & ~blank):
            new[i] = bool(NEW_KEY.match(keys[i]))
        for i in np.flatnonzero(
            digits & np.fromiter((k[:1] == "0" for k in keys), dtype=bool, count=len(keys))
        ):
            keys[i] = str(int(keys[i]))  # "01001": Billomat ids have no leading zeros
        self.check_duplicates(sm, file, keys, digits, rows, casefold=False)
        if sm.resource == "clients":
            self.check_duplicates(sm, file, keys, new, rows, casefold=True)

        pos = id_index.get_indexer(pd.Index(keys, dtype=object)) if len(id_index) else np.full(len(keys), -1)
        known = digits & (pos >= 0)
        pos = np.where(known, pos, -1)
        ids = np.where(known, keys, "").astype(object)
        for i in np.flatnonzero(blank | (new & (sm.resource != "clients"))):
            keys[i] = row_key(int(rows[i]))  # new contacts need no reference key
        sheet = _Sheet(sm, table, file, rows, keys, ids, known, pos, current, np.zeros(len(rows), dtype=bool))
        self.check_not_emptied(sheet, len(current))

        for i in np.flatnonzero(~(digits | blank | new)):
            self.error(sheet, i, key_header, f"malformed key {keys[i]!r}: {self.key_hint(sm)}")
            self.blocked.setdefault(
                sm.resource, f"sheet {sm.sheet!r} row {rows[i]}: a malformed {key_header} may hide an id"
            )
            keys[i] = ""
        for i in np.flatnonzero(digits & ~known):
            self.error(
                sheet,
                i,
                key_header,
                f"{key_header} {keys[i]} is unknown to Billomat (deleted there, or a typo?)",
            )
            self.blocked.setdefault(
                sm.resource,
                f"sheet {sm.sheet!r} row {rows[i]}: {key_header} {keys[i]} is unknown to Billomat",
            )
        return sheet

    @staticmethod
    def key_hint(sm: SheetMap) -> str:
        if sm.resource == "clients":
            return (
                "expected a Billomat id (digits), empty for a new client, or neu-… for a new client that"
                " Kontakte rows refer to"
            )
        return "expected a Billomat id (digits), or empty for a new row"

    @staticmethod
    def check_duplicates(
        sm: SheetMap, file: str, keys: np.ndarray, mask: np.ndarray, rows: np.ndarray, *, casefold: bool
    ) -> None:
        """Two rows with one key: which of them is meant? Structural, so nothing is written at all."""
        if mask.sum() < 2:
            return
        values = keys[mask]
        compared = np.array([v.casefold() for v in values], dtype=object) if casefold else values
        if len(set(compared)) == len(compared):
            return
        dup = pd.Series(compared, dtype=object).duplicated(keep=False).to_numpy(dtype=bool)
        if not dup.any():
            return
        first = compared[dup][0]
        where = rows[mask][compared == first]
        others = len(set(compared[dup])) - 1
        more = f"; {others} more key(s) appear more than once" if others else ""
        raise WorkbookError(
            f"{values[dup][0]!r} appears more than once: rows {where[0]} and {where[1]}{more}"
            " — every row needs its own key (nothing was changed)",
            file=file or None,
            sheet=sm.sheet,
            row=int(where[1]),
            column=sm.key_column.header,
        )

    @staticmethod
    def check_not_emptied(sheet: _Sheet, in_billomat: int) -> None:
        """An emptied sheet, or one whose key column was cleared, must never read as "delete all"."""
        if not in_billomat:
            return
        sm, header = sheet.sm, sheet.sm.key_column.header
        if not len(sheet.rows):
            raise WorkbookError(
                f"the sheet is empty (no data rows) while Billomat has {in_billomat} {sm.resource};"
                " nothing will be deleted — a truncated or filtered save? (nothing was changed)",
                file=sheet.file or None,
                sheet=sm.sheet,
                row=2,
            )
        if not sheet.known.any():
            raise WorkbookError(
                f"no row has a {header} that Billomat knows, while Billomat has {in_billomat} {sm.resource}:"
                " was the column cleared, or the workbook not pulled from this account? Nothing will be"
                " deleted (nothing was changed)",
                file=sheet.file or None,
                sheet=sm.sheet,
                column=header,
            )

    def mapped_headers(self, sm: SheetMap) -> list[str]:
        """Every header billsync reads in this sheet: declared columns, property columns, tags."""
        headers = list(sm.headers)
        if sm.properties is not None:
            headers += [h for _, h in property_columns(self.current.client_properties, sm)]
        if sm.tags is not None:
            headers.append(sm.tags.header)
        return headers

    def synced_headers(self, sm: SheetMap) -> set[str]:
        """Headers whose values are sent (and the key): a formula there is an error."""
        synced = {c.header for c in sm.columns if not c.ignored_on_read or c.field == sm.key}
        return synced | set(self.mapped_headers(sm)[len(sm.columns) :])

    # -- problems -------------------------------------------------------------------------------

    # `i` is a row position: an int, or the numpy integer np.flatnonzero yields.
    def error(self, sheet: _Sheet, i: int | np.integer, column: str | None, message: str) -> None:
        sheet.bad[i] = True
        self.problems.append(
            RowProblem(sheet.sm.sheet, int(sheet.rows[i]), column, message, "error", sheet.file, sheet.label(int(i)))
        )

    def warn(self, sheet: _Sheet, i: int | np.integer | None, column: str | None, message: str) -> None:
        row = int(sheet.rows[i]) if i is not None else None
        record = sheet.label(int(i)) if i is not None else ""
        self.warnings.append(RowProblem(sheet.sm.sheet, row, column, message, "warning", sheet.file, record))

    def check_formulas(self, sheet: _Sheet) -> None:
        cells = sheet_cells(sheet.table)
        if cells is None or not cells.formulas:
            return
        headers = self.synced_headers(sheet.sm)
        where = {int(r): i for i, r in enumerate(sheet.rows)}
        for row, header in cells.formulas:
            i = where.get(row)
            if i is not None and header in headers:
                # calamine reads a formula's cached value (none at all from some writers); a value
                # that changes whenever the sheet recalculates is no value to sync.
                self.error(
                    sheet,
                    i,
                    header,
                    "holds a formula; billsync syncs values — paste as values (Inhalte einfügen → Werte)",
                )

    # -- fields ---------------------------------------------------------------------------------

    def read_fields(self, sheet: _Sheet) -> None:
        sm = sheet.sm
        for col in sm.columns:
            if col.field == sm.key or col.field in sheet.fields:
                continue
            if sm.resource == "contacts" and col.field == "client_id" and col.lookup is None:
                continue  # read_client_links: an id or a neu-… reference, not a plain field
            if col.header not in sheet.table.columns:
                if not col.ignored_on_read:
                    self.missing.setdefault(sm.resource, []).append(col.field)
                    self.warn(
                        sheet, None, col.header, f"column is missing: {col.field} stays as it is in Billomat"
                    )
                continue
            if col.lookup is not None:
                self.check_lookup(sheet, col)
            elif col.read_only:
                self.check_read_only(sheet, col)
            else:
                values, current = sheet.column(col.header), sheet.aligned(col.field)
                sheet.fields[col.field] = self.canonical(sheet, col.header, col.type, values, current)
                if col.field == "email":
                    self.check_emails(sheet, col, sheet.fields[col.field], current)

    def canonical(
        self, sheet: _Sheet, header: str, kind: str, values: np.ndarray, current: np.ndarray
    ) -> np.ndarray:
        """The column's canonical strings; an unedited cell, also as a spreadsheet rewrote it, = current.

        Only cells that differ from Billomat are looked at one by one: none in a no-op round trip.
        """
        differs = values != current
        if not differs.any():
            return values
        differs &= ~self.too_long(sheet, header, values, differs)
        has = sheet.known  # exactly the rows whose `current` is not None
        out = values.copy()
        if kind == "text":
            for i in np.flatnonzero(differs & (has | (values != ""))):
                value, now = values[i], current[i]
                if now is not None and spreadsheet_rendering(value, now):
                    out[i] = now
                elif (why := lossy_rendering(value, now, kind)) is not None:
                    self.error(sheet, i, header, why)
        elif kind == "number":
            for i in np.flatnonzero(differs & (values != "")):
                value, now = values[i], current[i]
                if now is not None and same_number(value, now):
                    out[i] = now
                elif (why := lossy_rendering(value, now, kind)) is not None:
                    self.error(sheet, i, header, why)
                elif (number := canonical_number(value)) is not None:
                    out[i] = number
                else:
                    self.error(sheet, i, header, f"{value!r} is not a number")
        elif kind == "bool":
            for i in np.flatnonzero(differs & (has | (values != ""))):
                value, now = values[i], current[i]
                if not value.strip():
                    # An emptied yes/no cell means "no" (x / empty marking); never a change where
                    # Billomat itself has "".
                    out[i] = "0" if now else ""
                elif (flag := canonical_bool(value)) is not None:
                    out[i] = flag
                else:
                    self.error(sheet, i, header, f"{value!r} is not a yes/no value; use 1 or 0")
        elif kind == "date":
            for i in np.flatnonzero(differs & (values != "")):
                value, now = values[i], current[i]
                if (day := canonical_date(value)) is None:
                    self.error(sheet, i, header, f"{value!r} is not a date; use YYYY-MM-DD or DD.MM.YYYY")
                else:
                    out[i] = now if now is not None and canonical_date(now) == day else day
        return out

    def too_long(self, sheet: _Sheet, header: str, values: np.ndarray, differs: np.ndarray) -> np.ndarray:
        """Cells longer than an Excel cell holds, where they differ from Billomat: row problems (a mask).

        No spreadsheet program saves such a cell (Excel's limit: 32,767 characters), so it is a
        damaged or generated file, never an accountant's edit. A value that long which Billomat
        itself holds (a CSV pulled from it) is no change and passes.
        """
        long = np.zeros(len(values), dtype=bool)
        # One C-level pass first; the per-cell look only where some cell is that long.
        if not len(values) or max(map(len, values)) <= EXCEL_MAX_CHARS:
            return long
        for i in np.flatnonzero(differs):
            if len(values[i]) > EXCEL_MAX_CHARS:
                long[i] = True
                self.error(
                    sheet,
                    i,
                    header,
                    f"the cell holds {len(values[i]):,} characters; a spreadsheet cell holds at most"
                    f" {EXCEL_MAX_CHARS:,} (Excel's limit), so no spreadsheet program saved it: nothing of"
                    " this row is sent",
                )
        return long

    def check_emails(self, sheet: _Sheet, col: ColumnMap, values: np.ndarray, current: np.ndarray) -> None:
        for i in np.flatnonzero((values != current) & (values != "")):
            value, now = values[i], current[i]
            if now is not None and col.normalize_value(value) == col.normalize_value(now):
                continue  # not a change: nothing is sent
            if not _EMAIL.match(value):
                hint = " (remove the blanks at the start or end)" if _EMAIL.match(value.strip()) else ""
                self.error(sheet, i, col.header, f"{value!r} is not a valid email address{hint}")

    def check_read_only(self, sheet: _Sheet, col: ColumnMap) -> None:
        values, current = sheet.column(col.header), sheet.aligned(col.field)
        for i in np.flatnonzero(sheet.known & (values != current)):
            value, now = values[i], current[i]
            if spreadsheet_rendering(value, now) or col.normalize_value(value) == col.normalize_value(now):
                continue
            self.warn(
                sheet, i, col.header, f"{col.header} is read-only; the edit is ignored (Billomat has {now!r})"
            )
        # A new row carrying what only Billomat sets looks like a pulled row whose id was deleted:
        # creating it would duplicate the record.
        key = sheet.sm.key_column.header
        for i in np.flatnonzero(~sheet.known & ~sheet.bad & (values != "")):
            self.error(
                sheet,
                i,
                key,
                f"the row has no {key} but a {col.header} ({values[i]!r}) that only Billomat sets: was the"
                f" id deleted? For a new row leave {col.header} empty",
            )

    def check_lookup(self, sheet: _Sheet, col: ColumnMap) -> None:
        """A lookup column (a contact's client number) is read-only: warn when it fits neither client."""
        assert col.lookup is not None
        other = self.current.frame(col.lookup)
        if col.field not in other.columns or "id" not in other.columns:
            return
        other = other.drop_duplicates("id")
        index = pd.Index(other["id"].to_numpy(dtype=object), dtype=object)
        shown = np.append(other[col.field].to_numpy(dtype=object), _NONE)  # position -1 → None

        def looked_up(client_ids: np.ndarray) -> np.ndarray:
            return shown[index.get_indexer(pd.Index(client_ids, dtype=object))]

        values = sheet.column(col.header)
        linked = sheet.aligned("client_id")
        before = looked_up(linked)
        after = sheet.fields.get("client_id")
        now = looked_up(after) if after is not None and bool((after != linked).any()) else before
        for i in np.flatnonzero(sheet.known & (values != before) & (values != now)):
            value = values[i]
            expected = [v for v in (before[i], now[i]) if isinstance(v, str)]
            if any(
                spreadsheet_rendering(value, v) or col.normalize_value(value) == col.normalize_value(v)
                for v in expected
            ):
                continue
            has = f" (Billomat has {expected[0]!r})" if expected else ""
            self.warn(sheet, i, col.header, f"{col.header} is read-only; the edit is ignored{has}")

    # -- clients: property values and tags ------------------------------------------------------

    def read_properties(self, sheet: _Sheet) -> pd.DataFrame:
        """One row per client row × property column present (also ""), values canonical."""
        sm = sheet.sm
        if sm.properties is None:
            return _frame(columns=_VALUES_COLUMNS)
        props = self.current.client_properties
        types = dict(zip(props["id"], props["type"], strict=True)) if "type" in props.columns else {}
        ids: list[str] = []
        columns: list[np.ndarray] = []
        by_property = self.property_rows(sheet)
        for pid, header in property_columns(props, sm):
            if header not in sheet.table.columns:
                self.missing.setdefault("client_property_values", []).append(pid)
                self.warn(sheet, None, header, "column is missing: this attribute stays as it is in Billomat")
                continue
            current = self.property_current(sheet, pid, by_property)
            values = sheet.column(header)
            if types.get(pid) == "CHECKBOX":
                columns.append(self.checkbox(sheet, header, values, current))
            else:
                columns.append(self.canonical(sheet, header, "text", values, current))
            ids.append(pid)
        if not ids:
            return _frame(columns=_VALUES_COLUMNS)
        # Rows get their errors while all columns are read; only then is it known which to keep.
        keep = sheet.kept()
        n = int(keep.sum())
        out = _frame(
            {
                "_row": np.repeat(sheet.rows[keep], len(ids)),
                "client_key": np.repeat(sheet.keys[keep], len(ids)),
                "client_property_id": np.tile(np.array(ids, dtype=object), n),
                "value": np.column_stack([c[keep] for c in columns]).ravel()
                if n
                else np.array([], dtype=object),
            }
        )
        return out

    def property_rows(self, sheet: _Sheet) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Property id → (row positions in the sheet, current values) of the sheet's known clients."""
        values = self.current.client_property_values
        if values.empty or not sheet.known.any():
            return {}
        if "id" in values.columns:  # as build_tables: of two rows for one client, the newest wins
            order = pd.to_numeric(values["id"], errors="coerce")
            if not order.is_monotonic_increasing:
                values = values.assign(_n=order).sort_values("_n", kind="stable", na_position="first")
        values = values.drop_duplicates(["client_id", "client_property_id"], keep="last")
        rows_known = np.flatnonzero(sheet.known)  # their ids are unique (duplicates stopped the run)
        at = pd.Index(sheet.ids[rows_known], dtype=object).get_indexer(
            pd.Index(values["client_id"].to_numpy(dtype=object), dtype=object)
        )
        hit = at >= 0
        pids = values["client_property_id"].to_numpy(dtype=object)[hit]
        found, positions = values["value"].to_numpy(dtype=object)[hit], rows_known[at[hit]]
        out = {}
        for pid in np.unique(pids.astype(str)) if len(pids) else ():
            mask = pids == pid
            out[str(pid)] = (positions[mask], found[mask])
        return out

    @staticmethod
    def property_current(
        sheet: _Sheet, pid: str, by_property: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> np.ndarray:
        """The current value per row; "" for a known client without a value row (that means the same)."""
        out = np.where(sheet.known, "", _NONE).astype(object)
        if pid in by_property:
            positions, found = by_property[pid]
            out[positions] = found
        return out

    def checkbox(self, sheet: _Sheet, header: str, values: np.ndarray, current: np.ndarray) -> np.ndarray:
        """A CHECKBOX property column back to Billomat's "1"/"0" (from the mapping's labels or yes/no words)."""
        props = sheet.sm.properties
        assert props is not None
        words = dict(BOOL_WORDS)
        words[props.checkbox_checked.strip().casefold()] = "1"
        words[props.checkbox_unchecked.strip().casefold()] = "0"
        out = np.array([words.get(v.strip().casefold()) for v in values], dtype=object)
        for i in np.flatnonzero(out == None):  # noqa: E711 -- elementwise on an object array
            value, now = values[i], current[i]
            if not value.strip():
                out[i] = "0" if now else ""  # an emptied box is unchecked; "" where Billomat has none
            else:
                out[i] = value
                self.error(
                    sheet,
                    i,
                    header,
                    f"{value!r} is not a checkbox value; use {props.checkbox_checked!r} or"
                    f" {props.checkbox_unchecked!r}",
                )
        return out

    def read_tags(self, sheet: _Sheet) -> np.ndarray | None:
        """Per row the list of tag names (None for an unedited cell: the current tags), or None without a column."""
        tags_map = sheet.sm.tags
        if tags_map is None:
            return None
        if tags_map.header not in sheet.table.columns:
            self.missing["client_tags"] = ["name"]
            self.warn(
                sheet, None, tags_map.header, "column is missing: the tags stay as they are in Billomat"
            )
            return None
        cells = sheet.column(tags_map.header)
        if len(cells) and max(map(len, cells)) > EXCEL_MAX_CHARS:
            groups = tag_groups(self.current.client_tags, sheet.sm)
            joined = np.array([tags_map.separator.join(groups.get(i, ())) for i in sheet.ids], dtype=object)
            self.too_long(sheet, tags_map.header, cells, cells != joined)
        return cells

    def tags_frame(self, sheet: _Sheet, cells: np.ndarray | None) -> pd.DataFrame:
        tags_map = sheet.sm.tags
        if cells is None or tags_map is None:
            return _frame(columns=_TAGS_COLUMNS)
        keep = sheet.kept()
        groups = tag_groups(self.current.client_tags, sheet.sm)
        joined = np.array([tags_map.separator.join(groups.get(i, ())) for i in sheet.ids], dtype=object)
        # An unedited cell stands for exactly the current tags (so a tag whose name holds the
        # separator survives a round trip); only edited cells are split.
        same = sheet.known & keep & (cells == joined)
        parts = []
        if same.any() and groups:
            rows_same, keys_same = sheet.rows[same], sheet.keys[same]
            counts = np.array([len(groups.get(i, ())) for i in sheet.ids[same]], dtype=np.int64)
            same_names = [name for i in sheet.ids[same] for name in groups.get(i, ())]
            parts.append(
                _frame(
                    {
                        "_row": np.repeat(rows_same, counts),
                        "client_key": np.repeat(keys_same, counts),
                        "name": np.array(same_names, dtype=object),
                    }
                )
            )
        separator = tags_map.separator.strip() or tags_map.separator
        rows: list[int] = []
        keys: list[str] = []
        names: list[str] = []
        for i in np.flatnonzero(~same & keep & (cells != "")):
            seen: set[str] = set()
            for name in cells[i].split(separator):
                name = name.strip()
                if name and name not in seen:
                    seen.add(name)
                    rows.append(int(sheet.rows[i]))
                    keys.append(sheet.keys[i])
                    names.append(name)
        if rows:
            parts.append(
                _frame(
                    {
                        "_row": np.array(rows, dtype=np.int64),
                        "client_key": np.array(keys, dtype=object),
                        "name": np.array(names, dtype=object),
                    }
                )
            )
        if not parts:
            return _frame(columns=_TAGS_COLUMNS)
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        return out.sort_values("_row", kind="stable").reset_index(drop=True)

    # -- contacts: the client each one belongs to -----------------------------------------------

    def read_client_links(self, sheet: _Sheet, clients: _Sheet | None) -> None:
        """Each contact's client: a Billomat client id, or the neu-… key of a new client row in Kunden."""
        sm = sheet.sm
        col = next((c for c in sm.columns if c.field == "client_id" and c.lookup is None), None)
        if col is None or col.read_only:
            return
        if col.header not in sheet.table.columns:
            self.missing.setdefault(sm.resource, []).append("client_id")
            self.warn(sheet, None, col.header, "column is missing: contacts stay with their clients")
            for i in np.flatnonzero(~sheet.known & ~sheet.bad):
                self.error(
                    sheet, i, col.header, f"a new contact needs its client's id in a {col.header!r} column"
                )
            return
        values = np.array([v.strip() for v in sheet.column(col.header)], dtype=object)
        current = sheet.aligned("client_id")
        clients_frame = self.current.clients
        client_ids = pd.Index(
            clients_frame["id"].to_numpy(dtype=object) if "id" in clients_frame.columns else [], dtype=object
        )
        # Unchanged (even should Billomat hold an orphan contact), or a client Billomat has.
        ok = (values == current) | pd.Index(values, dtype=object).isin(client_ids)
        ok |= self.too_long(sheet, col.header, values, ~ok)
        kunden = clients.sm.sheet if clients is not None else "Kunden"
        new_rows: dict[str, int] = {}
        if clients is not None:
            for j, key in enumerate(clients.keys):
                if NEW_KEY.match(key):
                    new_rows[key.casefold()] = j
        for i in np.flatnonzero(~ok):
            value = values[i]
            if not value:
                self.error(
                    sheet,
                    i,
                    col.header,
                    f"{col.header} is empty: a contact needs its client's Billomat id (or the neu-… key of a"
                    " new client)",
                )
            elif value.isascii() and value.isdigit() and str(int(value)) in client_ids:
                values[i] = str(int(value))
            elif NEW_KEY.match(value) and value.casefold() in new_rows:
                assert clients is not None
                j = new_rows[value.casefold()]
                values[i] = clients.keys[j]  # spelt as in Kunden, so the plan can link the two
                if clients.bad[j]:
                    self.error(
                        sheet,
                        i,
                        col.header,
                        f"its new client {value!r} (sheet {kunden!r} row {clients.rows[j]}) has a problem and"
                        " is left out",
                    )
            elif NEW_KEY.match(value):
                self.error(
                    sheet, i, col.header, f"{value!r} is not the neu-… key of any row in sheet {kunden!r}"
                )
            else:
                self.error(
                    sheet,
                    i,
                    col.header,
                    f"{value!r} is neither a client id Billomat knows nor the neu-… key of a new client in"
                    f" sheet {kunden!r}",
                )
        sheet.fields["client_id"] = values

    # -- result ---------------------------------------------------------------------------------

    def frame(self, sheet: _Sheet | None, *, client_key: bool = False) -> pd.DataFrame:
        """`_row`, `_key` (, `client_key`), then the writable fields in mapping order; rows with errors left out."""
        if sheet is None:
            return _frame(columns=("_row", "_key", "client_key") if client_key else ("_row", "_key"))
        keep = sheet.kept()
        data: dict[str, np.ndarray] = {"_row": sheet.rows[keep], "_key": sheet.keys[keep]}
        if client_key:
            links = sheet.fields.get("client_id")
            data["client_key"] = links[keep] if links is not None else sheet.aligned("client_id")[keep]
        for col in sheet.sm.columns:
            if col.field in sheet.fields and col.lookup is None:
                data[col.field] = sheet.fields[col.field][keep]
        return _frame(data)

    @staticmethod
    def excluded(sheet: _Sheet) -> list[str]:
        """Ids and neu-… keys of the rows left out (not row:N keys: nothing can refer to those)."""
        return [k for k in sheet.keys[sheet.bad].tolist() if k and not k.startswith("row:")]

    @staticmethod
    def left_out(sheet: _Sheet | None) -> frozenset[str]:
        if sheet is None:
            return frozenset()
        return frozenset(sheet.ids[sheet.bad & sheet.known].tolist())


def read_desired(
    tables: dict[str, pd.DataFrame], mapping: Mapping, current: AccountFrames, *, source: str = ""
) -> Desired:
    """The workbook's tables (from `sheet.read_workbook`) as the state Billomat should reach.

    Raises WorkbookError for what makes the whole workbook untrustworthy (a missing sheet or key
    column, duplicate keys, merged cells in the synced columns, an emptied sheet or key column);
    a problem of one row leaves that row out and is listed in `problems`.
    """
    reader = _Reader(tables, mapping, current, source)
    clients_map, contacts_map = mapping.sheets.get("clients"), mapping.sheets.get("contacts")
    # Every structural check of every sheet first: a WorkbookError comes before any row problem.
    clients = reader.open(clients_map) if clients_map is not None else None
    contacts = reader.open(contacts_map) if contacts_map is not None else None

    values = _frame(columns=_VALUES_COLUMNS)
    tags = _frame(columns=_TAGS_COLUMNS)
    if clients is not None:
        reader.check_formulas(clients)
        reader.read_fields(clients)
        tag_cells = reader.read_tags(clients)
        values = reader.read_properties(clients)
        tags = reader.tags_frame(clients, tag_cells)
    if contacts is not None:
        reader.check_formulas(contacts)
        reader.read_client_links(contacts, clients)
        reader.read_fields(contacts)

    first = clients or contacts
    return Desired(
        clients=reader.frame(clients),
        contacts=reader.frame(contacts, client_key=True),
        property_values=values,
        tags=tags,
        problems=sorted(reader.problems, key=_order),
        warnings=sorted(reader.warnings, key=_order),
        source=source or (first.file if first is not None else ""),
        left_out={"clients": reader.left_out(clients), "contacts": reader.left_out(contacts)},
        deletes_blocked=dict(reader.blocked),
        missing={name: tuple(dict.fromkeys(found)) for name, found in reader.missing.items()},
        excluded_keys=frozenset(
            k for sheet in (clients, contacts) if sheet is not None for k in reader.excluded(sheet)
        ),
        has_tags=clients_map is not None
        and clients_map.tags is not None
        and "client_tags" not in reader.missing,
    )


def _order(problem: RowProblem) -> tuple[str, int, str]:
    return (problem.sheet, problem.row if problem.row is not None else 0, problem.column or "")
