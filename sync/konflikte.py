"""What the Konflikte sheet says: its header and one row per conflict, in German and with the workbook's headers.

The writer (sync.workbook.update, xlsx or CSV) only lays these rows out; `decision_id` reads a row's
conflict id back (`read_decisions`). The id columns (Ressource, Schlüssel, Feld-ID) are in German too
("Kunde", "neue Zeile 37", "Telefon") and are read back through the same words and the mapping; the
English ones an older billsync wrote ("clients", "row:37", "phone") are still understood.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sync.mapping import Mapping
from sync.merge import TAGS_FIELD, Conflict
from sync.wording import ABSENT, CONFLICT_KINDS, RESOURCE_WORDS, WHOLE_RECORD, shown_key, without_markers

KONFLIKTE_HEADERS = (
    "Blatt",
    "Zeile",
    "Billomat-ID",
    "Datensatz",
    "Spalte",
    "Stand letzter Abgleich",
    "Billomat",
    "Arbeitsmappe",
    "Art",
    "Entscheidung",
    "Status",
    "Ressource",
    "Schlüssel",
    "Feld-ID",
)
KONFLIKTE_WIDTHS = (10, 7, 12, 36, 18, 28, 28, 28, 38, 15, 24, 14, 14, 14)
ZEILE_COL = KONFLIKTE_HEADERS.index("Zeile")
STATUS_OPEN = "offen"
STATUS_DECIDED = {"billomat": "entschieden: Billomat", "sheet": "entschieden: Arbeitsmappe"}
# Excel's default row height in points, and one more line of text.
LINE_HEIGHT = 15.0
_NEW_ROW = re.compile(r"neue Zeile (\d+)")


def _shown(value: str | None) -> str:
    return ABSENT if value is None else without_markers(value)


def field_word(conflict: Conflict, mapping: Mapping | None) -> str:
    """The conflict's Feld-ID as the workbook names it: the column's header (a property: its id; a record: "")."""
    if not conflict.field or conflict.resource == "client_property_values" or mapping is None:
        return conflict.field
    sheet = mapping.sheets.get("contacts" if conflict.resource == "contacts" else "clients")
    if sheet is None:
        return conflict.field
    if conflict.resource == "client_tags" and sheet.tags is not None:
        return sheet.tags.header
    return next((c.header for c in sheet.columns if c.field == conflict.field), conflict.field)


def conflict_rows(
    conflicts: Sequence[Conflict], carried: dict[tuple[str, str, str], str], mapping: Mapping | None = None
) -> list[list[str | int]]:
    """One row per conflict under KONFLIKTE_HEADERS; Zeile is a number (int), every other cell text."""
    rows: list[list[str | int]] = []
    for c in conflicts:
        billomat_id = c.billomat_id or (c.key if c.key.isdigit() else "")
        decision = carried.get(c.id, "") if c.held else ""
        rows.append(
            [
                c.sheet,
                "" if c.row is None else int(c.row),
                billomat_id,
                without_markers(c.label) or shown_key(c.key),
                c.header or WHOLE_RECORD,
                _shown(c.base),
                _shown(c.billomat),
                _shown(c.sheet_value),
                CONFLICT_KINDS.get(c.kind, c.kind),
                decision,
                STATUS_OPEN if c.held else STATUS_DECIDED.get(str(c.resolved_by), str(c.resolved_by)),
                RESOURCE_WORDS.get(c.resource, c.resource),
                shown_key(c.key),
                field_word(c, mapping),
            ]
        )
    return rows


def decision_id(resource: str, key: str, fld: str, mapping: Mapping | None = None) -> tuple[str, str, str]:
    """A Konflikte row's (Ressource, Schlüssel, Feld-ID) as the conflict id the merge knows (`Conflict.id`)."""
    resource = resource.strip()
    resource = next((r for r, word in RESOURCE_WORDS.items() if word.casefold() == resource.casefold()), resource)
    key = key.strip()
    hit = _NEW_ROW.fullmatch(key)
    key = f"row:{hit.group(1)}" if hit else key
    fld = fld.strip()
    if fld and mapping is not None and resource != "client_property_values":
        sheet = mapping.sheets.get("contacts" if resource == "contacts" else "clients")
        if sheet is not None:
            if resource == "client_tags" and sheet.tags is not None and fld == sheet.tags.header:
                fld = TAGS_FIELD
            else:
                fld = next((c.field for c in sheet.columns if c.header == fld), fld)
    return (resource, key, fld)


def row_height(values: Sequence[object]) -> float | None:
    """The height (points) that shows every line of a row's multi-line cells; None for one line."""
    lines = max((str(v).count("\n") + 1 for v in values if isinstance(v, str)), default=1)
    return LINE_HEIGHT * min(lines, 20) if lines > 1 else None
