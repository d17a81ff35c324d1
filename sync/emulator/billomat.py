"""Billomat request handling: account/format/auth/rate checks, routing, list envelopes, error bodies.

Everything here runs under the emulator lock; state.py holds the records and business rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.emulator import fields as F
from sync.emulator.config import EmulatorConfig
from sync.emulator.ratelimit import RateDecision, RateLimiter
from sync.emulator.state import ApiError, BillomatState, Record, row_not_found

JSON = "application/json"
MAX_PER_PAGE = 1000  # billomat-api.md §3: per_page default 100, max 1000
DEFAULT_PER_PAGE = 100
# Query parameters that are never filters.
_RESERVED = frozenset({"page", "per_page", "order_by", "format", "api_key", "jsonp"})

NOT_JSON_TEXT = (
    "406 Not Acceptable: the billsync emulator answers JSON only. Send 'Accept: application/json' "
    "or '?format=json' (the real Billomat API would answer XML here).\n"
)


@dataclass
class ApiRequest:
    """One HTTP request as the API sees it (path is the full URL path, query holds the last value per key)."""

    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass
class ApiResponse:
    """One HTTP answer."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Resource:
    """A Billomat resource: table name in the state, URL name, JSON names, fields and list filters."""

    table: str
    plural: str
    singular: str
    fields: tuple[str, ...]
    filters: frozenset[str]


_RESOURCES = {
    r.plural: r
    for r in (
        _Resource(
            "clients",
            "clients",
            "client",
            F.CLIENT_FIELDS,
            frozenset(
                {
                    "name",
                    "client_number",
                    "email",
                    "first_name",
                    "last_name",
                    "country_code",
                    "note",
                    "tags",
                    "customfield",
                    "archived",
                }
            ),
        ),
        _Resource("contacts", "contacts", "contact", F.CONTACT_FIELDS, frozenset({"client_id"})),
        _Resource(
            "client_properties", "client-properties", "client-property", F.PROPERTY_FIELDS, frozenset()
        ),
        _Resource(
            "client_property_values",
            "client-property-values",
            "client-property-value",
            F.PROPERTY_VALUE_FIELDS,
            frozenset({"client_id", "client_property_id", "value"}),
        ),
        _Resource("client_tags", "client-tags", "client-tag", F.TAG_FIELDS, frozenset({"client_id"})),
    )
}


def error(status: int, message: str, headers: list[tuple[str, str]] | None = None) -> ApiResponse:
    """A JSON error answer, {"errors":{"error": message}} (billomat-api.md §1)."""
    return ApiResponse(status, F.php_json({"errors": {"error": message}}), JSON, headers or [])


def wrap_items(item_key: str, items: list[Any]) -> dict[str, Any]:
    """billomat-api.md §3: >=2 items -> array, exactly 1 -> the object itself, 0 -> item key absent."""
    if not items:
        return {}
    return {item_key: items[0] if len(items) == 1 else items}


class BillomatApi:
    """The emulated Billomat API of one account, mounted at /billomat/{billomat_id}/api."""

    def __init__(self, config: EmulatorConfig, state: BillomatState, limiter: RateLimiter) -> None:
        self.config = config
        self.state = state
        self.limiter = limiter
        self.root = f"/billomat/{state.billomat_id}/api"

    # ------------------------------------------------------------------ entry points
    def rel_path(self, path: str) -> str:
        """The path relative to the account API root (`/clients/1001`), or the path itself outside it."""
        if path == self.root or path.startswith(self.root + "/"):
            return path[len(self.root) :] or "/"
        return path

    def handle(self, req: ApiRequest) -> ApiResponse:
        """Answer one request (account, format, auth, app, rate limit, then the route)."""
        parts = [p for p in req.path.split("/") if p]
        if len(parts) < 2 or parts[0] != "billomat" or parts[1] != self.state.billomat_id:
            # billomat-api.md §1: wrong subdomain -> 404 Account not Found (fixture error_404_account_not_found)
            return error(404, "Account not Found")
        if len(parts) < 3 or parts[2] != "api":
            return error(404, "Not found")
        if not self._wants_json(req):
            return ApiResponse(406, NOT_JSON_TEXT.encode(), "text/plain; charset=utf-8")
        key = req.headers.get("X-BillomatApiKey") or req.query.get("api_key", "")
        if key != self.config.api_key:
            # billomat-api.md §1: bad/missing key -> 401 (body text UNCONFIRMED; same as the foreign-id one)
            return error(
                401, "Unauthorized", self._rate_headers(self.limiter.peek("default", self.config.rate_limit))
            )
        bucket, limit = "default", self.config.rate_limit
        if self.config.app_id is not None and (req.headers.get("X-AppId") or req.headers.get("X-AppSecret")):
            if (
                req.headers.get("X-AppId") != self.config.app_id
                or req.headers.get("X-AppSecret") != self.config.app_secret
            ):
                # billomat-api.md §1: HG's spec: {"errors":{"error":"invalid secret"}}; status UNCONFIRMED
                return error(self.config.app_secret_error_status, "invalid secret")
            bucket, limit = "app", self.config.rate_limit_app
        decision = self.limiter.take(bucket, limit)
        rate_headers = self._rate_headers(decision)
        if not decision.allowed:
            return self._too_many(decision, rate_headers)
        try:
            resp = self._route(req, parts[3:])
        except ApiError as exc:
            resp = error(exc.status, exc.message)
        resp.headers.extend(rate_headers)
        return resp

    def injected_429(self, req: ApiRequest) -> ApiResponse:
        """A 429 from fault injection: real body and headers, no request used."""
        limit = (
            self.config.rate_limit_app
            if self.config.app_id and req.headers.get("X-AppId")
            else self.config.rate_limit
        )
        peek = self.limiter.peek("default", limit)
        decision = RateDecision(False, limit if limit > 0 else 300, 0, peek.reset)
        return self._too_many(decision, self._rate_headers(decision))

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _wants_json(req: ApiRequest) -> bool:
        # billomat-api.md §1: XML by default; JSON with Accept: application/json or ?format=json.
        # The emulator speaks no XML: anything else gets 406 with a plain-text explanation.
        fmt = req.query.get("format")
        if fmt is not None:
            return fmt.lower() == "json"
        return "application/json" in req.headers.get("Accept", "").lower()

    def _rate_headers(self, decision: RateDecision) -> list[tuple[str, str]]:
        # billomat-api.md §2: on every response; Reset is ABSOLUTE epoch seconds of the next window.
        if not self.config.rate_headers:
            return []  # the 2012 API sent none; clients must cope
        headers = [
            ("X-Rate-Limit-Remaining", str(decision.remaining)),
            ("X-Rate-Limit-Reset", str(decision.reset)),
        ]
        if self.config.rate_limit_header and decision.limit > 0:
            headers.append(("X-Rate-Limit-Limit", str(decision.limit)))
        return headers

    def _too_many(self, decision: RateDecision, headers: list[tuple[str, str]]) -> ApiResponse:
        wait = decision.retry_after(self.config.clock.now())
        # billomat-api.md §2: the docs' XML text; the JSON form is UNCONFIRMED but follows the error pattern.
        msg = f"Maximum number of requests ({decision.limit} per 15 minutes) reached. Try again in {wait} seconds."
        return error(429, msg, headers)

    # ------------------------------------------------------------------ routing
    def _route(self, req: ApiRequest, rest: list[str]) -> ApiResponse:
        if not rest or rest[0] not in _RESOURCES:
            return error(404, "Not found")
        res = _RESOURCES[rest[0]]
        method = req.method
        if len(rest) == 1:
            if method in ("GET", "HEAD"):
                return self._list(req, res)
            if method == "POST":
                return self._create(res, self._body(req, res))
            return self._not_allowed("GET, HEAD, POST")
        if res.plural == "clients" and rest[1] == "myself" and len(rest) == 2:
            if method not in ("GET", "HEAD"):
                return self._not_allowed("GET, HEAD")
            return self._ok({"client": self.state.myself})
        rid = rest[1]
        if len(rest) == 3 and res.plural == "clients" and rest[2] == "customfield":
            return self._customfield(req, rid)
        if len(rest) != 2:
            return error(404, "Not found")
        allowed = {
            "client-tags": "GET, HEAD, DELETE",  # billomat-api.md §4.5: no PUT
            "client-property-values": (
                "GET, HEAD, PUT, DELETE" if self.config.property_value_put_delete else "GET, HEAD"
            ),  # billomat-api.md §4.4: officially no PUT/DELETE (HG PR #20 shows them: UNCONFIRMED)
        }.get(res.plural, "GET, HEAD, PUT, DELETE")
        if method not in allowed.split(", "):
            return self._not_allowed(allowed)
        self._check_id(rid, res, method)
        if method in ("GET", "HEAD"):
            return self._ok({res.singular: self._render_one(res, rid)})
        if method == "PUT":
            return self._ok({res.singular: self._update(res, rid, self._body(req, res))})
        self._delete(res, rid)
        # billomat-api.md §1: DELETE -> 200 with an EMPTY body, Content-Type application/json.
        return ApiResponse(200, b"", JSON)

    def _check_id(self, rid: str, res: _Resource, method: str) -> None:
        table: dict[str, Record] = self.state.table(res.table)
        if rid in table:
            return
        if rid in self.config.foreign_ids:
            # billomat-api.md §1: GET of another account's id -> 401 Unauthorized (REAL); writes ->
            # foreign_write_status (BNET expects 404: UNCONFIRMED).
            if method in ("GET", "HEAD"):
                raise ApiError(401, "Unauthorized")
            status = self.config.foreign_write_status
            raise ApiError(status, "Unauthorized" if status == 401 else "Row not found")
        raise row_not_found()

    @staticmethod
    def _not_allowed(allow: str) -> ApiResponse:
        resp = error(405, "Method not allowed")
        resp.headers.append(("Allow", allow))
        return resp

    @staticmethod
    def _ok(obj: dict[str, Any], status: int = 200) -> ApiResponse:
        return ApiResponse(status, F.php_json(obj))

    # ------------------------------------------------------------------ bodies
    @staticmethod
    def _body(req: ApiRequest, res: _Resource) -> dict[str, str]:
        """The fields of a write body, unwrapped from {"<singular>": {...}} and coerced to strings."""
        try:
            doc = json.loads(req.body.decode("utf-8")) if req.body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ApiError(400, "invalid JSON in request body") from None
        # billomat-api.md §1: bodies are wrapped in the singular resource name.
        if not isinstance(doc, dict) or not isinstance(doc.get(res.singular), dict):
            raise ApiError(400, f'request body must be {{"{res.singular}": {{...}}}}')
        out: dict[str, str] = {}
        for key, value in doc[res.singular].items():
            text = F.to_api_string(value)
            if text is None:
                if key in res.fields:
                    raise ApiError(400, f"invalid value for {key}")
                continue  # e.g. a nested "client-property-values" echoed back from a GET: ignored
            out[key] = text
        return out

    # ------------------------------------------------------------------ operations
    def _create(self, res: _Resource, data: dict[str, str]) -> ApiResponse:
        creators: dict[str, Callable[[Mapping[str, str]], Record]] = {
            "clients": self.state.create_client,
            "contacts": self.state.create_contact,
            "client_properties": self.state.create_property,
            "client_property_values": self.state.set_property_value,
            "client_tags": self.state.create_tag,
        }
        rec = creators[res.table](data)
        return self._ok({res.singular: self._shown(res, rec)}, 201)  # billomat-api.md §1: POST -> 201

    def _update(self, res: _Resource, rid: str, data: dict[str, str]) -> Record:
        updaters: dict[str, Callable[[str, Mapping[str, str]], Record]] = {
            "clients": self.state.update_client,
            "contacts": self.state.update_contact,
            "client_properties": self.state.update_property,
            "client_property_values": self.state.update_property_value,
        }
        return self._shown(res, updaters[res.table](rid, data))

    def _delete(self, res: _Resource, rid: str) -> None:
        deleters: dict[str, Callable[[str], None]] = {
            "clients": self.state.delete_client,
            "contacts": self.state.delete_contact,
            "client_properties": self.state.delete_property,
            "client_property_values": self.state.delete_property_value,
            "client_tags": self.state.delete_tag,
        }
        deleters[res.table](rid)

    def _customfield(self, req: ApiRequest, rid: str) -> ApiResponse:
        # billomat-api.md §4.6: GET/PUT /clients/{id}/customfield -> {"client":{"id":..,"customfield":..}}
        res = _RESOURCES["clients"]
        if req.method not in ("GET", "HEAD", "PUT"):
            return self._not_allowed("GET, HEAD, PUT")
        self._check_id(rid, res, req.method)
        if req.method == "PUT":
            data = self._body(req, res)
            if "customfield" not in data:
                raise ApiError(400, "customfield is required")
            rec = self.state.set_customfield(rid, data["customfield"])
        else:
            rec = self.state.get_client(rid)
        return self._ok({"client": {"id": rec["id"], "customfield": rec["customfield"]}})

    # ------------------------------------------------------------------ rendering
    def _render_one(self, res: _Resource, rid: str) -> dict[str, Any]:
        rec: Record = self.state.table(res.table)[rid]
        if res.table == "clients":
            return self._with_values(rec)
        return self._shown(res, rec)

    def _shown(self, res: _Resource, rec: Record) -> Record:
        # billomat-api.md §4.2: under contact_inherit="read" a contact shows its client's current values.
        return self.state.shown_contact(rec) if res.table == "contacts" else rec

    def _with_values(self, rec: Record) -> dict[str, Any]:
        # billomat-api.md §4.4 + fixture client_get_with_property_values.json: a row for EVERY property
        # (value "" where unset; such a row has id "" since no value row exists), nested envelope quirk.
        rows = self.state.property_values_of(rec["id"])
        return {**rec, "client-property-values": wrap_items("client-property-value", rows)}

    # ------------------------------------------------------------------ lists
    def _list(self, req: ApiRequest, res: _Resource) -> ApiResponse:
        q = req.query
        page = _positive_int(q.get("page", "1"), "page")
        per_page = _positive_int(q.get("per_page", str(DEFAULT_PER_PAGE)), "per_page")
        if per_page > MAX_PER_PAGE:
            # billomat-api.md §3: > 1000 is UNCONFIRMED; clamp and echo @per_page "1000", or refuse.
            if self.config.per_page_over_max == "error":
                raise ApiError(400, f"per_page must not be greater than {MAX_PER_PAGE}")
            per_page = MAX_PER_PAGE
        filters = {k: v for k, v in q.items() if k not in _RESERVED and self._is_filter(res, k)}
        cloud = res.plural == "client-tags" and "client_id" not in filters
        fields = F.TAG_CLOUD_FIELDS if cloud else res.fields
        order = self._order(q.get("order_by", ""), fields)
        item_key = self.config.tag_cloud_item_key if cloud else res.singular
        if res.plural == "contacts" and "client_id" not in filters and self.config.contacts_bulk != "allow":
            # billomat-api.md §4.2: client_id is mandatory per the docs; the real answer is UNCONFIRMED.
            if self.config.contacts_bulk == "refuse":
                raise ApiError(400, "client_id is required")
            ids: list[str] = []
            table: dict[str, Record] = {}
        else:
            ids, table = self.state.query(res.table, filters, order)
        total = len(ids)
        headers = [("X-Total-Count", str(total))]
        if req.method == "HEAD":  # billomat-api.md §3: HEAD on a list -> X-Total-Count
            return ApiResponse(200, b"", JSON, headers)
        start = (page - 1) * per_page
        chunk = ids[start : start + per_page]
        if res.table == "clients" and self.config.list_embeds_property_values:
            items: list[Any] = [self._with_values(table[i]) for i in chunk]
        elif res.table == "contacts":
            items = [self.state.shown_contact(table[i]) for i in chunk]
        else:
            items = [table[i] for i in chunk]
        body = {
            res.plural: {
                **wrap_items(item_key, items),
                # billomat-api.md §3: paging attributes are strings, next to the item key
                "@page": str(page),
                "@per_page": str(per_page),
                "@total": str(total),
            }
        }
        return ApiResponse(200, F.php_json(body), JSON, headers if self.config.total_count_on_get else [])

    @staticmethod
    def _is_filter(res: _Resource, name: str) -> bool:
        if name in res.filters:
            return True
        # billomat-api.md §4.1: property{ID}=value on /clients; other unknown parameters are ignored.
        return res.plural == "clients" and name.startswith("property") and name[8:].isdigit()

    def _order(self, spec: str, fields: tuple[str, ...]) -> list[tuple[str, bool]]:
        """Parse order_by="name ASC,id DESC" (the client's `+` arrives as a space; a literal %2B does not)."""
        order: list[tuple[str, bool]] = []
        for part in spec.split(","):
            words = part.split()
            if not words:
                continue
            name = words[0]
            direction = words[1].upper() if len(words) > 1 else "ASC"
            if len(words) > 2 or direction not in ("ASC", "DESC") or name not in fields:
                raise ApiError(400, f"invalid order_by: {part.strip()}")
            if name == "id" and not self.config.order_by_id_allowed:
                raise ApiError(400, f"invalid order_by: {part.strip()}")  # UNCONFIRMED behaviour
            order.append((name, direction == "DESC"))
        return order


def _positive_int(value: str, name: str) -> int:
    if not value.strip().isdigit() or int(value) < 1:
        raise ApiError(400, f"invalid {name}")
    return int(value)
