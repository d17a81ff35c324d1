"""sync/merge/records.py: record-level fates — rows left out for a problem are left alone on both sides."""

from __future__ import annotations

from sync.desired import Desired
from sync.merge import merge_account
from tests.test_merge import DEL, MAPPING, S0, billomat_side, frames, patched, workbook, workbook_side


def test_rows_left_out_for_a_problem_are_left_alone() -> None:
    # desired.py left row 1002 out (a bad email, say): it reads neither as deleted nor as appended, and
    # Billomat's change to it waits until the row is readable again.
    wanted = workbook(patched(S0, {"clients.1002": DEL}, billomat=False))
    wanted = Desired(
        **{**wanted.__dict__, "left_out": {"clients": frozenset({"1002"}), "contacts": frozenset()}}
    )
    current = frames(patched(S0, {"clients.1002.city": "Halle"}, billomat=True))
    result = merge_account(frames(S0), current, wanted, MAPPING)
    assert not result.conflicts
    assert billomat_side(result, current) == set()
    assert workbook_side(result) == set()
