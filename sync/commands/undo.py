"""`billsync undo RUN [--dry-run] [--allow-deletes] [--max-deletes N]`: put back what RUN changed in Billomat.

The undo is an ordinary plan (sync/undo.py `plan_undo`), shown first and sent by the loader like a push,
journalled as a run of its own. The workbook and the base snapshot are left as they are: the next sync
brings the workbook in line with Billomat.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sync.commands.plan import add_delete_arguments
from sync.errors import EXIT_FATAL, EXIT_OK, EXIT_PARTIAL, BillsyncError
from sync.extract import extract_account
from sync.jobs.common import billomat_client, billomat_mapping
from sync.journal import Journal
from sync.load import LoadStopped, apply_plan, markers_in
from sync.report import counts_text, held_lines, plan_lines
from sync.runs import find_run, run_writes, short_id, state_dir_from, summarize
from sync.state import StateDir
from sync.undo import plan_undo

if TYPE_CHECKING:
    from sync.runtime import Context

HELP = (
    "Put back what RUN changed in Billomat, as an ordinary plan: a value changed in Billomat since RUN is held "
    "as a conflict; records RUN created are deleted (delete guard), records it deleted are created again."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `undo`."""
    parser.add_argument("run_id", metavar="RUN", help="the run's id as `billsync runs` lists it, or `last`")
    parser.add_argument("--sheet", metavar="PATH", help="the workbook whose runs to read (default: ./.billsync)")
    parser.add_argument("--dry-run", action="store_true", help="show the plan; send no write request")
    add_delete_arguments(parser)


def run(ctx: Context) -> int:
    """Plan the undo against Billomat as it is now; send it unless --dry-run."""
    state = StateDir(state_dir_from(ctx.args.sheet, ctx.args.state))
    path = find_run(state.path, ctx.args.run_id)
    summary = summarize(path)
    if summary.command == "migrate":
        raise BillsyncError(f"run {summary.short} was a migration to SnapBill; undo puts back Billomat writes only")
    with state.lock(clock=ctx.clock):
        mapping = billomat_mapping(ctx)
        bm = billomat_client(ctx)
        ctx.reporter.info(f"Reading Billomat account at {bm.base_url}")
        current, _stats = extract_account(bm, ctx.reporter)
        reads = bm.transport.request_count
        undo = plan_undo(
            summary.run_id,
            run_writes(path),
            current,
            allow_deletes=ctx.args.allow_deletes,
            max_deletes=ctx.args.max_deletes,
            mapping=mapping,
        )
        plan = undo.plan
        ctx.reporter.info(f"Undo of run {summary.short} ({summary.command} {summary.started}): {counts_text(plan.counts())}")
        for line in plan_lines(plan, mapping, held=False):
            ctx.reporter.info(line)
        for line in held_lines(plan, mapping):
            ctx.reporter.notice(line)  # explains the exit code 1, also under --quiet
        for note in undo.notes:
            ctx.reporter.info(f"  note: {note}")
        held = f"held {len(plan.held)} ({len(undo.conflicts)} conflicts); already as before {undo.nothing_to_do}"
        if ctx.args.dry_run:
            ctx.reporter.summary(
                f"undo {summary.short} --dry-run: would do {counts_text(plan.counts())}; {held}; 0 write requests "
                f"(+{reads} reads); {ctx.elapsed():.1f} s"
            )
            return EXIT_PARTIAL if plan.changes or plan.held else EXIT_OK
        journal = Journal(state.path, command="undo", workbook=f"run {short_id(summary.run_id)}")
        with ctx.reporter.bar("Schreiben", total=len(plan.changes), unit="changes") as bar:
            try:
                report = apply_plan(
                    plan, bm, journal, on_progress=lambda *_: bar.update(1), marked=markers_in(current), current=current
                )
            except LoadStopped as stopped:
                journal.close(stopped.exit_code or EXIT_FATAL, requests=stopped.report.requests)
                raise
    failed = [r for r in report.results if r.status != "done"]
    for result in failed:
        change = result.change
        record = f" ({change.label})" if change.label else ""  # client number and name, where the plan knows them
        ctx.reporter.warn(
            f"{change.resource} {change.action} {change.key}{record}: {result.status}: {result.api_message}"
        )
    done: dict[str, dict[str, int]] = {}
    for result in report.results:
        if result.status == "done":
            per = done.setdefault(result.change.resource, {})
            per[result.change.action] = per.get(result.change.action, 0) + 1
    code = EXIT_PARTIAL if failed or plan.held else EXIT_OK
    journal.close(code, requests=report.requests)
    ctx.reporter.summary(
        f"undo {summary.short}: {counts_text(done, past=True)}; {held}; failed {len(failed)}; "
        f"{report.requests} write requests (+{reads} reads); {ctx.elapsed():.1f} s"
    )
    return code
