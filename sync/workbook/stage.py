"""One workbook write per run: every writer patches a staged copy, one atomic replace puts it in place.

A run's writers (Billomat's changes and the Konflikte sheet, the new ids, the origin stamp) each patch
the staged copy beside the workbook; `commit` then checks the run's guard, keeps the workbook as it was
before the run as the one `.bak`, and renames the copy over it: one write, however many writers.
A CSV folder is not staged (its writers replace single files; each keeps its own `.bak` rule).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sync.errors import WorkbookError
from sync.workbook.save import replacing
from sync.workbook_guard import WorkbookGuard


class StagedWorkbook:
    """The workbook of a run, written at most once (`commit`); writers patch `work` meanwhile."""

    def __init__(self, path: Path | str, guard: WorkbookGuard | None) -> None:
        self.path = Path(path)
        self.guard = guard
        self.staged = self.path.is_file()
        self.changed = False  # a writer changed the staged copy
        self._work: Path | None = None

    @property
    def work(self) -> Path:
        """Where writers write: the staged copy of an xlsx file (made on first use), a CSV folder itself."""
        if not self.staged:
            return self.path
        if self._work is None:
            fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".staged")
            os.close(fd)
            self._work = Path(name)
            # A hard link, not a copy: every writer replaces the file it patches (never writes into it),
            # so the workbook stays as it is, and a run with nothing to write copies nothing.
            try:
                self._work.unlink()
                os.link(self.path, self._work)
            except OSError:
                shutil.copyfile(self.path, self._work)
        return self._work

    @property
    def writer_guard(self) -> WorkbookGuard | None:
        """The guard a writer checks: none for the staged copy (the commit checks the run's), else the run's."""
        return None if self.staged else self.guard

    @property
    def backup(self) -> bool:
        """Whether a writer keeps its own `.bak` (only unstaged: the commit keeps the one of a staged run)."""
        return not self.staged and not self.changed

    def wrote(self, written: bool) -> None:
        """Note that a writer changed the workbook (so far only its staged copy)."""
        self.changed = self.changed or written

    @contextlib.contextmanager
    def editing(self) -> Iterator[Path]:
        """`work` for one writer; an error naming the staged copy names the workbook instead."""
        try:
            yield self.work
        except WorkbookError as exc:
            if self._work is None or exc.file != str(self._work):
                raise
            raise type(exc)(exc.detail, file=self.path, sheet=exc.sheet, row=exc.row, column=exc.column) from None

    def commit(self) -> bool:
        """Put the staged copy in place (guard checked, one `.bak`); whether the workbook was written."""
        if not self.staged or not self.changed or self._work is None:
            return self.changed
        work = self._work
        with replacing(self.path, self.guard) as tmp:
            os.replace(work, tmp)
        self._work = None
        return True

    def discard(self) -> None:
        """Remove the staged copy if it was not committed (a failed or stopped run)."""
        if self._work is not None:
            with contextlib.suppress(OSError):
                self._work.unlink()
            self._work = None

    def __enter__(self) -> StagedWorkbook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()
