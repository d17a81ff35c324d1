"""pull as a library call: Billomat → workbook, and record the base snapshot (`billsync pull --out PATH`).

Onto an existing workbook (SPEC §4): refused while it is open in Excel/LibreOffice (exit 1); refused
(exit 2, nothing written) when it holds edits not yet pushed — the plan of the workbook against the
recorded state is not empty — or the accountants' own sheets or columns, unless `--force`. Whatever
is replaced is kept: `kunden.xlsx` → `kunden.bak.xlsx`, a CSV folder `kunden/` → `kunden.bak/`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sync import record_rows, sheet
from sync.atomic import atomic_copy
from sync.desired import read_desired
from sync.diff import diff_account
from sync.errors import EXIT_OK, WorkbookError
from sync.extract import extract_account
from sync.held_deletes import LOESCHUNGEN
from sync.jobs.common import billomat_client, billomat_mapping
from sync.mapping import Mapping, SheetMap
from sync.origin import new_state_id, read_origin
from sync.plan import build_plan
from sync.report import plan_lines
from sync.runtime import Session
from sync.state import Snapshot, StateDir, state_dir_for
from sync.workbook.owned import KONFLIKTE
from sync.workbook.parts import open_calamine
from sync.workbook_guard import (
    EXCEL_PREFIX,
    LIBREOFFICE_PREFIX,
    WorkbookGuard,
    check_not_open,
    workbook_files,
)
from sync.writeback import backup_path

SHOWN_EDITS = 3  # edits named in the refusal; `billsync plan` lists all of them


@dataclass(frozen=True)
class PullOptions:
    """How a pull runs (the CLI's flags of the same names)."""

    state_dir: Path | None = None  # --state (default: .billsync/ beside the workbook)
    force: bool = False  # replace a workbook holding edits not yet pushed or the accountants' own sheets


@dataclass(frozen=True)
class PullResult:
    """What a pull wrote: the workbook, the records per resource, the requests, the state recorded."""

    out: Path
    counts: dict[str, int]
    requests: int
    state_id: str
    kept: Path | None = None  # the previous workbook, kept as NAME.bak.xlsx / NAME.bak/

    @property
    def exit_code(self) -> int:
        """0: a pull that returns has written everything (a refusal raises)."""
        return EXIT_OK


def pull(session: Session, out: Path, options: PullOptions | None = None) -> PullResult:
    """Pull the account into the workbook; the base snapshot is recorded only after the workbook is written."""
    options = options or PullOptions()
    kept = None
    mapping = billomat_mapping(session)
    existing = _is_existing_workbook(out)
    if existing:
        check_not_open(out)  # exit 1: the person who has it open would save over the pull anyway
    bm = billomat_client(session)
    state = StateDir(state_dir_for(out, options.state_dir))
    with state.lock():
        guard = WorkbookGuard.capture(out)  # before it is examined: a save meanwhile stops the replace
        if existing:
            _refuse_unless_replaceable(session, out, mapping, state, force=options.force)
        session.reporter.info(f"Reading Billomat account at {bm.base_url}")
        bm.check_credentials()
        frames, stats = extract_account(bm, session.reporter)
        session.reporter.activity("Building the sheets")
        tables = sheet.build_tables(frames, mapping)
        rows = ", ".join(f"{name} {len(table):,} rows" for name, table in tables.items())
        if existing:
            guard.check()
            kept = _keep_backup(out)
            session.reporter.info(f"Kept the previous workbook as {kept}")
        session.reporter.info(f"Writing {out} ({rows}) ...")
        writing = time.monotonic()
        # The workbook carries the id of the state recorded below (sync.origin): its origin.
        state_id = new_state_id()
        total = sum(len(table) for table in tables.values())
        with session.reporter.bar(f"Writing {out.name}", total=total, unit="rows") as bar:
            sheet.write_workbook(tables, out, mapping, progress=bar.update, guard=guard, origin=state_id)
        session.reporter.info(f"  written in {time.monotonic() - writing:.1f} s")
        session.reporter.activity("Writing the base snapshot")
        state.write_snapshot(
            frames,
            {
                "command": "pull",
                "workbook": str(out.resolve()),
                "mapping": str(session.mapping_path()),
                "billomat_url": bm.base_url,
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "requests": stats.requests,
            },
            state_id=state_id,
            rows=record_rows.from_tables(tables, mapping),  # where each record's row is (Löschungen)
        )
    return PullResult(out, frames.counts(), bm.transport.request_count, state_id, kept)


def _is_existing_workbook(out: Path) -> bool:
    """An xlsx file, or a folder holding CSV files: something a pull would replace."""
    return out.is_file() or (out.is_dir() and bool(workbook_files(out)))


def _refuse_unless_replaceable(session: Session, out: Path, mapping: Mapping, state: StateDir, *, force: bool) -> None:
    """WorkbookError (exit 2) when replacing `out` would lose the accountants' work and --force is not given."""
    # Edits are what differs from the state the workbook descends from (an older copy's values are not).
    reasons = _accountants_work(out, mapping, state.read_state(read_origin(out)) or state.read_snapshot(), state)
    if not reasons:
        return
    kept = _backup_target(out)
    if force:
        session.reporter.warn(f"{out}: replaced (--force) although it holds {'; '.join(reasons)}; kept as {kept}")
        return
    raise WorkbookError(
        f"holds {'; '.join(reasons)}. A pull would replace it, so nothing was written. Push (or sync) the "
        f"edits first or pull into another file; --force replaces it anyway (the current one is then kept as "
        f"{kept})",
        file=out,
    )


def _accountants_work(out: Path, mapping: Mapping, snapshot: Snapshot | None, state: StateDir) -> list[str]:
    """What a pull onto `out` would lose: edits not yet pushed, own sheets, own columns (empty: nothing)."""
    try:
        tables = sheet.read_workbook(out, mapping)
    except WorkbookError as exc:
        return [f"something billsync cannot read as its workbook ({exc.detail})"]
    reasons = []
    own_sheets = _own_sheets(out, mapping)
    if own_sheets:
        reasons.append(f"the accountants' own sheet(s) {', '.join(map(repr, own_sheets))}")
    known = {sm.sheet: _known_headers(sm, snapshot) for sm in mapping.sheets.values()}
    own_columns = [
        f"{header!r} in sheet {name!r}"
        for name, table in tables.items()
        for header in table.columns
        if str(header).strip().casefold() not in known[name]
    ]
    if own_columns:
        reasons.append(f"the accountants' own column(s) {', '.join(own_columns)}")
    if snapshot is None:
        reasons.append(
            f"values billsync cannot tell from edits not yet pushed (no recorded state in {state.path})"
        )
        return reasons
    try:
        desired = read_desired(tables, mapping, snapshot.frames, source=str(out))
    except WorkbookError as exc:
        return [*reasons, f"something billsync cannot read as its workbook ({exc.detail})"]
    plan = build_plan(diff_account(snapshot.frames, desired, mapping), desired, snapshot.frames, mapping)
    edits = len(plan.changes) + len(plan.held) + len(plan.problems)
    if edits:
        shown = [line.strip() for line in plan_lines(plan, mapping, limit=SHOWN_EDITS) if line.strip()]
        reasons.insert(0, f"{edits} edit(s) not yet pushed ({'; '.join(shown[:SHOWN_EDITS])})")
    return reasons


def _known_headers(sm: SheetMap, snapshot: Snapshot | None) -> set[str]:
    """Headers billsync writes into a sheet: the mapping's, its tags column, the recorded property columns."""
    headers = {h.casefold() for h in sm.headers}
    if sm.tags is not None:
        headers.add(sm.tags.header.casefold())
    if sm.sync_column:
        headers.add(sm.sync_column.casefold())
    if snapshot is not None:
        headers |= {h.casefold() for _pid, h in sheet.property_columns(snapshot.frames.client_properties, sm)}
    return headers


def _own_sheets(out: Path, mapping: Mapping) -> list[str]:
    """Sheets (CSV files of a folder) that are neither the mapping's nor billsync's Konflikte."""
    ours = {sm.sheet.casefold() for sm in mapping.sheets.values()} | {KONFLIKTE.casefold(), LOESCHUNGEN.casefold()}
    if out.is_dir():
        names = [p.stem for p in workbook_files(out) if not p.stem.casefold().endswith(".bak")]
    else:
        try:
            with open_calamine(out) as workbook:  # closed again: the file is about to be replaced
                names = list(workbook.sheet_names)
        except WorkbookError:
            names = []
    return [name for name in names if name.casefold() not in ours]


def _backup_target(out: Path) -> Path:
    return out.with_name(f"{out.name}.bak") if out.is_dir() else backup_path(out)


def _keep_backup(out: Path) -> Path:
    """Keep the workbook about to be replaced: `kunden.xlsx` → `kunden.bak.xlsx`, folder `kunden/` → `kunden.bak/`."""
    target = _backup_target(out)
    if not out.is_dir():
        atomic_copy(out, target)
        return target
    # Copy beside it, then swap in: a crash leaves the previous backup or the new one, never half of one.
    scratch = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.bak."))
    try:
        shutil.copytree(
            out, scratch / "new", ignore=shutil.ignore_patterns(f"{EXCEL_PREFIX}*", f"{LIBREOFFICE_PREFIX}*")
        )
        if target.exists():
            target.rename(scratch / "old")
        (scratch / "new").rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
