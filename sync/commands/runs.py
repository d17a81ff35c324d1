"""`billsync runs [--limit N]`: one line per recorded run, newest first (sync/runs.py)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from sync.errors import EXIT_OK
from sync.runs import list_runs, runs_json, runs_lines, state_dir_from

if TYPE_CHECKING:
    from sync.runtime import Context

HELP = "One line per recorded run, newest first: run id, start, command, exit code, changes, requests."


def add_state_arguments(parser: argparse.ArgumentParser) -> None:
    """--sheet PATH (its state dir is beside it) and --json, shared by runs and show."""
    parser.add_argument("--sheet", metavar="PATH", help="the workbook whose runs to read (default: ./.billsync)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of text")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `runs`."""
    add_state_arguments(parser)
    parser.add_argument("--limit", type=int, metavar="N", default=20, help="show the newest N runs (default 20)")


def run(ctx: Context) -> int:
    """List the runs; reads only the first and last line of each run's journal."""
    runs = list_runs(state_dir_from(ctx.args.sheet, ctx.args.state), limit=max(ctx.args.limit, 0))
    lines = [runs_json(runs)] if ctx.args.json else runs_lines(runs)
    for line in lines:
        ctx.reporter.info(line)
    return EXIT_OK
