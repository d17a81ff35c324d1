"""The wheel (pyproject.toml): it carries the mappings, the sample account and every module, and runs alone."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import sync
from tests.e2e import REPO, billomat_env
from tests.smoke_wheel import build_wheel

SHIPPED = "sync/shipped"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """billsync's wheel, built once from a clean copy of this checkout."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def members(wheel: Path) -> dict[str, bytes]:
    """Every file in the wheel: name -> bytes."""
    with zipfile.ZipFile(wheel) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@pytest.fixture(scope="session")
def unpacked(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel unpacked as pip would into site-packages (a folder to put on PYTHONPATH)."""
    site = tmp_path_factory.mktemp("site-packages")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


@pytest.mark.parametrize("folder,pattern", [("mappings", "*.yaml"), ("sample_data", "*.json")])
def test_wheel_carries_the_top_level_folder_byte_for_byte(members, folder, pattern):
    sources = sorted((REPO / folder).glob(pattern))
    assert sources, f"nothing matches {folder}/{pattern}"
    for source in sources:
        name = f"{SHIPPED}/{folder}/{source.name}"
        assert name in members, f"{name} is missing from the wheel"
        assert members[name] == source.read_bytes(), f"{name} differs from {folder}/{source.name}"


def test_wheel_carries_every_module_of_the_source(members):
    # pyproject lists the packages by name (a package-dir mapping rules out `packages.find`):
    # a package added under sync/ and not listed there would be missing from every installation.
    modules = {path.relative_to(REPO).as_posix() for path in (REPO / "sync").rglob("*.py")}
    missing = sorted(modules - set(members))
    assert not missing, f"not in the wheel (add the package to [tool.setuptools] packages): {missing}"
    assert "sync/py.typed" in members


def test_wheel_has_the_version_of_sync_and_the_billsync_script(members):
    metadata = next(data for name, data in members.items() if name.endswith(".dist-info/METADATA"))
    assert f"\nVersion: {sync.__version__}\n" in metadata.decode()
    scripts = next(data for name, data in members.items() if name.endswith(".dist-info/entry_points.txt"))
    assert "billsync = sync.cli:run" in scripts.decode()


def _run_unpacked(site: Path, cwd: Path, argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Python with only the unpacked wheel ahead of the dependencies: the source folder is not reachable."""
    full_env = {"PATH": os.environ.get("PATH", ""), "HOME": str(cwd), "PYTHONPATH": str(site), **(env or {})}
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120)


def test_unpacked_wheel_finds_its_shipped_files_from_an_empty_directory(unpacked, tmp_path):
    code = (
        "import sync, sync.shipped as s, sync.commands.emulator as e;"
        "print(sync.__file__); print(s.shipped('mappings/billomat.yaml')); print(e.SAMPLE_DATA / 'billomat.json')"
    )
    proc = _run_unpacked(unpacked, tmp_path, ["-c", code])
    assert proc.returncode == 0, proc.stderr
    package, mapping, sample = (Path(line) for line in proc.stdout.split())
    assert package == unpacked / "sync" / "__init__.py"  # the wheel's code, not the checkout's
    assert mapping == unpacked / SHIPPED / "mappings" / "billomat.yaml" and mapping.is_file()
    assert sample == unpacked / SHIPPED / "sample_data" / "billomat.json" and sample.is_file()


@pytest.mark.e2e
def test_unpacked_wheel_checks_an_account_from_an_empty_directory(unpacked, tmp_path, emulator):
    proc = _run_unpacked(unpacked, tmp_path, ["-m", "sync", "check"], billomat_env(emulator.billomat_url, emulator.config.api_key))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"mapping   ok  {unpacked / SHIPPED / 'mappings' / 'billomat.yaml'}" in proc.stdout
    assert f"mapping   ok  {unpacked / SHIPPED / 'mappings' / 'snapbill.yaml'}" in proc.stdout
