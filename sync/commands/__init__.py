"""The commands of SPEC §2: name → (help, add_arguments, run)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sync.commands import check, demo, emulator, init, migrate, plan, pull, push, runs, show, two_way, undo

AddArguments = Callable[[argparse.ArgumentParser], None]

COMMANDS: dict[str, tuple[str, AddArguments, Callable[..., int]]] = {
    "init": (init.HELP, init.add_arguments, init.run),
    "pull": (pull.HELP, pull.add_arguments, pull.run),
    "check": (check.HELP, check.add_arguments, check.run),
    "plan": (plan.HELP, plan.add_arguments, plan.run),
    "push": (push.HELP, push.add_arguments, push.run),
    "sync": (two_way.HELP, two_way.add_arguments, two_way.run),
    "migrate": (migrate.HELP, migrate.add_arguments, migrate.run),
    "runs": (runs.HELP, runs.add_arguments, runs.run),
    "show": (show.HELP, show.add_arguments, show.run),
    "undo": (undo.HELP, undo.add_arguments, undo.run),
    "emulator": (emulator.HELP, emulator.add_arguments, emulator.run),
    "demo": (demo.HELP, demo.add_arguments, demo.run),
}

# Environment variables whose values are masked in every line billsync prints or logs (SPEC §3).
SECRET_VARIABLES = ("BILLOMAT_API_KEY", "BILLOMAT_APP_ID", "BILLOMAT_APP_SECRET", "SNAPBILL_PASSWORD")
