"""The write journal: fsync'd JSON lines, torn last lines, what is pending and what was created."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.journal import JOURNAL, Journal, new_run_id
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


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / JOURNAL).read_text(encoding="utf-8").splitlines() if line]


def test_begin_and_finish_write_complete_lines_that_read_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    change = client_create()
    entry = journal.begin(change, run_id="run1")
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
    landed = journal.begin(client_create(1, "m-landed"), run_id="r")
    unknown = journal.begin(client_create(2, "m-unknown"), run_id="r")
    refused = journal.begin(client_create(3, "m-refused"), run_id="r")
    update = journal.begin(Change("clients", "update", "1001", "Kunden", 4, {"city": ("A", "B")}), run_id="r")
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
    journal = Journal(tmp_path)
    journal.begin(client_create(1, "m"), run_id="run1")  # killed
    journal.record(client_create(1, "m"), "done", run_id="run2", record_id="99", api_message="adopted")
    reopened = Journal(tmp_path)
    assert reopened.pending_creates() == {}
    assert reopened.created("m") == "99"


def test_a_torn_last_line_is_skipped_and_the_next_line_starts_fresh(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    done = journal.begin(client_create(1, "m1"), run_id="r")
    journal.finish(done, "done", record_id="5")
    journal.begin(client_create(2, "m2"), run_id="r")
    # A kill in the middle of writing the closing line of m2.
    with open(tmp_path / JOURNAL, "ab") as fh:
        fh.write(b'{"entry":"r-00003","time":"2024-01-01T00:00:00","status":"do')
    reopened = Journal(tmp_path)
    assert reopened.torn_lines == 1
    assert reopened.created("m1") == "5"
    assert set(reopened.pending_creates()) == {"m2"}  # still uncertain: looked up next run
    entry = reopened.begin(client_create(3, "m3"), run_id="r")
    reopened.finish(entry, "done", record_id="7")
    third = Journal(tmp_path)
    assert third.torn_lines == 1 and third.created("m3") == "7" and third.created("m1") == "5"
    raw = (tmp_path / JOURNAL).read_bytes()
    assert raw.endswith(b"\n") and b'"do\n{' in raw  # the torn line was closed, not glued to the next


def test_entry_ids_stay_unique_when_a_run_id_is_reused(tmp_path: Path) -> None:
    first = Journal(tmp_path).begin(client_create(1, "a"), run_id="same")
    second = Journal(tmp_path).begin(client_create(2, "b"), run_id="same")
    assert first != second
    assert set(Journal(tmp_path).pending_creates()) == {"a", "b"}


def test_pending_for_finds_an_uncertain_tag_add_of_the_same_client_and_name(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    add = Change("client_tags", "add", "", "Kunden", 4, {}, {}, client_key="neu-1", ref="VIP")
    journal.begin(add, run_id="r", client_id="1031")
    reopened = Journal(tmp_path)
    assert len(reopened.pending_for(add, "1031")) == 1
    assert reopened.pending_for(add, "1032") == []
    other = Change("client_tags", "add", "", "Kunden", 4, {}, {}, client_key="neu-1", ref="Newsletter")
    assert reopened.pending_for(other, "1031") == []


def test_finish_refuses_an_unknown_entry_or_status(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    entry = journal.begin(client_create(), run_id="r")
    with pytest.raises(ValueError, match="done, failed or skipped"):
        journal.finish(entry, "pending")
    with pytest.raises(ValueError, match="no journal entry"):
        journal.finish("nope", "done")


def test_run_ids_are_distinct() -> None:
    assert new_run_id() != new_run_id()
