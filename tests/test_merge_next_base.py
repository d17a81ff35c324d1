"""sync/merge/next_base.py: the next base keeps held conflicts and unwritten workbook changes as in B."""

from __future__ import annotations

import pandas as pd

from sync.frames import AccountFrames
from sync.merge import Hold, WorkbookChanges, merge_account
from sync.merge.model import REMOVAL_COLUMNS, UPDATE_COLUMNS
from sync.merge.next_base import apply_holds, unwritten_holds
from tests.test_merge import DEL, MAPPING, NEU_AG, S0, billomat_side, frames, patched, workbook, workbook_side


def test_workbook_changes_that_did_not_land_come_again() -> None:
    base_state = S0
    billomat_state = patched(
        S0, {"clients.1001.city": "Pirna", "values.1001.11": "IT", "tags.1001": "A-Kunde", "clients.1009": NEU_AG,
             "clients.1002": DEL}, billomat=True,
    )  # fmt: skip
    result = merge_account(frames(base_state), frames(billomat_state), workbook(S0), MAPPING)
    first = workbook_side(result)
    assert len(first) == 6
    # Nothing was written to the workbook (it was open in Excel, say): the next run finds all of it again.
    next_base = result.next_base(frames(billomat_state), unwritten=result.to_workbook)
    again = merge_account(next_base, frames(billomat_state), workbook(S0), MAPPING)
    assert workbook_side(again) == first
    assert billomat_side(again, frames(billomat_state)) == set()
    # Without `unwritten`, the unchanged workbook would read as the accountant undoing all of it.
    careless = merge_account(
        result.next_base(frames(billomat_state)), frames(billomat_state), workbook(S0), MAPPING
    )
    assert billomat_side(careless, frames(billomat_state))


def _changes(updates: list[tuple[str, ...]], removals: list[tuple[str, str]], appended: dict[str, tuple[str, ...]]):
    return WorkbookChanges(
        updates=pd.DataFrame(
            [{"resource": r, "sheet": "", "row": 2, "key": k, "header": "", "field": f, "old": "", "new": n}
             for r, k, f, n in updates], columns=list(UPDATE_COLUMNS),
        ),
        appends={},
        removals=pd.DataFrame(
            [{"resource": r, "sheet": "", "row": 3, "key": k, "label": "", "after_delete": ""} for r, k in removals],
            columns=list(REMOVAL_COLUMNS),
        ),
        appended=appended,
    )  # fmt: skip


def test_each_unwritten_change_becomes_the_hold_that_brings_it_back() -> None:
    changes = _changes(
        [
            ("clients", "1001", "city", "Pirna"),  # a cell: that field
            ("client_tags", "1001", "tags", "A-Kunde"),  # the tags cell: the client's whole set
            ("clients", "1009", "id", "1009"),  # an adopted row's id: Billomat's record stays out
            ("clients", "row:5", "id", ""),  # a blanked id (recreate): nothing in B to keep
        ],
        [("contacts", "5002")],
        {"clients": ("1010",)},
    )
    assert unwritten_holds(changes) == [
        Hold("clients", "1001", "city"),
        Hold("client_tags", "1001"),
        Hold("clients", "1009"),
        Hold("contacts", "5002"),
        Hold("clients", "1010"),
    ]


def test_held_parts_keep_the_base_and_records_absent_there_stay_out() -> None:
    base, after = frames(S0), frames(patched(S0, {"clients.1001.city": "Pirna", "clients.1009": NEU_AG,
                                                  "values.1001.11": "IT", "contacts.5002": DEL}, billomat=True))  # fmt: skip
    kept = apply_holds(
        after,
        base,
        [Hold("clients", "1001", "city"), Hold("clients", "1009"), Hold("contacts", "5002"),
         Hold("client_property_values", "1001", "11")],
    )  # fmt: skip
    city = dict(zip(kept.clients["id"], kept.clients["city"], strict=True))
    assert city["1001"] == "Dresden" and "1009" not in city
    assert "5002" in set(kept.contacts["id"])
    values = {(c, p): v for c, p, v in kept.client_property_values[["client_id", "client_property_id", "value"]].itertuples(index=False)}
    assert values[("1001", "11")] == "Handel"
    # Nothing held: the next base is Billomat after the run.
    same = apply_holds(after, base, [])
    assert all(same.frame(n).equals(after.frame(n).reset_index(drop=True)) for n in ("clients", "contacts"))


def test_without_a_base_a_held_record_is_left_out() -> None:
    after = frames(S0)
    kept = apply_holds(after, None, [Hold("clients", "1001")])
    assert "1001" not in set(kept.clients["id"]) and isinstance(kept, AccountFrames)
    assert "1001" not in set(kept.client_tags["client_id"])
