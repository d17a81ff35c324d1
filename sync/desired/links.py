"""The client each contact row belongs to: a Billomat client id, or the neu-… key of a new client row."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sync.desired.fields import FieldReader
from sync.desired.rows import SheetRows
from sync.keys import NEW_KEY


class ClientLinks:
    """The Kontakte sheet's client column: ids and neu-… references checked against Kunden and Billomat."""

    def __init__(self, fields: FieldReader) -> None:
        self.fields = fields
        self.found = fields.found
        self.current = fields.current

    def read(self, sheet: SheetRows, clients: SheetRows | None) -> None:
        """Each contact's client: a Billomat client id, or the neu-… key of a new client row in Kunden."""
        sm = sheet.sm
        col = next((c for c in sm.columns if c.field == "client_id" and c.lookup is None), None)
        if col is None or col.read_only:
            return
        if col.header not in sheet.table.columns:
            self.found.missing.setdefault(sm.resource, []).append("client_id")
            self.found.warn(sheet, None, col.header, "column is missing: contacts stay with their clients")
            for i in np.flatnonzero(~sheet.known & ~sheet.bad):
                self.found.error(
                    sheet, i, col.header, f"a new contact needs its client's id in a {col.header!r} column"
                )
            return
        values = np.array([v.strip() for v in sheet.column(col.header)], dtype=object)
        current = sheet.aligned("client_id")
        clients_frame = self.current.clients
        client_ids = pd.Index(
            clients_frame["id"].to_numpy(dtype=object) if "id" in clients_frame.columns else [], dtype=object
        )
        # Unchanged (even should Billomat hold an orphan contact), or a client Billomat has.
        ok = (values == current) | pd.Index(values, dtype=object).isin(client_ids)
        ok |= self.fields.too_long(sheet, col.header, values, ~ok)
        kunden = clients.sm.sheet if clients is not None else "Kunden"
        new_rows: dict[str, int] = {}
        if clients is not None:
            for j, key in enumerate(clients.keys):
                if NEW_KEY.match(key):
                    new_rows[key.casefold()] = j
        for i in np.flatnonzero(~ok):
            value = values[i]
            if not value:
                self.found.error(
                    sheet,
                    i,
                    col.header,
                    f"{col.header} is empty: a contact needs its client's Billomat id (or the neu-… key of a"
                    " new client)",
                )
            elif value.isascii() and value.isdigit() and str(int(value)) in client_ids:
                values[i] = str(int(value))
            elif NEW_KEY.match(value) and value.casefold() in new_rows:
                assert clients is not None
                j = new_rows[value.casefold()]
                values[i] = clients.keys[j]  # spelt as in Kunden, so the plan can link the two
                if clients.bad[j]:
                    self.found.error(
                        sheet,
                        i,
                        col.header,
                        f"its new client {value!r} (sheet {kunden!r} row {clients.rows[j]}) has a problem and"
                        " is left out",
                    )
            elif NEW_KEY.match(value):
                self.found.error(
                    sheet, i, col.header, f"{value!r} is not the neu-… key of any row in sheet {kunden!r}"
                )
            else:
                self.found.error(
                    sheet,
                    i,
                    col.header,
                    f"{value!r} is neither a client id Billomat knows nor the neu-… key of a new client in"
                    f" sheet {kunden!r}",
                )
        sheet.fields["client_id"] = values
