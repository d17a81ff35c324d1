"""Replay a Plan against Billomat (`apply_plan` → `LoadReport`) and make the account after it (`rebase`).

`apply` sends the changes, `adopt` finds what an earlier, interrupted run created, `ids` keeps the
ids made for workbook rows, `records` the markers and payloads, `report` the results and `rebase`
the account after the load. Callers import from `sync.load`.
"""

from sync.load.apply import apply_plan
from sync.load.rebase import rebase
from sync.load.records import MARKER_PREFIX, before_delete, change_payload, make_marker, markers_in
from sync.load.report import LoadReport, LoadStopped, ProgressHook, Result

__all__ = [
    "MARKER_PREFIX",
    "LoadReport",
    "LoadStopped",
    "ProgressHook",
    "Result",
    "apply_plan",
    "before_delete",
    "change_payload",
    "make_marker",
    "markers_in",
    "rebase",
]
