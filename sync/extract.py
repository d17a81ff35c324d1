"""Billomat → AccountFrames with the fewest requests the API allows."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sync.clients.billomat import Billomat
from sync.errors import AuthError, NotFoundError, RejectedError
from sync.frames import AccountFrames
from sync.progress import Reporter

PER_PAGE = 1000


@dataclass
class ExtractStats:
    """How the extraction went: requests per resource, how contacts and tags were read, notes for the user."""

    requests: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    contacts_mode: str = "bulk"
    tags_mode: str = "cloud"
    notes: list[str] = field(default_factory=list)

    @property
    def total_requests(self) -> int:
        """All requests the extraction sent (retries included)."""
        return sum(self.requests.values())


def extract_account(bm: Billomat, reporter: Reporter | None = None) -> tuple[AccountFrames, ExtractStats]:
    """Page every client, contact, property definition, property value and tag out of Billomat."""
    reporter = reporter or Reporter(quiet=True)
    stats = ExtractStats()
    started = time.monotonic()

    with _counting(bm, stats, "clients"):
        clients = _page_all(reporter, "Kunden", bm.clients.iter_pages(), "clients")
    with _counting(bm, stats, "client_properties"):
        properties = _page_all(reporter, "Attribute (Definitionen)", bm.client_properties.iter_pages(), "definitions")
    with _counting(bm, stats, "client_property_values"):
        values = _page_all(reporter, "Attribut-Werte", bm.client_property_values.iter_pages(), "values")
    with _counting(bm, stats, "contacts"):
        contacts = _extract_contacts(bm, reporter, clients, stats)
    with _counting(bm, stats, "client_tags"):
        tags = _extract_tags(bm, reporter, clients, stats)

    frames = AccountFrames.from_records(
        {
            "clients": clients,
            "contacts": contacts,
            "client_properties": properties,
            "client_property_values": values,
            "client_tags": tags,
        }
    )
    stats.seconds = time.monotonic() - started
    return frames, stats


def _page_all(reporter: Reporter, label: str, pages: Iterable[Any], unit: str) -> list[dict[str, str]]:
    """Drain a paged listing into plain records, with one progress bar."""
    records: list[dict[str, str]] = []
    with reporter.bar(label, unit=unit) as bar:
        for page in pages:
            total = getattr(getattr(page, "paging", None), "total", None)
            if total is not None and bar.total != total:
                bar.set_total(total)
            items = getattr(page, "data", page)
            records.extend(item.data for item in items)
            bar.update(len(items))
        bar.close()
    return records


def _extract_contacts(
    bm: Billomat, reporter: Reporter, clients: list[dict[str, str]], stats: ExtractStats
) -> list[dict[str, str]]:
    """All contacts in pages of 1000; per client only when the account refuses the bulk listing.

    billomat-api.md §4.2: the docs make client_id mandatory, yet a later doc shows an unfiltered
    listing. What the API answers without it is UNCONFIRMED, so both a refusal (4xx) and a
    suspicious empty answer send us to the per-client listing, which is always correct.
    """
    if not clients:
        return []
    try:
        contacts = _page_all(reporter, "Kontakte", bm.contacts.iter_pages(), "contacts")
    except AuthError:
        raise
    except (RejectedError, NotFoundError) as exc:
        note = f"the account refused listing all contacts at once ({exc.api_message or exc}); reading them per client"
        return _contacts_per_client(bm, reporter, clients, stats, note)
    if not contacts:
        note = "listing all contacts at once returned none; reading them per client to be sure"
        return _contacts_per_client(bm, reporter, clients, stats, note)
    return contacts


def _contacts_per_client(
    bm: Billomat, reporter: Reporter, clients: list[dict[str, str]], stats: ExtractStats, note: str
) -> list[dict[str, str]]:
    stats.contacts_mode = "per-client"
    stats.notes.append(note)
    # Expected on accounts that follow the docs (client_id mandatory): a note, not a nightly warning.
    reporter.info(f"  note: {note} ({len(clients):,} requests)")
    contacts: list[dict[str, str]] = []
    with reporter.bar("Kontakte (je Kunde)", total=len(clients), unit="clients") as bar:
        for client in clients:
            for page in bm.contacts.iter_pages(client_id=client["id"]):
                contacts.extend(dict(item.data) for item in getattr(page, "data", page))
            bar.update(1)
        bar.close(f"{len(contacts):,} contacts")
    return contacts


def _extract_tags(
    bm: Billomat, reporter: Reporter, clients: list[dict[str, str]], stats: ExtractStats
) -> list[dict[str, str]]:
    """Tags from the tag cloud plus one `clients?tags=NAME` listing per tag, not one call per client.

    The cloud's `count` is checked against what the per-tag listing returned: a tag whose name
    the filter cannot express (a comma splits the filter value) or that matches loosely is read
    per client instead, so no tag is lost or misattributed.
    """
    if not clients:
        return []
    cloud = [item.data for page in bm.client_tags.iter_pages() for item in getattr(page, "data", page)]
    known_ids = {client["id"] for client in clients}
    tags: list[dict[str, str]] = []
    mismatched: list[str] = []
    with reporter.bar("Schlagwörter", total=len(cloud), unit="tags") as bar:
        for entry in cloud:
            name = entry.get("name", "")
            expected = _int(entry.get("count", ""))
            if "," in name:
                mismatched.append(name)
                bar.update(1)
                continue
            ids = [
                item.data["id"]
                for page in bm.clients.iter_pages(tags=name)
                for item in getattr(page, "data", page)
            ]
            if expected is not None and len(ids) != expected:
                mismatched.append(name)
            else:
                tags.extend({"client_id": client_id, "name": name} for client_id in ids if client_id in known_ids)
            bar.update(1)
        bar.close()
    if mismatched:
        stats.tags_mode = "cloud+per-client"
        names = ", ".join(repr(n) for n in mismatched)
        note = f"the tag filter could not list tag(s) {names} exactly; reading tags per client"
        stats.notes.append(note)
        reporter.warn(f"{note} ({len(clients):,} requests)")
        wanted = set(mismatched)
        with reporter.bar("Schlagwörter (je Kunde)", total=len(clients), unit="clients") as bar:
            for client in clients:
                for page in bm.client_tags.iter_pages(client_id=client["id"]):
                    for item in getattr(page, "data", page):
                        if item.data.get("name", "") in wanted:
                            tags.append({"client_id": client["id"], "name": item.data["name"]})
                bar.update(1)
            bar.close()
    return tags


def _int(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@contextmanager
def _counting(bm: Billomat, stats: ExtractStats, name: str) -> Iterator[None]:
    """Add the requests sent inside the block to stats.requests[name]."""
    start = bm.transport.request_count
    try:
        yield
    finally:
        stats.requests[name] = stats.requests.get(name, 0) + bm.transport.request_count - start
