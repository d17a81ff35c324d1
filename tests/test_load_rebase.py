"""sync.load.rebase: the account after a load, made on the frames, equals the whole-account dict round trip."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.frames import RESOURCES, AccountFrames, frame_records
from sync.load import LoadReport, Result, rebase
from sync.load.rebase import _rebase_record, _rebase_tag, _rebase_value
from sync.plan import Change


def rebase_by_dicts(current: AccountFrames, report: LoadReport) -> AccountFrames:
    """The reference: every row of the account as a dict, every done result applied, back to frames."""
    records = {name: [dict(r) for r in frame_records(current.frame(name))] for name in RESOURCES}
    for result in report.results:
        if result.status != "done":
            continue
        if result.change.resource in ("clients", "contacts"):
            _rebase_record(records, result)
        elif result.change.resource == "client_property_values":
            _rebase_value(records["client_property_values"], result)
        elif result.change.resource == "client_tags":
            _rebase_tag(records["client_tags"], result)
    return AccountFrames.from_records(records)


def assert_same(got: AccountFrames, want: AccountFrames) -> None:
    for name in RESOURCES:
        pd.testing.assert_frame_equal(got.frame(name), want.frame(name), obj=name)


# Few ids, so that changes meet existing rows, each other, duplicates and cascades.
CLIENT_IDS = st.sampled_from(["1", "2", "3", "4"])
CONTACT_IDS = st.sampled_from(["11", "12", "13"])
TEXT = st.sampled_from(["", "a", "b", "Köln"])
EXTRA = st.sampled_from(["name", "city", "zz", "customfield"])  # "zz": a column the frame lacks

clients = st.lists(st.fixed_dictionaries({"id": CLIENT_IDS, "name": TEXT, "city": TEXT}), max_size=5)
contacts = st.lists(
    st.fixed_dictionaries({"id": CONTACT_IDS, "client_id": CLIENT_IDS, "name": TEXT}), max_size=5
)
values = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.sampled_from(["81", "82"]),
            "client_id": CLIENT_IDS,
            "client_property_id": st.sampled_from(["7", "8"]),
            "value": TEXT,
        }
    ),
    max_size=4,
)
tags = st.lists(
    st.fixed_dictionaries({"client_id": CLIENT_IDS, "name": st.sampled_from(["VIP", "X"])}), max_size=4
)


@st.composite
def results(draw: st.DrawFn) -> Result:
    """One result of a load, of any kind the loader reports."""
    kind = draw(st.sampled_from(["clients", "contacts", "client_property_values", "client_tags"]))
    status = draw(st.sampled_from(["done", "done", "done", "failed", "skipped"]))
    if kind in ("clients", "contacts"):
        ids = CLIENT_IDS if kind == "clients" else CONTACT_IDS
        action = draw(st.sampled_from(["create", "update", "delete"]))
        key = draw(ids | st.just("row:5"))
        payload = draw(st.dictionaries(EXTRA, TEXT, max_size=2))
        if kind == "contacts" and draw(st.booleans()):
            payload["client_id"] = draw(CLIENT_IDS)
        record: dict[str, Any] | None = None
        record_id = draw(ids | st.just(""))
        if action != "delete" and draw(st.booleans()):
            record = {"id": record_id or key, **draw(st.dictionaries(EXTRA, TEXT, max_size=3)), "n": 5}
        change = Change(kind, action, key, "Kunden", 2, {}, payload)
        client_id = draw(CLIENT_IDS) if kind == "contacts" else record_id
        return Result(change, status, record_id, "", record, client_id)
    if kind == "client_property_values":
        action = draw(st.sampled_from(["set", "clear"]))
        change = Change(
            kind, action, "1", "Kunden", 2, {}, {"value": draw(TEXT)}, ref=draw(st.sampled_from(["7", "8"]))
        )
        record = None
        if draw(st.booleans()):
            record = {
                "id": "83",
                "client_id": draw(CLIENT_IDS),
                "client_property_id": "7",
                "value": draw(TEXT),
            }
        return Result(change, status, "", "", record, draw(CLIENT_IDS))
    action = draw(st.sampled_from(["add", "remove"]))
    change = Change(kind, action, "1", "Kunden", 2, {}, {}, ref=draw(st.sampled_from(["VIP", "X", "Neu"])))
    return Result(change, status, "", "", None, draw(CLIENT_IDS))


@settings(deadline=None)
@given(clients, contacts, values, tags, st.lists(results(), max_size=8))
def test_rebase_on_the_frames_equals_the_whole_account_round_trip(
    client_rows: list[dict[str, str]],
    contact_rows: list[dict[str, str]],
    value_rows: list[dict[str, str]],
    tag_rows: list[dict[str, str]],
    done: list[Result],
) -> None:
    current = AccountFrames.from_records(
        {
            "clients": client_rows,
            "contacts": contact_rows,
            "client_property_values": value_rows,
            "client_tags": tag_rows,
            "client_properties": [{"id": "7", "name": "Branche"}],
        }
    )
    report = LoadReport(results=done)
    assert_same(rebase(current, report), rebase_by_dicts(current, report))


def test_a_load_that_did_nothing_keeps_the_frames() -> None:
    current = AccountFrames.from_records({"clients": [{"id": "1", "name": "A", "extra": "x"}]})
    after = rebase(current, LoadReport())
    assert_same(after, rebase_by_dicts(current, LoadReport()))
    assert after.clients.columns.tolist() == ["id", "client_number", "name", "extra"]


def test_only_the_rows_of_the_changed_records_change() -> None:
    rows = [{"id": str(n), "name": f"K{n}", "city": "Bonn"} for n in range(1, 1001)]
    current = AccountFrames.from_records(
        {"clients": rows, "contacts": [{"id": "9", "client_id": "7", "name": "P"}]}
    )
    report = LoadReport(
        results=[
            Result(Change("clients", "update", "500", "Kunden", 501, {}, {"city": "Köln"}), "done", "500"),
            Result(Change("clients", "delete", "7", "Kunden", None), "done", "7"),
        ]
    )
    after = rebase(current, report)
    assert len(after.clients) == 999 and after.contacts.empty
    assert after.clients.loc[after.clients["id"] == "500", "city"].tolist() == ["Köln"]
    assert (after.clients["city"] == "Bonn").sum() == 998
    assert_same(after, rebase_by_dicts(current, report))
