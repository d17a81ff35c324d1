"""Billomat → AccountFrames with the fewest requests the API allows."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pandas as pd

from sync.clients.billomat import Billomat
from sync.clients.paging import Page
from sync.errors import IncompleteError
from sync.frames import BASE_COLUMNS, AccountFrames, TextFrameBuilder
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
    """Page every client, contact, property definition, property value and tag out of Billomat.

    Records are read as plain text dicts (`Resource.iter_records`, no models) and each page goes
    into its frame as soon as it arrives, so only one page's dicts are alive at a time.
    """
    reporter = reporter or Reporter(quiet=True)
    stats = ExtractStats()
    started = time.monotonic()

    client_ids: list[str] = []
    with _counting(bm, stats, "clients"):
        clients = _page_all(
            reporter, "Kunden", bm.clients.iter_records, "clients", "clients", call="/clients", ids=client_ids
        )
    with _counting(bm, stats, "client_properties"):
        properties = _page_all(
            reporter,
            "Attribute (Definitionen)",
            bm.client_properties.iter_records,
            "definitions",
            "client_properties",
            call="/client-properties",
        )
    with _counting(bm, stats, "client_property_values"):
        values = _page_all(
            reporter,
            "Attribut-Werte",
            bm.client_property_values.iter_records,
            "values",
            "client_property_values",
            call="/client-property-values",
        )
    with _counting(bm, stats, "contacts"):
        contacts = _extract_contacts(bm, reporter, client_ids, stats)
    with _counting(bm, stats, "client_tags"):
        tags = _extract_tags(bm, reporter, client_ids, stats)

    frames = AccountFrames(
        clients=clients,
        contacts=contacts,
        client_properties=properties,
        client_property_values=values,
        client_tags=tags,
    )
    stats.seconds = time.monotonic() - started
    return frames, stats


def _builder(name: str) -> TextFrameBuilder:
    return TextFrameBuilder(BASE_COLUMNS[name])


def _page_all(
    reporter: Reporter,
    label: str,
    fetch: Callable[[], Iterable[Page[dict[str, str]]]],
    unit: str,
    name: str,
    *,
    call: str,
    ids: list[str] | None = None,
) -> pd.DataFrame:
    """Drain a paged listing page by page into its frame, with one progress bar; check it is complete.

    Records can move between pages while another tool edits the account, so the ids are de-duplicated
    and their number compared with Billomat's `@total`; on a mismatch the listing is read once more,
    and a second mismatch is an error rather than a quietly incomplete workbook (billomat-api.md §3).
    """
    for attempt in (1, 2):
        builder = _builder(name)
        total: int | None = None
        with reporter.bar(label, unit=unit) as bar:
            for page in fetch():
                if page.paging.total is not None:
                    total = page.paging.total
                    if bar.total != total:
                        bar.set_total(total)
                builder.add_records(page.data, text=True)
                bar.update(len(page.data))
            bar.close()
        frame = builder.build()
        if "id" in frame.columns and len(frame) and frame["id"].duplicated().any():
            frame = frame.drop_duplicates("id").reset_index(drop=True)
        if total is None or len(frame) == total:
            if ids is not None:
                ids.extend(frame["id"].tolist())
            return frame
        if attempt == 1:
            reporter.info(
                f"  note: {label}: read {len(frame):,} records but Billomat says {total:,}; "
                "the account changed while it was read, reading it once more"
            )
    raise IncompleteError(
        f"read {len(frame):,} records twice, but Billomat's @total says {total:,}: the account keeps changing "
        "while billsync reads it (another tool at work?); nothing was written, try again later",
        method="GET",
        path=call,
    )


def _extract_contacts(
    bm: Billomat, reporter: Reporter, client_ids: list[str], stats: ExtractStats
) -> pd.DataFrame:
    """All contacts in pages of 1000; per client only when the account refuses the bulk listing.

    billomat-api.md §4.2: whether the API lists contacts without client_id is UNCONFIRMED; the
    contacts resource decides (`Contacts.bulk_or_per_client`, the same rule its `list` follows).
    """
    if not client_ids:
        return _builder("contacts").build()
    contacts, why = bm.contacts.bulk_or_per_client(
        lambda: _page_all(reporter, "Kontakte", bm.contacts.iter_records, "contacts", "contacts", call="/contacts"),
        lambda frame: not len(frame),
    )
    if why or contacts is None:
        return _contacts_per_client(bm, reporter, client_ids, stats, why)
    return contacts


def _contacts_per_client(
    bm: Billomat, reporter: Reporter, client_ids: list[str], stats: ExtractStats, note: str
) -> pd.DataFrame:
    stats.contacts_mode = "per-client"
    stats.notes.append(note)
    # Expected on accounts that follow the docs (client_id mandatory): a note, not a nightly warning.
    reporter.info(f"  note: {note} ({len(client_ids):,} requests)")
    contacts = _builder("contacts")
    with reporter.bar("Kontakte (je Kunde)", total=len(client_ids), unit="clients") as bar:
        for client_id in client_ids:
            for page in bm.contacts.iter_records(client_id=client_id):
                contacts.add_records(page.data, text=True)
            bar.update(1)
        bar.close(f"{len(contacts):,} contacts")
    return contacts.build()


TAG_COLUMNS = ("client_id", "name")


def _extract_tags(bm: Billomat, reporter: Reporter, client_ids: list[str], stats: ExtractStats) -> pd.DataFrame:
    """Tags from the tag cloud plus one `clients?tags=NAME` listing per tag, not one call per client.

    The cloud's `count` is checked against what the per-tag listing returned: a tag whose name
    the filter cannot express (a comma splits the filter value) or that matches loosely is read
    per client instead, so no tag is lost or misattributed. The per-tag listings are read for the
    client ids only (`Resource.iter_ids`): the full client records they carry are never kept.
    """
    tags = _builder("client_tags")
    if not client_ids:
        return tags.build()
    cloud = [record for page in bm.client_tags.iter_records() for record in page.data]
    known_ids = {client_id: client_id for client_id in client_ids}  # the clients frame's own id strings
    mismatched: list[str] = []
    with reporter.bar("Schlagwörter", total=len(cloud), unit="tags") as bar:
        for entry in cloud:
            name = entry.get("name", "")
            expected = _int(entry.get("count", ""))
            if "," in name:
                mismatched.append(name)
                bar.update(1)
                continue
            ids = [client_id for page in bm.clients.iter_ids(tags=name) for client_id in page]
            if expected is not None and len(ids) != expected:
                mismatched.append(name)
            else:
                tags.add_rows(
                    TAG_COLUMNS,
                    [(known_ids[client_id], name) for client_id in ids if client_id in known_ids],
                    text=True,
                )
            bar.update(1)
        bar.close()
    if mismatched:
        stats.tags_mode = "cloud+per-client"
        names = ", ".join(repr(n) for n in mismatched)
        note = f"the tag filter could not list tag(s) {names} exactly; reading tags per client"
        stats.notes.append(note)
        reporter.warn(f"{note} ({len(client_ids):,} requests)")
        wanted = set(mismatched)
        with reporter.bar("Schlagwörter (je Kunde)", total=len(client_ids), unit="clients") as bar:
            for client_id in client_ids:
                for page in bm.client_tags.iter_records(client_id=client_id):
                    tags.add_rows(
                        TAG_COLUMNS,
                        [(client_id, record["name"]) for record in page.data if record.get("name", "") in wanted],
                        text=True,
                    )
                bar.update(1)
            bar.close()
    return tags.build()


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
