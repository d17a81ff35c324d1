"""`billsync push --sheet PATH`: send the workbook's edits to Billomat; new ids go back into the workbook.

The edits are the cells that differ from the state the workbook descends from (its origin stamp, see
`commands.plan.prepare`); what Billomat changed since is left alone and listed, and stays pending in
the state recorded after the push (`Merge.next_base(unwritten=...)`), so the next push does not read
the workbook's older value as an edit either. Without any recorded state the workbook is master.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sync.commands.common import after_billomat_writes, write_back_new_ids
from sync.commands.lineage import record_state
from sync.commands.plan import (
    Prepared,
    add_delete_arguments,
    add_prefer_sheet_argument,
    add_sheet_argument,
    merge_counts,
    prepare,
    show_plan,
    warn_if_open,
)
from sync.errors import EXIT_OK, EXIT_PARTIAL
from sync.inherit import keep_unedited
from sync.journal import Journal
from sync.load import LoadReport, LoadStopped, apply_plan, markers_in, rebase
from sync.report import counts_text
from sync.state import StateDir, state_dir_for
from sync.workbook.stage import StagedWorkbook
from sync.workbook_guard import WorkbookInUseError, check_not_open

if TYPE_CHECKING:
    from sync.cli import Context

NEXT_PUSH = "the next push finds the records it created by their markers and writes their ids into the workbook"
HELP = (
    "Send the workbook's edits to Billomat (what changed there since is left alone and listed); new rows get "
    "their Billomat ids written back."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `push`."""
    add_sheet_argument(parser)
    add_prefer_sheet_argument(parser)
    parser.add_argument("--dry-run", action="store_true", help="show the plan; send no write request")
    add_delete_arguments(parser)


def run(ctx: Context) -> int:
    """Plan, then apply under the run lock; the base snapshot advances only after the writes succeeded."""
    sheet_path = Path(ctx.args.sheet)
    state = StateDir(state_dir_for(sheet_path, ctx.args.state))
    if ctx.args.dry_run:
        warn_if_open(ctx, sheet_path)
    else:
        # Open in Excel or LibreOffice: change nothing anywhere (SPEC §4), not even Billomat — the ids of
        # new rows could not be written back, and the accountant's next save may still change the rows.
        check_not_open(sheet_path)
    with state.lock(clock=ctx.clock):
        prepared = prepare(ctx, sheet_path)
        plan = prepared.plan
        if ctx.args.dry_run:
            show_plan(ctx, prepared)
            ctx.reporter.summary(
                f"push --dry-run: would do {counts_text(plan.counts())}; held {len(plan.held)}; "
                f"{merge_counts(prepared)}problems {len(plan.problems)}; 0 write requests; {ctx.elapsed():.1f} s"
            )
            pending = plan.changes or plan.held or plan.problems or prepared.held_conflicts
            return EXIT_PARTIAL if pending else EXIT_OK
        show_plan(ctx, prepared)
        # Opened or saved while Billomat was read: stop before the first write request.
        prepared.guard.check()
        journal = Journal(state.path)
        # One workbook write per run: the new ids and the origin stamp go into a staged copy first.
        with StagedWorkbook(sheet_path, prepared.guard) as stage:
            with ctx.reporter.bar("Schreiben", total=len(plan.changes), unit="changes") as bar:
                try:
                    report = apply_plan(
                        plan,
                        prepared.bm,
                        journal,
                        on_progress=lambda *_: bar.update(1),
                        marked=markers_in(prepared.current),
                    )
                except LoadStopped as stopped:
                    # The ids that did land go into the workbook now; the journal covers the rest next run.
                    try:
                        _stage_ids(ctx, stage, prepared, stopped.report)
                        stage.commit()
                    except WorkbookInUseError as exc:
                        ctx.reporter.warn(f"{exc}; the next push writes the new ids")
                    raise
                bar.close()
            failed = [r for r in report.results if r.status == "failed"]
            skipped = [r for r in report.results if r.status == "skipped"]
            for result in [*failed, *skipped]:
                change = result.change
                where = f"sheet {change.sheet!r}, row {change.row}" if change.row is not None else f"id {change.key}"
                ctx.reporter.warn(f"{where}: {change.resource} {change.action} {result.status}: {result.api_message}")
            # The state does not advance when the ids cannot be written: the next push adopts the created
            # records by their markers (sync/load.py) and writes the ids then.
            with after_billomat_writes(report, NEXT_PUSH):
                ids_written = _stage_ids(ctx, stage, prepared, report)
                if ids_written:
                    prepared.guard.check()  # open or changed meanwhile: stop before the state advances
            ctx.reporter.activity("Writing the base snapshot")
            after = rebase(prepared.current, report)
            if prepared.merge is not None:
                # Billomat's own changes did not reach the workbook (push leaves them): they stay pending.
                after = prepared.merge.next_base(after, unwritten=prepared.merge.to_workbook)
            # Contact cells Billomat now fills with a newer client value stay as the workbook holds them.
            after = keep_unedited(
                after, prepared.base.frames, prepared.desired.contacts, prepared.mapping.sheets.get("contacts")
            )
            record_state(
                ctx,
                state,
                sheet_path,
                after,
                {
                    "command": "push",
                    "workbook": str(sheet_path.resolve()),
                    "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
                prepared.base,
                changed=any(r.status == "done" for r in report.results) or ids_written,
                merge=prepared.merge,
                guard=prepared.guard,
                stage=stage,
            )
            # The one write of the workbook: the new ids and the stamp, one .bak.
            with after_billomat_writes(report, NEXT_PUSH):
                stage.commit()
    done = {r.change.resource: {} for r in report.results if r.status == "done"}
    for result in report.results:
        if result.status == "done":
            per = done[result.change.resource]
            per[result.change.action] = per.get(result.change.action, 0) + 1
    ctx.reporter.summary(
        f"push: {counts_text(done, past=True)}; held {len(plan.held)}; {merge_counts(prepared)}"
        f"failed {len(failed) + len(skipped)}; problems {len(plan.problems)}; {report.requests} write requests "
        f"(+{prepared.reads} reads); {ctx.elapsed():.1f} s"
    )
    undone = failed or skipped or plan.held or plan.problems or prepared.held_conflicts
    return EXIT_PARTIAL if undone else EXIT_OK


def _stage_ids(ctx: Context, stage: StagedWorkbook, prepared: Prepared, report: LoadReport) -> bool:
    """The new ids into the run's staged workbook; whether any was written."""
    with stage.editing() as work:
        ids = write_back_new_ids(
            ctx,
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
