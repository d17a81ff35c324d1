"""tests/e2e.py: the helpers the end-to-end tests stand on see what the real CLI would show them."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.origin import read_origin
from tests.e2e import billomat_env, pull_once
from tests.test_push_e2e import serve


def _pull(emu, out: Path):  # noqa: ANN001, ANN202
    out.parent.mkdir()
    return pull_once(emu, ["pull", "--out", str(out), "--no-progress"], billomat_env(emu.billomat_url))


def test_a_copied_pull_is_the_real_pulls_files_and_requests_and_a_second_pull_in_a_test_is_real(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = serve(rate_limit=0), serve(rate_limit=0)  # no rate window: the same key each time
    with first.running():
        assert _pull(first, tmp_path / "a" / "kunden.xlsx").code == 0
        real_log = [(r.method, r.path, r.status) for r in first.requests]
        assert _pull(first, tmp_path / "a2" / "kunden.xlsx").code == 0  # the same test again: real
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/another.py::test_next (call)")  # as the next test
    with second.running():
        copied = _pull(second, tmp_path / "b" / "kunden.xlsx")
        assert copied.code == 0 and second.billomat_url in copied.text
        assert [(r.method, r.path, r.status) for r in second.requests] == real_log
        again = _pull(second, tmp_path / "c" / "kunden.xlsx")
    assert again.code == 0 and len(second.requests) == 2 * len(real_log)
    a, a2, b, c = (read_origin(tmp_path / d / "kunden.xlsx") for d in ("a", "a2", "b", "c"))
    assert sorted(p.name for p in (tmp_path / "b" / ".billsync").rglob("*")) == sorted(
        p.name for p in (tmp_path / "a" / ".billsync").rglob("*")
    )
    assert a == b  # the copy
    assert a2 != a and c != a  # a test's second pull of the same account is a real one
