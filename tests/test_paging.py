"""Billomat list envelopes (one item is an object, none is a missing key) and the paging stop conditions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sync.clients.paging import Page, Paging, parse_list, unwrap_items, walk_pages
from sync.errors import ProtocolError

FIXTURES = Path(__file__).parent / "fixtures" / "billomat"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_two_or_more_items_come_as_a_list() -> None:
    items, paging = parse_list(
        load("list_array_invoice_comments.json"), "invoice-comments", ("invoice-comment",)
    )
    assert [item["id"] for item in items] == ["1101779", "1101780", "1101781"]
    assert paging == Paging(page=1, per_page=100, total=3)


def test_one_item_comes_as_an_object_and_becomes_a_list_of_one() -> None:
    items, paging = parse_list(load("clients_list_single_object.json"), "clients", ("client",))
    assert len(items) == 1 and items[0]["id"] == "169499"
    assert paging == Paging(page=1, per_page=100, total=1)


@pytest.mark.parametrize("name", ["empty_list_invoice_items.json", "empty_list_invoice_comments.json"])
def test_no_items_means_the_item_key_is_absent(name: str) -> None:
    plural = name.removeprefix("empty_list_").removesuffix(".json").replace("_", "-")
    items, paging = parse_list(load(name), plural, (plural[:-1],))
    assert items == [] and paging.total == 0


def test_a_last_page_with_one_item_is_a_list_although_total_is_larger() -> None:
    # hausgold PR #23: deciding on @total instead of the value's type dropped this record.
    body = {"clients": {"client": {"id": "5"}, "@page": "3", "@per_page": "2", "@total": "5"}}
    items, paging = parse_list(body, "clients", ("client",))
    assert items == [{"id": "5"}]
    assert paging == Paging(page=3, per_page=2, total=5)


def test_a_page_past_the_end_has_no_item_key_and_no_items() -> None:
    body = {"clients": {"@page": "4", "@per_page": "2", "@total": "5"}}
    assert parse_list(body, "clients", ("client",))[0] == []


def test_the_tag_cloud_may_use_the_item_key_tag() -> None:
    body = {"client-tags": {"tag": [{"name": "A"}, {"name": "B"}], "@total": "2"}}
    items, _ = parse_list(body, "client-tags", ("client-tag", "tag"))
    assert [i["name"] for i in items] == ["A", "B"]


@pytest.mark.parametrize("value", [None, "", [], {}])
def test_empty_item_values_are_no_items(value: Any) -> None:
    assert unwrap_items(value) == []


def test_missing_paging_attributes_fall_back_to_what_was_asked() -> None:
    items, paging = parse_list(
        {"clients": {"client": [{"id": "1"}]}}, "clients", ("client",), page=2, per_page=50
    )
    assert paging == Paging(page=2, per_page=50, total=None)


@pytest.mark.parametrize(
    "body", [{"client": {"id": "1"}}, None, {"clients": "oops"}, {"clients": {"client": ["x"]}}]
)
def test_an_answer_that_is_not_the_list_envelope_is_a_protocol_error(body: Any) -> None:
    with pytest.raises(ProtocolError):
        parse_list(body, "clients", ("client",), call="GET /clients?page=1")


# -- walk_pages ---------------------------------------------------------------------------------


def pages_of(records: list[str], per_page: int, total: int | None, *, served_per_page: int | None = None):
    """A fetch(page) over `records`; the server may use a different page size than asked."""
    size = served_per_page or per_page
    calls: list[int] = []

    def fetch(number: int) -> Page[str]:
        calls.append(number)
        chunk = records[(number - 1) * size : number * size]
        return Page(chunk, Paging(number, size, total))

    return fetch, calls


def walk(fetch: Any, **options: Any) -> list[str]:
    pages = walk_pages(fetch, key=lambda item: item, describe=lambda n: f"GET /clients?page={n}", **options)
    return [item for page in pages for item in page.data]


def test_paging_stops_when_page_times_per_page_reaches_total() -> None:
    fetch, calls = pages_of(["a", "b", "c", "d"], per_page=2, total=4)
    assert walk(fetch) == ["a", "b", "c", "d"]
    assert calls == [1, 2]  # no third request for an empty page


def test_paging_stops_on_a_short_page_even_when_total_says_more() -> None:
    fetch, calls = pages_of(["a", "b", "c"], per_page=2, total=10)
    assert walk(fetch) == ["a", "b", "c"]
    assert calls == [1, 2]


def test_paging_stops_on_a_short_page_without_total() -> None:
    fetch, calls = pages_of(["a", "b", "c"], per_page=2, total=None)
    assert walk(fetch) == ["a", "b", "c"] and calls == [1, 2]


def test_paging_stops_on_an_empty_page() -> None:
    fetch, calls = pages_of(["a", "b"], per_page=2, total=None)
    assert walk(fetch) == ["a", "b"]
    assert calls == [1, 2]


def test_a_last_rule_replaces_total_and_the_short_page() -> None:
    """SnapBill's lists say how many pages there are: a short page is not the end, page `numpages` is."""
    pages = {1: ["a"], 2: ["b", "c"], 3: ["d"], 4: ["never asked"]}
    calls: list[int] = []

    def fetch(number: int) -> Page[str]:
        calls.append(number)
        return Page(pages[number], Paging(number, 2, 1))  # total=1 and short pages: ignored under `last`

    assert walk(fetch, last=lambda page, number: number >= 3) == ["a", "b", "c", "d"]
    assert calls == [1, 2, 3]


def test_page_count_follows_the_per_page_the_server_returned() -> None:
    # Asked for 1000, the server clamps to 100: 250 records are three pages of its size.
    records = [str(i) for i in range(250)]
    fetch, calls = pages_of(records, per_page=1000, total=250, served_per_page=100)
    assert walk(fetch) == records
    assert calls == [1, 2, 3]


def test_a_page_repeating_the_previous_one_is_a_protocol_error_not_an_endless_loop() -> None:
    def fetch(number: int) -> Page[str]:
        return Page(["a", "b"], Paging(1, 2, 10))  # a server that ignores `page`

    with pytest.raises(ProtocolError, match="page 2 holds the same records as page 1"):
        walk(fetch)


def test_paging_gives_up_after_max_pages() -> None:
    def fetch(number: int) -> Page[str]:
        return Page([f"{number}a", f"{number}b"], Paging(number, 2, None))

    with pytest.raises(ProtocolError, match="after 5 pages"):
        walk(fetch, max_pages=5)
