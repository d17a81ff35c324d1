"""Billomat's resources, each with its endpoint and quirks (billomat-api.md §4): clients, contacts listed
per client, property values without PUT/DELETE, tags without update."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sync.clients.base import Landed
from sync.clients.billomat.models import (
    LIST_PER_PAGE,
    PAGE_PER_PAGE,
    Account,
    Client,
    ClientProperty,
    ClientPropertyValue,
    ClientTag,
    Contact,
    M,
    Model,
    Resource,
)
from sync.clients.billomat.records import id_order, to_text
from sync.clients.paging import Page, Paging
from sync.errors import ApiError, AuthError, NotFoundError, RejectedError

log = logging.getLogger(__name__)

R = TypeVar("R")

MYSELF = "clients/myself"


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

    def __init__(self, api: Account) -> None:
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
                records.extend(self.list_all(per_page or LIST_PER_PAGE, {**filters, "client_id": client_id}))
        return sorted(records, key=lambda contact: id_order(contact.id))

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
            records: builtins.list[Contact] | None = self.list_all(size, filters)
        else:
            records, why = self.bulk_or_per_client(
                lambda: self.list_all(size, filters), lambda found: not found
            )
            if why:
                log.info("GET /contacts: %s", why)
                records = self.per_client(per_page, **filters)
        return matching(records or [], filters)

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
        union = matching(self.per_client(**filters), filters)
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

    def __init__(self, api: Account) -> None:
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


def matching(models: builtins.list[M], filters: Mapping[str, Any]) -> builtins.list[M]:
    """The models whose fields contain each filter's value (case-insensitive); fields a model lacks, and
    `client_id`/`order_by`, are left to the server."""
    wanted = {k: to_text(v).casefold() for k, v in filters.items() if k not in ("client_id", "order_by")}
    if not wanted:
        return models
    return [m for m in models if all(k not in m.data or v in m.data[k].casefold() for k, v in wanted.items())]
