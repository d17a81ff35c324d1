"""sync.text: frame columns as object arrays of str, missing values as "", normalised on demand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sync.text
from sync.text import clean, column_values, normalized, to_text


def test_a_missing_column_reads_as_empty_strings() -> None:
    assert column_values(pd.DataFrame({"id": ["1", "2"]}), "name").tolist() == ["", ""]


def test_a_pandas_string_column_reads_with_missing_values_as_empty() -> None:
    frame = pd.DataFrame({"name": pd.array(["A", None], dtype="string")})
    assert column_values(frame, "name").tolist() == ["A", ""]


def test_clean_turns_none_and_nan_into_empty_and_keeps_leading_zeros() -> None:
    assert clean(np.array(["00042", None, float("nan")], dtype=object)).tolist() == ["00042", "", ""]


def test_normalized_applies_the_mapping_steps_and_nothing_without_steps() -> None:
    values = np.array([" Müller  GmbH "], dtype=object)
    assert normalized(values, ()) is values
    assert normalized(values, ("strip",)).tolist() == ["Müller  GmbH"]


@pytest.mark.parametrize("accessor", ["pandas", "without pandas' private accessor"])
def test_an_object_column_is_its_own_array_with_or_without_the_fast_accessor(
    accessor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if accessor != "pandas":
        monkeypatch.setattr(sync.text, "_COLUMN_ARRAY", None)
    frame = pd.DataFrame({"id": ["1", "2"], "name": ["00042", None], "_row": [2, 3]}, dtype=object)
    values = column_values(frame, "name")
    assert values.dtype == object and values.tolist() == ["00042", None]
    assert np.shares_memory(values, column_values(frame, "name"))  # no copy either way ...
    assert not values.flags.writeable  # ... and no way to change the frame through it
    assert column_values(frame.astype({"_row": "int64"}), "_row").tolist() == [2, 3]


@pytest.mark.parametrize(
    ("value", "text"),
    [("00042", "00042"), ("", ""), (None, ""), (float("nan"), ""), (True, "1"), (False, "0"), (42, "42"), (0.5, "0.5")],
)
def test_to_text_keeps_text_and_turns_missing_values_and_booleans_into_billomats_text(value: object, text: str) -> None:
    assert to_text(value) == text
