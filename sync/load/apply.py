"""Replay a Plan against Billomat: one request per change, journalled, never a create twice.

`apply_plan(plan, bm, journal)` executes `plan.changes` in their (dependency) order and returns a
`LoadReport` (`report.py`). Plain records only (no pandas): a change is a handful of strings. What an
earlier, interrupted run created is found in `adopt.py`; `rebase.py` makes the account after the load.

Creates are idempotent (SPEC §5: a crash, a kill or a lost answer duplicates nothing):

1. every client/contact create carries its idempotency marker in `customfield`
   (`Change.marker`, or `make_marker(change)` when the plan left it empty);
2. the journal already says that marker's create is `done` → adopt its id, send nothing;
3. the journal has that marker `pending` (an earlier run was killed, or lost the answer and then
   stopped) → look it up: `GET /clients?customfield=<marker>` (contacts: `GET /contacts?client_id=…`,
   matched on customfield) → adopt it if found, else create. A pending create of the *same row* under
   an older marker (the accountant edited the row after the interrupted run) is looked up as well;
   if it landed, that record is adopted and updated to the row's content instead of creating a second;
   if the journal knows nothing of the marker but the extraction saw a record carrying it (`marked`:
   the workbook was pushed from another folder or state dir after an interrupted run) → adopt it;
4. the `pending` line is fsync'd before the POST; within the run the client's landed check (by
   customfield) decides after a lost answer whether to resend, so a POST is never repeated blindly;
5. the closing `done` line carries the new id.

A 400 (`RejectedError`) fails that change with the API's message and the run goes on; changes that
depend on a client create that failed are `skipped`. Anything else that survives the Transport's
retries (5xx exhausted, network down, key refused) stops the run: `LoadStopped` carries the partial
report, and the journal is consistent (uncertain creates stay `pending`, resolved by the next run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sync.clients.billomat import Billomat
from sync.errors import NotFoundError, RejectedError
from sync.frames import AccountFrames
from sync.journal import CREATING_ACTIONS, Journal
from sync.load.adopt import Recovery, resource_of
from sync.load.ids import RowIds, Skip
from sync.load.records import before_delete, change_payload, make_marker
from sync.load.report import LoadReport, LoadStopped, ProgressHook, Result
from sync.plan import Change, Plan

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})


def apply_plan(
    plan: Plan,
    bm: Billomat,
    journal: Journal,
    *,
    on_progress: ProgressHook | None = None,
    marked: dict[tuple[str, str], str] | None = None,
    current: AccountFrames | None = None,
) -> LoadReport:
    """Execute `plan.changes` in order; the report of every change (raises LoadStopped on a fatal error).

    `marked`: (resource, marker) -> id of a record Billomat holds with that idempotency marker in
    its customfield, as the run read it (`markers_in(current)`); such a create is adopted, not sent.
    `current`: the account as the run read it; a delete journals the record as it was (a client with
    its contacts, property values and tags), so that `billsync undo` can bring it back.
    """
    loader = _Loader(bm, journal, marked=dict(marked or {}), current=current)
    total = len(plan.changes)
    transport = bm.transport
    chained = transport.on_request

    def count(method: str, path: str, status: int | None, seconds: float) -> None:
        if method.upper() in WRITE_METHODS:
            loader.writes += 1
        else:
            loader.reads += 1
        if chained is not None:
            chained(method, path, status, seconds)

    transport.on_request = count
    running: Change | None = None  # the change under way, for LoadStopped
    try:
        for number, change in enumerate(plan.changes, start=1):
            running = change
            result = loader.apply(change)
            loader.results.append(result)
            running = None
            if on_progress is not None:
                on_progress(number, total, result)
    except Exception as exc:
        raise LoadStopped(exc, loader.report(), running, total) from exc
    finally:
        transport.on_request = chained
    return loader.report()


class _Loader:
    """The state of one load: ids created so far, failed client rows, tag ids per client."""

    def __init__(
        self,
        bm: Billomat,
        journal: Journal,
        *,
        marked: dict[tuple[str, str], str],
        current: AccountFrames | None,
    ) -> None:
        self.bm, self.journal = bm, journal
        self.current = current
        self.results: list[Result] = []
        self.ids = RowIds()
        self.recovery = Recovery(bm, journal, self.ids, self._send, marked)
        self.tags: dict[str, list[dict[str, str]]] = {}  # client id -> its tags (id, name), once fetched
        self.earlier: set[str] = set()  # ids of clients an earlier, interrupted run created for rows
        self.writes = 0
        self.reads = 0

    def report(self) -> LoadReport:
        return LoadReport(
            results=list(self.results),
            id_map=dict(self.ids.id_map),
            contact_ids=dict(self.ids.contact_ids),
            requests=self.writes,
            lookups=self.reads,
        )

    # -- dispatch --------------------------------------------------------------------------------

    def apply(self, change: Change) -> Result:
        handlers: dict[tuple[str, str], Callable[[Change], Result]] = {
            ("clients", "create"): self._create,
            ("contacts", "create"): self._create,
            ("clients", "update"): self._update,
            ("contacts", "update"): self._update,
            ("clients", "delete"): self._delete,
            ("contacts", "delete"): self._delete,
            ("client_property_values", "set"): self._set_value,
            ("client_property_values", "clear"): self._set_value,
            ("client_tags", "add"): self._add_tag,
            ("client_tags", "remove"): self._remove_tag,
        }
        handler = handlers.get((change.resource, change.action))
        if change.action == "create" and not change.marker:
            # The marker must be in the journal too, or a later run could not recognise the create.
            change = replace(change, marker=make_marker(change))
        try:
            if handler is None:
                raise Skip(f"billsync cannot {change.action} {change.resource}")
            return handler(change)
        except Skip as skip:
            reason = str(skip)
            self.journal.record(change, "skipped", api_message=reason)
            if change.resource == "clients" and change.action == "create":
                self.ids.failed_clients[change.key.casefold()] = reason
            return Result(change, "skipped", api_message=reason)

    def _send(
        self,
        change: Change,
        client_id: str,
        send: Callable[[], dict[str, str] | None],
        *,
        note: str = "",
        before: dict[str, Any] | None = None,
    ) -> Result:
        """Journal, send, journal: one write with the run-goes-on rules for 400 and 404."""
        entry = self.journal.begin(change, client_id=client_id, note=note, before=before)
        try:
            record = send()
        except RejectedError as exc:
            return self._failed(change, entry, client_id, exc.api_message or str(exc))
        except NotFoundError as exc:
            if change.action in ("delete", "remove"):
                # Gone already (someone else deleted it, or an earlier run did): the goal is reached.
                message = "already gone in Billomat"
                self.journal.finish(entry, "done", record_id=change.key, api_message=message)
                return Result(change, "done", change.key, message, None, client_id)
            return self._failed(
                change,
                entry,
                client_id,
                f"the record no longer exists in Billomat ({exc.api_message or exc})",
            )
        except BaseException as exc:
            # A create or tag add whose request may have landed stays `pending`: the next run looks it
            # up before sending it again. Anything else is closed, its outcome does not matter later.
            if change.action not in CREATING_ACTIONS:
                self.journal.finish(entry, "failed", api_message=f"run stopped: {_describe(exc)}")
            raise
        record_id = (record or {}).get("id", "")
        if not record_id and change.resource in ("clients", "contacts") and change.key.isdigit():
            record_id = change.key  # a delete: the record it was about
        self.journal.finish(entry, "done", record_id=record_id, api_message=note)
        return Result(change, "done", record_id, note, record, client_id)

    def _failed(self, change: Change, entry: str, client_id: str, message: str) -> Result:
        self.journal.finish(entry, "failed", api_message=message)
        if change.resource == "clients" and change.action == "create":
            where = f"{change.sheet} row {change.row}" if change.row is not None else change.key
            self.ids.failed_clients[change.key.casefold()] = (
                f"the client of {where} was not created: {message}"
            )
        return Result(change, "failed", "", message, None, client_id)

    # -- clients and contacts --------------------------------------------------------------------

    def _create(self, change: Change) -> Result:
        resource = resource_of(self.bm, change)
        marker = change.marker
        data = {k: v for k, v in change_payload(change).items() if v != "" and k != "id"}
        client_id = ""
        if change.resource == "contacts":
            client_id = self.ids.client_id(change.client_key or data.get("client_id", ""))
            data["client_id"] = client_id
        adopted = self.recovery.adopt(change, marker, client_id, data)
        if adopted is not None:
            if change.resource == "clients" and adopted.status == "done":
                self.earlier.add(adopted.record_id)
            return adopted
        data["customfield"] = marker

        def send() -> dict[str, str]:
            # The customfield lets the resource's landed check find a create whose answer was lost.
            record = resource.save_record(data)
            self.recovery.ensure_marker(change, record, marker)
            return record

        result = self._send(change, client_id or "", send)
        if result.status == "done":
            self.ids.register(change, result.record_id)
            if change.resource == "clients":
                result = Result(change, "done", result.record_id, "", result.record, result.record_id)
        return result

    def _update(self, change: Change) -> Result:
        resource = resource_of(self.bm, change)
        record_id = change.key if change.key.isdigit() else self.ids.new_id(change)
        body = dict(change_payload(change))
        body.pop("id", None)
        client_id = ""
        if change.resource == "contacts" and "client_id" in body:
            client_id = body["client_id"] = self.ids.client_id(body["client_id"])
        if not body:
            raise Skip("nothing to send (the change has no fields)")

        def send() -> dict[str, str]:
            # PUT with only the changed fields (Model.save sends .data without the id).
            return resource.save_record({"id": record_id, **body})

        return self._send(change, client_id or (record_id if change.resource == "clients" else ""), send)

    def _delete(self, change: Change) -> Result:
        resource = resource_of(self.bm, change)
        record_id = change.key
        if not record_id.isdigit():
            raise Skip(f"{record_id!r} is not a Billomat id")
        if (change.resource, record_id) in self.ids.adopted:
            # The plan was made before this run adopted the record for a workbook row (a create of an
            # interrupted run, seen as an unknown record by the extraction): deleting it would lose it.
            raise Skip("this record belongs to a workbook row (created by an earlier, interrupted run)")

        def send() -> None:
            resource.new({"id": record_id}).delete()
            return None

        before = before_delete(self.current, change.resource, record_id) if self.current is not None else None
        return self._send(change, record_id if change.resource == "clients" else "", send, before=before)

    # -- property values -------------------------------------------------------------------------

    def _set_value(self, change: Change) -> Result:
        """Set (or clear: set "") one client's value of one property.

        billomat-api.md §4.4: POST sets a value; whether a second POST updates or duplicates the row,
        and whether PUT /client-property-values/{id} exists, are UNCONFIRMED. When the plan names the
        current value row (`Change.key`, digits, not the client key) PUT updates that row in place; a
        404/405 switches to POST for the rest of the run (`ClientPropertyValues` decides). POST is right
        under both behaviours: an upsert updates the row, a duplicate is the newest row, and the newest
        row wins on extraction.
        """
        client_id = self.ids.client_id(change.client_key or change.payload.get("client_id", ""))
        property_id = change.ref or change.payload.get("client_property_id", "")
        if not property_id:
            raise Skip("the change names no client property")
        if change.action == "clear":
            value = ""
        elif "value" in change.payload:
            value = change.payload["value"]
        else:
            value = change.fields.get("value", ("", ""))[1]
        row_id = change.key if change.key.isdigit() and change.key != change.client_key else ""
        values = self.bm.client_property_values

        def send() -> dict[str, str]:
            # With the row's id the resource updates it in place where PUT exists, else (once told by a
            # 404/405) POSTs on the row's client and property; its landed check covers a lost answer.
            data = {"client_id": client_id, "client_property_id": property_id, "value": value}
            return values.save_record({"id": row_id, **data} if row_id else data)

        return self._send(change, client_id, send)

    # -- tags ------------------------------------------------------------------------------------

    def _add_tag(self, change: Change) -> Result:
        client_id = self.ids.client_id(change.client_key or change.payload.get("client_id", ""))
        name = change.ref or change.payload.get("name", "")
        if not name:
            raise Skip("the change names no tag")
        stale = self.journal.pending_for(change, client_id)
        if stale or client_id in self.earlier:
            # An earlier run may have added it and died before journalling the answer (or, for a
            # client it created, before writing the client's id back, so the plan sees a new row
            # whose tags are all adds); a second POST would add the tag twice where the API does not
            # deduplicate (billomat-api.md §4.5).
            existing = [t for t in self._tags_of(client_id) if t.get("name") == name]
            for entry in stale:
                self.recovery.close(
                    entry, existing[0].get("id", "") if existing else "", "resolved by a later run"
                )
            if existing:
                message = "added by an earlier run; not sent again"
                tag = existing[0]
                self.journal.record(
                    change,
                    "done",
                    client_id=client_id,
                    record_id=tag.get("id"),
                    api_message=message,
                )
                return Result(change, "done", tag.get("id", ""), message, tag, client_id)

        def send() -> dict[str, str]:
            # The resource's landed check (client, name) covers a lost answer.
            data = self.bm.client_tags.save_record({"client_id": client_id, "name": name})
            if client_id in self.tags:
                self.tags[client_id].append(data)
            return data

        return self._send(change, client_id, send)

    def _remove_tag(self, change: Change) -> Result:
        client_id = self.ids.client_id(change.client_key or change.payload.get("client_id", ""))
        name = change.ref or change.payload.get("name", "")
        if not name:
            raise Skip("the change names no tag")

        removed: list[str] = []

        def send() -> dict[str, str]:
            # billomat-api.md §4.5: no PUT, and the extraction (tag cloud) knows no tag ids: find this
            # client's tag ids once (GET /client-tags?client_id=…), then DELETE each of that name.
            tags = self._tags_of(client_id)
            for tag in [t for t in tags if t.get("name") == name]:
                self.bm.client_tags.new({"id": tag["id"]}).delete()
                tags.remove(tag)
                removed.append(tag["id"])
            return {"id": ",".join(removed)}

        result = self._send(change, client_id, send)
        if result.status == "done" and not removed:
            return Result(change, "done", "", "not there any more", None, client_id)
        return Result(change, result.status, result.record_id, result.api_message, None, client_id)

    def _tags_of(self, client_id: str) -> list[dict[str, str]]:
        if client_id not in self.tags:
            self.tags[client_id] = [m.data for m in self.bm.client_tags.where(client_id=client_id)]
        return self.tags[client_id]


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"
