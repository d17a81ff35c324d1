"""The built-in emulator of both APIs: a real HTTP server on 127.0.0.1 that behaves like the real API.

See docs/design.md "Emulator" and reference/billomat-api.md; EmulatorConfig lists every switch, and
the options marked UNCONFIRMED there emulate either answer of an open question. Decisions the
reference leaves open, as the emulator makes them:

- JSON only: without `Accept: application/json` or `?format=json` the answer is 406 with a plain-text
  explanation (the real API would answer XML).
- Order of checks: account (404 Account not Found) -> format (406) -> API key (401) -> app credentials
  (invalid secret) -> rate limit (429) -> route. Only requests that pass the key check use quota;
  errors after that (400, 404, ...) do.
- Rate limit off (`rate_limit=0`): the headers are still sent, `X-Rate-Limit-Remaining` is 1000000.
  `rate_headers=False` drops them entirely (the 2012 API).
- Filters: `name`, `first_name`, `last_name`, `note` are case-insensitive substrings; `client_number`,
  `email`, `country_code`, `customfield`, `archived`, `property{ID}` and the value filters are exact;
  `tags=a,b` matches clients that have ALL the tags; `property{ID}=` (empty) also matches clients
  without a value row. Unknown parameters (and `invoice_id`) are ignored.
- Order: creation order without `order_by`; ids and numbers sort numerically, text case-insensitively
  with umlauts next to their base letter; ties keep creation order. A literal `+` (`%2B`) is a 400.
- A client GET embeds one value row per property; a property without a stored value shows id `""`.
  Zero properties: `"client-property-values": {}`.
- Write bodies must be wrapped (`{"client": {...}}`); scalars are coerced to strings (true -> "1"),
  read-only/unknown fields are ignored, INT fields are normalised ("00042" -> "42").
- Contacts take empty `contact_inherit_fields` from their client (billomat-api.md §4.2, UNCONFIRMED how):
  `contact_inherit="copy"` (default) copies them on create AND update (so emptying a field refills it);
  `"read"` stores them empty and every GET (list, find, write answers) shows the client's current value.
  A contact's `client_id` can't be changed. A client needs `name` or a first/last name.
- Deleting a client deletes its contacts, property values and tags; deleting a property its values.
- The tag cloud is sorted by name; its `id` is the lowest tag id with that name.
- SnapBill (issue 5) is mounted at /snapbill/v1: see sync/emulator/snapbill.py for its decisions.
- Faults hit requests below /billomat/ and /snapbill/ only; forced faults (`Emulator.force`) come before the dice.
"""

from sync.emulator.config import EmulatorConfig, LoggedRequest
from sync.emulator.faults import FaultSpec
from sync.emulator.generate import generate_account, generate_snapbill_account
from sync.emulator.seed import Account, load_seed
from sync.emulator.server import Emulator
from sync.emulator.snapbill_state import SnapBillAccount, SnapBillConfig, SnapBillState, load_snapbill_seed
from sync.emulator.state import ApiError, BillomatState

__all__ = [
    "Account",
    "ApiError",
    "BillomatState",
    "Emulator",
    "EmulatorConfig",
    "FaultSpec",
    "LoggedRequest",
    "SnapBillAccount",
    "SnapBillConfig",
    "SnapBillState",
    "generate_account",
    "generate_snapbill_account",
    "load_seed",
    "load_snapbill_seed",
]
