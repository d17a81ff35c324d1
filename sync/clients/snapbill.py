"""The SnapBill v1 client: form-encoded POSTs with basic auth over the shared Transport (snapbill-api.md).

Every action is a POST to `/v1/<class>/<action>.json` or `/v1/<class>/<id>/<action>.json`; GET is
only for discovery (`client/add.json` describes the add form, and with it the account's `data-*`
custom fields). Answers come in three envelopes (§1)::

    {"code":200,"type":"item","class":"client","client":{...}}                       add, get
    {"code":200,"type":"result","status":"ok"[,"class":"client","client":{...}]}     update, delete
    {"code":200,"type":"list","page":1,"numpages":3,"class":"client","list":[...]}   list (no total)

Errors carry `message` and an `errors` dict by field (an empty key is a general error), §1 "Errors".
"""

from __future__ import annotations

import base64
import builtins
import json as jsonlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

import requests

from sync.clients.base import Landed, RequestHook, Transport
from sync.clients.paging import MAX_PAGES, Page, query_filters
from sync.clients.retry import DEFAULT_MAX_ATTEMPTS, RetryHook
from sync.clock import SYSTEM_CLOCK, Clock
from sync.errors import ConfigError, NotFoundError, ProtocolError, RejectedError
from sync.settings import (
    DEFAULT_SNAPBILL_URL,
    DEFAULT_TIMEOUT,
    Secret,
    SnapBillSettings,
    check_base_url,
    load_settings,
)

log = logging.getLogger(__name__)

M = TypeVar("M", bound="Model")

# snapbill-api.md §1 "Paging": perpage max 100 (documented for user/list, probably the same for clients).
LIST_PER_PAGE = 100
PAGE_PER_PAGE = 25  # the documented default page size
# snapbill-api.md §3: the client parameters add/update take. `credit` is left out on purpose: changing it
# books a credit payment. `state` only on update, and the recorded update ignored it (§1).
CLIENT_PARAMS = frozenset(
    {
        "number",
        "firstname",
        "surname",
        "company",
        "email",
        "cell",
        "country_code",
        "currency_code",
        "payment_method_code",
        "discount",
    }
)
CLIENT_UPDATE_ONLY = frozenset({"state"})
DATA_PREFIX = "data-"


class SnapBillRejectedError(RejectedError):
    """SnapBill refused a request (HTTP 400 / an error body); `.errors` maps field -> message ("" = general)."""

    def __init__(self, message: str, *, errors: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        self.errors = dict(errors or {})
        super().__init__(message, **kwargs)


def error_text(body: Any) -> tuple[str, dict[str, str]]:
    """`message` and the `errors` dict of an error body as one line, e.g. "Invalid input: [number] in use"."""
    if not isinstance(body, dict):
        return "", {}
    message = str(body.get("message") or "").strip()
    raw = body.get("errors")
    errors: dict[str, str] = {}
    if isinstance(raw, dict):
        errors = {str(k): _scalar_text(v) for k, v in raw.items()}
    elif isinstance(raw, list):  # not documented; accept a list of messages as general errors
        errors = {"": "; ".join(_scalar_text(v) for v in raw)}
    # PY exceptions.py prints "[field]: msg", or only "msg" for the empty (general) key.
    details = "; ".join(f"[{k}] {v}" if k else v for k, v in errors.items() if v)
    if message and details:
        return f"{message}: {details}", errors
    return message or details, errors


def _scalar_text(value: Any) -> str:
    if isinstance(value, list):
        return "; ".join(_scalar_text(v) for v in value)
    return "" if value is None else str(value)


class SnapBillTransport(Transport):
    """Transport with SnapBill's error bodies: `message` + `errors` by field, and errors inside a 200."""

    def error_message(self, response: requests.Response) -> str:
        """snapbill-api.md §1: JSON with `message` and `errors`; anything else as the shared reader does."""
        try:
            body = jsonlib.loads(response.content)
        except ValueError:
            body = None
        text, _ = error_text(body)
        return text[:300] if text else super().error_message(response)

    def _interpret(
        self, response: requests.Response, method: str, call: str, expect: int | None
    ) -> dict[str, Any] | None:
        try:
            data = super()._interpret(response, method, call, expect)
        except RejectedError as exc:
            try:
                body = jsonlib.loads(response.content)
            except ValueError:
                body = None
            _, errors = error_text(body)
            raise SnapBillRejectedError(
                exc.api_message or str(exc),
                errors=errors,
                method=exc.method,
                path=exc.path,
                status=exc.status,
                api_message=exc.api_message,
            ) from None
        # snapbill-api.md §1: PY-old raised on status "error", PHP on code != 200, both inside any answer.
        if data is not None and (data.get("status") == "error" or data.get("code") not in (None, 200)):
            text, errors = error_text(data)
            text = self.scrub(text or "error")
            raise SnapBillRejectedError(
                text, errors=errors, method=method, path=call.partition(" ")[2],
                status=response.status_code, api_message=text,
            )
        return data


@dataclass(frozen=True)
class SnapBillPaging:
    """Where a SnapBill page sits: `page` (1-based), the `per_page` asked, and `numpages` (there is no total)."""

    page: int
    per_page: int
    numpages: int

    @property
    def total(self) -> None:
        """SnapBill's lists carry no total count (snapbill-api.md §1)."""
        return None


@dataclass(frozen=True)
class FormControl:
    """One control of a discovery form (`GET /v1/client/add.json`)."""

    name: str
    type: str
    caption: str = ""
    required: bool = False
    default: str | None = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClientForm:
    """The account's client add form: its controls, the `data-*` keys it defines and the allowed options."""

    controls: tuple[FormControl, ...]

    @property
    def data_keys(self) -> frozenset[str]:
        """The custom field keys the account defines (`data-vat_number` -> `vat_number`)."""
        return frozenset(c.name[len(DATA_PREFIX) :] for c in self.controls if c.name.startswith(DATA_PREFIX))

    @property
    def params(self) -> frozenset[str]:
        """Every parameter name the form shows (including `data-*`)."""
        return frozenset(c.name for c in self.controls)

    def control(self, name: str) -> FormControl | None:
        """The control named `name`, if the form has one."""
        return next((c for c in self.controls if c.name == name), None)

    def options(self, name: str) -> tuple[str, ...]:
        """The option keys of a select control (e.g. the enabled currencies); () when not a select."""
        control = self.control(name)
        return control.options if control is not None else ()

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ClientForm:
        """Parse `{"code":200,"type":"form","controls":[...]}` (fixture client_add_form_get.json)."""
        controls = []
        for raw in body.get("controls") or []:
            if not isinstance(raw, dict) or not raw.get("name"):
                continue
            options = tuple(
                str(o.get("key")) for o in raw.get("options") or [] if isinstance(o, dict) and "key" in o
            )
            default = raw.get("default", raw.get("value"))
            controls.append(
                FormControl(
                    name=str(raw["name"]),
                    type=str(raw.get("type") or ""),
                    caption=str(raw.get("caption") or ""),
                    required=bool(raw.get("required")),
                    default=None if default is None else str(default),
                    options=options,
                )
            )
        return cls(tuple(controls))


class Model:
    """One SnapBill record: `.data` is the object as the API returned it (JSON values, nested objects kept).

    Custom fields live in `.data["data"]` (also `.custom`). Set values with `model["company"] = ...` or
    `model.custom["vat_number"] = ...`; `save()` sends only writable parameters (and, for a record
    read from the API, only those that changed since; a model made by `new({"id": ..., ...})` sends
    every writable parameter it was given, as the seed's update by id does).
    """

    def __init__(self, resource: Resource[Any], data: Mapping[str, Any] | None = None) -> None:
        self.resource = resource
        self.data: dict[str, Any] = {}
        # The parameters as last read from the API; None: nothing read (every parameter given is a change).
        self._loaded: dict[str, str] | None = None
        self.load(data or {})

    @property
    def id(self) -> str | None:
        """The SnapBill id (numeric, unique within the account) as text, or None before it is created."""
        value = self.data.get("id")
        return None if value in (None, "") else str(value)

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

    def save(self, *, landed: Callable[[], Model | None] | None = None) -> Self:
        """Create (no id: `add`) or update (only changed parameters); `.data` is refreshed from the answer."""
        self.resource.save_model(self, landed=landed)
        return self

    def delete(self) -> None:
        """Delete this record (SnapBill soft-deletes: the state becomes `dead`)."""
        self.resource.delete(self.require_id())

    def require_id(self) -> str:
        """The id, or ValueError for a record not yet created."""
        if self.id is None:
            raise ValueError(f"this {self.resource.cls} has no id yet")
        return self.id

    def __repr__(self) -> str:
        label = self.data.get("name") or self.data.get("number")
        shown = f", name={label!r}" if label else ""
        return f"{type(self).__name__}(id={self.id!r}{shown})"


class Client(Model):
    """A SnapBill client."""

    def set_payment(self, payment_method_code: str, **params: Any) -> None:
        """Set the payment method (and its details) of this client."""
        assert isinstance(self.resource, Clients)
        self.resource.set_payment(self.require_id(), payment_method_code, **params)


class Contact(Model):
    """A SnapBill contact (read only: the API documents no way to create or change one, §4)."""


class Resource(Generic[M]):
    """One SnapBill class: list, paged_list, where, find, new, add, update, delete."""

    model: ClassVar[type[Model]] = Model
    cls: ClassVar[str] = ""  # the class name in URLs and envelopes, e.g. "client"
    writable: ClassVar[frozenset[str]] = frozenset()
    filters: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, api: SnapBill) -> None:
        self.api = api

    def __repr__(self) -> str:
        return f"<{type(self).__name__} /{self.cls}>"

    @property
    def transport(self) -> Transport:
        """The account's transport."""
        return self.api.transport

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
                value = _nested_code(record, key)
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
        number = 1
        previous: builtins.list[str] | None = None
        while True:
            if number > MAX_PAGES:
                raise ProtocolError(f"still more pages after {MAX_PAGES}; giving up", method="POST",
                                    path=f"/{self.cls}/list.json")
            page = self.paged_list(number, per_page, **filters)
            keys = [m.id or repr(m.data) for m in page.data]
            if previous is not None and keys and keys == previous:
                raise ProtocolError(
                    f"page {number} holds the same records as page {number - 1}: the server ignores paging",
                    method="POST",
                    path=f"/{self.cls}/list.json",
                )
            yield page.data
            paging = page.paging
            assert isinstance(paging, SnapBillPaging)
            # What a page past the end answers is unknown (§1): never ask for one.
            if not page.data or number >= paging.numpages:
                return
            previous = keys
            number += 1

    def list(self, page: int | None = None, per_page: int | None = None, **filters: Any) -> builtins.list[M]:
        """Every record (all pages, perpage=100; a record seen twice is kept once), or one page's with `page`."""
        if page is not None:
            return self.paged_list(page, per_page or PAGE_PER_PAGE, **filters).data
        records: dict[str, M] = {}
        for models in self.iter_pages(per_page or LIST_PER_PAGE, **filters):
            for model in models:
                records[model.id or f"#{len(records)}"] = model
        return builtins.list(records.values())

    def where(self, filters: Mapping[str, Any] | None = None, /, **keywords: Any) -> builtins.list[M]:
        """Every record matching the filters (all pages): `where(email=...)`, `where({"query": ...})`."""
        return self.list(**query_filters(filters, keywords))

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
        record = _object_of(body, self.cls)
        return None if record is None else self.from_api(record)

    def delete(self, id: int | str) -> None:
        """`POST <class>/<id>/delete.json` (a soft delete: state `dead`, §3)."""
        self.api.call(f"{self.cls}/{id}/delete", {}, idempotent=True)

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
        record = _object_of(body, self.cls)
        if record is None:
            found = ", ".join(sorted(body)) if body else "an empty body"
            raise ProtocolError(f"expected a {self.cls!r} object, got {found}", method="POST", path=f"/{path}.json")
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
            page=_int(body.get("page"), page), per_page=per_page, numpages=max(1, _int(body.get("numpages"), 1))
        )
        return items, paging


class Clients(Resource[Client]):
    """`client`: add, list (filters email, query), get, update, delete, set_payment."""

    model = Client
    cls = "client"
    writable = CLIENT_PARAMS | CLIENT_UPDATE_ONLY
    filters = frozenset({"email", "query"})

    def set_payment(self, id: int | str, payment_method_code: str, **params: Any) -> None:
        """`POST client/<id>/set_payment.json` (answers `result/ok` without an object)."""
        self.api.call(
            f"client/{id}/set_payment", {"payment_method_code": payment_method_code, **params}, idempotent=True
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
            log.warning("the SnapBill add form could not be read (%s); reading custom fields from a client", exc)
        page = self.paged_list(1, 1)
        if page.data and isinstance(page.data[0].data.get("data"), dict):
            return frozenset(page.data[0].custom)
        return frozenset()


class Contacts(Resource[Contact]):
    """`contact`: list (filter client_id) and get only; no add or update is documented (§4)."""

    model = Contact
    cls = "contact"
    filters = frozenset({"client_id"})

    def add(self, params: Mapping[str, Any], *, landed: Callable[[], Contact | None] | None = None) -> Contact:
        """Not possible: snapbill-api.md §4 documents no way to create a contact."""
        raise RejectedError("SnapBill's API has no documented way to create a contact", method="POST",
                            path="/contact/add.json")

    def update(self, id: int | str, params: Mapping[str, Any]) -> Contact | None:
        """Not possible: snapbill-api.md §4 documents no way to change a contact."""
        raise RejectedError("SnapBill's API has no documented way to change a contact", method="POST",
                            path=f"/contact/{id}/update.json")


class SnapBill:
    """One SnapBill account: `clients` and `contacts` (SPEC §8, the same shape as `Billomat`)."""

    def __init__(
        self,
        user: str = "",
        password: str | Secret = "",
        base_url: str = DEFAULT_SNAPBILL_URL,
        *,
        clock: Clock = SYSTEM_CLOCK,
        timeout: float = DEFAULT_TIMEOUT,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        on_retry: RetryHook | None = None,
        on_request: RequestHook | None = None,
        session: requests.Session | None = None,
    ) -> None:
        secret = password.reveal() if isinstance(password, Secret) else str(password or "")
        if not user or not secret:
            raise ConfigError("SnapBill needs a user and a password (SNAPBILL_USER, SNAPBILL_PASSWORD)")
        base_url = (base_url or DEFAULT_SNAPBILL_URL).rstrip("/")
        check_base_url(base_url, "SNAPBILL_BASE_URL")
        self.user = user
        self.base_url = base_url
        token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
        # snapbill-api.md §0: HTTP basic auth. Sent up front (not after the 401 challenge) so every call
        # is one request; Transport never follows redirects, so the header cannot leak to another host.
        self.transport = SnapBillTransport(
            base_url,
            {"Authorization": f"Basic {token}"},
            clock=clock,
            timeout=timeout,
            rate_reserve=0,  # §5: no rate limit is documented
            max_attempts=max_attempts,
            on_retry=on_retry,
            on_request=on_request,
            session=session,
            network_hint="check SNAPBILL_BASE_URL and the network",
            auth_hint=self._login_refused,
        )
        self.clients = Clients(self)
        self.contacts = Contacts(self)

    def __repr__(self) -> str:
        return f"SnapBill(user={self.user!r}, base_url={self.base_url!r})"

    @classmethod
    def from_settings(cls, settings: SnapBillSettings, **hooks: Any) -> SnapBill:
        """A client for the account in `settings`; `hooks` are the keyword options of SnapBill()."""
        return cls(settings.user, settings.password, settings.base_url, **{"timeout": settings.timeout, **hooks})

    @classmethod
    def from_env(cls, **hooks: Any) -> SnapBill:
        """A client configured from SNAPBILL_* variables and ./billsync.yaml."""
        return cls.from_settings(load_settings().snapbill(), **hooks)

    @property
    def request_count(self) -> int:
        """Requests actually sent so far (retries included)."""
        return self.transport.request_count

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
        """One API call: `<path>.json` with `params` as a form body (§0: even `get` posts an empty body)."""
        form = encode_form(params or {}) if method == "POST" else None
        return self.transport.request(
            method,
            f"{path}.json",
            data=form if form else ("" if method == "POST" else None),
            idempotent=idempotent,
            retry=retry,
            landed=landed,
        )

    def _login_refused(self, status: int, message: str) -> str:
        """What a 401/403 says on any call: SnapBill, the user, and which variables to check."""
        if status == 403:
            # snapbill-api.md §1 (Errors): a user's URL-prefix ALLOW/DENY rules deny calls (403?); the login worked.
            return (
                f"SnapBill user {self.user!r} at {self.base_url} may not make this call ({message}): "
                "allow it in the user's API permissions, or use another SNAPBILL_USER"
            )
        return (
            f"SnapBill refused the login of user {self.user!r} at {self.base_url}: "
            "check SNAPBILL_USER and SNAPBILL_PASSWORD (and SNAPBILL_BASE_URL)"
        )

    def check_credentials(self) -> ClientForm:
        """One cheap call (`GET client/add.json`) that says whether the login works; returns the form."""
        return self.clients.form()


def form_value(value: Any) -> str:
    """A parameter value as form text: None -> "", booleans 1/0, everything else str()."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def encode_form(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Form fields in order: `{"data": {k: v}}` -> `data-k=v` (§2), lists -> `key[]=v` (§0)."""
    fields: list[tuple[str, str]] = []
    for key, value in params.items():
        if key == "data" and isinstance(value, Mapping):
            fields.extend((f"{DATA_PREFIX}{k}", form_value(v)) for k, v in value.items())
        elif isinstance(value, list | tuple | set | frozenset):
            name = key if key.endswith("[]") else f"{key}[]"
            fields.extend((name, form_value(v)) for v in value)
        else:
            fields.append((key, form_value(value)))
    return fields


def _object_of(body: Mapping[str, Any] | None, cls: str) -> dict[str, Any] | None:
    if not body:
        return None
    named = body.get("class")
    key = named if isinstance(named, str) else cls
    for name in (key, cls):
        if isinstance(body.get(name), dict):
            return dict(body[name])
    return None


def _nested_code(record: Mapping[str, Any], key: str) -> str | None:
    """`country_code` of a record read back is `country.code` (§3: the object, not the parameter)."""
    nested = {"country_code": "country", "currency_code": "currency", "payment_method_code": "payment_method"}
    if key in nested and isinstance(record.get(nested[key]), dict):
        code = record[nested[key]].get("code")
        return None if code is None else str(code)
    return None


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


__all__ = [
    "CLIENT_PARAMS",
    "Client",
    "ClientForm",
    "Clients",
    "Contact",
    "Contacts",
    "FormControl",
    "Model",
    "Resource",
    "SnapBill",
    "SnapBillPaging",
    "SnapBillRejectedError",
    "SnapBillTransport",
    "encode_form",
    "error_text",
]
