"""sync/merge/created.py: records created on both sides — named, held, or adopted."""

from __future__ import annotations

import pandas as pd

from sync.desired import Desired
from sync.merge import merge_account
from tests.diffkit import desired
from tests.test_merge import (
    CASES,
    MAPPING,
    NEU_AG,
    NEU_AG_ROW,
    S0,
    billomat_side,
    frames,
    patched,
    run_case,
    workbook,
    workbook_side,
)


def test_created_both_names_both_records() -> None:
    case = next(c for c in CASES if c.name == "client: created on both sides with the same name")
    result, _ = run_case(case)
    (conflict,) = result.conflicts
    assert (conflict.key, conflict.billomat_id, conflict.row) == ("row:5", "1009", 5)
    assert conflict.billomat == "KD01009 Neu AG" and conflict.sheet_value == "Neu AG"


def test_adopting_a_neu_row_rewrites_its_contacts_references() -> None:
    current = frames(patched(S0, {"clients.1009": NEU_AG}, billomat=True))
    wanted = workbook(patched(S0, {"clients.+1": NEU_AG_ROW}, billomat=False))
    # The new row is keyed neu-1 and a new contact in Kontakte refers to it.
    clients = wanted.clients.assign(_key=wanted.clients["_key"].replace({"row:5": "neu-1"}))
    values = wanted.property_values.assign(
        client_key=wanted.property_values["client_key"].replace({"row:5": "neu-1"})
    )
    contact = {"_row": 4, "_key": "row:4", "client_key": "neu-1", "first_name": "Ole", "last_name": "Neu"}
    contacts = pd.concat([wanted.contacts, desired(contacts=[contact]).contacts], ignore_index=True).fillna(
        ""
    )
    wanted = Desired(
        **{**wanted.__dict__, "clients": clients, "contacts": contacts, "property_values": values}
    )
    result = merge_account(frames(S0), current, wanted, MAPPING, prefer="sheet")
    assert workbook_side(result) == {
        "Kunden 1009 Billomat-ID=1009", "Kunden 1009 Kundennummer=KD01009", "Kontakte row:4 Kunden-ID=1009",
    }  # fmt: skip
    assert billomat_side(result, current) == {"contacts create row:4"}
    (created,) = result.to_billomat.contacts[result.to_billomat.contacts["_key"] == "row:4"]["client_key"]
    assert created == "1009"
