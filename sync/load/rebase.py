"""The account after a load: the account as the run read it, with every change that was done applied.

Only the rows a done change can touch become dicts (the rows of the ids it wrote, and for a client
the rows of its contacts, property values and tags); the rest of each frame is kept as it is, so a
push of a few changes to 100,000 clients does not turn the whole account into dicts and back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from sync.frames import BASE_COLUMNS, RESOURCES, AccountFrames, frame_records, text_frame
from sync.load.records import change_payload, make_marker
from sync.load.report import LoadReport, Result

# resource -> the column a touched row is found by, for each kind of touch (see _touched).
Touched = dict[str, dict[str, set[str]]]


def rebase(current: AccountFrames, report: LoadReport) -> AccountFrames:
    """The account as it is after the load: `current` with every `done` result applied.

    Failed and skipped changes leave `current` as it was, so the next run plans them again. Records
    Billomat answered with are taken as they are (contacts filled from their client, derived numbers).
    """
    done = [result for result in report.results if result.status == "done"]
    touched = _touched(done)
    positions: dict[str, np.ndarray] = {}
    records: dict[str, list[dict[str, Any]]] = {}
    for name in RESOURCES:
        frame = current.frame(name)
        positions[name] = _touched_positions(frame, touched.get(name, {}))
        records[name] = frame_records(frame.iloc[positions[name]])
    # Each touched row's dict, by identity -> its position in the frame (new rows have none). `touched_rows`
    # keeps them alive: a dict dropped by a delete must not hand its id() to a dict made later.
    touched_rows = [
        (row, int(at)) for name in RESOURCES for row, at in zip(records[name], positions[name], strict=True)
    ]
    origin = {id(row): at for row, at in touched_rows}
    for result in done:
        change = result.change
        if change.resource in ("clients", "contacts"):
            _rebase_record(records, result)
        elif change.resource == "client_property_values":
            _rebase_value(records["client_property_values"], result)
        elif change.resource == "client_tags":
            _rebase_tag(records["client_tags"], result)
    frames = {
        name: _merged(current.frame(name), positions[name], records[name], origin, BASE_COLUMNS[name])
        for name in RESOURCES
    }
    del touched_rows
    return AccountFrames(**frames)


def _touched(done: Iterable[Result]) -> Touched:
    """Per resource and column, the values whose rows a done change may read, change or remove.

    A superset is harmless (such a row goes through the dicts unchanged); a row left out would be wrong.
    """
    touched: Touched = {name: {} for name in RESOURCES}

    def add(name: str, column: str, value: str) -> None:
        touched[name].setdefault(column, set()).add(value)

    for result in done:
        change = result.change
        record = result.record or {}
        if change.resource in ("clients", "contacts"):
            record_id = result.record_id or change.key
            add(change.resource, "id", record_id)
            if change.resource == "clients" and change.action == "delete":
                for name in ("contacts", "client_property_values", "client_tags"):
                    add(name, "client_id", record_id)
        elif change.resource == "client_property_values":
            add(change.resource, "client_id", record.get("client_id") or result.client_id)
        elif change.resource == "client_tags":
            add(change.resource, "client_id", result.client_id)
    return touched


def _touched_positions(frame: pd.DataFrame, touched: dict[str, set[str]]) -> np.ndarray:
    """The positions (ascending) of the frame's rows whose value in a touched column is a touched value."""
    hit = np.zeros(len(frame), dtype=bool)
    for column, values in touched.items():
        if column in frame.columns:
            hit |= frame[column].isin(values).to_numpy(dtype=bool)
    return np.flatnonzero(hit)


def _merged(
    frame: pd.DataFrame,
    positions: np.ndarray,
    rows: list[dict[str, Any]],
    origin: dict[int, int],
    base: tuple[str, ...],
) -> pd.DataFrame:
    """`frame` with its touched rows replaced by `rows` (dropped when gone), rows new to it appended.

    The same frame `text_frame` makes of all records in that order: base columns first, then the
    columns in order of first appearance, every value a str, no columns left when no rows are.
    """
    survivors = {origin[id(row)]: row for row in rows if id(row) in origin}
    appended = [row for row in rows if id(row) not in origin]
    keep = np.ones(len(frame), dtype=bool)
    keep[[at for at in positions.tolist() if at not in survivors]] = False
    kept = np.flatnonzero(keep)
    if not len(kept) and not appended:
        return text_frame([], base)
    # Untouched rows hold exactly the frame's columns; changed and new rows may bring more.
    columns: dict[str, None] = dict.fromkeys(frame.columns) if len(kept) else {}
    changed = [survivors[at] for at in sorted(survivors)]
    for row in (*changed, *appended):
        columns.update(dict.fromkeys(row))
    order = list(dict.fromkeys([*base, *columns]))
    out = frame if len(kept) == len(frame) else frame.iloc[kept]
    if list(out.columns) != order:
        out = out.reindex(columns=order, fill_value="")
    if any(dtype != np.dtype(object) for dtype in out.dtypes):
        out = out.astype(object)  # as text_frame: every column holds Python str objects
    fixed = text_frame([*changed, *appended], order)
    if changed:
        out = out.copy()
        rows_at = np.searchsorted(kept, np.array(sorted(survivors)))
        out.iloc[rows_at, :] = fixed.iloc[: len(changed)].to_numpy(dtype=object)
    if appended:
        out = pd.concat([out, fixed.iloc[len(changed) :]], ignore_index=True)
    if not isinstance(out.index, pd.RangeIndex) or out.index.start != 0 or out.index.step != 1:
        out = out.reset_index(drop=True)
    return out


def _rebase_record(records: dict[str, list[dict[str, Any]]], result: Result) -> None:
    change, rows = result.change, records[result.change.resource]
    record_id = result.record_id or change.key
    if change.action == "delete":
        rows[:] = [r for r in rows if r.get("id") != record_id]
        if change.resource == "clients":  # Billomat deletes a client's contacts, values and tags with it
            for name in ("contacts", "client_property_values", "client_tags"):
                records[name][:] = [r for r in records[name] if r.get("client_id") != record_id]
        return
    existing = next((r for r in rows if r.get("id") == record_id), None)
    if result.record is not None:
        new = {k: v for k, v in result.record.items() if isinstance(v, str)}
    else:
        new = {**(existing or {}), **change_payload(change), "id": record_id}
        if change.action == "create":
            new["customfield"] = change.marker or make_marker(change)
            if change.resource == "contacts" and result.client_id:
                new["client_id"] = result.client_id
    if existing is not None:
        existing.update(new)
    else:
        rows.append(new)


def _rebase_value(rows: list[dict[str, Any]], result: Result) -> None:
    change = result.change
    record = result.record or {}
    client_id = record.get("client_id") or result.client_id
    property_id = record.get("client_property_id") or change.ref
    value = record.get("value", "" if change.action == "clear" else change_payload(change).get("value", ""))
    rows[:] = [
        r
        for r in rows
        if not (r.get("client_id") == client_id and r.get("client_property_id") == property_id)
    ]
    rows.append(
        {
            **{k: v for k, v in record.items() if isinstance(v, str)},
            "id": record.get("id", ""),
            "client_id": client_id,
            "client_property_id": property_id,
            "value": value,
        }
    )


def _rebase_tag(rows: list[dict[str, Any]], result: Result) -> None:
    change = result.change
    name = change.ref or change_payload(change).get("name", "")
    client_id = result.client_id
    present = any(r.get("client_id") == client_id and r.get("name") == name for r in rows)
    if change.action == "remove":
        rows[:] = [r for r in rows if not (r.get("client_id") == client_id and r.get("name") == name)]
    elif not present:
        rows.append({"client_id": client_id, "name": name})
