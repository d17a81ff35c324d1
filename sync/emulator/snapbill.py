"""SnapBill request handling (reference/snapbill-api.md §8): basic auth, form bodies, routes, envelopes.

Mounted at /snapbill/v1. Everything here runs under the emulator lock; snapbill_state.py holds the
clients and their rules. Decisions the reference leaves open, as the emulator makes them:

- Auth comes first: no or wrong basic-auth credentials answer 401 with
  `WWW-Authenticate: Basic realm="SnapBill API"` and a JSON body (its shape is [?]).
- Only the `.json` format is served; `.xml`/`.txt` and unknown routes answer 404 "Command not found".
- POST bodies are `application/x-www-form-urlencoded`; `key[]` collects a list; `data-<key>` goes to
  `data`. Unknown parameters are silently ignored (§1: the recorded update ignored `state`).
- Error bodies: `{"code":400,"type":"error","status":"error","message":...,"errors":{field: msg}}`.
- `client/list`: id order; `email` exact (case-insensitive), `query` all words as case-insensitive
  substrings of name, number, email, firstname, surname and company.
- Fault injection (`--faults`, `Emulator.force`) hits SnapBill requests like Billomat ones; an
  injected 429 carries `Retry-After: 1` (SnapBill documents no rate limit, §5).
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any
from urllib.parse import parse_qsl

from sync.emulator import fields as F
from sync.emulator.billomat import JSON, ApiRequest, ApiResponse
from sync.emulator.snapbill_state import SnapBillConfig, SnapBillError, SnapBillState

ROOT = "/snapbill/v1"
REALM = "SnapBill API"
CLIENT_ACTIONS = ("get", "update", "delete", "set_payment")


class SnapBillApi:
    """The emulated SnapBill API of one account, mounted at /snapbill/v1."""

    def __init__(self, config: SnapBillConfig, state: SnapBillState) -> None:
        self.config = config
        self.state = state
        self.root = ROOT

    # ------------------------------------------------------------------ entry points
    def handle(self, req: ApiRequest) -> ApiResponse:
        """Answer one request: auth, then the route."""
        if not self._authorised(req):
            return ApiResponse(
                401,
                F.php_json({"code": 401, "type": "error", "status": "error", "message": "Authentication required"}),
                JSON,
                [("WWW-Authenticate", f'Basic realm="{REALM}"')],
            )
        try:
            return self._route(req)
        except SnapBillError as exc:
            return self.error(exc.status, exc.message, exc.errors or None)

    def injected_429(self, req: ApiRequest) -> ApiResponse:
        """A 429 from fault injection (no documented body: the usual error shape, Retry-After 1)."""
        resp = self.error(429, "Too many requests")
        resp.headers.append(("Retry-After", "1"))
        return resp

    def log_params(self, req: ApiRequest) -> dict[str, str]:
        """What the request log shows: the form fields of a POST (SnapBill takes everything there)."""
        fields = dict(req.query)
        if req.method == "POST":
            for key, value in _pairs(req.body):
                fields[key] = value
        return fields

    def error(self, status: int, message: str, errors: dict[str, str] | None = None) -> ApiResponse:
        """An error answer (§1 "best reconstruction"; `type` is the error_type switch)."""
        body: dict[str, Any] = {"code": status, "type": self.config.error_type, "status": "error", "message": message}
        if errors is not None or status == 400:
            body["errors"] = errors or {"": message}
        return ApiResponse(status, F.php_json(body), JSON)

    # ------------------------------------------------------------------ checks
    def _authorised(self, req: ApiRequest) -> bool:
        header = req.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.config.user and password == self.config.password

    # ------------------------------------------------------------------ routing
    def _route(self, req: ApiRequest) -> ApiResponse:
        if not req.path.startswith(ROOT + "/"):
            raise SnapBillError(404, "Command not found")
        rest = req.path[len(ROOT) + 1 :]
        if not rest.endswith(".json"):
            raise SnapBillError(404, "Command not found (the emulator serves the .json format only)")
        parts = [p for p in rest[: -len(".json")].split("/") if p]
        if req.method == "GET":
            return self._discover(parts)
        if req.method != "POST":
            raise SnapBillError(404, "Command not found")
        params = _form(req.body)
        state = self.state
        if parts == ["client", "add"]:
            return self._item(state.render(state.add_client(params)))
        if parts == ["client", "list"]:
            return self._list(params)
        if len(parts) == 3 and parts[0] == "client" and parts[2] in CLIENT_ACTIONS:
            ident, action = parts[1], parts[2]
            if action == "get":
                return self._item(state.render(state.find(ident)))
            if action == "update":
                rec = state.update_client(ident, params)
                return self._ok({"code": 200, "type": "result", "status": "ok", "class": "client",
                                 "client": state.render(rec)})
            if action == "delete":
                state.delete_client(ident)
            else:
                state.set_payment(ident, params)
            return self._ok({"code": 200, "type": "result", "status": "ok"})
        if parts == ["currency", "list"]:
            items = [{"code": c["code"], "format": c.get("format", "%.2f"), "enabled": True}
                     for c in state.currencies.values()]
            return self._ok({"code": 200, "type": "list", "page": 1, "numpages": 1, "class": "currency",
                             "list": items})
        if parts == ["payment_method", "list"]:
            items = [{"depth": 0, "code": m["code"], "name": m.get("name", ""), "enabled": True}
                     for m in state.payment_methods.values()]
            return self._ok({"code": 200, "type": "list", "page": 1, "numpages": 1, "class": "payment_method",
                             "list": items})
        if parts == ["contact", "list"]:
            # §4: contacts can only be read; nothing in the API creates one, so this account has none.
            return self._ok({"code": 200, "type": "list", "page": 1, "numpages": 1, "class": "contact", "list": []})
        raise SnapBillError(404, "Command not found")

    def _discover(self, parts: list[str]) -> ApiResponse:
        # §0: GET is only for discovery (fixtures client_index_get.json, client_add_form_get.json).
        if parts == ["client"]:
            return self._ok({"code": 200, "type": "index",
                             "index": {"add": "/v1/client/add", "list": "/v1/client/list", "{id}": "/v1/client/{id}"}})
        if parts == ["client", "add"]:
            return self._ok({"code": 200, "type": "form", "controls": self._add_controls()})
        if len(parts) == 2 and parts[0] == "client":
            rec = self.state.find(parts[1])
            base = f"/v1/client/{rec['id']}"
            index = {action: f"{base}/{action}" for action in (*CLIENT_ACTIONS, "add_user", "add_service")}
            return self._ok({"code": 200, "type": "index", "index": index})
        raise SnapBillError(404, "Command not found")

    def _add_controls(self) -> list[dict[str, Any]]:
        acc = self.state.account
        controls: list[dict[str, Any]] = [
            {"type": "textbox", "name": "number", "caption": "Client Number"},
            {"type": "textbox", "name": "firstname", "caption": "First Name",
             "tip": 'Used in friendly email templates - "Hi John,"'},
            {"type": "textbox", "name": "surname", "caption": "Surname"},
            {"type": "email", "name": "email", "caption": "Email Address", "tip": "Required in order to email invoices"},
            {"type": "tel", "name": "cell", "caption": "Cellphone Number",
             "tip": "Useful for getting hold of client in emergencies"},
            {"options": [{"caption": c.get("caption", c["code"]), "key": c["code"]} for c in acc.currencies],
             "multiple": False, "case": True, "type": "select", "name": "currency_code", "caption": "Currency",
             "tip": "Invoices and payments will be recorded in this currency", "default": acc.default_currency,
             "required": True},
            {"options": [{"caption": m.get("name", m["code"]), "key": m["code"]} for m in acc.payment_methods],
             "multiple": False, "case": True, "type": "select", "name": "payment_method_code",
             "caption": "Payment method", "tip": "Setup more payment options in the Setup section", "required": True},
            {"type": "textbox", "name": "company", "caption": "Company name", "tip": "Shown as primary account name"},
            {"type": "textbox", "name": "discount", "caption": "Discount", "tip": "Discount given to user (%)"},
            {"type": "hidden", "name": "country_code", "value": acc.country_code},
            {"type": "hidden", "name": "state", "value": "new"},
            {"type": "hidden", "name": "coupon", "value": ""},
        ]
        controls += [
            {"type": "textbox", "name": f"data-{f['key']}", "caption": f.get("caption", f["key"])} for f in acc.fields
        ]
        return controls

    # ------------------------------------------------------------------ envelopes
    @staticmethod
    def _ok(body: dict[str, Any]) -> ApiResponse:
        return ApiResponse(200, F.php_json(body), JSON)

    def _item(self, obj: dict[str, Any]) -> ApiResponse:
        return self._ok({"code": 200, "type": "item", "class": "client", "client": obj})

    def _list(self, params: dict[str, Any]) -> ApiResponse:
        cfg = self.config
        page = _positive(params.get("page"), 1, "page")
        perpage = min(_positive(params.get("perpage"), cfg.per_page_default, "perpage"), cfg.per_page_max)
        email = params.get("email")
        query = params.get("query")
        records = self.state.list_clients(
            None if email is None else str(email), None if query is None else str(query)
        )
        numpages = max(1, math.ceil(len(records) / perpage))
        if page > numpages and cfg.page_past_end == "error":
            raise SnapBillError(400, "Invalid page", {"page": f"There are only {numpages} pages"})
        chunk = records[(page - 1) * perpage : page * perpage]
        return self._ok({"code": 200, "type": "list", "page": page, "numpages": numpages, "class": "client",
                         "list": [self.state.render(r) for r in chunk]})


def _pairs(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SnapBillError(400, "The request body is not UTF-8") from None
    return parse_qsl(text, keep_blank_values=True)


def _form(body: bytes) -> dict[str, Any]:
    """The form body: `key[]` -> a list, `data-<key>` -> params["data"][key], the last value otherwise."""
    params: dict[str, Any] = {}
    data: dict[str, str] = {}
    for key, value in _pairs(body):
        if key.startswith("data-"):
            data[key[5:]] = value
        elif key.endswith("[]"):
            params.setdefault(key[:-2], []).append(value)
        else:
            params[key] = value
    if data:
        params["data"] = data
    return params


def _positive(value: Any, default: int, name: str) -> int:
    if value is None or value == "":
        return default
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise SnapBillError(400, f"Invalid {name}", {name: "Must be a positive whole number"})
    return int(text)
