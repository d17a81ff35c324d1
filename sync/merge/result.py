"""`Merge`: what `merge_account` returns — both sides' changes, the conflicts, and the next base."""

from __future__ import annotations

from dataclasses import dataclass

from sync.desired import Desired
from sync.frames import AccountFrames
from sync.merge.model import Conflict, Hold, WorkbookChanges
from sync.merge.next_base import apply_holds, unwritten_holds


@dataclass(frozen=True)
class Merge:
    """The result of `merge_account`."""

    to_billomat: Desired
    to_workbook: WorkbookChanges
    conflicts: tuple[Conflict, ...]
    holds: tuple[Hold, ...]
    base: AccountFrames | None = None

    @property
    def held(self) -> list[Conflict]:
        """Conflicts nobody decided: neither side changed for them."""
        return [c for c in self.conflicts if c.held]

    @property
    def resolved(self) -> list[Conflict]:
        """Conflicts `prefer` or a decision settled."""
        return [c for c in self.conflicts if not c.held]

    @property
    def exit_code(self) -> int:
        """1 when conflicts are held (SPEC §2: something was held), else 0."""
        return 1 if self.held else 0

    def next_base(self, after: AccountFrames, *, unwritten: WorkbookChanges | None = None) -> AccountFrames:
        """The base snapshot for the next run, from `after` (Billomat after the load: `load.rebase`).

        Held conflicts keep B's state so the next run finds them again (a base that took Billomat's value
        would let the workbook's value win silently next time, and one that took a held record would turn
        it into a delete). `unwritten`: the workbook changes that did not land; they are held the same way
        (an update keeps B's value, an append is left out, a removal keeps B's record), so the next run
        tries them again instead of reading the unchanged workbook as an edit.
        """
        holds = list(self.holds)
        if unwritten is not None:
            holds += unwritten_holds(unwritten)
        return apply_holds(after, self.base, holds)

    def counts(self) -> dict[str, dict[str, int]]:
        """Summary: workbook changes and conflicts (held / resolved)."""
        return {
            "workbook": self.to_workbook.counts(),
            "conflicts": {"held": len(self.held), "resolved": len(self.resolved)},
        }
