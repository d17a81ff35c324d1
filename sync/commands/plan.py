"""`billsync plan --sheet PATH`: what a push would do, change by change; writes nothing to Billomat.

The work is `sync.jobs.plan` (reading, merging and planning: `sync.jobs.prepare`); this module parses
the arguments and prints the result.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sync import jobs, parking
from sync.jobs.prepare import Options, Prepared
from sync.report import (
    billomat_side_lines,
    conflict_line,
    counts_text,
    held_lines,
    plan_lines,
    write_change_report,
    write_json,
)

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


def options(ctx: Context) -> Options:
    """The job options of plan, push and sync from the command line."""
    args = ctx.args
    return Options(
        state_dir=Path(args.state) if args.state else None,
        prefer=getattr(args, "prefer", None),
        allow_deletes=args.allow_deletes,
        max_deletes=args.max_deletes,
        dry_run=getattr(args, "dry_run", False),
    )


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


def run(ctx: Context) -> int:
    """Plan only: exit 0 when workbook and Billomat agree, 1 when changes are pending or held."""
    result = jobs.plan(ctx, Path(ctx.args.sheet), options(ctx))
    show_plan(ctx, result.prepared)
    ctx.reporter.summary(
        f"plan: {counts_text(result.counts)}; held {len(result.held)}; {merge_counts(result.prepared)}"
        f"problems {len(result.problems)}; {result.reads} requests (reads only); {ctx.elapsed():.1f} s"
    )
    return result.exit_code


def merge_counts(prepared: Prepared) -> str:
    """'conflicts 1 held; Billomat changes 2 left alone; ' for the summary line ("" without a state)."""
    parked = parking.summary(prepared.parked)
    if prepared.merge is None or prepared.left_alone is None:
        return parked
    left = sum(prepared.left_alone.counts().values())
    return f"{parked}conflicts {len(prepared.held_conflicts)} held; Billomat changes {left} left alone; "
