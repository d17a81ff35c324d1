"""`billsync plan --sheet PATH`: what a push would do, change by change; writes nothing to Billomat.

With a recorded state, push sends the workbook's edits: what differs from the state the workbook
descends from (`commands.lineage.workbook_base`), decided by the sync merge (`merge_account`) so that
what Billomat changed since is left alone (listed) and a field changed on both sides is a conflict.
Without any recorded state the workbook is master as a whole (a plain diff against Billomat).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sync import sheet
from sync.clients.billomat import Billomat
from sync.commands.common import billomat_client, billomat_mapping
from sync.commands.lineage import Base, workbook_base
from sync.desired import Desired, read_desired
from sync.diff import diff_account
from sync.errors import EXIT_OK, EXIT_PARTIAL
from sync.extract import extract_account
from sync.frames import AccountFrames
from sync.mapping import Mapping
from sync.merge import Conflict, Merge, WorkbookChanges, merge_account, reading_frames
from sync.plan import Plan, build_plan
from sync.report import (
    billomat_side_lines,
    conflict_line,
    counts_text,
    held_lines,
    plan_lines,
    write_change_report,
    write_json,
)
from sync.state import StateDir, state_dir_for
from sync.workbook_guard import WorkbookGuard, lock_files

if TYPE_CHECKING:
    from sync.runtime import Context

HELP = "Show what push would do: counts per resource and operation, and each change field by field."
SHOWN_CHANGES = 200  # the terminal shows this many changes; --json and --report hold all of them


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `plan`."""
    add_sheet_argument(parser)
    add_prefer_sheet_argument(parser)
    parser.add_argument("--json", metavar="FILE", help="write the whole plan as JSON")
    parser.add_argument("--report", metavar="FILE.xlsx", help="write a change report for the accountants")
    add_delete_arguments(parser)


def add_sheet_argument(parser: argparse.ArgumentParser) -> None:
    """--sheet PATH, shared by plan, push and sync."""
    parser.add_argument("--sheet", required=True, metavar="PATH", help="the workbook (.xlsx or CSV folder)")


def add_prefer_sheet_argument(parser: argparse.ArgumentParser) -> None:
    """--prefer sheet, shared by plan and push: send the workbook's value where both sides changed a field."""
    parser.add_argument(
        "--prefer",
        choices=("sheet",),
        help="a field changed in the workbook and in Billomat since the workbook's state: send the workbook's "
        "value (default: hold the conflict)",
    )


def add_delete_arguments(parser: argparse.ArgumentParser) -> None:
    """--allow-deletes and --max-deletes, shared by plan and push."""
    parser.add_argument("--allow-deletes", action="store_true", help="let rows missing from the workbook be deleted")
    parser.add_argument(
        "--max-deletes",
        type=int,
        metavar="N",
        help="hold all deletes of a resource when there are more than N (default: 10 rows or 10 %%)",
    )


@dataclass
class Prepared:
    """Everything between reading both sides and having a plan."""

    bm: Billomat
    mapping: Mapping
    current: AccountFrames
    desired: Desired
    plan: Plan
    reads: int
    guard: WorkbookGuard  # the workbook as it was read: checked before every write
    base: Base  # the state the workbook descends from (frames None: nothing recorded yet)
    merge: Merge | None = None  # None: no recorded state, the workbook is master as a whole

    @property
    def held_conflicts(self) -> list[Conflict]:
        """Fields and records both sides changed, held (nothing sent for them)."""
        return self.merge.held if self.merge is not None else []

    @property
    def left_alone(self) -> WorkbookChanges | None:
        """What changed in Billomat since the workbook's state: push leaves it as it is (and lists it)."""
        return self.merge.to_workbook if self.merge is not None else None


def prepare(ctx: Context, sheet_path: Path) -> Prepared:
    """Read the workbook (first: a broken one costs no API calls) and its state, then Billomat; merge and plan."""
    mapping = billomat_mapping(ctx)
    ctx.reporter.activity(f"Reading {sheet_path.name}")
    guard = WorkbookGuard.capture(sheet_path)  # before reading: a save while reading counts as a change
    tables = sheet.read_workbook(sheet_path, mapping)
    base = workbook_base(ctx, StateDir(state_dir_for(sheet_path, ctx.args.state)), sheet_path)
    bm = billomat_client(ctx)
    ctx.reporter.info(f"Reading Billomat account at {bm.base_url}")
    current, _stats = extract_account(bm, ctx.reporter)
    ctx.reporter.activity("Comparing the workbook with Billomat")
    merge = None
    if base.frames is None:
        desired = to_billomat = read_desired(tables, mapping, current, source=str(sheet_path))
    else:
        # The workbook was written from its base state: read (Excel's rewrites) and merge against it.
        desired = read_desired(tables, mapping, reading_frames(base.frames, current), source=str(sheet_path))
        merge = merge_account(
            base.frames, current, desired, mapping, prefer=getattr(ctx.args, "prefer", None), older=base.older
        )
        to_billomat = merge.to_billomat
    # The base also tells which inheriting contact cells the accountant did not edit (sync/inherit.py).
    diff = diff_account(current, to_billomat, mapping, base.frames)
    plan = build_plan(
        diff,
        to_billomat,
        current,
        mapping,
        allow_deletes=ctx.args.allow_deletes,
        max_deletes=ctx.args.max_deletes,
    )
    ctx.reporter.activity(None)
    for warning in plan.warnings:
        ctx.reporter.warn(str(warning))
    for problem in plan.problems:
        ctx.reporter.warn(f"left out: {problem}")
    return Prepared(bm, mapping, current, desired, plan, bm.transport.request_count, guard, base, merge)


def show_plan(ctx: Context, prepared: Prepared) -> None:
    """Print the plan's counts and changes; write --json/--report when asked."""
    plan = prepared.plan
    ctx.reporter.info(f"Plan: {counts_text(plan.counts())}")
    for line in plan_lines(plan, prepared.mapping, limit=SHOWN_CHANGES, held=False):
        ctx.reporter.info(line)
    # Held changes explain an exit code 1: a quiet (cron) run that fails shows them too.
    for line in held_lines(plan, prepared.mapping):
        ctx.reporter.notice(line)
    left_alone = prepared.left_alone
    if left_alone is not None and not left_alone.is_empty:
        counts = left_alone.counts()
        ctx.reporter.info(
            f"Changed in Billomat since the workbook's state (left as it is, not reverted): {counts['update']} "
            f"cells, {counts['append']} new records, {counts['remove']} deleted records"
        )
        for line in billomat_side_lines(left_alone, prepared.mapping, limit=SHOWN_CHANGES):
            ctx.reporter.info(line)
    if prepared.merge is not None:
        for conflict in prepared.merge.conflicts:
            # A held conflict explains the exit code 1 too: shown also under --quiet.
            (ctx.reporter.notice if conflict.held else ctx.reporter.info)(conflict_line(conflict))
        if prepared.held_conflicts:
            ctx.reporter.warn(
                f"{len(prepared.held_conflicts)} field(s) changed in the workbook and in Billomat since the workbook's "
                "state: held, nothing sent for them; set the cell to Billomat's value, or push --prefer sheet"
            )
    if getattr(ctx.args, "json", None):
        write_json(plan, Path(ctx.args.json))
        ctx.reporter.info(f"Wrote {ctx.args.json}")
    if getattr(ctx.args, "report", None):
        write_change_report(plan, prepared.mapping, Path(ctx.args.report))
        ctx.reporter.info(f"Wrote {ctx.args.report}")


def warn_if_open(ctx: Context, sheet_path: Path) -> None:
    """A run that only reads says when the workbook is open: what it reads is the last saved version."""
    for lock in lock_files(sheet_path):
        ctx.reporter.warn(
            f"{sheet_path}: open in {lock.program} by {lock.who()} (lock file {lock.path}); "
            "this reads the last saved version"
        )


def run(ctx: Context) -> int:
    """Plan only: exit 0 when workbook and Billomat agree, 1 when changes are pending or held."""
    warn_if_open(ctx, Path(ctx.args.sheet))
    prepared = prepare(ctx, Path(ctx.args.sheet))
    show_plan(ctx, prepared)
    plan = prepared.plan
    ctx.reporter.summary(
        f"plan: {counts_text(plan.counts())}; held {len(plan.held)}; {merge_counts(prepared)}"
        f"problems {len(plan.problems)}; {prepared.reads} requests (reads only); {ctx.elapsed():.1f} s"
    )
    pending = plan.changes or plan.held or plan.problems or prepared.held_conflicts
    return EXIT_PARTIAL if pending else EXIT_OK


def merge_counts(prepared: Prepared) -> str:
    """'conflicts 1 held; Billomat changes 2 left alone; ' for the summary line ("" without a state)."""
    if prepared.merge is None or prepared.left_alone is None:
        return ""
    left = sum(prepared.left_alone.counts().values())
    return f"conflicts {len(prepared.held_conflicts)} held; Billomat changes {left} left alone; "
