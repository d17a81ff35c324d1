"""The run history behind `billsync runs` and `billsync show RUN` (SPEC §2), read from the journal.

Each run is one file `runs/<run id>.jsonl` (sync/journal.py): a `start` line, its writes (a `pending`
line before and a closing line after each), an `end` line. Listing the runs reads the first and the
last line of each file only; showing one reads that file.

A run id is `20261205-131938.123-a1b2c3`; its last six characters are the short id (`a1b2c3`), stable
for as long as the run is kept. Commands take the short id, the whole id, or `last`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sync.errors import BillsyncError
from sync.journal import RUN_SUFFIX, Entry, read_lines, run_files
from sync.mapping import Mapping
from sync.plan import Change
from sync.report import ACTION_PAST, column_header, counts_text, field_header, where
from sync.state import STATE_DIRNAME, state_dir_for

TAIL_BYTES = 64 * 1024  # the end line is short; a run file's last line is found in its last bytes
LAST = "last"
STATUS_WORDS = {"done": "done", "failed": "FAILED", "skipped": "skipped", "pending": "outcome unknown (run stopped)"}


class RunNotFoundError(BillsyncError):
    """No recorded run has that id (or a short id matches several)."""


@dataclass(frozen=True)
class RunSummary:
    """One recorded run as `billsync runs` lists it."""

    run_id: str
    started: str
    command: str
    workbook: str
    exit: int | None  # None: the run never closed its journal (killed, crashed)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    failed: int = 0
    requests: int | None = None
    ended: str = ""

    @property
    def short(self) -> str:
        """The short id people type: the last six characters of the run id."""
        return short_id(self.run_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (`runs --json`)."""
        return {**asdict(self), "short": self.short}


def state_dir_from(sheet: str | None, state: str | None) -> Path:
    """The state dir of `runs`, `show` and `undo`: --state, else beside --sheet, else ./.billsync."""
    if state or sheet:
        return state_dir_for(Path(sheet or "."), state)
    return Path.cwd() / STATE_DIRNAME


def short_id(run_id: str) -> str:
    """`20261205-131938.123-a1b2c3` -> `a1b2c3` (an id without a random tail stays as it is)."""
    tail = run_id.rsplit("-", 1)[-1]
    return tail if len(tail) == 6 and run_id != tail else run_id


def list_runs(state_dir: Path | str, limit: int | None = None) -> list[RunSummary]:
    """The recorded runs, newest first (at most `limit`), from each file's first and last line."""
    files = run_files(state_dir)[::-1]
    if limit is not None:
        files = files[:limit]
    return [summarize(path) for path in files]


def summarize(path: Path) -> RunSummary:
    """One run file's summary; a file without an end line is counted from its entries."""
    run_id = path.name[: -len(RUN_SUFFIX)]
    first, last = _first_and_last(path)
    start = first if first.get("event") == "start" else {}
    if last.get("event") != "end":
        writes = run_writes(path)
        counts: dict[str, dict[str, int]] = {}
        for entry in writes:
            if entry.get("status") == "done":
                per = counts.setdefault(str(entry["resource"]), {})
                per[str(entry["action"])] = per.get(str(entry["action"]), 0) + 1
        failed = sum(1 for e in writes if e.get("status") != "done")
        return RunSummary(run_id, str(start.get("time", "")), str(start.get("command", "")),
                          str(start.get("workbook", "")), None, counts, failed)
    return RunSummary(
        run_id,
        str(start.get("time", "")),
        str(start.get("command", "")),
        str(start.get("workbook", "")),
        int(last["exit"]) if isinstance(last.get("exit"), int) else None,
        dict(last.get("counts") or {}),
        int(last.get("failed") or 0),
        int(last["requests"]) if isinstance(last.get("requests"), int) else None,
        str(last.get("time", "")),
    )


def find_run(state_dir: Path | str, wanted: str) -> Path:
    """The file of the run `wanted` names (short id, whole id, or `last`); RunNotFoundError says why not."""
    files = run_files(state_dir)
    wanted = wanted.strip()
    if not files:
        raise RunNotFoundError(f"no runs are recorded in {state_dir} (is --state or --sheet right?)")
    if wanted.casefold() == LAST:
        return files[-1]
    hits = [p for p in files if p.name[: -len(RUN_SUFFIX)] == wanted]
    hits = hits or [p for p in files if short_id(p.name[: -len(RUN_SUFFIX)]) == wanted]
    hits = hits or [p for p in files if p.name.startswith(wanted)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        names = ", ".join(p.name[: -len(RUN_SUFFIX)] for p in hits[:5])
        raise RunNotFoundError(f"run {wanted!r} is ambiguous in {state_dir}: {names}; give the whole run id")
    raise RunNotFoundError(
        f"no run {wanted!r} in {state_dir}: `billsync runs` lists the {len(files)} recorded run(s) "
        "(older ones are rotated out)"
    )


def run_writes(path: Path) -> list[Entry]:
    """Every write of one run in the order it was begun: its latest line, with `before` of its first.

    Lines that close an earlier run's entry (a later run resolved an uncertain create) belong to that
    earlier run's writes and are left out here.
    """
    run_id = path.name[: -len(RUN_SUFFIX)]
    lines, _torn = read_lines(path)
    writes: dict[str, Entry] = {}
    for line in lines:
        entry_id = line.get("entry")
        if not isinstance(entry_id, str) or not entry_id.startswith(f"{run_id}-"):
            continue
        earlier = writes.get(entry_id)
        writes[entry_id] = {**line, "before": line.get("before") or (earlier or {}).get("before")}
    return list(writes.values())


def entry_change(entry: Entry) -> Change:
    """A journal entry as the Change it recorded (without the body that was sent)."""
    fields = {str(k): (str(v[0]), str(v[1])) for k, v in (entry.get("fields") or {}).items()}
    row = entry.get("row")
    return Change(
        resource=str(entry.get("resource", "")),
        action=str(entry.get("action", "")),
        key=str(entry.get("key", "")),
        sheet=str(entry.get("sheet", "")),
        row=row if isinstance(row, int) else None,
        fields=fields,
        client_key=str(entry.get("client_key", "")),
        ref=str(entry.get("ref", "")),
        marker=str(entry.get("marker", "")),
        label=str(entry.get("label", "")),
    )


# -- text --------------------------------------------------------------------------------------------


def runs_lines(runs: list[RunSummary]) -> list[str]:
    """`billsync runs` as text: one line per run, newest first, under a heading."""
    if not runs:
        return ["No runs recorded yet."]
    out = [f"{'RUN':<8} {'START':<19} {'COMMAND':<8} {'EXIT':<5} {'REQ':>5}  CHANGES"]
    for run in runs:
        exit_text = "—" if run.exit is None else str(run.exit)
        requests = "?" if run.requests is None else str(run.requests)
        changes = counts_text(run.counts, past=True)
        if run.failed:
            changes += f"; {run.failed} failed or skipped"
        if run.exit is None:
            changes += " (stopped: no end recorded)"
        workbook = f"  [{Path(run.workbook).name}]" if run.workbook else ""
        out.append(
            f"{run.short:<8} {_when(run.started):<19} {run.command or '?':<8} {exit_text:<5} {requests:>5}  "
            f"{changes}{workbook}"
        )
    return out


def show_lines(summary: RunSummary, writes: list[Entry], mapping: Mapping) -> list[str]:
    """`billsync show RUN` as text: the run, then each write field by field with the workbook's headers."""
    workbook = f" of {summary.workbook}" if summary.workbook else ""
    exit_text = "no end recorded (stopped)" if summary.exit is None else f"exit {summary.exit}"
    out = [
        f"Run {summary.short} ({summary.run_id}): {summary.command or '?'}{workbook}, "
        f"started {_when(summary.started)}, {exit_text}",
        f"  {len(writes)} write(s): {counts_text(summary.counts, past=True)}",
    ]
    for entry in writes:
        out.extend(write_lines(entry, mapping))
    return out


def write_lines(entry: Entry, mapping: Mapping) -> list[str]:
    """One write: where, what (with the record id), its status and the API's message, then each field."""
    change = entry_change(entry)
    status = str(entry.get("status", ""))
    record = str(entry.get("record_id") or "")
    client = str(entry.get("client_id") or change.client_key or change.key)
    if change.resource == "client_property_values":
        name = change.label or change.ref
        what = f"{ACTION_PAST.get(change.action, change.action)} attribute {name!r} of client {client}"
    elif change.resource == "client_tags":
        what = f"{'added' if change.action == 'add' else 'removed'} tag {change.ref!r} of client {client}"
    elif change.resource.startswith("snapbill"):
        what = f"{change.action} SnapBill client {record or '?'} (Billomat client {client})"
    else:
        noun = "client" if change.resource == "clients" else "contact"
        ident = record if change.action == "create" else change.key
        label = f" ({change.label})" if change.label else ""
        what = f"{ACTION_PAST.get(change.action, change.action)} {noun} {ident or '?'}{label}"
    message = f": {entry['api_message']}" if entry.get("api_message") else ""
    out = [f"  {where(change)}: {what} — {STATUS_WORDS.get(status, status)}{message}"]
    for name, (old, new) in change.fields.items():
        out.append(f"      {field_header(mapping, change, name)}: {old!r} -> {new!r}")
    before = entry.get("before") or {}
    if change.action == "delete" and before.get("record"):
        for name, value in before["record"].items():
            if value and name != "id" and _mapped(mapping, change, name):
                out.append(f"      {field_header(mapping, change, name)}: {value!r} -> ''")
        extras = [
            f"{len(before.get(key) or [])} {noun}"
            for key, noun in (("contacts", "contact(s)"), ("client_property_values", "attribute value(s)"),
                              ("client_tags", "tag(s)"))
            if before.get(key)
        ]
        if extras:
            out.append(f"      deleted with it: {', '.join(extras)}")
    return out


def show_json(summary: RunSummary, writes: list[Entry]) -> str:
    """`billsync show RUN --json`: the run and every write as the journal holds it."""
    return json.dumps({"run": summary.to_dict(), "writes": writes}, ensure_ascii=False, indent=2)


def runs_json(runs: list[RunSummary]) -> str:
    """`billsync runs --json`."""
    return json.dumps([r.to_dict() for r in runs], ensure_ascii=False, indent=2)


def _mapped(mapping: Mapping, change: Change, name: str) -> bool:
    return column_header(mapping, change, name) is not None


def _when(stamp: str) -> str:
    """'2026-12-05T13:19:38+0100' -> '2026-12-05 13:19:38' (the local time the run recorded)."""
    return stamp[:19].replace("T", " ") if stamp else "?"


def _first_and_last(path: Path) -> tuple[Entry, Entry]:
    """The first and last complete JSON line of a file, reading only its head and tail."""
    try:
        with open(path, "rb") as fh:
            head = fh.readline()
            size = os.fstat(fh.fileno()).st_size
            fh.seek(max(0, size - TAIL_BYTES))
            tail = fh.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    except OSError as exc:
        raise BillsyncError(f"{path}: cannot read the run ({exc.strerror})") from None
    return _parse(head), _parse(tail)


def _parse(raw: bytes) -> Entry:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}
