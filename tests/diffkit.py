"""Small builders for diff and plan tests: account frames and Desired frames from inline rows."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sync import sheet
from sync.desired import Desired
from sync.diff import writable_columns
from sync.frames import AccountFrames
from sync.mapping import Mapping as SheetMapping
from sync.mapping import load_mapping

REPO = Path(__file__).resolve().parent.parent
MAPPING = load_mapping(REPO / "mappings" / "billomat.yaml")

DESIRED_COLUMNS = {
    "clients": ["_row", "_key"],
    "contacts": ["_row", "_key", "client_key"],
    "property_values": ["_row", "client_key", "client_property_id", "value"],
    "tags": ["_row", "client_key", "name"],
}


def account(
    clients: Iterable[Mapping[str, str]] = (),
    contacts: Iterable[Mapping[str, str]] = (),
    properties: Iterable[Mapping[str, str]] = (),
    values: Iterable[Mapping[str, str]] = (),
    tags: Iterable[Mapping[str, str]] = (),
) -> AccountFrames:
    """Billomat's state, as the extractor gives it (every value a str)."""
    return AccountFrames.from_records(
        {
            "clients": list(clients),
            "contacts": list(contacts),
            "client_properties": list(properties),
            "client_property_values": list(values),
            "client_tags": list(tags),
        }
    )


def frame(kind: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A Desired frame: the fixed columns first, then the fields the rows name; all text but `_row`."""
    rows = list(rows)
    columns = list(dict.fromkeys([*DESIRED_COLUMNS[kind], *(k for r in rows for k in r)]))
    data: dict[str, np.ndarray] = {}
    for name in columns:  # column by column in plain Python: Hypothesis builds thousands of these
        cells = [r.get(name) for r in rows]
        if name == "_row":
            data[name] = np.array(cells, dtype=np.int64)
        else:
            column = np.empty(len(cells), dtype=object)
            column[:] = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in cells]
            data[name] = column
    return pd.DataFrame(data, columns=columns)


def desired(
    clients: Iterable[Mapping[str, Any]] = (),
    contacts: Iterable[Mapping[str, Any]] = (),
    values: Iterable[Mapping[str, Any]] = (),
    tags: Iterable[Mapping[str, Any]] = (),
    **options: Any,
) -> Desired:
    """The workbook's wishes from inline rows."""
    return Desired(
        clients=frame("clients", clients),
        contacts=frame("contacts", contacts),
        property_values=frame("property_values", values),
        tags=frame("tags", tags),
        **options,
    )


def desired_from_tables(
    tables: dict[str, pd.DataFrame], frames: AccountFrames, mapping: SheetMapping = MAPPING
) -> Desired:
    """What desired.py makes of unedited workbook tables (sheet → table, as build_tables or
    read_workbook give them): the columns mapped back to API fields, keys as they are."""
    out: dict[str, pd.DataFrame] = {}
    for resource in ("clients", "contacts"):
        sheet_map = mapping.sheets[resource]
        table = tables[sheet_map.sheet].reset_index(drop=True)
        rows = pd.DataFrame({"_row": range(2, len(table) + 2), "_key": table[sheet_map.key_column.header]})
        if resource == "contacts":
            rows["client_key"] = table[sheet_map.column("client_id").header]
        for col in writable_columns(sheet_map):
            if col.field != "client_id":
                rows[col.field] = table[col.header]
        out[resource] = rows.astype({c: object for c in rows.columns if c != "_row"})
    clients_map = mapping.sheets["clients"]
    kunden = tables[clients_map.sheet].reset_index(drop=True)
    keys = kunden[clients_map.key_column.header]
    values = [
        {"_row": i + 2, "client_key": key, "client_property_id": pid, "value": value}
        for pid, header in sheet.property_columns(frames.client_properties, clients_map)
        for i, (key, value) in enumerate(zip(keys, kunden[header], strict=True))
    ]
    assert clients_map.tags is not None
    separator = clients_map.tags.separator.strip()
    tag_rows = [
        {"_row": i + 2, "client_key": key, "name": name.strip()}
        for i, (key, cell) in enumerate(zip(keys, kunden[clients_map.tags.header], strict=True))
        for name in dict.fromkeys(n.strip() for n in cell.split(separator))
        if name
    ]
    return Desired(
        clients=out["clients"],
        contacts=out["contacts"],
        property_values=frame("property_values", values),
        tags=frame("tags", tag_rows),
    )


def desired_from_account(frames: AccountFrames, mapping: SheetMapping = MAPPING) -> Desired:
    """What desired.py makes of an unedited pull of `frames`."""
    return desired_from_tables(sheet.build_tables(frames, mapping), frames, mapping)
