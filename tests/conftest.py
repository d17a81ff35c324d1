"""Shared fixtures: the shipped mapping, the sample account and running emulators on a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sync.clock import FakeClock
from sync.emulator import Account, Emulator, EmulatorConfig, load_seed
from sync.mapping import Mapping, load_mapping

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"


@pytest.fixture(scope="session")
def mapping() -> Mapping:
    """The shipped German default mapping (mappings/billomat.yaml)."""
    return load_mapping(Path(__file__).resolve().parents[1] / "mappings" / "billomat.yaml")


@pytest.fixture(scope="session")
def sample_account() -> Account:
    """sample_data/billomat.json, loaded once (the emulator copies records, so sharing is safe)."""
    return load_seed(SAMPLE_DATA)


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh FakeClock at 1_700_000_000 (2023-11-14 22:13:20 UTC)."""
    return FakeClock()


@pytest.fixture
def make_emulator(sample_account: Account, fake_clock: FakeClock) -> Iterator[Callable[..., Emulator]]:
    """Factory: make_emulator(**EmulatorConfig overrides) -> a started Emulator (sample seed, fake clock,
    no rate limit unless given); every one is stopped after the test."""
    started: list[Emulator] = []

    def make(**overrides: Any) -> Emulator:
        options: dict[str, Any] = {"account": sample_account, "clock": fake_clock, "rate_limit": 0}
        options.update(overrides)
        emu = Emulator(EmulatorConfig(**options))
        emu.start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    """A running emulator with the sample account, default options, rate limit off."""
    return make_emulator()
