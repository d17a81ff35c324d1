"""The workbook side of the nightly sync: apply `Merge.to_workbook` and the conflicts to the accountants' workbook.

The pieces: `planner` (what changes where, the same for xlsx and CSV), `patch` and `styles` (the xlsx
XML), `owned` (Konflikte, Löschungen), `csvfolder` (the CSV target); this module is the entry point
and the xlsx target.

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
  cell (`removed_marker`; `REMOVED_KEY` matches it, and `sync.desired` skips such a row as history).
  A removal with `after_delete` (a contact row of a client deleted from the workbook) is
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

import zipfile
from collections.abc import Collection, Sequence
from pathlib import Path

import pandas as pd

from sync.errors import WorkbookError
from sync.mapping import Mapping
from sync.merge import Conflict, WorkbookChanges
from sync.sheet import EXCEL_MAX_ROWS, xlsx_formula_cells
from sync.workbook.csvfolder import CsvTarget
from sync.workbook.owned import KONFLIKTE, OwnedSheet, carried_decisions, konflikte_sheets, owned_xml
from sync.workbook.parts import decode, related_part, sheet_parts, workbook_part
from sync.workbook.patch import (
    add_sheet,
    full_calc_on_load,
    grow_filter_name,
    has_formulas,
    patch_sheet,
    sheet_order,
)
from sync.workbook.planner import Planner, RemovalMode, UpdateRequest, WorkbookUpdateReport, plan_request
from sync.workbook.save import backup_path, save_package
from sync.workbook.scan import xlsx_grids
from sync.workbook.styles import Styles
from sync.workbook_guard import WorkbookGuard


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
    request = UpdateRequest(changes, conflicts, removal, deleted_ids, frames, owned)
    if path.is_dir():
        return CsvTarget(path, mapping, guard).apply(request)
    if not path.is_file():
        raise WorkbookError("does not exist; the workbook changes could not be written", file=path)
    return XlsxTarget(path, mapping, guard, backup).apply(request)


class XlsxTarget:
    """A workbook kept as one xlsx file: the affected parts patched, the package saved once (guard, `.bak`)."""

    def __init__(self, path: Path, mapping: Mapping, guard: WorkbookGuard, backup: bool = True) -> None:
        self.path = path
        self.mapping = mapping
        self.guard = guard
        self.backup = backup

    def apply(self, request: UpdateRequest) -> WorkbookUpdateReport:
        """Plan the changes on the sheets' cells, patch the package, save it when anything changed."""
        path, changes, owned = self.path, request.changes, request.owned
        if changes.is_empty and not request.conflicts and not any(o.rows for o in owned):
            with zipfile.ZipFile(path) as zf:
                present = {name.casefold() for name in sheet_parts(zf, path)}
            listed = [o.name for o in owned] + ([KONFLIKTE] if request.conflicts is not None else [])
            if not any(own.casefold() in present for own in listed):
                # Nothing to write and no list of billsync's to empty: the usual night. Reading every
                # sheet (seconds at 100k rows) would only confirm that nothing changes.
                return WorkbookUpdateReport(unwritten=changes)
        names = [s.sheet for s in self.mapping.sheets.values()]
        grids = xlsx_grids(path, [*names, KONFLIKTE])
        konflikte_grid = grids.pop(KONFLIKTE, None)
        formulas = {k: set(v) for k, v in xlsx_formula_cells(path, names).items()}
        planner = plan_request(self.mapping, grids, formulas, request, EXCEL_MAX_ROWS)
        report = planner.report(changes, request.conflicts)
        with zipfile.ZipFile(path) as zf:
            patched, added = self.patch_package(zf, planner, request.conflicts, konflikte_grid, owned)
        if not patched and not added:
            return report
        save_package(path, {**patched, **added}, self.guard, backup=self.backup)
        report.written = True
        report.backup = backup_path(path) if self.backup else None
        return report

    def patch_package(
        self,
        zf: zipfile.ZipFile,
        planner: Planner,
        conflicts: Sequence[Conflict] | None,
        konflikte_grid: list[list[str]] | None,
        owned: Sequence[OwnedSheet] = (),
    ) -> tuple[dict[str, bytes], dict[str, bytes]]:
        """The parts that change (name → bytes) and the parts added (new owned sheets)."""
        path = self.path
        parts = sheet_parts(zf, path)
        book_part = workbook_part(zf, path)
        names = set(zf.namelist())
        styles_part = related_part(zf, book_part, "styles")
        styles = Styles(styles_part, zf.read(styles_part) if styles_part is not None else None)
        workbook = zf.read(book_part).decode("utf-8")
        original_workbook = workbook
        patched: dict[str, bytes] = {}
        added: dict[str, bytes] = {}
        values_changed = False
        order = sheet_order(workbook)
        for sheet, plan in planner.plans.items():
            if not plan.cells:
                continue
            part = parts.get(sheet)
            if part is None:
                raise WorkbookError("sheet not found in the workbook package", file=path, sheet=sheet)
            xml = decode(zf.read(part), path, sheet)
            xml, filter_change = patch_sheet(xml, plan, styles, path, sheet)
            patched[part] = xml.encode("utf-8")
            values_changed = True
            if filter_change is not None and sheet in order:
                workbook = grow_filter_name(workbook, order.index(sheet), *filter_change)
        # Konflikte, Löschungen: created when they list something, rewritten when they exist
        carried = carried_decisions(konflikte_grid or [], self.mapping)
        sheets = [*konflikte_sheets(conflicts, carried, self.mapping), *owned]
        for own in sheets:
            existing = next((n for n in parts if n.casefold() == own.name.casefold()), None)
            if not own.rows and existing is None:
                continue
            data = owned_xml(own, styles)
            if existing is not None:
                part = parts[existing]
                if zf.read(part) != data:
                    patched[part] = data
            else:
                part, workbook, rels, types = add_sheet(
                    zf, book_part, workbook, names | set(added), own.name, patched
                )
                added[part] = data
                patched[rels[0]] = rels[1]
                patched[types[0]] = types[1]
        if values_changed and has_formulas(zf, parts.values()):
            workbook = full_calc_on_load(workbook)
        if workbook != original_workbook:
            patched[book_part] = workbook.encode("utf-8")
        style_data = styles.patched()
        if style_data is not None and styles_part is not None:
            patched[styles_part] = style_data
        return patched, added


