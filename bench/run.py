"""`make bench`: extraction requests/time and workbook write/read time and peak memory, each beside
the raw library call it wraps, and the diff beside csv-diff, daff and datacompy on the same data,
measured in the same run. Writes docs/benchmarks.md (`--only diff|sync|sync100k` re-runs just that section;
`--only sync100k --rounds 2` is the issue-10 sync of 100,000 clients, `--save-before` stores it as the
before-the-redesign numbers in bench/before-redesign.json).

Every measurement runs in a fresh process (`python bench/run.py --case NAME --size N`) so that its
peak memory is its own: the inputs are prepared first, then the kernel's high-water mark is reset
(/proc/self/clear_refs) and only the measured call counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"
DOC = REPO / "docs" / "benchmarks.md"
SIZES = (10_000, 100_000)
API_KEY = "bench-key"


# ---------------------------------------------------------------- measuring inside one process


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(call: Callable[[], Any]) -> dict[str, float]:
    """Time one call and its peak RSS above what the process held before it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        pass
    before = _rss_mb("VmRSS")
    cpu, started = time.process_time(), time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    peak = _rss_mb("VmHWM")
    # CPU seconds of this process too: on a shared, busy machine they vary less than the wall time.
    out = {"seconds": seconds, "cpu_seconds": time.process_time() - cpu, "peak_mb": peak, "added_mb": peak - before}
    if isinstance(result, dict):
        out.update(result)
    return out


def _frames(size: int):  # noqa: ANN202
    from sync.emulator import generate_account
    from sync.frames import AccountFrames

    account = generate_account(clients=size, contacts_per_client=2, properties=3, tags=10, seed=1)
    return AccountFrames.from_records(
        {name: getattr(account, name) for name in ("clients", "contacts", "client_properties", "client_property_values", "client_tags")}
    )


def _mapping():  # noqa: ANN202
    from sync.mapping import load_mapping

    return load_mapping(REPO / "mappings" / "billomat.yaml")


def case_write_billsync(size: int, path: Path) -> dict[str, float]:
    """billsync: build the sheets from the account frames and write the formatted workbook."""
    from sync import sheet

    frames, mapping = _frames(size), _mapping()
    return measure(lambda: sheet.write_workbook(sheet.build_tables(frames, mapping), path, mapping))


def case_write_raw(size: int, path: Path) -> dict[str, float]:
    """Baseline: the same tables written row by row with plain xlsxwriter (constant_memory, no formats)."""
    import xlsxwriter

    from sync import sheet

    frames, mapping = _frames(size), _mapping()
    tables = sheet.build_tables(frames, mapping)

    def write() -> None:
        wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
        for name, table in tables.items():
            ws = wb.add_worksheet(name)
            ws.write_row(0, 0, list(table.columns))
            for r, row in enumerate(table.itertuples(index=False, name=None), start=1):
                ws.write_row(r, 0, row)
        wb.close()

    return measure(write)


def case_read_billsync(size: int, path: Path) -> dict[str, float]:
    """billsync: read the workbook back into all-text tables."""
    from sync import sheet

    mapping = _mapping()
    return measure(lambda: {"rows": float(sum(len(t) for t in sheet.read_workbook(path, mapping).values()))})


def case_read_raw(size: int, path: Path) -> dict[str, float]:
    """Baseline: python-calamine's raw read of every sheet to Python lists."""
    from python_calamine import CalamineWorkbook

    def read() -> dict[str, float]:
        wb = CalamineWorkbook.from_path(str(path))
        return {"rows": float(sum(len(wb.get_sheet_by_name(n).to_python()) - 1 for n in wb.sheet_names))}

    return measure(read)


def case_extract_billsync(size: int, url: str) -> dict[str, float]:
    """billsync: extract the whole account over HTTP from the emulator (rate limit off)."""
    from sync.clients.billomat import Billomat
    from sync.extract import extract_account

    bm = Billomat(base_url=url, api_key=API_KEY)

    def run() -> dict[str, float]:
        frames, stats = extract_account(bm)
        return {"requests": float(stats.total_requests), "rows": float(sum(frames.counts().values()))}

    return measure(run)


def case_extract_raw(size: int, url: str) -> dict[str, float]:
    """Baseline: the same pages fetched with a bare requests.Session and .json(), nothing else."""
    import requests

    session = requests.Session()
    session.headers.update({"X-BillomatApiKey": API_KEY, "Accept": "application/json"})

    def pages(path: str, **params: str) -> int:
        count, page = 0, 1
        while True:
            body = session.get(f"{url}/{path}", params={"per_page": "1000", "page": str(page), **params}).json()
            envelope = next(iter(body.values()))
            total = int(envelope.get("@total", "0"))
            count += 1
            if page * 1000 >= total:
                return count
            page += 1

    def run() -> dict[str, float]:
        requests_sent = pages("clients") + pages("contacts") + pages("client-properties")
        requests_sent += pages("client-property-values")
        cloud = session.get(f"{url}/client-tags", params={"per_page": "1000"}).json()["client-tags"]
        items = cloud.get("client-tag", [])
        items = items if isinstance(items, list) else [items]
        requests_sent += 1 + sum(pages("clients", tags=item["name"]) for item in items)
        return {"requests": float(requests_sent)}

    return measure(run)


# ---------------------------------------------------------------- read path and write-back (issue 3)

WRITEBACK_SHARE = 100  # one Kunden row in 100 is new (blank id) and gets its id written back


def case_desired_billsync(size: int, path: Path) -> dict[str, float]:
    """billsync: read the workbook and turn it into the desired state (what plan/push do first)."""
    from sync import sheet
    from sync.desired import read_desired

    frames, mapping = _frames(size), _mapping()
    return measure(lambda: {"rows": float(len(read_desired(sheet.read_workbook(path, mapping), mapping, frames).clients))})


def _writeback_rows(size: int) -> list[tuple[int, str]]:
    """(sheet row, id) of the rows whose id is blank in the write-back workbook."""
    ids = sorted(100_001 + i for i in range(size))  # generate_account's client ids, in sheet order
    return [(index + 2, str(client_id)) for index, client_id in enumerate(ids) if index % WRITEBACK_SHARE == 0]


def case_writeback_prep(size: int, path: Path) -> dict[str, float]:
    """Not measured: the pulled workbook with every 100th client's id blanked (new rows of a push)."""
    from sync import sheet

    frames, mapping = _frames(size), _mapping()
    tables = sheet.build_tables(frames, mapping)
    kunden = tables["Kunden"]
    kunden.iloc[:: WRITEBACK_SHARE, 0] = ""
    sheet.write_workbook(tables, path, mapping)
    return {"seconds": 0.0, "peak_mb": 0.0, "added_mb": 0.0}


def case_writeback_billsync(size: int, path: Path) -> dict[str, float]:
    """billsync: write the new ids into their cells (XML patch; everything else byte for byte)."""
    import shutil

    from sync.writeback import NewIds, NewRecord, write_ids

    target = path.with_name(f"billsync-{path.name}")
    shutil.copy(path, target)
    ids = NewIds(clients=tuple(NewRecord(row, f"row:{row}", cid) for row, cid in _writeback_rows(size)))
    mapping = _mapping()
    return measure(lambda: {"written": float(write_ids(target, mapping, ids).written)})


def case_writeback_openpyxl(size: int, path: Path) -> dict[str, float]:
    """Baseline: the format-preserving openpyxl round trip (load_workbook, set the cells, save)."""
    import shutil

    from openpyxl import load_workbook

    target = path.with_name(f"openpyxl-{path.name}")
    shutil.copy(path, target)
    rows = _writeback_rows(size)

    def run() -> dict[str, float]:
        wb = load_workbook(target)
        ws = wb["Kunden"]
        for row, cid in rows:
            ws.cell(row, 1).value = cid
        wb.save(target)
        return {"written": float(len(rows))}

    return measure(run)


# ---------------------------------------------------------------- the nightly sync (issue 4)

SYNC_SIZE = 10_000
SYNC_SHARE = 100  # one client in 100 edited in the workbook, another one in 100 edited in Billomat


def case_sync_billsync(size: int, url: str) -> dict[str, float]:
    """billsync sync after 1 % edits on each side (pull and the edits are preparation, not measured)."""
    import io

    from openpyxl import load_workbook

    from sync.cli import Runtime, main
    from sync.clients.billomat import Billomat

    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    path = tmp / "kunden.xlsx"
    env = {"BILLOMAT_BASE_URL": url, "BILLOMAT_API_KEY": API_KEY}
    quiet = Runtime(env=env, out=io.StringIO(), err=io.StringIO())
    assert main(["pull", "--out", str(path), "--no-progress"], quiet) == 0
    wb = load_workbook(path)
    ws = wb["Kunden"]
    col = {c.value: c.column for c in ws[1]}["Ort"]
    for row in range(2, ws.max_row + 1, SYNC_SHARE):  # the accountants' 1 %
        ws.cell(row, col).value = f"{ws.cell(row, col).value} (Arbeitsmappe)"
    wb.save(path)
    bm = Billomat(base_url=url, api_key=API_KEY)
    ids = [str(100_001 + i) for i in range(size)]
    for client_id in ids[SYNC_SHARE // 2 :: SYNC_SHARE]:  # a colleague's 1 % in Billomat, other clients
        bm.clients.new({"id": client_id, "street": f"Billomatweg {client_id}"}).save()
    out = io.StringIO()
    result = measure(lambda: {"code": float(main(["sync", "--sheet", str(path), "-v", "--no-progress"],
                                                 Runtime(env=env, out=out, err=io.StringIO())))})
    result.update(parse_sync_output(out.getvalue()))
    result["workbook_edits"] = float(len(range(2, ws.max_row + 1, SYNC_SHARE)))
    result["billomat_edits"] = float(len(ids[SYNC_SHARE // 2 :: SYNC_SHARE]))
    return result


def run_sync_case(size: int) -> dict[str, float]:
    """The nightly sync against a fresh emulator of its own (the run changes the account)."""
    emu, url = start_emulator(size)
    try:
        result = run_case("sync_billsync", size, url)
        print(f"{size:>7} {'sync_billsync':<18} {result['seconds']:7.2f} s", flush=True)
        return result
    finally:
        emu.terminate()
        emu.wait(timeout=30)


# ---------------------------------------------------------------- sync of 100,000 clients (issue 10)

SYNC100K_SIZE = 100_000
SYNC100K_CASES = ("sync100k_idle", "sync100k_edits")
BEFORE_REDESIGN = REPO / "bench" / "before-redesign.json"
_EDIT_SUFFIX = " (Arbeitsmappe)"


def parse_sync_output(text: str) -> dict[str, float]:
    """The per-phase seconds and request counts that `billsync sync -v` prints, as result fields."""
    import re

    result: dict[str, float] = {}
    phases = re.search(r"phases: (.*)", text)
    for part in phases.group(1).split(", ") if phases else []:
        name, seconds, _unit = part.rsplit(" ", 2)
        result[f"phase {name}"] = float(seconds)
    summary = re.search(r"(\d+) write requests \(\+(\d+) reads\)", text)
    if summary:
        result["writes"], result["reads"] = float(summary.group(1)), float(summary.group(2))
    return result


def _sync_cli(url: str, path: Path, *argv: str) -> tuple[int, str]:
    """Run one billsync command in this process through the CLI; its exit code and its stdout."""
    import io

    from sync.cli import Runtime, main

    out = io.StringIO()
    env = {"BILLOMAT_BASE_URL": url, "BILLOMAT_API_KEY": API_KEY}
    flag = "--out" if argv[0] == "pull" else "--sheet"
    code = main([argv[0], flag, str(path), *argv[1:]], Runtime(env=env, out=out, err=io.StringIO()))
    return code, out.getvalue()


def _split_target(target: str) -> tuple[str, Path]:
    url, _, path = target.partition(" ")
    return url, Path(path)


def case_sync100k_pull(size: int, target: str) -> dict[str, float]:
    """Not measured: pull the whole account into the workbook the sync cases start from."""
    url, path = _split_target(target)
    code, _ = _sync_cli(url, path, "pull", "--no-progress")
    if code != 0:
        raise SystemExit(f"pull into {path} exited {code}")
    return {"seconds": 0.0, "peak_mb": 0.0, "added_mb": 0.0}


def _sync_measured(target: str) -> dict[str, float]:
    url, path = _split_target(target)
    box: list[tuple[int, str]] = []
    result = measure(lambda: box.append(_sync_cli(url, path, "sync", "-v", "--no-progress")))
    code, text = box[0]
    result["code"] = float(code)
    result.update(parse_sync_output(text))
    return result


def case_sync100k_idle(size: int, target: str) -> dict[str, float]:
    """billsync sync right after a pull: nothing to do on either side."""
    return _sync_measured(target)


def case_sync100k_edit(size: int, target: str) -> dict[str, float]:
    """Not measured: 1 % of the clients edited in the workbook (Ort), another 1 % in Billomat (street).

    Both edits bypass billsync (an XML patch of the sheet as Excel would save it, plain PUTs), so the
    case measures the same work before and after the redesign."""
    import requests

    url, path = _split_target(target)
    workbook_edits = edit_workbook_cells(path, "Kunden", "Ort", range(2, size + 2, SYNC_SHARE), _EDIT_SUFFIX)
    session = requests.Session()
    session.headers.update({"X-BillomatApiKey": API_KEY, "Accept": "application/json"})
    ids = [str(100_001 + i) for i in range(size)][SYNC_SHARE // 2 :: SYNC_SHARE]
    for client_id in ids:
        answer = session.put(f"{url}/clients/{client_id}", json={"client": {"street": f"Billomatweg {client_id}"}})
        answer.raise_for_status()
    return {"seconds": 0.0, "peak_mb": 0.0, "added_mb": 0.0,
            "workbook_edits": float(workbook_edits), "billomat_edits": float(len(ids))}


def case_sync100k_edits(size: int, target: str) -> dict[str, float]:
    """billsync sync after 1 % edits on each side."""
    return _sync_measured(target)


def edit_workbook_cells(path: Path, sheet: str, header: str, rows: Any, suffix: str) -> int:
    """Append `suffix` to the text cells of column `header` in `rows` of `sheet` by patching the sheet
    XML (inline strings, as billsync writes them, or shared strings, as Excel does); every other part
    is copied byte for byte. Returns how many cells were edited.

    Independent of billsync's own xlsx code, so that it prepares the same workbook before and after
    the redesign; openpyxl would take minutes and gigabytes at 100,000 clients."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        parts = {info.filename: zf.read(info) for info in infos}
    book, rels = parts["xl/workbook.xml"].decode(), parts["xl/_rels/workbook.xml.rels"].decode()
    rid = re.search(rf'<sheet [^>]*name="{re.escape(sheet)}"[^>]*r:id="([^"]+)"', book)
    if not rid:
        raise SystemExit(f"{path}: no sheet {sheet}")
    rel = next(r for r in re.findall(r"<Relationship [^>]*>", rels) if f'Id="{rid.group(1)}"' in r)
    name = "xl/" + re.search(r'Target="([^"]+)"', rel).group(1).removeprefix("/xl/").removeprefix("xl/")  # type: ignore[union-attr]
    sst = parts.get("xl/sharedStrings.xml", b"").decode()
    shared = re.findall(r"<si>(.*?)</si>", sst, flags=re.S)
    added: list[str] = []
    cell = re.compile(r'<c r="([A-Z]+)(\d+)"([^>]*)>(?:<is><t(?: [^>]*)?>([^<]*)</t></is>|<v>(\d+)</v>)</c>')

    def text_of(m: re.Match[str]) -> str | None:
        if m.group(5) is None:
            return m.group(4) if "inlineStr" in m.group(3) else None
        inner = re.fullmatch(r"<t(?: [^>]*)?>([^<]*)</t>", shared[int(m.group(5))]) if 't="s"' in m.group(3) else None
        return inner.group(1) if inner else None

    xml = parts[name].decode()
    first = xml[: xml.find("</row>")]
    column = next((m.group(1) for m in cell.finditer(first) if m.group(2) == "1" and text_of(m) == header), None)
    if column is None:
        raise SystemExit(f"{path}: sheet {sheet} has no column {header}")
    wanted = {str(row) for row in rows}

    def edit(m: re.Match[str]) -> str:
        text = text_of(m)
        if m.group(1) != column or m.group(2) not in wanted or text is None:
            return m.group(0)
        added.append(text)
        attrs = m.group(3).replace('t="s"', 't="inlineStr"')  # an edited cell becomes an inline string
        return f'<c r="{column}{m.group(2)}"{attrs}><is><t xml:space="preserve">{text}{suffix}</t></is></c>'

    parts[name] = cell.sub(edit, xml).encode()
    temp = path.with_suffix(".edit.tmp")
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as out:
        for info in infos:
            out.writestr(info, parts[info.filename])
    os.replace(temp, path)
    return len(added)

def run_sync100k_round(size: int) -> dict[str, Any]:
    """One round: a fresh emulator, a pull, the raw calls, the idle sync, the edits and their sync."""
    emu, url = start_emulator(size)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-sync100k-") as tmp:
            target = f"{url} {Path(tmp) / 'kunden.xlsx'}"
            out: dict[str, Any] = {}
            for case, arg in (
                ("sync100k_pull", target), ("extract_raw", url), ("read_raw", _split_target(target)[1]),
                ("sync100k_idle", target), ("sync100k_edit", target), ("sync100k_edits", target),
            ):
                out[case] = run_case(case, size, str(arg))
                print(f"{size:>7} {case:<18} {out[case]['seconds']:7.2f} s", flush=True)
            return out
    finally:
        emu.terminate()
        emu.wait(timeout=30)


def run_sync100k(size: int, rounds: int) -> dict[str, Any]:
    """The issue-10 section: `rounds` rounds (the machine is shared, so their spread is shown)."""
    start = {
        "size": size,
        "commit": _git("rev-parse", "--short", "HEAD"),
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": os.getloadavg()[0],
    }
    return {**start, "rounds": [run_sync100k_round(size) for _ in range(rounds)], "load_after": os.getloadavg()[0]}


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "unknown"


# ---------------------------------------------------------------- the diff (issue 3)

DIFF_SIZE = 100_000
DIFF_CHANGED_SHARE = 100  # one row in 100 gets one cell changed
DIFF_CREATES = DIFF_DELETES = 10
DAFF_MAX_SECONDS = 60.0  # daff runs at full size only when its small-size time extrapolates below this
DIFF_CASES = ("diff_billsync", "diff_csvdiff", "diff_daff", "diff_datacompy")

_CITIES = ("Köln", "Düsseldorf", "München", "Berlin", "Hamburg", "Leipzig", "Straßburg", "Görlitz")
_STATES = ("NRW", "Bayern", "Berlin", "Hamburg", "Sachsen", "")


def _diff_fields() -> list[str]:
    from sync.diff import writable_columns

    return [c.field for c in writable_columns(_mapping().sheets["clients"])]


_ROW_FIELDS = (
    "id", "client_number", "name", "salutation", "first_name", "last_name", "street", "zip", "city", "state",
    "country_code", "email", "phone", "fax", "mobile", "www", "vat_number", "tax_number", "bank_iban",
    "bank_swift", "bank_account_owner", "bank_name", "note", "archived", "debitor_account_number",
)  # fmt: skip


def _client_row(i: int, header: list[str]) -> list[str]:
    """One client as the sheet columns of `header` (id, client number, the writable fields); f-strings,
    so every call makes new str objects, as two separately read tables have. A field the mapping gained
    since these values were chosen gets a value of its own kind (`<field> <i mod 7>`)."""
    values = [
        f"{100_000 + i}", f"KD{i:06d}", f"Firma {i} GmbH", ("Herr", "Frau", "")[i % 3], f"Vor{i % 997}",
        f"Nach{i % 1009}", f"Hauptstraße {i % 300}", f"{(i * 7) % 100_000:05d}", f"{_CITIES[i % 8]}",
        f"{_STATES[i % 6]}", "DE" if i % 5 else "AT", f"info{i}@firma{i}.de", f"+49 221 {i:07d}",
        "" if i % 2 else f"+49 221 {i:07d}9", f"+49 171 {i:07d}", f"www.firma{i}.de", f"DE{i:09d}",
        f"{i % 900 + 100}/{i:05d}", f"DE89 3704 0044 {i:010d}", "COBADEFFXXX", f"Firma {i} GmbH",
        f"Sparkasse {i % 50}", "" if i % 4 else f"Notiz zu {i}\nzweite Zeile", f"{i % 2}", f"{10_000 + i}",
    ]  # fmt: skip
    known = dict(zip(_ROW_FIELDS, values, strict=True))
    return [known[name] if name in known else f"{name} {i % 7}" for name in header]


def diff_data(size: int) -> dict[str, Any]:
    """Before and after tables of `size` clients: 1 % of the rows with one cell changed, a few rows
    deleted and created. Deterministic (seeded), so every case's process builds the same data."""
    import numpy as np

    header = ["id", "client_number", *_diff_fields()]
    rng = np.random.default_rng(7)
    before = [_client_row(i, header) for i in range(size)]
    after = [_client_row(i, header) for i in range(size)]
    picked = rng.choice(size, DIFF_DELETES + size // DIFF_CHANGED_SHARE, replace=False)
    deleted, changed = set(picked[:DIFF_DELETES].tolist()), picked[DIFF_DELETES:]
    columns = rng.integers(2, len(header), size=len(changed))  # never id or client number
    for row, col in zip(changed.tolist(), columns.tolist(), strict=True):
        after[row][col] = after[row][col] + "X"
    after = [row for i, row in enumerate(after) if i not in deleted]
    created = [_client_row(size + j, header) for j in range(DIFF_CREATES)]
    return {
        "header": header,
        "before": before,
        "after": after,
        "created": created,  # ids for the keyed tools; billsync sees them as rows with a blank id
        "expected": {"changed": len(changed), "added": DIFF_CREATES, "removed": DIFF_DELETES},
    }


def _diff_counts(changed: int, added: int, removed: int) -> dict[str, float]:
    return {"changed": float(changed), "added": float(added), "removed": float(removed)}


def _timed(call: Callable[[], Any]) -> tuple[dict[str, float], Any]:
    box: list[Any] = []
    result = measure(lambda: box.append(call()))
    return result, box[0]


def case_diff_billsync(size: int, _: Any) -> dict[str, float]:
    """billsync: diff_account on the account frames and the Desired frames desired.py would build."""
    import dataclasses

    import pandas as pd

    from sync.desired import Desired
    from sync.diff import diff_account
    from sync.frames import AccountFrames

    data, mapping = diff_data(size), _mapping()
    header, fields = data["header"], data["header"][2:]
    current = dataclasses.replace(
        AccountFrames.from_records({}),
        clients=pd.DataFrame(data["before"], columns=header, dtype=object),
    )
    rows = data["after"] + [["", *r[1:]] for r in data["created"]]
    table = pd.DataFrame(rows, columns=header, dtype=object)
    sheet_rows = list(range(2, len(rows) + 2))
    keys = [r[0] or f"row:{n}" for r, n in zip(rows, sheet_rows, strict=True)]
    clients = pd.concat(
        [pd.DataFrame({"_row": sheet_rows, "_key": pd.Series(keys, dtype=object)}), table[fields]], axis=1
    )
    empty = {
        "contacts": ["_row", "_key", "client_key"],
        "property_values": ["_row", "client_key", "client_property_id", "value"],
        "tags": ["_row", "client_key", "name"],
    }
    desired = Desired(clients=clients, **{k: pd.DataFrame(columns=v, dtype=object) for k, v in empty.items()})
    result, diff = _timed(lambda: diff_account(current, desired, mapping))
    result.update(_diff_counts(len(diff.clients.updates), len(diff.clients.creates), len(diff.clients.deletes)))
    return result


def _csv_text(header: list[str], rows: list[list[str]]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def case_diff_csvdiff(size: int, _: Any) -> dict[str, float]:
    """csv-diff: `compare(load_csv(a), load_csv(b))` keyed on id, from CSV text in memory; the
    compare alone (on the keyed dicts load_csv built) is timed again apart."""
    import io

    from csv_diff import compare, load_csv

    data = diff_data(size)
    texts = [_csv_text(data["header"], data["before"]), _csv_text(data["header"], data["after"] + data["created"])]
    result, out = _timed(lambda: compare(*(load_csv(io.StringIO(t), key="id") for t in texts)))
    tables = [load_csv(io.StringIO(t), key="id") for t in texts]
    started = time.perf_counter()
    compare(*tables)
    result["compare_seconds"] = time.perf_counter() - started
    changed = sum(len(c["changes"]) for c in out["changed"])
    result.update(_diff_counts(changed, len(out["added"]), len(out["removed"])))
    return result


def case_diff_daff(size: int, _: Any) -> dict[str, float]:
    """daff (Python): compareTables keyed on id, align, TableDiff.hilite into a table."""
    import daff

    data = diff_data(size)
    before = daff.PythonTableView([data["header"], *data["before"]])
    after = daff.PythonTableView([data["header"], *data["after"], *data["created"]])

    def run() -> Any:
        flags = daff.CompareFlags()
        flags.addPrimaryKey("id")
        align = daff.Coopy.compareTables(before, after, flags).align()
        out = daff.PythonTableView([])
        daff.TableDiff(align, flags).hilite(out)
        return out

    result, out = _timed(run)
    rows = [[out.getCell(x, y) for x in range(out.width)] for y in range(out.height)]
    changed = sum(1 for r in rows if r[0] == "->" for cell in r[1:] if "->" in str(cell))
    result.update(
        _diff_counts(changed, sum(r[0] == "+++" for r in rows), sum(r[0] == "---" for r in rows))
    )
    return result


def case_diff_datacompy(size: int, _: Any) -> dict[str, float]:
    """datacompy: PandasCompare joined on id (all columns object/str, as billsync's frames)."""
    import datacompy
    import pandas as pd

    data = diff_data(size)
    df1 = pd.DataFrame(data["before"], columns=data["header"], dtype=object)
    df2 = pd.DataFrame(data["after"] + data["created"], columns=data["header"], dtype=object)
    result, cmp = _timed(lambda: datacompy.PandasCompare(df1, df2, join_columns="id"))
    changed = int(sum(int(c["unequal_cnt"]) for c in cmp.column_stats))
    result.update(_diff_counts(changed, len(cmp.df2_unq_rows), len(cmp.df1_unq_rows)))
    return result


def run_diff_cases(size: int) -> dict[str, Any]:
    """Every diff case on the same generated data, each in its own process."""
    expected = {"changed": size // DIFF_CHANGED_SHARE, "added": DIFF_CREATES, "removed": DIFF_DELETES}
    out: dict[str, Any] = {"size": size, "columns": 25, "expected": expected}
    for case in ("diff_billsync", "diff_csvdiff", "diff_datacompy"):
        out[case] = run_case(case, size, "-")
        print(f"{size:>7} {case:<18} {out[case]['seconds']:7.2f} s", flush=True)
    # daff is slow in Python (prior-art.md §A1): try a tenth first and extrapolate linearly.
    small = max(size // 10, 1_000)
    probe = run_case("diff_daff", small, "-")
    if size > small and probe["seconds"] * size / small > DAFF_MAX_SECONDS:
        out["diff_daff"] = {**probe, "size": float(small)}
    else:
        out["diff_daff"] = {**(run_case("diff_daff", size, "-") if size > small else probe), "size": float(size)}
    print(f"{int(out['diff_daff']['size']):>7} diff_daff          {out['diff_daff']['seconds']:7.2f} s", flush=True)
    return out


CASES: dict[str, Callable[..., dict[str, float]]] = {
    "write_billsync": case_write_billsync,
    "write_raw": case_write_raw,
    "read_billsync": case_read_billsync,
    "read_raw": case_read_raw,
    "extract_billsync": case_extract_billsync,
    "extract_raw": case_extract_raw,
    "diff_billsync": case_diff_billsync,
    "diff_csvdiff": case_diff_csvdiff,
    "diff_daff": case_diff_daff,
    "desired_billsync": case_desired_billsync,
    "sync_billsync": case_sync_billsync,
    "writeback_prep": case_writeback_prep,
    "writeback_billsync": case_writeback_billsync,
    "writeback_openpyxl": case_writeback_openpyxl,
    "diff_datacompy": case_diff_datacompy,
    "sync100k_pull": case_sync100k_pull,
    "sync100k_idle": case_sync100k_idle,
    "sync100k_edit": case_sync100k_edit,
    "sync100k_edits": case_sync100k_edits,
}


# ---------------------------------------------------------------- orchestrating the processes


# The peer tools live in their own venv (make bench builds .venv-bench): datacompy caps pandas below
# 3.1 and pulls in pyarrow, which must not change the environment billsync itself is measured in.
TOOL_CASES = {"diff_csvdiff", "diff_daff", "diff_datacompy"}
TOOLS_PYTHON = os.environ.get("BENCH_TOOLS_PYTHON") or sys.executable


def run_case(case: str, size: int, target: str) -> dict[str, float]:
    """Run one case in a fresh interpreter and return its measurement."""
    python = TOOLS_PYTHON if case in TOOL_CASES else sys.executable
    proc = subprocess.run(
        [python, __file__, "--case", case, "--size", str(size), "--target", target],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench case {case} ({size}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(size: int) -> tuple[subprocess.Popen[str], str]:
    """The emulator in its own process (as a user would run it), serving a generated account."""
    port = _free_port()
    env = {**os.environ, "BILLOMAT_API_KEY": API_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sync", "emulator", "--generate", str(size), "--rate-limit", "0",
         "--contacts-bulk", "allow", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"emulator did not start: {proc.stderr.read() if proc.stderr else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, f"http://127.0.0.1:{port}/billomat/musterfirma/api"
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("emulator did not open its port within 120 s")


def main() -> None:
    """Run every case for every size and write docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--size", type=int)
    parser.add_argument("--target", help="workbook path or emulator URL for --case")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--diff-size", type=int, default=DIFF_SIZE)
    parser.add_argument(
        "--only", choices=("diff", "sync", "sync100k"),
        help="run only these cases; the other sections keep their last results",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the sync100k section (their spread is shown)")
    parser.add_argument(
        "--save-before", action="store_true",
        help=f"store this run's sync100k numbers as {BEFORE_REDESIGN.relative_to(REPO)} (the run before the redesign)",
    )
    args = parser.parse_args()
    if args.case:
        target: Any = Path(args.target) if args.case.startswith(("write", "read", "desired")) else args.target
        print(json.dumps(CASES[args.case](args.size, target)))
        return

    last = _load_saved()
    if args.only == "sync100k":
        # Only this section is re-rendered, in place: the others stay as the document has them, even
        # when bench/out/results.json (not committed) is gone.
        sync100k = run_sync100k(SYNC100K_SIZE, args.rounds)
        save_sync100k(sync100k, last, before=args.save_before)
        section = render_sync100k(sync100k, load_before())
        doc = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
        DOC.write_text(splice_section(doc, SYNC100K_HEADING, section, _SECTIONS_AFTER_SYNC100K), encoding="utf-8")
        print(f"wrote {DOC.relative_to(REPO)}")
        return
    results: dict[int, dict[str, dict[str, float]]] = {}
    last_results, last_diff = load_results()
    last_sync = last.get("sync")
    results = last_results if args.only else run_io_cases([int(s) for s in args.sizes.split(",")])
    diff = last_diff if args.only == "sync" else run_diff_cases(args.diff_size)
    sync_result = last_sync if args.only == "diff" else run_sync_case(SYNC_SIZE)
    sync100k = last.get("sync100k") if args.only else run_sync100k(SYNC100K_SIZE, args.rounds)
    if diff is not None:
        diff["run_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    DOC.write_text(render(results, diff, sync_result, sync100k, partial=args.only), encoding="utf-8")
    saved: dict[str, Any] = {str(size): r for size, r in results.items()}
    saved["diff"] = diff
    saved["sync"] = sync_result
    save_sync100k(sync100k, saved, before=args.save_before)
    print(f"wrote {DOC.relative_to(REPO)}")


_SECTIONS_AFTER_SYNC100K = ("## Diff: workbook vs Billomat", "## Machine")


def save_sync100k(sync100k: dict[str, Any] | None, saved: dict[str, Any], *, before: bool) -> None:
    """bench/out/results.json with this sync100k run beside the other sections' results; with `before`,
    also the committed bench/before-redesign.json that later runs render beside their own."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps({**saved, "sync100k": sync100k}, indent=2), encoding="utf-8")
    if before and sync100k:
        note = "issue 10: the sync of 100,000 clients measured before the redesign (bench/run.py --only sync100k)"
        BEFORE_REDESIGN.write_text(json.dumps({"note": note, **sync100k}, indent=1) + "\n", encoding="utf-8")


def run_io_cases(sizes: list[int]) -> dict[int, dict[str, dict[str, float]]]:
    """Extraction, workbook write and read for every size."""
    results: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            r: dict[str, dict[str, float]] = {}
            emu, url = start_emulator(size)
            try:
                for case in ("extract_raw", "extract_billsync"):
                    r[case] = run_case(case, size, url)
                    print(f"{size:>7} {case:<18} {r[case]['seconds']:7.2f} s", flush=True)
            finally:
                emu.terminate()
                emu.wait(timeout=30)
            ours, raw = Path(tmp) / f"ours-{size}.xlsx", Path(tmp) / f"raw-{size}.xlsx"
            wb = Path(tmp) / f"writeback-{size}.xlsx"
            for case, path in (
                ("write_raw", raw), ("write_billsync", ours), ("read_raw", ours), ("read_billsync", ours),
                ("desired_billsync", ours), ("writeback_prep", wb), ("writeback_openpyxl", wb),
                ("writeback_billsync", wb),
            ):
                r[case] = run_case(case, size, str(path))
                print(f"{size:>7} {case:<18} {r[case]['seconds']:7.2f} s", flush=True)
            r["file"] = {"mb": ours.stat().st_size / 1e6}
            results[size] = r
    return results


def _load_saved() -> dict[str, Any]:
    path = OUT / "results.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def load_results() -> tuple[dict[int, dict[str, dict[str, float]]], dict[str, Any] | None]:
    """The last run's results (bench/out/results.json), for re-rendering after a partial run."""
    path = OUT / "results.json"
    if not path.exists():
        return {}, None
    saved = json.loads(path.read_text(encoding="utf-8"))
    return {int(k): v for k, v in saved.items() if k.isdigit()}, saved.get("diff")


def render(
    results: dict[int, dict[str, dict[str, float]]],
    diff: dict[str, Any] | None = None,
    sync_result: dict[str, float] | None = None,
    sync100k: dict[str, Any] | None = None,
    *,
    partial: str | None = None,
) -> str:
    """docs/benchmarks.md from one run's results."""
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`); every number below comes from one run on the machine",
        "described at the end. Each billsync step stands beside the raw library call it wraps, measured",
        "in the same run, so the ratio is what billsync costs on top. Each case runs in a fresh process;",
        "*peak* is the process's peak RSS, *added* is the peak minus what the process held before the",
        "measured call (the generated account itself is prepared first and not counted).",
        "",
        "The account is generated (`generate_account`): N clients with 2 contacts each, 3 client",
        "properties (TEXTFIELD, TEXTAREA, CHECKBOX; about half the clients have values) and 10 tags.",
        "",
        "## Extraction over HTTP from the emulator (rate limit off)",
        "",
        "| clients | billsync requests | raw requests | billsync | raw requests.get + .json() | ratio | billsync peak / added |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in results.items():
        ours, raw = r["extract_billsync"], r["extract_raw"]
        lines.append(
            f"| {size:,} | {ours['requests']:.0f} | {raw['requests']:.0f} | {ours['seconds']:.2f} s | "
            f"{raw['seconds']:.2f} s | {ours['seconds'] / raw['seconds']:.2f}× | "
            f"{ours['peak_mb']:.0f} MB / {ours['added_mb']:.0f} MB |"
        )
    lines += [
        "",
        "The raw baseline sends the same pages (clients, contacts, property definitions and values in pages",
        "of 1000, the tag cloud, one listing per tag) and only decodes the JSON with requests' `.json()`",
        "(the standard library's decoder); billsync decodes with orjson, about twice as fast on these pages,",
        "and adds the envelope handling, completeness checks, models and the DataFrames.",
        "",
        "## Workbook write (xlsx)",
        "",
        "| clients | file | billsync (build sheets + formatted write) | raw xlsxwriter write_row | ratio | billsync peak / added | raw peak / added |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in results.items():
        ours, raw = r["write_billsync"], r["write_raw"]
        lines.append(
            f"| {size:,} | {r['file']['mb']:.1f} MB | {ours['seconds']:.2f} s | {raw['seconds']:.2f} s | "
            f"{ours['seconds'] / raw['seconds']:.2f}× | {ours['peak_mb']:.0f} / {ours['added_mb']:.0f} MB | "
            f"{raw['peak_mb']:.0f} / {raw['added_mb']:.0f} MB |"
        )
    lines += [
        "",
        "## Workbook read (xlsx)",
        "",
        "`read_workbook` gives every sheet as all-text tables; *+ desired* is what `plan` and `push` read:",
        "the same plus `read_desired` (canonical strings, Excel repairs, validation).",
        "",
        "| clients | billsync read_workbook | + desired | raw calamine to_python | ratio | ratio + desired | billsync peak / added | raw peak / added |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in results.items():
        ours, raw = r["read_billsync"], r["read_raw"]
        desired = r.get("desired_billsync")
        d_time = f"{desired['seconds']:.2f} s" if desired else "–"
        d_ratio = f"{desired['seconds'] / raw['seconds']:.2f}×" if desired else "–"
        lines.append(
            f"| {size:,} | {ours['seconds']:.2f} s | {d_time} | {raw['seconds']:.2f} s | "
            f"{ours['seconds'] / raw['seconds']:.2f}× | {d_ratio} | "
            f"{ours['peak_mb']:.0f} / {ours['added_mb']:.0f} MB | {raw['peak_mb']:.0f} / {raw['added_mb']:.0f} MB |"
        )
    if any("writeback_billsync" in r for r in results.values()):
        lines += [
            "",
            "## Write-back of new ids (push)",
            "",
            f"One Kunden row in {WRITEBACK_SHARE} is new and gets its id. billsync patches those cells in the sheet",
            "XML and copies every other part byte for byte; the baseline is the format-preserving openpyxl round",
            "trip (load_workbook, set the cells, save), the obvious way to keep the accountants' formatting.",
            "",
            "| clients | ids written | billsync write_ids | openpyxl load + save | speed-up | billsync peak / added | openpyxl peak / added |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for size, r in results.items():
            ours, raw = r.get("writeback_billsync"), r.get("writeback_openpyxl")
            if not ours or not raw:
                continue
            lines.append(
                f"| {size:,} | {ours.get('written', 0):,.0f} | {ours['seconds']:.2f} s | {raw['seconds']:.2f} s | "
                f"{raw['seconds'] / ours['seconds']:.1f}× | {ours['peak_mb']:.0f} / {ours['added_mb']:.0f} MB | "
                f"{raw['peak_mb']:.0f} / {raw['added_mb']:.0f} MB |"
            )
    if sync_result:
        lines += render_sync(sync_result, results.get(SYNC_SIZE, {}).get("extract_billsync", {}).get("requests"))
    if sync100k:
        lines += render_sync100k(sync100k, load_before())
    if diff:
        lines += render_diff(diff)
    from importlib import metadata

    import pandas
    import xlsxwriter

    lines += [
        "",
        "## Machine",
        "",
        f"- {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"- pandas {pandas.__version__}, xlsxwriter {xlsxwriter.__version__}, "
        f"python-calamine {metadata.version('python-calamine')}",
        f"- diff tools: {_versions('csv-diff', 'daff', 'datacompy')}",
        f"- run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        + (f" (`--only {partial}`: that section only; the others are the last full run's)" if partial else ""),
        "",
    ]
    return "\n".join(lines)



def render_diff(diff: dict[str, Any]) -> list[str]:
    """The diff section: billsync beside csv-diff, daff and datacompy on the same data."""
    size, exp = diff["size"], diff["expected"]
    ours = diff["diff_billsync"]
    tools = [
        ("billsync `diff_account`", "diff_billsync", f"align on id, compare {len(_diff_fields())} writable fields after each column's normaliser"),
        ("csv-diff `compare(load_csv(…), load_csv(…))`", "diff_csvdiff", "keyed on id, from the two CSV texts in memory"),
        ("daff `compareTables` + `hilite`", "diff_daff", "keyed on id (`addPrimaryKey`)"),
        ("datacompy `PandasCompare`", "diff_datacompy", "`join_columns=\"id\"`, all columns object"),
    ]
    lines = [
        "",
        "## Diff: workbook vs Billomat",
        "",
        f"{size:,} clients × {diff['columns']} columns (id, client number, the {diff['columns'] - 2} writable fields of the default",
        f"mapping); {exp['changed']:,} rows (1 %) have one cell changed, {exp['removed']} rows are deleted and",
        f"{exp['added']} created. Every tool gets the same data in memory, each in its own process; *changed*",
        "counts changed cells. billsync's time is the whole pure diff (`sync.diff.diff_account`) from",
        "`AccountFrames` and the `Desired` frames; its new rows have a blank id (key `row:N`), the keyed",
        "tools see them with fresh ids.",
        "",
        "| tool | rows | time | billsync faster by | changed | added | removed | agrees | peak / added |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for title, case, _ in tools:
        r = diff[case]
        rows = int(r.get("size", size))
        agrees = all(int(r[k]) == int(exp[k] if rows == size else _scaled(exp, k, rows)) for k in ("changed", "added", "removed"))
        if case == "diff_billsync":
            ratio = "—"
        elif rows == size:
            ratio = f"{r['seconds'] / ours['seconds']:.1f}×"
        else:
            ratio = f"≥ {r['seconds'] / ours['seconds']:.1f}× (daff at {rows:,} rows vs billsync at {size:,})"
        lines.append(
            f"| {title} | {rows:,} | {r['seconds']:.3f} s | {ratio} | {int(r['changed']):,} | {int(r['added'])} | "
            f"{int(r['removed'])} | {'yes' if agrees else '**no**'} | {r['peak_mb']:.0f} / {r['added_mb']:.0f} MB |"
        )
    lines += ["", "What each tool was asked to do:", ""]
    lines += [f"- {title}: {how}." for title, _, how in tools]
    csvdiff = diff["diff_csvdiff"]
    lines += [
        f"- csv-diff's `compare` alone, on the keyed dicts `load_csv` built, took {csvdiff['compare_seconds']:.3f} s",
        f"  (billsync's whole diff: {ours['seconds']:.3f} s). Most of csv-diff's time is parsing the CSV into dicts,",
        "  the counterpart of billsync's workbook read (measured above, not in this table); comparing",
        "  Python str objects cell by cell costs both about the same.",
    ]
    daff_rows = int(diff["diff_daff"].get("size", size))
    if daff_rows != size:
        lines.append(
            f"- daff ran at {daff_rows:,} rows: at {size:,} its small-size time extrapolates beyond "
            f"{DAFF_MAX_SECONDS:.0f} s."
        )
    daff_ok: bool | None = diff["diff_daff"]["seconds"] >= 10 * ours["seconds"]
    if daff_rows != size and not daff_ok:
        daff_ok = None  # daff at fewer rows: only a lower bound of the ratio, not a verdict
    checks = [
        ("billsync ≤ 0.5 s", ours["seconds"] <= 0.5),
        ("≥ 5× faster than csv-diff", diff["diff_csvdiff"]["seconds"] >= 5 * ours["seconds"]),
        ("≥ 10× faster than daff", daff_ok),
    ]
    verdicts = {True: "met", False: "**missed**", None: "not measured at the same size"}
    lines += ["", "Targets (issue 3): " + "; ".join(f"{name}: {verdicts[ok]}" for name, ok in checks) + "."]
    return lines


def _scaled(expected: dict[str, int], key: str, rows: int) -> int:
    # A smaller run of the same generator: 1 % of its rows changed, the same number created/deleted.
    return rows // DIFF_CHANGED_SHARE if key == "changed" else expected[key]


def render_sync(r: dict[str, float], extract_requests: float | None) -> list[str]:
    """The nightly-sync section."""
    phases = [(k.removeprefix("phase "), v) for k, v in r.items() if k.startswith("phase ")]
    minimum = (extract_requests or 0) + r.get("workbook_edits", 0)
    lines = [
        "",
        f"## Nightly sync ({SYNC_SIZE:,} clients, rate limit off)",
        "",
        f"`billsync sync` after {r.get('workbook_edits', 0):.0f} clients were edited in the workbook and "
        f"{r.get('billomat_edits', 0):.0f} others in Billomat (1 % each; 2 contacts, 3 properties and tags per",
        "client). The emulator runs in its own process; pull and the edits are preparation, not measured.",
        "",
        "| phase | seconds |",
        "|---|---:|",
        *[f"| {name} | {seconds:.2f} |" for name, seconds in phases],
        f"| **total (target ≤ 15 s)** | **{r['seconds']:.2f}** |",
        "",
        f"Peak RSS {r['peak_mb']:.0f} MB ({r['added_mb']:.0f} MB added by the run). Requests: "
        f"{r.get('reads', 0):.0f} reads + {r.get('writes', 0):.0f} writes = "
        f"{r.get('reads', 0) + r.get('writes', 0):.0f}; the minimum is "
        + (f"{minimum:.0f} (a full extraction, {extract_requests:.0f}, + one write per workbook-edited client)."
           if extract_requests else "a full extraction + one write per workbook-edited client."),
    ]
    return lines


SYNC100K_HEADING = "## Sync of 100,000 clients (issue 10)"
_SYNC100K_TITLES = {"sync100k_idle": "nothing to do", "sync100k_edits": "1 % edits on each side"}


def _spread(values: list[float], unit: str, digits: int = 1) -> str:
    """The lowest value, with the range over the rounds when there was more than one."""
    low, high = min(values), max(values)
    text = f"{low:.{digits}f}{unit}"
    return text if len(values) == 1 or high == low else f"{text} ({low:.{digits}f}–{high:.{digits}f})"


def sync100k_rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per case: billsync seconds, raw seconds, ratio and peak MB of every round, and the phases and
    request counts of the round whose billsync time was lowest."""
    rows: dict[str, dict[str, Any]] = {}
    for case in SYNC100K_CASES:
        rounds = [r for r in data["rounds"] if case in r]
        if not rounds:
            continue
        raws = [r["extract_raw"]["seconds"] + r["read_raw"]["seconds"] for r in rounds]
        best = min(rounds, key=lambda r: r[case]["seconds"])[case]
        rows[case] = {
            "cpu": [(r[case]["cpu_seconds"], r["extract_raw"]["cpu_seconds"] + r["read_raw"]["cpu_seconds"])
                    for r in rounds if "cpu_seconds" in r[case] and "cpu_seconds" in r["read_raw"]],
            "seconds": [r[case]["seconds"] for r in rounds],
            "raw": raws,
            "ratio": [r[case]["seconds"] / raw for r, raw in zip(rounds, raws, strict=True)],
            "peak_mb": [r[case]["peak_mb"] for r in rounds],
            "phases": {k.removeprefix("phase "): v for k, v in best.items() if k.startswith("phase ")},
            "requests": (best.get("reads", 0.0), best.get("writes", 0.0)),
        }
    return rows


def render_sync100k(data: dict[str, Any], before: dict[str, Any] | None) -> list[str]:
    """The issue-10 section: the 100,000-client sync beside the raw calls and the run before the redesign."""
    now = sync100k_rows(data)
    same = before is not None and before.get("commit") == data.get("commit")
    old = sync100k_rows(before) if before and not same else {}
    label_now = "before the redesign" if same else "this run"
    label_old = f"before the redesign ({before['commit']}, {before['run_at'][:10]})" if old and before else ""
    first = data["rounds"][0]
    extract, read = first["extract_raw"], first["read_raw"]
    lines = [
        "",
        SYNC100K_HEADING,
        "",
        f"`billsync sync -v` on {data['size']:,} clients (2 contacts, 3 properties and tags each) right after",
        "a pull (*nothing to do*), and again after 1 % of the clients were edited in the workbook (Ort) and",
        "another 1 % in Billomat (street). The emulator runs in its own process (rate limit off, contacts",
        "bulk allowed); the pull and the edits are preparation, not measured. The workbook edit is an XML",
        "patch of the sheet and the Billomat edits are plain PUTs, so the same work is measured before and",
        "after the redesign. *Raw calls* are measured in the same round: the "
        f"{extract['requests']:.0f} extraction pages",
        "fetched with a bare `requests.Session` and `.json()` (billsync decodes them with orjson, which",
        "needs about half of the 3 s the standard library takes for them), plus every sheet of the pulled workbook read",
        f"with python-calamine `to_python`. {len(data['rounds'])} round(s), each with a fresh emulator and pull;",
        "each time shown is the lowest over the rounds, the range in brackets. This section alone:",
        "`nice -n 5 .venv/bin/python bench/run.py --only sync100k --rounds 3`.",
        "",
        f"Run: commit {data['commit']}, {data['run_at']}"
        + (f"; load average (1 min) {data['load_before']:.1f} before, {data['load_after']:.1f} after on"
           f" {os.cpu_count()} cores" if "load_before" in data else "")
        + (f"; {data['conditions']}" if data.get("conditions") else "") + ".",
        "",
        "| case | billsync time | raw calls | ratio | peak RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    for case, title in _SYNC100K_TITLES.items():
        for label, rows in ((label_now, now), (label_old, old)):
            if case not in rows:
                continue
            r = rows[case]
            lines.append(
                f"| {title} ({label}) | {_spread(r['seconds'], ' s')} | {_spread(r['raw'], ' s')} | "
                f"{_spread(r['ratio'], '×', 2)} | {_spread(r['peak_mb'], ' MB', 0)} |"
            )
    phases = list(dict.fromkeys(name for rows in (now, old) for r in rows.values() for name in r["phases"]))
    columns = [(f"{title} ({label})", rows.get(case)) for label, rows in ((label_now, now), (label_old, old))
               for case, title in _SYNC100K_TITLES.items() if case in rows]
    lines += [
        "",
        "Phases as `sync -v` prints them, in seconds (the round with the lowest time):",
        "",
        "| phase | " + " | ".join(title for title, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
        *[f"| {name} | " + " | ".join(f"{r['phases'][name]:.2f}" if r and name in r["phases"] else "–"
                                      for _, r in columns) + " |" for name in phases],
        "| requests (reads + writes) | " + " | ".join(f"{r['requests'][0]:.0f} + {r['requests'][1]:.0f}"
                                                    for _, r in columns) + " |",
        "",
        f"Raw calls in detail (first round): the pages {extract['seconds']:.2f} s "
        f"({extract['peak_mb']:.0f} MB peak), the sheets {read['seconds']:.2f} s ({read['peak_mb']:.0f} MB peak).",
    ]
    cpu = [(title, now[case]["cpu"]) for case, title in _SYNC100K_TITLES.items() if now.get(case, {}).get("cpu")]
    if cpu:
        lines += ["", "CPU seconds of the measured process (less sensitive to a busy machine than the wall time; the",
                  "emulator's are not counted on either side): "
                  + "; ".join(f"{title}: billsync {_spread([c[0] for c in pairs], ' s')}, raw calls "
                              f"{_spread([c[1] for c in pairs], ' s')}, ratio {_spread([c[0] / c[1] for c in pairs], '×', 2)}"
                              for title, pairs in cpu) + "."]
    idle = now.get("sync100k_idle")
    if idle:
        checks = [("≤ 1.6× the raw calls", min(idle["ratio"]) <= 1.6), ("≤ 1.2 GB", min(idle["peak_mb"]) <= 1200)]
        verdicts = {True: "met", False: "**missed**"}
        lines += ["", f"Targets for the nothing-to-do sync ({label_now}): "
                  + "; ".join(f"{name}: {verdicts[ok]}" for name, ok in checks) + "."]
    return lines


def splice_section(doc: str, heading: str, section: list[str], before: tuple[str, ...]) -> str:
    """`doc` with the section that starts at `heading` replaced by `section` (its lines, starting with
    a blank line and the heading); when `doc` has no such section it goes in front of the first of the
    `before` headings, or at the end. Used by `--only sync100k` so every other section stays as it was."""
    lines = doc.rstrip("\n").split("\n")
    body = section[1:] if section and section[0] == "" else section
    if heading in lines:
        start = lines.index(heading)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = [*body, ""] if end < len(lines) else body
    else:
        at = next((i for i, line in enumerate(lines) if line in before), len(lines))
        lines[at:at] = [*body, ""] if at < len(lines) else ["", *body]
    return "\n".join(lines) + "\n"


def load_before() -> dict[str, Any] | None:
    """The committed numbers of the run before the issue-10 redesign (bench/before-redesign.json)."""
    return json.loads(BEFORE_REDESIGN.read_text(encoding="utf-8")) if BEFORE_REDESIGN.exists() else None


def _versions(*names: str) -> str:
    """Versions of the peer tools as installed for the interpreter that runs them."""
    code = (
        "import sys\nfrom importlib import metadata\nout = []\n"
        "for n in sys.argv[1:]:\n"
        "    try: out.append(f'{n} {metadata.version(n)}')\n"
        "    except metadata.PackageNotFoundError: out.append(f'{n} (not installed)')\n"
        "out.append(f\"pandas {metadata.version('pandas')} (their venv)\")\n"
        "print(', '.join(out))"
    )
    proc = subprocess.run([TOOLS_PYTHON, "-c", code, *names], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "unknown"


if __name__ == "__main__":
    main()
