"""`billsync show RUN`: every write of one run, field by field with the workbook's headers (sync/runs.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sync.commands.runs import add_state_arguments
from sync.errors import EXIT_OK
from sync.jobs.common import billomat_mapping
from sync.runs import find_run, run_writes, show_json, show_lines, state_dir_from, summarize

if TYPE_CHECKING:
    from sync.runtime import Context

HELP = "Every write of one run: resource, id, field, value before -> after, status, Billomat's message."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `show`."""
    parser.add_argument("run_id", metavar="RUN", help="the run's id as `billsync runs` lists it, or `last`")
    add_state_arguments(parser)


def run(ctx: Context) -> int:
    """Print the run's writes (or, with --json, the journal's entries)."""
    path = find_run(state_dir_from(ctx.args.sheet, ctx.args.state), ctx.args.run_id)
    summary, writes = summarize(path), run_writes(path)
    if ctx.args.json:
        ctx.reporter.info(show_json(summary, writes))
        return EXIT_OK
    for line in show_lines(summary, writes, billomat_mapping(ctx)):
        ctx.reporter.info(line)
    return EXIT_OK
