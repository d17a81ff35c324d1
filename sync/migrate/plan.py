"""What each Billomat client should look like in SnapBill (pure): its parameters, what SnapBill cannot hold."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.clients.snapbill import ClientForm
from sync.frames import AccountFrames, frame_records
from sync.snapbill_mapping import SnapBillMapping, fill_template, split_emails

log = logging.getLogger(__name__)

NAME_PARAMS = ("company", "firstname", "surname")


@dataclass(frozen=True)
class Unheld:
    """A Billomat value SnapBill could not hold: what it is ("tag", "field note", ...) and the value."""

    what: str
    value: str

    def __str__(self) -> str:
        return f"{self.what}: {self.value}"


@dataclass
class ClientPlan:
    """What one Billomat client should look like in SnapBill, and what it cannot take along."""

    billomat_id: str
    number: str
    name: str
    params: dict[str, str] = field(default_factory=dict)  # every parameter that is compared and sent
    unheld: list[Unheld] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skip: str = ""  # why it is skipped (archived, no name and `fallback: skip`)
    skip_is_choice: bool = False  # skipped by an option (archived), not because of its data
    problem: str = ""  # a data error: the client fails before any write


@dataclass(frozen=True)
class Sources:
    """The Billomat side, per client: its record (plus `property:<name>` keys), tags and contacts."""

    clients: list[dict[str, str]]
    tags: dict[str, list[str]]
    contacts: dict[str, list[dict[str, str]]]
    property_names: frozenset[str]


def sources_from_frames(frames: AccountFrames) -> Sources:
    """Join clients with their property values (as `property:<name>`), tags and contacts."""
    names = {p["id"]: p["name"] for p in frame_records(frames.client_properties)}
    values: dict[str, dict[str, str]] = {}
    for row in frame_records(frames.client_property_values):
        name = names.get(row.get("client_property_id", ""))
        if name is not None:
            values.setdefault(row["client_id"], {})[f"property:{name}"] = row.get("value", "")
    tags: dict[str, list[str]] = {}
    for row in frame_records(frames.client_tags):
        tags.setdefault(row["client_id"], []).append(row["name"])
    contacts: dict[str, list[dict[str, str]]] = {}
    for row in frame_records(frames.contacts):
        contacts.setdefault(row["client_id"], []).append(row)
    clients = [{**values.get(c["id"], {}), **c} for c in frame_records(frames.clients)]
    return Sources(clients, tags, contacts, frozenset(names.values()))


def plan_client(
    record: Mapping[str, str],
    mapping: SnapBillMapping,
    *,
    tags: Iterable[str] = (),
    contacts: Iterable[Mapping[str, str]] = (),
    form: ClientForm | None = None,
    include_archived: bool = False,
) -> ClientPlan:
    """The desired SnapBill parameters of one Billomat client and every value SnapBill cannot hold."""
    rec = {k: ("" if v is None else str(v)) for k, v in record.items()}
    plan = ClientPlan(billomat_id=rec.get("id", ""), number="", name=_display_name(rec))
    for rule in mapping.rules:
        value = rule.value(rec)
        if value == "" and rule.when_empty == "keep":
            continue
        plan.params[rule.param] = value
    plan.number = plan.params.get("number", "")

    # Everything SnapBill cannot hold goes into the report (issue 5: tags, undefined custom fields,
    # extra email addresses, contacts).
    used = mapping.sources
    for key, value in rec.items():
        if not value.strip() or key in used or key in mapping.ignore:
            continue
        if key.startswith("property:"):
            plan.unheld.append(Unheld(f"attribute {key[len('property:') :]}", value))
        else:
            plan.unheld.append(Unheld(f"field {key}", value))
    email_rule = mapping.rule("email")
    if email_rule is not None and "first_email" in email_rule.transforms:
        for extra in split_emails(rec.get(email_rule.source, ""))[1:]:
            plan.unheld.append(Unheld("further email address", extra))
    for tag in sorted(tags, key=str.casefold):
        plan.unheld.append(Unheld("tag", tag))
    for contact in contacts:
        plan.unheld.append(Unheld("contact", _contact_text(contact)))

    if rec.get("archived") == "1" and not include_archived:
        plan.skip = "archived in Billomat (--include-archived migrates it)"
        plan.skip_is_choice = True
        return plan
    if not any(plan.params.get(p, "").strip() for p in NAME_PARAMS):
        # snapbill-api.md §3: at least one of firstname, surname or company is required.
        if mapping.fallback is None:
            plan.skip = (
                f"neither company nor first or last name; SnapBill needs one ({mapping.fallback_place}: skip)"
            )
            return plan
        for param, template in mapping.fallback:
            plan.params[param] = fill_template(template, rec)
        if not any(plan.params.get(p, "").strip() for p in NAME_PARAMS):
            plan.problem = (
                f"neither company nor first or last name, and {mapping.fallback_place} gives an empty one"
            )
            return plan
        shown = ", ".join(f"{p} {plan.params[p]!r}" for p, _ in mapping.fallback)
        plan.notes.append(f"no name in Billomat: {shown} from {mapping.fallback_place}")
    if not plan.number.strip():
        plan.problem = "no client number: a re-run could not find it in SnapBill, so it is not migrated"
        return plan
    if form is not None:
        for param, label in (("currency_code", "currency"), ("payment_method_code", "payment method")):
            allowed = form.options(param)
            value = plan.params.get(param, "")
            if value and allowed and value not in allowed:
                plan.problem = (
                    f"{label} {value!r} is not enabled in SnapBill (enabled: {', '.join(allowed)}); "
                    "enable it there, or change the client in Billomat"
                )
    return plan


def plan_all(
    sources: Sources, mapping: SnapBillMapping, form: ClientForm | None, *, include_archived: bool
) -> list[ClientPlan]:
    """Plans for every Billomat client; a number used by two migrated clients is a problem of both."""
    plans = [
        plan_client(
            c,
            mapping,
            tags=sources.tags.get(c.get("id", ""), []),
            contacts=sources.contacts.get(c.get("id", ""), []),
            form=form,
            include_archived=include_archived,
        )
        for c in sources.clients
    ]
    by_number: dict[str, list[ClientPlan]] = {}
    for plan in plans:
        if not plan.skip and not plan.problem:
            by_number.setdefault(plan.number, []).append(plan)
    for number, same in by_number.items():
        if len(same) > 1:
            ids = ", ".join(p.billomat_id for p in same)
            for plan in same:
                plan.problem = (
                    f"client number {number!r} is used by Billomat clients {ids}; SnapBill needs it unique"
                )
    return plans


def current_params(client: Mapping[str, Any], params: Iterable[str]) -> dict[str, str | None]:
    """What a SnapBill client object holds for each parameter (None: the object does not say)."""
    nested = {"country_code": "country", "currency_code": "currency", "payment_method_code": "payment_method"}
    data = client.get("data")
    out: dict[str, str | None] = {}
    for param in params:
        value: Any
        if param.startswith("data-"):
            # snapbill-api.md §2: 2012 answers had no `data` object: then the value cannot be checked.
            value = data.get(param[5:]) if isinstance(data, dict) else None
            out[param] = ("" if value is None else str(value)) if isinstance(data, dict) else None
            continue
        if param in nested:
            obj = client.get(nested[param])
            value = obj.get("code") if isinstance(obj, dict) else None
        else:
            value = client.get(param)
        out[param] = None if value is None else str(value)
    return out


def differences(desired: Mapping[str, str], current: Mapping[str, str | None]) -> dict[str, tuple[str, str]]:
    """param -> (SnapBill's value, the desired one) for every parameter that differs."""
    out: dict[str, tuple[str, str]] = {}
    for param, want in desired.items():
        have = current.get(param)
        if have is None:
            if want != "":
                out[param] = ("", want)
            continue
        if have != want:
            out[param] = (have, want)
    return out


def _display_name(rec: Mapping[str, str]) -> str:
    """A client's name as messages show it."""
    person = " ".join(p for p in (rec.get("first_name", "").strip(), rec.get("last_name", "").strip()) if p)
    company = rec.get("name", "").strip()
    if company and person:
        return f"{company} ({person})"
    return company or person


def _contact_text(contact: Mapping[str, str]) -> str:
    name = " ".join(p for p in (contact.get("first_name", ""), contact.get("last_name", "")) if p.strip())
    name = name.strip() or contact.get("name", "").strip() or f"contact {contact.get('id', '')}"
    extras = [contact.get(k, "").strip() for k in ("email", "phone", "mobile")]
    extras = [e for e in extras if e]
    return f"{name} ({', '.join(extras)})" if extras else name
