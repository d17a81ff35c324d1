"""The ids a load gives workbook rows: new rows' keys → the ids created (or adopted) for them in this run."""

from __future__ import annotations

from sync.keys import NEW_KEY
from sync.plan import Change


class Skip(Exception):
    """A change that is not sent (its client was not created); the message says why."""


class RowIds:
    """Row keys → ids created or adopted in this run, the records made for rows, and client rows that failed."""

    def __init__(self) -> None:
        self.id_map: dict[str, str] = {}  # client row key (row:N / neu-…) -> new id
        self.contact_ids: dict[str, str] = {}  # contact row key (row:N) -> new id
        self.failed_clients: dict[str, str] = {}  # client row key (casefolded) -> why it was not created
        self.adopted: set[tuple[str, str]] = set()  # (resource, id) of records made for workbook rows

    def client_id(self, key: str) -> str:
        """The Billomat id of a client key: an id as is, a new row's key → the id created in this run."""
        key = key.strip()
        if key.isdigit():
            return key
        if not key:
            raise Skip("the change names no client")
        found = self.id_map.get(key) or self.id_map.get(key.casefold())
        if found:
            return found
        reason = self.failed_clients.get(key.casefold())
        if reason:
            raise Skip(reason)
        kind = "new client reference" if NEW_KEY.match(key) else "client key"
        raise Skip(f"the {kind} {key!r} matches no client created in this run")

    def new_id(self, change: Change) -> str:
        """The id of a record this run created for a row key (an update of a row created in the same run)."""
        table = self.id_map if change.resource == "clients" else self.contact_ids
        found = table.get(change.key) or table.get(change.key.casefold())
        if not found:
            raise Skip(f"{change.key!r} is not a Billomat id and no create of this run made it one")
        return found

    def register(self, change: Change, record_id: str) -> None:
        """Remember the id made (or adopted) for the change's row key."""
        if not record_id:
            return
        table = self.id_map if change.resource == "clients" else self.contact_ids
        table[change.key] = record_id
        if change.key.casefold() != change.key:
            # Kontakte may write NEU-1 where Kunden says neu-1.
            table[change.key.casefold()] = record_id
        self.adopted.add((change.resource, record_id))
