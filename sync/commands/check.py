"""`billsync check`: validate config, mapping, credentials (one call) and optionally the workbook."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sync import sheet
from sync.commands import migrate
from sync.commands.common import billomat_client, billomat_mapping
from sync.errors import EXIT_OK
from sync.snapbill_mapping import load_snapbill_mapping

if TYPE_CHECKING:
    from sync.cli import Context

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
    if ctx.args.sheet:
        tables = sheet.read_workbook(Path(ctx.args.sheet), mapping)
        rows = ", ".join(f"{name} {len(table):,} rows" for name, table in tables.items())
        ctx.reporter.info(f"workbook  ok  {ctx.args.sheet} ({rows})")
    ctx.reporter.summary(f"check: all good; {requests} request{'s' if requests != 1 else ''}; {ctx.elapsed():.1f} s")
    return EXIT_OK
