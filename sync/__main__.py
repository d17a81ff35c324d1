"""`python -m sync` is the same program as the `billsync` command."""

from sync.cli import run

run()
