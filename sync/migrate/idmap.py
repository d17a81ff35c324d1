"""The id map: Billomat client id → SnapBill id and xid, in the state dir (`snapbill_ids.json`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sync.atomic import atomic_write_bytes
from sync.errors import (
    StateError,
)

log = logging.getLogger(__name__)

ID_MAP_FILE = "snapbill_ids.json"
ID_MAP_FORMAT = 1


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
            log.warning(
                "%s belongs to SnapBill account %s, not %s: not used",
                self.path,
                doc.get("account"),
                self.account,
            )
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
        entry = {
            "id": str(client.get("id", "")),
            "xid": str(client.get("xid") or ""),
            "number": str(client.get("number") or ""),
        }
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
            raise StateError(
                f"{self.path}: cannot write the SnapBill id map ({exc.strerror or exc})"
            ) from None
        self._dirty = False
