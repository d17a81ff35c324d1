"""Shared fixtures: the shipped mapping, the sample account and running emulators on a fake clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from sync.clock import FakeClock
from sync.emulator import Account, Emulator, EmulatorConfig, load_seed
from sync.mapping import Mapping, load_mapping

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"

# Hypothesis (the random merge cases in test_merge.py). "ci", the default: the same examples on every
# run and machine (derandomize, no example database), few enough to keep the suite fast, no per-example
# deadline (a busy 2-core machine must not fail a test on time). HYPOTHESIS_PROFILE=thorough explores
# fresh random cases and remembers failing ones in .hypothesis/ until they pass.
settings.register_profile(
    "ci",
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def mapping() -> Mapping:
    """The shipped German default mapping (mappings/billomat.yaml)."""
    return load_mapping(Path(__file__).resolve().parents[1] / "mappings" / "billomat.yaml")


@pytest.fixture(scope="session")
def sample_account() -> Account:
    """sample_data/billomat.json, loaded once (the emulator copies records, so sharing is safe)."""
    return load_seed(SAMPLE_DATA)


@pytest.fixture(scope="session")
def lo_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private LibreOffice user profile, shared by the tests of one worker: never the user's own, no
    clash with a running office (each xdist worker has its own, and runs one soffice at a time), and
    set up once: a fresh profile costs each soffice start about half a second more."""
    return tmp_path_factory.mktemp("lo-profile")


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
