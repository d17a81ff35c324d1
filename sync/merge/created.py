"""Records created on both sides: a new workbook row that meets a record Billomat created since B."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sync.keys import is_new_key
from sync.merge.context import Context
from sync.merge.ledger import short_label
from sync.merge.model import CREATE_MARKER_PREFIX, Side
from sync.text import column_values


class CreatedBoth:
    """Finds created_both conflicts, holds them, or adopts Billomat's record into the workbook row."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def match(self, resource: str) -> None:
        """W's new rows against the records Billomat created since B with the same identity."""
        states, scope, ledger = self.ctx.states, self.ctx.scope, self.ctx.ledger
        wf = states.W[resource]
        if not len(wf):
            return
        keys = column_values(wf, "_key")
        cf, c_index = states.frames_c[resource]
        _, b_index = states.frames_b[resource]
        if c_index.equals(b_index):
            return  # Billomat holds exactly the records of the base: none was created since (the usual run)
        c_ids = column_values(cf, "id")
        created = ~c_index.isin(b_index) & ~c_index.isin(keys) & ~c_index.isin(list(scope.unread[resource]))
        if resource == "contacts" and scope.marked_clients and created.any():
            # Contacts an interrupted run created for a client it created: the loader adopts them too.
            ours = created & pd.Index(column_values(cf, "client_id"), dtype=object).isin(list(scope.marked_clients))
            ours &= (
                pd.Series(column_values(cf, "customfield"), dtype=object)
                .astype(str)
                .str.startswith(CREATE_MARKER_PREFIX)
                .to_numpy()
            )
            scope.unread[resource].update(c_ids[ours].tolist())
            created &= ~ours
        if not created.any():
            return
        new = np.zeros(len(keys), dtype=bool)
        loose = np.flatnonzero(
            ~pd.Index(keys, dtype=object).isin(b_index) & ~pd.Index(keys, dtype=object).isin(c_index)
        )
        new[loose] = [is_new_key(k) for k in keys[loose]]  # only the few keys neither state knows
        if not new.any():
            return
        c_rows = np.flatnonzero(created)
        identities: dict[tuple[str, str, str], int] = {}
        for i in c_rows.tolist():
            for ident in _identities(resource, cf, i, link="client_id"):
                identities.setdefault(ident, i)
        taken: set[int] = set()
        for j in np.flatnonzero(new).tolist():
            hit = next(
                (
                    identities[ident]
                    for ident in _identities(resource, wf, j, link="client_key")
                    if ident in identities
                ),
                None,
            )
            if hit is None or hit in taken:
                continue
            taken.add(hit)
            w_key, c_id, row = keys[j], c_ids[hit], int(wf["_row"].iloc[j])
            if str(column_values(cf, "customfield")[hit] or "").startswith(CREATE_MARKER_PREFIX):
                # billsync created it for this row in a run that was interrupted before the id reached
                # the workbook: no conflict and no row of its own; the loader adopts it by its marker
                # (load.apply_plan, `marked`) and the write-back puts its id into the row.
                scope.unread[resource].add(c_id)
                if resource == "clients":
                    scope.marked_clients.add(c_id)
                continue
            side = ledger.side(resource, w_key, "")
            ledger.conflict(
                resource,
                w_key,
                "",
                row=row,
                base=None,
                billomat=short_label(resource, cf, hit),
                sheet_value=short_label(resource, wf, j),
                kind="created_both",
                billomat_id=c_id,
                resolved_by=side,
            )
            if side is None:
                # Held: the row is not created, Billomat's record is not appended, nor anything of either.
                scope.skip_w[resource].add(w_key)
                scope.left_out[resource].add(c_id)
                ledger.hold(resource, c_id)
            else:
                self.adopt(resource, w_key, c_id, row, side)

    def adopt(self, resource: str, w_key: str, c_id: str, row: int, side: Side) -> None:
        """The workbook row becomes Billomat's record: its key, and every reference to it, is the id."""
        states, out = self.ctx.states, self.ctx.out
        self.ctx.scope.forced[resource][c_id] = side
        out.key_cell(resource, row, c_id, "" if w_key.startswith("row:") else w_key, c_id)
        frames = ("clients", "contacts", "values", "tags") if resource == "clients" else ("contacts",)
        for name in frames:
            frame = states.W[name]
            column = "_key" if name == resource else "client_key"
            if column not in frame.columns or not len(frame):
                continue
            hit = column_values(frame, column) == w_key
            if hit.any():
                frame = frame.copy()
                frame.loc[hit, column] = c_id
                states.W[name] = frame
                if (
                    name == "contacts"
                    and resource == "clients"
                    and self.ctx.terms.shows("contacts", "client_id")
                    and not w_key.startswith("row:")
                ):
                    for r, k in zip(frame["_row"][hit], column_values(frame, "_key")[hit], strict=True):
                        out.cell("contacts", int(r), k, "client_id", w_key, c_id)


def _norm_identity(value: object) -> str:
    if not isinstance(value, str):
        return ""
    return " ".join(value.split()).casefold()


def _identities(resource: str, frame: pd.DataFrame, i: int, *, link: str) -> list[tuple[str, str, str]]:
    """How a new record is recognised on the other side (never by an empty value)."""
    row = frame.iloc[int(i)]

    def get(name: str) -> str:
        value = row.get(name, "")
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)

    email = _norm_identity(get("email"))
    out: list[tuple[str, str, str]] = []
    if resource == "clients":
        name = _norm_identity(get("name")) or _norm_identity(f"{get('first_name')} {get('last_name')}")
        if name:
            out.append(("", "name", name))
        if email:
            out.append(("", "email", email))
    else:
        client = get(link)
        person = _norm_identity(f"{get('first_name')} {get('last_name')}")
        if person:
            out.append((client, "person", person))
        if email:
            out.append((client, "email", email))
    return out
