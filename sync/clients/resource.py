"""The Python API both clients share (SPEC §8): a model of one record and a resource that lists and saves them.

`Billomat` and `SnapBill` each subclass these with their endpoints and quirks; what a user calls —
`list`, `paged_list`, `where`, `find`, `new`, `model.save()`, `model.delete()` — has one shape.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar

from sync.clients.base import Transport
from sync.clients.paging import Page, query_filters

M = TypeVar("M", bound="ApiModel")


class ApiModel:
    """One record of a resource: `.data`, `.id`, `save()` (create or update) and `delete()`."""

    label_fields: ClassVar[tuple[str, ...]] = ("name",)  # shown by repr(), the first that is set
    resource: ApiResource[Any]
    data: dict[str, Any]

    @property
    def id(self) -> str | None:
        """The record's id as text, or None for a record not yet created."""
        value = self.data.get("id")
        return None if value in (None, "") else str(value)

    def save(self, *, landed: Callable[[], ApiModel | None] | None = None) -> Self:
        """Create (no id) or update (id); `.data` is refreshed from the answer.

        `landed()` finds the record if a create whose answer was lost did land; without it the
        resource decides (a check of its own, or a create that is not retried).
        """
        self.resource.save_model(self, landed=landed)
        return self

    def delete(self) -> None:
        """Delete this record."""
        self.resource.delete_model(self)

    def __repr__(self) -> str:
        label = next((self.data.get(name) for name in self.label_fields if self.data.get(name)), None)
        shown = f", name={label!r}" if label else ""
        return f"{type(self).__name__}(id={self.id!r}{shown})"


class ApiResource(ABC, Generic[M]):
    """One resource of an account: every record or one page (`list`), `where`, and the model's writes."""

    page_size: ClassVar[int] = 100  # `paged_list`'s default page size
    list_page_size: ClassVar[int] = 100  # the page size `list()` reads every page with

    def __init__(self, api: Any) -> None:
        self.api = api

    @property
    @abstractmethod
    def name(self) -> str:
        """The resource's name in URLs, e.g. "clients"."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} /{self.name}>"

    @property
    def transport(self) -> Transport:
        """The account's transport."""
        transport: Transport = self.api.transport
        return transport

    @abstractmethod
    def paged_list(self, page: int = 1, per_page: int = 0, **filters: Any) -> Page[M]:
        """One page of models and its paging."""

    @abstractmethod
    def list_all(self, per_page: int, filters: Mapping[str, Any]) -> builtins.list[M]:
        """Every record matching `filters`, all pages read, each record once."""

    def list(self, page: int | None = None, per_page: int | None = None, **filters: Any) -> builtins.list[M]:
        """Every record (all pages, each record once), or with `page` the models of that one page."""
        if page is not None:
            return self.paged_list(page, per_page or self.page_size, **filters).data
        return self.list_all(per_page or self.list_page_size, filters)

    def where(self, filters: Mapping[str, Any] | None = None, /, **keywords: Any) -> builtins.list[M]:
        """Every record matching the filters (all pages): `where(name=...)` or one dict of filters.

        Keywords win over the same key in the dict (`where({"client_number": "KD2"})` as the seed writes it).
        """
        return self.list(**query_filters(filters, keywords))

    @abstractmethod
    def save_model(self, model: M, *, landed: Callable[[], M | None] | None = None) -> None:
        """Create or update `model` on the server and refresh it from the answer."""

    @abstractmethod
    def delete_model(self, model: M) -> None:
        """Delete `model`'s record on the server."""
