"""sync: the nightly two-way merge of workbook, Billomat and the base snapshot, as a library call."""

from __future__ import annotations

import time
from pathlib import Path

from sync import held_deletes, parking, record_rows
from sync.frames import AccountFrames
from sync.inherit import keep_unedited
from sync.jobs.common import after_billomat_writes, loeschungen_sheet, write_back_new_ids
from sync.jobs.lineage import record_state
from sync.jobs.one_way import OnPlan
from sync.jobs.prepare import Options, prepare, state_of, stop_if_open
from sync.jobs.result import JobResult
from sync.journal import Journal
from sync.load import LoadReport, LoadStopped, apply_plan, markers_in, rebase
from sync.mapping import Mapping
from sync.merge import Merge, WorkbookChanges
from sync.runtime import Session
from sync.workbook.owned import OwnedSheet
from sync.workbook.stage import StagedWorkbook
from sync.workbook.update import apply_workbook_changes
from sync.workbook_guard import WorkbookInUseError

NEXT_SYNC = (
    "the next sync writes Billomat's changes into the workbook and finds the records this run created by "
    "their markers"
)


def sync(session: Session, sheet_path: Path, options: Options | None = None, *, on_plan: OnPlan | None = None) -> JobResult:
    """Merge, write Billomat's side, then the workbook's, then advance the base — all under the run lock.

    `on_plan` sees the merge and the plan before the first write (the CLI prints them there).
    """
    options = options or Options()
    reporter = session.reporter
    state = state_of(sheet_path, options)
    stop_if_open(session, sheet_path, options)
    with state.lock(clock=session.clock):
        prepared = prepare(session, sheet_path, options, two_way=True)
        merge, plan, phases = prepared.merge, prepared.plan, prepared.phases
        assert merge is not None  # two-way: always merged
        if on_plan is not None:
            on_plan(prepared)
        if options.dry_run:
            return JobResult("sync", prepared, dry_run=True)
        base, current, mapping, guard = prepared.merged_base, prepared.current, prepared.mapping, prepared.guard
        loeschungen = loeschungen_sheet(prepared, state)

        # Opened or saved while Billomat was read: stop before the first write request.
        guard.check()
        journal = Journal(state.path, command="sync", workbook=str(sheet_path.resolve()))
        # One workbook write per run: changes, new ids and the origin stamp go into a staged copy first.
        with StagedWorkbook(sheet_path, guard) as stage:
            try:
                with phases("load"), reporter.bar("Schreiben", total=len(plan.changes), unit="changes") as bar:
                    # Records a killed earlier run created carry their marker: adopt them, never create twice.
                    report = apply_plan(
                        plan,
                        prepared.bm,
                        journal,
                        marked=markers_in(current),
                        on_progress=lambda *_: bar.update(1),
                        current=current,
                    )
            except LoadStopped as stopped:
                journal.close(stopped.exit_code, requests=stopped.report.requests)
                try:
                    _write_workbook(session, stage, mapping, merge, stopped.report, current, base, loeschungen)
                    stage.commit()
                except WorkbookInUseError as exc:
                    reporter.warn(f"{exc}; the next sync writes Billomat's changes")
                raise
            reporter.activity(f"Writing the changes into {sheet_path.name}")
            # The state does not advance when the workbook cannot be written: the next sync finds Billomat's
            # changes again, and the records this run created by their markers.
            with phases("write workbook"), after_billomat_writes(report, NEXT_SYNC):
                unwritten, written, appended = _write_workbook(
                    session, stage, mapping, merge, report, current, base, loeschungen
                )
                if written:
                    guard.check()  # open or changed meanwhile: stop before the state advances
            if listed := held_deletes.hint(plan.held, sheet_path):
                reporter.notice(listed)
            reporter.activity("Writing the base snapshot")

            def next_base() -> AccountFrames:
                after = merge.next_base(rebase(current, report), unwritten=unwritten)
                # Contact cells Billomat now fills with a newer client value stay as the workbook holds them.
                after = keep_unedited(after, base, prepared.desired.contacts, mapping.sheets.get("contacts"))
                # Parked clients as they were: they move once unparked.
                return parking.keep_parked(after, prepared.base.frames, prepared.parked)

            with phases("snapshot"):
                state_id = record_state(
                    session,
                    state,
                    sheet_path,
                    next_base,
                    {
                        "command": "sync",
                        "workbook": str(sheet_path.resolve()),
                        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    },
                    prepared.base,
                    changed=written or any(r.status == "done" for r in report.results),
                    merge=merge,
                    guard=guard,
                    stage=stage,
                    rows=[
                        record_rows.from_desired(
                            prepared.desired.clients, prepared.desired.contacts, report.id_map, report.contact_ids
                        ),
                        record_rows.from_sheets(appended, mapping),
                    ],
                )
            # The one write of the workbook: Billomat's changes, Konflikte, Löschungen, ids, stamp; one .bak.
            with phases("write workbook"), after_billomat_writes(report, NEXT_SYNC):
                stage.commit()
    result = JobResult("sync", prepared, report=report, workbook_written=written, state_id=state_id)
    journal.close(result.exit_code, requests=report.requests)  # the run as `billsync runs` lists it
    return result


def _write_workbook(
    session: Session,
    stage: StagedWorkbook,
    mapping: Mapping,
    merge: Merge,
    report: LoadReport,
    current: AccountFrames,
    base: AccountFrames | None,
    loeschungen: OwnedSheet,
) -> tuple[WorkbookChanges | None, bool, dict[str, dict[str, int]]]:
    """Billomat's changes, Konflikte and Löschungen, then the ids of created rows, into the staged workbook.

    Returns what did not land in the workbook, so the next base keeps it pending (Merge.next_base),
    whether the workbook changes (`stage.commit` writes it), and the rows records were appended to.
    Order matters: cells the merge blanks (a recreated row's old id) go before the new ids.
    """
    deleted = {r.change.key for r in report.results if r.change.resource == "clients" and r.change.action == "delete"
               and r.status == "done"}
    definitions = [frame.client_properties for frame in (base, current) if frame is not None]
    with stage.editing() as work:
        result = apply_workbook_changes(
            work,
            mapping,
            merge.to_workbook,
            merge.conflicts,
            deleted_ids=deleted,
            client_properties=definitions,
            guard=stage.writer_guard,
            backup=stage.backup,
            owned=[loeschungen],
        )
    stage.wrote(result.written)
    for problem in result.problems:
        session.reporter.warn(problem)
    with stage.editing() as work:
        ids = write_back_new_ids(
            session, stage.path, mapping, report, current, backup=stage.backup, guard=stage.writer_guard, target=work
        )
    stage.wrote(bool(ids and ids.written))
    return result.unwritten, stage.changed, result.appended_rows
