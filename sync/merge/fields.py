"""The field-level three-way merge of clients' and contacts' columns (contacts inherit from their client).

Per column and record: W vs B and C vs B after the column's normaliser decide who changed the value;
one side changed: its value wins; both, differently: conflict (`both_changed`, `stale_copy`, or
`no_base` without a base). Read-only columns follow Billomat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sync.desired import row_key
from sync.diff import writable_columns
from sync.frames import object_frame
from sync.mapping import ColumnMap, SheetMap
from sync.merge.context import Context
from sync.merge.model import STALE_COPY
from sync.merge.universe import CREATE, MERGE, RECREATE, Universe
from sync.merge.vectors import Inherit, differs, positions, take
from sync.text import clean, column_values


@dataclass
class Cells:
    """One compared column of a record resource: values aligned on the universe and what changed."""

    col: ColumnMap
    w_field: str
    w: np.ndarray | None
    b: np.ndarray
    c: np.ndarray
    wchg: np.ndarray | None
    cchg: np.ndarray
    wc: np.ndarray | None  # W differs from C
    stale: np.ndarray | None = None  # W holds an older state's value (unknown origin): a conflict


class FieldMerge:
    """Compares and merges the mapped columns of one record resource (clients or contacts)."""

    def __init__(self, ctx: Context, resource: str) -> None:
        self.ctx = ctx
        self.resource = resource
        self.sm: SheetMap = ctx.terms.sheet_map(resource)

    def columns(self) -> tuple[list[ColumnMap], set[str]]:
        """Every writable column (C's edits count on all of them), and the fields the workbook has."""
        sm, resource = self.sm, self.resource
        wf = self.ctx.states.W[resource]
        missing = set(self.ctx.states.desired.missing.get(resource, ()))
        cols = [c for c in writable_columns(sm) if c.field != "client_id"]
        in_w = {c.field for c in cols if c.field in wf.columns and c.field not in missing}
        if resource == "contacts":
            # The contact's client link, compared as keys (no normaliser); sheet_terms knows its header.
            cols.insert(0, ColumnMap(header="", field="client_id", normalize=()))
            if "client_key" in wf.columns and "client_id" not in missing and _writable_link(sm):
                in_w.add("client_id")
        return cols, in_w

    def compare(self, u: Universe) -> list[Cells]:
        """Each column's values in W, B and C and who changed them; marks `u.w_edit` / `u.c_edit`."""
        resource, states = self.resource, self.ctx.states
        bf, _ = states.frames_b[resource]
        cf, _ = states.frames_c[resource]
        wf = states.W[resource]
        cols, in_w = self.columns()
        in_b, in_c, in_w_rows = u.in_b, u.in_c, u.in_w
        both_bc = in_b & in_c
        w_b = in_w_rows & in_b
        w_c = in_w_rows & in_c
        inherit_b = inherit_c = None
        if resource == "contacts":
            inherit_b = Inherit(states.frames_b["clients"], take(column_values(bf, "client_id"), u.pb))
            inherit_c = Inherit(states.frames_c["clients"], take(column_values(cf, "client_id"), u.pc))
        out: list[Cells] = []
        for col in cols:
            steps = col.normalize
            b = take(column_values(bf, col.field), u.pb)
            c = take(column_values(cf, col.field), u.pc)
            cchg = differs(b, c, steps, both_bc)
            if inherit_c is not None and cchg.any():
                # Billomat showing the client's value in a contact's field is no change of the contact
                # (under the "read" reading it follows every change of the client): sync/inherit.py.
                at = np.flatnonzero(cchg)
                shown = inherit_c(col.field, at)
                if shown is not None:
                    cchg[at[clean(c[at]) == shown]] = False
            u.c_edit |= cchg
            if col.field not in in_w:
                out.append(Cells(col, col.field, None, b, c, None, cchg, None))
                continue
            w_field = "client_key" if resource == "contacts" and col.field == "client_id" else col.field
            w = take(column_values(wf, w_field), u.pw)
            wchg = differs(b, w, steps, w_b, inherit_b, col.field)
            wc = differs(c, w, steps, w_c, inherit_c, col.field)
            u.w_edit |= wchg
            stale = None
            if states.older:
                stale = self.stale_cells(u, col.field, w, steps, wchg & wc & in_c)
                cchg = cchg | stale
                u.c_edit |= stale
            out.append(Cells(col, w_field, w, b, c, wchg, cchg, wc, stale))
        return out

    def stale_cells(
        self, u: Universe, fld: str, w: np.ndarray, steps: tuple[str, ...], mask: np.ndarray
    ) -> np.ndarray:
        """Where the workbook's value (an edit against B, differing from C) equals an older state's value."""
        out = np.zeros(len(w), dtype=bool)
        if not mask.any():
            return out
        for frames in self.ctx.states.frames_o:
            frame, index = frames[self.resource]
            at = index.get_indexer(u.index) if len(index) else np.full(len(w), -1, dtype=np.int64)
            older = take(column_values(frame, fld), at)
            where = mask & (at >= 0) & ~out
            out |= where & ~differs(older, w, steps, where)
        return out

    def merge(self, u: Universe, cells: list[Cells], clients: Universe | None = None) -> pd.DataFrame:
        """The rows Billomat should hold: W's rows with the merged values; the workbook's cell updates."""
        resource, ledger, out_w = self.resource, self.ctx.ledger, self.ctx.out
        wf = self.ctx.states.W[resource]
        in_b = u.in_b
        merging = u.fate == MERGE
        both = merging & in_b
        base_less = merging & ~in_b
        w_rows = u.pw >= 0
        keep = w_rows & np.isin(u.fate, (MERGE, CREATE, RECREATE))
        data: dict[str, np.ndarray] = {}
        for cell in cells:
            if cell.w is None:
                continue
            assert cell.wchg is not None and cell.wc is not None
            fld = cell.col.field
            value = cell.w.copy()
            take_c = merging & ~(both & cell.wchg & ~cell.cchg)
            value[take_c] = cell.c[take_c]
            # Billomat's change reaches the workbook cell, unless the cell already means the same (a
            # blank contact cell where Billomat holds the client's value).
            only_c = both & cell.cchg & ~cell.wchg & cell.wc
            if only_c.any():
                out_w.cells(resource, u.rows[only_c], u.keys[only_c], fld, cell.w[only_c], cell.c[only_c])
            conflict = (both & cell.wchg & cell.cchg & cell.wc) | (base_less & cell.wc)
            for i in np.flatnonzero(conflict):
                key = u.keys[i]
                side = ledger.side(resource, key, fld, u.side[i])
                stale = cell.stale is not None and cell.stale[i]
                ledger.conflict(
                    resource,
                    key,
                    fld,
                    forced=u.side[i],
                    row=int(u.rows[i]),
                    base=cell.b[i] if in_b[i] else None,
                    billomat=cell.c[i],
                    sheet_value=cell.w[i],
                    kind=(STALE_COPY if stale else "both_changed") if in_b[i] else "no_base",
                    resolved_by=side,
                )
                if side == "sheet":
                    value[i] = cell.w[i]
                elif side == "billomat":
                    out_w.cell(resource, u.rows[i], key, fld, cell.w[i], cell.c[i])
                else:
                    ledger.hold(resource, key, fld)
            data[cell.w_field] = value
        self.refresh_read_only(u, both, base_less & (u.side != None))  # noqa: E711
        # W's rows that stay, column by column, the merged values in place of W's: one frame built once.
        at = u.pw[keep]
        columns = {
            name: data[name][keep] if name in data else wf[name].to_numpy()[at] for name in map(str, wf.columns)
        }
        # Recreated rows are creates: the row key for the record, and for a contact the row key of
        # its recreated client.
        recreate = u.fate[keep] == RECREATE
        if recreate.any() and "_key" in columns:
            keys = columns["_key"].astype(object)
            keys[recreate] = [row_key(int(r)) for r in u.rows[keep][recreate]]
            columns["_key"] = keys
        if clients is not None and "client_key" in columns and len(at):
            keys = columns["client_key"].astype(object)
            columns["client_key"] = clients.rekeyed(positions(clients.index, keys), keys)
        # W's columns are object, and int for the sheet row (desired.rows.frame_of).
        return object_frame(columns, frozenset(name for name in columns if wf[name].dtype.kind in "iu"))

    def refresh_read_only(self, u: Universe, both: np.ndarray, adopted: np.ndarray) -> None:
        """Read-only columns (client number, created, ...) follow Billomat.

        `old` is B's value (what the workbook was written with); for a row that adopted Billomat's
        record (created_both decided) the blank cells get Billomat's values.
        """
        sm, states = self.sm, self.ctx.states
        bf, _ = states.frames_b[self.resource]
        cf, _ = states.frames_c[self.resource]
        for col in sm.columns:
            if not col.read_only or col.lookup is not None or col.field == sm.key:
                continue
            b = np.where(adopted, "", take(column_values(bf, col.field), u.pb))
            c = take(column_values(cf, col.field), u.pc)
            changed = (both | adopted) & (b != c)
            if changed.any():
                self.ctx.out.cells(
                    self.resource, u.rows[changed], u.keys[changed], col.field, b[changed], c[changed]
                )


def _writable_link(sm: SheetMap) -> bool:
    """True when the sheet has an editable column of the contact's client link (client_id)."""
    col = next((c for c in sm.columns if c.field == "client_id" and c.lookup is None), None)
    return col is not None and not col.read_only and bool(col.header)
