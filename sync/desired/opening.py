"""Opening one sheet: the structural checks (WorkbookError: nothing is written) and every row's key."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sync.desired.rows import Findings, SheetRows, ascii_digits, frame_of, mapped_headers
from sync.errors import WorkbookError
from sync.frames import AccountFrames
from sync.keys import NEW_KEY, REMOVED_KEY, row_key
from sync.mapping import SheetMap
from sync.sheet import sheet_cells
from sync.text import column_values


class SheetOpener:
    """Opens the sheets of one workbook against Billomat's current records; row problems go to `found`."""

    def __init__(
        self, tables: dict[str, pd.DataFrame], current: AccountFrames, source: str, found: Findings
    ) -> None:
        self.tables = tables
        self.current = current
        self.source = source
        self.found = found

    def open(self, sm: SheetMap) -> SheetRows:
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
        mapped = [h for h in mapped_headers(sm, self.current) if h in table.columns]
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
            current = frame_of({"id": np.array([], dtype=object)})
        id_index = pd.Index(column_values(current, "id"), dtype=object)
        if not id_index.is_unique:  # a record paged twice is one record (the usual account has no twin)
            current = current.drop_duplicates("id")
            id_index = pd.Index(column_values(current, "id"), dtype=object)
        current = current.reset_index(drop=True)

        rows = table.index.to_numpy(dtype=np.int64)
        keys = np.array([k.strip() for k in table[key_header].to_numpy(dtype=object)], dtype=object)
        digits = ascii_digits(keys)
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
        sheet = SheetRows(sm, table, file, rows, keys, ids, known, pos, current, np.zeros(len(rows), dtype=bool))
        self.check_not_emptied(sheet, len(current))

        for i in np.flatnonzero(~(digits | blank | new)):
            self.found.error(sheet, i, key_header, f"malformed key {keys[i]!r}: {self.key_hint(sm)}")
            self.found.blocked.setdefault(
                sm.resource, f"sheet {sm.sheet!r} row {rows[i]}: a malformed {key_header} may hide an id"
            )
            keys[i] = ""
        for i in np.flatnonzero(digits & ~known):
            self.found.error(
                sheet,
                i,
                key_header,
                f"{key_header} {keys[i]} is unknown to Billomat (deleted there, or a typo?)",
            )
            self.found.blocked.setdefault(
                sm.resource,
                f"sheet {sm.sheet!r} row {rows[i]}: {key_header} {keys[i]} is unknown to Billomat",
            )
        return sheet

    @staticmethod
    def key_hint(sm: SheetMap) -> str:
        """What a key cell of this sheet may hold (for the malformed-key message)."""
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
    def check_not_emptied(sheet: SheetRows, in_billomat: int) -> None:
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
