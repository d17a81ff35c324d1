"""Reading the workbook's tables as the state Billomat should reach: every sheet opened, then read."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sync.desired.fields import FieldReader
from sync.desired.links import ClientLinks
from sync.desired.model import Desired, RowProblem
from sync.desired.opening import SheetOpener
from sync.desired.rows import TAGS_COLUMNS, VALUES_COLUMNS, Findings, SheetRows, frame_of
from sync.desired.tags import TagReader
from sync.desired.values import PropertyReader
from sync.frames import AccountFrames
from sync.mapping import Mapping


def read_desired(
    tables: dict[str, pd.DataFrame], mapping: Mapping, current: AccountFrames, *, source: str = ""
) -> Desired:
    """The workbook's tables (from `sheet.read_workbook`) as the state Billomat should reach.

    Raises WorkbookError for what makes the whole workbook untrustworthy (a missing sheet or key
    column, duplicate keys, merged cells in the synced columns, an emptied sheet or key column);
    a problem of one row leaves that row out and is listed in `problems`.
    """
    found = Findings()
    opener = SheetOpener(tables, current, source, found)
    clients_map, contacts_map = mapping.sheets.get("clients"), mapping.sheets.get("contacts")
    # Every structural check of every sheet first: a WorkbookError comes before any row problem.
    clients = opener.open(clients_map) if clients_map is not None else None
    contacts = opener.open(contacts_map) if contacts_map is not None else None

    fields = FieldReader(found, current)
    values = frame_of(columns=VALUES_COLUMNS)
    tags = frame_of(columns=TAGS_COLUMNS)
    if clients is not None:
        fields.check_formulas(clients)
        fields.read_fields(clients)
        tag_reader = TagReader(fields)
        tag_cells = tag_reader.read(clients)
        values = PropertyReader(fields).read(clients)
        tags = tag_reader.frame(clients, tag_cells)
    if contacts is not None:
        fields.check_formulas(contacts)
        ClientLinks(fields).read(contacts, clients)
        fields.read_fields(contacts)

    first = clients or contacts
    return Desired(
        clients=_frame(clients),
        contacts=_frame(contacts, client_key=True),
        property_values=values,
        tags=tags,
        problems=sorted(found.problems, key=_order),
        warnings=sorted(found.warnings, key=_order),
        source=source or (first.file if first is not None else ""),
        left_out={"clients": _left_out(clients), "contacts": _left_out(contacts)},
        deletes_blocked=dict(found.blocked),
        missing={name: tuple(dict.fromkeys(names)) for name, names in found.missing.items()},
        excluded_keys=frozenset(
            k for sheet in (clients, contacts) if sheet is not None for k in _excluded(sheet)
        ),
        has_tags=clients_map is not None
        and clients_map.tags is not None
        and "client_tags" not in found.missing,
    )


def _order(problem: RowProblem) -> tuple[str, int, str]:
    return (problem.sheet, problem.row if problem.row is not None else 0, problem.column or "")


def _frame(sheet: SheetRows | None, *, client_key: bool = False) -> pd.DataFrame:
    """`_row`, `_key` (, `client_key`), then the writable fields in mapping order; rows with errors left out."""
    if sheet is None:
        return frame_of(columns=("_row", "_key", "client_key") if client_key else ("_row", "_key"))
    keep = sheet.kept()
    data: dict[str, np.ndarray] = {"_row": sheet.rows[keep], "_key": sheet.keys[keep]}
    if client_key:
        links = sheet.fields.get("client_id")
        data["client_key"] = links[keep] if links is not None else sheet.aligned("client_id")[keep]
    for col in sheet.sm.columns:
        if col.field in sheet.fields and col.lookup is None:
            data[col.field] = sheet.fields[col.field][keep]
    return frame_of(data)

def _excluded(sheet: SheetRows) -> list[str]:
    """Ids and neu-… keys of the rows left out (not row:N keys: nothing can refer to those)."""
    return [k for k in sheet.keys[sheet.bad].tolist() if k and not k.startswith("row:")]

def _left_out(sheet: SheetRows | None) -> frozenset[str]:
    if sheet is None:
        return frozenset()
    return frozenset(sheet.ids[sheet.bad & sheet.known].tolist())


