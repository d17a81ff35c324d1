"""The migration report (`billsync migrate --report FILE.xlsx`): one row per Billomat client."""

from __future__ import annotations

from pathlib import Path

import xlsxwriter

from sync.atomic import atomic_path
from sync.migrate import MigrationResult

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
WIDTHS = (12, 12, 14, 34, 11, 48, 60, 60)
COLOURS = {
    "created": "#C6EFCE",
    "updated": "#FFEB9C",
    "unchanged": None,
    "skipped": "#D9D9D9",
    "failed": "#FFC7CE",
}


def write_migration_report(result: MigrationResult, path: Path) -> None:
    """Sheet "Migration" (one row per client, both ids, status, every value not held) and "Nicht übernommen"."""
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
        suffix = " (dry run)" if result.dry_run else ""
        for r, item in enumerate(result.results, start=1):
            changed = "\n".join(f"{p}: {old!r} → {new!r}" for p, (old, new) in item.changes.items())
            not_held = "\n".join(str(u) for u in item.unheld)
            row = (item.billomat_id, item.snapbill_id, item.number, item.name, item.status + suffix, changed, not_held,
                   item.message)
            for c, value in enumerate(row):
                sheet.write_string(r, c, value, styles[item.status] if c == 4 else plain)
        for c, width in enumerate(WIDTHS):
            sheet.set_column(c, c, width)
        sheet.freeze_panes(1, 0)
        if result.results:
            sheet.autofilter(0, 0, len(result.results), len(HEADERS) - 1)

        detail = workbook.add_worksheet("Nicht übernommen")
        detail.write_row(0, 0, ("Billomat-ID", "Kundennummer", "Was", "Wert"), head)
        r = 1
        for item in result.results:
            for unheld in item.unheld:
                for c, value in enumerate((item.billomat_id, item.number, unheld.what, unheld.value)):
                    detail.write_string(r, c, value, plain)
                r += 1
        for c, width in enumerate((12, 14, 30, 80)):
            detail.set_column(c, c, width)
        detail.freeze_panes(1, 0)
        if r > 1:
            detail.autofilter(0, 0, r - 1, 3)
        workbook.close()
