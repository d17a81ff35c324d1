"""What a migration did: one `ClientResult` per Billomat client, the `MigrationResult` and its exit code."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sync.errors import (
    EXIT_OK,
    EXIT_PARTIAL,
)
from sync.migrate.plan import Unheld

log = logging.getLogger(__name__)

STATUSES = ("created", "updated", "unchanged", "skipped", "failed")


@dataclass
class ClientResult:
    """What happened to one Billomat client."""

    billomat_id: str
    number: str
    name: str
    status: str  # one of STATUSES
    snapbill_id: str = ""
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)  # param -> (SnapBill before, sent)
    unheld: list[Unheld] = field(default_factory=list)
    message: str = ""
    ignored: list[str] = field(default_factory=list)  # parameters SnapBill silently did not take
    skip_is_choice: bool = False
    gave_up: bool = False  # failed with a network/server error that outlived its retries

    @property
    def needs_attention(self) -> bool:
        """Failed, skipped for its data, or SnapBill silently ignored part of the write."""
        return (
            self.status == "failed"
            or (self.status == "skipped" and not self.skip_is_choice)
            or bool(self.ignored)
        )


@dataclass
class MigrationResult:
    """The outcome of one run: one result per Billomat client, in Billomat's order."""

    results: list[ClientResult]
    dry_run: bool = False
    requests: dict[str, int] = field(default_factory=dict)
    skipped_fields: list[str] = field(default_factory=list)  # if_defined rules the account has no field for

    def counts(self) -> dict[str, int]:
        """Clients per status (every status present, zero included)."""
        out = dict.fromkeys(STATUSES, 0)
        for result in self.results:
            out[result.status] += 1
        return out

    @property
    def exit_code(self) -> int:
        """0 when every client is in SnapBill as mapped (archived ones skipped by choice), else 1."""
        return EXIT_PARTIAL if any(r.needs_attention for r in self.results) else EXIT_OK
