"""Where each record's row is in the workbook a state was written to or read from (SPEC §9: Löschungen
names "the sheet and row it came from").

A row the accountant deleted is gone from the workbook billsync reads next, so its number has to come from
before: each recorded state carries, per resource, the row every client and contact had in the workbook of
that run — the rows the run read or created records from (`from_desired`), the
rows it appended (`WorkbookUpdateReport.appended_rows`), the rows a pull wrote (`from_tables`). A record
the run did not see in the workbook (its delete held, its row unreadable, parked) keeps the row it had
before (`carried`).

Stored compactly in the state's zip (`rows.json`): per resource, runs of consecutive rows as
`[first_row, [id, id, ...]]`, so 100k clients cost little more than their ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import Any

import pandas as pd

from sync.frames import AccountFrames
from sync.mapping import Mapping as SheetMapping

Rows = dict[str, dict[str, int]]  # resource ("clients", "contacts") → record id → workbook row
RESOURCES = ("clients", "contacts")


def from_frame(frame: pd.DataFrame, new_ids: Mapping[str, str] | None = None) -> dict[str, int]:
    """id → row of a frame of workbook rows (`_key`, `_row`); a new row's key (`row:37`, `neu-1`) under the
    id created from it (`new_ids`), if any (keys that are no record's id are dropped by `carried`)."""
    if "_key" not in frame.columns or "_row" not in frame.columns:
        return {}
    keys = [str(k) for k in frame["_key"].tolist()]
    if new_ids:
        keys = [new_ids.get(k, k) for k in keys]
    return dict(zip(keys, (int(r) for r in frame["_row"].tolist()), strict=True))


def from_desired(
    clients: pd.DataFrame,
    contacts: pd.DataFrame,
    client_ids: Mapping[str, str] | None = None,
    contact_ids: Mapping[str, str] | None = None,
) -> Rows:
    """The rows this run read (the desired frames), new rows under the ids created from them
    (LoadReport.id_map / contact_ids)."""
    return {"clients": from_frame(clients, client_ids), "contacts": from_frame(contacts, contact_ids)}


def from_sheets(appended: Mapping[str, Mapping[str, int]], mapping: SheetMapping) -> Rows:
    """Rows by sheet name (sheet → id → row, as the workbook writer reports them) as rows by resource."""
    out: Rows = {resource: {} for resource in RESOURCES}
    for resource in RESOURCES:
        sm = mapping.sheets.get(resource)
        if sm is not None:
            out[resource].update(appended.get(sm.sheet, {}))
    return out


def from_tables(tables: Mapping[str, pd.DataFrame], mapping: SheetMapping) -> Rows:
    """The rows a pull writes: each table's rows in order from row 2, keyed by its key column."""
    out: Rows = {resource: {} for resource in RESOURCES}
    for resource in RESOURCES:
        sm = mapping.sheets.get(resource)
        table = tables.get(sm.sheet) if sm is not None else None
        if sm is None or table is None or sm.key_column.header not in table.columns:
            continue
        keys = table[sm.key_column.header].to_numpy()
        out[resource] = {str(k): i for i, k in enumerate(keys, start=2) if k}
    return out


def carried(old: Rows, *fresh: Rows, frames: AccountFrames) -> Rows:
    """The rows of the next state: `old` updated by each of `fresh` in turn, for the records `frames` holds."""
    out: Rows = {}
    for resource in RESOURCES:
        merged = dict(old.get(resource, {}))
        for more in fresh:
            merged.update(more.get(resource, {}))
        ids = frames.frame(resource)["id"].tolist()
        out[resource] = {k: merged[k] for k in map(str, ids) if k in merged}
    return out


def encode(rows: Rows) -> str:
    """The compact JSON of `rows`: per resource, runs of consecutive rows `[first_row, [ids]]`."""
    return json.dumps({resource: _runs(by_id.items()) for resource, by_id in rows.items()}, separators=(",", ":"))


def decode(text: str) -> Rows:
    """`encode` read back; anything unreadable is no rows (an older state has none either)."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    out: Rows = {}
    if not isinstance(data, dict):
        return out
    for resource, runs in data.items():
        by_id: dict[str, int] = {}
        for run in runs if isinstance(runs, list) else []:
            if _is_run(run):
                by_id.update(zip(map(str, run[1]), range(run[0], run[0] + len(run[1])), strict=True))
        out[str(resource)] = by_id
    return out


def _runs(items: Iterable[tuple[str, int]]) -> list[list[Any]]:
    runs: list[list[Any]] = []
    ids: list[str] = []
    end = -1  # the row after the current run
    for key, row in sorted(items, key=itemgetter(1)):
        if row != end:
            ids = []
            runs.append([row, ids])
        ids.append(key)
        end = row + 1
    return runs


def _is_run(run: object) -> bool:
    return (
        isinstance(run, list) and len(run) == 2 and isinstance(run[0], int) and isinstance(run[1], list)
    )
