"""Tests for sync.workbook.csvfolder: the workbook update on a folder of CSV files."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sync.desired import read_desired
from sync.mapping import Mapping
from sync.sheet import build_tables, read_workbook, write_workbook
from sync.workbook.update import apply_workbook_changes
from tests.test_workbook_update import (
    CONFLICTS_1,
    account,
    assert_same,
    changes,
    expect,
    konflikte,
    new_records,
    update,
)


def test_csv_folder_gets_the_changes_and_a_konflikte_csv(tmp_path: Path, mapping: Mapping) -> None:
    frames = account(4)
    folder = tmp_path / "mappe"
    write_workbook(build_tables(frames, mapping), folder, mapping)
    kunden = folder / "Kunden.csv"
    text = kunden.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    rows = [[*row, "Bemerkung" if i == 0 else f"x{i}; y"] for i, row in enumerate(rows)]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows)
    kunden.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    original = kunden.read_bytes()
    before = read_workbook(folder, mapping)
    ups = [
        update(before, "Kunden", 2 + i, "Firma", v)
        for i, v in enumerate(["=1+1", "'x", "Zeile 1\r\nZeile 2"])
    ]
    ups.append(update(before, "Kontakte", 2, "Vorname", " "))
    appends = new_records(mapping, [{"id": "1200", "name": "-neu", "zip": "00042"}])
    removals = [("clients", "Kunden", 5, "1004", "x", "")]
    report = apply_workbook_changes(
        folder,
        mapping,
        changes(ups, appends, removals),
        CONFLICTS_1,
        client_properties=frames.client_properties,
    )
    assert report.problems == [] and (report.updated, report.appended, report.removed) == (4, 1, 1)
    after = read_workbook(folder, mapping)
    want = expect(before, ups)
    assert_same({"Kunden": want["Kunden"].loc[[2, 3, 4]]}, {"Kunden": after["Kunden"].loc[[2, 3, 4]]})
    assert_same({"Kontakte": want["Kontakte"]}, after)
    assert after["Kunden"].at[5, "Bemerkung"] == "x4; y" and after["Kunden"].at[5, "Billomat-ID"] == ""
    assert after["Kunden"].at[6, "Firma"] == "-neu" and after["Kunden"].at[6, "PLZ"] == "00042"
    raw = kunden.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"'=1+1" in raw and b"''x" in raw and b"'-neu" in raw
    assert (folder / "Kunden.bak.csv").read_bytes() == original
    assert konflikte(folder)[1][:9] == ["Kunden", "2", "1001", "1001", "Ort", "Köln", "=Bonn",
                                        "Zeile 1\r\nZeile 2", "in beiden geändert"]  # fmt: skip
    assert (folder / "Konflikte.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    desired = read_desired(after, mapping, frames)
    assert 5 not in set(desired.clients["_row"]) and not [p for p in desired.problems if p.row == 5]
    # A repeat changes nothing and writes nothing.
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = apply_workbook_changes(
        folder,
        mapping,
        changes(ups, appends, removals),
        CONFLICTS_1,
        client_properties=frames.client_properties,
    )
    assert not again.written and again.problems == []
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
