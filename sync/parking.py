"""The Sync column (SPEC §9): a client parked with `aus` moves in neither direction.

A Kunden row whose Sync cell says `aus` (also `nein`, `0`, `off`) is parked: the client, its contacts,
attribute values and tags are taken out of all three sides before the merge (`park`, `park_desired`),
so nothing is sent for them and nothing is written into their rows; the next base keeps their old
state (`keep_parked`), so that once the cell is cleared the edits made on both sides meanwhile are
edits again and move. Everything here is pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import overload

import pandas as pd

from sync.desired import Desired
from sync.frames import RESOURCES, AccountFrames
from sync.mapping import Mapping

OFF_WORDS = frozenset({"aus", "nein", "0", "off"})


@dataclass(frozen=True)
class Parked:
    """The parked clients of a run: their Billomat ids and their Kunden rows (a new row has no id yet)."""

    ids: frozenset[str] = frozenset()
    rows: frozenset[int] = frozenset()

    def __len__(self) -> int:
        return len(self.rows)


def parked(tables: dict[str, pd.DataFrame], mapping: Mapping) -> Parked:
    """The Kunden rows whose Sync cell parks them (no Sync column: none)."""
    sheet_map = mapping.sheets.get("clients")
    if sheet_map is None or not sheet_map.sync_column or sheet_map.sheet not in tables:
        return Parked()
    table = tables[sheet_map.sheet]
    if sheet_map.sync_column not in table.columns:
        return Parked()
    off = table[sheet_map.sync_column].astype(str).str.strip().str.casefold().isin(OFF_WORDS)
    key = sheet_map.key_column.header
    ids = table.loc[off, key].astype(str).str.strip() if key in table.columns else pd.Series(dtype=str)
    return Parked(frozenset(i for i in ids if i), frozenset(int(r) for r in table.index[off]))


@overload
def park(frames: AccountFrames, which: Parked) -> AccountFrames: ...
@overload
def park(frames: None, which: Parked) -> None: ...
def park(frames: AccountFrames | None, which: Parked) -> AccountFrames | None:
    """Billomat's records or a base without the parked clients and everything that hangs on them."""
    if frames is None or not which.ids:
        return frames
    ids = list(which.ids)
    out = {name: frames.frame(name) for name in RESOURCES}
    out["clients"] = out["clients"][~out["clients"]["id"].isin(ids)]
    for name in ("contacts", "client_property_values", "client_tags"):
        out[name] = out[name][~out[name]["client_id"].isin(ids)]
    return AccountFrames(**{name: frame.reset_index(drop=True) for name, frame in out.items()})


def park_desired(desired: Desired, which: Parked) -> Desired:
    """The workbook's wishes without the parked rows, their contacts, attribute values and tags."""
    if not which:
        return desired
    keys = set(desired.clients.loc[desired.clients["_row"].isin(list(which.rows)), "_key"].astype(str)) | which.ids

    def without(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame[~frame[column].astype(str).isin(keys)].reset_index(drop=True)

    return replace(
        desired,
        clients=desired.clients[~desired.clients["_row"].isin(list(which.rows))].reset_index(drop=True),
        contacts=without(desired.contacts, "client_key"),
        property_values=without(desired.property_values, "client_key"),
        tags=without(desired.tags, "client_key"),
    )


def keep_parked(next_base: AccountFrames, base: AccountFrames | None, which: Parked) -> AccountFrames:
    """The next base with the parked clients' records as the last base had them (not as they are now)."""
    if base is None or not which.ids:
        return next_base
    ids = list(which.ids)
    out = {}
    for name in RESOURCES:
        mine, old = next_base.frame(name), base.frame(name)
        if name == "client_properties":
            out[name] = mine
            continue
        column = "id" if name == "clients" else "client_id"
        out[name] = pd.concat([mine[~mine[column].isin(ids)], old[old[column].isin(ids)]], ignore_index=True)
    return AccountFrames(**out)


def summary(which: Parked) -> str:
    """'parked 2; ' for the summary line ('' when no client is parked)."""
    return f"parked {len(which)}; " if which else ""
