"""SnapBill's Python API (SPEC §8, the same shape as Billomat's): models and the generic resource."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from sync.clients.base import Landed, Transport
from sync.clients.paging import Page, walk_pages
from sync.clients.resource import ApiModel, ApiResource
from sync.clients.snapbill.wire import DATA_PREFIX, SnapBillPaging, form_value, int_or, nested_code, object_of
from sync.errors import ProtocolError

M = TypeVar("M", bound="Model")
LIST_PER_PAGE = 100
PAGE_PER_PAGE = 25  # the documented default page size


class Account(Protocol):
    """What a resource needs of its account (`SnapBill`), without importing it: no import cycle."""

    @property
    def transport(self) -> Transport:
        """The account's transport."""
        ...

    def call(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        *,
        method: str = "POST",
        idempotent: bool = False,
        retry: bool = True,
        landed: Landed | None = None,
    ) -> dict[str, Any] | None:
        """One API call: `<path>.json` with `params` as a form body."""
        ...


class Model(ApiModel):
    """One SnapBill record: `.data` is the object as the API returned it (JSON values, nested objects kept).

    Custom fields live in `.data["data"]` (also `.custom`). Set values with `model["company"] = ...` or
    `model.custom["vat_number"] = ...`; `save()` creates (`add`) or updates, and sends only writable
    parameters (for a record read from the API, only those that changed since; a model made by
    `new({"id": ..., ...})` sends every writable parameter it was given, as the seed's update by id
    does). `delete()` soft-deletes: the state becomes `dead`.
    """

    label_fields = ("name", "number")

    def __init__(self, resource: Resource[Any], data: Mapping[str, Any] | None = None) -> None:
        self.resource: Resource[Any] = resource
        self.data: dict[str, Any] = {}
        # The parameters as last read from the API; None: nothing read (every parameter given is a change).
        self._loaded: dict[str, str] | None = None
        self.load(data or {})

    @property
    def xid(self) -> str | None:
        """The xid (unique across accounts), or None."""
        return self.data.get("xid") or None

    @property
    def custom(self) -> dict[str, Any]:
        """The custom `data` fields (every field the account defines; None when unset)."""
        value = self.data.setdefault("data", {})
        if not isinstance(value, dict):
            value = self.data["data"] = {}
        return value

    def __getitem__(self, key: str) -> Any:
        return self.data.get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        if key.startswith(DATA_PREFIX):
            self.custom[key[len(DATA_PREFIX) :]] = value
        else:
            self.data[key] = value

    def load(self, record: Mapping[str, Any]) -> None:
        """Replace `.data` with a record as the API returned it."""
        self.data = dict(record)
        if isinstance(self.data.get("data"), dict):
            self.data["data"] = dict(self.data["data"])
        self._loaded = self.resource.params_of(self.data) if self.id else {}

    def params(self) -> dict[str, str]:
        """The writable parameters this model holds, as they would be sent (`data-*` flattened)."""
        return self.resource.params_of(self.data)

    def changed_params(self) -> dict[str, str]:
        """The writable parameters that differ from what was loaded (everything for a new record)."""
        now = self.params()
        if not self.id:
            return {k: v for k, v in now.items() if v != ""}
        if self._loaded is None:
            return now
        return {k: v for k, v in now.items() if self._loaded.get(k, "") != v}

    def require_id(self) -> str:
        """The id, or ValueError for a record not yet created."""
        if self.id is None:
            raise ValueError(f"this {self.resource.cls} has no id yet")
        return self.id


class Resource(ApiResource[M]):
    """One SnapBill class: list, paged_list, where, find, new, add, update, delete.

    `list()` reads every page (perpage=100; a record seen twice is kept once); `where(email=...)`,
    `where({"query": ...})` filter as the API does.
    """

    page_size = PAGE_PER_PAGE
    list_page_size = LIST_PER_PAGE

    model: ClassVar[type[Model]] = Model
    cls: ClassVar[str] = ""  # the class name in URLs and envelopes, e.g. "client"
    writable: ClassVar[frozenset[str]] = frozenset()
    filters: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, api: Account) -> None:
        super().__init__(api)
        self.api: Account = api

    @property
    def name(self) -> str:
        """The class name in URLs, e.g. "client"."""
        return self.cls

    def new(self, data: Mapping[str, Any] | None = None) -> M:
        """A model from `data`; `{"data": {...}}` or `data-<key>` entries set custom fields."""
        record = dict(data or {})
        custom = dict(record.pop("data", None) or {})
        for key in [k for k in record if k.startswith(DATA_PREFIX)]:
            custom[key[len(DATA_PREFIX) :]] = record.pop(key)
        if custom:
            record["data"] = custom
        model = self.model(self, record)
        model._loaded = None  # the caller's data, not an answer: all of it is to be sent on save
        return model  # type: ignore[return-value]

    def from_api(self, record: Mapping[str, Any]) -> M:
        """A model of a record as the API returned it (a later save sends only what changed since)."""
        return self.model(self, record)  # type: ignore[return-value]

    def params_of(self, record: Mapping[str, Any]) -> dict[str, str]:
        """The writable parameters of a record (API object or new data) as form values."""
        out: dict[str, str] = {}
        for key in sorted(self.writable):
            value = record.get(key)
            if value is None:
                value = nested_code(record, key)
            if value is not None:
                out[key] = form_value(value)
        custom = record.get("data")
        if isinstance(custom, dict):
            for key, value in custom.items():
                out[f"{DATA_PREFIX}{key}"] = form_value(value)
        return out

    # -- reads --------------------------------------------------------------------------------------

    def find(self, id: int | str) -> M:
        """`POST <class>/<id>/get.json` (an empty body); NotFoundError when there is no such record."""
        body = self.api.call(f"{self.cls}/{id}/get", {}, idempotent=True)
        return self.from_api(self.item_of(body, f"{self.cls}/{id}/get"))

    def paged_list(self, page: int = 1, per_page: int = PAGE_PER_PAGE, **filters: Any) -> Page[M]:
        """One page: Page(data=[models], paging=SnapBillPaging(page, per_page, numpages))."""
        params = {**filters, "page": page, "perpage": per_page}
        path = f"{self.cls}/list"
        body = self.api.call(path, params, idempotent=True)
        items, paging = self.list_of(body, path, page=page, per_page=per_page)
        return Page([self.from_api(item) for item in items], paging)  # type: ignore[arg-type]

    def iter_pages(self, per_page: int = LIST_PER_PAGE, **filters: Any) -> Iterator[builtins.list[M]]:
        """Each page's models in turn, `page` 1..`numpages` (snapbill-api.md §1: loop until page >= numpages)."""
        pages = walk_pages(
            lambda number: self.paged_list(number, per_page, **filters),
            key=lambda model: model.id or repr(model.data),
            describe=lambda number: f"POST /{self.cls}/list.json",
            # What a page past the end answers is unknown (§1): never ask for one.
            last=lambda page, number: number >= _numpages(page),
        )
        for page in pages:
            yield page.data

    def list_all(self, per_page: int, filters: Mapping[str, Any]) -> builtins.list[M]:
        """Every record matching `filters` (all pages; a record seen twice is kept once)."""
        records: dict[str, M] = {}
        for models in self.iter_pages(per_page, **filters):
            for model in models:
                records[model.id or f"#{len(records)}"] = model
        return builtins.list(records.values())

    # -- writes -------------------------------------------------------------------------------------

    def add(self, params: Mapping[str, Any], *, landed: Callable[[], M | None] | None = None) -> M:
        """`POST <class>/add.json`; a failure that may have landed is retried only after `landed()` says no."""
        check = self._wrap_landed(landed) if landed is not None else None
        path = f"{self.cls}/add"
        body = self.api.call(path, params, landed=check, retry=check is not None)
        return self.from_api(self.item_of(body, path))

    def update(self, id: int | str, params: Mapping[str, Any]) -> M | None:
        """`POST <class>/<id>/update.json` with only `params`; the updated object (§1: it is in the answer)."""
        path = f"{self.cls}/{id}/update"
        # Sending the same update twice gives the same record: safe to retry after a lost answer.
        body = self.api.call(path, params, idempotent=True)
        record = object_of(body, self.cls)
        return None if record is None else self.from_api(record)

    def delete(self, id: int | str) -> None:
        """`POST <class>/<id>/delete.json` (a soft delete: state `dead`, §3)."""
        self.api.call(f"{self.cls}/{id}/delete", {}, idempotent=True)

    def delete_model(self, model: Model) -> None:
        """Delete `model`'s record (`delete.json`: a soft delete)."""
        self.delete(model.require_id())

    def save_model(self, model: Model, *, landed: Callable[[], Model | None] | None = None) -> None:
        """Create or update `model` and refresh it from the answer."""
        params = model.changed_params()
        if model.id is None:
            saved = self.add(params, landed=landed)  # type: ignore[arg-type]
            model.load(saved.data)
            return
        if not params:
            return
        updated = self.update(model.id, params)
        model.load(updated.data if updated is not None else self.find(model.id).data)

    def _wrap_landed(self, landed: Callable[[], M | None]) -> Landed:
        def check() -> dict[str, Any] | None:
            found = landed()
            if found is None:
                return None
            return {"code": 200, "type": "item", "class": self.cls, self.cls: dict(found.data)}

        return check

    # -- envelopes ----------------------------------------------------------------------------------

    def item_of(self, body: Mapping[str, Any] | None, path: str) -> dict[str, Any]:
        """The object of an `item` (or `result` with object) answer."""
        record = object_of(body, self.cls)
        if record is None:
            found = ", ".join(sorted(body)) if body else "an empty body"
            raise ProtocolError(
                f"expected a {self.cls!r} object, got {found}", method="POST", path=f"/{path}.json"
            )
        return record

    def list_of(
        self, body: Mapping[str, Any] | None, path: str, *, page: int, per_page: int
    ) -> tuple[builtins.list[dict[str, Any]], SnapBillPaging]:
        """The items and paging of a `list` answer (`page`, `numpages`; no total)."""
        if not body or not isinstance(body.get("list"), builtins.list):
            found = ", ".join(sorted(body)) if body else "an empty body"
            raise ProtocolError(f"expected a list answer, got {found}", method="POST", path=f"/{path}.json")
        items = [item for item in body["list"] if isinstance(item, dict)]
        paging = SnapBillPaging(
            page=int_or(body.get("page"), page),
            per_page=per_page,
            numpages=max(1, int_or(body.get("numpages"), 1)),
        )
        return items, paging


def _numpages(page: Page[Any]) -> int:
    paging = page.paging
    assert isinstance(paging, SnapBillPaging)
    return paging.numpages
