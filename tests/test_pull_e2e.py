"""End to end: `billsync pull` against the emulator over HTTP on 127.0.0.1."""

from __future__ import annotations

import csv
import io
import math
import re
import socket
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from sync.cli import Runtime, main
from sync.clock import FakeClock
from sync.emulator import Emulator, EmulatorConfig, FaultSpec, generate_account, load_seed
from sync.mapping import load_mapping
from sync.sheet import read_workbook
from tests.e2e import (
    API_KEY,
    REPO,
    Terminal,
    assert_private,
    billomat_env,
    files_containing,
    run_cli,
    run_subprocess,
    umask,
)

pytestmark = pytest.mark.e2e

MAPPING = load_mapping(REPO / "mappings" / "billomat.yaml")
CLIENTS = MAPPING.sheets["clients"]
CONTACTS = MAPPING.sheets["contacts"]


def serve(account, **options) -> Emulator:  # noqa: ANN001
    """An emulator for `account` on a free port (started by the caller with .running())."""
    options.setdefault("clock", FakeClock())
    options.setdefault("contacts_bulk", "allow")
    return Emulator(EmulatorConfig(billomat_id="musterfirma", api_key=API_KEY, account=account, **options))


@pytest.fixture(scope="module")
def sample_account():
    return load_seed(REPO / "sample_data")


@pytest.fixture(scope="module")
def pulled_sample(tmp_path_factory, sample_account):
    """Pull the hostile sample account once into xlsx and CSV; share the result between tests."""
    tmp = tmp_path_factory.mktemp("pull")
    emu = serve(sample_account)
    with emu.running():
        env = billomat_env(emu.billomat_url)
        xlsx = run_cli(["pull", "--out", str(tmp / "kunden.xlsx"), "--no-progress", "-v"], env)
        csv_dir = run_cli(["pull", "--out", str(tmp / "csv"), "--no-progress"], env)
    return tmp, emu, xlsx, csv_dir


def _expected_clients(emu: Emulator) -> dict[str, dict[str, str]]:
    """The emulator's clients as workbook rows: header → value, keyed by id."""
    state = emu.state
    props = {p["id"]: p["name"] for p in state.client_properties}
    values = {(v["client_id"], v["client_property_id"]): v["value"] for v in state.client_property_values}
    tags: dict[str, list[str]] = {}
    for tag in state.client_tags:
        tags.setdefault(tag["client_id"], []).append(tag["name"])
    rows = {}
    for client in state.clients:
        row = {column.header: client.get(column.field, "") for column in CLIENTS.columns}
        for prop_id, name in props.items():
            row[name] = values.get((client["id"], prop_id), "")
        row[CLIENTS.tags.header] = CLIENTS.tags.separator.join(sorted(tags.get(client["id"], []), key=str.casefold))
        rows[client["id"]] = row
    return rows


def _xlsx_rows(path: Path, sheet: str) -> list[dict[str, str]]:
    """Rows of one sheet read with openpyxl (independent of billsync's reader), None → ""."""
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    rows = list(ws.iter_rows(values_only=True))
    header = [str(h) for h in rows[0]]
    return [{h: _unescape(v) for h, v in zip(header, row, strict=False)} for row in rows[1:]]


def _unescape(value: object) -> str:
    """openpyxl leaves OOXML's _xHHHH_ escapes (e.g. _x000D_ for CR) undecoded; Excel decodes them."""
    if value is None:
        return ""
    text = str(value)
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def test_pull_of_hostile_sample_reproduces_every_client_value_exactly(pulled_sample):
    tmp, emu, result, _ = pulled_sample
    assert result.code == 0, result.text
    expected = _expected_clients(emu)
    rows = _xlsx_rows(tmp / "kunden.xlsx", CLIENTS.sheet)
    key_header = CLIENTS.key_column.header
    assert sorted(r[key_header] for r in rows) == sorted(expected)
    for row in rows:
        want = expected[row[key_header]]
        for header, value in want.items():
            assert row[header] == value, f"client {row[key_header]}, column {header!r}"


def test_pull_of_hostile_sample_reproduces_every_contact_value_exactly(pulled_sample):
    tmp, emu, _, _ = pulled_sample
    numbers = {c["id"]: c["client_number"] for c in emu.state.clients}
    rows = {r[CONTACTS.key_column.header]: r for r in _xlsx_rows(tmp / "kunden.xlsx", CONTACTS.sheet)}
    assert sorted(rows) == sorted(c["id"] for c in emu.state.contacts)
    for contact in emu.state.contacts:
        row = rows[contact["id"]]
        for column in CONTACTS.columns:
            want = numbers[contact["client_id"]] if column.field == "client_number" else contact.get(column.field, "")
            assert row[column.header] == want, f"contact {contact['id']}, column {column.header!r}"


def test_pulled_workbook_holds_no_formula_and_every_cell_is_text(pulled_sample):
    tmp, _, _, _ = pulled_sample
    wb = openpyxl.load_workbook(tmp / "kunden.xlsx")
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate} is a formula"
                assert cell.value is None or isinstance(cell.value, str), f"{ws.title}!{cell.coordinate}"


def test_pulled_workbook_keeps_leading_zeros_and_hostile_text(pulled_sample):
    tmp, emu, _, _ = pulled_sample
    cells = {v for r in _xlsx_rows(tmp / "kunden.xlsx", CLIENTS.sheet) for v in r.values()}
    hostile = [v for c in emu.state.clients for v in c.values() if v[:1] in ("0", "=", "+", "-", "@", "\t", "\r")]
    assert hostile, "the sample account must hold hostile values"
    for value in hostile:
        if value in {c.get(col.field, "") for c in emu.state.clients for col in CLIENTS.columns}:
            assert value in cells


def test_csv_variant_opens_in_german_excel_and_reads_back_exactly(pulled_sample):
    tmp, emu, _, result = pulled_sample
    assert result.code == 0, result.text
    path = tmp / "csv" / f"{CLIENTS.sheet}.csv"
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM so Excel reads UTF-8"
    header_line = raw[3:].split(b"\r\n", 1)[0].decode("utf-8")
    assert ";" in header_line and header_line.split(";")[0].strip('"') == CLIENTS.key_column.header
    with path.open(encoding="utf-8-sig", newline="") as handle:
        assert len(list(csv.reader(handle, delimiter=";"))) == len(emu.state.clients) + 1
    tables = read_workbook(tmp / "csv", MAPPING)
    expected = _expected_clients(emu)
    for row in tables[CLIENTS.sheet].to_dict("records"):
        assert row == {h: expected[row[CLIENTS.key_column.header]].get(h, "") for h in row}


def test_pull_records_the_base_snapshot(pulled_sample):
    tmp, emu, _, _ = pulled_sample
    from sync.state import StateDir

    snapshot = StateDir(tmp / ".billsync").read_snapshot()
    assert snapshot is not None
    assert snapshot.frames.counts()["clients"] == len(emu.state.clients)
    assert sorted(snapshot.frames.clients["id"]) == sorted(c["id"] for c in emu.state.clients)


def test_api_key_never_appears_in_output_or_files_even_verbose(pulled_sample):
    tmp, _, xlsx, csv_result = pulled_sample
    assert "GET /clients" in xlsx.text, "-v shows the calls"
    for result in (xlsx, csv_result):
        assert API_KEY not in result.text
    assert files_containing(tmp, API_KEY) == []


@pytest.mark.slow
def test_extraction_of_2500_clients_uses_the_minimum_number_of_requests(tmp_path):
    account = generate_account(clients=2500, contacts_per_client=2, properties=3, tags=10, seed=3)
    emu = serve(account)
    with emu.running():
        result = run_cli(["pull", "--out", str(tmp_path / "k.xlsx"), "--no-progress"], billomat_env(emu.billomat_url))
    assert result.code == 0, result.text
    state = emu.state
    by_path = Counter(r.path for r in emu.requests)
    tag_counts = Counter(t["name"] for t in state.client_tags)
    minimum = (
        1  # GET /clients/myself: the credential check
        + math.ceil(len(state.clients) / 1000)
        + math.ceil(len(state.contacts) / 1000)
        + 1  # property definitions
        + max(1, math.ceil(len(state.client_property_values) / 1000))
        + 1  # tag cloud
        + sum(math.ceil(n / 1000) for n in tag_counts.values())
    )
    assert len(tag_counts) == 10 and len(state.contacts) == 5000
    assert by_path["/contacts"] == 5
    assert len(emu.requests) <= minimum + 2, by_path
    assert len(emu.requests) >= minimum


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["refuse", "empty"])
def test_contacts_fall_back_to_per_client_listing_when_bulk_is_refused(tmp_path, mode):
    account = generate_account(clients=120, contacts_per_client=2, properties=3, tags=4, seed=5)
    emu = serve(account, contacts_bulk=mode)
    with emu.running():
        result = run_cli(["pull", "--out", str(tmp_path / "k.xlsx"), "--no-progress"], billomat_env(emu.billomat_url))
    assert result.code == 0, result.text
    assert "per client" in result.out
    contact_calls = [r for r in emu.requests if r.path == "/contacts"]
    # one refused bulk call (twice when the refusal also trips the order_by fallback), then one per client
    assert len(emu.state.clients) + 1 <= len(contact_calls) <= len(emu.state.clients) + 2
    rows = _xlsx_rows(tmp_path / "k.xlsx", CONTACTS.sheet)
    assert len(rows) == len(emu.state.contacts)


def test_rate_limit_is_respected_by_waiting_not_by_provoking_429(tmp_path, sample_account):
    clock = FakeClock(start=1_800_000_000.0 + 890)  # 10 s before a window boundary... then more windows
    emu = serve(sample_account, clock=clock, rate_limit=6)
    with emu.running():
        env = {**billomat_env(emu.billomat_url)}
        config = tmp_path / "billsync.yaml"
        config.write_text("billomat:\n  rate_limit_reserve: 2\n", encoding="utf-8")
        result = run_cli(
            ["--config", str(config), "pull", "--out", str(tmp_path / "k.xlsx"), "--no-progress"], env, clock
        )
    assert result.code == 0, result.text
    assert not [r for r in emu.requests if r.status == 429]
    assert clock.sleeps, "the client waited for the next window"
    assert "waiting" in result.out and "rate limit" in result.out.lower()


WINDOW = 900


@pytest.mark.parametrize("left_at_start", [31, 30])
def test_a_run_started_late_in_a_window_never_eats_the_reserve(tmp_path, sample_account, left_at_start):
    # The field report: started with 30 left, billsync took 30 for the quota and used 27 of the reserve.
    window = 1_800_000_000 // WINDOW * WINDOW
    clock = FakeClock(start=window + 69.0)  # 13 min 51 s before the next window
    emu = serve(sample_account, clock=clock, rate_limit=300)
    with emu.lock:
        for _ in range(300 - left_at_start):  # other tools used the rest of this window
            emu.rate_limiter.take("default", 300)
    log = tmp_path / "billsync.log"
    with emu.running():
        result = run_cli(
            ["pull", "--out", str(tmp_path / "k.xlsx"), "--quiet", "--log-file", str(log)],
            billomat_env(emu.billomat_url),
            clock,
        )
    assert (result.code, result.out, result.err) == (0, "", "")
    in_window = [r for r in emu.requests if r.at < window + WINDOW]
    # One request tells how many are left; at or below the reserve of 30 nothing more is sent.
    assert len(in_window) == 1
    assert not [r for r in emu.requests if r.status == 429]
    logged = log.read_text(encoding="utf-8")
    assert (
        f"Billomat rate limit: {left_at_start - 1} of 300 requests left in this window, keeping 30 for other "
        "tools; waiting 13 min 52 s until"
    ) in logged
    assert "rate_limit_reserve" not in logged


def test_an_emulator_with_its_own_quota_states_it_and_billsync_budgets_for_it(tmp_path, sample_account):
    clock = FakeClock(start=1_800_000_000.0)
    emu = serve(sample_account, clock=clock, rate_limit=20, rate_limit_header=True, contacts_bulk="refuse")
    with emu.running():
        result = run_cli(["pull", "--out", str(tmp_path / "k.xlsx")], billomat_env(emu.billomat_url), clock)
    assert result.code == 0, result.text
    warning = (
        "warning: billomat.rate_limit_reserve 30 is not below the account's quota of 20 requests per window; "
        "keeping 2 for other tools instead"
    )
    assert result.err.splitlines().count(warning) == 1
    waits = [line for line in result.out.splitlines() if line.startswith("Billomat rate limit:")]
    assert waits and all("of 20 requests left" in w and "keeping 2 for other tools" in w for w in waits)
    assert not [r for r in emu.requests if r.status == 429]


def test_on_a_terminal_pull_counts_down_a_rate_limit_wait_and_shows_the_workbook_being_written(
    tmp_path, sample_account
):
    window = 1_800_000_000 // WINDOW * WINDOW
    clock = FakeClock(start=window + 780.0)  # 2 min before the next window, with only the reserve left
    emu = serve(sample_account, clock=clock, rate_limit=300)
    with emu.lock:
        for _ in range(270):
            emu.rate_limiter.take("default", 300)
    out, err = io.StringIO(), Terminal()
    with emu.running():
        code = main(
            ["pull", "--out", str(tmp_path / "k.xlsx")],
            Runtime(env=billomat_env(emu.billomat_url), clock=clock, out=out, err=err),
        )
    assert code == 0, out.getvalue() + err.getvalue()
    drawn = err.getvalue()
    # The wait is said once and counted down second by second on the fake clock, never frozen.
    assert "waiting 2 min 01 s" in out.getvalue()
    assert "Billomat rate limit: next window in" in drawn
    assert all(f"{left} left" in drawn for left in ("2:01", "1:00", "0:01"))
    assert clock.sleeps.count(1.0) >= 120
    assert "Writing k.xlsx" in drawn  # the workbook writer's bar


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong_key", "API key was refused by Billomat account at http://127.0.0.1:"),
        ("wrong_key", "check BILLOMAT_API_KEY and BILLOMAT_BASE_URL"),
        ("unknown_account", "account"),
        ("unreachable", "127.0.0.1"),
        ("html_502", "502"),
        ("truncated_json", "JSON"),
        ("plain_http_remote", "http://"),
    ],
)
def test_bad_input_gives_one_clear_line_and_exit_2(tmp_path, sample_account, case, expected):
    emu = serve(sample_account)
    with emu.running():
        env = billomat_env(emu.billomat_url)
        if case == "wrong_key":
            env["BILLOMAT_API_KEY"] = "not-the-right-key"
        elif case == "unknown_account":
            env["BILLOMAT_BASE_URL"] = emu.billomat_url.replace("/musterfirma/", "/nosuchaccount/")
        elif case == "unreachable":
            env["BILLOMAT_BASE_URL"] = f"http://127.0.0.1:{_unused_port()}/api"
        elif case == "html_502":
            emu.force("502", count=1000)
        elif case == "truncated_json":
            emu.force("truncate", count=1000)
        elif case == "plain_http_remote":
            env["BILLOMAT_BASE_URL"] = "http://billomat.example.com/api"
        result = run_cli(["pull", "--out", str(tmp_path / "k.xlsx"), "--no-progress"], env)
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    error_lines = [line for line in result.err.splitlines() if line.startswith("billsync: error:")]
    assert len(error_lines) == 1, result.err
    assert expected.lower() in error_lines[0].lower()
    assert not (tmp_path / "k.xlsx").exists()
    assert API_KEY not in result.text


def test_python_m_sync_pulls_like_the_console_script(tmp_path, sample_account):
    emu = serve(sample_account)
    with emu.running():
        result = run_subprocess(
            ["pull", "--out", str(tmp_path / "k.xlsx")], billomat_env(emu.billomat_url), cwd=REPO
        )
    assert result.code == 0, result.text
    assert result.out.strip().splitlines()[-1].startswith("pull:")
    assert (tmp_path / "k.xlsx").exists()
    assert API_KEY not in result.text


def test_faults_during_pull_are_retried_and_the_result_is_complete(tmp_path, sample_account):
    emu = serve(sample_account, faults=FaultSpec.parse("5xx=0.2,429=0.1,lost=0.1,seed=11"))
    with emu.running():
        result = run_cli(["pull", "--out", str(tmp_path / "k.xlsx"), "--no-progress"], billomat_env(emu.billomat_url))
    assert result.code == 0, result.text
    assert len(_xlsx_rows(tmp_path / "k.xlsx", CLIENTS.sheet)) == len(emu.state.clients)


def test_check_sheet_validates_rows_against_the_last_pull_without_extra_requests(tmp_path, sample_account):
    emu = serve(sample_account)
    with emu.running():
        env = billomat_env(emu.billomat_url)
        path = tmp_path / "k.xlsx"
        assert run_cli(["pull", "--out", str(path), "--no-progress"], env).code == 0
        before = len(emu.requests)
        good = run_cli(["check", "--sheet", str(path)], env)
        assert good.code == 0, good.text
        assert "checked against Billomat as of" in good.out
        assert len(emu.requests) == before + 1  # the credential check only
        wb = openpyxl.load_workbook(path)
        ws = wb[CLIENTS.sheet]
        email_col = next(c.column for c in ws[1] if c.value == CLIENTS.column("email").header)
        ws.cell(3, email_col).value = "kein-at-zeichen"
        wb.save(path)
        bad = run_cli(["check", "--sheet", str(path)], env)
    assert bad.code == 1, bad.text
    assert f"sheet {CLIENTS.sheet!r}, row 3, column {CLIENTS.column('email').header!r}" in bad.err


def test_check_sheet_without_a_pull_checks_the_structure_and_says_so(tmp_path, sample_account):
    emu = serve(sample_account)
    with emu.running():
        env = billomat_env(emu.billomat_url)
        path = tmp_path / "k.xlsx"
        assert run_cli(["pull", "--out", str(path), "--state", str(tmp_path / "elsewhere"), "--no-progress"], env).code == 0
        result = run_cli(["check", "--sheet", str(path)], env)
    assert result.code == 0, result.text
    assert "no pull recorded here yet" in result.out


def test_state_files_are_readable_only_by_their_owner_whatever_the_umask(tmp_path, sample_account):
    emu = serve(sample_account)
    with emu.running(), umask(0):  # the most permissive umask: every mode must come from billsync
        result = run_cli(["pull", "--out", str(tmp_path / "k.xlsx"), "--no-progress"], billomat_env(emu.billomat_url))
        again = run_cli(["pull", "--out", str(tmp_path / "k.xlsx"), "--no-progress"], billomat_env(emu.billomat_url))
    assert result.code == 0 and again.code == 0, result.text + again.text
    assert_private(tmp_path / ".billsync", "snapshot.zip", "lock")
    assert not [p for p in tmp_path.rglob("*.tmp")]  # no temp file left behind
# ---------------------------------------------------------------------------------------------------
# Pull onto an existing workbook (SPEC §4): never loses the accountants' work, always keeps a .bak
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def emu_sample(sample_account):
    emu = serve(sample_account)
    with emu.running():
        yield emu


def _pull(emu: Emulator, out: Path, *extra: str):  # noqa: ANN202
    return run_cli(["pull", "--out", str(out), "--no-progress", *extra], billomat_env(emu.billomat_url))


def _set_cell(path: Path, sheet: str, row: int, header: str, value: str) -> None:
    wb = openpyxl.load_workbook(path)
    ws = wb[sheet]
    ws.cell(row, [c.value for c in ws[1]].index(header) + 1).value = value
    wb.save(path)


def test_pull_onto_an_unedited_workbook_replaces_it_and_keeps_the_previous_one(emu_sample, tmp_path):
    out = tmp_path / "kunden.xlsx"
    assert _pull(emu_sample, out).code == 0
    emu_sample.state.update_client("1005", {"city": "Görlitz"})
    previous = out.read_bytes()
    result = _pull(emu_sample, out)
    assert result.code == 0, result.text
    assert (tmp_path / "kunden.bak.xlsx").read_bytes() == previous
    cities = {r["Billomat-ID"]: r["Ort"] for r in read_workbook(out, MAPPING)["Kunden"].to_dict("records")}
    assert cities["1005"] == "Görlitz"


def test_pull_onto_a_workbook_with_edits_not_yet_pushed_refuses_and_force_replaces_it(emu_sample, tmp_path):
    out = tmp_path / "kunden.xlsx"
    assert _pull(emu_sample, out).code == 0
    _set_cell(out, "Kunden", 4, "Ort", "Nirgendwo an der Spree")
    edited = out.read_bytes()

    refused = _pull(emu_sample, out)
    assert refused.code == 2, refused.text
    assert "1 edit(s) not yet pushed" in refused.err and "'Nirgendwo an der Spree'" in refused.err and "--force" in refused.err
    assert out.read_bytes() == edited and not (tmp_path / "kunden.bak.xlsx").exists()

    forced = _pull(emu_sample, out, "--force")
    assert forced.code == 0, forced.text
    assert (tmp_path / "kunden.bak.xlsx").read_bytes() == edited
    assert "Nirgendwo an der Spree" not in {r["Ort"] for r in read_workbook(out, MAPPING)["Kunden"].to_dict("records")}


@pytest.mark.parametrize("own", ["sheet", "column"])
def test_pull_onto_a_workbook_with_the_accountants_own_sheet_or_column_refuses(emu_sample, tmp_path, own):
    out = tmp_path / "kunden.xlsx"
    assert _pull(emu_sample, out).code == 0
    wb = openpyxl.load_workbook(out)
    if own == "sheet":
        wb.create_sheet("Notizen")["A1"] = "Mahnlauf im März"
    else:
        ws = wb["Kunden"]
        ws.cell(1, ws.max_column + 1).value = "Bemerkung Buchhaltung"
    wb.save(out)
    before = out.read_bytes()
    result = _pull(emu_sample, out)
    assert result.code == 2, result.text
    assert ("'Notizen'" if own == "sheet" else "'Bemerkung Buchhaltung' in sheet 'Kunden'") in result.err
    assert out.read_bytes() == before


def test_pull_onto_an_edited_csv_folder_refuses_and_force_keeps_the_folder_as_bak(emu_sample, tmp_path):
    out = tmp_path / "kunden"
    assert _pull(emu_sample, out).code == 0
    kunden = out / "Kunden.csv"
    kunden.write_bytes(kunden.read_bytes().replace("Düsseldorf".encode(), b"Duisburg", 1))
    edited = {p.name: p.read_bytes() for p in out.iterdir()}
    assert _pull(emu_sample, out).code == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == edited
    assert _pull(emu_sample, out, "--force").code == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "kunden.bak").iterdir()} == edited


def test_pull_onto_a_workbook_open_in_libreoffice_refuses_with_exit_1(emu_sample, tmp_path):
    out = tmp_path / "kunden.xlsx"
    assert _pull(emu_sample, out).code == 0
    (tmp_path / ".~lock.kunden.xlsx#").write_bytes(b",Erika Muster,BUERO-PC,16.05.2024 08:12,file:///x;")
    before = out.read_bytes()
    result = _pull(emu_sample, out, "--force")
    assert result.code == 1 and "Erika Muster" in result.err
    assert out.read_bytes() == before
