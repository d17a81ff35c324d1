"""The emulated account's tables: records by id in creation order, per-client indexes, loading and views.

`BillomatState` (state.py) adds Billomat's rules for writing them; every failure is an ApiError(status, message).
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from sync.emulator import fields as F
from sync.emulator.seed import DEFAULT_SETTINGS, Account

if TYPE_CHECKING:
    from sync.emulator.config import EmulatorConfig

try:  # created timestamps carry the account's offset, like "2015-02-23T09:52:05+01:00"
    from zoneinfo import ZoneInfo

    _TZ: Any = ZoneInfo("Europe/Berlin")
except Exception:  # pragma: no cover - no tz database
    _TZ = timezone(timedelta(hours=1))

Record = dict[str, str]
T = TypeVar("T")

# Resources and their first ids when the account has none yet.
_FIRST_IDS = {
    "clients": 1001,
    "contacts": 5001,
    "client_properties": 11,
    "client_property_values": 7001,
    "client_tags": 9001,
}


class ApiError(Exception):
    """A Billomat error answer: status plus the text of {"errors":{"error": message}}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message


def row_not_found() -> ApiError:
    """billomat-api.md §1: unknown id -> 404 "Row not found" (fixture error_404_row_not_found.json)."""
    return ApiError(404, "Row not found")


def iso_time(epoch: float) -> str:
    """ISO-8601 with the Berlin offset, e.g. 2023-11-14T23:13:20+01:00 (billomat-api.md §4.1 `created`)."""
    return datetime.fromtimestamp(epoch, _TZ).isoformat(timespec="seconds")


def locked(method: Callable[..., T]) -> Callable[..., T]:
    """Run the method under the state's lock."""

    @functools.wraps(method)
    def wrapper(self: Tables, *args: Any, **kwargs: Any) -> T:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


class Tables:
    """The records of one account (dicts of str, in creation order), the per-client indexes and the query cache."""

    def __init__(self, account: Account, config: EmulatorConfig) -> None:
        self.lock = threading.RLock()
        self.config = config
        self.billomat_id = config.billomat_id or account.billomat_id
        self.settings: Record = {**DEFAULT_SETTINGS, **account.settings}
        self.myself: Record = dict(account.myself)
        self._client_properties: dict[str, Record] = {}
        self._clients: dict[str, Record] = {}  # id -> record, in creation order
        self._contacts: dict[str, Record] = {}
        self._client_property_values: dict[str, Record] = {}
        self._client_tags: dict[str, Record] = {}
        self.documents: set[str] = set(account.documents)
        self._contacts_by_client: dict[str, dict[str, None]] = {}
        self._pvs_by_client: dict[str, dict[str, None]] = {}
        self._tags_by_client: dict[str, dict[str, None]] = {}
        self._cache: OrderedDict[Any, list[str]] = OrderedDict()
        self._cloud: dict[str, Record] | None = None
        self._next_number = 1
        self._load(account)

    # ------------------------------------------------------------------ loading
    def _load(self, account: Account) -> None:
        created_now = iso_time(self.config.clock.now())
        for rec in account.client_properties:
            self._client_properties[rec["id"]] = self._property_record(rec)
        self._next_number = 1 + max((int(c["number"]) for c in account.clients if c.get("number")), default=0)
        template = self._client_template()
        for rec in account.clients:
            full = dict(template)
            full.update(rec)
            if full["number"]:
                full["number"] = str(int(full["number"]))  # an INT field, like the API stores it
            else:
                full["number"] = str(self._next_number)
                self._next_number += 1
            if not full["created"]:
                full["created"] = created_now
            self._derive_client(full)
            self._clients[full["id"]] = full
        ctemplate = dict.fromkeys(F.CONTACT_FIELDS, "")
        inherit = self.config.contact_inherit_fields
        copy = self.config.contact_inherit == "copy"  # "read": stored empty, filled when shown
        home = self.settings["country_code"]
        clients, contacts, by_client = self._clients, self._contacts, self._contacts_by_client
        for rec in account.contacts:
            full = dict(ctemplate)
            full.update(rec)
            if not full["created"]:
                full["created"] = created_now
            if copy:
                client = clients[full["client_id"]]
                for name in inherit:  # billomat-api.md §4.2: empty values are filled from the client
                    if not full.get(name):
                        full[name] = client.get(name, "")
            full["address"] = address_block(full, home)
            contacts[full["id"]] = full
            by_client.setdefault(full["client_id"], {})[full["id"]] = None
        pvtemplate = dict.fromkeys(F.PROPERTY_VALUE_FIELDS, "")
        props = self._client_properties
        for rec in account.client_property_values:
            full = dict(pvtemplate)
            full.update(rec)
            prop = props[full["client_property_id"]]
            full["type"], full["name"] = prop["type"], prop["name"]
            self._client_property_values[full["id"]] = full
            self._pvs_by_client.setdefault(full["client_id"], {})[full["id"]] = None
        ttemplate = dict.fromkeys(F.TAG_FIELDS, "")
        for rec in account.client_tags:
            full = dict(ttemplate)
            full.update(rec)
            self._client_tags[full["id"]] = full
            self._tags_by_client.setdefault(full["client_id"], {})[full["id"]] = None
        self._next_ids = {
            name: 1 + max((int(i) for i in self.table(name)), default=_FIRST_IDS[name] - 1)
            for name in _FIRST_IDS
        }

    def _client_template(self) -> Record:
        template = dict.fromkeys(F.CLIENT_FIELDS, "")
        template.update(F.CLIENT_DEFAULTS)
        template["number_pre"] = self.settings["number_pre"]
        template["number_length"] = self.settings["number_length"]
        template["country_code"] = self.settings["country_code"]
        return template

    def _property_record(self, rec: Mapping[str, str]) -> Record:
        full = dict.fromkeys(F.PROPERTY_FIELDS, "")
        full.update({"account_id": self.myself.get("id", ""), "is_nvl": "0"})
        full.update(rec)
        return full

    def _pv_record(self, rec: Mapping[str, str]) -> Record:
        full = dict.fromkeys(F.PROPERTY_VALUE_FIELDS, "")
        full.update(rec)
        prop = self._client_properties[full["client_property_id"]]
        full["type"], full["name"] = prop["type"], prop["name"]
        return full

    def _derive_client(self, rec: Record) -> None:
        # billomat-api.md §4.1: client_number = number_pre + number zero-padded to number_length (KD00008).
        width = int(rec["number_length"] or 0)
        rec["client_number"] = rec["number_pre"] + rec["number"].zfill(width)
        rec["address"] = address_block(rec, self.settings["country_code"])
        if rec["enable_customerportal"] == "1":
            token = f"{(int(rec['id']) * 2654435761) % 2**32:08x}"
            rec["customerportal_url"] = (
                f"https://{self.billomat_id}.billomat.net/customerportal/auth/autologin/entityId/"
                f"{rec['id']}?hash={token}"
            )
        else:
            rec["customerportal_url"] = ""

    def _inherit(self, contact: Record, client: Record) -> None:
        # billomat-api.md §4.2: "Bei leeren Werten wird der Wert des Kunden übernommen". Under "read"
        # nothing is copied: shown_contact() fills the empty fields whenever the contact is shown.
        if self.config.contact_inherit != "copy":
            return
        for name in self.config.contact_inherit_fields:
            if contact.get(name, "") == "":
                contact[name] = client.get(name, "")

    def shown_contact(self, contact: Record) -> Record:
        """The contact as a GET shows it: under contact_inherit="read" its stored empty inherited fields
        carry the client's current values (a new dict); under "copy" the stored record itself."""
        if self.config.contact_inherit == "copy":
            return contact
        client = self._clients.get(contact["client_id"], {})
        shown = dict(contact)
        for name in self.config.contact_inherit_fields:
            if shown.get(name, "") == "":
                shown[name] = client.get(name, "")
        shown["address"] = address_block(shown, self.settings["country_code"])
        return shown

    # ------------------------------------------------------------------ views
    @property
    def clients(self) -> list[Record]:
        """The clients in creation order: the live record dicts (dicts of str, without embedded values)."""
        with self.lock:
            return list(self._clients.values())

    @property
    def contacts(self) -> list[Record]:
        """The contacts in creation order (live record dicts, as stored; `shown_contact` gives what a GET shows)."""
        with self.lock:
            return list(self._contacts.values())

    @property
    def client_properties(self) -> list[Record]:
        """The client property definitions in creation order (live record dicts)."""
        with self.lock:
            return list(self._client_properties.values())

    @property
    def client_property_values(self) -> list[Record]:
        """The stored client property value rows in creation order (live record dicts)."""
        with self.lock:
            return list(self._client_property_values.values())

    @property
    def client_tags(self) -> list[Record]:
        """The client tags (one row per client and name) in creation order (live record dicts)."""
        with self.lock:
            return list(self._client_tags.values())

    def table(self, resource: str) -> dict[str, Record]:
        """The id -> record dict of "clients", "contacts", "client_properties", "client_property_values"
        or "client_tags" (live; for fast lookups by id)."""
        return {
            "clients": self._clients,
            "contacts": self._contacts,
            "client_properties": self._client_properties,
            "client_property_values": self._client_property_values,
            "client_tags": self._client_tags,
        }[resource]

    # ------------------------------------------------------------------ helpers
    def invalidate(self) -> None:
        """Forget cached query results (call after editing record dicts directly)."""
        self._cache.clear()
        self._cloud = None

    def _new_id(self, resource: str) -> str:
        new = self._next_ids[resource]
        self._next_ids[resource] = new + 1
        return str(new)

    def _now(self) -> str:
        return iso_time(self.config.clock.now())

    def _get(self, table: dict[str, Record], rid: str) -> Record:
        rec = table.get(rid)
        if rec is None:
            raise row_not_found()
        return rec


def country_code(value: str, default: str) -> str:
    """A country code as stored: upper case, `default` when empty; 400 when it is not two letters."""
    if value == "":
        return default
    if len(value) != 2 or not value.isalpha():
        raise ApiError(400, "invalid country_code")
    return value.upper()


def address_block(rec: Mapping[str, str], home_country: str) -> str:
    """The read-only formatted address block, as in the ~2020 fixture ("Hallo GmbH\\nHerr Peter Acme\\n...")."""
    person = " ".join(filter(None, (rec.get("salutation"), rec.get("first_name"), rec.get("last_name"))))
    place = " ".join(filter(None, (rec.get("zip"), rec.get("city"))))
    country = rec.get("country_code", "")
    return "\n".join(
        filter(
            None,
            (rec.get("name"), person, rec.get("street"), place, country if country != home_country else ""),
        )
    )
