"""The sheets billsync owns in the workbook (Konflikte, Löschungen): built, rewritten each run, read back.

An `OwnedSheet` is headers, rows and a decision column the accountant types into. `konflikte_sheet`
lays out the conflicts (rows from `sync.konflikte`), keeping a decision typed for a conflict still
held (`carried_decisions`); `owned_xml` is the sheet's whole worksheet XML; `owned_rows` reads such a
sheet back from an xlsx file or CSV folder, and `read_decisions` turns Konflikte's Entscheidung
column into `merge_account(decisions=...)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sync.errors import WorkbookError
from sync.konflikte import (
    KONFLIKTE_HEADERS,
    KONFLIKTE_WIDTHS,
    WHOLE_RECORD,
    ZEILE_COL,
    conflict_rows,
    decision_id,
    row_height,
)
from sync.mapping import Mapping
from sync.merge import Conflict, Side
from sync.sheet import EXCEL_MAX_CHARS
from sync.workbook.cells import cell_xml, letters, xml_text
from sync.workbook.csvfiles import read_csv, unescape_csv
from sync.workbook.parts import MAIN_NS, REL_NS
from sync.workbook.scan import xlsx_grids
from sync.workbook.styles import Styles, needs_quote

KONFLIKTE = "Konflikte"
NO_CONFLICTS = "Keine Konflikte."
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


def konflikte_sheets(
    conflicts: Sequence[Conflict] | None, carried: dict[tuple[str, str, str], str], mapping: Mapping
) -> list[OwnedSheet]:
    """Konflikte as this call writes it: none when `conflicts` is None (the sheet is left as it is)."""
    return [] if conflicts is None else [konflikte_sheet(conflicts, carried, mapping)]


def konflikte_sheet(
    conflicts: Sequence[Conflict], carried: dict[tuple[str, str, str], str], mapping: Mapping
) -> OwnedSheet:
    """The Konflikte sheet listing `conflicts`, with the decisions typed for those still held carried over."""
    return OwnedSheet(
        KONFLIKTE,
        KONFLIKTE_HEADERS,
        KONFLIKTE_WIDTHS,
        conflict_rows(conflicts, carried, mapping),
        "Entscheidung",
        "Billomat,Arbeitsmappe",
        NO_CONFLICTS,
        ZEILE_COL,
    )


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
    # The record and column as listed beside the decision, for the message (SPEC §9).
    shown = [headers.index(h) if h in headers else None for h in ("Blatt", "Billomat-ID", "Datensatz", "Spalte")]
    for number, row in enumerate(rows[1:], start=2):
        cells = [row[c] if c < len(row) else "" for c in cols]
        typed, resource, key, fld = (c.strip() for c in cells)
        if not typed or not resource:
            continue
        side = DECISION_WORDS.get(typed.casefold())
        if side is None:
            sheet, record_id, record, column = (
                (row[c] if c is not None and c < len(row) else "").strip() for c in shown
            )
            # Datensatz is the record's label, which starts with its id ("1001 00057 Gärtnerei …"): shown
            # once, after "id"; a label without the id (a new row's) goes beside it.
            if record_id and record.startswith(record_id):
                record_id, record = record, ""
            who = " ".join(v for v in (sheet, f"id {record_id}" if record_id else "") if v)
            where = f"column {column!r}" if column and column != WHOLE_RECORD else ""
            named = ", ".join(part for part in (who, record, where) if part)
            problems.append(
                f"sheet {KONFLIKTE!r}, row {number}, column 'Entscheidung'{f' ({named})' if named else ''}: "
                f"{typed!r} is no decision; type Billomat or Arbeitsmappe"
            )
            continue
        out[decision_id(resource, key, fld, mapping)] = side
    return out, problems



def carried_decisions(rows: list[list[str]], mapping: Mapping | None = None) -> dict[tuple[str, str, str], str]:
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
        return [[unescape_csv(v) for v in r] for r in read_csv(found, ";").rows]
    if not path.is_file():
        raise WorkbookError("does not exist", file=path)
    grids = xlsx_grids(path, [name])
    return grids.get(name, [])


def owned_xml(sheet: OwnedSheet, styles: Styles) -> bytes:
    """The whole worksheet XML of an owned sheet: frozen header, widths, wrapped text, a list on the decision column."""
    s = styles.konflikte()
    headers, rows = list(sheet.headers), sheet.rows
    body = sheet.body()
    decision_col = headers.index(sheet.decision)
    out = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
        f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">',
        f'<dimension ref="A1:{letters(len(headers) - 1)}{len(body) + 1}"/>',
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft"'
        ' state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>',
        '<sheetFormatPr defaultRowHeight="15"/><cols>',
    ]
    for i, width in enumerate(sheet.widths, start=1):
        out.append(f'<col min="{i}" max="{i}" width="{width}" customWidth="1"/>')
    out.append("</cols><sheetData>")
    out.append('<row r="1">')
    for c, header in enumerate(headers):
        out.append(cell_xml("", f"{letters(c)}1", s["header"], header))
    out.append("</row>")
    for r, values in enumerate(body, start=2):
        height = row_height(values)
        out.append(f'<row r="{r}"' + (f' ht="{height:g}" customHeight="1">' if height else ">"))
        for c, cell in enumerate(values):
            ref = f"{letters(c)}{r}"
            decision = c == decision_col and bool(rows)
            value = _display(str(cell))
            if c == sheet.number_col and value.isdigit():
                style = s["body"]
                out.append(f'<c r="{ref}"' + (f' s="{style}"' if style else "") + f"><v>{value}</v></c>")
                continue
            if decision:
                style = s["dquote"] if needs_quote(value) else s["decision"]
            else:
                style = s["quote"] if needs_quote(value) else s["body"]
            if value or decision:
                out.append(cell_xml("", ref, style, value))
        out.append("</row>")
    out.append("</sheetData>")
    if rows:
        col = letters(decision_col)
        out.append(
            '<dataValidations count="1"><dataValidation type="list" errorStyle="warning" allowBlank="1"'
            f' showErrorMessage="1" sqref="{col}2:{col}{len(rows) + 1}"><formula1>"{xml_text(sheet.choices)}"'
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


