"""Billomat's records as the API sends them: every scalar as text, nested collections in the list quirk."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from itertools import chain, repeat
from typing import Any, cast

from sync.clients.paging import unwrap_items
from sync.text import to_text


def split_record(
    record: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, builtins.list[dict[str, str]]]]:
    """Split a record into its text fields and its nested collections (e.g. client-property-values)."""
    data: dict[str, str] = {}
    nested: dict[str, builtins.list[dict[str, str]]] = {}
    for key, value in record.items():
        # Billomat sends every scalar as a string (billomat-api.md §1): test that first, it is
        # nearly always true and this runs for every field of every record of a 100k-client pull.
        if value.__class__ is str:
            data[key] = value
        elif isinstance(value, dict | builtins.list):
            nested[str(key)] = _nested_items(value)
        else:
            data[str(key)] = to_text(value)
    return data, nested


def text_records(records: builtins.list[dict[str, Any]]) -> builtins.list[dict[str, str]]:
    """Each record's text fields as `split_record` gives them; the very dicts when they hold only text.

    Billomat sends every scalar as a string (billomat-api.md §1), so a page is nearly always all
    text: one type scan over the page (in C) instead of a new dict per record. Any other page
    (a number, a None, a nested collection) goes through `split_record` record by record.
    """
    if _STR_ONLY.issuperset(map(type, chain.from_iterable(map(dict.values, records)))):
        return records
    return [split_record(record)[0] for record in records]


_STR_ONLY = frozenset({str})


def record_key(record: Mapping[str, str]) -> str:
    """The same key as a model's in walk_pages: its id, else all its fields."""
    return record.get("id") or repr(sorted(record.items()))


def raw_record_key(record: Mapping[str, Any]) -> str:
    """`record_key` of the record's text fields, converting only a record without a text id."""
    value = record.get("id")
    return value if value and value.__class__ is str else record_key(split_record(record)[0])


def text_ids(records: builtins.list[dict[str, Any]]) -> builtins.list[str] | None:
    """Every record's id when each is a non-empty str (the usual page), else None."""
    ids = builtins.list(map(dict.get, records, repeat("id")))
    # The test just made proves every id a non-empty str, which mypy cannot follow through map(type, ...).
    return cast("builtins.list[str]", ids) if _STR_ONLY.issuperset(map(type, ids)) and all(ids) else None


def record_keys(records: builtins.list[dict[str, str]]) -> builtins.list[str]:
    """`[record_key(r) for r in records]`, without a Python call per record on the usual page."""
    ids = text_ids(records)
    return ids if ids is not None else [record_key(record) for record in records]


def raw_record_keys(records: builtins.list[dict[str, Any]]) -> builtins.list[str]:
    """`[raw_record_key(r) for r in records]`, without a Python call per record on the usual page."""
    ids = text_ids(records)
    return ids if ids is not None else [raw_record_key(record) for record in records]


def raw_id(record: Mapping[str, Any]) -> str:
    """`Model.data["id"]` of a record as the API sent it (a KeyError where the model would have none)."""
    value = record.get("id")
    return value if value.__class__ is str else split_record(record)[0]["id"]


def _nested_items(value: Any) -> builtins.list[dict[str, str]]:
    # billomat-api.md §3: nested collections have the list quirk without the @ attributes:
    # {"client-property-value": [...]} or {"client-property-value": {...}} or {}.
    if isinstance(value, dict):
        inner = [v for k, v in value.items() if not str(k).startswith("@")]
        if len(inner) == 1 and isinstance(inner[0], dict | builtins.list):
            value = inner[0]
    return [
        {str(k): to_text(v) for k, v in item.items() if not isinstance(v, dict | builtins.list)}
        for item in unwrap_items(value)
        if isinstance(item, dict)
    ]


def id_order(id: str | None) -> tuple[int, str]:
    """A sort key putting numeric ids in numeric order (newest last)."""
    text = id or ""
    return (int(text), "") if text.isdigit() else (-1, text)
