"""End to end: the Sync column (SPEC §9) — a client parked with `aus` moves in neither direction."""

from __future__ import annotations

import pytest

from tests import test_sync_e2e
from tests.e2e import billomat_env, run_cli
from tests.test_sync_e2e import edit, kunden, pulled, sync, writes

pytestmark = pytest.mark.e2e
emu = test_sync_e2e.emu  # the sample account in the emulator (a fixture)


def test_a_parked_client_moves_in_neither_direction_until_the_cell_is_cleared(emu, tmp_path):
    path = pulled(emu, tmp_path)
    assert kunden(path)["1003"]["Sync"] == ""  # pull writes the column, empty
    edit(path, "1003", "Sync", "aus")
    edit(path, "1003", "Ort", "Leipzig")  # the accountant
    edit(path, "1003", "Schlagwörter", "Parkplatz")
    emu.state.update_client("1003", {"email": "neu@example.de"})  # a colleague in Billomat
    before = len(writes(emu))
    for _night in range(2):
        result = sync(emu, path)
        assert result.code == 0, result.text
        assert "parked 1;" in result.out
        assert len(writes(emu)) == before  # nothing sent for it
        assert emu.state.table("clients")["1003"]["city"] != "Leipzig"
        assert kunden(path)["1003"]["E-Mail"] != "neu@example.de"  # nothing written into its row
        assert kunden(path)["1003"]["Ort"] == "Leipzig" and kunden(path)["1003"]["Sync"] == "aus"
    edit(path, "1003", "Sync", "")
    moved = sync(emu, path)
    assert moved.code == 0, moved.text
    assert "parked" not in moved.out
    assert emu.state.table("clients")["1003"]["city"] == "Leipzig"
    assert kunden(path)["1003"]["E-Mail"] == "neu@example.de"
    assert "Parkplatz" in kunden(path)["1003"]["Schlagwörter"]


def test_push_sends_nothing_for_a_parked_client_and_counts_it(emu, tmp_path):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Sync", "off")
    edit(path, "1003", "Ort", "Leipzig")
    edit(path, "1004", "Ort", "Halle")
    pushed = run_cli(["push", "--sheet", str(path), "--no-progress"], billomat_env(emu.billomat_url))
    assert pushed.code == 0, pushed.text
    assert "parked 1;" in pushed.out
    assert emu.state.table("clients")["1003"]["city"] != "Leipzig"
    assert emu.state.table("clients")["1004"]["city"] == "Halle"
    edit(path, "1003", "Sync", "")
    assert sync(emu, path).code == 0
    assert emu.state.table("clients")["1003"]["city"] == "Leipzig"
