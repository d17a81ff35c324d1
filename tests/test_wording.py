"""German words where the accountants read (issue 11 point 6): wording helpers and the migration report."""

from __future__ import annotations

import openpyxl

from sync.mapping import load_mapping
from sync.merge import merge_account
from sync.migrate import ClientResult, MigrationResult, Unheld
from sync.migrate_report import report_names, write_migration_report
from sync.shipped import MAPPINGS
from sync.snapbill_mapping import load_snapbill_mapping
from sync.wording import held_reason, is_marker, shown_key, without_markers
from tests.test_merge import MAPPING, S0, frames, patched, workbook


def test_keys_and_markers_are_shown_as_people_read_them():
    assert shown_key("row:37") == "neue Zeile 37" and shown_key("1001") == "1001" and shown_key("neu-1") == "neu-1"
    assert is_marker("billsync:eef70123456789ab") and not is_marker("Notiz billsync")
    assert without_markers("a billsync:eef70123456789ab b") == "a  b"
    assert held_reason("deletes need --allow-deletes").startswith("Löschen nur mit")


def test_every_reason_the_delete_guard_gives_reads_german():
    from sync.plan import delete_guard

    reasons = {
        delete_guard("clients", 30, 30, True, None): "alle 30 Kunden würden gelöscht; billsync löscht nie alle "
        "Datensätze einer Art (ist das Blatt leer?)",
        delete_guard("contacts", 20, 30, True, None): "20 von 30 Kontakte würden gelöscht, mehr als die Grenze von "
        "3 (höchstens 10 Zeilen und 10 %); mit --max-deletes 20 oder der Entscheidung „löschen“ erlaubt",
        "sheet 'Kunden' row 5: a malformed Billomat-ID may hide an id":
            "Blatt 'Kunden' Zeile 5: eine fehlerhafte Billomat-ID kann eine ID verbergen",
        "sheet 'Kunden' row 5: Billomat-ID 1234 is unknown to Billomat":
            "Blatt 'Kunden' Zeile 5: Billomat-ID 1234 kennt Billomat nicht",
    }
    assert {reason: held_reason(reason) for reason in reasons} == reasons


def test_the_migration_report_is_german_with_headers_without_markers_and_tall_rows(tmp_path):
    names = report_names(load_snapbill_mapping(MAPPINGS / "snapbill.yaml"), load_mapping(MAPPINGS / "billomat.yaml"))
    assert names["bank_swift"] == "BIC" and names["company"] == "Firma" and names["data-public_phone"] == "Telefon"
    result = MigrationResult(
        [
            ClientResult("1001", "KD1", "Alt GmbH", "updated", "7",
                         changes={"company": ("Alt", "Neu"), "data-billomat_id": ("", "billsync:eef70123456789ab")},
                         unheld=[Unheld("field bank_swift", "DEUTDEFF"), Unheld("tag", "VIP"),
                                 Unheld("field customfield", "billsync:eef70123456789ab"),
                                 Unheld("field note", "Zeile 1\nZeile 2\nZeile 3")]),
            ClientResult("1002", "KD2", "Gleich AG", "unchanged", "8"),
        ]
    )  # fmt: skip
    path = tmp_path / "migration.xlsx"
    write_migration_report(result, path, names)
    wb = openpyxl.load_workbook(path)
    ws = wb["Migration"]
    row = [c.value for c in ws[2]]
    assert row[4] == "aktualisiert" and ws["E3"].value == "unverändert"
    assert row[5] == "Firma: 'Alt' → 'Neu'"  # the marker change is not shown
    assert row[6].split("\n")[:2] == ["Feld BIC: DEUTDEFF", "Schlagwort: VIP"]
    values = [c.value for s in wb for r in s.iter_rows() for c in r if isinstance(c.value, str)]
    assert not any("billsync:" in v for v in values)
    assert ws.row_dimensions[2].height >= 75 and ws["G2"].alignment.wrap_text  # every line shows


def test_a_contact_conflict_names_the_person_and_its_client():
    current = frames(patched(S0, {"contacts.5001.client_id": "1002"}, billomat=True))
    sheet = patched(S0, {"contacts.5001.client_id": "1003"}, billomat=False)
    (conflict,) = merge_account(frames(S0), current, workbook(sheet), MAPPING).conflicts
    # Billomat's record first: the client it is with there.
    assert conflict.label == "5001 Anna Berg, Kunde 1002 KD01002 Schmidt KG"
