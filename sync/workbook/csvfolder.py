"""The workbook update on a CSV folder: the affected `<Sheet>.csv` files rewritten, the owned sheets beside them.

Each file is rewritten atomically (one `.bak` each), keeping every column, separator, BOM and line
ending; new values get the CSV formula guard (`csv_value`) exactly as `sheet.write_workbook` writes them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sync.mapping import Mapping
from sync.workbook.csvfiles import (
    CsvFile,
    CsvFolder,
    csv_value,
    read_csv,
    read_folder,
    save_csv,
    unescape_csv,
)
from sync.workbook.owned import KONFLIKTE, OwnedSheet, carried_decisions, konflikte_sheets
from sync.workbook.planner import UpdateRequest, WorkbookUpdateReport, plan_request
from sync.workbook.save import backup_path, replacing
from sync.workbook_guard import WorkbookGuard


class CsvTarget:
    """A workbook kept as a folder of `<Sheet>.csv` files: each changed file rewritten, owned sheets as CSVs."""

    def __init__(self, folder: Path, mapping: Mapping, guard: WorkbookGuard) -> None:
        self.folder = folder
        self.mapping = mapping
        self.guard = guard

    def apply(self, request: UpdateRequest) -> WorkbookUpdateReport:
        """Plan the changes on the files' cells, rewrite the files that change, then the owned sheets."""
        mapping = self.mapping
        folder = read_folder(self.folder, mapping)
        files = folder.files
        planner = plan_request(mapping, folder.grids(), {}, request, np.iinfo(np.int64).max)
        report = planner.report(request.changes, request.conflicts)
        for name, plan in planner.plans.items():
            if not plan.cells:
                continue
            file = files[name]
            width = max((len(r) for r in file.rows), default=0)
            for (row, col), edit in sorted(plan.cells.items()):
                while len(file.rows) < row:
                    file.rows.append([""] * width)
                cells = file.rows[row - 1]
                cells.extend([""] * (col + 1 - len(cells)))
                cells[col] = csv_value(edit.value)
            with replacing(file.path, self.guard) as tmp:
                save_csv(file, tmp)
            report.written = True
            report.backup = backup_path(file.path)
        existing = folder.find(KONFLIKTE)
        carried = (
            carried_decisions(
                [[unescape_csv(v) for v in r] for r in read_csv(existing, mapping.csv.separator).rows], mapping
            )
            if existing is not None
            else {}
        )
        for own in (*konflikte_sheets(request.conflicts, carried, mapping), *request.owned):
            self.owned(own, folder, report)
        return report

    def owned(self, sheet: OwnedSheet, folder: CsvFolder, report: WorkbookUpdateReport) -> None:
        """Write one owned sheet's CSV when it lists something or exists (and only when its bytes change)."""
        existing = folder.find(sheet.name)
        if not sheet.rows and existing is None:
            return
        like = next(iter(folder.files.values()), None)
        target = existing if existing is not None else self.folder / f"{sheet.name}.csv"
        rows = sheet.body()
        out = CsvFile(
            target,
            like.bom if like else self.mapping.csv.encoding.replace("_", "-").lower() == "utf-8-sig",
            like.separator if like else self.mapping.csv.separator,
            like.newline if like else "\r\n",
            [[csv_value(str(v)) for v in row] for row in [list(sheet.headers), *rows]],
        )
        if existing is not None and existing.read_bytes() == out.data():
            return
        with replacing(target, self.guard) as tmp:
            save_csv(out, tmp)
        report.written = True
        report.backup = report.backup or backup_path(target)


