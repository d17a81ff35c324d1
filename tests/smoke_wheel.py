"""Install the built wheel into a fresh virtualenv and use it as a new user would, from empty directories.

Run by `make smoke` (CI, after `make test`): builds the wheel from a clean copy of the source,
installs it (not editable) into a new virtualenv, and runs `--version`, `check`, `pull`,
`migrate --dry-run` against the installed `billsync emulator --port 0`, then `init` (and the secrets,
check, pull and crontab line it prints), then `demo`. Any failure names its step; exit code 1.
Only the standard library: it runs before anything is installed.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Not copied into the build: whatever a previous build or run left in the source folder (a stale
# build/lib could carry files the wheel config no longer includes, hiding exactly what we test).
BUILD_IGNORE = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache",
    "demo-out", ".billsync", "bench", "tests", "docs",
)
STEP_TIMEOUT = 180.0


class SmokeFailure(Exception):
    """One step did not do what it must; the message names the step."""


def build_wheel(dest: Path) -> Path:
    """Build billsync's wheel from a clean copy of the source into `dest`; returns the .whl path."""
    source = dest / "source"
    shutil.copytree(REPO, source, ignore=BUILD_IGNORE)
    dist = dest / "dist"
    _run_step(
        "build the wheel",
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(source)],
        cwd=dest,
        env=dict(os.environ),
    )
    wheels = sorted(dist.glob("billsync-*.whl"))
    if len(wheels) != 1:
        raise SmokeFailure(f"build the wheel: expected one billsync-*.whl in {dist}, found {wheels}")
    return wheels[0]


def install(wheel: Path, venv: Path) -> Path:
    """A new virtualenv with the wheel installed (not editable); returns its `billsync` script."""
    _run_step("create a fresh virtualenv", [sys.executable, "-m", "venv", str(venv)], cwd=venv.parent, env=dict(os.environ))
    _run_step(
        "pip install the wheel",
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        cwd=venv.parent,
        env=dict(os.environ),
    )
    return venv / "bin" / "billsync"


def smoke(billsync: Path, work: Path) -> None:
    """Every step of issue 8's acceptance, each from an empty directory; SmokeFailure names the first failure."""
    base_env = _clean_env(billsync, work)
    shipped_dir, init_dir, demo_dir = _empty(work / "shipped"), _empty(work / "account"), _empty(work / "demo")

    out = _billsync(billsync, "--version", cwd=shipped_dir, env=base_env)
    if not re.fullmatch(r"billsync \d+\.\d+\S*\s*", out):
        raise SmokeFailure(f"billsync --version: expected 'billsync X.Y.Z', got {out!r}")

    with _emulator(billsync, _empty(work / "emulator"), base_env) as emulator_env:
        env = {**base_env, **emulator_env}
        # No billsync.yaml and no mappings/ here: the mappings shipped in the wheel must be used.
        out = _billsync(billsync, "check", cwd=shipped_dir, env=env)
        if str(billsync.parent.parent) not in out:
            raise SmokeFailure(f"billsync check: expected the mapping inside the installed package, got:\n{out}")
        _billsync(billsync, "pull", "--out", "kunden.xlsx", cwd=shipped_dir, env=env)
        _expect_file(shipped_dir / "kunden.xlsx", "billsync pull --out kunden.xlsx")
        _billsync(billsync, "migrate", "--to", "snapbill", "--dry-run", cwd=shipped_dir, env=env)

        out = _billsync(billsync, "init", cwd=init_dir, env=base_env)
        crontab = next((line.strip() for line in out.splitlines() if "--log-file" in line), "")
        if not crontab:
            raise SmokeFailure(f"billsync init: printed no crontab line:\n{out}")
        _fill_secrets(init_dir / "billsync.env", emulator_env)
        # What the next steps say, in a shell: load billsync.env, check, pull; then the crontab command.
        _run_step("billsync check (after init, secrets from billsync.env)",
                  ["sh", "-c", f". ./billsync.env && {shlex.quote(str(billsync))} check"], cwd=init_dir, env=base_env)
        _run_step("billsync pull (after init)",
                  ["sh", "-c", f". ./billsync.env && {shlex.quote(str(billsync))} pull --out kunden.xlsx"],
                  cwd=init_dir, env=base_env)
        command = crontab.split(None, 5)[5]  # the five schedule fields, then the command
        _run_step("the crontab line init printed", ["sh", "-c", command], cwd=work, env=base_env)

    _billsync(billsync, "demo", cwd=demo_dir, env=base_env)
    _expect_file(demo_dir / "demo-out" / "kunden.xlsx", "billsync demo")


def main(argv: Sequence[str] | None = None) -> int:
    """Build, install, smoke; prints each step and exits 1 naming the step that failed."""
    started = time.monotonic()
    keep = "--keep" in (argv if argv is not None else sys.argv[1:])
    work = Path(tempfile.mkdtemp(prefix="billsync-smoke-"))
    try:
        wheel = build_wheel(work)
        billsync = install(wheel, work / "venv")
        smoke(billsync, work)
    except SmokeFailure as exc:
        print(f"smoke: FAILED: {exc}", file=sys.stderr, flush=True)
        print(f"smoke: files kept in {work}", file=sys.stderr)
        return 1
    print(f"smoke: the installed wheel works from empty directories ({time.monotonic() - started:.0f} s)")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _billsync(billsync: Path, *argv: str, cwd: Path, env: dict[str, str]) -> str:
    return _run_step(f"billsync {' '.join(argv)}", [str(billsync), *argv], cwd=cwd, env=env)


def _run_step(name: str, argv: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    """Run one step; its stdout, or SmokeFailure with the exit code and the output."""
    started = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise SmokeFailure(f"{name}: no end after {STEP_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        raise SmokeFailure(f"{name}: exit code {proc.returncode}\n--- stdout\n{proc.stdout}--- stderr\n{proc.stderr}")
    print(f"smoke: ok  {name} ({time.monotonic() - started:.1f} s)", flush=True)
    return proc.stdout


def _clean_env(billsync: Path, work: Path) -> dict[str, str]:
    """The caller's environment without anything that could lead billsync to the source or an account."""
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("BILLOMAT_", "SNAPBILL_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PATH"] = f"{billsync.parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["HOME"] = str(work)
    return env


@contextmanager
def _emulator(billsync: Path, cwd: Path, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The installed `billsync emulator --port 0` in the background; yields the variables it printed."""
    argv = [str(billsync), "emulator", "--port", "0", "--rate-limit", "0"]
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or ()], daemon=True).start()
    try:
        printed = _emulator_exports(lines, proc)
        _serves_a_request(printed)
        print(f"smoke: ok  billsync emulator --port 0 (serves {printed['BILLOMAT_BASE_URL']})", flush=True)
        yield printed
    finally:
        proc.send_signal(2)  # SIGINT, what Ctrl-C sends: the emulator says so and exits 0
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
    if code != 0:
        raise SmokeFailure(f"billsync emulator: exit code {code} after Ctrl-C (SIGINT), expected 0")
    print("smoke: ok  billsync emulator stopped by Ctrl-C", flush=True)


def _emulator_exports(lines: queue.Queue[str], proc: subprocess.Popen[str]) -> dict[str, str]:
    """The `export NAME=value` lines the emulator prints on start (its address among them)."""
    wanted = {"BILLOMAT_BASE_URL", "BILLOMAT_API_KEY", "SNAPBILL_BASE_URL", "SNAPBILL_USER", "SNAPBILL_PASSWORD"}
    printed: dict[str, str] = {}
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while not wanted <= printed.keys():
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise SmokeFailure(f"billsync emulator --port 0: did not print {sorted(wanted - printed.keys())} "
                               f"within 60 s; printed:\n{''.join(seen)}") from None
        seen.append(line)
        words = shlex.split(line)
        if words[:1] == ["export"]:
            printed.update(word.split("=", 1) for word in words[1:] if "=" in word)
    if not re.match(r"http://127\.0\.0\.1:[1-9]\d*/", printed["BILLOMAT_BASE_URL"]):
        raise SmokeFailure(f"billsync emulator --port 0: no port in its address: {''.join(seen)}")
    if proc.poll() is not None:
        raise SmokeFailure(f"billsync emulator --port 0: ended with exit code {proc.returncode}")
    return printed


def _serves_a_request(printed: dict[str, str]) -> None:
    """One real HTTP request to the emulated Billomat: GET /clients answers a client list."""
    request = urllib.request.Request(
        f"{printed['BILLOMAT_BASE_URL']}/clients?per_page=1",
        headers={"X-BillomatApiKey": printed["BILLOMAT_API_KEY"], "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = json.load(answer)
    except (OSError, ValueError) as exc:
        raise SmokeFailure(f"billsync emulator: GET /clients failed: {exc}") from None
    if "clients" not in body:
        raise SmokeFailure(f"billsync emulator: GET /clients answered {body!r}")


def _fill_secrets(env_file: Path, values: dict[str, str]) -> None:
    """Fill in billsync.env as the next steps tell the user to (plus where the emulator listens)."""
    text = env_file.read_text(encoding="utf-8")
    for name in ("BILLOMAT_API_KEY", "SNAPBILL_USER", "SNAPBILL_PASSWORD"):
        text, found = re.subn(rf"^(# )?export {name}=$", f"export {name}={shlex.quote(values[name])}", text, flags=re.M)
        if not found:
            raise SmokeFailure(f"billsync init: {env_file} has no line 'export {name}='")
    text += "".join(f"export {name}={shlex.quote(values[name])}\n" for name in ("BILLOMAT_BASE_URL", "SNAPBILL_BASE_URL"))
    env_file.write_text(text, encoding="utf-8")


def _empty(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _expect_file(path: Path, step: str) -> None:
    if not path.is_file():
        raise SmokeFailure(f"{step}: exit code 0 but {path} was not written")


if __name__ == "__main__":
    raise SystemExit(main())
