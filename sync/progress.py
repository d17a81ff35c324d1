"""What a run tells its user: progress bars on a terminal, plain lines under cron, secrets never."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

LOG = logging.getLogger("billsync")
MASK = "*****"


class Redactor:
    """Replaces every registered secret by ***** in text; shared by the reporter and the log filter."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, *secrets: str) -> None:
        """Register values that must never be shown (ignores empty and very short ones)."""
        for secret in secrets:
            if secret and len(secret) >= 4:
                self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, MASK)
        return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks registered secrets in every record, whatever the handler."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redact(record.getMessage())
        record.args = None
        return True


class Bar:
    """One unit of progress: a tqdm bar on a terminal, else one plain line when it is done."""

    def __init__(self, reporter: Reporter, label: str, total: int | None, unit: str) -> None:
        self._reporter, self.label, self.total, self.unit = reporter, label, total, unit
        self.count = 0
        self._started = time.monotonic()
        self._tqdm: tqdm | None = None
        if reporter.bars:
            self._tqdm = tqdm(
                total=total, desc=label, unit=f" {unit}", file=reporter.err, leave=False, dynamic_ncols=True
            )

    def set_total(self, total: int) -> None:
        """Learn the total once the first page told it."""
        self.total = total
        if self._tqdm is not None:
            self._tqdm.total = total
            self._tqdm.refresh()

    def update(self, n: int = 1) -> None:
        """Count n more items."""
        self.count += n
        if self._tqdm is not None:
            self._tqdm.update(n)

    def close(self, note: str = "") -> None:
        """Finish: remove the bar and print one line with the count and time."""
        if self._tqdm is not None:
            self._tqdm.close()
        seconds = time.monotonic() - self._started
        suffix = f" ({note})" if note else ""
        self._reporter.info(f"  {self.label}: {self.count:,} {self.unit} in {seconds:.1f} s{suffix}")


class Reporter:
    """Prints what happens: info to stdout, warnings to stderr, bars only on a terminal."""

    def __init__(
        self,
        *,
        out: TextIO | None = None,
        err: TextIO | None = None,
        quiet: bool = False,
        verbose: bool = False,
        progress: bool = True,
        redact: Redactor | None = None,
        log: TextIO | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        # --log-file: every line that is shown also goes here, time-stamped (cron keeps a history).
        self.log = log
        self.quiet, self.verbose = quiet, verbose
        self.redact = redact or Redactor()
        # Bars on a terminal only: cron mails and log files get plain lines (SPEC §2).
        self.bars = progress and not quiet and _isatty(self.err)

    def info(self, message: str) -> None:
        """A line of what happens (hidden by --quiet)."""
        if not self.quiet:
            self._write(self.out, message)

    def detail(self, message: str) -> None:
        """A line only -v shows."""
        if self.verbose and not self.quiet:
            self._write(self.out, message)

    def warn(self, message: str) -> None:
        """A warning (shown also with --quiet)."""
        self._write(self.err, f"warning: {message}")

    def error(self, message: str) -> None:
        """The one line an error ends a run with."""
        self._write(self.err, f"billsync: error: {message}")

    def summary(self, message: str) -> None:
        """The one closing summary line of a run (always shown)."""
        self._write(self.out, message)

    @contextmanager
    def bar(self, label: str, total: int | None = None, unit: str = "records") -> Iterator[Bar]:
        """A progress bar for one stage."""
        bar = Bar(self, label, total, unit)
        try:
            yield bar
        finally:
            if bar._tqdm is not None:
                bar._tqdm.close()
                bar._tqdm = None

    def _write(self, stream: TextIO, message: str) -> None:
        text = self.redact(message)
        if self.bars:
            tqdm.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)
        if self.log is not None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            for line in text.splitlines() or [""]:
                self.log.write(f"{stamp} {line}\n")
            self.log.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
