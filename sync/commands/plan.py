"""`billsync plan --sheet PATH`: what a push would do, change by change; writes nothing to Billomat."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sync import sheet
from sync.clients.billomat import Billomat
from sync.commands.common import billomat_client, billomat_mapping
from sync.desired import Desired, read_desired
from sync.diff import diff_account
from sync.errors import EXIT_OK, EXIT_PARTIAL, StateError
from sync.extract import extract_account
from sync.frames import AccountFrames
from sync.mapping import Mapping
from sync.plan import Plan, build_plan
from sync.report import counts_text, held_lines, plan_lines, write_change_report, write_json
from sync.state import StateDir, state_dir_for
from sync.workbook_guard import WorkbookGuard, lock_files

if TYPE_CHECKING:
    from sync.cli import Context

HELP = "Show what push would do: counts per resource and operation, and each change field by field."
SHOWN_CHANGES = 200  # the terminal shows this many changes; --json and --report hold all of them


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `plan`."""
    add_sheet_argument(parser)
    parser.add_argument("--json", metavar="FILE", help="write the whole plan as JSON")
    parser.add_argument("--report", metavar="FILE.xlsx", help="write a change report for the accountants")
    add_delete_arguments(parser)


def add_sheet_argument(parser: argparse.ArgumentParser) -> None:
    """--sheet PATH, shared by plan, push and sync."""
    parser.add_argument("--sheet", required=True, metavar="PATH", help="the workbook (.xlsx or CSV folder)")


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
    base: AccountFrames | None = None  # the base snapshot the workbook was written from, if any


def prepare(ctx: Context, sheet_path: Path) -> Prepared:
    """Read the workbook (first: a broken one costs no API calls), then Billomat, then diff and plan."""
    mapping = billomat_mapping(ctx)
    ctx.reporter.activity(f"Reading {sheet_path.name}")
    guard = WorkbookGuard.capture(sheet_path)  # before reading: a save while reading counts as a change
    tables = sheet.read_workbook(sheet_path, mapping)
    bm = billomat_client(ctx)
    ctx.reporter.info(f"Reading Billomat account at {bm.base_url}")
    current, _stats = extract_account(bm, ctx.reporter)
    ctx.reporter.activity("Comparing the workbook with Billomat")
    desired = read_desired(tables, mapping, current, source=str(sheet_path))
    base = _base(ctx, sheet_path)
    diff = diff_account(current, desired, mapping, base)
    plan = build_plan(
        diff,
        desired,
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
    return Prepared(bm, mapping, current, desired, plan, bm.transport.request_count, guard, base)


def _base(ctx: Context, sheet_path: Path) -> AccountFrames | None:
    """The base snapshot, which tells which contact cells the accountant edited (sync/inherit.py)."""
    state = StateDir(state_dir_for(sheet_path, ctx.args.state))
    try:
        snapshot = state.read_snapshot()
    except StateError as exc:
        ctx.reporter.warn(f"{exc}; planning without it (contact cells count as edited where they differ)")
        return None
    return snapshot.frames if snapshot is not None else None


def show_plan(ctx: Context, prepared: Prepared) -> None:
    """Print the plan's counts and changes; write --json/--report when asked."""
    plan = prepared.plan
    ctx.reporter.info(f"Plan: {counts_text(plan.counts())}")
    for line in plan_lines(plan, prepared.mapping, limit=SHOWN_CHANGES, held=False):
        ctx.reporter.info(line)
    # Held changes explain an exit code 1: a quiet (cron) run that fails shows them too.
    for line in held_lines(plan, prepared.mapping):
        ctx.reporter.notice(line)
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
        f"plan: {counts_text(plan.counts())}; held {len(plan.held)}; problems {len(plan.problems)}; "
        f"{prepared.reads} requests (reads only); {ctx.elapsed():.1f} s"
    )
    pending = plan.changes or plan.held or plan.problems
    return EXIT_PARTIAL if pending else EXIT_OK
