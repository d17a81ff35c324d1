"""`make bench`: extraction requests/time and workbook write/read time and peak memory, each beside
the raw library call it wraps, measured in the same run. Writes docs/benchmarks.md.

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
    started = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - started
    peak = _rss_mb("VmHWM")
    out = {"seconds": seconds, "peak_mb": peak, "added_mb": peak - before}
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


CASES: dict[str, Callable[..., dict[str, float]]] = {
    "write_billsync": case_write_billsync,
    "write_raw": case_write_raw,
    "read_billsync": case_read_billsync,
    "read_raw": case_read_raw,
    "extract_billsync": case_extract_billsync,
    "extract_raw": case_extract_raw,
}


# ---------------------------------------------------------------- orchestrating the processes


def run_case(case: str, size: int, target: str) -> dict[str, float]:
    """Run one case in a fresh interpreter and return its measurement."""
    proc = subprocess.run(
        [sys.executable, __file__, "--case", case, "--size", str(size), "--target", target],
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
    args = parser.parse_args()
    if args.case:
        target: Any = Path(args.target) if args.case.startswith(("write", "read")) else args.target
        print(json.dumps(CASES[args.case](args.size, target)))
        return

    results: dict[int, dict[str, dict[str, float]]] = {}
    sizes = [int(s) for s in args.sizes.split(",")]
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
            for case, path in (("write_raw", raw), ("write_billsync", ours), ("read_raw", ours), ("read_billsync", ours)):
                r[case] = run_case(case, size, str(path))
                print(f"{size:>7} {case:<18} {r[case]['seconds']:7.2f} s", flush=True)
            r["file"] = {"mb": ours.stat().st_size / 1e6}
            results[size] = r
    DOC.write_text(render(results), encoding="utf-8")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    print(f"wrote {DOC.relative_to(REPO)}")


def render(results: dict[int, dict[str, dict[str, float]]]) -> str:
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
        "of 1000, the tag cloud, one listing per tag) and only decodes the JSON;",
        "billsync adds the envelope handling, completeness checks, models and the DataFrames.",
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
        "| clients | billsync read_workbook (all text) | raw calamine to_python | ratio | billsync peak / added | raw peak / added |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for size, r in results.items():
        ours, raw = r["read_billsync"], r["read_raw"]
        lines.append(
            f"| {size:,} | {ours['seconds']:.2f} s | {raw['seconds']:.2f} s | {ours['seconds'] / raw['seconds']:.2f}× | "
            f"{ours['peak_mb']:.0f} / {ours['added_mb']:.0f} MB | {raw['peak_mb']:.0f} / {raw['added_mb']:.0f} MB |"
        )
    import pandas
    import python_calamine
    import xlsxwriter

    lines += [
        "",
        "## Machine",
        "",
        f"- {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"- pandas {pandas.__version__}, xlsxwriter {xlsxwriter.__version__}, "
        f"python-calamine {getattr(python_calamine, '__version__', '?')}",
        f"- run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
