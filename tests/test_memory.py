"""sync/memory.py: freed memory goes back to the system after a large read, and only then."""

from __future__ import annotations

import platform

import pytest

from sync import memory


@pytest.fixture
def trims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(memory, "_malloc_trim", lambda: calls.append)
    return calls


def test_a_large_read_trims_every_arena(trims: list[int]) -> None:
    memory.release_free_memory(memory.LARGE_READ_CELLS)
    assert trims == [0]


def test_a_small_read_costs_no_trim(trims: list[int]) -> None:
    memory.release_free_memory(memory.LARGE_READ_CELLS - 1)
    assert trims == []


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_glibc_s_malloc_trim_is_found_and_runs() -> None:
    trim = memory._malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)
