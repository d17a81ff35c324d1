"""The write journal: fsync'd JSON lines, torn last lines, what is pending and what was created."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.journal import JOURNAL, KEEP_RUNS, RECOVERY_RUNS, Journal, new_run_id, rotate, run_files
from sync.plan import Change


def client_create(row: int = 7, marker: str = "billsync:abc") -> Change:
    return Change(
        "clients",
        "create",
        f"row:{row}",
        "Kunden",
        row,
        {"name": ("", "Neu GmbH"), "zip": ("", "01067")},
        {"name": "Neu GmbH", "zip": "01067"},
        marker=marker,
    )


def lines(path: Path, run_id: str = "run1") -> list[dict]:
    """The entry lines of one run's file (its start and end lines left out)."""
    text = (path / "runs" / f"{run_id}.jsonl").read_text(encoding="utf-8")
    return [x for x in (json.loads(line) for line in text.splitlines() if line) if "entry" in x]


def test_begin_and_finish_write_complete_lines_that_read_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path, run_id="run1")
    change = client_create()
    entry = journal.begin(change)
    # The pending line is on disk before the request goes out.
    (pending,) = lines(tmp_path)
    assert pending["status"] == "pending" and pending["entry"] == entry
    journal.finish(entry, "done", record_id="1031", api_message="")
    first, last = lines(tmp_path)
    assert first["entry"] == last["entry"] == entry
    assert last["status"] == "done" and last["record_id"] == "1031"
    for line in (first, last):
        assert line["run_id"] == "run1" and line["time"]
        assert (line["resource"], line["action"], line["key"], line["sheet"], line["row"]) == (
            "clients",
            "create",
            "row:7",
            "Kunden",
            7,
        )
        assert line["marker"] == "billsync:abc"
        assert line["fields"] == {"name": ["", "Neu GmbH"], "zip": ["", "01067"]}
    # A new Journal on the same dir knows it.
    again = Journal(tmp_path)
    assert again.created("billsync:abc") == "1031"
    assert again.pending_creates() == {}
    assert [e["status"] for e in again.entries()] == ["done"]


def test_pending_creates_and_created(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    landed = journal.begin(client_create(1, "m-landed"))
    unknown = journal.begin(client_create(2, "m-unknown"))
    refused = journal.begin(client_create(3, "m-refused"))
    update = journal.begin(Change("clients", "update", "1001", "Kunden", 4, {"city": ("A", "B")}))
    journal.finish(landed, "done", record_id="11")
    journal.finish(refused, "failed", api_message="invalid email address")
    # A crash here: `unknown` and the update stay pending.
    reopened = Journal(tmp_path)
    assert set(reopened.pending_creates()) == {"m-unknown"}
    assert reopened.pending_creates()["m-unknown"]["entry"] == unknown
    assert {e["entry"] for e in reopened.pending()} == {unknown, update}
    assert reopened.created("m-landed") == "11"
    assert reopened.created("m-unknown") is None
    assert reopened.created("m-refused") is None  # a refused create is tried again next run
    assert reopened.created("never") is None
    # The next run resolves it (found in Billomat): closed, and recorded as done for that marker.
    reopened.finish(unknown, "done", record_id="12", api_message="landed; adopted")
    assert reopened.pending_creates() == {}
    assert Journal(tmp_path).created("m-unknown") == "12"


def test_a_later_entry_for_the_same_marker_supersedes_a_pending_one(tmp_path: Path) -> None:
    Journal(tmp_path, run_id="run1").begin(client_create(1, "m"))  # killed
    Journal(tmp_path, run_id="run2").record(client_create(1, "m"), "done", record_id="99", api_message="adopted")
    reopened = Journal(tmp_path)
    assert reopened.pending_creates() == {}
    assert reopened.created("m") == "99"


def test_a_torn_last_line_is_skipped_and_the_next_line_starts_fresh(tmp_path: Path) -> None:
    journal = Journal(tmp_path, run_id="r")
    done = journal.begin(client_create(1, "m1"))
    journal.finish(done, "done", record_id="5")
    journal.begin(client_create(2, "m2"))
    # A kill in the middle of writing the closing line of m2.
    with open(tmp_path / "runs" / "r.jsonl", "ab") as fh:
        fh.write(b'{"entry":"r-00003","time":"2024-01-01T00:00:00","status":"do')
    reopened = Journal(tmp_path, run_id="r")
    assert reopened.torn_lines == 1
    assert reopened.created("m1") == "5"
    assert set(reopened.pending_creates()) == {"m2"}  # still uncertain: looked up next run
    entry = reopened.begin(client_create(3, "m3"))
    reopened.finish(entry, "done", record_id="7")
    third = Journal(tmp_path)
    assert third.torn_lines == 1 and third.created("m3") == "7" and third.created("m1") == "5"
    raw = (tmp_path / "runs" / "r.jsonl").read_bytes()
    assert raw.endswith(b"\n") and b'"do\n{' in raw  # the torn line was closed, not glued to the next


def test_entry_ids_stay_unique_when_a_run_id_is_reused(tmp_path: Path) -> None:
    first = Journal(tmp_path, run_id="same").begin(client_create(1, "a"))
    second = Journal(tmp_path, run_id="same").begin(client_create(2, "b"))
    assert first != second
    assert set(Journal(tmp_path).pending_creates()) == {"a", "b"}


def test_pending_for_finds_an_uncertain_tag_add_of_the_same_client_and_name(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    add = Change("client_tags", "add", "", "Kunden", 4, {}, {}, client_key="neu-1", ref="VIP")
    journal.begin(add, client_id="1031")
    reopened = Journal(tmp_path)
    assert len(reopened.pending_for(add, "1031")) == 1
    assert reopened.pending_for(add, "1032") == []
    other = Change("client_tags", "add", "", "Kunden", 4, {}, {}, client_key="neu-1", ref="Newsletter")
    assert reopened.pending_for(other, "1031") == []


def test_finish_refuses_an_unknown_entry_or_status(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    entry = journal.begin(client_create())
    with pytest.raises(ValueError, match="done, failed or skipped"):
        journal.finish(entry, "pending")
    with pytest.raises(ValueError, match="no journal entry"):
        journal.finish("nope", "done")


def test_run_ids_are_distinct() -> None:
    assert new_run_id() != new_run_id()


def test_each_run_has_its_own_file_with_a_start_and_an_end_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path, command="push", workbook="/x/Kunden.xlsx", run_id="20261205-010203-abcdef")
    done = journal.begin(client_create(1, "m1"))
    journal.finish(done, "done", record_id="5")
    journal.record(client_create(2, "m2"), "skipped", api_message="client not created")
    journal.close(1, requests=3)
    path = tmp_path / "runs" / "20261205-010203-abcdef.jsonl"
    first, *_, last = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert first["event"] == "start" and first["command"] == "push" and first["workbook"] == "/x/Kunden.xlsx"
    assert last == {**last, "event": "end", "exit": 1, "requests": 3, "failed": 1}
    assert last["counts"] == {"clients": {"create": 1}}
    assert path.stat().st_mode & 0o777 == 0o600 and path.parent.stat().st_mode & 0o777 == 0o700
    assert not (tmp_path / JOURNAL).exists()


def test_opening_reads_nothing_and_a_run_that_writes_nothing_leaves_no_file(tmp_path: Path) -> None:
    Journal(tmp_path, run_id="old").begin(client_create(1, "m1"))
    (tmp_path / "runs" / "old.jsonl").chmod(0o000)  # reading it would fail: opening must not read it
    try:
        Journal(tmp_path, run_id="quiet")
    finally:
        (tmp_path / "runs" / "old.jsonl").chmod(0o600)
    assert [p.name for p in run_files(tmp_path)] == ["old.jsonl"]


def test_recovery_reads_only_the_newest_runs(tmp_path: Path) -> None:
    Journal(tmp_path, run_id="r0000").begin(client_create(1, "too-old"))
    for n in range(1, RECOVERY_RUNS + 1):
        Journal(tmp_path, run_id=f"r{n:04d}").record(client_create(n, f"m{n}"), "done", record_id=str(n))
    journal = Journal(tmp_path)
    assert journal.created(f"m{RECOVERY_RUNS}") == str(RECOVERY_RUNS)
    assert journal.created("m1") == "1"
    assert journal.pending_creates() == {}  # r0000 is beyond the window: history only


def test_rotation_keeps_at_most_keep_runs_and_never_the_newest(tmp_path: Path) -> None:
    for n in range(KEEP_RUNS + 5):
        Journal(tmp_path, run_id=f"r{n:04d}").record(client_create(n, f"m{n}"), "done", record_id=str(n))
    journal = Journal(tmp_path, run_id="r9999")
    journal.record(client_create(1, "last"), "done", record_id="1")
    journal.close(0)
    names = [p.name for p in run_files(tmp_path)]
    assert len(names) == KEEP_RUNS and names[0] == "r0006.jsonl" and names[-1] == "r9999.jsonl"
    assert rotate(tmp_path) == []


def test_an_old_single_journal_is_split_into_run_files_once(tmp_path: Path) -> None:
    old = [
        {"entry": "a-00001", "run_id": "20240101-000000-aaaaaa", "time": "t1", "marker": "m1", "status": "done",
         "record_id": "11", "resource": "clients", "action": "create"},
        {"entry": "b-00001", "run_id": "20240102-000000-bbbbbb", "time": "t2", "marker": "m2", "status": "pending",
         "resource": "clients", "action": "create"},
    ]
    (tmp_path / JOURNAL).write_text("".join(json.dumps(x) + "\n" for x in old), encoding="utf-8")
    journal = Journal(tmp_path)
    assert journal.created("m1") == "11" and set(journal.pending_creates()) == {"m2"}
    assert not (tmp_path / JOURNAL).exists()
    assert [p.name for p in run_files(tmp_path)] == ["20240101-000000-aaaaaa.jsonl", "20240102-000000-bbbbbb.jsonl"]
