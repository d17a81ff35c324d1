"""Field lists, defaults and the PHP-style JSON encoding of the emulated Billomat API."""

from __future__ import annotations

import json
import re
from typing import Any

# Output order of a client, taken from the recorded ~2020 response
# (reference/fixtures/billomat/client_get_with_property_values.json) plus `tax_number` from the 2012 ones.
# fmt: off
CLIENT_FIELDS: tuple[str, ...] = (
    "id", "created", "sepa_mandate_date", "archived", "dig_exclude", "client_number", "number",
    "number_pre", "number_length", "name", "salutation", "first_name", "last_name", "street", "zip",
    "city", "state", "country_code", "address", "phone", "fax", "mobile", "email", "www", "tax_number",
    "vat_number", "bank_account_owner", "bank_number", "bank_name", "bank_account_number", "bank_swift",
    "bank_iban", "currency_code", "enable_customerportal", "customerportal_url", "default_payment_types",
    "sepa_mandate", "locale", "tax_rule", "net_gross", "price_group", "debitor_account_number",
    "reduction", "discount_rate_type", "discount_rate", "discount_days_type", "discount_days",
    "due_days_type", "due_days", "reminder_due_days_type", "reminder_due_days",
    "offer_validity_days_type", "offer_validity_days", "dunning_run", "note", "revenue_gross",
    "revenue_net", "customfield",
)
# fmt: on

# billomat-api.md §4.1: read-only / derived fields; ignored when a client sends them.
CLIENT_READ_ONLY = frozenset(
    {"id", "created", "client_number", "address", "revenue_gross", "revenue_net", "customerportal_url"}
)

# Defaults for fields a create (or a seed) does not give. `number_pre`, `number_length`, `country_code`
# come from the account settings (billomat-api.md §4.1 "default from settings").
CLIENT_DEFAULTS: dict[str, str] = {
    "archived": "0",
    "dig_exclude": "0",
    "enable_customerportal": "0",
    "tax_rule": "COUNTRY",
    "net_gross": "SETTINGS",
    "price_group": "0",
    "reduction": "0",
    "discount_rate_type": "SETTINGS",
    "discount_days_type": "SETTINGS",
    "discount_days": "14",
    "due_days_type": "SETTINGS",
    "due_days": "31",
    "reminder_due_days_type": "SETTINGS",
    "reminder_due_days": "7",
    "offer_validity_days_type": "SETTINGS",
    "offer_validity_days": "0",
    "dunning_run": "0",
    "revenue_gross": "0",
    "revenue_net": "0",
}

CLIENT_BOOL_FIELDS = frozenset({"archived", "dig_exclude", "enable_customerportal", "dunning_run"})
CLIENT_INT_FIELDS = frozenset({"number", "number_length", "price_group"})
CLIENT_ENUMS: dict[str, frozenset[str]] = {
    "tax_rule": frozenset({"TAX", "NO_TAX", "COUNTRY"}),
    "net_gross": frozenset({"NET", "GROSS", "SETTINGS"}),
    **{
        f"{k}_type": frozenset({"SETTINGS", "ABSOLUTE", "RELATIVE"})
        for k in ("discount_rate", "discount_days", "due_days", "reminder_due_days", "offer_validity_days")
    },
}

# billomat-api.md §4.2 + B4J Contact.java.
CONTACT_FIELDS: tuple[str, ...] = (
    "id",
    "client_id",
    "created",
    "label",
    "name",
    "street",
    "zip",
    "city",
    "state",
    "country_code",
    "first_name",
    "last_name",
    "salutation",
    "phone",
    "fax",
    "mobile",
    "email",
    "www",
    "address",
    "locale",
    "customfield",
)
CONTACT_READ_ONLY = frozenset({"id", "created", "address"})

# billomat-api.md §4.3.
PROPERTY_FIELDS: tuple[str, ...] = (
    "id",
    "account_id",
    "name",
    "type",
    "default_value",
    "is_nvl",
    "customfield",
)
PROPERTY_TYPES = frozenset({"TEXTFIELD", "TEXTAREA", "CHECKBOX"})

# billomat-api.md §4.4 (order as in the embedded rows of client_get_with_property_values.json).
PROPERTY_VALUE_FIELDS: tuple[str, ...] = (
    "id",
    "client_id",
    "client_property_id",
    "type",
    "name",
    "value",
    "customfield",
)
# billomat-api.md §4.5 (order as in client_tag_get.json / client_tags_cloud_single.json).
TAG_FIELDS: tuple[str, ...] = ("id", "name", "client_id", "customfield")
TAG_CLOUD_FIELDS: tuple[str, ...] = ("id", "name", "count", "customfield")

# Fields whose order_by sorts numerically (everything else sorts as case-folded text).
NUMERIC_FIELDS = frozenset(
    {
        "id",
        "client_id",
        "client_property_id",
        "account_id",
        "number",
        "number_length",
        "price_group",
        "count",
        "discount_days",
        "due_days",
        "reminder_due_days",
        "offer_validity_days",
    }
)

# A simple, sane address check (billomat-api.md §1: bad email -> 400 "invalid email address").
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def valid_email(value: str) -> bool:
    """True for "" (email is optional) or a plausible address."""
    return value == "" or bool(EMAIL_RE.match(value))


def valid_iban(value: str) -> bool:
    """True for "" or an IBAN whose mod-97 check digits are right."""
    iban = value.replace(" ", "").upper()
    if iban == "":
        return True
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}", iban):
        return False
    digits = "".join(str(int(ch, 36)) for ch in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


def php_json(obj: Any) -> bytes:
    """Encode like PHP json_encode: ASCII only (`\\u00fc`) and `/` escaped as `\\/` (billomat-api.md §1)."""
    text = json.dumps(obj, ensure_ascii=True, separators=(",", ":"))
    # Safe: in our output "/" can only occur inside strings, where "\/" is a valid escape.
    return text.replace("/", "\\/").encode("ascii")


def to_api_string(value: Any) -> str | None:
    """Coerce a JSON scalar sent by a client to the API's string form; None for non-scalars."""
    if value is None:
        return ""
    if isinstance(value, bool):  # billomat-api.md §1: booleans are 1/0
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return None
