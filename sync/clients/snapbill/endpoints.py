"""SnapBill's classes with their endpoints and limits: clients (payment, the add form), contacts (read only)."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sync.clients.snapbill.forms import ClientForm
from sync.clients.snapbill.models import Model, Resource
from sync.clients.snapbill.wire import CLIENT_PARAMS, CLIENT_UPDATE_ONLY
from sync.errors import NotFoundError, ProtocolError, RejectedError

log = logging.getLogger(__name__)


class Client(Model):
    """A SnapBill client."""

    def set_payment(self, payment_method_code: str, **params: Any) -> None:
        """Set the payment method (and its details) of this client."""
        assert isinstance(self.resource, Clients)
        self.resource.set_payment(self.require_id(), payment_method_code, **params)


class Contact(Model):
    """A SnapBill contact (read only: the API documents no way to create or change one, §4)."""


class Clients(Resource[Client]):
    """`client`: add, list (filters email, query), get, update, delete, set_payment."""

    model = Client
    cls = "client"
    writable = CLIENT_PARAMS | CLIENT_UPDATE_ONLY
    filters = frozenset({"email", "query"})

    def set_payment(self, id: int | str, payment_method_code: str, **params: Any) -> None:
        """`POST client/<id>/set_payment.json` (answers `result/ok` without an object)."""
        self.api.call(
            f"client/{id}/set_payment",
            {"payment_method_code": payment_method_code, **params},
            idempotent=True,
        )

    def by_number(self, number: str) -> builtins.list[Client]:
        """The clients whose `number` is exactly `number` (§3: `query` searches fuzzily, so filter after it)."""
        return [c for c in self.list(query=number) if str(c.data.get("number", "")) == number]

    def form(self) -> ClientForm:
        """`GET client/add.json`: the add form, which names the account's `data-*` custom fields (§2)."""
        body = self.api.call("client/add", None, method="GET")
        if not body or body.get("type") != "form":
            found = ", ".join(sorted(body)) if body else "an empty body"
            raise ProtocolError(f"expected a form, got {found}", method="GET", path="/client/add.json")
        return ClientForm.from_body(body)

    def data_keys(self) -> frozenset[str]:
        """The custom field keys the account defines: from the add form, else from a listed client's `data`."""
        try:
            return self.form().data_keys
        except (NotFoundError, ProtocolError) as exc:
            log.warning(
                "the SnapBill add form could not be read (%s); reading custom fields from a client", exc
            )
        page = self.paged_list(1, 1)
        if page.data and isinstance(page.data[0].data.get("data"), dict):
            return frozenset(page.data[0].custom)
        return frozenset()


class Contacts(Resource[Contact]):
    """`contact`: list (filter client_id) and get only; no add or update is documented (§4)."""

    model = Contact
    cls = "contact"
    filters = frozenset({"client_id"})

    def add(
        self, params: Mapping[str, Any], *, landed: Callable[[], Contact | None] | None = None
    ) -> Contact:
        """Not possible: snapbill-api.md §4 documents no way to create a contact."""
        raise RejectedError(
            "SnapBill's API has no documented way to create a contact",
            method="POST",
            path="/contact/add.json",
        )

    def update(self, id: int | str, params: Mapping[str, Any]) -> Contact | None:
        """Not possible: snapbill-api.md §4 documents no way to change a contact."""
        raise RejectedError(
            "SnapBill's API has no documented way to change a contact",
            method="POST",
            path=f"/contact/{id}/update.json",
        )
