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
- rows desired.py left out for a problem are left alone on both sides.

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
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from sync.desired import Desired, row_key
from sync.diff import INHERITED_CONTACT_FIELDS, _clean, _col, _is_new_key, _normalized, writable_columns
from sync.frames import RESOURCES, AccountFrames
from sync.mapping import ColumnMap, Mapping, SheetMap
from sync.sheet import build_tables, property_columns
from sync.wording import RESOURCE_WORDS, record_label

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


@dataclass(frozen=True)
class Merge:
    """The result of `merge_account`."""

    to_billomat: Desired
    to_workbook: WorkbookChanges
    conflicts: tuple[Conflict, ...]
    holds: tuple[Hold, ...]
    base: AccountFrames | None = None

    @property
    def held(self) -> list[Conflict]:
        """Conflicts nobody decided: neither side changed for them."""
        return [c for c in self.conflicts if c.held]

    @property
    def resolved(self) -> list[Conflict]:
        """Conflicts `prefer` or a decision settled."""
        return [c for c in self.conflicts if not c.held]

    @property
    def exit_code(self) -> int:
        """1 when conflicts are held (SPEC §2: something was held), else 0."""
        return 1 if self.held else 0

    def next_base(self, after: AccountFrames, *, unwritten: WorkbookChanges | None = None) -> AccountFrames:
        """The base snapshot for the next run, from `after` (Billomat after the load: `load.rebase`).

        Held conflicts keep B's state so the next run finds them again (a base that took Billomat's value
        would let the workbook's value win silently next time, and one that took a held record would turn
        it into a delete). `unwritten`: the workbook changes that did not land; they are held the same way
        (an update keeps B's value, an append is left out, a removal keeps B's record), so the next run
        tries them again instead of reading the unchanged workbook as an edit.
        """
        holds = list(self.holds)
        if unwritten is not None:
            holds += _unwritten_holds(unwritten)
        return _apply_holds(after, self.base, holds)

    def counts(self) -> dict[str, dict[str, int]]:
        """Summary: workbook changes and conflicts (held / resolved)."""
        return {
            "workbook": self.to_workbook.counts(),
            "conflicts": {"held": len(self.held), "resolved": len(self.resolved)},
        }


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

# Record fates.
MERGE, CREATE, DELETE, KEEP, APPEND, REMOVE, RECREATE, GONE, NONE = range(9)


def merge_account(
    base: AccountFrames | None,
    current: AccountFrames,
    desired: Desired,
    mapping: Mapping,
    *,
    prefer: Side | None = None,
    decisions: AnyMapping[tuple[str, str, str], Side] | None = None,
    older: Sequence[AccountFrames] = (),
) -> Merge:
    """Merge workbook (`desired`) and Billomat (`current`) against `base`; pure, no I/O.

    `base=None` (no snapshot yet, the first sync): nobody can tell who changed what, so every record
    both hold is compared directly and each difference is a `no_base` conflict (unless decided);
    Billomat's records the workbook lacks are appended; workbook rows with an id Billomat lacks are
    record-level `no_base` conflicts; new rows are creates (unless `created_both`).

    `desired` should be read (`read_desired`) against the base with Billomat's new records added
    (`reading_frames(base, current)`): the workbook was written from B, so Excel's rewrites are
    repaired against B, and an id only Billomat has is no "unknown id" problem.

    `older`: older recorded states, for a workbook whose origin is unknown (`base` is then the newest
    state): a value equal to one of theirs while Billomat holds another is conflict `stale_copy`.
    """
    if prefer is not None and prefer not in SIDES:
        raise ValueError(f"prefer must be one of {SIDES}, not {prefer!r}")
    merger = _Merger(base, current, desired, mapping, prefer, decisions or {}, older)
    return merger.run()


def reading_frames(base: AccountFrames | None, current: AccountFrames) -> AccountFrames:
    """What `read_desired` should compare the workbook with in a sync: B, plus C's records B lacks.

    Property definitions are Billomat's current ones (a property deleted there is no column to read).
    """
    if base is None:
        return current
    out = {}
    for name in ("clients", "contacts"):
        b, c = base.frame(name), current.frame(name)
        extra = c[~c["id"].isin(b["id"])] if "id" in c.columns and "id" in b.columns else c.iloc[:0]
        out[name] = pd.concat([b, extra], ignore_index=True) if len(extra) else b
    new_clients = set(out["clients"]["id"]) - set(base.clients["id"])
    for name in ("client_property_values", "client_tags"):
        b, c = base.frame(name), current.frame(name)
        extra = c[c["client_id"].isin(new_clients)] if new_clients else c.iloc[:0]
        out[name] = pd.concat([b, extra], ignore_index=True) if len(extra) else b
    out["client_properties"] = current.client_properties
    return AccountFrames(**{name: out[name] for name in RESOURCES})


# --------------------------------------------------------------------------------------------
# The merge
# --------------------------------------------------------------------------------------------


@dataclass
class _Universe:
    """Every record of one resource any of the three states holds, aligned: positions into W, B, C."""

    keys: np.ndarray
    pw: np.ndarray
    pb: np.ndarray
    pc: np.ndarray
    index: pd.Index
    new: np.ndarray  # W's new keys (row:N / neu-…)
    frozen: np.ndarray  # left out by desired.py for a problem, and not in W: never touched
    w_edit: np.ndarray  # W changed a field (or, for clients, a value, a tag or a contact) since B
    c_edit: np.ndarray  # C changed a field (or a value, a tag or a contact) since B
    fate: np.ndarray
    side: np.ndarray  # forced side per record (adopted created_both), else None
    rows: np.ndarray  # W's sheet row, -1 without

    @property
    def in_w(self) -> np.ndarray:
        return self.pw >= 0

    @property
    def in_b(self) -> np.ndarray:
        return self.pb >= 0

    @property
    def in_c(self) -> np.ndarray:
        return self.pc >= 0


@dataclass
class _Cells:
    """One compared column of a record resource: values aligned on the universe and what changed."""

    col: ColumnMap
    w_field: str
    w: np.ndarray | None
    b: np.ndarray
    c: np.ndarray
    wchg: np.ndarray | None
    cchg: np.ndarray
    wc: np.ndarray | None  # W differs from C
    stale: np.ndarray | None = None  # W holds an older state's value (unknown origin): a conflict


class _Merger:
    def __init__(
        self,
        base: AccountFrames | None,
        current: AccountFrames,
        desired: Desired,
        mapping: Mapping,
        prefer: Side | None,
        decisions: AnyMapping[tuple[str, str, str], Side],
        older: Sequence[AccountFrames] = (),
    ) -> None:
        self.base = base
        self.older = [o for o in older if o is not None] if base is not None else []
        self.frames_o = [{r: _dedup(o.frame(r)) for r in ("clients", "contacts")} for o in self.older]
        self.B = base if base is not None else AccountFrames.from_records({})
        self.C = current
        self.desired = desired
        self.mapping = mapping
        self.prefer = prefer
        self.decisions = decisions
        self.cs = mapping.sheets.get("clients")
        self.ks = mapping.sheets.get("contacts")
        # Working copies of the workbook's frames (created_both rewrites keys).
        self.W = {
            "clients": desired.clients,
            "contacts": desired.contacts,
            "values": desired.property_values,
            "tags": desired.tags,
        }
        self.frames_b = {r: _dedup(self.B.frame(r)) for r in ("clients", "contacts")}
        self.frames_c = {r: _dedup(self.C.frame(r)) for r in ("clients", "contacts")}
        self.conflicts: list[Conflict] = []
        # Workbook row positions by key, per (resource, frame) — for the labels of conflicts.
        self._w_rows: dict[str, tuple[pd.DataFrame, dict[str, int]]] = {}
        self.holds: list[Hold] = []
        self.updates: list[dict[str, object]] = []
        self.update_parts: list[pd.DataFrame] = []
        self.removals: list[dict[str, object]] = []
        self.left_out: dict[str, set[str]] = {
            r: set(desired.left_out.get(r, ())) for r in ("clients", "contacts")
        }
        # Rows desired.py left out for a problem: their records are not touched on either side.
        self.unread: dict[str, set[str]] = {
            r: self.left_out[r] | set(desired.excluded_keys) for r in ("clients", "contacts")
        }
        # created_both held: W rows (by key) not to create, and their contacts' W rows.
        self.skip_w: dict[str, set[str]] = {"clients": set(), "contacts": set()}
        self.forced: dict[str, dict[str, Side]] = {"clients": {}, "contacts": {}}
        # Clients an interrupted billsync run created for new workbook rows (see created_both).
        self.marked_clients: set[str] = set()
        # Property columns as the workbook was read (Billomat's properties now; B's for one deleted since).
        self.prop_headers: dict[str, str] = {}
        self.prop_types: dict[str, str] = {}
        for props in (self.B.client_properties, self.C.client_properties):
            if self.cs is not None:
                self.prop_headers.update(property_columns(props, self.cs))
            self.prop_types.update(zip(_col(props, "id"), _col(props, "type"), strict=True))

    # -- helpers -----------------------------------------------------------------------------

    def side(self, resource: str, key: str, fld: str, forced: Side | None = None) -> Side | None:
        return self.decisions.get((resource, key, fld)) or forced or self.prefer

    def sheet_of(self, resource: str) -> SheetMap:
        sm = self.cs if resource in ("clients", "client_property_values", "client_tags") else self.ks
        assert sm is not None
        return sm

    def update(self, resource: str, row: int, key: str, header: str, fld: str, old: str, new: str) -> None:
        self.updates.append(
            {
                "resource": resource,
                "sheet": self.sheet_of(resource).sheet,
                "row": int(row),
                "key": key,
                "header": header,
                "field": fld,
                "old": old,
                "new": new,
            }
        )

    def conflict(self, forced: Side | None = None, **kw: object) -> None:
        """List a conflict; not for a field of an adopted row (its created_both conflict decided it)."""
        if forced is None:
            if not kw.get("label"):
                kw["label"] = self.record_label(str(kw["resource"]), str(kw["key"]), str(kw.get("billomat_id", "")))
            self.conflicts.append(Conflict(**kw))  # type: ignore[arg-type]

    def record(self, resource: str, key: str) -> dict[str, str]:
        """A record's fields from Billomat, else the base, else the workbook ({} when none has it)."""
        for frame, index in (self.frames_c[resource], self.frames_b[resource]):
            if key and key in index:
                hit = index.get_loc(key)
                if isinstance(hit, int | np.integer):
                    return {str(k): v for k, v in frame.iloc[int(hit)].items() if isinstance(v, str)}
        wf = self.W[resource]
        # Built once per resource: a first sync may list thousands of conflicts over 100k rows.
        cached = self._w_rows.get(resource)
        if cached is None or cached[0] is not wf:  # created_both replaces the frame: rebuild
            cached = self._w_rows[resource] = (wf, {k: i for i, k in reversed(list(enumerate(_col(wf, "_key"))))})
        at = cached[1].get(key) if key else None
        if at is not None:
            return {str(k): v for k, v in wf.iloc[at].items() if isinstance(v, str)}
        return {}

    def record_label(self, resource: str, key: str, billomat_id: str = "") -> str:
        """The record a conflict is about, for people: '1001 00057 Gärtnerei Krüger e.K.' (a contact:
        '2001 Anna Schmidt, Kunde 1001 00057 Gärtnerei Krüger e.K.'); property values and tags: the client."""
        kind = "contacts" if resource == "contacts" else "clients"
        rec = self.record(kind, key) or (self.record(kind, billomat_id) if billomat_id else {})
        person = f"{rec.get('first_name', '')} {rec.get('last_name', '')}".strip()
        if kind == "clients":
            return record_label(key, rec.get("client_number", ""), rec.get("name", "") or person)
        client_key = rec.get("client_id", "") or rec.get("client_key", "")
        own = record_label(key, "", person or rec.get("name", "") or rec.get("email", ""))
        client = self.record_label("clients", client_key) if client_key else ""
        return f"{own}, {RESOURCE_WORDS['clients']} {client}" if client else own

    # -- run ---------------------------------------------------------------------------------

    def run(self) -> Merge:
        clients = contacts = None
        client_cells: list[_Cells] = []
        contact_cells: list[_Cells] = []
        values = tags = None
        if self.cs is not None:
            self.created_both("clients")
        if self.ks is not None:
            self.created_both("contacts")
        if self.cs is not None:
            clients = self.universe("clients")
            client_cells = self.compare(clients, "clients")
            values = self.compare_values(clients)
            tags = self.compare_tags(clients)
        if self.ks is not None:
            contacts = self.universe("contacts")
            contact_cells = self.compare(contacts, "contacts")
        if clients is not None and contacts is not None:
            self.touched_by_contacts(clients, contacts)
        if clients is not None:
            self.record_fates(clients, "clients")
        if contacts is not None:
            self.record_fates(contacts, "contacts", clients)

        desired = self.desired
        client_rows, contact_rows = desired.clients, desired.contacts
        value_rows, tag_rows = desired.property_values, desired.tags
        if clients is not None:
            client_rows = self.merge_cells(clients, client_cells, "clients")
            if values is not None:
                value_rows = self.merge_values(clients, values)
            if tags is not None:
                tag_rows = self.merge_tags(clients, tags)
        if contacts is not None:
            contact_rows = self.merge_cells(contacts, contact_cells, "contacts", clients)
        appended: dict[str, tuple[str, ...]] = {}
        for resource, u in (("clients", clients), ("contacts", contacts)):
            if u is None:
                continue
            # Records Billomat keeps as they are and the workbook has no row for: the diff must not
            # read them as deleted.
            untouched = np.isin(u.fate, (KEEP, APPEND)) & u.in_c
            self.left_out[resource].update(u.keys[untouched].tolist())
            appended[resource] = tuple(u.keys[u.fate == APPEND].tolist())
        to_billomat = replace(
            desired,
            clients=client_rows,
            contacts=contact_rows,
            property_values=value_rows,
            tags=tag_rows,
            left_out={r: frozenset(keys) for r, keys in self.left_out.items()},
        )
        updates = [u for u in (_records_frame(self.updates, UPDATE_COLUMNS), *self.update_parts) if len(u)]
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
        return Merge(
            to_billomat=to_billomat,
            to_workbook=WorkbookChanges(
                update_frame, self.appends(clients, contacts), removal_frame, appended
            ),
            conflicts=tuple(self.conflicts),
            holds=tuple(dict.fromkeys(self.holds)),
            base=self.base,
        )

    # -- created on both sides ---------------------------------------------------------------

    def created_both(self, resource: str) -> None:
        """W's new rows against the records Billomat created since B with the same identity."""
        wf = self.W[resource]
        if not len(wf):
            return
        keys = _col(wf, "_key")
        cf, c_index = self.frames_c[resource]
        _, b_index = self.frames_b[resource]
        c_ids = _col(cf, "id")
        created = ~c_index.isin(b_index) & ~c_index.isin(keys) & ~c_index.isin(list(self.unread[resource]))
        if resource == "contacts" and self.marked_clients and created.any():
            # Contacts an interrupted run created for a client it created: the loader adopts them too.
            ours = created & pd.Index(_col(cf, "client_id"), dtype=object).isin(list(self.marked_clients))
            ours &= pd.Series(_col(cf, "customfield"), dtype=object).astype(str).str.startswith(
                CREATE_MARKER_PREFIX
            ).to_numpy()
            self.unread[resource].update(c_ids[ours].tolist())
            created &= ~ours
        if not created.any():
            return
        new = np.zeros(len(keys), dtype=bool)
        loose = np.flatnonzero(
            ~pd.Index(keys, dtype=object).isin(b_index) & ~pd.Index(keys, dtype=object).isin(c_index)
        )
        new[loose] = [_is_new_key(k) for k in keys[loose]]  # only the few keys neither state knows
        if not new.any():
            return
        c_rows = np.flatnonzero(created)
        identities: dict[tuple[str, str, str], int] = {}
        for i in c_rows.tolist():
            for ident in _identities(resource, cf, i, link="client_id"):
                identities.setdefault(ident, i)
        taken: set[int] = set()
        for j in np.flatnonzero(new).tolist():
            hit = next(
                (
                    identities[ident]
                    for ident in _identities(resource, wf, j, link="client_key")
                    if ident in identities
                ),
                None,
            )
            if hit is None or hit in taken:
                continue
            taken.add(hit)
            w_key, c_id, row = keys[j], c_ids[hit], int(wf["_row"].iloc[j])
            if str(_col(cf, "customfield")[hit] or "").startswith(CREATE_MARKER_PREFIX):
                # billsync created it for this row in a run that was interrupted before the id reached
                # the workbook: no conflict and no row of its own; the loader adopts it by its marker
                # (load.apply_plan, `marked`) and the write-back puts its id into the row.
                self.unread[resource].add(c_id)
                if resource == "clients":
                    self.marked_clients.add(c_id)
                continue
            side = self.side(resource, w_key, "")
            self.conflict(
                resource=resource,
                key=w_key,
                sheet=self.sheet_of(resource).sheet,
                row=row,
                field="",
                header="",
                base=None,
                billomat=_label(resource, cf, hit),
                sheet_value=_label(resource, wf, j),
                kind="created_both",
                billomat_id=c_id,
                resolved_by=side,
            )
            if side is None:
                # Held: the row is not created, Billomat's record is not appended, nor anything of either.
                self.skip_w[resource].add(w_key)
                self.left_out[resource].add(c_id)
                self.holds.append(Hold(resource, c_id))
            else:
                self.adopt(resource, w_key, c_id, row, side)

    def adopt(self, resource: str, w_key: str, c_id: str, row: int, side: Side) -> None:
        """The workbook row becomes Billomat's record: its key, and every reference to it, is the id."""
        self.forced[resource][c_id] = side
        sm = self.sheet_of(resource)
        self.update(
            resource, row, c_id, sm.key_column.header, sm.key, "" if w_key.startswith("row:") else w_key, c_id
        )
        frames = ("clients", "contacts", "values", "tags") if resource == "clients" else ("contacts",)
        for name in frames:
            frame = self.W[name]
            column = "_key" if name == resource else "client_key"
            if column not in frame.columns or not len(frame):
                continue
            hit = _col(frame, column) == w_key
            if hit.any():
                frame = frame.copy()
                frame.loc[hit, column] = c_id
                self.W[name] = frame
                if name == "contacts" and resource == "clients" and self.ks is not None:
                    link = next(
                        (c for c in self.ks.columns if c.field == "client_id" and c.lookup is None), None
                    )
                    if link is not None and not w_key.startswith("row:"):
                        for r, k in zip(frame["_row"][hit], _col(frame, "_key")[hit], strict=True):
                            self.update("contacts", int(r), k, link.header, "client_id", w_key, c_id)

    # -- alignment and comparison ------------------------------------------------------------

    def universe(self, resource: str) -> _Universe:
        wf = self.W[resource]
        skip = self.skip_w[resource]
        if skip:
            wf = wf[~pd.Index(_col(wf, "_key"), dtype=object).isin(list(skip))]
        if resource == "contacts" and self.skip_w["clients"]:
            wf = wf[~pd.Index(_col(wf, "client_key"), dtype=object).isin(list(self.skip_w["clients"]))]
        wf = wf.reset_index(drop=True)
        self.W[resource] = wf
        _, b_index = self.frames_b[resource]
        _, c_index = self.frames_c[resource]
        w_keys = _col(wf, "_key")
        w_index = pd.Index(w_keys, dtype=object)
        b_only = b_index[~b_index.isin(w_index)]
        c_only = c_index[~c_index.isin(w_index) & ~c_index.isin(b_index)]
        keys = np.concatenate([w_keys, b_only.to_numpy(dtype=object), c_only.to_numpy(dtype=object)])
        n = len(keys)
        pw = np.full(n, -1, dtype=np.int64)
        pw[: len(w_keys)] = np.arange(len(w_keys))
        index = pd.Index(keys, dtype=object)
        pb = b_index.get_indexer(index) if len(b_index) else np.full(n, -1, dtype=np.int64)
        pc = c_index.get_indexer(index) if len(c_index) else np.full(n, -1, dtype=np.int64)
        new = np.zeros(n, dtype=bool)
        loose = np.flatnonzero((pw >= 0) & (pb < 0) & (pc < 0))
        new[loose] = [_is_new_key(k) for k in keys[loose]]
        excluded = self.unread[resource]
        frozen = (pw < 0) & index.isin(list(excluded)) if excluded else np.zeros(n, dtype=bool)
        rows = np.full(n, -1, dtype=np.int64)
        rows[: len(w_keys)] = wf["_row"].to_numpy(dtype=np.int64) if len(wf) else []
        side = np.full(n, None, dtype=object)
        for key, forced in self.forced[resource].items():
            at = index.get_indexer([key])[0]
            if at >= 0:
                side[at] = forced
        return _Universe(
            keys=keys,
            pw=pw,
            pb=pb,
            pc=pc,
            index=index,
            new=new,
            frozen=frozen,
            w_edit=np.zeros(n, dtype=bool),
            c_edit=np.zeros(n, dtype=bool),
            fate=np.full(n, NONE, dtype=np.int64),
            side=side,
            rows=rows,
        )

    def columns(self, resource: str) -> tuple[list[ColumnMap], set[str]]:
        """Every writable column (C's edits count on all of them), and the fields the workbook has."""
        sm = self.sheet_of(resource)
        wf = self.W[resource]
        missing = set(self.desired.missing.get(resource, ()))
        cols = [c for c in writable_columns(sm) if c.field != "client_id"]
        in_w = {c.field for c in cols if c.field in wf.columns and c.field not in missing}
        if resource == "contacts":
            cols.insert(0, ColumnMap(header=_link_header(sm), field="client_id", normalize=()))
            if "client_key" in wf.columns and "client_id" not in missing and _link_header(sm):
                in_w.add("client_id")
        return cols, in_w

    def compare(self, u: _Universe, resource: str) -> list[_Cells]:
        bf, _ = self.frames_b[resource]
        cf, _ = self.frames_c[resource]
        wf = self.W[resource]
        cols, in_w = self.columns(resource)
        in_b, in_c, in_w_rows = u.in_b, u.in_c, u.in_w
        both_bc = in_b & in_c
        w_b = in_w_rows & in_b
        w_c = in_w_rows & in_c
        inherit_b = inherit_c = None
        if resource == "contacts":
            inherit_b = _Inherit(self.frames_b["clients"], _take(_col(bf, "client_id"), u.pb))
            inherit_c = _Inherit(self.frames_c["clients"], _take(_col(cf, "client_id"), u.pc))
        out: list[_Cells] = []
        for col in cols:
            steps = col.normalize
            b = _take(_col(bf, col.field), u.pb)
            c = _take(_col(cf, col.field), u.pc)
            cchg = _differs(b, c, steps, both_bc)
            if inherit_c is not None and cchg.any():
                # Billomat showing the client's value in a contact's field is no change of the contact
                # (under the "read" reading it follows every change of the client): sync/inherit.py.
                at = np.flatnonzero(cchg)
                shown = inherit_c(col.field, at)
                if shown is not None:
                    cchg[at[_clean(c[at]) == shown]] = False
            u.c_edit |= cchg
            if col.field not in in_w:
                out.append(_Cells(col, col.field, None, b, c, None, cchg, None))
                continue
            w_field = "client_key" if resource == "contacts" and col.field == "client_id" else col.field
            w = _take(_col(wf, w_field), u.pw)
            wchg = _differs(b, w, steps, w_b, inherit_b, col.field)
            wc = _differs(c, w, steps, w_c, inherit_c, col.field)
            u.w_edit |= wchg
            stale = None
            if self.older:
                stale = self.stale_cells(u, resource, col.field, w, steps, wchg & wc & in_c)
                cchg = cchg | stale
                u.c_edit |= stale
            out.append(_Cells(col, w_field, w, b, c, wchg, cchg, wc, stale))
        return out

    def stale_cells(
        self, u: _Universe, resource: str, fld: str, w: np.ndarray, steps: tuple[str, ...], mask: np.ndarray
    ) -> np.ndarray:
        """Where the workbook's value (an edit against B, differing from C) equals an older state's value."""
        out = np.zeros(len(w), dtype=bool)
        if not mask.any():
            return out
        for frames in self.frames_o:
            frame, index = frames[resource]
            positions = index.get_indexer(u.index) if len(index) else np.full(len(w), -1, dtype=np.int64)
            older = _take(_col(frame, fld), positions)
            where = mask & (positions >= 0) & ~out
            out |= where & ~_differs(older, w, steps, where)
        return out

    # -- property values ---------------------------------------------------------------------

    def compare_values(self, u: _Universe) -> dict[str, np.ndarray] | None:
        """W's property cells aligned with B's and C's values ("" = no value row), and what changed."""
        assert self.cs is not None
        if self.cs.properties is None:
            return None
        steps = self.cs.properties.normalize
        wv = self.W["values"]
        if len(wv) and self.skip_w["clients"]:
            wv = wv[~pd.Index(_col(wv, "client_key"), dtype=object).isin(list(self.skip_w["clients"]))]
        missing = self.desired.missing.get("client_property_values", ())
        if len(wv) and missing:
            wv = wv[~pd.Index(_col(wv, "client_property_id"), dtype=object).isin(list(missing))]
        wv = wv.reset_index(drop=True)
        self.W["values"] = wv
        clients = _col(wv, "client_key")
        pids = _col(wv, "client_property_id")
        at = _positions(u.index, clients)
        in_b, in_c = _at(u.in_b, at, False), _at(u.in_c, at, False)
        b = _lookup_values(self.B.client_property_values, u.index, at, pids)
        c = _lookup_values(self.C.client_property_values, u.index, at, pids)
        w = _col(wv, "value")
        wchg = _differs(b, w, steps, in_b)
        cchg = _differs(b, c, steps, in_b & in_c)
        wc = _differs(c, w, steps, in_c)
        stale = np.zeros(len(w), dtype=bool)
        for older in self.older:
            clients = pd.Index(_col(older.clients, "id"), dtype=object)
            known = clients.get_indexer(u.keys[np.maximum(at, 0)]) >= 0 if len(at) else np.zeros(0, dtype=bool)
            where = wchg & wc & in_c & (at >= 0) & known & ~stale
            if where.any():
                o = _lookup_values(older.client_property_values, u.index, at, pids)
                stale |= where & ~_differs(o, w, steps, where)
        cchg |= stale
        u.w_edit[at[wchg]] = True
        u.c_edit[at[cchg]] = True
        # C's changes on clients the workbook no longer holds (a delete there would lose them).
        gone_w = ~u.in_w & u.in_b & u.in_c
        if gone_w.any():
            ids = u.keys[gone_w]
            changed = _changed_values(
                self.B.client_property_values, self.C.client_property_values, ids, steps
            )
            u.c_edit[u.index.get_indexer(pd.Index(changed, dtype=object))] = True
        return {"at": at, "b": b, "c": c, "w": w, "wchg": wchg, "cchg": cchg, "wc": wc, "stale": stale}

    def merge_values(self, u: _Universe, v: dict[str, np.ndarray]) -> pd.DataFrame:
        wv = self.W["values"]
        at = v["at"]
        if not len(wv):
            return wv
        fate = _at(u.fate, at, NONE)
        keep = np.isin(fate, (MERGE, CREATE, RECREATE))
        merging = fate == MERGE
        with_base = _at(u.in_b, at, False)
        value = v["w"].copy()
        c, w = v["c"], v["w"]
        both = merging & with_base
        base_less = merging & ~with_base
        take_c = merging & ~(both & v["wchg"] & ~v["cchg"])
        value[take_c] = c[take_c]
        only_c = both & v["cchg"] & ~v["wchg"] & v["wc"]
        conflict = (both & v["wchg"] & v["cchg"] & v["wc"]) | (base_less & v["wc"])
        clients, pids, rows = _col(wv, "client_key"), _col(wv, "client_property_id"), wv["_row"].to_numpy()
        if only_c.any():
            self.update_parts.append(
                _update_frame(
                    "client_property_values",
                    self.cs.sheet if self.cs else "",
                    rows[only_c],
                    clients[only_c],
                    np.array([self.prop_headers.get(p, p) for p in pids[only_c]], dtype=object),
                    pids[only_c],
                    w[only_c],
                    np.array(
                        [self.shown_value(p, x) for p, x in zip(pids[only_c], c[only_c], strict=True)],
                        dtype=object,
                    ),
                )
            )
        for i in np.flatnonzero(conflict):
            key, pid = clients[i], pids[i]
            has_base = bool(both[i])
            side = self.side("client_property_values", key, pid, u.side[at[i]])
            self.conflict(
                forced=u.side[at[i]],
                resource="client_property_values",
                key=key,
                sheet=self.sheet_of("clients").sheet,
                row=int(rows[i]),
                field=pid,
                header=self.prop_headers.get(pid, pid),
                base=v["b"][i] if has_base else None,
                billomat=c[i],
                sheet_value=w[i],
                kind=(STALE_COPY if v["stale"][i] else "both_changed") if has_base else "no_base",
                resolved_by=side,
            )
            if side == "sheet":
                value[i] = w[i]
            elif side == "billomat":
                self.update(
                    "client_property_values",
                    rows[i],
                    key,
                    self.prop_headers.get(pid, pid),
                    pid,
                    w[i],
                    self.shown_value(pid, c[i]),
                )
            else:
                self.holds.append(Hold("client_property_values", key, pid))
        out = wv.assign(value=value)[keep]
        out = out.assign(client_key=self.rekey_values(u, at[keep], _col(out, "client_key")))
        return out.reset_index(drop=True)

    def shown_value(self, pid: str, value: str) -> str:
        """A property value as the workbook shows it (a CHECKBOX as the mapping's labels)."""
        props = self.cs.properties if self.cs is not None else None
        if props is not None and self.prop_types.get(pid) == "CHECKBOX":
            return {"1": props.checkbox_checked, "0": props.checkbox_unchecked}.get(value, value)
        return value

    # -- tags --------------------------------------------------------------------------------

    def compare_tags(self, u: _Universe) -> dict[str, np.ndarray] | None:
        assert self.cs is not None
        if self.cs.tags is None or not self.desired.has_tags or "client_tags" in self.desired.missing:
            return None
        steps = self.cs.tags.normalize
        wt = self.W["tags"]
        if len(wt) and self.skip_w["clients"]:
            wt = wt[~pd.Index(_col(wt, "client_key"), dtype=object).isin(list(self.skip_w["clients"]))]
        wt = wt.reset_index(drop=True)
        self.W["tags"] = wt
        bt, ct = self.B.client_tags, self.C.client_tags
        w_names, b_names, c_names = (
            _clean(_col(wt, "name")),
            _clean(_col(bt, "name")),
            _clean(_col(ct, "name")),
        )
        w_client, c_client = _col(wt, "client_key"), _col(ct, "client_id")
        w_at = _positions(u.index, w_client)
        b_at = _positions(u.index, _col(bt, "client_id"))
        c_at = _positions(u.index, c_client)
        # A tag is the pair (client, normalised name), coded as one integer: universe position × the
        # code of the name (the few distinct names are normalised once each).
        (w_code, b_code, c_code), names = _name_codes((w_names, b_names, c_names), steps)
        w_pairs, b_pairs, c_pairs = (
            pd.Index(at * (names + 1) + code, dtype=np.int64)
            for at, code in ((w_at, w_code), (b_at, b_code), (c_at, c_code))
        )
        t = {
            "w_at": w_at, "b_at": b_at, "c_at": c_at,
            "w_names": w_names, "c_names": c_names,
            "w_client": w_client, "c_client": c_client,
            "w_ok": (w_code >= 0) & (w_at >= 0) & ~w_pairs.duplicated(),
            "c_ok": (c_code >= 0) & (c_at >= 0) & ~c_pairs.duplicated(),
            "b_ok": (b_code >= 0) & (b_at >= 0) & ~b_pairs.duplicated(),
            "w_in_b": w_pairs.isin(b_pairs), "w_in_c": w_pairs.isin(c_pairs),
            "c_in_b": c_pairs.isin(b_pairs), "c_in_w": c_pairs.isin(w_pairs),
            "b_in_w": b_pairs.isin(w_pairs), "b_in_c": b_pairs.isin(c_pairs),
        }  # fmt: skip
        in_w, in_b, in_c = u.in_w, u.in_b, u.in_c

        def flag(target: np.ndarray, at: np.ndarray, where: np.ndarray) -> None:
            hit = at[where & (at >= 0)]
            target[hit] = True

        # W changed the client's tags since B (only for clients both hold), likewise C.
        w_b = np.zeros(len(u.keys), dtype=bool)
        flag(w_b, w_at, t["w_ok"] & ~t["w_in_b"])
        flag(w_b, b_at, t["b_ok"] & ~t["b_in_w"])
        u.w_edit |= w_b & in_w & in_b
        c_b = np.zeros(len(u.keys), dtype=bool)
        flag(c_b, c_at, t["c_ok"] & ~t["c_in_b"])
        flag(c_b, b_at, t["b_ok"] & ~t["b_in_c"])
        u.c_edit |= c_b & in_b & in_c
        # Without a base: W's set and C's set differ.
        w_c = np.zeros(len(u.keys), dtype=bool)
        flag(w_c, w_at, t["w_ok"] & ~t["w_in_c"])
        flag(w_c, c_at, t["c_ok"] & ~t["c_in_w"])
        t["differs_wc"] = w_c
        # A client whose merged set differs from W's: the workbook's cell changes.
        wb = np.zeros(len(u.keys), dtype=bool)
        flag(wb, w_at, t["w_ok"] & t["w_in_b"] & ~t["w_in_c"])  # removed in Billomat
        flag(wb, c_at, t["c_ok"] & ~t["c_in_b"] & ~t["c_in_w"])  # added in Billomat
        t["workbook"] = wb
        return t

    def merge_tags(self, u: _Universe, t: dict[str, np.ndarray]) -> pd.DataFrame:
        assert self.cs is not None and self.cs.tags is not None
        header = self.cs.tags.header
        wt = self.W["tags"]
        w_at, c_at = t["w_at"], t["c_at"]
        fate_w = _at(u.fate, w_at, NONE)
        fate_c = _at(u.fate, c_at, NONE)
        with_base_w = _at(u.in_b, w_at, False)
        with_base_c = _at(u.in_b, c_at, False)
        # A client both hold without a base whose sets differ: a conflict decides whose set it is.
        base_less = np.flatnonzero((u.fate == MERGE) & ~u.in_b & t["differs_wc"])
        use_c = np.zeros(len(u.keys), dtype=bool)  # the client's set stays C's (held, or billomat)
        if base_less.size:
            w_names = _groups(w_at, t["w_names"], t["w_ok"], base_less)
            c_names = _groups(c_at, t["c_names"], t["c_ok"], base_less)
            for i in base_less.tolist():
                key = u.keys[i]
                side = self.side("client_tags", key, TAGS_FIELD, u.side[i])
                w_cell, c_cell = self.tags_cell(w_names.get(i, [])), self.tags_cell(c_names.get(i, []))
                self.conflict(
                    forced=u.side[i],
                    resource="client_tags",
                    key=key,
                    sheet=self.cs.sheet,
                    row=int(u.rows[i]),
                    field=TAGS_FIELD,
                    header=header,
                    base=None,
                    billomat=c_cell,
                    sheet_value=w_cell,
                    kind="no_base",
                    resolved_by=side,
                )
                if side != "sheet":
                    use_c[i] = True
                if side == "billomat":
                    self.update("client_tags", u.rows[i], key, header, TAGS_FIELD, w_cell, c_cell)
                elif side is None:
                    self.holds.append(Hold("client_tags", key))
        w_use_c = _at(use_c, w_at, False)
        c_use_c = _at(use_c, c_at, False)
        merging_w, merging_c = fate_w == MERGE, fate_c == MERGE
        # merged = (W ∩ C) ∪ (W − B) ∪ (C − B)
        keep_w = t["w_ok"] & (
            np.isin(fate_w, (CREATE, RECREATE))
            | (merging_w & ~with_base_w & ~w_use_c)
            | (merging_w & with_base_w & (t["w_in_c"] | ~t["w_in_b"]))
        )
        keep_c = (
            t["c_ok"] & merging_c & ((~with_base_c & c_use_c) | (with_base_c & ~t["c_in_b"] & ~t["c_in_w"]))
        )
        client_keys = self.rekey_values(u, w_at[keep_w], _col(wt, "client_key")[keep_w])
        parts = [_tags_frame(wt["_row"].to_numpy(dtype=np.int64)[keep_w], client_keys, t["w_names"][keep_w])]
        if keep_c.any():
            parts.append(_tags_frame(u.rows[c_at[keep_c]], t["c_client"][keep_c], t["c_names"][keep_c]))
        out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        out = out.sort_values("_row", kind="stable").reset_index(drop=True)
        # The workbook's cell of each client (with a base) whose merged set differs from W's.
        changed = np.flatnonzero(t["workbook"] & (u.fate == MERGE) & u.in_b)
        if changed.size:
            old = _groups(w_at, t["w_names"], t["w_ok"], changed)
            new = _groups(w_at[keep_w], t["w_names"][keep_w], np.ones(int(keep_w.sum()), dtype=bool), changed)
            for i, names in _groups(
                c_at[keep_c], t["c_names"][keep_c], np.ones(int(keep_c.sum()), dtype=bool), changed
            ).items():
                new.setdefault(i, []).extend(names)
            for i in changed.tolist():
                old_cell, new_cell = self.tags_cell(old.get(i, [])), self.tags_cell(new.get(i, []))
                if old_cell != new_cell:
                    self.update("client_tags", u.rows[i], u.keys[i], header, TAGS_FIELD, old_cell, new_cell)
        return out

    def tags_cell(self, names: Iterable[str]) -> str:
        assert self.cs is not None and self.cs.tags is not None
        names = list(dict.fromkeys(names))
        if self.cs.tags.sort:
            names.sort(key=lambda n: (n.casefold(), n))
        return self.cs.tags.separator.join(names)

    # -- contacts and clients ----------------------------------------------------------------

    def touched_by_contacts(self, clients: _Universe, contacts: _Universe) -> None:
        """A client is edited on a side when that side created, changed or deleted one of its contacts."""
        wf = self.W["contacts"]
        bf, _ = self.frames_b["contacts"]
        cf, _ = self.frames_c["contacts"]
        w_client = _take(_col(wf, "client_key"), contacts.pw)
        w_touch = contacts.in_w & (contacts.new | contacts.w_edit)
        hit = clients.index.get_indexer(pd.Index(w_client[w_touch], dtype=object))
        clients.w_edit[hit[hit >= 0]] = True
        c_client = _take(_col(cf, "client_id"), contacts.pc)
        b_client = _take(_col(bf, "client_id"), contacts.pb)
        created = contacts.in_c & ~contacts.in_b
        edited = contacts.in_c & contacts.in_b & contacts.c_edit
        deleted = contacts.in_b & ~contacts.in_c
        ids = np.concatenate([c_client[created | edited], b_client[deleted | edited]])
        hit = clients.index.get_indexer(pd.Index(ids, dtype=object))
        clients.c_edit[hit[hit >= 0]] = True

    def record_fates(self, u: _Universe, resource: str, clients: _Universe | None = None) -> None:
        """Each record's fate on both sides; record-level conflicts are listed and decided here."""
        in_w, in_b, in_c = u.in_w, u.in_b, u.in_c
        u.fate[in_w & in_c] = MERGE
        u.fate[u.new] = CREATE
        deleted_w = ~in_w & in_b & in_c & ~u.frozen
        created_c = ~in_w & ~in_b & in_c & ~u.frozen
        u.fate[created_c] = APPEND
        u.fate[created_c & pd.Index(u.keys, dtype=object).isin(list(self.left_out[resource]))] = KEEP
        u.fate[deleted_w & ~u.c_edit] = DELETE
        gone_c = in_w & ~in_c & ~u.new
        u.fate[gone_c & in_b & ~u.w_edit] = REMOVE
        sm = self.sheet_of(resource)
        bf, _ = self.frames_b[resource]
        cf, _ = self.frames_c[resource]
        wf = self.W[resource]

        done = np.zeros(len(u.keys), dtype=bool)
        owner = client = None
        if resource == "contacts" and clients is not None and len(u.keys):
            # A contact follows its client's record-level fate: the workbook rows of a client Billomat
            # deleted are removed, recreated or held with it; the Billomat records of a client the
            # workbook lacks are held or appended with it, and nothing is done about those of a client
            # deleted from the workbook (deleting the client deletes them).
            w_client = _take(_col(wf, "client_key"), u.pw)
            c_client = _take(_col(cf, "client_id"), u.pc)
            b_client = _take(_col(bf, "client_id"), u.pb)
            client = np.where(in_w, w_client, np.where(in_c, c_client, b_client))
            owner = _at(clients.fate, _positions(clients.index, client), NONE)
            done = in_w & ~in_c & np.isin(owner, (REMOVE, RECREATE, GONE))
            done |= ~in_w & in_c & ~u.frozen & np.isin(owner, (KEEP, APPEND))
            done |= ~in_w & ~u.frozen & (owner == DELETE)
            u.fate[done] = owner[done]
            u.fate[done & (owner == DELETE)] = NONE

        for i in np.flatnonzero(deleted_w & u.c_edit & ~done):
            key = u.keys[i]
            side = self.side(resource, key, "")
            self.conflict(
                resource=resource,
                key=key,
                sheet=sm.sheet,
                row=None,
                field="",
                header="",
                base=_label(resource, bf, u.pb[i]),
                billomat=_label(resource, cf, u.pc[i]),
                sheet_value=None,
                kind="deleted_vs_edited_in_billomat",
                resolved_by=side,
            )
            if side == "sheet":
                u.fate[i] = DELETE
            elif side == "billomat":
                u.fate[i] = APPEND
            else:
                u.fate[i] = KEEP
                self.left_out[resource].add(key)
                self.holds.append(Hold(resource, key))
        for i in np.flatnonzero(gone_c & (u.w_edit | ~in_b) & ~done):
            key, row = u.keys[i], int(u.rows[i])
            side = self.side(resource, key, "")
            self.conflict(
                resource=resource,
                key=key,
                sheet=sm.sheet,
                row=row,
                field="",
                header="",
                base=_label(resource, bf, u.pb[i]) if in_b[i] else None,
                billomat=None,
                sheet_value=_label(resource, wf, u.pw[i]),
                kind="edited_vs_deleted_in_billomat" if in_b[i] else "no_base",
                resolved_by=side,
            )
            if side == "sheet":
                u.fate[i] = RECREATE
            elif side == "billomat":
                u.fate[i] = REMOVE
            else:
                u.fate[i] = GONE
                if in_b[i]:
                    self.holds.append(Hold(resource, key))
        removed = u.fate == REMOVE
        after_delete = np.full(len(u.keys), "", dtype=object)
        if resource == "contacts" and owner is not None and client is not None:
            # Contact rows left behind when their client's row was deleted: Billomat deletes them with it.
            orphans = in_w & in_c & (owner == DELETE)
            removed |= orphans
            after_delete[orphans] = client[orphans]
        for i in np.flatnonzero(removed):
            self.removals.append(
                {"resource": resource, "sheet": sm.sheet, "row": int(u.rows[i]), "key": u.keys[i],
                 "label": _label(resource, wf, u.pw[i]), "after_delete": after_delete[i]}
            )  # fmt: skip
        for i in np.flatnonzero((u.fate == RECREATE) & ~u.new):
            # The id cell is blanked; the push writes the new id there (writeback.NewIds).
            self.update(resource, u.rows[i], u.keys[i], sm.key_column.header, sm.key, u.keys[i], "")

    def rekey_values(self, u: _Universe, at: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Client keys of recreated clients become their row keys (creates)."""
        out = keys.copy()
        recreate = _at(u.fate, at, NONE) == RECREATE
        if recreate.any():
            out[recreate] = [row_key(int(r)) for r in u.rows[at[recreate]]]
        return out

    def merge_cells(
        self, u: _Universe, cells: list[_Cells], resource: str, clients: _Universe | None = None
    ) -> pd.DataFrame:
        """The rows Billomat should hold: W's rows with the merged values; the workbook's cell updates."""
        wf = self.W[resource]
        sm = self.sheet_of(resource)
        in_b = u.in_b
        merging = u.fate == MERGE
        both = merging & in_b
        base_less = merging & ~in_b
        w_rows = u.pw >= 0
        keep = w_rows & np.isin(u.fate, (MERGE, CREATE, RECREATE))
        data: dict[str, np.ndarray] = {}
        for cell in cells:
            if cell.w is None:
                continue
            assert cell.wchg is not None and cell.wc is not None
            value = cell.w.copy()
            take_c = merging & ~(both & cell.wchg & ~cell.cchg)
            value[take_c] = cell.c[take_c]
            # Billomat's change reaches the workbook cell, unless the cell already means the same (a
            # blank contact cell where Billomat holds the client's value).
            only_c = both & cell.cchg & ~cell.wchg & cell.wc
            if only_c.any():
                self.update_parts.append(
                    _update_frame(
                        resource, sm.sheet, u.rows[only_c], u.keys[only_c],
                        np.full(int(only_c.sum()), cell.col.header, dtype=object),
                        np.full(int(only_c.sum()), cell.col.field, dtype=object),
                        _clean(cell.w[only_c]), _clean(cell.c[only_c]),
                    )
                )  # fmt: skip
            conflict = (both & cell.wchg & cell.cchg & cell.wc) | (base_less & cell.wc)
            for i in np.flatnonzero(conflict):
                key = u.keys[i]
                side = self.side(resource, key, cell.col.field, u.side[i])
                self.conflict(
                    forced=u.side[i],
                    resource=resource,
                    key=key,
                    sheet=sm.sheet,
                    row=int(u.rows[i]),
                    field=cell.col.field,
                    header=cell.col.header,
                    base=cell.b[i] if in_b[i] else None,
                    billomat=cell.c[i],
                    sheet_value=cell.w[i],
                    kind=(
                        (STALE_COPY if cell.stale is not None and cell.stale[i] else "both_changed")
                        if in_b[i]
                        else "no_base"
                    ),
                    resolved_by=side,
                )
                if side == "sheet":
                    value[i] = cell.w[i]
                elif side == "billomat":
                    self.update(
                        resource, u.rows[i], key, cell.col.header, cell.col.field, cell.w[i], cell.c[i]
                    )
                else:
                    self.holds.append(Hold(resource, key, cell.col.field))
            data[cell.w_field] = value
        self.refresh_read_only(u, resource, both, base_less & (u.side != None))  # noqa: E711
        out = wf.iloc[u.pw[keep]].copy()
        for name, value in data.items():
            out[name] = pd.Series(value[keep], index=out.index, dtype=object)
        # Recreated rows are creates: the row key for the record, and for a contact the row key of
        # its recreated client.
        recreate = u.fate[keep] == RECREATE
        if recreate.any():
            keys = _col(out, "_key").copy()
            keys[recreate] = [row_key(int(r)) for r in u.rows[keep][recreate]]
            out["_key"] = pd.Series(keys, index=out.index, dtype=object)
        if clients is not None and "client_key" in out.columns and len(out):
            keys = _col(out, "client_key")
            rekeyed = self.rekey_values(clients, _positions(clients.index, keys), keys)
            out["client_key"] = pd.Series(rekeyed, index=out.index, dtype=object)
        return out.reset_index(drop=True)

    def refresh_read_only(self, u: _Universe, resource: str, both: np.ndarray, adopted: np.ndarray) -> None:
        """Read-only columns (client number, created, ...) follow Billomat.

        `old` is B's value (what the workbook was written with); for a row that adopted Billomat's
        record (created_both decided) the blank cells get Billomat's values.
        """
        sm = self.sheet_of(resource)
        bf, _ = self.frames_b[resource]
        cf, _ = self.frames_c[resource]
        for col in sm.columns:
            if not col.read_only or col.lookup is not None or col.field == sm.key:
                continue
            b = np.where(adopted, "", _take(_col(bf, col.field), u.pb))
            c = _take(_col(cf, col.field), u.pc)
            changed = (both | adopted) & (b != c)
            if changed.any():
                self.update_parts.append(
                    _update_frame(
                        resource, sm.sheet, u.rows[changed], u.keys[changed],
                        np.full(int(changed.sum()), col.header, dtype=object),
                        np.full(int(changed.sum()), col.field, dtype=object),
                        _clean(b[changed]), _clean(c[changed]),
                    )
                )  # fmt: skip

    # -- appends -----------------------------------------------------------------------------

    def appends(self, clients: _Universe | None, contacts: _Universe | None) -> dict[str, pd.DataFrame]:
        """Records to append to the workbook, as a pull writes them."""
        out: dict[str, pd.DataFrame] = {}
        c = self.C
        client_ids = (
            clients.keys[clients.fate == APPEND] if clients is not None else np.array([], dtype=object)
        )
        contact_ids = (
            contacts.keys[contacts.fate == APPEND] if contacts is not None else np.array([], dtype=object)
        )
        if self.cs is not None and len(client_ids):
            subset = _subset(c, client_ids)
            out[self.cs.sheet] = build_tables(subset, _only(self.mapping, "clients"))[self.cs.sheet]
        if self.ks is not None and len(contact_ids):
            people = c.contacts[c.contacts["id"].isin(contact_ids)]
            owners = c.clients[c.clients["id"].isin(people["client_id"])]
            frames = AccountFrames(
                owners, people, c.client_properties, c.client_property_values.iloc[:0], c.client_tags.iloc[:0]
            )
            out[self.ks.sheet] = build_tables(frames, _only(self.mapping, "contacts"))[self.ks.sheet]
        return out


# --------------------------------------------------------------------------------------------
# Next base
# --------------------------------------------------------------------------------------------


def _unwritten_holds(changes: WorkbookChanges) -> list[Hold]:
    """Workbook changes that did not land are held like conflicts, so the next run makes them again."""
    holds: list[Hold] = []
    updates = changes.updates
    for resource, key, fld, new in zip(
        _col(updates, "resource"),
        _col(updates, "key"),
        _col(updates, "field"),
        _col(updates, "new"),
        strict=True,
    ):
        if resource == "client_tags":
            holds.append(Hold("client_tags", key))
        elif resource in ("clients", "contacts") and fld == "id":
            # An adopted row whose id was not written: Billomat's record stays out of the base (so the
            # row and the record meet as created_both again). A blanked id (recreate) has nothing in B.
            if new:
                holds.append(Hold(resource, new))
        else:
            holds.append(Hold(resource, key, fld))
    for resource, key in zip(_col(changes.removals, "resource"), _col(changes.removals, "key"), strict=True):
        holds.append(Hold(resource, key))
    for resource, ids in changes.appended.items():
        holds += [Hold(resource, key) for key in ids]
    return holds


def _apply_holds(after: AccountFrames, base: AccountFrames | None, holds: Iterable[Hold]) -> AccountFrames:
    """`after` with every held part put back as it was in `base` (absent there: left out of the base)."""
    b = base if base is not None else AccountFrames.from_records({})
    frames = {name: after.frame(name) for name in RESOURCES}
    b_clients, b_contacts = set(_col(b.clients, "id")), set(_col(b.contacts, "id"))
    whole: set[str] = set()  # clients with their contacts, values and tags
    rows: set[str] = set()  # clients with their values and tags
    contacts: set[str] = set()
    tags: set[str] = set()
    fields: list[Hold] = []
    for h in holds:
        if h.resource == "clients":
            if not h.field:
                (whole if h.whole else rows).add(h.key)
            elif h.key not in b_clients:
                rows.add(h.key)  # no base value to keep: the record stays out of the base
            else:
                fields.append(h)
        elif h.resource == "contacts":
            if not h.field or h.key not in b_contacts:
                contacts.add(h.key)
            else:
                fields.append(h)
        elif h.resource == "client_property_values":
            if h.key not in b_clients:
                rows.add(h.key)
            else:
                fields.append(h)
        elif h.resource == "client_tags":
            (tags if h.key in b_clients else rows).add(h.key)

    def swap(name: str, keep_out: np.ndarray, bring: np.ndarray) -> None:
        now, old = frames[name], b.frame(name)
        kept, back = now[~keep_out], old[bring]
        frames[name] = (
            pd.concat([kept, back], ignore_index=True) if len(back) else kept.reset_index(drop=True)
        )

    def where(name: str, column: str, keys: set[str], frame: pd.DataFrame | None = None) -> np.ndarray:
        frame = frames[name] if frame is None else frame
        return (
            pd.Index(_col(frame, column), dtype=object).isin(list(keys))
            if keys
            else np.zeros(len(frame), dtype=bool)
        )

    clients = whole | rows
    for name, column, keys in (
        ("clients", "id", clients),
        ("client_property_values", "client_id", clients),
        ("client_tags", "client_id", clients | tags),
        ("contacts", "client_id", whole),
        ("contacts", "id", contacts),
    ):
        if keys:
            swap(name, where(name, column, keys), where(name, column, keys, b.frame(name)))
    for h in fields:
        if h.key in clients:
            continue
        if h.resource == "client_property_values":
            now, old = frames[h.resource], b.frame(h.resource)
            out_now = (_col(now, "client_id") == h.key) & (_col(now, "client_property_id") == h.field)
            in_old = (_col(old, "client_id") == h.key) & (_col(old, "client_property_id") == h.field)
            swap(h.resource, out_now, in_old)
            continue
        now, old = frames[h.resource], b.frame(h.resource)
        value = _col(old, h.field)[_col(old, "id") == h.key]
        now = now.copy() if h.field in now.columns else now.assign(**{h.field: ""})
        now.loc[_col(now, "id") == h.key, h.field] = value[-1] if len(value) else ""
        frames[h.resource] = now
    return AccountFrames(**frames)


# --------------------------------------------------------------------------------------------
# Column helpers
# --------------------------------------------------------------------------------------------


class _Inherit:
    """Per universe row: the client's value of a field (for contacts' inherited fields)."""

    def __init__(self, clients: tuple[pd.DataFrame, pd.Index], client_ids: np.ndarray) -> None:
        self.frame, self.index = clients
        self.client_ids = client_ids

    def __call__(self, fld: str, positions: np.ndarray) -> np.ndarray | None:
        if fld not in INHERITED_CONTACT_FIELDS:
            return None
        ids = self.client_ids[positions]
        at = self.index.get_indexer(pd.Index(ids, dtype=object)) if len(self.index) else np.full(len(ids), -1)
        return _take(_col(self.frame, fld), at)


def _differs(
    old: np.ndarray,
    new: np.ndarray,
    steps: tuple[str, ...],
    mask: np.ndarray,
    inherit: _Inherit | None = None,
    fld: str = "",
) -> np.ndarray:
    """Where `old` and `new` differ after the normaliser (only under `mask`), as a bool array.

    With `inherit` (contacts): an empty `new` where `old` is exactly the client's value is equal.
    """
    out = np.zeros(len(old), dtype=bool)
    if not len(old):
        return out
    candidates = np.flatnonzero((old != new) & mask)
    if not candidates.size:
        return out
    o, n = _clean(old[candidates]), _clean(new[candidates])
    n_norm = _normalized(n, steps) if steps else n
    differs = (_normalized(o, steps) if steps else o) != n_norm
    if inherit is not None and differs.any():
        inherited = inherit(fld, candidates)
        if inherited is not None:
            differs &= ~((n_norm == "") & (o == inherited))
    out[candidates[differs]] = True
    return out


def _at(values: np.ndarray, positions: np.ndarray, default: bool | int) -> np.ndarray:
    """values[positions], `default` (False for a mask, NONE for fates) where the position is -1."""
    if not len(positions):
        return np.array([], dtype=values.dtype)
    if not len(values):
        return np.full(len(positions), default, dtype=values.dtype)
    return np.where(positions >= 0, values[np.maximum(positions, 0)], default)


def _groups(at: np.ndarray, names: np.ndarray, ok: np.ndarray, wanted: np.ndarray) -> dict[int, list[str]]:
    """Universe position → the names at those positions, for the `wanted` positions only."""
    hit = ok & np.isin(at, wanted)
    out: dict[int, list[str]] = {}
    for i, name in zip(at[hit].tolist(), names[hit].tolist(), strict=True):
        out.setdefault(i, []).append(name)
    return out


def _tags_frame(rows: np.ndarray, clients: np.ndarray, names: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "_row": pd.Series(np.asarray(rows, dtype=np.int64), dtype=np.int64),
            "client_key": pd.Series(clients, dtype=object),
            "name": pd.Series(names, dtype=object),
        }
    )


def _take(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """values[positions] with None where the position is -1."""
    if not len(positions):
        return np.array([], dtype=object)
    if not len(values):
        return np.full(len(positions), None, dtype=object)
    out = values[np.maximum(positions, 0)]
    out[positions < 0] = None
    return out


def _name_codes(arrays: tuple[np.ndarray, ...], steps: tuple[str, ...]) -> tuple[list[np.ndarray], int]:
    """Each name's code after the normaliser (-1 for an empty name), and how many codes there are."""
    codes, uniques = (
        pd.factorize(np.concatenate(arrays)) if sum(map(len, arrays)) else (np.array([], dtype=np.int64), [])
    )
    normal = _normalized(np.asarray(uniques, dtype=object), steps)
    final, names = pd.factorize(normal)
    final = np.where(normal == "", -1, final) if len(normal) else final
    mapped = final[codes] if len(final) else codes
    out, start = [], 0
    for array in arrays:
        out.append(mapped[start : start + len(array)].astype(np.int64))
        start += len(array)
    return out, len(names)


def _positions(index: pd.Index, keys: np.ndarray) -> np.ndarray:
    if not len(keys):
        return np.array([], dtype=np.int64)
    return index.get_indexer(pd.Index(keys, dtype=object))


def _pairs(a: np.ndarray, b: np.ndarray) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([pd.Index(a, dtype=object), pd.Index(b, dtype=object)])


def _dedup(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """One row per id (the last, as the diff does), and the index of the ids."""
    ids = _col(frame, "id")
    index = pd.Index(ids, dtype=object)
    if not index.is_unique:
        keep = ~index.duplicated(keep="last")
        frame = frame[keep]
        index = pd.Index(ids[keep], dtype=object)
    return frame.reset_index(drop=True), index


def _value_index(values: pd.DataFrame) -> tuple[pd.MultiIndex, np.ndarray]:
    """(client, property) → value; of two rows the newest (highest id) wins, as on the sheet."""
    if len(values) and "id" in values.columns:
        order = pd.to_numeric(pd.Series(_col(values, "id")), errors="coerce").to_numpy()
        values = values.iloc[np.argsort(order, kind="stable")]
    index = _pairs(_col(values, "client_id"), _col(values, "client_property_id"))
    keep = ~index.duplicated(keep="last")
    return index[keep], _clean(_col(values, "value")[keep])


def _lookup_values(values: pd.DataFrame, index: pd.Index, at: np.ndarray, pids: np.ndarray) -> np.ndarray:
    """The value of each (client at universe position `at`, property) in `values`; "" without a row.

    Pairs are coded as integers (position × property code); of two rows the newest (highest id) wins.
    """
    if not len(at):
        return np.array([], dtype=object)
    if not len(values):
        return np.full(len(at), "", dtype=object)
    if "id" in values.columns:
        order = pd.to_numeric(pd.Series(_col(values, "id")), errors="coerce").to_numpy()
        if not (np.diff(order) >= 0).all():
            values = values.iloc[np.argsort(order, kind="stable")]
    v_at = _positions(index, _col(values, "client_id"))
    v_pids = _col(values, "client_property_id")
    codes, known = pd.factorize(np.concatenate([v_pids, pids]))
    n = len(known) + 1
    v_keys = pd.Index(v_at * n + codes[: len(v_pids)], dtype=np.int64)
    keep = (v_at >= 0) & ~v_keys.duplicated(keep="last")
    found = _clean(_col(values, "value")[keep])
    # get_indexer makes an Index of its argument anyway; made here, as pandas-stubs asks.
    wanted = pd.Index(at * n + codes[len(v_pids) :], dtype=np.int64)
    hit = pd.Index(v_keys[keep], dtype=np.int64).get_indexer(wanted)
    hit[at < 0] = -1
    return np.where(hit >= 0, found[np.maximum(hit, 0)] if len(found) else "", "").astype(object)


def _changed_values(b: pd.DataFrame, c: pd.DataFrame, ids: np.ndarray, steps: tuple[str, ...]) -> np.ndarray:
    """Clients among `ids` whose property values differ between B and C (any property)."""
    ids_index = pd.Index(ids, dtype=object)
    b = b[pd.Index(_col(b, "client_id"), dtype=object).isin(ids_index)]
    c = c[pd.Index(_col(c, "client_id"), dtype=object).isin(ids_index)]
    bi, bv = _value_index(b)
    ci, cv = _value_index(c)
    pairs = bi.append(ci).unique()
    if not len(pairs):
        return np.array([], dtype=object)
    old = np.where((at := bi.get_indexer(pairs)) >= 0, bv[np.maximum(at, 0)] if len(bv) else "", "").astype(
        object
    )
    new = np.where((at := ci.get_indexer(pairs)) >= 0, cv[np.maximum(at, 0)] if len(cv) else "", "").astype(
        object
    )
    differs = _differs(old, new, steps, np.ones(len(pairs), dtype=bool))
    return np.asarray(pairs.get_level_values(0), dtype=object)[differs]


def _norm_identity(value: object) -> str:
    if not isinstance(value, str):
        return ""
    return " ".join(value.split()).casefold()


def _identities(resource: str, frame: pd.DataFrame, i: int, *, link: str) -> list[tuple[str, str, str]]:
    """How a new record is recognised on the other side (never by an empty value)."""
    row = frame.iloc[int(i)]

    def get(name: str) -> str:
        value = row.get(name, "")
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)

    email = _norm_identity(get("email"))
    out: list[tuple[str, str, str]] = []
    if resource == "clients":
        name = _norm_identity(get("name")) or _norm_identity(f"{get('first_name')} {get('last_name')}")
        if name:
            out.append(("", "name", name))
        if email:
            out.append(("", "email", email))
    else:
        client = get(link)
        person = _norm_identity(f"{get('first_name')} {get('last_name')}")
        if person:
            out.append((client, "person", person))
        if email:
            out.append((client, "email", email))
    return out


def _label(resource: str, frame: pd.DataFrame, i: int) -> str:
    """A short label of a record for the Konflikte sheet: client number and name, or the person."""
    if i is None or i < 0 or i >= len(frame):
        return ""
    row = frame.iloc[int(i)]

    def get(name: str) -> str:
        value = row.get(name, "")
        return value if isinstance(value, str) else ""

    if resource == "clients":
        name = get("name") or f"{get('first_name')} {get('last_name')}".strip()
        return " ".join(p for p in (get("client_number"), name) if p)
    person = f"{get('first_name')} {get('last_name')}".strip()
    return " ".join(p for p in (get("label"), person or get("name"), get("email")) if p)


def _link_header(sm: SheetMap) -> str:
    col = next((c for c in sm.columns if c.field == "client_id" and c.lookup is None), None)
    return col.header if col is not None and not col.read_only else ""


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
    return pd.DataFrame(
        {
            "resource": pd.Series(np.full(n, resource, dtype=object), dtype=object),
            "sheet": pd.Series(np.full(n, sheet, dtype=object), dtype=object),
            "row": pd.Series(np.asarray(rows, dtype=np.int64), dtype=np.int64),
            "key": pd.Series(keys, dtype=object),
            "header": pd.Series(headers, dtype=object),
            "field": pd.Series(fields, dtype=object),
            "old": pd.Series(old, dtype=object),
            "new": pd.Series(new, dtype=object),
        }
    )


def _records_frame(records: list[dict[str, object]], columns: tuple[str, ...]) -> pd.DataFrame:
    data = {c: pd.Series([r[c] for r in records], dtype=np.int64 if c == "row" else object) for c in columns}
    return pd.DataFrame(data, columns=list(columns))


__all__ = ["KINDS", "STALE_COPY", "Conflict", "Hold", "Merge", "Side", "WorkbookChanges", "merge_account", "reading_frames"]
