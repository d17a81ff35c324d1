"""Mapping YAML → a validated `Mapping`: every problem in one `MappingError`, each with its YAML place and line."""

from __future__ import annotations

import difflib
import functools
from pathlib import Path
from typing import Any

from sync.errors import MappingError
from sync.mapping.model import (
    CSV_ENCODINGS,
    CSV_SEPARATORS,
    DEFAULT_NORMALIZE,
    DELETED_ROWS,
    RESOURCE_FIELDS,
    TYPES,
    ColumnMap,
    CsvOptions,
    FieldSpec,
    Mapping,
    PropertiesMap,
    SheetMap,
    TagsMap,
)
from sync.mapping.yamlcheck import Checker, NodeLines, YamlPath, by_line, describe, parse_yaml, read_yaml_text

# Excel refuses these in sheet names; "/" would also break the `<Sheet>.csv` file name.
_SHEET_NAME_FORBIDDEN = set("[]:*?/\\")


def load_mapping(path: Path | str) -> Mapping:
    """Read and validate one mapping file; raise MappingError listing every problem."""
    return mapping_from_text(read_yaml_text(path), source=str(path))


@functools.lru_cache(maxsize=16)
def mapping_from_text(text: str, source: str = "<text>") -> Mapping:
    """Parse and validate mapping YAML text; raise MappingError listing every problem."""
    # Remembered per text and source (a Mapping is frozen): a process that runs many commands, the
    # demo or a Python user's jobs, parses and checks the same file once (~4 ms each time otherwise).
    data, checker = parse_yaml(text, source)
    return _validate(data, checker, source)


def mapping_from_dict(data: Any, source: str = "<dict>") -> Mapping:
    """Validate an already-parsed mapping (tests, tools); raise MappingError listing every problem."""
    return _validate(data, Checker(NodeLines(None)), source)


_TOP_KEYS = ("version", "csv", "sheets")
_SHEET_KEYS = ("sheet", "key", "columns", "properties", "tags", "deleted_rows", "sync_column")
_COLUMN_KEYS = ("field", "header", "type", "normalize", "read_only", "lookup", "wrap")
_PROPERTIES_KEYS = ("header_suffix", "normalize", "checkbox")
_CHECKBOX_KEYS = ("unchecked", "checked")
_TAGS_KEYS = ("header", "separator", "sort", "normalize")
_CSV_KEYS = ("separator", "encoding")
# lookup: <resource> → the field that links to it.
_LOOKUPS = {"contacts": {"clients": "client_id"}}


def _validate(data: Any, ck: Checker, source: str) -> Mapping:
    if data is None:
        ck.problems.append("the mapping is empty: expected keys version, csv, sheets")
        raise MappingError(source, ck.problems)
    top = ck.mapping(data, (), _TOP_KEYS, required=("version", "sheets"))

    version = top.get("version")
    if "version" in top and (version != 1 or isinstance(version, bool)):
        ck.add(("version",), f"{describe(version)} is not a supported version; allowed: 1")

    csv_opts = _check_csv(top.get("csv", {}), ck) if "csv" in top else CsvOptions()

    sheets: list[SheetMap] = []
    raw_sheets = top.get("sheets")
    if "sheets" in top:
        if not isinstance(raw_sheets, dict) or not raw_sheets:
            ck.add(
                ("sheets",),
                f"expected a mapping of resource → sheet ({', '.join(RESOURCE_FIELDS)}), got {describe(raw_sheets)}",
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
        raise MappingError(source, by_line(ck.problems))
    return Mapping(version=1, sheets={s.resource: s for s in sheets}, csv=csv_opts, source=source)


def _check_csv(raw: Any, ck: Checker) -> CsvOptions:
    opts = ck.mapping(raw, ("csv",), _CSV_KEYS)
    sep = opts.get("separator", ";")
    if sep not in CSV_SEPARATORS:
        ck.add(("csv", "separator"), f"{sep!r} is not one of: ';' (semicolon), ',' (comma), '\\t' (tab)")
        sep = ";"
    enc = opts.get("encoding", "utf-8-sig")
    if ck.choice(enc, ("csv", "encoding"), CSV_ENCODINGS) is None:
        enc = "utf-8-sig"
    return CsvOptions(separator=sep, encoding=enc)


def _check_sheet(resource: str, raw: Any, ck: Checker) -> SheetMap | None:
    base: YamlPath = ("sheets", resource)
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
            ck.add((*base, "columns"), f"expected a list of columns, got {describe(raw_columns)}")
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


def _check_column(resource: str, raw: Any, path: YamlPath, ck: Checker) -> ColumnMap | None:
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


def _check_properties(raw: Any, path: YamlPath, ck: Checker) -> PropertiesMap | None:
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


def _check_tags(raw: Any, path: YamlPath, ck: Checker) -> TagsMap | None:
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


def _check_sheet_names(raw_sheets: dict, ck: Checker) -> None:
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
