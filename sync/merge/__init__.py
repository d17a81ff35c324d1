"""Two-way sync (issue 4): a field-level three-way merge of workbook, Billomat and the base snapshot.

Three states of one account: B = the base snapshot (Billomat as it was after the last successful run,
which is what the workbook held then), C = Billomat now, W = the workbook now (a `Desired`). Per field,
property value and tag, a side "changed" a value when it differs from B after the column's normaliser.

Fields (clients, contacts, the contact's client link, property values):

| W vs B    | C vs B    | result                                                                    |
|-----------|-----------|---------------------------------------------------------------------------|
| same      | same      | nothing                                                                   |
| changed   | same      | W's value goes to Billomat                                                |
| same      | changed   | C's value goes to the workbook                                            |
| changed   | changed   | equal after normalising: nothing; else conflict `both_changed`            |

A workbook cell is only written when it does not already mean Billomat's value. Read-only columns
(client number, ...) follow Billomat (`old` = B's value, which the workbook was written with).

Records (clients, contacts):

- in W only with a new key (blank, `neu-…`): a create; but if Billomat created a record with the same
  identity since the base (client: same name or same email; contact: same client and same person name
  or email; both normalised, never empty), conflict `created_both` instead of a duplicate;
- in B and C, not in W (deleted in the workbook): a delete under the plan's delete guard if Billomat did
  not change it since B, else conflict `deleted_vs_edited_in_billomat` (for a client "changed" includes
  its property values, tags and contacts created, changed or deleted in Billomat);
- in B and W, not in C (deleted in Billomat): the row is removed from the workbook if the workbook did
  not change it, else conflict `edited_vs_deleted_in_billomat` (for a client: its fields, values,
  tags, and contacts created or changed in the workbook); never recreated silently;
- in C only (created in Billomat): appended to the workbook with its values, tags and contacts;
- a client deleted in the workbook whose contact rows were left there: Billomat deletes the contacts
  with it, so their rows are removed from the workbook once that delete is done (`after_delete`);
- in neither B nor C but in W with an id, or in W and C but not B (no base for it: the first sync, or
  an id typed into the workbook): every field, value and tag set that differs is conflict `no_base`;
  a row whose id Billomat does not hold is a record-level `no_base` conflict.
- rows sync.desired left out for a problem are left alone on both sides.

Tags are sets per client (after the tags normaliser): merged = (W ∩ C) ∪ (W − B) ∪ (C − B). A tag added
on each side: both; removed on either side (and not present in the other's additions): removed. A tag
cannot be "added on one side and removed on the other": added means "not in B", removed means "in B".
So tags never conflict, except without a base (`no_base`, the whole set of the client).

Contacts inherit empty fields from their client in Billomat: an empty workbook cell where the other
state holds exactly the client's value is the same value (as in sync/diff.py), never a change or a
conflict; and Billomat showing the client's value in a contact's field is no Billomat-side change of
that contact (whether Billomat copies or shows the client's current value is unconfirmed: see
sync/inherit.py).

A workbook of unknown origin (no origin stamp, or its state no longer kept; `sync.origin`) is merged
against the newest state with `older` = the older states kept: a workbook value that differs from B but
equals an older state's value of that field (what billsync itself wrote there earlier) while Billomat
holds another one may be a stale copy's value as well as an edit, so it is conflict `stale_copy`, never
sent silently (fields of clients and contacts, property values; tag sets merge as above).

A conflict is held: neither side changes for that field or record. `prefer` ("sheet" / "billomat")
or a per-conflict `decisions` entry (keyed by `Conflict.id`, e.g. read from the Konflikte sheet)
decides it instead; the conflict is then listed with `resolved_by`. Deciding a record conflict:

| kind                            | "sheet"                                      | "billomat"                            |
|---------------------------------|----------------------------------------------|---------------------------------------|
| edited_vs_deleted_in_billomat   | recreate: the row (and its contact rows)     | remove the row (and its contact rows) |
|                                 | become creates; their id cells are blanked   | from the workbook                     |
| deleted_vs_edited_in_billomat   | delete in Billomat (delete guard applies)    | append the record (and its contacts)  |
|                                 |                                              | to the workbook again                 |
| created_both                    | adopt: the row gets Billomat's id, then each differing field as decided;   |
|                                 | the id is written into the row's key cell (and over `neu-…` references)    |

A held conflict stays held until it is decided or the workbook is edited so that it is none: set the
cell to Billomat's value, delete the row (accepting Billomat's deletion), or type Billomat's id into a
row that `created_both` flagged (the row then meets the record without a base: equal fields are
nothing, differing ones `no_base` conflicts). For that, `Merge.next_base(after)` builds the next base
snapshot with the held parts kept as they were in B (a held field keeps B's value, a held record B's
record or none), and likewise for workbook changes that did not land (`unwritten`).

The Billomat side is `to_billomat`, a `Desired` the existing `diff_account` + `build_plan` + loader take
unchanged: W's rows with the merged values, records to leave untouched in `left_out`. The workbook
side is `to_workbook` (updates in long format, appended rows as `build_tables` writes them, removals);
the write-back applies it.

Pure and vectorised: rows are aligned on their keys with hash look-ups, every field is compared as a
column, normalisers and Python loops only run on cells whose raw text differs and on the changed or
conflicting records.

The package, in the order a merge runs (each module imports only those above it):

- `model`: the vocabulary (sides, kinds, `Conflict`, `Hold`, `WorkbookChanges`); `next_base`: the next
  base snapshot from the holds; `result`: `Merge`;
- `vectors`: the vectorised column helpers; `states`: B, C, W and the older states, and the `Scope`
  of records the merge leaves alone;
- `sheet_terms`: the one translation of API-term changes into sheet, row and header (`SheetTerms`,
  `WorkbookOut`); `ledger`: conflicts, holds, who decides, the records' labels; `context`: what the
  steps share;
- `universe`: aligning a resource's records across W, B, C, and their fates; `created`: records
  created on both sides (created_both, adopting); `fields`: the field-level three-way merge;
  `values`: property values; `tags`: tag sets; `records`: the record-level fates and conflicts;
- `merger`: `merge_account` running the steps in order, and `reading_frames`.
"""

from sync.merge.merger import merge_account, reading_frames
from sync.merge.model import (
    CREATE_MARKER_PREFIX,
    KINDS,
    REMOVAL_COLUMNS,
    SIDES,
    STALE_COPY,
    TAGS_FIELD,
    UPDATE_COLUMNS,
    Conflict,
    Hold,
    Side,
    WorkbookChanges,
)
from sync.merge.result import Merge

__all__ = [
    "CREATE_MARKER_PREFIX",
    "KINDS",
    "REMOVAL_COLUMNS",
    "SIDES",
    "STALE_COPY",
    "TAGS_FIELD",
    "UPDATE_COLUMNS",
    "Conflict",
    "Hold",
    "Merge",
    "Side",
    "WorkbookChanges",
    "merge_account",
    "reading_frames",
]
