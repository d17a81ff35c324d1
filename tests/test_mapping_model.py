"""Tests for sync.mapping.model: the frozen mapping and Billomat's field catalogues."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from sync.mapping import CLIENT_FIELDS, CONTACT_FIELDS, Mapping, load_mapping, mapping_from_text

SHIPPED = Path(__file__).resolve().parents[1] / "mappings" / "billomat.yaml"


def test_mapping_is_frozen() -> None:
    mapping = load_mapping(SHIPPED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mapping.version = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        mapping.sheets["clients"].columns[0].header = "x"  # type: ignore[misc]
    assert list(mapping.sheets) == ["clients", "contacts"] and isinstance(
        mapping.sheets["clients"].columns, tuple
    )


def test_catalogues_keep_ids_and_codes_as_text() -> None:
    """Ids, zip codes and phone numbers are text in the catalogues, so `type: number` is refused."""
    for name in ("id", "zip", "phone", "mobile", "fax", "bank_iban", "client_number", "number_pre"):
        assert CLIENT_FIELDS[name].kind == "text", name
    assert CONTACT_FIELDS["client_id"].kind == "text"
    assert isinstance(load_mapping(SHIPPED), Mapping)


# reference/billomat-api.md §4.1 "Writable fields (create table; PUT takes the same)", row by row.
REFERENCE_WRITABLE_CLIENT_FIELDS = (
    "archived", "number_pre", "number", "number_length", "name", "street", "zip", "city", "state",
    "country_code", "first_name", "last_name", "salutation", "phone", "fax", "mobile", "email", "www",
    "tax_number", "vat_number", "bank_account_number", "bank_account_owner", "bank_number", "bank_name",
    "bank_swift", "bank_iban", "sepa_mandate", "sepa_mandate_date", "locale", "tax_rule", "net_gross",
    "default_payment_types", "note", "reduction", "discount_rate_type", "discount_days_type", "due_days_type",
    "reminder_due_days_type", "offer_validity_days_type", "discount_rate", "discount_days", "due_days",
    "reminder_due_days", "offer_validity_days", "currency_code", "price_group", "debitor_account_number",
    "dunning_run",
)  # fmt: skip
# reference/billomat-api.md §4.2 "Create fields" (PUT takes the same params); client_id is the link.
REFERENCE_WRITABLE_CONTACT_FIELDS = (
    "client_id", "label", "name", "street", "zip", "city", "state", "country_code", "first_name",
    "last_name", "salutation", "phone", "fax", "mobile", "email", "www",
)  # fmt: skip
# A left-out column in the shipped mapping: a comment that is exactly the YAML line which adds it.
LEFT_OUT = re.compile(r"^(?P<indent> *)# (?P<line>- \{field: (?P<field>\w+),.*)$", re.MULTILINE)


@pytest.mark.parametrize(
    ("resource", "writable"),
    [("clients", REFERENCE_WRITABLE_CLIENT_FIELDS), ("contacts", REFERENCE_WRITABLE_CONTACT_FIELDS)],
)
def test_every_writable_field_has_a_column_or_a_commented_line_that_adds_it(resource, writable) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    shown = {c.field for c in load_mapping(SHIPPED).sheets[resource].columns}
    # Each sheet's part of the file: the left-out lines of the clients sheet are not the contacts'.
    part = text.split("\n  contacts:\n")[0 if resource == "clients" else 1]
    left_out = {m["field"] for m in LEFT_OUT.finditer(part)}
    assert not shown & left_out, "a field is both a column and left out"
    assert set(writable) - shown - left_out == set()
    # The comment says: delete the "# " in front of the line. Doing so for all of them gives a mapping
    # that loads and shows every writable field.
    uncommented = LEFT_OUT.sub(lambda m: f"{m['indent']}{m['line']}", text)
    assert {c.field for c in mapping_from_text(uncommented).sheets[resource].columns} >= set(writable)


def test_the_field_catalogue_marks_exactly_the_reference_fields_writable() -> None:
    assert {f for f, spec in CLIENT_FIELDS.items() if spec.writable} == set(REFERENCE_WRITABLE_CLIENT_FIELDS)
    assert {f for f, spec in CONTACT_FIELDS.items() if spec.writable} == set(REFERENCE_WRITABLE_CONTACT_FIELDS)
