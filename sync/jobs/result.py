"""What plan, push and sync return: the counts, conflicts, held changes, problems and the exit code."""

from __future__ import annotations

from dataclasses import dataclass

from sync.desired import RowProblem
from sync.errors import EXIT_OK, EXIT_PARTIAL
from sync.jobs.prepare import Prepared
from sync.load import LoadReport, Result
from sync.merge import Conflict, Merge, WorkbookChanges
from sync.plan import HeldChange, Plan


@dataclass(frozen=True)
class JobResult:
    """One plan, push or sync: what was planned, what was sent, what stays to do (SPEC §2, §8).

    `report` is None when nothing was sent (plan, --dry-run); the exit code is computed here only.
    """

    command: str  # "plan", "push" or "sync"
    prepared: Prepared
    dry_run: bool = False
    report: LoadReport | None = None
    workbook_written: bool = False  # the workbook file was rewritten (Billomat's changes, new ids)
    state_id: str | None = None  # the state recorded at the end (None: none recorded)

    @property
    def plan(self) -> Plan:
        """The changes for Billomat, the held deletes and the rows left out."""
        return self.prepared.plan

    @property
    def merge(self) -> Merge | None:
        """The three-way merge (None: no recorded state, the workbook was master as a whole)."""
        return self.prepared.merge

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Changes per resource and action: planned (plan, --dry-run), else done."""
        if self.report is None:
            return self.plan.counts()
        done: dict[str, dict[str, int]] = {r.change.resource: {} for r in self.report.results if r.status == "done"}
        for result in self.report.results:
            if result.status == "done":
                per = done[result.change.resource]
                per[result.change.action] = per.get(result.change.action, 0) + 1
        return done

    @property
    def to_workbook(self) -> WorkbookChanges | None:
        """Billomat's changes since the workbook's state (sync writes them; plan and push leave them)."""
        return self.merge.to_workbook if self.merge is not None else None

    @property
    def conflicts(self) -> list[Conflict]:
        """Conflicts held: nothing was sent or written for them."""
        return self.prepared.held_conflicts

    @property
    def decided(self) -> list[Conflict]:
        """Conflicts --prefer or a decision in the Konflikte sheet settled."""
        return self.merge.resolved if self.merge is not None else []

    @property
    def held(self) -> list[HeldChange]:
        """Changes held back (the delete guard)."""
        return self.plan.held

    @property
    def problems(self) -> list[RowProblem]:
        """Rows left out of the plan, each naming sheet, row and column."""
        return self.plan.problems

    @property
    def failed(self) -> list[Result]:
        """Writes Billomat rejected, and the ones skipped because of them."""
        if self.report is None:
            return []
        return [*self.report.failed, *self.report.skipped]

    @property
    def new_ids(self) -> dict[str, str]:
        """Row key (`neu-…`, `row:N`) → the Billomat id of the record created for it."""
        if self.report is None:
            return {}
        return {**self.report.id_map, **self.report.contact_ids}

    @property
    def requests(self) -> int:
        """Write requests sent."""
        return self.report.requests if self.report is not None else 0

    @property
    def reads(self) -> int:
        """Read requests to plan."""
        return self.prepared.reads

    @property
    def exit_code(self) -> int:
        """0 done and in step; 1 something held, failed or left out — or, with nothing sent, changes pending."""
        pending = self.report is None and bool(self.plan.changes)
        conflicts = self.merge.exit_code if self.merge is not None else EXIT_OK
        undone = pending or conflicts or self.failed or self.held or self.problems
        return EXIT_PARTIAL if undone else EXIT_OK
