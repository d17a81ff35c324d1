"""The three-way merge of client property values (the attribute columns), cell by cell."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sync.mapping import PropertiesMap
from sync.merge.context import Context
from sync.merge.model import STALE_COPY
from sync.merge.universe import CREATE, MERGE, NONE, RECREATE, Universe
from sync.merge.vectors import changed_values, differs, gather, lookup_values, positions
from sync.text import column_values

RESOURCE = "client_property_values"


@dataclass
class ValueCells:
    """W's property cells aligned with B's and C's values ("" = no value row), and what changed."""

    at: np.ndarray  # the client's universe position per W value row
    b: np.ndarray
    c: np.ndarray
    w: np.ndarray
    wchg: np.ndarray
    cchg: np.ndarray
    wc: np.ndarray  # W differs from C
    stale: np.ndarray  # W holds an older state's value (unknown origin)


class ValueMerge:
    """Compares and merges the property values of the clients' universe."""

    def __init__(self, ctx: Context, properties: PropertiesMap) -> None:
        self.ctx = ctx
        self.steps = properties.normalize

    def compare(self, u: Universe) -> ValueCells:
        """W's property cells against B and C; marks the clients whose values a side changed."""
        states, scope, steps = self.ctx.states, self.ctx.scope, self.steps
        wv = states.W["values"]
        if len(wv) and scope.skip_w["clients"]:
            wv = wv[~pd.Index(column_values(wv, "client_key"), dtype=object).isin(list(scope.skip_w["clients"]))]
        missing = states.desired.missing.get(RESOURCE, ())
        if len(wv) and missing:
            wv = wv[~pd.Index(column_values(wv, "client_property_id"), dtype=object).isin(list(missing))]
        wv = wv.reset_index(drop=True)
        states.W["values"] = wv
        clients = column_values(wv, "client_key")
        pids = column_values(wv, "client_property_id")
        at = positions(u.index, clients)
        in_b, in_c = gather(u.in_b, at, False), gather(u.in_c, at, False)
        b = lookup_values(states.B.client_property_values, u.index, at, pids)
        c = lookup_values(states.C.client_property_values, u.index, at, pids)
        w = column_values(wv, "value")
        wchg = differs(b, w, steps, in_b)
        cchg = differs(b, c, steps, in_b & in_c)
        wc = differs(c, w, steps, in_c)
        stale = np.zeros(len(w), dtype=bool)
        for older in states.older:
            older_clients = pd.Index(column_values(older.clients, "id"), dtype=object)
            known = (
                older_clients.get_indexer(u.keys[np.maximum(at, 0)]) >= 0
                if len(at)
                else np.zeros(0, dtype=bool)
            )
            where = wchg & wc & in_c & (at >= 0) & known & ~stale
            if where.any():
                o = lookup_values(older.client_property_values, u.index, at, pids)
                stale |= where & ~differs(o, w, steps, where)
        cchg |= stale
        u.w_edit[at[wchg]] = True
        u.c_edit[at[cchg]] = True
        # C's changes on clients the workbook no longer holds (a delete there would lose them).
        gone_w = ~u.in_w & u.in_b & u.in_c
        if gone_w.any():
            ids = u.keys[gone_w]
            changed = changed_values(
                states.B.client_property_values, states.C.client_property_values, ids, steps
            )
            u.c_edit[u.index.get_indexer(pd.Index(changed, dtype=object))] = True
        return ValueCells(at, b, c, w, wchg, cchg, wc, stale)

    def merge(self, u: Universe, v: ValueCells) -> pd.DataFrame:
        """The value rows Billomat should hold; Billomat's changes and decided conflicts go to the workbook."""
        ledger, out_w = self.ctx.ledger, self.ctx.out
        wv = self.ctx.states.W["values"]
        at = v.at
        if not len(wv):
            return wv
        fate = gather(u.fate, at, NONE)
        keep = np.isin(fate, (MERGE, CREATE, RECREATE))
        merging = fate == MERGE
        with_base = gather(u.in_b, at, False)
        value = v.w.copy()
        c, w = v.c, v.w
        both = merging & with_base
        base_less = merging & ~with_base
        take_c = merging & ~(both & v.wchg & ~v.cchg)
        value[take_c] = c[take_c]
        only_c = both & v.cchg & ~v.wchg & v.wc
        conflict = (both & v.wchg & v.cchg & v.wc) | (base_less & v.wc)
        clients, pids, rows = column_values(wv, "client_key"), column_values(wv, "client_property_id"), wv["_row"].to_numpy()
        if only_c.any():
            out_w.property_cells(rows[only_c], clients[only_c], pids[only_c], w[only_c], c[only_c])
        for i in np.flatnonzero(conflict):
            key, pid = clients[i], pids[i]
            has_base = bool(both[i])
            side = ledger.side(RESOURCE, key, pid, u.side[at[i]])
            ledger.conflict(
                RESOURCE,
                key,
                pid,
                forced=u.side[at[i]],
                row=int(rows[i]),
                base=v.b[i] if has_base else None,
                billomat=c[i],
                sheet_value=w[i],
                kind=(STALE_COPY if v.stale[i] else "both_changed") if has_base else "no_base",
                resolved_by=side,
            )
            if side == "sheet":
                value[i] = w[i]
            elif side == "billomat":
                out_w.property_cell(rows[i], key, pid, w[i], c[i])
            else:
                ledger.hold(RESOURCE, key, pid)
        out = wv.assign(value=value)[keep]
        out = out.assign(client_key=u.rekeyed(at[keep], column_values(out, "client_key")))
        return out.reset_index(drop=True)
