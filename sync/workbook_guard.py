"""Is the workbook open in a spreadsheet program, or did it change since billsync read it? (SPEC §4)

A workbook that a person has open is never rewritten: their next save would undo what billsync wrote.
Excel and LibreOffice say they have a file open with a lock file beside it — also on a network share,
where they are plain files every client sees:

- Excel: `~$kunden.xlsx` ("owner file"; also `~$Kunden.csv` for a CSV it opened). 165 bytes: one byte
  with the length of the user name, the name in the Windows 8-bit code page, blanks up to byte 54 or
  55, then the length again as two bytes and the name in UTF-16-LE (Word puts it at 54, Excel at 55;
  layout as LibreOffice's `svl/source/misc/msodocumentlockfile.cxx` reads and writes it). The UTF-16
  copy is preferred, the 8-bit one is the fallback; a file that is neither (other versions, a Mac, a
  share that refuses reading it) still counts as a lock, with the user unknown.
- LibreOffice: `.~lock.kunden.xlsx#` (`.~lock.Kunden.csv#`), one line of comma-separated fields,
  `\\`-escaped, ended by `;`: the user's name from the LibreOffice options (often empty), the
  operating-system user, the host, the time it was opened, the profile URL.

`check_not_open(workbook)` raises `WorkbookInUseError` naming the lock file, the program and the user,
and telling what to do. `WorkbookGuard.capture(workbook)` records size, modification time and SHA-256
of every file of the workbook (the xlsx, or each `*.csv` of the folder) *before* billsync reads it; its
`check` — which `sync.atomic.atomic_path` calls right before it renames a new version over a workbook
file — refuses when a lock file appeared or the file is no longer what was read (someone saved it
during the run), and records what billsync itself wrote, so a second write in the same run passes.
Between that check and the rename there remain microseconds in which a save could still slip through;
no portable file API closes that gap (Excel does not honour advisory locks).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from sync.errors import EXIT_PARTIAL, WorkbookError

EXCEL_PREFIX = "~$"
LIBREOFFICE_PREFIX = ".~lock."
LIBREOFFICE_SUFFIX = "#"
_READ_LIMIT = 4096  # a lock file is a few hundred bytes; never read more of a stray big file
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class WorkbookInUseError(WorkbookError):
    """The workbook is open in a spreadsheet program, or changed while billsync ran: it was not written."""

    exit_code = EXIT_PARTIAL


@dataclass(frozen=True)
class LockFile:
    """A spreadsheet program's lock file beside a workbook file."""

    path: Path
    program: str  # "Excel" or "LibreOffice"
    target: str  # the name of the file it locks
    user: str = ""  # "" when the lock file does not say (or cannot be read)
    since: str = ""  # LibreOffice: when it was opened, as it wrote it
    host: str = ""  # LibreOffice: the computer

    def who(self) -> str:
        """'Max Mustermann on PC-07 since 01.02.2024 10:15', or 'an unknown user'."""
        text = self.user or "an unknown user (the lock file does not say)"
        if self.host:
            text += f" on {self.host}"
        if self.since:
            text += f" since {self.since}"
        return text


def workbook_files(workbook: Path) -> list[Path]:
    """The files a workbook consists of: the xlsx itself, or every CSV file of the folder."""
    if workbook.is_dir():
        return sorted(p for p in workbook.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    return [workbook]


def lock_files(workbook: Path) -> list[LockFile]:
    """Excel's and LibreOffice's lock files of the workbook (of any CSV file, for a folder)."""
    workbook = Path(workbook)
    folder = workbook if workbook.is_dir() else workbook.parent
    try:
        entries = [p for p in folder.iterdir() if p.name.startswith((EXCEL_PREFIX, LIBREOFFICE_PREFIX))]
    except OSError:
        return []
    if workbook.is_dir():
        names = {p.name.casefold() for p in workbook_files(workbook)}
    else:
        names = {workbook.name.casefold()}
    found = []
    for entry in sorted(entries):
        lock = _lock_file(entry)
        # Windows shares are case-insensitive: ~$KUNDEN.xlsx locks kunden.xlsx.
        if lock is not None and lock.target.casefold() in names:
            found.append(lock)
    return found


def _lock_file(path: Path) -> LockFile | None:
    name = path.name
    if name.startswith(LIBREOFFICE_PREFIX) and name.endswith(LIBREOFFICE_SUFFIX):
        target = name[len(LIBREOFFICE_PREFIX) : -len(LIBREOFFICE_SUFFIX)]
        fields = parse_libreoffice_lock(_head(path))
        user = fields[0] if fields and fields[0] else fields[1] if len(fields) > 1 else ""
        return LockFile(
            path,
            "LibreOffice",
            target,
            _clean(user),
            _clean(fields[3]) if len(fields) > 3 else "",
            _clean(fields[2]) if len(fields) > 2 else "",
        )
    if name.startswith(EXCEL_PREFIX) and len(name) > len(EXCEL_PREFIX):
        return LockFile(path, "Excel", name[len(EXCEL_PREFIX) :], _clean(parse_excel_lock(_head(path))))
    return None


def _head(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(_READ_LIMIT)
    except OSError:  # held exclusively by its program, or gone meanwhile: still a lock, user unknown
        return b""


def _clean(text: str) -> str:
    return _CONTROL.sub("", text).strip()


def parse_libreoffice_lock(data: bytes) -> list[str]:
    """The fields of a LibreOffice lock file: [name, system user, host, time, profile URL]."""
    text = data.decode("utf-8", errors="replace")
    if not text.strip():
        return []
    fields: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            fields.append("".join(current))
            current = []
        elif ch == ";":
            break
        else:
            current.append(ch)
    fields.append("".join(current))
    return fields


def parse_excel_lock(data: bytes) -> str:
    """The user name in an Excel (MS Office) owner file, or "" when it is not in a known layout."""
    if not data:
        return ""
    length = data[0]
    if not 0 < length <= 52 or len(data) < 1 + length:
        return ""
    # UTF-16 copy: its 2-byte length sits at 55 (Excel, PowerPoint) or 54 (Word).
    for at in (55, 54):
        if len(data) >= at + 2 + 2 * length and data[at] == length and data[at + 1] == 0:
            try:
                name = data[at + 2 : at + 2 + 2 * length].decode("utf-16-le")
            except UnicodeDecodeError:
                continue
            if name.isprintable():
                return name
    return data[1 : 1 + length].decode("cp1252", errors="replace")


def check_not_open(workbook: Path) -> None:
    """Raise WorkbookInUseError when Excel or LibreOffice has the workbook (or one of its CSV files) open."""
    locks = lock_files(Path(workbook))
    if locks:
        raise _open_error(Path(workbook), locks)


def _open_error(workbook: Path, locks: list[LockFile]) -> WorkbookInUseError:
    lock = locks[0]
    programs = " / ".join(sorted({lk.program for lk in locks}))
    also = f" (and {len(locks) - 1} more lock file(s): {', '.join(str(lk.path) for lk in locks[1:])})" if len(locks) > 1 else ""
    return WorkbookInUseError(
        f"is open in {lock.program} by {lock.who()} (lock file {lock.path}){also}; billsync did not change "
        f"it. Close it in {programs}, then run billsync again; if nobody has it open, the lock file is left "
        f"over from a crash: delete {lock.path} and run again",
        file=workbook,
    )


@dataclass(frozen=True)
class Fingerprint:
    """What one file was: size, modification time (ns) and SHA-256; None for a file that did not exist."""

    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def of(cls, path: Path) -> Fingerprint | None:
        """The file's fingerprint, or None when it does not exist."""
        try:
            stat = path.stat()
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
        except FileNotFoundError:
            return None
        return cls(stat.st_size, stat.st_mtime_ns, digest.hexdigest())


@dataclass
class WorkbookGuard:
    """The workbook as billsync read it; `check` runs right before any of its files is replaced."""

    workbook: Path
    files: dict[str, Fingerprint | None] = field(default_factory=dict)

    @classmethod
    def capture(cls, workbook: Path | str) -> WorkbookGuard:
        """Fingerprint every file of the workbook; call it before reading, so what was read is covered."""
        workbook = Path(workbook)
        # A file not recorded here (a new workbook, a new CSV file) is expected not to exist yet.
        files = {_key(path): Fingerprint.of(path) for path in workbook_files(workbook)} if workbook.exists() else {}
        return cls(workbook, files)

    def check(self, target: Path | None = None) -> None:
        """Raise WorkbookInUseError if the workbook is open now, or any file of it (and `target`, a file
        about to be written) is not what billsync read: one changed CSV file stops every write of the run."""
        check_not_open(self.workbook)
        targets = [Path(k) for k in self.files]
        if target is not None and _key(target) not in self.files:
            targets.append(target)
        for path in targets:
            expected = self.files.get(_key(path))
            if not _same(path, expected):
                raise WorkbookInUseError(
                    f"{path} changed since billsync read it (someone saved it during the run"
                    f"{'' if expected is not None else ': it did not exist then'}); billsync wrote nothing "
                    "into it. Run billsync again: it reads the saved version and completes what was left",
                    file=self.workbook,
                )

    def __call__(self, target: Path, new: Path) -> None:
        """The `atomic_path` hook: check `target`, then expect `new` (what billsync writes) from now on."""
        self.check(target)
        self.files[_key(target)] = Fingerprint.of(new)  # a rename keeps size, mtime and content


def _key(path: Path) -> str:
    return os.path.normcase(os.path.abspath(path))


def _same(path: Path, expected: Fingerprint | None) -> bool:
    if expected is None:
        return not path.exists()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    if stat.st_size != expected.size or stat.st_mtime_ns != expected.mtime_ns:
        return False
    # Same size and time: still compare the content (coarse or restored times on network shares).
    now = Fingerprint.of(path)
    return now is not None and now.sha256 == expected.sha256
