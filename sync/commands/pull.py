"""`billsync pull --out PATH`: Billomat → workbook, and record the base snapshot."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sync import sheet
from sync.commands.common import billomat_client, billomat_mapping
from sync.errors import EXIT_OK
from sync.extract import extract_account
from sync.origin import new_state_id
from sync.state import StateDir, state_dir_for

if TYPE_CHECKING:
    from sync.cli import Context

HELP = "Page every client, contact, property value and tag out of Billomat and write the workbook."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `pull`."""
    parser.add_argument(
        "--out",
        required=True,
        metavar="PATH",
        help="workbook to write: a .xlsx file, or a folder that gets one CSV per sheet",
    )


def run(ctx: Context) -> int:
    """Pull the account into the workbook; the base snapshot is recorded only after the workbook is written."""
    out = Path(ctx.args.out)
    mapping = billomat_mapping(ctx)
    bm = billomat_client(ctx)
    state = StateDir(state_dir_for(out, ctx.args.state))
    with state.lock():
        ctx.reporter.info(f"Reading Billomat account at {bm.base_url}")
        bm.check_credentials()
        frames, stats = extract_account(bm, ctx.reporter)
        tables = sheet.build_tables(frames, mapping)
        rows = ", ".join(f"{name} {len(table):,} rows" for name, table in tables.items())
        ctx.reporter.info(f"Writing {out} ({rows}) ...")
        writing = time.monotonic()
        # The workbook carries the id of the state recorded below (sync.origin): its origin.
        state_id = new_state_id()
        sheet.write_workbook(tables, out, mapping, origin=state_id)
        ctx.reporter.info(f"  written in {time.monotonic() - writing:.1f} s")
        state.write_snapshot(
            frames,
            {
                "command": "pull",
                "workbook": str(out.resolve()),
                "mapping": str(ctx.mapping_path()),
                "billomat_url": bm.base_url,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "requests": stats.requests,
            },
            state_id=state_id,
        )
    counts = frames.counts()
    ctx.reporter.summary(
        f"pull: {counts['clients']:,} clients, {counts['contacts']:,} contacts, "
        f"{counts['client_property_values']:,} property values, {counts['client_tags']:,} tags -> {out}; "
        f"{bm.transport.request_count} requests; {ctx.elapsed():.1f} s"
    )
    return EXIT_OK
