"""plan and push: the workbook's edits to Billomat; what Billomat changed since is left alone and listed.

push records, after the writes, the state it ends with: what Billomat changed since the workbook's
state did not reach the workbook and stays pending (`Merge.next_base(unwritten=...)`), so the next push
does not read the workbook's older value as an edit either.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sync import held_deletes, parking, record_rows
from sync.frames import AccountFrames
from sync.inherit import keep_unedited
from sync.jobs.common import after_billomat_writes, loeschungen_sheet, write_back_new_ids
from sync.jobs.lineage import record_state
from sync.jobs.prepare import Options, Prepared, prepare, state_of, stop_if_open, warn_if_open
from sync.jobs.result import JobResult
from sync.journal import Journal
from sync.load import LoadReport, LoadStopped, apply_plan, markers_in, rebase
from sync.merge import WorkbookChanges
from sync.runtime import Session
from sync.state import StateDir
from sync.workbook.stage import StagedWorkbook
from sync.workbook.update import apply_workbook_changes
from sync.workbook_guard import WorkbookInUseError

NEXT_PUSH = "the next push finds the records it created by their markers and writes their ids into the workbook"

OnPlan = Callable[[Prepared], None]


def plan(session: Session, sheet_path: Path, options: Options | None = None) -> JobResult:
    """What a push would do; reads only, writes nothing anywhere."""
    options = options or Options()
    warn_if_open(session, sheet_path)
    return JobResult("plan", prepare(session, sheet_path, options), dry_run=True)


def push(session: Session, sheet_path: Path, options: Options | None = None, *, on_plan: OnPlan | None = None) -> JobResult:
    """Plan, then apply under the run lock; the state advances only after the writes succeeded.

    `on_plan` sees the plan before the first write request (the CLI prints it there).
    """
    options = options or Options()
    reporter = session.reporter
    state = state_of(sheet_path, options)
    stop_if_open(session, sheet_path, options)
    with state.lock(clock=session.clock):
        prepared = prepare(session, sheet_path, options)
        if on_plan is not None:
            on_plan(prepared)
        if options.dry_run:
            return JobResult("push", prepared, dry_run=True)
        # Opened or saved while Billomat was read: stop before the first write request.
        prepared.guard.check()
        journal = Journal(state.path, command="push", workbook=str(sheet_path.resolve()))
        # One workbook write per run: the new ids and the origin stamp go into a staged copy first.
        with StagedWorkbook(sheet_path, prepared.guard) as stage:
            with reporter.bar("Schreiben", total=len(prepared.plan.changes), unit="changes") as bar:
                try:
                    report = apply_plan(
                        prepared.plan,
                        prepared.bm,
                        journal,
                        on_progress=lambda *_: bar.update(1),
                        marked=markers_in(prepared.current),
                        current=prepared.current,
                    )
                except LoadStopped as stopped:
                    journal.close(stopped.exit_code, requests=stopped.report.requests)
                    # The ids that did land go into the workbook now; the journal covers the rest next run.
                    try:
                        _stage_ids(session, stage, prepared, stopped.report)
                        stage.commit()
                    except WorkbookInUseError as exc:
                        reporter.warn(f"{exc}; the next push writes the new ids")
                    raise
                bar.close()
            for result in [*report.failed, *report.skipped]:
                change = result.change
                where = f"sheet {change.sheet!r}, row {change.row}" if change.row is not None else f"id {change.key}"
                reporter.warn(f"{where}: {change.resource} {change.action} {result.status}: {result.api_message}")
            # The state does not advance when the ids cannot be written: the next push adopts the created
            # records by their markers (sync/load/adopt.py) and writes the ids then.
            with after_billomat_writes(report, NEXT_PUSH):
                written = _stage_ids(session, stage, prepared, report)
                # Löschungen (SPEC §9: rewritten each run): decided entries leave, new held deletes appear.
                written = _stage_loeschungen(session, stage, prepared, state) or written
                if written:
                    prepared.guard.check()  # open or changed meanwhile: stop before the state advances
            reporter.activity("Writing the base snapshot")
            state_id = record_state(
                session,
                state,
                sheet_path,
                lambda: _next_state(prepared, report),
                {
                    "command": "push",
                    "workbook": str(sheet_path.resolve()),
                    "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
                prepared.base,
                changed=any(r.status == "done" for r in report.results) or written,
                merge=prepared.merge,
                guard=prepared.guard,
                stage=stage,
                rows=[
                    record_rows.from_desired(
                        prepared.desired.clients, prepared.desired.contacts, report.id_map, report.contact_ids
                    ),
                ],
            )
            if listed := held_deletes.hint(prepared.plan.held, sheet_path):
                reporter.notice(listed)
            # The one write of the workbook: the new ids, Löschungen and the stamp, one .bak.
            with after_billomat_writes(report, NEXT_PUSH):
                stage.commit()
    pushed = JobResult("push", prepared, report=report, workbook_written=written, state_id=state_id)
    journal.close(pushed.exit_code, requests=report.requests)  # the run as `billsync runs` lists it
    return pushed


def _stage_ids(session: Session, stage: StagedWorkbook, prepared: Prepared, report: LoadReport) -> bool:
    """The new ids into the run's staged workbook; whether any was written."""
    with stage.editing() as work:
        ids = write_back_new_ids(
            session,
            stage.path,
            prepared.mapping,
            report,
            prepared.current,
            backup=stage.backup,
            guard=stage.writer_guard,
            target=work,
        )
    stage.wrote(bool(ids and ids.written))
    return bool(ids and ids.written)


def _stage_loeschungen(session: Session, stage: StagedWorkbook, prepared: Prepared, state: StateDir) -> bool:
    """The sheet Löschungen into the run's staged workbook (Konflikte is sync's and stays as it is);
    whether the workbook changed."""
    empty = WorkbookChanges(pd.DataFrame(), {}, pd.DataFrame())
    with stage.editing() as work:
        result = apply_workbook_changes(
            work,
            prepared.mapping,
            empty,
            None,
            guard=stage.writer_guard,
            backup=stage.backup,
            owned=[loeschungen_sheet(prepared, state)],
        )
    for problem in result.problems:
        session.reporter.warn(problem)
    stage.wrote(result.written)
    return result.written


def _next_state(prepared: Prepared, report: LoadReport) -> AccountFrames:
    """The state a push ends with: Billomat after the writes, with what push leaves alone still pending."""
    after = rebase(prepared.current, report)
    if prepared.merge is not None:
        # Billomat's own changes did not reach the workbook (push leaves them): they stay pending.
        after = prepared.merge.next_base(after, unwritten=prepared.merge.to_workbook)
    # Contact cells Billomat now fills with a newer client value stay as the workbook holds them.
    after = keep_unedited(
        after, prepared.base.frames, prepared.desired.contacts, prepared.mapping.sheets.get("contacts")
    )
    return parking.keep_parked(after, prepared.base.frames, prepared.parked)  # they move once unparked
