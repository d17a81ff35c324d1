"""The seed document of an emulated Billomat account (docs/design.md "Seed format") and its loader."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.emulator.fields import PROPERTY_TYPES, valid_email

SEED_FILE = "billomat.json"
_RECORD_LISTS = ("client_properties", "clients", "contacts", "client_property_values", "client_tags")
# Account settings the emulator uses for defaults (optional "settings" object in the seed).
DEFAULT_SETTINGS: dict[str, str] = {"number_pre": "", "number_length": "0", "country_code": "DE"}


@dataclass
class Account:
    """One Billomat account's records as seed data: every record a dict of str (sparse: omitted = default)."""

    billomat_id: str = "musterfirma"
    myself: dict[str, str] = field(default_factory=lambda: {"id": "1", "name": "Musterfirma GmbH"})
    settings: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    client_properties: list[dict[str, str]] = field(default_factory=list)
    clients: list[dict[str, str]] = field(default_factory=list)
    contacts: list[dict[str, str]] = field(default_factory=list)
    client_property_values: list[dict[str, str]] = field(default_factory=list)
    client_tags: list[dict[str, str]] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)  # ids of clients that have documents (no delete)

    def to_json(self) -> dict[str, Any]:
        """The seed document (the inverse of load_seed)."""
        return {
            "billomat_id": self.billomat_id,
            "myself": self.myself,
            "settings": self.settings,
            **{name: getattr(self, name) for name in _RECORD_LISTS},
            "documents": self.documents,
        }


def load_seed(path: Path | str) -> Account:
    """Read `billomat.json` (or the file itself) and validate it; ValueError names the file and record."""
    p, doc = read_seed_json(path, SEED_FILE)
    return account_from_json(doc, source=str(p))


def read_seed_json(path: Path | str, default_name: str) -> tuple[Path, Any]:
    """The parsed JSON of a seed file (`path`, or `path/default_name` for a folder); ValueError names it."""
    p = Path(path)
    if p.is_dir():
        p = p / default_name
    try:
        return p, json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{p}: seed file not found") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not valid JSON: {exc}") from None


def account_from_json(doc: Any, source: str = "<seed>") -> Account:
    """Validate a parsed seed document and turn it into an Account."""

    def fail(msg: str) -> ValueError:
        return ValueError(f"{source}: {msg}")

    if not isinstance(doc, dict):
        raise fail("the seed must be one JSON object")
    unknown = set(doc) - {"billomat_id", "myself", "settings", "documents", *_RECORD_LISTS}
    if unknown:
        raise fail(f"unknown top-level key(s): {', '.join(sorted(unknown))}")
    billomat_id = doc.get("billomat_id", "musterfirma")
    if not isinstance(billomat_id, str) or not billomat_id:
        raise fail("billomat_id must be a non-empty string")

    def record(where: str, rec: Any) -> dict[str, str]:
        if not isinstance(rec, dict):
            raise fail(f"{where} must be an object")
        for key, value in rec.items():
            if not isinstance(value, str):
                rid = rec.get("id")
                ident = f" (id {rid})" if isinstance(rid, str) else ""
                raise fail(f"{where}{ident}: value of {key!r} must be a string, got {type(value).__name__}")
        return dict(rec)

    myself = record("myself", doc.get("myself", {"id": "1", "name": "Musterfirma GmbH"}))
    settings = {**DEFAULT_SETTINGS, **record("settings", doc.get("settings", {}))}
    lists: dict[str, list[dict[str, str]]] = {}
    for name in _RECORD_LISTS:
        raw = doc.get(name, [])
        if not isinstance(raw, list):
            raise fail(f"{name} must be a list")
        recs = [record(f"{name}[{i}]", r) for i, r in enumerate(raw)]
        seen: set[str] = set()
        for i, rec in enumerate(recs):
            rid = rec.get("id", "")
            if not rid.isdigit():
                raise fail(f"{name}[{i}]: 'id' must be a string of digits, got {rid!r}")
            if rid in seen:
                raise fail(f"{name}[{i}]: duplicate id {rid}")
            seen.add(rid)
        lists[name] = recs

    client_ids = {c["id"] for c in lists["clients"]}
    prop_ids = {p["id"] for p in lists["client_properties"]}

    def check_ref(name: str, i: int, rec: dict[str, str], key: str, valid: set[str]) -> None:
        if rec.get(key, "") not in valid:
            raise fail(f"{name}[{i}] (id {rec['id']}): {key} {rec.get(key, '')!r} does not exist")

    for i, rec in enumerate(lists["client_properties"]):
        if not rec.get("name"):
            raise fail(f"client_properties[{i}] (id {rec['id']}): 'name' is required")
        if rec.get("type") not in PROPERTY_TYPES:
            raise fail(
                f"client_properties[{i}] (id {rec['id']}): type must be one of {sorted(PROPERTY_TYPES)}"
            )
    for name in ("clients", "contacts"):
        for i, rec in enumerate(lists[name]):
            if not valid_email(rec.get("email", "")):
                raise fail(f"{name}[{i}] (id {rec['id']}): invalid email address {rec['email']!r}")
    for i, rec in enumerate(lists["clients"]):
        for key in ("number", "number_length"):
            if rec.get(key, "") and not rec[key].isdigit():
                raise fail(f"clients[{i}] (id {rec['id']}): {key} must be digits, got {rec[key]!r}")
    for i, rec in enumerate(lists["contacts"]):
        check_ref("contacts", i, rec, "client_id", client_ids)
    for i, rec in enumerate(lists["client_property_values"]):
        check_ref("client_property_values", i, rec, "client_id", client_ids)
        check_ref("client_property_values", i, rec, "client_property_id", prop_ids)
    for i, rec in enumerate(lists["client_tags"]):
        check_ref("client_tags", i, rec, "client_id", client_ids)
        if not rec.get("name"):
            raise fail(f"client_tags[{i}] (id {rec['id']}): 'name' is required")
    documents = doc.get("documents", [])
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise fail("documents must be a list of client id strings")
    for d in documents:
        if d not in client_ids:
            raise fail(f"documents: client id {d!r} does not exist")
    return Account(
        billomat_id=billomat_id, myself=myself, settings=settings, documents=list(documents), **lists
    )
