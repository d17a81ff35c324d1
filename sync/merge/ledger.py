"""Who decides a conflict, the conflicts and holds of one merge, and the labels that name their records."""

from __future__ import annotations

from collections.abc import Mapping as AnyMapping

import numpy as np
import pandas as pd

from sync.merge.model import Conflict, Hold, Side
from sync.merge.sheet_terms import SheetTerms
from sync.merge.states import States
from sync.text import column_values
from sync.wording import RESOURCE_WORDS, record_label


class RecordLabels:
    """The record a conflict is about, for people, from Billomat, else the base, else the workbook."""

    def __init__(self, states: States) -> None:
        self.states = states
        # Workbook row positions by key, per resource — built once: a first sync may list thousands of
        # conflicts over 100k rows.
        self._w_rows: dict[str, tuple[pd.DataFrame, dict[str, int]]] = {}

    def record(self, resource: str, key: str) -> dict[str, str]:
        """A record's fields from Billomat, else the base, else the workbook ({} when none has it)."""
        for frame, index in (self.states.frames_c[resource], self.states.frames_b[resource]):
            if key and key in index:
                hit = index.get_loc(key)
                if isinstance(hit, int | np.integer):
                    return {str(k): v for k, v in frame.iloc[int(hit)].items() if isinstance(v, str)}
        wf = self.states.W[resource]
        cached = self._w_rows.get(resource)
        if cached is None or cached[0] is not wf:  # created_both replaces the frame: rebuild
            cached = self._w_rows[resource] = (
                wf,
                {k: i for i, k in reversed(list(enumerate(column_values(wf, "_key"))))},
            )
        at = cached[1].get(key) if key else None
        if at is not None:
            return {str(k): v for k, v in wf.iloc[at].items() if isinstance(v, str)}
        return {}

    def label(self, resource: str, key: str, billomat_id: str = "") -> str:
        """'1001 00057 Gärtnerei Krüger e.K.' (a contact: '2001 Anna Schmidt, Kunde 1001 00057 Gärtnerei
        Krüger e.K.'); property values and tags: the client."""
        kind = "contacts" if resource == "contacts" else "clients"
        rec = self.record(kind, key) or (self.record(kind, billomat_id) if billomat_id else {})
        person = f"{rec.get('first_name', '')} {rec.get('last_name', '')}".strip()
        if kind == "clients":
            return record_label(key, rec.get("client_number", ""), rec.get("name", "") or person)
        client_key = rec.get("client_id", "") or rec.get("client_key", "")
        own = record_label(key, "", person or rec.get("name", "") or rec.get("email", ""))
        client = self.label("clients", client_key) if client_key else ""
        return f"{own}, {RESOURCE_WORDS['clients']} {client}" if client else own


class Ledger:
    """The conflicts and holds of one merge; a decision, an adopted row's side, or `prefer` settles one."""

    def __init__(
        self,
        prefer: Side | None,
        decisions: AnyMapping[tuple[str, str, str], Side],
        labels: RecordLabels,
        terms: SheetTerms,
    ) -> None:
        self.prefer = prefer
        self.decisions = decisions
        self.labels = labels
        self.terms = terms
        self.conflicts: list[Conflict] = []
        self.holds: list[Hold] = []

    def side(self, resource: str, key: str, fld: str, forced: Side | None = None) -> Side | None:
        """Who wins (resource, key, field): its decision, else the adopted row's side, else `prefer`."""
        return self.decisions.get((resource, key, fld)) or forced or self.prefer

    def hold(self, resource: str, key: str, fld: str = "") -> None:
        """Keep this part as it was in B in the next base (a held conflict)."""
        self.holds.append(Hold(resource, key, fld))

    def conflict(
        self,
        resource: str,
        key: str,
        fld: str,
        *,
        row: int | None,
        base: str | None,
        billomat: str | None,
        sheet_value: str | None,
        kind: str,
        resolved_by: Side | None,
        billomat_id: str = "",
        forced: Side | None = None,
    ) -> None:
        """List a conflict (`fld` "" for a whole record), with the sheet and header that show it.

        Not for a field of an adopted row (`forced`): its created_both conflict decided it.
        """
        if forced is not None:
            return
        self.conflicts.append(
            Conflict(
                resource=resource,
                key=key,
                sheet=self.terms.sheet(resource),
                row=row,
                field=fld,
                header=self.terms.header(resource, fld) if fld else "",
                base=base,
                billomat=billomat,
                sheet_value=sheet_value,
                kind=kind,
                billomat_id=billomat_id,
                resolved_by=resolved_by,
                label=self.labels.label(resource, key, billomat_id),
            )
        )


def short_label(resource: str, frame: pd.DataFrame, i: int) -> str:
    """A short label of a record for the Konflikte sheet: client number and name, or the person."""
    if i is None or i < 0 or i >= len(frame):
        return ""
    row = frame.iloc[int(i)]

    def get(name: str) -> str:
        value = row.get(name, "")
        return value if isinstance(value, str) else ""

    if resource == "clients":
        name = get("name") or f"{get('first_name')} {get('last_name')}".strip()
        return " ".join(p for p in (get("client_number"), name) if p)
    person = f"{get('first_name')} {get('last_name')}".strip()
    return " ".join(p for p in (get("label"), person or get("name"), get("email")) if p)
