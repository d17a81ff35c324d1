"""Billomat list envelopes and page-number paging (billomat-api.md §3)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sync.errors import ProtocolError

T = TypeVar("T")

# A guard against a server that never stops answering full pages (10,000 pages of 1,000 = 10M records).
MAX_PAGES = 10_000


@dataclass(frozen=True)
class Paging:
    """Where a page sits: its number, the page size the server used, and the total over all pages."""

    page: int
    per_page: int
    total: int | None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its records and its paging."""

    data: list[T]
    paging: Paging


def parse_list(
    body: dict[str, Any] | None,
    plural: str,
    item_keys: Sequence[str],
    *,
    page: int = 1,
    per_page: int = 100,
    call: str = "",
) -> tuple[list[dict[str, Any]], Paging]:
    """Unwrap a list answer into its records and paging.

    The envelope (JSON made from XML) looks like this::

        {"clients": {"client": [{...}, {...}], "@page": "1", "@per_page": "100", "@total": "2"}}
        {"clients": {"client": {...}, "@page": "1", "@per_page": "100", "@total": "1"}}
        {"clients": {"@page": "1", "@per_page": "100", "@total": "0"}}
    """
    method, _, path = call.partition(" ")
    if body is None or plural not in body:
        found = ", ".join(sorted(body)) if body else "an empty body"
        raise ProtocolError(f"expected a {plural!r} list, got {found}", method=method, path=path)
    envelope = body[plural]
    if isinstance(envelope, list):  # not seen from Billomat; accept a bare list all the same
        envelope = {"__items__": envelope}
        item_keys = ("__items__",)
    if envelope in (None, ""):
        envelope = {}
    if not isinstance(envelope, dict):
        raise ProtocolError(
            f"expected an object under {plural!r}, got {type(envelope).__name__}", method=method, path=path
        )
    items = unwrap_items(next((envelope[k] for k in item_keys if k in envelope), None))
    for item in items:
        if not isinstance(item, dict):
            raise ProtocolError(
                f"expected records under {plural!r}, got {type(item).__name__}", method=method, path=path
            )
    paging = Paging(
        page=_number(envelope.get("@page")) or page,
        per_page=_number(envelope.get("@per_page")) or per_page,
        total=_number(envelope.get("@total")),
    )
    return items, paging


def unwrap_items(value: Any) -> list[Any]:
    """Normalise an item value on its type, never on @total (hausgold PR #23 fixed exactly that bug)."""
    # billomat-api.md §3: a page with one item is an object, not a list; with none the key is absent.
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [value] if value else []  # an empty object is no record (XML <client/> of an empty page)
    return []


def query_filters(given: Mapping[Any, Any] | None, keywords: Mapping[str, Any]) -> dict[str, Any]:
    """`where({"client_number": "KD2"})` and `where(client_number="KD2")` as one dict (keywords win).

    The seed's Ruby gem passes one hash (`where({"client_number": "KD2"})`, `where('client_id' => 7)`);
    Python users write keywords. A name that is no identifier (`client-id`) only fits the dict form.
    """
    if given is not None and not isinstance(given, Mapping):
        raise TypeError(f"filters must be a dict or keyword arguments, not {type(given).__name__}")
    return {**{str(k): v for k, v in (given or {}).items()}, **keywords}


def walk_pages(
    fetch: Callable[[int], Page[T]],
    *,
    key: Callable[[T], str],
    describe: Callable[[int], str],
    max_pages: int = MAX_PAGES,
    keys: Callable[[list[T]], list[str]] | None = None,
    last: Callable[[Page[T], int], bool] | None = None,
) -> Iterator[Page[T]]:
    """Yield page after page from `fetch(page_number)` until one of the stop conditions holds.

    Stop when page * @per_page >= @total, when a page holds fewer items than the @per_page the
    server returned (it may clamp what was asked), or when a page is empty. A page that repeats
    the previous one means the server ignores `page`: ProtocolError, not an endless loop.
    `keys(page.data)`, if given, is `[key(item) for item in page.data]` done faster for a whole page.
    `last(page, number)`, if given, says instead of @total and a short page whether a page was the last
    (SnapBill's lists carry the number of pages, snapbill-api.md §1).
    """
    previous: list[str] | None = None
    number = 1
    while True:
        if number > max_pages:
            method, _, path = describe(number).partition(" ")
            raise ProtocolError(
                f"still full pages after {max_pages} pages; giving up", method=method, path=path
            )
        page = fetch(number)
        if not page.data:
            return  # billomat-api.md §3: past the end answers 200 with the item key absent
        page_keys = keys(page.data) if keys is not None else [key(item) for item in page.data]
        if previous is not None and page_keys == previous:
            method, _, path = describe(number).partition(" ")
            raise ProtocolError(
                f"page {number} holds the same records as page {number - 1}: the server ignores paging",
                method=method,
                path=path,
            )
        yield page
        if (last or _last_by_total)(page, number):
            return
        previous = page_keys
        number += 1


def _last_by_total(page: Page[Any], number: int) -> bool:
    """Billomat's stop rule: page * @per_page reaches @total, or a page is shorter than @per_page."""
    # billomat-api.md §3 (B4J Pager): count pages in the @per_page the server used, not the one asked.
    per_page = page.paging.per_page
    total = page.paging.total
    if total is not None and number * per_page >= total:
        return True
    return len(page.data) < per_page


def _number(value: Any) -> int | None:
    """@page/@per_page/@total arrive as strings ("100")."""
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None
