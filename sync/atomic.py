"""Files that are either the old version or the new one, never half of each (temp file + fsync + rename).

Also the one place that sets permissions: state files (SPEC §6: they hold customer data, every IBAN)
are written `private` (0600, in a 0700 folder); any other file keeps the mode it had. Modes are set
with chmod after creation, so the umask neither widens nor narrows them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


@contextlib.contextmanager
def atomic_path(
    target: Path,
    *,
    before_replace: Callable[[Path], None] | None = None,
    private: bool = False,
    mode: int | None = None,
    guard: Callable[[Path, Path], None] | None = None,
) -> Iterator[Path]:
    """A temp path beside `target`, renamed over it only when the block succeeds.

    The temp file is fsync'd first and gets its permissions: 0600 in a 0700 folder when `private`,
    else `mode` if given, else the ones `target` had (a new file gets the usual ones). The temp file
    itself is 0600 while it is written (mkstemp). `guard(target, tmp)` runs then and may raise to
    leave `target` as it is (a workbook that is open or changed since it was read:
    `sync.workbook_guard`); `before_replace(target)` runs just before the rename (e.g. a backup).
    """
    if private:
        private_dir(target.parent)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, PRIVATE_FILE_MODE if private else mode if mode is not None else _mode_for(target))
        if guard is not None:
            guard(target, tmp)
        if before_replace is not None and target.exists():
            before_replace(target)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(target: Path, data: bytes, *, private: bool = False) -> None:
    """Write `data` to `target` atomically (`private`: a state file, see atomic_path)."""
    with atomic_path(target, private=private) as tmp:
        tmp.write_bytes(data)


def atomic_copy(source: Path, target: Path) -> None:
    """Copy `source` over `target` atomically (so a crash never leaves half a copy), with `source`'s mode.

    A backup of a workbook the owner keeps private must not be readable by others.
    """
    with atomic_path(target, mode=source.stat().st_mode & 0o7777) as tmp:
        shutil.copy2(source, tmp)


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) if needed; `path` itself is made 0700, readable only by its owner.

    Parents are created with the usual modes: only the folder itself is billsync's (the state folder).
    An existing folder is narrowed too, so a state folder an older version made 0755 gets fixed.
    """
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if path.stat().st_mode & 0o7777 != PRIVATE_DIR_MODE:
        os.chmod(path, PRIVATE_DIR_MODE)
    return path


def open_private(path: Path, flags: int) -> int:
    """os.open for a state file that is appended or locked in place (journal, lock): created 0600,
    an existing one narrowed to 0600. The caller closes the descriptor."""
    fd = os.open(path, flags | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        if os.fstat(fd).st_mode & 0o7777 != PRIVATE_FILE_MODE:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def new_file_opener(path: str, flags: int) -> int:
    """An `opener` for open(): a file it creates is 0600 (a log of customer data); an existing one keeps
    its mode (the owner may have chosen it, e.g. for a shared log folder)."""
    return os.open(path, flags, PRIVATE_FILE_MODE)


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
