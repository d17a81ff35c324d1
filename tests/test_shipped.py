"""The shipped files (sync/shipped): found from any directory; a local mapping or billsync.yaml still wins."""

from __future__ import annotations

import pytest

from sync.shipped import shipped
from tests.e2e import REPO, billomat_env, run_cli


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    """An empty working directory: no billsync.yaml, no mappings/, no sample_data/."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("relative", ["mappings/billomat.yaml", "mappings/snapbill.yaml", "sample_data/billomat.json"])
def test_shipped_file_is_found_from_an_empty_directory(empty_cwd, relative):
    path = shipped(relative)
    assert path.is_absolute()
    assert path.read_bytes() == (REPO / relative).read_bytes()


def test_shipped_file_that_exists_nowhere_is_named_inside_the_package(empty_cwd):
    # so that "file not found" points at the installation, not at the current directory
    path = shipped("mappings/nothing.yaml")
    assert path.parts[-4:] == ("sync", "shipped", "mappings", "nothing.yaml")


@pytest.mark.e2e
def test_check_from_an_empty_directory_uses_the_shipped_mappings(empty_cwd, emulator):
    result = run_cli(["check"], billomat_env(emulator.billomat_url, emulator.config.api_key))
    assert result.code == 0, result.text
    assert f"mapping   ok  {shipped('mappings/billomat.yaml')}" in result.out
    assert f"mapping   ok  {shipped('mappings/snapbill.yaml')}" in result.out


@pytest.mark.e2e
def test_local_mappings_folder_wins_over_the_shipped_one(empty_cwd, emulator):
    (empty_cwd / "mappings").mkdir()
    local = empty_cwd / "mappings" / "billomat.yaml"
    local.write_bytes(shipped("mappings/billomat.yaml").read_bytes())
    result = run_cli(["check"], billomat_env(emulator.billomat_url, emulator.config.api_key))
    assert result.code == 0, result.text
    assert f"mapping   ok  {local}" in result.out
    assert f"mapping   ok  {shipped('mappings/snapbill.yaml')}" in result.out  # no local copy of this one


@pytest.mark.e2e
def test_billsync_yaml_mapping_wins_over_the_local_folder(empty_cwd, emulator):
    (empty_cwd / "mappings").mkdir()
    (empty_cwd / "mappings" / "billomat.yaml").write_text("not: a mapping\n", encoding="utf-8")
    chosen = empty_cwd / "konten" / "unser.yaml"
    chosen.parent.mkdir()
    chosen.write_bytes(shipped("mappings/billomat.yaml").read_bytes())
    (empty_cwd / "billsync.yaml").write_text("mapping: konten/unser.yaml\n", encoding="utf-8")
    result = run_cli(["check"], billomat_env(emulator.billomat_url, emulator.config.api_key))
    assert result.code == 0, result.text
    assert "mapping   ok  konten/unser.yaml\n" in result.out  # relative to billsync.yaml, here the cwd
