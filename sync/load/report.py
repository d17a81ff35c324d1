"""What a load did: one `Result` per change, the `LoadReport`, and `LoadStopped` for a run that stopped."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sync.errors import EXIT_FATAL, BillsyncError
from sync.plan import Change

ProgressHook = Callable[[int, int, "Result"], None]
"""on_progress(done, total, result): called after each change (the CLI moves its bar)."""


@dataclass(frozen=True)
class Result:
    """What became of one change: `done`, `failed` (the API said no) or `skipped` (a dependency failed)."""

    change: Change
    status: str
    record_id: str = ""
    api_message: str = ""  # the API's message, or billsync's reason for a skip or an adoption
    record: dict[str, str] | None = None  # the record as Billomat answered (None: no answer to show)
    client_id: str = ""  # the resolved client id (contacts, property values, tags; clients: the id)


@dataclass(frozen=True)
class LoadReport:
    """Every result in plan order, the new ids, and the requests the load used."""

    results: list[Result] = field(default_factory=list)
    id_map: dict[str, str] = field(default_factory=dict)  # client row key (row:N / neu-…) -> new id
    contact_ids: dict[str, str] = field(default_factory=dict)  # contact row key (row:N) -> new id
    requests: int = 0  # write requests sent (POST/PUT/DELETE, repeats included)
    lookups: int = 0  # reads the load needed (landed checks, journal recovery, tag ids)

    def counts(self) -> dict[str, int]:
        """Number of results per status (done, failed, skipped)."""
        out = {"done": 0, "failed": 0, "skipped": 0}
        for result in self.results:
            out[result.status] = out.get(result.status, 0) + 1
        return out

    @property
    def failed(self) -> list[Result]:
        """Changes the API refused (HTTP 400, a record gone meanwhile)."""
        return [r for r in self.results if r.status == "failed"]

    @property
    def skipped(self) -> list[Result]:
        """Changes not sent because something they depend on failed."""
        return [r for r in self.results if r.status == "skipped"]


class LoadStopped(BillsyncError):
    """The run stopped at a change (retries exhausted, network down, …); `.report` holds what was done."""

    def __init__(self, error: BaseException, report: LoadReport, change: Change | None, total: int) -> None:
        self.error, self.report, self.change = error, report, change
        self.exit_code = getattr(error, "exit_code", EXIT_FATAL)
        where = ""
        if change is not None:
            row = f" row {change.row}" if change.row is not None else f" {change.key}"
            where = f" at {change.resource} {change.action} ({change.sheet}{row})"
        super().__init__(
            f"push stopped after {len(report.results)} of {total} changes{where}: {error}. "
            "Nothing is lost: the next run completes the rest without creating anything twice"
        )
