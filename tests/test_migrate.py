"""The migration engine without HTTP: mapping validation, desired state, comparison, the id map."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.clients.snapbill import ClientForm
from sync.errors import MappingError, StateError
from sync.migrate import (
    ClientResult,
    IdMap,
    MigrationResult,
    Unheld,
    current_params,
    differences,
    plan_client,
)
from sync.snapbill_mapping import load_snapbill_mapping, snapbill_mapping_from_text

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "snapbill"
MAPPING = load_snapbill_mapping(REPO / "mappings" / "snapbill.yaml")
FORM = ClientForm.from_body(json.loads((FIXTURES / "client_add_form_get.json").read_text()))
ALL_KEYS = FORM.data_keys | {"billomat_id"}


def client(**fields: str) -> dict[str, str]:
    base = {"id": "1001", "client_number": "KD00042", "name": "Müller & Söhne GmbH", "first_name": "Jürgen",
            "last_name": "Müller", "email": "info@mueller.de", "mobile": "", "phone": "+49 351 1234567",
            "fax": "", "street": "Weißenburger Str. 12", "zip": "01067", "city": "Dresden", "state": "Sachsen",
            "country_code": "de", "currency_code": "", "vat_number": "DE123", "archived": "0", "note": "Hauptkunde",
            "tax_rule": "COUNTRY", "due_days": "31"}
    return base | fields


def problems_of(text: str) -> list[str]:
    with pytest.raises(MappingError) as caught:
        snapbill_mapping_from_text(text, source="snapbill.yaml")
    return caught.value.problems


def test_the_shipped_mapping_is_valid_and_declares_the_renames() -> None:
    renames = {r.param: r.source for r in MAPPING.rules}
    assert renames == {
        "number": "client_number", "company": "name", "firstname": "first_name", "surname": "last_name",
        "email": "email", "cell": "mobile", "country_code": "country_code", "currency_code": "currency_code",
        "data-public_phone": "phone", "data-public_fax": "fax", "data-public_street": "street",
        "data-public_postcode": "zip", "data-public_city": "city", "data-public_province": "state",
        "data-vat_number": "vat_number", "data-billomat_id": "id", "data-tax_number": "tax_number",
    }


def test_unknown_names_are_errors_with_their_line() -> None:
    problems = problems_of(
        "version: 1\n"
        "fields:\n"
        "  number: client_number\n"
        "  compnay: name\n"
        "  company: nmae\n"
        "  credit: name\n"
        "  email: {from: email, transform: first_mail}\n"
        "  data-Bad Key: city\n"
    )
    text = "\n".join(problems)
    assert "fields.compnay (line 4): unknown SnapBill client parameter 'compnay'" in text
    assert "fields.company (line 5): unknown Billomat client field 'nmae'" in text
    assert "fields.credit (line 6)" in text and "credit payment" in text
    assert "fields.email.transform (line 7)" in text
    assert "fields.data-Bad Key (line 8)" in text


def test_number_must_be_mapped_and_fallback_checked() -> None:
    problems = problems_of("version: 1\nfields:\n  company: name\nfallback:\n  company: 'Kunde {nummer}'\n")
    assert any("'number' must be mapped" in p for p in problems)
    assert any("fallback.company (line 5)" in p and "{nummer}" in p for p in problems)


def test_undefined_data_keys_are_errors_before_any_write() -> None:
    mapping = snapbill_mapping_from_text(
        "version: 1\nfields:\n  number: client_number\n  data-branche: 'property:Branche'\n  data-foo: note\n",
        source="snapbill.yaml",
    )
    with pytest.raises(MappingError) as caught:
        mapping.for_account(FORM.data_keys, ["Branche"])
    assert caught.value.problems == [
        "fields.data-branche (line 4): the SnapBill account defines no custom field 'branche' (it defines: "
        + ", ".join(f"data-{k}" for k in sorted(FORM.data_keys))
        + "); add it under Setup > Custom Fields, or remove the line",
        "fields.data-foo (line 5): the SnapBill account defines no custom field 'foo' (it defines: "
        + ", ".join(f"data-{k}" for k in sorted(FORM.data_keys))
        + "); add it under Setup > Custom Fields, or remove the line",
    ]
    with pytest.raises(MappingError, match="no client property 'Branch'"):
        snapbill_mapping_from_text(
            "version: 1\nfields:\n  number: client_number\n  firstname: 'property:Branch'\n"
        ).for_account(FORM.data_keys, ["Branche"])


def test_if_defined_fields_are_dropped_and_reported() -> None:
    checked = MAPPING.for_account(FORM.data_keys, [])
    assert {r.param for r in checked.skipped_rules} == {"data-billomat_id", "data-tax_number"}
    plan = plan_client(client(tax_number="231/123"), checked)
    assert "data-billomat_id" not in plan.params
    assert Unheld("field tax_number", "231/123") in plan.unheld
    assert Unheld("field id", "1001") not in plan.unheld  # ignored in the YAML


def test_plan_applies_renames_and_transforms() -> None:
    plan = plan_client(client(email="a@x.de, b@x.de;c@x.de"), MAPPING.for_account(ALL_KEYS, []))
    assert plan.params["company"] == "Müller & Söhne GmbH"
    assert plan.params["firstname"] == "Jürgen" and plan.params["surname"] == "Müller"
    assert plan.params["number"] == "KD00042" and plan.number == "KD00042"
    assert plan.params["email"] == "a@x.de"
    assert plan.params["country_code"] == "DE"
    assert "currency_code" not in plan.params  # empty + when_empty: keep -> the account's default
    assert plan.params["cell"] == ""  # empty + clear -> compared and cleared
    assert plan.params["data-public_postcode"] == "01067"
    assert plan.params["data-billomat_id"] == "1001"
    assert Unheld("further email address", "b@x.de") in plan.unheld
    assert Unheld("further email address", "c@x.de") in plan.unheld
    assert Unheld("field note", "Hauptkunde") in plan.unheld
    assert not any(u.what == "field tax_rule" for u in plan.unheld)


def test_tags_contacts_and_attributes_are_reported() -> None:
    record = client() | {"property:Branche": "Bau", "property:Stammkunde": ""}
    plan = plan_client(
        record,
        MAPPING.for_account(ALL_KEYS, ["Branche", "Stammkunde"]),
        tags=["b-tag", "A-Kunde"],
        contacts=[{"id": "5", "first_name": "Eva", "last_name": "Ost", "email": "eva@x.de"}],
    )
    assert Unheld("attribute Branche", "Bau") in plan.unheld
    assert [u.value for u in plan.unheld if u.what == "tag"] == ["A-Kunde", "b-tag"]
    assert Unheld("contact", "Eva Ost (eva@x.de)") in plan.unheld


def test_fallback_skip_archived_and_problems() -> None:
    checked = MAPPING.for_account(ALL_KEYS, [])
    nameless = client(name="", first_name="", last_name="")
    plan = plan_client(nameless, checked)
    assert plan.params["company"] == "Kunde KD00042" and plan.notes and not plan.skip
    skipping = snapbill_mapping_from_text(
        "version: 1\nfields:\n  number: client_number\n  company: name\nfallback: skip\n"
    ).for_account(ALL_KEYS, [])
    plan = plan_client(nameless, skipping)
    assert plan.skip and not plan.skip_is_choice
    archived = plan_client(client(archived="1"), checked)
    assert archived.skip and archived.skip_is_choice
    assert not plan_client(client(archived="1"), checked, include_archived=True).skip
    assert "no client number" in plan_client(client(client_number=""), checked).problem
    chf = plan_client(client(currency_code="CHF"), checked, form=FORM)
    assert "currency 'CHF' is not enabled in SnapBill (enabled: ZAR)" in chf.problem


def test_current_params_and_differences_on_the_recorded_client() -> None:
    recorded = json.loads((FIXTURES / "client_get.json").read_text())["client"]
    have = current_params(recorded, ["company", "firstname", "country_code", "currency_code", "data-vat_number"])
    assert have == {"company": "", "firstname": "jane", "country_code": "ZA", "currency_code": "ZAR",
                    "data-vat_number": ""}
    assert differences({"company": "helkom", "firstname": "jane", "data-vat_number": ""}, have) == {
        "company": ("", "helkom")
    }
    old = {k: v for k, v in recorded.items() if k != "data"}  # 2012: no data object
    assert current_params(old, ["data-vat_number"]) == {"data-vat_number": None}


def test_id_map_round_trip_and_foreign_account(tmp_path: Path) -> None:
    path = tmp_path / "snapbill_ids.json"
    ids = IdMap(path, "https://api.snapbill.com/v1 demo")
    ids.set("1001", {"id": 158975, "xid": "Clw:mz_", "number": "KD00042"})
    ids.save()
    again = IdMap(path, "https://api.snapbill.com/v1 demo")
    assert again.get("1001") == {"id": "158975", "xid": "Clw:mz_", "number": "KD00042"}
    assert again.owner_of("158975") == "1001"
    other = IdMap(path, "https://api.snapbill.com/v1 someone-else")
    assert other.foreign and other.get("1001") is None
    path.write_text("{broken")
    with pytest.raises(StateError, match="damaged"):
        IdMap(path, "x")


def test_exit_code_rules() -> None:
    ok = ClientResult("1", "1", "A", "created")
    archived = ClientResult("2", "2", "B", "skipped", skip_is_choice=True)
    assert MigrationResult([ok, archived]).exit_code == 0
    assert MigrationResult([ok, ClientResult("3", "3", "C", "skipped")]).exit_code == 1
    assert MigrationResult([ok, ClientResult("3", "3", "C", "failed")]).exit_code == 1
    assert MigrationResult([ClientResult("4", "4", "D", "updated", ignored=["currency_code"])]).exit_code == 1
    assert MigrationResult([ok, archived]).counts() == {
        "created": 1, "updated": 0, "unchanged": 0, "skipped": 1, "failed": 0
    }
