"""The keys a workbook row can have: a Billomat id, a `neu-…` reference to a new client, `row:N` for a new
row with neither, and the `gelöscht-…` marker of a row the sync removed (docs/design.md "Keys")."""

from __future__ import annotations

import re

# A new client that Kontakte rows may reference before it has a Billomat id (docs/design.md "Keys").
NEW_KEY = re.compile(r"^(neu|new)-\S.*$", re.IGNORECASE)
# A row the two-way sync marked as deleted in Billomat (sync.workbook.update's "mark" removal mode).
REMOVED_KEY = re.compile(r"^\s*(gelöscht|geloescht|deleted)-", re.IGNORECASE)


def row_key(row: int) -> str:
    """The key of a new row that has no id and no neu-… reference."""
    return f"row:{row}"


def is_new_key(key: str) -> bool:
    """A key of a row that is not in Billomat yet (`row:N` or `neu-…`)."""
    return key.startswith("row:") or NEW_KEY.match(key) is not None
