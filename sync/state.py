"""The state dir (SPEC §6): base snapshot of the last successful run, the states kept, and the run lock.

States kept: every snapshot carries a state id (`meta["state_id"]`), the id billsync stamps into the
workbook it writes from that state (`sync.origin`). `snapshot.zip` is the newest; `states/<id>.zip`
keeps the last states a workbook may still descend from (a copy opened before a sync and saved
after it), so `sync`, `plan` and `push` can merge against the state the workbook really comes from.
They are hard links of the snapshots they were (no second write), rotated by `KEEP_STATES` /
`KEEP_DAYS`, never the ones a run names as still needed.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import io
import json
import os
import time
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sync.atomic import atomic_copy, atomic_path, open_private, private_dir
from sync.clock import SYSTEM_CLOCK, Clock
from sync.errors import LockedError, StateError
from sync.frames import BASE_COLUMNS, RESOURCES, AccountFrames, text_frame
from sync.origin import new_state_id, valid_state_id
from sync.record_rows import Rows, decode, encode
from sync.text import column_values

STATE_DIRNAME = ".billsync"
SNAPSHOT = "snapshot.zip"
STATES = "states"
KEEP_STATES = 10  # the newest states kept whatever their age
KEEP_DAYS = 14  # ... and every state younger than this
MAX_STATES = 60  # ... but never more than this many (the ones still needed come on top)
LOCK = "lock"
ROWS = "rows.json"  # where each record's row was in the workbook of that state (sync.record_rows)
SNAPSHOT_FORMAT = 1


@dataclass(frozen=True)
class Snapshot:
    """The base snapshot: the account as it was after the last successful run, plus facts about that run."""

    frames: AccountFrames
    meta: dict[str, Any]

    @property
    def state_id(self) -> str | None:
        """The id workbooks written from this state carry (None: recorded before states had ids)."""
        value = self.meta.get("state_id")
        return value if isinstance(value, str) and valid_state_id(value) else None


def state_dir_for(workbook: Path, override: Path | str | None = None) -> Path:
    """`--state` if given, else `.billsync/` beside the workbook (beside the folder for CSV)."""
    if override:
        return Path(override)
    return workbook.resolve().parent / STATE_DIRNAME


class StateDir:
    """One state directory; created on first write (0700, its files 0600), never half-written."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def snapshot_path(self) -> Path:
        """Where the base snapshot lives."""
        return self.path / SNAPSHOT

    @property
    def states_path(self) -> Path:
        """Where the states a workbook may still descend from are kept."""
        return self.path / STATES

    def write_snapshot(
        self,
        frames: AccountFrames,
        meta: dict[str, Any],
        *,
        state_id: str | None = None,
        keep: Iterable[str | None] = (),
        rows: Rows | None = None,
    ) -> Path:
        """Record the base snapshot atomically (a temp file in the same dir, then rename) as state `state_id`.

        The snapshot it replaces stays in `states/` (so does the new one); then old states are rotated
        out, never those named in `keep` (the state the workbook of this run descends from). `rows`: where
        each record's row is in the workbook of this state (read back by `read_rows`).
        """
        self._ensure()
        state_id = state_id or new_state_id()
        meta = {**meta, "state_id": state_id, "format": SNAPSHOT_FORMAT, "counts": frames.counts()}
        self._keep_current()
        with (
            atomic_path(self.snapshot_path, private=True) as tmp,
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        ):
            zf.writestr("meta.json", json.dumps(meta, ensure_ascii=False, indent=2))
            for name in RESOURCES:
                zf.writestr(f"{name}.csv", _frame_csv(frames.frame(name)))
            if rows is not None:
                zf.writestr(ROWS, encode(rows))
        self._keep_current()
        self.rotate(keep=[state_id, *keep])
        return self.snapshot_path

    def read_snapshot(self) -> Snapshot | None:
        """The base snapshot, or None when there has been no successful run yet."""
        if not self.snapshot_path.exists():
            return None
        return _read_snapshot_file(self.snapshot_path)

    def read_state(self, state_id: str | None) -> Snapshot | None:
        """The state recorded as `state_id`, or None when it is unknown (never recorded, or rotated out)."""
        if not valid_state_id(state_id):
            return None
        kept = self.states_path / f"{state_id}.zip"
        if kept.exists():
            return _read_snapshot_file(kept)
        latest = self.read_snapshot()
        return latest if latest is not None and latest.state_id == state_id else None

    def read_rows(self, state_id: str | None) -> Rows:
        """Where each record's row was in the workbook of state `state_id` (empty: unknown, or none recorded)."""
        if not valid_state_id(state_id):
            return {}
        for path in (self.states_path / f"{state_id}.zip", self.snapshot_path):
            try:
                with zipfile.ZipFile(path) as zf:
                    meta = json.loads(zf.read("meta.json").decode("utf-8"))
                    if meta.get("state_id") != state_id:
                        continue
                    return decode(zf.read(ROWS).decode("utf-8")) if ROWS in zf.namelist() else {}
            except (OSError, zipfile.BadZipFile, KeyError, ValueError, AttributeError):
                continue
        return {}

    def state_ids(self) -> list[str]:
        """The ids of the states kept, newest first (ids start with their time)."""
        if not self.states_path.is_dir():
            return []
        ids = [p.stem for p in self.states_path.glob("*.zip") if valid_state_id(p.stem)]
        return sorted(ids, reverse=True)

    def rotate(self, *, keep: Iterable[str | None] = (), now: float | None = None) -> list[str]:
        """Remove the states no workbook is likely to descend from any more; returns the ids removed.

        Kept: the newest `KEEP_STATES`, every state younger than `KEEP_DAYS` (at most `MAX_STATES` in
        all), the newest snapshot, and every id in `keep`.
        """
        ids = self.state_ids()
        now = time.time() if now is None else now
        needed = {i for i in keep if i}
        latest = self.read_snapshot_id()
        if latest:
            needed.add(latest)
        removed = []
        for position, state_id in enumerate(ids):
            path = self.states_path / f"{state_id}.zip"
            if state_id in needed or position < KEEP_STATES:
                continue
            try:
                young = now - path.stat().st_mtime < KEEP_DAYS * 86400
            except OSError:
                continue
            if young and position < MAX_STATES:
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(state_id)
        return removed

    def read_snapshot_id(self) -> str | None:
        """The state id of the newest snapshot (None: none yet, or recorded before states had ids)."""
        if not self.snapshot_path.exists():
            return None
        try:
            with zipfile.ZipFile(self.snapshot_path) as zf:
                value = json.loads(zf.read("meta.json").decode("utf-8")).get("state_id")
        except (OSError, zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            return None
        return value if isinstance(value, str) and valid_state_id(value) else None

    def _keep_current(self) -> None:
        """The newest snapshot also under `states/<id>.zip`: a hard link (a copy where links fail)."""
        state_id = self.read_snapshot_id()
        if state_id is None:
            return
        target = self.states_path / f"{state_id}.zip"
        if target.exists():
            return
        try:
            private_dir(self.states_path)  # SPEC §6: every IBAN of every kept state
        except OSError as exc:
            raise StateError(f"{self.states_path}: cannot create the folder of kept states ({exc.strerror})") from None
        try:
            os.link(self.snapshot_path, target)
        except FileExistsError:
            pass
        except OSError:
            atomic_copy(self.snapshot_path, target)

    @contextmanager
    def lock(self, *, wait: float = 10.0, poll: float = 0.5, clock: Clock = SYSTEM_CLOCK) -> Iterator[None]:
        """Hold the run lock; wait up to `wait` seconds for another run, then refuse with LockedError."""
        self._ensure()
        lock_path = self.path / LOCK
        # held for the whole run; 0600 like every state file
        handle = open(open_private(lock_path, os.O_RDWR | os.O_APPEND), "a+", encoding="utf-8")  # noqa: SIM115
        try:
            deadline = clock.now() + wait
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise StateError(f"{lock_path}: cannot lock ({exc.strerror})") from None
                    if clock.now() >= deadline:
                        holder = _read_holder(lock_path)
                        raise LockedError(
                            f"{lock_path}: another billsync run{holder} holds the lock; "
                            f"waited {wait:.0f} s, changed nothing. Try again when it has finished."
                        ) from None
                    clock.sleep(poll)
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
            handle.flush()
            yield
        finally:
            handle.close()

    def _ensure(self) -> None:
        try:
            private_dir(self.path)  # SPEC §6: customer data, readable only by its owner
        except OSError as exc:
            raise StateError(f"{self.path}: cannot create the state directory ({exc.strerror})") from None


def _read_snapshot_file(path: Path) -> Snapshot:
    try:
        with zipfile.ZipFile(path) as zf:
            meta = json.loads(zf.read("meta.json").decode("utf-8"))
            frames = {name: _read_csv(zf, f"{name}.csv", BASE_COLUMNS[name]) for name in RESOURCES}
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise StateError(
            f"{path}: the base snapshot is damaged ({exc}); move it away and run 'billsync pull' to record a new one"
        ) from None
    return Snapshot(frames=AccountFrames(**frames), meta=meta)


def _frame_csv(frame: Any) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(list(frame.columns))
    # The columns' arrays zipped, not itertuples(): that makes a Series per column (~1 ms a snapshot).
    if len(frame.columns):
        writer.writerows(zip(*(column_values(frame, name) for name in frame.columns), strict=True))
    else:
        writer.writerows(frame.itertuples(index=False, name=None))
    return buffer.getvalue()


def _read_csv(zf: zipfile.ZipFile, member: str, columns: tuple[str, ...]) -> pd.DataFrame:
    """One resource of a snapshot as an all-text frame, `columns` first (as `text_frame` builds it).

    pandas' C parser, not csv.reader into dicts: at 100,000 clients 1.8 s and 0.3 GB instead of
    6.5 s and 0.8 GB, which was a quarter of a nothing-to-do sync (docs/benchmarks.md).
    `dtype=object` with `na_filter=False` keeps every cell the exact str written ("" stays "", "NA" stays
    "NA"); the file is QUOTE_ALL, so line breaks inside values read back as they were.
    """
    with zf.open(member) as fh:
        try:
            frame = pd.read_csv(fh, dtype=object, na_filter=False, encoding="utf-8", engine="c")
        except pd.errors.EmptyDataError:  # not even a header row: a resource without columns
            return text_frame([], columns)
    order = list(dict.fromkeys([*columns, *frame.columns]))
    if order != list(frame.columns):
        frame = frame.reindex(columns=order, fill_value="")
    return frame


def _read_holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text(encoding="utf-8") or "{}")
        return f" (pid {info['pid']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""
