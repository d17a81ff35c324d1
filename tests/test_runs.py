"""The run history: listing from each run file's first and last line, finding a run, its writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.journal import Journal
from sync.mapping import load_mapping
from sync.plan import Change
from sync.runs import (
    RunNotFoundError,
    find_run,
    list_runs,
    run_writes,
    runs_lines,
    short_id,
    show_lines,
    summarize,
)
from tests.e2e import REPO

MAPPING = load_mapping(REPO / "mappings" / "billomat.yaml")


def update(city: str) -> Change:
    return Change("clients", "update", "1001", "Kunden", 3, {"city": ("Bonn", city)}, {"city": city})


def journalled(state: Path, run_id: str, *, close: int | None = 0) -> Journal:
    journal = Journal(state, command="push", workbook="/data/Kunden.xlsx", run_id=run_id)
    entry = journal.begin(update("Köln"))
    journal.finish(entry, "done", record_id="1001")
    journal.record(update("Ulm"), "failed", api_message="invalid city")
    if close is not None:
        journal.close(close, requests=2)
    return journal


def test_runs_are_listed_newest_first_with_counts_exit_and_requests(tmp_path: Path) -> None:
    journalled(tmp_path, "20261204-010000.000-aaaaaa")
    journalled(tmp_path, "20261205-010000.000-bbbbbb", close=1)
    journalled(tmp_path, "20261206-010000.000-cccccc", close=None)  # killed: no end line
    runs = list_runs(tmp_path)
    assert [r.short for r in runs] == ["cccccc", "bbbbbb", "aaaaaa"]
    killed, partial, ok = runs
    assert (ok.exit, ok.requests, ok.counts, ok.failed, ok.command) == (0, 2, {"clients": {"update": 1}}, 1, "push")
    assert partial.exit == 1
    assert killed.exit is None and killed.counts == {"clients": {"update": 1}}  # counted from its entries
    lines = runs_lines(runs)
    assert lines[1].startswith("cccccc") and "stopped" in lines[1] and "[Kunden.xlsx]" in lines[1]
    assert "clients 1 updated; 1 failed or skipped" in lines[3]
    assert [r.short for r in list_runs(tmp_path, limit=1)] == ["cccccc"]


def test_a_run_is_found_by_short_id_whole_id_or_last(tmp_path: Path) -> None:
    journalled(tmp_path, "20261204-010000.000-aaaaaa")
    journalled(tmp_path, "20261205-010000.000-bbbbbb")
    assert find_run(tmp_path, "aaaaaa").name == "20261204-010000.000-aaaaaa.jsonl"
    assert find_run(tmp_path, "20261205-010000.000-bbbbbb").name.startswith("20261205")
    assert find_run(tmp_path, "last").name.startswith("20261205")
    with pytest.raises(RunNotFoundError, match="no run 'zzzzzz'.*billsync runs"):
        find_run(tmp_path, "zzzzzz")
    with pytest.raises(RunNotFoundError, match="ambiguous"):
        find_run(tmp_path, "2026120")
    with pytest.raises(RunNotFoundError, match="no runs are recorded"):
        find_run(tmp_path / "empty", "last")
    assert short_id("20261205-010000.000-bbbbbb") == "bbbbbb" and short_id("run1") == "run1"


def test_show_lists_each_write_with_the_workbooks_headers_status_and_message(tmp_path: Path) -> None:
    journalled(tmp_path, "20261204-010000.000-aaaaaa")
    path = find_run(tmp_path, "aaaaaa")
    writes = run_writes(path)
    assert [w["status"] for w in writes] == ["done", "failed"]
    lines = show_lines(summarize(path), writes, MAPPING)
    assert lines[0].startswith("Run aaaaaa (20261204-010000.000-aaaaaa): push of /data/Kunden.xlsx")
    assert "  Kunden row 3: updated client 1001 — done" in lines
    assert "      Ort: 'Bonn' -> 'Köln'" in lines  # the header, not the API field `city`
    assert "  Kunden row 3: updated client 1001 — FAILED: invalid city" in lines


def test_a_later_run_closing_an_earlier_runs_entry_does_not_add_it_to_its_own_writes(tmp_path: Path) -> None:
    first = Journal(tmp_path, run_id="20261204-010000.000-aaaaaa")
    entry = first.begin(update("Köln"))  # killed before the answer
    later = Journal(tmp_path, run_id="20261205-010000.000-bbbbbb")
    later.finish(entry, "done", record_id="1001", api_message="resolved by a later run")
    assert run_writes(find_run(tmp_path, "bbbbbb")) == []
    assert [w["status"] for w in run_writes(find_run(tmp_path, "aaaaaa"))] == ["pending"]
