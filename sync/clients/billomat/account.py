"""One Billomat account: its transport (key, app quota) and resources, credentials and 401 explanations."""

from __future__ import annotations

from typing import Any

import requests

from sync.clients.base import RequestHook, Transport
from sync.clients.billomat.endpoints import (
    MYSELF,
    ClientProperties,
    ClientPropertyValues,
    Clients,
    ClientTags,
    Contacts,
)
from sync.clients.billomat.models import Client
from sync.clients.billomat.records import to_text
from sync.clients.ratelimit import APP_QUOTA, DEFAULT_QUOTA, WaitHook
from sync.clients.retry import DEFAULT_MAX_ATTEMPTS, RetryHook
from sync.clock import SYSTEM_CLOCK, Clock
from sync.errors import AccountNotFoundError, ApiError, AuthError, ConfigError, NotFoundError, RejectedError
from sync.settings import (
    DEFAULT_RATE_RESERVE,
    DEFAULT_TIMEOUT,
    BillomatSettings,
    Secret,
    check_base_url,
    load_settings,
)


class Billomat:
    """One Billomat account: `clients`, `contacts`, `client_properties`, `client_property_values`, `client_tags`."""

    def __init__(
        self,
        billomat_id: str = "",
        api_key: str | Secret = "",
        base_url: str = "",
        app_id: str | Secret = "",
        app_secret: str | Secret = "",
        *,
        clock: Clock = SYSTEM_CLOCK,
        timeout: float = DEFAULT_TIMEOUT,
        rate_reserve: int = DEFAULT_RATE_RESERVE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        on_wait: WaitHook | None = None,
        on_retry: RetryHook | None = None,
        on_request: RequestHook | None = None,
        session: requests.Session | None = None,
    ) -> None:
        key, app, secret = _reveal(api_key), _reveal(app_id), _reveal(app_secret)
        if not key:
            raise ConfigError("Billomat needs an API key (BILLOMAT_API_KEY)")
        if not base_url:
            if not billomat_id:
                raise ConfigError(
                    "Billomat needs an account id (BILLOMAT_ID) or a base URL (BILLOMAT_BASE_URL)"
                )
            base_url = f"https://{billomat_id}.billomat.net/api"
        check_base_url(base_url, "BILLOMAT_BASE_URL")
        self.billomat_id = billomat_id
        self.base_url = base_url.rstrip("/")
        self.has_app = bool(app)
        headers = {"X-BillomatApiKey": key}
        if app:
            headers["X-AppId"] = app  # billomat-api.md §1/§2: a registered app gets the higher quota
        if secret:
            headers["X-AppSecret"] = secret
        self.transport = Transport(
            self.base_url,
            headers,
            clock=clock,
            timeout=timeout,
            rate_reserve=rate_reserve,
            # billomat-api.md §2: a registered app's calls count against the app's larger quota.
            rate_quota=APP_QUOTA if app and secret else DEFAULT_QUOTA,
            max_attempts=max_attempts,
            on_wait=on_wait,
            on_retry=on_retry,
            on_request=on_request,
            session=session,
            network_hint="check BILLOMAT_ID / BILLOMAT_BASE_URL and the network",
            auth_hint=self._key_refused,
        )
        self.clients = Clients(self)
        self.contacts = Contacts(self)
        self.client_properties = ClientProperties(self)
        self.client_property_values = ClientPropertyValues(self)
        self.client_tags = ClientTags(self)

    def __repr__(self) -> str:
        return f"Billomat(billomat_id={self.billomat_id!r}, base_url={self.base_url!r})"

    @classmethod
    def from_settings(cls, settings: BillomatSettings, **hooks: Any) -> Billomat:
        """A client for the account in `settings`; `hooks` are the keyword options of Billomat()."""
        options: dict[str, Any] = {
            "timeout": settings.timeout,
            "rate_reserve": settings.rate_reserve,
            **hooks,
        }
        return cls(
            settings.billomat_id,
            settings.api_key,
            settings.base_url,
            settings.app_id,
            settings.app_secret,
            **options,
        )

    @classmethod
    def from_env(cls, **hooks: Any) -> Billomat:
        """A client configured from BILLOMAT_* variables and ./billsync.yaml."""
        return cls.from_settings(load_settings().billomat(), **hooks)

    @property
    def request_count(self) -> int:
        """Requests actually sent so far (retries included)."""
        return self.transport.request_count

    def check_credentials(self) -> Client:
        """One cheap call (GET /clients/myself) that says plainly whether account and key are right."""
        try:
            body = self.transport.request("GET", MYSELF)
        except AccountNotFoundError as exc:
            raise AccountNotFoundError(
                f"no Billomat account {self._account}: check BILLOMAT_ID (or BILLOMAT_BASE_URL)",
                method=exc.method,
                path=exc.path,
                status=exc.status,
                api_message=exc.api_message,
            ) from exc
        except RejectedError as exc:
            # billomat-api.md §1: a bad app secret answered {"errors":{"error":"invalid secret"}} in HG's spec.
            if "secret" not in exc.api_message.lower():
                raise
            raise AuthError(
                "the app id/secret was refused: check BILLOMAT_APP_ID and BILLOMAT_APP_SECRET",
                method=exc.method,
                path=exc.path,
                status=exc.status,
                api_message=exc.api_message,
            ) from exc
        return self.clients.new(self.clients.record_of(body, "GET", MYSELF))

    def explain_401(self, error: AuthError, what: str) -> ApiError:
        """A 401 on a record URL: NotFoundError if the key works (a foreign id), else the AuthError."""
        # billomat-api.md §1: GET of another account's id answers 401 "Unauthorized" with a valid key.
        try:
            self.transport.request("GET", MYSELF)
        except AuthError:
            return error
        return NotFoundError(
            f"{what} is not a record of this account (Billomat answers 401 for another account's id; "
            "the API key itself works)",
            method=error.method,
            path=error.path,
            status=error.status,
            api_message=error.api_message,
        )

    def _key_refused(self, status: int, message: str) -> str:
        """What a 401/403 says on any call: which account refused the key and which variables to check."""
        keys = (
            "BILLOMAT_API_KEY, BILLOMAT_APP_ID and BILLOMAT_APP_SECRET"
            if self.has_app
            else "BILLOMAT_API_KEY"
        )
        # A key of another account is refused the same way (billomat-api.md §1), so name the account too.
        where = "BILLOMAT_ID" if self.billomat_id else "BILLOMAT_BASE_URL"
        return f"the API key was refused by Billomat account {self._account}: check {keys} and {where}"

    @property
    def _account(self) -> str:
        return repr(self.billomat_id) if self.billomat_id else f"at {self.base_url}"


def _reveal(value: str | Secret) -> str:
    return value.reveal() if isinstance(value, Secret) else to_text(value).strip()
