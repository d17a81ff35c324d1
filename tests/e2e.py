"""Helpers for end-to-end tests: run the real CLI in-process (or as a subprocess) against the emulator."""

from __future__ import annotations

import atexit
import contextlib
import gc
import hashlib
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import traceback
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


# --------------------------------------------------------------------------------------------------
# Pulls as a starting point, pulled once per account and configuration
# --------------------------------------------------------------------------------------------------

# A pull only reads Billomat, so the same account under the same emulator options, clock time, umask and
# arguments gives the same workbook and state folder. About 120 tests start from such a pull; the first
# of each kind in a test process is run for real and kept, the others get a copy of its files (modes and
# mtimes kept) and its requests replayed into the emulator's log, rate window and fault counter, so that
# every count a test makes from the pull on is the same. Only a test's first pull of an account can be a
# copy: two pulls of one account in one test are two real pulls (their origin stamps differ, as in life).
# The copied snapshot's meta.json names the first pull's workbook path and URL: informational, never read.
# test_pull_e2e tests pull itself and never goes through here.
_PULLS: dict[str, _KeptPull] = {}
_PULLED: set[tuple[str, str]] = set()  # (test id, key): this test has pulled this account already


@dataclass(frozen=True)
class _KeptPull:
    folder: Path  # the workbook (file or CSV folder) under `name`, and its state folder .billsync
    name: str
    url: str  # the Billomat URL the output names (another emulator's port than the next test's)
    result: Result
    log: list
    rate_used: dict[str, int]
    seen: int


def pull_once(emu: Emulator, argv: list[str], env: dict[str, str], clock: FakeClock | None = None) -> Result:
    """`run_cli(argv)` for a `pull --out PATH` that sets a test up; a copy of an identical earlier pull when
    there is one (see _PULLS), else the real pull."""
    out = Path(argv[argv.index("--out") + 1])
    key = _pull_key(emu, argv, out, env, clock)
    if key is None:
        return run_cli(argv, env, clock)
    test = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    kept, again = _PULLS.get(key), (test, key) in _PULLED
    _PULLED.add((test, key))
    if kept is not None and not again:
        return _copy_pull(emu, kept, out)
    return _keep_pull(emu, argv, env, clock, out, key)


def _pull_key(
    emu: Emulator, argv: list[str], out: Path, env: dict[str, str], clock: FakeClock | None
) -> str | None:
    """What a pull's files depend on, or None when this pull must be real (faults, own state folder,
    an existing workbook or state beside it, a large account)."""
    state = emu.state
    if (
        "--state" in argv
        or out.exists()
        or (out.parent / ".billsync").exists()
        or emu.config.faults.active
        or emu._faults._forced  # pending forced faults
        or len(state.table("clients")) > 5000
    ):
        return None
    options = {
        name: repr(getattr(emu.config, name))
        for name in emu.config.__dataclass_fields__
        if name not in ("clock", "port", "faults", "account")
    }
    mask = os.umask(0o077)
    os.umask(mask)
    with state.lock:
        records = {
            resource: list(state.table(resource).values())
            for resource in (
                "clients",
                "contacts",
                "client_properties",
                "client_property_values",
                "client_tags",
            )
        }
        account = [state.billomat_id, state.settings, state.myself, sorted(state.documents), records]
    material = [
        [a if a != str(out) else f"OUT/{out.name}" for a in argv],  # the name says xlsx or CSV folder
        sorted((k, v) for k, v in env.items() if not k.endswith("_URL")),
        options,
        [emu.config.clock.now(), clock.now() if clock is not None else None],  # a system clock never repeats
        mask,
        # How full the rate window is: a pull near its end waits for the next one (RateBudget.reserve).
        sorted((bucket, emu.rate_limiter.used(bucket)) for bucket in ("default", "app")),
        account,
    ]
    return hashlib.sha1(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _keep_pull(
    emu: Emulator, argv: list[str], env: dict[str, str], clock: FakeClock | None, out: Path, key: str
) -> Result:
    before_files = set(out.parent.iterdir())
    before_log = len(emu.requests)
    before_rate = dict(emu.rate_limiter._used)
    before_seen = emu._faults._seen
    before_time = emu.config.clock.now()
    result = run_cli(argv, env, clock)
    log = emu.requests[before_log:]
    new_files = set(out.parent.iterdir()) - before_files
    if (
        key in _PULLS  # kept already: this was a test's second pull of it
        or result.code != 0
        or new_files != {out, out.parent / ".billsync"}
        or emu.config.clock.now() != before_time
        or any(r.status == 429 or r.fault for r in log)
    ):
        return result
    folder = Path(tempfile.mkdtemp(prefix="billsync-pull-"))
    atexit.register(shutil.rmtree, folder, True)
    for path in new_files:
        _copy(path, folder / path.name)
    after_rate = emu.rate_limiter._used
    used = {
        bucket: n - (before_rate[bucket][1] if before_rate.get(bucket, (None, 0))[0] == window else 0)
        for bucket, (window, n) in after_rate.items()
    }
    _PULLS[key] = _KeptPull(
        folder,
        out.name,
        emu.billomat_url,
        _moved(result, {str(out.parent): str(folder)}),
        log,
        used,
        emu._faults._seen - before_seen,
    )
    return result


def _copy_pull(emu: Emulator, kept: _KeptPull, out: Path) -> Result:
    _copy(kept.folder / kept.name, out)
    _copy(kept.folder / ".billsync", out.parent / ".billsync")
    limits = {"default": emu.config.rate_limit, "app": emu.config.rate_limit_app}
    with emu.lock:
        emu._log.extend(kept.log)
        emu._faults._seen += kept.seen
        for bucket, n in kept.rate_used.items():
            for _ in range(n):
                emu.rate_limiter.take(bucket, limits.get(bucket, 0))
    return _moved(kept.result, {str(kept.folder): str(out.parent), kept.url: emu.billomat_url})


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, copy_function=shutil.copy2)
    else:
        shutil.copy2(source, target)


def _moved(result: Result, replace: dict[str, str]) -> Result:
    out, err = result.out, result.err
    for old, new in replace.items():
        out, err = out.replace(old, new), err.replace(old, new)
    return Result(result.code, out, err)


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
    wrong = {
        k: oct(v) for k, v in found.items() if k != "." and v != (0o700 if (state / k).is_dir() else 0o600)
    }
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
            # The parent's objects to a generation the child's collector never scans: it would touch
            # (and so copy) every page of the pytest process the fork shares.
            gc.freeze()
            try:
                os.close(read_end)
                os.chdir(REPO)  # where `python -m sync` ran
                with os.fdopen(write_end, "w", encoding="utf-8", buffering=1) as stream:
                    try:
                        code = main([*argv, "--no-progress"], Runtime(env=env, out=stream, err=stream))
                    except BaseException:  # shown in the test's failure, not lost with the child
                        traceback.print_exc(file=stream)
            finally:
                os._exit(code)
        pids.append(pid)
        os.close(write_end)
        # A child that hangs is killed after a minute (as communicate(timeout=60) did): the test then fails.
        deadline = threading.Timer(60, os.kill, (pid, signal.SIGKILL))
        deadline.start()
        try:
            with os.fdopen(read_end, encoding="utf-8") as stream:
                output = stream.read()
            _, status = os.waitpid(pid, 0)
        finally:
            deadline.cancel()
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
