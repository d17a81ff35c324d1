"""The write journal (SPEC §6): one fsync'd JSON line before and after every write a push makes.

`journal.jsonl` lives in the state dir beside the base snapshot. A line is written *before* each
request (status `pending`) and one after it (`done`, `failed`, `skipped`). Every line is complete on
its own (what, where, old → new, status, record id, the API's message), so the file is readable with
`grep`/`jq` and a torn line costs nothing but itself.

What the loader asks of it:

- `created(marker)`: a create with this idempotency marker landed in an earlier run → its id (adopt
  it, send nothing);
- `pending_creates()`: creates whose last line is `pending` — a crash, a kill or a lost answer left
  them uncertain, so the loader looks them up in Billomat before creating again.

Never written: API keys, app secrets, passwords, headers. Values of customer fields are written (they
are the point of a journal), and the API's error messages, which the Transport already scrubbed.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sync.atomic import open_private, private_dir
from sync.errors import StateError
from sync.plan import Change

log = logging.getLogger(__name__)

JOURNAL = "journal.jsonl"
STATUSES = ("pending", "done", "failed", "skipped")
# Actions that bring a record into being: their outcome must be known before they are sent again.
CREATING_ACTIONS = frozenset({"create", "add"})

Entry = dict[str, Any]


def new_run_id() -> str:
    """A short id for one run (sortable by time, unique enough for one state dir)."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


class Journal:
    """Append-only JSON lines in `<state_dir>/journal.jsonl`, read back once when opened."""

    def __init__(self, state_dir: Path | str) -> None:
        self.path = Path(state_dir) / JOURNAL
        self._entries: dict[str, Entry] = {}  # entry id -> its latest line
        self._by_marker: dict[str, str] = {}  # marker -> entry id of its latest line
        self._pending: dict[str, Entry] = {}  # entry id -> latest line, for entries still pending
        self._seq = 0
        self._torn = 0
        self._load()

    # -- reading ---------------------------------------------------------------------------------

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StateError(f"{self.path}: cannot read the journal ({exc.strerror})") from None
        lines = data.split(b"\n")
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw.decode("utf-8"))
                if not isinstance(entry, dict) or "entry" not in entry:
                    raise ValueError("not a journal line")
            except (ValueError, UnicodeDecodeError):
                # A kill in the middle of a write leaves the last line cut off. It was either a
                # `pending` line (the request was never sent: begin() returns only after the fsync)
                # or a closing line (the entry then stays pending and is looked up next run).
                self._torn += 1
                where = "last line" if number >= len(lines) - 1 else f"line {number}"
                log.warning("%s: %s is not a complete journal line; ignored", self.path, where)
                continue
            self._remember(entry)
        # Entry ids go on counting, so a run id used twice still never repeats an entry id.
        self._seq = len(self._entries)
        if data and not data.endswith(b"\n"):
            # Start the next line on a fresh line, or it would be glued to the torn one.
            self._append_raw(b"\n")

    def _remember(self, entry: Entry) -> None:
        entry_id = str(entry["entry"])
        self._entries[entry_id] = entry
        if entry.get("marker"):
            self._by_marker[str(entry["marker"])] = entry_id
        if entry.get("status") == "pending":
            self._pending[entry_id] = entry
        else:
            self._pending.pop(entry_id, None)

    @property
    def torn_lines(self) -> int:
        """How many unreadable lines (a kill mid-write) were skipped when the journal was opened."""
        return self._torn

    def entries(self) -> Iterator[Entry]:
        """The latest line of every entry, oldest entry first."""
        return iter(list(self._entries.values()))

    def pending(self) -> list[Entry]:
        """Entries whose last line is `pending`: their outcome is unknown (crash, kill, lost answer)."""
        return list(self._pending.values())

    def pending_creates(self) -> dict[str, Entry]:
        """Creates (with a marker) whose last status is pending, by marker: they may or may not have landed."""
        out: dict[str, Entry] = {}
        for entry in self._pending.values():
            marker = str(entry.get("marker") or "")
            # Only the marker's latest entry counts: a later run may have resolved it under a new entry.
            if marker and entry.get("action") == "create" and self._by_marker.get(marker) == entry["entry"]:
                out[marker] = entry
        return out

    def created(self, marker: str) -> str | None:
        """The record id of the create with this marker, if its last line says it is done."""
        entry_id = self._by_marker.get(marker)
        if entry_id is None:
            return None
        entry = self._entries[entry_id]
        if entry.get("status") == "done" and entry.get("record_id"):
            return str(entry["record_id"])
        return None

    def last(self, marker: str) -> Entry | None:
        """The latest line of the entry that carries this marker."""
        entry_id = self._by_marker.get(marker)
        return None if entry_id is None else self._entries[entry_id]

    def pending_for(self, change: Change, client_id: str) -> list[Entry]:
        """Earlier writes of the same kind to the same target (e.g. this tag of this client) still pending."""
        target = _target(change, client_id)
        return [e for e in self._pending.values() if e.get("target") == target]

    # -- writing ---------------------------------------------------------------------------------

    def begin(self, change: Change, *, run_id: str, client_id: str = "", note: str = "") -> str:
        """Write the `pending` line of a write about to be sent (fsync'd before returning); its entry id."""
        entry = self._entry(change, run_id=run_id, client_id=client_id)
        entry["api_message"] = note
        self._write(entry)
        return str(entry["entry"])

    def _entry(self, change: Change, *, run_id: str, client_id: str) -> Entry:
        self._seq += 1
        return {
            "entry": f"{run_id}-{self._seq:05d}",
            "time": _now(),
            "run_id": run_id,
            "resource": change.resource,
            "action": change.action,
            "key": change.key,
            "sheet": change.sheet,
            "row": change.row,
            "marker": change.marker,
            "client_key": change.client_key,
            "client_id": client_id,
            "ref": change.ref,
            "target": _target(change, client_id),
            "fields": {name: [old, new] for name, (old, new) in change.fields.items()},
            "status": "pending",
            "record_id": "",
            "api_message": "",
        }

    def finish(
        self,
        entry_id: str,
        status: str,
        *,
        record_id: str | None = None,
        api_message: str = "",
        client_id: str | None = None,
    ) -> None:
        """Write the closing line of an entry: `done`, `failed` or `skipped`, the record id, the API's message."""
        if status not in STATUSES or status == "pending":
            raise ValueError(f"finish() needs done, failed or skipped, not {status!r}")
        try:
            entry = dict(self._entries[entry_id])
        except KeyError:
            raise ValueError(f"no journal entry {entry_id!r}") from None
        entry.update(time=_now(), status=status, record_id=record_id or "", api_message=api_message)
        if client_id is not None:
            entry["client_id"] = client_id
        self._write(entry)

    def record(
        self,
        change: Change,
        status: str,
        *,
        run_id: str,
        client_id: str = "",
        record_id: str | None = None,
        api_message: str = "",
    ) -> str:
        """An entry that needs no request (skipped, or a create adopted from an earlier run): one line."""
        if status not in STATUSES or status == "pending":
            raise ValueError(f"record() needs done, failed or skipped, not {status!r}")
        entry = self._entry(change, run_id=run_id, client_id=client_id)
        entry.update(status=status, record_id=record_id or "", api_message=api_message)
        self._write(entry)
        return str(entry["entry"])

    def _write(self, entry: Entry) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n"
        self._append_raw(line.encode("utf-8"))
        self._remember(entry)

    def _append_raw(self, data: bytes) -> None:
        try:
            private_dir(self.path.parent)
            # O_APPEND: one write() per line, so a line is never interleaved with another; fsync so a
            # `pending` line is on disk before its request leaves (SPEC §5: a crash loses nothing).
            fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot write the journal ({exc.strerror})") from None


def _target(change: Change, client_id: str) -> str:
    """What a write is about, independent of the run: resource, action, the client and the ref (tag name…)."""
    return "|".join(
        (change.resource, change.action, client_id or change.client_key or change.key, change.ref)
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
