"""The emulated account's records and Billomat's business rules; every failure is an ApiError(status, message).

`state_tables.py` holds the records and their indexes, `state_properties.py` the rules for properties,
their values and tags, `state_query.py` listing; this module the rules for clients and contacts.
"""

from __future__ import annotations

from collections.abc import Mapping

from sync.emulator import fields as F
from sync.emulator.state_properties import PropertyRecords
from sync.emulator.state_query import Queries
from sync.emulator.state_tables import ApiError, Record, address_block, country_code, locked, row_not_found

__all__ = ["ApiError", "BillomatState", "Record", "row_not_found"]


class BillomatState(PropertyRecords, Queries):
    """Current records of one account (dicts of str, in creation order) plus indexes and a query cache.

    `clients`, `contacts`, ... are lists of the live record dicts; `table(resource)` maps id -> record.
    Public mutators take the lock and keep indexes and the cache right. If you edit a record dict
    directly (e.g. `state.get_client("1001")["name"] = ...` in a test), call `invalidate()` afterwards.
    """

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
                value = country_code(value, self.settings["country_code"])
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

    @locked
    def get_client(self, cid: str) -> Record:
        """The stored client (raises 404 Row not found)."""
        return self._get(self._clients, cid)

    @locked
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

    @locked
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

    @locked
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

    @locked
    def set_customfield(self, cid: str, value: str) -> Record:
        """PUT /clients/{id}/customfield (billomat-api.md §4.6)."""
        rec = self._get(self._clients, cid)
        rec["customfield"] = value
        self.invalidate()
        return rec

    @locked
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
                value = country_code(value, "")
            out[key] = value
        return out

    @locked
    def get_contact(self, rid: str) -> Record:
        """The stored contact (raises 404)."""
        return self._get(self._contacts, rid)

    @locked
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
        rec["address"] = address_block(rec, self.settings["country_code"])
        self._contacts[rec["id"]] = rec
        self._contacts_by_client.setdefault(cid, {})[rec["id"]] = None
        self.invalidate()
        return rec

    @locked
    def update_contact(self, rid: str, data: Mapping[str, str]) -> Record:
        """PUT /contacts/{id}: client_id can't change (ignored); emptied fields refill from the client (under "copy")."""
        rec = self._get(self._contacts, rid)
        rec.update(self._contact_fields(data))
        self._inherit(rec, self._clients[rec["client_id"]])
        rec["address"] = address_block(rec, self.settings["country_code"])
        self.invalidate()
        return rec

    @locked
    def delete_contact(self, rid: str) -> None:
        """DELETE /contacts/{id}."""
        rec = self._get(self._contacts, rid)
        del self._contacts[rid]
        self._contacts_by_client.get(rec["client_id"], {}).pop(rid, None)
        self.invalidate()
