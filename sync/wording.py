"""The German words billsync writes where the accountants read: its sheets (Konflikte, Löschungen) and reports.

One place for them, so every sheet and report says the same thing the same way. Terminal messages for
the IT person stay English; what lands in a workbook or report uses these words and the workbook's own
headers (from the mapping).
"""

from __future__ import annotations

import re

# A record of each resource, as one word ("Kunde 1001").
RESOURCE_WORDS = {
    "clients": "Kunde",
    "contacts": "Kontakt",
    "client_property_values": "Attribut",
    "client_tags": "Schlagwörter",
}
# What a change does, in the change report's column "Was".
ACTION_WORDS = {
    "create": "neu",
    "update": "geändert",
    "delete": "gelöscht",
    "set": "Attribut gesetzt",
    "clear": "Attribut geleert",
    "add": "Schlagwort hinzu",
    "remove": "Schlagwort entfernt",
}
# The kinds of conflict (sync.merge.Conflict.kind), as the Konflikte sheet explains them.
CONFLICT_KINDS = {
    "both_changed": "in beiden geändert",
    "edited_vs_deleted_in_billomat": "in Billomat gelöscht, in der Arbeitsmappe geändert",
    "deleted_vs_edited_in_billomat": "in der Arbeitsmappe gelöscht, in Billomat geändert",
    "created_both": "in beiden neu angelegt",
    "no_base": "kein gemeinsamer Stand (erster Abgleich oder ID eingetragen)",
    "stale_copy": "Arbeitsmappe ohne bekannten Stand: Wert eines früheren Abgleichs, in Billomat inzwischen geändert",
}
# What happened to a client in a migration (sync.migrate.STATUSES).
MIGRATION_STATUS = {
    "created": "angelegt",
    "updated": "aktualisiert",
    "unchanged": "unverändert",
    "skipped": "übersprungen",
    "failed": "fehlgeschlagen",
}
# Billomat fields (clients §4.1, contacts §4.2) as the accountants read them where the workbook has no
# column for them (undo recreates a deleted record with every field it had; show lists them).
FIELD_LABELS = {
    "id": "Billomat-ID",
    "created": "Angelegt",
    "updated": "Geändert",
    "client_id": "Kunden-ID",
    "client_number": "Kundennummer",
    "label": "Bezeichnung",
    "address": "Adresse",
    "archived": "Archiviert",
    "number_pre": "Nummernpräfix",
    "number": "Nummer",
    "number_length": "Nummernlänge",
    "name": "Firma",
    "salutation": "Anrede",
    "first_name": "Vorname",
    "last_name": "Nachname",
    "street": "Straße",
    "zip": "PLZ",
    "city": "Ort",
    "state": "Bundesland",
    "country_code": "Land",
    "email": "E-Mail",
    "phone": "Telefon",
    "fax": "Fax",
    "mobile": "Mobil",
    "www": "Webseite",
    "tax_number": "Steuernummer",
    "vat_number": "USt-IdNr.",
    "bank_account_number": "Kontonummer",
    "bank_account_owner": "Kontoinhaber",
    "bank_number": "BLZ",
    "bank_name": "Bank",
    "bank_swift": "BIC",
    "bank_iban": "IBAN",
    "sepa_mandate": "SEPA-Mandat",
    "sepa_mandate_date": "SEPA-Mandatsdatum",
    "locale": "Sprache",
    "tax_rule": "Steuerregel",
    "net_gross": "Netto oder Brutto",
    "default_payment_types": "Zahlungsarten",
    "note": "Notiz",
    "reduction": "Rabatt %",
    "discount_rate_type": "Skonto-Art",
    "discount_rate": "Skonto %",
    "discount_days_type": "Skontofrist-Art",
    "discount_days": "Skontofrist",
    "due_days_type": "Zahlungsziel-Art",
    "due_days": "Zahlungsziel",
    "reminder_due_days_type": "Mahnfrist-Art",
    "reminder_due_days": "Mahnfrist",
    "offer_validity_days_type": "Angebotsgültigkeit-Art",
    "offer_validity_days": "Angebotsgültigkeit",
    "currency_code": "Währung",
    "price_group": "Preisgruppe",
    "debitor_account_number": "Debitorenkonto",
    "dunning_run": "Mahnlauf",
    "revenue_gross": "Umsatz brutto",
    "revenue_net": "Umsatz netto",
    "enable_customerportal": "Kundenportal",
    "customerportal_url": "Kundenportal-Link",
    "customfield": "Zusatzfeld",
    "dig_exclude": "Vom digitalen Versand ausgenommen",
    "facturx_identifier": "Factur-X-Kennung",
    "seller_identifier": "Verkäufer-Kennung",
    "tax_authority_number": "Finanzamtsnummer",
    "facturx_fields_enabled": "Factur-X-Felder",
}
DRY_RUN = "Probelauf"
# The column of a conflict about a whole record (it has no column of its own).
WHOLE_RECORD = "Datensatz"
ABSENT = "(nicht vorhanden)"

# A create's idempotency marker in a customfield (sync.plan.create_marker): internal, never shown.
_MARKER = re.compile(r"billsync:[0-9a-f]{6,}")
_NEW_ROW = re.compile(r"row:(\d+)")


def shown_key(key: str) -> str:
    """A record key as the accountants read it: an id as it is, a new row's `row:37` as "neue Zeile 37"."""
    hit = _NEW_ROW.fullmatch(key)
    return f"neue Zeile {hit.group(1)}" if hit else key


def is_marker(value: str) -> bool:
    """True for a value that is (only) billsync's internal create marker."""
    return bool(_MARKER.fullmatch(value.strip()))


def without_markers(value: str) -> str:
    """The text with billsync's internal create markers taken out (they belong in no report)."""
    return _MARKER.sub("", value) if "billsync:" in value else value


LABEL_MAX = 60  # a label names a record; a 30,000-character cell is no name to repeat in every message


def record_label(key: str, number: str = "", name: str = "") -> str:
    """'1001 00057 Gärtnerei Krüger e.K.': id (or "neue Zeile N"), client number and name, as far as known."""
    parts = (p if len(p) <= LABEL_MAX else p[: LABEL_MAX - 1] + "…" for p in (shown_key(key), number, name))
    return " ".join(p for p in parts if p)


# Why the delete guard holds a delete (sync.plan.NEED_FLAG and friends), for the reports.
HELD_REASONS = {
    "deletes need --allow-deletes": "Löschen nur mit --allow-deletes oder der Entscheidung „löschen“",
}
# Records of a resource, counted ("3 Kunden"), where a held reason names the resource.
RESOURCE_PLURALS = {"clients": "Kunden", "contacts": "Kontakte", "client_property_values": "Attributwerte",
                    "client_tags": "Schlagwörter"}
_ALLOW = "mit --max-deletes {count} oder der Entscheidung „löschen“ erlaubt"
# The guard's other reasons (sync.plan._guard, sync.desired's blocked deletes), sentence by sentence.
_HELD_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"all (?P<total>\d+) (?P<resource>\w+) would be deleted; billsync never deletes every record of a "
                r"resource \(is the sheet empty\?\)"),
     "alle {total} {resource} würden gelöscht; billsync löscht nie alle Datensätze einer Art (ist das Blatt leer?)"),
    (re.compile(r"(?P<count>\d+) (?P<resource>\w+) deletes exceed --max-deletes (?P<max>\d+); "
                r"pass --max-deletes \d+ to allow them"),
     "{count} Löschungen ({resource}) über --max-deletes {max}; " + _ALLOW),
    (re.compile(r"(?P<count>\d+) of (?P<total>\d+) (?P<resource>\w+) would be deleted, more than the default limit "
                r"of (?P<limit>\d+) \(at most (?P<rows>\d+) rows and (?P<percent>[\d.]+) %\); "
                r"pass --max-deletes \d+ to allow them"),
     "{count} von {total} {resource} würden gelöscht, mehr als die Grenze von {limit} (höchstens {rows} Zeilen "
     "und {percent} %); " + _ALLOW),
    (re.compile(r"sheet (?P<sheet>'[^']*') row (?P<row>\d+): a malformed (?P<header>.+) may hide an id"),
     "Blatt {sheet} Zeile {row}: eine fehlerhafte {header} kann eine ID verbergen"),
    (re.compile(r"sheet (?P<sheet>'[^']*') row (?P<row>\d+): (?P<header>.+) (?P<key>\S+) is unknown to Billomat"),
     "Blatt {sheet} Zeile {row}: {header} {key} kennt Billomat nicht"),
)


def held_reason(reason: str) -> str:
    """The delete guard's reason in German where there is a wording for it, else as it is."""
    if reason in HELD_REASONS:
        return HELD_REASONS[reason]
    for pattern, template in _HELD_PATTERNS:
        hit = pattern.fullmatch(reason)
        if hit is not None:
            parts = hit.groupdict()
            if "resource" in parts:
                parts["resource"] = RESOURCE_PLURALS.get(parts["resource"], parts["resource"])
            return template.format(**parts)
    return reason
