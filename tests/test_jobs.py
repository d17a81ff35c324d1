"""The jobs as library calls (SPEC §8): plan, push and sync run from Python, without the CLI, against the
emulator over HTTP, and return a result with the counts, the conflicts and the exit code the CLI prints."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from sync import jobs
from sync.clock import FakeClock
from sync.emulator import Emulator
from sync.progress import Reporter
from sync.settings import load_settings
from tests.e2e import billomat_env
from tests.test_sync_e2e import edit, kunden, pulled, writes
from tests.test_workbook_guard_e2e import emu  # noqa: F401  (the sample account, fresh per test)

pytestmark = pytest.mark.e2e


def session(emulator: Emulator) -> jobs.Session:
    """A silent session pointed at the emulator: no CLI, no argparse, no output."""
    return jobs.Session(settings=load_settings(None, billomat_env(emulator.billomat_url)), clock=FakeClock())


def test_a_whole_sync_runs_from_python_and_returns_counts_conflicts_and_exit_code(emu, tmp_path):  # noqa: F811
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")  # the accountant
    emu.state.update_client("1005", {"email": "neu@praxis-weiss.de"})  # a colleague in Billomat
    edit(path, "1007", "Ort", "Zwickau")  # both sides change one field: a conflict
    emu.state.update_client("1007", {"city": "Chemnitz"})

    result = jobs.sync(session(emu), path)

    assert result.exit_code == 1  # the conflict is held
    assert result.counts == {"clients": {"update": 1}}
    assert [(c.key, c.field) for c in result.conflicts] == [("1007", "city")]
    assert result.to_workbook is not None and result.to_workbook.counts()["update"] == 1
    assert result.requests == 1 and result.reads > 0 and not result.failed and not result.problems
    assert result.workbook_written and result.state_id
    assert emu.state.table("clients")["1003"]["city"] == "Leipzig"
    assert emu.state.table("clients")["1007"]["city"] == "Chemnitz"  # held: neither side changed
    assert kunden(path)["1005"]["E-Mail"] == "neu@praxis-weiss.de"

    decided = jobs.sync(session(emu), path, jobs.Options(prefer="billomat"))
    assert decided.exit_code == 0 and not decided.conflicts and len(decided.decided) == 1
    assert kunden(path)["1007"]["Ort"] == "Chemnitz"
    before = len(writes(emu))
    again = jobs.sync(session(emu), path)
    assert again.exit_code == 0 and again.counts == {} and again.to_workbook.is_empty
    assert len(writes(emu)) == before


def test_plan_from_python_lists_the_pending_edit_and_writes_nothing(emu, tmp_path):  # noqa: F811
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")
    before = path.read_bytes()

    result = jobs.plan(session(emu), path)

    assert result.exit_code == 1  # changes are pending
    assert result.counts == {"clients": {"update": 1}}
    [change] = result.plan.changes
    assert (change.resource, change.action, change.key) == ("clients", "update", "1003")
    assert change.fields["city"][1] == "Leipzig"
    assert result.requests == 0 and result.report is None and not writes(emu)
    assert path.read_bytes() == before


def test_push_from_python_sends_the_edit_writes_new_ids_and_reports_them(emu, tmp_path):  # noqa: F811
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")
    dry = jobs.push(session(emu), path, jobs.Options(dry_run=True))
    assert dry.exit_code == 1 and dry.report is None and not writes(emu)

    shown: list[int] = []
    result = jobs.push(session(emu), path, on_plan=lambda prepared: shown.append(len(prepared.plan.changes)))

    assert shown == [1]  # the plan is handed over before the first write
    assert result.exit_code == 0
    assert result.counts == {"clients": {"update": 1}} and result.requests == 1
    assert emu.state.table("clients")["1003"]["city"] == "Leipzig"
    assert jobs.plan(session(emu), path).exit_code == 0  # in step afterwards


def test_a_session_given_a_reporter_shows_progress_and_the_default_is_silent(emu, tmp_path, capsys):  # noqa: F811
    path = pulled(emu, tmp_path)
    capsys.readouterr()
    jobs.plan(session(emu), path)
    assert capsys.readouterr() == ("", "")
    out = io.StringIO()
    loud = jobs.Session(
        settings=load_settings(None, billomat_env(emu.billomat_url)), reporter=Reporter(out=out, progress=False)
    )
    jobs.plan(loud, path)
    assert f"Reading Billomat account at {emu.billomat_url}" in out.getvalue()


def test_importing_the_jobs_does_not_import_the_cli():
    code = "import sys, sync.jobs; assert 'sync.cli' not in sys.modules and 'sync.commands' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_pull_from_python_writes_the_workbook_and_records_the_state(emu, tmp_path):  # noqa: F811
    path = tmp_path / "kunden.xlsx"

    result = jobs.pull(session(emu), path)

    assert result.exit_code == 0 and result.out == path and result.kept is None
    assert result.counts["clients"] == len(emu.state.table("clients")) and result.requests > 0
    assert set(kunden(path)) == set(emu.state.table("clients"))
    assert (tmp_path / ".billsync" / "states" / f"{result.state_id}.zip").is_file()
    assert jobs.plan(session(emu), path).exit_code == 0  # in step with what it recorded
    again = jobs.pull(session(emu), path)  # an unchanged workbook is replaced, the previous one kept
    assert again.kept is not None and again.kept.is_file()
