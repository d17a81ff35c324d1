"""`billsync sync --sheet PATH`: the nightly two-way merge of workbook, Billomat and the base snapshot."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sync import sheet
from sync.commands.common import after_billomat_writes, billomat_client, billomat_mapping, write_back_new_ids
from sync.commands.lineage import record_state, workbook_base
from sync.commands.plan import add_delete_arguments, add_sheet_argument, warn_if_open
from sync.desired import Desired, read_desired
from sync.diff import diff_account
from sync.errors import EXIT_OK, EXIT_PARTIAL
from sync.extract import extract_account
from sync.frames import RESOURCES, AccountFrames
from sync.inherit import keep_unedited
from sync.journal import Journal
from sync.load import LoadReport, LoadStopped, apply_plan, markers_in, rebase
from sync.mapping import Mapping
from sync.merge import Merge, merge_account, reading_frames
from sync.plan import build_plan
from sync.report import conflict_line, counts_text, held_lines, plan_lines
from sync.state import StateDir, state_dir_for
from sync.workbook.stage import StagedWorkbook
from sync.workbook_guard import WorkbookGuard, WorkbookInUseError, check_not_open
from sync.workbook_update import apply_workbook_changes, read_decisions

if TYPE_CHECKING:
    from sync.cli import Context

NEXT_SYNC = (
    "the next sync writes Billomat's changes into the workbook and finds the records this run created by "
    "their markers"
)
HELP = (
    "Two-way: merge workbook, Billomat and the last successful run field by field; changes flow both ways, "
    "conflicts are held and listed in the sheet Konflikte unless --prefer decides them."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `sync`."""
    add_sheet_argument(parser)
    parser.add_argument(
        "--prefer", choices=("sheet", "billomat"), help="decide conflicts for this side instead of holding them"
    )
    parser.add_argument("--dry-run", action="store_true", help="show what would change on both sides; write nothing")
    add_delete_arguments(parser)


def run(ctx: Context) -> int:
    """Merge, write Billomat's side, then the workbook's, then advance the base — all under the run lock."""
    sheet_path = Path(ctx.args.sheet)
    state = StateDir(state_dir_for(sheet_path, ctx.args.state))
    say = ctx.reporter.info
    phases = Phases()
    if ctx.args.dry_run:
        warn_if_open(ctx, sheet_path)
    else:
        # Open in Excel or LibreOffice: change nothing anywhere (SPEC §4; docs/design.md "Open workbooks").
        check_not_open(sheet_path)
    with state.lock(clock=ctx.clock):
        mapping = billomat_mapping(ctx)
        with phases("read workbook"):
            ctx.reporter.activity(f"Reading {sheet_path.name}")
            guard = WorkbookGuard.capture(sheet_path)  # before reading: a save while reading is a change
            tables = sheet.read_workbook(sheet_path, mapping)
            # The state this workbook descends from (its origin stamp), not simply the newest one: a
            # copy saved from before the last sync must not undo what that sync brought in.
            origin = workbook_base(ctx, state, sheet_path)
            # Decisions the accountant typed into the Konflikte sheet (column Entscheidung).
            decisions, decision_problems = read_decisions(sheet_path)
        for problem in decision_problems:
            ctx.reporter.warn(problem)
        base = origin.frames
        if base is None:
            ctx.reporter.warn(
                f"{state.snapshot_path}: no base snapshot yet (no pull or sync has finished here): every field "
                "that differs is a conflict unless --prefer decides; run 'billsync pull' first for a clean start"
            )
        bm = billomat_client(ctx)
        say(f"Reading Billomat account at {bm.base_url}")
        with phases("extract"):
            current, _stats = extract_account(bm, ctx.reporter)
        reads = bm.transport.request_count
        ctx.reporter.activity("Merging workbook, Billomat and the last run")
        with phases("merge"):
            desired = read_desired(tables, mapping, reading_frames(base, current), source=str(sheet_path))
            merge = merge_account(
                base,
                _without_landed_creates(base, current, desired, mapping),
                desired,
                mapping,
                prefer=ctx.args.prefer,
                decisions=decisions,
                older=origin.older,
            )
        with phases("plan"):
            plan = build_plan(
                diff_account(current, merge.to_billomat, mapping),
                merge.to_billomat,
                current,
                mapping,
                allow_deletes=ctx.args.allow_deletes,
                max_deletes=ctx.args.max_deletes,
            )
        ctx.reporter.activity(None)
        for warning in plan.warnings:
            ctx.reporter.warn(str(warning))
        for problem in plan.problems:
            ctx.reporter.warn(f"left out: {problem}")
        _show(ctx, merge, plan, mapping)
        if ctx.args.dry_run:
            ctx.reporter.summary(_summary(ctx, merge, plan, None, reads, dry_run=True))
            return EXIT_PARTIAL if merge.held or plan.changes or plan.held or plan.problems else EXIT_OK

        # Opened or saved while Billomat was read: stop before the first write request.
        guard.check()
        journal = Journal(state.path)
        # One workbook write per run: changes, new ids and the origin stamp go into a staged copy first.
        with StagedWorkbook(sheet_path, guard) as stage:
            try:
                with phases("load"), ctx.reporter.bar("Schreiben", total=len(plan.changes), unit="changes") as bar:
                    # Records a killed earlier run created carry their marker: adopt them, never create twice.
                    report = apply_plan(
                        plan, bm, journal, marked=markers_in(current), on_progress=lambda *_: bar.update(1)
                    )
            except LoadStopped as stopped:
                try:
                    _write_workbook(ctx, stage, mapping, merge, stopped.report, current, base)
                    stage.commit()
                except WorkbookInUseError as exc:
                    ctx.reporter.warn(f"{exc}; the next sync writes Billomat's changes")
                raise
            ctx.reporter.activity(f"Writing the changes into {sheet_path.name}")
            # The state does not advance when the workbook cannot be written: the next sync finds Billomat's
            # changes again, and the records this run created by their markers.
            with phases("write workbook"), after_billomat_writes(report, NEXT_SYNC):
                unwritten, written = _write_workbook(ctx, stage, mapping, merge, report, current, base)
                if written:
                    guard.check()  # open or changed meanwhile: stop before the state advances
            ctx.reporter.activity("Writing the base snapshot")
            with phases("snapshot"):
                next_base = merge.next_base(rebase(current, report), unwritten=unwritten)
                # Contact cells Billomat now fills with a newer client value stay as the workbook holds them.
                next_base = keep_unedited(next_base, base, desired.contacts, mapping.sheets.get("contacts"))
                record_state(
                    ctx,
                    state,
                    sheet_path,
                    next_base,
                    {
                        "command": "sync",
                        "workbook": str(sheet_path.resolve()),
                        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    },
                    origin,
                    changed=written or any(r.status == "done" for r in report.results),
                    merge=merge,
                    guard=guard,
                    stage=stage,
                )
            # The one write of the workbook: Billomat's changes, Konflikte, new ids and the stamp; one .bak.
            with phases("write workbook"), after_billomat_writes(report, NEXT_SYNC):
                stage.commit()
    ctx.reporter.detail(f"phases: {phases}")
    ctx.reporter.summary(_summary(ctx, merge, plan, report, reads, dry_run=False))
    failed = [r for r in report.results if r.status in ("failed", "skipped")]
    return EXIT_PARTIAL if merge.held or failed or plan.held or plan.problems else EXIT_OK


class Phases:
    """Seconds per phase of a run, for -v and the benchmark ("read workbook 0.4 s, extract 1.2 s, ...")."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - started

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in self.seconds.items())


def _without_landed_creates(
    base: AccountFrames | None, current: AccountFrames, desired: Desired, mapping: Mapping
) -> AccountFrames:
    """Billomat as the merge should see it: without the records an earlier, unfinished run created for
    rows that are still new in the workbook (the run was killed, or the workbook was open or saved
    meanwhile, so the ids never reached it and the base did not advance).

    Such a record carries its row's create marker. Seen by the merge, it would be "created in Billomat"
    next to a new row of the same name (conflict created_both, held for ever); hidden, the row is a create
    again, which the loader adopts by the marker (no request) and whose id then goes into the row.
    """
    if base is None:
        return current
    known = {resource: set(base.frame(resource)["id"]) for resource in ("clients", "contacts")}
    marked = {
        (resource, marker): record_id
        for (resource, marker), record_id in markers_in(current).items()
        if record_id not in known[resource]
    }
    if not marked:  # the usual case: every record billsync created is in the base
        return current
    planned = build_plan(diff_account(current, desired, mapping), desired, current, mapping)
    creates = {(c.resource, c.marker) for c in planned.changes if c.action == "create"}
    hidden = {resource: {rid for (res, marker), rid in marked.items() if res == resource and (res, marker) in creates}
              for resource in ("clients", "contacts")}
    if not hidden["clients"] and not hidden["contacts"]:
        return current
    frames = {name: current.frame(name) for name in RESOURCES}
    frames["clients"] = frames["clients"][~frames["clients"]["id"].isin(hidden["clients"])]
    frames["contacts"] = frames["contacts"][
        ~frames["contacts"]["id"].isin(hidden["contacts"]) & ~frames["contacts"]["client_id"].isin(hidden["clients"])
    ]
    for name in ("client_property_values", "client_tags"):
        frames[name] = frames[name][~frames[name]["client_id"].isin(hidden["clients"])]
    return AccountFrames(**{name: frame.reset_index(drop=True) for name, frame in frames.items()})


def _show(ctx: Context, merge: Merge, plan, mapping) -> None:  # noqa: ANN001
    say = ctx.reporter.info
    say(f"To Billomat: {counts_text(plan.counts())}")
    for line in plan_lines(plan, mapping, limit=100, held=False):
        say(line)
    # Held deletes and conflicts explain an exit code 1: a quiet (cron) run that fails shows them too.
    for line in held_lines(plan, mapping):
        ctx.reporter.notice(line)
    counts = merge.to_workbook.counts()
    say(f"To the workbook: {counts['update']} cells updated, {counts['append']} rows added, {counts['remove']} rows removed")
    for row in merge.to_workbook.updates.head(100).itertuples(index=False):
        say(f"  {row.sheet} row {row.row}: {row.header}: {row.old!r} -> {row.new!r}")
    for sheet_name, rows in merge.to_workbook.appends.items():
        sheet_map = mapping.sheet_named(sheet_name)
        name = next((c.header for c in sheet_map.columns if c.field == "name"), "") if sheet_map else ""
        for record in rows.head(100).to_dict("records"):
            key = next(iter(record.values()), "")
            say(f"  {sheet_name}: a new row for {key} ({record.get(name, '')}; created in Billomat)")
    for row in merge.to_workbook.removals.head(100).itertuples(index=False):
        say(f"  {row.sheet} row {row.row}: removed ({row.key} {row.label}; deleted in Billomat)")
    for conflict in merge.held:
        ctx.reporter.notice(conflict_line(conflict))


def _write_workbook(  # noqa: ANN202
    ctx: Context, stage: StagedWorkbook, mapping, merge: Merge, report: LoadReport, current, base  # noqa: ANN001
):
    """Billomat's changes and the Konflikte sheet, then the ids of created rows, into the staged workbook.

    Returns what did not land in the workbook, so the next base keeps it pending (Merge.next_base), and
    whether the workbook changes (`stage.commit` writes it).
    Order matters: cells the merge blanks (a recreated row's old id) go before the new ids.
    """
    deleted = {r.change.key for r in report.results if r.change.resource == "clients" and r.change.action == "delete"
               and r.status == "done"}
    definitions = [frame.client_properties for frame in (base, current) if frame is not None]
    with stage.editing() as work:
        result = apply_workbook_changes(
            work,
            mapping,
            merge.to_workbook,
            merge.conflicts,
            deleted_ids=deleted,
            client_properties=definitions,
            guard=stage.writer_guard,
            backup=stage.backup,
        )
    stage.wrote(result.written)
    for problem in result.problems:
        ctx.reporter.warn(problem)
    with stage.editing() as work:
        ids = write_back_new_ids(
            ctx, stage.path, mapping, report, current, backup=stage.backup, guard=stage.writer_guard, target=work
        )
    stage.wrote(bool(ids and ids.written))
    return result.unwritten, stage.changed


def _summary(ctx: Context, merge: Merge, plan, report: LoadReport | None, reads: int, *, dry_run: bool) -> str:  # noqa: ANN001
    workbook = merge.to_workbook.counts()
    to_billomat = counts_text(plan.counts(), past=not dry_run)
    writes = report.requests if report is not None else 0
    verb = "sync --dry-run: would do" if dry_run else "sync:"
    return (
        f"{verb} Billomat {to_billomat}; workbook {workbook['update']} updated, {workbook['append']} added, "
        f"{workbook['remove']} removed; conflicts {len(merge.held)} held, {len(merge.resolved)} decided; "
        f"held deletes {len(plan.held)}; problems {len(plan.problems)}; {writes} write requests (+{reads} reads); "
        f"{ctx.elapsed():.1f} s"
    )
