"""The extractor: every record, all text, with the fewest requests (requests-mock, no network)."""

from __future__ import annotations

import pytest

from sync.clients.billomat import Billomat
from sync.clock import FakeClock
from sync.extract import extract_account
from tests.fake_billomat import BASE, FakeBillomat


def account(clients: int = 3, tags: dict[str, list[int]] | None = None) -> dict[str, list[dict[str, str]]]:
    tags = tags if tags is not None else {"A-Kunde": [1, 2], "Export": [3]}
    return {
        "clients": [{"id": str(i), "client_number": f"KD{i:05d}", "name": f"Firma {i}", "zip": "01067"} for i in range(1, clients + 1)],
        "contacts": [{"id": str(100 + i), "client_id": str(i), "name": f"Kontakt {i}"} for i in range(1, clients + 1)],
        "client-properties": [{"id": "11", "name": "Branche", "type": "TEXTFIELD"}],
        "client-property-values": [{"id": "501", "client_id": "1", "client_property_id": "11", "value": "0815"}],
        "client-tags": [{"id": str(900 + c), "client_id": str(c), "name": n} for n, ids in tags.items() for c in ids],
    }


@pytest.fixture
def bm() -> Billomat:
    return Billomat(base_url=BASE, api_key="k", clock=FakeClock())


def test_extracts_every_resource_as_text(requests_mock, bm):
    FakeBillomat(requests_mock, account())
    frames, stats = extract_account(bm)
    assert frames.clients["zip"].tolist() == ["01067"] * 3
    assert frames.clients["client_number"].tolist() == ["KD00001", "KD00002", "KD00003"]
    assert frames.client_property_values["value"].tolist() == ["0815"]
    assert sorted(map(tuple, frames.client_tags[["client_id", "name"]].values.tolist())) == [
        ("1", "A-Kunde"),
        ("2", "A-Kunde"),
        ("3", "Export"),
    ]
    assert all(isinstance(v, str) for frame in (frames.clients, frames.contacts) for v in frame.to_numpy().ravel())
    assert stats.contacts_mode == "bulk"


def test_uses_one_page_per_resource_and_one_listing_per_tag(requests_mock, bm):
    fake = FakeBillomat(requests_mock, account())
    _, stats = extract_account(bm)
    assert len(fake.calls("/clients")) == 1 + 2  # one page of clients + one listing per tag
    assert len(fake.calls("/contacts")) == 1
    assert len(fake.calls("/client-tags")) == 1  # the tag cloud only
    assert fake.calls("/clients")[0]["per_page"] == "1000"
    assert stats.total_requests == len(requests_mock.request_history)


def test_contacts_fall_back_per_client_when_bulk_listing_is_refused(requests_mock, bm):
    fake = FakeBillomat(requests_mock, account())
    fake.overrides.append(
        (lambda path, q: path == "/contacts" and "client_id" not in q, lambda ctx: _status(ctx, 400, "client_id fehlt"))
    )
    frames, stats = extract_account(bm)
    assert stats.contacts_mode == "per-client"
    assert sorted(frames.contacts["id"]) == ["101", "102", "103"]
    # The refused bulk call is tried once with and once without the pinned order (order_by fallback).
    assert [q.get("client_id") for q in fake.calls("/contacts")] == [None, None, "1", "2", "3"]
    assert "client_id fehlt" in stats.notes[0]


def test_contacts_fall_back_per_client_when_bulk_listing_is_silently_empty(requests_mock, bm):
    fake = FakeBillomat(requests_mock, account())
    fake.overrides.append(
        (
            lambda path, q: path == "/contacts" and "client_id" not in q,
            lambda ctx: {"contacts": {"@page": "1", "@per_page": "1000", "@total": "0"}},
        )
    )
    frames, stats = extract_account(bm)
    assert stats.contacts_mode == "per-client"
    assert len(frames.contacts) == 3


def test_tag_whose_filter_count_disagrees_with_the_cloud_is_read_per_client(requests_mock, bm):
    fake = FakeBillomat(requests_mock, account(tags={"A-Kunde": [1, 2], "a-kunde": [3]}))
    frames, stats = extract_account(bm)
    # The fake's tag filter is case-insensitive, so "A-Kunde" lists 3 clients where the cloud says 2.
    assert stats.tags_mode == "cloud+per-client"
    assert sorted(map(tuple, frames.client_tags[["client_id", "name"]].values.tolist())) == [
        ("1", "A-Kunde"),
        ("2", "A-Kunde"),
        ("3", "a-kunde"),
    ]
    assert len([q for q in fake.calls("/client-tags") if "client_id" in q]) == 3


def test_empty_account_costs_only_the_listings(requests_mock, bm):
    fake = FakeBillomat(requests_mock, {"clients": [], "client-properties": [], "client-property-values": []})
    frames, _ = extract_account(bm)
    assert frames.counts() == {
        "clients": 0,
        "contacts": 0,
        "client_properties": 0,
        "client_property_values": 0,
        "client_tags": 0,
    }
    assert list(frames.clients.columns)[:2] == ["id", "client_number"]
    assert fake.calls("/contacts") == [] and fake.calls("/client-tags") == []


def _status(context, code: int, message: str) -> dict:
    context.status_code = code
    return {"errors": {"error": message}}


def test_non_text_values_and_nested_collections_come_out_as_the_models_text(requests_mock, bm):
    data = account()
    data["clients"][0].update({"number": 42, "archived": False, "note": None})
    data["clients"][1]["client-property-values"] = {"client-property-value": [{"id": "1", "value": "x"}]}
    FakeBillomat(requests_mock, data)
    frames, _ = extract_account(bm)
    models = {c.id: c.data for c in bm.clients.list()}
    assert frames.clients.to_dict("records")[0] == {**dict.fromkeys(frames.clients.columns, ""), **models["1"]}
    assert models["1"]["number"] == "42" and models["1"]["archived"] == "0"
    assert "client-property-values" not in frames.clients.columns
    assert all(isinstance(v, str) for v in frames.clients.to_numpy().ravel())


def test_tag_rows_use_the_ids_of_the_extracted_clients(requests_mock, bm):
    fake = FakeBillomat(requests_mock, account(clients=4, tags={"A-Kunde": [1, 2, 4], "Export": [3]}))
    frames, stats = extract_account(bm)
    assert sorted(map(tuple, frames.client_tags[["client_id", "name"]].values.tolist())) == [
        ("1", "A-Kunde"),
        ("2", "A-Kunde"),
        ("3", "Export"),
        ("4", "A-Kunde"),
    ]
    assert stats.tags_mode == "cloud" and len(fake.calls("/clients")) == 1 + 2
    ids = set(map(id, frames.clients["id"]))
    assert all(id(client_id) in ids for client_id in frames.client_tags["client_id"])


def _clients_answer(fake: FakeBillomat, totals: list[int]):
    """Answer the client listing with the real records but a @total from `totals`, one per listing."""
    from tests.fake_billomat import envelope

    calls = iter(totals)

    def answer(context):
        records = fake.data["clients"]
        return envelope("clients", "client", records, 1, 1000, next(calls))

    return (lambda path, q: path == "/clients" and "tags" not in q, answer)


def test_a_listing_that_changed_while_paging_is_read_once_more(requests_mock, bm):
    fake = FakeBillomat(requests_mock, account())
    fake.overrides.append(_clients_answer(fake, [4, 3]))  # first listing: one client vanished meanwhile
    frames, _ = extract_account(bm)
    assert len(frames.clients) == 3
    assert len([q for q in fake.calls("/clients") if "tags" not in q]) == 2


def test_a_listing_that_keeps_disagreeing_with_total_is_an_error_not_a_silent_gap(requests_mock, bm):
    from sync.errors import IncompleteError

    fake = FakeBillomat(requests_mock, account())
    fake.overrides.append(_clients_answer(fake, [4, 4]))
    with pytest.raises(IncompleteError, match=r"GET /clients: read 3 records twice, but Billomat's @total says 4"):
        extract_account(bm)


def test_records_seen_twice_across_pages_count_once(requests_mock, bm):
    from tests.fake_billomat import envelope

    fake = FakeBillomat(requests_mock, account())
    records = fake.data["clients"]
    # Client 2 moved from page 1 to page 2 while the pages were read: it arrives twice.
    answers = iter([envelope("clients", "client", records[:2], 1, 2, 3), envelope("clients", "client", records[1:], 2, 2, 3)])
    fake.overrides.append((lambda path, q: path == "/clients" and "tags" not in q, lambda ctx: next(answers)))
    frames, _ = extract_account(bm)
    assert sorted(frames.clients["id"]) == ["1", "2", "3"]
