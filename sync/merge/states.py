"""What one merge reads and which records it may touch: the three states (B, C, W) and its `Scope`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from sync.desired import Desired
from sync.frames import AccountFrames
from sync.merge.model import Side
from sync.merge.vectors import dedup

RECORDS = ("clients", "contacts")
# A frame of one record resource with the index of its ids (one row per id).
Indexed = tuple[pd.DataFrame, pd.Index]


@dataclass
class States:
    """B (the base), C (Billomat now), the older states kept, and W (the workbook, as working copies).

    `W` holds the workbook's frames under clients, contacts, values and tags; the merge replaces them
    as it goes (created_both rewrites keys; rows a held conflict keeps out are dropped).
    """

    base: AccountFrames | None
    B: AccountFrames
    C: AccountFrames
    older: list[AccountFrames]
    desired: Desired
    W: dict[str, pd.DataFrame]
    frames_b: dict[str, Indexed]
    frames_c: dict[str, Indexed]
    frames_o: list[dict[str, Indexed]]

    @classmethod
    def of(
        cls,
        base: AccountFrames | None,
        current: AccountFrames,
        desired: Desired,
        older: Sequence[AccountFrames],
    ) -> States:
        """The states of one merge; `older` only counts against a base."""
        kept = [o for o in older if o is not None] if base is not None else []
        b = base if base is not None else AccountFrames.from_records({})
        return cls(
            base=base,
            B=b,
            C=current,
            older=kept,
            desired=desired,
            W={
                "clients": desired.clients,
                "contacts": desired.contacts,
                "values": desired.property_values,
                "tags": desired.tags,
            },
            frames_b={r: dedup(b.frame(r)) for r in RECORDS},
            frames_c={r: dedup(current.frame(r)) for r in RECORDS},
            frames_o=[{r: dedup(o.frame(r)) for r in RECORDS} for o in kept],
        )


@dataclass
class Scope:
    """Which records the merge leaves alone, per resource (clients, contacts).

    - left_out: Billomat's records the diff must not read as deleted (`Desired.left_out`);
    - unread: rows sync.desired left out for a problem, and records a billsync create adopts: not
      touched on either side;
    - skip_w: W's rows a held created_both keeps from being created (and, for clients, their contacts);
    - forced: Billomat's record → the side an adopted created_both conflict was decided for;
    - marked_clients: clients an interrupted billsync run created for new workbook rows.
    """

    left_out: dict[str, set[str]]
    unread: dict[str, set[str]]
    skip_w: dict[str, set[str]]
    forced: dict[str, dict[str, Side]]
    marked_clients: set[str]

    @classmethod
    def of(cls, desired: Desired) -> Scope:
        """What the workbook's reading already left out."""
        left_out = {r: set(desired.left_out.get(r, ())) for r in RECORDS}
        return cls(
            left_out=left_out,
            unread={r: left_out[r] | set(desired.excluded_keys) for r in RECORDS},
            skip_w={r: set() for r in RECORDS},
            forced={r: {} for r in RECORDS},
            marked_clients=set(),
        )
