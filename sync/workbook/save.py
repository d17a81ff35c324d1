"""One save for every xlsx writer: the package copied with parts replaced, put in place atomically."""

from __future__ import annotations

import contextlib
import shutil
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from sync.atomic import atomic_copy, atomic_path
from sync.workbook_guard import WorkbookGuard

CHUNK = 1 << 22  # 4 MB of a part at a time: a 100 MB sheet is never held whole

# A part given as a function is streamed: it reads the old part and writes the new one.
PartWriter = Callable[[IO[bytes], IO[bytes]], None]


def backup_path(path: Path) -> Path:
    """Where the previous version of a workbook file is kept: `Kunden.xlsx` → `Kunden.bak.xlsx`."""
    return path.with_name(f"{path.stem}.bak{path.suffix}")


def copy_package(source: Path, target: Path, parts: Mapping[str, bytes | PartWriter]) -> None:
    """Copy the package member by member (same order, names, dates, compression); `parts` replace
    members or, when the package lacks them, are appended in their order."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        stamp = (1980, 1, 1, 0, 0, 0)
        for info in zin.infolist():
            part = parts.get(info.filename)
            if isinstance(part, bytes):
                zout.writestr(info, part, compress_type=info.compress_type)
            else:
                # Streamed: the bytes are the same as writestr's.
                with zin.open(info) as src, zout.open(info, "w") as dst:
                    if part is None:
                        shutil.copyfileobj(src, dst, CHUNK)
                    else:
                        part(src, dst)
            stamp = info.date_time
        for name, data in parts.items():
            if name in zin.NameToInfo:
                continue
            if not isinstance(data, bytes):
                raise ValueError(f"{name} is not in the package; a new part must be given as bytes")
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)


def _backup(target: Path) -> None:
    """Keep the current file as its .bak version (copied atomically: never half a backup)."""
    atomic_copy(target, backup_path(target))


def replacing(target: Path, guard: WorkbookGuard | None, backup: bool = True) -> contextlib.AbstractContextManager[Path]:
    """A temp path beside `target`; when the block succeeds: check the workbook is still what was read
    and not open, back up the current file (if `backup`), then rename over it."""
    return atomic_path(target, before_replace=_backup if backup else None, guard=guard)


def save_package(
    path: Path, parts: Mapping[str, bytes | PartWriter], guard: WorkbookGuard | None, *, backup: bool = True
) -> None:
    """Replace the workbook at `path` by its copy with `parts` patched in: one atomic write."""
    with replacing(path, guard, backup) as tmp:
        copy_package(path, tmp, parts)
