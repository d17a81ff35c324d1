"""The jobs as library calls: pull returns a `PullResult`, migrate a `MigrationResult`; plan, push and sync a `JobResult` with counts, conflicts and exit code.

    from pathlib import Path
    from sync.jobs import Options, Session, sync
    from sync.settings import load_settings

    result = sync(Session(settings=load_settings(None)), Path("kunden.xlsx"), Options(prefer="billomat"))
    print(result.counts, len(result.conflicts), result.exit_code)

A `Session` without a reporter is silent; the CLI (sync/commands/) passes its own and prints the result.
"""

from sync.jobs.migration import MigrateOptions, migrate
from sync.jobs.one_way import plan, push
from sync.jobs.prepare import Options, Prepared
from sync.jobs.pull_workbook import PullOptions, PullResult, pull
from sync.jobs.result import JobResult
from sync.jobs.two_way import sync
from sync.runtime import Session, silent_reporter

__all__ = ["JobResult", "MigrateOptions", "Options", "Prepared", "PullOptions", "PullResult", "Session", "migrate", "plan", "pull", "push", "silent_reporter", "sync"]
