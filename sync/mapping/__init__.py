"""Workbook mapping: `mappings/*.yaml` → a frozen, validated `Mapping` (every problem with its YAML place).

`model` holds the frozen data (field catalogues, sheets, columns), `validate` turns YAML into it, and
`yamlcheck` is the problem collection (YAML place and line) the SnapBill mapping shares. Callers import
from `sync.mapping`: the mapping is read almost everywhere.
"""

from sync.mapping.model import (
    CLIENT_FIELDS,
    CONTACT_FIELDS,
    CSV_ENCODINGS,
    CSV_SEPARATORS,
    DEFAULT_NORMALIZE,
    DELETED_ROWS,
    NORMALIZERS,
    RESOURCE_FIELDS,
    TYPES,
    ColumnMap,
    CsvOptions,
    FieldSpec,
    Mapping,
    PropertiesMap,
    SheetMap,
    TagsMap,
    normalize_text,
)
from sync.mapping.validate import load_mapping, mapping_from_dict, mapping_from_text
from sync.mapping.yamlcheck import parse_yaml, read_yaml_text

__all__ = [
    "CLIENT_FIELDS",
    "CONTACT_FIELDS",
    "CSV_ENCODINGS",
    "CSV_SEPARATORS",
    "DEFAULT_NORMALIZE",
    "DELETED_ROWS",
    "NORMALIZERS",
    "RESOURCE_FIELDS",
    "TYPES",
    "ColumnMap",
    "CsvOptions",
    "FieldSpec",
    "Mapping",
    "PropertiesMap",
    "SheetMap",
    "TagsMap",
    "load_mapping",
    "mapping_from_dict",
    "mapping_from_text",
    "normalize_text",
    "parse_yaml",
    "read_yaml_text",
]
