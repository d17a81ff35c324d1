"""A client sheet's tags column: per row the tag names, an unedited cell standing for the current tags."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sync.desired.fields import FieldReader
from sync.desired.rows import TAGS_COLUMNS, SheetRows, frame_of
from sync.sheet import EXCEL_MAX_CHARS, tag_groups


class TagReader:
    """The tags column of the Kunden sheet, read and turned into one row per client and tag."""

    def __init__(self, fields: FieldReader) -> None:
        self.fields = fields
        self.found = fields.found
        self.current = fields.current

    def read(self, sheet: SheetRows) -> np.ndarray | None:
        """Per row the list of tag names (None for an unedited cell: the current tags), or None without a column."""
        tags_map = sheet.sm.tags
        if tags_map is None:
            return None
        if tags_map.header not in sheet.table.columns:
            self.found.missing["client_tags"] = ["name"]
            self.found.warn(
                sheet, None, tags_map.header, "column is missing: the tags stay as they are in Billomat"
            )
            return None
        cells = sheet.column(tags_map.header)
        if len(cells) and max(map(len, cells)) > EXCEL_MAX_CHARS:
            groups = tag_groups(self.current.client_tags, sheet.sm)
            joined = np.array([tags_map.separator.join(groups.get(i, ())) for i in sheet.ids], dtype=object)
            self.fields.too_long(sheet, tags_map.header, cells, cells != joined)
        return cells

    def frame(self, sheet: SheetRows, cells: np.ndarray | None) -> pd.DataFrame:
        """One row per (client row, tag name) of the rows read on; `cells` as `read` gave them."""
        tags_map = sheet.sm.tags
        if cells is None or tags_map is None:
            return frame_of(columns=TAGS_COLUMNS)
        keep = sheet.kept()
        groups = tag_groups(self.current.client_tags, sheet.sm)
        joined = np.array([tags_map.separator.join(groups.get(i, ())) for i in sheet.ids], dtype=object)
        # An unedited cell stands for exactly the current tags (so a tag whose name holds the
        # separator survives a round trip); only edited cells are split.
        same = sheet.known & keep & (cells == joined)
        parts = []
        if same.any() and groups:
            rows_same, keys_same = sheet.rows[same], sheet.keys[same]
            counts = np.array([len(groups.get(i, ())) for i in sheet.ids[same]], dtype=np.int64)
            same_names = [name for i in sheet.ids[same] for name in groups.get(i, ())]
            parts.append(
                frame_of(
                    {
                        "_row": np.repeat(rows_same, counts),
                        "client_key": np.repeat(keys_same, counts),
                        "name": np.array(same_names, dtype=object),
                    }
                )
            )
        separator = tags_map.separator.strip() or tags_map.separator
        rows: list[int] = []
        keys: list[str] = []
        names: list[str] = []
        for i in np.flatnonzero(~same & keep & (cells != "")):
            seen: set[str] = set()
            for name in cells[i].split(separator):
                name = name.strip()
                if name and name not in seen:
                    seen.add(name)
                    rows.append(int(sheet.rows[i]))
                    keys.append(sheet.keys[i])
                    names.append(name)
        if rows:
            parts.append(
                frame_of(
                    {
                        "_row": np.array(rows, dtype=np.int64),
                        "client_key": np.array(keys, dtype=object),
                        "name": np.array(names, dtype=object),
                    }
                )
            )
        if not parts:
            return frame_of(columns=TAGS_COLUMNS)
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        return out.sort_values("_row", kind="stable").reset_index(drop=True)
