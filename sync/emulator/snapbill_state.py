"""The emulated SnapBill account: its config switches, its seed and its clients with the API's rules.

Everything here runs under the emulator lock. Behaviours reference/snapbill-api.md marks [I] or [?]
are `SnapBillConfig` switches; the defaults follow the reference's best guess.
"""

from __future__ import annotations

import base64
import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sync.emulator.seed import read_seed_json

SEED_FILE = "snapbill.json"

# snapbill-api.md §2: the custom fields the recorded add form shows (fixture client_add_form_get.json).
DEFAULT_FIELDS: tuple[tuple[str, str], ...] = (
    ("vat_number", "VAT Number"),
    ("public_street", "Street Address"),
    ("public_postal", "Postal Address"),
    ("public_city", "City"),
    ("public_province", "Province / State"),
    ("public_country", "Country"),
    ("public_postcode", "Postal Code"),
    ("public_phone", "Phone number"),
    ("public_fax", "Fax number"),
)

# A few countries with their ISO3 code and name (the recorded `country` object, §3); any other
# two-letter code is accepted with the code as its name (whether SnapBill restricts countries is [?]).
COUNTRIES: dict[str, tuple[str, str]] = {
    "ZA": ("ZAF", "South Africa"),
    "DE": ("DEU", "Germany"),
    "AT": ("AUT", "Austria"),
    "CH": ("CHE", "Switzerland"),
    "NL": ("NLD", "Netherlands"),
    "BE": ("BEL", "Belgium"),
    "LU": ("LUX", "Luxembourg"),
    "FR": ("FRA", "France"),
    "IT": ("ITA", "Italy"),
    "ES": ("ESP", "Spain"),
    "PL": ("POL", "Poland"),
    "DK": ("DNK", "Denmark"),
    "GB": ("GBR", "United Kingdom"),
    "US": ("USA", "United States"),
}

EMAIL_RE = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s.,;]{2,}$")
# Parameters add/update act on (§3). Anything else is silently ignored, as the recorded update shows (§1).
TEXT_PARAMS = ("number", "firstname", "surname", "company", "email", "cell")


@dataclass
class SnapBillAccount:
    """The seed of an emulated SnapBill account (sample_data/snapbill.json); the default is the recorded one."""

    username: str = "demo"
    account_id: int = 10608
    host: str = "demo.snapbill.com"
    country_code: str = "ZA"
    currencies: list[dict[str, str]] = field(
        default_factory=lambda: [{"code": "ZAR", "format": "R%.2f", "caption": "South African Rand"}]
    )
    default_currency: str = "ZAR"
    payment_methods: list[dict[str, str]] = field(
        default_factory=lambda: [{"code": "netcash", "name": "Netcash Collect"}, {"code": "other", "name": "Other"}]
    )
    default_payment_method: str = "netcash"
    fields: list[dict[str, str]] = field(
        default_factory=lambda: [{"key": k, "caption": c} for k, c in DEFAULT_FIELDS]
    )
    clients: list[dict[str, Any]] = field(default_factory=list)  # add parameters, plus optional id/state


def load_snapbill_seed(path: Path | str) -> SnapBillAccount:
    """Read `snapbill.json` (or the file itself); ValueError names the file and the problem."""
    p, doc = read_seed_json(path, SEED_FILE)
    if not isinstance(doc, dict):
        raise ValueError(f"{p}: the seed must be one JSON object")
    known = set(SnapBillAccount.__dataclass_fields__)
    unknown = set(doc) - known
    if unknown:
        raise ValueError(f"{p}: unknown key(s): {', '.join(sorted(unknown))}")
    account = SnapBillAccount(**doc)
    for i, item in enumerate(account.fields):
        if not isinstance(item, dict) or not re.fullmatch(r"[a-z0-9_]+", str(item.get("key", ""))):
            raise ValueError(f"{p}: fields[{i}] needs a 'key' of lower-case letters, digits and '_'")
    codes = {c.get("code") for c in account.currencies}
    if account.default_currency not in codes:
        raise ValueError(f"{p}: default_currency {account.default_currency!r} is not among the currencies")
    if account.default_payment_method not in {m.get("code") for m in account.payment_methods}:
        raise ValueError(f"{p}: default_payment_method {account.default_payment_method!r} is not defined")
    return account


@dataclass
class SnapBillConfig:
    """How the emulated SnapBill account behaves. Options marked UNCONFIRMED emulate either possibility."""

    user: str = "demo"
    password: str = "emu-snapbill-password"
    account: SnapBillAccount | None = None  # None: the recorded demo account (ZAR, the nine data-* fields)
    # §1 Errors: body `type` of an error answer ("result" or "error"): UNCONFIRMED.
    error_type: Literal["result", "error"] = "error"
    # §1: an unknown object id answers 404 (CommandNotFound) or 400: UNCONFIRMED.
    unknown_id_status: int = 404
    # §1 Paging: default 25 / max 100 documented for user/list only; for client/list UNCONFIRMED.
    per_page_default: int = 25
    per_page_max: int = 100
    page_past_end: Literal["empty", "error"] = "empty"  # a page after numpages: UNCONFIRMED
    unknown_data: Literal["ignore", "reject"] = "ignore"  # §2: an undefined data-foo: UNCONFIRMED
    duplicate_number: Literal["reject", "allow"] = "reject"  # §3: a number already in use: UNCONFIRMED (likely 400)
    list_dead: bool = False  # §3: do `dead` (deleted) clients appear in client/list? UNCONFIRMED
    initial_state: Literal["new", "active"] = "active"  # §3: 2012-13 "new", 2014 "active"
    update_state: Literal["ignore", "apply"] = "ignore"  # §1: the recorded update ignored state=suspended
    data_in_response: bool = True  # §2: the 2012 responses had no `data` object
    unknown_currency: Literal["reject", "ignore"] = "reject"  # §3: a currency not enabled: UNCONFIRMED


class SnapBillError(Exception):
    """A SnapBill error answer: HTTP status, `message` and `errors` by field."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, dict(errors or {})


def xid_part(number: int) -> str:
    """base64url of the big-endian bytes, leading `A`s stripped (§0; 10608 -> "Clw", 158975 -> "mz_")."""
    size = max(3, math.ceil(max(1, number.bit_length()) / 24) * 3)
    text = base64.urlsafe_b64encode(number.to_bytes(size, "big")).decode("ascii")
    return text.lstrip("A") or "A"


class SnapBillState:
    """The clients of one emulated SnapBill account and the rules add/update/delete apply."""

    def __init__(self, account: SnapBillAccount, config: SnapBillConfig, now: Any) -> None:
        self.account = copy.deepcopy(account)
        self.config = config
        self._now = now
        self.field_keys = [str(f["key"]) for f in self.account.fields]
        self.currencies = {c["code"]: c for c in self.account.currencies}
        self.payment_methods = {m["code"]: m for m in self.account.payment_methods}
        self.records: dict[int, dict[str, Any]] = {}
        self._next_id = 158975
        for params in self.account.clients:
            seeded = {k: v for k, v in params.items() if k not in ("id", "state")}
            rec = self.add_client(_flatten(seeded))
            if "state" in params:
                rec["state"] = str(params["state"])

    # ------------------------------------------------------------------ reads
    @property
    def clients(self) -> list[dict[str, Any]]:
        """Every client that is not dead, as the API renders it (creation order)."""
        return [self.render(r) for r in self.records.values() if r["state"] != "dead"]

    @property
    def all_clients(self) -> list[dict[str, Any]]:
        """Every client including dead ones, as rendered."""
        return [self.render(r) for r in self.records.values()]

    def find(self, ident: str) -> dict[str, Any]:
        """The record of a numeric id or an xid; SnapBillError (unknown_id_status) when there is none."""
        for rec in self.records.values():
            if str(rec["id"]) == ident or rec["xid"] == ident:
                return rec
        status = self.config.unknown_id_status
        raise SnapBillError(status, f"Client {ident} not found")

    def list_clients(self, email: str | None, query: str | None) -> list[dict[str, Any]]:
        """Clients in id order, filtered: `email` exact (case-insensitive), `query` a fuzzy substring search."""
        out = []
        for rec in self.records.values():
            if rec["state"] == "dead" and not self.config.list_dead:
                continue
            if email is not None and email != "" and rec["email"].lower() != email.lower():
                continue
            if query:
                # §3: "handled in the same way as the search on billing.snapbill.com" - a loose match.
                hay = " ".join(
                    [self.name_of(rec), rec["number"], rec["email"], rec["firstname"], rec["surname"], rec["company"]]
                ).casefold()
                if not all(word in hay for word in query.casefold().split()):
                    continue
            out.append(rec)
        return out

    # ------------------------------------------------------------------ writes
    def add_client(self, params: dict[str, Any]) -> dict[str, Any]:
        """`client/add`: validate, fill defaults (number, state, currency, payment method), store."""
        rec: dict[str, Any] = {
            "id": self._next_id,
            "xid": "",
            "state": "new" if self.config.initial_state == "new" else "active",
            "number": "",
            "firstname": "",
            "surname": "",
            "company": "",
            "email": "",
            "cell": "",
            "country_code": self.account.country_code,
            "currency_code": self.account.default_currency,
            "payment_method_code": self.account.default_payment_method,
            "discount_cents": 0,
            "credit_cents": 0,
            "data": dict.fromkeys(self.field_keys),
        }
        self._apply(rec, params, creating=True)
        if not rec["number"]:
            rec["number"] = self._next_number()
        self._next_id += 1
        rec["xid"] = f"{xid_part(self.account.account_id)}:{xid_part(rec['id'])}"
        self.records[rec["id"]] = rec
        return rec

    def update_client(self, ident: str, params: dict[str, Any]) -> dict[str, Any]:
        """`client/{id}/update`: only the parameters given change; the result is validated as a whole."""
        rec = self.find(ident)
        trial = copy.deepcopy(rec)
        self._apply(trial, params, creating=False)
        rec.clear()
        rec.update(trial)
        return rec

    def delete_client(self, ident: str) -> None:
        """`client/{id}/delete`: a soft delete, the state becomes `dead` (§3, fixture action_client_removed)."""
        self.find(ident)["state"] = "dead"

    def set_payment(self, ident: str, params: dict[str, Any]) -> None:
        """`client/{id}/set_payment`: payment_method_code must be an enabled method."""
        rec = self.find(ident)
        code = str(params.get("payment_method_code", ""))
        if code not in self.payment_methods:
            raise self._form_error({"payment_method_code": "Invalid payment method"})
        rec["payment_method_code"] = code

    # ------------------------------------------------------------------ rendering
    def name_of(self, rec: dict[str, Any]) -> str:
        """§3: "helkom (jane)" = company (firstname surname); "jane" = firstname only."""
        person = " ".join(p for p in (rec["firstname"], rec["surname"]) if p)
        if rec["company"] and person:
            return f"{rec['company']} ({person})"
        return rec["company"] or person

    def render(self, rec: dict[str, Any]) -> dict[str, Any]:
        """The depth-0 client object, keys in the recorded order (fixture client_get.json)."""
        acc = self.account
        iso3, country_name = COUNTRIES.get(rec["country_code"], ("", rec["country_code"]))
        currency = self.currencies.get(rec["currency_code"], {"code": rec["currency_code"], "format": "%.2f"})
        method = self.payment_methods.get(rec["payment_method_code"], {"code": rec["payment_method_code"], "name": ""})
        token = xid_part(rec["id"] * 7919 % 16777213)
        obj: dict[str, Any] = {
            "depth": 0,
            "id": rec["id"],
            "xid": rec["xid"],
            "state": rec["state"],
            "number": rec["number"],
            "name": self.name_of(rec),
            "account": {
                "depth": 1,
                "id": acc.account_id,
                "xid": f"{xid_part(acc.account_id)}:{xid_part(acc.account_id)}",
                "username": acc.username,
            },
            "cell": rec["cell"],
            "company": rec["company"],
            "country": {"code": rec["country_code"], "iso2": rec["country_code"], "iso3": iso3, "name": country_name},
            "credit": _money(rec["credit_cents"]),
            "credit_cents": rec["credit_cents"],
            "currency": {"code": currency["code"], "format": currency.get("format", "%.2f"), "enabled": True},
            "discount": _money(rec["discount_cents"]),
            "email": rec["email"],
            "firstname": rec["firstname"],
            "payment": method["code"],
            "payment_method": {"depth": 1, "code": method["code"], "name": method.get("name", ""), "enabled": True},
            "surname": rec["surname"],
            "totals": {
                "unpaid_invoices": "0.00",
                "unpaid_invoices_cents": 0,
                "paid_payments": "0.00",
                "paid_payments_cents": 0,
            },
            "urls": {
                "statement": f"https://{acc.host}/statement/{rec['xid']}/={token}",
                "payment": f"https://{acc.host}/payment/client/{rec['xid']}/={token}",
            },
        }
        if self.config.data_in_response:
            # §2: every defined field appears, null when unset, in key order.
            obj["data"] = {key: rec["data"].get(key) for key in sorted(self.field_keys)}
        obj["services"] = []
        return obj

    # ------------------------------------------------------------------ rules
    def _apply(self, rec: dict[str, Any], params: dict[str, Any], *, creating: bool) -> None:
        errors: dict[str, str] = {}
        for key in TEXT_PARAMS:
            if key in params:
                rec[key] = _text(params[key])
        if "country_code" in params:
            code = _text(params["country_code"]).upper()
            if not re.fullmatch(r"[A-Z]{2}", code):
                errors["country_code"] = "Invalid country"
            else:
                rec["country_code"] = code
        if "currency_code" in params:
            code = _text(params["currency_code"]).upper()
            if code in self.currencies:
                rec["currency_code"] = code
            elif self.config.unknown_currency == "reject":
                errors["currency_code"] = "Invalid currency"
        if "payment_method_code" in params:
            code = _text(params["payment_method_code"])
            if code in self.payment_methods:
                rec["payment_method_code"] = code
            else:
                errors["payment_method_code"] = "Invalid payment method"
        if "discount" in params:
            try:
                rec["discount_cents"] = round(float(_text(params["discount"]) or 0) * 100)
            except ValueError:
                errors["discount"] = "Invalid number"
        if not creating and "state" in params and self.config.update_state == "apply":
            state = _text(params["state"])
            if state in ("new", "active", "suspended", "dead"):
                rec["state"] = state
            else:
                errors["state"] = "Invalid state"
        data = params.get("data") or {}
        for key, value in data.items():
            if key in rec["data"]:
                rec["data"][key] = _text(value)
            elif self.config.unknown_data == "reject":
                errors[f"data-{key}"] = "Unknown field"
            # else: §2 - assumed silently ignored, like other unknown parameters
        if rec["email"] and not EMAIL_RE.match(rec["email"]):
            errors["email"] = "Invalid email address"
        if not (rec["firstname"] or rec["surname"] or rec["company"]):
            # §3: "This field is required unless either surname, or company are provided."
            errors["firstname"] = "This field is required unless either surname, or company are provided"
        if rec["number"] and self.config.duplicate_number == "reject":
            for other in self.records.values():
                if other["id"] != rec["id"] and other["number"] == rec["number"] and other["state"] != "dead":
                    errors["number"] = "A client with this number already exists"
                    break
        if errors:
            raise self._form_error(errors, creating=creating)

    @staticmethod
    def _form_error(errors: dict[str, str], *, creating: bool = True) -> SnapBillError:
        action = "added" if creating else "updated"
        return SnapBillError(400, f"The client could not be {action}", errors)

    def _next_number(self) -> str:
        # §3: numbers are auto-generated like "018" when not given.
        used = {r["number"] for r in self.records.values()}
        n = len(self.records) + 1
        while f"{n:03d}" in used:
            n += 1
        return f"{n:03d}"


def _text(value: Any) -> str:
    if isinstance(value, list):
        return str(value[-1]) if value else ""
    return "" if value is None else str(value)


def _money(cents: int) -> str:
    return f"{cents / 100:.2f}"


def _flatten(params: dict[str, Any]) -> dict[str, Any]:
    """Seed clients may write custom fields as `data-<key>` or a `data` object."""
    out = {k: v for k, v in params.items() if not k.startswith("data-") and k != "data"}
    data = dict(params.get("data") or {})
    data.update({k[5:]: v for k, v in params.items() if k.startswith("data-")})
    out["data"] = data
    return out
