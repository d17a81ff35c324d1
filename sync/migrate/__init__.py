"""Billomat → SnapBill client migration: desired state per client, matching, writes, verification.

Nothing is created twice: a client is found again by the id map or its number first (`run.py`).

`plan` is the desired state (pure), `idmap` the id map, `run` the `Migration` that writes, `result`
what it did. Callers import from `sync.migrate`.
"""

from sync.migrate.idmap import ID_MAP_FILE, ID_MAP_FORMAT, IdMap
from sync.migrate.plan import (
    ClientPlan,
    Sources,
    Unheld,
    current_params,
    differences,
    plan_all,
    plan_client,
    sources_from_frames,
)
from sync.migrate.result import STATUSES, ClientResult, MigrationResult
from sync.migrate.run import Migration

__all__ = [
    "ID_MAP_FILE",
    "ID_MAP_FORMAT",
    "STATUSES",
    "ClientPlan",
    "ClientResult",
    "IdMap",
    "Migration",
    "MigrationResult",
    "Sources",
    "Unheld",
    "current_params",
    "differences",
    "plan_all",
    "plan_client",
    "sources_from_frames",
]
