"""`billsync emulator` (sync/commands/emulator.py), through the CLI: it serves both APIs with the key
it prints, and a bad option or seed is a message naming it, never a traceback.

Serving blocks until Ctrl-C; here Ctrl-C is pressed (KeyboardInterrupt from Emulator.wait) once the
test has called the running emulator.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from sync.emulator import Emulator
from tests.e2e import run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each served emulator answers GET /clients?per_page=1 with the key the command printed; then the
    user presses Ctrl-C. Collects the HTTP statuses."""
    statuses: list[int] = []

    def wait_then_interrupt(self: Emulator, timeout: float | None = None) -> bool:
        key = self.config.api_key
        answer = requests.get(
            f"{self.billomat_url}/clients", params={"per_page": 1},
            headers={"X-BillomatApiKey": key, "Accept": "application/json"}, timeout=10,
        )  # fmt: skip
        statuses.append(answer.status_code)
        raise KeyboardInterrupt

    monkeypatch.setattr(Emulator, "wait", wait_then_interrupt)
    return statuses


def test_the_emulator_serves_and_prints_how_to_point_billsync_at_it(served: list[int]) -> None:
    result = run_cli(["emulator", "--port", "0", "--rate-limit", "0"], env={})
    assert result.code == 0, result.text
    assert served == [200]
    url = re.search(r"export BILLOMAT_BASE_URL=(\S+)", result.out)
    assert url and url.group(1).startswith("http://127.0.0.1:")
    assert "export BILLOMAT_API_KEY=emulator-key" in result.out
    assert "SNAPBILL_USER=demo" in result.out and "export SNAPBILL_PASSWORD=" in result.out
    assert result.out.rstrip().endswith("emulator stopped")


def test_the_emulator_takes_the_shells_key_and_never_prints_it(served: list[int]) -> None:
    env = {"BILLOMAT_API_KEY": "shell-key-4711", "SNAPBILL_PASSWORD": "shell-pass-0815"}
    result = run_cli(["emulator", "--port", "0", "--rate-limit", "0"], env=env)
    assert result.code == 0 and served == [200]
    assert "shell-key-4711" not in result.text and "shell-pass-0815" not in result.text
    assert "(it accepts the BILLOMAT_API_KEY of this shell)" in result.out
    assert "(it accepts the SNAPBILL_PASSWORD of this shell)" in result.out


def test_bad_faults_are_named_before_anything_is_served(served: list[int]) -> None:
    result = run_cli(["emulator", "--port", "0", "--faults", "5xx=lots"], env={})
    assert result.code == 2 and served == []
    assert "--faults" in result.err and "Traceback" not in result.text


def test_a_broken_seed_names_its_folder(served: list[int], tmp_path: Path) -> None:
    (tmp_path / "billomat.json").write_text("{ not json", encoding="utf-8")
    result = run_cli(["emulator", "--port", "0", "--seed", str(tmp_path)], env={})
    assert result.code == 2 and served == []
    assert f"--seed {tmp_path}" in result.err and "Traceback" not in result.text
