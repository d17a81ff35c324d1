"""Frames: every cell a str, "" for anything missing; never NaN, None or "nan"."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sync.frames import AccountFrames, TextFrameBuilder, object_frame, text_frame


def test_missing_keys_and_none_become_empty_text():
    frame = text_frame([{"id": "1", "note": None}, {"id": "2", "zip": "01067"}], ["id", "name"])
    assert frame.to_dict("records") == [
        {"id": "1", "name": "", "note": "", "zip": ""},
        {"id": "2", "name": "", "note": "", "zip": "01067"},
    ]
    assert set(frame.dtypes.astype(str)) == {"object"}


def test_non_text_values_become_their_text():
    frame = text_frame([{"id": 7, "flag": True, "rate": 1.5}])
    assert frame.to_dict("records") == [{"id": "7", "flag": "1", "rate": "1.5"}]


def test_a_number_column_with_a_gap_keeps_its_numbers_as_written():
    # pandas would infer float64 for [42, NaN]: "42.0", a value Billomat never sent.
    frame = text_frame([{"id": "1", "count": 42}, {"id": "2"}])
    assert frame["count"].tolist() == ["42", ""]


def test_declared_columns_come_first_in_order():
    assert list(text_frame([{"b": "1", "a": "2"}], ["id", "a"]).columns) == ["id", "a", "b"]


def test_empty_account_still_has_its_base_columns():
    frames = AccountFrames.from_records({})
    assert list(frames.clients.columns) == ["id", "client_number", "name"]
    assert frames.counts()["clients"] == 0


def test_a_frame_built_page_by_page_is_the_text_frame_of_all_records():
    pages = [
        [{"id": "1", "note": None}, {"id": "2", "zip": "01067"}],
        [{"flag": True, "id": 3}],
        [],
        [{"zip": "x", "id": "4", "note": "n"}] * 3,
    ]
    builder = TextFrameBuilder(["id", "name"])
    for page in pages:
        builder.add_records(page)
    assert len(builder) == 6
    built, expected = builder.build(), text_frame([r for page in pages for r in page], ["id", "name"])
    pd.testing.assert_frame_equal(built, expected)
    assert list(built.columns) == ["id", "name", "note", "zip", "flag"]
    assert all(value.__class__ is str for value in built.to_numpy().ravel())


def test_an_empty_builder_gives_the_base_columns_only():
    built = TextFrameBuilder(["id", "name"]).build()
    pd.testing.assert_frame_equal(built, text_frame([], ["id", "name"]))


def test_rows_added_under_columns_join_the_records():
    builder = TextFrameBuilder(["client_id", "name"])
    builder.add_rows(("client_id", "name"), [("1", "A"), ("2", "A")], text=True)
    builder.add_records([{"client_id": "3", "name": "B"}])
    assert builder.build().to_dict("records") == [
        {"client_id": "1", "name": "A"},
        {"client_id": "2", "name": "A"},
        {"client_id": "3", "name": "B"},
    ]


def test_equal_values_of_a_page_share_one_string():
    builder = TextFrameBuilder()
    builder.add_records([{"id": str(i), "kind": "".join(["SETT", "INGS"])} for i in range(10)], text=True)
    kinds = builder.build()["kind"].tolist()
    assert kinds == ["SETTINGS"] * 10 and len({id(k) for k in kinds}) == 1


def test_object_frame_keeps_str_and_none_as_objects_and_rows_as_int_in_their_place():
    frame = object_frame({"key": np.array(["00042", None], dtype=object), "row": [3, 7], "new": ["42", ""]})
    assert list(frame.columns) == ["key", "row", "new"]
    assert [str(t) for t in frame.dtypes] == ["object", "int64", "object"]  # not pandas' inferred `str`
    assert frame["key"].tolist() == ["00042", None] and frame["row"].tolist() == [3, 7]


def test_object_frame_of_no_rows_has_its_columns_and_dtypes():
    frame = object_frame({"_row": (), "name": ()})
    assert list(frame.columns) == ["_row", "name"] and len(frame) == 0
    assert [str(t) for t in frame.dtypes] == ["int64", "object"]
    assert str(object_frame({"row": ()}, ints=frozenset())["row"].dtype) == "object"
