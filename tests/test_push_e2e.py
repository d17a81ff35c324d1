"""End to end (issue #3): `billsync plan` and `billsync push` through the real CLI against the emulator
over HTTP on 127.0.0.1.

Every expectation here is computed from the edits the test makes (an `Edits` value applied both to the
workbook and to a model of the account), never from billsync's own plan. The oracle of the fault and
kill tests is a second, fault-free emulator that got the same edits.

How write requests are counted: every POST, PUT and DELETE the emulator logged, including ones that
failed or were repeated. A fault-free push sends exactly one per change of the plan: a tag remove is
one DELETE (after one GET of the client's tags, a read, not counted), a create carries its
idempotency marker in the POST body (no second request for it). The contacts of a deleted client
are no change of their own (Billomat deletes them with it).

Kill tests run `python -m sync push` as a subprocess against the in-process emulator. The kill point is
deterministic without changing the emulator: the test wraps the request handler of that emulator
instance (`kill_at_write`) and sends SIGKILL from inside it at the k-th write, either before the write
is performed or after it was performed and before its answer leaves (the moment a create is most
likely to be duplicated). The re-runs are in-process, on a FakeClock.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import subprocess
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from sync.clock import FakeClock
from sync.emulator import Emulator, EmulatorConfig, FaultSpec, load_seed
from sync.mapping import load_mapping
from sync.origin import ORIGIN_FILE
from sync.sheet import property_columns
from tests.e2e import (
    API_KEY,
    REPO,
    WRITES,
    Result,
    assert_private,
    billomat_env,
    files_containing,
    modes,
    pull_once,
    run_cli,
    run_killed,
    umask,
)

pytestmark = pytest.mark.e2e

MAPPING = load_mapping(REPO / "mappings" / "billomat.yaml")
CLIENTS = MAPPING.sheets["clients"]
CONTACTS = MAPPING.sheets["contacts"]
KUNDEN, KONTAKTE = CLIENTS.sheet, CONTACTS.sheet
ID = CLIENTS.key_column.header  # Billomat-ID
CONTACT_ID = CONTACTS.key_column.header  # Kontakt-ID
CLIENT_REF = CONTACTS.column("client_id").header  # Kunden-ID
TAGS = CLIENTS.tags.header if CLIENTS.tags else "Schlagwörter"
HEADER = {c.field: c.header for c in CLIENTS.columns}
CONTACT_HEADER = {c.field: c.header for c in CONTACTS.columns}
SAMPLE = load_seed(REPO / "sample_data")
# Fields the emulator derives or stamps itself: not part of "the state the workbook asked for".
VOLATILE = {"created", "address", "customerportal_url"}
INHERITED = ("name", "street", "zip", "city", "state", "country_code")  # a contact's empty fields
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


# --------------------------------------------------------------------------------------------------
# Emulator, CLI
# --------------------------------------------------------------------------------------------------


def serve(**options) -> Emulator:  # noqa: ANN003
    """The sample account on a free port (started by the caller with .running()).

    `contact_inherit` ("copy", the default, or "read"): how the emulator fills a contact's empty address
    fields from its client (billomat-api.md §4.2, unconfirmed); the tests that touch contacts, faults
    and kills run under both.
    """
    options.setdefault("clock", FakeClock())
    options.setdefault("contacts_bulk", "allow")
    options.setdefault("account", SAMPLE)
    return Emulator(EmulatorConfig(billomat_id="musterfirma", api_key=API_KEY, **options))


def cli(emu: Emulator, *argv: str) -> Result:
    """Run billsync in-process against `emu`, on the emulator's fake clock (retries never really sleep)."""
    return run_cli([*argv, "--no-progress"], billomat_env(emu.billomat_url), emu.config.clock)  # type: ignore[arg-type]


def pull(emu: Emulator, path: Path) -> Path:
    result = pull_once(
        emu, ["pull", "--out", str(path), "--no-progress"], billomat_env(emu.billomat_url), emu.config.clock
    )  # type: ignore[arg-type]
    assert result.code == 0, result.text
    return path


def writes(emu: Emulator, since: int = 0) -> list:
    return [r for r in emu.requests[since:] if r.method in WRITES]


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.text, result.text
    assert API_KEY not in result.text


def error_line(result: Result) -> str:
    lines = [line for line in result.err.splitlines() if line.startswith("billsync: error:")]
    assert len(lines) == 1, result.text
    return lines[0]


# --------------------------------------------------------------------------------------------------
# The workbook, edited as an accountant would (openpyxl stands in for Excel; the csv module for a
# text editor on the CSV folder)
# --------------------------------------------------------------------------------------------------

_RISKY = ("=", "+", "-", "@", "\t", "\r", "'")


class Book:
    """A pulled workbook: cells by sheet, key and header; `save()` writes it back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.is_csv = path.is_dir()
        if self.is_csv:
            self.grids: dict[str, list[list[str]]] = {}
            for name in (KUNDEN, KONTAKTE):
                with (path / f"{name}.csv").open(encoding="utf-8-sig", newline="") as fh:
                    self.grids[name] = list(csv.reader(fh, delimiter=";"))
        else:
            self.wb = openpyxl.load_workbook(path)
        self._headers: dict[str, list[str]] = {}  # openpyxl's row 1, read once (until row 1 changes)

    # -- raw access ---------------------------------------------------------------------------------
    def headers(self, sheet: str) -> list[str]:
        if self.is_csv:
            return self.grids[sheet][0]
        if sheet not in self._headers:
            self._headers[sheet] = [str(c.value) if c.value is not None else "" for c in self.wb[sheet][1]]
        return self._headers[sheet]

    def nrows(self, sheet: str) -> int:
        """The last sheet row (1 = header)."""
        return len(self.grids[sheet]) if self.is_csv else self.wb[sheet].max_row

    def cell(self, sheet: str, row: int, header: str) -> str:
        col = self.headers(sheet).index(header)
        if self.is_csv:
            cells = self.grids[sheet][row - 1]
            value = cells[col] if col < len(cells) else ""
            return value[1:] if value[:1] == "'" else value
        value = self.wb[sheet].cell(row, col + 1).value
        return "" if value is None else str(value)

    def put(self, sheet: str, row: int, header: str, value: str) -> None:
        col = self.headers(sheet).index(header)
        if self.is_csv:
            cells = self.grids[sheet][row - 1]
            cells.extend([""] * (col + 1 - len(cells)))
            cells[col] = "'" + value if value[:1] in _RISKY else value
        else:
            self.wb[sheet].cell(row, col + 1).value = value if value != "" else None
            if row == 1:
                self._headers.pop(sheet, None)

    def row_of(self, sheet: str, header: str, value: str) -> int:
        rows = self.rows_of(sheet, header, value)
        assert len(rows) == 1, (sheet, header, value, rows)
        return rows[0]

    def rows_of(self, sheet: str, header: str, value: str) -> list[int]:
        col = self.headers(sheet).index(header)
        if self.is_csv:
            cells = [row[col] if col < len(row) else "" for row in self.grids[sheet][1:]]
            found = [c[1:] if c[:1] == "'" else c for c in cells]
        else:  # one pass down the column (openpyxl recounts max_row on every call)
            column = self.wb[sheet].iter_rows(min_row=2, min_col=col + 1, max_col=col + 1, values_only=True)
            found = ["" if v is None else str(v) for (v,) in column]
        return [r for r, text in enumerate(found, start=2) if text == value]

    # -- accountant's operations --------------------------------------------------------------------
    def set(self, sheet: str, key: str, header: str, value: str) -> None:
        key_header = ID if sheet == KUNDEN else CONTACT_ID
        self.put(sheet, self.row_of(sheet, key_header, key), header, value)

    def get(self, sheet: str, key: str, header: str) -> str:
        key_header = ID if sheet == KUNDEN else CONTACT_ID
        return self.cell(sheet, self.row_of(sheet, key_header, key), header)

    def add(self, sheet: str, values: dict[str, str]) -> int:
        if self.is_csv:
            self.grids[sheet].append([""] * len(self.headers(sheet)))
        row = self.nrows(sheet) + (0 if self.is_csv else 1)
        for header, value in values.items():
            self.put(sheet, row, header, value)
        return row

    def delete_row(self, sheet: str, row: int) -> None:
        if self.is_csv:
            del self.grids[sheet][row - 1]
        else:
            self.wb[sheet].delete_rows(row)
            self._headers.pop(sheet, None)

    def save(self) -> None:
        if self.is_csv:
            for name, rows in self.grids.items():
                with (self.path / f"{name}.csv").open("w", encoding="utf-8-sig", newline="") as fh:
                    csv.writer(fh, delimiter=";", lineterminator="\r\n").writerows(rows)
        else:
            self.wb.save(self.path)


def property_headers(emu: Emulator) -> dict[str, str]:
    """Property id → its column header in Kunden."""
    return dict(property_columns(pd.DataFrame(emu.state.client_properties, dtype=object), CLIENTS))


# --------------------------------------------------------------------------------------------------
# Edits: applied to the workbook and, independently, to a model of the account
# --------------------------------------------------------------------------------------------------


@dataclass
class NewClient:
    key: str  # "" (a blank Billomat-ID) or "neu-…" (Kontakte rows refer to it)
    fields: dict[str, str]  # API field -> value
    values: dict[str, str] = field(default_factory=dict)  # property id -> value
    tags: tuple[str, ...] = ()
    contacts: tuple[dict[str, str], ...] = ()  # API field -> value


@dataclass
class Edits:
    updates: dict[str, dict[str, str]] = field(default_factory=dict)  # client id -> field -> value
    contact_updates: dict[str, dict[str, str]] = field(default_factory=dict)
    new_clients: list[NewClient] = field(default_factory=list)
    new_contacts: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (client id, fields)
    values: dict[tuple[str, str], str] = field(default_factory=dict)  # (client, property) -> value; "" clears
    tags_add: list[tuple[str, str]] = field(default_factory=list)
    tags_remove: list[tuple[str, str]] = field(default_factory=list)
    delete_clients: list[str] = field(default_factory=list)  # their Kontakte rows go too
    delete_contacts: list[str] = field(default_factory=list)

    def changed_records(self) -> int:
        """How many writes a push of these edits needs: one per changed record (see the module doc).

        The contacts of a deleted client are no change of their own: Billomat deletes them with it.
        """
        return (
            len(self.updates)
            + len(self.contact_updates)
            + len(self.new_clients)
            + sum(
                len(n.contacts) + len([v for v in n.values.values() if v]) + len(n.tags)
                for n in self.new_clients
            )
            + len(self.new_contacts)
            + len(self.values)
            + len(self.tags_add)
            + len(self.tags_remove)
            + len(self.delete_clients)
            + len(self.delete_contacts)
        )

    def apply_to(self, path: Path, prop_header: dict[str, str]) -> None:
        book = Book(path)
        for cid, fields in self.updates.items():
            for name, value in fields.items():
                book.set(KUNDEN, cid, HEADER[name], value)
        for rid, fields in self.contact_updates.items():
            for name, value in fields.items():
                book.set(KONTAKTE, rid, CONTACT_HEADER[name], value)
        for (cid, pid), value in self.values.items():
            book.set(KUNDEN, cid, prop_header[pid], value)
        tag_cells: dict[str, list[str]] = {}
        for cid, _name in self.tags_add + self.tags_remove:
            tag_cells.setdefault(
                cid, [t.strip() for t in book.get(KUNDEN, cid, TAGS).split(",") if t.strip()]
            )
        for cid, name in self.tags_add:
            tag_cells[cid].append(name)
        for cid, name in self.tags_remove:
            tag_cells[cid].remove(name)
        for cid, names in tag_cells.items():
            book.set(KUNDEN, cid, TAGS, ", ".join(sorted(names, key=str.casefold)))
        for new in self.new_clients:
            row = {ID: new.key, **{HEADER[k]: v for k, v in new.fields.items()}}
            row.update({prop_header[pid]: v for pid, v in new.values.items()})
            if new.tags:
                row[TAGS] = ", ".join(new.tags)
            book.add(KUNDEN, row)
            assert not new.contacts or new.key, "contacts of a new client need its neu-… key"
            for contact in new.contacts:
                book.add(
                    KONTAKTE, {CLIENT_REF: new.key, **{CONTACT_HEADER[k]: v for k, v in contact.items()}}
                )
        for cid, contact in self.new_contacts:
            book.add(KONTAKTE, {CLIENT_REF: cid, **{CONTACT_HEADER[k]: v for k, v in contact.items()}})
        for cid in self.delete_clients:
            book.delete_row(KUNDEN, book.row_of(KUNDEN, ID, cid))
            for row in reversed(book.rows_of(KONTAKTE, CLIENT_REF, cid)):
                book.delete_row(KONTAKTE, row)
        for rid in self.delete_contacts:
            book.delete_row(KONTAKTE, book.row_of(KONTAKTE, CONTACT_ID, rid))
        book.save()

    def expected(self, before: dict, reading: str = "copy") -> dict:
        """The account after a push of these edits, derived from the edits and the state before (as
        stored: under the "read" reading a contact's empty fields stay empty, whatever its client holds)."""
        state = copy.deepcopy(before)
        clients, contacts = state["clients"], state["contacts"]
        for cid, fields in self.updates.items():
            clients[cid].update(fields)
        for rid, fields in self.contact_updates.items():
            contacts[rid].update(fields)
        for (cid, pid), value in self.values.items():
            state["values"][(cid, pid)] = value
        for cid, name in self.tags_add:
            state["tags"].append((cid, name))
        for cid, name in self.tags_remove:
            state["tags"].remove((cid, name))
        for cid in self.delete_clients:
            del clients[cid]
        for rid in self.delete_contacts:
            del contacts[rid]
        for rid in [r for r, c in contacts.items() if c["client_id"] in self.delete_clients]:
            del contacts[rid]
        state["values"] = {k: v for k, v in state["values"].items() if k[0] not in self.delete_clients}
        state["tags"] = [t for t in state["tags"] if t[0] not in self.delete_clients]
        for new in self.new_clients:
            ckey = "new:" + new.fields["name"]
            record = {f: "" for f in _mapped(CLIENTS)}
            record.update(country_code="DE", archived="0")  # the account's default country; not archived
            record.update(new.fields)
            clients[ckey] = record
            state["values"].update({(ckey, pid): v for pid, v in new.values.items()})
            state["tags"] += [(ckey, name) for name in new.tags]
            for contact in new.contacts:
                contacts[_contact_key(ckey, contact)] = _new_contact(record, ckey, contact, reading)
        for cid, contact in self.new_contacts:
            contacts[_contact_key(cid, contact)] = _new_contact(clients[cid], cid, contact, reading)
        state["values"] = {k: v for k, v in state["values"].items() if v}
        state["tags"].sort()
        return state


def _mapped(sheet) -> list[str]:  # noqa: ANN001
    return [c.field for c in sheet.columns if not c.read_only and c.lookup is None and c.field != "client_id"]


def _contact_key(client_key: str, contact: dict[str, str]) -> str:
    return f"{client_key}/new:{contact.get('first_name', '')} {contact.get('last_name', '')}"


def _new_contact(
    client: dict[str, str], client_key: str, contact: dict[str, str], reading: str
) -> dict[str, str]:
    record = {f: "" for f in _mapped(CONTACTS)}
    record.update(contact)
    for name in INHERITED if reading == "copy" else ():  # Billomat copies the client's address fields
        if name in record and not record[name]:
            record[name] = client.get(name, "")
    record["client_id"] = client_key
    return record


def account(emu: Emulator, fields: str = "mapped") -> dict:
    """The emulated account in comparable form, as stored (under the "read" reading of contact
    inheritance a contact that inherits holds "" there: a write into it would show).

    Existing records are keyed by id; records created by billsync by `new:<name>` (clients) and
    `new:<client key>:<first> <last>` (contacts), so runs that got different ids compare equal.
    fields="mapped": only the workbook's writable fields (what the edits can set);
    fields="all": every field but the volatile ones (for comparing two emulators).
    """
    state = emu.state
    new_ids = {c["id"]: "new:" + c["name"] for c in state.clients if c["customfield"].startswith("billsync:")}

    def ckey(cid: str) -> str:
        return new_ids.get(cid, cid)

    def pick(record: dict[str, str], sheet) -> dict[str, str]:  # noqa: ANN001
        if fields == "all":
            return {k: v for k, v in record.items() if k not in VOLATILE and k != "id"}
        return {k: record.get(k, "") for k in _mapped(sheet)}

    clients = {ckey(c["id"]): pick(c, CLIENTS) for c in state.clients}
    contacts = {}
    for c in state.contacts:
        key = (
            c["id"] if not c["customfield"].startswith("billsync:") else _contact_key(ckey(c["client_id"]), c)
        )
        contacts[key] = {**pick(c, CONTACTS), "client_id": ckey(c["client_id"])}
    values: dict[tuple[str, str], str] = {}
    for v in sorted(state.client_property_values, key=lambda v: int(v["id"])):  # the newest row wins
        values[(ckey(v["client_id"]), v["client_property_id"])] = v["value"]
    return {
        "clients": clients,
        "contacts": contacts,
        "values": {k: v for k, v in values.items() if v},
        "tags": sorted((ckey(t["client_id"]), t["name"]) for t in state.client_tags),
    }


def before_state(emu: Emulator) -> dict:
    return copy.deepcopy(account(emu))


def assert_no_duplicates(emu: Emulator) -> None:
    """No client or contact twice: by name and by the idempotency marker; no tag or value row twice."""
    state = emu.state
    names = Counter(c["name"] for c in state.clients if c["customfield"].startswith("billsync:"))
    assert [n for n, k in names.items() if k > 1] == []
    markers = Counter(r["customfield"] for r in state.clients + state.contacts if r["customfield"])
    assert [m for m, k in markers.items() if k > 1] == []
    people = Counter(
        (c["client_id"], c["first_name"], c["last_name"], c["label"], c["email"]) for c in state.contacts
    )
    assert [p for p, k in people.items() if k > 1] == []
    assert [
        t for t, k in Counter((t["client_id"], t["name"]) for t in state.client_tags).items() if k > 1
    ] == []
    rows = Counter((v["client_id"], v["client_property_id"]) for v in state.client_property_values)
    assert [r for r, k in rows.items() if k > 1] == []


def assert_ids_written_back(emu: Emulator, path: Path, edits: Edits) -> None:
    """Every new client's and contact's row holds its Billomat id; no neu-… reference is left."""
    book = Book(path)
    by_name = {c["name"]: c["id"] for c in emu.state.clients}
    for new in edits.new_clients:
        cid = by_name[new.fields["name"]]
        row = book.row_of(KUNDEN, HEADER["name"], new.fields["name"])
        assert book.cell(KUNDEN, row, ID) == cid, new.fields["name"]
        for contact in new.contacts:
            rows = book.rows_of(KONTAKTE, CONTACT_HEADER["last_name"], contact["last_name"])
            assert len(rows) == 1
            assert book.cell(KONTAKTE, rows[0], CLIENT_REF) == cid
            rid = book.cell(KONTAKTE, rows[0], CONTACT_ID)
            assert emu.state.table("contacts")[rid]["client_id"] == cid
    for cid, contact in edits.new_contacts:
        row = book.row_of(KONTAKTE, CONTACT_HEADER["last_name"], contact["last_name"])
        rid = book.cell(KONTAKTE, row, CONTACT_ID)
        assert emu.state.table("contacts")[rid]["client_id"] == cid
    for sheet, header in ((KUNDEN, ID), (KONTAKTE, CLIENT_REF), (KONTAKTE, CONTACT_ID)):
        cells = [book.cell(sheet, r, header) for r in range(2, book.nrows(sheet) + 1)]
        assert all(c.isdigit() for c in cells), (sheet, header, [c for c in cells if not c.isdigit()])


# --------------------------------------------------------------------------------------------------
# The edits of the tests
# --------------------------------------------------------------------------------------------------


def mixed_edits() -> Edits:
    """Every kind of change an accountant makes, a few of each (sample account, issue #3 point 2)."""
    return Edits(
        updates={
            "1002": {"city": "Potsdam", "phone": "+49 331 998877", "zip": "14467"},
            "1005": {"street": "Königsallee 1", "email": "praxis@weiss.example"},
            "1013": {"note": "Zeile eins\nZeile zwei"},
        },
        contact_updates={"5001": {"label": "Einkauf", "phone": "+49 351 000111"}},
        new_clients=[
            NewClient(
                "",
                {"name": "Blank Neu GmbH", "zip": "01099", "city": "Dresden"},
                {"11": "Handel"},
                ("A-Kunde",),
            ),
            NewClient(
                "neu-1",
                {"name": "Neukunde Weiß GmbH", "street": "Ring 1", "zip": "04109", "city": "Leipzig"},
                {"12": "Tor 4"},
                ("Newsletter", "Export"),
                (
                    {"first_name": "Erika", "last_name": "Weiß", "email": "erika@weiss.example"},
                    {"label": "Lager", "first_name": "Olaf", "last_name": "Nord", "city": "Halle (Saale)"},
                ),
            ),
        ],
        new_contacts=[("1007", {"first_name": "Kai", "last_name": "Krämer", "email": "kai@kraemer.example"})],
        values={("1007", "11"): "Ingenieurwesen", ("1010", "12"): "Tor 9", ("1002", "11"): ""},
        tags_add=[("1002", "A-Kunde"), ("1011", "Export")],
        tags_remove=[("1005", "Newsletter"), ("1019", "Zahlungsverzug")],
        delete_clients=["1026", "1027"],
        delete_contacts=["5014"],
    )


def bulk_edits(prefix: str = "Neu") -> Edits:
    """At least 40 changes, six client creates with contacts (issue #3 points 3 and 4)."""
    updates = {str(1002 + i): {"city": f"Stadt {i}", "phone": f"+49 30 {100000 + i}"} for i in range(14)}
    new_clients = [
        NewClient(
            f"neu-{i}",
            {"name": f"{prefix} Kunde {i} GmbH", "zip": f"0{1000 + i}", "city": "Dresden"},
            {"11": f"Branche {i}"},
            ("A-Kunde",) if i % 2 else (),
            tuple(
                {"first_name": f"Vor{i}{j}", "last_name": f"Nach{i}{j}", "email": f"k{i}{j}@neu.example"}
                for j in range(1 + i % 2)
            ),
        )
        for i in range(1, 7)
    ]
    return Edits(
        updates=updates,
        contact_updates={"5001": {"label": "Einkauf"}, "5002": {"phone": "+49 30 5550002"}},
        new_clients=new_clients,
        new_contacts=[("1007", {"first_name": "Kai", "last_name": "Krämer"})],
        values={("1020", "11"): "Anlagenbau", ("1021", "11"): "Therapie", ("1010", "12"): ""},
        tags_add=[("1018", "Export"), ("1022", "Newsletter")],
        tags_remove=[("1024", "Export")],
        delete_clients=["1026"],
    )


# --------------------------------------------------------------------------------------------------
# 1. No-op round trip
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "reading"), [("xlsx", "copy"), ("csv", "copy"), ("xlsx", "read")])
def test_plan_right_after_pull_has_no_changes(tmp_path, form, reading):
    emu = serve(contact_inherit=reading)
    with emu.running():
        book = pull(emu, tmp_path / ("kunden.xlsx" if form == "xlsx" else "kunden-csv"))
        before = len(emu.requests)
        result = cli(emu, "plan", "--sheet", str(book))
    assert result.code == 0, result.text
    assert "no changes" in result.out
    assert writes(emu, before) == []
    no_traceback(result)


def soffice(
    profile: Path, out: Path, files: list[Path], convert_to: str, infilter: str | None = None
) -> None:
    """Open `files` in LibreOffice headless and save them into `out` (as tests/test_libreoffice.py does)."""
    assert SOFFICE is not None
    command = [SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore"]
    if infilter:
        command.append(f"--infilter={infilter}")
    command += ["--calc", "--convert-to", convert_to, "--outdir", str(out), *map(str, files)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(profile)},
        check=False,
    )
    for file in files:
        assert (out / file.name).exists(), (
            f"LibreOffice did not write {file.name}: {done.stdout} {done.stderr}"
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    "form",
    ["xlsx", "csv-en-US", "csv-de-DE"],
)
def test_plan_after_libreoffice_saved_the_pulled_workbook_has_no_changes(tmp_path, lo_profile, form):
    if SOFFICE is None:
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui")
    emu = serve()
    profile, out = lo_profile, tmp_path / "saved"
    with emu.running():
        if form == "xlsx":
            book = pull(emu, tmp_path / "kunden.xlsx")
            soffice(profile, out, [book], "xlsx")
            saved = out / "kunden.xlsx"
            with zipfile.ZipFile(saved) as zf:  # really LibreOffice's file, not a copy of billsync's
                assert b"LibreOffice" in zf.read("docProps/app.xml")
        else:
            options = "59,34,76,1,,1033" if form.endswith("en-US") else "59,34,76,1,,1031"
            book = pull(emu, tmp_path / "kunden-csv")
            files = sorted(book.glob("*.csv"))
            soffice(profile, out, files, f"csv:Text - txt - csv (StarCalc):{options}", f"CSV:{options}")
            saved = out
            # Saving in place keeps the folder's origin stamp (sync.origin); here the saved files land in
            # another folder, so the stamp goes with them.
            shutil.copy2(book / ORIGIN_FILE, out / ORIGIN_FILE)
            for file in files:  # LibreOffice rewrote them (leading zeros, long digits, line breaks)
                assert (out / file.name).read_bytes() != file.read_bytes()
        before = len(emu.requests)
        result = cli(emu, "plan", "--sheet", str(saved))
    assert result.code == 0, result.text
    assert "no changes" in result.out
    assert "left out" not in result.text and "warning" not in result.text.lower()
    assert writes(emu, before) == []


# --------------------------------------------------------------------------------------------------
# 2. A push of mixed edits lands exactly
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "reading"), [("xlsx", "copy"), ("csv", "copy"), ("xlsx", "read")])
def test_push_of_mixed_edits_lands_exactly_and_writes_new_ids_back(tmp_path, form, reading):
    """Also edits client 1005's street (its contacts 5008/5009 have no address of their own) and 1002's
    city (contact 5004): under either reading those contacts are never written."""
    edits = mixed_edits()
    emu = serve(contact_inherit=reading)
    with emu.running():
        book = pull(emu, tmp_path / ("kunden.xlsx" if form == "xlsx" else "kunden-csv"))
        before, before_all = before_state(emu), copy.deepcopy(account(emu, "all"))
        edits.apply_to(book, property_headers(emu))
        start = len(emu.requests)
        planned = cli(
            emu, "plan", "--sheet", str(book), "--allow-deletes", "--json", str(tmp_path / "plan.json")
        )
        assert planned.code == 1, planned.text  # changes pending
        assert writes(emu, start) == []
        plan = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))

        start = len(emu.requests)
        pushed = cli(emu, "push", "--sheet", str(book), "--allow-deletes")
        assert pushed.code == 0, pushed.text
        sent = writes(emu, start)

        # The account is exactly what the edits asked for, field by field.
        got, want = account(emu), edits.expected(before, reading)
        assert got["clients"].keys() == want["clients"].keys()
        for key, record in want["clients"].items():
            assert got["clients"][key] == record, key
        assert got["contacts"].keys() == want["contacts"].keys()
        for key, record in want["contacts"].items():
            assert got["contacts"][key] == record, key
        assert got["values"] == want["values"]
        assert got["tags"] == want["tags"]
        # Fields the workbook does not show (customfield, payment terms, ...) are untouched.
        after_all = account(emu, "all")
        for kind, changed in (("clients", edits.updates), ("contacts", edits.contact_updates)):
            for key, record in before_all[kind].items():
                if key in after_all[kind]:
                    assert after_all[kind][key] == {**record, **changed.get(key, {})}, key
        assert_no_duplicates(emu)

        # One write request per changed record, and the plan counted the same changes.
        expected_writes = edits.changed_records()
        assert len(plan["changes"]) == expected_writes
        assert len(sent) == expected_writes, Counter((r.method, r.path.split("/")[1]) for r in sent)
        assert all(r.status in (200, 201) and r.fault is None for r in sent)
        deletes = len(edits.tags_remove) + len(edits.delete_clients) + len(edits.delete_contacts)
        assert Counter(r.method for r in sent)["DELETE"] == deletes
        assert f"{expected_writes} write requests" in pushed.out

        assert_ids_written_back(emu, book, edits)

        # A second push has nothing to do; plan agrees.
        start = len(emu.requests)
        again = cli(emu, "push", "--sheet", str(book), "--allow-deletes")
        assert again.code == 0, again.text
        assert writes(emu, start) == []
        assert "0 write requests" in again.out
        planned = cli(emu, "plan", "--sheet", str(book))
        assert planned.code == 0 and "no changes" in planned.out, planned.text
    no_traceback(pushed)


def test_push_keeps_the_accountants_own_columns_sheets_and_formatting(tmp_path):
    from openpyxl.styles import PatternFill

    emu = serve()
    with emu.running():
        book = pull(emu, tmp_path / "kunden.xlsx")
        wb = openpyxl.load_workbook(book)
        ws = wb[KUNDEN]
        ws.cell(1, ws.max_column + 1).value = "Intern"
        ws.cell(2, ws.max_column).value = "=LEN(D2)"
        ws.cell(3, 4).fill = PatternFill("solid", fgColor="FFFF00")
        wb.create_sheet("Notizen")["A1"] = "Rückruf Müller am Montag"
        wb.save(book)
        Edits(
            new_clients=[NewClient("neu-7", {"name": "Eigene Spalten GmbH"}, contacts=({"last_name": "Z"},))]
        ).apply_to(book, property_headers(emu))
        result = cli(emu, "push", "--sheet", str(book))
        assert result.code == 0, result.text
    wb = openpyxl.load_workbook(book)
    assert wb[KUNDEN].cell(2, wb[KUNDEN].max_column).value == "=LEN(D2)"
    assert wb[KUNDEN].cell(3, 4).fill.fgColor.rgb.endswith("FFFF00")
    assert wb["Notizen"]["A1"].value == "Rückruf Müller am Montag"
    assert (tmp_path / "kunden.bak.xlsx").exists()


# --------------------------------------------------------------------------------------------------
# 3. Faults: 10 % 5xx, 5 % 429, 5 % lost answers
# --------------------------------------------------------------------------------------------------


def push_until_done(emu: Emulator, book: Path, *extra: str, limit: int = 5) -> list[Result]:
    """Run push until it exits 0 (a run stopped by exhausted retries is simply run again, as cron would)."""
    results = []
    for _ in range(limit):
        results.append(cli(emu, "push", "--sheet", str(book), *extra))
        no_traceback(results[-1])
        if results[-1].code == 0:
            return results
    raise AssertionError("push never finished: " + "\n---\n".join(r.text for r in results))


@pytest.fixture(scope="module")
def oracles(tmp_path_factory) -> Callable[[str], dict]:
    """Per reading of contact inheritance: the bulk edits pushed to a fault-free emulator, the state
    every other run under that reading must reach (computed once per module and reading)."""
    done: dict[str, dict] = {}

    def oracle_of(reading: str) -> dict:
        if reading not in done:
            done[reading] = _oracle(tmp_path_factory.mktemp(f"oracle-{reading}"), reading)
        return done[reading]

    return oracle_of


def _oracle(tmp: Path, reading: str) -> dict:
    emu = serve(contact_inherit=reading)
    edits = bulk_edits()
    with emu.running():
        book = pull(emu, tmp / "kunden.xlsx")
        before = before_state(emu)
        edits.apply_to(book, property_headers(emu))
        start = len(emu.requests)
        result = cli(emu, "push", "--sheet", str(book), "--allow-deletes")
        assert result.code == 0, result.text
        assert len(writes(emu, start)) == edits.changed_records() >= 40
    assert account(emu, "mapped") == edits.expected(before, reading)  # the oracle itself is right
    return {
        "all": account(emu, "all"),
        "clients": len(emu.state.clients),
        "contacts": len(emu.state.contacts),
        "writes": edits.changed_records(),
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("seed", "tag_post", "reading"),
    [
        (7, "dedupe", "copy"),
        (11, "dedupe", "copy"),
        (23, "duplicate", "copy"),
        (42, "duplicate", "copy"),
        (7, "dedupe", "read"),
    ],
)
def test_push_under_faults_reaches_exactly_the_fault_free_state(tmp_path, oracles, seed, tag_post, reading):
    """10 % 5xx, 5 % 429, 5 % lost answers on every request; the first answer of a client, contact and
    tag create is always lost (forced), so the landed checks run whatever the dice say. With
    tag_post="duplicate" the emulator stores a repeated tag POST twice (billomat-api.md §4.5)."""
    oracle = oracles(reading)
    emu = serve(
        faults=FaultSpec.parse(f"5xx=0.1,429=0.05,lost=0.05,seed={seed}"),
        tag_post=tag_post,
        contact_inherit=reading,
    )
    edits = bulk_edits()
    assert sum(1 for n in edits.new_clients if n.contacts) >= 5 and edits.changed_records() >= 40
    with emu.running():
        book = pull(emu, tmp_path / "kunden.xlsx")
        edits.apply_to(book, property_headers(emu))
        for path in ("/clients", "/contacts", "/client-tags"):
            emu.force("lost", count=1, method="POST", path_contains=path)
        start = len(emu.requests)
        results = push_until_done(emu, book, "--allow-deletes")
        faults = Counter(r.fault for r in emu.requests[start:] if r.fault)
        again = cli(emu, "plan", "--sheet", str(book))
    assert faults["lost"] >= 3 and (faults["502"] + faults["503"]) and faults["429"], faults
    assert account(emu, "all") == oracle["all"]
    assert (len(emu.state.clients), len(emu.state.contacts)) == (oracle["clients"], oracle["contacts"])
    assert_no_duplicates(emu)
    assert_ids_written_back(emu, book, edits)
    assert again.code == 0 and "no changes" in again.out, again.text
    # Re-running is allowed (a run whose retries ran out stops, and the next completes it), but
    # with these rates one run is expected to be enough.
    assert len(results) <= 2, [r.text for r in results]


# --------------------------------------------------------------------------------------------------
# 4. Killed (SIGKILL) during a push, then run again
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("k", "when", "tag_post", "reading"),
    [
        (1, "after", "dedupe", "copy"),
        (2, "before", "dedupe", "copy"),
        (3, "after", "dedupe", "copy"),
        (7, "after", "dedupe", "copy"),
        (15, "before", "dedupe", "copy"),
        (30, "after", "duplicate", "copy"),
        (-1, "after", "duplicate", "copy"),
        (-1, "after", "duplicate", "read"),
    ],
)
def test_push_killed_at_a_write_and_run_again_completes_exactly(
    tmp_path, oracles, k, when, tag_post, reading
):
    """Killed at the k-th write (-1: the last, so no id was written back), then `push` again: the
    journal and the markers make the next run finish exactly what was left, in one run.
    tag_post="duplicate": the emulator stores a repeated tag POST twice (billomat-api.md §4.5)."""
    oracle = oracles(reading)
    emu = serve(rate_limit=0, tag_post=tag_post, contact_inherit=reading)
    edits = bulk_edits()
    k = k if k > 0 else oracle["writes"]
    with emu.running():
        book = pull(emu, tmp_path / "kunden.xlsx")
        edits.apply_to(book, property_headers(emu))
        hit, output = run_killed_push(emu, book, k, when, tmp_path)
        if k == 1:
            assert len(hit) == 1 and hit[0].startswith("POST ") and hit[0].endswith("/api/clients")
        # What the killed run created for workbook rows is adopted, never planned as a delete.
        planned = cli(
            emu, "plan", "--sheet", str(book), "--allow-deletes", "--json", str(tmp_path / "p.json")
        )
        plan = json.loads((tmp_path / "p.json").read_text(encoding="utf-8"))
        deletes = [
            (c["resource"], c["key"]) for c in plan["changes"] + plan["held"] if c["action"] == "delete"
        ]
        assert set(deletes) <= {("clients", cid) for cid in edits.delete_clients}, planned.text
        results = push_until_done(emu, book, "--allow-deletes")
        again = cli(emu, "plan", "--sheet", str(book))
    assert account(emu, "all") == oracle["all"], hit
    assert (len(emu.state.clients), len(emu.state.contacts)) == (oracle["clients"], oracle["contacts"])
    assert_no_duplicates(emu)
    assert_ids_written_back(emu, book, edits)
    assert again.code == 0 and "no changes" in again.out, again.text
    assert API_KEY not in output
    assert len(results) == 1, "\n---\n".join(r.text for r in results)


def run_killed_push(emu: Emulator, book: Path, k: int, when: str, home: Path) -> tuple[list[str], str]:
    """`python -m sync push` in a subprocess, SIGKILLed at its k-th write; (what was hit, its output)."""
    return run_killed(emu, ["push", "--sheet", str(book), "--allow-deletes"], k, when, home)


@pytest.mark.slow
def test_a_killed_push_completed_from_a_copy_of_the_workbook_elsewhere_creates_nothing_twice(
    tmp_path, oracles
):
    """The accountant copies the workbook to another folder after a killed push: a new state dir, no
    journal. The records the killed run created carry their rows' markers, so they are adopted, not
    created again (and not deleted as unknown records either)."""
    oracle = oracles("copy")
    emu = serve(rate_limit=0)
    edits = bulk_edits()
    with emu.running():
        book = pull(emu, tmp_path / "kunden.xlsx")
        edits.apply_to(book, property_headers(emu))
        run_killed_push(emu, book, 20, "after", tmp_path)
        moved = tmp_path / "elsewhere" / "kunden.xlsx"
        moved.parent.mkdir()
        shutil.copy2(book, moved)
        results = push_until_done(emu, moved, "--allow-deletes")
        again = cli(emu, "plan", "--sheet", str(moved))
    assert account(emu, "all") == oracle["all"]
    assert_no_duplicates(emu)
    assert_ids_written_back(emu, moved, edits)
    assert again.code == 0 and "no changes" in again.out, again.text
    assert len(results) == 1, "\n---\n".join(r.text for r in results)


# --------------------------------------------------------------------------------------------------
# 4b. Contacts that inherit their client's address (issue 9 point 4), under both readings
# --------------------------------------------------------------------------------------------------

# Client 1005's contacts 5008/5009 and 1002's 5004 have no address of their own: Billomat fills it in.
INHERITING = ("5004", "5008", "5009")


@pytest.mark.parametrize("trouble", ["none", "lost", "killed"])
@pytest.mark.parametrize("reading", ["copy", "read"])
def test_a_pushed_client_address_never_writes_the_contacts_that_inherit_it(tmp_path, reading, trouble):
    """The accountant edits two clients' street, name, city and zip and pushes; whether Billomat copies
    a contact's empty address fields when it is written ("copy") or shows the client's current ones
    ("read") is unconfirmed. Under both, no contact is ever written, a second push and a plan have
    nothing to do, and sync converges; also with 5 % lost answers and with a push killed right after
    its first write (performed, answer never read) and run again."""
    faults = FaultSpec.parse("lost=0.05,seed=5") if trouble == "lost" else FaultSpec()
    emu = serve(contact_inherit=reading, faults=faults, rate_limit=0)
    edits = Edits(
        updates={
            "1005": {"street": "Neue Straße 9", "name": "Zahnarztpraxis Weiß & Partner"},
            "1002": {"city": "Potsdam", "zip": "14467"},
        }
    )
    with emu.running():
        book = pull(emu, tmp_path / "kunden.xlsx")
        stored = {rid: dict(emu.state.table("contacts")[rid]) for rid in INHERITING}
        edits.apply_to(book, property_headers(emu))
        if trouble == "lost":
            emu.force("lost", count=1, method="PUT", path_contains="/clients/1005")
        if trouble == "killed":
            hit, _ = run_killed_push(emu, book, 1, "after", tmp_path)
            assert hit[0].startswith("PUT ") and "/clients/" in hit[0]
        push_until_done(emu, book)
        clients = emu.state.table("clients")
        assert {f: clients["1005"][f] for f in ("street", "name")} == edits.updates["1005"]
        assert {f: clients["1002"][f] for f in ("city", "zip")} == edits.updates["1002"]
        shown = emu.state.shown_contact(emu.state.table("contacts")["5008"])["street"]
        assert shown == ("Neue Straße 9" if reading == "read" else "Königsallee 60")

        start = len(emu.requests)
        again = cli(emu, "push", "--sheet", str(book))
        assert again.code == 0 and "0 write requests" in again.out, again.text
        planned = cli(emu, "plan", "--sheet", str(book))
        assert planned.code == 0 and "no changes" in planned.out, planned.text
        for night in (1, 2):
            synced = cli(emu, "sync", "--sheet", str(book))
            assert synced.code == 0, f"sync {night}: {synced.text}"
            assert "workbook 0 updated, 0 added, 0 removed" in synced.out, f"sync {night}: {synced.text}"
        assert writes(emu, start) == []
        last = cli(emu, "push", "--sheet", str(book))
        assert last.code == 0 and "0 write requests" in last.out, last.text
        no_traceback(last)
    assert [r for r in emu.requests if r.method in WRITES and r.path.startswith("/contacts")] == []
    assert {rid: emu.state.table("contacts")[rid] for rid in INHERITING} == stored


# --------------------------------------------------------------------------------------------------
# 5. The delete guard
# --------------------------------------------------------------------------------------------------

# Five clients without documents (so Billomat lets them go), two of them with one contact each.
FIVE = ["1007", "1018", "1022", "1026", "1027"]


def only_reads(emu: Emulator, since: int) -> None:
    sent = writes(emu, since)
    assert sent == [], sent


@pytest.mark.parametrize("form", ["xlsx", "csv"])
def test_an_emptied_kunden_sheet_is_an_error_and_deletes_nothing(tmp_path, form):
    emu = serve()
    with emu.running():
        book_path = pull(emu, tmp_path / ("kunden.xlsx" if form == "xlsx" else "kunden-csv"))
        book = Book(book_path)
        for row in range(book.nrows(KUNDEN), 1, -1):
            book.delete_row(KUNDEN, row)
        book.save()
        start = len(emu.requests)
        result = cli(emu, "push", "--sheet", str(book_path), "--allow-deletes", "--max-deletes", "1000")
        only_reads(emu, start)
    assert result.code == 2, result.text
    line = error_line(result)
    assert f"sheet {KUNDEN!r}" in line and "empty" in line
    # The file that is empty: the workbook, or the sheet's own CSV in a CSV folder.
    assert str(book_path if form == "xlsx" else book_path / f"{KUNDEN}.csv") in line
    assert len(emu.state.clients) == 30
    no_traceback(result)


def test_a_missing_key_column_is_an_error_and_writes_nothing(tmp_path):
    emu = serve()
    with emu.running():
        book_path = pull(emu, tmp_path / "kunden.xlsx")
        Edits(updates={"1002": {"city": "Potsdam"}}).apply_to(book_path, property_headers(emu))
        wb = openpyxl.load_workbook(book_path)
        wb[KUNDEN].delete_cols(1)  # the Billomat-ID column
        wb.save(book_path)
        start = len(emu.requests)
        result = cli(emu, "push", "--sheet", str(book_path), "--allow-deletes")
        only_reads(emu, start)
    assert result.code == 2, result.text
    line = error_line(result)
    assert f"sheet {KUNDEN!r}" in line and f"column {ID!r}" in line and "missing" in line
    assert emu.state.table("clients")["1002"]["city"] == "Berlin"
    no_traceback(result)


def test_more_deletes_than_the_guard_allows_are_held_and_the_rest_goes_through(tmp_path):
    emu = serve()
    with emu.running():
        book = pull(emu, tmp_path / "kunden.xlsx")
        Edits(updates={"1002": {"city": "Potsdam"}}, delete_clients=FIVE).apply_to(
            book, property_headers(emu)
        )
        start = len(emu.requests)
        result = cli(emu, "push", "--sheet", str(book), "--allow-deletes")
        sent = writes(emu, start)
    assert result.code == 1, result.text
    assert [r.method for r in sent] == ["PUT"], sent  # the update, no DELETE
    assert emu.state.table("clients")["1002"]["city"] == "Potsdam"
    assert all(cid in emu.state.table("clients") for cid in FIVE)
    assert {"5024", "5029"} <= set(emu.state.table("contacts")), (
        "contacts of held clients are not deleted either"
    )
    # The message gives the numbers and the flag that lets them through.
    assert "5 of 30 clients" in result.text and "--max-deletes 5" in result.text
    assert "held 5;" in result.out


def test_deletes_without_allow_deletes_are_held(tmp_path):
    emu = serve()
    with emu.running():
        book = pull(emu, tmp_path / "kunden.xlsx")
        Edits(updates={"1002": {"city": "Potsdam"}}, delete_clients=["1026"]).apply_to(
            book, property_headers(emu)
        )
        start = len(emu.requests)
        result = cli(emu, "push", "--sheet", str(book))
        sent = writes(emu, start)
    assert result.code == 1, result.text
    assert [r.method for r in sent] == ["PUT"]
    assert "1026" in emu.state.table("clients")
    assert "--allow-deletes" in result.text and "held 1" in result.out


def test_max_deletes_lets_that_many_deletes_through(tmp_path):
    emu = serve()
    edits = Edits(delete_clients=FIVE)
    with emu.running():
        book = pull(emu, tmp_path / "kunden.xlsx")
        before = before_state(emu)
        edits.apply_to(book, property_headers(emu))
        start = len(emu.requests)
        result = cli(emu, "push", "--sheet", str(book), "--allow-deletes", "--max-deletes", "5")
        sent = writes(emu, start)
        again = cli(emu, "plan", "--sheet", str(book))
    assert result.code == 0, result.text
    # Five DELETE /clients/{id}; their two contacts go with them (no request of their own).
    assert sorted((r.method, r.path) for r in sent) == [("DELETE", f"/clients/{cid}") for cid in FIVE]
    assert account(emu) == edits.expected(before)
    assert again.code == 0 and "no changes" in again.out, again.text


# --------------------------------------------------------------------------------------------------
# 6. Broken workbooks through the CLI
# --------------------------------------------------------------------------------------------------


def _break(case: str, tmp: Path, emu: Emulator) -> tuple[Path, list[str]]:
    """Pull, then break the workbook as `case` says; (workbook, words the error line must hold)."""
    if case.startswith("csv"):
        folder = pull(emu, tmp / "kunden-csv")
        path = folder / f"{KUNDEN}.csv"
        if case == "csv-cp1252":
            path.write_bytes(path.read_bytes()[3:].decode("utf-8").encode("cp1252", errors="replace"))
        elif case == "csv-empty-file":
            path.write_bytes(b"")
        return folder, [str(path), "Kunden"]
    book = pull(emu, tmp / "kunden.xlsx")
    if case == "not-xlsx":
        book.write_text("Kundennummer;Firma\n42;Müller\n", encoding="utf-8")
        return book, [str(book)]
    if case == "empty-file":
        book.write_bytes(b"")
        return book, [str(book)]
    wb = openpyxl.load_workbook(book)
    if case == "missing-sheet":
        del wb[KONTAKTE]
        words = [f"sheet {KONTAKTE!r}", "missing"]
    elif case == "duplicate-ids":
        wb[KUNDEN]["A4"] = wb[KUNDEN]["A3"].value  # 1003's row now says 1002
        words = [f"sheet {KUNDEN!r}", "row 4", f"column {ID!r}", "1002"]
    elif case == "merged-cells":
        col = [c.header for c in CLIENTS.columns].index(HEADER["name"]) + 1  # pulled in mapping order
        wb[KUNDEN].merge_cells(start_row=5, start_column=col, end_row=6, end_column=col)
        words = [f"sheet {KUNDEN!r}", "row 5", f"column {HEADER['name']!r}", "merged"]
    else:
        raise AssertionError(case)
    wb.save(book)
    return book, words


@pytest.mark.parametrize(
    "case",
    [
        "not-xlsx",
        "empty-file",
        "missing-sheet",
        "duplicate-ids",
        "merged-cells",
        "csv-cp1252",
        "csv-empty-file",
    ],
)
@pytest.mark.parametrize("command", ["plan", "push"])
def test_a_structurally_broken_workbook_is_one_clear_error_and_no_write(tmp_path, case, command):
    emu = serve()
    with emu.running():
        book, words = _break(case, tmp_path, emu)
        start = len(emu.requests)
        result = cli(emu, command, "--sheet", str(book), "--allow-deletes")
        only_reads(emu, start)
    assert result.code == 2, result.text
    line = error_line(result)
    for word in words:
        assert word in line, (word, line)
    no_traceback(result)


def _row_problem(case: str, book: Path) -> tuple[str, str, str]:
    """Break one row (1005's) as `case` says; (row, column, word) the message must name."""
    wb = openpyxl.load_workbook(book)
    ws = wb[KUNDEN]
    col = {str(c.value): c.column for c in ws[1]}
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "1005")
    ws.cell(row, col[HEADER["city"]]).value = "Neuss"  # an edit in the same row: it must not be sent
    if case == "unknown-id":
        ws.cell(row, 1).value = "99999"
        column, word = ID, "99999"
    elif case == "invalid-email":
        ws.cell(row, col[HEADER["email"]]).value = "praxis(at)weiss.example"
        column, word = HEADER["email"], "email"
    elif case == "formula":
        ws.cell(row, col[HEADER["name"]]).value = '=CONCATENATE("Zahnarzt", " Weiß")'
        column, word = HEADER["name"], "formula"
    else:
        raise AssertionError(case)
    wb.save(book)
    return str(row), column, word


@pytest.mark.parametrize("case", ["unknown-id", "invalid-email", "formula"])
@pytest.mark.parametrize("command", ["plan", "push"])
def test_a_broken_row_is_left_out_and_the_other_rows_go_through(tmp_path, case, command):
    emu = serve()
    with emu.running():
        book = pull(emu, tmp_path / "kunden.xlsx")
        Edits(updates={"1002": {"city": "Potsdam"}}).apply_to(book, property_headers(emu))
        row, column, word = _row_problem(case, book)
        start = len(emu.requests)
        result = cli(emu, command, "--sheet", str(book), "--allow-deletes")
        sent = writes(emu, start)
    assert result.code == 1, result.text
    lines = [
        line
        for line in result.err.splitlines()
        if "left out" in line and f"sheet {KUNDEN!r}, row {row}, column {column!r}" in line and word in line
    ]
    assert len(lines) == 1, result.text
    clients = emu.state.table("clients")
    assert clients["1005"]["city"] == "Düsseldorf"  # the broken row sent nothing
    if command == "push":
        assert [(r.method, r.path) for r in sent] == [("PUT", "/clients/1002")]
        assert clients["1002"]["city"] == "Potsdam"
    else:
        assert sent == []
    no_traceback(result)


# --------------------------------------------------------------------------------------------------
# 7. plan --json and --report; 8. the API key never leaks
# --------------------------------------------------------------------------------------------------


def test_plan_writes_json_and_an_xlsx_report_and_sends_no_write(tmp_path):
    emu = serve()
    edits = mixed_edits()
    with emu.running():
        book = pull(emu, tmp_path / "kunden.xlsx")
        edits.apply_to(book, property_headers(emu))
        start = len(emu.requests)
        result = cli(
            emu, "plan", "--sheet", str(book), "--json", str(tmp_path / "plan.json"),
            "--report", str(tmp_path / "aenderungen.xlsx"),
        )  # fmt: skip
        only_reads(emu, start)
    assert result.code == 1, result.text
    plan = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    # Without --allow-deletes the deletes are held, everything else is a change.
    deletes = len(edits.delete_clients) + len(edits.delete_contacts)
    assert len(plan["changes"]) == edits.changed_records() - deletes
    assert len(plan["held"]) == deletes and all("--allow-deletes" in h["reason"] for h in plan["held"])
    update = next(c for c in plan["changes"] if c["key"] == "1002" and c["action"] == "update")
    assert update["fields"]["city"] == {"old": "Berlin", "new": "Potsdam"}
    assert plan["counts"]["clients"] == {"create": 2, "update": 3}

    wb = openpyxl.load_workbook(tmp_path / "aenderungen.xlsx")
    rows = [[c or "" for c in row] for row in wb.worksheets[0].iter_rows(values_only=True)]
    assert any("Berlin" in row and "Potsdam" in row and "1002" in row for row in rows), rows
    assert any("Neukunde Weiß GmbH" in row for row in rows)
    held = [[c or "" for c in row] for row in wb.worksheets[1].iter_rows(values_only=True)]
    assert any("1026" in row for row in held)
    for ws in wb.worksheets:
        assert all(not isinstance(c.value, str) or c.data_type != "f" for row in ws.iter_rows() for c in row)


def test_the_api_key_appears_in_no_output_journal_snapshot_or_workbook(tmp_path):
    emu = serve()
    with emu.running():
        results = [cli(emu, "pull", "--out", str(tmp_path / "kunden.xlsx"), "-v")]
        mixed_edits().apply_to(tmp_path / "kunden.xlsx", property_headers(emu))
        results.append(
            cli(
                emu,
                "plan",
                "--sheet",
                str(tmp_path / "kunden.xlsx"),
                "-v",
                "--json",
                str(tmp_path / "p.json"),
                "--report",
                str(tmp_path / "r.xlsx"),
            )
        )
        emu.force("502", count=1, method="PUT")
        emu.force("lost", count=1, method="POST", path_contains="/clients")
        emu.force("429", count=1, method="POST", path_contains="/contacts")
        results.append(cli(emu, "push", "--sheet", str(tmp_path / "kunden.xlsx"), "-v", "--allow-deletes"))
        results.append(cli(emu, "push", "--sheet", str(tmp_path / "kunden.xlsx"), "-v", "--allow-deletes"))
        emu.force("502", count=100)
        results.append(cli(emu, "push", "--sheet", str(tmp_path / "kunden.xlsx"), "-v"))
    assert [r.code for r in results] == [0, 1, 0, 0, 2], [r.text for r in results]
    assert "retry" in results[2].text and "PUT /clients/" in results[2].text  # the calls are shown ...
    for result in results:
        assert API_KEY not in result.text  # ... never the key
    state = tmp_path / ".billsync"
    assert (state / "runs").is_dir() and (state / "snapshot.zip").exists()
    assert (tmp_path / "kunden.bak.xlsx").exists()
    assert files_containing(tmp_path, API_KEY) == []


def test_push_dry_run_shows_the_plan_and_sends_no_write(tmp_path):
    emu = serve()
    with emu.running():
        book = pull(emu, tmp_path / "kunden.xlsx")
        wb = openpyxl.load_workbook(book)
        ws = wb[KUNDEN]
        col = {c.value: c.column for c in ws[1]}["Ort"]
        row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == "1003")
        ws.cell(row, col).value = "Leipzig"
        wb.save(book)
        before = book.read_bytes()
        mark = len(emu.requests)
        result = cli(emu, "push", "--sheet", str(book), "--dry-run")
        assert result.code == 1, result.text
        assert "Ort: 'Chemnitz' -> 'Leipzig'" in result.out
        assert "0 write requests" in result.out.strip().splitlines()[-1]
        assert writes(emu, mark) == []
        assert book.read_bytes() == before
        assert emu.state.table("clients")["1003"]["city"] == "Chemnitz"


def test_push_keeps_state_private_and_the_backup_as_private_as_the_workbook(tmp_path):
    emu = serve()
    with emu.running(), umask(0):  # the most permissive umask: every mode must come from billsync
        book_path = pull(emu, tmp_path / "kunden.xlsx")
        book = Book(book_path)
        book.set(KUNDEN, "1003", "Ort", "Leipzig")
        book.add(KUNDEN, {HEADER["name"]: "Neukunde GmbH", HEADER["city"]: "Halle"})  # its id is written back
        book.save()
        book_path.chmod(0o640)  # the owner's choice for the workbook
        result = cli(emu, "push", "--sheet", str(book_path))
    assert result.code == 0, result.text
    assert_private(tmp_path / ".billsync", "snapshot.zip", "lock", "runs")
    backup = tmp_path / "kunden.bak.xlsx"
    assert backup.exists(), result.text
    assert modes(tmp_path)["kunden.xlsx"] == modes(tmp_path)["kunden.bak.xlsx"] == 0o640
