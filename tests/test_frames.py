"""Frames: every cell a str, "" for anything missing; never NaN, None or "nan"."""

from __future__ import annotations

from sync.frames import AccountFrames, text_frame


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


def test_declared_columns_come_first_in_order():
    assert list(text_frame([{"b": "1", "a": "2"}], ["id", "a"]).columns) == ["id", "a", "b"]


def test_empty_account_still_has_its_base_columns():
    frames = AccountFrames.from_records({})
    assert list(frames.clients.columns) == ["id", "client_number", "name"]
    assert frames.counts()["clients"] == 0
