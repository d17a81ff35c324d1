"""SnapBill on the wire (snapbill-api.md §0-§1): form-encoded POSTs, the three answer envelopes, error bodies.

Every action is a POST to `/v1/<class>/<action>.json` or `/v1/<class>/<id>/<action>.json`; GET is
only for discovery (`client/add.json` describes the add form, and with it the account's `data-*`
custom fields). Answers come in three envelopes (§1)::

    {"code":200,"type":"item","class":"client","client":{...}}                       add, get
    {"code":200,"type":"result","status":"ok"[,"class":"client","client":{...}]}     update, delete
    {"code":200,"type":"list","page":1,"numpages":3,"class":"client","list":[...]}   list (no total)

Errors carry `message` and an `errors` dict by field (an empty key is a general error), §1 "Errors".
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from sync.clients.base import Transport
from sync.errors import RejectedError

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
                text,
                errors=errors,
                method=method,
                path=call.partition(" ")[2],
                status=response.status_code,
                api_message=text,
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


def object_of(body: Mapping[str, Any] | None, cls: str) -> dict[str, Any] | None:
    """The object of an answer: under the name its `class` says, else under `cls`; None if there is none."""
    if not body:
        return None
    named = body.get("class")
    key = named if isinstance(named, str) else cls
    for name in (key, cls):
        if isinstance(body.get(name), dict):
            return dict(body[name])
    return None


def nested_code(record: Mapping[str, Any], key: str) -> str | None:
    """`country_code` of a record read back is `country.code` (§3: the object, not the parameter)."""
    nested = {"country_code": "country", "currency_code": "currency", "payment_method_code": "payment_method"}
    if key in nested and isinstance(record.get(nested[key]), dict):
        code = record[nested[key]].get("code")
        return None if code is None else str(code)
    return None


def int_or(value: Any, default: int) -> int:
    """`int(value)`, or `default` when it is not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
