"""The write journal (SPEC §6): one fsync'd JSON line before and after every write a run makes.

One file per run, `runs/<run id>.jsonl` in the state dir. A line is written *before* each request
(status `pending`) and one after it (`done`, `failed`, `skipped`). Every line is complete on its own
(what, where, old → new, status, record id, the API's message; a delete also carries the record as it
was, with a client's contacts, property values and tags), so a file is readable with `grep`/`jq` and
a torn line costs nothing but itself. A run's file starts with a `start` line (command, workbook,
time) and ends with an `end` line (exit code, counts, requests) when the run closes it; `sync.runs`
lists and shows runs from them, `sync.undo` reads a run's writes back.

Why one file per run: the journal used to be one file that only grew and was read whole at the start
of every run. Now opening reads nothing; the first question of the loader reads the newest
`RECOVERY_RUNS` runs only (a create an interrupted run left uncertain is resolved by the next run, and
records made for rows are also found by their markers in Billomat), and `rotate()` drops the oldest
runs beyond `KEEP_RUNS` or `MAX_BYTES` (never the newest `RECOVERY_RUNS`). An old `journal.jsonl` is
split into run files once.

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
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sync.atomic import open_private, private_dir
from sync.errors import StateError
from sync.plan import Change

log = logging.getLogger(__name__)

JOURNAL = "journal.jsonl"  # the single journal of older versions, split into run files once
RUNS = "runs"
RUN_SUFFIX = ".jsonl"
STATUSES = ("pending", "done", "failed", "skipped")
# Actions that bring a record into being: their outcome must be known before they are sent again.
CREATING_ACTIONS = frozenset({"create", "add"})
RECOVERY_RUNS = 20  # the newest runs whose entries the loader consults (uncertain creates, markers)
KEEP_RUNS = 100  # runs kept for `runs`, `show` and `undo` ...
MAX_BYTES = 256 * 1024 * 1024  # ... as long as they take no more than this together
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

Entry = dict[str, Any]


_last_ms = 0


def new_run_id() -> str:
    """An id for one run, `20261205-131938.123-a1b2c3`: sorts by start time (runs are ordered by their
    ids), its last six characters are the short id people type (`billsync show a1b2c3`)."""
    global _last_ms
    # Strictly increasing within a process, so two runs started in the same millisecond still sort.
    now = max(int(time.time() * 1000), _last_ms + 1)
    _last_ms = now
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now / 1000))
    return f"{stamp}.{now % 1000:03d}-{uuid.uuid4().hex[:6]}"


def runs_dir(state_dir: Path | str) -> Path:
    """The folder of the run files in a state dir."""
    return Path(state_dir) / RUNS


def run_files(state_dir: Path | str) -> list[Path]:
    """Every run file of a state dir, oldest first (run ids sort by their start time)."""
    folder = runs_dir(state_dir)
    try:
        names = sorted(p.name for p in folder.iterdir() if p.name.endswith(RUN_SUFFIX))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StateError(f"{folder}: cannot list the runs ({exc.strerror})") from None
    return [folder / name for name in names]


def read_lines(path: Path) -> tuple[list[Entry], int]:
    """The complete JSON lines of a run file, and how many torn (unreadable) lines were skipped."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateError(f"{path}: cannot read the journal ({exc.strerror})") from None
    out: list[Entry] = []
    torn = 0
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw.decode("utf-8"))
            if not isinstance(line, dict) or ("entry" not in line and "event" not in line):
                raise ValueError("not a journal line")
        except (ValueError, UnicodeDecodeError):
            # A kill in the middle of a write leaves the last line cut off. It was either a `pending`
            # line (the request was never sent: begin() returns only after the fsync) or a closing line
            # (the entry then stays pending and is looked up next run).
            torn += 1
            where = "last line" if number >= len(lines) - 1 else f"line {number}"
            log.warning("%s: %s is not a complete journal line; ignored", path, where)
            continue
        out.append(line)
    return out, torn


class Journal:
    """The journal of one run (`runs/<run id>.jsonl`), with the recent runs' entries read on demand."""

    def __init__(self, state_dir: Path | str, *, command: str = "", workbook: str = "", run_id: str | None = None) -> None:
        self.state_dir = Path(state_dir)
        self.run_id = run_id or new_run_id()
        if not RUN_ID.match(self.run_id):
            raise ValueError(f"not a run id: {self.run_id!r}")
        self.command, self.workbook = command, workbook
        self.path = runs_dir(self.state_dir) / f"{self.run_id}{RUN_SUFFIX}"
        self._entries: dict[str, Entry] = {}  # entry id -> its latest line
        self._by_marker: dict[str, str] = {}  # marker -> entry id of its latest line
        self._pending: dict[str, Entry] = {}  # entry id -> latest line, for entries still pending
        self._seq = 0
        self._torn = 0
        self._loaded = False
        self._started = False
        self._closed = False
        self._begun = 0  # requests announced by begin()

    # -- reading ---------------------------------------------------------------------------------

    def _load(self) -> None:
        """Read the newest runs' entries once (not at opening: a run that writes nothing reads nothing)."""
        if self._loaded:
            return
        self._loaded = True
        split_legacy(self.state_dir)
        files = [p for p in run_files(self.state_dir) if p != self.path][-RECOVERY_RUNS:]
        if self.path.exists():
            files.append(self.path)  # a run id used again (tests): its earlier lines come first
        for path in files:
            lines, torn = read_lines(path)
            self._torn += torn
            for line in lines:
                if "entry" in line:
                    self._remember(line)
                    if path == self.path:
                        self._seq += 1
            if path == self.path:
                self._started = self._started or any(line.get("event") == "start" for line in lines)

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
        """How many unreadable lines (a kill mid-write) were skipped in the runs read."""
        self._load()
        return self._torn

    def entries(self) -> Iterator[Entry]:
        """The latest line of every entry of the recent runs, oldest entry first."""
        self._load()
        return iter(list(self._entries.values()))

    def pending(self) -> list[Entry]:
        """Entries whose last line is `pending`: their outcome is unknown (crash, kill, lost answer)."""
        self._load()
        return list(self._pending.values())

    def pending_creates(self) -> dict[str, Entry]:
        """Creates (with a marker) whose last status is pending, by marker: they may or may not have landed."""
        self._load()
        out: dict[str, Entry] = {}
        for entry in self._pending.values():
            marker = str(entry.get("marker") or "")
            # Only the marker's latest entry counts: a later run may have resolved it under a new entry.
            if marker and entry.get("action") == "create" and self._by_marker.get(marker) == entry["entry"]:
                out[marker] = entry
        return out

    def created(self, marker: str) -> str | None:
        """The record id of the create with this marker, if its last line says it is done."""
        self._load()
        entry_id = self._by_marker.get(marker)
        if entry_id is None:
            return None
        entry = self._entries[entry_id]
        if entry.get("status") == "done" and entry.get("record_id"):
            return str(entry["record_id"])
        return None

    def last(self, marker: str) -> Entry | None:
        """The latest line of the entry that carries this marker."""
        self._load()
        entry_id = self._by_marker.get(marker)
        return None if entry_id is None else self._entries[entry_id]

    def pending_for(self, change: Change, client_id: str) -> list[Entry]:
        """Earlier writes of the same kind to the same target (e.g. this tag of this client) still pending."""
        self._load()
        target = _target(change, client_id)
        return [e for e in self._pending.values() if e.get("target") == target]

    # -- writing ---------------------------------------------------------------------------------

    def begin(
        self, change: Change, *, client_id: str = "", note: str = "", before: dict[str, Any] | None = None
    ) -> str:
        """Write the `pending` line of a write about to be sent (fsync'd before returning); its entry id.

        `before`: the record as it was before a delete (a client with its contacts, values and tags),
        so that the run can be undone.
        """
        entry = self._entry(change, client_id=client_id)
        entry["api_message"] = note
        self._begun += 1
        if before:
            entry["before"] = before
        self._write(entry)
        return str(entry["entry"])

    def _entry(self, change: Change, *, client_id: str) -> Entry:
        self._load()  # entry ids go on counting after the lines a reused run id already holds
        self._seq += 1
        return {
            "entry": f"{self.run_id}-{self._seq:05d}",
            "time": _now(),
            "run_id": self.run_id,
            "resource": change.resource,
            "action": change.action,
            "key": change.key,
            "sheet": change.sheet,
            "row": change.row,
            "marker": change.marker,
            "client_key": change.client_key,
            "client_id": client_id,
            "ref": change.ref,
            "label": change.label,
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
        self._load()
        try:
            entry = dict(self._entries[entry_id])
        except KeyError:
            raise ValueError(f"no journal entry {entry_id!r}") from None
        entry.update(time=_now(), status=status, record_id=record_id or "", api_message=api_message)
        entry.pop("before", None)  # said once, in the pending line
        if client_id is not None:
            entry["client_id"] = client_id
        self._write(entry)

    def record(
        self,
        change: Change,
        status: str,
        *,
        client_id: str = "",
        record_id: str | None = None,
        api_message: str = "",
    ) -> str:
        """An entry that needs no request (skipped, or a create adopted from an earlier run): one line."""
        if status not in STATUSES or status == "pending":
            raise ValueError(f"record() needs done, failed or skipped, not {status!r}")
        entry = self._entry(change, client_id=client_id)
        entry.update(status=status, record_id=record_id or "", api_message=api_message)
        self._write(entry)
        return str(entry["entry"])

    def close(self, exit_code: int, *, requests: int | None = None) -> None:
        """Write the run's `end` line (exit code, counts of done writes, requests), then rotate old runs."""
        if self._closed:
            return
        self._closed = True
        self._load()
        own = [e for e in self._entries.values() if e.get("run_id") == self.run_id]
        counts: dict[str, dict[str, int]] = {}
        for entry in own:
            if entry.get("status") == "done":
                per = counts.setdefault(str(entry["resource"]), {})
                per[str(entry["action"])] = per.get(str(entry["action"]), 0) + 1
        failed = sum(1 for e in own if e.get("status") in ("failed", "skipped"))
        sent = requests if requests is not None else self._begun
        self._line(
            {"event": "end", "run_id": self.run_id, "time": _now(), "exit": exit_code, "counts": counts,
             "failed": failed, "requests": sent}
        )
        rotate(self.state_dir, keep=[self.path])

    def _write(self, entry: Entry) -> None:
        self._line(entry)
        self._remember(entry)

    def _line(self, line: Entry) -> None:
        if not self._started:
            # The start line goes first, written with the run's first line (a run that writes nothing
            # and is not closed leaves no file).
            self._started = True
            start = {"event": "start", "run_id": self.run_id, "time": _now(), "command": self.command,
                     "workbook": self.workbook}
            self._line(start)
        data = json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"
        _append(self.path, data.encode("utf-8"))


def _append(path: Path, data: bytes) -> None:
    try:
        private_dir(path.parent.parent)
        private_dir(path.parent)
        # O_APPEND: one write() per line, so a line is never interleaved with another; fsync so a
        # `pending` line is on disk before its request leaves (SPEC §5: a crash loses nothing).
        fd = open_private(path, os.O_RDWR | os.O_APPEND)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # A torn last line (a kill mid-write): start on a fresh line, not glued to it.
                data = b"\n" + data
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise StateError(f"{path}: cannot write the journal ({exc.strerror})") from None


def rotate(state_dir: Path | str, *, keep: list[Path] | None = None) -> list[Path]:
    """Drop the oldest run files beyond KEEP_RUNS or MAX_BYTES; never the newest RECOVERY_RUNS (or `keep`)."""
    files = run_files(state_dir)
    protected = set(files[-RECOVERY_RUNS:]) | set(keep or [])
    sizes = {p: _size(p) for p in files}
    total = sum(sizes.values())
    count = len(files)
    dropped: list[Path] = []
    for path in files:  # oldest first
        if count <= KEEP_RUNS and total <= MAX_BYTES:
            break
        if path in protected:
            continue
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("%s: cannot remove an old run (%s)", path, exc.strerror)
            continue
        dropped.append(path)
        count -= 1
        total -= sizes[path]
    return dropped


def split_legacy(state_dir: Path | str) -> None:
    """An older version's single `journal.jsonl`: split it into run files once, then remove it."""
    legacy = Path(state_dir) / JOURNAL
    if not legacy.exists():
        return
    lines, _torn = read_lines(legacy)
    by_run: dict[str, list[Entry]] = {}
    for line in lines:
        run_id = str(line.get("run_id") or "")
        by_run.setdefault(run_id if RUN_ID.match(run_id) else "legacy", []).append(line)
    for run_id, entries in by_run.items():
        path = runs_dir(state_dir) / f"{run_id}{RUN_SUFFIX}"
        start = {"event": "start", "run_id": run_id, "time": entries[0].get("time", ""), "command": "",
                 "workbook": ""}
        body = "".join(json.dumps(x, ensure_ascii=False, separators=(",", ":")) + "\n" for x in [start, *entries])
        _append(path, body.encode("utf-8"))
    legacy.unlink()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _target(change: Change, client_id: str) -> str:
    """What a write is about, independent of the run: resource, action, the client and the ref (tag name…)."""
    return "|".join(
        (change.resource, change.action, client_id or change.client_key or change.key, change.ref)
    )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
