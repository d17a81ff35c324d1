"""`billsync migrate --to snapbill`: copy Billomat clients to SnapBill; re-running creates nothing twice."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from sync.clients.snapbill import SnapBill
from sync.extract import extract_account
from sync.jobs.common import billomat_client
from sync.journal import Journal
from sync.migrate import ID_MAP_FILE, IdMap, Migration, MigrationResult, plan_all, sources_from_frames
from sync.migrate_report import write_migration_report
from sync.shipped import MAPPINGS
from sync.snapbill_mapping import load_snapbill_mapping
from sync.state import STATE_DIRNAME, StateDir

if TYPE_CHECKING:
    from sync.runtime import Context

HELP = "Copy Billomat clients to SnapBill through mappings/snapbill.yaml; re-running creates nothing twice."
MAPPING_FILE = MAPPINGS / "snapbill.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `migrate`."""
    parser.add_argument("--to", required=True, choices=("snapbill",), help="the target system (snapbill)")
    parser.add_argument("--dry-run", action="store_true", help="show what would be created and updated; write nothing")
    parser.add_argument("--report", metavar="FILE.xlsx", help="write the migration report: one row per client")
    parser.add_argument(
        "--include-archived", action="store_true", help="migrate archived Billomat clients too (skipped by default)"
    )


def snapbill_client(ctx: Context) -> SnapBill:
    """A SnapBill client from the settings, reporting retries and (with -v) every call."""
    settings = ctx.settings.snapbill()
    ctx.redact.add(settings.password.reveal())
    reporter = ctx.reporter

    def on_retry(attempt: int, error: Exception, wait: float) -> None:
        reporter.warn(f"SnapBill: {error}; retry {attempt} in {max(0, round(wait))} s")

    def on_request(method: str, path: str, status: int | None, seconds: float) -> None:
        shown = status if status is not None else "no answer"
        reporter.detail(f"  SnapBill {method} {path} -> {shown} ({seconds:.2f} s)")

    return SnapBill.from_settings(settings, clock=ctx.clock, on_retry=on_retry, on_request=on_request)


def mapping_path(ctx: Context) -> Path:
    """billsync.yaml's `snapbill_mapping`, else ./mappings/snapbill.yaml, else the shipped one."""
    return ctx.mapping_path("snapbill_mapping", MAPPING_FILE)


def run(ctx: Context) -> int:
    """Validate everything, then migrate; mapping and config errors stop before any write (exit 2)."""
    args = ctx.args
    say = ctx.reporter.info
    mapping = load_snapbill_mapping(mapping_path(ctx))
    sb = snapbill_client(ctx)
    bm = billomat_client(ctx)
    state = StateDir(Path(args.state) if args.state else Path.cwd() / STATE_DIRNAME)
    report = Path(args.report) if args.report else None
    with state.lock(clock=ctx.clock):
        say(f"Reading the SnapBill account at {sb.base_url} (its custom fields)")
        form = sb.check_credentials()
        say(f"  custom fields: {', '.join(f'data-{k}' for k in sorted(form.data_keys)) or 'none'}")
        say(f"Reading Billomat account at {bm.base_url}")
        bm.check_credentials()
        frames, _stats = extract_account(bm, ctx.reporter)
        sources = sources_from_frames(frames)
        # Before any write: the mapping against both accounts (data-* keys, property names) ...
        checked = mapping.for_account(form.data_keys, sources.property_names)
        for rule in checked.skipped_rules:
            say(f"  note: {rule.place}: SnapBill defines no field {rule.data_key!r}; its values are reported")
        # ... and every client's own data.
        plans = plan_all(sources, checked, form, include_archived=args.include_archived)
        for plan in plans:
            if plan.problem:
                ctx.reporter.warn(f"Billomat client {plan.billomat_id} ({plan.number or 'no number'}): {plan.problem}")
        id_map = IdMap(state.path / ID_MAP_FILE, f"{sb.base_url} {sb.user}")
        verb = "Planning" if args.dry_run else "Migrating"
        say(f"{verb} {len(plans)} clients to SnapBill{' (dry run: nothing is written)' if args.dry_run else ''}")
        migration = Migration(sb, checked, id_map, dry_run=args.dry_run, info=ctx.reporter.detail,
                              warn=ctx.reporter.warn, journal=None if args.dry_run else Journal(state.path))
        with ctx.reporter.bar("SnapBill", total=len(plans), unit="clients") as bar:
            result = migration.run(plans, progress=bar.update)
        result.requests = {"billomat": bm.transport.request_count, "snapbill": sb.request_count}
        for item in result.results:
            if item.status in ("created", "updated"):
                changed = ", ".join(item.changes) if item.status == "updated" else f"number {item.number}"
                ctx.reporter.detail(f"  {item.status}: {item.billomat_id} -> SnapBill {item.snapbill_id or '?'} ({changed})")
        if report is not None:
            write_migration_report(result, report)
            say(f"Report: {report}")
    ctx.reporter.summary(_summary(result, ctx.elapsed()))
    return result.exit_code


def _summary(result: MigrationResult, seconds: float) -> str:
    counts = result.counts()
    would = "migrate (dry run, nothing written): would be " if result.dry_run else "migrate: "
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    total = sum(result.requests.values())
    detail = f"Billomat {result.requests.get('billomat', 0)}, SnapBill {result.requests.get('snapbill', 0)}"
    return f"{would}{parts}; {total} requests ({detail}); {seconds:.1f} s"
