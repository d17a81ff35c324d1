"""The billsync command line: parses, runs one command, turns errors into one line and an exit code."""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from sync import __version__
from sync.atomic import new_file_opener
from sync.errors import EXIT_FATAL, EXIT_INTERRUPTED, BillsyncError
from sync.progress import LOG, RedactingFilter, Redactor, Reporter, ReporterHandler
from sync.runtime import Context, Runtime
from sync.settings import Settings, load_settings

Command = Callable[[Context], int]


@functools.cache
def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command (SPEC §2)."""
    # Built once per process: argparse asks gettext for its translations ~40 times per build, each a
    # handful of stat() calls (about 6 ms); parsing does not change the parser, and the demo and the
    # tests run many commands in one process.
    from sync import commands

    common = _common_options(argparse.ArgumentParser(add_help=False), suppress=False)
    # The same options after the command; SUPPRESS keeps them from overwriting what was given before it
    # (`billsync --config x.yaml pull` and `billsync pull --config x.yaml` mean the same).
    after_command = _common_options(argparse.ArgumentParser(add_help=False), suppress=True)

    parser = argparse.ArgumentParser(
        prog="billsync",
        description="Keep Billomat customer data and an accountants' workbook in step; migrate it to SnapBill.",
        parents=[common],
        epilog="Exit codes: 0 done and in step; 1 finished but something was held, failed or is pending; "
        "2 nothing was written (usage, config, mapping, workbook or fatal API error); 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"billsync {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, _run) in commands.COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text, parents=[after_command])
        add_arguments(command_parser)
    return parser


def _common_options(parser: argparse.ArgumentParser, *, suppress: bool) -> argparse.ArgumentParser:
    """The global options of SPEC §2, accepted before and after the command."""
    default: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    flag: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {"default": False}
    parser.add_argument("--config", metavar="PATH", help="billsync.yaml to use (default: ./billsync.yaml when present)", **default)
    parser.add_argument("--state", metavar="DIR", help="state directory (default: .billsync/ beside the workbook)", **default)
    parser.add_argument("-v", "--verbose", action="store_true", help="show every API call and retry", **flag)
    parser.add_argument("-q", "--quiet", action="store_true", help="for cron: print nothing when the run succeeds; when it fails, its summary and the reasons on stderr", **flag)
    parser.add_argument("--no-progress", action="store_true", help="never draw progress bars", **flag)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error", **flag)
    parser.add_argument(
        "--log-file", metavar="PATH", help="also append every line shown (time-stamped) to this file, e.g. for cron",
        **default,
    )
    return parser


def main(argv: Sequence[str] | None = None, runtime: Runtime | None = None) -> int:
    """Run billsync; returns the exit code (SPEC §2)."""
    from sync import commands

    runtime = runtime or Runtime()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse already explained
        return exc.code if isinstance(exc.code, int) else EXIT_FATAL
    if not args.command:
        parser.print_help(runtime.out or sys.stdout)
        return EXIT_FATAL
    redact = Redactor()
    env = dict(os.environ if runtime.env is None else runtime.env)
    # Every secret we could ever hold is masked in all output from the start (SPEC §3).
    redact.add(*(env.get(name, "") for name in commands.SECRET_VARIABLES))
    try:
        log = open(args.log_file, "a", encoding="utf-8", opener=new_file_opener) if args.log_file else None  # noqa: SIM115
    except OSError as exc:
        print(f"billsync: error: --log-file {args.log_file}: cannot open ({exc.strerror})", file=runtime.err or sys.stderr)
        return EXIT_FATAL
    reporter = Reporter(
        out=runtime.out,
        err=runtime.err,
        quiet=args.quiet,
        verbose=args.verbose,
        progress=not args.no_progress,
        redact=redact,
        log=log,
    )
    _configure_logging(args, reporter, redact)
    code = EXIT_FATAL  # stays so when --debug lets an exception through
    try:
        code = _run(args, env, reporter, runtime, redact)
        return code
    finally:
        # --quiet: nothing on a success; the summary and its reasons on stderr when the run failed.
        reporter.finish(code)
        if log is not None:
            log.close()


def _run(args: argparse.Namespace, env: dict[str, str], reporter: Reporter, runtime: Runtime, redact: Redactor) -> int:
    """Run the chosen command; the one place errors become a line and an exit code."""
    from sync import commands

    try:
        settings = load_settings(args.config, env)
        _mask_config_secrets(settings, redact)
        context = Context(
            args=args, settings=settings, reporter=reporter, runtime=runtime, redact=redact, clock=runtime.clock
        )
        _help, _add, run = commands.COMMANDS[args.command]
        return run(context)
    except BillsyncError as exc:
        if args.debug:
            raise
        reporter.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        reporter.error("interrupted")
        return EXIT_INTERRUPTED
    except Exception as exc:  # an unexpected bug: still one line, the traceback only with --debug
        if args.debug:
            raise
        reporter.error(f"internal error: {type(exc).__name__}: {exc} (run again with --debug for the traceback)")
        return EXIT_FATAL


def _configure_logging(args: argparse.Namespace, reporter: Reporter, redact: Redactor) -> None:
    # Log records become the product's own lines through the reporter (never `WARNING sync.x: ...`),
    # so --quiet, --log-file and the masking of secrets apply to them like to every other line.
    handler = ReporterHandler(reporter, debug=args.debug)
    handler.addFilter(RedactingFilter(redact))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_billsync", False):
            root.removeHandler(old)
    handler._billsync = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    root.setLevel(level)
    # urllib3's own debug lines print URLs; keep them out unless --debug.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if args.debug else logging.WARNING)
    LOG.setLevel(level)


def _mask_config_secrets(settings: Settings, redact: Redactor) -> None:
    for section_name, keys in (("billomat", ("api_key", "app_secret", "app_id")), ("snapbill", ("password",))):
        section = settings.raw.get(section_name) or {}
        if isinstance(section, dict):
            redact.add(*(str(section.get(key) or "") for key in keys))


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())


if __name__ == "__main__":  # pragma: no cover
    run()

