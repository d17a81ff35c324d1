"""sync/merge/ledger.py: conflicts with their three values and place; a decision settles one."""

from __future__ import annotations

from sync.merge import Hold, merge_account
from sync.merge.ledger import Ledger, RecordLabels
from sync.merge.sheet_terms import SheetTerms
from sync.merge.states import States
from tests.test_merge import CASES, MAPPING, S0, billomat_side, frames, patched, run_case, workbook


def test_conflict_lists_all_three_values_and_where() -> None:
    case = next(c for c in CASES if c.name == "client: different new values")
    result, _ = run_case(case)
    (conflict,) = result.conflicts
    assert (conflict.resource, conflict.key, conflict.sheet, conflict.row) == ("clients", "1001", "Kunden", 2)
    assert (conflict.field, conflict.header) == ("city", "Ort")
    assert (conflict.base, conflict.billomat, conflict.sheet_value) == ("Dresden", "Meißen", "Pirna")
    assert conflict.held and conflict.id == ("clients", "1001", "city")


def test_a_decision_settles_one_conflict_and_holds_the_rest() -> None:
    billomat = patched(S0, {"clients.1001.city": "Meißen", "clients.1002.city": "Halle"}, billomat=True)
    sheet = patched(S0, {"clients.1001.city": "Pirna", "clients.1002.city": "Wurzen"}, billomat=False)
    current = frames(billomat)
    result = merge_account(
        frames(S0), current, workbook(sheet), MAPPING, decisions={("clients", "1002", "city"): "sheet"}
    )
    assert [(c.key, c.resolved_by) for c in result.conflicts] == [("1001", None), ("1002", "sheet")]
    assert billomat_side(result, current) == {"clients update 1002 city=Wurzen"}
    assert result.exit_code == 1


def _ledger(prefer=None, decisions=None) -> Ledger:
    states = States.of(frames(S0), frames(S0), workbook(S0), [])
    terms = SheetTerms(MAPPING, [states.C.client_properties])
    return Ledger(prefer, decisions or {}, RecordLabels(states), terms)


def test_a_decision_beats_an_adopted_rows_side_which_beats_prefer() -> None:
    ledger = _ledger("billomat", {("clients", "1001", "city"): "sheet"})
    assert ledger.side("clients", "1001", "city", forced="billomat") == "sheet"
    assert ledger.side("clients", "1002", "city", forced="sheet") == "sheet"
    assert ledger.side("clients", "1002", "city") == "billomat"
    assert _ledger().side("clients", "1002", "city") is None  # held


def test_a_conflict_is_listed_with_its_sheet_header_and_label_unless_its_row_was_adopted() -> None:
    ledger = _ledger()
    common = {"row": 2, "base": "Dresden", "billomat": "Meißen", "sheet_value": "Pirna", "kind": "both_changed"}
    ledger.conflict("clients", "1001", "city", resolved_by=None, **common)  # type: ignore[arg-type]
    ledger.conflict("clients", "1001", "email", resolved_by=None, forced="sheet", **common)  # type: ignore[arg-type]
    ledger.conflict("contacts", "5001", "", resolved_by=None, **common)  # type: ignore[arg-type]
    ledger.hold("clients", "1001", "city")
    city, record = ledger.conflicts
    assert (city.sheet, city.header, city.label) == ("Kunden", "Ort", "1001 KD01001 Müller GmbH")
    assert (record.sheet, record.header) == ("Kontakte", "")
    assert record.label == "5001 Anna Berg, Kunde 1001 KD01001 Müller GmbH"
    assert ledger.holds == [Hold("clients", "1001", "city")]
