"""The state dir (SPEC §6): base snapshot of the last successful run and the run lock."""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import json
import os
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.atomic import atomic_path, open_private, private_dir
from sync.clock import SYSTEM_CLOCK, Clock
from sync.errors import LockedError, StateError
from sync.frames import RESOURCES, AccountFrames

STATE_DIRNAME = ".billsync"
SNAPSHOT = "snapshot.zip"
LOCK = "lock"
SNAPSHOT_FORMAT = 1


@dataclass(frozen=True)
class Snapshot:
    """The base snapshot: the account as it was after the last successful run, plus facts about that run."""

    frames: AccountFrames
    meta: dict[str, Any]


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

    def write_snapshot(self, frames: AccountFrames, meta: dict[str, Any]) -> Path:
        """Record the base snapshot atomically: a temp file in the same dir, then rename."""
        self._ensure()
        meta = {**meta, "format": SNAPSHOT_FORMAT, "counts": frames.counts()}
        with (
            atomic_path(self.snapshot_path, private=True) as tmp,
            zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
        ):
            zf.writestr("meta.json", json.dumps(meta, ensure_ascii=False, indent=2))
            for name in RESOURCES:
                zf.writestr(f"{name}.csv", _frame_csv(frames.frame(name)))
        return self.snapshot_path

    def read_snapshot(self) -> Snapshot | None:
        """The base snapshot, or None when there has been no successful run yet."""
        if not self.snapshot_path.exists():
            return None
        try:
            with zipfile.ZipFile(self.snapshot_path) as zf:
                meta = json.loads(zf.read("meta.json").decode("utf-8"))
                records = {name: _read_csv(zf.read(f"{name}.csv").decode("utf-8")) for name in RESOURCES}
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise StateError(
                f"{self.snapshot_path}: the base snapshot is damaged ({exc}); "
                "move it away and run 'billsync pull' to record a new one"
            ) from None
        return Snapshot(frames=AccountFrames.from_records(records), meta=meta)

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


def _frame_csv(frame: Any) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(list(frame.columns))
    writer.writerows(frame.itertuples(index=False, name=None))
    return buffer.getvalue()


def _read_csv(text: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = list(reader)
    if not rows:
        return []
    header = rows[0]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def _read_holder(lock_path: Path) -> str:
    try:
        info = json.loads(lock_path.read_text(encoding="utf-8") or "{}")
        return f" (pid {info['pid']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""
