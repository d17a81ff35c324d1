"""`billsync demo`: a missing sample account is the user's error (exit 2, named), never an internal one."""

from __future__ import annotations

from sync.commands import emulator
from tests.e2e import run_cli


def test_demo_without_its_sample_account_names_it_and_leaves_no_demo_out(tmp_path, monkeypatch):
    monkeypatch.setattr(emulator, "SAMPLE_DATA", tmp_path / "no-such-folder")
    monkeypatch.chdir(tmp_path)
    result = run_cli(["demo"], {})
    assert result.code == 2
    assert f"the shipped sample account: {tmp_path / 'no-such-folder'}: seed file not found" in result.err
    assert "internal error" not in result.err
    assert not (tmp_path / "demo-out").exists()
