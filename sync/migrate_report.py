"""The migration report (`billsync migrate --report FILE.xlsx`): one row per Billomat client."""

from __future__ import annotations

import re
from collections.abc import Mapping as AnyMapping
from functools import partial
from pathlib import Path
from typing import Any

import xlsxwriter

from sync.atomic import atomic_path
from sync.mapping import Mapping
from sync.migrate import MigrationResult, Unheld
from sync.snapbill_mapping import PROPERTY_PREFIX, SnapBillMapping
from sync.wording import DRY_RUN, MIGRATION_STATUS, is_marker, without_markers

HEADERS = (
    "Billomat-ID",
    "SnapBill-ID",
    "Kundennummer",
    "Name",
    "Status",
    "Geändert",
    "Nicht übernommen",
    "Hinweis",
)
WIDTHS = (12, 12, 14, 34, 14, 48, 60, 60)
COLOURS = {
    "created": "#C6EFCE",
    "updated": "#FFEB9C",
    "unchanged": None,
    "skipped": "#D9D9D9",
    "failed": "#FFC7CE",
}
# What cannot go to SnapBill (sync.migrate.Unheld.what), in German; "field X" / "attribute X" take a name.
_UNHELD = {
    "further email address": "weitere E-Mail-Adresse",
    "tag": "Schlagwort",
    "contact": "Kontakt",
}
_UNHELD_NAMED = re.compile(r"(field|attribute|ignored by SnapBill:) (.+)")
_UNHELD_NAMED_DE = {"field": "Feld", "attribute": "Attribut", "ignored by SnapBill:": "von SnapBill ignoriert:"}


# What sync.migrate says about a client (ClientResult.message: English, for the IT person's terminal), as
# the report's Hinweis says it in German. Each pattern is one of migrate's sentences; several of them are
# joined with "; ". A parameter list ("company 'X', surname 'Y'"; "city, zip") names each parameter by its
# Kunden header. A sentence that is none of these (an API error's own words) stays as it is.
_Q = r"(?:'[^']*'|\"[^\"]*\")"  # a value as repr() writes it
_HINTS: tuple[tuple[str, str], ...] = (
    (r"archived in Billomat \(--include-archived migrates it\)",
     "in Billomat archiviert (--include-archived übernimmt ihn)"),
    (r"neither company nor first or last name; SnapBill needs one \((?P<place>.+?): skip\)",
     "weder Firma noch Vor- oder Nachname; SnapBill braucht eins davon ({place}: skip)"),
    (r"neither company nor first or last name, and (?P<place>.+?) gives an empty one",
     "weder Firma noch Vor- oder Nachname, und {place} ergibt keinen"),
    (r"no name in Billomat: (?P<params>.+?) from (?P<place>.+?)(?=; |$)",
     "kein Name in Billomat: {params} aus {place}"),
    (r"no client number: a re-run could not find it in SnapBill, so it is not migrated",
     "keine Kundennummer: ein neuer Lauf fände ihn in SnapBill nicht wieder, daher nicht übernommen"),
    (rf"(?P<what>currency|payment method) (?P<value>{_Q}) is not enabled in SnapBill \(enabled: (?P<allowed>[^)]*)\); "
     r"enable it there, or change the client in Billomat",
     "{what} {value} ist in SnapBill nicht freigeschaltet (freigeschaltet: {allowed}); dort freischalten "
     "oder den Kunden in Billomat ändern"),
    (rf"client number (?P<number>{_Q}) is used by Billomat clients (?P<ids>[\d, ]+); SnapBill needs it unique",
     "Kundennummer {number} haben die Billomat-Kunden {ids}; SnapBill braucht sie eindeutig"),
    (r"SnapBill client (?P<id>\S+) was deleted in SnapBill \(state dead\); not created again: remove its line "
     r"from the id map to migrate it anew",
     "SnapBill-Kunde {id} wurde in SnapBill gelöscht (state dead); nicht neu angelegt: seine Zeile aus der "
     "ID-Zuordnung entfernen, um ihn neu zu übernehmen"),
    (rf"SnapBill has several clients with number (?P<number>{_Q}) \((?P<ids>[^)]*)\); not touched",
     "SnapBill hat mehrere Kunden mit der Nummer {number} ({ids}); nicht angefasst"),
    (rf"SnapBill client (?P<id>\S+) with number (?P<number>{_Q}) is already Billomat client (?P<owner>\S+)",
     "SnapBill-Kunde {id} mit der Nummer {number} ist schon Billomat-Kunde {owner}"),
    (rf"SnapBill client (?P<id>\S+) with number (?P<number>{_Q}) belongs to Billomat client (?P<owner>\S+) "
     r"\(data-billomat_id\)",
     "SnapBill-Kunde {id} mit der Nummer {number} gehört zu Billomat-Kunde {owner} (data-billomat_id)"),
    (r"SnapBill refused it: ", "SnapBill hat abgelehnt: "),
    (r" \(gave up after retries; a re-run completes it\)",
     " (nach mehreren Versuchen aufgegeben; ein neuer Lauf holt es nach)"),
    (r"SnapBill did not take: (?P<params>.+?)(?=; |$)", "SnapBill hat nicht übernommen: {params}"),
    (r"SnapBill's answer does not show (?P<params>.+?): not verified",
     "SnapBills Antwort zeigt {params} nicht: nicht geprüft"),
)
_WORDS = {"currency": "Währung", "payment method": "Zahlungsart"}
# In a parameter list: "company 'X'", "bank_swift (sent 'A', SnapBill has 'B')", or a bare name.
_PARAM = re.compile(rf"(?P<name>[a-z][\w-]*)(?P<rest> {_Q}| \(sent (?P<sent>{_Q}), SnapBill has (?P<has>{_Q})\))?")


def hint_text(message: str, names: AnyMapping[str, str]) -> str:
    """A migration result's note (sync.migrate, English) in German for the report's column Hinweis."""
    text = message
    for pattern, template in _HINTS:
        text = re.sub(pattern, partial(_fill, template, names=names), text)
    return text


def _fill(template: str, hit: re.Match[str], *, names: AnyMapping[str, str]) -> str:
    parts = {key: value or "" for key, value in hit.groupdict().items()}
    if "params" in parts:
        parts["params"] = _PARAM.sub(lambda p: _param(p, names), parts["params"])
    if "what" in parts:
        parts["what"] = _WORDS.get(parts["what"], parts["what"])
    return template.format(**parts)


def _param(hit: re.Match[str], names: AnyMapping[str, str]) -> str:
    name = names.get(hit.group("name"), hit.group("name"))
    if hit.group("sent") is not None:
        return f"{name} (gesendet {hit.group('sent')}, SnapBill hat {hit.group('has')})"
    return name + (hit.group("rest") or "")


def report_names(snapbill: SnapBillMapping, billomat: Mapping | None) -> dict[str, str]:
    """Billomat fields and SnapBill parameters → the Kunden header the accountants know ("bank_swift" → "BIC")."""
    sheet = billomat.sheets.get("clients") if billomat is not None else None
    headers = {c.field: c.header for c in sheet.columns} if sheet is not None else {}
    names = dict(headers)
    for rule in snapbill.rules:
        prop = rule.source[len(PROPERTY_PREFIX) :] if rule.source.startswith(PROPERTY_PREFIX) else ""
        names.setdefault(rule.param, prop or headers.get(rule.source, rule.param))
    return names


def unheld_text(unheld: Unheld, names: AnyMapping[str, str]) -> str:
    """What SnapBill cannot hold, in German with the workbook's header: "Feld BIC", "Schlagwort"."""
    if unheld.what in _UNHELD:
        return _UNHELD[unheld.what]
    hit = _UNHELD_NAMED.fullmatch(unheld.what)
    if hit is None:
        return unheld.what
    return f"{_UNHELD_NAMED_DE[hit.group(1)]} {names.get(hit.group(2), hit.group(2))}"


def write_migration_report(result: MigrationResult, path: Path, names: AnyMapping[str, str] | None = None) -> None:
    """Sheet "Migration" (one row per client, both ids, status, every value not held) and "Nicht übernommen".

    German (issue 11): statuses, what is not held, each field by its Kunden header (`names`, from
    `report_names`); no internal markers; multi-line cells get a row height that shows them.
    """
    shown = names or {}
    with atomic_path(path) as tmp:
        # Text only: a value like "=SUMME(A1)", "+49 …" or "00042" must show as the text it is.
        workbook = xlsxwriter.Workbook(str(tmp), {"strings_to_formulas": False, "strings_to_numbers": False})
        head = workbook.add_format({"bold": True, "bg_color": "#D9D9D9", "border": 1})
        plain = workbook.add_format({"text_wrap": True, "valign": "top"})
        styles = {
            status: workbook.add_format({"text_wrap": True, "valign": "top", **({"bg_color": c} if c else {})})
            for status, c in COLOURS.items()
        }
        sheet = workbook.add_worksheet("Migration")
        sheet.write_row(0, 0, HEADERS, head)
        suffix = f" ({DRY_RUN})" if result.dry_run else ""
        for r, item in enumerate(result.results, start=1):
            changed = "\n".join(
                f"{shown.get(p, p)}: {old!r} → {new!r}"
                for p, (old, new) in item.changes.items()
                if not (is_marker(old) or is_marker(new))
            )
            unheld = "\n".join(f"{unheld_text(u, shown)}: {u.value}" for u in item.unheld if not is_marker(u.value))
            status = MIGRATION_STATUS.get(item.status, item.status) + suffix
            hint = hint_text(item.message, shown)
            row = (item.billomat_id, item.snapbill_id, item.number, item.name, status, changed, unheld, hint)
            for c, value in enumerate(row):
                sheet.write_string(r, c, without_markers(value), styles[item.status] if c == 4 else plain)
            _fit_height(sheet, r, row)
        for c, width in enumerate(WIDTHS):
            sheet.set_column(c, c, width)
        sheet.freeze_panes(1, 0)
        if result.results:
            sheet.autofilter(0, 0, len(result.results), len(HEADERS) - 1)

        detail = workbook.add_worksheet("Nicht übernommen")
        detail.write_row(0, 0, ("Billomat-ID", "Kundennummer", "Was", "Wert"), head)
        r = 1
        for item in result.results:
            for u in item.unheld:
                if is_marker(u.value):
                    continue
                values = (item.billomat_id, item.number, unheld_text(u, shown), u.value)
                for c, value in enumerate(values):
                    detail.write_string(r, c, value, plain)
                _fit_height(detail, r, values)
                r += 1
        for c, width in enumerate((12, 14, 30, 80)):
            detail.set_column(c, c, width)
        detail.freeze_panes(1, 0)
        if r > 1:
            detail.autofilter(0, 0, r - 1, 3)
        workbook.close()


def _fit_height(sheet: Any, r: int, values: tuple[str, ...]) -> None:
    """A row tall enough for its longest multi-line cell (Excel does not grow a row xlsxwriter wrote)."""
    lines = max(v.count("\n") + 1 for v in values)
    if lines > 1:
        sheet.set_row(r, 15 * min(lines, 20))
