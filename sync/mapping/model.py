"""The workbook mapping as frozen data: Billomat's field catalogues and the sheets, columns and CSV options."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

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
# What the two-way sync may do with the row of a record deleted in Billomat (SheetMap.deleted_rows).
DELETED_ROWS = ("clear", "mark")


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
    deleted_rows: str = "clear"  # one of DELETED_ROWS
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
