"""Contacts that inherit their client's empty address fields (billomat-api.md §4.2), under either reading.

Billomat fills a contact's empty address fields from its client. Whether it copies them when the
contact is written ("copy") or shows the client's current value whenever the contact is read ("read")
is unconfirmed. Under "read", editing a client changes what all its inheriting contacts show, while
the workbook still holds the value they showed when it was written. billsync is right under both
readings because it never takes "Billomat shows the client's value here" as anybody's edit:

- a blank workbook cell where Billomat shows the client's value means the same (blank = inherit);
- a contact cell the accountant did not edit (it still holds the base's value) is never written
  where Billomat shows the client's value (sync/diff.py);
- Billomat showing the client's value in a contact's field is no Billomat-side change of that contact:
  nothing goes into the workbook and it is no conflict (sync/merge/fields.py);
- the next base keeps such an unedited cell at the base's value (`keep_unedited`), which is what the
  workbook holds, so the cell stays "not edited" however often the client changes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from sync.diff import INHERITED_CONTACT_FIELDS
from sync.frames import AccountFrames
from sync.mapping import SheetMap
from sync.text import clean, column_values, normalized


def client_values(contacts: pd.DataFrame, clients: pd.DataFrame, field: str) -> np.ndarray:
    """Per contact row: its client's value of `field` (None where the client is unknown: never equal)."""
    ids = column_values(clients, "id")
    keep = ~pd.Index(ids, dtype=object).duplicated(keep="last")
    index = pd.Index(ids[keep], dtype=object)
    values = clean(column_values(clients, field)[keep])
    if not len(contacts):
        return np.array([], dtype=object)
    out = np.full(len(contacts), None, dtype=object)
    if not len(index):
        return out
    at = index.get_indexer(pd.Index(column_values(contacts, "client_id"), dtype=object))
    found = at >= 0
    out[found] = values[at[found]]
    return out


def keep_unedited(
    next_base: AccountFrames, base: AccountFrames | None, workbook: pd.DataFrame, sheet: SheetMap | None
) -> AccountFrames:
    """`next_base` with every inherited contact cell the accountant did not edit kept at `base`'s value,
    where Billomat now shows the client's value there.

    `workbook` is the desired contacts frame (`_key` = contact id, raw workbook values). Without a
    base, a Kontakte sheet or such cells, `next_base` is returned as it is.
    """
    if base is None or sheet is None or not len(next_base.contacts) or not len(base.contacts):
        return next_base
    steps = {c.field: c.normalize for c in sheet.columns}
    fields = [f for f in sorted(INHERITED_CONTACT_FIELDS) if f in workbook.columns and f in steps]
    if not fields or not len(workbook):
        return next_base
    nxt = next_base.contacts
    ids = pd.Index(column_values(nxt, "id"), dtype=object)
    b_ids = column_values(base.contacts, "id")
    b_unique = ~pd.Index(b_ids, dtype=object).duplicated(keep="last")
    at_b = pd.Index(b_ids[b_unique], dtype=object).get_indexer(ids)
    w_keys = column_values(workbook, "_key")
    w_unique = ~pd.Index(w_keys, dtype=object).duplicated(keep=False)  # a doubled key is a row problem
    at_w = pd.Index(w_keys[w_unique], dtype=object).get_indexer(ids)
    rows = np.flatnonzero((at_b >= 0) & (at_w >= 0))
    if not rows.size:
        return next_base
    out = nxt.copy()
    kept = False
    for field in fields:
        now = clean(column_values(nxt, field))[rows]
        was = clean(column_values(base.contacts, field)[b_unique])[at_b[rows]]
        shows_client = now == client_values(nxt, next_base.clients, field)[rows]
        candidates = np.flatnonzero((now != was) & shows_client)
        if not candidates.size:
            continue
        cell = clean(column_values(workbook, field)[w_unique])[at_w[rows[candidates]]]
        unedited = normalized(cell, steps[field]) == normalized(was[candidates], steps[field])
        if unedited.any():
            if field not in out.columns:
                out[field] = ""
            column = clean(column_values(out, field)).copy()
            column[rows[candidates[unedited]]] = was[candidates[unedited]]
            out[field] = pd.Series(column, index=out.index, dtype=object)
            kept = True
    return replace(next_base, contacts=out) if kept else next_base
