"""`billsync migrate --to snapbill`: copy Billomat clients to SnapBill; re-running creates nothing twice.

The work is `sync.jobs.migrate` (sync/jobs/migration.py); this module parses the arguments and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sync import jobs
from sync.jobs.migration import MigrateOptions
from sync.migrate import MigrationResult

if TYPE_CHECKING:
    from sync.runtime import Context

HELP = "Copy Billomat clients to SnapBill through mappings/snapbill.yaml; re-running creates nothing twice."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `migrate`."""
    parser.add_argument("--to", required=True, choices=("snapbill",), help="the target system (snapbill)")
    parser.add_argument("--dry-run", action="store_true", help="show what would be created and updated; write nothing")
    parser.add_argument("--report", metavar="FILE.xlsx", help="write the migration report: one row per client")
    parser.add_argument(
        "--include-archived", action="store_true", help="migrate archived Billomat clients too (skipped by default)"
    )


def run(ctx: Context) -> int:
    """Migrate through `sync.jobs.migrate`, then print the summary line."""
    args = ctx.args
    options = MigrateOptions(
        state_dir=Path(args.state) if args.state else None,
        dry_run=args.dry_run,
        report=Path(args.report) if args.report else None,
        include_archived=args.include_archived,
    )
    result = jobs.migrate(ctx, options)
    ctx.reporter.summary(_summary(result, ctx.elapsed()))
    return result.exit_code


def _summary(result: MigrationResult, seconds: float) -> str:
    counts = result.counts()
    would = "migrate (dry run, nothing written): would be " if result.dry_run else "migrate: "
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    total = sum(result.requests.values())
    detail = f"Billomat {result.requests.get('billomat', 0)}, SnapBill {result.requests.get('snapbill', 0)}"
    return f"{would}{parts}; {total} requests ({detail}); {seconds:.1f} s"
