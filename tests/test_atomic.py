"""sync/atomic.py: a file is the old version or the new one, never half; modes are set, never left to chance."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sync.atomic import (
    atomic_copy,
    atomic_path,
    atomic_write_bytes,
    new_file_opener,
    open_private,
    private_dir,
)
from tests.e2e import umask


def mode(path: Path) -> int:
    """The permission bits of `path`."""
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    """Temp files atomic_path left in `folder` (`.<name>.….tmp`)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


class Refused(Exception):
    """What the test guard raises (a workbook opened in Excel, say)."""


def test_the_block_writes_a_temp_file_beside_the_target_and_only_success_renames_it(tmp_path: Path) -> None:
    target = tmp_path / "kunden.xlsx"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # not replaced before the block ends
    assert target.read_bytes() == b"new"
    assert leftovers(tmp_path) == []


def test_a_failing_block_removes_the_temp_file_and_keeps_the_target(tmp_path: Path) -> None:
    target = tmp_path / "kunden.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="crash"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_a_failing_block_creates_no_target_that_did_not_exist(tmp_path: Path) -> None:
    target = tmp_path / "neu" / "state.json"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert not target.exists() and leftovers(target.parent) == []


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "kunden.xlsx"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with umask(0o077):
        atomic_write_bytes(target, b"new")
    assert mode(target) == 0o640 and target.read_bytes() == b"new"


def test_a_new_file_gets_the_usual_mode_of_the_umask(tmp_path: Path) -> None:
    with umask(0o022):
        atomic_write_bytes(tmp_path / "a.csv", b"x")
    with umask(0o027):
        atomic_write_bytes(tmp_path / "b.csv", b"x")
    assert (mode(tmp_path / "a.csv"), mode(tmp_path / "b.csv")) == (0o644, 0o640)


def test_an_explicit_mode_wins(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_bytes(b"old")
    target.chmod(0o644)
    with atomic_path(target, mode=0o600) as tmp:
        tmp.write_bytes(b"new")
    assert mode(target) == 0o600


def test_private_files_are_0600_in_a_0700_folder_whatever_the_umask(tmp_path: Path) -> None:
    state = tmp_path / "home" / ".billsync"
    with umask(0):
        atomic_write_bytes(state / "snapshot.json", b"{}", private=True)
    assert mode(state) == 0o700 and mode(state / "snapshot.json") == 0o600
    assert mode(tmp_path / "home") != 0o700  # only the state folder itself is narrowed


def test_an_existing_private_file_that_was_widened_is_narrowed_again(tmp_path: Path) -> None:
    target = tmp_path / "state" / "snapshot.json"
    atomic_write_bytes(target, b"{}", private=True)
    target.chmod(0o644)
    (tmp_path / "state").chmod(0o755)
    atomic_write_bytes(target, b"{}", private=True)
    assert (mode(tmp_path / "state"), mode(target)) == (0o700, 0o600)


def test_private_dir_narrows_an_existing_folder_and_returns_it(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    assert private_dir(folder) == folder and mode(folder) == 0o700


def test_a_refusing_guard_leaves_the_target_unchanged_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "kunden.xlsx"
    target.write_bytes(b"the accountants' work")
    seen: list[tuple[Path, bytes]] = []
    backups: list[Path] = []

    def guard(path: Path, tmp: Path) -> None:
        seen.append((path, tmp.read_bytes()))
        raise Refused("kunden.xlsx is open in Excel")

    with pytest.raises(Refused), atomic_path(target, guard=guard, before_replace=backups.append) as tmp:
        tmp.write_bytes(b"new")
    assert seen == [(target, b"new")]  # the guard saw the finished temp file
    assert target.read_bytes() == b"the accountants' work"
    assert backups == []  # no backup is taken of a write that does not happen
    assert leftovers(tmp_path) == []


def test_an_accepting_guard_and_before_replace_run_in_order_before_the_rename(tmp_path: Path) -> None:
    target = tmp_path / "kunden.xlsx"
    target.write_bytes(b"old")
    calls: list[str] = []

    def guard(path: Path, tmp: Path) -> None:
        calls.append(f"guard {path.read_bytes().decode()}")

    def before_replace(path: Path) -> None:
        calls.append(f"backup {path.read_bytes().decode()}")

    with atomic_path(target, guard=guard, before_replace=before_replace) as tmp:
        tmp.write_bytes(b"new")
    assert calls == ["guard old", "backup old"] and target.read_bytes() == b"new"


def test_before_replace_is_not_called_for_a_new_file(tmp_path: Path) -> None:
    called: list[Path] = []
    with atomic_path(tmp_path / "new.xlsx", before_replace=called.append) as tmp:
        tmp.write_bytes(b"x")
    assert called == []


def test_atomic_copy_copies_bytes_and_the_sources_mode(tmp_path: Path) -> None:
    source = tmp_path / "kunden.xlsx"
    source.write_bytes(b"workbook")
    source.chmod(0o600)  # the owner keeps it private: the backup must be too
    target = tmp_path / "kunden.xlsx.bak"
    target.write_bytes(b"older backup")
    target.chmod(0o644)
    with umask(0o022):
        atomic_copy(source, target)
    assert target.read_bytes() == b"workbook" and mode(target) == 0o600
    assert leftovers(tmp_path) == []


def test_atomic_copy_of_a_missing_source_leaves_the_target(tmp_path: Path) -> None:
    target = tmp_path / "kunden.xlsx.bak"
    target.write_bytes(b"older backup")
    with pytest.raises(FileNotFoundError):
        atomic_copy(tmp_path / "gone.xlsx", target)
    assert target.read_bytes() == b"older backup" and leftovers(tmp_path) == []


def test_open_private_creates_0600_and_narrows_an_existing_file(tmp_path: Path) -> None:
    new = tmp_path / "journal.jsonl"
    with umask(0):
        os.close(open_private(new, os.O_WRONLY | os.O_APPEND))
    old = tmp_path / "lock"
    old.write_bytes(b"")
    old.chmod(0o666)
    os.close(open_private(old, os.O_RDWR))
    assert (mode(new), mode(old)) == (0o600, 0o600)


def test_new_file_opener_creates_0600_and_keeps_an_existing_files_mode(tmp_path: Path) -> None:
    with umask(0), open(tmp_path / "new.log", "w", opener=new_file_opener) as fh:
        fh.write("x")
    shared = tmp_path / "shared.log"
    shared.write_text("")
    shared.chmod(0o640)
    with open(shared, "a", opener=new_file_opener) as fh:
        fh.write("x")
    assert (mode(tmp_path / "new.log"), mode(shared)) == (0o600, 0o640)
