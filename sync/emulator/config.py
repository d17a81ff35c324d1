"""EmulatorConfig (every switch, incl. the UNCONFIRMED behaviours) and LoggedRequest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from sync.clock import SYSTEM_CLOCK, Clock
from sync.emulator.faults import FaultSpec
from sync.emulator.seed import Account
from sync.emulator.snapbill_state import SnapBillConfig


class LoggedRequest(NamedTuple):
    """One request the emulator received.

    `path` is relative to the account's API root (`/clients/1001`; the full path for anything outside
    an account). `query` has no `api_key`. `status` is what the emulator computed (also for a `lost`
    response that never reached the client); None when nothing was computed (`timeout`). `fault` is
    None or one of "502", "503", "429", "timeout", "lost", "truncate". `at` is the clock time.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    fault: str | None = None
    at: float = 0.0


@dataclass
class EmulatorConfig:
    """How the emulated Billomat account behaves. Options marked UNCONFIRMED emulate either possibility."""

    billomat_id: str | None = None  # None: the account's billomat_id
    api_key: str = "emu-key"
    account: Account | None = None  # None: an empty account
    clock: Clock = SYSTEM_CLOCK
    port: int = 0  # 0: any free port
    # Registered app (billomat-api.md §1/§2): right X-AppId + X-AppSecret -> rate_limit_app.
    app_id: str | None = None
    app_secret: str | None = None
    app_secret_error_status: int = 401  # status of {"errors":{"error":"invalid secret"}}: UNCONFIRMED
    # Rate limit (billomat-api.md §2): per clock-aligned 15 minutes; 0 = off.
    rate_limit: int = 300
    rate_limit_app: int = 1000
    rate_headers: bool = True  # False: no X-Rate-Limit-* headers at all (the 2012 API)
    # X-Rate-Limit-Limit with the quota: Billomat sends none (billomat-api.md §2), so off by default;
    # `billsync emulator --rate-limit N` turns it on for a quota other than Billomat's 300, which
    # billsync could not otherwise know (what is left in a window is not the quota).
    rate_limit_header: bool = False
    faults: FaultSpec = field(default_factory=FaultSpec)
    timeout_hold: float = 2.0  # seconds a `timeout` fault holds the connection before closing it
    # GET /contacts without client_id (billomat-api.md §4.2, UNCONFIRMED): docs say client_id is required.
    contacts_bulk: Literal["allow", "refuse", "empty"] = "refuse"
    # billomat-api.md §4.2: a contact's empty fields are filled from its client. UNCONFIRMED when:
    # "copy" = filled in when the contact is written (stored); "read" = stored empty and shown with the
    # client's CURRENT value on every GET (so editing the client changes what its contacts show).
    contact_inherit: Literal["copy", "read"] = "copy"
    contact_inherit_fields: tuple[str, ...] = ("name", "street", "zip", "city", "state", "country_code")
    # Ids "owned by another account" (billomat-api.md §1): GET -> 401 Unauthorized (REAL); writes ->
    # foreign_write_status (BNET's skipped write tests expect 404: UNCONFIRMED).
    foreign_ids: frozenset[str] = frozenset({"1", "11", "111"})
    foreign_write_status: int = 404
    list_embeds_property_values: bool = False  # does GET /clients embed values per client? UNCONFIRMED
    property_value_post: Literal["upsert", "duplicate"] = "upsert"  # 2nd POST same (client, property)
    property_value_put_delete: bool = True  # PUT/DELETE /client-property-values/{id} exist? UNCONFIRMED
    tag_cloud_item_key: Literal["client-tag", "tag"] = "client-tag"  # cloud item key: UNCONFIRMED
    tag_post: Literal["dedupe", "duplicate"] = "dedupe"  # POST of a tag the client already has
    per_page_over_max: Literal["clamp", "error"] = "clamp"  # per_page > 1000: UNCONFIRMED
    order_by_id_allowed: bool = True  # order_by=id accepted? UNCONFIRMED
    list_includes_archived: bool = True  # GET /clients lists archived clients? UNCONFIRMED
    archived_update_allowed: bool = True  # PUT on an archived client (JP: refused): UNCONFIRMED
    validate_iban: bool = False  # 400 "invalid IBAN" on a bad checksum (docs: "gültige IBAN")
    total_count_on_get: bool = True  # X-Total-Count on list GETs too (RPKG reads it), not just HEAD
    # The SnapBill half (issue 5), mounted at /snapbill/v1: login, seed and its UNCONFIRMED switches.
    snapbill: SnapBillConfig = field(default_factory=SnapBillConfig)
