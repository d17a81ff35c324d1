"""Billomat → SnapBill client migration: desired state per client, matching, writes, verification.

Idempotency (issue 5): a Billomat client is found again in SnapBill through the id map in the state
dir (`snapbill_ids.json`: Billomat id → SnapBill id and xid), else through its exact `number` in the
full client listing. Only when neither finds it is it added, and an add whose answer was lost is
looked up by number (`client/list query=<number>`, exact match after the fuzzy search) before it
is ever sent again. So a re-run, a crash or a lost answer never creates a client twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.atomic import atomic_write_bytes
from sync.clients.snapbill import Client, ClientForm, SnapBill, SnapBillRejectedError
from sync.errors import (
    EXIT_OK,
    EXIT_PARTIAL,
    ApiError,
    AuthError,
    NotFoundError,
    RetryableError,
    StateError,
)
from sync.frames import AccountFrames, frame_records
from sync.journal import Journal, new_run_id
from sync.plan import Change
from sync.snapbill_mapping import SnapBillMapping, fill_template, split_emails

log = logging.getLogger(__name__)

ID_MAP_FILE = "snapbill_ids.json"
ID_MAP_FORMAT = 1
STATUSES = ("created", "updated", "unchanged", "skipped", "failed")
NAME_PARAMS = ("company", "firstname", "surname")
# Save the id map after this many writes (and always at the end): the number lookup covers the rest.
SAVE_EVERY = 25
# Stop after this many clients in a row failed with a network/server error that outlived its retries.
MAX_RETRYABLE_IN_A_ROW = 5


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


@dataclass
class ClientResult:
    """What happened to one Billomat client."""

    billomat_id: str
    number: str
    name: str
    status: str  # one of STATUSES
    snapbill_id: str = ""
    changes: dict[str, tuple[str, str]] = field(default_factory=dict)  # param -> (SnapBill before, sent)
    unheld: list[Unheld] = field(default_factory=list)
    message: str = ""
    ignored: list[str] = field(default_factory=list)  # parameters SnapBill silently did not take
    skip_is_choice: bool = False
    gave_up: bool = False  # failed with a network/server error that outlived its retries

    @property
    def needs_attention(self) -> bool:
        """Failed, skipped for its data, or SnapBill silently ignored part of the write."""
        return self.status == "failed" or (self.status == "skipped" and not self.skip_is_choice) or bool(self.ignored)


@dataclass
class MigrationResult:
    """The outcome of one run: one result per Billomat client, in Billomat's order."""

    results: list[ClientResult]
    dry_run: bool = False
    requests: dict[str, int] = field(default_factory=dict)
    skipped_fields: list[str] = field(default_factory=list)  # if_defined rules the account has no field for

    def counts(self) -> dict[str, int]:
        """Clients per status (every status present, zero included)."""
        out = dict.fromkeys(STATUSES, 0)
        for result in self.results:
            out[result.status] += 1
        return out

    @property
    def exit_code(self) -> int:
        """0 when every client is in SnapBill as mapped (archived ones skipped by choice), else 1."""
        return EXIT_PARTIAL if any(r.needs_attention for r in self.results) else EXIT_OK


# ------------------------------------------------------------------------------------------------
# The id map
# ------------------------------------------------------------------------------------------------


class IdMap:
    """Billomat client id → SnapBill id and xid, in `<state dir>/snapbill_ids.json` (written atomically).

    The map belongs to one SnapBill account (`account`: base URL and user); a map of another account is
    not used (numeric ids are unique only within an account, snapbill-api.md §0), the number lookup
    then finds the clients again.
    """

    def __init__(self, path: Path, account: str) -> None:
        self.path = Path(path)
        self.account = account
        self.entries: dict[str, dict[str, str]] = {}
        self.foreign = False
        self._dirty = False
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StateError(
                f"{self.path}: the SnapBill id map is damaged ({exc}); move it away and run again "
                "(clients already migrated are found again by their number)"
            ) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("clients"), dict):
            raise StateError(f"{self.path}: not a SnapBill id map; move it away and run again")
        if doc.get("account") != self.account:
            log.warning("%s belongs to SnapBill account %s, not %s: not used", self.path, doc.get("account"),
                        self.account)
            self.foreign = True
            return
        self.entries = {str(k): dict(v) for k, v in doc["clients"].items() if isinstance(v, dict)}

    def get(self, billomat_id: str) -> dict[str, str] | None:
        """The entry of a Billomat client: {"id", "xid", "number"}, or None."""
        return self.entries.get(billomat_id)

    def owner_of(self, snapbill_id: str) -> str | None:
        """The Billomat id mapped to a SnapBill id, if any."""
        return next((b for b, e in self.entries.items() if e.get("id") == snapbill_id), None)

    def set(self, billomat_id: str, client: Mapping[str, Any]) -> None:
        """Record that `client` (a SnapBill object) is the Billomat client `billomat_id`."""
        entry = {"id": str(client.get("id", "")), "xid": str(client.get("xid") or ""),
                 "number": str(client.get("number") or "")}
        if self.entries.get(billomat_id) != entry:
            self.entries[billomat_id] = entry
            self._dirty = True

    def drop(self, billomat_id: str) -> None:
        """Forget a Billomat client's entry."""
        if self.entries.pop(billomat_id, None) is not None:
            self._dirty = True

    def save(self) -> None:
        """Write the map atomically when it changed."""
        if not self._dirty:
            return
        doc = {"format": ID_MAP_FORMAT, "account": self.account, "clients": self.entries}
        try:
            data = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True).encode()
            atomic_write_bytes(self.path, data, private=True)  # a state file (SPEC §6)
        except OSError as exc:
            raise StateError(f"{self.path}: cannot write the SnapBill id map ({exc.strerror or exc})") from None
        self._dirty = False


# ------------------------------------------------------------------------------------------------
# Desired state (pure)
# ------------------------------------------------------------------------------------------------


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
            plan.unheld.append(Unheld(f"attribute {key[len('property:'):]}", value))
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
            plan.skip = f"neither company nor first or last name; SnapBill needs one ({mapping.fallback_place}: skip)"
            return plan
        for param, template in mapping.fallback:
            plan.params[param] = fill_template(template, rec)
        if not any(plan.params.get(p, "").strip() for p in NAME_PARAMS):
            plan.problem = f"neither company nor first or last name, and {mapping.fallback_place} gives an empty one"
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
                plan.problem = f"client number {number!r} is used by Billomat clients {ids}; SnapBill needs it unique"
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


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------


Say = Callable[[str], None]


class Migration:
    """One run: list SnapBill once, then for each Billomat client match, create or update, and verify."""

    def __init__(
        self,
        sb: SnapBill,
        mapping: SnapBillMapping,
        id_map: IdMap,
        *,
        dry_run: bool = False,
        info: Say | None = None,
        warn: Say | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.sb = sb
        self.mapping = mapping
        self.id_map = id_map
        self.dry_run = dry_run
        self.journal = journal
        self.run_id = journal.run_id if journal is not None else new_run_id()
        self.info = info or (lambda text: None)
        self.warn = warn or (lambda text: None)
        self.by_id: dict[str, dict[str, Any]] = {}
        self.by_number: dict[str, list[dict[str, Any]]] = {}
        self._writes = 0

    def run(self, plans: list[ClientPlan], progress: Callable[[int], None] | None = None) -> MigrationResult:
        """Migrate every plan; the id map is saved every few writes and at the end, whatever happens.

        `progress(1)` is told after each client (one or more SnapBill calls each).
        """
        self._index(c.data for c in self.sb.clients.list())
        results: list[ClientResult] = []
        retryable_in_a_row = 0
        try:
            for plan in plans:
                result = self._one(plan)
                results.append(result)
                if progress is not None:
                    progress(1)
                if result.gave_up:
                    retryable_in_a_row += 1
                    if retryable_in_a_row >= MAX_RETRYABLE_IN_A_ROW:
                        raise _GaveUp(result.message)
                else:
                    retryable_in_a_row = 0
        finally:
            if not self.dry_run:
                self.id_map.save()
        return MigrationResult(
            results, dry_run=self.dry_run, skipped_fields=[r.place for r in self.mapping.skipped_rules]
        )

    def _index(self, clients: Iterable[Mapping[str, Any]]) -> None:
        for client in clients:
            self._remember(client)

    def _remember(self, client: Mapping[str, Any]) -> None:
        sid = str(client.get("id", ""))
        old = self.by_id.get(sid)
        if old is not None:
            number = str(old.get("number") or "")
            self.by_number[number] = [c for c in self.by_number.get(number, []) if str(c.get("id")) != sid]
        self.by_id[sid] = dict(client)
        self.by_number.setdefault(str(client.get("number") or ""), []).append(dict(client))

    def _one(self, plan: ClientPlan) -> ClientResult:
        result = ClientResult(
            plan.billomat_id, plan.number, plan.name, "failed", unheld=list(plan.unheld),
            skip_is_choice=plan.skip_is_choice,
        )
        entry = self.id_map.get(plan.billomat_id)
        result.snapbill_id = entry["id"] if entry else ""
        if plan.skip:
            result.status, result.message = "skipped", plan.skip
            return result
        if plan.problem:
            result.message = plan.problem
            return result
        notes = list(plan.notes)
        try:
            target = self._locate(plan, result)
            if result.message:  # _locate found a conflict
                self.warn(f"Billomat client {plan.billomat_id} ({plan.number}): {result.message}")
                return result
            if target is None:
                self._create(plan, result)
            else:
                self._update(plan, target, result)
        except AuthError:
            raise
        except SnapBillRejectedError as exc:
            result.status = "failed"
            result.message = f"SnapBill refused it: {exc.api_message or exc}"
        except RetryableError as exc:
            result.status = "failed"
            result.message = f"{exc} (gave up after retries; a re-run completes it)"
            result.gave_up = True
        except ApiError as exc:
            result.status = "failed"
            result.message = str(exc)
        if notes:
            result.message = "; ".join([*notes, result.message] if result.message else notes)
        if result.status == "failed":
            self.warn(f"Billomat client {plan.billomat_id} ({plan.number}): {result.message}")
        return result

    def _locate(self, plan: ClientPlan, result: ClientResult) -> dict[str, Any] | None:
        """The SnapBill client this Billomat client already is: by the id map, else by exact number."""
        entry = self.id_map.get(plan.billomat_id)
        if entry:
            found = self.by_id.get(entry["id"])
            if found is None:
                try:
                    found = self.sb.clients.find(entry["xid"] or entry["id"]).data
                except NotFoundError:
                    found = None
            if found is not None and entry.get("xid") and found.get("xid") and found["xid"] != entry["xid"]:
                found = None  # another account's client with the same numeric id (ids are per account)
            if found is not None and found.get("state") == "dead":
                result.snapbill_id = str(found.get("id"))
                result.message = (
                    f"SnapBill client {found.get('id')} was deleted in SnapBill (state dead); not created again: "
                    "remove its line from the id map to migrate it anew"
                )
                return None
            if found is not None:
                return found
            self.id_map.drop(plan.billomat_id)
            self.warn(f"Billomat client {plan.billomat_id}: SnapBill client {entry['id']} no longer exists; "
                      "looking it up by number")
        same = [c for c in self.by_number.get(plan.number, []) if c.get("state") != "dead"]
        if len(same) > 1:
            ids = ", ".join(str(c.get("id")) for c in same)
            result.message = f"SnapBill has several clients with number {plan.number!r} ({ids}); not touched"
            return None
        if not same:
            return None
        found = same[0]
        owner = self.id_map.owner_of(str(found.get("id")))
        if owner is not None and owner != plan.billomat_id:
            result.message = (
                f"SnapBill client {found.get('id')} with number {plan.number!r} is already Billomat client {owner}"
            )
            return None
        bid = self.mapping.rule("data-billomat_id")
        if bid is not None and isinstance(found.get("data"), dict):
            theirs = str(found["data"].get(bid.data_key or "") or "")
            if theirs and theirs != plan.params.get("data-billomat_id", ""):
                result.message = (
                    f"SnapBill client {found.get('id')} with number {plan.number!r} belongs to Billomat client "
                    f"{theirs} (data-billomat_id)"
                )
                return None
        return found

    def _create(self, plan: ClientPlan, result: ClientResult) -> None:
        params = {k: v for k, v in plan.params.items() if v != ""}
        result.changes = {k: ("", v) for k, v in params.items()}
        if self.dry_run:
            result.status = "created"
            return

        def landed() -> Client | None:
            # snapbill-api.md §5: add is not safe to retry; look for it by its exact number first.
            hits = [c for c in self.sb.clients.by_number(plan.number) if c.data.get("state") != "dead"]
            return hits[0] if len(hits) == 1 else None

        with self._journalled("create", plan, result.changes, params) as entry:
            created = self.sb.clients.add(params, landed=landed)
            entry.append(created.id or "")
        self.id_map.set(plan.billomat_id, created.data)
        self._remember(created.data)
        result.status, result.snapbill_id = "created", created.id or ""
        self._verify(plan.params, created.data, result, creating=True)
        self._wrote()

    def _update(self, plan: ClientPlan, target: dict[str, Any], result: ClientResult) -> None:
        sid = str(target.get("id"))
        result.snapbill_id = sid
        if not self.dry_run:
            self.id_map.set(plan.billomat_id, target)
        changes = differences(plan.params, current_params(target, plan.params))
        if not changes:
            result.status = "unchanged"
            return
        result.changes = changes
        if self.dry_run:
            result.status = "updated"
            return
        sent = {k: new for k, (_, new) in changes.items()}
        with self._journalled("update", plan, changes, sent, key=sid) as entry:
            updated = self.sb.clients.update(sid, sent)
            entry.append(sid)
        after = updated.data if updated is not None else self.sb.clients.find(sid).data
        self._remember(after)
        result.status = "updated"
        self._verify({k: plan.params[k] for k in changes}, after, result, creating=False)
        self._wrote()

    def _verify(self, sent: Mapping[str, str], answer: Mapping[str, Any], result: ClientResult, *,
                creating: bool) -> None:
        """Compare the object SnapBill returned with what was sent (§1: it ignores some parameters silently)."""
        wanted = {k: v for k, v in sent.items() if v != "" or not creating}
        have = current_params(answer, wanted)
        missed = differences({k: v for k, v in wanted.items() if have[k] is not None}, have)
        unknown = [k for k, v in have.items() if v is None and wanted[k] != ""]
        for param, (got, want) in missed.items():
            result.ignored.append(param)
            result.unheld.append(Unheld(f"ignored by SnapBill: {param}", want))
            log.debug("%s: sent %r, SnapBill has %r", param, want, got)
        if missed:
            shown = ", ".join(f"{p} (sent {w!r}, SnapBill has {g!r})" for p, (g, w) in missed.items())
            result.message = f"SnapBill did not take: {shown}"
        if unknown:
            note = f"SnapBill's answer does not show {', '.join(unknown)}: not verified"
            result.message = f"{result.message}; {note}" if result.message else note

    @contextmanager
    def _journalled(
        self, action: str, plan: ClientPlan, fields: dict[str, tuple[str, str]], payload: Mapping[str, str],
        *, key: str = "",
    ) -> Iterator[list[str]]:
        """A journal line before the SnapBill write and one after it (SPEC §6: a journal of every write)."""
        if self.journal is None:
            yield []
            return
        change = Change(
            resource="snapbill_clients", action=action, key=key or plan.billomat_id, sheet="SnapBill", row=None,
            fields=dict(fields), payload=dict(payload), client_key=plan.billomat_id, ref=plan.number,
        )
        entry_id = self.journal.begin(change, client_id=plan.billomat_id)
        ids: list[str] = []
        try:
            yield ids
        except ApiError as exc:
            self.journal.finish(entry_id, "failed", api_message=exc.api_message or str(exc))
            raise
        self.journal.finish(entry_id, "done", record_id=ids[0] if ids else None)

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % SAVE_EVERY == 0:
            self.id_map.save()


class _GaveUp(ApiError):
    """Several clients in a row failed with network or server errors: SnapBill is not reachable."""

    def __init__(self, last: str) -> None:
        super().__init__(
            f"{MAX_RETRYABLE_IN_A_ROW} clients in a row failed with network or server errors; stopped "
            f"(the last: {last}). Nothing is lost: run again when SnapBill answers"
        )


def _display_name(rec: Mapping[str, str]) -> str:
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


__all__ = [
    "ClientPlan",
    "ClientResult",
    "IdMap",
    "Migration",
    "MigrationResult",
    "Sources",
    "Unheld",
    "current_params",
    "differences",
    "plan_all",
    "plan_client",
    "sources_from_frames",
]
