"""The account as DataFrames: what the extractor produces and the workbook is built from."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from pandas.api.types import infer_dtype

# The resources of one Billomat account, in the order they are extracted and shown.
RESOURCES = ("clients", "contacts", "client_properties", "client_property_values", "client_tags")

# Columns every frame has even when the account holds no rows (so an empty account still has a shape).
BASE_COLUMNS: dict[str, tuple[str, ...]] = {
    "clients": ("id", "client_number", "name"),
    "contacts": ("id", "client_id", "name"),
    "client_properties": ("id", "name", "type", "default_value", "is_nvl"),
    "client_property_values": ("id", "client_id", "client_property_id", "value"),
    "client_tags": ("client_id", "name"),
}


def text_frame(records: Iterable[Mapping[str, object]], columns: Sequence[str] = ()) -> pd.DataFrame:
    """Build a frame whose every cell is a str: missing keys and None become "" (never NaN/"nan")."""
    rows = records if isinstance(records, list) else list(records)
    frame = pd.DataFrame.from_records(rows) if rows else pd.DataFrame()
    order = list(dict.fromkeys([*columns, *frame.columns]))
    frame = frame.reindex(columns=order).astype(object)
    for name in frame.columns:
        column = frame[name]
        # The API's values are str already; only repair the columns that hold anything else.
        if infer_dtype(column, skipna=False) != "string":
            frame[name] = pd.Series([_text(value) for value in column], index=frame.index, dtype=object)
    return frame


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):  # Billomat's booleans are "1"/"0" (billomat-api.md §1)
        return "1" if value else "0"
    return value if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class AccountFrames:
    """One frame per resource; every value a str, "" for empty.

    - clients: every client field the API returned (id first);
    - contacts: every contact field (client_id links to clients.id);
    - client_properties: the property definitions (id, name, type TEXTFIELD|TEXTAREA|CHECKBOX, ...);
    - client_property_values: one row per (client_id, client_property_id) that has a row in the API;
      no row and value "" mean the same;
    - client_tags: one row per (client_id, name); tag ids are not part of it (the tag cloud +
      clients?tags=NAME extraction does not see them).
    """

    clients: pd.DataFrame
    contacts: pd.DataFrame
    client_properties: pd.DataFrame
    client_property_values: pd.DataFrame
    client_tags: pd.DataFrame

    @classmethod
    def from_records(cls, records: Mapping[str, Iterable[Mapping[str, object]]]) -> AccountFrames:
        """Build from plain records per resource name (see RESOURCES)."""
        return cls(**{name: text_frame(records.get(name, ()), BASE_COLUMNS[name]) for name in RESOURCES})

    def frame(self, name: str) -> pd.DataFrame:
        """The frame of one resource by name."""
        return getattr(self, name)

    def counts(self) -> dict[str, int]:
        """Number of rows per resource."""
        return {name: len(self.frame(name)) for name in RESOURCES}
