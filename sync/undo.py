"""`billsync undo RUN` as a plan (SPEC §2): put back in Billomat what one recorded run changed.

`plan_undo(writes, current, ...)` reads the run's done writes (sync/runs.py `run_writes`) against the
account as it is now and returns an ordinary `Plan`, which `sync.load.apply_plan` sends like any push:

- an update is undone field by field: a field still holding the run's value goes back to the value
  before; a field already back is left alone; a field that holds a third value (a colleague changed it
  in Billomat since the run) is held as a conflict, the rest of the record is undone;
- a record the run created is deleted (under the delete guard, as for push); one that was changed in
  Billomat since is held as a conflict;
- a record the run deleted is created again with its values from before (journalled by the delete,
  see `sync.load.before_delete`): a client with its contacts, attribute values and tags, under a new
  id. Its creates carry a marker derived from the run and the old id, so a second undo finds the
  record it made (in Billomat, `markers_in`) and plans nothing for it;
- attribute values and tags are set back, removed or added again the same way.

Undoing twice writes nothing the second time: every rule compares with what Billomat holds now.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sync.diff import INHERITED_CONTACT_FIELDS
from sync.frames import AccountFrames
from sync.journal import Entry
from sync.load import MARKER_PREFIX, markers_in
from sync.mapping import RESOURCE_FIELDS, Mapping
from sync.plan import Change, HeldChange, Plan, change_order, delete_guard
from sync.report import field_header

UNDO_KEY = "undo:"  # key prefix of a record created again: the loader maps it to the new id


@dataclass(frozen=True)
class UndoPlan:
    """The plan that undoes a run, and how many of its writes need nothing (already undone, or gone)."""

    plan: Plan
    conflicts: list[HeldChange] = field(default_factory=list)
    nothing_to_do: int = 0
    notes: list[str] = field(default_factory=list)


def undo_marker(run_id: str, resource: str, record_id: str) -> str:
    """The idempotency marker of a record created again: the same run and old id give the same marker."""
    digest = hashlib.sha256(f"undo|{run_id}|{resource}|{record_id}".encode()).hexdigest()[:24]
    return MARKER_PREFIX + digest


def plan_undo(
    run_id: str,
    writes: list[Entry],
    current: AccountFrames,
    *,
    allow_deletes: bool = False,
    max_deletes: int | None = None,
    mapping: Mapping | None = None,
) -> UndoPlan:
    """The plan that puts back what the run's done writes changed, as Billomat stands now; pure.

    `mapping`: conflicts name the field by its workbook header (`Ort`, not `city`).
    """
    undo = _Undo(run_id, current)
    undo.mapping = mapping
    return undo.build(writes, allow_deletes=allow_deletes, max_deletes=max_deletes)


class _Undo:
    """The state of building one undo plan: the account now, by id."""

    def __init__(self, run_id: str, current: AccountFrames) -> None:
        self.run_id = run_id
        self.mapping: Mapping | None = None
        self.records = {name: _by_id(current.frame(name)) for name in ("clients", "contacts")}
        values = current.client_property_values
        self.values = {
            (str(c), str(p)): str(v)
            for c, p, v in zip(_col(values, "client_id"), _col(values, "client_property_id"), _col(values, "value"),
                               strict=True)
        }
        tags = current.client_tags
        self.tags = set(zip(_col(tags, "client_id"), _col(tags, "name"), strict=True))
        props = current.client_properties
        self.property_names = dict(zip(_col(props, "id"), _col(props, "name"), strict=True))
        self.marked = markers_in(current)
        self.totals = {name: len(current.frame(name)) for name in ("clients", "contacts")}
        self.changes: list[Change] = []
        self.conflicts: list[HeldChange] = []
        self.nothing = 0
        self.notes: list[str] = []

    def build(self, writes: list[Entry], *, allow_deletes: bool, max_deletes: int | None) -> UndoPlan:
        done = [w for w in writes if w.get("status") == "done" and not str(w.get("resource", "")).startswith("snap")]
        uncertain = [w for w in writes if w.get("status") == "pending"]
        if uncertain:
            self.notes.append(
                f"{len(uncertain)} write(s) of this run have no known outcome (the run stopped); the run after it "
                "resolved them and they are not undone here"
            )
        # Clients the run created that are deleted again: their contacts, values and tags go with them.
        dropped = {str(w.get("record_id")) for w in done if (w["resource"], w["action"]) == ("clients", "create")}
        dropped &= set(self.records["clients"])
        for entry in reversed(done):  # the last write first: what it set is what Billomat should hold now
            self._undo(entry, dropped)
        deletes = [c for c in self.changes if c.action == "delete" and c.resource in ("clients", "contacts")]
        held: list[HeldChange] = list(self.conflicts)
        for resource in ("contacts", "clients"):
            planned = [c for c in deletes if c.resource == resource]
            reason = delete_guard(resource, len(planned), self.totals[resource], allow_deletes, max_deletes)
            if reason:
                held += [HeldChange(c, reason) for c in planned]
                self.changes = [c for c in self.changes if c not in planned]
        self.changes.sort(key=change_order)
        held.sort(key=lambda h: change_order(h.change))
        return UndoPlan(Plan(changes=self.changes, held=held), self.conflicts, self.nothing, self.notes)

    # -- one write ------------------------------------------------------------------------------

    def _undo(self, entry: Entry, dropped: set[str]) -> None:
        resource, action = str(entry["resource"]), str(entry["action"])
        client_id = str(entry.get("client_id") or "")
        if resource != "clients" and client_id in dropped:
            self.nothing += 1  # deleted with the client the run created
            return
        if action == "update":
            self._update(entry)
        elif action == "create":
            self._created(entry)
        elif action == "delete":
            self._deleted(entry)
        elif resource == "client_property_values":
            self._value(entry)
        elif resource == "client_tags":
            self._tag(entry)
        else:
            self.nothing += 1

    def _update(self, entry: Entry) -> None:
        resource, key = str(entry["resource"]), str(entry["key"])
        record = self.records[resource].get(key)
        if record is None:
            self.nothing += 1
            self.notes.append(f"{_noun(resource)} {key} no longer exists in Billomat; its update is not undone")
            return
        back: dict[str, tuple[str, str]] = {}
        for name, (old, new) in _fields(entry).items():
            now = record.get(name, "")
            if now == old:
                continue  # already back
            if now == new:
                back[name] = (new, old)
            else:
                self.conflicts.append(self._conflict(entry, {name: (now, old)}, name, new, now))
        if not back:
            self.nothing += 1
            return
        self.changes.append(
            _change(entry, resource, "update", key, fields=back, payload={n: old for n, (_new, old) in back.items()},
                    client_key=str(entry.get("client_key") or "") if resource == "contacts" else "")
        )

    def _created(self, entry: Entry) -> None:
        resource, record_id = str(entry["resource"]), str(entry.get("record_id") or "")
        record = self.records[resource].get(record_id)
        if record is None:
            self.nothing += 1  # deleted already (by an earlier undo, or by someone)
            return
        for name, (_old, new) in _fields(entry).items():
            now = record.get(name, "")
            if name != "client_id" and now != new:
                self.conflicts.append(
                    self._conflict(entry, {name: (now, new)}, name, new, now, record_id=record_id, deleting=True)
                )
                return
        label = " ".join(x for x in (record.get("client_number", ""), _name(record)) if x)
        self.changes.append(
            _change(entry, resource, "delete", record_id, client_key=record.get("client_id", ""), label=label)
        )

    def _deleted(self, entry: Entry) -> None:
        resource, old_id = str(entry["resource"]), str(entry["key"])
        before = entry.get("before") or {}
        record = before.get("record") or {}
        if not record:
            self.nothing += 1
            self.notes.append(
                f"{_noun(resource)} {old_id}: the run did not journal its values (an older billsync); not recreated"
            )
            return
        marker = undo_marker(self.run_id, resource, old_id)
        if (resource, marker) in self.marked:
            self.nothing += 1  # created again by an earlier undo
            return
        if resource == "contacts":
            client = str(record.get("client_id", ""))
            if client not in self.records["clients"]:
                self.nothing += 1
                self.notes.append(f"contact {old_id}: its client {client} no longer exists; not recreated")
                return
            self.changes.append(
                self._recreate(entry, "contacts", record, client, inherits=self.records["clients"][client])
            )
            return
        key = UNDO_KEY + old_id
        self.changes.append(self._recreate(entry, "clients", record, ""))
        for contact in before.get("contacts") or []:
            self.changes.append(self._recreate(entry, "contacts", contact, key, inherits=record))
        for value in before.get("client_property_values") or []:
            if value.get("value"):
                pid = str(value.get("client_property_id", ""))
                self.changes.append(
                    _change(entry, "client_property_values", "set", key, fields={"value": ("", value["value"])},
                            payload={"client_id": key, "client_property_id": pid, "value": value["value"]},
                            client_key=key, ref=pid, label=self.property_names.get(pid, ""))
                )
        for tag in before.get("client_tags") or []:
            name = str(tag.get("name", ""))
            self.changes.append(
                _change(entry, "client_tags", "add", key, fields={"name": ("", name)},
                        payload={"client_id": key, "name": name}, client_key=key, ref=name)
            )

    def _recreate(
        self, entry: Entry, resource: str, record: dict[str, Any], client_key: str,
        inherits: dict[str, Any] | None = None,
    ) -> Change:
        """The create that brings `record` back. A contact's address field that showed its client's value
        (`inherits`: the client as it was) is left empty, so that it inherits again: under the "read"
        reading it follows its client from now on, under "copy" Billomat copies the same value in
        (billomat-api.md §4.2, sync/inherit.py); sending the value would make it the contact's own."""
        catalogue = RESOURCE_FIELDS[resource]
        client = inherits or {}
        payload = {
            str(k): str(v)
            for k, v in record.items()
            if v and k in catalogue and catalogue[k].writable and k not in ("id", "client_id")
            and not (k in INHERITED_CONTACT_FIELDS and str(v) == str(client.get(k, "")))
        }
        if resource == "contacts":
            payload["client_id"] = client_key
        old_id = str(record.get("id", ""))
        if resource != entry["resource"]:
            # A contact of a deleted client: shown on the contacts sheet, not on the client's row.
            sheet = self.mapping.sheets.get(resource) if self.mapping is not None else None
            entry = {**entry, "sheet": sheet.sheet if sheet is not None else resource, "row": None}
        return _change(
            entry, resource, "create", UNDO_KEY + old_id,
            fields={n: ("", v) for n, v in payload.items()}, payload=payload, client_key=client_key,
            marker=undo_marker(self.run_id, resource, old_id),
            label=" ".join(x for x in (str(record.get("client_number", "")), _name(record)) if x),
        )

    def _value(self, entry: Entry) -> None:
        client, pid = str(entry.get("client_id") or entry.get("client_key") or ""), str(entry.get("ref", ""))
        old, new = _fields(entry).get("value", ("", ""))
        if client not in self.records["clients"]:
            self.nothing += 1
            return
        now = self.values.get((client, pid), "")
        if now == old:
            self.nothing += 1
            return
        if now != new:
            self.conflicts.append(self._conflict(entry, {"value": (now, old)}, "value", new, now, record_id=client))
            return
        self.changes.append(
            _change(entry, "client_property_values", "clear" if old == "" else "set", client,
                    fields={"value": (new, old)}, payload={"client_id": client, "client_property_id": pid, "value": old},
                    client_key=client, ref=pid, label=str(entry.get("label") or self.property_names.get(pid, "")))
        )

    def _tag(self, entry: Entry) -> None:
        client, name = str(entry.get("client_id") or ""), str(entry.get("ref", ""))
        present = (client, name) in self.tags
        if client not in self.records["clients"] or present == (entry["action"] == "remove"):
            self.nothing += 1  # client gone, or the tag is as it was before the run
            return
        if entry["action"] == "add":
            self.changes.append(
                _change(entry, "client_tags", "remove", client, fields={"name": (name, "")}, client_key=client, ref=name)
            )
        else:
            self.changes.append(
                _change(entry, "client_tags", "add", client, fields={"name": ("", name)},
                        payload={"client_id": client, "name": name}, client_key=client, ref=name)
            )

    def _conflict(
        self,
        entry: Entry,
        fields: dict[str, tuple[str, str]],
        name: str,
        then: str,
        now: str,
        *,
        record_id: str = "",
        deleting: bool = False,
    ) -> HeldChange:
        resource = str(entry["resource"])
        action = "delete" if deleting else ("update" if resource in ("clients", "contacts") else str(entry["action"]))
        key = record_id or str(entry["key"])
        change = _change(entry, resource, action, key, fields=fields, client_key=str(entry.get("client_key") or ""),
                         ref=str(entry.get("ref") or ""), label=str(entry.get("label") or ""))
        what = "not deleted" if deleting else "not undone"
        if self.mapping is not None:
            name = field_header(self.mapping, change, name)
        return HeldChange(
            change,
            f"conflict: {name} was changed in Billomat since run {self.run_id} (the run set {then!r}, now {now!r}); "
            f"{what}",
        )


def _change(entry: Entry, resource: str, action: str, key: str, **kwargs: Any) -> Change:
    """A Change of the undo, on the sheet and row the run's write came from."""
    row = entry.get("row")
    return Change(resource=resource, action=action, key=key, sheet=str(entry.get("sheet") or ""),
                  row=row if isinstance(row, int) and action != "delete" else None, **kwargs)


def _fields(entry: Entry) -> dict[str, tuple[str, str]]:
    return {str(k): (str(v[0]), str(v[1])) for k, v in (entry.get("fields") or {}).items()}


def _by_id(frame: pd.DataFrame) -> dict[str, dict[str, str]]:
    if "id" not in frame.columns:
        return {}
    return {str(r["id"]): {str(k): v for k, v in r.items() if isinstance(v, str)} for r in frame.to_dict("records")}


def _col(frame: pd.DataFrame, column: str) -> list[str]:
    return [str(v) for v in frame[column].tolist()] if column in frame.columns else [""] * len(frame)


def _name(record: dict[str, Any]) -> str:
    name = str(record.get("name") or "")
    return name or " ".join(str(record.get(k) or "") for k in ("first_name", "last_name")).strip()


def _noun(resource: str) -> str:
    return {"clients": "client", "contacts": "contact"}.get(resource, resource)
