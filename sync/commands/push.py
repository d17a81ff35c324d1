"""`billsync push --sheet PATH`: send the workbook's edits to Billomat; new ids go back into the workbook.

The work is `sync.jobs.push` (sync/jobs/one_way.py); this module parses the arguments and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sync import jobs
from sync.commands.plan import (
    add_delete_arguments,
    add_prefer_sheet_argument,
    add_sheet_argument,
    merge_counts,
    options,
    show_plan,
)
from sync.report import counts_text

if TYPE_CHECKING:
    from sync.runtime import Context

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
    """Push through `sync.jobs.push`; the plan is shown before the first write, the summary at the end."""
    result = jobs.push(ctx, Path(ctx.args.sheet), options(ctx), on_plan=lambda prepared: show_plan(ctx, prepared))
    prepared = result.prepared
    if result.dry_run:
        ctx.reporter.summary(
            f"push --dry-run: would do {counts_text(result.counts)}; held {len(result.held)}; "
            f"{merge_counts(prepared)}problems {len(result.problems)}; 0 write requests; {ctx.elapsed():.1f} s"
        )
    else:
        ctx.reporter.summary(
            f"push: {counts_text(result.counts, past=True)}; held {len(result.held)}; {merge_counts(prepared)}"
            f"failed {len(result.failed)}; problems {len(result.problems)}; {result.requests} write requests "
            f"(+{result.reads} reads); {ctx.elapsed():.1f} s"
        )
    return result.exit_code
