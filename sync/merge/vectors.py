"""The merge's vectorised column helpers: aligning arrays by position, comparing them after normalising.

Everything here works on whole columns (numpy object arrays, pandas indexes); normalisers and Python
loops only run on the few cells whose raw text differs. A position of -1 means "this state has no
such record".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from sync.diff import INHERITED_CONTACT_FIELDS
from sync.text import clean, column_values, normalized

# (field, positions) → the client's value of that field at those positions, or None (not inherited).
Inherited = Callable[[str, np.ndarray], np.ndarray | None]


class Inherit:
    """Per universe row: the client's value of a field (for contacts' inherited fields)."""

    def __init__(self, clients: tuple[pd.DataFrame, pd.Index], client_ids: np.ndarray) -> None:
        self.frame, self.index = clients
        self.client_ids = client_ids

    def __call__(self, fld: str, positions: np.ndarray) -> np.ndarray | None:
        """The client's value of `fld` at `positions`; None when contacts do not inherit `fld`."""
        if fld not in INHERITED_CONTACT_FIELDS:
            return None
        ids = self.client_ids[positions]
        at = self.index.get_indexer(pd.Index(ids, dtype=object)) if len(self.index) else np.full(len(ids), -1)
        return take(column_values(self.frame, fld), at)


def differs(
    old: np.ndarray,
    new: np.ndarray,
    steps: tuple[str, ...],
    mask: np.ndarray,
    inherit: Inherited | None = None,
    fld: str = "",
) -> np.ndarray:
    """Where `old` and `new` differ after the normaliser (only under `mask`), as a bool array.

    With `inherit` (contacts): an empty `new` where `old` is exactly the client's value is equal.
    """
    out = np.zeros(len(old), dtype=bool)
    if not len(old):
        return out
    candidates = np.flatnonzero((old != new) & mask)
    if not candidates.size:
        return out
    o, n = clean(old[candidates]), clean(new[candidates])
    n_norm = normalized(n, steps) if steps else n
    changed = (normalized(o, steps) if steps else o) != n_norm
    if inherit is not None and changed.any():
        inherited = inherit(fld, candidates)
        if inherited is not None:
            changed &= ~((n_norm == "") & (o == inherited))
    out[candidates[changed]] = True
    return out


def gather(values: np.ndarray, positions: np.ndarray, default: bool | int) -> np.ndarray:
    """values[positions], `default` (False for a mask, NONE for fates) where the position is -1."""
    if not len(positions):
        return np.array([], dtype=values.dtype)
    if not len(values):
        return np.full(len(positions), default, dtype=values.dtype)
    return np.where(positions >= 0, values[np.maximum(positions, 0)], default)


def take(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """values[positions] with None where the position is -1 (`values` itself where positions are 0..n-1).

    The result is read, never written: in a sync where nothing moved, the universe is every side's
    rows in their own order, and a copy of each compared column per side would be the merge's peak
    of memory (100k clients, 200k contacts: ~150 MB of pointers).
    """
    if not len(positions):
        return np.array([], dtype=object)
    if not len(values):
        return np.full(len(positions), None, dtype=object)
    if len(positions) == len(values) and positions[0] == 0 and bool((np.diff(positions) == 1).all()):
        return values
    out = values[np.maximum(positions, 0)]
    out[positions < 0] = None
    return out


def groups(at: np.ndarray, names: np.ndarray, ok: np.ndarray, wanted: np.ndarray) -> dict[int, list[str]]:
    """Universe position → the names at those positions, for the `wanted` positions only."""
    hit = ok & np.isin(at, wanted)
    out: dict[int, list[str]] = {}
    for i, name in zip(at[hit].tolist(), names[hit].tolist(), strict=True):
        out.setdefault(i, []).append(name)
    return out


def positions(index: pd.Index, keys: np.ndarray) -> np.ndarray:
    """The position of each key in `index` (-1 where absent)."""
    if not len(keys):
        return np.array([], dtype=np.int64)
    return index.get_indexer(pd.Index(keys, dtype=object))


def name_codes(arrays: tuple[np.ndarray, ...], steps: tuple[str, ...]) -> tuple[list[np.ndarray], int]:
    """Each name's code after the normaliser (-1 for an empty name), and how many codes there are."""
    codes, uniques = (
        pd.factorize(np.concatenate(arrays)) if sum(map(len, arrays)) else (np.array([], dtype=np.int64), [])
    )
    normal = normalized(np.asarray(uniques, dtype=object), steps)
    final, names = pd.factorize(normal)
    final = np.where(normal == "", -1, final) if len(normal) else final
    mapped = final[codes] if len(final) else codes
    out, start = [], 0
    for array in arrays:
        out.append(mapped[start : start + len(array)].astype(np.int64))
        start += len(array)
    return out, len(names)


def dedup(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """One row per id (the last, as the diff does), and the index of the ids."""
    ids = column_values(frame, "id")
    index = pd.Index(ids, dtype=object)
    if not index.is_unique:
        keep = ~index.duplicated(keep="last")
        frame = frame[keep]
        index = pd.Index(ids[keep], dtype=object)
    return frame.reset_index(drop=True), index


def lookup_values(values: pd.DataFrame, index: pd.Index, at: np.ndarray, pids: np.ndarray) -> np.ndarray:
    """The value of each (client at universe position `at`, property) in `values`; "" without a row.

    Pairs are coded as integers (position × property code); of two rows the newest (highest id) wins.
    """
    if not len(at):
        return np.array([], dtype=object)
    if not len(values):
        return np.full(len(at), "", dtype=object)
    if "id" in values.columns:
        order = pd.to_numeric(pd.Series(column_values(values, "id")), errors="coerce").to_numpy()
        if not (np.diff(order) >= 0).all():
            values = values.iloc[np.argsort(order, kind="stable")]
    v_at = positions(index, column_values(values, "client_id"))
    v_pids = column_values(values, "client_property_id")
    codes, known = pd.factorize(np.concatenate([v_pids, pids]))
    n = len(known) + 1
    v_keys = pd.Index(v_at * n + codes[: len(v_pids)], dtype=np.int64)
    keep = (v_at >= 0) & ~v_keys.duplicated(keep="last")
    found = clean(column_values(values, "value")[keep])
    # get_indexer makes an Index of its argument anyway; made here, as pandas-stubs asks.
    wanted = pd.Index(at * n + codes[len(v_pids) :], dtype=np.int64)
    hit = pd.Index(v_keys[keep], dtype=np.int64).get_indexer(wanted)
    hit[at < 0] = -1
    return np.where(hit >= 0, found[np.maximum(hit, 0)] if len(found) else "", "").astype(object)


def changed_values(b: pd.DataFrame, c: pd.DataFrame, ids: np.ndarray, steps: tuple[str, ...]) -> np.ndarray:
    """Clients among `ids` whose property values differ between B and C (any property)."""
    ids_index = pd.Index(ids, dtype=object)
    b = b[pd.Index(column_values(b, "client_id"), dtype=object).isin(ids_index)]
    c = c[pd.Index(column_values(c, "client_id"), dtype=object).isin(ids_index)]
    bi, bv = _value_index(b)
    ci, cv = _value_index(c)
    pairs = bi.append(ci).unique()
    if not len(pairs):
        return np.array([], dtype=object)
    old = np.where((at := bi.get_indexer(pairs)) >= 0, bv[np.maximum(at, 0)] if len(bv) else "", "").astype(
        object
    )
    new = np.where((at := ci.get_indexer(pairs)) >= 0, cv[np.maximum(at, 0)] if len(cv) else "", "").astype(
        object
    )
    changed = differs(old, new, steps, np.ones(len(pairs), dtype=bool))
    return np.asarray(pairs.get_level_values(0), dtype=object)[changed]


def _value_index(values: pd.DataFrame) -> tuple[pd.MultiIndex, np.ndarray]:
    """(client, property) → value; of two rows the newest (highest id) wins, as on the sheet."""
    if len(values) and "id" in values.columns:
        order = pd.to_numeric(pd.Series(column_values(values, "id")), errors="coerce").to_numpy()
        values = values.iloc[np.argsort(order, kind="stable")]
    index = pd.MultiIndex.from_arrays(
        [
            pd.Index(column_values(values, "client_id"), dtype=object),
            pd.Index(column_values(values, "client_property_id"), dtype=object),
        ]
    )
    keep = ~index.duplicated(keep="last")
    return index[keep], clean(column_values(values, "value")[keep])
