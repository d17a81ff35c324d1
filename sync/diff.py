"""The diff engine: Billomat's current state vs the workbook's desired state, keyed and field by field.

Pure and vectorised: rows are aligned on their key with one hash look-up (`Index.get_indexer`), every
field is compared as a whole column (`old != new` on object arrays), and a column's normaliser runs
only on the cells whose raw text differs (a cell whose raw text is equal is equal after any
normaliser, so this is exact and keeps a no-op diff of 100k × 25 cells at one array compare per column).
Values are canonical strings throughout: "00042" and "42" differ, nothing is compared as a number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sync.desired import Desired
from sync.frames import AccountFrames, object_frame
from sync.keys import is_new_key
from sync.mapping import ColumnMap, Mapping, SheetMap
from sync.text import clean, column_values, normalized

# Contact fields Billomat fills from the client when they are sent empty (billomat-api.md §4.2):
# a blank workbook cell where Billomat holds exactly the client's value is not a change, nor is an
# unedited one (equal to the base) there. Both readings of the inheritance: sync/inherit.py.
INHERITED_CONTACT_FIELDS = frozenset({"name", "street", "zip", "city", "state", "country_code"})

UPDATE_COLUMNS = ("key", "row", "field", "old", "new")
PROPERTY_COLUMNS = ("client_key", "property_id", "old", "new", "row")
TAG_ADD_COLUMNS = ("client_key", "name", "row")
TAG_REMOVE_COLUMNS = ("client_id", "name", "row")
UNKNOWN_COLUMNS = ("key", "row")


@dataclass(frozen=True)
class RecordDiff:
    """Creates, updates and deletes of one record resource (clients or contacts).

    - creates: the desired rows with a new key (`row:N` or `neu-…`): `_key`, `_row`, for contacts
      `client_key`, then every writable mapped field the workbook has (raw workbook values);
    - updates: long format, one row per changed field: `key` (Billomat id), `row` (sheet row),
      `field` (API field), `old` (Billomat's value), `new` (the workbook's raw value);
      for contacts a changed client link is the field `client_id` with `new` = the client key;
    - deletes: Billomat records absent from the workbook: `key`, `label` (for messages), for contacts
      also `client_id`;
    - unknown: workbook rows whose id Billomat does not hold (or that is no key at all): `key`, `row`.
    """

    creates: pd.DataFrame
    updates: pd.DataFrame
    deletes: pd.DataFrame
    unknown: pd.DataFrame


@dataclass(frozen=True)
class PropertyDiff:
    """Client property values to set or clear; "no row" in Billomat counts as "".

    Both frames: `client_key` (client id or the row key of a new client), `property_id`, `old`,
    `new` (the workbook's raw value; blank for `clear`), `row` (the client's sheet row).
    """

    set: pd.DataFrame
    clear: pd.DataFrame


@dataclass(frozen=True)
class TagDiff:
    """Client tags to add (`client_key`, `name`, `row`) and remove (`client_id`, `name`, `row`)."""

    add: pd.DataFrame
    remove: pd.DataFrame


@dataclass(frozen=True)
class Diff:
    """Everything that differs between Billomat and the workbook, per resource."""

    clients: RecordDiff
    contacts: RecordDiff
    property_values: PropertyDiff
    tags: TagDiff

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per resource and kind (updates count changed cells, not records)."""
        return {
            "clients": _record_counts(self.clients),
            "contacts": _record_counts(self.contacts),
            "client_property_values": {
                "set": len(self.property_values.set),
                "clear": len(self.property_values.clear),
            },
            "client_tags": {"add": len(self.tags.add), "remove": len(self.tags.remove)},
        }

    @property
    def is_empty(self) -> bool:
        """True when the workbook and Billomat agree (unknown ids aside)."""
        return not any(n for kind in self.counts().values() for name, n in kind.items() if name != "unknown")


def _record_counts(diff: RecordDiff) -> dict[str, int]:
    return {
        "create": len(diff.creates),
        "update": len(diff.updates),
        "delete": len(diff.deletes),
        "unknown": len(diff.unknown),
    }


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def diff_account(
    current: AccountFrames, desired: Desired, mapping: Mapping, base: AccountFrames | None = None
) -> Diff:
    """Compare Billomat (`current`) with the workbook (`desired`); pure, no I/O.

    `base`: the snapshot the workbook was written from; with it, a contact cell the accountant did not
    edit is never written where Billomat shows the client's value (sync/inherit.py).
    """
    client_sheet = mapping.sheets.get("clients")
    contact_sheet = mapping.sheets.get("contacts")

    if client_sheet is None:
        clients = _empty_record_diff(("_key", "_row"), with_client=False)
        deleted_clients = np.array([], dtype=object)
    else:
        clients = _diff_records(
            current.clients,
            desired.clients,
            client_sheet,
            _excluded(desired, "clients"),
            missing=desired.missing.get("clients", ()),
        )
        deleted_clients = clients.deletes["key"].to_numpy(dtype=object)

    if contact_sheet is None:
        # No Kontakte sheet in the mapping: contacts are not managed, so none is ever deleted.
        contacts = _empty_record_diff(("_key", "_row", "client_key"), with_client=True)
    else:
        contacts = _diff_contacts(current, desired, contact_sheet, deleted_clients, base)

    props = PropertyDiff(_frame(PROPERTY_COLUMNS), _frame(PROPERTY_COLUMNS))
    tags = TagDiff(_frame(TAG_ADD_COLUMNS), _frame(TAG_REMOVE_COLUMNS))
    if client_sheet is not None:
        # Only the clients the workbook holds this run: an excluded row's values and tags stay as they are.
        values = desired.property_values
        missing_props = desired.missing.get("client_property_values", ())
        if missing_props and len(values):  # a property column the workbook lacks is left alone
            values = values[~pd.Index(column_values(values, "client_property_id"), dtype=object).isin(missing_props)]
        with_props = client_sheet.properties is not None and len(values) > 0
        with_tags = (
            desired.has_tags
            and "client_tags" not in desired.missing  # no tags column: leave tags alone, never remove all
            and client_sheet.tags is not None
            and (len(desired.tags) > 0 or len(current.client_tags) > 0)
        )
        client_rows = _client_rows(desired.clients) if with_props or with_tags else None
        if with_props and client_rows is not None:
            props = _diff_properties(current, values, client_sheet, client_rows)
        if with_tags and client_rows is not None:
            tags = _diff_tags(current, desired.tags, client_sheet, client_rows)
    return Diff(clients=clients, contacts=contacts, property_values=props, tags=tags)


# --------------------------------------------------------------------------------------------
# Clients and contacts
# --------------------------------------------------------------------------------------------


def _excluded(desired: Desired, resource: str) -> np.ndarray:
    """Ids of rows sync.desired left out for a problem: their records are never deleted this run."""
    keys = set(desired.left_out.get(resource, ())) | set(desired.excluded_keys)
    return np.array(sorted(keys), dtype=object)


def writable_columns(sheet: SheetMap) -> list[ColumnMap]:
    """The columns whose edits are sent to Billomat (not read-only, not lookups, not the key)."""
    return [c for c in sheet.columns if not c.ignored_on_read and c.field != sheet.key]


def _diff_records(
    current: pd.DataFrame,
    desired: pd.DataFrame,
    sheet: SheetMap,
    excluded: np.ndarray,
    *,
    link: bool = False,
    inherit: Callable[[ColumnMap, np.ndarray, np.ndarray, np.ndarray], np.ndarray | None] | None = None,
    missing: Iterable[str] = (),
) -> RecordDiff:
    """Align on the key, then compare every writable field column by column.

    `link`: contacts; their `client_id` is compared as the desired `client_key` (an id or the key of a
    client created in the same run), not as the raw Kunden-ID cell.
    `inherit(column, current positions, old, new)`: where a changed cell is no change after all.
    """
    # Only the fields the workbook has a column for: a missing column says nothing, it is not "".
    absent = set(missing)
    columns = [
        c
        for c in writable_columns(sheet)
        if c.field in desired.columns and c.field != "client_id" and c.field not in absent
    ]
    if link:
        columns.insert(0, ColumnMap(header="client_id", field="client_id", normalize=()))
    cur_ids = column_values(current, "id")
    index = pd.Index(cur_ids, dtype=object)
    if not index.is_unique:  # Billomat ids are unique; a doubled row (paging overlap) is the same record
        keep = ~index.duplicated(keep="last")
        current, cur_ids = current[keep], cur_ids[keep]
        index = pd.Index(cur_ids, dtype=object)

    keys = column_values(desired, "_key")
    rows = _rows(desired)
    pos = index.get_indexer(keys)
    matched = pos >= 0
    loose = np.flatnonzero(~matched)
    is_new = np.zeros(len(keys), dtype=bool)
    is_new[loose] = [is_new_key(k) for k in keys[loose]]  # only the unmatched few are classified
    unknown = ~matched & ~is_new

    # Updates: every desired row against the current row with its key (unmatched rows are masked).
    parts: list[tuple[np.ndarray, str, np.ndarray, np.ndarray]] = []
    if matched.any():
        take = np.where(matched, pos, 0)
        for col in columns:
            old = column_values(current, col.field)[take]
            new = column_values(desired, "client_key" if link and col.field == "client_id" else col.field)
            changed, old_values, new_values = _changed(old, new, col.normalize, matched)
            if inherit is not None and changed.size:
                same = inherit(col, pos[changed], old_values, new_values)
                if same is not None:
                    keep = ~same
                    changed, old_values, new_values = changed[keep], old_values[keep], new_values[keep]
            if changed.size:
                parts.append((changed, col.field, old_values, new_values))
    updates = _long_updates(parts, keys, rows, [c.field for c in columns])

    fields = [c.field for c in columns if c.field != "client_id" or not link]
    create_columns = [c for c in ("_key", "_row", "client_key") if c in desired.columns] + fields
    # No new rows (most runs): the empty frame of those columns, not a selection of none.
    creates = desired.iloc[np.flatnonzero(is_new)][create_columns] if is_new.any() else _frame(create_columns)
    unknown_frame = object_frame({"key": keys[unknown], "row": rows[unknown]})

    # Every current record no desired row matched (the positions are known: no second hash look-up).
    gone = np.ones(len(index), dtype=bool)
    gone[pos[matched]] = False
    if excluded.size:
        gone &= ~index.isin(excluded)
    deletes = current[gone] if gone.any() else current.iloc[:0]
    return RecordDiff(
        creates=creates.reset_index(drop=True),
        updates=updates,
        deletes=_delete_frame(deletes, sheet.resource),
        unknown=unknown_frame,
    )


def _diff_contacts(
    current: AccountFrames,
    wanted: Desired,
    sheet: SheetMap,
    deleted_clients: np.ndarray,
    base: AccountFrames | None = None,
) -> RecordDiff:
    """Contacts: like records, plus the client link, Billomat's inheritance, and deleted clients."""
    cur, desired = current.contacts, wanted.contacts
    if deleted_clients.size:
        # Deleting a client removes its contacts: they are neither updated nor deleted one by one.
        cur = cur[~pd.Index(column_values(cur, "client_id"), dtype=object).isin(deleted_clients)]
        desired = desired[~pd.Index(column_values(desired, "client_key"), dtype=object).isin(deleted_clients)]

    clients = current.clients
    client_ids = column_values(clients, "id")
    unique = ~pd.Index(client_ids, dtype=object).duplicated(keep="last")
    client_index = pd.Index(client_ids[unique], dtype=object)
    contact_client_ids = column_values(cur, "client_id")

    # Where each current contact is in the base (-1: not there), for "did the accountant edit it".
    base_contacts = base.contacts if base is not None else pd.DataFrame({"id": []}, dtype=object)
    base_contacts = base_contacts[~pd.Index(column_values(base_contacts, "id"), dtype=object).duplicated(keep="last")]
    base_index = pd.Index(column_values(base_contacts, "id"), dtype=object)
    in_base = base_index.get_indexer(pd.Index(column_values(cur, "id"), dtype=object))

    def inherit(col: ColumnMap, positions: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray | None:
        if col.field not in INHERITED_CONTACT_FIELDS:
            return None
        at = client_index.get_indexer(contact_client_ids[positions])
        values = column_values(clients, col.field)[unique]
        # A contact whose client is unknown inherits nothing: None never equals a str.
        shows_client = old == np.where(at >= 0, values[np.maximum(at, 0)] if len(values) else None, None)
        new_norm = normalized(new, col.normalize)
        same = new_norm == ""  # a blank cell asks for the client's value
        # A cell the accountant did not edit: Billomat shows the client's value there, maybe a newer one
        # than the cell's (under the "read" reading it follows every change of the client).
        known = in_base[positions]
        if (known >= 0).any():
            was = clean(column_values(base_contacts, col.field))[np.maximum(known, 0)]
            same |= (known >= 0) & (new_norm == normalized(was, col.normalize))
        return shows_client & same

    missing = wanted.missing.get("contacts", ())
    return _diff_records(
        cur,
        desired,
        sheet,
        _excluded(wanted, "contacts"),
        link="client_key" in desired.columns and "client_id" not in missing,
        inherit=inherit,
        missing=missing,
    )


def _long_updates(
    parts: list[tuple[np.ndarray, str, np.ndarray, np.ndarray]],
    keys: np.ndarray,
    rows: np.ndarray,
    field_order: list[str],
) -> pd.DataFrame:
    if not parts:
        return _frame(UPDATE_COLUMNS)
    at = np.concatenate([p[0] for p in parts])
    frame = object_frame(
        {
            "key": keys[at],
            "row": rows[at],
            "field": np.concatenate([np.full(len(p[0]), p[1], dtype=object) for p in parts]),
            "old": np.concatenate([p[2] for p in parts]),
            "new": np.concatenate([p[3] for p in parts]),
        }
    )
    return _sort_updates(frame, {name: i for i, name in enumerate(field_order)})


def _sort_updates(frame: pd.DataFrame, field_order: dict[str, int]) -> pd.DataFrame:
    # Sheet order, then the mapping's column order: the plan and its messages read like the sheet.
    rank = frame["field"].map(field_order).to_numpy()
    order = np.lexsort((rank, frame["row"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def _delete_frame(deletes: pd.DataFrame, resource: str) -> pd.DataFrame:
    if not len(deletes):
        return _frame(("key", "label", "client_id") if resource == "contacts" else ("key", "label"))
    keys = _clean_col(deletes, "id")
    if resource == "contacts":
        person = _join(_clean_col(deletes, "first_name"), _clean_col(deletes, "last_name"))
        label = _join(
            _clean_col(deletes, "label"), np.where(person != "", person, _clean_col(deletes, "name"))
        )
        frame = object_frame({"key": keys, "label": label, "client_id": _clean_col(deletes, "client_id")})
    else:
        label = _join(_clean_col(deletes, "client_number"), _clean_col(deletes, "name"))
        frame = object_frame({"key": keys, "label": label})
    return frame.iloc[_key_order(keys)].reset_index(drop=True)


def _empty_record_diff(create_columns: tuple[str, ...], *, with_client: bool) -> RecordDiff:
    return RecordDiff(
        creates=_frame(create_columns),
        updates=_frame(UPDATE_COLUMNS),
        deletes=_frame(("key", "label", "client_id") if with_client else ("key", "label")),
        unknown=_frame(UNKNOWN_COLUMNS),
    )


# --------------------------------------------------------------------------------------------
# Property values and tags
# --------------------------------------------------------------------------------------------


def _client_rows(desired_clients: pd.DataFrame) -> pd.Series:
    """Client key → its sheet row (the clients the workbook holds this run)."""
    series = pd.Series(_rows(desired_clients), index=pd.Index(column_values(desired_clients, "_key"), dtype=object))
    return series[~series.index.duplicated(keep="first")]


def _diff_properties(
    current: AccountFrames, desired: pd.DataFrame, sheet: SheetMap, client_rows: pd.Series
) -> PropertyDiff:
    """Property values, compared only for the (client, property) cells the workbook has."""
    empty = PropertyDiff(_frame(PROPERTY_COLUMNS), _frame(PROPERTY_COLUMNS))
    if sheet.properties is None or desired.empty:
        return empty
    desired = desired[pd.Index(column_values(desired, "client_key"), dtype=object).isin(client_rows.index)]
    client_keys = column_values(desired, "client_key")
    prop_ids = column_values(desired, "client_property_id")
    new = column_values(desired, "value")

    values = current.client_property_values
    if len(values):
        if "id" in values.columns:
            # Two rows for one client and property: the newest (highest id) wins, as on the sheet.
            order = pd.to_numeric(pd.Series(column_values(values, "id")), errors="coerce").to_numpy()
            values = values.iloc[np.argsort(order, kind="stable")]
        cur_codes, wanted = _pair_codes(
            (column_values(values, "client_id"), column_values(values, "client_property_id")), (client_keys, prop_ids)
        )
        keep = ~cur_codes.duplicated(keep="last")
        cur_values = column_values(values, "value")[keep]
        pos = cur_codes[keep].get_indexer(wanted)
        old = np.where(pos >= 0, cur_values[np.maximum(pos, 0)], "")
    else:
        old = np.full(len(desired), "", dtype=object)
    old = old.astype(object)

    changed, old_values, new_values = _changed(old, new, sheet.properties.normalize)
    if not changed.size:
        return empty
    frame = object_frame(
        {
            "client_key": client_keys[changed],
            "property_id": prop_ids[changed],
            "old": old_values,
            "new": new_values,
            "row": _rows(desired)[changed],
        }
    )
    frame = frame.iloc[
        np.lexsort((_key_rank(frame["property_id"].to_numpy(dtype=object)), frame["row"].to_numpy()))
    ]
    blank = normalized(frame["new"].to_numpy(dtype=object), sheet.properties.normalize) == ""
    clear = frame[blank].assign(new="")  # a clear sends "", whatever blanks the cell held
    return PropertyDiff(set=frame[~blank].reset_index(drop=True), clear=clear.reset_index(drop=True))


def _diff_tags(
    current: AccountFrames, desired: pd.DataFrame, sheet: SheetMap, client_rows: pd.Series
) -> TagDiff:
    """Tags of the clients the workbook holds, as sets per client after the tags normaliser."""
    assert sheet.tags is not None
    steps = sheet.tags.normalize
    desired = desired[pd.Index(column_values(desired, "client_key"), dtype=object).isin(client_rows.index)]
    d_keys, d_names = column_values(desired, "client_key"), _clean_col(desired, "name")
    cur = current.client_tags
    cur = cur[pd.Index(column_values(cur, "client_id"), dtype=object).isin(client_rows.index)]
    c_ids, c_names = column_values(cur, "client_id"), _clean_col(cur, "name")

    # Equal raw pairs are equal after any normaliser: only the clients with a raw difference are
    # normalised and compared again (exact, and cheap when few tags changed).
    d_pairs, c_pairs = _pair_codes((d_keys, d_names), (c_ids, c_names))
    add = ~d_pairs.isin(c_pairs) & (d_names != "")
    remove = ~c_pairs.isin(d_pairs) & (c_names != "")
    if steps and (add.any() or remove.any()):
        involved = pd.Index(np.concatenate([d_keys[add], c_ids[remove]]), dtype=object).unique()
        d_in = np.flatnonzero(pd.Index(d_keys, dtype=object).isin(involved))
        c_in = np.flatnonzero(pd.Index(c_ids, dtype=object).isin(involved))
        d_norm, c_norm = normalized(d_names[d_in], steps), normalized(c_names[c_in], steps)
        d_np, c_np = _pair_codes((d_keys[d_in], d_norm), (c_ids[c_in], c_norm))
        add[:] = False
        remove[:] = False
        add[d_in] = ~d_np.isin(c_np) & (d_norm != "")
        remove[c_in] = ~c_np.isin(d_np) & (c_norm != "")

    added = object_frame({"client_key": d_keys[add], "name": d_names[add], "row": _rows(desired)[add]})
    removed = object_frame(
        {
            "client_id": c_ids[remove],
            "name": c_names[remove],
            "row": client_rows.reindex(c_ids[remove]).to_numpy(dtype=np.int64),
        }
    )
    added = added.drop_duplicates(["client_key", "name"])
    removed = removed.drop_duplicates(["client_id", "name"])
    return TagDiff(add=_sorted_by_row(added, "name"), remove=_sorted_by_row(removed, "name"))


def _pair_codes(*pairs: tuple[np.ndarray, np.ndarray]) -> list[pd.Index]:
    """Each array of pairs (a[i], b[i]) as one integer per pair: equal codes ⇔ equal pairs, across all.

    As the merge's tag pairs (`merge.tags`): one unsorted factorize per side instead of a MultiIndex,
    whose sorted levels cost about three times as much at 100,000 clients. Joined as objects, so that
    1 and "1" stay two keys.
    """
    a_codes, _ = pd.factorize(np.concatenate([a for a, _ in pairs], dtype=object), use_na_sentinel=False)
    b_codes, b_known = pd.factorize(np.concatenate([b for _, b in pairs], dtype=object), use_na_sentinel=False)
    codes = a_codes.astype(np.int64) * max(len(b_known), 1) + b_codes
    out, start = [], 0
    for a, _ in pairs:
        out.append(pd.Index(codes[start : start + len(a)], dtype=np.int64))
        start += len(a)
    return out


# --------------------------------------------------------------------------------------------
# Column helpers
# --------------------------------------------------------------------------------------------


def _changed(
    old: np.ndarray, new: np.ndarray, steps: tuple[str, ...], mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions where old and new differ after the normaliser, with both values there ("" for missing).

    Exact and cheap: equal raw text is equal after any normaliser, so the normaliser and the repair
    of missing values (None/NaN never equal a str, so they always land among the candidates) only
    run on the cells whose raw values differ.
    """
    differ = old != new
    if mask is not None:
        differ &= mask
    candidates = np.flatnonzero(differ)
    if not candidates.size:
        return candidates, _EMPTY, _EMPTY
    old_c, new_c = clean(old[candidates]), clean(new[candidates])
    if steps:
        differs = normalized(old_c, steps) != normalized(new_c, steps)
    else:
        differs = old_c != new_c
    return candidates[differs], old_c[differs], new_c[differs]


def _clean_col(frame: pd.DataFrame, name: str) -> np.ndarray:
    """One column as an object array of str, missing values as ""."""
    return clean(column_values(frame, name))


_EMPTY = np.array([], dtype=object)


def _rows(frame: pd.DataFrame) -> np.ndarray:
    if "_row" not in frame.columns:
        return np.zeros(len(frame), dtype=np.int64)
    return frame["_row"].to_numpy(dtype=np.int64)


def _join(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = [f"{x} {y}".strip() for x, y in zip(a, b, strict=True)]  # only the few deletes
    return np.array(out, dtype=object)


def _key_rank(keys: Iterable[str]) -> np.ndarray:
    """Sort rank of keys: numeric ids by value first, then anything else by text."""
    keys = list(keys)
    ranked = sorted(range(len(keys)), key=lambda i: _key_sort(keys[i]))
    rank = np.empty(len(keys), dtype=np.int64)
    rank[ranked] = np.arange(len(keys))
    return rank


def _key_order(keys: np.ndarray) -> np.ndarray:
    return np.argsort(_key_rank(keys), kind="stable")


def key_sort(key: str) -> tuple[int, int, str]:
    """Sort key for record keys: ids numerically (9 before 10), then row keys by row, then the rest."""
    return _key_sort(key)


def _key_sort(key: str) -> tuple[int, int, str]:
    if key.isascii() and key.isdigit():
        return (0, int(key), "")
    if key.startswith("row:") and key[4:].isdigit():
        return (1, int(key[4:]), "")
    return (2, 0, key)


def _sorted_by_row(frame: pd.DataFrame, then: str) -> pd.DataFrame:
    if frame.empty:
        return frame.reset_index(drop=True)
    order = np.lexsort((frame[then].to_numpy(dtype=object).astype(str), frame["row"].to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def _frame(columns: Iterable[str]) -> pd.DataFrame:
    return object_frame({c: () for c in columns})
