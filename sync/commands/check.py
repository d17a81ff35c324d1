"""`billsync check`: validate config, mapping, credentials (one call) and optionally the workbook."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sync import sheet
from sync.desired import read_desired
from sync.errors import EXIT_OK, EXIT_PARTIAL
from sync.jobs import migration as migrate
from sync.jobs.common import billomat_client, billomat_mapping
from sync.mapping import Mapping
from sync.snapbill_mapping import load_snapbill_mapping
from sync.state import StateDir, state_dir_for

if TYPE_CHECKING:
    from sync.runtime import Context

HELP = "Validate config, mappings, credentials (one cheap call) and, if given, the workbook. Writes nothing."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `check`."""
    parser.add_argument("--sheet", metavar="PATH", help="workbook to validate (.xlsx or CSV folder)")


def run(ctx: Context) -> int:
    """Check everything a run needs, in the order a run needs it; the first problem ends it with exit 2."""
    mapping = billomat_mapping(ctx)
    ctx.reporter.info(f"mapping   ok  {ctx.mapping_path()}")
    snapbill_yaml = migrate.mapping_path(ctx)
    if snapbill_yaml.is_file():
        load_snapbill_mapping(snapbill_yaml)
        ctx.reporter.info(f"mapping   ok  {snapbill_yaml}")
    bm = billomat_client(ctx)
    bm.check_credentials()
    ctx.reporter.info(f"billomat  ok  {bm.base_url} (API key accepted)")
    requests = bm.transport.request_count
    if ctx.settings.env.get("SNAPBILL_USER"):
        sb = migrate.snapbill_client(ctx)
        sb.check_credentials()
        requests += sb.request_count
        ctx.reporter.info(f"snapbill  ok  {sb.base_url} (login accepted)")
    problems = 0
    if ctx.args.sheet:
        problems = _check_workbook(ctx, Path(ctx.args.sheet), mapping)
    plural = "s" if requests != 1 else ""
    if problems:
        ctx.reporter.summary(f"check: {problems} row problem(s) in the workbook; {requests} request{plural}; {ctx.elapsed():.1f} s")
        return EXIT_PARTIAL
    ctx.reporter.summary(f"check: all good; {requests} request{plural}; {ctx.elapsed():.1f} s")
    return EXIT_OK


def _check_workbook(ctx: Context, path: Path, mapping: Mapping) -> int:
    """Structure always; rows against the base snapshot of the last pull/push/sync (no API calls needed)."""
    ctx.reporter.activity(f"Reading {path.name}")
    tables = sheet.read_workbook(path, mapping)
    rows = ", ".join(f"{name} {len(table):,} rows" for name, table in tables.items())
    snapshot = StateDir(state_dir_for(path, ctx.args.state)).read_snapshot()
    if snapshot is None:
        ctx.reporter.info(f"workbook  ok  {path} ({rows}); rows not checked against Billomat: no pull recorded here yet")
        return 0
    ctx.reporter.activity(f"Checking the rows of {path.name}")
    desired = read_desired(tables, mapping, snapshot.frames, source=str(path))
    ctx.reporter.activity(None)
    for warning in desired.warnings:
        ctx.reporter.warn(str(warning))
    for problem in desired.problems:
        ctx.reporter.warn(f"row problem: {problem}")
    state = "ok" if not desired.problems else "!!"
    when = snapshot.meta.get("finished", "the last run")
    ctx.reporter.info(f"workbook  {state}  {path} ({rows}; checked against Billomat as of {when})")
    return len(desired.problems)
