"""sync/merge/vectors.py: the vectorised column helpers the merge aligns and compares with."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sync.merge.vectors import (
    Inherit,
    changed_values,
    dedup,
    differs,
    gather,
    groups,
    lookup_values,
    name_codes,
    positions,
    take,
)


def arr(*values: object) -> np.ndarray:
    return np.array(values, dtype=object)


def test_differs_compares_after_the_normaliser_and_only_under_the_mask() -> None:
    old = arr("Dresden", "Leipzig", "Pirna", None)
    new = arr(" Dresden ", "Halle", "Meißen", "")
    mask = np.array([True, True, False, True])
    assert differs(old, new, ("strip",), mask).tolist() == [False, True, False, False]
    # Without a normaliser the raw text counts.
    assert differs(old, new, (), mask).tolist() == [True, True, False, False]
    assert differs(arr(), arr(), (), np.zeros(0, dtype=bool)).tolist() == []


def test_an_empty_contact_cell_equals_the_clients_value_it_inherits() -> None:
    clients = pd.DataFrame({"id": ["1", "2"], "city": ["Dresden", "Leipzig"]})
    inherit = Inherit((clients, pd.Index(clients["id"], dtype=object)), arr("1", "2"))
    old, new = arr("Dresden", "Dresden"), arr("", "")
    # Contact 1 showed its client's city: blank means the same. Contact 2 had a city of its own.
    assert differs(old, new, (), np.ones(2, dtype=bool), inherit, "city").tolist() == [False, True]
    assert inherit("email", np.array([0])) is None  # contacts do not inherit email


def test_positions_of_absent_records_give_defaults() -> None:
    at = np.array([2, -1, 0])
    assert gather(np.array([True, False, True]), at, False).tolist() == [True, False, True]
    assert gather(np.array([], dtype=bool), at, False).tolist() == [False, False, False]
    assert take(arr("a", "b", "c"), at).tolist() == ["c", None, "a"]
    assert take(arr(), at).tolist() == [None, None, None]
    assert positions(pd.Index(["x", "y"], dtype=object), arr("y", "z")).tolist() == [1, -1]
    assert groups(np.array([0, 1, 0, 2]), arr("A", "B", "C", "D"), np.array([True, True, True, False]),
                  np.array([0, 2])) == {0: ["A", "C"]}  # fmt: skip


def test_name_codes_are_shared_after_the_normaliser_and_empty_is_minus_one() -> None:
    (a, b), n = name_codes((arr("VIP", " vip", ""), arr("Neu")), ("strip", "lower"))
    assert a[0] == a[1] and a[2] == -1 and b[0] not in (a[0], -1)
    assert max(*a, *b) < n  # codes fit the range pairs are coded with (position × n + code)


def test_dedup_keeps_the_last_row_of_an_id() -> None:
    frame, index = dedup(pd.DataFrame({"id": ["1", "2", "1"], "city": ["a", "b", "c"]}))
    assert list(index) == ["2", "1"] and list(frame["city"]) == ["b", "c"]


def test_lookup_values_takes_the_newest_row_and_blank_without_one() -> None:
    values = pd.DataFrame(
        {"id": ["9", "3", "5"], "client_id": ["1", "1", "2"], "client_property_id": ["11", "11", "11"],
         "value": ["neu", "alt", "Bau"]}
    )  # fmt: skip
    index = pd.Index(["1", "2", "3"], dtype=object)
    found = lookup_values(values, index, np.array([0, 1, 2, -1]), arr("11", "11", "11", "11"))
    assert found.tolist() == ["neu", "Bau", "", ""]


def test_changed_values_names_the_clients_whose_values_differ() -> None:
    b = pd.DataFrame({"id": ["1", "2"], "client_id": ["1", "2"], "client_property_id": ["11", "11"],
                      "value": ["Bau", "IT"]})  # fmt: skip
    c = pd.DataFrame({"id": ["1", "2"], "client_id": ["1", "2"], "client_property_id": ["11", "11"],
                      "value": ["Bau ", "Handel"]})  # fmt: skip
    assert changed_values(b, c, arr("1", "2"), ("strip",)).tolist() == ["2"]
    assert changed_values(b, c, arr("1"), ("strip",)).tolist() == []


def test_take_in_the_same_order_is_the_column_itself_not_a_copy() -> None:
    values = np.array(["a", "b", "c"], dtype=object)
    assert take(values, np.arange(3)) is values  # 100k rows x 50 columns x 3 sides of pointers saved
    assert take(values, np.array([0, 2, 1])).tolist() == ["a", "c", "b"]
    assert take(values, np.array([0, 1, -1])).tolist() == ["a", "b", None]
    assert take(values, np.array([0, 1])).tolist() == ["a", "b"]
