"""The Billomat client: resources and models over one Transport, with the API's quirks handled."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Iterator, Mapping
from itertools import chain, repeat
from typing import Any, ClassVar, Generic, Self, TypeVar, cast

import requests

from sync.clients.base import Landed, RequestHook, Transport
from sync.clients.paging import MAX_PAGES, Page, Paging, parse_list, query_filters, unwrap_items, walk_pages
from sync.clients.ratelimit import APP_QUOTA, DEFAULT_QUOTA, WaitHook
from sync.clients.retry import DEFAULT_MAX_ATTEMPTS, RetryHook
from sync.clock import SYSTEM_CLOCK, Clock
from sync.errors import (
    AccountNotFoundError,
    ApiError,
    AuthError,
    ConfigError,
    IncompleteError,
    NotFoundError,
    ProtocolError,
    RejectedError,
)
from sync.settings import (
    DEFAULT_RATE_RESERVE,
    DEFAULT_TIMEOUT,
    BillomatSettings,
    Secret,
    check_base_url,
    load_settings,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound="Model")
R = TypeVar("R")

LIST_PER_PAGE = 1000  # billomat-api.md §3: the maximum; fewest requests against a 300-per-15-min quota
PAGE_PER_PAGE = 100  # billomat-api.md §3: the API's own default page size
PINNED_ORDER = "id ASC"  # a fixed order so records don't shift between pages; requests encodes the space
MYSELF = "clients/myself"


def to_text(value: Any) -> str:
    """A field value as Billomat's JSON has it: text, "" for empty, booleans as 1/0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return value if isinstance(value, str) else str(value)


def split_record(
    record: Mapping[str, Any],
) -> tuple[dict[str, str], dict[str, builtins.list[dict[str, str]]]]:
    """Split a record into its text fields and its nested collections (e.g. client-property-values)."""
    data: dict[str, str] = {}
    nested: dict[str, builtins.list[dict[str, str]]] = {}
    for key, value in record.items():
        # Billomat sends every scalar as a string (billomat-api.md §1): test that first, it is
        # nearly always true and this runs for every field of every record of a 100k-client pull.
        if value.__class__ is str:
            data[key] = value
        elif isinstance(value, dict | builtins.list):
            nested[str(key)] = _nested_items(value)
        else:
            data[str(key)] = to_text(value)
    return data, nested


def text_records(records: builtins.list[dict[str, Any]]) -> builtins.list[dict[str, str]]:
    """Each record's text fields as `split_record` gives them; the very dicts when they hold only text.

    Billomat sends every scalar as a string (billomat-api.md §1), so a page is nearly always all
    text: one type scan over the page (in C) instead of a new dict per record. Any other page
    (a number, a None, a nested collection) goes through `split_record` record by record.
    """
    if _STR_ONLY.issuperset(map(type, chain.from_iterable(map(dict.values, records)))):
        return records
    return [split_record(record)[0] for record in records]


_STR_ONLY = frozenset({str})


def _record_key(record: Mapping[str, str]) -> str:
    # The same key as a model's in walk_pages: its id, else all its fields.
    return record.get("id") or repr(sorted(record.items()))


def _raw_record_key(record: Mapping[str, Any]) -> str:
    """`_record_key` of the record's text fields, converting only a record without a text id."""
    value = record.get("id")
    return value if value and value.__class__ is str else _record_key(split_record(record)[0])


def _text_ids(records: builtins.list[dict[str, Any]]) -> builtins.list[str] | None:
    """Every record's id when each is a non-empty str (the usual page), else None."""
    ids = builtins.list(map(dict.get, records, repeat("id")))
    # The test just made proves every id a non-empty str, which mypy cannot follow through map(type, ...).
    return cast("builtins.list[str]", ids) if _STR_ONLY.issuperset(map(type, ids)) and all(ids) else None


def _record_keys(records: builtins.list[dict[str, str]]) -> builtins.list[str]:
    """`[_record_key(r) for r in records]`, without a Python call per record on the usual page."""
    ids = _text_ids(records)
    return ids if ids is not None else [_record_key(record) for record in records]


def _raw_record_keys(records: builtins.list[dict[str, Any]]) -> builtins.list[str]:
    """`[_raw_record_key(r) for r in records]`, without a Python call per record on the usual page."""
    ids = _text_ids(records)
    return ids if ids is not None else [_raw_record_key(record) for record in records]


def _raw_id(record: Mapping[str, Any]) -> str:
    """`Model.data["id"]` of a record as the API sent it (a KeyError where the model would have none)."""
    value = record.get("id")
    return value if value.__class__ is str else split_record(record)[0]["id"]


def _nested_items(value: Any) -> builtins.list[dict[str, str]]:
    # billomat-api.md §3: nested collections have the list quirk without the @ attributes:
    # {"client-property-value": [...]} or {"client-property-value": {...}} or {}.
    if isinstance(value, dict):
        inner = [v for k, v in value.items() if not str(k).startswith("@")]
        if len(inner) == 1 and isinstance(inner[0], dict | builtins.list):
            value = inner[0]
    return [
        {str(k): to_text(v) for k, v in item.items() if not isinstance(v, dict | builtins.list)}
        for item in unwrap_items(value)
        if isinstance(item, dict)
    ]


class Model:
    """One Billomat record: `.data` holds every field as text, `.nested` any embedded collections."""

    def __init__(self, resource: Resource[Any], data: Mapping[str, Any] | None = None) -> None:
        self.resource = resource
        self.data: dict[str, str] = {}
        self.nested: dict[str, builtins.list[dict[str, str]]] = {}
        self.load(data or {})

    @property
    def id(self) -> str | None:
        """The Billomat id, or None for a record not yet created."""
        return self.data.get("id") or None

    def load(self, record: Mapping[str, Any]) -> None:
        """Replace `.data` and `.nested` with a record as the API returned it."""
        self.data, self.nested = split_record(record)

    def save(self, *, landed: Callable[[], Model | None] | None = None) -> Self:
        """Create (no id: POST) or update (id: PUT with `.data`); `.data` is refreshed from the answer.

        `landed()` finds the record if a create whose answer was lost did land; without it, the
        resource's own check by natural key is used where there is one, else a create is not retried.
        """
        self.resource.save_model(self, landed=landed)
        return self

    def delete(self) -> None:
        """Delete this record (DELETE /{resource}/{id})."""
        self.resource.delete_model(self)

    def __repr__(self) -> str:
        label = self.data.get("name") or self.data.get("value")
        shown = f", name={label!r}" if label else ""
        return f"{type(self).__name__}(id={self.id!r}{shown})"


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


class Resource(Generic[M]):
    """One Billomat resource: list, page, filter, find, create, update, delete.

    Lists come in the XML-made envelope (billomat-api.md §3)::

        {"clients": {"client": [{...}, {...}], "@page": "1", "@per_page": "1000", "@total": "2"}}
    """

    model: ClassVar[type[Model]] = Model
    path: ClassVar[str] = ""  # URL segment and list envelope key, e.g. "client-property-values"
    singular: ClassVar[str] = ""  # item key and write-body key, e.g. "client-property-value"
    item_keys: ClassVar[tuple[str, ...]] = ()
    max_pages: ClassVar[int] = MAX_PAGES

    def __init__(self, api: Billomat) -> None:
        self.api = api
        # Whether the server accepts PINNED_ORDER here (billomat-api.md §3: order_by=id is UNCONFIRMED):
        # None until an answer tells, True once a pinned page came back, False once it was refused.
        self.order_accepted: bool | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} /{self.path}>"

    @property
    def transport(self) -> Transport:
        """The account's transport."""
        return self.api.transport

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
            key=_record_key,
            describe=lambda number: self.transport.describe(
                "GET", self.path, {**filters, "page": number, "per_page": per_page}
            ),
            max_pages=self.max_pages,
            keys=_record_keys,
        )

    def iter_ids(self, per_page: int = LIST_PER_PAGE, **filters: Any) -> Iterator[builtins.list[str]]:
        """Each page's record ids (`Model.data["id"]`), e.g. the clients carrying a tag, without models."""
        pages = walk_pages(
            lambda number: Page(*self._fetch_items(number, per_page, filters)),
            key=_raw_record_key,
            describe=lambda number: self.transport.describe(
                "GET", self.path, {**filters, "page": number, "per_page": per_page}
            ),
            max_pages=self.max_pages,
            keys=_raw_record_keys,
        )
        for page in pages:
            ids = _text_ids(page.data)
            yield ids if ids is not None else [_raw_id(item) for item in page.data]

    def where(self, filters: Mapping[str, Any] | None = None, /, **keywords: Any) -> builtins.list[M]:
        """Every record matching the filters (all pages): `where(client_number="KD2")` or one dict.

        E.g. `name=...`, `property18280=...`, `customfield=...`, `tags="a,b"`; the seed's
        `where({"client_number": "KD2"})` works as well (keywords win over the same key in the dict).
        """
        return self.list(**query_filters(filters, keywords))

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
        payload = {k: v for k, v in model.data.items() if k != "id"}
        if model.id is None:
            body = self._create(payload, landed)
            model.load(self.record_of(body, "POST", self.path))
        else:
            body = self._update(model.id, payload, landed)
            if body is not None:
                model.load(self.record_of(body, "PUT", f"{self.path}/{model.id}"))

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
            newest = max(hits, key=lambda m: _id_order(m.id))
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

    def list(self, page: int | None = None, per_page: int | None = None, **filters: Any) -> builtins.list[M]:
        """Every record (all pages, pinned order), checked against the API's @total; or one page's models.

        `list()` reads every page (1000 records a request unless `per_page` says otherwise);
        `list(page=2, per_page=10)` is the models of that one page (`paged_list(...).data`).
        """
        if page is not None:
            return self.paged_list(page, per_page or PAGE_PER_PAGE, **filters).data
        return self._list_all(per_page or LIST_PER_PAGE, filters)

    def _list_all(self, per_page: int, filters: Mapping[str, Any]) -> builtins.list[M]:
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


class Clients(Resource[Client]):
    """/clients; also /clients/myself and /clients/{id}/customfield."""

    model = Client
    path = "clients"
    singular = "client"
    item_keys = ("client",)

    def myself(self) -> Client:
        """The account's own company as a client record (GET /clients/myself)."""
        body = self.transport.request("GET", MYSELF)
        return self.new(self.record_of(body, "GET", MYSELF))

    def landed_check(self, payload: Mapping[str, str]) -> Landed | None:
        """A client created with a customfield (our external key) is found again by it."""
        return self._find_landed(payload, ("customfield",), customfield="customfield")


class Contacts(Resource[Contact]):
    """/contacts (billomat-api.md §4.2: listed per client, `client_id` is documented as mandatory).

    Without `client_id`, `list`, `paged_list` and `where` try the listing of all contacts at once and,
    on an account that refuses it, read the contacts client by client, as `pull` does.
    """

    model = Contact
    path = "contacts"
    singular = "contact"
    item_keys = ("contact",)

    def __init__(self, api: Billomat) -> None:
        super().__init__(api)
        # billomat-api.md §4.2 (UNCONFIRMED): does GET /contacts work without client_id? None until an
        # answer tells; False after a refusal, True once such a listing returned contacts.
        self.bulk_listing: bool | None = None

    def bulk_or_per_client(
        self, bulk: Callable[[], R], empty: Callable[[R], bool]
    ) -> tuple[R, str] | tuple[None, str]:
        """(`bulk()`, "") if the account lists contacts without client_id; else (None, why to read per client).

        billomat-api.md §4.2: the docs make client_id mandatory, yet a later doc shows an unfiltered
        listing; what the API answers without it is UNCONFIRMED. A refusal (4xx, not 401/403) and an
        answer `empty(result)` both send the caller to the per-client listing, which is always right;
        an empty answer is trusted only once a listing without client_id has returned contacts.
        """
        if self.bulk_listing is False:
            return None, "the account refuses listing all contacts at once; reading them per client"
        try:
            result = bulk()
        except AuthError:
            raise
        except (RejectedError, NotFoundError) as exc:
            self.bulk_listing = False
            why = f"the account refused listing all contacts at once ({exc.api_message or exc}); reading them per client"
            return None, why
        if not empty(result):
            self.bulk_listing = True
        elif self.bulk_listing is None:
            return None, "listing all contacts at once returned none; reading them per client to be sure"
        return result, ""

    def per_client(self, per_page: int | None = None, **filters: Any) -> builtins.list[Contact]:
        """Every contact matching `filters`, read client by client (one listing per client), in id order."""
        records: builtins.list[Contact] = []
        for client_ids in self.api.clients.iter_ids():
            for client_id in client_ids:
                records.extend(self._list_all(per_page or LIST_PER_PAGE, {**filters, "client_id": client_id}))
        return sorted(records, key=lambda contact: _id_order(contact.id))

    def list(
        self, page: int | None = None, per_page: int | None = None, **filters: Any
    ) -> builtins.list[Contact]:
        """Every contact (all pages), or one page's with `page`; per client where the account requires it.

        The API documents no contact filter but `client_id` (billomat-api.md §4.2), so any other
        (`last_name="Meyer"`, as the seed filters) is sent and also applied here, the way Billomat's
        documented text filters match: case-insensitive, as part of the field.
        """
        if page is not None:
            return self.paged_list(page, per_page or PAGE_PER_PAGE, **filters).data
        size = per_page or LIST_PER_PAGE
        if "client_id" in filters:
            records: builtins.list[Contact] | None = self._list_all(size, filters)
        else:
            records, why = self.bulk_or_per_client(lambda: self._list_all(size, filters), lambda found: not found)
            if why:
                log.info("GET /contacts: %s", why)
                records = self.per_client(per_page, **filters)
        return _matching(records or [], filters)

    def paged_list(self, page: int = 1, per_page: int = PAGE_PER_PAGE, **filters: Any) -> Page[Contact]:
        """One page: Page(data=[models], paging=Paging(page, per_page, total)).

        With `client_id`, or on an account that lists all contacts at once, this is the API's page.
        On an account that lists contacts only per client (billomat-api.md §4.2), the page is cut from
        the union of every client's contacts matching `filters`, in id order: page `page` holds
        records (page-1)*per_page+1 .. page*per_page of that union and `total` counts the union, so
        page, per_page and total mean what they mean for the API's own listing. Each such call reads
        every client's contacts (one request per client, more for a client with over 1000). Filters
        other than `client_id` are applied to that union as `list` applies them; on the API's own
        page they are the server's to apply.
        """
        if "client_id" in filters:
            return self._fetch_page(page, per_page, filters)
        result, why = self.bulk_or_per_client(
            lambda: self._fetch_page(page, per_page, filters),
            lambda found: not found.data and not found.paging.total,
        )
        if result is not None and not why:
            return result
        if page < 1 or per_page < 1:
            raise ValueError(f"page and per_page must be 1 or more (got page={page}, per_page={per_page})")
        log.info("GET /contacts: %s", why)
        union = _matching(self.per_client(**filters), filters)
        start = (page - 1) * per_page
        return Page(union[start : start + per_page], Paging(page=page, per_page=per_page, total=len(union)))

    def landed_check(self, payload: Mapping[str, str]) -> Landed | None:
        """A contact created with a customfield is found again among its client's contacts."""
        if not payload.get("customfield"):
            return None
        return self._find_landed(payload, ("customfield",), client_id="client_id")


class ClientProperties(Resource[ClientProperty]):
    """/client-properties: the property definitions of the account."""

    model = ClientProperty
    path = "client-properties"
    singular = "client-property"
    item_keys = ("client-property",)


class ClientPropertyValues(Resource[ClientPropertyValue]):
    """/client-property-values: POST sets a value; PUT and DELETE by id are UNCONFIRMED (billomat-api.md §4.4).

    `save()` of a value with an id and `delete()` work whatever the account answers: they try PUT /
    DELETE on the row and, where the API has no such call (405, or 404 for a row that does exist),
    set the value with POST on the row's client and property instead (`delete` sets it to ""; an
    empty value and no row mean the same, §4.4). Where a second POST adds a row rather than updating
    the first (UNCONFIRMED), the new row is the newest, which is the one that counts; the model then
    carries the new row's id. What worked is remembered for the rest of the session.
    """

    model = ClientPropertyValue
    path = "client-property-values"
    singular = "client-property-value"
    item_keys = ("client-property-value",)
    # The fields a PUT on a row may change (the seed sends just {"value": ...}); client and property stay.
    row_fields = ("value", "customfield")

    def __init__(self, api: Billomat) -> None:
        super().__init__(api)
        # billomat-api.md §4.4: whether PUT / DELETE /client-property-values/{id} exist is UNCONFIRMED:
        # None until an answer tells, then True or False.
        self.put_accepted: bool | None = None
        self.delete_accepted: bool | None = None

    def _update(
        self, id: str, payload: dict[str, str], landed: Callable[[], Model | None] | None
    ) -> dict[str, Any] | None:
        if self.put_accepted is not False:
            fields = {k: v for k, v in payload.items() if k in self.row_fields}
            try:
                body = super()._update(id, fields, landed)
            except ApiError as exc:
                if exc.status not in (404, 405):
                    raise
                row = self._row(id, payload)  # NotFoundError here: the row itself is gone, not the call
                self.put_accepted = False
                log.info("PUT /%s/%s answered %s; setting values with POST", self.path, id, exc.status)
            else:
                self.put_accepted = True
                return body
        else:
            row = self._row(id, payload)
        return self._post_value({**row, **payload}, landed)

    def delete_model(self, model: Model) -> None:
        """DELETE /client-property-values/{id}; where that call does not exist, set the value to "" by POST."""
        if model.id is None:
            raise ValueError(f"cannot delete a {self.singular} that has no id")
        if self.delete_accepted is not False:
            try:
                super().delete_model(model)
            except ApiError as exc:
                if exc.status not in (404, 405):
                    raise
                row = self._row(model.id, model.data)
                self.delete_accepted = False
                log.info(
                    "DELETE /%s/%s answered %s; clearing the value with POST", self.path, model.id, exc.status
                )
            else:
                self.delete_accepted = True
                return
        else:
            row = self._row(model.id, model.data)
        self._post_value({**row, "value": ""}, None)

    def _row(self, id: str, known: Mapping[str, str]) -> dict[str, str]:
        """The row's client_id, client_property_id and value: from `known` when it has them all, else GET by id."""
        keys = ("client_id", "client_property_id", "value")
        if known.get("client_id") and known.get("client_property_id") and "value" in known:
            return {k: known[k] for k in keys}
        found = self.find(id)  # a value not being changed must be sent as it is: POST requires it
        return {k: found.data.get(k, "") for k in keys}

    def _post_value(
        self, row: Mapping[str, str], landed: Callable[[], Model | None] | None
    ) -> dict[str, Any] | None:
        """POST the row's (client, property) with its value (and customfield, if given): upsert or newest row."""
        payload = {k: row[k] for k in ("client_id", "client_property_id", "value")}
        if "customfield" in row:
            payload["customfield"] = row["customfield"]
        return self._create(payload, landed)

    def landed_check(self, payload: Mapping[str, str]) -> Landed | None:
        """The value row of (client, property) holding the value sent means the set landed."""
        return self._find_landed(
            payload,
            ("client_property_id", "value"),
            client_id="client_id",
            client_property_id="client_property_id",
        )


class ClientTags(Resource[ClientTag]):
    """/client-tags: the tag cloud without client_id, a client's tags with it; no update."""

    model = ClientTag
    path = "client-tags"
    singular = "client-tag"
    # billomat-api.md §4.5: BNET/B4J see "client-tag"; JP claims the cloud uses "tag" (UNCONFIRMED).
    item_keys = ("client-tag", "tag")

    def _update(
        self, id: str, payload: dict[str, str], landed: Callable[[], Model | None] | None
    ) -> dict[str, Any] | None:
        # Not a gap in billsync: the API itself offers no update for tags (billomat-api.md §4.5).
        raise RejectedError(
            f"Billomat cannot update client tag {id} (there is no PUT /client-tags/{{id}}): "
            "delete it and create a new one",
            method="PUT",
            path=f"/client-tags/{id}",
        )

    def landed_check(self, payload: Mapping[str, str]) -> Landed | None:
        """The client having a tag of that name means the create landed."""
        return self._find_landed(payload, ("name",), client_id="client_id")


class Billomat:
    """One Billomat account: `clients`, `contacts`, `client_properties`, `client_property_values`, `client_tags`."""

    def __init__(
        self,
        billomat_id: str = "",
        api_key: str | Secret = "",
        base_url: str = "",
        app_id: str | Secret = "",
        app_secret: str | Secret = "",
        *,
        clock: Clock = SYSTEM_CLOCK,
        timeout: float = DEFAULT_TIMEOUT,
        rate_reserve: int = DEFAULT_RATE_RESERVE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        on_wait: WaitHook | None = None,
        on_retry: RetryHook | None = None,
        on_request: RequestHook | None = None,
        session: requests.Session | None = None,
    ) -> None:
        key, app, secret = _reveal(api_key), _reveal(app_id), _reveal(app_secret)
        if not key:
            raise ConfigError("Billomat needs an API key (BILLOMAT_API_KEY)")
        if not base_url:
            if not billomat_id:
                raise ConfigError(
                    "Billomat needs an account id (BILLOMAT_ID) or a base URL (BILLOMAT_BASE_URL)"
                )
            base_url = f"https://{billomat_id}.billomat.net/api"
        check_base_url(base_url, "BILLOMAT_BASE_URL")
        self.billomat_id = billomat_id
        self.base_url = base_url.rstrip("/")
        self.has_app = bool(app)
        headers = {"X-BillomatApiKey": key}
        if app:
            headers["X-AppId"] = app  # billomat-api.md §1/§2: a registered app gets the higher quota
        if secret:
            headers["X-AppSecret"] = secret
        self.transport = Transport(
            self.base_url,
            headers,
            clock=clock,
            timeout=timeout,
            rate_reserve=rate_reserve,
            # billomat-api.md §2: a registered app's calls count against the app's larger quota.
            rate_quota=APP_QUOTA if app and secret else DEFAULT_QUOTA,
            max_attempts=max_attempts,
            on_wait=on_wait,
            on_retry=on_retry,
            on_request=on_request,
            session=session,
            network_hint="check BILLOMAT_ID / BILLOMAT_BASE_URL and the network",
            auth_hint=self._key_refused,
        )
        self.clients = Clients(self)
        self.contacts = Contacts(self)
        self.client_properties = ClientProperties(self)
        self.client_property_values = ClientPropertyValues(self)
        self.client_tags = ClientTags(self)

    def __repr__(self) -> str:
        return f"Billomat(billomat_id={self.billomat_id!r}, base_url={self.base_url!r})"

    @classmethod
    def from_settings(cls, settings: BillomatSettings, **hooks: Any) -> Billomat:
        """A client for the account in `settings`; `hooks` are the keyword options of Billomat()."""
        options: dict[str, Any] = {
            "timeout": settings.timeout,
            "rate_reserve": settings.rate_reserve,
            **hooks,
        }
        return cls(
            settings.billomat_id,
            settings.api_key,
            settings.base_url,
            settings.app_id,
            settings.app_secret,
            **options,
        )

    @classmethod
    def from_env(cls, **hooks: Any) -> Billomat:
        """A client configured from BILLOMAT_* variables and ./billsync.yaml."""
        return cls.from_settings(load_settings().billomat(), **hooks)

    @property
    def request_count(self) -> int:
        """Requests actually sent so far (retries included)."""
        return self.transport.request_count

    def check_credentials(self) -> Client:
        """One cheap call (GET /clients/myself) that says plainly whether account and key are right."""
        try:
            body = self.transport.request("GET", MYSELF)
        except AccountNotFoundError as exc:
            raise AccountNotFoundError(
                f"no Billomat account {self._account}: check BILLOMAT_ID (or BILLOMAT_BASE_URL)",
                method=exc.method,
                path=exc.path,
                status=exc.status,
                api_message=exc.api_message,
            ) from exc
        except RejectedError as exc:
            # billomat-api.md §1: a bad app secret answered {"errors":{"error":"invalid secret"}} in HG's spec.
            if "secret" not in exc.api_message.lower():
                raise
            raise AuthError(
                "the app id/secret was refused: check BILLOMAT_APP_ID and BILLOMAT_APP_SECRET",
                method=exc.method,
                path=exc.path,
                status=exc.status,
                api_message=exc.api_message,
            ) from exc
        return self.clients.new(self.clients.record_of(body, "GET", MYSELF))

    def explain_401(self, error: AuthError, what: str) -> ApiError:
        """A 401 on a record URL: NotFoundError if the key works (a foreign id), else the AuthError."""
        # billomat-api.md §1: GET of another account's id answers 401 "Unauthorized" with a valid key.
        try:
            self.transport.request("GET", MYSELF)
        except AuthError:
            return error
        return NotFoundError(
            f"{what} is not a record of this account (Billomat answers 401 for another account's id; "
            "the API key itself works)",
            method=error.method,
            path=error.path,
            status=error.status,
            api_message=error.api_message,
        )

    def _key_refused(self, status: int, message: str) -> str:
        """What a 401/403 says on any call: which account refused the key and which variables to check."""
        keys = "BILLOMAT_API_KEY, BILLOMAT_APP_ID and BILLOMAT_APP_SECRET" if self.has_app else "BILLOMAT_API_KEY"
        # A key of another account is refused the same way (billomat-api.md §1), so name the account too.
        where = "BILLOMAT_ID" if self.billomat_id else "BILLOMAT_BASE_URL"
        return f"the API key was refused by Billomat account {self._account}: check {keys} and {where}"

    @property
    def _account(self) -> str:
        return repr(self.billomat_id) if self.billomat_id else f"at {self.base_url}"


def _reveal(value: str | Secret) -> str:
    return value.reveal() if isinstance(value, Secret) else to_text(value).strip()


def _matching(models: builtins.list[M], filters: Mapping[str, Any]) -> builtins.list[M]:
    """The models whose fields contain each filter's value (case-insensitive); fields a model lacks, and
    `client_id`/`order_by`, are left to the server."""
    wanted = {k: to_text(v).casefold() for k, v in filters.items() if k not in ("client_id", "order_by")}
    if not wanted:
        return models
    return [m for m in models if all(k not in m.data or v in m.data[k].casefold() for k, v in wanted.items())]


def _id_order(id: str | None) -> tuple[int, str]:
    text = id or ""
    return (int(text), "") if text.isdigit() else (-1, text)


__all__ = [
    "Billomat",
    "Client",
    "ClientProperty",
    "ClientPropertyValue",
    "ClientPropertyValues",
    "ClientProperties",
    "ClientTag",
    "ClientTags",
    "Clients",
    "Contact",
    "Contacts",
    "Model",
    "Page",
    "Paging",
    "Resource",
    "split_record",
    "text_records",
    "to_text",
]
