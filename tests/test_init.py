"""`billsync init [DIR]` (SPEC §1): the files, the secrets file's mode, never an overwrite, the next steps."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from sync import settings as settings_module
from sync.commands import init
from sync.mapping import load_mapping
from sync.settings import DEFAULT_RATE_RESERVE, DEFAULT_SNAPBILL_URL, DEFAULT_TIMEOUT, load_settings
from sync.shipped import shipped
from sync.snapbill_mapping import load_snapbill_mapping
from tests.e2e import billomat_env, run_cli

FILES = ("billsync.yaml", "mappings/billomat.yaml", "mappings/snapbill.yaml", "billsync.env")


@pytest.fixture
def account_dir(tmp_path: Path) -> Path:
    """A directory set up by `billsync init DIR` (DIR not existing before)."""
    target = tmp_path / "konto"
    result = run_cli(["init", str(target)], {})
    assert result.code == 0, result.text
    return target


def test_init_writes_config_both_mappings_and_the_env_template(account_dir):
    assert sorted(str(p.relative_to(account_dir)) for p in account_dir.rglob("*") if p.is_file()) == sorted(FILES)
    for name in ("billomat.yaml", "snapbill.yaml"):  # the shipped defaults, comments and all
        assert (account_dir / "mappings" / name).read_bytes() == shipped(f"mappings/{name}").read_bytes()


def test_env_file_is_readable_only_by_its_owner_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        assert run_cli(["init", str(tmp_path)], {}).code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "billsync.env").stat().st_mode) == 0o600


@pytest.mark.parametrize("existing", FILES)
def test_init_never_overwrites_and_then_writes_nothing_at_all(tmp_path, existing):
    (tmp_path / existing).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / existing).write_text("mine\n", encoding="utf-8")
    result = run_cli(["init", str(tmp_path)], {})
    assert result.code == 2
    assert str(tmp_path / existing) in result.err and "nothing written" in result.err
    assert "Traceback" not in result.text
    assert (tmp_path / existing).read_text(encoding="utf-8") == "mine\n"
    assert [name for name in FILES if name != existing and (tmp_path / name).exists()] == []


def test_init_without_dir_sets_up_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli(["init"], {}).code == 0
    assert all((tmp_path / name).is_file() for name in FILES)


def test_init_into_a_file_is_refused_naming_it(tmp_path):
    target = tmp_path / "kunden.xlsx"
    target.write_bytes(b"x")
    result = run_cli(["init", str(target)], {})
    assert result.code == 2 and f"{target} is a file" in result.err


def test_next_steps_say_fill_env_check_pull_and_give_the_crontab_line(tmp_path):
    result = run_cli(["init", str(tmp_path)], {})
    assert "billsync.env" in result.out and "BILLOMAT_API_KEY" in result.out
    assert "billsync check" in result.out
    assert "billsync pull --out kunden.xlsx" in result.out
    cron = re.search(r"^\s*(\S+ \S+ \S+ \S+ \S+) (cd .*)$", result.out, re.M)
    assert cron, result.out
    schedule, command = cron.groups()
    assert schedule == "30 2 * * *"
    assert command.startswith(f"cd {tmp_path} && . ./billsync.env && ")
    assert " sync --sheet kunden.xlsx --quiet --log-file billsync.log" in command


def test_crontab_line_starts_this_billsync_by_its_full_path(monkeypatch, tmp_path):
    # cron's PATH is short: a pipx or venv install is found only by its full path
    script = tmp_path / "venv" / "bin" / "billsync"
    monkeypatch.setattr("sys.argv", [str(script), "init"])
    assert init.crontab_line(tmp_path, init.billsync_command()).split(" && ")[-1].startswith(f"{script} sync ")
    monkeypatch.setattr("sys.argv", ["-m", "init"])  # python -m sync
    assert init.billsync_command().endswith(" -m sync")


def test_written_mappings_are_valid_for_the_loaders_check_uses(account_dir):
    load_mapping(account_dir / "mappings" / "billomat.yaml")
    load_snapbill_mapping(account_dir / "mappings" / "snapbill.yaml")


@pytest.mark.e2e
def test_check_in_the_new_directory_uses_its_config_and_mappings(account_dir, emulator, monkeypatch):
    monkeypatch.chdir(account_dir)
    result = run_cli(["check"], billomat_env(emulator.billomat_url, emulator.config.api_key))
    assert result.code == 0, result.text
    # billsync.yaml's mapping/snapbill_mapping, relative to billsync.yaml (here the cwd)
    assert "mapping   ok  mappings/billomat.yaml\n" in result.out
    assert "mapping   ok  mappings/snapbill.yaml\n" in result.out


def test_config_template_defaults_are_billsyncs_defaults(account_dir):
    # every commented "key: value" line, uncommented, must be accepted and mean what billsync does anyway
    text = (account_dir / "billsync.yaml").read_text(encoding="utf-8")
    uncommented = re.sub(r"^(\s+)# (\w+: \S+)", r"\1\2", text, flags=re.M)
    assert uncommented != text
    config = account_dir / "all.yaml"
    config.write_text(uncommented, encoding="utf-8")
    loaded = load_settings(config, {"BILLOMAT_API_KEY": "k", "SNAPBILL_USER": "u", "SNAPBILL_PASSWORD": "p"})
    billomat, snapbill = loaded.billomat(), loaded.snapbill()
    assert (billomat.rate_reserve, billomat.timeout) == (DEFAULT_RATE_RESERVE, DEFAULT_TIMEOUT)
    assert (snapbill.base_url, snapbill.timeout) == (DEFAULT_SNAPBILL_URL, DEFAULT_TIMEOUT)
    assert yaml.safe_load(text)["mapping"] == "mappings/billomat.yaml"


def test_config_template_names_every_setting_billsync_yaml_can_hold(account_dir):
    # a setting added to sync/settings.py must be added to init's template too
    source = Path(settings_module.__file__).read_text(encoding="utf-8")
    keys = set(re.findall(r'_pick\("\w+", section, "(\w+)"\)', source))
    keys |= set(re.findall(r'section\.get\("(\w+)"', source))
    assert {"id", "api_key", "rate_limit_reserve", "timeout", "user", "password"} <= keys  # the regexes still work
    text = (account_dir / "billsync.yaml").read_text(encoding="utf-8")
    assert [key for key in sorted(keys) if not re.search(rf"\b{key}\b", text)] == []


def test_env_template_is_shell_that_exports_the_secrets_once_filled_in(account_dir):
    env_file = account_dir / "billsync.env"
    text = env_file.read_text(encoding="utf-8")
    for name in ("BILLOMAT_ID", "BILLOMAT_API_KEY", "BILLOMAT_APP_ID", "BILLOMAT_APP_SECRET", "SNAPBILL_USER", "SNAPBILL_PASSWORD"):
        assert re.search(rf"^(# )?export {name}=$", text, re.M), name
    env_file.write_text(text.replace("export BILLOMAT_API_KEY=\n", "export BILLOMAT_API_KEY='geheim 42'\n"), encoding="utf-8")
    shown = subprocess.run(
        ["sh", "-c", '. ./billsync.env && printf "%s|%s" "$BILLOMAT_API_KEY" "${SNAPBILL_USER-unset}"'],
        cwd=account_dir, env={"PATH": os.environ.get("PATH", "")}, capture_output=True, text=True, check=True,
    )
    assert shown.stdout == "geheim 42|unset"
