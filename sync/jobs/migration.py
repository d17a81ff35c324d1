"""migrate as a library call: copy Billomat clients to SnapBill; re-running creates nothing twice."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sync.clients.snapbill import SnapBill
from sync.extract import extract_account
from sync.jobs.common import billomat_client, billomat_mapping
from sync.journal import Journal
from sync.migrate import ID_MAP_FILE, IdMap, Migration, MigrationResult, plan_all, sources_from_frames
from sync.migrate_report import report_names, write_migration_report
from sync.runtime import Session
from sync.shipped import MAPPINGS
from sync.snapbill_mapping import load_snapbill_mapping
from sync.state import STATE_DIRNAME, StateDir

MAPPING_FILE = MAPPINGS / "snapbill.yaml"


@dataclass(frozen=True)
class MigrateOptions:
    """How a migration runs (the CLI's flags of the same names)."""

    state_dir: Path | None = None  # --state (default: ./.billsync/)
    dry_run: bool = False
    report: Path | None = None  # the migration report to write (.xlsx)
    include_archived: bool = False


def snapbill_client(session: Session) -> SnapBill:
    """A SnapBill client from the settings, reporting retries and (with -v) every call."""
    settings = session.settings.snapbill()
    session.redact.add(settings.password.reveal())
    reporter = session.reporter

    def on_retry(attempt: int, error: Exception, wait: float) -> None:
        reporter.warn(f"SnapBill: {error}; retry {attempt} in {max(0, round(wait))} s")

    def on_request(method: str, path: str, status: int | None, seconds: float) -> None:
        shown = status if status is not None else "no answer"
        reporter.detail(f"  SnapBill {method} {path} -> {shown} ({seconds:.2f} s)")

    return SnapBill.from_settings(settings, clock=session.clock, on_retry=on_retry, on_request=on_request)


def mapping_path(session: Session) -> Path:
    """billsync.yaml's `snapbill_mapping`, else ./mappings/snapbill.yaml, else the shipped one."""
    return session.mapping_path("snapbill_mapping", MAPPING_FILE)


def migrate(session: Session, options: MigrateOptions | None = None) -> MigrationResult:
    """Validate everything, then migrate; mapping and config errors stop before any write (exit 2)."""
    options = options or MigrateOptions()
    say = session.reporter.info
    mapping = load_snapbill_mapping(mapping_path(session))
    sb = snapbill_client(session)
    bm = billomat_client(session)
    state = StateDir(options.state_dir or Path.cwd() / STATE_DIRNAME)
    # The report names each field by the workbook's header (mappings/billomat.yaml); read before any write.
    names = report_names(mapping, billomat_mapping(session)) if options.report is not None else {}
    with state.lock(clock=session.clock):
        say(f"Reading the SnapBill account at {sb.base_url} (its custom fields)")
        form = sb.check_credentials()
        say(f"  custom fields: {', '.join(f'data-{k}' for k in sorted(form.data_keys)) or 'none'}")
        say(f"Reading Billomat account at {bm.base_url}")
        bm.check_credentials()
        frames, _stats = extract_account(bm, session.reporter)
        sources = sources_from_frames(frames)
        # Before any write: the mapping against both accounts (data-* keys, property names) ...
        checked = mapping.for_account(form.data_keys, sources.property_names)
        for rule in checked.skipped_rules:
            say(f"  note: {rule.place}: SnapBill defines no field {rule.data_key!r}; its values are reported")
        # ... and every client's own data.
        plans = plan_all(sources, checked, form, include_archived=options.include_archived)
        for plan in plans:
            if plan.problem:
                session.reporter.warn(
                    f"Billomat client {plan.billomat_id} ({plan.number or 'no number'}): {plan.problem}"
                )
        id_map = IdMap(state.path / ID_MAP_FILE, f"{sb.base_url} {sb.user}")
        verb = "Planning" if options.dry_run else "Migrating"
        say(f"{verb} {len(plans)} clients to SnapBill{' (dry run: nothing is written)' if options.dry_run else ''}")
        migration = Migration(sb, checked, id_map, dry_run=options.dry_run, info=session.reporter.detail,
                              warn=session.reporter.warn, journal=None if options.dry_run else Journal(state.path, command="migrate"))
        with session.reporter.bar("SnapBill", total=len(plans), unit="clients") as bar:
            result = migration.run(plans, progress=bar.update)
        result.requests = {"billomat": bm.transport.request_count, "snapbill": sb.request_count}
        for item in result.results:
            if item.status in ("created", "updated"):
                changed = ", ".join(item.changes) if item.status == "updated" else f"number {item.number}"
                session.reporter.detail(
                    f"  {item.status}: {item.billomat_id} -> SnapBill {item.snapbill_id or '?'} ({changed})"
                )
        if options.report is not None:
            write_migration_report(result, options.report, names)
            say(f"Report: {options.report}")
        if migration.journal is not None:
            migration.journal.close(result.exit_code, requests=sb.request_count)
    return result
