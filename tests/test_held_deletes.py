"""sync.held_deletes: the Löschungen sheet's decisions, applied to a plan and a base (pure)."""

from __future__ import annotations

import csv
from pathlib import Path

from sync.diff import diff_account
from sync.held_deletes import (
    HEADERS,
    NO_DELETES,
    REASON_NEED_FLAG,
    Decisions,
    decide,
    hint,
    read_decisions,
    sheet,
    without_kept,
)
from sync.plan import Plan, build_plan
from tests.diffkit import MAPPING, account, desired

ROWS = [{"id": str(1000 + i), "client_number": f"KD{i:05d}", "name": f"Firma {i}"} for i in range(30)]
CURRENT = account(
    clients=ROWS,
    contacts=[{"id": "5001", "client_id": "1001", "name": "Sabine Kühn"}],
    values=[{"id": "9", "client_id": "1000", "client_property_id": "1", "value": "Bau"}],
    tags=[{"client_id": "1000", "name": "A-Kunde"}, {"client_id": "1002", "name": "A-Kunde"}],
)


def held_plan() -> Plan:
    """Clients 1000 and 1001 deleted in the workbook, no --allow-deletes: both held."""
    wanted = desired(
        clients=[{"_row": i + 2, "_key": r["id"], "name": r["name"]} for i, r in enumerate(ROWS[2:])],
        contacts=[{"_row": 2, "_key": "5001", "client_key": "1001", "name": "Sabine Kühn"}],
    )
    return build_plan(diff_account(CURRENT, wanted, MAPPING), wanted, CURRENT, MAPPING)


def test_loeschen_lets_the_held_delete_go_ahead_and_behalten_drops_it() -> None:
    plan = held_plan()
    assert [h.change.key for h in plan.held] == ["1000", "1001"]
    decided = decide(plan, Decisions({("clients", "1000"): "delete", ("clients", "1001"): "keep"}, {}))
    assert [(c.key, c.action) for c in decided.changes if c.resource == "clients"] == [("1000", "delete")]
    assert decided.held == []


def test_decisions_for_records_not_held_change_nothing() -> None:
    plan = held_plan()
    assert decide(plan, Decisions({("clients", "1005"): "delete"}, {})) == plan


def test_a_kept_client_leaves_the_base_with_its_values_and_tags_but_not_when_its_row_is_back() -> None:
    decisions = Decisions({("clients", "1000"): "keep", ("clients", "1001"): "delete"}, {})
    base = without_kept(CURRENT, decisions, {"clients": set(), "contacts": set()})
    assert base is not None
    assert "1000" not in set(base.clients["id"]) and "1001" in set(base.clients["id"])
    assert base.client_property_values.empty
    assert list(base.client_tags["client_id"]) == ["1002"]
    assert list(base.contacts["id"]) == ["5001"]
    assert without_kept(CURRENT, decisions, {"clients": {"1000"}, "contacts": set()}) is CURRENT


def test_the_sheet_lists_each_held_delete_with_its_row_number_name_reason_and_keeps_a_typo() -> None:
    plan = held_plan()
    listing = sheet(plan.held, CURRENT, Decisions({}, {("clients", "1001"): "weg"}), {"clients": {"1000": 2}})
    assert listing.headers == HEADERS
    assert listing.rows == [
        ["Kunden", 2, "1000", "KD00000", "Firma 0", REASON_NEED_FLAG, ""],
        ["Kunden", "", "1001", "KD00001", "Firma 1", REASON_NEED_FLAG, "weg"],  # its row is not known
    ]
    assert sheet([], CURRENT).body()[0][0] == NO_DELETES


def test_read_decisions_from_a_csv_folder_reports_what_is_no_decision(tmp_path: Path) -> None:
    with (tmp_path / "Löschungen.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADERS)
        writer.writerow(["Kunden", "2", "1000", "KD00000", "Firma 0", "…", " Löschen "])
        writer.writerow(["Kunden", "3", "1001", "KD00001", "Firma 1", "…", "behalten"])
        writer.writerow(["Kunden", "4", "1002", "KD00002", "Firma 2", "…", "weg"])
        writer.writerow(["Kunden", "5", "1003", "KD00003", "Firma 3", "…", ""])
        writer.writerow(["Kontakte", "7", "5001", "KD00001", "Sabine Kühn", "…", "löschen"])
        writer.writerow(["Notizen", "", "5002", "", "", "…", "löschen"])
    decisions = read_decisions(tmp_path, MAPPING)
    assert dict(decisions.by_key) == {
        ("clients", "1000"): "delete",
        ("clients", "1001"): "keep",
        ("contacts", "5001"): "delete",  # the resource comes from Blatt
    }
    assert decisions.typed[("clients", "1002")] == "weg"
    assert len(decisions.problems) == 2 and "row 4" in decisions.problems[0] and "1002" in decisions.problems[0]
    assert "row 7, column 'Blatt': 'Notizen'" in decisions.problems[1]


def test_a_word_that_is_no_decision_is_reported_with_the_records_number_and_name(tmp_path: Path) -> None:
    with (tmp_path / "Löschungen.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADERS)
        writer.writerow(["Kunden", "4", "1002", "KD00002", "Firma 2", "…", "weg"])
    (problem,) = read_decisions(tmp_path, MAPPING).problems
    assert "row 2, column 'Entscheidung' (Kunden id 1002, KD00002 Firma 2): 'weg' is no decision" in problem


def test_a_sheet_written_with_the_old_ressource_column_is_still_read(tmp_path: Path) -> None:
    with (tmp_path / "Löschungen.csv").open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["Blatt", "Billomat-ID", "Kundennummer", "Name", "Grund", "Entscheidung", "Ressource"])
        writer.writerow(["Kunden", "1000", "KD00000", "Firma 0", "…", "löschen", "clients"])
        writer.writerow(["Kontakte", "5001", "KD00001", "Sabine Kühn", "…", "behalten", "contacts"])
    decisions = read_decisions(tmp_path, MAPPING)
    assert dict(decisions.by_key) == {("clients", "1000"): "delete", ("contacts", "5001"): "keep"}


def test_no_sheet_no_decisions(tmp_path: Path) -> None:
    assert read_decisions(tmp_path, MAPPING) == Decisions({}, {})


def test_the_hint_names_the_workbook_the_sheet_and_the_words() -> None:
    line = hint(held_plan().held, Path("kunden.xlsx"))
    assert line is not None and line.startswith("kunden.xlsx: 2 held delete(s) listed in sheet 'Löschungen'")
    assert "löschen or behalten" in line and hint([], Path("kunden.xlsx")) is None
