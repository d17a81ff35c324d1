"""Pieces several commands share: the Billomat client with the CLI's hooks, the mapping."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from sync import held_deletes
from sync.clients.billomat import Billomat
from sync.clients.ratelimit import RateWait
from sync.clock import Clock
from sync.frames import AccountFrames
from sync.load import LoadReport
from sync.mapping import Mapping, load_mapping
from sync.state import StateDir
from sync.workbook.owned import OwnedSheet
from sync.workbook_guard import WorkbookGuard, WorkbookInUseError
from sync.writeback import NewIds, WritebackReport, backup_path, write_ids

if TYPE_CHECKING:
    from sync.jobs.prepare import Prepared
    from sync.progress import Reporter
    from sync.runtime import Session

# A wait longer than this is worth a line even in a quiet (cron) run: it explains a slow night.
LONG_WAIT = 60.0


class WaitingClock:
    """The clock a client waits on: a long wait counts down live on a terminal (driven by the real clock
    underneath, so tests with a FakeClock run the countdown without sleeping)."""

    def __init__(self, clock: Clock, reporter: Reporter) -> None:
        self.clock, self.reporter = clock, reporter
        self.label = "  waiting"  # set by whoever announced the wait (rate limit, retry)

    def now(self) -> float:
        """The underlying clock's time."""
        return self.clock.now()

    def sleep(self, seconds: float) -> None:
        """Wait; on a terminal a countdown shows how long is left."""
        self.reporter.countdown(seconds, self.clock, self.label)


def billomat_client(ctx: Session) -> Billomat:
    """A Billomat client from the settings, reporting waits, retries and (with -v) every call."""
    settings = ctx.settings.billomat()
    ctx.redact.add(settings.api_key.reveal(), settings.app_id.reveal(), settings.app_secret.reveal())
    reporter = ctx.reporter
    clock = WaitingClock(ctx.clock, reporter)

    def on_wait(wait: RateWait) -> None:
        until = time.strftime("%H:%M:%S", time.localtime(wait.reset_at))
        message = (
            f"Billomat rate limit: {wait.remaining} of {wait.quota} requests left in this window, "
            f"keeping {wait.reserve} for other tools; waiting {_duration(wait.seconds)} until {until}"
        )
        # A long wait is said also under --quiet (into the log; on stderr if the run then fails).
        (reporter.notice if wait.seconds > LONG_WAIT else reporter.info)(message)
        clock.label = "  Billomat rate limit: next window in"

    def on_retry(attempt: int, error: Exception, wait: float) -> None:
        reporter.warn(f"{error}; retry {attempt} in {_duration(wait)}")
        clock.label = f"  retry {attempt} in"

    def on_request(method: str, path: str, status: int | None, seconds: float) -> None:
        reporter.detail(f"  {method} {path} -> {status if status is not None else 'no answer'} ({seconds:.2f} s)")

    return Billomat.from_settings(
        settings, clock=clock, on_wait=on_wait, on_retry=on_retry, on_request=on_request
    )


def billomat_mapping(ctx: Session) -> Mapping:
    """The validated Billomat workbook mapping."""
    return load_mapping(ctx.mapping_path())


@contextmanager
def after_billomat_writes(report: LoadReport, what: str) -> Iterator[None]:
    """A workbook that cannot be written after Billomat was: say what went to Billomat and what comes next."""
    try:
        yield
    except WorkbookInUseError as exc:
        done = sum(1 for r in report.results if r.status == "done")
        raise WorkbookInUseError(
            f"{exc.detail}. {done} change(s) went to Billomat in this run; {what}", file=exc.file
        ) from None


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _with_records(report: LoadReport, current: AccountFrames) -> LoadReport:
    """Creates adopted from the journal (an earlier run made them) have no answer to show: take the
    record as this run read it from Billomat, so write-back fills the row's blank cells (client
    number, country, ...) exactly as after an uninterrupted push."""
    frames: dict[str, dict[str, dict[str, str]]] = {}
    results = []
    for result in report.results:
        change = result.change
        if result.record is None and result.status == "done" and change.action == "create" and result.record_id:
            if change.resource not in frames:
                frame = current.frame(change.resource)
                frames[change.resource] = {
                    str(r.get("id", "")): {str(k): v for k, v in r.items()} for r in frame.to_dict("records")
                }
            record = frames[change.resource].get(result.record_id)
            if record is not None:
                result = replace(result, record={k: v for k, v in record.items() if isinstance(v, str)})
        results.append(result)
    return replace(report, results=results)


def write_back_new_ids(
    ctx: Session,
    path: Path,
    mapping: Mapping,
    report: LoadReport,
    current: AccountFrames,
    *,
    backup: bool = True,
    guard: WorkbookGuard | None = None,
    target: Path | None = None,
) -> WritebackReport | None:
    """The ids of the rows a load created (and what Billomat filled in for them) into the workbook
    (`target`: the file to patch instead, the run's staged copy of `path`)."""
    numbers = dict(zip(current.clients["id"], current.clients["client_number"], strict=True))
    ids = NewIds.from_report(_with_records(report, current), mapping, numbers)
    if not ids:
        return None
    ctx.reporter.activity(f"Writing {len(ids)} new id(s) into {path.name}")
    result = write_ids(target or path, mapping, ids, backup=backup, guard=guard)
    ctx.reporter.activity(None)
    for problem in result.problems:
        ctx.reporter.warn(problem)
    # Staged (`target`): the run's one write keeps the .bak, where it always was.
    kept_as = result.backup or (backup_path(path) if target is not None and result.written else None)
    kept = f" (previous version: {kept_as})" if kept_as else ""
    ctx.reporter.info(f"Wrote {len(ids)} new id(s) back into {path}{kept}")
    return result


def loeschungen_sheet(prepared: Prepared, state: StateDir) -> OwnedSheet:
    """The sheet Löschungen of this run: its held deletes, each with the row it had in the workbook of the
    state the run started from (read only when something is held)."""
    held = prepared.plan.held
    rows = state.read_rows(prepared.base.state_id) if any(h.change.action == "delete" for h in held) else {}
    return held_deletes.sheet(held, prepared.current, prepared.deletions, rows)
