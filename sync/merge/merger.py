"""`merge_account`: the steps of one merge in order, and `reading_frames` (what the workbook is read against)."""

from __future__ import annotations

from collections.abc import Mapping as AnyMapping
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from sync.desired import Desired
from sync.frames import RESOURCES, AccountFrames
from sync.mapping import Mapping
from sync.merge.context import Context
from sync.merge.created import CreatedBoth
from sync.merge.fields import Cells, FieldMerge
from sync.merge.ledger import Ledger, RecordLabels
from sync.merge.model import SIDES, Side
from sync.merge.records import RecordFates, touched_by_contacts
from sync.merge.result import Merge
from sync.merge.sheet_terms import SheetTerms, WorkbookOut
from sync.merge.states import Scope, States
from sync.merge.tags import TagCells, TagMerge
from sync.merge.universe import APPEND, KEEP, Universe, align
from sync.merge.values import ValueCells, ValueMerge


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
    states = States.of(base, current, desired, older)
    terms = SheetTerms(mapping, (states.B.client_properties, states.C.client_properties))
    ledger = Ledger(prefer, decisions or {}, RecordLabels(states), terms)
    ctx = Context(states, Scope.of(desired), ledger, WorkbookOut(terms))
    return _run(ctx)


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


def _run(ctx: Context) -> Merge:
    """Created on both sides → align and compare → record fates → merge fields, values, tags → result.

    The order matters: created_both rewrites W's keys before anything is aligned; every comparison
    marks who edited a record before the fates are decided; contacts follow their client's fate.
    """
    cs, ks, states = ctx.cs, ctx.ks, ctx.states
    clients = contacts = None
    client_fields = contact_fields = None
    client_cells: list[Cells] = []
    contact_cells: list[Cells] = []
    value_merge: ValueMerge | None = None
    tag_merge: TagMerge | None = None
    values: ValueCells | None = None
    tags: TagCells | None = None
    created = CreatedBoth(ctx)
    if cs is not None:
        created.match("clients")
    if ks is not None:
        created.match("contacts")
    if cs is not None:
        clients = align(states, ctx.scope, "clients")
        client_fields = FieldMerge(ctx, "clients")
        client_cells = client_fields.compare(clients)
        if cs.properties is not None:
            value_merge = ValueMerge(ctx, cs.properties)
            values = value_merge.compare(clients)
        desired = states.desired
        if cs.tags is not None and desired.has_tags and "client_tags" not in desired.missing:
            tag_merge = TagMerge(ctx, cs.tags)
            tags = tag_merge.compare(clients)
    if ks is not None:
        contacts = align(states, ctx.scope, "contacts")
        contact_fields = FieldMerge(ctx, "contacts")
        contact_cells = contact_fields.compare(contacts)
    if clients is not None and contacts is not None:
        touched_by_contacts(states, clients, contacts)
    if clients is not None:
        RecordFates(ctx, "clients").decide(clients)
    if contacts is not None:
        RecordFates(ctx, "contacts").decide(contacts, clients)

    desired = states.desired
    client_rows, contact_rows = desired.clients, desired.contacts
    value_rows, tag_rows = desired.property_values, desired.tags
    if clients is not None and client_fields is not None:
        client_rows = client_fields.merge(clients, client_cells)
        if value_merge is not None and values is not None:
            value_rows = value_merge.merge(clients, values)
        if tag_merge is not None and tags is not None:
            tag_rows = tag_merge.merge(clients, tags)
    if contacts is not None and contact_fields is not None:
        contact_rows = contact_fields.merge(contacts, contact_cells, clients)
    appended = _untouched(ctx, {"clients": clients, "contacts": contacts})
    to_billomat = replace(
        desired,
        clients=client_rows,
        contacts=contact_rows,
        property_values=value_rows,
        tags=tag_rows,
        left_out={r: frozenset(keys) for r, keys in ctx.scope.left_out.items()},
    )
    return Merge(
        to_billomat=to_billomat,
        to_workbook=ctx.out.changes(states.C, appended),
        conflicts=tuple(ctx.ledger.conflicts),
        holds=tuple(dict.fromkeys(ctx.ledger.holds)),
        base=states.base,
    )


def _untouched(ctx: Context, universes: dict[str, Universe | None]) -> dict[str, tuple[str, ...]]:
    """Leave Billomat's records the workbook has no row for out of the diff; the ids to append."""
    appended: dict[str, tuple[str, ...]] = {}
    for resource, u in universes.items():
        if u is None:
            continue
        # Records Billomat keeps as they are and the workbook has no row for: the diff must not
        # read them as deleted.
        untouched = np.isin(u.fate, (KEEP, APPEND)) & u.in_c
        ctx.scope.left_out[resource].update(u.keys[untouched].tolist())
        appended[resource] = tuple(u.keys[u.fate == APPEND].tolist())
    return appended
