"""Helpers for end-to-end tests: run the real CLI in-process (or as a subprocess) against the emulator."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sync.cli import Runtime, main
from sync.clock import FakeClock
from sync.emulator import Emulator, EmulatorConfig, FaultSpec, load_seed
from sync.emulator.billomat import ApiResponse

REPO = Path(__file__).resolve().parent.parent
API_KEY = "e2e-secret-key-4711"


class Terminal(io.StringIO):
    """A stream that says it is a terminal, so the reporter draws bars and countdowns on it."""

    def isatty(self) -> bool:
        """Always: this stream stands in for a terminal."""
        return True


@dataclass
class Result:
    """What one CLI run left behind."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """stdout and stderr together."""
        return self.out + self.err


# A raw Python logging line (`WARNING sync.clients.ratelimit: ...`): the user only ever sees the product's own.
RAW_LOG_LINE = re.compile(r"^(WARNING|INFO|ERROR|DEBUG|CRITICAL) [\w.]+:", re.MULTILINE)


def assert_product_lines_only(result: Result) -> None:
    """No output line of a run is a raw logging line (every e2e run goes through this)."""
    raw = RAW_LOG_LINE.findall(result.text)
    assert not raw, f"raw logging lines in the output:\n{result.text}"


def run_cli(argv: list[str], env: dict[str, str], clock: FakeClock | None = None) -> Result:
    """Run billsync in this process (the same code path as the console script) with captured output."""
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, Runtime(env=env, clock=clock or FakeClock(), out=out, err=err))
    result = Result(code, out.getvalue(), err.getvalue())
    assert_product_lines_only(result)
    return result


def run_subprocess(argv: list[str], env: dict[str, str], cwd: Path) -> Result:
    """Run `python -m sync` as a separate process (proves the installed entry point works)."""
    full_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), **env}
    proc = subprocess.run(
        [sys.executable, "-m", "sync", *argv],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert_product_lines_only(result)
    return result


def billomat_env(url: str, key: str = API_KEY) -> dict[str, str]:
    """The environment that points billsync at an emulated Billomat account."""
    return {"BILLOMAT_BASE_URL": url, "BILLOMAT_API_KEY": key}


def files_containing(root: Path, needle: str) -> list[Path]:
    """Every file below root whose bytes (or, for zip files like xlsx, whose members) contain needle."""
    hits = []
    raw = needle.encode("utf-8")
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if raw in data:
            hits.append(path)
            continue
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                if any(raw in zf.read(name) for name in zf.namelist()):
                    hits.append(path)
    return hits


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    """Run the block under this umask (process-wide), e.g. 0 to prove billsync sets modes itself."""
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    """Permission bits of `root` (".") and of everything below it, by path relative to `root`."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    found.update({str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in sorted(root.rglob("*"))})
    return found


def journal_lines(state: Path) -> list[dict]:
    """Every entry line of every run journalled in a state dir, oldest run first."""
    from sync.journal import read_lines, run_files

    return [line for run in run_files(state) for line in read_lines(run)[0] if "entry" in line]


def assert_private(state: Path, *expected_files: str) -> None:
    """SPEC §6: the state folder is 0700, every file and folder in it readable only by its owner."""
    found = modes(state)
    assert found["."] == 0o700, {k: oct(v) for k, v in found.items()}
    for name in expected_files:
        assert name in found, sorted(found)
    wrong = {k: oct(v) for k, v in found.items() if k != "." and v != (0o700 if (state / k).is_dir() else 0o600)}
    assert not wrong, wrong


WRITES = ("POST", "PUT", "DELETE")


def kill_at_write(emu: Emulator, k: int, when: str, pid: Callable[[], int]) -> list[str]:
    """SIGKILL the billsync process at its k-th write request, deterministically.

    The emulator's request handler is wrapped on this instance (no emulator code changes):
    when="before": the process dies as the k-th write arrives, and the write is NOT performed
    (it answers 503 to a dead socket); when="after": the write IS performed, then the process dies
    before the answer is sent (the worst moment for a create). Returns what was hit.
    """
    original = emu.billomat.handle
    count = 0
    hit: list[str] = []

    def handle(req):  # noqa: ANN001, ANN202
        nonlocal count
        if req.method not in WRITES:
            return original(req)
        count += 1
        if count != k:
            return original(req)
        hit.append(f"{req.method} {req.path}")
        if when == "before":
            os.kill(pid(), signal.SIGKILL)
            return ApiResponse(503, b"", "text/plain")
        resp = original(req)
        os.kill(pid(), signal.SIGKILL)
        return resp

    emu.billomat.handle = handle  # type: ignore[method-assign]
    return hit


def run_killed(emu: Emulator, argv: list[str], k: int, when: str, home: Path) -> tuple[list[str], str]:
    """billsync ARGV in its own process, SIGKILLed at its k-th write; (what was hit, its output).

    The process is forked from this one and runs the CLI's `main` (the code path of the console script
    and of `python -m sync`, which test_pull_e2e starts as a real subprocess): a kill is a kill either
    way (no `finally`, no flush, no atexit), and a fork skips the ~0.6 s of a fresh interpreter
    importing pandas, 15 times a test run. Its output goes through a pipe as it is written, so what a
    killed run had printed is there to check.
    """
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), **billomat_env(emu.billomat_url)}
    pids: list[int] = []
    hit = kill_at_write(emu, k, when, lambda: pids[0])
    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 70
            try:
                os.close(read_end)
                with os.fdopen(write_end, "w", encoding="utf-8", buffering=1) as stream:
                    code = main([*argv, "--no-progress"], Runtime(env=env, out=stream, err=stream, cwd=REPO))
            finally:
                os._exit(code)
        pids.append(pid)
        os.close(write_end)
        with os.fdopen(read_end, encoding="utf-8") as stream:
            output = stream.read()
        _, status = os.waitpid(pid, 0)
    finally:
        emu.billomat.handle = type(emu.billomat).handle.__get__(emu.billomat)  # type: ignore[method-assign]
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (hit, status, output)
    assert hit, "the kill point was reached"
    return hit, output


def sample_emulator(reading: str, faults: FaultSpec | None = None) -> Emulator:
    """The shipped sample account under one reading of contact inheritance, with `faults` if given."""
    return Emulator(
        EmulatorConfig(
            billomat_id="musterfirma",
            api_key=API_KEY,
            account=load_seed(REPO / "sample_data"),
            clock=FakeClock(),
            contacts_bulk="allow",
            contact_inherit=reading,
            faults=faults or FaultSpec(),
        )
    )
