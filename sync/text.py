"""Frame columns as the diff and the merge compare them: object arrays of str, normalised on demand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sync.mapping import normalize_text


def column_values(frame: pd.DataFrame, name: str) -> np.ndarray:
    """One column as an object array ("" where the column is missing).

    Frames hold str, and a column of object dtype is returned as it is (no copy, no NaN scan:
    `diff._changed` repairs missing values among the few cells that differ). Any other dtype (pandas'
    `str`, pyarrow strings) is converted with missing values as "".
    """
    if name not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    series = frame[name]
    if series.dtype == object:
        return series.to_numpy(dtype=object)
    return series.to_numpy(dtype=object, na_value="")


def clean(values: np.ndarray) -> np.ndarray:
    """Values as str: missing ones (None, NaN) as ""."""
    if not len(values):
        return values.astype(object)
    out = pd.Series(values, dtype=object)
    missing = out.isna()
    if missing.any():
        out = out.where(~missing, "")
    return out.to_numpy(dtype=object)


def normalized(values: np.ndarray, steps: tuple[str, ...]) -> np.ndarray:
    """The values as compared: mapping.normalize_text applied to one column (Series.map)."""
    if not steps or not len(values):
        return values
    return pd.Series(values, dtype=object).map(lambda v: normalize_text(v, steps)).to_numpy(dtype=object)
