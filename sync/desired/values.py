"""A client sheet's property columns (Billomat's attributes) as one value row per client and property."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sync.cellvalues import BOOL_WORDS
from sync.desired.fields import FieldReader
from sync.desired.rows import NONE, VALUES_COLUMNS, SheetRows, frame_of
from sync.sheet import property_columns


class PropertyReader:
    """The property columns of the Kunden sheet: text values canonical, checkboxes as "1"/"0"."""

    def __init__(self, fields: FieldReader) -> None:
        self.fields = fields
        self.found = fields.found
        self.current = fields.current

    def read(self, sheet: SheetRows) -> pd.DataFrame:
        """One row per client row × property column present (also ""), values canonical."""
        sm = sheet.sm
        if sm.properties is None:
            return frame_of(columns=VALUES_COLUMNS)
        props = self.current.client_properties
        types = dict(zip(props["id"], props["type"], strict=True)) if "type" in props.columns else {}
        ids: list[str] = []
        columns: list[np.ndarray] = []
        by_property = self.property_rows(sheet)
        for pid, header in property_columns(props, sm):
            if header not in sheet.table.columns:
                self.found.missing.setdefault("client_property_values", []).append(pid)
                self.found.warn(sheet, None, header, "column is missing: this attribute stays as it is in Billomat")
                continue
            current = self.property_current(sheet, pid, by_property)
            values = sheet.column(header)
            if types.get(pid) == "CHECKBOX":
                columns.append(self.checkbox(sheet, header, values, current))
            else:
                columns.append(self.fields.canonical(sheet, header, "text", values, current))
            ids.append(pid)
        if not ids:
            return frame_of(columns=VALUES_COLUMNS)
        # Rows get their errors while all columns are read; only then is it known which to keep.
        keep = sheet.kept()
        n = int(keep.sum())
        out = frame_of(
            {
                "_row": np.repeat(sheet.rows[keep], len(ids)),
                "client_key": np.repeat(sheet.keys[keep], len(ids)),
                "client_property_id": np.tile(np.array(ids, dtype=object), n),
                "value": np.column_stack([c[keep] for c in columns]).ravel()
                if n
                else np.array([], dtype=object),
            }
        )
        return out

    def property_rows(self, sheet: SheetRows) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Property id → (row positions in the sheet, current values) of the sheet's known clients."""
        values = self.current.client_property_values
        if values.empty or not sheet.known.any():
            return {}
        if "id" in values.columns:  # as build_tables: of two rows for one client, the newest wins
            order = pd.to_numeric(values["id"], errors="coerce")
            if not order.is_monotonic_increasing:
                values = values.assign(_n=order).sort_values("_n", kind="stable", na_position="first")
        values = values.drop_duplicates(["client_id", "client_property_id"], keep="last")
        rows_known = np.flatnonzero(sheet.known)  # their ids are unique (duplicates stopped the run)
        at = pd.Index(sheet.ids[rows_known], dtype=object).get_indexer(
            pd.Index(values["client_id"].to_numpy(dtype=object), dtype=object)
        )
        hit = at >= 0
        pids = values["client_property_id"].to_numpy(dtype=object)[hit]
        found, positions = values["value"].to_numpy(dtype=object)[hit], rows_known[at[hit]]
        out = {}
        for pid in np.unique(pids.astype(str)) if len(pids) else ():
            mask = pids == pid
            out[str(pid)] = (positions[mask], found[mask])
        return out

    @staticmethod
    def property_current(
        sheet: SheetRows, pid: str, by_property: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> np.ndarray:
        """The current value per row; "" for a known client without a value row (that means the same)."""
        out = np.where(sheet.known, "", NONE).astype(object)
        if pid in by_property:
            positions, found = by_property[pid]
            out[positions] = found
        return out

    def checkbox(self, sheet: SheetRows, header: str, values: np.ndarray, current: np.ndarray) -> np.ndarray:
        """A CHECKBOX property column back to Billomat's "1"/"0" (from the mapping's labels or yes/no words)."""
        props = sheet.sm.properties
        assert props is not None
        words = dict(BOOL_WORDS)
        words[props.checkbox_checked.strip().casefold()] = "1"
        words[props.checkbox_unchecked.strip().casefold()] = "0"
        out = np.array([words.get(v.strip().casefold()) for v in values], dtype=object)
        for i in np.flatnonzero(out == None):  # noqa: E711 -- elementwise on an object array
            value, now = values[i], current[i]
            if not value.strip():
                out[i] = "0" if now else ""  # an emptied box is unchecked; "" where Billomat has none
            else:
                out[i] = value
                self.found.error(
                    sheet,
                    i,
                    header,
                    f"{value!r} is not a checkbox value; use {props.checkbox_checked!r} or"
                    f" {props.checkbox_unchecked!r}",
                )
        return out
