"""sync.record_rows: where each record's row was, carried from state to state and stored compactly."""

from __future__ import annotations

import zlib

import pandas as pd

from sync.record_rows import carried, decode, encode, from_desired
from tests.diffkit import account


def test_rows_round_trip_in_runs_of_consecutive_rows() -> None:
    rows = {"clients": {"1001": 2, "1002": 3, "1003": 4, "1009": 9}, "contacts": {}}
    text = encode(rows)
    assert text == '{"clients":[[2,["1001","1002","1003"]],[9,["1009"]]],"contacts":[]}'
    assert decode(text) == rows
    assert decode("not json") == {} and decode('{"clients": [[2]]}') == {"clients": {}}


def test_100k_clients_cost_little_more_than_their_ids() -> None:
    rows = {"clients": {str(100000 + i): i + 2 for i in range(100_000)}}
    assert len(zlib.compress(encode(rows).encode(), 1)) < 400_000


def test_the_next_rows_are_the_runs_over_the_old_for_the_records_still_there() -> None:
    frames = account(clients=[{"id": "1001"}, {"id": "1002"}, {"id": "1003"}], contacts=[])
    old = {"clients": {"1001": 2, "1002": 3, "1004": 5}}
    read = from_desired(
        pd.DataFrame({"_row": [2, 4], "_key": ["1001", "row:4"]}),
        pd.DataFrame({"_row": [], "_key": []}),
        client_ids={"row:4": "1003"},
    )
    # 1002: not read this run (its delete held), keeps its row; 1004: gone from Billomat, dropped.
    assert carried(old, read, frames=frames) == {"clients": {"1001": 2, "1002": 3, "1003": 4}, "contacts": {}}
