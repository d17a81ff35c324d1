"""State dir: an atomic base snapshot that reads back exactly, and a lock that refuses a second run."""

from __future__ import annotations

import threading
import time

import pytest

from sync.clock import FakeClock
from sync.errors import LockedError, StateError
from sync.frames import AccountFrames
from sync.state import StateDir, state_dir_for
from tests.e2e import assert_private

HOSTILE = [
    "00042", "=SUMME(A1)", "Zeile 1\r\nZeile 2", "\tTab", "", "Weißenburger Straße", "nan", "None",
    "NA", "#N/A", "NULL", "  Leerzeichen  ", '"zitiert"', "1e5", "0,50", "Zeile\rnur CR",
]


def frames() -> AccountFrames:
    return AccountFrames.from_records(
        {
            "clients": [{"id": str(i), "client_number": v, "name": v, "note": v} for i, v in enumerate(HOSTILE, 1)],
            "client_tags": [{"client_id": "1", "name": "A-Kunde"}],
        }
    )


def test_snapshot_reads_back_every_value_exactly(tmp_path):
    state = StateDir(tmp_path / ".billsync")
    state.write_snapshot(frames(), {"command": "pull"})
    snapshot = state.read_snapshot()
    assert snapshot is not None
    assert snapshot.frames.clients["note"].tolist() == HOSTILE
    assert snapshot.frames.client_tags.to_dict("records") == [{"client_id": "1", "name": "A-Kunde"}]
    assert snapshot.meta["command"] == "pull" and snapshot.meta["counts"]["clients"] == len(HOSTILE)


def test_a_resource_without_rows_reads_back_with_its_columns(tmp_path):
    state = StateDir(tmp_path / ".billsync")
    state.write_snapshot(frames(), {"command": "pull"})
    snapshot = state.read_snapshot()
    assert snapshot is not None and snapshot.frames.contacts.empty
    assert list(snapshot.frames.contacts.columns) == ["id", "client_id", "name"]


def test_no_snapshot_before_the_first_run(tmp_path):
    assert StateDir(tmp_path / "s").read_snapshot() is None


def test_a_failed_snapshot_write_keeps_the_previous_one(tmp_path, monkeypatch):
    state = StateDir(tmp_path)
    state.write_snapshot(frames(), {"run": 1})

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("sync.atomic.os.replace", boom)
    with pytest.raises(OSError):
        state.write_snapshot(AccountFrames.from_records({}), {"run": 2})
    monkeypatch.undo()
    assert state.read_snapshot().meta["run"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_damaged_snapshot_is_a_clear_error(tmp_path):
    (tmp_path / "snapshot.zip").write_bytes(b"not a zip")
    with pytest.raises(StateError, match="damaged"):
        StateDir(tmp_path).read_snapshot()


def test_second_run_waits_then_refuses_with_the_holder(tmp_path):
    state = StateDir(tmp_path)
    held, release = threading.Event(), threading.Event()

    def first_run():
        with state.lock():
            held.set()
            release.wait(5)

    clock = FakeClock()
    thread = threading.Thread(target=first_run)
    thread.start()
    held.wait(5)
    try:
        with pytest.raises(LockedError, match="another billsync run"):
            with StateDir(tmp_path).lock(wait=10, poll=0.5, clock=clock):
                pass
        assert sum(clock.sleeps) == pytest.approx(10)
    finally:
        release.set()
        thread.join()
    with state.lock(wait=0):
        pass


def test_state_dir_defaults_beside_the_workbook(tmp_path):
    assert state_dir_for(tmp_path / "kunden.xlsx") == tmp_path.resolve() / ".billsync"
    assert state_dir_for(tmp_path / "k.xlsx", tmp_path / "elsewhere") == tmp_path / "elsewhere"


def test_a_state_folder_an_older_version_left_readable_is_narrowed_on_the_next_write(tmp_path):
    """SPEC §6: 0700 folder, 0600 files, also when the folder and snapshot were made 0755/0644 before."""
    path = tmp_path / ".billsync"
    path.mkdir(mode=0o755)
    path.chmod(0o755)
    (path / "snapshot.zip").write_bytes(b"old")
    (path / "snapshot.zip").chmod(0o644)
    (path / "lock").write_text("")
    (path / "lock").chmod(0o644)
    state = StateDir(path)
    with state.lock(clock=FakeClock()):
        state.write_snapshot(frames(), {"command": "pull"})
    assert_private(path, "snapshot.zip", "lock")
def test_each_snapshot_is_kept_as_a_state_a_workbook_may_still_descend_from(tmp_path):
    state = StateDir(tmp_path / ".billsync")
    first = AccountFrames.from_records({"clients": [{"id": "1", "city": "Düsseldorf"}]})
    second = AccountFrames.from_records({"clients": [{"id": "1", "city": "Neustadt"}]})
    state.write_snapshot(first, {"command": "pull"}, state_id="20250101T000000-00000001")
    state.write_snapshot(second, {"command": "sync"}, state_id="20250102T000000-00000002")
    older = state.read_state("20250101T000000-00000001")
    newest = state.read_state("20250102T000000-00000002")
    assert older is not None and older.frames.clients["city"].tolist() == ["Düsseldorf"]
    assert newest is not None and newest.frames.clients["city"].tolist() == ["Neustadt"]
    assert state.read_snapshot().state_id == "20250102T000000-00000002"
    assert state.read_state("20250103T000000-00000003") is None  # never recorded
    assert state.read_state("../snapshot") is None  # never a path


def test_old_states_are_rotated_out_but_never_the_one_a_workbook_still_needs(tmp_path, monkeypatch):
    import sync.state as state_module

    monkeypatch.setattr(state_module, "KEEP_STATES", 3)
    state = StateDir(tmp_path / ".billsync")
    ids = [f"202501{day:02d}T000000-0000{day:04d}" for day in range(1, 9)]
    for state_id in ids:
        state.write_snapshot(frames(), {"command": "sync"}, state_id=state_id, keep=[ids[0]])
    young = state.state_ids()
    assert len(young) == len(ids)  # all younger than KEEP_DAYS (file times are now)
    far_future = time.time() + 30 * 86400
    removed = state.rotate(keep=[ids[0]], now=far_future)
    assert state.state_ids() == [ids[-1], ids[-2], ids[-3], ids[0]]
    assert set(removed) == set(ids[1:-3])
    assert state.read_state(ids[0]) is not None  # the workbook's origin stays readable
