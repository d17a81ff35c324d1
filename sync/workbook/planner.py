"""What a workbook update changes where: cells per sheet, the same for an xlsx file and a CSV folder.

`Planner` reads the sheets' cells (grids) and turns `WorkbookChanges` into `SheetPlan`s: an update only
where the cell still holds what the merge read (also as a spreadsheet re-wrote it, `still_holds`),
appends below the last used row (styled like the row above), removals as cleared cells or a
`gelöscht-<id>` key. What could not be planned is a problem and stays `unwritten` for the next run.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

import pandas as pd

from sync.cellvalues import canonical_bool, canonical_date, canonical_number, spreadsheet_rendering
from sync.frames import object_frame
from sync.keys import REMOVED_KEY
from sync.mapping import Mapping, SheetMap
from sync.merge import REMOVAL_COLUMNS, UPDATE_COLUMNS, Conflict, WorkbookChanges
from sync.sheet import EXCEL_MAX_CHARS, EXCEL_MAX_ROWS, property_columns
from sync.workbook.owned import OwnedSheet

RemovalMode = Literal["clear", "mark"]

# The key cell of a row Billomat deleted, in removal="mark" mode: "gelöscht-1002".
REMOVED_PREFIX = "gelöscht-"
# REMOVED_KEY (from sync.desired): the marker pattern; one definition, sync.desired skips what this writes.


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


@dataclass
class Edit:
    """One cell to set: its new text, and where its style comes from."""

    value: str
    style_from: tuple[int, int] | None = None  # the (row, col) whose style the cell takes; None: its own


@dataclass
class SheetPlan:
    """The cells one sheet gets, the rows appended and the columns added."""

    name: str
    cells: dict[tuple[int, int], Edit] = field(default_factory=dict)
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


def still_holds(sm: SheetMap, kind: str, cell: str, old: str) -> bool:
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


def unstorable(value: str, max_rows: int) -> str | None:
    """Why xlsx cannot hold `value` unchanged, or None."""
    if max_rows == EXCEL_MAX_ROWS:  # xlsx (CSV holds anything)
        if len(value) > EXCEL_MAX_CHARS:
            return f"has {len(value)} characters; an Excel cell holds at most {EXCEL_MAX_CHARS}"
        if "\ufffe" in value or "\uffff" in value:
            return "contains a non-character (U+FFFE/U+FFFF) xlsx cannot store"
    return None


class Planner:
    """Plans `WorkbookChanges` on the sheets' cells: counts, problems, and a `SheetPlan` per sheet."""

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
        self.plans: dict[str, SheetPlan] = {}
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

    def plan(self, sheet: str) -> SheetPlan:
        if sheet not in self.plans:
            grid = self.grids[sheet]
            self.plans[sheet] = SheetPlan(sheet, table_last=self.table_last(sheet, grid))
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
        plan.cells[(1, col)] = Edit(header, (1, last_header) if last_header is not None else None)
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
            if (why := unstorable(new, self.max_rows)) is not None:
                self.problems.append(f"{where}: the new value {why}; not written")
                self.failed_updates.append(i)
                continue
            cell = self.cell(sheet, row, col)
            if cell == new:
                self.unchanged += 1
            elif still_holds(sm, self.kind(sm, str(u.resource), header, fld), cell, old):
                self.plan(sheet).cells[(row, col)] = Edit(new)
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
                    self.plan(sheet).cells[(row, key_col)] = Edit(removed_marker(key))
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
                    plan.cells[(row, c)] = Edit("")
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
                    ((h, why) for h, t in zip(headers, texts, strict=True) if (why := unstorable(t, self.max_rows))), None
                )
                if number > self.max_rows or bad is not None:
                    reason = f"column {bad[0]!r} {bad[1]}" if bad else "the sheet is full"
                    self.problems.append(f"sheet {sheet!r}: {key or 'a new row'} not appended: {reason}")
                    self.failed_appends.setdefault(sheet, []).append(i)
                    continue
                for col, text in zip(cols, texts, strict=True):
                    assert col is not None
                    plan.cells[(number, col)] = Edit(text, (template, col) if template else None)
                plan.appended_rows.append(number)
                self.appended += 1
                if key:
                    self.appended_rows.setdefault(sheet, {})[key] = number
                    present.add(str(int(key)) if key.isascii() and key.isdigit() else key.casefold())

    def report(self, changes: WorkbookChanges, conflicts: Sequence[Conflict] | None) -> WorkbookUpdateReport:
        """What this plan does (nothing written yet), with the changes it could not make as `unwritten`."""
        return WorkbookUpdateReport(
            self.updated,
            self.appended,
            self.removed,
            self.unchanged,
            self.deferred,
            len(conflicts or ()),
            self.problems,
            self.unwritten(changes),
            appended_rows=self.appended_rows,
        )

    def unwritten(self, changes: WorkbookChanges) -> WorkbookChanges:
        """The changes that did not land (problems, deferred removals): the next run makes them again."""
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


@dataclass(frozen=True)
class UpdateRequest:
    """What one `apply_workbook_changes` call asks of a target (xlsx file or CSV folder)."""

    changes: WorkbookChanges
    conflicts: Sequence[Conflict] | None  # None: Konflikte is left as it is (push: its decisions are sync's)
    removal: RemovalMode | None
    deleted_ids: Collection[str] | None
    props: list[pd.DataFrame]  # Billomat's property definitions (base and current)
    owned: Sequence[OwnedSheet]  # further sheets billsync owns (Löschungen)


def plan_request(
    mapping: Mapping,
    grids: dict[str, list[list[str]]],
    formulas: dict[str, set[tuple[int, int]]],
    request: UpdateRequest,
    max_rows: int,
) -> Planner:
    """The request's changes planned on the sheets' cells (`grids`; `formulas`: cells holding one)."""
    planner = Planner(mapping, grids, formulas, request.props, max_rows)
    changes = request.changes
    # Appends first: they go below the rows as they are now (a row cleared in this call keeps its place).
    planner.appends(changes.appends)
    planner.updates(_frame_or_empty(changes.updates, UPDATE_COLUMNS))
    planner.removals(_frame_or_empty(changes.removals, REMOVAL_COLUMNS), request.removal, request.deleted_ids)
    return planner


def _frame_or_empty(frame: pd.DataFrame | None, columns: tuple[str, ...]) -> pd.DataFrame:
    if frame is None or not len(frame):
        return object_frame({c: () for c in columns}, ints=frozenset())
    return frame


