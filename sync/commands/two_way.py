"""`billsync sync --sheet PATH`: the nightly two-way merge of workbook, Billomat and the base snapshot.

The work is `sync.jobs.sync` (sync/jobs/two_way.py); this module parses the arguments and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sync import jobs, parking
from sync.commands.plan import add_delete_arguments, add_sheet_argument, options
from sync.jobs.prepare import Prepared
from sync.jobs.result import JobResult
from sync.report import conflict_line, counts_text, held_lines, plan_lines

if TYPE_CHECKING:
    from sync.runtime import Context

HELP = (
    "Two-way: merge workbook, Billomat and the last successful run field by field; changes flow both ways, "
    "conflicts are held and listed in the sheet Konflikte unless --prefer decides them."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `sync`."""
    add_sheet_argument(parser)
    parser.add_argument(
        "--prefer", choices=("sheet", "billomat"), help="decide conflicts for this side instead of holding them"
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would change on both sides; write nothing")
    add_delete_arguments(parser)


def run(ctx: Context) -> int:
    """Sync through `sync.jobs.sync`; both sides' changes are shown before the first write."""
    result = jobs.sync(ctx, Path(ctx.args.sheet), options(ctx), on_plan=lambda prepared: _show(ctx, prepared))
    if not result.dry_run:
        ctx.reporter.detail(f"phases: {result.prepared.phases}")
    ctx.reporter.summary(_summary(ctx, result))
    return result.exit_code


def _show(ctx: Context, prepared: Prepared) -> None:
    """Both sides' changes and the held conflicts, before anything is written."""
    merge, plan, mapping = prepared.merge, prepared.plan, prepared.mapping
    assert merge is not None  # a sync always merges
    say = ctx.reporter.info
    say(f"To Billomat: {counts_text(plan.counts())}")
    for line in plan_lines(plan, mapping, limit=100, held=False):
        say(line)
    # Held deletes and conflicts explain an exit code 1: a quiet (cron) run that fails shows them too.
    for line in held_lines(plan, mapping):
        ctx.reporter.notice(line)
    counts = merge.to_workbook.counts()
    say(f"To the workbook: {counts['update']} cells updated, {counts['append']} rows added, {counts['remove']} rows removed")
    for row in merge.to_workbook.updates.head(100).itertuples(index=False):
        say(f"  {row.sheet} row {row.row}: {row.header}: {row.old!r} -> {row.new!r}")
    for sheet_name, rows in merge.to_workbook.appends.items():
        sheet_map = mapping.sheet_named(sheet_name)
        name = next((c.header for c in sheet_map.columns if c.field == "name"), "") if sheet_map else ""
        for record in rows.head(100).to_dict("records"):
            key = next(iter(record.values()), "")
            say(f"  {sheet_name}: a new row for {key} ({record.get(name, '')}; created in Billomat)")
    for row in merge.to_workbook.removals.head(100).itertuples(index=False):
        say(f"  {row.sheet} row {row.row}: removed ({row.key} {row.label}; deleted in Billomat)")
    for conflict in merge.held:
        ctx.reporter.notice(conflict_line(conflict))


def _summary(ctx: Context, result: JobResult) -> str:
    merge = result.merge
    assert merge is not None  # a sync always merges
    workbook = merge.to_workbook.counts()
    to_billomat = counts_text(result.plan.counts(), past=not result.dry_run)
    verb = "sync --dry-run: would do" if result.dry_run else "sync:"
    return (
        f"{verb} Billomat {to_billomat}; workbook {workbook['update']} updated, {workbook['append']} added, "
        f"{workbook['remove']} removed; conflicts {len(merge.held)} held, {len(merge.resolved)} decided; "
        f"held deletes {len(result.held)}; {parking.summary(result.prepared.parked)}problems {len(result.problems)}; "
        f"{result.requests} write requests "
        f"(+{result.reads} reads); {ctx.elapsed():.1f} s"
    )
