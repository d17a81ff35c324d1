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

import contextlib
import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from posixpath import dirname, normpath
from posixpath import join as posix_join
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import python_calamine

from sync.atomic import atomic_copy, atomic_path
from sync.desired import NEW_KEY
from sync.errors import WorkbookError
from sync.load import LoadReport
from sync.mapping import Mapping, SheetMap
from sync.sheet import _detect_separator, cell_text

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


def backup_path(path: Path) -> Path:
    """Where the previous version of a workbook file is kept: `Kunden.xlsx` → `Kunden.bak.xlsx`."""
    return path.with_name(f"{path.stem}.bak{path.suffix}")


def write_ids(path: Path | str, mapping: Mapping, ids: NewIds) -> WritebackReport:
    """Put the new ids into the workbook (xlsx file or CSV folder); nothing else changes."""
    path = Path(path)
    if not ids:
        return WritebackReport()
    if path.is_dir():
        return _write_csv_folder(path, mapping, ids)
    if not path.is_file():
        raise WorkbookError("does not exist; the new ids could not be written back", file=path)
    return _write_xlsx(path, mapping, ids)


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


def _write_xlsx(path: Path, mapping: Mapping, ids: NewIds) -> WritebackReport:
    names = [s.sheet for s in mapping.sheets.values()]
    grids = _xlsx_grids(path, names)
    plan = _plan_edits(grids, mapping, ids)
    written = sum(len(e) for e in plan.edits.values())
    if not written:
        return WritebackReport(0, plan.unchanged, plan.problems)
    with zipfile.ZipFile(path) as zf:
        parts = _sheet_parts(zf, path)
        patched = {}
        for sheet, edits in plan.edits.items():
            part = parts.get(sheet)
            if part is None:
                raise WorkbookError("sheet not found in the workbook package", file=path, sheet=sheet)
            before = len(plan.problems)
            patched[part] = _patch_sheet_xml(zf.read(part), edits, path, sheet, plan.problems)
            written -= len(plan.problems) - before
    if not written:
        return WritebackReport(0, plan.unchanged, plan.problems)
    with _replacing(path) as tmp:
        _save_zip(path, tmp, patched)
    return WritebackReport(written, plan.unchanged, plan.problems, backup_path(path))


def _xlsx_grids(path: Path, names: list[str]) -> dict[str, list[list[str]]]:
    """The cells of the named sheets as text; rows[0] is sheet row 1, index 0 is column A."""
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.CalamineError as exc:
        raise WorkbookError(f"not a readable xlsx workbook ({exc})", file=path) from None
    try:
        present = set(workbook.sheet_names)
        out: dict[str, list[list[str]]] = {}
        for name in names:
            if name in present:
                rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
                out[name] = [[cell_text(v) for v in row] for row in rows]
        return out
    finally:
        workbook.close()


def _sheet_parts(zf: zipfile.ZipFile, path: Path) -> dict[str, str]:
    """Sheet name → its part in the package (via _rels/.rels → workbook.xml → its rels)."""
    try:
        root_rels = _rels(zf, "_rels/.rels", "")
        workbook = next(t for typ, t in root_rels.values() if typ.endswith("/officeDocument"))
        base = dirname(workbook)
        rels = _rels(zf, posix_join(base, "_rels", workbook.rsplit("/", 1)[-1] + ".rels"), base)
        parts: dict[str, str] = {}
        for element in ET.fromstring(zf.read(workbook)).iter():
            if element.tag.rsplit("}", 1)[-1] != "sheet":
                continue
            rid = next((v for k, v in element.attrib.items() if k.endswith("}id")), "")
            if rid in rels:
                parts[element.get("name", "")] = rels[rid][1]
        return parts
    except (KeyError, StopIteration, ET.ParseError) as exc:
        raise WorkbookError(f"the xlsx package is not as expected ({exc})", file=path) from None


def _rels(zf: zipfile.ZipFile, name: str, base: str) -> dict[str, tuple[str, str]]:
    """Relationship id → (type, part name) of one .rels part."""
    out: dict[str, tuple[str, str]] = {}
    for element in ET.fromstring(zf.read(name)).iter():
        if element.tag.rsplit("}", 1)[-1] != "Relationship" or element.get("TargetMode") == "External":
            continue
        target = element.get("Target", "")
        part = target.lstrip("/") if target.startswith("/") else normpath(posix_join(base, target))
        out[element.get("Id", "")] = (element.get("Type", ""), part)
    return out


_ROW = re.compile(r"<(?P<p>(?:[A-Za-z_][\w.-]*:)?)row\b(?P<a>[^>]*?)(?P<empty>/?)>")
_CELL = re.compile(r"<(?P<p>(?:[A-Za-z_][\w.-]*:)?)c\b(?P<a>[^>]*?)(?P<empty>/?)>")
_COL = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?col\b([^>]*?)/?>")
_ATTR = re.compile(r"([\w:.-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_DIMENSION = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?dimension\b[^>]*?\bref=\"([^\"]*)\"")
_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")


def _attrs(text: str) -> dict[str, str]:
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) for m in _ATTR.finditer(text)}


def _letters(col: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters, col = "", col + 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


def _patch_sheet_xml(data: bytes, edits: _Edits, path: Path, sheet: str, problems: list[str]) -> bytes:
    """The sheet XML with the cells of `edits` replaced (or inserted); everything else byte-identical."""
    try:
        xml = data.decode("utf-8")
    except UnicodeDecodeError:
        raise WorkbookError(
            "the sheet XML is not UTF-8; open and save the workbook in Excel", file=path, sheet=sheet
        ) from None
    by_row: dict[int, dict[int, str]] = {}
    for (row, col), value in edits.items():
        by_row.setdefault(row, {})[col] = value
    column_styles = _column_styles(xml)
    spans: list[tuple[int, int, str]] = []  # (start, end, replacement), in document order
    for match in _ROW.finditer(xml):
        attrs = _attrs(match.group("a"))
        if "r" not in attrs:
            raise WorkbookError(
                "the sheet has rows without a row number; open and save the workbook in Excel",
                file=path,
                sheet=sheet,
            )
        number = int(attrs["r"])
        if number not in by_row:
            continue
        prefix = match.group("p")
        if match.group("empty"):
            body_start = body_end = end = match.end()
            closing = ""
        else:
            body_start = match.end()
            body_end = xml.find(f"</{prefix}row>", body_start)
            if body_end < 0:
                raise WorkbookError(f"row {number} is not closed in the sheet XML", file=path, sheet=sheet)
            end = body_end + len(f"</{prefix}row>")
            closing = f"</{prefix}row>"
        row_style = attrs.get("s") if attrs.get("customFormat") in ("1", "true") else None
        body, inserted = _patch_row(
            xml[body_start:body_end],
            number,
            by_row.pop(number),
            prefix,
            row_style,
            column_styles,
            path,
            sheet,
            problems,
        )
        start_tag = match.group(0)
        if inserted and "spans" in attrs:
            # `spans` is an optional hint of the row's first:last column; drop it rather than let it lie.
            start_tag = re.sub(r"\s+spans\s*=\s*(\"[^\"]*\"|'[^']*')", "", start_tag)
        if match.group("empty"):
            start_tag = start_tag[:-2].rstrip() + ">"
            closing = f"</{prefix}row>"
        spans.append((match.start(), end, start_tag + body + closing))
        if not by_row:
            break
    if by_row:
        missing = ", ".join(str(r) for r in sorted(by_row))
        raise WorkbookError(f"row(s) {missing} not found in the sheet XML", file=path, sheet=sheet)
    # One pass over the document (a 100k-row sheet is ~100 MB of XML: never copy it per row).
    pieces, position = [], 0
    for start, end, replacement in spans:
        pieces += [xml[position:start], replacement]
        position = end
    pieces.append(xml[position:])
    xml = _widen_dimension("".join(pieces), edits)
    return xml.encode("utf-8")


def row_cells(body: str, number: int, path: Path, sheet: str) -> list[tuple[int, int, int, dict[str, str]]]:
    """(0-based column, start, end, attributes) of every <c> in a row's inner XML."""
    out = []
    for match in _CELL.finditer(body):
        attrs = _attrs(match.group("a"))
        ref = _REF.match(attrs.get("r", ""))
        if ref is None:
            raise WorkbookError(
                f"row {number} has cells without a reference; open and save the workbook in Excel",
                file=path,
                sheet=sheet,
            )
        if match.group("empty"):
            end = match.end()
        else:
            close = f"</{match.group('p')}c>"
            end = body.find(close, match.end())
            if end < 0:
                raise WorkbookError(f"a cell of row {number} is not closed", file=path, sheet=sheet, row=number)
            end += len(close)
        out.append((_col_index(ref.group(1)), match.start(), end, attrs))
    return out


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


def _cell_xml(prefix: str, ref: str, style: str | None, value: str) -> str:
    """An inline-string cell: no shared-strings table to touch, and always text (an id is never a number)."""
    s = f' s="{escape(style)}"' if style not in (None, "", "0") else ""
    keep = ' xml:space="preserve"' if value != value.strip() else ""
    return f'<{prefix}c r="{ref}"{s} t="inlineStr"><{prefix}is><{prefix}t{keep}>{escape(value)}</{prefix}t></{prefix}is></{prefix}c>'


def _column_styles(xml: str) -> dict[int, str]:
    """0-based column → its default style (`<col min max style>`), for cells that do not exist yet."""
    head = xml[: xml.find("sheetData")] if "sheetData" in xml else ""
    out: dict[int, str] = {}
    for match in _COL.finditer(head):
        attrs = _attrs(match.group(1))
        if "style" in attrs and attrs.get("min", "").isdigit() and attrs.get("max", "").isdigit():
            for col in range(int(attrs["min"]) - 1, min(int(attrs["max"]), 16_384)):
                out[col] = attrs["style"]
    return out


def _widen_dimension(xml: str, edits: _Edits) -> str:
    """Grow `<dimension ref>` if a new cell lies outside it (readers may size the sheet by it)."""
    match = _DIMENSION.search(xml)
    if match is None:
        return xml
    parts = match.group(1).split(":")
    corners = [_REF.match(p) for p in parts]
    if not all(corners):
        return xml
    cols = [_col_index(c.group(1)) for c in corners if c] + [col for _, col in edits]
    rows = [int(c.group(2)) for c in corners if c] + [row for row, _ in edits]
    ref = f"{_letters(min(cols))}{min(rows)}:{_letters(max(cols))}{max(rows)}"
    if ref == match.group(1) or ref == f"{match.group(1)}:{match.group(1)}":
        return xml
    return xml[: match.start(1)] + ref + xml[match.end(1) :]


def _save_zip(source: Path, target: Path, patched: dict[str, bytes]) -> None:
    """Copy the package member by member (same order, names, dates, compression), patched parts replaced."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = patched[info.filename] if info.filename in patched else zin.read(info)
            zout.writestr(info, data, compress_type=info.compress_type)


# --------------------------------------------------------------------------------------------------
# CSV folder
# --------------------------------------------------------------------------------------------------


@dataclass
class _CsvFile:
    path: Path
    bom: bool
    separator: str
    newline: str
    rows: list[list[str]]


def _write_csv_folder(folder: Path, mapping: Mapping, ids: NewIds) -> WritebackReport:
    files: dict[str, _CsvFile] = {}
    listing = {p.name.casefold(): p for p in folder.iterdir() if p.is_file()}
    for sheet in mapping.sheets.values():
        found = listing.get(f"{sheet.sheet}.csv".casefold())
        if found is not None:
            files[sheet.sheet] = _read_csv(found, mapping.csv.separator)
    grids = {name: [[_unescape(v) for v in row] for row in f.rows] for name, f in files.items()}
    plan = _plan_edits(grids, mapping, ids)
    written = 0
    backup: Path | None = None
    for name, edits in plan.edits.items():
        file = files[name]
        for (row, col), value in edits.items():
            cells = file.rows[row - 1]
            cells.extend([""] * (col + 1 - len(cells)))
            cells[col] = value
        with _replacing(file.path) as tmp:
            _save_csv(file, tmp)
        written += len(edits)
        backup = backup_path(file.path)
    return WritebackReport(written, plan.unchanged, plan.problems, backup)


def _read_csv(path: Path, preferred: str) -> _CsvFile:
    data = path.read_bytes()
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data[3:].decode("utf-8") if bom else data.decode("utf-8")
    except UnicodeDecodeError:
        raise WorkbookError("not UTF-8; the new ids could not be written back", file=path) from None
    separator = _detect_separator(text, preferred)
    first = re.search(r"\r\n|\n|\r", text)
    newline = first.group(0) if first else "\r\n"
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=False))
    return _CsvFile(path, bom, separator, newline, rows)


def _save_csv(file: _CsvFile, target: Path) -> None:
    with open(target, "w", encoding="utf-8-sig" if file.bom else "utf-8", newline="") as fh:
        writer = csv.writer(
            fh, delimiter=file.separator, lineterminator=file.newline, quoting=csv.QUOTE_MINIMAL
        )
        writer.writerows(file.rows)


def _unescape(value: str) -> str:
    """The CSV formula prefix undone (sheet.py writes a leading "'" before risky text)."""
    return value[1:] if value[:1] == "'" else value


# --------------------------------------------------------------------------------------------------
# Atomic replace with one backup
# --------------------------------------------------------------------------------------------------


def _backup(target: Path) -> None:
    """Keep the current file as its .bak version (copied atomically: never half a backup)."""
    atomic_copy(target, backup_path(target))


def _replacing(target: Path) -> contextlib.AbstractContextManager[Path]:
    """A temp path beside `target`; when the block succeeds: back up the current file, then rename over it."""
    return atomic_path(target, before_replace=_backup)
