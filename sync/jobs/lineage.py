"""Which recorded state a workbook descends from, and recording the next one (SPEC §4, §6).

`find_base` finds the state `plan`, `push` and `sync` merge the workbook against: the state named by
the workbook's origin stamp (`sync.origin`); without a known stamp the newest state, with the older
states kept for the stale-value rule (`merge_account(older=...)`). `record_state` writes the state a
run ends with and then stamps the workbook with its id — in that order, so a crash in between leaves
a workbook stamped with an older state that is still kept, which is what it then still descends from.
With a `StagedWorkbook` the stamp goes into the staged copy, and the run's one workbook write (its
`commit`, after this) carries it together with the run's other changes; a commit that fails likewise
leaves the workbook with its older, kept stamp.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync.errors import BillsyncError
from sync.frames import AccountFrames
from sync.merge import STALE_COPY, Merge
from sync.origin import ORIGIN_FILE, ORIGIN_PROPERTY, new_state_id, read_origin, write_origin
from sync.record_rows import Rows, carried
from sync.state import StateDir
from sync.workbook.stage import StagedWorkbook
from sync.workbook_guard import WorkbookGuard

if TYPE_CHECKING:
    from sync.runtime import Session


@dataclass(frozen=True)
class Base:
    """The state a run compares the workbook with.

    - frames: that state (None: nothing recorded here yet; the workbook is then master as a whole);
    - origin: the workbook's stamp (None: it has none);
    - known: the stamp names a state still kept (`frames` is that state);
    - older: for an unknown origin, the older states kept (each may be what a stale copy holds);
    - state_id: the id of the state `frames` is (None: none, or recorded before states had ids).
    """

    frames: AccountFrames | None
    origin: str | None
    known: bool
    older: tuple[AccountFrames, ...] = ()
    state_id: str | None = None


def find_base(state: StateDir, sheet_path: Path) -> tuple[Base, str | None]:
    """The state the workbook descends from, and the warning to show when that is not known (else None).

    Prints nothing, so it can run in a thread beside the sheets' reading (`jobs.prepare` shows the warning).
    """
    origin = read_origin(sheet_path)
    found = state.read_state(origin) if origin else None
    if found is not None:
        return Base(found.frames, origin, known=True, state_id=found.state_id), None
    latest = state.read_snapshot()
    if latest is None:
        return Base(None, origin, known=False), None
    if origin:
        why = f"it names billsync state {origin}, which {state.path} no longer keeps"
    elif sheet_path.is_dir():
        why = f"the folder has no file {ORIGIN_FILE}"
    else:
        why = f"it has no document property {ORIGIN_PROPERTY!r}"
    warning = (
        f"{sheet_path}: cannot tell which billsync run this workbook comes from ({why}); comparing it with "
        f"the last run's state, and a value an earlier run wrote that Billomat has changed since is held as a "
        f"conflict, not sent. Pull a fresh workbook, or decide the conflicts (--prefer sheet)"
    )
    older = []
    for state_id in state.state_ids():
        if state_id == latest.state_id:
            continue
        kept = state.read_state(state_id)
        if kept is not None:
            older.append(kept.frames)
    return Base(latest.frames, origin, known=False, older=tuple(older), state_id=latest.state_id), warning


def record_state(
    ctx: Session,
    state: StateDir,
    sheet_path: Path,
    frames: Callable[[], AccountFrames],
    meta: dict[str, Any],
    base: Base,
    *,
    changed: bool,
    merge: Merge | None = None,
    guard: WorkbookGuard | None = None,
    stage: StagedWorkbook | None = None,
    rows: Sequence[Rows] = (),
) -> str | None:
    """Record the state a run ends with and stamp the workbook with it; returns the new id (None: none).

    `frames` builds that state: only called when a state is recorded (a quiet night skips the work of
    rebasing 100k records only to find it is the state the workbook already names).

    Nothing is recorded when the run changed nothing on either side and the workbook's origin is known
    (the state is then the one it already names). A workbook of unknown origin with `stale_copy`
    conflicts held keeps having none: stamping it would make its stale values look like edits next time.
    `stage`: the run's staged workbook; the stamp is then written into it (the caller commits it).
    `rows`: where the run saw, created or appended records in the workbook (sync.record_rows); the
    rows of the state it descends from are carried for the records it did not see there.
    """
    if not changed and base.known:
        return None
    state_id = new_state_id()
    after = frames()
    next_rows = carried(state.read_rows(base.state_id), *rows, frames=after)
    state.write_snapshot(after, meta, state_id=state_id, keep=[base.origin], rows=next_rows)
    if merge is not None and not base.known and any(c.kind == STALE_COPY for c in merge.held):
        return state_id
    try:
        if stage is None:
            write_origin(sheet_path, state_id, guard=guard)
        else:
            with stage.editing() as work:
                stage.wrote(write_origin(work, state_id, guard=stage.writer_guard) and stage.staged)
    except (BillsyncError, OSError) as exc:
        # The workbook keeps its older stamp, and that state is kept: the next run still merges right.
        ctx.reporter.warn(
            f"{sheet_path}: its origin stamp was not updated ({exc}); the next run compares it with its older state"
        )
    return state_id
