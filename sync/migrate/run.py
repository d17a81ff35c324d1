"""The migration run: match each planned client in SnapBill (id map, number), add or update it, verify.

Idempotency (issue 5): a Billomat client is found again in SnapBill through the id map in the state
dir (`snapbill_ids.json`: Billomat id → SnapBill id and xid), else through its exact `number` in the
full client listing. Only when neither finds it is it added, and an add whose answer was lost is
looked up by number (`client/list query=<number>`, exact match after the fuzzy search) before it
is ever sent again. So a re-run, a crash or a lost answer never creates a client twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sync.clients.snapbill import Client, SnapBill, SnapBillRejectedError
from sync.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    RetryableError,
)
from sync.journal import Journal, new_run_id
from sync.migrate.idmap import IdMap
from sync.migrate.plan import ClientPlan, Unheld, current_params, differences
from sync.migrate.result import ClientResult, MigrationResult
from sync.plan import Change
from sync.snapbill_mapping import SnapBillMapping

log = logging.getLogger(__name__)

# Save the id map after this many writes (and always at the end): the number lookup covers the rest.
SAVE_EVERY = 25
# Stop after this many clients in a row failed with a network/server error that outlived its retries.
MAX_RETRYABLE_IN_A_ROW = 5


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
            plan.billomat_id,
            plan.number,
            plan.name,
            "failed",
            unheld=list(plan.unheld),
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
            self.warn(
                f"Billomat client {plan.billomat_id}: SnapBill client {entry['id']} no longer exists; "
                "looking it up by number"
            )
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
            result.message = f"SnapBill client {found.get('id')} with number {plan.number!r} is already Billomat client {owner}"
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

    def _verify(
        self, sent: Mapping[str, str], answer: Mapping[str, Any], result: ClientResult, *, creating: bool
    ) -> None:
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
        self,
        action: str,
        plan: ClientPlan,
        fields: dict[str, tuple[str, str]],
        payload: Mapping[str, str],
        *,
        key: str = "",
    ) -> Iterator[list[str]]:
        """A journal line before the SnapBill write and one after it (SPEC §6: a journal of every write)."""
        if self.journal is None:
            yield []
            return
        change = Change(
            resource="snapbill_clients",
            action=action,
            key=key or plan.billomat_id,
            sheet="SnapBill",
            row=None,
            fields=dict(fields),
            payload=dict(payload),
            client_key=plan.billomat_id,
            ref=plan.number,
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
