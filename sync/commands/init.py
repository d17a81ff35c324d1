"""`billsync init [DIR]`: set up a working directory for one account (SPEC §1); never overwrites a file."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sync.errors import EXIT_OK, ConfigError
from sync.settings import DEFAULT_CONFIG, DEFAULT_RATE_RESERVE, DEFAULT_SNAPBILL_URL, DEFAULT_TIMEOUT
from sync.shipped import MAPPINGS, shipped

if TYPE_CHECKING:
    from sync.runtime import Context

HELP = "Set up a directory for an account: billsync.yaml, mappings/, a billsync.env for the secrets."
ENV_FILE = "billsync.env"
WORKBOOK = "kunden.xlsx"
LOG_FILE = "billsync.log"
# Nightly at 2:30, the time the README's crontab example uses.
CRON_SCHEDULE = "30 2 * * *"

CONFIG_TEMPLATE = f"""\
# billsync settings for one Billomat account (written by `billsync init`).
# Environment variables win over this file. Keep the secrets (API key, app secret, SnapBill
# password) in {ENV_FILE}, not here. A line starting with '#' shows the default: remove the '#'
# (and keep the indentation) to change it.

billomat:
  # {"id: musterfirma":<40}# the account's subdomain (https://musterfirma.billomat.net), or BILLOMAT_ID
  # {"base_url: https://proxy.example/api":<40}# instead of the id (a proxy, the emulator), or BILLOMAT_BASE_URL
  # {f"rate_limit_reserve: {DEFAULT_RATE_RESERVE}":<40}# requests per 15 minutes left for the account's other tools
  # {f"timeout: {DEFAULT_TIMEOUT:g}":<40}# seconds per request (pages of 1000 clients take a while)
  # api_key, app_id, app_secret: BILLOMAT_API_KEY, BILLOMAT_APP_ID, BILLOMAT_APP_SECRET in {ENV_FILE}

snapbill:                                   # only for `billsync migrate --to snapbill`
  # {f"base_url: {DEFAULT_SNAPBILL_URL}":<40}# or SNAPBILL_BASE_URL
  # {f"timeout: {DEFAULT_TIMEOUT:g}":<40}# seconds per request
  # user, password: SNAPBILL_USER, SNAPBILL_PASSWORD in {ENV_FILE}

# The workbook's sheets and columns, and the migration's field renames (relative to this file;
# the copies init wrote are the shipped defaults, with comments on what each line does).
mapping: {MAPPINGS / "billomat.yaml"}
snapbill_mapping: {MAPPINGS / "snapbill.yaml"}
"""

ENV_TEMPLATE = """\
# billsync's secrets for one account. Your shell and the crontab line read it with
#     . ./billsync.env
# It is readable only by its owner (mode 0600): keep it that way, never commit or mail it.
# Fill in the values after '=' (no spaces around '='; put a value with spaces in '...').

# Billomat: the account's subdomain (https://<BILLOMAT_ID>.billomat.net) and the API key of a
# user with API access (in Billomat: Settings > Employees > API access).
export BILLOMAT_ID=
export BILLOMAT_API_KEY=

# Optional: a registered Billomat app gets 1,000 instead of 300 requests per 15 minutes.
# export BILLOMAT_APP_ID=
# export BILLOMAT_APP_SECRET=

# SnapBill's API login (HTTP basic auth), only for `billsync migrate --to snapbill`.
# export SNAPBILL_USER=
# export SNAPBILL_PASSWORD=
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `init`."""
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR", help="directory to set up (default: here)")


def targets(directory: Path) -> dict[Path, bytes]:
    """What init writes into `directory`: each file and its content."""
    return {
        directory / DEFAULT_CONFIG: CONFIG_TEMPLATE.encode("utf-8"),
        # Byte for byte, so the shipped comments (what each column is, what is left out) come along.
        **{directory / MAPPINGS / name: shipped(MAPPINGS / name).read_bytes() for name in ("billomat.yaml", "snapbill.yaml")},
        directory / ENV_FILE: ENV_TEMPLATE.encode("utf-8"),
    }


def run(ctx: Context) -> int:
    """Write the files, or nothing at all when any of them exists already (exit 2 naming it)."""
    directory = Path(ctx.args.dir).absolute()
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"init: {directory} is a file, not a directory; nothing written")
    files = targets(directory)
    existing = [path for path in files if path.exists()]
    if existing:
        names = ", ".join(str(path) for path in existing)
        raise ConfigError(
            f"init: {names} already exist{'s' if len(existing) == 1 else ''}; nothing written "
            "(init never overwrites a file: move it away or choose another DIR)"
        )
    written: list[Path] = []
    try:
        for path, content in files.items():
            _write_new(path, content, secret=path.name == ENV_FILE)
            written.append(path)
    except OSError as exc:
        # All or nothing: take back what this run wrote, so running it again after the fix just works.
        for path in written:
            path.unlink(missing_ok=True)
        raise ConfigError(f"init: {exc.filename or directory}: cannot write ({exc.strerror}); nothing written") from None
    say = ctx.reporter.info
    say(f"Wrote in {directory}:")
    for path in written:
        note = " (readable only by you)" if path.name == ENV_FILE else ""
        say(f"  {path.relative_to(directory)}{note}")
    for line in next_steps(directory):
        say(line)
    ctx.reporter.summary(f"init: {len(written)} files written in {directory}")
    return EXIT_OK


def next_steps(directory: Path) -> list[str]:
    """What to do after init: fill in the secrets, check, pull, and the crontab line of the nightly sync."""
    return [
        "",
        "Next steps:",
        f"  1. Put the account's secrets into {ENV_FILE} (BILLOMAT_ID, BILLOMAT_API_KEY; SNAPBILL_USER and",
        "     SNAPBILL_PASSWORD for the migration), then load them into your shell:",
        f"       {_enter(directory)}",
        "  2. Check the setup (one cheap call per API, writes nothing):",
        "       billsync check",
        "  3. Pull the account into the accountants' workbook:",
        f"       billsync pull --out {WORKBOOK}",
        "  4. Sync workbook and Billomat every night (crontab -e; cron mails only when something needs a person):",
        f"       {crontab_line(directory, billsync_command())}",
    ]


def crontab_line(directory: Path, billsync: str) -> str:
    """The crontab line of the nightly two-way sync: reads billsync.env, prints only when something is wrong."""
    return f"{CRON_SCHEDULE} {_enter(directory)} && {billsync} sync --sheet {WORKBOOK} --quiet --log-file {LOG_FILE}"


def billsync_command() -> str:
    """How cron, whose PATH is short, starts this very billsync: the script's full path, else `python -m sync`."""
    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name == "billsync":
        found = argv0 if os.sep in argv0 else shutil.which(argv0)
        if found:
            return shlex.quote(os.path.abspath(found))
    return f"{shlex.quote(sys.executable)} -m sync"


def _enter(directory: Path) -> str:
    """The shell words that go to the account's directory and load its secrets."""
    return f"cd {shlex.quote(str(directory))} && . ./{ENV_FILE}"


def _write_new(path: Path, content: bytes, *, secret: bool) -> None:
    """Create `path` with `content`; O_EXCL refuses a file that appeared since the check (no overwrite, ever)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o666)
    if secret:
        os.fchmod(fd, 0o600)  # exactly owner read/write, whatever the umask
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
