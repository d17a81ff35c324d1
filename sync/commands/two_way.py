"""`billsync sync --sheet PATH`: the nightly two-way merge of workbook, Billomat and the base snapshot."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sync import sheet
from sync.commands.common import billomat_client, billomat_mapping, write_back_new_ids
from sync.commands.lineage import record_state, workbook_base
from sync.commands.plan import add_delete_arguments, add_sheet_argument
from sync.desired import read_desired
from sync.diff import diff_account
from sync.errors import EXIT_OK, EXIT_PARTIAL
from sync.extract import extract_account
from sync.journal import Journal
from sync.load import LoadReport, LoadStopped, apply_plan, markers_in, rebase
from sync.merge import Merge, merge_account, reading_frames
from sync.plan import build_plan
from sync.report import conflict_line, counts_text, plan_lines
from sync.state import StateDir, state_dir_for
from sync.workbook_update import apply_workbook_changes, read_decisions

if TYPE_CHECKING:
    from sync.cli import Context

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
    with state.lock(clock=ctx.clock):
        mapping = billomat_mapping(ctx)
        with phases("read workbook"):
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
        with phases("merge"):
            desired = read_desired(tables, mapping, reading_frames(base, current), source=str(sheet_path))
            merge = merge_account(
                base, current, desired, mapping, prefer=ctx.args.prefer, decisions=decisions, older=origin.older
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
        for warning in plan.warnings:
            ctx.reporter.warn(str(warning))
        for problem in plan.problems:
            ctx.reporter.warn(f"left out: {problem}")
        _show(ctx, merge, plan, mapping)
        if ctx.args.dry_run:
            ctx.reporter.summary(_summary(ctx, merge, plan, None, reads, dry_run=True))
            return EXIT_PARTIAL if merge.held or plan.changes or plan.held or plan.problems else EXIT_OK

        journal = Journal(state.path)
        try:
            with phases("load"):
                # Records a killed earlier run created carry their marker: adopt them, never create twice.
                report = apply_plan(plan, bm, journal, marked=markers_in(current))
        except LoadStopped as stopped:
            _write_workbook(ctx, sheet_path, mapping, merge, stopped.report, current, base)
            raise
        with phases("write workbook"):
            unwritten, written = _write_workbook(ctx, sheet_path, mapping, merge, report, current, base)
        with phases("snapshot"):
            record_state(
                ctx,
                state,
                sheet_path,
                merge.next_base(rebase(current, report), unwritten=unwritten),
                {
                    "command": "sync",
                    "workbook": str(sheet_path.resolve()),
                    "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                },
                origin,
                changed=written or any(r.status == "done" for r in report.results),
                merge=merge,
            )
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


def _show(ctx: Context, merge: Merge, plan, mapping) -> None:  # noqa: ANN001
    say = ctx.reporter.info
    say(f"To Billomat: {counts_text(plan.counts())}")
    for line in plan_lines(plan, mapping, limit=100):
        say(line)
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
        say(conflict_line(conflict))


def _write_workbook(  # noqa: ANN202
    ctx: Context, sheet_path: Path, mapping, merge: Merge, report: LoadReport, current, base  # noqa: ANN001
):
    """Billomat's changes and the Konflikte sheet, then the ids of created rows (atomic, one .bak each).

    Returns what did not land in the workbook, so the next base keeps it pending (Merge.next_base), and
    whether the workbook file was rewritten.
    Order matters: cells the merge blanks (a recreated row's old id) go before the new ids.
    """
    deleted = {r.change.key for r in report.results if r.change.resource == "clients" and r.change.action == "delete"
               and r.status == "done"}
    definitions = [frame.client_properties for frame in (base, current) if frame is not None]
    result = apply_workbook_changes(
        sheet_path, mapping, merge.to_workbook, merge.conflicts, deleted_ids=deleted, client_properties=definitions
    )
    for problem in result.problems:
        ctx.reporter.warn(problem)
    # A second write in the same run: keep the .bak the first one made (the workbook before the run).
    ids = write_back_new_ids(ctx, sheet_path, mapping, report, current, backup=not result.written)
    return result.unwritten, result.written or bool(ids and ids.written)


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
