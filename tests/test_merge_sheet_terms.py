"""sync/merge/sheet_terms.py: the merge's API-term changes become sheet, row, header and cell text."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from sync.mapping import PropertiesMap
from sync.merge.model import UPDATE_COLUMNS
from sync.merge.sheet_terms import SheetTerms, WorkbookOut
from tests.test_merge import MAPPING, NEU_AG, S0, frames, patched


@pytest.fixture
def terms() -> SheetTerms:
    return SheetTerms(MAPPING, [frames(S0).client_properties])


def test_fields_properties_and_tags_have_their_sheet_and_header(terms: SheetTerms) -> None:
    assert terms.sheet("clients") == terms.sheet("client_tags") == terms.sheet("client_property_values") == "Kunden"
    assert terms.sheet("contacts") == "Kontakte"
    assert terms.header("clients", "city") == "Ort"
    assert terms.header("client_property_values", "11") == "Branche"
    assert terms.header("client_property_values", "99") == "99"  # a property no state knows: its id
    assert terms.header("client_tags", "tags") == "Schlagwörter"
    assert terms.shows("contacts", "client_id") and not terms.shows("clients", "no_such_field")


def test_a_checkbox_shows_the_mappings_labels_and_tags_one_sorted_cell() -> None:
    cs = MAPPING.sheets["clients"]
    props = PropertiesMap(checkbox_checked="ja", checkbox_unchecked="nein")
    mapping = replace(MAPPING, sheets={**MAPPING.sheets, "clients": replace(cs, properties=props)})
    terms = SheetTerms(mapping, [frames(S0).client_properties])
    assert terms.shown_value("12", "1") == "ja" and terms.shown_value("12", "0") == "nein"
    assert terms.shown_value("11", "1") == "1"  # a text property as it is
    assert terms.tags_cell(["newsletter", "A-Kunde", "Newsletter", "A-Kunde"]) == "A-Kunde, Newsletter, newsletter"


def test_updates_are_laid_out_by_sheet_row_and_header(terms: SheetTerms) -> None:
    out = WorkbookOut(terms)
    out.cell("contacts", 3, "5001", "email", "a@x.de", "b@x.de")
    out.cells("clients", np.array([4, 2]), np.array(["1002", "1001"], dtype=object), "city",
              np.array(["Leipzig", None], dtype=object), np.array(["Halle", "Pirna"], dtype=object))  # fmt: skip
    out.key_cell("clients", 2, "1001", "neu-1", "1001")
    out.property_cell(2, "1001", "11", "Bau", "IT")
    out.tags(2, "1001", ["B", "A"], ["A", "B"])  # the same cell: nothing to write
    out.tags(4, "1002", ["A"], ["A", "C"])
    changes = out.changes(frames(S0), {})
    rows = [tuple(r) for r in changes.updates[list(UPDATE_COLUMNS)].itertuples(index=False)]
    assert rows == [
        ("contacts", "Kontakte", 3, "5001", "E-Mail", "email", "a@x.de", "b@x.de"),
        ("clients", "Kunden", 2, "1001", "Billomat-ID", "id", "neu-1", "1001"),
        ("client_property_values", "Kunden", 2, "1001", "Branche", "11", "Bau", "IT"),
        ("clients", "Kunden", 2, "1001", "Ort", "city", "", "Pirna"),  # a missing value is read as ""
        ("clients", "Kunden", 4, "1002", "Ort", "city", "Leipzig", "Halle"),
        ("client_tags", "Kunden", 4, "1002", "Schlagwörter", "tags", "A", "A, C"),
    ]
    assert changes.counts() == {"update": 6, "append": 0, "remove": 0}


def test_removals_and_appended_records_as_a_pull_writes_them(terms: SheetTerms) -> None:
    out = WorkbookOut(terms)
    out.removal("contacts", 7, "5002", "Jan Kos", "1002")
    out.removal("clients", 5, "1003", "KD01003 Weber AG", "")
    current = frames(patched(S0, {"clients.1009": NEU_AG}, billomat=True))
    changes = out.changes(current, {"clients": ("1009",)})
    assert list(changes.removals["sheet"]) == ["Kontakte", "Kunden"]  # by sheet, then row
    assert list(changes.removals["after_delete"]) == ["1002", ""]
    (appended,) = changes.appends.values()
    assert isinstance(appended, pd.DataFrame) and list(appended["Firma"]) == ["Neu AG"]
    assert changes.appended == {"clients": ("1009",)}
