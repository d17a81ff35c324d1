"""Billomat's rules for client properties, their values and client tags in the emulated account (§4.3-§4.5)."""

from __future__ import annotations

from collections.abc import Mapping

from sync.emulator import fields as F
from sync.emulator.state_tables import ApiError, Record, Tables, locked


class PropertyRecords(Tables):
    """Client properties, property values (upsert or duplicate) and tags (deduped or not), per the config."""

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

    @locked
    def get_property(self, rid: str) -> Record:
        """The stored property definition (raises 404)."""
        return self._get(self._client_properties, rid)

    @locked
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

    @locked
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

    @locked
    def delete_property(self, rid: str) -> None:
        """DELETE /client-properties/{id}: its stored values go too (billomat-api.md §4.3, UNCONFIRMED)."""
        self._get(self._client_properties, rid)
        del self._client_properties[rid]
        for pid in [k for k, v in self._client_property_values.items() if v["client_property_id"] == rid]:
            pv = self._client_property_values.pop(pid)
            self._pvs_by_client.get(pv["client_id"], {}).pop(pid, None)
        self.invalidate()

    # ------------------------------------------------------------------ client property values
    @locked
    def get_property_value(self, rid: str) -> Record:
        """The stored value row (raises 404)."""
        return self._get(self._client_property_values, rid)

    @locked
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

    @locked
    def update_property_value(self, rid: str, data: Mapping[str, str]) -> Record:
        """PUT /client-property-values/{id} (only with config.property_value_put_delete)."""
        rec = self._get(self._client_property_values, rid)
        for key in ("value", "customfield"):
            if key in data:
                rec[key] = data[key]
        self.invalidate()
        return rec

    @locked
    def delete_property_value(self, rid: str) -> None:
        """DELETE /client-property-values/{id} (only with config.property_value_put_delete)."""
        rec = self._get(self._client_property_values, rid)
        del self._client_property_values[rid]
        self._pvs_by_client.get(rec["client_id"], {}).pop(rid, None)
        self.invalidate()

    # ------------------------------------------------------------------ client tags
    @locked
    def get_tag(self, rid: str) -> Record:
        """The stored tag (raises 404)."""
        return self._get(self._client_tags, rid)

    @locked
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

    @locked
    def delete_tag(self, rid: str) -> None:
        """DELETE /client-tags/{id}."""
        rec = self._get(self._client_tags, rid)
        del self._client_tags[rid]
        self._tags_by_client.get(rec["client_id"], {}).pop(rid, None)
        self.invalidate()
