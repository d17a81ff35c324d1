"""sync.parking: parked clients leave all three sides before the merge and keep their base (pure)."""

from __future__ import annotations

import pandas as pd

from sync.parking import Parked, keep_parked, park, park_desired, parked, summary
from tests.diffkit import MAPPING, account, desired

ACCOUNT = account(
    clients=[{"id": "1001", "name": "A"}, {"id": "1002", "name": "B"}],
    contacts=[{"id": "5001", "client_id": "1001", "name": "x"}, {"id": "5002", "client_id": "1002", "name": "y"}],
    values=[{"id": "9", "client_id": "1001", "client_property_id": "1", "value": "Bau"}],
    tags=[{"client_id": "1001", "name": "A-Kunde"}, {"client_id": "1002", "name": "B-Kunde"}],
)


def test_the_sync_cell_parks_with_aus_nein_0_off_in_any_case() -> None:
    sync = MAPPING.sheets["clients"].sync_column
    key = MAPPING.sheets["clients"].key_column.header
    table = pd.DataFrame(
        {key: ["1001", "1002", "1003", "", "1005"], sync: ["AUS", " nein", "1", "off", "0"]}, index=[2, 3, 4, 5, 6]
    )
    found = parked({MAPPING.sheets["clients"].sheet: table}, MAPPING)
    assert found == Parked(frozenset({"1001", "1002", "1005"}), frozenset({2, 3, 5, 6}))
    assert summary(found) == "parked 4; " and summary(Parked()) == ""


def test_park_drops_the_client_and_everything_that_hangs_on_it() -> None:
    out = park(ACCOUNT, Parked(frozenset({"1001"}), frozenset({2})))
    assert out is not None
    assert list(out.clients["id"]) == ["1002"] and list(out.contacts["id"]) == ["5002"]
    assert out.client_property_values.empty and list(out.client_tags["name"]) == ["B-Kunde"]
    assert park(None, Parked(frozenset({"1001"}))) is None


def test_park_desired_drops_parked_rows_new_ones_included() -> None:
    wanted = desired(
        clients=[{"_row": 2, "_key": "1001", "name": "A"}, {"_row": 3, "_key": "row:3", "name": "Neu"},
                 {"_row": 4, "_key": "1002", "name": "B"}],
        contacts=[{"_row": 2, "_key": "5001", "client_key": "1001", "name": "x"},
                  {"_row": 3, "_key": "row:3", "client_key": "row:3", "name": "z"}],
        tags=[{"_row": 2, "client_key": "1001", "name": "A-Kunde"}, {"_row": 4, "client_key": "1002", "name": "B"}],
    )
    out = park_desired(wanted, Parked(frozenset({"1001"}), frozenset({2, 3})))
    assert list(out.clients["_key"]) == ["1002"]
    assert out.contacts.empty and list(out.tags["client_key"]) == ["1002"]


def test_the_next_base_keeps_the_parked_clients_as_the_last_base_had_them() -> None:
    now = account(clients=[{"id": "1002", "name": "B2"}], tags=[{"client_id": "1002", "name": "neu"}])
    out = keep_parked(now, ACCOUNT, Parked(frozenset({"1001"}), frozenset({2})))
    assert dict(zip(out.clients["id"], out.clients["name"], strict=True)) == {"1002": "B2", "1001": "A"}
    assert sorted(out.contacts["id"]) == ["5001"]
    assert sorted(out.client_tags["name"]) == ["A-Kunde", "neu"]
    assert keep_parked(now, None, Parked(frozenset({"1001"}))) is now
