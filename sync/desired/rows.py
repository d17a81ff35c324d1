"""One sheet while it is read (`SheetRows`), what the reading finds (`Findings`), and the frames it builds."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sync.desired.model import RowProblem
from sync.frames import AccountFrames, object_frame
from sync.mapping import SheetMap
from sync.sheet import property_columns
from sync.text import column_values
from sync.wording import RESOURCE_WORDS, record_label

# None as a 0-d object array: what np.where/np.append make of a bare None, in a form numpy's stubs accept.
NONE = np.array(None, dtype=object)


TAGS_COLUMNS = ("_row", "client_key", "name")
ROW = frozenset({"_row"})  # the int column of the desired frames ("row" never occurs in them)
VALUES_COLUMNS = ("_row", "client_key", "client_property_id", "value")


def frame_of(data: dict[str, np.ndarray] | None = None, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A frame of object (str) columns and an int `_row`, as every frame of billsync holds."""
    return object_frame({name: () for name in columns} if data is None else data, ints=ROW)


def ascii_digits(values: np.ndarray) -> np.ndarray:
    """Per value: only ASCII digits (an id's form)."""
    return np.fromiter((v.isascii() and v.isdigit() for v in values), dtype=bool, count=len(values))


@dataclass
class SheetRows:
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
        """The cells of the column `header` (read rows only)."""
        return column_values(self.table, header)

    def aligned(self, field_name: str) -> np.ndarray:
        """The current value of `field_name` per row (None for rows without a Billomat record)."""
        if field_name not in self.current.columns:  # Billomat returns every field: absent is ""
            return np.where(self.known, "", NONE).astype(object)
        values = self.current[field_name].to_numpy(dtype=object)
        if self.in_order:  # a pulled sheet lists Billomat's records in Billomat's order
            return values
        # Position -1 (no record) picks the None appended at the end.
        return np.append(values, NONE)[self.pos]

    @property
    def in_order(self) -> bool:
        """Row i of the sheet is record i of `current`, for every row and record."""
        if self._in_order is None:
            n = len(self.pos)
            self._in_order = n == len(self.current) and bool((self.pos == np.arange(n)).all())
        return self._in_order

    def kept(self) -> np.ndarray:
        """Per row: read on (no error so far)."""
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


@dataclass
class Findings:
    """What reading the sheets found: row problems (errors leave their row out), warnings, blocked
    deletes (resource → why) and what the workbook does not say (resource → fields)."""

    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    blocked: dict[str, str] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)

    # `i` is a row position: an int, or the numpy integer np.flatnonzero yields.
    def error(self, sheet: SheetRows, i: int | np.integer, column: str | None, message: str) -> None:
        """A row problem: row `i` of `sheet` is left out of the run."""
        sheet.bad[i] = True
        self.problems.append(
            RowProblem(sheet.sm.sheet, int(sheet.rows[i]), column, message, "error", sheet.file, sheet.label(int(i)))
        )

    def warn(self, sheet: SheetRows, i: int | np.integer | None, column: str | None, message: str) -> None:
        """A warning about row `i` (None: the sheet); the row is still read."""
        row = int(sheet.rows[i]) if i is not None else None
        record = sheet.label(int(i)) if i is not None else ""
        self.warnings.append(RowProblem(sheet.sm.sheet, row, column, message, "warning", sheet.file, record))


def mapped_headers(sm: SheetMap, current: AccountFrames) -> list[str]:
    """Every header billsync reads in this sheet: declared columns, property columns, tags."""
    headers = list(sm.headers)
    if sm.properties is not None:
        headers += [h for _, h in property_columns(current.client_properties, sm)]
    if sm.tags is not None:
        headers.append(sm.tags.header)
    return headers


def synced_headers(sm: SheetMap, current: AccountFrames) -> set[str]:
    """Headers whose values are sent (and the key): a formula there is an error."""
    synced = {c.header for c in sm.columns if not c.ignored_on_read or c.field == sm.key}
    return synced | set(mapped_headers(sm, current)[len(sm.columns) :])
