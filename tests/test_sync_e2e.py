"""End to end: `billsync sync` — the nightly two-way merge — against the emulator over HTTP on 127.0.0.1."""

from __future__ import annotations

import threading
from pathlib import Path

import openpyxl
import pytest
from openpyxl.styles import PatternFill

from sync.emulator import Emulator, FaultSpec
from sync.mapping import load_mapping
from sync.sheet import read_workbook
from sync.state import StateDir
from tests.e2e import (
    REPO,
    assert_private,
    billomat_env,
    modes,
    pull_once,
    run_cli,
    run_killed,
    sample_emulator,
    umask,
)

pytestmark = pytest.mark.e2e

MAPPING = load_mapping(REPO / "mappings" / "billomat.yaml")


BOTH_READINGS = pytest.mark.parametrize("emu", ["copy", "read"], indirect=True)


@pytest.fixture
def emu(request):
    """The sample account. How contacts inherit their client's address (billomat-api.md §4.2) is
    unconfirmed: "copy" (copied when written; the default) or "read" (shown from the client's current
    values). The contact stories run under both (`BOTH_READINGS`); the rest under "copy" only, to keep
    `make test` within its time budget."""
    emulator = sample_emulator(getattr(request, "param", "copy"))
    with emulator.running():
        yield emulator


def pulled(emu: Emulator, tmp_path: Path) -> Path:
    path = tmp_path / "kunden.xlsx"
    result = pull_once(emu, ["pull", "--out", str(path), "--no-progress"], billomat_env(emu.billomat_url))
    assert result.code == 0, result.text
    return path


def sync(emu: Emulator, path: Path, *extra: str):  # noqa: ANN201
    return run_cli(["sync", "--sheet", str(path), "--no-progress", *extra], billomat_env(emu.billomat_url))


def kunden(path: Path) -> dict[str, dict[str, str]]:
    """Kunden rows by Billomat-ID as billsync reads them (rows without an id left out)."""
    table = read_workbook(path, MAPPING)["Kunden"]
    return {row["Billomat-ID"]: row for row in table.to_dict("records") if row["Billomat-ID"]}


def kontakte(path: Path) -> dict[str, dict[str, str]]:
    """Kontakte rows by Kontakt-ID as billsync reads them."""
    table = read_workbook(path, MAPPING)["Kontakte"]
    return {row["Kontakt-ID"]: row for row in table.to_dict("records") if row["Kontakt-ID"]}


def edit(path: Path, client_id: str, header: str, value: str, sheet: str = "Kunden") -> None:
    """An accountant's edit of one cell (openpyxl stands in for Excel); the key is in column A."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    col = {c.value: c.column for c in ws[1]}[header]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == client_id)
    ws.cell(row, col).value = value
    wb.save(path)


def writes(emu: Emulator) -> list:
    return [r for r in emu.requests if r.method in ("POST", "PUT", "DELETE")]


def test_edits_on_both_sides_flow_both_ways_and_a_second_sync_does_nothing(emu, tmp_path):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")  # the accountant
    emu.state.update_client("1005", {"email": "neu@praxis-weiss.de"})  # a colleague in Billomat
    result = sync(emu, path)
    assert result.code == 0, result.text
    assert emu.state.table("clients")["1003"]["city"] == "Leipzig"
    assert kunden(path)["1005"]["E-Mail"] == "neu@praxis-weiss.de"
    assert kunden(path)["1003"]["Ort"] == "Leipzig"
    before = len(writes(emu))
    again = sync(emu, path)
    assert again.code == 0, again.text
    assert len(writes(emu)) == before
    assert "Billomat no changes" in again.out and "workbook 0 updated, 0 added, 0 removed" in again.out


def test_different_edits_of_one_field_are_a_held_conflict_listed_in_konflikte(emu, tmp_path):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")
    emu.state.update_client("1003", {"city": "Dresden"})
    result = sync(emu, path)
    assert result.code == 1, result.text
    assert emu.state.table("clients")["1003"]["city"] == "Dresden"  # neither side changed
    assert kunden(path)["1003"]["Ort"] == "Leipzig"
    rows = list(openpyxl.load_workbook(path)["Konflikte"].iter_rows(values_only=True))
    assert any("Leipzig" in row and "Dresden" in row for row in rows[1:])
    # Held means held: the next night finds the same conflict, nobody wins silently.
    assert sync(emu, path).code == 1
    assert emu.state.table("clients")["1003"]["city"] == "Dresden"


def test_prefer_billomat_decides_a_conflict_for_billomat(emu, tmp_path):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")
    emu.state.update_client("1003", {"city": "Dresden"})
    result = sync(emu, path, "--prefer", "billomat")
    assert result.code == 0, result.text
    assert kunden(path)["1003"]["Ort"] == "Dresden"
    assert emu.state.table("clients")["1003"]["city"] == "Dresden"


def test_prefer_sheet_decides_a_conflict_for_the_workbook(emu, tmp_path):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")
    emu.state.update_client("1003", {"city": "Dresden"})
    assert sync(emu, path, "--prefer", "sheet").code == 0
    assert emu.state.table("clients")["1003"]["city"] == "Leipzig"


def test_a_client_created_in_billomat_becomes_a_new_row(emu, tmp_path):
    path = pulled(emu, tmp_path)
    created = emu.state.create_client({"name": "Frisch aus Billomat GmbH", "zip": "01099", "city": "Dresden"})
    result = sync(emu, path)
    assert result.code == 0, result.text
    row = kunden(path)[created["id"]]
    assert row["Firma"] == "Frisch aus Billomat GmbH" and row["PLZ"] == "01099"
    assert sync(emu, path).code == 0


def test_a_client_deleted_in_billomat_leaves_the_workbook(emu, tmp_path):
    path = pulled(emu, tmp_path)
    emu.state.delete_client("1030")
    result = sync(emu, path)
    assert result.code == 0, result.text
    assert "1030" not in kunden(path)
    again = sync(emu, path)
    assert again.code == 0, again.text
    assert "1030" not in {c["id"] for c in emu.state.clients}


def test_edited_in_the_workbook_but_deleted_in_billomat_is_a_conflict_not_a_silent_loss(emu, tmp_path):
    path = pulled(emu, tmp_path)
    edit(path, "1030", "Ort", "Rostock")
    emu.state.delete_client("1030")
    result = sync(emu, path)
    assert result.code == 1, result.text
    assert kunden(path)["1030"]["Ort"] == "Rostock"  # the accountant's edit is still there
    assert "1030" not in {c["id"] for c in emu.state.clients}  # and nothing was recreated silently


def test_a_tag_added_on_each_side_ends_up_on_both(emu, tmp_path):
    path = pulled(emu, tmp_path)
    tags = kunden(path)["1003"]["Schlagwörter"]
    edit(path, "1003", "Schlagwörter", f"{tags}, Newsletter" if tags else "Newsletter")
    emu.state.create_tag({"client_id": "1003", "name": "Export"})
    result = sync(emu, path)
    assert result.code == 0, result.text
    names = {t["name"] for t in emu.state.client_tags if t["client_id"] == "1003"}
    assert {"Newsletter", "Export"} <= names
    assert {"Newsletter", "Export"} <= set(kunden(path)["1003"]["Schlagwörter"].split(", "))


def test_accountants_formatting_formulas_and_sheets_survive_three_syncs(emu, tmp_path):
    path = pulled(emu, tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    ws["D3"].fill = PatternFill("solid", fgColor="FFFF00")
    extra = ws.max_column + 1
    ws.cell(1, extra).value = "Intern"
    for r in range(2, ws.max_row + 1):
        ws.cell(r, extra).value = f"=LEN(D{r})"
    wb.create_sheet("Notizen")["A1"] = "Rückruf Müller"
    wb.save(path)
    for night, (client, city) in enumerate((("1005", "Görlitz"), ("1006", "Bautzen"), ("1007", "Zittau")), 1):
        emu.state.update_client(client, {"city": city})
        result = sync(emu, path)
        assert result.code == 0, f"night {night}: {result.text}"
        assert kunden(path)[client]["Ort"] == city
        wb = openpyxl.load_workbook(path)
        ws = wb["Kunden"]
        assert ws["D3"].fill.fgColor.rgb.endswith("FFFF00"), f"night {night}"
        assert ws.cell(1, extra).value == "Intern"
        assert ws.cell(5, extra).value == "=LEN(D5)"
        assert wb["Notizen"]["A1"].value == "Rückruf Müller"


def test_a_crash_during_write_back_leaves_the_previous_workbook_intact(emu, tmp_path, monkeypatch):
    path = pulled(emu, tmp_path)
    emu.state.update_client("1005", {"city": "Görlitz"})
    original = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sync.atomic.os.replace", crash)
    result = sync(emu, path)
    assert result.code == 2 and "No space left" in result.err
    assert path.read_bytes() == original
    assert kunden(path)["1005"]["Ort"] != "Görlitz"  # still readable, still the old version
    monkeypatch.undo()
    assert sync(emu, path).code == 0
    assert kunden(path)["1005"]["Ort"] == "Görlitz"


def test_a_second_sync_started_meanwhile_refuses_and_changes_nothing(emu, tmp_path):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")
    state = StateDir(tmp_path / ".billsync")
    held, release = threading.Event(), threading.Event()

    def first_run() -> None:
        with state.lock():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=first_run)
    thread.start()
    held.wait(5)
    try:
        before = len(emu.requests)
        result = sync(emu, path)
    finally:
        release.set()
        thread.join()
    assert result.code == 2
    assert "another billsync run" in result.err
    assert len(emu.requests) == before  # not even a read
    assert emu.state.table("clients")["1003"]["city"] != "Leipzig"


def test_the_mapping_can_mark_rows_deleted_in_billomat_instead_of_clearing_them(emu, tmp_path):
    mapping = tmp_path / "billomat.yaml"
    mapping.write_text(
        (REPO / "mappings" / "billomat.yaml").read_text(encoding="utf-8").replace("deleted_rows: clear", "deleted_rows: mark"),
        encoding="utf-8",
    )
    (tmp_path / "billsync.yaml").write_text(f"mapping: {mapping}\n", encoding="utf-8")
    config = ["--config", str(tmp_path / "billsync.yaml")]
    path = tmp_path / "kunden.xlsx"
    env = billomat_env(emu.billomat_url)
    assert run_cli([*config, "pull", "--out", str(path), "--no-progress"], env).code == 0
    emu.state.delete_client("1030")
    assert run_cli([*config, "sync", "--sheet", str(path), "--no-progress"], env).code == 0
    ws = openpyxl.load_workbook(path)["Kunden"]
    marked = [r for r in ws.iter_rows(min_row=2, values_only=True) if r[0] == "gelöscht-1030"]
    assert len(marked) == 1 and marked[0][3]  # the row keeps its values for the accountants
    again = run_cli([*config, "sync", "--sheet", str(path), "--no-progress"], env)
    assert again.code == 0, again.text  # a marked row is history: no problem, no conflict, no create
    assert "1030" not in {c["id"] for c in emu.state.clients}


def test_dry_run_shows_both_sides_and_writes_nothing_anywhere(emu, tmp_path):
    path = pulled(emu, tmp_path)
    edit(path, "1003", "Ort", "Leipzig")
    emu.state.update_client("1005", {"email": "neu@praxis-weiss.de"})
    before_bytes = path.read_bytes()
    snapshot = (tmp_path / ".billsync" / "snapshot.zip").read_bytes()
    writes_before = len(writes(emu))
    result = sync(emu, path, "--dry-run")
    assert result.code == 1, result.text  # changes pending
    assert "update client 1003" in result.out and "praxis-weiss" in result.out
    assert result.out.strip().splitlines()[-1].startswith("sync --dry-run: would do")
    assert len(writes(emu)) == writes_before
    assert path.read_bytes() == before_bytes
    assert (tmp_path / ".billsync" / "snapshot.zip").read_bytes() == snapshot



def test_the_backup_is_the_workbook_from_before_the_run_also_when_it_is_written_twice(emu, tmp_path):
    path = pulled(emu, tmp_path)
    wb = openpyxl.load_workbook(path)
    ws = wb["Kunden"]
    col = {c.value: c.column for c in ws[1]}
    new = ws.max_row + 1
    ws.cell(new, col["Billomat-ID"]).value = "neu-1"
    ws.cell(new, col["Firma"]).value = "Neu aus der Arbeitsmappe GmbH"
    wb.save(path)
    emu.state.update_client("1005", {"city": "Görlitz"})  # the first write: Billomat's change
    before = path.read_bytes()
    result = sync(emu, path)
    assert result.code == 0, result.text
    created = next(c for c in emu.state.clients if c["name"] == "Neu aus der Arbeitsmappe GmbH")
    assert created["id"] in kunden(path)  # the second write: the new id
    assert kunden(path)["1005"]["Ort"] == "Görlitz"
    assert (tmp_path / "kunden.bak.xlsx").read_bytes() == before


@pytest.mark.parametrize("command", ["sync", "plan", "push"])
def test_a_wrong_api_key_names_billomat_api_key_and_the_account_like_check(emu, tmp_path, command):
    path = pulled(emu, tmp_path)
    env = billomat_env(emu.billomat_url, key="not-the-right-key")
    result = run_cli([command, "--sheet", str(path), "--no-progress"], env)
    checked = run_cli(["check", "--no-progress"], env)
    assert result.code == 2 and checked.code == 2, result.text + checked.text
    assert "Traceback" not in result.text
    error = [line for line in result.err.splitlines() if line.startswith("billsync: error:")]
    assert len(error) == 1, result.err
    said = error[0].split(" -> HTTP 401: ", 1)[-1]
    assert said == f"the API key was refused by Billomat account at {emu.billomat_url}: check BILLOMAT_API_KEY and BILLOMAT_BASE_URL"
    assert said in checked.err  # one wording, the same as `check`


def test_sync_keeps_state_private_and_the_backup_as_private_as_the_workbook(emu, tmp_path):
    with umask(0):  # the most permissive umask: every mode must come from billsync
        path = pulled(emu, tmp_path)
        path.chmod(0o600)
        edit(path, "1003", "Ort", "Leipzig")
        emu.state.update_client("1005", {"email": "neu@praxis-weiss.de"})  # written into the workbook
        result = sync(emu, path)
    assert result.code == 0, result.text
    assert_private(tmp_path / ".billsync", "snapshot.zip", "lock", "runs")
    assert modes(tmp_path)["kunden.xlsx"] == modes(tmp_path)["kunden.bak.xlsx"] == 0o600


# ---------------------------------------------------------------------------------------------------
# Contacts that inherit their client's address (issue 9 point 4): under both readings (see `emu`)
# ---------------------------------------------------------------------------------------------------

# Client 1005's contacts 5008 and 5009 have no address of their own.
INHERITING = ("5008", "5009")


def contact_writes(emu: Emulator) -> list:
    return [r for r in writes(emu) if r.path.startswith("/contacts")]


@BOTH_READINGS
def test_a_client_address_edited_in_the_workbook_never_writes_its_inheriting_contacts(emu, tmp_path):
    path = pulled(emu, tmp_path)
    stored = {rid: dict(emu.state.table("contacts")[rid]) for rid in INHERITING}
    edit(path, "1005", "Straße", "Neue Straße 9")
    edit(path, "1005", "Firma", "Zahnarztpraxis Weiß & Partner")
    first = sync(emu, path)
    assert first.code == 0, first.text
    client = emu.state.table("clients")["1005"]
    assert (client["street"], client["name"]) == ("Neue Straße 9", "Zahnarztpraxis Weiß & Partner")
    for night in (2, 3):  # converged: one more sync writes nothing, on either side, and stays so
        before = len(writes(emu))
        again = sync(emu, path)
        assert again.code == 0, f"sync {night}: {again.text}"
        assert len(writes(emu)) == before, f"sync {night}: {again.text}"
        assert "workbook 0 updated, 0 added, 0 removed" in again.out, again.text
    assert contact_writes(emu) == []
    assert {rid: emu.state.table("contacts")[rid] for rid in INHERITING} == stored  # never written
    planned = run_cli(["plan", "--sheet", str(path), "--no-progress"], billomat_env(emu.billomat_url))
    assert planned.code == 0 and "no changes" in planned.out, planned.text


@BOTH_READINGS
def test_billomat_moving_a_client_is_no_conflict_with_an_edit_of_its_inheriting_contact(emu, tmp_path):
    path = pulled(emu, tmp_path)
    street_5008 = emu.state.table("contacts")["5008"]["street"]  # "" under "read": it inherits
    emu.state.update_client("1005", {"street": "Kö 1"})  # a colleague; under "read" 5008/5009 now show it
    edit(path, "5008", "Telefon", "+49 211 000", sheet="Kontakte")
    edit(path, "5009", "Straße", "Filiale 1", sheet="Kontakte")
    result = sync(emu, path)
    assert result.code == 0, result.text  # nothing held
    assert kunden(path)["1005"]["Straße"] == "Kö 1"
    contacts = emu.state.table("contacts")
    assert contacts["5008"]["phone"] == "+49 211 000"
    assert contacts["5008"]["street"] == street_5008  # the PUT carried the phone only
    assert contacts["5009"]["street"] == "Filiale 1"
    sent = [(r.method, r.path) for r in contact_writes(emu)]
    assert sorted(sent) == [("PUT", "/contacts/5008"), ("PUT", "/contacts/5009")]
    assert kontakte(path)["5009"]["Straße"] == "Filiale 1"
    before = len(writes(emu))
    again = sync(emu, path)
    assert again.code == 0 and len(writes(emu)) == before, again.text
    assert "workbook 0 updated, 0 added, 0 removed" in again.out, again.text


@pytest.mark.parametrize("trouble", ["lost", "killed"])
@pytest.mark.parametrize("reading", ["copy", "read"])
def test_a_synced_client_address_never_writes_its_inheriting_contacts_through_lost_answers_and_a_kill(
    tmp_path, reading, trouble
):
    """The contact story of issue 9 under both readings, for sync: the accountant edits client 1005's
    street while a colleague corrects its phone in Billomat; the sync loses an answer (5 % lost, the
    client PUT's answer forced lost) or is killed right after its first write. Run again as cron would,
    it converges: both edits in Billomat and the workbook, no contact ever written, the next sync idle."""
    faults = FaultSpec.parse("lost=0.05,seed=5") if trouble == "lost" else FaultSpec()
    emulator = sample_emulator(reading, faults)
    with emulator.running():
        path = pulled(emulator, tmp_path)
        stored = {rid: dict(emulator.state.table("contacts")[rid]) for rid in INHERITING}
        edit(path, "1005", "Straße", "Neue Straße 9")
        emulator.state.update_client("1005", {"phone": "+49 211 999"})
        if trouble == "lost":
            emulator.force("lost", count=1, method="PUT", path_contains="/clients/1005")
        else:
            hit, _output = run_killed(emulator, ["sync", "--sheet", str(path)], 1, "after", tmp_path)
            assert len(hit) == 1 and hit[0].startswith("PUT ") and hit[0].endswith("/api/clients/1005")
        for _attempt in range(5):  # cron runs it again until it completes
            result = sync(emulator, path)
            assert "Traceback" not in result.text
            if result.code == 0:
                break
        assert result.code == 0, result.text
        client = emulator.state.table("clients")["1005"]
        assert (client["street"], client["phone"]) == ("Neue Straße 9", "+49 211 999")
        assert (kunden(path)["1005"]["Straße"], kunden(path)["1005"]["Telefon"]) == ("Neue Straße 9", "+49 211 999")
        before = len(writes(emulator))
        again = sync(emulator, path)
        assert again.code == 0 and len(writes(emulator)) == before, again.text
        assert "workbook 0 updated, 0 added, 0 removed" in again.out, again.text
    assert contact_writes(emulator) == []
    assert {rid: emulator.state.table("contacts")[rid] for rid in INHERITING} == stored
