"""The next base snapshot: Billomat after the run, with what the merge held kept as it was in B."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from sync.frames import RESOURCES, AccountFrames
from sync.merge.model import Hold, WorkbookChanges
from sync.text import column_values


def unwritten_holds(changes: WorkbookChanges) -> list[Hold]:
    """Workbook changes that did not land are held like conflicts, so the next run makes them again."""
    holds: list[Hold] = []
    updates = changes.updates
    for resource, key, fld, new in zip(
        column_values(updates, "resource"),
        column_values(updates, "key"),
        column_values(updates, "field"),
        column_values(updates, "new"),
        strict=True,
    ):
        if resource == "client_tags":
            holds.append(Hold("client_tags", key))
        elif resource in ("clients", "contacts") and fld == "id":
            # An adopted row whose id was not written: Billomat's record stays out of the base (so the
            # row and the record meet as created_both again). A blanked id (recreate) has nothing in B.
            if new:
                holds.append(Hold(resource, new))
        else:
            holds.append(Hold(resource, key, fld))
    for resource, key in zip(column_values(changes.removals, "resource"), column_values(changes.removals, "key"), strict=True):
        holds.append(Hold(resource, key))
    for resource, ids in changes.appended.items():
        holds += [Hold(resource, key) for key in ids]
    return holds


def apply_holds(after: AccountFrames, base: AccountFrames | None, holds: Iterable[Hold]) -> AccountFrames:
    """`after` with every held part put back as it was in `base` (absent there: left out of the base)."""
    b = base if base is not None else AccountFrames.from_records({})
    frames = {name: after.frame(name) for name in RESOURCES}
    b_clients, b_contacts = set(column_values(b.clients, "id")), set(column_values(b.contacts, "id"))
    whole: set[str] = set()  # clients with their contacts, values and tags
    rows: set[str] = set()  # clients with their values and tags
    contacts: set[str] = set()
    tags: set[str] = set()
    fields: list[Hold] = []
    for h in holds:
        if h.resource == "clients":
            if not h.field:
                (whole if h.whole else rows).add(h.key)
            elif h.key not in b_clients:
                rows.add(h.key)  # no base value to keep: the record stays out of the base
            else:
                fields.append(h)
        elif h.resource == "contacts":
            if not h.field or h.key not in b_contacts:
                contacts.add(h.key)
            else:
                fields.append(h)
        elif h.resource == "client_property_values":
            if h.key not in b_clients:
                rows.add(h.key)
            else:
                fields.append(h)
        elif h.resource == "client_tags":
            (tags if h.key in b_clients else rows).add(h.key)

    def swap(name: str, keep_out: np.ndarray, bring: np.ndarray) -> None:
        now, old = frames[name], b.frame(name)
        kept, back = now[~keep_out], old[bring]
        frames[name] = (
            pd.concat([kept, back], ignore_index=True) if len(back) else kept.reset_index(drop=True)
        )

    def where(name: str, column: str, keys: set[str], frame: pd.DataFrame | None = None) -> np.ndarray:
        frame = frames[name] if frame is None else frame
        return (
            pd.Index(column_values(frame, column), dtype=object).isin(list(keys))
            if keys
            else np.zeros(len(frame), dtype=bool)
        )

    clients = whole | rows
    for name, column, keys in (
        ("clients", "id", clients),
        ("client_property_values", "client_id", clients),
        ("client_tags", "client_id", clients | tags),
        ("contacts", "client_id", whole),
        ("contacts", "id", contacts),
    ):
        if keys:
            swap(name, where(name, column, keys), where(name, column, keys, b.frame(name)))
    for h in fields:
        if h.key in clients:
            continue
        if h.resource == "client_property_values":
            now, old = frames[h.resource], b.frame(h.resource)
            out_now = (column_values(now, "client_id") == h.key) & (column_values(now, "client_property_id") == h.field)
            in_old = (column_values(old, "client_id") == h.key) & (column_values(old, "client_property_id") == h.field)
            swap(h.resource, out_now, in_old)
            continue
        now, old = frames[h.resource], b.frame(h.resource)
        value = column_values(old, h.field)[column_values(old, "id") == h.key]
        now = now.copy() if h.field in now.columns else now.assign(**{h.field: ""})
        now.loc[column_values(now, "id") == h.key, h.field] = value[-1] if len(value) else ""
        frames[h.resource] = now
    return AccountFrames(**frames)
