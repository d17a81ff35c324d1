"""The emulated account's records and Billomat's business rules; every failure is an ApiError(status, message)."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
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
_CACHE_SIZE = 64


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


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: BillomatState, *args: Any, **kwargs: Any) -> T:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


# Text sorts roughly like MySQL's utf8_general_ci: case-insensitive, umlauts next to their base letter.
_COLLATE = str.maketrans({"ä": "a", "ö": "o", "ü": "u", "Ä": "a", "Ö": "o", "Ü": "u", "ß": "ss"})


def _collate(value: str) -> str:
    return value.translate(_COLLATE).casefold()


def _field_order(rows: Mapping[str, Record], field: str, key: Callable[[str], Any]) -> Callable[[str], Any]:
    """A sort key for record ids: `key` of the record's `field`."""
    return lambda i: key(rows[i].get(field, ""))


# Filter predicates: factories rather than lambdas with default arguments, so that each binds the loop's
# current values and mypy can see the types.
def _equals(field: str, value: str) -> Callable[[Record], bool]:
    return lambda r: r[field] == value


def _contains(field: str, needle: str) -> Callable[[Record], bool]:
    return lambda r: needle in r[field].casefold()


def _id_in(ids: set[str]) -> Callable[[Record], bool]:
    return lambda r: r["id"] in ids


def _id_in_or_not_in(ids: set[str], rows: set[str]) -> Callable[[Record], bool]:
    return lambda r: r["id"] in ids or r["id"] not in rows


def _sort_key(field: str) -> Callable[[str], Any]:
    if field in ("id", "client_id", "client_property_id"):
        return int  # ids are always digits
    if field in F.NUMERIC_FIELDS:

        def numeric(value: str) -> Any:
            try:
                return (0, int(value), "")
            except ValueError:
                try:
                    return (0, float(value), "")
                except ValueError:
                    return (1, 0, _collate(value))

        return numeric
    return _collate


class BillomatState:
    """Current records of one account (dicts of str, in creation order) plus indexes and a query cache.

    `clients`, `contacts`, ... are lists of the live record dicts; `table(resource)` maps id -> record.
    Public mutators take the lock and keep indexes and the cache right. If you edit a record dict
    directly (e.g. `state.get_client("1001")["name"] = ...` in a test), call `invalidate()` afterwards.
    """

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
            full["address"] = _address(full, home)
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
        rec["address"] = _address(rec, self.settings["country_code"])
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
        shown["address"] = _address(shown, self.settings["country_code"])
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

    # ------------------------------------------------------------------ clients
    def _client_fields(self, data: Mapping[str, str]) -> Record:
        """Validate and normalise the writable client fields of a create/update body."""
        out: Record = {}
        for key, value in data.items():
            if key in F.CLIENT_READ_ONLY or key not in F.CLIENT_FIELDS:
                continue  # read-only/derived or unknown: ignored, like the real API
            if key in F.CLIENT_BOOL_FIELDS:
                if value in ("", "0", "false"):
                    value = "0"
                elif value in ("1", "true"):
                    value = "1"
                else:
                    raise ApiError(400, f"invalid value for {key}")
            elif key in F.CLIENT_INT_FIELDS:
                if value == "":
                    if key == "number":
                        continue  # no number: keep / next free
                    value = self.settings["number_length"] if key == "number_length" else "0"
                elif not value.strip().isdigit():
                    raise ApiError(400, f"invalid value for {key}")
                value = str(int(value))  # an INT field: "00042" comes back as "42"
            elif key in F.CLIENT_ENUMS:
                if value == "":
                    value = F.CLIENT_DEFAULTS[key]
                elif value.upper() not in F.CLIENT_ENUMS[key]:
                    raise ApiError(400, f"invalid value for {key}")
                value = value.upper()
            elif key == "country_code":
                value = _country(value, self.settings["country_code"])
            elif key == "email" and not F.valid_email(value):
                raise ApiError(400, "invalid email address")  # fixture error_400_invalid_email.json
            elif key == "bank_iban" and self.config.validate_iban and not F.valid_iban(value):
                raise ApiError(400, "invalid IBAN")
            out[key] = value
        return out

    @staticmethod
    def _check_name(rec: Mapping[str, str]) -> None:
        if not (rec.get("name") or rec.get("first_name") or rec.get("last_name")):
            raise ApiError(400, "name or first_name/last_name required")

    @_locked
    def get_client(self, cid: str) -> Record:
        """The stored client (raises 404 Row not found)."""
        return self._get(self._clients, cid)

    @_locked
    def create_client(self, data: Mapping[str, str]) -> Record:
        """POST /clients: defaults, next free number, derived fields, created."""
        values = self._client_fields(data)
        self._check_name(values)
        rec = self._client_template()
        rec.update(values)
        rec["id"] = self._new_id("clients")
        rec["created"] = self._now()
        if not rec["number"]:
            rec["number"] = str(self._next_number)
        self._next_number = max(self._next_number, int(rec["number"]) + 1)
        self._derive_client(rec)
        self._clients[rec["id"]] = rec
        self.invalidate()
        return rec

    @_locked
    def update_client(self, cid: str, data: Mapping[str, str]) -> Record:
        """PUT /clients/{id}: only the given fields change."""
        rec = self._get(self._clients, cid)
        values = self._client_fields(data)
        if (
            not self.config.archived_update_allowed
            and rec["archived"] == "1"
            and values.get("archived", "1") != "0"
        ):
            # billomat-api.md §4.1 (JP, UNCONFIRMED): archived clients can't be updated until unarchived.
            raise ApiError(400, "archived clients can not be updated")
        self._check_name({**rec, **values})
        rec.update(values)
        if "number" in values:
            self._next_number = max(self._next_number, int(rec["number"]) + 1)
        self._derive_client(rec)
        self.invalidate()
        return rec

    @_locked
    def delete_client(self, cid: str) -> None:
        """DELETE /clients/{id}: refused while the client has documents; drops its contacts/values/tags."""
        self._get(self._clients, cid)
        if cid in self.documents:
            # billomat-api.md §4.1: only possible when no documents exist (status/message UNCONFIRMED).
            raise ApiError(400, "client has documents and can not be deleted")
        del self._clients[cid]
        for table, index in (
            (self._contacts, self._contacts_by_client),
            (self._client_property_values, self._pvs_by_client),
            (self._client_tags, self._tags_by_client),
        ):
            for rid in index.pop(cid, {}):
                table.pop(rid, None)
        self.invalidate()

    @_locked
    def set_customfield(self, cid: str, value: str) -> Record:
        """PUT /clients/{id}/customfield (billomat-api.md §4.6)."""
        rec = self._get(self._clients, cid)
        rec["customfield"] = value
        self.invalidate()
        return rec

    @_locked
    def property_values_of(self, cid: str) -> list[Record]:
        """One row per property for a client GET: the stored row, or an empty one (id "") when unset."""
        rows: list[Record] = []
        stored = [self._client_property_values[i] for i in self._pvs_by_client.get(cid, ())]
        for pid, prop in self._client_properties.items():
            row = next((r for r in stored if r["client_property_id"] == pid), None)
            if row is None:
                row = {
                    "id": "",
                    "client_id": cid,
                    "client_property_id": pid,
                    "type": prop["type"],
                    "name": prop["name"],
                    "value": "",
                    "customfield": "",
                }
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ contacts
    def _contact_fields(self, data: Mapping[str, str]) -> Record:
        out: Record = {}
        for key, value in data.items():
            if key in F.CONTACT_READ_ONLY or key == "client_id" or key not in F.CONTACT_FIELDS:
                continue
            if key == "email" and not F.valid_email(value):
                raise ApiError(400, "invalid email address")
            if key == "country_code":
                value = _country(value, "")
            out[key] = value
        return out

    @_locked
    def get_contact(self, rid: str) -> Record:
        """The stored contact (raises 404)."""
        return self._get(self._contacts, rid)

    @_locked
    def create_contact(self, data: Mapping[str, str]) -> Record:
        """POST /contacts: client_id required; empty address fields are taken from the client (under "copy")."""
        cid = data.get("client_id", "")
        if not cid:
            raise ApiError(400, "client_id is required")  # billomat-api.md §4.2: client_id (required)
        client = self._clients.get(cid)
        if client is None:
            raise ApiError(400, "invalid client_id")
        rec = dict.fromkeys(F.CONTACT_FIELDS, "")
        rec.update(self._contact_fields(data))
        rec["id"], rec["client_id"], rec["created"] = self._new_id("contacts"), cid, self._now()
        self._inherit(rec, client)
        rec["address"] = _address(rec, self.settings["country_code"])
        self._contacts[rec["id"]] = rec
        self._contacts_by_client.setdefault(cid, {})[rec["id"]] = None
        self.invalidate()
        return rec

    @_locked
    def update_contact(self, rid: str, data: Mapping[str, str]) -> Record:
        """PUT /contacts/{id}: client_id can't change (ignored); emptied fields refill from the client (under "copy")."""
        rec = self._get(self._contacts, rid)
        rec.update(self._contact_fields(data))
        self._inherit(rec, self._clients[rec["client_id"]])
        rec["address"] = _address(rec, self.settings["country_code"])
        self.invalidate()
        return rec

    @_locked
    def delete_contact(self, rid: str) -> None:
        """DELETE /contacts/{id}."""
        rec = self._get(self._contacts, rid)
        del self._contacts[rid]
        self._contacts_by_client.get(rec["client_id"], {}).pop(rid, None)
        self.invalidate()

    # ------------------------------------------------------------------ client properties
    def _property_fields(self, data: Mapping[str, str]) -> Record:
        out: Record = {}
        for key, value in data.items():
            if key in ("id", "account_id") or key not in F.PROPERTY_FIELDS:
                continue
            if key == "type" and value not in F.PROPERTY_TYPES:
                raise ApiError(400, "invalid type")
            if key == "is_nvl" and value not in ("0", "1"):
                raise ApiError(400, "invalid value for is_nvl")
            out[key] = value
        return out

    @_locked
    def get_property(self, rid: str) -> Record:
        """The stored property definition (raises 404)."""
        return self._get(self._client_properties, rid)

    @_locked
    def create_property(self, data: Mapping[str, str]) -> Record:
        """POST /client-properties: name and type required (billomat-api.md §4.3)."""
        values = self._property_fields(data)
        if not values.get("name"):
            raise ApiError(400, "name is required")
        if not values.get("type"):
            raise ApiError(400, "type is required")
        rec = self._property_record({**values, "id": self._new_id("client_properties")})
        self._client_properties[rec["id"]] = rec
        self.invalidate()
        return rec

    @_locked
    def update_property(self, rid: str, data: Mapping[str, str]) -> Record:
        """PUT /client-properties/{id}; a rename shows in every value row."""
        rec = self._get(self._client_properties, rid)
        values = self._property_fields(data)
        if "name" in values and not values["name"]:
            raise ApiError(400, "name is required")
        rec.update(values)
        for pv in self._client_property_values.values():
            if pv["client_property_id"] == rid:
                pv["type"], pv["name"] = rec["type"], rec["name"]
        self.invalidate()
        return rec

    @_locked
    def delete_property(self, rid: str) -> None:
        """DELETE /client-properties/{id}: its stored values go too (billomat-api.md §4.3, UNCONFIRMED)."""
        self._get(self._client_properties, rid)
        del self._client_properties[rid]
        for pid in [k for k, v in self._client_property_values.items() if v["client_property_id"] == rid]:
            pv = self._client_property_values.pop(pid)
            self._pvs_by_client.get(pv["client_id"], {}).pop(pid, None)
        self.invalidate()

    # ------------------------------------------------------------------ client property values
    @_locked
    def get_property_value(self, rid: str) -> Record:
        """The stored value row (raises 404)."""
        return self._get(self._client_property_values, rid)

    @_locked
    def set_property_value(self, data: Mapping[str, str]) -> Record:
        """POST /client-property-values: upsert or duplicate per config.property_value_post (UNCONFIRMED)."""
        for key in ("client_id", "client_property_id", "value"):
            if key not in data or (key != "value" and not data[key]):
                raise ApiError(400, f"{key} is required")  # billomat-api.md §4.4: all required
        cid, pid = data["client_id"], data["client_property_id"]
        if cid not in self._clients:
            raise ApiError(400, "invalid client_id")
        if pid not in self._client_properties:
            raise ApiError(400, "invalid client_property_id")
        if self.config.property_value_post == "upsert":
            for rid in self._pvs_by_client.get(cid, ()):
                row = self._client_property_values[rid]
                if row["client_property_id"] == pid:
                    row["value"] = data["value"]
                    if "customfield" in data:
                        row["customfield"] = data["customfield"]
                    self.invalidate()
                    return row
        rec = self._pv_record(
            {
                "id": self._new_id("client_property_values"),
                "client_id": cid,
                "client_property_id": pid,
                "value": data["value"],
                "customfield": data.get("customfield", ""),
            }
        )
        self._client_property_values[rec["id"]] = rec
        self._pvs_by_client.setdefault(cid, {})[rec["id"]] = None
        self.invalidate()
        return rec

    @_locked
    def update_property_value(self, rid: str, data: Mapping[str, str]) -> Record:
        """PUT /client-property-values/{id} (only with config.property_value_put_delete)."""
        rec = self._get(self._client_property_values, rid)
        for key in ("value", "customfield"):
            if key in data:
                rec[key] = data[key]
        self.invalidate()
        return rec

    @_locked
    def delete_property_value(self, rid: str) -> None:
        """DELETE /client-property-values/{id} (only with config.property_value_put_delete)."""
        rec = self._get(self._client_property_values, rid)
        del self._client_property_values[rid]
        self._pvs_by_client.get(rec["client_id"], {}).pop(rid, None)
        self.invalidate()

    # ------------------------------------------------------------------ client tags
    @_locked
    def get_tag(self, rid: str) -> Record:
        """The stored tag (raises 404)."""
        return self._get(self._client_tags, rid)

    @_locked
    def create_tag(self, data: Mapping[str, str]) -> Record:
        """POST /client-tags: client_id and name required; a repeated name is deduped per config.tag_post."""
        cid, name = data.get("client_id", ""), data.get("name", "")
        if not cid:
            raise ApiError(400, "client_id is required")
        if not name:
            raise ApiError(400, "name is required")
        if cid not in self._clients:
            raise ApiError(400, "invalid client_id")
        if self.config.tag_post == "dedupe":
            for rid in self._tags_by_client.get(cid, ()):
                if self._client_tags[rid]["name"] == name:
                    return self._client_tags[rid]
        rec = {
            "id": self._new_id("client_tags"),
            "name": name,
            "client_id": cid,
            "customfield": data.get("customfield", ""),
        }
        self._client_tags[rec["id"]] = rec
        self._tags_by_client.setdefault(cid, {})[rec["id"]] = None
        self.invalidate()
        return rec

    @_locked
    def delete_tag(self, rid: str) -> None:
        """DELETE /client-tags/{id}."""
        rec = self._get(self._client_tags, rid)
        del self._client_tags[rid]
        self._tags_by_client.get(rec["client_id"], {}).pop(rid, None)
        self.invalidate()

    @_locked
    def tag_cloud(self) -> dict[str, Record]:
        """GET /client-tags without client_id: one row per name (id = its lowest tag id), with count."""
        if self._cloud is None:
            self._cloud = self._build_cloud()
        return self._cloud

    def _build_cloud(self) -> dict[str, Record]:
        cloud: dict[str, Record] = {}
        counts: dict[str, set[str]] = {}
        for rec in self._client_tags.values():
            name = rec["name"]
            row = cloud.get(name)
            if row is None or int(rec["id"]) < int(row["id"]):
                cloud[name] = {"id": rec["id"], "name": name, "count": "0", "customfield": ""}
            counts.setdefault(name, set()).add(rec["client_id"])
        for name, row in cloud.items():
            row["count"] = str(len(counts[name]))
        return {row["id"]: row for row in sorted(cloud.values(), key=lambda r: _collate(r["name"]))}

    # ------------------------------------------------------------------ queries
    @_locked
    def query(
        self, resource: str, filters: Mapping[str, str], order: Iterable[tuple[str, bool]]
    ) -> tuple[list[str], dict[str, Record]]:
        """Ids matching `filters`, ordered by `order` ((field, descending) pairs), and the table they index."""
        order = tuple(order)
        if resource == "client_tags" and "client_id" not in filters:
            table = self.tag_cloud()
        else:
            table = self.table(resource)
        key = (resource, tuple(sorted(filters.items())), order)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached, table
        ids = self._filter(resource, table, filters)
        # Contacts sort on what a GET shows (under contact_inherit="read" that is not what is stored).
        shown = table
        if resource == "contacts" and order and self.config.contact_inherit != "copy":
            shown = {i: self.shown_contact(table[i]) for i in ids}
        for name, desc in reversed(order):  # stable sorts, last key first; ties keep creation order
            if name == "id":
                ids.sort(key=int, reverse=desc)  # the id is the key itself; always digits
                continue
            keyf = _sort_key(name)
            ids.sort(key=_field_order(shown, name, keyf), reverse=desc)
        if "client_id" not in filters:  # per-client lookups use an index and are cheap; don't cache them
            self._cache[key] = ids
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return ids, table

    def _filter(self, resource: str, table: dict[str, Record], filters: Mapping[str, str]) -> list[str]:
        index = {
            "contacts": self._contacts_by_client,
            "client_property_values": self._pvs_by_client,
            "client_tags": self._tags_by_client,
        }.get(resource)
        if index is not None and "client_id" in filters:
            ids = list(index.get(filters["client_id"], ()))
        else:
            ids = list(table)
        preds = self._client_predicates(filters) if resource == "clients" else []
        if resource == "client_property_values":
            for name in ("client_property_id", "value"):
                if name in filters:
                    preds.append(_equals(name, filters[name]))
        if not preds:
            return ids
        if len(preds) == 1:
            pred = preds[0]
            return [i for i in ids if pred(table[i])]
        return [i for i in ids if all(p(table[i]) for p in preds)]

    def _client_predicates(self, filters: Mapping[str, str]) -> list[Callable[[Record], bool]]:
        preds: list[Callable[[Record], bool]] = []
        for name, value in filters.items():
            if name in ("name", "first_name", "last_name", "note"):
                # billomat-api.md §3: `name` is a case-insensitive substring match (others: same, our choice)
                needle = value.casefold()
                preds.append(_contains(name, needle))
            elif name in ("client_number", "email", "country_code", "customfield", "archived"):
                preds.append(_equals(name, value))  # exact match (UNCONFIRMED)
            elif name == "tags":
                # billomat-api.md §4.5: ?tags=a,b -- a client matches when it has ALL the given tags.
                wanted = {t.strip() for t in value.split(",") if t.strip()}
                holders = {w: set[str]() for w in wanted}
                for tag in self._client_tags.values():
                    if tag["name"] in holders:
                        holders[tag["name"]].add(tag["client_id"])
                allowed = set.intersection(*holders.values()) if holders else None
                if allowed is not None:
                    preds.append(_id_in(allowed))
            elif name.startswith("property") and name[8:].isdigit():
                # billomat-api.md §4.1: property{ID}=value; a client without a value row counts as "".
                pid, with_value, with_row = name[8:], set[str](), set[str]()
                for pv in self._client_property_values.values():
                    if pv["client_property_id"] == pid:
                        with_row.add(pv["client_id"])
                        if pv["value"] == value:
                            with_value.add(pv["client_id"])
                if value == "":
                    preds.append(_id_in_or_not_in(with_value, with_row))
                else:
                    preds.append(_id_in(with_value))
        if not self.config.list_includes_archived and "archived" not in filters:
            preds.append(lambda r: r["archived"] != "1")
        return preds


def _country(value: str, default: str) -> str:
    if value == "":
        return default
    if len(value) != 2 or not value.isalpha():
        raise ApiError(400, "invalid country_code")
    return value.upper()


def _address(rec: Mapping[str, str], home_country: str) -> str:
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
