"""Workbook mapping: `mappings/*.yaml` → a frozen, validated `Mapping` (every problem with its YAML place)."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sync.errors import MappingError

# Value types a column can declare. They describe how to compare and validate a value later;
# every value is still held and written as text (ids, zips and phone numbers keep leading zeros).
TYPES = ("bool", "date", "number", "text")

# Normalisations, applied only when comparing (never to what is written from Billomat).
NORMALIZERS: dict[str, Callable[[str], str]] = {
    "none": lambda value: value,
    "strip": str.strip,
    "lower": str.lower,
    "upper": str.upper,
    # A macOS Excel or a copy from a PDF can store "ü" decomposed (u + combining diaeresis).
    "nfc": lambda value: unicodedata.normalize("NFC", value),
    # IBANs and VAT ids are typed with and without blanks ("DE89 3704 …").
    "remove_spaces": lambda value: "".join(value.split()),
}

DEFAULT_NORMALIZE: tuple[str, ...] = ("strip",)

CSV_SEPARATORS = {";": "semicolon", ",": "comma", "\t": "tab"}
CSV_ENCODINGS = ("utf-8", "utf-8-sig")

# Excel refuses these in sheet names; "/" would also break the `<Sheet>.csv` file name.
_SHEET_NAME_FORBIDDEN = set("[]:*?/\\")


@dataclass(frozen=True)
class FieldSpec:
    """What Billomat stores in one field: its kind and whether the API accepts writes to it."""

    kind: str = "text"  # one of TYPES
    writable: bool = True


_RO = FieldSpec(writable=False)

# The name, address and contact fields clients and contacts share (billomat-api.md §4.1, §4.2).
_PERSON_FIELDS: dict[str, FieldSpec] = {
    "name": FieldSpec(),
    "street": FieldSpec(),
    "zip": FieldSpec(),
    "city": FieldSpec(),
    "state": FieldSpec(),
    "country_code": FieldSpec(),
    "first_name": FieldSpec(),
    "last_name": FieldSpec(),
    "salutation": FieldSpec(),
    "phone": FieldSpec(),
    "fax": FieldSpec(),
    "mobile": FieldSpec(),
    "email": FieldSpec(),
    "www": FieldSpec(),
}

# Client fields of reference/billomat-api.md §4.1 (writable = in the create/PUT table).
CLIENT_FIELDS: dict[str, FieldSpec] = {
    # read-only or derived
    "id": _RO,
    "created": FieldSpec("date", writable=False),
    "updated": FieldSpec("date", writable=False),  # not seen on clients yet; harmless if absent
    "client_number": _RO,  # derived: number_pre + number zero-padded to number_length
    "address": _RO,
    "revenue_gross": FieldSpec("number", writable=False),
    "revenue_net": FieldSpec("number", writable=False),
    "enable_customerportal": FieldSpec("bool", writable=False),
    "customerportal_url": _RO,
    "customfield": _RO,  # has its own endpoint (PUT /clients/{id}/customfield)
    "dig_exclude": FieldSpec("bool", writable=False),
    "facturx_identifier": _RO,
    "seller_identifier": _RO,
    "tax_authority_number": _RO,
    "facturx_fields_enabled": FieldSpec("bool", writable=False),
    # writable
    "archived": FieldSpec("bool"),
    "number_pre": FieldSpec(),
    "number": FieldSpec("number"),
    "number_length": FieldSpec("number"),
    **_PERSON_FIELDS,
    "tax_number": FieldSpec(),
    "vat_number": FieldSpec(),
    "bank_account_number": FieldSpec(),
    "bank_account_owner": FieldSpec(),
    "bank_number": FieldSpec(),
    "bank_name": FieldSpec(),
    "bank_swift": FieldSpec(),
    "bank_iban": FieldSpec(),
    "sepa_mandate": FieldSpec(),
    "sepa_mandate_date": FieldSpec("date"),
    "locale": FieldSpec(),
    "tax_rule": FieldSpec(),
    "net_gross": FieldSpec(),
    "default_payment_types": FieldSpec(),
    "note": FieldSpec(),
    "reduction": FieldSpec("number"),
    "discount_rate_type": FieldSpec(),
    "discount_rate": FieldSpec("number"),
    "discount_days_type": FieldSpec(),
    "discount_days": FieldSpec("number"),
    "due_days_type": FieldSpec(),
    "due_days": FieldSpec("number"),
    "reminder_due_days_type": FieldSpec(),
    "reminder_due_days": FieldSpec("number"),
    "offer_validity_days_type": FieldSpec(),
    "offer_validity_days": FieldSpec("number"),
    "currency_code": FieldSpec(),
    "price_group": FieldSpec("number"),
    "debitor_account_number": FieldSpec("number"),
    "dunning_run": FieldSpec("bool"),
}

# Contact fields of reference/billomat-api.md §4.2. client_id is an id: text, never a number.
CONTACT_FIELDS: dict[str, FieldSpec] = {
    "id": _RO,
    "created": FieldSpec("date", writable=False),
    "updated": FieldSpec("date", writable=False),
    "address": _RO,
    "locale": _RO,
    "customfield": _RO,
    "client_id": FieldSpec(),
    "label": FieldSpec(),
    **_PERSON_FIELDS,
}

# The resources a sheet can show, with their field catalogues.
RESOURCE_FIELDS: dict[str, dict[str, FieldSpec]] = {"clients": CLIENT_FIELDS, "contacts": CONTACT_FIELDS}


def normalize_text(value: str, steps: tuple[str, ...]) -> str:
    """Apply normalisation steps (names of NORMALIZERS) in order."""
    for step in steps:
        value = NORMALIZERS[step](value)
    return value


@dataclass(frozen=True)
class ColumnMap:
    """One workbook column ↔ one API field."""

    header: str
    field: str
    type: str = "text"  # one of TYPES
    normalize: tuple[str, ...] = DEFAULT_NORMALIZE
    read_only: bool = False  # exported, but edits are ignored (with a warning), never sent
    lookup: str | None = None  # "clients": the field of the linked client (via client_id); read-only
    wrap: bool = False  # multi-line text (notes): wrapped cells in xlsx

    @property
    def ignored_on_read(self) -> bool:
        """True when edits in this column are never sent to Billomat."""
        return self.read_only or self.lookup is not None

    def normalize_value(self, value: str) -> str:
        """The value as compared (not as written)."""
        return normalize_text(value, self.normalize)


@dataclass(frozen=True)
class PropertiesMap:
    """One column per client property of the account (header = the property's name)."""

    header_suffix: str = " (Attribut)"  # appended when a property name collides with another header
    normalize: tuple[str, ...] = DEFAULT_NORMALIZE
    checkbox_unchecked: str = "0"  # how a CHECKBOX "0" is shown (the API's value by default)
    checkbox_checked: str = "1"  # how a CHECKBOX "1" is shown


@dataclass(frozen=True)
class TagsMap:
    """The one column holding a client's tags, joined into one cell."""

    header: str = "Schlagwörter"
    separator: str = ", "
    sort: bool = True  # case-insensitive, so the cell does not change when Billomat reorders tags
    normalize: tuple[str, ...] = DEFAULT_NORMALIZE


@dataclass(frozen=True)
class SheetMap:
    """One sheet: which resource it shows, its key and its columns in order."""

    resource: str  # "clients" | "contacts"
    sheet: str  # the sheet name (and the CSV file `<sheet>.csv`)
    key: str  # the API field of the key column (blank in the sheet = a new record)
    columns: tuple[ColumnMap, ...]
    properties: PropertiesMap | None = None
    tags: TagsMap | None = None
    # What the two-way sync does with the row of a record deleted in Billomat: "clear" empties the
    # synced cells (the accountants' own columns stay), "mark" keeps them and writes gelöscht-<id>
    # into the key cell, which billsync then skips.
    deleted_rows: str = "clear"
    # The header of the Sync column (clients only; SPEC §9): `aus` there parks the client. None: no column.
    sync_column: str | None = None

    @property
    def headers(self) -> tuple[str, ...]:
        """Headers of the declared columns, in order (without property and tags columns)."""
        return tuple(c.header for c in self.columns)

    @property
    def key_column(self) -> ColumnMap:
        """The column holding the key."""
        return self.column(self.key)

    def column(self, field_name: str) -> ColumnMap:
        """The (non-lookup) column of an API field; KeyError if not declared."""
        for col in self.columns:
            if col.field == field_name and col.lookup is None:
                return col
        raise KeyError(field_name)

    def by_header(self, header: str) -> ColumnMap | None:
        """The declared column with this header, if any."""
        for col in self.columns:
            if col.header == header:
                return col
        return None


@dataclass(frozen=True)
class CsvOptions:
    """How a folder of CSV files is written (reading detects BOM and separator)."""

    separator: str = ";"  # what a German Excel opens directly
    encoding: str = "utf-8-sig"  # with BOM: otherwise Excel decodes as Windows-1252


@dataclass(frozen=True)
class Mapping:
    """A validated workbook mapping."""

    version: int
    sheets: dict[str, SheetMap]  # resource ("clients", "contacts") → sheet, in file order; do not mutate
    csv: CsvOptions = field(default_factory=CsvOptions)
    source: str = "<dict>"

    def sheet_named(self, name: str) -> SheetMap | None:
        """The sheet with this sheet name, if any."""
        for sheet in self.sheets.values():
            if sheet.sheet == name:
                return sheet
        return None


# --------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------

_YamlPath = tuple[str | int, ...]


def load_mapping(path: Path | str) -> Mapping:
    """Read and validate one mapping file; raise MappingError listing every problem."""
    return mapping_from_text(read_yaml_text(path), source=str(path))


def mapping_from_text(text: str, source: str = "<text>") -> Mapping:
    """Parse and validate mapping YAML text; raise MappingError listing every problem."""
    data, checker = parse_yaml(text, source)
    return _validate(data, checker, source)


def read_yaml_text(path: Path | str) -> str:
    """A mapping file's text; MappingError (naming the file) when it is missing, unreadable or not UTF-8."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(path, ["file not found"]) from None
    except UnicodeDecodeError as exc:
        raise MappingError(path, [f"not UTF-8 text (byte {exc.start}): save the file as UTF-8"]) from None
    except OSError as exc:
        raise MappingError(path, [f"cannot read: {exc.strerror or exc}"]) from None


def parse_yaml(text: str, source: str) -> tuple[Any, _Checker]:
    """Parse YAML safely, keeping line numbers; the checker starts with the duplicate-key problems."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise MappingError(source, [f"{where}not valid YAML: {problem}"]) from None
    lines = _NodeLines(node)
    checker = _Checker(lines)
    checker.problems.extend(lines.duplicate_key_problems())
    return data, checker


def mapping_from_dict(data: Any, source: str = "<dict>") -> Mapping:
    """Validate an already-parsed mapping (tests, tools); raise MappingError listing every problem."""
    return _validate(data, _Checker(_NodeLines(None)), source)


def _fmt_path(path: _YamlPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a yes/no value ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class _NodeLines:
    """Line numbers of YAML nodes, found by path (keys for mappings, indices for sequences)."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def _find(self, path: _YamlPath, *, key_node: bool = False) -> yaml.Node | None:
        node = self.root
        for i, part in enumerate(path):
            if node is None:
                return None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                found = None
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == part:
                        found = k if (key_node and i == len(path) - 1) else v
                node = found
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                node = node.value[part] if 0 <= part < len(node.value) else None
            else:
                return None
        return node

    def source_text(self, path: _YamlPath) -> str | None:
        """The scalar as written in the file (before YAML turned `No` into false)."""
        node = self._find(path)
        return node.value if isinstance(node, yaml.ScalarNode) else None

    def line(self, path: _YamlPath, *, key_node: bool = False) -> int | None:
        node = self._find(path, key_node=key_node)
        return None if node is None else node.start_mark.line + 1

    def duplicate_key_problems(self) -> list[str]:
        # yaml.safe_load keeps the last of two equal keys without a word: a silently lost setting.
        problems: list[str] = []

        def walk(node: yaml.Node | None, path: _YamlPath) -> None:
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for k, v in node.value:
                    name = k.value if isinstance(k, yaml.ScalarNode) else str(k)
                    if name in seen:
                        where = _fmt_path((*path, name))
                        problems.append(f"{where} (line {k.start_mark.line + 1}): key given twice")
                    seen.add(name)
                    walk(v, (*path, name))
            elif isinstance(node, yaml.SequenceNode):
                for i, v in enumerate(node.value):
                    walk(v, (*path, i))

        walk(self.root, ())
        return problems


class _Checker:
    """Collects problems; every message names its YAML place and, when known, its line."""

    def __init__(self, lines: _NodeLines) -> None:
        self.lines = lines
        self.problems: list[str] = []

    def add(self, path: _YamlPath, message: str, *, key_node: bool = False) -> None:
        line = self.lines.line(path, key_node=key_node)
        where = _fmt_path(path) + (f" (line {line})" if line else "")
        self.problems.append(f"{where}: {message}")

    def mapping(
        self, value: Any, path: _YamlPath, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict:
        """Check a mapping's keys; returns it (or {} when it is not a mapping)."""
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping with keys {', '.join(allowed)}, got {_describe(value)}")
            return {}
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                did = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.add(
                    (*path, str(key)),
                    f"unknown key {key!r}{did}; allowed keys: {', '.join(allowed)}",
                    key_node=True,
                )
        for key in required:
            if key not in value:
                self.add(path, f"missing required key {key!r}")
        return value

    def string(self, value: Any, path: _YamlPath, *, allow_empty: bool = False) -> str | None:
        if not isinstance(value, str):
            hint = ""
            if isinstance(value, bool | int | float):
                # YAML reads unquoted No/yes/0 as booleans and numbers.
                written = self.lines.source_text(path)
                hint = f' (put it in quotes: "{written if written is not None else value}")'

            self.add(path, f"expected text, got {_describe(value)}{hint}")
            return None
        if not allow_empty and not value.strip():
            self.add(path, "must not be empty")
            return None
        return value

    def boolean(self, value: Any, path: _YamlPath) -> bool | None:
        if not isinstance(value, bool):
            self.add(path, f"expected true or false, got {_describe(value)}")
            return None
        return value

    def choice(self, value: Any, path: _YamlPath, allowed: tuple[str, ...] | list[str]) -> str | None:
        if not isinstance(value, str) or value not in allowed:
            shown = repr(value) if isinstance(value, str) else _describe(value)
            self.add(path, f"{shown} is not one of: {', '.join(sorted(allowed))}")
            return None
        return value

    def normalize(self, value: Any, path: _YamlPath) -> tuple[str, ...] | None:
        steps = [value] if isinstance(value, str) else value
        if not isinstance(steps, list) or not steps:
            self.add(
                path,
                f"expected one of {', '.join(sorted(NORMALIZERS))} or a list of them, got {_describe(value)}",
            )
            return None
        out: list[str] = []
        ok = True
        for i, step in enumerate(steps):
            where = path if isinstance(value, str) else (*path, i)
            checked = self.choice(step, where, sorted(NORMALIZERS))
            ok = ok and checked is not None
            if checked:
                out.append(checked)
        if ok and "none" in out and len(out) > 1:
            self.add(path, "'none' cannot be combined with other normalisations")
            return None
        if not ok:
            return None
        return tuple(s for s in out if s != "none")


_TOP_KEYS = ("version", "csv", "sheets")
_SHEET_KEYS = ("sheet", "key", "columns", "properties", "tags", "deleted_rows", "sync_column")
DELETED_ROWS = ("clear", "mark")
_COLUMN_KEYS = ("field", "header", "type", "normalize", "read_only", "lookup", "wrap")
_PROPERTIES_KEYS = ("header_suffix", "normalize", "checkbox")
_CHECKBOX_KEYS = ("unchecked", "checked")
_TAGS_KEYS = ("header", "separator", "sort", "normalize")
_CSV_KEYS = ("separator", "encoding")
# lookup: <resource> → the field that links to it.
_LOOKUPS = {"contacts": {"clients": "client_id"}}


def _validate(data: Any, ck: _Checker, source: str) -> Mapping:
    if data is None:
        ck.problems.append("the mapping is empty: expected keys version, csv, sheets")
        raise MappingError(source, ck.problems)
    top = ck.mapping(data, (), _TOP_KEYS, required=("version", "sheets"))

    version = top.get("version")
    if "version" in top and (version != 1 or isinstance(version, bool)):
        ck.add(("version",), f"{_describe(version)} is not a supported version; allowed: 1")

    csv_opts = _check_csv(top.get("csv", {}), ck) if "csv" in top else CsvOptions()

    sheets: list[SheetMap] = []
    raw_sheets = top.get("sheets")
    if "sheets" in top:
        if not isinstance(raw_sheets, dict) or not raw_sheets:
            ck.add(
                ("sheets",),
                f"expected a mapping of resource → sheet ({', '.join(RESOURCE_FIELDS)}), got {_describe(raw_sheets)}",
            )
        else:
            for resource, raw in raw_sheets.items():
                if resource not in RESOURCE_FIELDS:
                    ck.add(
                        ("sheets", str(resource)),
                        f"{resource!r} is not one of: {', '.join(sorted(RESOURCE_FIELDS))}",
                        key_node=True,
                    )
                    continue
                sheet = _check_sheet(resource, raw, ck)
                if sheet is not None:
                    sheets.append(sheet)
            _check_sheet_names(raw_sheets, ck)

    if ck.problems:
        raise MappingError(source, _by_line(ck.problems))
    return Mapping(version=1, sheets={s.resource: s for s in sheets}, csv=csv_opts, source=source)


def _by_line(problems: list[str]) -> list[str]:
    """Problems in file order (those without a line last), so they read top to bottom."""

    def line_of(problem: str) -> int:
        match = re.search(r"\(line (\d+)\)|^line (\d+):", problem)
        return int(match.group(1) or match.group(2)) if match else 1 << 30

    return sorted(problems, key=line_of)


def _check_csv(raw: Any, ck: _Checker) -> CsvOptions:
    opts = ck.mapping(raw, ("csv",), _CSV_KEYS)
    sep = opts.get("separator", ";")
    if sep not in CSV_SEPARATORS:
        ck.add(("csv", "separator"), f"{sep!r} is not one of: ';' (semicolon), ',' (comma), '\\t' (tab)")
        sep = ";"
    enc = opts.get("encoding", "utf-8-sig")
    if ck.choice(enc, ("csv", "encoding"), CSV_ENCODINGS) is None:
        enc = "utf-8-sig"
    return CsvOptions(separator=sep, encoding=enc)


def _check_sheet(resource: str, raw: Any, ck: _Checker) -> SheetMap | None:
    base: _YamlPath = ("sheets", resource)
    sheet = ck.mapping(raw, base, _SHEET_KEYS, required=("sheet", "key", "columns"))
    if not sheet:
        return None
    ok_before = len(ck.problems)

    name = ck.string(sheet["sheet"], (*base, "sheet")) if "sheet" in sheet else None
    if name is not None:
        bad = sorted(set(name) & _SHEET_NAME_FORBIDDEN)
        if bad:
            ck.add(
                (*base, "sheet"),
                f"{name!r} contains {' '.join(bad)}, which Excel does not allow in sheet names",
            )
        elif len(name) > 31:
            ck.add((*base, "sheet"), f"{name!r} is longer than 31 characters (Excel's limit for sheet names)")
        elif name != name.strip() or name.startswith("'") or name.endswith("'"):
            ck.add(
                (*base, "sheet"), f"{name!r}: no blanks or apostrophes at the start or end of a sheet name"
            )

    columns: list[ColumnMap] = []
    raw_columns = sheet.get("columns")
    if "columns" in sheet:
        if not isinstance(raw_columns, list) or not raw_columns:
            ck.add((*base, "columns"), f"expected a list of columns, got {_describe(raw_columns)}")
            raw_columns = []
        for i, raw_col in enumerate(raw_columns):
            col = _check_column(resource, raw_col, (*base, "columns", i), ck)
            if col is not None:
                columns.append(col)

    # Duplicates: two columns for one field would make a later push ambiguous.
    seen_headers: dict[str, int] = {}
    seen_fields: dict[tuple[str, str | None], int] = {}
    for i, raw_col in enumerate(raw_columns if isinstance(raw_columns, list) else []):
        if not isinstance(raw_col, dict):
            continue
        header = raw_col.get("header")
        if isinstance(header, str) and header.strip():
            folded = header.strip().casefold()
            if folded in seen_headers:
                ck.add(
                    (*base, "columns", i, "header"),
                    f"header {header!r} is already used by columns[{seen_headers[folded]}] (headers must be unique)",
                )
            else:
                seen_headers[folded] = i
        fld = raw_col.get("field")
        if isinstance(fld, str):
            lk = raw_col.get("lookup") if isinstance(raw_col.get("lookup"), str) else None
            if (fld, lk) in seen_fields:
                ck.add(
                    (*base, "columns", i, "field"),
                    f"field {fld!r} is already mapped by columns[{seen_fields[(fld, lk)]}]",
                )
            else:
                seen_fields[(fld, lk)] = i

    key = None
    if "key" in sheet:
        key = ck.string(sheet["key"], (*base, "key"))
        if key is not None:
            matches = [c for c in columns if c.field == key and c.lookup is None]
            declared = [
                c
                for c in (raw_columns if isinstance(raw_columns, list) else [])
                if isinstance(c, dict) and c.get("field") == key and not c.get("lookup")
            ]
            if not declared:
                allowed = sorted({c.field for c in columns if c.lookup is None})
                ck.add(
                    (*base, "key"),
                    f"the key {key!r} is not the field of any column; declare a column for it"
                    + (f" (fields of this sheet: {', '.join(allowed)})" if allowed else ""),
                )
            elif matches and not matches[0].read_only:
                ck.add(
                    (*base, "key"),
                    f"the key column {matches[0].header!r} must be read_only: true "
                    "(Billomat assigns ids; an edited key would move a row onto another record)",
                )

    if (
        resource == "contacts"
        and columns
        and not any(c.field == "client_id" and c.lookup is None for c in columns)
    ):
        ck.add(
            (*base, "columns"),
            "a contacts sheet needs a column for 'client_id' (the client a contact belongs to)",
        )

    properties = None
    if "properties" in sheet:
        if resource != "clients":
            ck.add((*base, "properties"), "only the clients sheet can have property columns", key_node=True)
        else:
            properties = _check_properties(sheet["properties"], (*base, "properties"), ck)
    tags = None
    if "tags" in sheet:
        if resource != "clients":
            ck.add((*base, "tags"), "only the clients sheet can have a tags column", key_node=True)
        else:
            tags = _check_tags(sheet["tags"], (*base, "tags"), ck)
            if tags is not None and tags.header.strip().casefold() in seen_headers:
                ck.add(
                    (*base, "tags", "header"),
                    f"header {tags.header!r} is already used by columns[{seen_headers[tags.header.strip().casefold()]}]",
                )

    deleted_rows = "clear"
    if "deleted_rows" in sheet:
        deleted_rows = ck.choice(sheet["deleted_rows"], (*base, "deleted_rows"), DELETED_ROWS) or "clear"

    sync_column = None
    if "sync_column" in sheet:
        if resource != "clients":
            ck.add((*base, "sync_column"), "only the clients sheet can have a Sync column", key_node=True)
        else:
            sync_column = ck.string(sheet["sync_column"], (*base, "sync_column"))
            if sync_column is not None and sync_column.strip().casefold() in seen_headers:
                ck.add(
                    (*base, "sync_column"),
                    f"header {sync_column!r} is already used by columns[{seen_headers[sync_column.strip().casefold()]}]",
                )

    if len(ck.problems) > ok_before or name is None or key is None:
        return None
    return SheetMap(
        resource=resource,
        sheet=name,
        key=key,
        columns=tuple(columns),
        properties=properties,
        tags=tags,
        deleted_rows=deleted_rows,
        sync_column=sync_column,
    )


def _check_column(resource: str, raw: Any, path: _YamlPath, ck: _Checker) -> ColumnMap | None:
    col = ck.mapping(raw, path, _COLUMN_KEYS, required=("field", "header"))
    if not col:
        return None
    before = len(ck.problems)

    lookup = None
    if "lookup" in col:
        allowed = _LOOKUPS.get(resource, {})
        if not allowed:
            ck.add((*path, "lookup"), f"a {resource} sheet has nothing to look up from")
        else:
            lookup = ck.choice(col["lookup"], (*path, "lookup"), list(allowed))
    catalogue = RESOURCE_FIELDS[lookup] if lookup else RESOURCE_FIELDS[resource]

    field_name = None
    spec: FieldSpec | None = None
    if "field" in col:
        field_name = ck.string(col["field"], (*path, "field"))
        if field_name is not None:
            spec = catalogue.get(field_name)
            if spec is None:
                hint = difflib.get_close_matches(field_name, list(catalogue), n=1)
                did = f" (did you mean {hint[0]!r}?)" if hint else ""
                which = lookup or resource
                ck.add((*path, "field"), f"{field_name!r} is not a Billomat {which} field{did}")

    header = None
    if "header" in col:
        header = ck.string(col["header"], (*path, "header"))
        if header is not None and header != header.strip():
            ck.add((*path, "header"), f"{header!r}: no blanks at the start or end (they are lost on reading)")
        elif header is not None and header[:1] in _HEADER_FORBIDDEN_START:
            ck.add(
                (*path, "header"),
                f"{header!r}: a header must not start with {header[:1]!r} (Excel formula trigger)",
            )

    typ = "text"
    if "type" in col:
        checked = ck.choice(col["type"], (*path, "type"), TYPES)
        if checked is not None:
            typ = checked
            if spec is not None and typ != "text" and typ != spec.kind:
                ck.add(
                    (*path, "type"),
                    f"{typ!r} does not fit field {field_name!r}: Billomat stores it as {spec.kind}"
                    f" (allowed: {', '.join(sorted({'text', spec.kind}))})",
                )

    normalize = DEFAULT_NORMALIZE
    if "normalize" in col:
        normalize = ck.normalize(col["normalize"], (*path, "normalize")) or ()

    read_only = False
    if "read_only" in col:
        read_only = bool(ck.boolean(col["read_only"], (*path, "read_only")))
        if lookup and col["read_only"] is False:
            ck.add((*path, "read_only"), "a lookup column is always read-only (remove read_only: false)")
    if lookup:
        read_only = True
    if spec is not None and not spec.writable and not read_only:
        ck.add(
            path,
            f"field {field_name!r} cannot be written to Billomat (it is set by Billomat): add read_only: true",
        )

    wrap = False
    if "wrap" in col:
        wrap = bool(ck.boolean(col["wrap"], (*path, "wrap")))

    if len(ck.problems) > before or field_name is None or header is None:
        return None
    return ColumnMap(
        header=header,
        field=field_name,
        type=typ,
        normalize=normalize,
        read_only=read_only,
        lookup=lookup,
        wrap=wrap,
    )


# A header starting like a formula would need the quote prefix; keep the mapping's headers plain.
_HEADER_FORBIDDEN_START = set("=+-@'\t\r")


def _check_properties(raw: Any, path: _YamlPath, ck: _Checker) -> PropertiesMap | None:
    if raw is None or raw is True:
        return PropertiesMap()  # `properties:` alone means "with the defaults"
    if raw is False:
        return None  # explicitly off
    props = ck.mapping(raw, path, _PROPERTIES_KEYS)
    if not isinstance(raw, dict):
        return None
    before = len(ck.problems)
    suffix = " (Attribut)"
    if "header_suffix" in props:
        suffix = ck.string(props["header_suffix"], (*path, "header_suffix")) or suffix
    normalize = DEFAULT_NORMALIZE
    if "normalize" in props:
        normalize = ck.normalize(props["normalize"], (*path, "normalize")) or ()
    unchecked, checked = "0", "1"
    if "checkbox" in props:
        box = ck.mapping(props["checkbox"], (*path, "checkbox"), _CHECKBOX_KEYS, required=_CHECKBOX_KEYS)
        if box:
            u = (
                ck.string(box.get("unchecked"), (*path, "checkbox", "unchecked"))
                if "unchecked" in box
                else None
            )
            c = ck.string(box.get("checked"), (*path, "checkbox", "checked")) if "checked" in box else None
            if u is not None and c is not None:
                if u.strip().casefold() == c.strip().casefold():
                    ck.add((*path, "checkbox"), f"checked and unchecked must differ (both {u!r})")
                unchecked, checked = u, c
    if len(ck.problems) > before:
        return None
    return PropertiesMap(
        header_suffix=suffix, normalize=normalize, checkbox_unchecked=unchecked, checkbox_checked=checked
    )


def _check_tags(raw: Any, path: _YamlPath, ck: _Checker) -> TagsMap | None:
    if raw is False:
        return None  # explicitly off
    tags = ck.mapping(raw, path, _TAGS_KEYS, required=("header",))
    if not tags:
        return None
    before = len(ck.problems)
    header = ck.string(tags["header"], (*path, "header")) if "header" in tags else None
    if header is not None and (header != header.strip() or header[:1] in _HEADER_FORBIDDEN_START):
        ck.add((*path, "header"), f"{header!r}: no blanks, quotes or formula characters at the start or end")
    separator = ", "
    if "separator" in tags:
        sep = ck.string(tags["separator"], (*path, "separator"), allow_empty=True)
        if sep is not None:
            # A separator of blanks only cannot be told apart from blanks inside a tag name.
            if not sep.strip():
                ck.add((*path, "separator"), f"{sep!r}: needs a visible character, e.g. ', ' or '; '")
            else:
                separator = sep
    sort = True
    if "sort" in tags:
        sort = bool(ck.boolean(tags["sort"], (*path, "sort")))
    normalize = DEFAULT_NORMALIZE
    if "normalize" in tags:
        normalize = ck.normalize(tags["normalize"], (*path, "normalize")) or ()
    if len(ck.problems) > before or header is None:
        return None
    return TagsMap(header=header, separator=separator, sort=sort, normalize=normalize)


def _check_sheet_names(raw_sheets: dict, ck: _Checker) -> None:
    # Excel compares sheet names case-insensitively; CSV file names may too (Windows, macOS).
    seen: dict[str, str] = {}
    for resource, raw in raw_sheets.items():
        name = raw.get("sheet") if isinstance(raw, dict) and resource in RESOURCE_FIELDS else None
        if not isinstance(name, str) or not name.strip():
            continue
        folded = name.casefold()
        if folded in seen:
            ck.add(
                ("sheets", resource, "sheet"), f"sheet name {name!r} is already used by sheets.{seen[folded]}"
            )
        else:
            seen[folded] = resource
