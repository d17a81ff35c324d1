"""The account as DataFrames: what the extractor produces and the workbook is built from."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any, cast

import numpy as np
import pandas as pd

from sync.text import to_text

# The resources of one Billomat account, in the order they are extracted and shown.
RESOURCES = ("clients", "contacts", "client_properties", "client_property_values", "client_tags")

# Columns every frame has even when the account holds no rows (so an empty account still has a shape).
BASE_COLUMNS: dict[str, tuple[str, ...]] = {
    "clients": ("id", "client_number", "name"),
    "contacts": ("id", "client_id", "name"),
    "client_properties": ("id", "name", "type", "default_value", "is_nvl"),
    "client_property_values": ("id", "client_id", "client_property_id", "value"),
    "client_tags": ("client_id", "name"),
}


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame's rows as dicts keyed by column name (`to_dict("records")`)."""
    # pandas-stubs key the dicts by Hashable; billsync's frames are all named by str columns.
    return cast("list[dict[str, Any]]", frame.to_dict("records"))


def text_frame(records: Iterable[Mapping[str, object]], columns: Sequence[str] = ()) -> pd.DataFrame:
    """Build a frame whose every cell is a str: missing keys and None become "" (never NaN/"nan")."""
    rows = records if isinstance(records, list) else list(records)
    # Column by column in plain Python, one constructor call: no pandas type inference (an int column
    # with a gap would turn float, 42 into "42.0"), and a few rows cost microseconds, not milliseconds.
    order = list(dict.fromkeys(chain(columns, chain.from_iterable(rows))))
    data = {}
    for name in order:
        cells = [row.get(name) for row in rows]
        if not all(type(cell) is str for cell in cells):
            cells = [to_text(cell) for cell in cells]
        data[name] = cells
    return _object_block(order, data)


INT_COLUMNS = frozenset({"_row", "row"})  # sheet row numbers: the only int columns of billsync's frames


def object_frame(data: Mapping[str, Any], ints: frozenset[str] = INT_COLUMNS) -> pd.DataFrame:
    """A frame of object columns (the values as they are) with int64 columns for the names in `ints`.

    One constructor call for the object columns (copied, as pandas copies a dict's arrays), then the
    int ones put in their places: pandas 3 would infer its `str` dtype from arrays of str (NaN instead
    of None, and slower), and a dict of Series is aligned index by index, about three times the cost
    of this on the small frames of every run.
    """
    names = list(data)
    if names and not any(len(values) for values in data.values()):
        return _empty_frame(tuple(names), ints).copy()  # ~10 µs instead of ~200; a diff makes ~8
    frame = _object_block([n for n in names if n not in ints], data)
    for at, name in enumerate(names):
        if name in ints:
            frame.insert(at, name, np.asarray(data[name], dtype=np.int64))
    return frame


def _object_block(names: list[str], data: Mapping[str, Any]) -> pd.DataFrame:
    """The object columns as one 2-D block wrapped without a copy: half the time of pandas' dict path
    (~35 µs for a few rows), which checks and consolidates the columns itself. Series (aligned by
    their index) and columns of unequal length take pandas' own path, and its checks."""
    columns = [data[name] for name in names]
    if not columns or not all(map(_plain_column, columns)) or len({len(values) for values in columns}) != 1:
        return pd.DataFrame(dict(zip(names, columns, strict=True)), columns=names, dtype=object)
    cells = np.empty((len(columns), len(columns[0])), dtype=object)
    for at, values in enumerate(columns):
        # An array is copied cell by cell; a list one item per cell (a tuple in it stays one value).
        cells[at] = values if isinstance(values, np.ndarray) else np.fromiter(values, object, len(values))
    return pd.DataFrame(cells.T, columns=names, dtype=object, copy=False)


def _plain_column(values: object) -> bool:
    """A list, tuple or 1-D array of plain values; anything else (a Series, dates, a scalar) is pandas' to take."""
    if isinstance(values, np.ndarray):
        return values.ndim == 1 and values.dtype.kind not in "mM"
    return isinstance(values, list | tuple)


@functools.lru_cache(maxsize=256)
def _empty_frame(names: tuple[str, ...], ints: frozenset[str]) -> pd.DataFrame:
    return object_frame({name: [0] for name in names}, ints).iloc[:0]


class TextFrameBuilder:
    """`text_frame` built page by page: a page's cells are kept (one pointer each), never its dicts.

    `build()` gives the frame `text_frame(every record added, columns)` gives, without holding a
    list of all records and the frame at the same time: each page can be dropped once added.
    Equal values repeated in a page (Billomat's "SETTINGS", "DE", "EUR", ...) are kept as one
    string object, shared across pages, so 100k clients hold a fraction of their strings.
    """

    def __init__(self, columns: Sequence[str] = ()) -> None:
        self.columns = tuple(columns)
        self._keys: dict[str, None] = {}  # the records' keys in order of first appearance
        self._chunks: list[tuple[tuple[str, ...], np.ndarray]] = []
        self._rows = 0

    def __len__(self) -> int:
        return self._rows

    def add_records(self, records: Sequence[Mapping[str, object]], *, text: bool = False) -> None:
        """Add a page of records; missing keys and None become "" as in `text_frame`.

        `text=True` says every value is a str already (`Resource.iter_records`): no type scan.
        """
        if not records:
            return
        keys = tuple(records[0])
        rows: list[tuple[object, ...]] | None = None
        if len(keys) > 1 and len(set(map(len, records))) == 1:
            # Same number of keys and every key of the first: the same keys (the usual page).
            try:
                rows = list(map(itemgetter(*keys), records))
            except KeyError:
                rows = None
        if rows is None:
            keys = tuple(dict.fromkeys(chain.from_iterable(records)))
            blank = dict.fromkeys(keys, "")
            filled = [{**blank, **record} for record in records]
            if len(keys) > 1:
                rows = list(map(itemgetter(*keys), filled))
            else:
                rows = [tuple(record[key] for key in keys) for record in filled]
        self.add_rows(keys, rows, text=text)

    def add_rows(self, columns: Sequence[str], rows: Sequence[tuple[object, ...]], *, text: bool = False) -> None:
        """Add a page of rows, each a tuple of values under `columns` (`text=True`: all str already)."""
        if not rows:
            return
        columns = tuple(columns)
        if not text and not _STR_ONLY.issuperset(map(type, chain.from_iterable(rows))):
            rows = [tuple(map(to_text, row)) for row in rows]
        cells = np.empty((len(rows), len(columns)), dtype=object)
        cells[:] = rows  # every value a str now: numpy sees no nested sequences
        self._keys.update(dict.fromkeys(columns))
        self._chunks.append((columns, self._share(cells)))
        self._rows += len(rows)

    @staticmethod
    def _share(cells: np.ndarray) -> np.ndarray:
        """`cells` with each value that repeats in them as one object: equal strings, far fewer of them."""
        if cells.size < 2:
            return cells
        # Every cell is a str (add_rows made sure), so no code is the NA sentinel and no NA scan is needed.
        codes, uniques = pd.factorize(cells.ravel())
        if len(uniques) == cells.size:
            return cells
        return np.asarray(uniques, dtype=object)[codes].reshape(cells.shape)

    def build(self) -> pd.DataFrame:
        """The frame of every row added (the builder is empty afterwards)."""
        if not self._rows or not self._keys:  # as text_frame: records without any field make no rows
            self._chunks, self._keys, self._rows = [], {}, 0
            return text_frame([], self.columns)
        names = list(dict.fromkeys([*self.columns, *self._keys]))
        position = {name: index for index, name in enumerate(names)}
        # One row per column, as pandas lays out a block: the frame below wraps it without a copy.
        cells = np.full((len(names), self._rows), "", dtype=object)
        chunks, self._chunks = self._chunks, []
        chunks.reverse()
        start = 0
        while chunks:
            columns, chunk = chunks.pop()  # dropped as soon as it is copied
            stop = start + len(chunk)
            cells[[position[name] for name in columns], start:stop] = chunk.T
            start = stop
        self._keys, self._rows = {}, 0
        return pd.DataFrame(cells.T, columns=names, dtype=object, copy=False)


_STR_ONLY = frozenset({str})


@dataclass(frozen=True)
class AccountFrames:
    """One frame per resource; every value a str, "" for empty.

    - clients: every client field the API returned (id first);
    - contacts: every contact field (client_id links to clients.id);
    - client_properties: the property definitions (id, name, type TEXTFIELD|TEXTAREA|CHECKBOX, ...);
    - client_property_values: one row per (client_id, client_property_id) that has a row in the API;
      no row and value "" mean the same;
    - client_tags: one row per (client_id, name); tag ids are not part of it (the tag cloud +
      clients?tags=NAME extraction does not see them).
    """

    clients: pd.DataFrame
    contacts: pd.DataFrame
    client_properties: pd.DataFrame
    client_property_values: pd.DataFrame
    client_tags: pd.DataFrame

    @classmethod
    def from_records(cls, records: Mapping[str, Iterable[Mapping[str, object]]]) -> AccountFrames:
        """Build from plain records per resource name (see RESOURCES)."""
        return cls(**{name: text_frame(records.get(name, ()), BASE_COLUMNS[name]) for name in RESOURCES})

    def frame(self, name: str) -> pd.DataFrame:
        """The frame of one resource by name."""
        return getattr(self, name)

    def counts(self) -> dict[str, int]:
        """Number of rows per resource."""
        return {name: len(self.frame(name)) for name in RESOURCES}
