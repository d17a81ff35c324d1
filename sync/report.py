"""Plans and results for people: the text summary, the --json file, and the xlsx change report."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import xlsxwriter

from sync.atomic import atomic_path, atomic_write_bytes
from sync.mapping import Mapping
from sync.merge import Conflict, WorkbookChanges
from sync.plan import Change, Plan
from sync.wording import ACTION_WORDS, FIELD_LABELS, WHOLE_RECORD, held_reason, shown_key, without_markers

RESOURCE_LABELS = {
    "clients": "clients",
    "contacts": "contacts",
    "client_property_values": "property values",
    "client_tags": "tags",
}
# A record of each resource in a terminal line ("client 1001 00057 Gärtnerei Krüger e.K.").
RESOURCE_NOUN = {
    "clients": "client",
    "contacts": "contact",
    "client_property_values": "attribute of client",
    "client_tags": "tags of client",
}
# What each action is called in the summary line ("2 created, 1 updated").
ACTION_PAST = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "set": "set",
    "clear": "cleared",
    "add": "added",
    "remove": "removed",
}
REPORT_ACTIONS = ACTION_WORDS


def counts_text(counts: dict[str, dict[str, int]], *, past: bool = False) -> str:
    """'clients 2 create, 1 update; tags 3 add' (or with past-tense verbs)."""
    parts = []
    for resource in RESOURCE_LABELS:
        per = counts.get(resource)
        if not per:
            continue
        actions = ", ".join(f"{n} {ACTION_PAST[a] if past else a}" for a, n in per.items())
        parts.append(f"{RESOURCE_LABELS[resource]} {actions}")
    return "; ".join(parts) if parts else "no changes"


def field_header(mapping: Mapping, change: Change, field: str) -> str:
    """The workbook header of a changed field, so people read the names they know; a field without a
    column by its German label (`tax_rule` → "Steuerregel")."""
    return column_header(mapping, change, field) or FIELD_LABELS.get(field, field)


def column_header(mapping: Mapping, change: Change, field: str) -> str | None:
    """The workbook header of a changed field (None: the workbook has no column for it)."""
    sheet_map = mapping.sheets.get("contacts" if change.resource == "contacts" else "clients")
    if change.resource == "client_property_values":
        return change.label or change.ref or None
    if change.resource == "client_tags" and sheet_map is not None and sheet_map.tags is not None:
        return sheet_map.tags.header
    if sheet_map is not None:
        for column in sheet_map.columns:
            if column.field == field:
                return column.header
    return None


def where(change: Change) -> str:
    """'Kunden row 12' / 'Kunden id 1001'."""
    if change.row is not None:
        return f"{change.sheet} row {change.row}"
    return f"{change.sheet} id {change.key}"


def plan_lines(plan: Plan, mapping: Mapping, *, limit: int | None = None, held: bool = True) -> list[str]:
    """The plan as text: each change field by field (old → new), then held changes (unless held=False)
    and problems."""
    lines: list[str] = []
    for index, change in enumerate(plan.changes):
        if limit is not None and index >= limit:
            lines.append(f"  ... and {len(plan.changes) - limit:,} more (see --json or --report)")
            break
        lines.extend(_change_lines(change, mapping))
    if held:
        lines.extend(held_lines(plan, mapping))
    for problem in plan.problems:
        lines.append(f"  problem: {problem}")
    return lines


def held_lines(plan: Plan, mapping: Mapping) -> list[str]:
    """The changes the plan holds (delete guard), one line each with the reason, under a heading."""
    if not plan.held:
        return []
    return ["Held (not done):"] + [f"{_change_lines(h.change, mapping)[0]}: {h.reason}" for h in plan.held]


def _change_lines(change: Change, mapping: Mapping) -> list[str]:
    client = change.client_key or change.key
    if change.resource == "client_property_values":
        name = change.label or change.ref
        head = f"{change.action} attribute {name!r} of client {client}"
        return [f"  {where(change)}: {head}"] + [
            f"      {name}: {old!r} -> {new!r}" for old, new in change.fields.values()
        ]
    if change.resource == "client_tags":
        preposition = "to" if change.action == "add" else "from"
        return [f"  {where(change)}: {change.action} tag {change.ref!r} {preposition} client {client}"]
    noun = "client" if change.resource == "clients" else "contact"
    target = "" if change.key.startswith("row:") else f" {change.key}"
    label = f" ({change.label})" if change.label and change.action == "delete" else ""
    out = [f"  {where(change)}: {change.action} {noun}{target}{label}"]
    for field, (old, new) in change.fields.items():
        out.append(f"      {field_header(mapping, change, field)}: {old!r} -> {new!r}")
    return out


def write_json(plan: Plan, path: Path) -> None:
    """The plan as JSON (the same structure as Plan.to_dict()), written atomically."""
    atomic_write_bytes(path, json.dumps(plan.to_dict(), ensure_ascii=False, indent=2).encode("utf-8"))


def write_change_report(plan: Plan, mapping: Mapping, path: Path) -> None:
    """An xlsx an accountant reads at a glance: one row per change, changed cells old → new highlighted.

    German throughout (issue 11): the workbook's headers, a property by its name, "neue Zeile 37" for a
    new row's key, row numbers as numbers, no internal markers; multi-line cells wrap and get a row
    height that shows every line.
    """
    with atomic_path(path) as tmp:
        workbook = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_numbers": False})
        fmt = {
            "head": workbook.add_format({"bold": True, "bg_color": "#D9D9D9", "border": 1}),
            "create": workbook.add_format({"bg_color": "#C6EFCE", "text_wrap": True, "valign": "top"}),
            "delete": workbook.add_format({"bg_color": "#FFC7CE", "font_strikeout": True, "text_wrap": True,
                                           "valign": "top"}),
            "update": workbook.add_format({"bg_color": "#FFEB9C", "text_wrap": True, "valign": "top"}),
            "plain": workbook.add_format({"text_wrap": True, "valign": "top"}),
            "held": workbook.add_format({"bg_color": "#F4B084", "text_wrap": True, "valign": "top"}),
        }
        _report_sheet(workbook, "Änderungen", plan.changes, mapping, fmt, kind=None)
        _report_sheet(workbook, "Zurückgehalten", [h.change for h in plan.held], mapping, fmt, kind="held",
                      reasons=[held_reason(h.reason) for h in plan.held])
        problems = workbook.add_worksheet("Probleme")
        problems.write_row(0, 0, ["Blatt", "Zeile", "Spalte", "Datensatz", "Problem"], fmt["head"])
        for r, problem in enumerate([*plan.problems, *plan.warnings], start=1):
            _write_cells(problems, r, [problem.sheet, problem.row, problem.column or "",
                                       problem.record, problem.message], fmt["plain"])
        problems.set_column(0, 2, 14)
        problems.set_column(3, 3, 36)
        problems.set_column(4, 4, 80)
        problems.freeze_panes(1, 0)
        workbook.close()


def _write_cells(
    sheet: Any, r: int, values: list[str | int | None], style: Any, styles: dict[int, Any] | None = None
) -> None:
    """One report row: numbers as numbers, text as text (never a formula), markers left out, tall enough."""
    lines = 1
    for c, value in enumerate(values):
        cell_style = (styles or {}).get(c, style)
        if isinstance(value, int):
            sheet.write_number(r, c, value, cell_style)
            continue
        text = without_markers(value or "")
        lines = max(lines, text.count("\n") + 1)
        # write_string: a value like "=SUM(A1)" or "00042" must show as the text it is.
        sheet.write_string(r, c, text, cell_style)
    if lines > 1:
        sheet.set_row(r, 15 * min(lines, 20))


def _record(change: Change) -> str:
    """The record a change is about, as far as the change knows it: a deleted record's number and name,
    a new record's name."""
    if change.resource in ("clients", "contacts"):
        if change.label:
            return change.label
        name = change.fields.get("name", ("", ""))[1]
        person = " ".join(change.fields.get(f, ("", ""))[1] for f in ("first_name", "last_name")).strip()
        return name or person
    return ""


def _report_sheet(workbook: xlsxwriter.Workbook, name: str, changes: Iterable[Change], mapping: Mapping, fmt: dict,
                  *, kind: str | None, reasons: list[str] | None = None) -> None:
    sheet = workbook.add_worksheet(name)
    headers = ["Blatt", "Zeile", "Schlüssel", "Datensatz", "Was", "Feld", "Vorher", "Nachher"]
    headers += ["Grund"] if reasons else []
    sheet.write_row(0, 0, headers, fmt["head"])
    r = 1
    for index, change in enumerate(changes):
        style = fmt[kind] if kind else fmt.get(change.action, fmt["update"])
        what = REPORT_ACTIONS.get(change.action, change.action)
        if change.resource == "client_property_values":
            what = f"{what}: {change.label or change.ref}"  # the property's name, not its id
        elif change.ref:
            what = f"{what}: {change.ref}"
        fields = list(change.fields.items()) or [("", ("", ""))]
        for field, (old, new) in fields:
            header = field_header(mapping, change, field) if field else ""
            row: list[str | int | None] = [change.sheet, change.row, shown_key(change.key), _record(change), what,
                                           header, old, new]
            if reasons:
                row.append(reasons[index])
            whole = change.action in ("create", "delete") or kind is not None
            _write_cells(sheet, r, row, fmt["plain"], {c: style for c in range(len(row)) if whole or c >= 6})
            r += 1
    widths = [12, 7, 14, 30, 24, 18, 36, 36, 50]
    for c, width in enumerate(widths[: len(headers)]):
        sheet.set_column(c, c, width)
    sheet.freeze_panes(1, 0)
    if r > 1:
        sheet.autofilter(0, 0, r - 1, len(headers) - 1)


def conflict_line(conflict: Conflict) -> str:
    """One held (or decided) conflict: the record, where, the three values, and what happened to it."""
    place = (
        f"{conflict.sheet} row {conflict.row}"
        if conflict.row is not None
        else f"{conflict.sheet} (row deleted in the workbook)"
    )
    record = conflict.label or f"{conflict.resource} {conflict.key}"
    fate = (
        "held"
        if conflict.held
        else f"decided for the {'workbook' if conflict.resolved_by == 'sheet' else 'Billomat'}"
    )
    column = conflict.header or conflict.field or f"{WHOLE_RECORD} (the whole record)"
    return (
        f"  conflict ({conflict.kind}): {RESOURCE_NOUN.get(conflict.resource, conflict.resource)} {record}, "
        f"{place}, {column}: base {conflict.base!r}, Billomat {conflict.billomat!r}, "
        f"workbook {conflict.sheet_value!r} — {fate}"
    )


def billomat_side_lines(changes: WorkbookChanges, mapping: Mapping, *, limit: int = 100) -> list[str]:
    """What changed in Billomat since the workbook's state, one line per cell, new record and deleted record."""
    lines = [
        f"  {row.sheet} row {row.row} ({row.key}): {row.header}: workbook {row.old!r}, Billomat {row.new!r}"
        for row in changes.updates.head(limit).itertuples(index=False)
    ]
    for sheet_name, rows in changes.appends.items():
        sheet_map = mapping.sheet_named(sheet_name)
        name = next((c.header for c in sheet_map.columns if c.field == "name"), "") if sheet_map else ""
        for record in rows.head(limit).to_dict("records"):
            key = next(iter(record.values()), "")
            lines.append(f"  {sheet_name}: {key} ({record.get(name, '')}) created in Billomat")
    lines.extend(
        f"  {row.sheet} row {row.row}: {row.key} ({row.label}) deleted in Billomat"
        for row in changes.removals.head(limit).itertuples(index=False)
    )
    return lines
