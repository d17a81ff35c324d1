"""generate_account(): a large, realistic, deterministic German Billomat account, built fast; and
generate_snapbill_account(): the empty SnapBill account it is migrated into."""

from __future__ import annotations

import functools
import random
from datetime import datetime, timedelta, timezone
from typing import Any

from sync.emulator.seed import Account
from sync.emulator.snapbill_state import DEFAULT_FIELDS, SnapBillAccount

FIRST_IDS = {"client": 100001, "contact": 500001, "property": 1001, "value": 2000001, "tag": 3000001}

# fmt: off
_MALE = ("Lukas", "Jonas", "Maximilian", "Felix", "Paul", "Leon", "Jürgen", "Klaus", "Stefan", "Thomas",
         "Andreas", "Michael", "Frank", "Uwe", "Björn", "Sören", "Jörg", "Günter", "Matthias", "Tobias")
_FEMALE = ("Anna", "Lena", "Sophie", "Marie", "Julia", "Katrin", "Sabine", "Ursula", "Jana",
           "Birgit", "Petra", "Claudia", "Susanne", "Käthe", "Doris", "Bärbel", "Franziska", "Heike", "Anja",
           "Maike")
_LAST = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
         "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz",
         "Zimmermann", "Braun", "Krüger", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Köhler",
         "König", "Fuchs", "Möller", "Weiß", "Groß", "Jäger", "Böhm", "Krämer", "Günther", "Kühn", "Voß",
         "Schütz", "Brückner", "Dörr", "Hölzl", "Öztürk", "Yılmaz", "Nowak", "Lorenz", "Engel", "Sauer")
_COMPANY = ("{l} GmbH", "{l} & {l2} OHG", "{l} Bau GmbH", "Autohaus {l} e.K.", "{b} {l} GmbH & Co. KG",
            "Praxis Dr. {l}", "{l} & Söhne KG", "{c} Logistik AG", "Bäckerei {l}", "{l} Elektrotechnik",
            "Ingenieurbüro {l}", "{l} IT-Service UG (haftungsbeschränkt)", "Gärtnerei {l}", "{c}er Stadtwerke",
            "Steuerkanzlei {l} & Partner mbB", "{l} Sanitär- und Heizungstechnik")
_BRANCHEN = ("Handwerk", "Einzelhandel", "Gastronomie", "IT & Software", "Gesundheitswesen", "Logistik",
             "Maschinenbau", "Öffentliche Verwaltung", "Großhandel", "Beratung")
_STREETS = ("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schillerstraße", "Goethestraße", "Lindenallee",
            "Am Markt", "Weißenburger Str.", "Kirchplatz", "Mühlenweg", "Königsallee", "Friedrichstraße",
            "Dorfstraße", "Bergstraße", "Ringstraße", "Schloßstraße", "Industriestraße", "An der Süßen Aue")
# (zip prefix, city, state, area code): zips keep their leading zeros (01067 Dresden, 09111 Chemnitz).
_CITIES = (("010", "Dresden", "Sachsen", "351"), ("041", "Leipzig", "Sachsen", "341"),
           ("091", "Chemnitz", "Sachsen", "371"), ("101", "Berlin", "Berlin", "30"),
           ("200", "Hamburg", "Hamburg", "40"), ("281", "Bremen", "Bremen", "421"),
           ("301", "Hannover", "Niedersachsen", "511"), ("402", "Düsseldorf", "Nordrhein-Westfalen", "211"),
           ("506", "Köln", "Nordrhein-Westfalen", "221"), ("603", "Frankfurt am Main", "Hessen", "69"),
           ("701", "Stuttgart", "Baden-Württemberg", "711"), ("803", "München", "Bayern", "89"),
           ("904", "Nürnberg", "Bayern", "911"), ("990", "Erfurt", "Thüringen", "361"),
           ("061", "Halle (Saale)", "Sachsen-Anhalt", "345"), ("077", "Jena", "Thüringen", "3641"),
           ("391", "Magdeburg", "Sachsen-Anhalt", "391"), ("241", "Kiel", "Schleswig-Holstein", "431"),
           ("661", "Saarbrücken", "Saarland", "681"), ("551", "Mainz", "Rheinland-Pfalz", "6131"),
           ("144", "Potsdam", "Brandenburg", "331"), ("190", "Schwerin", "Mecklenburg-Vorpommern", "385"),
           ("790", "Freiburg im Breisgau", "Baden-Württemberg", "761"), ("930", "Regensburg", "Bayern", "941"),
           ("481", "Münster", "Nordrhein-Westfalen", "251"), ("030", "Cottbus", "Brandenburg", "355"),
           ("026", "Bautzen", "Sachsen", "3591"), ("080", "Zwickau", "Sachsen", "375"))
_BANKS = (("37040044", "Commerzbank", "COBADEFF"), ("10010010", "Postbank", "PBNKDEFF"),
          ("50010517", "ING", "INGDDEFF"), ("85050300", "Ostsächsische Sparkasse Dresden", "OSDDDE81"),
          ("70150000", "Stadtsparkasse München", "SSKMDEMM"), ("43060967", "GLS Bank", "GENODEM1GLS"))
_LABELS = ("Buchhaltung", "Einkauf", "Geschäftsführung", "Versand", "Technik", "Rechnungsanschrift", "Filiale")
_TAGS = ("A-Kunde", "Newsletter", "Großkunde", "Export", "B-Kunde", "Ärzte & Praxen", "Zahlungsverzug",
         "Öffentliche Hand", "Messe 2024", "Rabatt 10 %", "Neukunde", "Reseller")
_PROPERTIES = (("Branche", "TEXTFIELD"), ("Lieferhinweis", "TEXTAREA"), ("Stammkunde", "CHECKBOX"))
_HINTS = ("Anlieferung nur Mo–Fr 8–16 Uhr", "Bitte beim Pförtner melden.\nRampe 3 benutzen.",
          "Lieferschein doppelt", "Hintereingang\r\nKlingel \"Lager\"", "Keine Teillieferungen")
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue",
                       "ı": "i", " ": "", "&": "", ".": "", "(": "", ")": "", ",": "", "-": ""})
# fmt: on


@functools.cache
def _ascii(text: str) -> str:
    return text.translate(_FOLD).lower()


def _iban(blz: str, account: str) -> str:
    """A German IBAN with correct check digits (DE = 13 14)."""
    check = 98 - int(blz + account + "131400") % 97
    return f"DE{check:02d}{blz}{account}"


def generate_account(
    clients: int, contacts_per_client: int = 2, properties: int = 3, tags: int = 10, seed: int = 1
) -> Account:
    """A deterministic German account: `clients` clients with `contacts_per_client` contacts each,
    `properties` client properties (TEXTFIELD, TEXTAREA, CHECKBOX, ...) with values on about half the
    clients, and `tags` tag names with a decaying share of clients (tag 1 ~30 %, tag 10 ~4 %)."""
    rng = random.Random(seed)
    rand = rng.random

    # random.choice/randrange are slow; one rng.random() per draw keeps 100k clients in about a second.
    def choice(seq: tuple[str, ...] | tuple[tuple[str, ...], ...]) -> Any:
        return seq[int(rand() * len(seq))]

    def randrange(lo: int, hi: int | None = None) -> int:
        return int(rand() * lo) if hi is None else lo + int(rand() * (hi - lo))

    first_client = FIRST_IDS["client"]
    base = datetime(2015, 1, 5, 8, 0, tzinfo=timezone(timedelta(hours=1)))
    span = 9 * 365 * 86400  # creation times spread over ~9 years, increasing with the id
    step = span / max(clients, 1)
    prop_defs: list[dict[str, str]] = []
    for i in range(properties):
        name, ptype = _PROPERTIES[i] if i < len(_PROPERTIES) else (f"Attribut {i + 1}", _PROPERTIES[i % 3][1])
        prop_defs.append(
            {
                "id": str(FIRST_IDS["property"] + i),
                "name": name,
                "type": ptype,
                "default_value": "0" if ptype == "CHECKBOX" else "",
                "is_nvl": "0",
            }
        )
    tag_names = [_TAGS[i] if i < len(_TAGS) else f"Schlagwort {i + 1}" for i in range(tags)]
    tag_share = [0.3 * 0.8**i for i in range(tags)]

    out_clients: list[dict[str, str]] = []
    out_contacts: list[dict[str, str]] = []
    out_values: list[dict[str, str]] = []
    out_tags: list[dict[str, str]] = []
    contact_id, value_id, tag_id = FIRST_IDS["contact"], FIRST_IDS["value"], FIRST_IDS["tag"]
    for n in range(clients):
        cid = str(first_client + n)
        last, last2 = choice(_LAST), choice(_LAST)
        zprefix, city, state, area = choice(_CITIES)
        company = choice(_COMPANY).format(l=last, l2=last2, b=choice(_BRANCHEN), c=city.split()[0])
        male = rand() < 0.5
        first = choice(_MALE) if male else choice(_FEMALE)
        domain = _ascii(last) + (".de" if rand() < 0.8 else ".com")
        created = (base + timedelta(seconds=int(n * step))).isoformat()
        rec = {
            "id": cid,
            "created": created,
            "number": str(n + 1),
            "name": company,
            "salutation": "Herr" if male else "Frau",
            "first_name": first,
            "last_name": last,
            "street": f"{choice(_STREETS)} {randrange(1, 180)}{'a' if rand() < 0.1 else ''}",
            "zip": f"{zprefix}{randrange(100):02d}",
            "city": city,
            "state": state,
            "country_code": "DE" if rand() < 0.9 else choice(("AT", "CH", "NL", "PL", "FR")),
            "phone": (
                f"+49 {area} {randrange(100000, 9999999)}"
                if rand() < 0.6
                else f"0{area} {randrange(100000, 9999999)}"
            ),
            "email": f"info@{domain}",
            "www": f"www.{domain}",
            "debitor_account_number": str(10000 + n),
        }
        r = rand()
        if r < 0.6:
            blz, bank, bic = choice(_BANKS)
            rec["bank_iban"] = _iban(blz, f"{randrange(10**10):010d}")
            rec["bank_name"], rec["bank_swift"], rec["bank_account_owner"] = bank, bic, company
        if r < 0.3:
            rec["vat_number"] = f"DE{randrange(10**8, 10**9)}"
        if rand() < 0.15:
            rec["mobile"] = f"+49 1{randrange(50, 80)} {randrange(1000000, 99999999)}"
        if rand() < 0.25:
            rec["note"] = choice(
                (
                    "Zahlt pünktlich.",
                    "Ansprechpartner wechselt häufig.\nVorher anrufen!",
                    "Skonto nur bei Zahlung innerhalb 7 Tagen",
                    "Rahmenvertrag bis 31.12.2025",
                )
            )
        if rand() < 0.1:
            rec["customfield"] = f"ERP-{700000 + n}"
        if rand() < 0.03:
            rec["archived"] = "1"
        out_clients.append(rec)
        for k in range(contacts_per_client):
            cmale = rand() < 0.5
            cfirst, clast = (choice(_MALE) if cmale else choice(_FEMALE)), choice(_LAST)
            contact = {
                "id": str(contact_id),
                "client_id": cid,
                "created": created,
                "label": _LABELS[k % len(_LABELS)],
                "salutation": "Herr" if cmale else "Frau",
                "first_name": cfirst,
                "last_name": clast,
                "email": f"{_ascii(cfirst)}.{_ascii(clast)}@{domain}",
                "phone": f"+49 {area} {randrange(100000, 9999999)}",
            }
            if rand() < 0.2:  # a branch office with its own address; the rest inherit the client's
                czip, ccity, cstate, _ = choice(_CITIES)
                contact.update(
                    street=f"{choice(_STREETS)} {randrange(1, 99)}",
                    zip=f"{czip}{randrange(100):02d}",
                    city=ccity,
                    state=cstate,
                )
            out_contacts.append(contact)
            contact_id += 1
        for prop in prop_defs:
            if rand() < 0.5:
                ptype = prop["type"]
                value = (
                    choice(_BRANCHEN)
                    if ptype == "TEXTFIELD"
                    else choice(_HINTS)
                    if ptype == "TEXTAREA"
                    else ("1" if rand() < 0.6 else "0")
                )
                out_values.append(
                    {"id": str(value_id), "client_id": cid, "client_property_id": prop["id"], "value": value}
                )
                value_id += 1
        for name, share in zip(tag_names, tag_share, strict=True):
            if rand() < share:
                out_tags.append({"id": str(tag_id), "client_id": cid, "name": name})
                tag_id += 1
    return Account(
        billomat_id="musterfirma",
        myself={
            "id": "1",
            "name": "Musterfirma GmbH",
            "street": "Weißenburger Str. 12",
            "zip": "01067",
            "city": "Dresden",
            "country_code": "DE",
            "email": "buchhaltung@musterfirma.de",
        },
        settings={"number_pre": "KD", "number_length": "6", "country_code": "DE"},
        client_properties=prop_defs,
        clients=out_clients,
        contacts=out_contacts,
        client_property_values=out_values,
        client_tags=out_tags,
        documents=[str(first_client + n) for n in range(0, clients, 7)],
    )


# snapbill-api.md §7: the traceability and tax number fields a migration from Billomat wants ("only if
# defined"); an account set up for the migration defines them under Setup > General > Custom Fields.
MIGRATION_FIELDS: tuple[tuple[str, str], ...] = (("billomat_id", "Billomat-ID"), ("tax_number", "Steuernummer"))


def generate_snapbill_account() -> SnapBillAccount:
    """An empty SnapBill account set up for migrating a generated account: German, EUR, and every
    custom field the shipped mappings/snapbill.yaml fills (the recorded ones plus MIGRATION_FIELDS)."""
    return SnapBillAccount(
        username="demo",
        host="musterfirma.snapbill.com",
        country_code="DE",
        currencies=[{"code": "EUR", "format": "€%.2f", "caption": "Euro"}],
        default_currency="EUR",
        payment_methods=[{"code": "other", "name": "Other"}],
        default_payment_method="other",
        fields=[{"key": key, "caption": caption} for key, caption in (*DEFAULT_FIELDS, *MIGRATION_FIELDS)],
    )
