"""What the steps of one merge share: the states it reads, its scope, its ledger and its workbook side."""

from __future__ import annotations

from dataclasses import dataclass

from sync.mapping import SheetMap
from sync.merge.ledger import Ledger
from sync.merge.sheet_terms import SheetTerms, WorkbookOut
from sync.merge.states import Scope, States


@dataclass(frozen=True)
class Context:
    """One merge's shared parts; each step reads the states and writes to the ledger and the workbook side."""

    states: States
    scope: Scope
    ledger: Ledger
    out: WorkbookOut

    @property
    def terms(self) -> SheetTerms:
        """Where fields show in the workbook."""
        return self.out.terms

    @property
    def cs(self) -> SheetMap | None:
        """The clients' sheet, if mapped."""
        return self.out.terms.cs

    @property
    def ks(self) -> SheetMap | None:
        """The contacts' sheet, if mapped."""
        return self.out.terms.ks
