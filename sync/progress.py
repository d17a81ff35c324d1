"""What a run tells its user: progress bars on a terminal, plain lines under cron, secrets never."""

from __future__ import annotations

import logging
import math
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

from tqdm import tqdm

from sync.clock import Clock

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


Progress = Callable[[int], None]
"""progress(n): n more units (rows, records) of a long step are done; what library code calls."""

# A wait shorter than this is not worth a countdown (a retry's backoff of a few seconds).
COUNTDOWN_FROM = 5.0
# How often a step without countable units redraws its elapsed time on a terminal.
TICK_SECONDS = 0.5


class Reporter:
    """Prints what happens: info to stdout, warnings to stderr, bars only on a terminal.

    With --quiet (cron) a run that succeeds prints nothing: its warnings, notices and summary go to
    the log file only, and are printed on stderr by finish() only when the run ends non-zero (so
    cron mails exactly then, with the reasons).
    """

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
        # --quiet: the lines a failing run prints at its end (warnings, notices, errors, summary).
        self.held: list[str] = []
        self._activity: tuple[tqdm, threading.Event, threading.Thread] | None = None

    def info(self, message: str) -> None:
        """A line of what happens (hidden by --quiet)."""
        if not self.quiet:
            self._write(self.out, message)

    def notice(self, message: str) -> None:
        """A line of what happens that also explains a failing quiet run (a long wait, a held conflict)."""
        if self.quiet:
            self._hold(message)
        else:
            self._write(self.out, message)

    def detail(self, message: str) -> None:
        """A line only -v shows."""
        if self.verbose and not self.quiet:
            self._write(self.out, message)

    def trace(self, message: str) -> None:
        """A line of the internals (-v/--debug decide through the log level whether it comes here)."""
        if not self.quiet:
            self._write(self.out, f"  {message}")

    def warn(self, message: str) -> None:
        """A warning (with --quiet: into the log, and on stderr if the run fails)."""
        self._say(self.err, f"warning: {message}")

    def error(self, message: str) -> None:
        """The one line an error ends a run with."""
        self._end_activity()
        self._say(self.err, f"billsync: error: {message}")

    def summary(self, message: str) -> None:
        """The one closing summary line of a run (with --quiet: into the log, and on stderr if it fails)."""
        self._end_activity()
        self._say(self.out, message)

    def finish(self, exit_code: int) -> None:
        """The run is over: a quiet run that failed prints what it held, on stderr (cron mails it)."""
        self._end_activity()
        held, self.held = self.held, []
        if exit_code != 0:
            for message in held:
                self._write(self.err, message, log=False)

    @contextmanager
    def bar(self, label: str, total: int | None = None, unit: str = "records") -> Iterator[Bar]:
        """A progress bar for one stage (it ends a running activity)."""
        self._end_activity()
        bar = Bar(self, label, total, unit)
        try:
            yield bar
        finally:
            if bar._tqdm is not None:
                bar._tqdm.close()
                bar._tqdm = None

    def activity(self, label: str | None) -> None:
        """On a terminal, show `label` with its elapsed time until the next activity, bar or summary.

        For a long step with nothing to count (writing the snapshot, reading a workbook); one line
        before the step, no nesting (None ends it early). Off a terminal nothing is shown.
        """
        self._end_activity()
        if label is None or not self.bars:
            return
        line = tqdm(desc=label, file=self.err, leave=False, bar_format="{desc} ... {elapsed}")
        stop = threading.Event()

        def tick() -> None:
            # tqdm redraws only when told; this keeps the seconds moving while the step runs.
            while not stop.wait(TICK_SECONDS):
                line.refresh()

        ticker = threading.Thread(target=tick, name="billsync-activity", daemon=True)
        ticker.start()
        self._activity = (line, stop, ticker)

    @contextmanager
    def step(self, label: str) -> Iterator[None]:
        """activity(label) for the duration of a block."""
        self.activity(label)
        try:
            yield
        finally:
            self._end_activity()

    def _end_activity(self) -> None:
        if self._activity is not None:
            line, stop, ticker = self._activity
            self._activity = None
            stop.set()
            ticker.join()
            line.close()

    def countdown(self, seconds: float, clock: Clock, label: str) -> None:
        """Wait `seconds` on `clock`; on a terminal a long wait counts down second by second."""
        if not self.bars or seconds < COUNTDOWN_FROM:
            clock.sleep(seconds)
            return
        deadline = clock.now() + seconds
        total = math.ceil(seconds)
        bar = tqdm(
            total=total,
            desc=label,
            file=self.err,
            leave=False,
            mininterval=0,  # every tick redraws: the clock, not tqdm's timer, paces the countdown
            bar_format="{desc} {bar:20} {postfix}",
        )
        try:
            while (left := deadline - clock.now()) > 0:
                bar.n = total - math.ceil(left)
                bar.set_postfix_str(f"{_clock_text(left)} left")  # redraws
                clock.sleep(min(1.0, left))
        finally:
            bar.close()

    def _say(self, stream: TextIO, message: str) -> None:
        if self.quiet:
            self._hold(message)
        else:
            self._write(stream, message)

    def _hold(self, message: str) -> None:
        text = self.redact(message)
        self.held.append(text)
        self._log(text)

    def _write(self, stream: TextIO, message: str, *, log: bool = True) -> None:
        text = self.redact(message)
        if self.bars:
            tqdm.write(text, file=stream)
        else:
            print(text, file=stream, flush=True)
        if log:
            self._log(text)

    def _log(self, text: str) -> None:
        if self.log is not None:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            for line in text.splitlines() or [""]:
                self.log.write(f"{stamp} {line}\n")
            self.log.flush()


class ReporterHandler(logging.Handler):
    """Python logging turned into the product's own lines: warnings as `warning: ...`, the rest as detail.

    Which records arrive is the loggers' level (WARNING; INFO with -v; DEBUG with --debug); no line
    ever shows a level name or a module path.
    """

    def __init__(self, reporter: Reporter, *, debug: bool = False) -> None:
        super().__init__()
        self.reporter = reporter
        self.debug = debug

    def emit(self, record: logging.LogRecord) -> None:
        """Show one record through the reporter."""
        try:
            message = record.getMessage()
            if self.debug and record.exc_info:
                message += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            if record.levelno >= logging.WARNING:
                self.reporter.warn(message)
            else:
                self.reporter.trace(message)
        except Exception:  # a broken message must not end the run
            self.handleError(record)


def _clock_text(seconds: float) -> str:
    total = max(0, math.ceil(seconds))
    minutes, secs = divmod(total, 60)
    return f"{minutes}:{secs:02d}"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
