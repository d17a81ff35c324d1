"""The plan: every write a push would make, in dependency order, with what the delete guard holds."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from sync.desired import Desired, RowProblem
from sync.diff import Diff, key_sort
from sync.frames import AccountFrames
from sync.mapping import Mapping

RESOURCES = ("clients", "contacts", "client_property_values", "client_tags")
ACTIONS = ("create", "update", "delete", "set", "clear", "add", "remove")


@dataclass(frozen=True)
class Change:
    """One write: which record, what changes (old → new), and exactly the body that will be sent."""

    resource: str
    action: str
    key: str
    sheet: str
    row: int | None
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)
    payload: dict[str, str] = field(default_factory=dict)
    client_key: str = ""
    ref: str = ""
    marker: str = ""
    # For messages: a deleted record's client number and name, or a property's name.
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (fields as {"old", "new"})."""
        data = asdict(self)
        data["fields"] = {name: {"old": old, "new": new} for name, (old, new) in self.fields.items()}
        return data


@dataclass(frozen=True)
class HeldChange:
    """A change the plan will not make, and why (e.g. the delete guard)."""

    change: Change
    reason: str


@dataclass(frozen=True)
class Plan:
    """Everything a push would do; `to_dict()` is the --json output and the test oracle."""

    changes: list[Change] = field(default_factory=list)
    held: list[HeldChange] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Number of changes per resource and action (only non-zero ones)."""
        out: dict[str, dict[str, int]] = {}
        for change in self.changes:
            per = out.setdefault(change.resource, {})
            per[change.action] = per.get(change.action, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the whole plan."""
        return {
            "counts": self.counts(),
            "changes": [c.to_dict() for c in self.changes],
            "held": [{"reason": h.reason, **h.change.to_dict()} for h in self.held],
            "problems": [str(p) for p in self.problems],
            "warnings": [str(w) for w in self.warnings],
        }


# --------------------------------------------------------------------------------------------
# Building the plan
# --------------------------------------------------------------------------------------------

# The delete guard's default (SPEC §5): at most 10 rows and at most 10 % of a resource's records.
DEFAULT_MAX_DELETE_ROWS = 10
DEFAULT_MAX_DELETE_PERCENT = 10
NEED_FLAG = "deletes need --allow-deletes"

# Dependency order (docs/design.md): a contact, property value or tag needs its client to exist,
# deletes go last so that nothing is deleted when an earlier step of the same run stops it.
_GROUPS = {
    ("clients", "create"): 0,
    ("clients", "update"): 1,
    ("contacts", "create"): 2,
    ("contacts", "update"): 2,
    ("client_property_values", "set"): 3,
    ("client_property_values", "clear"): 3,
    ("client_tags", "remove"): 4,
    ("client_tags", "add"): 4,
    ("contacts", "delete"): 5,
    ("clients", "delete"): 6,
}
# Within a group: sheet row first; a tag remove before an add (a renamed or re-cased tag).
_ACTION_RANK = {"remove": 0, "create": 0, "set": 0, "clear": 0, "add": 1, "update": 1, "delete": 0}


def default_delete_limit(current_rows: int) -> int:
    """Most deletes allowed per resource without --max-deletes: min(10, floor(10 % of its records))."""
    return min(DEFAULT_MAX_DELETE_ROWS, current_rows * DEFAULT_MAX_DELETE_PERCENT // 100)


def create_marker(sheet: str, key: str, payload: dict[str, str], occurrence: int = 0) -> str:
    """Idempotency marker of a create: the same row and content give the same marker on every run."""
    content = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    source = json.dumps([sheet, key, content, occurrence], ensure_ascii=False, separators=(",", ":"))
    return "billsync:" + hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]


def change_order(change: Change) -> tuple[int, int, tuple[int, int, str], int, tuple[int, int, str]]:
    """Sort key: dependency group, sheet row, key, action, ref (deletes have no row: by key)."""
    return (
        _GROUPS[(change.resource, change.action)],
        change.row if change.row is not None else -1,
        key_sort(change.key),
        _ACTION_RANK[change.action],
        key_sort(change.ref),
    )


def build_plan(
    diff: Diff,
    desired: Desired,
    current: AccountFrames,
    mapping: Mapping,
    *,
    allow_deletes: bool = False,
    max_deletes: int | None = None,
) -> Plan:
    """Turn a Diff into Changes in dependency order and hold what the delete guard stops; pure."""
    client_sheet = mapping.sheets.get("clients")
    contact_sheet = mapping.sheets.get("contacts")
    kunden = client_sheet.sheet if client_sheet else "clients"
    kontakte = contact_sheet.sheet if contact_sheet else "contacts"
    problems: list[RowProblem] = list(desired.problems)

    changes: list[Change] = []
    changes += _creates(diff.clients.creates, "clients", kunden)
    changes += _updates(diff.clients.updates, "clients", kunden, {})
    contact_clients = dict(
        zip(_text(desired.contacts, "_key"), _text(desired.contacts, "client_key"), strict=True)
    )
    changes += _creates(diff.contacts.creates, "contacts", kontakte)
    changes += _updates(diff.contacts.updates, "contacts", kontakte, contact_clients)
    changes += _property_changes(diff, current, kunden)
    changes += _tag_changes(diff, kunden)

    for resource, sheet, record_diff in (
        ("clients", client_sheet, diff.clients),
        ("contacts", contact_sheet, diff.contacts),
    ):
        column = sheet.key_column.header if sheet is not None else None
        noun = "client" if resource == "clients" else "contact"
        for key, row in zip(_text(record_diff.unknown, "key"), record_diff.unknown["row"], strict=True):
            problems.append(
                RowProblem(
                    sheet.sheet if sheet else resource,
                    int(row),
                    column,
                    f"Billomat has no {noun} with id {key!r} (deleted there?); "
                    f"leave the cell empty to create the row as a new {noun}",
                )
            )

    # A contact, property value or tag needs a client that exists or is created in this run.
    known = set(_text(current.clients, "id")) | {
        c.key for c in changes if c.resource == "clients" and c.action == "create"
    }
    kept: list[Change] = []
    for change in changes:
        if change.client_key and change.client_key not in known and change.action != "remove":
            problems.append(
                RowProblem(
                    change.sheet,
                    change.row,
                    None,
                    f"client {change.client_key!r} is neither in Billomat nor a new row of sheet {kunden!r}"
                    f" this run; {change.resource} {change.action} skipped",
                )
            )
        else:
            kept.append(change)
    changes = kept

    # A record that an earlier, interrupted push created for a row that is still a create here carries
    # that create's marker in its customfield: the loader adopts it for the row (sync/load/adopt.py), so it
    # is no delete, and must neither be shown as one nor count towards the delete guard.
    markers = {c.marker for c in changes if c.action == "create" and c.marker}
    held: list[HeldChange] = []
    for resource, sheet_name, deletes in (
        ("contacts", kontakte, diff.contacts.deletes),
        ("clients", kunden, diff.clients.deletes),
    ):
        frame = current.frame(resource)
        made_for_rows: set[str] = set()
        if markers and len(deletes):  # (300,000 records read for nothing when there is no create or delete)
            marks = zip(_text(frame, "id"), _text(frame, "customfield"), strict=True)
            made_for_rows = {rid for rid, mark in marks if mark in markers}
        planned = [c for c in _deletes(deletes, resource, sheet_name) if c.key not in made_for_rows]
        # sync.desired blocks a resource's deletes when a malformed or unknown key may be a typo of an
        # existing id (whose record would then look deleted); that outranks every flag.
        reason = desired.deletes_blocked.get(resource, "") if planned else ""
        reason = reason or _guard(
            resource, len(planned), len(current.frame(resource)), allow_deletes, max_deletes
        )
        if reason:
            held += [HeldChange(change, reason) for change in planned]
        else:
            changes += planned

    changes.sort(key=change_order)
    held.sort(key=lambda h: change_order(h.change))
    return Plan(changes=changes, held=held, problems=problems, warnings=list(desired.warnings))


def delete_guard(resource: str, count: int, total: int, allow_deletes: bool, max_deletes: int | None) -> str:
    """Why `count` deletes of a resource of `total` records are held ("" when they may go ahead), SPEC §5."""
    return _guard(resource, count, total, allow_deletes, max_deletes)


def _guard(resource: str, count: int, total: int, allow_deletes: bool, max_deletes: int | None) -> str:
    """Why these deletes are held ("" when they may go ahead)."""
    if not count:
        return ""
    if not allow_deletes:
        return NEED_FLAG
    if count >= total:
        # Defence in depth: an emptied sheet is refused by sync.desired already; never empty a resource.
        return (
            f"all {total} {resource} would be deleted; billsync never deletes every record of a resource "
            "(is the sheet empty?)"
        )
    if max_deletes is not None:
        if count > max_deletes:
            return f"{count} {resource} deletes exceed --max-deletes {max_deletes}; pass --max-deletes {count} to allow them"
        return ""
    limit = default_delete_limit(total)
    if count > limit:
        return (
            f"{count} of {total} {resource} would be deleted, more than the default limit of {limit} "
            f"(at most {DEFAULT_MAX_DELETE_ROWS} rows and {DEFAULT_MAX_DELETE_PERCENT} %); "
            f"pass --max-deletes {count} to allow them"
        )
    return ""


def _creates(frame: pd.DataFrame, resource: str, sheet: str) -> list[Change]:
    if not len(frame):
        return []
    fields = [c for c in frame.columns if c not in ("_key", "_row", "client_key")]
    seen: dict[tuple[str, str], int] = {}
    out: list[Change] = []
    for record in frame.to_dict("records"):
        key, client_key = str(record["_key"]), str(record.get("client_key", "") or "")
        payload: dict[str, str] = {}
        if resource == "contacts":
            # The loader replaces a neu-… key by the id the client got earlier in the run.
            payload["client_id"] = client_key
        for name in fields:
            value = _str(record[name])
            if value.strip():
                payload[name] = value
        content = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        occurrence = seen.get((key, content), 0)
        seen[(key, content)] = occurrence + 1
        out.append(
            Change(
                resource=resource,
                action="create",
                key=key,
                sheet=sheet,
                row=int(record["_row"]),
                fields={name: ("", value) for name, value in payload.items()},
                payload=payload,
                client_key=client_key,
                marker=create_marker(sheet, key, payload, occurrence),
            )
        )
    return out


def _updates(frame: pd.DataFrame, resource: str, sheet: str, client_keys: dict[str, str]) -> list[Change]:
    grouped: dict[str, tuple[int, dict[str, tuple[str, str]]]] = {}
    for key, row, name, old, new in zip(
        _text(frame, "key"),
        frame["row"],
        _text(frame, "field"),
        _text(frame, "old"),
        _text(frame, "new"),
        strict=True,
    ):
        grouped.setdefault(key, (int(row), {}))[1][name] = (old, new)
    return [
        Change(
            resource=resource,
            action="update",
            key=key,
            sheet=sheet,
            row=row,
            fields=fields,
            payload={name: new for name, (_, new) in fields.items()},
            client_key=client_keys.get(key, ""),
        )
        for key, (row, fields) in grouped.items()
    ]


def _property_changes(diff: Diff, current: AccountFrames, sheet: str) -> list[Change]:
    names = dict(
        zip(_text(current.client_properties, "id"), _text(current.client_properties, "name"), strict=True)
    )
    out: list[Change] = []
    for action, frame in (("set", diff.property_values.set), ("clear", diff.property_values.clear)):
        for client_key, pid, old, new, row in zip(
            _text(frame, "client_key"),
            _text(frame, "property_id"),
            _text(frame, "old"),
            _text(frame, "new"),
            frame["row"],
            strict=True,
        ):
            out.append(
                Change(
                    resource="client_property_values",
                    action=action,
                    key=client_key,
                    sheet=sheet,
                    row=int(row),
                    fields={"value": (old, new)},
                    payload={"client_id": client_key, "client_property_id": pid, "value": new},
                    client_key=client_key,
                    ref=pid,
                    label=names.get(pid, ""),
                )
            )
    return out


def _tag_changes(diff: Diff, sheet: str) -> list[Change]:
    out: list[Change] = []
    for client_key, name, row in zip(
        _text(diff.tags.add, "client_key"), _text(diff.tags.add, "name"), diff.tags.add["row"], strict=True
    ):
        out.append(
            Change(
                resource="client_tags",
                action="add",
                key=client_key,
                sheet=sheet,
                row=int(row),
                fields={"name": ("", name)},
                payload={"client_id": client_key, "name": name},
                client_key=client_key,
                ref=name,
            )
        )
    remove = diff.tags.remove
    for client_id, name, row in zip(
        _text(remove, "client_id"), _text(remove, "name"), remove["row"], strict=True
    ):
        # DELETE /client-tags/{id}: the loader looks the tag id up by (client, name); no body.
        out.append(
            Change(
                resource="client_tags",
                action="remove",
                key=client_id,
                sheet=sheet,
                row=int(row),
                fields={"name": (name, "")},
                payload={},
                client_key=client_id,
                ref=name,
            )
        )
    return out


def _deletes(frame: pd.DataFrame, resource: str, sheet: str) -> list[Change]:
    client_ids = _text(frame, "client_id") if "client_id" in frame.columns else [""] * len(frame)
    return [
        Change(
            resource=resource,
            action="delete",
            key=key,
            sheet=sheet,
            row=None,
            client_key=client_id,
            label=label,
        )
        for key, label, client_id in zip(_text(frame, "key"), _text(frame, "label"), client_ids, strict=True)
    ]


def _text(frame: pd.DataFrame, column: str) -> list[str]:
    if column not in frame.columns:
        return [""] * len(frame)
    values = frame[column].tolist()
    if all(type(v) is str for v in values):  # frames hold str: the usual case, no call per value
        return values
    return [_str(v) for v in values]


def _str(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value if isinstance(value, str) else str(value)
