"""The step plan, push and sync share: read the workbook and its state, read Billomat, merge, plan.

With a recorded state the workbook's edits are what differs from the state it descends from
(`jobs.lineage.find_base`), decided by the merge (`merge_account`) so that what Billomat changed
since is left alone (push) or brought into the workbook (sync), and a field changed on both sides is a
conflict. Without any recorded state, plan and push take the workbook as master as a whole (a plain
diff against Billomat); sync merges anyway (every differing field is a conflict unless --prefer).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sync import held_deletes, parking, sheet
from sync.clients.billomat import Billomat
from sync.desired import Desired, read_desired
from sync.diff import diff_account
from sync.extract import extract_account
from sync.frames import RESOURCES, AccountFrames
from sync.jobs.common import billomat_client, billomat_mapping
from sync.jobs.lineage import Base, find_base
from sync.load import markers_in
from sync.mapping import Mapping
from sync.memory import release_free_memory
from sync.merge import Conflict, Merge, Side, WorkbookChanges, merge_account, reading_frames
from sync.plan import Plan, build_plan
from sync.runtime import Session
from sync.state import StateDir, state_dir_for
from sync.workbook.owned import read_decisions
from sync.workbook_guard import WorkbookGuard, check_not_open, lock_files


@dataclass(frozen=True)
class Options:
    """How plan, push and sync run (the CLI's flags of the same names)."""

    state_dir: Path | None = None  # --state (default: .billsync/ beside the workbook)
    prefer: Side | None = None  # "sheet" (plan, push, sync) or "billomat" (sync): decides conflicts
    allow_deletes: bool = False
    max_deletes: int | None = None
    dry_run: bool = False  # push and sync: plan and show, write nothing


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


@dataclass
class Prepared:
    """Everything between reading both sides and having a plan."""

    bm: Billomat
    mapping: Mapping
    current: AccountFrames
    desired: Desired
    plan: Plan
    reads: int
    guard: WorkbookGuard  # the workbook as it was read: checked before every write
    base: Base  # the state the workbook descends from (frames None: nothing recorded yet)
    merge: Merge | None = None  # None: no recorded state, the workbook is master as a whole
    phases: Phases = field(default_factory=Phases)
    parked: parking.Parked = parking.Parked()  # clients parked in the Sync column (left out of everything)
    deletions: held_deletes.Decisions = field(default_factory=lambda: held_deletes.Decisions({}, {}))  # sheet Löschungen
    merged_base: AccountFrames | None = None  # the base as merged: parked clients left out

    @property
    def held_conflicts(self) -> list[Conflict]:
        """Fields and records both sides changed, held (nothing sent for them)."""
        return self.merge.held if self.merge is not None else []

    @property
    def left_alone(self) -> WorkbookChanges | None:
        """What changed in Billomat since the workbook's state: push leaves it as it is (and lists it)."""
        return self.merge.to_workbook if self.merge is not None else None


def state_of(sheet_path: Path, options: Options) -> StateDir:
    """The state directory of a workbook: --state, else .billsync/ beside it."""
    return StateDir(state_dir_for(sheet_path, options.state_dir))


def warn_if_open(session: Session, sheet_path: Path) -> None:
    """A run that only reads says when the workbook is open: what it reads is the last saved version."""
    for lock in lock_files(sheet_path):
        session.reporter.warn(
            f"{sheet_path}: open in {lock.program} by {lock.who()} (lock file {lock.path}); "
            "this reads the last saved version"
        )


def stop_if_open(session: Session, sheet_path: Path, options: Options) -> None:
    """Before a run that may write: open in Excel or LibreOffice, change nothing anywhere (SPEC §4) — not
    even Billomat: ids could not be written back and the next save may still change the rows. A dry run
    only says so."""
    if options.dry_run:
        warn_if_open(session, sheet_path)
    else:
        check_not_open(sheet_path)


def prepare(session: Session, sheet_path: Path, options: Options, *, two_way: bool = False) -> Prepared:
    """Read the workbook (first: a broken one costs no API calls) and its state, then Billomat; merge and plan.

    `two_way` (sync): the Konflikte sheet's decisions count, the merge runs even without a recorded
    state, and records an unfinished earlier run created for still-new rows are left to the loader.
    """
    reporter = session.reporter
    phases = Phases()
    state = state_of(sheet_path, options)
    mapping = billomat_mapping(session)
    decisions: dict[tuple[str, str, str], Side] = {}
    with phases("read workbook"):
        reporter.activity(f"Reading {sheet_path.name}")
        guard = WorkbookGuard.capture(sheet_path)  # before reading: a save while reading counts as a change
        # The state this workbook descends from (its origin stamp), not simply the newest one: a copy
        # saved from before the last sync must not undo what that sync brought in. It is read in a
        # thread beside the sheets: calamine and pandas' CSV parser release the GIL while they parse,
        # so on two cores the state costs about nothing (100k clients: 1.8 s otherwise).
        with ThreadPoolExecutor(1, thread_name_prefix="billsync-state") as pool:
            found = pool.submit(find_base, state, sheet_path)
            tables = sheet.read_workbook(sheet_path, mapping)
            base, unknown_origin = found.result()
        release_free_memory(sum(table.size for table in tables.values()))  # what the parsing threads freed
        if unknown_origin:
            reporter.warn(unknown_origin)
        if two_way:
            # Decisions the accountant typed into the Konflikte sheet (column Entscheidung).
            decisions, decision_problems = read_decisions(sheet_path, mapping)
            for problem in decision_problems:
                reporter.warn(problem)
        # `löschen` / `behalten` typed into the sheet Löschungen for the deletes held last time.
        deletions = held_deletes.read_decisions(sheet_path, mapping)
    if two_way and base.frames is None:
        reporter.warn(
            f"{state.snapshot_path}: no base snapshot yet (no pull or sync has finished here): every field "
            "that differs is a conflict unless --prefer decides; run 'billsync pull' first for a clean start"
        )
    bm = billomat_client(session)
    reporter.info(f"Reading Billomat account at {bm.base_url}")
    with phases("extract"):
        current, _stats = extract_account(bm, reporter)
    reads = bm.transport.request_count
    reporter.activity("Merging workbook, Billomat and the last run" if two_way else "Comparing the workbook with Billomat")
    merge = None
    merged_base = None
    with phases("merge"):
        # The workbook was written from its base state: read (Excel's rewrites) against it.
        reading = current if base.frames is None else reading_frames(base.frames, current)
        desired = to_billomat = read_desired(tables, mapping, reading, source=str(sheet_path))
        # Clients parked in the Sync column: out of all three sides, nothing moves for them.
        parked = parking.parked(tables, mapping)
        # The sheets as read are not needed any more (desired holds what counts): let them go before the
        # merge, the run's peak of memory.
        del tables
        desired, current = parking.park_desired(desired, parked), parking.park(current, parked)
        if base.frames is not None or two_way:
            merged_base = parking.park(base.frames, parked)
            kept = held_deletes.without_kept(
                merged_base, deletions, held_deletes.workbook_ids(desired.clients, desired.contacts)
            )
            billomat = _without_landed_creates(merged_base, current, desired, mapping) if two_way else current
            merge = merge_account(
                kept,
                billomat,
                desired,
                mapping,
                prefer=options.prefer,
                decisions=decisions if two_way else None,
                older=base.older,
            )
            to_billomat = merge.to_billomat
    with phases("plan"):
        # The base tells which inheriting contact cells the accountant did not edit (sync/inherit.py);
        # sync's merge has already decided those against its base.
        diff = diff_account(current, to_billomat, mapping, None if two_way else base.frames)
        plan = build_plan(
            diff,
            to_billomat,
            current,
            mapping,
            allow_deletes=options.allow_deletes,
            max_deletes=options.max_deletes,
        )
        plan = held_deletes.decide(plan, deletions)
    reporter.activity(None)
    for problem in deletions.problems:
        reporter.warn(problem)
    for warning in plan.warnings:
        reporter.warn(str(warning))
    for left_out in plan.problems:
        reporter.warn(f"left out: {left_out}")
    return Prepared(
        bm, mapping, current, desired, plan, reads, guard, base, merge, phases, parked, deletions, merged_base
    )


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
