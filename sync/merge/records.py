"""Record-level fates: creates, deletes, appends, rows to remove, and the conflicts of edit vs delete."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sync.merge.context import Context
from sync.merge.ledger import short_label
from sync.merge.states import States
from sync.merge.universe import (
    APPEND,
    CREATE,
    DELETE,
    GONE,
    KEEP,
    MERGE,
    NONE,
    RECREATE,
    REMOVE,
    Universe,
)
from sync.merge.vectors import gather, positions, take
from sync.text import column_values


def touched_by_contacts(states: States, clients: Universe, contacts: Universe) -> None:
    """A client is edited on a side when that side created, changed or deleted one of its contacts."""
    wf = states.W["contacts"]
    bf, _ = states.frames_b["contacts"]
    cf, _ = states.frames_c["contacts"]
    w_client = take(column_values(wf, "client_key"), contacts.pw)
    w_touch = contacts.in_w & (contacts.new | contacts.w_edit)
    hit = clients.index.get_indexer(pd.Index(w_client[w_touch], dtype=object))
    clients.w_edit[hit[hit >= 0]] = True
    c_client = take(column_values(cf, "client_id"), contacts.pc)
    b_client = take(column_values(bf, "client_id"), contacts.pb)
    created = contacts.in_c & ~contacts.in_b
    edited = contacts.in_c & contacts.in_b & contacts.c_edit
    deleted = contacts.in_b & ~contacts.in_c
    ids = np.concatenate([c_client[created | edited], b_client[deleted | edited]])
    hit = clients.index.get_indexer(pd.Index(ids, dtype=object))
    clients.c_edit[hit[hit >= 0]] = True


class RecordFates:
    """Decides each record's fate on both sides; lists and decides the record-level conflicts."""

    def __init__(self, ctx: Context, resource: str) -> None:
        self.ctx = ctx
        self.resource = resource

    def decide(self, u: Universe, clients: Universe | None = None) -> None:
        """Set `u.fate`; a contact follows its client's record-level fate (`clients`)."""
        resource, ledger, scope = self.resource, self.ctx.ledger, self.ctx.scope
        in_w, in_b, in_c = u.in_w, u.in_b, u.in_c
        u.fate[in_w & in_c] = MERGE
        u.fate[u.new] = CREATE
        deleted_w = ~in_w & in_b & in_c & ~u.frozen
        created_c = ~in_w & ~in_b & in_c & ~u.frozen
        u.fate[created_c] = APPEND
        u.fate[created_c & pd.Index(u.keys, dtype=object).isin(list(scope.left_out[resource]))] = KEEP
        u.fate[deleted_w & ~u.c_edit] = DELETE
        gone_c = in_w & ~in_c & ~u.new
        u.fate[gone_c & in_b & ~u.w_edit] = REMOVE
        bf, _ = self.ctx.states.frames_b[resource]
        cf, _ = self.ctx.states.frames_c[resource]
        wf = self.ctx.states.W[resource]

        done = np.zeros(len(u.keys), dtype=bool)
        owner = client = None
        if resource == "contacts" and clients is not None and len(u.keys):
            client, owner, done = self.follow_clients(u, clients)

        for i in np.flatnonzero(deleted_w & u.c_edit & ~done):
            key = u.keys[i]
            side = ledger.side(resource, key, "")
            ledger.conflict(
                resource,
                key,
                "",
                row=None,
                base=short_label(resource, bf, u.pb[i]),
                billomat=short_label(resource, cf, u.pc[i]),
                sheet_value=None,
                kind="deleted_vs_edited_in_billomat",
                resolved_by=side,
            )
            if side == "sheet":
                u.fate[i] = DELETE
            elif side == "billomat":
                u.fate[i] = APPEND
            else:
                u.fate[i] = KEEP
                scope.left_out[resource].add(key)
                ledger.hold(resource, key)
        for i in np.flatnonzero(gone_c & (u.w_edit | ~in_b) & ~done):
            key, row = u.keys[i], int(u.rows[i])
            side = ledger.side(resource, key, "")
            ledger.conflict(
                resource,
                key,
                "",
                row=row,
                base=short_label(resource, bf, u.pb[i]) if in_b[i] else None,
                billomat=None,
                sheet_value=short_label(resource, wf, u.pw[i]),
                kind="edited_vs_deleted_in_billomat" if in_b[i] else "no_base",
                resolved_by=side,
            )
            if side == "sheet":
                u.fate[i] = RECREATE
            elif side == "billomat":
                u.fate[i] = REMOVE
            else:
                u.fate[i] = GONE
                if in_b[i]:
                    ledger.hold(resource, key)
        self.workbook_rows(u, owner, client)

    def follow_clients(self, u: Universe, clients: Universe) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each contact's client, that client's fate, and the contacts whose fate is their client's.

        The workbook rows of a client Billomat deleted are removed, recreated or held with it; the
        Billomat records of a client the workbook lacks are held or appended with it, and nothing is
        done about those of a client deleted from the workbook (deleting the client deletes them).
        """
        states = self.ctx.states
        bf, _ = states.frames_b["contacts"]
        cf, _ = states.frames_c["contacts"]
        wf = states.W["contacts"]
        in_w, in_c = u.in_w, u.in_c
        w_client = take(column_values(wf, "client_key"), u.pw)
        c_client = take(column_values(cf, "client_id"), u.pc)
        b_client = take(column_values(bf, "client_id"), u.pb)
        client = np.where(in_w, w_client, np.where(in_c, c_client, b_client))
        owner = gather(clients.fate, positions(clients.index, client), NONE)
        done = in_w & ~in_c & np.isin(owner, (REMOVE, RECREATE, GONE))
        done |= ~in_w & in_c & ~u.frozen & np.isin(owner, (KEEP, APPEND))
        done |= ~in_w & ~u.frozen & (owner == DELETE)
        u.fate[done] = owner[done]
        u.fate[done & (owner == DELETE)] = NONE
        return client, owner, done

    def workbook_rows(self, u: Universe, owner: np.ndarray | None, client: np.ndarray | None) -> None:
        """The rows to remove from the workbook, and the id cells of recreated rows to blank."""
        resource, out = self.resource, self.ctx.out
        wf = self.ctx.states.W[resource]
        removed = u.fate == REMOVE
        after_delete = np.full(len(u.keys), "", dtype=object)
        if resource == "contacts" and owner is not None and client is not None:
            # Contact rows left behind when their client's row was deleted: Billomat deletes them with it.
            orphans = u.in_w & u.in_c & (owner == DELETE)
            removed |= orphans
            after_delete[orphans] = client[orphans]
        for i in np.flatnonzero(removed):
            out.removal(
                resource, int(u.rows[i]), u.keys[i], short_label(resource, wf, u.pw[i]), after_delete[i]
            )
        for i in np.flatnonzero((u.fate == RECREATE) & ~u.new):
            # The id cell is blanked; the push writes the new id there (writeback.NewIds).
            out.key_cell(resource, u.rows[i], u.keys[i], u.keys[i], "")
