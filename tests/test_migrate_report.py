"""sync/migrate_report.py: the migration report workbook (`billsync migrate --report FILE.xlsx`)."""

from __future__ import annotations

from pathlib import Path

import openpyxl

from sync.migrate import ClientResult, MigrationResult, Unheld
from sync.migrate_report import HEADERS, hint_text, write_migration_report

RESULTS = [
    ClientResult("1001", "KD00042", "Müller & Söhne GmbH", "created", snapbill_id="77",
                 changes={"company": ("", "Müller & Söhne GmbH")},
                 unheld=[Unheld("tag", "A-Kunde"), Unheld("field note", "=SUMME(A1:A3)")]),
    ClientResult("1002", "00042", "+49 Service", "unchanged", snapbill_id="78"),
    ClientResult("1003", "KD01003", "", "failed", message="SnapBill refused the client: company is required"),
]  # fmt: skip


def rows(sheet: object) -> list[list[str]]:
    """A sheet's cell values, None read as ""."""
    return [["" if v is None else v for v in row] for row in sheet.iter_rows(values_only=True)]  # type: ignore[attr-defined]


def test_one_row_per_client_with_both_ids_status_changes_and_what_is_not_held(tmp_path: Path) -> None:
    path = tmp_path / "migration.xlsx"
    write_migration_report(MigrationResult(RESULTS), path)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Migration", "Nicht übernommen"]
    table = rows(book["Migration"])
    assert tuple(table[0]) == HEADERS
    # German for the accountants (issue 11): statuses and what is not held; without the mappings'
    # headers (names=None) a field keeps its API name.
    assert table[1] == ["1001", "77", "KD00042", "Müller & Söhne GmbH", "angelegt",
                        "company: '' → 'Müller & Söhne GmbH'", "Schlagwort: A-Kunde\nFeld note: =SUMME(A1:A3)", ""]  # fmt: skip
    assert table[2][:5] == ["1002", "78", "00042", "+49 Service", "unverändert"]
    assert table[3][4:] == ["fehlgeschlagen", "", "", "SnapBill refused the client: company is required"]
    assert rows(book["Nicht übernommen"]) == [
        ["Billomat-ID", "Kundennummer", "Was", "Wert"],
        ["1001", "KD00042", "Schlagwort", "A-Kunde"],
        ["1001", "KD00042", "Feld note", "=SUMME(A1:A3)"],
    ]


def test_values_are_text_never_formulas_or_numbers(tmp_path: Path) -> None:
    path = tmp_path / "migration.xlsx"
    write_migration_report(MigrationResult(RESULTS), path)
    sheet = openpyxl.load_workbook(path)["Nicht übernommen"]
    formula = sheet.cell(row=3, column=4)
    assert (formula.value, formula.data_type) == ("=SUMME(A1:A3)", "s")
    number = openpyxl.load_workbook(path)["Migration"].cell(row=3, column=3)
    assert (number.value, number.data_type) == ("00042", "s")


def test_status_cells_are_coloured_and_a_dry_run_says_so(tmp_path: Path) -> None:
    path = tmp_path / "migration.xlsx"
    write_migration_report(MigrationResult(RESULTS, dry_run=True), path)
    sheet = openpyxl.load_workbook(path)["Migration"]
    assert [sheet.cell(row=r, column=5).value for r in (2, 3, 4)] == [
        "angelegt (Probelauf)", "unverändert (Probelauf)", "fehlgeschlagen (Probelauf)"
    ]
    fills = [sheet.cell(row=r, column=5).fill.fgColor.rgb for r in (2, 4)]
    assert fills == ["FFC6EFCE", "FFFFC7CE"]  # green created, red failed
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:H4"


def test_an_empty_result_is_headers_only_without_a_filter(tmp_path: Path) -> None:
    path = tmp_path / "migration.xlsx"
    write_migration_report(MigrationResult([]), path)
    book = openpyxl.load_workbook(path)
    assert rows(book["Migration"]) == [list(HEADERS)]
    assert rows(book["Nicht übernommen"]) == [["Billomat-ID", "Kundennummer", "Was", "Wert"]]
    assert book["Migration"].auto_filter.ref is None


def test_the_report_replaces_an_older_one_atomically(tmp_path: Path) -> None:
    path = tmp_path / "migration.xlsx"
    path.write_bytes(b"older report")
    path.chmod(0o640)
    write_migration_report(MigrationResult(RESULTS[:1]), path)
    assert len(rows(openpyxl.load_workbook(path)["Migration"])) == 2
    assert path.stat().st_mode & 0o777 == 0o640  # the owner's choice of mode is kept
    assert [p.name for p in tmp_path.iterdir()] == ["migration.xlsx"]  # no temp file left


def test_every_note_of_the_migration_reads_german_in_hinweis() -> None:
    names = {"company": "Firma", "surname": "Nachname", "bank_swift": "BIC", "city": "Ort", "zip": "PLZ"}
    notes = {
        "archived in Billomat (--include-archived migrates it)":
            "in Billomat archiviert (--include-archived übernimmt ihn)",
        "neither company nor first or last name; SnapBill needs one (fallback (line 7): skip)":
            "weder Firma noch Vor- oder Nachname; SnapBill braucht eins davon (fallback (line 7): skip)",
        "neither company nor first or last name, and fallback gives an empty one":
            "weder Firma noch Vor- oder Nachname, und fallback ergibt keinen",
        "no client number: a re-run could not find it in SnapBill, so it is not migrated":
            "keine Kundennummer: ein neuer Lauf fände ihn in SnapBill nicht wieder, daher nicht übernommen",
        "payment method 'PAYPAL' is not enabled in SnapBill (enabled: CASH); enable it there, or change the "
        "client in Billomat": "Zahlungsart 'PAYPAL' ist in SnapBill nicht freigeschaltet (freigeschaltet: CASH); "
        "dort freischalten oder den Kunden in Billomat ändern",
        "client number 'KD1' is used by Billomat clients 1001, 1002; SnapBill needs it unique":
            "Kundennummer 'KD1' haben die Billomat-Kunden 1001, 1002; SnapBill braucht sie eindeutig",
        "SnapBill client 5 was deleted in SnapBill (state dead); not created again: remove its line from the id "
        "map to migrate it anew": "SnapBill-Kunde 5 wurde in SnapBill gelöscht (state dead); nicht neu angelegt: "
        "seine Zeile aus der ID-Zuordnung entfernen, um ihn neu zu übernehmen",
        "SnapBill has several clients with number 'KD7' (5, 6); not touched":
            "SnapBill hat mehrere Kunden mit der Nummer 'KD7' (5, 6); nicht angefasst",
        "SnapBill client 5 with number 'KD7' is already Billomat client 1002":
            "SnapBill-Kunde 5 mit der Nummer 'KD7' ist schon Billomat-Kunde 1002",
        "no name in Billomat: company 'Kunde KD31', surname '' from fallback; SnapBill did not take: bank_swift "
        "(sent 'ABC', SnapBill has ''); SnapBill's answer does not show zip, city: not verified":
            "kein Name in Billomat: Firma 'Kunde KD31', Nachname '' aus fallback; SnapBill hat nicht übernommen: "
            "BIC (gesendet 'ABC', SnapBill hat ''); SnapBills Antwort zeigt PLZ, Ort nicht: nicht geprüft",
        "HTTP 503 (gave up after retries; a re-run completes it)":
            "HTTP 503 (nach mehreren Versuchen aufgegeben; ein neuer Lauf holt es nach)",
        "SnapBill refused it: company is required": "SnapBill hat abgelehnt: company is required",
    }
    assert {note: hint_text(note, names) for note in notes} == notes
