"""What a run takes from the outside world, shared by the library jobs (sync.jobs) and the CLI (sync.cli).

`Session` is a job's input besides its options: settings, where progress and warnings go (silent by
default), the clock every wait goes through, and the secrets to mask. `Context` is the CLI's session:
the same plus the parsed arguments and the `Runtime` the command line was started with.
"""

from __future__ import annotations

import argparse
import io
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sync.clock import SYSTEM_CLOCK, Clock
from sync.progress import Redactor, Reporter
from sync.settings import Settings
from sync.shipped import MAPPINGS, shipped

DEFAULT_MAPPING = MAPPINGS / "billomat.yaml"


@dataclass
class Runtime:
    """What a run takes from the outside world; tests and the demo pass their own."""

    env: Mapping[str, str] | None = None
    clock: Clock = SYSTEM_CLOCK
    out: TextIO | None = None
    err: TextIO | None = None
    cwd: Path | None = None


def silent_reporter() -> Reporter:
    """A reporter that shows nothing: the default for jobs run from Python (results carry what matters)."""
    return Reporter(out=io.StringIO(), err=io.StringIO(), progress=False)


@dataclass(kw_only=True)
class Session:
    """One job's view of the world: settings, reporter, clock, the secrets to mask."""

    settings: Settings
    reporter: Reporter = field(default_factory=silent_reporter)
    clock: Clock = SYSTEM_CLOCK
    redact: Redactor = field(default_factory=Redactor)
    started: float = field(default_factory=time.monotonic)

    def mapping_path(self, key: str = "mapping", default: Path = DEFAULT_MAPPING) -> Path:
        """A mapping file: billsync.yaml's `key` (relative to that file), else ./<default>, else the shipped one."""
        configured = self.settings.value(key)
        if configured:
            base = self.settings.config_path.parent if self.settings.config_path else Path.cwd()
            path = Path(configured)
            return path if path.is_absolute() else base / path
        local = Path.cwd() / default
        return local if local.is_file() else shipped(default)

    def elapsed(self) -> float:
        """Seconds since the session started."""
        return time.monotonic() - self.started


@dataclass(kw_only=True)
class Context(Session):
    """One command's view of the world: a session plus the parsed arguments and the CLI's runtime."""

    args: argparse.Namespace
    runtime: Runtime = field(default_factory=Runtime)
