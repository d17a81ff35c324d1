"""What reading the workbook gives: `Desired` (frames by API field), `RowProblem` (the row-key forms are `sync.keys`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd


@dataclass(frozen=True)
class RowProblem:
    """A problem with one row (or cell) of the workbook; errors leave the row out of the run."""

    sheet: str
    row: int | None
    column: str | None
    message: str
    level: Literal["error", "warning"] = "error"
    # The workbook, or the sheet's CSV file ("" when unknown, e.g. tables built in memory).
    file: str = ""
    # The record the row holds, for people: id, client number and name (a contact: person and client).
    record: str = ""

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                self.file,
                f"sheet {self.sheet!r}",
                f"row {self.row}" if self.row is not None else "",
                f"column {self.column!r}" if self.column else "",
            )
            if part
        )
        record = f" ({self.record})" if self.record else ""
        return f"{where}{record}: {self.message}"


@dataclass(frozen=True)
class Desired:
    """What the workbook wants Billomat to hold (see docs/design.md for the columns of each frame)."""

    clients: pd.DataFrame
    contacts: pd.DataFrame
    property_values: pd.DataFrame
    tags: pd.DataFrame
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)
    # Sheet names and source path, for messages.
    source: str = ""
    # Billomat ids per resource ("clients", "contacts") of rows left out for an error: the diff
    # must neither update nor delete them (nor, for clients, touch their property values or tags).
    left_out: dict[str, frozenset[str]] = field(default_factory=dict)
    # Resource → why no record of it may be deleted in this run: a malformed key or an id unknown
    # to Billomat may be a typo of an existing id, whose row would then look deleted.
    deletes_blocked: dict[str, str] = field(default_factory=dict)
    # What the workbook does not say, so the diff must leave it alone (never read "absent" as ""):
    # "clients"/"contacts" → API fields whose column is missing; "client_property_values" →
    # property ids whose column is missing; "client_tags" → ("name",) when the tags column is missing.
    missing: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Ids (and neu-… keys) of rows left out for a row problem: the diff never deletes a record whose
    # row is merely unreadable this run (sync/diff.py).
    excluded_keys: frozenset[str] = frozenset()
    # False when the Kunden sheet has no tags column: tags are then left alone instead of all removed.
    has_tags: bool = True


