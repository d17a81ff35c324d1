"""One SnapBill account: basic auth over the shared Transport, its `clients` and `contacts`, form calls."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import requests

from sync.clients.base import Landed, RequestHook
from sync.clients.retry import DEFAULT_MAX_ATTEMPTS, RetryHook
from sync.clients.snapbill.endpoints import Clients, Contacts
from sync.clients.snapbill.forms import ClientForm
from sync.clients.snapbill.wire import SnapBillTransport, encode_form
from sync.clock import SYSTEM_CLOCK, Clock
from sync.errors import ConfigError
from sync.settings import (
    DEFAULT_SNAPBILL_URL,
    DEFAULT_TIMEOUT,
    Secret,
    SnapBillSettings,
    check_base_url,
    load_settings,
)


class SnapBill:
    """One SnapBill account: `clients` and `contacts` (SPEC §8, the same shape as `Billomat`)."""

    def __init__(
        self,
        user: str = "",
        password: str | Secret = "",
        base_url: str = DEFAULT_SNAPBILL_URL,
        *,
        clock: Clock = SYSTEM_CLOCK,
        timeout: float = DEFAULT_TIMEOUT,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        on_retry: RetryHook | None = None,
        on_request: RequestHook | None = None,
        session: requests.Session | None = None,
    ) -> None:
        secret = password.reveal() if isinstance(password, Secret) else str(password or "")
        if not user or not secret:
            raise ConfigError("SnapBill needs a user and a password (SNAPBILL_USER, SNAPBILL_PASSWORD)")
        base_url = (base_url or DEFAULT_SNAPBILL_URL).rstrip("/")
        check_base_url(base_url, "SNAPBILL_BASE_URL")
        self.user = user
        self.base_url = base_url
        token = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
        # snapbill-api.md §0: HTTP basic auth. Sent up front (not after the 401 challenge) so every call
        # is one request; Transport never follows redirects, so the header cannot leak to another host.
        self.transport = SnapBillTransport(
            base_url,
            {"Authorization": f"Basic {token}"},
            clock=clock,
            timeout=timeout,
            rate_reserve=0,  # §5: no rate limit is documented
            max_attempts=max_attempts,
            on_retry=on_retry,
            on_request=on_request,
            session=session,
            network_hint="check SNAPBILL_BASE_URL and the network",
            auth_hint=self._login_refused,
        )
        self.clients = Clients(self)
        self.contacts = Contacts(self)

    def __repr__(self) -> str:
        return f"SnapBill(user={self.user!r}, base_url={self.base_url!r})"

    @classmethod
    def from_settings(cls, settings: SnapBillSettings, **hooks: Any) -> SnapBill:
        """A client for the account in `settings`; `hooks` are the keyword options of SnapBill()."""
        return cls(
            settings.user, settings.password, settings.base_url, **{"timeout": settings.timeout, **hooks}
        )

    @classmethod
    def from_env(cls, **hooks: Any) -> SnapBill:
        """A client configured from SNAPBILL_* variables and ./billsync.yaml."""
        return cls.from_settings(load_settings().snapbill(), **hooks)

    @property
    def request_count(self) -> int:
        """Requests actually sent so far (retries included)."""
        return self.transport.request_count

    def call(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        *,
        method: str = "POST",
        idempotent: bool = False,
        retry: bool = True,
        landed: Landed | None = None,
    ) -> dict[str, Any] | None:
        """One API call: `<path>.json` with `params` as a form body (§0: even `get` posts an empty body)."""
        form = encode_form(params or {}) if method == "POST" else None
        return self.transport.request(
            method,
            f"{path}.json",
            data=form if form else ("" if method == "POST" else None),
            idempotent=idempotent,
            retry=retry,
            landed=landed,
        )

    def _login_refused(self, status: int, message: str) -> str:
        """What a 401/403 says on any call: SnapBill, the user, and which variables to check."""
        if status == 403:
            # snapbill-api.md §1 (Errors): a user's URL-prefix ALLOW/DENY rules deny calls (403?); the login worked.
            return (
                f"SnapBill user {self.user!r} at {self.base_url} may not make this call ({message}): "
                "allow it in the user's API permissions, or use another SNAPBILL_USER"
            )
        return (
            f"SnapBill refused the login of user {self.user!r} at {self.base_url}: "
            "check SNAPBILL_USER and SNAPBILL_PASSWORD (and SNAPBILL_BASE_URL)"
        )

    def check_credentials(self) -> ClientForm:
        """One cheap call (`GET client/add.json`) that says whether the login works; returns the form."""
        return self.clients.form()
