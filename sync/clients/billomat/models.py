"""Billomat's Python API (SPEC §8): models (`.data`, `.nested`, `save()`, `delete()`) and the generic resource.

The resource lists (all pages, pinned order, checked against @total), pages, filters (`where`),
finds and writes; `endpoints.py` holds what each resource does differently.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from sync.clients.base import Landed, Transport
from sync.clients.billomat.records import (
    id_order,
    raw_id,
    raw_record_key,
    raw_record_keys,
    record_key,
    record_keys,
    split_record,
    text_ids,
    text_records,
    to_text,
)
from sync.clients.paging import MAX_PAGES, Page, Paging, parse_list, walk_pages
from sync.clients.resource import ApiModel, ApiResource
from sync.errors import ApiError, AuthError, IncompleteError, ProtocolError, RejectedError

log = logging.getLogger(__name__)

M = TypeVar("M", bound="Model")

LIST_PER_PAGE = 1000  # billomat-api.md §3: the maximum; fewest requests against a 300-per-15-min quota
PAGE_PER_PAGE = 100  # billomat-api.md §3: the API's own default page size
PINNED_ORDER = "id ASC"  # a fixed order so records don't shift between pages; requests encodes the space


class Account(Protocol):
    """What a resource needs of its account (`Billomat`), without importing it: no import cycle."""

    @property
    def transport(self) -> Transport:
        """The account's transport."""
        ...

    @property
    def clients(self) -> Resource[Any]:
        """The account's clients (contacts are read client by client where the account requires it)."""
        ...

    def explain_401(self, error: AuthError, what: str) -> ApiError:
        """A 401 on a record URL: NotFoundError for a foreign id, else the AuthError."""
        ...


class Model(ApiModel):
    """One Billomat record: `.data` holds every field as text, `.nested` any embedded collections.

    `save()` creates (no id: POST) or updates (id: PUT with `.data`); without `landed`, the resource's
    own check by natural key is used where there is one, else a create is not retried.
    """

    label_fields = ("name", "value")

    def __init__(self, resource: Resource[Any], data: Mapping[str, Any] | None = None) -> None:
        self.resource: Resource[Any] = resource
        self.data: dict[str, str] = {}
        self.nested: dict[str, builtins.list[dict[str, str]]] = {}
        self.load(data or {})

    def load(self, record: Mapping[str, Any]) -> None:
        """Replace `.data` and `.nested` with a record as the API returned it."""
        self.data, self.nested = split_record(record)


class Client(Model):
    """A Billomat client (customer)."""


class Contact(Model):
    """A contact person of a client."""


class ClientProperty(Model):
    """The definition of a client property ("Attribut"): name, type, default."""


class ClientPropertyValue(Model):
    """One client's value of one client property."""


class ClientTag(Model):
    """A tag ("Schlagwort") of a client, or a tag-cloud entry (name and count) without client_id."""


class Resource(ApiResource[M]):
    """One Billomat resource: list, page, filter, find, create, update, delete.

    Lists come in the XML-made envelope (billomat-api.md §3)::

        {"clients": {"client": [{...}, {...}], "@page": "1", "@per_page": "1000", "@total": "2"}}

    `list()` reads every page (1000 records a request unless `per_page` says otherwise) and checks
    the records against @total; `where` filters as the API does, e.g. `name=...`, `property18280=...`,
    `customfield=...`, `tags="a,b"`.
    """

    page_size = PAGE_PER_PAGE
    list_page_size = LIST_PER_PAGE

    model: ClassVar[type[Model]] = Model
    path: ClassVar[str] = ""  # URL segment and list envelope key, e.g. "client-property-values"
    singular: ClassVar[str] = ""  # item key and write-body key, e.g. "client-property-value"
    item_keys: ClassVar[tuple[str, ...]] = ()
    max_pages: ClassVar[int] = MAX_PAGES

    def __init__(self, api: Account) -> None:
        super().__init__(api)
        self.api: Account = api
        # Whether the server accepts PINNED_ORDER here (billomat-api.md §3: order_by=id is UNCONFIRMED):
        # None until an answer tells, True once a pinned page came back, False once it was refused.
        self.order_accepted: bool | None = None

    @property
    def name(self) -> str:
        """The URL segment, e.g. "client-property-values"."""
        return self.path

    def new(self, data: Mapping[str, Any] | None = None) -> M:
        """A model from `data` (values become text); with an "id" it updates on save, else creates."""
        return self.model(self, data or {})  # type: ignore[return-value]

    def find(self, id: int | str) -> M:
        """GET /{resource}/{id}; NotFoundError if there is no such record in this account."""
        path = f"{self.path}/{to_text(id)}"
        body = self.record_call("GET", path, what=f"{self.singular} {to_text(id)}")
        return self.new(self.record_of(body, "GET", path))

    def paged_list(self, page: int = 1, per_page: int = PAGE_PER_PAGE, **filters: Any) -> Page[M]:
        """One page: Page(data=[models], paging=Paging(page, per_page, total))."""
        return self._fetch_page(page, per_page, filters)

    def iter_pages(self, per_page: int = LIST_PER_PAGE, **filters: Any) -> Iterator[builtins.list[M]]:
        """Each page's models in turn (all pages), so a caller can show progress."""
        for page in self._walk(per_page, filters):
            yield page.data

    def iter_records(self, per_page: int = LIST_PER_PAGE, **filters: Any) -> Iterator[Page[dict[str, str]]]:
        """Each page of plain records, exactly what `Model.data` would hold, without building models.

        The same requests, envelope handling, pinned order and stop conditions as `iter_pages`; each
        Page also carries its paging (@total for progress). For bulk reads such as the extraction.
        """
        return walk_pages(
            lambda number: self._fetch_records(number, per_page, filters),
            key=record_key,
            describe=lambda number: self.transport.describe(
                "GET", self.path, {**filters, "page": number, "per_page": per_page}
            ),
            max_pages=self.max_pages,
            keys=record_keys,
        )

    def iter_ids(self, per_page: int = LIST_PER_PAGE, **filters: Any) -> Iterator[builtins.list[str]]:
        """Each page's record ids (`Model.data["id"]`), e.g. the clients carrying a tag, without models."""
        pages = walk_pages(
            lambda number: Page(*self._fetch_items(number, per_page, filters)),
            key=raw_record_key,
            describe=lambda number: self.transport.describe(
                "GET", self.path, {**filters, "page": number, "per_page": per_page}
            ),
            max_pages=self.max_pages,
            keys=raw_record_keys,
        )
        for page in pages:
            ids = text_ids(page.data)
            yield ids if ids is not None else [raw_id(item) for item in page.data]

    def customfield(self, id: int | str) -> str:
        """The record's customfield (GET /{resource}/{id}/customfield, billomat-api.md §4.6)."""
        path = f"{self.path}/{to_text(id)}/customfield"
        body = self.record_call("GET", path, what=f"{self.singular} {to_text(id)}")
        return self.record_of(body, "GET", path).get("customfield", "")

    def set_customfield(self, id: int | str, value: str) -> str:
        """Set the record's customfield (PUT /{resource}/{id}/customfield); returns the stored value."""
        path = f"{self.path}/{to_text(id)}/customfield"
        body = self.record_call(
            "PUT",
            path,
            what=f"{self.singular} {to_text(id)}",
            json={self.singular: {"customfield": to_text(value)}},
        )
        if not body:
            return to_text(value)
        return self.record_of(body, "PUT", path).get("customfield", to_text(value))

    # -- writes (called by Model) ----------------------------------------------------------------

    def save_model(self, model: Model, *, landed: Callable[[], Model | None] | None = None) -> None:
        """Create or update `model` on the server and refresh its data from the answer."""
        record = self._write(model.data, landed)
        if record is not None:
            model.load(record)

    def save_record(self, data: Mapping[str, Any]) -> dict[str, str]:
        """`new(data).save().data` without the model: create (no id) or update, the record as answered.

        For callers that hold plain records (the loader); a PUT answered without a body gives `data`.
        """
        fields = split_record(data)[0]
        record = self._write(fields, None)
        return fields if record is None else split_record(record)[0]

    def _write(
        self, data: Mapping[str, str], landed: Callable[[], Model | None] | None
    ) -> dict[str, Any] | None:
        """POST (no id) or PUT (id) the fields but the id; the record answered, None for an empty PUT answer."""
        record_id = data.get("id") or None
        payload = {k: v for k, v in data.items() if k != "id"}
        if record_id is None:
            return self.record_of(self._create(payload, landed), "POST", self.path)
        body = self._update(record_id, payload, landed)
        return None if body is None else self.record_of(body, "PUT", f"{self.path}/{record_id}")

    def delete_model(self, model: Model) -> None:
        """DELETE /{resource}/{id} (billomat-api.md §1: 200 with an empty body)."""
        if model.id is None:
            raise ValueError(f"cannot delete a {self.singular} that has no id")
        self.record_call("DELETE", f"{self.path}/{model.id}", what=f"{self.singular} {model.id}")

    def _create(
        self, payload: dict[str, str], landed: Callable[[], Model | None] | None
    ) -> dict[str, Any] | None:
        check = self._wrap_landed(landed) if landed is not None else self.landed_check(payload)
        return self.transport.request(
            "POST",
            self.path,
            json={self.singular: payload},
            retry=check is not None,  # SPEC §5: a create is never retried blindly
            landed=check,
            expect=201,
        )

    def _update(
        self, id: str, payload: dict[str, str], landed: Callable[[], Model | None] | None
    ) -> dict[str, Any] | None:
        return self.record_call(
            "PUT",
            f"{self.path}/{id}",
            what=f"{self.singular} {id}",
            json={self.singular: payload},
            expect=200,
        )

    def landed_check(self, payload: Mapping[str, str]) -> Landed | None:
        """How to find a create of `payload` that landed although its answer was lost (None: no way)."""
        return None

    def _wrap_landed(self, landed: Callable[[], Model | None]) -> Landed:
        def check() -> dict[str, Any] | None:
            found = landed()
            return None if found is None else {self.singular: dict(found.data)}

        return check

    def _find_landed(
        self, payload: Mapping[str, str], match: tuple[str, ...], **filters: str
    ) -> Landed | None:
        """A landed check that lists by `filters` and picks the newest record equal to `payload` on `match`."""
        if not all(payload.get(field) for field in filters.values()):
            return None

        def check() -> dict[str, Any] | None:
            # Any: **query fills only filter keywords, never list()'s page/per_page ints.
            query: dict[str, Any] = {name: payload[field] for name, field in filters.items()}
            hits = [
                m for m in self.list(**query) if all(m.data.get(f, "") == payload.get(f, "") for f in match)
            ]
            if not hits:
                return None
            newest = max(hits, key=lambda m: id_order(m.id))
            return {self.singular: dict(newest.data)}

        return check

    # -- record calls and envelopes ---------------------------------------------------------------

    def record_call(self, method: str, path: str, *, what: str, **kwargs: Any) -> dict[str, Any] | None:
        """A call on one record's URL, where a 401 may mean another account's id (billomat-api.md §1)."""
        try:
            return self.transport.request(method, path, **kwargs)
        except AuthError as exc:
            error = self.api.explain_401(exc, what)
            if error is exc:
                raise
            raise error from exc

    def record_of(self, body: dict[str, Any] | None, method: str, path: str) -> dict[str, Any]:
        """The record inside a single-record answer: {"client": {...}}."""
        for key in (self.singular, *self.item_keys):
            if body and isinstance(body.get(key), dict):
                return dict(body[key])
        found = ", ".join(sorted(body)) if body else "an empty body"
        raise ProtocolError(
            f"expected a {self.singular!r} record, got {found}",
            method=method,
            path=f"/{path}",
        )

    def _fetch_page(self, number: int, per_page: int, filters: Mapping[str, Any]) -> Page[M]:
        items, paging = self._fetch_items(number, per_page, filters)
        return Page([self.new(item) for item in items], paging)

    def _fetch_records(self, number: int, per_page: int, filters: Mapping[str, Any]) -> Page[dict[str, str]]:
        items, paging = self._fetch_items(number, per_page, filters)
        return Page(text_records(items), paging)

    def _fetch_items(
        self, number: int, per_page: int, filters: Mapping[str, Any]
    ) -> tuple[builtins.list[dict[str, Any]], Paging]:
        """One list page as the API sent its records (the list quirk undone) and its paging."""
        params: dict[str, Any] = {**filters, "page": number, "per_page": per_page}
        pinned = self.order_accepted is not False and "order_by" not in filters
        if pinned:
            params["order_by"] = PINNED_ORDER
        try:
            body = self.transport.request("GET", self.path, params=params)
            if pinned:
                self.order_accepted = True
        except RejectedError as exc:
            if not pinned or self.order_accepted:
                raise
            # billomat-api.md §3: whether order_by=id is accepted is UNCONFIRMED; try the page unpinned,
            # and remember only if that works (a 400 for another reason fails again and teaches nothing).
            del params["order_by"]
            body = self.transport.request("GET", self.path, params=params)
            self.order_accepted = False
            log.warning(
                "%s: Billomat refused order_by=%r (%s); paging in the server's default order",
                exc.path,
                PINNED_ORDER,
                exc.api_message or exc,
            )
        call = self.transport.describe("GET", self.path, params)
        return parse_list(body, self.path, self.item_keys, page=number, per_page=per_page, call=call)

    def _walk(self, per_page: int, filters: Mapping[str, Any]) -> Iterator[Page[M]]:
        return walk_pages(
            lambda number: self._fetch_page(number, per_page, filters),
            key=lambda model: model.id or repr(sorted(model.data.items())),
            describe=lambda number: self.transport.describe(
                "GET", self.path, {**filters, "page": number, "per_page": per_page}
            ),
            max_pages=self.max_pages,
        )

    def _collect(self, per_page: int, filters: Mapping[str, Any]) -> tuple[builtins.list[M], int | None]:
        records: dict[str, M] = {}
        total: int | None = None
        for page in self._walk(per_page, filters):
            total = page.paging.total
            for model in page.data:
                # A record that moved to the next page while paging shows up twice: keep the later copy.
                records[model.id or f"#{len(records)}"] = model
        return builtins.list(records.values()), total

    def list_all(self, per_page: int, filters: Mapping[str, Any]) -> builtins.list[M]:
        """Every record, checked against @total; a second pass when they differ, then IncompleteError."""
        for attempt in (1, 2):
            records, total = self._collect(per_page, filters)
            if total is None or len(records) == total:
                return records
            if attempt == 1:
                log.warning(
                    "%s: got %d distinct records but @total says %d (changed while paging?); listing again",
                    self.transport.describe("GET", self.path, filters),
                    len(records),
                    total,
                )
        raise IncompleteError(
            f"got {len(records)} distinct records but @total says {total}, also on a second pass; "
            "the data changed while paging: run again",
            method="GET",
            path=self.transport.describe("GET", self.path, filters).split(" ", 1)[1],
        )
