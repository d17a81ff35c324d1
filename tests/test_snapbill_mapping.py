"""sync/snapbill_mapping.py: mappings/snapbill.yaml read, checked (every problem with its line) and applied
to one Billomat client. The migration that uses it is in test_migrate.py / test_migrate_e2e.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import MappingError
from sync.snapbill_mapping import (
    FieldRule,
    fill_template,
    load_snapbill_mapping,
    snapbill_mapping_from_dict,
    snapbill_mapping_from_text,
    split_emails,
)

SHIPPED = Path(__file__).resolve().parent.parent / "mappings" / "snapbill.yaml"
HEAD = "version: 1\nfields:\n  number: client_number\n"


def problems_of(text: str) -> list[str]:
    """The problems MappingError lists for a mapping text."""
    with pytest.raises(MappingError) as caught:
        snapbill_mapping_from_text(text, source="snapbill.yaml")
    assert caught.value.path == "snapbill.yaml"
    return caught.value.problems


def test_the_shipped_file_loads_with_its_fallback_and_ignore_list() -> None:
    mapping = load_snapbill_mapping(SHIPPED)
    assert mapping.source == str(SHIPPED)
    assert mapping.fallback == (("company", "Kunde {client_number}"),)
    assert {"id", "created", "updated", "client_number"} <= mapping.ignore
    assert mapping.rule("email") == FieldRule(
        "email", "email", ("first_email",), "clear", False, mapping.rule("email").place  # type: ignore[union-attr]
    )
    assert mapping.rule("email").place.startswith("fields.email (line ")  # type: ignore[union-attr]
    assert mapping.rule("credit") is None
    assert {"client_number", "name", "email", "id"} <= mapping.sources


@pytest.mark.parametrize(
    ("steps", "value", "sent"),
    [
        ([], "  de ", "  de "),
        (["strip"], "  de ", "de"),
        (["upper"], "de", "DE"),
        (["lower"], "INFO@X.DE", "info@x.de"),
        (["strip", "upper"], " de ", "DE"),
        (["first_email"], " a@x.de, b@x.de; c@x.de", "a@x.de"),
        (["first_email"], "   ", ""),
        (["none"], " x ", " x "),
    ],
)
def test_a_rules_transforms_run_in_order(steps: list[str], value: str, sent: str) -> None:
    mapping = snapbill_mapping_from_dict(
        {"version": 1, "fields": {"number": "client_number", "email": {"from": "email", "transform": steps or "none"}}}
    )
    assert mapping.rule("email").value({"email": value}) == sent  # type: ignore[union-attr]


def test_a_missing_or_none_value_is_empty_text() -> None:
    rule = FieldRule("company", "name")
    assert rule.value({}) == "" and rule.value({"name": None}) == ""  # type: ignore[dict-item]


def test_short_and_long_forms_are_the_same_rule() -> None:
    short = snapbill_mapping_from_text(HEAD + "  company: name\n").rule("company")
    long = snapbill_mapping_from_text(HEAD + "  company:\n    from: name\n").rule("company")
    assert (short.source, short.transforms, short.when_empty) == (long.source, long.transforms, long.when_empty)  # type: ignore[union-attr]
    assert short.place == "fields.company (line 4)"  # type: ignore[union-attr]


def test_data_and_property_rules_name_their_key_and_property() -> None:
    mapping = snapbill_mapping_from_text(HEAD + "  data-branche: 'property:Branche'\n")
    rule = mapping.rule("data-branche")
    assert (rule.data_key, rule.property_name) == ("branche", "Branche")  # type: ignore[union-attr]
    assert mapping.rule("number").data_key is None and mapping.rule("number").property_name is None  # type: ignore[union-attr]


def test_split_emails_splits_on_commas_and_semicolons() -> None:
    assert split_emails("a@x.de,b@x.de ; c@x.de") == ["a@x.de", "b@x.de", "c@x.de"]
    assert split_emails("") == [""]


def test_fill_template_uses_the_clients_fields_and_empties_unknown_ones() -> None:
    assert fill_template("Kunde {client_number}", {"client_number": "KD00042"}) == "Kunde KD00042"
    assert fill_template(" {name} {city} ", {"name": "Müller"}) == "Müller"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the mapping is empty"),
        ("version: 2\nfields:\n  number: client_number\n", "version (line 1): a number (2) is not a supported version; allowed: 1"),
        ("version: 1\ntarget: lexoffice\nfields:\n  number: client_number\n", "target (line 2)"),
        ("version: 1\nfields: []\n", "fields (line 2): expected a mapping of SnapBill parameter"),
        (HEAD + "  state: archived\n", "fields.state (line 4): SnapBill parameter 'state' must not be migrated"),
        (HEAD + "  company: {from: name, if_defined: true}\n", "only a data-* parameter can depend"),
        (HEAD + "  company: {from: name, when_empty: skip}\n", "fields.company.when_empty (line 4)"),
        (HEAD + "  company: 'property: '\n", "property: needs the name of a Billomat client property"),
        (HEAD + "  company: {from: name, transform: []}\n", "fields.company.transform (line 4)"),
        (HEAD + "  company: {from: name, colour: red}\n", "colour"),
        (HEAD + "ignore: [id, lieblingsfarbe]\n", "ignore[1] (line 4): 'lieblingsfarbe' is not a Billomat client field"),
        (HEAD + "ignore: id\n", "ignore (line 4): expected a list of Billomat fields"),
        (HEAD + "fallback:\n  company: 'Kunde {nummer}'\n", "fallback.company (line 5): {nummer}"),
        (HEAD + "fallback: {}\n", "fallback"),
    ],
)
def test_each_problem_names_its_place(text: str, expected: str) -> None:
    problems = problems_of(text)
    assert any(expected in p for p in problems), problems


def test_every_problem_is_listed_at_once_in_line_order() -> None:
    problems = problems_of("version: 1\nfields:\n  compnay: name\n  company: nmae\n")
    places = [p.split(": ")[0] for p in problems]
    assert sorted(places) == ["fields (line 3)", "fields.company (line 4)", "fields.compnay (line 3)"]
    assert [int(p.split("line ")[1].rstrip(")")) for p in places] == [3, 3, 4]


def test_fallback_skip_means_no_fallback() -> None:
    assert snapbill_mapping_from_text(HEAD + "fallback: skip\n").fallback is None


def test_for_account_keeps_defined_data_keys_and_known_properties() -> None:
    mapping = snapbill_mapping_from_text(
        HEAD + "  data-vat_number: vat_number\n  data-branche: {from: 'property:Branche', if_defined: true}\n"
        "fallback: skip\nignore: [id]\n",
        source="snapbill.yaml",
    )
    checked = mapping.for_account(["vat_number", "branche"], ["Branche"])
    assert [r.param for r in checked.rules] == ["number", "data-vat_number", "data-branche"]
    assert (checked.fallback, checked.ignore, checked.source) == (None, frozenset({"id"}), "snapbill.yaml")
    dropped = mapping.for_account(["vat_number"], ["Branche"])
    assert [r.param for r in dropped.rules] == ["number", "data-vat_number"]
    assert [r.param for r in dropped.skipped_rules] == ["data-branche"]


def test_for_account_with_no_custom_fields_says_none() -> None:
    mapping = snapbill_mapping_from_text(HEAD + "  data-vat_number: vat_number\n  firstname: 'property:Vorname'\n")
    with pytest.raises(MappingError) as caught:
        mapping.for_account([], [])
    assert caught.value.problems == [
        "fields.data-vat_number (line 4): the SnapBill account defines no custom field 'vat_number' "
        "(it defines: none); add it under Setup > Custom Fields, or remove the line",
        "fields.firstname (line 5): Billomat has no client property 'Vorname' (it has: none)",
    ]
