"""The command line: documented commands, help, usage errors, exit codes."""

from __future__ import annotations

import stat

import openpyxl
import pytest

import sync
from sync.cli import build_parser, main
from sync.commands import COMMANDS
from sync.errors import MappingError
from tests.e2e import REPO, billomat_env, run_cli, umask

README = (REPO / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_is_documented_in_the_readme(command):
    assert f"billsync {command}" in README


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert COMMANDS[command][0].split(":")[0][:20] in " ".join(capsys.readouterr().out.split())


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "pull" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error_with_exit_2(capsys):
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_missing_configuration_is_one_line_and_exit_2(tmp_path):
    result = run_cli(["pull", "--out", str(tmp_path / "k.xlsx")], env={})
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        "billsync: error: BILLOMAT_API_KEY is not set: export the API key of a Billomat user "
        "(Settings > Employees > API access) before running billsync"
    ]


def test_exit_codes_are_documented_in_the_help():
    assert "130 interrupted" in build_parser().format_help()


def test_log_file_option_appends_the_run_for_cron(tmp_path):
    log = tmp_path / "billsync.log"
    for _ in range(2):
        result = run_cli(["--log-file", str(log), "pull", "--out", str(tmp_path / "k.xlsx")], env={})
        assert result.code == 2
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2 and all("billsync: error: BILLOMAT_API_KEY is not set" in line for line in lines)


def test_unwritable_log_file_is_one_line_and_exit_2(tmp_path):
    result = run_cli(["--log-file", str(tmp_path / "no" / "such" / "dir.log"), "check"], env={})
    assert result.code == 2 and "--log-file" in result.err


@pytest.mark.parametrize(
    "argv",
    [["--config", "x.yaml", "-v", "pull", "--out", "k.xlsx"], ["pull", "--config", "x.yaml", "-v", "--out", "k.xlsx"]],
)
def test_global_options_mean_the_same_before_and_after_the_command(argv):
    args = build_parser().parse_args(argv)
    assert args.config == "x.yaml" and args.verbose is True and args.quiet is False and args.state is None


def _three_problem_mapping(tmp_path):  # noqa: ANN001, ANN202
    """billsync.yaml pointing at a copy of the shipped mapping with three mistakes in it."""
    text = (REPO / "mappings" / "billomat.yaml").read_text(encoding="utf-8")
    text = text.replace("field: city,", "field: cty,", 1).replace("type: bool}", "type: boolean}", 1)
    text = text.replace("deleted_rows: clear", "deleted_rows: hide", 1)
    (tmp_path / "kaputt.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "billsync.yaml").write_text("mapping: kaputt.yaml\n", encoding="utf-8")
    return tmp_path / "billsync.yaml", tmp_path / "kaputt.yaml"


@pytest.mark.parametrize("flags", [[], ["-v"]])
def test_a_mapping_with_three_problems_prints_each_on_its_own_line(tmp_path, flags):
    config, broken = _three_problem_mapping(tmp_path)
    result = run_cli(["--config", str(config), *flags, "check"], env={})
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert lines[0] == f"billsync: error: {broken}: 3 problems:"
    assert len(lines) == 4 and "more)" not in result.err
    # each problem on its own line, with its YAML place and line, in file order
    assert all(line.startswith("  sheets.clients.") and "(line " in line for line in lines[1:])
    assert ["'hide'" in lines[1], "'cty'" in lines[2], "'boolean'" in lines[3]] == [True, True, True]


def test_a_mapping_with_three_problems_shows_all_three_under_debug(tmp_path):
    config, _broken = _three_problem_mapping(tmp_path)
    with pytest.raises(MappingError) as info:
        run_cli(["--config", str(config), "--debug", "check"], env={})
    assert len(str(info.value).splitlines()) == 4 and "more)" not in str(info.value)


def test_a_log_file_billsync_creates_is_readable_only_by_its_owner(tmp_path):
    log = tmp_path / "billsync.log"
    with umask(0):
        run_cli(["--log-file", str(log), "check"], env={})
    assert stat.S_IMODE(log.stat().st_mode) == 0o600


def test_version_prints_the_package_version(capsys):
    # the one version: sync.__version__, which pyproject reads for the wheel (tests/test_packaging.py)
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"billsync {sync.__version__}\n"


# -- --quiet and --log-file: what cron mails (README "The nightly two-way sync") ----------------------


def _edit_city(path, client_id: str, city: str) -> None:  # noqa: ANN001
    """An accountant's edit of Ort (openpyxl stands in for Excel)."""
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    col = {c.value: c.column for c in ws[1]}["Ort"]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == client_id)
    ws.cell(row, col).value = city
    wb.save(path)


def test_a_quiet_successful_pull_and_sync_print_nothing_and_log_the_summary(make_emulator, tmp_path):
    emu = make_emulator(contacts_bulk="allow")
    env = billomat_env(emu.billomat_url, key=emu.config.api_key)
    log = tmp_path / "billsync.log"
    book = tmp_path / "kunden.xlsx"
    pull = run_cli(["pull", "--out", str(book), "--quiet", "--log-file", str(log)], env)
    sync = run_cli(["--quiet", "--log-file", str(log), "sync", "--sheet", str(book)], env)
    assert (pull.code, pull.out, pull.err) == (0, "", "")
    assert (sync.code, sync.out, sync.err) == (0, "", "")
    logged = [line[20:] for line in log.read_text(encoding="utf-8").splitlines()]
    assert logged[0].startswith("pull: 30 clients") and logged[-1].startswith("sync: Billomat no changes")


def test_a_quiet_sync_that_holds_a_conflict_prints_summary_and_conflict_on_stderr(make_emulator, tmp_path):
    emu = make_emulator(contacts_bulk="allow")
    env = billomat_env(emu.billomat_url, key=emu.config.api_key)
    book = tmp_path / "kunden.xlsx"
    assert run_cli(["pull", "--out", str(book), "-q"], env).code == 0
    _edit_city(book, "1003", "Leipzig")
    emu.state.update_client("1003", {"city": "Dresden"})
    log = tmp_path / "billsync.log"
    result = run_cli(["sync", "--sheet", str(book), "-q", "--log-file", str(log)], env)
    assert result.code == 1 and result.out == ""
    lines = result.err.splitlines()
    # Issue 11 (5): the line names the record (id, client number, name) before the place.
    assert any(
        line.startswith("  conflict (both_changed): client 1003 KD00003 Bäckerei Groß, Kunden row 4, Ort:")
        and "'Leipzig'" in line
        for line in lines
    )
    assert lines[-1].startswith("sync: ") and "conflicts 1 held" in lines[-1]
    assert [line[20:] for line in log.read_text(encoding="utf-8").splitlines()] == lines  # logged once


def test_a_quiet_run_that_fails_prints_its_error_on_stderr(tmp_path):
    result = run_cli(["pull", "--out", str(tmp_path / "k.xlsx"), "--quiet"], env={})
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("billsync: error: BILLOMAT_API_KEY is not set")
