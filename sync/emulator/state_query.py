"""Listing the emulated account: filters (billomat-api.md §3, §4.1, §4.5), MySQL-like sort order, a query cache."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sync.emulator import fields as F
from sync.emulator.state_tables import Record, Tables, locked

_CACHE_SIZE = 64

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


class Queries(Tables):
    """`query` (ids matching filters, in order, cached) and the tag cloud."""

    @locked
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
    @locked
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
