"""Files that are either the old version or the new one, never half of each (temp file + fsync + rename)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(
    target: Path,
    *,
    before_replace: Callable[[Path], None] | None = None,
    guard: Callable[[Path, Path], None] | None = None,
) -> Iterator[Path]:
    """A temp path beside `target`, renamed over it only when the block succeeds.

    The temp file is fsync'd first, gets the permissions `target` had (mkstemp makes 0600; a new file
    gets the usual ones), and `before_replace(target)` runs just before the rename (e.g. a backup).
    `guard(target, tmp)` runs before that and may raise to leave `target` as it is (a workbook that is
    open or changed since it was read: `sync.workbook_guard`).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, _mode_for(target))
        if guard is not None:
            guard(target, tmp)
        if before_replace is not None and target.exists():
            before_replace(target)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write `data` to `target` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_copy(source: Path, target: Path) -> None:
    """Copy `source` over `target` atomically (so a crash never leaves half a copy)."""
    with atomic_path(target) as tmp:
        shutil.copy2(source, tmp)


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
