"""The merge of client tag sets: merged = (W ∩ C) ∪ (W − B) ∪ (C − B); only `no_base` conflicts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sync.frames import object_frame
from sync.mapping import TagsMap
from sync.merge.context import Context
from sync.merge.model import TAGS_FIELD
from sync.merge.universe import CREATE, MERGE, NONE, RECREATE, Universe
from sync.merge.vectors import gather, groups, name_codes, positions
from sync.text import clean, column_values

RESOURCE = "client_tags"


@dataclass(frozen=True)
class TagCells:
    """W's and C's tag rows as the merge needs them: a tag is the pair (client, normalised name)."""

    w_at: np.ndarray  # the client's universe position per W tag row (-1: no such client)
    c_at: np.ndarray  # likewise per C tag row
    w_names: np.ndarray
    c_names: np.ndarray
    c_client: np.ndarray  # C's client id per tag row
    w_ok: np.ndarray  # a usable W row: a name, a known client, the first of its pair
    c_ok: np.ndarray
    w_in_b: np.ndarray  # W's pair is in B too
    w_in_c: np.ndarray
    c_in_b: np.ndarray
    c_in_w: np.ndarray
    differs_wc: np.ndarray  # per universe position: W's set differs from C's
    workbook: np.ndarray  # per universe position: the merged set differs from W's (its cell changes)


class TagMerge:
    """Compares and merges the tag sets of the clients' universe."""

    def __init__(self, ctx: Context, tags: TagsMap) -> None:
        self.ctx = ctx
        self.steps = tags.normalize

    def compare(self, u: Universe) -> TagCells:
        """Each side's tag pairs (client, normalised name) against the others'; marks who changed a set."""
        states = self.ctx.states
        wt = states.W["tags"]
        if len(wt) and self.ctx.scope.skip_w["clients"]:
            wt = wt[
                ~pd.Index(column_values(wt, "client_key"), dtype=object).isin(list(self.ctx.scope.skip_w["clients"]))
            ]
        wt = wt.reset_index(drop=True)
        states.W["tags"] = wt
        bt, ct = states.B.client_tags, states.C.client_tags
        w_names, b_names, c_names = (
            clean(column_values(wt, "name")),
            clean(column_values(bt, "name")),
            clean(column_values(ct, "name")),
        )
        w_client, c_client = column_values(wt, "client_key"), column_values(ct, "client_id")
        w_at = positions(u.index, w_client)
        b_at = positions(u.index, column_values(bt, "client_id"))
        c_at = positions(u.index, c_client)
        # A tag is the pair (client, normalised name), coded as one integer: universe position × the
        # code of the name (the few distinct names are normalised once each).
        (w_code, b_code, c_code), names = name_codes((w_names, b_names, c_names), self.steps)
        w_pairs, b_pairs, c_pairs = (
            pd.Index(at * (names + 1) + code, dtype=np.int64)
            for at, code in ((w_at, w_code), (b_at, b_code), (c_at, c_code))
        )
        t = {
            "w_ok": (w_code >= 0) & (w_at >= 0) & ~w_pairs.duplicated(),
            "c_ok": (c_code >= 0) & (c_at >= 0) & ~c_pairs.duplicated(),
            "b_ok": (b_code >= 0) & (b_at >= 0) & ~b_pairs.duplicated(),
            "w_in_b": w_pairs.isin(b_pairs), "w_in_c": w_pairs.isin(c_pairs),
            "c_in_b": c_pairs.isin(b_pairs), "c_in_w": c_pairs.isin(w_pairs),
            "b_in_w": b_pairs.isin(w_pairs), "b_in_c": b_pairs.isin(c_pairs),
        }  # fmt: skip
        in_w, in_b, in_c = u.in_w, u.in_b, u.in_c

        def flag(target: np.ndarray, at: np.ndarray, where: np.ndarray) -> None:
            hit = at[where & (at >= 0)]
            target[hit] = True

        # W changed the client's tags since B (only for clients both hold), likewise C.
        w_b = np.zeros(len(u.keys), dtype=bool)
        flag(w_b, w_at, t["w_ok"] & ~t["w_in_b"])
        flag(w_b, b_at, t["b_ok"] & ~t["b_in_w"])
        u.w_edit |= w_b & in_w & in_b
        c_b = np.zeros(len(u.keys), dtype=bool)
        flag(c_b, c_at, t["c_ok"] & ~t["c_in_b"])
        flag(c_b, b_at, t["b_ok"] & ~t["b_in_c"])
        u.c_edit |= c_b & in_b & in_c
        # Without a base: W's set and C's set differ.
        w_c = np.zeros(len(u.keys), dtype=bool)
        flag(w_c, w_at, t["w_ok"] & ~t["w_in_c"])
        flag(w_c, c_at, t["c_ok"] & ~t["c_in_w"])
        differs_wc = w_c
        # A client whose merged set differs from W's: the workbook's cell changes.
        wb = np.zeros(len(u.keys), dtype=bool)
        flag(wb, w_at, t["w_ok"] & t["w_in_b"] & ~t["w_in_c"])  # removed in Billomat
        flag(wb, c_at, t["c_ok"] & ~t["c_in_b"] & ~t["c_in_w"])  # added in Billomat
        return TagCells(
            w_at=w_at, c_at=c_at, w_names=w_names, c_names=c_names, c_client=c_client,
            w_ok=t["w_ok"], c_ok=t["c_ok"], w_in_b=t["w_in_b"], w_in_c=t["w_in_c"],
            c_in_b=t["c_in_b"], c_in_w=t["c_in_w"], differs_wc=differs_wc, workbook=wb,
        )  # fmt: skip

    def merge(self, u: Universe, t: TagCells) -> pd.DataFrame:
        """The tag rows Billomat should hold; the workbook's tags cells that change."""
        ledger, out_w, terms = self.ctx.ledger, self.ctx.out, self.ctx.terms
        wt = self.ctx.states.W["tags"]
        w_at, c_at = t.w_at, t.c_at
        fate_w = gather(u.fate, w_at, NONE)
        fate_c = gather(u.fate, c_at, NONE)
        with_base_w = gather(u.in_b, w_at, False)
        with_base_c = gather(u.in_b, c_at, False)
        # A client both hold without a base whose sets differ: a conflict decides whose set it is.
        base_less = np.flatnonzero((u.fate == MERGE) & ~u.in_b & t.differs_wc)
        use_c = np.zeros(len(u.keys), dtype=bool)  # the client's set stays C's (held, or billomat)
        if base_less.size:
            w_names = groups(w_at, t.w_names, t.w_ok, base_less)
            c_names = groups(c_at, t.c_names, t.c_ok, base_less)
            for i in base_less.tolist():
                key = u.keys[i]
                side = ledger.side(RESOURCE, key, TAGS_FIELD, u.side[i])
                w_cell, c_cell = terms.tags_cell(w_names.get(i, [])), terms.tags_cell(c_names.get(i, []))
                ledger.conflict(
                    RESOURCE,
                    key,
                    TAGS_FIELD,
                    forced=u.side[i],
                    row=int(u.rows[i]),
                    base=None,
                    billomat=c_cell,
                    sheet_value=w_cell,
                    kind="no_base",
                    resolved_by=side,
                )
                if side != "sheet":
                    use_c[i] = True
                if side == "billomat":
                    out_w.cell(RESOURCE, u.rows[i], key, TAGS_FIELD, w_cell, c_cell)
                elif side is None:
                    ledger.hold(RESOURCE, key)
        w_use_c = gather(use_c, w_at, False)
        c_use_c = gather(use_c, c_at, False)
        merging_w, merging_c = fate_w == MERGE, fate_c == MERGE
        # merged = (W ∩ C) ∪ (W − B) ∪ (C − B)
        keep_w = t.w_ok & (
            np.isin(fate_w, (CREATE, RECREATE))
            | (merging_w & ~with_base_w & ~w_use_c)
            | (merging_w & with_base_w & (t.w_in_c | ~t.w_in_b))
        )
        keep_c = t.c_ok & merging_c & ((~with_base_c & c_use_c) | (with_base_c & ~t.c_in_b & ~t.c_in_w))
        client_keys = u.rekeyed(w_at[keep_w], column_values(wt, "client_key")[keep_w])
        parts = [_tags_frame(wt._row.to_numpy(dtype=np.int64)[keep_w], client_keys, t.w_names[keep_w])]
        if keep_c.any():
            parts.append(_tags_frame(u.rows[c_at[keep_c]], t.c_client[keep_c], t.c_names[keep_c]))
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        out = out.sort_values("_row", kind="stable").reset_index(drop=True)
        # The workbook's cell of each client (with a base) whose merged set differs from W's.
        changed = np.flatnonzero(t.workbook & (u.fate == MERGE) & u.in_b)
        if changed.size:
            old = groups(w_at, t.w_names, t.w_ok, changed)
            new = groups(w_at[keep_w], t.w_names[keep_w], np.ones(int(keep_w.sum()), dtype=bool), changed)
            for i, names in groups(
                c_at[keep_c], t.c_names[keep_c], np.ones(int(keep_c.sum()), dtype=bool), changed
            ).items():
                new.setdefault(i, []).extend(names)
            for i in changed.tolist():
                out_w.tags(u.rows[i], u.keys[i], old.get(i, []), new.get(i, []))
        return out


def _tags_frame(rows: np.ndarray, clients: np.ndarray, names: np.ndarray) -> pd.DataFrame:
    return object_frame({"_row": rows, "client_key": clients, "name": names})
