"""The merge's vocabulary: sides, conflict kinds, `Conflict`, `Hold` and `WorkbookChanges` (no logic)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

Side = Literal["sheet", "billomat"]
SIDES: tuple[Side, ...] = ("sheet", "billomat")
KINDS = (
    "both_changed",
    "edited_vs_deleted_in_billomat",
    "deleted_vs_edited_in_billomat",
    "created_both",
    "no_base",
)
# Only with `older` states (a workbook of unknown origin); kept apart from the three-state KINDS.
STALE_COPY = "stale_copy"
UPDATE_COLUMNS = ("resource", "sheet", "row", "key", "header", "field", "old", "new")
REMOVAL_COLUMNS = ("resource", "sheet", "row", "key", "label", "after_delete")
TAGS_FIELD = "tags"
CREATE_MARKER_PREFIX = "billsync:"  # the customfield of a record billsync created (sync.plan.create_marker)


@dataclass(frozen=True)
class Conflict:
    """A field or record both sides changed incompatibly; held unless `resolved_by` says who won.

    - resource: clients | contacts | client_property_values | client_tags;
    - key: the record's id (for property values and tags: the client's id); for `created_both` the
      workbook row's key (`row:N` / `neu-…`) and `billomat_id` Billomat's record;
    - sheet, row: where the workbook shows it (row None: the workbook has no row, e.g. it deleted it);
    - field: API field, property id, "tags", or "" for a whole record; header: its column ("" for records);
    - base, billomat, sheet_value: the three values (for a record a short label); None = absent;
    - label: the record for people: id, client number and name (a contact: its person and its client).
    """

    resource: str
    key: str
    sheet: str
    row: int | None
    field: str
    header: str
    base: str | None
    billomat: str | None
    sheet_value: str | None
    kind: str
    billomat_id: str = ""
    resolved_by: Side | None = None
    label: str = ""

    @property
    def id(self) -> tuple[str, str, str]:
        """What a decision refers to: (resource, key, field)."""
        return (self.resource, self.key, self.field)

    @property
    def held(self) -> bool:
        """True while nobody decided it (neither side changes)."""
        return self.resolved_by is None


@dataclass(frozen=True)
class Hold:
    """A part of the account the next base snapshot keeps as it was in B (see `Merge.next_base`).

    resource clients/contacts with field "" = the whole record (a client: with its contacts, property
    values and tags; `whole=False`: the client row, values and tags only); with a field: that field;
    client_property_values: key = client id, field = property id.
    """

    resource: str
    key: str
    field: str = ""
    whole: bool = True


@dataclass(frozen=True)
class WorkbookChanges:
    """What the workbook must become.

    - updates: `resource, sheet, row, key, header, field, old, new` — one cell each; `old` is what the
      merge read (the canonical value of the cell; for read-only columns B's value), `new` the text to
      write (checkbox properties as the mapping shows them, tags joined as a pull writes them; the key
      column with field = the sheet's key: an id to write, or "" to blank it for a recreated row);
    - appends: sheet name → rows to append, columns = headers (as `sheet.build_tables` writes them;
      a property Billomat added since the base is a column the workbook does not have yet);
    - removals: `resource, sheet, row, key, label, after_delete` — rows whose record Billomat deleted;
      `after_delete` (a client id, else "") makes it conditional: the contact rows of a client deleted
      in the workbook go once that delete is done (the delete guard may hold it);
    - appended: resource → the ids of the appended records (for `Merge.next_base(unwritten=...)`).
    """

    updates: pd.DataFrame
    appends: dict[str, pd.DataFrame]
    removals: pd.DataFrame
    appended: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """True when the workbook stays as it is."""
        return (
            not len(self.updates)
            and not len(self.removals)
            and not any(len(t) for t in self.appends.values())
        )

    def counts(self) -> dict[str, int]:
        """Cells updated, rows appended, rows removed."""
        return {
            "update": len(self.updates),
            "append": sum(len(t) for t in self.appends.values()),
            "remove": len(self.removals),
        }
