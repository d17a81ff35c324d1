"""Frame columns as the diff and the merge compare them: object arrays of str, normalised on demand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sync.mapping import normalize_text

_COLUMN_ARRAY = getattr(pd.DataFrame, "_get_column_array", None)


def to_text(value: object) -> str:
    """A value as billsync keeps it: text as it is, "" for None and NaN, booleans as 1/0, else str()."""
    if isinstance(value, str):  # nearly always: Billomat sends every scalar as text (billomat-api.md §1)
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):  # Billomat's booleans are "1"/"0" (billomat-api.md §1)
        return "1" if value else "0"
    return str(value)


def column_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    """One column as an object array ("" where the column is missing).

    Frames hold str, and a column of object dtype is returned as it is (no copy, no NaN scan:
    `diff._changed` repairs missing values among the few cells that differ). Any other dtype (pandas'
    `str`, pyarrow strings) is converted with missing values as "".
    """
    columns = frame.columns
    if name not in columns:
        return np.full(len(frame), "", dtype=object)
    if _COLUMN_ARRAY is not None and columns.is_unique:
        # pandas' own accessor for a column's array, without building a Series: ~1 µs instead of ~9,
        # and the merge, diff and plan of one run ask ~300 times. Private, so only where it exists.
        values = _COLUMN_ARRAY(frame, columns.get_loc(name))
        if isinstance(values, np.ndarray) and values.dtype == object:
            view = values.view()
            view.flags.writeable = False  # read-only, as pandas' to_numpy hands out the frame's data
            return view
    series = frame[name]
    if series.dtype == object:
        return series.to_numpy(dtype=object)
    return series.to_numpy(dtype=object, na_value="")


def clean(values: np.ndarray) -> np.ndarray:
    """Values as str: missing ones (None, NaN) as "" (a new array; the input is left as it is)."""
    out = np.array(values, dtype=object)  # pd.isna on the array itself: no Series per call
    missing = pd.isna(out)
    if missing.any():
        out[missing] = ""
    return out


def normalized(values: np.ndarray, steps: tuple[str, ...]) -> np.ndarray:
    """The values as compared: mapping.normalize_text applied to one column."""
    if not steps or not len(values):
        return values
    out = np.empty(len(values), dtype=object)
    out[:] = [normalize_text(v, steps) for v in values]
    return out
