"""sync/merge/fields.py: the field-level merge — inheriting contacts, the client link, missing columns."""

from __future__ import annotations

from sync.desired import Desired
from sync.merge import merge_account
from tests.test_merge import MAPPING, S0, billomat_side, frames, patched, workbook, workbook_side


def test_a_contact_with_its_own_value_emptied_in_the_sheet_inherits_again() -> None:
    base_state = patched(S0, {"contacts.5001.city": "Radebeul"}, billomat=True)
    sheet = patched(base_state, {"contacts.5001.city": ""}, billomat=False)
    current = frames(base_state)
    result = merge_account(frames(base_state), current, workbook(sheet), MAPPING)
    assert billomat_side(result, current) == {"contacts update 5001 city="}  # Billomat fills in Dresden


def test_a_contact_moved_to_different_clients_on_each_side_is_a_conflict() -> None:
    current = frames(patched(S0, {"contacts.5001.client_id": "1002"}, billomat=True))
    sheet = patched(S0, {"contacts.5001.client_id": "1003"}, billomat=False)
    result = merge_account(frames(S0), current, workbook(sheet), MAPPING)
    (conflict,) = result.conflicts
    assert (conflict.field, conflict.header, conflict.billomat, conflict.sheet_value) == (
        "client_id", "Kunden-ID", "1002", "1003",
    )  # fmt: skip


def test_missing_column_is_left_alone() -> None:
    # The workbook has no Ort column: neither a change in Billomat nor "" in the workbook means anything.
    current = frames(patched(S0, {"clients.1001.city": "Meißen"}, billomat=True))
    wanted = workbook(S0)
    wanted = Desired(
        **{
            **wanted.__dict__,
            "clients": wanted.clients.drop(columns=["city"]),
            "missing": {"clients": ("city",)},
        }
    )
    result = merge_account(frames(S0), current, wanted, MAPPING)
    assert billomat_side(result, current) == set() and workbook_side(result) == set()
