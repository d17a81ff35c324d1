"""Write the ids of records a push created back into the accountants' workbook, touching nothing else.

`write_ids(path, mapping, NewIds.from_report(report))` puts

- each created client's id into its row's key cell in Kunden (the cell was blank or `neu-…`),
- each created contact's id into its row's key cell in Kontakte,
- the real id over every `neu-…` reference in Kontakte's Kunden-ID column.

A cell is only written when it still holds what the plan read (blank, or the `neu-…` key): if the row
was moved or typed over meanwhile, the id is not written there and the problem is reported instead.
A call that has nothing to change does not write the file (so repeating it is harmless).

**xlsx: surgical, not openpyxl.** Loading and saving with openpyxl rewrites the whole package, and
measured on `sync.sheet.write_workbook` output plus accountant edits it loses: whitespace-only
strings (saved without `xml:space="preserve"`, read back as ""), literal `_x000D_`-style text (read
back as a carriage return: openpyxl unescapes `_x005F_` but never escapes again), the sheets'
`<ignoredErrors>` (green triangles on every id and zip code), and in general whatever openpyxl does
not model (charts and images without Pillow, threaded comments, slicers, sparklines, extLst). So the
workbook is patched instead: only the XML of the affected `<c>` cells changes (an inline string that
keeps the cell's style `s`, or the column's style for a cell that did not exist yet); every other
part of the package is copied byte for byte. Fill colours, fonts, extra columns and their formulas,
extra sheets, comments, widths, filters, frozen panes and data validation are untouched by design.

**Atomic, with one backup.** The new file is written to a temp file in the same folder and fsync'd;
then the current file is copied to `<name>.bak<suffix>` (`Kunden.xlsx` → `Kunden.bak.xlsx`; in a CSV
folder `Kunden.csv` → `Kunden.bak.csv`), replacing the previous backup, and only then does
`os.replace` put the new file in place. A crash at any point leaves the original (or the finished
new file) readable.

**CSV folder:** the affected `<Sheet>.csv` files are rewritten with the csv module, every column kept
(also ones the mapping does not know), with the file's own separator, BOM and line ending.
"""

from __future__ import annotations

import codecs
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO

from sync.errors import WorkbookError
from sync.keys import NEW_KEY
from sync.load import LoadReport
from sync.mapping import Mapping, SheetMap
from sync.workbook.cells import ROW as _ROW
from sync.workbook.cells import attrs as _attrs
from sync.workbook.cells import cell_xml as _cell_xml
from sync.workbook.cells import column_styles as _column_styles
from sync.workbook.cells import letters as _letters
from sync.workbook.cells import row_cells, widen_dimension
from sync.workbook.csvfiles import read_folder, save_csv
from sync.workbook.parts import sheet_parts as _sheet_parts
from sync.workbook.save import CHUNK as _CHUNK
from sync.workbook.save import backup_path, replacing, save_package
from sync.workbook.scan import Hard as _Hard
from sync.workbook.scan import Scan as _Scan
from sync.workbook.scan import SheetContext as _Context
from sync.workbook.scan import scan_sheet as _scan_sheet
from sync.workbook.scan import sparse_grid as _sparse_grid
from sync.workbook.scan import xlsx_grids as _xlsx_grids
from sync.workbook_guard import WorkbookGuard

_BOM = "\ufeff"


@dataclass(frozen=True)
class NewRecord:
    """One record a push created for a workbook row: the sheet row, its row key (row:N / neu-…), the id.

    `values` (header → value) are what Billomat now holds for the record's other columns; they fill
    the row's blank cells only (client number, created, defaults like country_code the API set), so
    the workbook shows Billomat's state and the next plan finds nothing to do.
    """

    row: int
    key: str
    id: str
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class NewIds:
    """What to write back: created clients (Kunden rows) and contacts (Kontakte rows)."""

    clients: tuple[NewRecord, ...] = ()
    contacts: tuple[NewRecord, ...] = ()

    @classmethod
    def from_report(
        cls, report: LoadReport, mapping: Mapping | None = None, client_numbers: dict[str, str] | None = None
    ) -> NewIds:
        """Every create of the load that is done (also those adopted from an earlier run) and has a row.

        With `mapping`, each record also carries the values Billomat returned for its mapped columns
        (and, for contacts, the client number of a `lookup: clients` column from `client_numbers`).
        """
        numbers = dict(client_numbers or {})
        for result in report.results:
            record = result.record or {}
            if result.change.resource == "clients" and result.record_id and record.get("client_number"):
                numbers[result.record_id] = record["client_number"]
        found: dict[str, list[NewRecord]] = {"clients": [], "contacts": []}
        for result in report.results:
            change = result.change
            if (
                result.status == "done"
                and change.action == "create"
                and change.resource in found
                and change.row is not None
                and result.record_id
            ):
                sheet = mapping.sheets.get(change.resource) if mapping else None
                values = _record_values(sheet, result.record or {}, numbers) if sheet else ()
                found[change.resource].append(NewRecord(change.row, change.key, result.record_id, values))
        return cls(tuple(found["clients"]), tuple(found["contacts"]))

    @property
    def references(self) -> dict[str, str]:
        """`neu-…` key (casefolded) → the id of the client created for it."""
        return {r.key.strip().casefold(): r.id for r in self.clients if NEW_KEY.match(r.key.strip())}

    def __bool__(self) -> bool:
        return bool(self.clients or self.contacts)

    def __len__(self) -> int:
        return len(self.clients) + len(self.contacts)


@dataclass(frozen=True)
class WritebackReport:
    """What write_ids did: cells written, cells that already held their id, ids it could not place."""

    written: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)
    backup: Path | None = None


def _record_values(sheet: SheetMap, record: dict[str, str], numbers: dict[str, str]) -> tuple[tuple[str, str], ...]:
    out = []
    for column in sheet.columns:
        if column.field == sheet.key:
            continue
        if column.lookup == "clients":
            value = numbers.get(record.get("client_id", ""), "") if column.field == "client_number" else ""
        else:
            value = record.get(column.field, "")
        if value:
            out.append((column.header, value))
    return tuple(out)


def write_ids(
    path: Path | str, mapping: Mapping, ids: NewIds, *, backup: bool = True, guard: WorkbookGuard | None = None
) -> WritebackReport:
    """Put the new ids into the workbook (xlsx file or CSV folder); nothing else changes.

    `backup=False` keeps the existing `.bak` as it is: for a second write in the same run, so the
    backup stays the workbook as it was before the run. `guard`: the workbook as the run read it (else
    as this call reads it); nothing is replaced when it is open or changed since (WorkbookInUseError).
    """
    path = Path(path)
    if not ids:
        return WritebackReport()
    guard = guard or WorkbookGuard.capture(path)
    if path.is_dir():
        return _write_csv_folder(path, mapping, ids, backup, guard)
    if not path.is_file():
        raise WorkbookError("does not exist; the new ids could not be written back", file=path)
    return _write_xlsx(path, mapping, ids, backup, guard)


# --------------------------------------------------------------------------------------------------
# Which cells change (the same for xlsx and CSV)
# --------------------------------------------------------------------------------------------------

# (sheet row, 0-based column) -> the id to write there
_Edits = dict[tuple[int, int], str]


@dataclass
class _Plan:
    edits: dict[str, _Edits] = field(default_factory=dict)  # sheet name -> edits
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)


def _column(headers: list[str], header: str) -> int | None:
    for i, text in enumerate(headers):
        if text.lstrip(_BOM).strip() == header:
            return i
    return None


def _plan_sheet(
    plan: _Plan, sheet: SheetMap, rows: list[list[str]], records: tuple[NewRecord, ...], refs: dict[str, str]
) -> None:
    headers = rows[0] if rows else []
    edits: _Edits = {}
    key_col = _column(headers, sheet.key_column.header)
    if records and key_col is None:
        plan.problems.append(
            f"sheet {sheet.sheet!r}: the key column {sheet.key_column.header!r} is missing; "
            f"{len(records)} new id(s) not written"
        )
    elif key_col is not None:
        for rec in records:
            cells = rows[rec.row - 1] if 0 < rec.row <= len(rows) else []
            now = cells[key_col] if key_col < len(cells) else ""
            expected = "" if not NEW_KEY.match(rec.key.strip()) else rec.key.strip()
            if now.strip() == rec.id:
                plan.unchanged += 1
                _fill_blanks(edits, headers, cells, rec)
            elif now.strip().casefold() == expected.casefold():
                edits[(rec.row, key_col)] = rec.id
                _fill_blanks(edits, headers, cells, rec)
            else:
                shown = f"says {now!r}" if now else "is empty"
                plan.problems.append(
                    f"sheet {sheet.sheet!r}, row {rec.row}, column {sheet.key_column.header!r}: the cell {shown}, "
                    f"expected {expected or 'a blank cell'!r} (was the row moved?); new id {rec.id} not written"
                )
    if refs and sheet.resource == "contacts":
        try:
            ref_header = sheet.column("client_id").header
        except KeyError:
            ref_header = ""
        ref_col = _column(headers, ref_header) if ref_header else None
        if ref_col is not None:
            for number, cells in enumerate(rows[1:], start=2):
                value = cells[ref_col].strip().casefold() if ref_col < len(cells) else ""
                if value in refs:
                    edits[(number, ref_col)] = refs[value]
    if edits:
        plan.edits[sheet.sheet] = edits


def _fill_blanks(edits: _Edits, headers: list[str], cells: list[str], rec: NewRecord) -> None:
    """Billomat's values into the row's blank cells; a cell the accountant filled is never touched."""
    for header, value in rec.values:
        col = _column(headers, header)
        if col is not None and not (cells[col] if col < len(cells) else "").strip():
            edits[(rec.row, col)] = value


def _plan_edits(grids: dict[str, list[list[str]]], mapping: Mapping, ids: NewIds) -> _Plan:
    plan = _Plan()
    refs = ids.references
    for resource, records in (("clients", ids.clients), ("contacts", ids.contacts)):
        sheet = mapping.sheets.get(resource)
        if sheet is None:
            continue
        if sheet.sheet not in grids:
            if records or (resource == "contacts" and refs):
                plan.problems.append(f"sheet {sheet.sheet!r} is missing; its new ids were not written")
            continue
        _plan_sheet(plan, sheet, grids[sheet.sheet], records, refs if resource == "contacts" else {})
    return plan


# --------------------------------------------------------------------------------------------------
# xlsx: patch the cells in the sheet XML, copy every other part byte for byte
# --------------------------------------------------------------------------------------------------


def _write_xlsx(path: Path, mapping: Mapping, ids: NewIds, backup: bool, guard: WorkbookGuard) -> WritebackReport:
    grids, scans = _xlsx_cells(path, mapping, ids)
    plan = _plan_edits(grids, mapping, ids)
    written = sum(len(e) for e in plan.edits.values())
    if not written:
        return WritebackReport(0, plan.unchanged, plan.problems)
    with zipfile.ZipFile(path) as zf:
        parts = _sheet_parts(zf, path)
        patched: dict[str, _SheetPatch] = {}
        for sheet, edits in plan.edits.items():
            part = parts.get(sheet)
            if part is None:
                raise WorkbookError("sheet not found in the workbook package", file=path, sheet=sheet)
            rows = {row for row, _ in edits}
            scan = scans.get(sheet)
            if scan is None or scan.part != part or not rows <= scan.rows.keys():
                scan = _scan_sheet(zf, part, rows)
            before = len(plan.problems)
            patched[part] = _patch_sheet(scan, edits, path, sheet, plan.problems)
            written -= len(plan.problems) - before
    if not written:
        return WritebackReport(0, plan.unchanged, plan.problems)
    save_package(path, {part: partial(_copy_patched, patch) for part, patch in patched.items()}, guard, backup=backup)
    return WritebackReport(written, plan.unchanged, plan.problems, backup_path(path) if backup else None)


def _xlsx_cells(
    path: Path, mapping: Mapping, ids: NewIds
) -> tuple[dict[str, list[list[str]]], dict[str, _Scan]]:
    """What `_plan_edits` reads of each sheet (as `_xlsx_grids` would give it), and the scans made for it.

    A sheet with nothing to write is not read; only the header row and the records' rows are filled in
    (the other rows are empty lists), except for a Kontakte sheet that `neu-…` references must be looked
    up in: all of it is read (`_xlsx_grids`).
    """
    refs = ids.references
    wanted: dict[str, set[int]] = {}
    full: list[str] = []
    for resource, records in (("clients", ids.clients), ("contacts", ids.contacts)):
        sheet = mapping.sheets.get(resource)
        if sheet is None:
            continue
        if resource == "contacts" and refs:
            full.append(sheet.sheet)
        elif records:
            wanted.setdefault(sheet.sheet, {1}).update(r.row for r in records if r.row > 0)
    grids: dict[str, list[list[str]]] = {}
    scans: dict[str, _Scan] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            parts = _sheet_parts(zf, path)
            context = _Context(zf, path)
            for name, rows in wanted.items():
                part = parts.get(name)
                if name in full or part is None or part not in zf.NameToInfo:
                    full.append(name)
                    continue
                scan = _scan_sheet(zf, part, rows)
                scans[name] = scan
                try:
                    if scan.unnumbered is not None:
                        raise _Hard
                    grids[name] = _sparse_grid(scan, context, max(rows))
                except _Hard:
                    full.append(name)
    except (zipfile.BadZipFile, WorkbookError, OSError, KeyError, EOFError, ValueError, zlib.error):
        # Not a package this reader understands: calamine reads it (or says what is wrong with it).
        return _xlsx_grids(path, list(dict.fromkeys([*wanted, *full]))), {}
    if full:
        grids.update(_xlsx_grids(path, list(dict.fromkeys(full))))
    return grids, scans


def _patch_row(
    body: str,
    number: int,
    cols: dict[int, str],
    prefix: str,
    row_style: str | None,
    column_styles: dict[int, str],
    path: Path,
    sheet: str,
    problems: list[str],
) -> tuple[str, bool]:
    """One row's inner XML with its target cells set; whether a cell had to be inserted."""
    cells = row_cells(body, number, path, sheet)
    edits: list[tuple[int, int, str]] = []
    inserted = False
    for col, value in sorted(cols.items()):
        ref = f"{_letters(col)}{number}"
        existing = next((c for c in cells if c[0] == col), None)
        if existing is not None:
            _, start, end, attrs = existing
            if re.search(rf"<{re.escape(prefix)}f\b", body[start:end]):
                # Someone's formula (maybe the master of a shared formula): never overwrite it.
                problems.append(f"sheet {sheet!r}, cell {ref}: holds a formula; new id {value} not written")
                continue
            style = attrs.get("s")
            edits.append((start, end, _cell_xml(prefix, ref, style, value)))
        else:
            # A cell Excel never stored: it takes the row's style if the row has one, else the column's.
            style = row_style if row_style is not None else column_styles.get(col)
            position = next((c[1] for c in cells if c[0] > col), len(body))
            edits.append((position, position, _cell_xml(prefix, ref, style, value)))
            inserted = True
    # Back to front; at one position the replaced cell goes before the cell inserted ahead of it.
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        body = body[:start] + replacement + body[end:]
    return body, inserted


# --------------------------------------------------------------------------------------------------
# Patching: the edited rows and the <dimension> are replaced at their offsets while the part is copied
# --------------------------------------------------------------------------------------------------


@dataclass
class _SheetPatch:
    """Byte ranges of a sheet part and what replaces them, in document order."""

    replacements: list[tuple[int, int, bytes]]
    path: Path
    sheet: str


def _patch_sheet(scan: _Scan, edits: _Edits, path: Path, sheet: str, problems: list[str]) -> _SheetPatch:
    """The cells of `edits` replaced (or inserted) in their rows; everything else stays byte-identical."""
    try:
        head = scan.head.decode("utf-8") if scan.head is not None else None
        elements = {n: (s, e, x.decode("utf-8")) for n, (s, e, x) in scan.rows.items()}
    except UnicodeDecodeError:
        raise WorkbookError(
            "the sheet XML is not UTF-8; open and save the workbook in Excel", file=path, sheet=sheet
        ) from None
    by_row: dict[int, dict[int, str]] = {}
    for (row, col), value in edits.items():
        by_row.setdefault(row, {})[col] = value
    if scan.unnumbered is not None and any(
        number not in elements or elements[number][0] > scan.unnumbered for number in by_row
    ):
        raise WorkbookError(
            "the sheet has rows without a row number; open and save the workbook in Excel", file=path, sheet=sheet
        )
    missing = sorted(number for number in by_row if number not in elements)
    if missing:
        raise WorkbookError(
            f"row(s) {', '.join(map(str, missing))} not found in the sheet XML", file=path, sheet=sheet
        )
    column_styles = _column_styles(head + "sheetData" if head is not None else "")
    replacements: list[tuple[int, int, bytes]] = []
    for number in sorted(by_row, key=lambda n: elements[n][0]):
        start, end, element = elements[number]
        if end < 0:
            raise WorkbookError(f"row {number} is not closed in the sheet XML", file=path, sheet=sheet)
        match = _ROW.match(element)
        if match is None:
            raise WorkbookError(f"row {number} is not as expected in the sheet XML", file=path, sheet=sheet)
        attrs = _attrs(match.group("a"))
        prefix = match.group("p")
        if match.group("empty"):
            body, closing = "", ""
        else:
            closing = f"</{prefix}row>"
            body = element[match.end() : len(element) - len(closing)]
        row_style = attrs.get("s") if attrs.get("customFormat") in ("1", "true") else None
        body, inserted = _patch_row(
            body, number, by_row[number], prefix, row_style, column_styles, path, sheet, problems
        )
        start_tag = match.group(0)
        if inserted and "spans" in attrs:
            # `spans` is an optional hint of the row's first:last column; drop it rather than let it lie.
            start_tag = re.sub(r"\s+spans\s*=\s*(\"[^\"]*\"|'[^']*')", "", start_tag)
        if match.group("empty"):
            start_tag = start_tag[:-2].rstrip() + ">"
            closing = f"</{prefix}row>"
        replacements.append((start, end, (start_tag + body + closing).encode("utf-8")))
    if head is not None:
        widened = widen_dimension(head, edits)
        if widened != head:
            replacements.insert(0, (0, len(scan.head or b""), widened.encode("utf-8")))
    return _SheetPatch(replacements, path, sheet)


def _copy_patched(patch: _SheetPatch, src: IO[bytes], dst: IO[bytes]) -> None:
    """Stream one part from `src` to `dst` with its byte ranges replaced; the XML must be UTF-8."""
    decoder = codecs.getincrementaldecoder("utf-8")()

    def pull() -> bytes:
        chunk = src.read(_CHUNK)
        try:
            if not chunk:
                decoder.decode(b"", final=True)
            elif not chunk.isascii() or decoder.getstate()[0]:
                decoder.decode(chunk)
        except UnicodeDecodeError:
            raise WorkbookError(
                "the sheet XML is not UTF-8; open and save the workbook in Excel", file=patch.path, sheet=patch.sheet
            ) from None
        return chunk

    buffer, base = b"", 0  # base: offset of buffer[0] in the part
    for start, end, data in patch.replacements:
        while base + len(buffer) < start:
            dst.write(buffer)
            base += len(buffer)
            buffer = pull()
            if not buffer:
                raise WorkbookError("the sheet XML changed while it was written", file=patch.path, sheet=patch.sheet)
        dst.write(buffer[: start - base])
        buffer, base = buffer[start - base :], start
        while base + len(buffer) < end:
            base += len(buffer)
            buffer = pull()
            if not buffer:
                raise WorkbookError("the sheet XML changed while it was written", file=patch.path, sheet=patch.sheet)
        buffer, base = buffer[end - base :], end
        dst.write(data)
    dst.write(buffer)
    while chunk := pull():
        dst.write(chunk)


# --------------------------------------------------------------------------------------------------
# CSV folder
# --------------------------------------------------------------------------------------------------


def _write_csv_folder(
    folder: Path, mapping: Mapping, ids: NewIds, backup: bool, guard: WorkbookGuard
) -> WritebackReport:
    csvs = read_folder(folder, mapping)
    files = csvs.files
    plan = _plan_edits(csvs.grids(), mapping, ids)
    written = 0
    kept: Path | None = None
    for name, edits in plan.edits.items():
        file = files[name]
        for (row, col), value in edits.items():
            cells = file.rows[row - 1]
            cells.extend([""] * (col + 1 - len(cells)))
            cells[col] = value
        with replacing(file.path, guard, backup) as tmp:
            save_csv(file, tmp)
        written += len(edits)
        kept = backup_path(file.path) if backup else None
    return WritebackReport(written, plan.unchanged, plan.problems, kept)
