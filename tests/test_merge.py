"""The three-way merge of the nightly sync (issue 4): every case of the issue, for every resource.

Each row of CASES is one situation: a patch of the base state (B, the last successful run) giving
Billomat's state (C), a patch giving the workbook's state (W), and what must happen on both sides.
The Billomat side is read through the real diff and plan (what a push of `to_billomat` would send);
the workbook side is the merge's `to_workbook`, written as short strings:

- Billomat: `clients update 1001 city=Leipzig`, `clients create row:5`, `clients delete 1002`,
  `contacts …`, `values set 1001/11=Bau`, `values clear 1001/11=`, `tags add 1001 Export`,
  `tags remove 1001 Newsletter`;
- workbook: `Kunden 1001 Ort=Leipzig` (a cell), `Kunden append 1009`, `Kunden remove 1002`.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.desired import Desired
from sync.diff import diff_account, key_sort, writable_columns
from sync.frames import AccountFrames
from sync.merge import KINDS, STALE_COPY, Merge, merge_account, reading_frames
from sync.plan import build_plan
from tests.diffkit import MAPPING, desired

DEL = object()  # a patch value: the record is deleted
PROPS = [
    {"id": "11", "name": "Branche", "type": "TEXTFIELD", "default_value": "", "is_nvl": "0"},
    {"id": "12", "name": "Stammkunde", "type": "CHECKBOX", "default_value": "0", "is_nvl": "0"},
]
PIDS = [p["id"] for p in PROPS]
CLIENT_FIELDS = [c.field for c in writable_columns(MAPPING.sheets["clients"])]
CONTACT_FIELDS = [c.field for c in writable_columns(MAPPING.sheets["contacts"]) if c.field != "client_id"]
INHERITED = ("name", "street", "zip", "city", "state", "country_code")

# B: the state of the last successful run (Billomat and the workbook agreed on it).
S0: dict[str, Any] = {
    "clients": {
        "1001": {"client_number": "KD01001", "name": "Müller GmbH", "street": "Hauptstr. 1", "zip": "01067",
                 "city": "Dresden", "email": "info@mueller.de", "country_code": "DE"},
        "1002": {"client_number": "KD01002", "name": "Schmidt KG", "zip": "04109", "city": "Leipzig",
                 "email": "post@schmidt.de", "country_code": "DE"},
        "1003": {"client_number": "KD01003", "name": "Weber AG", "city": "Berlin", "country_code": "DE"},
    },
    "contacts": {
        # Anna's address fields are inherited from Müller GmbH (Billomat filled them).
        "5001": {"client_id": "1001", "label": "Buchhaltung", "first_name": "Anna", "last_name": "Berg",
                 "email": "anna@mueller.de", "name": "Müller GmbH", "street": "Hauptstr. 1", "zip": "01067",
                 "city": "Dresden", "country_code": "DE"},
        "5002": {"client_id": "1002", "first_name": "Jan", "last_name": "Kos", "email": "jan@schmidt.de",
                 "name": "Schmidt KG", "zip": "04109", "city": "Leipzig", "country_code": "DE"},
    },
    "values": {("1001", "11"): "Handel", ("1002", "11"): "Bau", ("1001", "12"): "1"},
    "tags": {"1001": {"A-Kunde", "Newsletter"}, "1002": {"B-Kunde"}},
}  # fmt: skip


# ------------------------------------------------------------------ states: patches, frames, workbook


def patched(state: dict[str, Any], patch: dict[str, Any], *, billomat: bool) -> dict[str, Any]:
    """`state` with `patch` applied: `clients.1001.city`, `clients.1002` (DEL or a new record),
    `clients.+1` (a new workbook row), `values.1001.11`, `tags.1001` ("A, B")."""
    out = copy.deepcopy(state)
    for path, value in patch.items():
        kind, key, *rest = path.split(".")
        if kind == "values":
            out["values"][(key, rest[0])] = value
        elif kind == "tags":
            out["tags"][key] = {t.strip() for t in value.split(",") if t.strip()}
        elif rest:
            out[kind][key][rest[0]] = value
        elif value is DEL:
            del out[kind][key]
            if kind == "clients":
                # A client's values and tags are on its row; Billomat also deletes its contacts.
                out["values"] = {k: v for k, v in out["values"].items() if k[0] != key}
                out["tags"].pop(key, None)
                if billomat:
                    out["contacts"] = {k: c for k, c in out["contacts"].items() if c["client_id"] != key}
        else:
            record = dict(value)
            if billomat and kind == "contacts":  # Billomat fills empty fields from the client
                client = out["clients"].get(record["client_id"], {})
                for name in INHERITED:
                    record[name] = record.get(name) or client.get(name, "")
            out[kind][key] = record
    return out


def frames(state: dict[str, Any]) -> AccountFrames:
    """Billomat's view of a state, as the extractor gives it."""
    values = [
        {"id": str(7000 + i), "client_id": c, "client_property_id": p, "value": v}
        for i, ((c, p), v) in enumerate(sorted(state["values"].items()))
        if v != "" and c in state["clients"]
    ]
    return AccountFrames.from_records(
        {
            "clients": [{"id": k, **v} for k, v in state["clients"].items()],
            "contacts": [{"id": k, **v} for k, v in state["contacts"].items()],
            "client_properties": PROPS,
            "client_property_values": values,
            "client_tags": [
                {"client_id": c, "name": n} for c, names in state["tags"].items() for n in sorted(names)
            ],
        }
    )


def _ordered(keys: Any) -> list[str]:
    return sorted(keys, key=lambda k: (k.startswith("+"), key_sort(k.lstrip("+"))))


def workbook(state: dict[str, Any]) -> Desired:
    """The workbook's view of a state, as read_desired gives it (rows numbered from 2)."""
    client_keys = _ordered(state["clients"])
    rows = {k: i + 2 for i, k in enumerate(client_keys)}
    keys = {k: f"row:{rows[k]}" if k.startswith("+") else k for k in client_keys}
    contact_keys = _ordered(state["contacts"])
    contact_rows = {k: i + 2 for i, k in enumerate(contact_keys)}
    return desired(
        clients=[
            {"_row": rows[k], "_key": keys[k], **{f: state["clients"][k].get(f, "") for f in CLIENT_FIELDS}}
            for k in client_keys
        ],
        contacts=[
            {
                "_row": contact_rows[k],
                "_key": f"row:{contact_rows[k]}" if k.startswith("+") else k,
                "client_key": keys.get(c["client_id"], c["client_id"]),
                **{f: c.get(f, "") for f in CONTACT_FIELDS},
            }
            for k in contact_keys
            for c in [state["contacts"][k]]
        ],
        values=[
            {
                "_row": rows[k],
                "client_key": keys[k],
                "client_property_id": p,
                "value": state["values"].get((k, p), ""),
            }
            for k in client_keys
            for p in PIDS
        ],
        tags=[
            {"_row": rows[k], "client_key": keys[k], "name": n}
            for k in client_keys
            for n in sorted(state["tags"].get(k, ()))
        ],
    )


# ------------------------------------------------------------------ outcomes as short strings


def billomat_side(result: Merge, current: AccountFrames) -> set[str]:
    """What a push of `to_billomat` would do (the real diff and plan), plus held deletes and problems."""
    diff = diff_account(current, result.to_billomat, MAPPING)
    plan = build_plan(diff, result.to_billomat, current, MAPPING, allow_deletes=True, max_deletes=100)
    out: set[str] = set()
    for change in plan.changes:
        if change.action == "update":
            out |= {
                f"{change.resource} update {change.key} {f}={new}" for f, (_, new) in change.fields.items()
            }
        elif change.resource == "client_property_values":
            out.add(f"values {change.action} {change.key}/{change.ref}={change.fields['value'][1]}")
        elif change.resource == "client_tags":
            out.add(f"tags {change.action} {change.key} {change.ref}")
        else:
            out.add(f"{change.resource} {change.action} {change.key}")
    out |= {f"held {h.change.resource} {h.change.action} {h.change.key}" for h in plan.held}
    out |= {f"problem {p}" for p in plan.problems}
    return out


def workbook_side(result: Merge) -> set[str]:
    changes = result.to_workbook
    out = {
        f"{sheet} {key} {header}={new}"
        for sheet, key, header, new in changes.updates[["sheet", "key", "header", "new"]].itertuples(
            index=False
        )
    }
    for sheet, table in changes.appends.items():
        key = MAPPING.sheet_named(sheet).key_column.header  # type: ignore[union-attr]
        out |= {f"{sheet} append {k}" for k in table[key]}
    out |= {
        f"{sheet} remove {key}" + (f" after deleting {after}" if after else "")
        for sheet, key, after in changes.removals[["sheet", "key", "after_delete"]].itertuples(index=False)
    }
    return out


def exit_code(result: Merge, current: AccountFrames) -> int:
    """As the CLI maps it: 1 when a conflict or anything of the plan is held, else 0."""
    diff = diff_account(current, result.to_billomat, MAPPING)
    plan = build_plan(diff, result.to_billomat, current, MAPPING, allow_deletes=True, max_deletes=100)
    return 1 if result.exit_code or plan.held or plan.problems else 0


# ------------------------------------------------------------------ the table


@dataclass(frozen=True)
class Case:
    name: str
    billomat: dict[str, Any]  # patch of B → C
    sheet: dict[str, Any]  # patch of B → W
    expected_billomat_change: set[str]
    expected_workbook_change: set[str]
    expected_conflict_kind: str | None = None
    expected_exit: int = 0
    prefer: str | None = None
    base: bool = True  # False: the first sync, no base snapshot
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


NEU_AG = {"client_number": "KD01009", "name": "Neu AG", "city": "Hamburg", "email": "info@neu.de"}
NEU_AG_ROW = {"name": "Neu AG", "city": "Hamburg", "email": "info@neu.de"}
LOTTE = {"client_id": "1001", "first_name": "Lotte", "last_name": "Kurz", "email": "lotte@mueller.de"}

CASES = [
    Case("unchanged", {}, {}, set(), set()),
    # ---- clients: fields
    Case("client: changed only in the sheet", {}, {"clients.1001.city": "Pirna"},
         {"clients update 1001 city=Pirna"}, set()),
    Case("client: changed only in Billomat", {"clients.1001.city": "Pirna"}, {},
         set(), {"Kunden 1001 Ort=Pirna"}),
    Case("client: the same new value on both sides", {"clients.1001.city": "Pirna"}, {"clients.1001.city": "Pirna"},
         set(), set()),
    Case("client: the same new value after normalising", {"clients.1001.email": "info@mueller.com"},
         {"clients.1001.email": " INFO@Mueller.com"}, set(), set()),
    Case("client: different fields changed on each side", {"clients.1001.email": "post@mueller.de"},
         {"clients.1001.city": "Pirna"}, {"clients update 1001 city=Pirna"}, {"Kunden 1001 E-Mail=post@mueller.de"}),
    Case("client: different new values", {"clients.1001.city": "Meißen"}, {"clients.1001.city": "Pirna"},
         set(), set(), "both_changed", 1),
    Case("client: different new values, --prefer sheet", {"clients.1001.city": "Meißen"},
         {"clients.1001.city": "Pirna"}, {"clients update 1001 city=Pirna"}, set(), "both_changed", 0, "sheet"),
    Case("client: different new values, --prefer billomat", {"clients.1001.city": "Meißen"},
         {"clients.1001.city": "Pirna"}, set(), {"Kunden 1001 Ort=Meißen"}, "both_changed", 0, "billomat"),
    Case("client: emptied in the sheet, changed in Billomat", {"clients.1001.city": "Meißen"},
         {"clients.1001.city": ""}, set(), set(), "both_changed", 1),
    Case("client: a read-only column follows Billomat", {"clients.1001.client_number": "KD09999"}, {},
         set(), {"Kunden 1001 Kundennummer=KD09999"}),
    # ---- clients: records
    Case("client: edited in the sheet, deleted in Billomat", {"clients.1002": DEL}, {"clients.1002.city": "Halle"},
         set(), set(), "edited_vs_deleted_in_billomat", 1),
    Case("client: edited in the sheet, deleted in Billomat, --prefer sheet", {"clients.1002": DEL},
         {"clients.1002.city": "Halle"},
         {"clients create row:3", "contacts create row:3", "values set row:3/11=Bau", "tags add row:3 B-Kunde"},
         {"Kunden 1002 Billomat-ID=", "Kontakte 5002 Kontakt-ID="}, "edited_vs_deleted_in_billomat", 0, "sheet"),
    Case("client: edited in the sheet, deleted in Billomat, --prefer billomat", {"clients.1002": DEL},
         {"clients.1002.city": "Halle"}, set(), {"Kunden remove 1002", "Kontakte remove 5002"},
         "edited_vs_deleted_in_billomat", 0, "billomat"),
    Case("client: a contact added in the sheet, the client deleted in Billomat", {"clients.1002": DEL},
         {"contacts.+1": {"client_id": "1002", "first_name": "Eva", "last_name": "Roth"}},
         set(), set(), "edited_vs_deleted_in_billomat", 1),
    Case("client: deleted in the sheet, edited in Billomat", {"clients.1002.city": "Halle"},
         {"clients.1002": DEL, "contacts.5002": DEL}, set(), set(), "deleted_vs_edited_in_billomat", 1),
    Case("client: deleted in the sheet, a value changed in Billomat", {"values.1002.11": "Handwerk"},
         {"clients.1002": DEL, "contacts.5002": DEL}, set(), set(), "deleted_vs_edited_in_billomat", 1),
    Case("client: deleted in the sheet, a contact added in Billomat",
         {"contacts.5009": {"client_id": "1002", "first_name": "Eva", "last_name": "Roth"}},
         {"clients.1002": DEL, "contacts.5002": DEL}, set(), set(), "deleted_vs_edited_in_billomat", 1),
    Case("client: deleted in the sheet, edited in Billomat, --prefer sheet", {"clients.1002.city": "Halle"},
         {"clients.1002": DEL, "contacts.5002": DEL}, {"clients delete 1002"}, set(),
         "deleted_vs_edited_in_billomat", 0, "sheet"),
    Case("client: deleted in the sheet, edited in Billomat, --prefer billomat", {"clients.1002.city": "Halle"},
         {"clients.1002": DEL, "contacts.5002": DEL}, set(), {"Kunden append 1002", "Kontakte append 5002"},
         "deleted_vs_edited_in_billomat", 0, "billomat"),
    Case("client: deleted in the sheet, unchanged in Billomat", {}, {"clients.1002": DEL, "contacts.5002": DEL},
         {"clients delete 1002"}, set()),
    Case("client: deleted in the sheet, its contact row left behind", {}, {"clients.1002": DEL},
         {"clients delete 1002"}, {"Kontakte remove 5002 after deleting 1002"}),
    Case("client: deleted in Billomat, unchanged in the sheet", {"clients.1002": DEL}, {},
         set(), {"Kunden remove 1002", "Kontakte remove 5002"}),
    Case("client: deleted on both sides", {"clients.1002": DEL}, {"clients.1002": DEL, "contacts.5002": DEL},
         set(), set()),
    Case("client: created in the sheet", {}, {"clients.+1": NEU_AG_ROW}, {"clients create row:5"}, set()),
    Case("client: created in Billomat", {"clients.1009": NEU_AG}, {}, set(), {"Kunden append 1009"}),
    Case("client: created on both sides with the same name", {"clients.1009": NEU_AG},
         {"clients.+1": {**NEU_AG_ROW, "email": "", "city": "Bremen"}}, set(), set(), "created_both", 1),
    Case("client: created on both sides with the same email", {"clients.1009": NEU_AG},
         {"clients.+1": {**NEU_AG_ROW, "name": "Neu Aktiengesellschaft", "email": "Info@Neu.de"}},
         set(), set(), "created_both", 1),
    Case("client: created on both sides, --prefer billomat", {"clients.1009": NEU_AG},
         {"clients.+1": {**NEU_AG_ROW, "city": "Bremen"}}, set(),
         {"Kunden 1009 Billomat-ID=1009", "Kunden 1009 Kundennummer=KD01009", "Kunden 1009 Ort=Hamburg"},
         "created_both", 0, "billomat"),
    Case("client: created on both sides, --prefer sheet", {"clients.1009": NEU_AG},
         {"clients.+1": {**NEU_AG_ROW, "city": "Bremen"}}, {"clients update 1009 city=Bremen"},
         {"Kunden 1009 Billomat-ID=1009", "Kunden 1009 Kundennummer=KD01009"}, "created_both", 0, "sheet"),
    Case("client: created on both sides, Billomat's with a contact", {"clients.1009": NEU_AG,
         "contacts.5009": {"client_id": "1009", "first_name": "Ole", "last_name": "Neu"}},
         {"clients.+1": NEU_AG_ROW}, set(), set(), "created_both", 1),
    Case("client: created on both sides, Billomat's with a contact, --prefer billomat", {"clients.1009": NEU_AG,
         "contacts.5009": {"client_id": "1009", "first_name": "Ole", "last_name": "Neu"}},
         {"clients.+1": NEU_AG_ROW}, set(),
         {"Kunden 1009 Billomat-ID=1009", "Kunden 1009 Kundennummer=KD01009", "Kontakte append 5009"},
         "created_both", 0, "billomat"),
    Case("client: created on both sides, different clients", {"clients.1009": NEU_AG},
         {"clients.+1": {"name": "Anders GmbH"}}, {"clients create row:5"}, {"Kunden append 1009"}),
    # ---- contacts: fields
    Case("contact: changed only in the sheet", {}, {"contacts.5001.email": "a.berg@mueller.de"},
         {"contacts update 5001 email=a.berg@mueller.de"}, set()),
    Case("contact: changed only in Billomat", {"contacts.5001.email": "a.berg@mueller.de"}, {},
         set(), {"Kontakte 5001 E-Mail=a.berg@mueller.de"}),
    Case("contact: the same new value on both sides", {"contacts.5001.last_name": "Berg-Ott"},
         {"contacts.5001.last_name": "Berg-Ott"}, set(), set()),
    Case("contact: different new values", {"contacts.5001.last_name": "Ott"},
         {"contacts.5001.last_name": "Berg-Ott"}, set(), set(), "both_changed", 1),
    Case("contact: different new values, --prefer sheet", {"contacts.5001.last_name": "Ott"},
         {"contacts.5001.last_name": "Berg-Ott"}, {"contacts update 5001 last_name=Berg-Ott"}, set(),
         "both_changed", 0, "sheet"),
    Case("contact: different new values, --prefer billomat", {"contacts.5001.last_name": "Ott"},
         {"contacts.5001.last_name": "Berg-Ott"}, set(), {"Kontakte 5001 Nachname=Ott"}, "both_changed", 0,
         "billomat"),
    Case("contact: moved to another client in the sheet", {}, {"contacts.5001.client_id": "1003"},
         {"contacts update 5001 client_id=1003"}, set()),
    Case("contact: inherited field emptied in the sheet is no change", {}, {"contacts.5001.city": ""},
         set(), set()),
    Case("contact: inherited field emptied in the sheet, Billomat refilled it from the moved client",
         {"clients.1001.city": "Pirna", "contacts.5001.city": "Pirna"}, {"contacts.5001.city": ""},
         set(), {"Kunden 1001 Ort=Pirna"}),
    Case("contact: own value in Billomat, inherited one emptied in the sheet",
         {"contacts.5001.city": "Radebeul"}, {"contacts.5001.city": ""}, set(), {"Kontakte 5001 Ort=Radebeul"}),
    Case("contact: emptied in the sheet to inherit again, unchanged in Billomat",
         {}, {"contacts.5002.city": ""}, set(), set()),
    Case("contact: inherited field emptied in Billomat and refilled, emptied in the sheet: no conflict",
         {"clients.1001.city": "Pirna", "contacts.5001.city": "Pirna"},
         {"clients.1001.city": "Pirna", "contacts.5001.city": ""}, set(), set()),
    # The client moved; Billomat shows its new city in the inheriting contact (the "read" reading of
    # billomat-api.md §4.2): that is no change of the contact, on either side.
    Case("contact: shows its client's new value in Billomat: no change of the contact",
         {"clients.1001.city": "Pirna", "contacts.5001.city": "Pirna"}, {}, set(), {"Kunden 1001 Ort=Pirna"}),
    Case("contact: shows its client's new value in Billomat, its own value typed in the sheet: no conflict",
         {"clients.1001.city": "Pirna", "contacts.5001.city": "Pirna"}, {"contacts.5001.city": "Radebeul"},
         {"contacts update 5001 city=Radebeul"}, {"Kunden 1001 Ort=Pirna"}),
    Case("contact: its client moved in the sheet and Billomat shows it in the contact: nothing",
         {"clients.1001.city": "Pirna", "contacts.5001.city": "Pirna"}, {"clients.1001.city": "Pirna"},
         set(), set()),
    # ---- contacts: records
    Case("contact: edited in the sheet, deleted in Billomat", {"contacts.5002": DEL},
         {"contacts.5002.email": "kos@schmidt.de"}, set(), set(), "edited_vs_deleted_in_billomat", 1),
    Case("contact: edited in the sheet, deleted in Billomat, --prefer sheet", {"contacts.5002": DEL},
         {"contacts.5002.email": "kos@schmidt.de"}, {"contacts create row:3"}, {"Kontakte 5002 Kontakt-ID="},
         "edited_vs_deleted_in_billomat", 0, "sheet"),
    Case("contact: deleted in the sheet, edited in Billomat", {"contacts.5002.email": "kos@schmidt.de"},
         {"contacts.5002": DEL}, set(), set(), "deleted_vs_edited_in_billomat", 1),
    Case("contact: deleted in the sheet, edited in Billomat, --prefer billomat",
         {"contacts.5002.email": "kos@schmidt.de"}, {"contacts.5002": DEL}, set(), {"Kontakte append 5002"},
         "deleted_vs_edited_in_billomat", 0, "billomat"),
    Case("contact: deleted in the sheet, unchanged in Billomat", {}, {"contacts.5002": DEL},
         {"contacts delete 5002"}, set()),
    Case("contact: deleted in Billomat, unchanged in the sheet", {"contacts.5002": DEL}, {},
         set(), {"Kontakte remove 5002"}),
    Case("contact: created in the sheet", {}, {"contacts.+1": LOTTE}, {"contacts create row:4"}, set()),
    Case("contact: created in Billomat", {"contacts.5009": LOTTE}, {}, set(), {"Kontakte append 5009"}),
    Case("contact: created on both sides for the same client and person", {"contacts.5009": LOTTE},
         {"contacts.+1": {**LOTTE, "email": "l.kurz@mueller.de"}}, set(), set(), "created_both", 1),
    # ---- property values ("" and no value row are the same)
    Case("value: set only in the sheet", {}, {"values.1003.11": "IT"}, {"values set 1003/11=IT"}, set()),
    Case("value: changed only in Billomat", {"values.1001.11": "Großhandel"}, {},
         set(), {"Kunden 1001 Branche=Großhandel"}),
    Case("value: the same new value on both sides", {"values.1003.11": "IT"}, {"values.1003.11": " IT "},
         set(), set()),
    Case("value: different new values", {"values.1001.11": "Großhandel"}, {"values.1001.11": "Einzelhandel"},
         set(), set(), "both_changed", 1),
    Case("value: different new values, --prefer sheet", {"values.1001.11": "Großhandel"},
         {"values.1001.11": "Einzelhandel"}, {"values set 1001/11=Einzelhandel"}, set(), "both_changed", 0,
         "sheet"),
    Case("value: different new values, --prefer billomat", {"values.1001.11": "Großhandel"},
         {"values.1001.11": "Einzelhandel"}, set(), {"Kunden 1001 Branche=Großhandel"}, "both_changed", 0,
         "billomat"),
    Case("value: set in the sheet, cleared in Billomat", {"values.1001.11": ""}, {"values.1001.11": "Einzelhandel"},
         set(), set(), "both_changed", 1),
    Case("value: cleared in the sheet, unchanged in Billomat", {}, {"values.1001.11": ""},
         {"values clear 1001/11="}, set()),
    Case("value: cleared in Billomat, unchanged in the sheet", {"values.1001.11": ""}, {},
         set(), {"Kunden 1001 Branche="}),
    Case("value: a checkbox unticked in Billomat", {"values.1001.12": "0"}, {}, set(), {"Kunden 1001 Stammkunde=0"}),
    # ---- tags (sets per client)
    Case("tags: added in the sheet", {}, {"tags.1001": "A-Kunde, Export, Newsletter"}, {"tags add 1001 Export"}, set()),
    Case("tags: added in Billomat", {"tags.1001": "A-Kunde, Messe, Newsletter"}, {},
         set(), {"Kunden 1001 Schlagwörter=A-Kunde, Messe, Newsletter"}),
    Case("tags: a tag added on each side: both", {"tags.1001": "A-Kunde, Messe, Newsletter"},
         {"tags.1001": "A-Kunde, Export, Newsletter"}, {"tags add 1001 Export"},
         {"Kunden 1001 Schlagwörter=A-Kunde, Export, Messe, Newsletter"}),
    Case("tags: the same tag added on both sides", {"tags.1001": "A-Kunde, Export, Newsletter"},
         {"tags.1001": "A-Kunde, Export, Newsletter"}, set(), set()),
    Case("tags: removed in the sheet", {}, {"tags.1001": "A-Kunde"}, {"tags remove 1001 Newsletter"}, set()),
    Case("tags: removed in Billomat", {"tags.1001": "A-Kunde"}, {}, set(), {"Kunden 1001 Schlagwörter=A-Kunde"}),
    Case("tags: removed in the sheet, another added in Billomat", {"tags.1001": "A-Kunde, Messe, Newsletter"},
         {"tags.1001": "A-Kunde"}, {"tags remove 1001 Newsletter"}, {"Kunden 1001 Schlagwörter=A-Kunde, Messe"}),
    Case("tags: removed on both sides", {"tags.1001": "Newsletter"}, {"tags.1001": "Newsletter"}, set(), set()),
    Case("tags: all removed in Billomat, one added in the sheet", {"tags.1001": ""},
         {"tags.1001": "A-Kunde, Export, Newsletter"}, {"tags add 1001 Export"}, {"Kunden 1001 Schlagwörter=Export"}),
    # ---- the first sync: no base snapshot
    Case("first sync: workbook and Billomat agree", {}, {}, set(), set(), base=False),
    Case("first sync: a field differs", {"clients.1001.city": "Meißen"}, {}, set(), set(), "no_base", 1, base=False),
    Case("first sync: a field differs, --prefer sheet", {"clients.1001.city": "Meißen"}, {},
         {"clients update 1001 city=Dresden"}, set(), "no_base", 0, "sheet", base=False),
    Case("first sync: a field differs, --prefer billomat", {"clients.1001.city": "Meißen"}, {},
         set(), {"Kunden 1001 Ort=Meißen"}, "no_base", 0, "billomat", base=False),
    Case("first sync: a value differs", {"values.1001.11": "Bau"}, {}, set(), set(), "no_base", 1, base=False),
    Case("first sync: the tags differ", {"tags.1001": "A-Kunde"}, {}, set(), set(), "no_base", 1, base=False),
    Case("first sync: a contact differs", {"contacts.5001.email": "ab@mueller.de"}, {}, set(), set(), "no_base", 1,
         base=False),
    Case("first sync: a client only in Billomat is appended", {"clients.1009": NEU_AG}, {},
         set(), {"Kunden append 1009"}, base=False),
    Case("first sync: a new row is created", {}, {"clients.+1": NEU_AG_ROW}, {"clients create row:5"}, set(),
         base=False),
    Case("first sync: a row whose id Billomat lacks", {"clients.1003": DEL}, {}, set(), set(), "no_base", 1,
         base=False),
]  # fmt: skip


def run_case(case: Case) -> tuple[Merge, AccountFrames]:
    base_state = S0
    billomat_state = patched(base_state, case.billomat, billomat=True)
    sheet_state = patched(base_state, case.sheet, billomat=False)
    current = frames(billomat_state)
    base = frames(base_state) if case.base else None
    result = merge_account(base, current, workbook(sheet_state), MAPPING, prefer=case.prefer)  # type: ignore[arg-type]
    return result, current


@pytest.mark.parametrize("case", CASES, ids=str)
def test_merge_case(case: Case) -> None:
    result, current = run_case(case)
    assert billomat_side(result, current) == case.expected_billomat_change
    assert workbook_side(result) == case.expected_workbook_change
    kinds = {c.kind for c in result.conflicts}
    assert kinds == ({case.expected_conflict_kind} if case.expected_conflict_kind else set())
    if case.prefer:
        assert all(c.resolved_by == case.prefer for c in result.conflicts)
    assert exit_code(result, current) == case.expected_exit


def test_every_issue_case_is_covered_for_every_resource() -> None:
    names = [c.name for c in CASES]
    for kind in KINDS:
        assert any(c.expected_conflict_kind == kind for c in CASES), kind
    for resource in ("client", "contact", "value", "tags"):
        assert sum(n.startswith(resource) for n in names) >= 6, resource


# ------------------------------------------------------------------ conflicts: what they show


def test_prefer_must_be_a_side() -> None:
    with pytest.raises(ValueError, match="prefer"):
        merge_account(frames(S0), frames(S0), workbook(S0), MAPPING, prefer="excel")  # type: ignore[arg-type]


def test_reading_frames_add_billomats_new_records_to_the_base() -> None:
    base = frames(S0)
    current = frames(
        patched(S0, {"clients.1009": NEU_AG, "values.1009.11": "IT", "clients.1002": DEL}, billomat=True)
    )
    reading = reading_frames(base, current)
    assert list(reading.clients["id"]) == ["1001", "1002", "1003", "1009"]
    assert ("1009", "IT") in set(
        zip(reading.client_property_values["client_id"], reading.client_property_values["value"], strict=True)
    )
    assert reading_frames(None, current) is current


# ------------------------------------------------------------------ properties of the merge

T = TypeVar("T")


class Pick(Protocol):
    """Where a generated state's choices come from: Hypothesis draws (they shrink) or a seeded Random."""

    def one(self, options: Sequence[T]) -> T:
        """One of `options`."""
        ...

    def number(self, low: int, high: int) -> int:
        """An integer in [low, high]."""
        ...

    def chance(self) -> bool:
        """Yes or no."""
        ...


@dataclass(frozen=True)
class RandomPick:
    """Choices from a seeded Random: the 10,000-client case, where size is the point, not shrinking."""

    rng: random.Random

    def one(self, options: Sequence[T]) -> T:
        """One of `options`."""
        return self.rng.choice(options)

    def number(self, low: int, high: int) -> int:
        """An integer in [low, high]."""
        return self.rng.randint(low, high)

    def chance(self) -> bool:
        """Yes or no."""
        return self.rng.random() < 0.5


@dataclass(frozen=True)
class DrawPick:
    """Choices drawn by Hypothesis, so a failing case shrinks to fewer clients, edits and simpler values."""

    draw: Callable[[st.SearchStrategy[Any]], Any]

    def one(self, options: Sequence[T]) -> T:
        """One of `options` (shrinks towards the first)."""
        return self.draw(st.sampled_from(options))

    def number(self, low: int, high: int) -> int:
        """An integer in [low, high] (shrinks towards `low`)."""
        return self.draw(st.integers(low, high))

    def chance(self) -> bool:
        """Yes or no (shrinks towards no)."""
        return self.draw(st.booleans())


CITIES = ["Dresden", "Leipzig", "Pirna", "Meißen", "Halle"]
# An edit's kind, repeated by weight (city edits are the commonest); the first is the simplest, so
# Hypothesis shrinks a failing patch towards city edits.
EDITS = (
    ["city"] * 6 + ["value"] * 3 + ["tags"] * 3 + ["contact email"] * 2 + ["new contact", "new client"]
    + ["delete contact"] * 2 + ["delete client"]
)  # fmt: skip


def random_state(pick: Pick, clients: int) -> dict[str, Any]:
    """A base state of `clients` clients with 0-2 contacts each, a Branche value on some, 0-2 tags."""
    state: dict[str, Any] = {"clients": {}, "contacts": {}, "values": {}, "tags": {}}
    for i in range(clients):
        cid = str(1000 + i)
        state["clients"][cid] = {
            "client_number": f"KD{i:05d}", "name": f"Firma {i}", "city": pick.one(CITIES),
            "email": f"info@firma{i}.de", "zip": f"0{pick.number(1000, 9999)}",
        }  # fmt: skip
        for j in range(pick.number(0, 2)):
            state["contacts"][str(5000 + 10 * i + j)] = {
                "client_id": cid, "first_name": f"P{j}", "last_name": f"L{i}", "email": f"p{j}@firma{i}.de",
                "name": f"Firma {i}", "city": state["clients"][cid]["city"],
            }  # fmt: skip
        if pick.chance():
            state["values"][(cid, "11")] = pick.one(["Bau", "Handel", "IT"])
        state["tags"][cid] = {t for t in "ABCD" if pick.number(0, 2) == 2}
    return state


def random_edit(pick: Pick, state: dict[str, Any], *, billomat: bool, n: int) -> dict[str, Any]:
    """A patch of `n` random edits: fields, values, tags, contacts, creates and deletes on either side."""
    patch: dict[str, Any] = {}
    ids = sorted(state["clients"])
    created = 0
    for _ in range(n):
        cid = pick.one(ids)
        contacts = [k for k, c in state["contacts"].items() if c["client_id"] == cid]
        what = pick.one(EDITS)
        touched = any(k.startswith((f"clients.{cid}", f"values.{cid}.", f"tags.{cid}")) for k in patch)
        if what.startswith("delete") and touched:
            continue  # a deleted record is not also edited in the same patch
        if what.startswith("contact") or what == "delete contact":
            if not contacts:
                continue
        if what == "city":
            patch[f"clients.{cid}.city"] = pick.one(["Bautzen", "Görlitz", "Zwickau", "Plauen"])
        elif what == "value":
            patch[f"values.{cid}.11"] = pick.one(["", "Bau", "Handwerk", "Logistik"])
        elif what == "tags":
            patch[f"tags.{cid}"] = ", ".join(t for t in "ABCDE" if pick.number(0, 2) == 2)
        elif what == "contact email":
            patch[f"contacts.{pick.one(contacts)}.email"] = f"neu{pick.number(0, 98)}@example.de"
        elif what == "new contact":
            created += 1
            person = {"client_id": cid, "first_name": f"Neu{created}", "last_name": "Kontakt"}
            patch[f"contacts.{5900 + pick.number(0, 98)}" if billomat else f"contacts.+{created}"] = person
        elif what == "new client":
            created += 1
            name = pick.one(["Alpha GmbH", "Beta KG", f"Einzel {pick.number(0, 998)}"])
            if billomat:
                new_id = 2000 + pick.number(0, 999)
                patch[f"clients.{new_id}"] = {"client_number": "", "name": name, "city": "Jena"}
            else:
                patch[f"clients.+{created}"] = {"name": name, "city": "Gera"}
        elif what == "delete contact":
            patch[f"contacts.{pick.one(contacts)}"] = DEL
        else:
            patch[f"clients.{cid}"] = DEL
            if not billomat and pick.chance():  # the accountant usually deletes the contact rows too
                patch.update({f"contacts.{k}": DEL for k in contacts})
    # Deleted records are not edited in the same patch, nor get new contacts; nor are the contacts of a
    # deleted client (Billomat deletes them with it).
    gone = {k.split(".")[1] for k, v in patch.items() if v is DEL}
    gone |= {k for k, c in state["contacts"].items() if c["client_id"] in gone}
    return {
        k: v
        for k, v in patch.items()
        if v is DEL
        or (k.count(".") == 1 and (not isinstance(v, dict) or v.get("client_id") not in gone))
        or (k.count(".") > 1 and k.split(".")[1] not in gone)
    }


@st.composite
def states(draw: st.DrawFn) -> dict[str, Any]:
    """A base state of 1-12 clients (shrinks towards one client)."""
    return random_state(DrawPick(draw), draw(st.integers(1, 12)))


@st.composite
def edited(draw: st.DrawFn, *, billomat: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """A base state and a patch of up to 12 edits on one side (shrinks towards fewer, simpler edits)."""
    base = draw(states())
    return base, random_edit(DrawPick(draw), base, billomat=billomat, n=draw(st.integers(0, 12)))


@st.composite
def edited_on_both_sides(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A base state, Billomat's patch and the workbook's patch of it."""
    base = draw(states())
    pick = DrawPick(draw)
    return (
        base,
        random_edit(pick, base, billomat=True, n=draw(st.integers(0, 12))),
        random_edit(pick, base, billomat=False, n=draw(st.integers(0, 12))),
    )


@given(state=states())
def test_nothing_changed_gives_nothing(state: dict[str, Any]) -> None:
    result = merge_account(frames(state), frames(state), workbook(state), MAPPING)
    assert billomat_side(result, frames(state)) == set()
    assert result.to_workbook.is_empty and not result.conflicts and result.exit_code == 0


@given(case=edited(billomat=True))
def test_only_billomat_changed_gives_only_workbook_changes(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    base_state, patch = case
    billomat_state = patched(base_state, patch, billomat=True)
    current = frames(billomat_state)
    result = merge_account(frames(base_state), current, workbook(base_state), MAPPING)
    assert billomat_side(result, current) == set()
    assert not result.conflicts
    # Applying the workbook changes gives exactly Billomat's state.
    assert normal(apply_workbook(base_state, result, billomat_state)) == normal(billomat_state)


@given(case=edited(billomat=False))
def test_only_the_sheet_changed_is_a_push(case: tuple[dict[str, Any], dict[str, Any]]) -> None:
    base_state, patch = case
    sheet_state = patched(base_state, patch, billomat=False)
    base = frames(base_state)
    wanted = workbook(sheet_state)
    result = merge_account(base, base, wanted, MAPPING)
    # The workbook stays as it is, except the rows of contacts whose client row the accountant deleted:
    # Billomat deletes them with the client, so their rows go once that delete is done (found by Hypothesis).
    orphans = {
        f"Kontakte remove {k} after deleting {c['client_id']}"
        for k, c in sheet_state["contacts"].items()
        if c["client_id"] not in sheet_state["clients"]
    }
    assert workbook_side(result) == orphans and not result.conflicts
    push = diff_account(base, wanted, MAPPING)
    push_plan = build_plan(push, wanted, base, MAPPING, allow_deletes=True, max_deletes=100)
    merged_plan = build_plan(
        diff_account(base, result.to_billomat, MAPPING), result.to_billomat, base, MAPPING,
        allow_deletes=True, max_deletes=100,
    )  # fmt: skip
    assert merged_plan.to_dict() == push_plan.to_dict()


@pytest.mark.parametrize("prefer", [None, "sheet", "billomat"])
@given(case=edited_on_both_sides())
def test_applying_both_sides_then_merging_again_gives_nothing(
    prefer: str | None, case: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
) -> None:
    base_state, billomat_patch, sheet_patch = case
    billomat_state = patched(base_state, billomat_patch, billomat=True)
    sheet_state = patched(base_state, sheet_patch, billomat=False)
    result = merge_account(
        frames(base_state), frames(billomat_state), workbook(sheet_state), MAPPING, prefer=prefer
    )  # type: ignore[arg-type]
    after_billomat, ids = apply_billomat(billomat_state, result)
    after_sheet = apply_workbook(sheet_state, result, billomat_state, ids, after_billomat)
    if not result.held:
        # Nothing held: both sides hold the same data.
        assert normal(after_billomat) == normal(after_sheet)
    next_base = result.next_base(frames(after_billomat))
    again = merge_account(next_base, frames(after_billomat), workbook(after_sheet), MAPPING, prefer=prefer)  # type: ignore[arg-type]
    assert billomat_side(again, frames(after_billomat)) == set()
    assert workbook_side(again) == set()
    # Held conflicts stay held (the accountant has not decided them yet); nothing new comes up.
    assert conflict_ids(again.conflicts) == conflict_ids(result.held)


def conflict_ids(conflicts: Any) -> list[tuple[str, str, str, str]]:
    # A new row's key is its row number, which removals and appends above it may shift.
    return sorted((c.kind, c.resource, c.billomat_id or c.key, c.field) for c in conflicts)


# ------------------------------------------------------------------ applying a merge (test doubles)


def normal(state: dict[str, Any]) -> dict[str, Any]:
    """A state compared by content: writable fields only, no empty values, tags as sets."""
    return {
        "clients": {
            k: {f: v.get(f, "") for f in ("name", "city", "email", "zip")}
            for k, v in state["clients"].items()
        },
        "contacts": {
            k: {f: v.get(f, "") for f in ("client_id", "first_name", "last_name", "email")}
            for k, v in state["contacts"].items()
        },
        "values": {k: v for k, v in state["values"].items() if v and k[0] in state["clients"]},
        "tags": {k: set(v) for k, v in state["tags"].items() if v and k in state["clients"]},
    }


def apply_billomat(state: dict[str, Any], result: Merge) -> tuple[dict[str, Any], dict[str, str]]:
    """What Billomat holds after the plan of `to_billomat` ran; new records get ids from 8000.

    Also returns row key (`row:N`) → new id, per sheet ("clients:row:N"), as the push reports them.
    """
    current = frames(state)
    plan = build_plan(
        diff_account(current, result.to_billomat, MAPPING), result.to_billomat, current, MAPPING,
        allow_deletes=True, max_deletes=100,
    )  # fmt: skip
    out = copy.deepcopy(state)
    ids: dict[str, str] = {}
    for change in plan.changes:
        client = ids.get(f"clients:{change.client_key}", change.client_key)
        if change.resource in ("clients", "contacts") and change.action == "create":
            new_id = str(8000 + len(ids))
            ids[f"{change.resource}:{change.key}"] = new_id
            patch = {
                f"{change.resource}.{new_id}": {**change.payload, **({"client_id": client} if client else {})}
            }
            out = patched(out, patch, billomat=True)
        elif change.action == "update":
            out[change.resource][change.key].update(
                {k: ids.get(f"clients:{v}", v) if k == "client_id" else v for k, v in change.payload.items()}
            )
        elif change.action == "delete":
            out = patched(out, {f"{change.resource}.{change.key}": DEL}, billomat=True)
        elif change.resource == "client_property_values":
            out["values"][(client, change.ref)] = change.payload["value"]
        elif change.resource == "client_tags":
            tags = out["tags"].setdefault(client, set())
            (tags.add if change.action == "add" else tags.discard)(change.ref)
    return out, ids


def sheet_rows(state: dict[str, Any]) -> dict[tuple[str, int], str]:
    """(sheet, row) → the state's key of the record on that row (as `workbook` numbers them)."""
    out = {("Kunden", i + 2): k for i, k in enumerate(_ordered(state["clients"]))}
    out |= {("Kontakte", i + 2): k for i, k in enumerate(_ordered(state["contacts"]))}
    return out


def rename(state: dict[str, Any], resource: str, old: str, new: str) -> None:
    state[resource][new] = state[resource].pop(old)
    if resource == "clients":
        for contact in state["contacts"].values():
            if contact["client_id"] == old:
                contact["client_id"] = new
        state["values"] = {(new if c == old else c, p): v for (c, p), v in state["values"].items()}
        if old in state["tags"]:
            state["tags"][new] = state["tags"].pop(old)


def apply_workbook(
    state: dict[str, Any],
    result: Merge,
    billomat: dict[str, Any],
    ids: dict[str, str] | None = None,
    billomat_after: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The workbook after the write-back: `to_workbook` addressed by sheet row, as the write-back does,
    then the new ids of the push (`ids`, from apply_billomat) into the rows they were created from.
    Appended rows are filled from `billomat`, the state the merge saw."""
    out = copy.deepcopy(state)
    ids = ids or {}
    billomat_after = billomat_after or billomat
    at = sheet_rows(state)
    headers = {("Kunden", c.header): c.field for c in MAPPING.sheets["clients"].columns} | {
        ("Kontakte", c.header): c.field for c in MAPPING.sheets["contacts"].columns
    }
    props = {p["name"]: p["id"] for p in PROPS}
    renames: list[tuple[str, str, str]] = []
    for resource, sheet, row, header, new in result.to_workbook.updates[
        ["resource", "sheet", "row", "header", "new"]
    ].itertuples(index=False):
        key = at[(sheet, row)]
        if resource == "client_tags":
            out["tags"][key] = {t.strip() for t in new.split(",") if t.strip()}
        elif resource == "client_property_values":
            out["values"][(key, props[header])] = new
        elif headers[(sheet, header)] == "id":
            renames.append((resource, key, new or ids[f"{resource}:row:{row}"]))
        elif headers[(sheet, header)] == "client_id":
            out[resource][key]["client_id"] = new
        else:
            out[resource][key][headers[(sheet, header)]] = new
    removals = result.to_workbook.removals[["resource", "sheet", "row", "after_delete"]]
    for resource, sheet, row, after_delete in removals.itertuples(index=False):
        if not after_delete or after_delete not in billomat_after["clients"]:
            out = patched(out, {f"{resource}.{at[(sheet, row)]}": DEL}, billomat=False)
    # The push's new ids go into the rows they were created from (writeback.NewIds).
    for (sheet, row), key in at.items():
        resource = "clients" if sheet == "Kunden" else "contacts"
        if key.startswith("+") and f"{resource}:row:{row}" in ids and key in out[resource]:
            renames.append((resource, key, ids[f"{resource}:row:{row}"]))
    for resource, old, new in sorted(renames, key=lambda r: r[0] != "clients"):
        rename(out, resource, old, new)
    for sheet, table in result.to_workbook.appends.items():
        resource = MAPPING.sheet_named(sheet).resource  # type: ignore[union-attr]
        for key in table[MAPPING.sheets[resource].key_column.header]:
            out[resource][key] = copy.deepcopy(billomat[resource][key])
            if resource == "clients":
                out["tags"][key] = set(billomat["tags"].get(key, set()))
                out["values"].update({k: v for k, v in billomat["values"].items() if k[0] == key})
    return out


# ------------------------------------------------------------------ speed


def big_state(clients: int) -> dict[str, Any]:
    return random_state(RandomPick(random.Random(7)), clients)


@pytest.mark.parametrize("clients", [10_000])
def test_ten_thousand_clients_with_one_percent_changes_each_side_merge_to_updates_and_held_conflicts(clients: int) -> None:
    rng = random.Random(1)
    base_state = big_state(clients)
    billomat_patch = random_edit(RandomPick(rng), base_state, billomat=True, n=clients // 100)
    sheet_patch = random_edit(RandomPick(rng), base_state, billomat=False, n=clients // 100)
    for cid in rng.sample(sorted(base_state["clients"]), 20):  # and some conflicts
        billomat_patch[f"clients.{cid}.email"] = f"billomat@{cid}.de"
        sheet_patch[f"clients.{cid}.email"] = f"sheet@{cid}.de"
    billomat_state = patched(base_state, billomat_patch, billomat=True)
    sheet_state = patched(base_state, sheet_patch, billomat=False)
    base, current, wanted = frames(base_state), frames(billomat_state), workbook(sheet_state)
    # Its speed is measured by `make bench` (docs/benchmarks.md), never asserted here.
    result = merge_account(base, current, wanted, MAPPING)
    assert len(result.to_workbook.updates) > clients // 200 and len(result.held) >= 20


# ------------------------------------------------------------------ a workbook of unknown origin


@pytest.mark.parametrize(
    ("field", "older_value", "newer_value"),
    [("clients.1001.city", "Dresden", "Pirna"), ("values.1001.11", "Handel", "Handwerk")],
)
def test_a_value_of_an_older_state_is_a_stale_copy_conflict_without_a_known_origin(field, older_value, newer_value):
    """Unknown origin: merged against the newest state B, the older states kept alongside. A workbook
    value that equals an older state's while Billomat holds B's is held, never sent; a new value is an edit."""
    older = patched(S0, {field: older_value}, billomat=True)
    newest = patched(S0, {field: newer_value}, billomat=True)
    stale = merge_account(
        frames(newest), frames(newest), workbook(older), MAPPING, older=[frames(older)]
    )
    assert [(c.kind, c.sheet_value, c.billomat) for c in stale.held] == [(STALE_COPY, older_value, newer_value)]
    assert billomat_side(stale, frames(newest)) == set()
    assert workbook_side(stale) == set()
    # The next base keeps the conflict pending; --prefer sheet sends the workbook's value.
    decided = merge_account(
        frames(newest), frames(newest), workbook(older), MAPPING, older=[frames(older)], prefer="sheet"
    )
    assert not decided.held and billomat_side(decided, frames(newest))
    edited = patched(S0, {field: "Meißen"}, billomat=True)
    edit = merge_account(frames(newest), frames(newest), workbook(edited), MAPPING, older=[frames(older)])
    assert not edit.conflicts and billomat_side(edit, frames(newest))
