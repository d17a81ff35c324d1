"""sync/merge/universe.py: one resource's records aligned across the workbook, the base and Billomat."""

from __future__ import annotations

import numpy as np

from sync.merge.states import Scope, States
from sync.merge.universe import NONE, RECREATE, align
from tests.test_merge import DEL, NEU_AG, NEU_AG_ROW, S0, frames, patched, workbook


def test_the_workbooks_rows_come_first_then_records_only_the_base_or_billomat_hold() -> None:
    sheet = patched(S0, {"clients.1003": DEL, "clients.+1": NEU_AG_ROW}, billomat=False)
    billomat = patched(S0, {"clients.1009": NEU_AG}, billomat=True)
    wanted = workbook(sheet)
    states = States.of(frames(S0), frames(billomat), wanted, [])
    u = align(states, Scope.of(wanted), "clients")
    assert u.keys.tolist() == ["1001", "1002", "row:4", "1003", "1009"]
    assert u.in_w.tolist() == [True, True, True, False, False]
    assert u.in_b.tolist() == [True, True, False, True, False]
    assert u.in_c.tolist() == [True, True, False, True, True]
    assert u.new.tolist() == [False, False, True, False, False]
    assert u.rows.tolist() == [2, 3, 4, -1, -1]
    assert (u.fate == NONE).all() and not u.w_edit.any() and not u.c_edit.any()


def test_rows_a_held_created_both_keeps_out_are_not_aligned_nor_their_contacts() -> None:
    wanted = workbook(S0)
    states = States.of(frames(S0), frames(S0), wanted, [])
    scope = Scope.of(wanted)
    scope.skip_w["clients"].add("1001")
    clients = align(states, scope, "clients")
    # Its record is still one of the base's and Billomat's, but without a workbook row.
    assert clients.keys.tolist() == ["1002", "1003", "1001"]
    assert clients.in_w.tolist() == [True, True, False]
    contacts = align(states, scope, "contacts")
    assert states.W["contacts"]["_key"].tolist() == ["5002"]  # Anna's row belongs to client 1001
    assert contacts.in_w.tolist() == [True, False]


def test_a_recreated_clients_key_becomes_its_row_key() -> None:
    wanted = workbook(S0)
    u = align(States.of(frames(S0), frames(S0), wanted, []), Scope.of(wanted), "clients")
    u.fate[1] = RECREATE
    keys = np.array(["1001", "1002", "1002"], dtype=object)
    assert u.rekeyed(np.array([0, 1, 1]), keys).tolist() == ["1001", "row:3", "row:3"]
    assert keys.tolist() == ["1001", "1002", "1002"]  # a copy: the caller's keys stay


def test_an_unchanged_account_aligns_every_side_on_the_workbooks_rows() -> None:
    wanted = workbook(S0)
    u = align(States.of(frames(S0), frames(S0), wanted, []), Scope.of(wanted), "clients")
    assert u.keys.tolist() == ["1001", "1002", "1003"]
    assert u.pw.tolist() == u.pb.tolist() == u.pc.tolist() == [0, 1, 2]
    u.pb[0] = -1  # each side has its own positions (the fast path shares no array)
    assert u.pw[0] == 0 and u.pc[0] == 0
