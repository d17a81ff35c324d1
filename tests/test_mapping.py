"""Tests for sync.mapping (validate, yamlcheck): the shipped mapping, and every kind of invalid mapping."""

from __future__ import annotations

import copy
import re
import textwrap
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from sync.errors import MappingError
from sync.mapping import (
    CLIENT_FIELDS,
    CONTACT_FIELDS,
    ColumnMap,
    CsvOptions,
    PropertiesMap,
    TagsMap,
    load_mapping,
    mapping_from_dict,
    mapping_from_text,
)

SHIPPED = Path(__file__).resolve().parents[1] / "mappings" / "billomat.yaml"

# A small valid mapping; each invalid case below changes one thing in it.
VALID = """\
version: 1
csv:
  separator: ";"
sheets:
  clients:
    sheet: Kunden
    key: id
    columns:
      - {field: id, header: Billomat-ID, read_only: true}
      - {field: client_number, header: Kundennummer, read_only: true}
      - {field: name, header: Firma}
      - {field: zip, header: PLZ}
    properties:
      header_suffix: " (Attribut)"
    tags:
      header: Schlagwörter
  contacts:
    sheet: Kontakte
    key: id
    columns:
      - {field: id, header: Kontakt-ID, read_only: true}
      - {field: client_id, header: Kunden-ID}
      - {field: client_number, header: Kundennummer, lookup: clients}
"""


def variant(old: str, new: str) -> str:
    """VALID with one exact piece of text replaced (fails loudly if the piece is not there)."""
    assert old in VALID, old
    return VALID.replace(old, new, 1)


class MappingCase(NamedTuple):
    name: str
    yaml_text: str
    expected: tuple[str, ...]  # fragments that must all appear in one problem


INVALID_MAPPINGS = [
    MappingCase(
        "type typo",
        variant("{field: zip, header: PLZ}", "{field: zip, header: PLZ, type: txt}"),
        ("sheets.clients.columns[3].type", "(line 12)", "'txt' is not one of: bool, date, number, text"),
    ),
    MappingCase(
        "unknown column key",
        variant("{field: name, header: Firma}", "{field: name, header: Firma, readonly: true}"),
        (
            "sheets.clients.columns[2].readonly",
            "(line 11)",
            "unknown key 'readonly'",
            "did you mean 'read_only'",
        ),
    ),
    MappingCase(
        "unknown top-level key",
        VALID + "sheet:\n  x: 1\n",
        ("sheet (line 24)", "unknown key 'sheet'", "allowed keys: version, csv, sheets"),
    ),
    MappingCase(
        "unknown sheet key",
        variant(
            "    key: id\n    columns:\n      - {field: id, header: Billomat-ID",
            "    key: id\n    colums: []\n    columns:\n      - {field: id, header: Billomat-ID",
        ),
        (
            "sheets.clients.colums",
            "did you mean 'columns'",
            "allowed keys: sheet, key, columns, properties, tags",
        ),
    ),
    MappingCase(
        "unknown Billomat field",
        variant("{field: zip, header: PLZ}", "{field: zipp, header: PLZ}"),
        (
            "sheets.clients.columns[3].field (line 12)",
            "'zipp' is not a Billomat clients field",
            "did you mean 'zip'",
        ),
    ),
    MappingCase(
        "unknown contact field",
        variant(
            "{field: client_id, header: Kunden-ID}",
            "{field: client_id, header: Kunden-ID}\n      - {field: vat_number, header: USt}",
        ),
        ("sheets.contacts.columns[2].field", "'vat_number' is not a Billomat contacts field"),
    ),
    MappingCase(
        "duplicate header",
        variant("{field: zip, header: PLZ}", "{field: zip, header: Firma}"),
        ("sheets.clients.columns[3].header (line 12)", "header 'Firma' is already used by columns[2]"),
    ),
    MappingCase(
        "duplicate header differing in case",
        variant("{field: zip, header: PLZ}", "{field: zip, header: firma}"),
        ("sheets.clients.columns[3].header", "already used by columns[2]"),
    ),
    MappingCase(
        "duplicate field",
        variant("{field: zip, header: PLZ}", "{field: name, header: Name 2}"),
        ("sheets.clients.columns[3].field (line 12)", "field 'name' is already mapped by columns[2]"),
    ),
    MappingCase(
        "key not declared",
        variant(
            "    key: id\n    columns:\n      - {field: id, header: Billomat-ID",
            "    key: customfield\n    columns:\n      - {field: id, header: Billomat-ID",
        ),
        (
            "sheets.clients.key (line 7)",
            "the key 'customfield' is not the field of any column",
            "fields of this sheet: client_number, id, name, zip",
        ),
    ),
    MappingCase(
        "key not read-only",
        variant("{field: id, header: Kontakt-ID, read_only: true}", "{field: client_id, header: Kontakt-ID}")
        .replace("      - {field: client_id, header: Kunden-ID}\n", "")
        .replace("    sheet: Kontakte\n    key: id", "    sheet: Kontakte\n    key: client_id"),
        ("sheets.contacts.key", "the key column 'Kontakt-ID' must be read_only: true"),
    ),
    MappingCase(
        "derived field not read-only",
        variant(
            "{field: client_number, header: Kundennummer, read_only: true}",
            "{field: client_number, header: Kundennummer}",
        ),
        (
            "sheets.clients.columns[1] (line 10)",
            "field 'client_number' cannot be written to Billomat",
            "add read_only: true",
        ),
    ),
    MappingCase(
        "number type on a zip code",
        variant("{field: zip, header: PLZ}", "{field: zip, header: PLZ, type: number}"),
        (
            "sheets.clients.columns[3].type",
            "'number' does not fit field 'zip'",
            "stores it as text",
            "allowed: text",
        ),
    ),
    MappingCase(
        "bool type on a number field",
        variant("{field: zip, header: PLZ}", "{field: debitor_account_number, header: Debitor, type: bool}"),
        ("sheets.clients.columns[3].type", "'bool' does not fit", "allowed: number, text"),
    ),
    MappingCase(
        "normalize typo",
        variant(
            "{field: name, header: Firma}", "{field: name, header: Firma, normalize: [strip, lowercase]}"
        ),
        (
            "sheets.clients.columns[2].normalize[1] (line 11)",
            "'lowercase' is not one of: lower, nfc, none, remove_spaces, strip, upper",
        ),
    ),
    MappingCase(
        "normalize none combined",
        variant("{field: name, header: Firma}", "{field: name, header: Firma, normalize: [none, strip]}"),
        ("sheets.clients.columns[2].normalize", "'none' cannot be combined"),
    ),
    MappingCase(
        "normalize wrong shape",
        variant("{field: name, header: Firma}", "{field: name, header: Firma, normalize: 3}"),
        ("sheets.clients.columns[2].normalize", "expected one of", "got a number (3)"),
    ),
    MappingCase(
        "read_only not a bool",
        variant("{field: name, header: Firma}", "{field: name, header: Firma, read_only: ja}"),
        ("sheets.clients.columns[2].read_only", "expected true or false, got the text 'ja'"),
    ),
    MappingCase(
        "YAML turns No into false",
        variant("{field: zip, header: PLZ}", "{field: zip, header: No}"),
        (
            "sheets.clients.columns[3].header",
            "expected text, got a yes/no value (false)",
            'put it in quotes: "No"',
        ),
    ),
    MappingCase(
        "header with blanks around it",
        variant("{field: zip, header: PLZ}", "{field: zip, header: ' PLZ'}"),
        ("sheets.clients.columns[3].header", "no blanks at the start or end"),
    ),
    MappingCase(
        "header like a formula",
        variant("{field: zip, header: PLZ}", "{field: zip, header: '=PLZ'}"),
        ("sheets.clients.columns[3].header", "must not start with '='"),
    ),
    MappingCase(
        "empty header",
        variant("{field: zip, header: PLZ}", "{field: zip, header: ''}"),
        ("sheets.clients.columns[3].header", "must not be empty"),
    ),
    MappingCase(
        "missing header",
        variant("{field: zip, header: PLZ}", "{field: zip}"),
        ("sheets.clients.columns[3] (line 12)", "missing required key 'header'"),
    ),
    MappingCase(
        "column not a mapping",
        variant("{field: zip, header: PLZ}", "zip"),
        (
            "sheets.clients.columns[3] (line 12)",
            "expected a mapping with keys field, header",
            "got the text 'zip'",
        ),
    ),
    MappingCase(
        "unsupported version",
        variant("version: 1", "version: 2"),
        ("version (line 1)", "a number (2) is not a supported version; allowed: 1"),
    ),
    MappingCase(
        "missing version",
        variant("version: 1\n", ""),
        ("(top level)", "missing required key 'version'"),
    ),
    MappingCase(
        "csv separator",
        variant('separator: ";"', 'separator: "|"'),
        ("csv.separator (line 3)", "'|' is not one of: ';' (semicolon), ',' (comma), '\\t' (tab)"),
    ),
    MappingCase(
        "csv encoding",
        variant('separator: ";"', 'separator: ";"\n  encoding: latin-1'),
        ("csv.encoding (line 4)", "'latin-1' is not one of: utf-8, utf-8-sig"),
    ),
    MappingCase(
        "sheet name Excel refuses",
        variant("sheet: Kunden", "sheet: Kunden/2024"),
        ("sheets.clients.sheet (line 6)", "contains /", "Excel does not allow"),
    ),
    MappingCase(
        "sheet name too long",
        variant("sheet: Kunden", "sheet: Kunden und Interessenten der Firma"),
        ("sheets.clients.sheet", "longer than 31 characters"),
    ),
    MappingCase(
        "sheet names differing only in case",
        variant("sheet: Kontakte", "sheet: kunden"),
        ("sheets.contacts.sheet (line 18)", "sheet name 'kunden' is already used by sheets.clients"),
    ),
    MappingCase(
        "unknown resource",
        VALID + "  invoices:\n    sheet: Rechnungen\n",
        ("sheets.invoices (line 24)", "'invoices' is not one of: clients, contacts"),
    ),
    MappingCase(
        "lookup on the clients sheet",
        variant("{field: zip, header: PLZ}", "{field: zip, header: PLZ, lookup: clients}"),
        ("sheets.clients.columns[3].lookup", "a clients sheet has nothing to look up from"),
    ),
    MappingCase(
        "lookup from an unknown resource",
        variant("lookup: clients}", "lookup: invoices}"),
        ("sheets.contacts.columns[2].lookup (line 23)", "'invoices' is not one of: clients"),
    ),
    MappingCase(
        "lookup declared writable",
        variant("lookup: clients}", "lookup: clients, read_only: false}"),
        ("sheets.contacts.columns[2].read_only", "a lookup column is always read-only"),
    ),
    MappingCase(
        "lookup of a field the client does not have",
        variant(
            "{field: client_number, header: Kundennummer, lookup: clients}",
            "{field: label, header: Label, lookup: clients}",
        ),
        ("sheets.contacts.columns[2].field", "'label' is not a Billomat clients field"),
    ),
    MappingCase(
        "contacts without client_id",
        variant("      - {field: client_id, header: Kunden-ID}\n", "").replace(
            ", lookup: clients}", ", read_only: true}"
        ),
        ("sheets.contacts.columns", "needs a column for 'client_id'"),
    ),
    MappingCase(
        "properties on the contacts sheet",
        VALID + "    properties: {}\n",
        ("sheets.contacts.properties (line 24)", "only the clients sheet can have property columns"),
    ),
    MappingCase(
        "tags on the contacts sheet",
        VALID + "    tags: {header: Tags}\n",
        ("sheets.contacts.tags", "only the clients sheet can have a tags column"),
    ),
    MappingCase(
        "tags separator of blanks only",
        variant("header: Schlagwörter", "header: Schlagwörter\n      separator: ' '"),
        ("sheets.clients.tags.separator (line 17)", "needs a visible character"),
    ),
    MappingCase(
        "tags header collides",
        variant("header: Schlagwörter", "header: PLZ"),
        ("sheets.clients.tags.header", "header 'PLZ' is already used by columns[3]"),
    ),
    MappingCase(
        "checkbox values unquoted",
        variant('header_suffix: " (Attribut)"', "checkbox: {unchecked: 0, checked: 1}"),
        ("sheets.clients.properties.checkbox.unchecked", "got a number (0)", 'put it in quotes: "0"'),
    ),
    MappingCase(
        "checkbox values equal",
        variant('header_suffix: " (Attribut)"', "checkbox: {unchecked: 'x', checked: 'X'}"),
        ("sheets.clients.properties.checkbox", "checked and unchecked must differ"),
    ),
    MappingCase(
        "checkbox value missing",
        variant('header_suffix: " (Attribut)"', "checkbox: {checked: 'ja'}"),
        ("sheets.clients.properties.checkbox", "missing required key 'unchecked'"),
    ),
    MappingCase(
        "key given twice in YAML",
        variant("    sheet: Kontakte\n    key: id", "    sheet: Kontakte\n    key: id\n    key: id"),
        ("sheets.contacts.key (line 20)", "key given twice"),
    ),
    MappingCase(
        "not valid YAML",
        variant("{field: zip, header: PLZ}", "{field: zip, header: PLZ"),
        ("not valid YAML",),
    ),
    MappingCase("empty file", "", ("the mapping is empty",)),
    MappingCase("not a mapping", "- a\n- b\n", ("(top level)", "expected a mapping", "got a list")),
    MappingCase(
        "sheets is empty",
        variant(VALID[VALID.index("sheets:") :], "sheets: {}\n"),
        ("sheets (line 4)", "expected a mapping of resource"),
    ),
]


@pytest.mark.parametrize("case", INVALID_MAPPINGS, ids=[c.name for c in INVALID_MAPPINGS])
def test_invalid_mapping(case: MappingCase) -> None:
    with pytest.raises(MappingError) as info:
        mapping_from_text(case.yaml_text, source="m.yaml")
    problems = info.value.problems
    assert any(all(fragment in p for fragment in case.expected) for p in problems), problems
    assert str(info.value).startswith("m.yaml: ")


def test_valid_base_mapping_loads() -> None:
    """The base of the invalid cases is itself valid (else the cases would prove nothing)."""
    mapping = mapping_from_text(VALID)
    assert [s.sheet for s in mapping.sheets.values()] == ["Kunden", "Kontakte"]


def test_several_problems_reported_at_once() -> None:
    text = (
        variant("{field: zip, header: PLZ}", "{field: zipp, header: PLZ, type: txt}")
        .replace("{field: name, header: Firma}", "{field: name, header: Firma, colour: red}")
        .replace("version: 1", "version: 3")
        .replace('separator: ";"', 'separator: "|"')
    )
    with pytest.raises(MappingError) as info:
        mapping_from_text(text)
    problems = info.value.problems
    assert len(problems) == 5, problems
    # In file order, so the list reads top to bottom.
    lines = [int(m.group(1)) for p in problems for m in [re.search(r"\(line (\d+)\)", p)] if m]
    assert lines == sorted(lines) and lines[0] == 1
    assert len(str(info.value).splitlines()) == 1 + 5  # the file, then each problem on its own line


def test_many_problems_are_all_in_the_message_one_per_line() -> None:
    text = VALID
    for field in ("name", "zip"):
        text = text.replace(f"{{field: {field},", f"{{field: {field}x,")
    text = text.replace("version: 1", "version: 9").replace('separator: ";"', 'separator: "|"')
    text = text.replace("sheet: Kontakte", "sheet: 'K:K'").replace("Schlagwörter", "''")
    with pytest.raises(MappingError) as info:
        mapping_from_text(text, source="m.yaml")
    problems = info.value.problems
    assert len(problems) > 5
    assert str(info.value).splitlines() == [f"m.yaml: {len(problems)} problems:", *(f"  {p}" for p in problems)]
    assert "more)" not in str(info.value)


def test_a_single_problem_is_one_line_naming_the_file() -> None:
    with pytest.raises(MappingError) as info:
        mapping_from_text(VALID.replace("version: 1", "version: 9"), source="m.yaml")
    assert str(info.value) == f"m.yaml: {info.value.problems[0]}"
    assert "\n" not in str(info.value)


def test_shipped_mapping_loads() -> None:
    mapping = load_mapping(SHIPPED)
    assert mapping.version == 1
    assert mapping.csv == CsvOptions(separator=";", encoding="utf-8-sig")
    kunden = mapping.sheets["clients"]
    assert kunden.sheet == "Kunden" and kunden.key == "id"
    assert kunden.key_column.header == "Billomat-ID" and kunden.key_column.read_only
    assert {c.field for c in kunden.columns if c.read_only} == {"id", "client_number", "created"}
    assert kunden.by_header("Firma") == ColumnMap(header="Firma", field="name")
    assert kunden.by_header("PLZ").type == "text"  # leading zeros: never a number
    assert kunden.by_header("Telefon").type == "text"
    assert kunden.by_header("Archiviert").type == "bool"
    assert kunden.by_header("Notiz").wrap
    assert kunden.by_header("E-Mail").normalize == ("strip", "lower")
    assert kunden.properties == PropertiesMap()
    assert kunden.tags == TagsMap(header="Schlagwörter", separator=", ", sort=True)
    kontakte = mapping.sheets["contacts"]
    assert kontakte.sheet == "Kontakte" and kontakte.key_column.header == "Kontakt-ID"
    lookup = kontakte.by_header("Kundennummer")
    assert lookup is not None and lookup.lookup == "clients" and lookup.ignored_on_read
    assert not kontakte.by_header("Kunden-ID").ignored_on_read
    assert mapping.sheet_named("Kontakte") is kontakte and mapping.sheet_named("Nope") is None
    for sheet in mapping.sheets.values():
        catalogue = CLIENT_FIELDS if sheet.resource == "clients" else CONTACT_FIELDS
        for col in sheet.columns:
            spec = (CLIENT_FIELDS if col.lookup else catalogue)[col.field]
            assert spec.writable or col.ignored_on_read, col


def test_yaml_dict_and_text_give_the_same_mapping() -> None:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    from_dict = mapping_from_dict(data, source=str(SHIPPED))
    assert from_dict == load_mapping(SHIPPED)


def test_mapping_from_dict_does_not_mutate_its_input() -> None:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    before = copy.deepcopy(data)
    mapping_from_dict(data)
    assert data == before
    bad = yaml.safe_load(variant("{field: zip, header: PLZ}", "{field: zip, header: PLZ, type: txt}"))
    bad_before = copy.deepcopy(bad)
    with pytest.raises(MappingError):
        mapping_from_dict(bad)
    assert bad == bad_before


def test_problems_from_a_dict_have_paths_but_no_lines() -> None:
    bad = yaml.safe_load(variant("{field: zip, header: PLZ}", "{field: zip, header: PLZ, type: txt}"))
    with pytest.raises(MappingError) as info:
        mapping_from_dict(bad, source="<test>")
    assert info.value.problems == [
        "sheets.clients.columns[3].type: 'txt' is not one of: bool, date, number, text"
    ]
    assert info.value.path == "<test>"


def test_load_mapping_reports_file_problems(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="file not found"):
        load_mapping(tmp_path / "missing.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(VALID.encode("cp1252"))
    with pytest.raises(MappingError, match="not UTF-8"):
        load_mapping(latin)
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nsheets: [\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"broken\.yaml: line \d+: not valid YAML"):
        load_mapping(broken)


def test_defaults_and_normalisation() -> None:
    text = textwrap.dedent(
        """\
        version: 1
        sheets:
          clients:
            sheet: K
            key: id
            columns:
              - {field: id, header: ID, read_only: true}
              - {field: email, header: Mail, normalize: [strip, lower]}
              - {field: bank_iban, header: IBAN, normalize: remove_spaces}
              - {field: note, header: Notiz, normalize: none}
            properties:
        """
    )
    mapping = mapping_from_text(text)
    assert mapping.csv == CsvOptions()
    sheet = mapping.sheets["clients"]
    assert sheet.properties == PropertiesMap()  # an empty `properties:` means the defaults
    assert sheet.tags is None
    assert sheet.column("id").normalize == ("strip",)  # the default
    assert sheet.column("email").normalize_value("  Max@Example.DE ") == "max@example.de"
    assert sheet.column("bank_iban").normalize_value("DE89 3704 0044") == "DE8937040044"
    assert sheet.column("note").normalize_value(" a\n ") == " a\n "
    assert "contacts" not in mapping.sheets


def test_properties_and_tags_can_be_switched_off() -> None:
    text = VALID.replace('    properties:\n      header_suffix: " (Attribut)"\n', "    properties: false\n")
    text = text.replace("    tags:\n      header: Schlagwörter\n", "    tags: false\n")
    sheet = mapping_from_text(text).sheets["clients"]
    assert sheet.properties is None and sheet.tags is None


def test_deleted_rows_says_what_the_sync_does_with_rows_deleted_in_billomat() -> None:
    text = (SHIPPED.read_text(encoding="utf-8")).replace("deleted_rows: clear", "deleted_rows: mark")
    assert mapping_from_text(text).sheets["clients"].deleted_rows == "mark"
    assert load_mapping(SHIPPED).sheets["contacts"].deleted_rows == "clear"
    with pytest.raises(MappingError, match=r"sheets\.clients\.deleted_rows .*'hide' is not one of: clear, mark"):
        mapping_from_text(text.replace("deleted_rows: mark", "deleted_rows: hide"))


def test_currency_code_is_a_column_as_the_snapbill_mapping_migrates_it() -> None:
    column = load_mapping(SHIPPED).sheets["clients"].column("currency_code")
    assert column.header == "Währung" and not column.read_only


def test_the_sync_column_is_set_on_the_clients_sheet_only_and_needs_its_own_header() -> None:
    assert mapping_from_text(SHIPPED.read_text(encoding="utf-8")).sheets["clients"].sync_column == "Sync"
    assert mapping_from_text(VALID).sheets["clients"].sync_column is None
    ok = mapping_from_text(variant("    key: id\n    columns:\n      - {field: id, header: Billomat-ID",
                                   "    key: id\n    sync_column: Abgleich\n    columns:\n      - {field: id, header: Billomat-ID"))
    assert ok.sheets["clients"].sync_column == "Abgleich"
    with pytest.raises(MappingError) as info:
        mapping_from_text(variant("    sheet: Kunden\n", "    sheet: Kunden\n    sync_column: PLZ\n"))
    assert "'PLZ' is already used" in str(info.value)
    with pytest.raises(MappingError) as info:
        mapping_from_text(variant("    sheet: Kontakte\n", "    sheet: Kontakte\n    sync_column: Sync\n"))
    assert "only the clients sheet can have a Sync column" in str(info.value)
