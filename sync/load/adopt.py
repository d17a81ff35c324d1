"""Creates of earlier, interrupted runs: found by their marker (journal, Billomat) and adopted for their row."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sync.clients.billomat import Billomat, Client, Contact
from sync.errors import NotFoundError, RejectedError
from sync.journal import Entry, Journal
from sync.load.ids import RowIds
from sync.load.report import Result
from sync.plan import Change

log = logging.getLogger(__name__)

Send = Callable[..., Result]
"""The loader's `send(change, client_id, send, *, note="")`: one journalled write."""


def resource_of(bm: Billomat, change: Change) -> Any:
    """The Billomat resource of a client or contact change."""
    return bm.clients if change.resource == "clients" else bm.contacts


class Recovery:
    """Looks up what an earlier run created for a row (journal, marker) so that nothing is created twice."""

    def __init__(
        self, bm: Billomat, journal: Journal, ids: RowIds, send: Send, marked: dict[tuple[str, str], str]
    ) -> None:
        self.bm, self.journal, self.ids, self.send = bm, journal, ids, send
        self.marked = marked  # (resource, marker) -> id, records read this run

    def adopt(self, change: Change, marker: str, client_id: str, data: dict[str, str]) -> Result | None:
        """A record an earlier run created for this row (journal, or found by its marker), or None."""
        known = self.journal.created(marker)
        if known:
            message = "created by an earlier run (journal); not sent again"
            self.journal.record(change, "done", client_id=client_id, record_id=known, api_message=message)
            self.ids.register(change, known)
            return Result(change, "done", known, message, None, client_id or _own_id(change, known))
        pending = self.journal.pending_creates()
        if marker in pending:
            found = self.find(change, marker, client_id)
            if found is not None:
                message = "an earlier run's create had landed (found by its marker); not sent again"
                self.close(pending[marker], found["id"], "landed; adopted")
                self.journal.record(
                    change,
                    "done",
                    client_id=client_id,
                    record_id=found["id"],
                    api_message=message,
                )
                self.ids.register(change, found["id"])
                return Result(change, "done", found["id"], message, found, client_id or found["id"])
            self.close(pending[marker], "", "did not land; created again")
        elif (change.resource, marker) in self.marked:
            # Billomat holds a record with this row's marker, but this journal does not know it (the
            # workbook was pushed from another folder or state dir after an interrupted run).
            found_id = self.marked[(change.resource, marker)]
            message = "Billomat already holds this row's record (found by its marker); not sent again"
            self.journal.record(change, "done", client_id=client_id, record_id=found_id, api_message=message)
            self.ids.register(change, found_id)
            return Result(change, "done", found_id, message, None, client_id or _own_id(change, found_id))
        # The same row under an older marker: the row was edited after an interrupted run. Checked
        # only for *pending* entries: a row key like row:7 of a finished create may by now be another row.
        for old_marker, entry in pending.items():
            if old_marker == marker or not _same_row(entry, change):
                continue
            found = self.find(change, old_marker, entry.get("client_id") or client_id)
            if found is None:
                self.close(entry, "", "did not land")
                continue
            self.close(entry, found["id"], "landed; adopted and updated to the row's current content")
            # Fields the old content set that the new content leaves empty are emptied.
            body = {name: "" for name in entry.get("fields", {}) if name not in ("id", "client_id")}
            body.update({k: v for k, v in data.items() if k not in ("id", "client_id")})
            body["customfield"] = marker

            def update(rid: str = found["id"], body: dict[str, str] = body) -> dict[str, str]:
                return resource_of(self.bm, change).save_record({"id": rid, **body})

            result = self.send(
                change, client_id, update, note="an earlier run's create of this row had landed; updated it"
            )
            if result.status == "done":
                self.ids.register(change, found["id"])
                return Result(
                    change, "done", found["id"], result.api_message, result.record, client_id or found["id"]
                )
            return result
        return None

    def find(self, change: Change, marker: str, client_id: str) -> dict[str, str] | None:
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

    def close(self, entry: Entry, record_id: str, message: str) -> None:
        """Finish an earlier run's pending entry: done with the id found, else failed."""
        status = "done" if record_id else "failed"
        self.journal.finish(str(entry["entry"]), status, record_id=record_id, api_message=message)

    def ensure_marker(self, change: Change, record: dict[str, str], marker: str) -> None:
        """Make sure the marker is stored: whether POST takes `customfield` is not documented."""
        record_id = record.get("id")
        if not record_id or record.get("customfield", marker) == marker:
            return
        # billomat-api.md §4.6: customfield has its own endpoint; set it there if the POST ignored it.
        try:
            resource_of(self.bm, change).set_customfield(record_id, marker)
            record["customfield"] = marker
        except (RejectedError, NotFoundError) as exc:
            log.warning("%s %s: could not store the idempotency marker (%s)", change.resource, record_id, exc)


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
