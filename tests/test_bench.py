"""bench/run.py's pure helpers: the `sync -v` parser, the workbook edit the 100k sync starts from,
the issue-10 section and its splice into docs/benchmarks.md. (Speeds are measured, never asserted.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import xlsxwriter
from python_calamine import CalamineWorkbook

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """bench/run.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_run", REPO / "bench" / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module
    spec.loader.exec_module(module)
    return module


def test_parse_sync_output_reads_phases_and_requests(bench: ModuleType) -> None:
    text = (
        "Sync fertig.\nphases: read workbook 15.10 s, extract 15.40 s, write workbook 8.90 s\n"
        "0 write requests (+592 reads)\n"
    )
    assert bench.parse_sync_output(text) == {
        "phase read workbook": 15.1, "phase extract": 15.4, "phase write workbook": 8.9,
        "writes": 0.0, "reads": 592.0,
    }


@pytest.mark.parametrize("constant_memory", [True, False], ids=["inline strings", "shared strings"])
def test_edit_workbook_cells_appends_to_the_named_column_only(
    bench: ModuleType, tmp_path: Path, constant_memory: bool
) -> None:
    path = tmp_path / "k.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": constant_memory})
    ws = wb.add_worksheet("Kunden")
    rows = [["Billomat-ID", "Ort"], ["1", "Köln"], ["2", "A & B"], ["3", ""], ["4", "Bonn"]]
    for r, row in enumerate(rows):
        ws.write_row(r, 0, row)
    wb.add_worksheet("Kontakte").write_row(0, 0, ["Ort", "x"])
    wb.close()

    edited = bench.edit_workbook_cells(path, "Kunden", "Ort", [2, 3, 4], " (AM)")

    assert edited == 2  # row 4's Ort is empty: no cell to edit
    sheets = CalamineWorkbook.from_path(str(path))
    assert sheets.get_sheet_by_name("Kunden").to_python() == [
        ["Billomat-ID", "Ort"], ["1", "Köln (AM)"], ["2", "A & B (AM)"], ["3", ""], ["4", "Bonn"],
    ]
    assert sheets.get_sheet_by_name("Kontakte").to_python() == [["Ort", "x"]]


def _round(idle: float, edits: float, raw: tuple[float, float], peak: float) -> dict[str, Any]:
    return {
        "extract_raw": {"seconds": raw[0], "peak_mb": 40.0, "requests": 592.0},
        "read_raw": {"seconds": raw[1], "peak_mb": 350.0},
        "sync100k_idle": {"seconds": idle, "peak_mb": peak, "phase extract": 15.4, "reads": 592.0, "writes": 0.0},
        "sync100k_edits": {"seconds": edits, "peak_mb": peak, "phase extract": 16.0, "reads": 592.0, "writes": 1000.0},
    }


def test_render_sync100k_shows_this_run_beside_the_run_before(bench: ModuleType) -> None:
    before = {"commit": "108e6ba", "run_at": "2026-12-05 14:00 UTC", "size": 100_000,
              "rounds": [_round(58.0, 70.0, (10.0, 8.0), 2300.0)]}
    now = {"commit": "abc1234", "run_at": "2026-12-06 10:00 UTC", "size": 100_000,
           "rounds": [_round(30.0, 40.0, (11.0, 9.0), 1000.0), _round(27.0, 41.0, (10.0, 8.0), 1100.0)]}

    text = "\n".join(bench.render_sync100k(now, before))

    assert "| nothing to do (this run) | 27.0 s (27.0–30.0) | 18.0 s (18.0–20.0) | 1.50× | 1000 MB (1000–1100) |" in text
    assert "| nothing to do (before the redesign (108e6ba, 2026-12-05)) | 58.0 s | 18.0 s | 3.22× | 2300 MB |" in text
    assert "≤ 1.6× the raw calls: met; ≤ 1.2 GB: met" in text
    assert "CPU seconds" not in text  # rounds measured before measure() recorded them
    now["rounds"][0]["sync100k_idle"]["cpu_seconds"] = 20.0
    for raw in ("extract_raw", "read_raw"):
        now["rounds"][0][raw]["cpu_seconds"] = 8.0
    assert "nothing to do: billsync 20.0 s, raw calls 16.0 s, ratio 1.25×." in "\n".join(bench.render_sync100k(now, before))
    # the run that is itself the before-redesign measurement is shown once, under that name
    alone = "\n".join(bench.render_sync100k(before, before))
    assert "| nothing to do (before the redesign) | 58.0 s |" in alone
    assert "this run" not in alone and "≤ 1.6× the raw calls: **missed**" in alone


def test_splice_section_replaces_the_section_or_inserts_it_before_the_next(bench: ModuleType) -> None:
    doc = "# B\n\n## Sync\n\nold sync\n\n## Diff\n\ndiff\n\n## Machine\n\nm\n"
    section = ["", "## 100k", "", "new"]

    inserted = bench.splice_section(doc, "## 100k", section, ("## Diff", "## Machine"))
    assert inserted == "# B\n\n## Sync\n\nold sync\n\n## 100k\n\nnew\n\n## Diff\n\ndiff\n\n## Machine\n\nm\n"
    replaced = bench.splice_section(inserted, "## 100k", ["", "## 100k", "", "newer"], ("## Diff",))
    assert replaced == inserted.replace("\nnew\n", "\nnewer\n")
    assert bench.splice_section("# B\n", "## 100k", section, ("## Diff",)) == "# B\n\n## 100k\n\nnew\n"
