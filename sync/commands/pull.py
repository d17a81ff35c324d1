"""`billsync pull --out PATH`: Billomat → workbook, and record the base snapshot.

The work is `sync.jobs.pull` (sync/jobs/pull_workbook.py: refusals, backups, the snapshot); this module
parses the arguments and prints the summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sync import jobs

if TYPE_CHECKING:
    from sync.runtime import Context

HELP = "Page every client, contact, property value and tag out of Billomat and write the workbook."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pull`."""
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="workbook to write: a .xlsx file, or a folder that gets one CSV per sheet",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing workbook even when it holds edits not yet pushed or sheets/columns of "
        "its own (the previous one is kept as NAME.bak.xlsx / NAME.bak/ either way)",
    )


def run(ctx: Context) -> int:
    """Pull through `sync.jobs.pull`, then print the summary line."""
    options = jobs.PullOptions(state_dir=Path(ctx.args.state) if ctx.args.state else None, force=ctx.args.force)
    result = jobs.pull(ctx, Path(ctx.args.out), options)
    counts = result.counts
    ctx.reporter.summary(
        f"pull: {counts['clients']:,} clients, {counts['contacts']:,} contacts, "
        f"{counts['client_property_values']:,} property values, {counts['client_tags']:,} tags -> {result.out}; "
        f"{result.requests} requests; {ctx.elapsed():.1f} s"
    )
    return result.exit_code
