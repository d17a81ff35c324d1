"""Replay a Plan against Billomat: one request per change, journalled, never a create twice.

`apply_plan(plan, bm, journal)` executes `plan.changes` in their (dependency) order and returns a
`LoadReport`. Plain records only (no pandas): a change is a handful of strings.

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

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sync.clients.billomat import Billomat, Client, Contact, Model
from sync.desired import NEW_KEY
from sync.errors import EXIT_FATAL, BillsyncError, NotFoundError, RejectedError
from sync.frames import AccountFrames, frame_records
from sync.journal import CREATING_ACTIONS, Entry, Journal
from sync.plan import Change, Plan

log = logging.getLogger(__name__)

MARKER_PREFIX = "billsync:"
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})

ProgressHook = Callable[[int, int, "Result"], None]
"""on_progress(done, total, result): called after each change (the CLI moves its bar)."""


@dataclass(frozen=True)
class Result:
    """What became of one change: `done`, `failed` (the API said no) or `skipped` (a dependency failed)."""

    change: Change
    status: str
    record_id: str = ""
    api_message: str = ""  # the API's message, or billsync's reason for a skip or an adoption
    record: dict[str, str] | None = None  # the record as Billomat answered (None: no answer to show)
    client_id: str = ""  # the resolved client id (contacts, property values, tags; clients: the id)


@dataclass(frozen=True)
class LoadReport:
    """Every result in plan order, the new ids, and the requests the load used."""

    results: list[Result] = field(default_factory=list)
    id_map: dict[str, str] = field(default_factory=dict)  # client row key (row:N / neu-…) -> new id
    contact_ids: dict[str, str] = field(default_factory=dict)  # contact row key (row:N) -> new id
    requests: int = 0  # write requests sent (POST/PUT/DELETE, repeats included)
    lookups: int = 0  # reads the load needed (landed checks, journal recovery, tag ids)

    def counts(self) -> dict[str, int]:
        """Number of results per status (done, failed, skipped)."""
        out = {"done": 0, "failed": 0, "skipped": 0}
        for result in self.results:
            out[result.status] = out.get(result.status, 0) + 1
        return out

    @property
    def failed(self) -> list[Result]:
        """Changes the API refused (HTTP 400, a record gone meanwhile)."""
        return [r for r in self.results if r.status == "failed"]

    @property
    def skipped(self) -> list[Result]:
        """Changes not sent because something they depend on failed."""
        return [r for r in self.results if r.status == "skipped"]


class LoadStopped(BillsyncError):
    """The run stopped at a change (retries exhausted, network down, …); `.report` holds what was done."""

    def __init__(self, error: BaseException, report: LoadReport, change: Change | None, total: int) -> None:
        self.error, self.report, self.change = error, report, change
        self.exit_code = getattr(error, "exit_code", EXIT_FATAL)
        where = ""
        if change is not None:
            row = f" row {change.row}" if change.row is not None else f" {change.key}"
            where = f" at {change.resource} {change.action} ({change.sheet}{row})"
        super().__init__(
            f"push stopped after {len(report.results)} of {total} changes{where}: {error}. "
            "Nothing is lost: the next run completes the rest without creating anything twice"
        )


def make_marker(change: Change) -> str:
    """The idempotency marker of a create: `billsync:` + a hash of resource, sheet, row key and content."""
    content = json.dumps(
        [change.resource, change.sheet, change.key, change.client_key, sorted(change.payload.items())],
        ensure_ascii=False,
    )
    return MARKER_PREFIX + hashlib.sha256(content.encode("utf-8")).hexdigest()[:24]


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
    loader = _Loader(bm, journal)
    loader.marked = dict(marked or {})
    loader.current = current
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


class _Skip(Exception):
    """A change that is not sent (its client was not created); the message says why."""


class _Loader:
    """The state of one load: ids created so far, failed client rows, tag ids per client."""

    def __init__(self, bm: Billomat, journal: Journal) -> None:
        self.bm, self.journal = bm, journal
        self.current: AccountFrames | None = None
        self.results: list[Result] = []
        self.id_map: dict[str, str] = {}
        self.contact_ids: dict[str, str] = {}
        self.failed_clients: dict[str, str] = {}  # client row key (casefolded) -> why it was not created
        self.adopted: set[tuple[str, str]] = set()  # (resource, id) of records made for workbook rows
        self.tags: dict[str, list[dict[str, str]]] = {}  # client id -> its tags (id, name), once fetched
        self.marked: dict[tuple[str, str], str] = {}  # (resource, marker) -> id, records read this run
        self.earlier: set[str] = set()  # ids of clients an earlier, interrupted run created for rows
        self.writes = 0
        self.reads = 0

    def report(self) -> LoadReport:
        return LoadReport(
            results=list(self.results),
            id_map=dict(self.id_map),
            contact_ids=dict(self.contact_ids),
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
                raise _Skip(f"billsync cannot {change.action} {change.resource}")
            return handler(change)
        except _Skip as skip:
            reason = str(skip)
            self.journal.record(change, "skipped", api_message=reason)
            if change.resource == "clients" and change.action == "create":
                self.failed_clients[change.key.casefold()] = reason
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
            self.failed_clients[change.key.casefold()] = f"the client of {where} was not created: {message}"
        return Result(change, "failed", "", message, None, client_id)

    # -- clients and contacts --------------------------------------------------------------------

    def _create(self, change: Change) -> Result:
        resource = self._resource(change)
        marker = change.marker
        data = {k: v for k, v in _payload(change).items() if v != "" and k != "id"}
        client_id = ""
        if change.resource == "contacts":
            client_id = self._client_id(change.client_key or data.get("client_id", ""))
            data["client_id"] = client_id
        adopted = self._adopt(change, marker, client_id, data)
        if adopted is not None:
            if change.resource == "clients" and adopted.status == "done":
                self.earlier.add(adopted.record_id)
            return adopted
        data["customfield"] = marker

        def send() -> dict[str, str]:
            # The customfield lets the resource's landed check find a create whose answer was lost.
            model = resource.new(data).save()
            self._ensure_marker(change, model, marker)
            return model.data

        result = self._send(change, client_id or "", send)
        if result.status == "done":
            self._register(change, result.record_id)
            if change.resource == "clients":
                result = Result(change, "done", result.record_id, "", result.record, result.record_id)
        return result

    def _adopt(self, change: Change, marker: str, client_id: str, data: dict[str, str]) -> Result | None:
        """A record an earlier run created for this row (journal, or found by its marker), or None."""
        known = self.journal.created(marker)
        if known:
            message = "created by an earlier run (journal); not sent again"
            self.journal.record(
                change, "done", client_id=client_id, record_id=known, api_message=message
            )
            self._register(change, known)
            return Result(change, "done", known, message, None, client_id or _own_id(change, known))
        pending = self.journal.pending_creates()
        if marker in pending:
            found = self._find(change, marker, client_id)
            if found is not None:
                message = "an earlier run's create had landed (found by its marker); not sent again"
                self._close(pending[marker], found["id"], "landed; adopted")
                self.journal.record(
                    change,
                    "done",
                    client_id=client_id,
                    record_id=found["id"],
                    api_message=message,
                )
                self._register(change, found["id"])
                return Result(change, "done", found["id"], message, found, client_id or found["id"])
            self._close(pending[marker], "", "did not land; created again")
        elif (change.resource, marker) in self.marked:
            # Billomat holds a record with this row's marker, but this journal does not know it (the
            # workbook was pushed from another folder or state dir after an interrupted run).
            found_id = self.marked[(change.resource, marker)]
            message = "Billomat already holds this row's record (found by its marker); not sent again"
            self.journal.record(
                change, "done", client_id=client_id, record_id=found_id, api_message=message
            )
            self._register(change, found_id)
            return Result(change, "done", found_id, message, None, client_id or _own_id(change, found_id))
        # The same row under an older marker: the row was edited after an interrupted run. Checked
        # only for *pending* entries: a row key like row:7 of a finished create may by now be another row.
        for old_marker, entry in pending.items():
            if old_marker == marker or not _same_row(entry, change):
                continue
            found = self._find(change, old_marker, entry.get("client_id") or client_id)
            if found is None:
                self._close(entry, "", "did not land")
                continue
            self._close(entry, found["id"], "landed; adopted and updated to the row's current content")
            # Fields the old content set that the new content leaves empty are emptied.
            body = {name: "" for name in entry.get("fields", {}) if name not in ("id", "client_id")}
            body.update({k: v for k, v in data.items() if k not in ("id", "client_id")})
            body["customfield"] = marker

            def update(rid: str = found["id"], body: dict[str, str] = body) -> dict[str, str]:
                return self._resource(change).new({"id": rid, **body}).save().data

            result = self._send(
                change, client_id, update, note="an earlier run's create of this row had landed; updated it"
            )
            if result.status == "done":
                self._register(change, found["id"])
                return Result(
                    change, "done", found["id"], result.api_message, result.record, client_id or found["id"]
                )
            return result
        return None

    def _find(self, change: Change, marker: str, client_id: str) -> dict[str, str] | None:
        """The record carrying `marker` in its customfield (the newest, should there be several)."""
        models: list[Client] | list[Contact]
        if change.resource == "clients":
            # billomat-api.md §4.6: GET /clients?customfield=…; exact match checked here (UNCONFIRMED).
            models = self.bm.clients.where(customfield=marker)
        else:
            if not client_id:
                return None
            # billomat-api.md §4.2: contacts are listed per client only.
            models = self.bm.contacts.where(client_id=client_id)
        hits = [m.data for m in models if m.data.get("customfield") == marker]
        if len(hits) > 1:
            log.warning("%d %s carry the marker %s; adopting the newest", len(hits), change.resource, marker)
        return max(hits, key=lambda d: _id_order(d.get("id", ""))) if hits else None

    def _close(self, entry: Entry, record_id: str, message: str) -> None:
        status = "done" if record_id else "failed"
        self.journal.finish(str(entry["entry"]), status, record_id=record_id, api_message=message)

    def _ensure_marker(self, change: Change, model: Model, marker: str) -> None:
        """Make sure the marker is stored: whether POST takes `customfield` is not documented."""
        if model.id is None or model.data.get("customfield", marker) == marker:
            return
        # billomat-api.md §4.6: customfield has its own endpoint; set it there if the POST ignored it.
        try:
            self._resource(change).set_customfield(model.id, marker)
            model.data["customfield"] = marker
        except (RejectedError, NotFoundError) as exc:
            log.warning("%s %s: could not store the idempotency marker (%s)", change.resource, model.id, exc)

    def _update(self, change: Change) -> Result:
        resource = self._resource(change)
        record_id = change.key if change.key.isdigit() else self._new_id(change)
        body = dict(_payload(change))
        body.pop("id", None)
        client_id = ""
        if change.resource == "contacts" and "client_id" in body:
            client_id = body["client_id"] = self._client_id(body["client_id"])
        if not body:
            raise _Skip("nothing to send (the change has no fields)")

        def send() -> dict[str, str]:
            # PUT with only the changed fields (Model.save sends .data without the id).
            return resource.new({"id": record_id, **body}).save().data

        return self._send(change, client_id or (record_id if change.resource == "clients" else ""), send)

    def _delete(self, change: Change) -> Result:
        resource = self._resource(change)
        record_id = change.key
        if not record_id.isdigit():
            raise _Skip(f"{record_id!r} is not a Billomat id")
        if (change.resource, record_id) in self.adopted:
            # The plan was made before this run adopted the record for a workbook row (a create of an
            # interrupted run, seen as an unknown record by the extraction): deleting it would lose it.
            raise _Skip("this record belongs to a workbook row (created by an earlier, interrupted run)")

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
        client_id = self._client_id(change.client_key or change.payload.get("client_id", ""))
        property_id = change.ref or change.payload.get("client_property_id", "")
        if not property_id:
            raise _Skip("the change names no client property")
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
            return values.new({"id": row_id, **data} if row_id else data).save().data

        return self._send(change, client_id, send)

    # -- tags ------------------------------------------------------------------------------------

    def _add_tag(self, change: Change) -> Result:
        client_id = self._client_id(change.client_key or change.payload.get("client_id", ""))
        name = change.ref or change.payload.get("name", "")
        if not name:
            raise _Skip("the change names no tag")
        stale = self.journal.pending_for(change, client_id)
        if stale or client_id in self.earlier:
            # An earlier run may have added it and died before journalling the answer (or, for a
            # client it created, before writing the client's id back, so the plan sees a new row
            # whose tags are all adds); a second POST would add the tag twice where the API does not
            # deduplicate (billomat-api.md §4.5).
            existing = [t for t in self._tags_of(client_id) if t.get("name") == name]
            for entry in stale:
                self._close(entry, existing[0].get("id", "") if existing else "", "resolved by a later run")
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
            data = self.bm.client_tags.new({"client_id": client_id, "name": name}).save().data
            if client_id in self.tags:
                self.tags[client_id].append(data)
            return data

        return self._send(change, client_id, send)

    def _remove_tag(self, change: Change) -> Result:
        client_id = self._client_id(change.client_key or change.payload.get("client_id", ""))
        name = change.ref or change.payload.get("name", "")
        if not name:
            raise _Skip("the change names no tag")

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

    # -- keys and ids ----------------------------------------------------------------------------

    def _resource(self, change: Change) -> Any:
        return self.bm.clients if change.resource == "clients" else self.bm.contacts

    def _client_id(self, key: str) -> str:
        """The Billomat id of a client key: an id as is, a new row's key → the id created in this run."""
        key = key.strip()
        if key.isdigit():
            return key
        if not key:
            raise _Skip("the change names no client")
        found = self.id_map.get(key) or self.id_map.get(key.casefold())
        if found:
            return found
        reason = self.failed_clients.get(key.casefold())
        if reason:
            raise _Skip(reason)
        kind = "new client reference" if NEW_KEY.match(key) else "client key"
        raise _Skip(f"the {kind} {key!r} matches no client created in this run")

    def _new_id(self, change: Change) -> str:
        """The id of a record this run created for a row key (an update of a row created in the same run)."""
        table = self.id_map if change.resource == "clients" else self.contact_ids
        found = table.get(change.key) or table.get(change.key.casefold())
        if not found:
            raise _Skip(f"{change.key!r} is not a Billomat id and no create of this run made it one")
        return found

    def _register(self, change: Change, record_id: str) -> None:
        if not record_id:
            return
        table = self.id_map if change.resource == "clients" else self.contact_ids
        table[change.key] = record_id
        if change.key.casefold() != change.key:
            # Kontakte may write NEU-1 where Kunden says neu-1.
            table[change.key.casefold()] = record_id
        self.adopted.add((change.resource, record_id))


def markers_in(current: AccountFrames) -> dict[tuple[str, str], str]:
    """(resource, marker) -> id of every client and contact that carries a billsync marker."""
    out: dict[tuple[str, str], str] = {}
    for resource in ("clients", "contacts"):
        frame = current.frame(resource)
        if "customfield" not in frame.columns or "id" not in frame.columns:
            continue
        for record_id, mark in zip(frame["id"].tolist(), frame["customfield"].tolist(), strict=True):
            if isinstance(mark, str) and mark.startswith(MARKER_PREFIX) and isinstance(record_id, str):
                out[(resource, mark)] = record_id
    return out


def before_delete(current: AccountFrames, resource: str, record_id: str) -> dict[str, Any]:
    """What a delete takes away, as the run read it: the record, and for a client (Billomat deletes them
    with it) its contacts, property values and tags."""

    def rows(name: str, column: str) -> list[dict[str, str]]:
        frame = current.frame(name)
        if column not in frame.columns:
            return []
        hits = frame[frame[column] == record_id]
        return [{str(k): v for k, v in r.items() if isinstance(v, str)} for r in hits.to_dict("records")]

    found = rows(resource, "id")
    out: dict[str, Any] = {"record": found[0] if found else {}}
    if resource == "clients":
        out["contacts"] = rows("contacts", "client_id")
        out["client_property_values"] = rows("client_property_values", "client_id")
        out["client_tags"] = rows("client_tags", "client_id")
    return out


def _payload(change: Change) -> dict[str, str]:
    """What to send: the payload, or (a plan that only filled `fields`) the new values."""
    if change.payload:
        return dict(change.payload)
    return {name: new for name, (_old, new) in change.fields.items()}


def _same_row(entry: Entry, change: Change) -> bool:
    return (
        entry.get("resource") == change.resource
        and entry.get("sheet") == change.sheet
        and str(entry.get("key", "")).casefold() == change.key.casefold()
    )


def _own_id(change: Change, record_id: str) -> str:
    return record_id if change.resource == "clients" else ""


def _id_order(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (-1, value)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


# --------------------------------------------------------------------------------------------------
# The new base snapshot
# --------------------------------------------------------------------------------------------------


def rebase(current: AccountFrames, report: LoadReport) -> AccountFrames:
    """The account as it is after the load: `current` with every `done` result applied.

    Failed and skipped changes leave `current` as it was, so the next run plans them again. Records
    Billomat answered with are taken as they are (contacts filled from their client, derived numbers).
    """
    records = {
        name: [dict(r) for r in frame_records(current.frame(name))]
        for name in ("clients", "contacts", "client_properties", "client_property_values", "client_tags")
    }
    for result in report.results:
        if result.status != "done":
            continue
        change = result.change
        if change.resource in ("clients", "contacts"):
            _rebase_record(records, result)
        elif change.resource == "client_property_values":
            _rebase_value(records["client_property_values"], result)
        elif change.resource == "client_tags":
            _rebase_tag(records["client_tags"], result)
    return AccountFrames.from_records(records)


def _rebase_record(records: dict[str, list[dict[str, Any]]], result: Result) -> None:
    change, rows = result.change, records[result.change.resource]
    record_id = result.record_id or change.key
    if change.action == "delete":
        rows[:] = [r for r in rows if r.get("id") != record_id]
        if change.resource == "clients":  # Billomat deletes a client's contacts, values and tags with it
            for name in ("contacts", "client_property_values", "client_tags"):
                records[name][:] = [r for r in records[name] if r.get("client_id") != record_id]
        return
    existing = next((r for r in rows if r.get("id") == record_id), None)
    if result.record is not None:
        new = {k: v for k, v in result.record.items() if isinstance(v, str)}
    else:
        new = {**(existing or {}), **_payload(change), "id": record_id}
        if change.action == "create":
            new["customfield"] = change.marker or make_marker(change)
            if change.resource == "contacts" and result.client_id:
                new["client_id"] = result.client_id
    if existing is not None:
        existing.update(new)
    else:
        rows.append(new)


def _rebase_value(rows: list[dict[str, Any]], result: Result) -> None:
    change = result.change
    record = result.record or {}
    client_id = record.get("client_id") or result.client_id
    property_id = record.get("client_property_id") or change.ref
    value = record.get("value", "" if change.action == "clear" else _payload(change).get("value", ""))
    rows[:] = [
        r
        for r in rows
        if not (r.get("client_id") == client_id and r.get("client_property_id") == property_id)
    ]
    rows.append(
        {
            **{k: v for k, v in record.items() if isinstance(v, str)},
            "id": record.get("id", ""),
            "client_id": client_id,
            "client_property_id": property_id,
            "value": value,
        }
    )


def _rebase_tag(rows: list[dict[str, Any]], result: Result) -> None:
    change = result.change
    name = change.ref or _payload(change).get("name", "")
    client_id = result.client_id
    present = any(r.get("client_id") == client_id and r.get("name") == name for r in rows)
    if change.action == "remove":
        rows[:] = [r for r in rows if not (r.get("client_id") == client_id and r.get("name") == name)]
    elif not present:
        rows.append({"client_id": client_id, "name": name})
