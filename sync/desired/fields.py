"""The plain fields of a sheet read as canonical strings, and the checks of what may not be sent.

An unedited cell, also as a spreadsheet re-wrote it (`sync.cellvalues`), reads as Billomat's current
value; typed columns (number, bool, date) become Billomat's form; formulas, overlong cells, bad
emails and edits of read-only or lookup columns are row problems or warnings.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sync.cellvalues import (
    canonical_bool,
    canonical_date,
    canonical_number,
    lossy_rendering,
    same_number,
    spreadsheet_rendering,
)
from sync.desired.rows import NONE, Findings, SheetRows, synced_headers
from sync.frames import AccountFrames
from sync.mapping import ColumnMap
from sync.sheet import EXCEL_MAX_CHARS, sheet_cells

# The emulator's and Billomat's rule (billomat-api.md §1: a bad email is a 400 "invalid email address").
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


class FieldReader:
    """Reads a sheet's fields against Billomat's current records; row problems go to `found`."""

    def __init__(self, found: Findings, current: AccountFrames) -> None:
        self.found = found
        self.current = current

    def check_formulas(self, sheet: SheetRows) -> None:
        """A formula in a synced column is a row problem (its value changes whenever the sheet recalculates)."""
        cells = sheet_cells(sheet.table)
        if cells is None or not cells.formulas:
            return
        headers = synced_headers(sheet.sm, self.current)
        where = {int(r): i for i, r in enumerate(sheet.rows)}
        for row, header in cells.formulas:
            i = where.get(row)
            if i is not None and header in headers:
                # calamine reads a formula's cached value (none at all from some writers); a value
                # that changes whenever the sheet recalculates is no value to sync.
                self.found.error(
                    sheet,
                    i,
                    header,
                    "holds a formula; billsync syncs values — paste as values (Inhalte einfügen → Werte)",
                )

    def read_fields(self, sheet: SheetRows) -> None:
        """Every mapped column of the sheet into `sheet.fields` (canonical), or a warning when it is missing."""
        sm = sheet.sm
        for col in sm.columns:
            if col.field == sm.key or col.field in sheet.fields:
                continue
            if sm.resource == "contacts" and col.field == "client_id" and col.lookup is None:
                continue  # read_client_links: an id or a neu-… reference, not a plain field
            if col.header not in sheet.table.columns:
                if not col.ignored_on_read:
                    self.found.missing.setdefault(sm.resource, []).append(col.field)
                    self.found.warn(
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
        self, sheet: SheetRows, header: str, kind: str, values: np.ndarray, current: np.ndarray
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
                    self.found.error(sheet, i, header, why)
        elif kind == "number":
            for i in np.flatnonzero(differs & (values != "")):
                value, now = values[i], current[i]
                if now is not None and same_number(value, now):
                    out[i] = now
                elif (why := lossy_rendering(value, now, kind)) is not None:
                    self.found.error(sheet, i, header, why)
                elif (number := canonical_number(value)) is not None:
                    out[i] = number
                else:
                    self.found.error(sheet, i, header, f"{value!r} is not a number")
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
                    self.found.error(sheet, i, header, f"{value!r} is not a yes/no value; use 1 or 0")
        elif kind == "date":
            for i in np.flatnonzero(differs & (values != "")):
                value, now = values[i], current[i]
                if (day := canonical_date(value)) is None:
                    self.found.error(sheet, i, header, f"{value!r} is not a date; use YYYY-MM-DD or DD.MM.YYYY")
                else:
                    out[i] = now if now is not None and canonical_date(now) == day else day
        return out

    def too_long(self, sheet: SheetRows, header: str, values: np.ndarray, differs: np.ndarray) -> np.ndarray:
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
                self.found.error(
                    sheet,
                    i,
                    header,
                    f"the cell holds {len(values[i]):,} characters; a spreadsheet cell holds at most"
                    f" {EXCEL_MAX_CHARS:,} (Excel's limit), so no spreadsheet program saved it: nothing of"
                    " this row is sent",
                )
        return long

    def check_emails(self, sheet: SheetRows, col: ColumnMap, values: np.ndarray, current: np.ndarray) -> None:
        """An edited email Billomat would refuse is a row problem."""
        for i in np.flatnonzero((values != current) & (values != "")):
            value, now = values[i], current[i]
            if now is not None and col.normalize_value(value) == col.normalize_value(now):
                continue  # not a change: nothing is sent
            if not _EMAIL.match(value):
                hint = " (remove the blanks at the start or end)" if _EMAIL.match(value.strip()) else ""
                self.found.error(sheet, i, col.header, f"{value!r} is not a valid email address{hint}")

    def check_read_only(self, sheet: SheetRows, col: ColumnMap) -> None:
        """An edit of a read-only column is a warning; a new row carrying such a value is a problem."""
        values, current = sheet.column(col.header), sheet.aligned(col.field)
        for i in np.flatnonzero(sheet.known & (values != current)):
            value, now = values[i], current[i]
            if spreadsheet_rendering(value, now) or col.normalize_value(value) == col.normalize_value(now):
                continue
            self.found.warn(
                sheet, i, col.header, f"{col.header} is read-only; the edit is ignored (Billomat has {now!r})"
            )
        # A new row carrying what only Billomat sets looks like a pulled row whose id was deleted:
        # creating it would duplicate the record.
        key = sheet.sm.key_column.header
        for i in np.flatnonzero(~sheet.known & ~sheet.bad & (values != "")):
            self.found.error(
                sheet,
                i,
                key,
                f"the row has no {key} but a {col.header} ({values[i]!r}) that only Billomat sets: was the"
                f" id deleted? For a new row leave {col.header} empty",
            )

    def check_lookup(self, sheet: SheetRows, col: ColumnMap) -> None:
        """A lookup column (a contact's client number) is read-only: warn when it fits neither client."""
        assert col.lookup is not None
        other = self.current.frame(col.lookup)
        if col.field not in other.columns or "id" not in other.columns:
            return
        other = other.drop_duplicates("id")
        index = pd.Index(other["id"].to_numpy(dtype=object), dtype=object)
        shown = np.append(other[col.field].to_numpy(dtype=object), NONE)  # position -1 → None

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
            self.found.warn(sheet, i, col.header, f"{col.header} is read-only; the edit is ignored{has}")
