"""The sheet Löschungen (SPEC §9): deletes the delete guard holds, decided by the accountant in the workbook.

Every run that writes the workbook (push and sync) lists the deletes it holds (rows removed from the
workbook without `--allow-deletes`, or above `--max-deletes`) in the sheet `Löschungen` (CSV:
`Löschungen.csv`), one row per record with the sheet and row it came from (the row it had in the workbook
of the state the run started from: sync.record_rows), its id, client number and name, and a column
`Entscheidung`. At the next run:

- `löschen`: the held delete goes ahead without any flag (`decide`);
- `behalten`: the record stays in Billomat; it is taken out of the base (`without_kept`), so the merge
  sees it as a record Billomat has and the last run did not: sync writes its row back into the workbook;
- a record whose row reappeared is no delete any more, so it is not held and leaves the list by itself.

The sheet is rewritten each run from the plan's held deletes (`sheet`); everything here is pure.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingOf
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import pandas as pd

from sync.frames import RESOURCES, AccountFrames
from sync.mapping import Mapping
from sync.plan import NEED_FLAG, HeldChange, Plan, change_order
from sync.text import column_values
from sync.wording import held_reason
from sync.workbook.owned import OwnedSheet, owned_rows

LOESCHUNGEN = "Löschungen"
HEADERS = ("Blatt", "Zeile", "Billomat-ID", "Kundennummer", "Name", "Grund", "Entscheidung")
WIDTHS = (10, 7, 12, 14, 32, 60, 15)
ZEILE_COL = HEADERS.index("Zeile")  # stored as a number
# Sheets written before the sheet named the resource by its sheet (Blatt) held the API word here.
OLD_RESOURCE = "Ressource"
NO_DELETES = "Keine zurückgehaltenen Löschungen."
DELETE, KEEP = "löschen", "behalten"
Decision = Literal["delete", "keep"]
# What the accountant may type into Entscheidung (case and blanks ignored).
DECISION_WORDS: dict[str, Decision] = {
    "löschen": "delete",
    "loeschen": "delete",
    "behalten": "keep",
}
REASON_NEED_FLAG = f"in der Arbeitsmappe gelöscht; {held_reason(NEED_FLAG)}"


@dataclass(frozen=True)
class Decisions:
    """What the accountant typed into Löschungen: (resource, id) → delete or keep; unreadable entries."""

    by_key: MappingOf[tuple[str, str], Decision]
    typed: MappingOf[tuple[str, str], str]  # every non-empty Entscheidung cell, to carry a typo over
    problems: tuple[str, ...] = ()

    def kept(self, resource: str) -> set[str]:
        """Ids of `resource` the accountant decided to keep."""
        return {key for (res, key), d in self.by_key.items() if res == resource and d == "keep"}


def read_decisions(path: Path | str, mapping: Mapping) -> Decisions:
    """The decisions in the workbook's Löschungen sheet (none when there is no such sheet).

    The record is its sheet (Blatt: the mapping's Kunden or Kontakte) and Billomat-ID; a sheet written
    before Blatt said it carries the resource in a column Ressource, read as well.
    """
    rows = owned_rows(path, LOESCHUNGEN)
    if not rows:
        return Decisions({}, {})
    headers = [h.strip() for h in rows[0]]
    where = OLD_RESOURCE if OLD_RESOURCE in headers else "Blatt"
    try:
        cols = [headers.index(h) for h in ("Entscheidung", where, "Billomat-ID")]
    except ValueError:
        return Decisions({}, {}, (f"sheet {LOESCHUNGEN!r}: the header row is not billsync's; no decision read",))
    resources = {sm.sheet.casefold(): sm.resource for sm in mapping.sheets.values()}
    by_key: dict[tuple[str, str], Decision] = {}
    typed: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    # The record's number and name as listed beside the decision, for the messages (SPEC §9).
    shown = [headers.index(h) for h in ("Kundennummer", "Name") if h in headers]
    for number, row in enumerate(rows[1:], start=2):
        word, named, key = ((row[c] if c < len(row) else "").strip() for c in cols)
        label = " ".join(v for v in ((row[c] if c < len(row) else "").strip() for c in shown) if v)
        record = f"{named} id {key}" + (f", {label}" if label else "")
        resource = named if where == OLD_RESOURCE else resources.get(named.casefold(), "")
        if word and key and named and not resource:
            problems.append(
                f"sheet {LOESCHUNGEN!r}, row {number}, column 'Blatt': {named!r} is none of billsync's sheets "
                f"({', '.join(sm.sheet for sm in mapping.sheets.values())}); decision {word!r} for id {key}"
                f"{f' ({label})' if label else ''} not read"
            )
            continue
        if not word or not resource or not key:
            continue
        typed[(resource, key)] = word
        decision = DECISION_WORDS.get(word.casefold())
        if decision is None:
            problems.append(
                f"sheet {LOESCHUNGEN!r}, row {number}, column 'Entscheidung' ({record}): {word!r} is no "
                f"decision; type {DELETE} or {KEEP}"
            )
            continue
        by_key[(resource, key)] = decision
    return Decisions(by_key, typed, tuple(problems))


def decide(plan: Plan, decisions: Decisions) -> Plan:
    """The plan with the accountant's decisions: held deletes marked `löschen` go ahead, `behalten` ones
    are dropped (they never become a change); every other held delete stays held."""
    if not decisions.by_key:
        return plan
    go = [h.change for h in plan.held if decisions.by_key.get((h.change.resource, h.change.key)) == "delete"]
    held = [h for h in plan.held if (h.change.resource, h.change.key) not in decisions.by_key]
    if len(held) == len(plan.held):
        return plan
    return replace(plan, changes=sorted([*plan.changes, *go], key=change_order), held=held)


def without_kept(base: AccountFrames | None, decisions: Decisions, workbook_keys: MappingOf[str, set[str]]
                 ) -> AccountFrames | None:
    """The base without the records the accountant keeps whose row is still missing from the workbook
    (`workbook_keys`: resource → ids in the workbook), so the merge writes their rows back.

    A kept client goes with its attribute values and tags (they are cells of its row); its contacts keep
    their own rows and are listed, and kept, on their own.
    """
    if base is None:
        return None
    clients = decisions.kept("clients") - workbook_keys.get("clients", set())
    contacts = decisions.kept("contacts") - workbook_keys.get("contacts", set())
    if not clients and not contacts:
        return base
    frames = {name: base.frame(name) for name in RESOURCES}
    frames["clients"] = frames["clients"][~frames["clients"]["id"].isin(clients)]
    frames["contacts"] = frames["contacts"][~frames["contacts"]["id"].isin(contacts)]
    for name in ("client_property_values", "client_tags"):
        frames[name] = frames[name][~frames[name]["client_id"].isin(clients)]
    return AccountFrames(**{name: frame.reset_index(drop=True) for name, frame in frames.items()})


def sheet(
    held: list[HeldChange],
    current: AccountFrames,
    decisions: Decisions | None = None,
    rows: MappingOf[str, MappingOf[str, int]] | None = None,
) -> OwnedSheet:
    """The Löschungen sheet for this run's held deletes (`current`: Billomat, for client number and name;
    `rows`: resource → id → the row it had, sync.record_rows); a word typed for an entry still held is kept."""
    typed = decisions.typed if decisions is not None else {}
    rows = rows or {}
    deletes = [h for h in held if h.change.action == "delete"]
    numbers: dict[str, str] = {}
    names: dict[str, str] = {}
    if deletes:  # (100k clients: 0.75 s for two dicts a run without held deletes never reads)
        clients = current.clients
        numbers = dict(zip(clients["id"].astype(str), clients["client_number"].astype(str), strict=True))
        names = dict(zip(clients["id"].astype(str), clients["name"].astype(str), strict=True))
    listed: list[list[str | int]] = []
    for h in deletes:
        change = h.change
        client = change.key if change.resource == "clients" else change.client_key
        name = names.get(change.key, "") if change.resource == "clients" else change.label
        row = rows.get(change.resource, {}).get(change.key)
        listed.append(
            [
                change.sheet,
                row if row is not None else "",
                change.key,
                numbers.get(client, ""),
                name or change.label,
                reason_text(h.reason),
                typed.get((change.resource, change.key), ""),
            ]
        )
    return OwnedSheet(
        LOESCHUNGEN, HEADERS, WIDTHS, listed, "Entscheidung", f"{DELETE},{KEEP}", NO_DELETES, ZEILE_COL
    )


def hint(held: list[HeldChange], workbook: Path) -> str | None:
    """The line that tells where the held deletes are listed and what to type (None: nothing held)."""
    count = sum(1 for h in held if h.change.action == "delete")
    if not count:
        return None
    return (
        f"{workbook}: {count} held delete(s) listed in sheet {LOESCHUNGEN!r}; type {DELETE} or {KEEP} into "
        "column 'Entscheidung' and the next sync (or push) does it"
    )


def reason_text(reason: str) -> str:
    """Why a delete is held, as the accountants read it."""
    if reason == NEED_FLAG:
        return REASON_NEED_FLAG
    return f"zurückgehalten: {held_reason(reason)}"


def workbook_ids(clients: pd.DataFrame, contacts: pd.DataFrame) -> dict[str, set[str]]:
    """The ids the workbook's rows hold, per resource (from the desired frames' `_key`)."""
    # Through a plain list: pandas' str dtype would be iterated one boxed value at a time (300k: 0.2 s).
    return {
        resource: set(map(str, column_values(frame, "_key").tolist())) if "_key" in frame.columns else set()
        for resource, frame in (("clients", clients), ("contacts", contacts))
    }
