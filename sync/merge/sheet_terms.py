"""The one place the merge's API-term changes become sheet, row and header: `WorkbookChanges`.

The merge decides in API terms (resource, key, field, value) and hands its workbook side here: a
cell update names the record's workbook row and the field; `SheetTerms` finds the sheet and the
column header from the mapping and shows the value as the workbook does (a CHECKBOX property as the
mapping's labels, a tag set joined into one cell); appended records are laid out as a pull writes them
(`sheet.build_tables`). Conflicts take their sheet and header from here too (`merge.ledger`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np
import pandas as pd

from sync.frames import AccountFrames, object_frame
from sync.mapping import Mapping, SheetMap
from sync.merge.model import REMOVAL_COLUMNS, TAGS_FIELD, UPDATE_COLUMNS, WorkbookChanges
from sync.sheet import build_tables, property_columns
from sync.text import clean, column_values


class SheetTerms:
    """Where an API field shows in the workbook: its sheet and header, and a value as its cell shows it."""

    def __init__(self, mapping: Mapping, properties: Iterable[pd.DataFrame]) -> None:
        self.mapping = mapping
        self.cs = mapping.sheets.get("clients")
        self.ks = mapping.sheets.get("contacts")
        # Property columns as the workbook was read (Billomat's properties now; B's for one deleted since).
        self.prop_headers: dict[str, str] = {}
        self.prop_types: dict[str, str] = {}
        for props in properties:
            if self.cs is not None:
                self.prop_headers.update(property_columns(props, self.cs))
            self.prop_types.update(zip(column_values(props, "id"), column_values(props, "type"), strict=True))

    def sheet_map(self, resource: str) -> SheetMap:
        """The sheet showing `resource` (property values and tags: the clients' sheet)."""
        sm = self.cs if resource in ("clients", "client_property_values", "client_tags") else self.ks
        assert sm is not None
        return sm

    def shows(self, resource: str, fld: str) -> bool:
        """True when the sheet of `resource` is mapped and has a (non-lookup) column for `fld`."""
        sm = self.cs if resource in ("clients", "client_property_values", "client_tags") else self.ks
        return sm is not None and any(c.field == fld and c.lookup is None for c in sm.columns)

    def sheet(self, resource: str) -> str:
        """The name of the sheet showing `resource`."""
        return self.sheet_map(resource).sheet

    def header(self, resource: str, fld: str) -> str:
        """The column header of a field: a property's column, the tags column, or the field's column."""
        if resource == "client_property_values":
            return self.prop_headers.get(fld, fld)
        if resource == "client_tags":
            assert self.cs is not None and self.cs.tags is not None
            return self.cs.tags.header
        return self.sheet_map(resource).column(fld).header

    def shown_value(self, pid: str, value: str) -> str:
        """A property value as the workbook shows it (a CHECKBOX as the mapping's labels)."""
        props = self.cs.properties if self.cs is not None else None
        if props is not None and self.prop_types.get(pid) == "CHECKBOX":
            return {"1": props.checkbox_checked, "0": props.checkbox_unchecked}.get(value, value)
        return value

    def tags_cell(self, names: Iterable[str]) -> str:
        """A client's tag names as its one cell shows them (unique, sorted as the mapping says, joined)."""
        assert self.cs is not None and self.cs.tags is not None
        names = list(dict.fromkeys(names))
        if self.cs.tags.sort:
            names.sort(key=lambda n: (n.casefold(), n))
        return self.cs.tags.separator.join(names)


class WorkbookOut:
    """The workbook side of one merge, collected in API terms and laid out as `WorkbookChanges`."""

    def __init__(self, terms: SheetTerms) -> None:
        self.terms = terms
        self.updates: list[dict[str, object]] = []  # one cell each, in the order the merge decided
        self.parts: list[pd.DataFrame] = []  # whole columns of updates at once
        self.removals: list[dict[str, object]] = []

    def cell(self, resource: str, row: int, key: str, fld: str, old: object, new: object) -> None:
        """One cell of the record's row: `old` as the merge read it, `new` the text to write."""
        self.updates.append(
            {
                "resource": resource,
                "sheet": self.terms.sheet(resource),
                "row": int(row),
                "key": key,
                "header": self.terms.header(resource, fld),
                "field": fld,
                "old": old,
                "new": new,
            }
        )

    def key_cell(self, resource: str, row: int, key: str, old: str, new: str) -> None:
        """The row's key cell: an id to write, or "" to blank it (a recreated row)."""
        self.cell(resource, row, key, self.terms.sheet_map(resource).key, old, new)

    def property_cell(self, row: int, key: str, pid: str, old: str, new: str) -> None:
        """A property value's cell; `new` is the API's value (shown as the workbook shows it)."""
        self.cell("client_property_values", row, key, pid, old, self.terms.shown_value(pid, new))

    def tags(self, row: int, key: str, old: Iterable[str], new: Iterable[str]) -> None:
        """A client's tags cell, when the merged set reads differently from the cell."""
        old_cell, new_cell = self.terms.tags_cell(old), self.terms.tags_cell(new)
        if old_cell != new_cell:
            self.cell("client_tags", row, key, TAGS_FIELD, old_cell, new_cell)

    def cells(
        self, resource: str, rows: np.ndarray, keys: np.ndarray, fld: str, old: np.ndarray, new: np.ndarray
    ) -> None:
        """One field's cells of many rows at once."""
        n = len(rows)
        self.parts.append(
            _update_frame(
                resource,
                self.terms.sheet(resource),
                rows,
                keys,
                np.full(n, self.terms.header(resource, fld), dtype=object),
                np.full(n, fld, dtype=object),
                clean(old),
                clean(new),
            )
        )

    def property_cells(
        self, rows: np.ndarray, keys: np.ndarray, pids: np.ndarray, old: np.ndarray, new: np.ndarray
    ) -> None:
        """Property value cells of many rows at once; `new` holds the API's values."""
        resource = "client_property_values"
        self.parts.append(
            _update_frame(
                resource,
                self.terms.cs.sheet if self.terms.cs else "",
                rows,
                keys,
                np.array([self.terms.header(resource, p) for p in pids], dtype=object),
                pids,
                old,
                np.array(
                    [self.terms.shown_value(p, x) for p, x in zip(pids, new, strict=True)], dtype=object
                ),
            )
        )

    def removal(self, resource: str, row: int, key: str, label: str, after_delete: str) -> None:
        """The row of a record Billomat deleted; `after_delete` (a client id): once that delete is done."""
        self.removals.append(
            {"resource": resource, "sheet": self.terms.sheet(resource), "row": int(row), "key": key,
             "label": label, "after_delete": after_delete}
        )  # fmt: skip

    def changes(self, current: AccountFrames, appended: dict[str, tuple[str, ...]]) -> WorkbookChanges:
        """Everything collected, sorted by sheet, row and header; `appended` records laid out as rows."""
        updates = [u for u in (_records_frame(self.updates, UPDATE_COLUMNS), *self.parts) if len(u)]
        update_frame = (
            pd.concat(updates, ignore_index=True) if updates else _records_frame([], UPDATE_COLUMNS)
        )
        if len(update_frame):
            order = np.lexsort(
                (
                    update_frame["header"].to_numpy(dtype=object).astype(str),
                    update_frame["row"].to_numpy(),
                    update_frame["sheet"].to_numpy(dtype=object).astype(str),
                )
            )
            update_frame = update_frame.iloc[order].reset_index(drop=True)
        removal_frame = _records_frame(self.removals, REMOVAL_COLUMNS)
        if len(removal_frame):
            removal_frame = removal_frame.sort_values(["sheet", "row"], kind="stable").reset_index(drop=True)
        return WorkbookChanges(update_frame, self.appends(current, appended), removal_frame, appended)

    def appends(
        self, current: AccountFrames, appended: dict[str, tuple[str, ...]]
    ) -> dict[str, pd.DataFrame]:
        """Records to append to the workbook, as a pull writes them."""
        out: dict[str, pd.DataFrame] = {}
        c, cs, ks, mapping = current, self.terms.cs, self.terms.ks, self.terms.mapping
        client_ids = np.array(appended.get("clients", ()), dtype=object)
        contact_ids = np.array(appended.get("contacts", ()), dtype=object)
        if cs is not None and len(client_ids):
            subset = _subset(c, client_ids)
            out[cs.sheet] = build_tables(subset, _only(mapping, "clients"))[cs.sheet]
        if ks is not None and len(contact_ids):
            people = c.contacts[c.contacts["id"].isin(contact_ids)]
            owners = c.clients[c.clients["id"].isin(people["client_id"])]
            frames = AccountFrames(
                owners, people, c.client_properties, c.client_property_values.iloc[:0], c.client_tags.iloc[:0]
            )
            out[ks.sheet] = build_tables(frames, _only(mapping, "contacts"))[ks.sheet]
        return out


def _subset(frames: AccountFrames, client_ids: np.ndarray) -> AccountFrames:
    ids = set(client_ids.tolist())
    return AccountFrames(
        clients=frames.clients[frames.clients["id"].isin(ids)],
        contacts=frames.contacts.iloc[:0],
        client_properties=frames.client_properties,
        client_property_values=frames.client_property_values[
            frames.client_property_values["client_id"].isin(ids)
        ],
        client_tags=frames.client_tags[frames.client_tags["client_id"].isin(ids)],
    )


def _only(mapping: Mapping, resource: str) -> Mapping:
    return replace(mapping, sheets={resource: mapping.sheets[resource]})


def _update_frame(
    resource: str,
    sheet: str,
    rows: np.ndarray,
    keys: np.ndarray,
    headers: np.ndarray,
    fields: np.ndarray,
    old: np.ndarray,
    new: np.ndarray,
) -> pd.DataFrame:
    n = len(rows)
    return object_frame(
        {
            "resource": np.full(n, resource, dtype=object),
            "sheet": np.full(n, sheet, dtype=object),
            "row": rows,
            "key": keys,
            "header": headers,
            "field": fields,
            "old": old,
            "new": new,
        }
    )


def _records_frame(records: list[dict[str, object]], columns: tuple[str, ...]) -> pd.DataFrame:
    return object_frame({c: [r[c] for r in records] for c in columns})
