"""The HTTP layer: one session, the one retry policy, the rate-limit budget, status -> ApiError."""

from __future__ import annotations

import html
import json as jsonlib
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from importlib import metadata
from typing import Any, TypedDict
from urllib.parse import urlencode, urlsplit

import orjson
import requests
import urllib3.exceptions

from sync.clients.ratelimit import DEFAULT_QUOTA, RateBudget, WaitHook, parse_reset
from sync.clients.retry import DEFAULT_MAX_ATTEMPTS, RetryHook, build_retrying
from sync.clock import SYSTEM_CLOCK, Clock
from sync.errors import (
    AccountNotFoundError,
    ApiError,
    AuthError,
    NetworkError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RejectedError,
    RetryableError,
    ServerError,
)

log = logging.getLogger(__name__)

RequestHook = Callable[[str, str, "int | None", float], None]
"""on_request(method, path, status, seconds): one request was sent; status is None when no answer came."""

Landed = Callable[[], "dict[str, Any] | None"]
"""landed() -> the record a create produced (shaped like the create's answer), or None if it did not land."""

# A body that breaks JSON parsing is usually a cut connection: retry it this many attempts in all.
TRUNCATED_ATTEMPTS = 3
# Query parameters that must never show up in a message or log line.
SECRET_PARAMS = frozenset({"api_key", "apikey", "password", "secret"})
MESSAGE_LIMIT = 200


def _version() -> str:
    try:
        return metadata.version("billsync")
    except metadata.PackageNotFoundError:  # running from a source tree without installing
        return "0.1.0"


USER_AGENT = f"billsync/{_version()}"


class ConnectFailedError(NetworkError):
    """No connection could be opened (refused, DNS, connect timeout): the request provably was not sent."""


class TruncatedBodyError(ProtocolError):
    """A 2xx answer whose body is not valid JSON (most often a connection cut mid-body)."""


class _Call(TypedDict):
    """The call an ApiError names: its keyword arguments, so that mypy checks `**where` against them."""

    method: str
    path: str
    status: int


def session_for(base_url: str) -> requests.Session:
    """A requests session that takes the proxy and CA settings from the environment once, for `base_url`.

    requests otherwise re-reads every environment variable on each request to find a proxy
    (trust_env): ~0.25 ms a request, seconds in a migration of 30,000 requests. HTTPS_PROXY, NO_PROXY
    and REQUESTS_CA_BUNDLE still count, as they are when billsync starts; .netrc does not (every API
    call carries its own credentials).
    """
    session = requests.Session()
    found = session.merge_environment_settings(base_url, {}, None, None, None)
    session.trust_env = False
    session.proxies.update(found["proxies"])
    session.verify = found["verify"]
    return session


class Transport:
    """Every request of one API: session, headers, timeout, retries, rate-limit budget, error mapping."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str] | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
        timeout: float = 60.0,
        rate_reserve: int = 30,
        rate_quota: int = DEFAULT_QUOTA,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        on_wait: WaitHook | None = None,
        on_retry: RetryHook | None = None,
        on_request: RequestHook | None = None,
        session: requests.Session | None = None,
        network_hint: str = "check the base URL and the network",
        auth_hint: Callable[[int, str], str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self.host = parts.netloc or self.base_url
        self.session = session if session is not None else session_for(self.base_url)
        self.clock = clock
        self.timeout = float(timeout)
        self.max_attempts = max(1, int(max_attempts))
        self.on_retry = on_retry
        self.on_request = on_request
        self.network_hint = network_hint
        # The API's own client says which login was refused and which variables to check (one wording
        # for every command, not only `check`); it gets the HTTP status and the API's message.
        self.auth_hint = auth_hint
        self.budget = RateBudget(clock=clock, reserve=rate_reserve, quota=rate_quota, on_wait=on_wait)
        self.request_count = 0
        auth = {name: str(value) for name, value in (headers or {}).items()}
        # Every value passed in is an auth header: it is sent, and scrubbed from anything we print.
        self._secrets = tuple(value for value in auth.values() if len(value) >= 4)
        self._headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **auth}

    def __repr__(self) -> str:
        return f"Transport({self.base_url!r})"

    @property
    def rate_remaining(self) -> int | None:
        """Requests left in the current rate-limit window, as the last answer said (None: unknown)."""
        return self.budget.remaining

    @property
    def rate_reset_at(self) -> float | None:
        """Epoch second when the current rate-limit window ends, as the last answer said."""
        return self.budget.reset_at

    def describe(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> str:
        """The call as shown in messages, e.g. `GET /clients?page=2` (secret parameters left out)."""
        shown = [(k, v) for k, v in (params or {}).items() if str(k).lower() not in SECRET_PARAMS]
        query = f"?{urlencode(shown)}" if shown else ""
        return self.scrub(f"{method.upper()} /{path.lstrip('/')}{query}")

    def scrub(self, text: str) -> str:
        """Replace any auth header value in `text` by *****."""
        for secret in self._secrets:
            text = text.replace(secret, "*****")
        return text

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        retry: bool = True,
        landed: Landed | None = None,
        expect: int | None = None,
        data: Any = None,
        idempotent: bool = False,
    ) -> dict[str, Any] | None:
        """Send one call through the retry policy; the parsed JSON object, or None for an empty body.

        `retry=False` raises a failure that might have reached the server (5xx, timeout, lost answer)
        at once. A POST is never retried blindly: without `landed` it behaves as `retry=False`; with
        it, `landed()` is asked after such a failure and its record is returned if the create landed.
        A 429 and a connection that could not be opened are always retried: nothing was done.
        `data` is a form body (sent as application/x-www-form-urlencoded); `idempotent=True` marks a
        POST that is safe to repeat (SnapBill reads and updates are POSTs, snapbill-api.md §0).
        """
        method = method.upper()
        params = {str(k): _param(v) for k, v in (params or {}).items()}
        for name in [k for k in params if k.lower() in SECRET_PARAMS]:
            # billomat-api.md §1: a key in the query ends up in proxy and server logs; it goes in a header.
            del params[name]
            log.warning("the %r query parameter is not sent: credentials travel in headers only", name)
        call = self.describe(method, path, params)
        ambiguous_ok = retry and (method != "POST" or idempotent or landed is not None)
        maybe_landed = False

        def attempt() -> dict[str, Any] | None:
            nonlocal maybe_landed
            if maybe_landed and landed is not None:
                record = landed()
                if record is not None:
                    log.info("%s: the earlier attempt did land; not sending it again", call)
                    return record
            try:
                return self._send(method, path, params, json, call, expect, data)
            except ApiError as exc:
                # A DELETE whose first answer was lost may have landed: the repeat finds nothing.
                if method == "DELETE" and maybe_landed and isinstance(exc, NotFoundError):
                    log.info("%s: gone on the repeat, so the earlier attempt did land", call)
                    return None
                maybe_landed = maybe_landed or _may_have_landed(exc)
                raise

        def may_retry(error: BaseException, attempt_number: int) -> bool:
            if isinstance(error, TruncatedBodyError):
                return ambiguous_ok and attempt_number < TRUNCATED_ATTEMPTS
            if not isinstance(error, RetryableError):
                return False
            if isinstance(error, RateLimitedError | ConnectFailedError):
                return True  # the server did nothing: always safe, even for a create
            return ambiguous_ok

        retrying = build_retrying(
            clock=self.clock,
            max_attempts=self.max_attempts,
            may_retry=may_retry,
            rate_limit_wait=self._rate_limit_wait,
            on_retry=self.on_retry,
        )
        return retrying(attempt)

    # -- one attempt -----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        body: Any,
        call: str,
        expect: int | None,
        form: Any = None,
    ) -> dict[str, Any] | None:
        self.budget.wait_if_needed()
        url = f"{self.base_url}/{path.lstrip('/')}"
        started = time.monotonic()
        self.request_count += 1
        try:
            response = self.session.request(
                method,
                url,
                params=_query(params),
                json=body,
                data=form,
                headers=self._headers,
                timeout=self.timeout,
                # A redirect to another host would carry X-BillomatApiKey along (requests only strips
                # Authorization), so never follow one.
                allow_redirects=False,
            )
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            self._report(method, call, None, started)
            raise self._network_error(exc, method, call) from exc
        except requests.RequestException as exc:
            self._report(method, call, None, started)
            raise ApiError(
                f"the request could not be made ({type(exc).__name__})", method=method, path=_path_of(call)
            ) from exc
        self.budget.observe(response.headers)
        self._report(method, call, response.status_code, started)
        return self._interpret(response, method, call, expect)

    def _report(self, method: str, call: str, status: int | None, started: float) -> None:
        seconds = time.monotonic() - started
        log.debug(
            "%s -> %s in %.2f s (rate limit remaining: %s)",
            call,
            status if status is not None else "no answer",
            seconds,
            self.budget.remaining,
        )
        if self.on_request is not None:
            self.on_request(method, _path_of(call), status, seconds)

    def _interpret(
        self, response: requests.Response, method: str, call: str, expect: int | None
    ) -> dict[str, Any] | None:
        status = response.status_code
        where: _Call = {"method": method, "path": _path_of(call), "status": status}
        if 200 <= status < 300:
            if expect is not None and status != expect:
                log.warning("%s answered HTTP %d, expected %d", call, status, expect)
            content = response.content
            # billomat-api.md §1: DELETE answers 200 with an empty body: no content, not bad JSON.
            if not content.strip():
                return None
            try:
                data = decode_json(content)
            except ValueError:
                raise TruncatedBodyError(
                    f"the answer is not valid JSON ({len(content)} bytes; a connection cut mid-answer?)",
                    **where,
                ) from None
            if not isinstance(data, dict):
                raise ProtocolError(f"expected a JSON object, got a JSON {type(data).__name__}", **where)
            # billomat-api.md §1 (UNCONFIRMED): some libraries guard against errors inside a 200.
            if set(data) == {"errors"}:
                message = self.scrub(_errors_text(data["errors"]) or "unspecified error")
                raise RejectedError(message, api_message=message, **where)
            return data
        if 300 <= status < 400:
            target = urlsplit(response.headers.get("Location", "")).netloc or "another address"
            raise ProtocolError(
                f"redirected to {target}; not followed (it would carry the API key along): check the base URL",
                **where,
            )
        message = self.scrub(self.error_message(response))
        if status == 429:
            reset_at = self._reset_from(response, message)
            self.budget.observe_refusal(message)
            raise RateLimitedError(
                f"rate limit reached: {message}", reset_at=reset_at, api_message=message, **where
            )
        if status >= 500:
            raise ServerError(f"server error: {message}", api_message=message, **where)
        if status in (401, 403):
            text = self.auth_hint(status, message) if self.auth_hint else f"not authorised: {message}"
            raise AuthError(text, api_message=message, **where)
        if status == 404:
            # billomat-api.md §1: a wrong subdomain answers 404 "Account not Found".
            if "account not found" in message.lower():
                raise AccountNotFoundError(message, api_message=message, **where)
            raise NotFoundError(message, api_message=message, **where)
        if status in (400, 422):
            raise RejectedError(message, api_message=message, **where)
        if status == 408:
            raise NetworkError(
                f"the server timed out waiting for the request: {message}", api_message=message, **where
            )
        raise ApiError(message, api_message=message, **where)

    def error_message(self, response: requests.Response) -> str:
        """The API's message for an error answer (an API with another error body overrides this)."""
        return _error_message(response)

    def _reset_from(self, response: requests.Response, message: str) -> float | None:
        """When the window reopens: X-Rate-Limit-Reset, else 'Try again in N seconds.', else Retry-After."""
        now = self.budget.server_now()
        reset_at = parse_reset(response.headers.get("X-Rate-Limit-Reset"), now)
        if reset_at is not None:
            return reset_at
        found = re.search(r"try again in (\d+(?:\.\d+)?) seconds?", message, re.IGNORECASE)
        if found:
            return now + float(found.group(1))
        retry_after = response.headers.get("Retry-After", "").strip()
        if retry_after:
            try:
                return now + float(retry_after)
            except ValueError:
                try:
                    return parsedate_to_datetime(retry_after).timestamp()
                except (TypeError, ValueError, IndexError):
                    return None
        return None

    def _rate_limit_wait(self, error: RateLimitedError) -> float | None:
        if error.reset_at is None:
            return None
        return self.budget.seconds_until(error.reset_at)

    def _network_error(self, exc: Exception, method: str, call: str) -> NetworkError:
        reason, sent = _network_reason(exc, self.timeout)
        cls = NetworkError if sent else ConnectFailedError
        return cls(
            f"could not reach {self.host}: {reason}; {self.network_hint}", method=method, path=_path_of(call)
        )


def _path_of(call: str) -> str:
    """`/clients?page=2` out of `GET /clients?page=2` (ApiError puts the method in front itself)."""
    return call.partition(" ")[2]


def _may_have_landed(error: ApiError) -> bool:
    """Whether the server may have acted on a request that ended with `error`."""
    if isinstance(error, RateLimitedError | ConnectFailedError):
        return False
    return isinstance(error, RetryableError | TruncatedBodyError)


def _param(value: Any) -> str:
    """A query value as Billomat expects it: text, booleans as 1/0, lists comma-separated."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(_param(v) for v in value)
    return str(value)


def _network_reason(exc: Exception, timeout: float) -> tuple[str, bool]:
    """A short, secret-free reason and whether the request may have been sent."""
    causes = list(_causes(exc))
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"no connection within {timeout:g} s", False
    if any(isinstance(c, urllib3.exceptions.NameResolutionError) for c in causes):
        return "the host name could not be resolved", False
    if any(isinstance(c, urllib3.exceptions.NewConnectionError) for c in causes) or any(
        isinstance(c, ConnectionRefusedError) for c in causes
    ):
        refused = any("refused" in str(c).lower() for c in causes)
        return ("connection refused" if refused else "no connection could be opened"), False
    if isinstance(exc, requests.exceptions.SSLError):
        return "the TLS handshake failed", True
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s", True
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return "the connection broke while the answer was read", True
    return "the connection was lost before an answer came", True


def _causes(exc: BaseException) -> Iterable[BaseException]:
    """exc and what it wraps (args, .reason, __cause__, __context__), a few levels deep."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        item = todo.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        nested = [a for a in item.args if isinstance(a, BaseException)]
        reason = getattr(item, "reason", None)
        if isinstance(reason, BaseException):
            nested.append(reason)
        nested += [e for e in (item.__cause__, item.__context__) if e is not None]
        todo.extend(nested)


def _errors_text(errors: Any) -> str:
    """billomat-api.md §1: {"errors":{"error": "..."}}; several errors make `error` a list."""
    if isinstance(errors, dict):
        errors = errors.get("error", list(errors.values()))
    if isinstance(errors, list):
        return "; ".join(t for t in (_errors_text(e) for e in errors) if t)
    if errors is None:
        return ""
    return str(errors).strip()


def _query(params: Mapping[str, str]) -> str | None:
    """The query string requests would make of `params` (every value text already: `_param`).

    Handed to requests ready-made: a dict goes through its runtime Protocol checks (requests 2.34's
    `SupportsItems`), ~0.1 ms of a ~0.7 ms request to the emulator, ~13,000 times in the test suite.
    """
    return urlencode(params) if params else None


def decode_json(content: bytes) -> Any:
    """The JSON document in an answer body, as `json.loads` reads it (ValueError when it is not JSON)."""
    # orjson decodes a page of 1,000 Billomat clients in about half the time of the standard library
    # (5.2 vs 10.6 ms; 592 pages at 100k clients). What it refuses and json accepts (NaN, a lone
    # surrogate escape, a UTF-16 body) falls back to json, so such an answer reads the same either way.
    # One difference is left: an integer literal beyond 64 bits reads as a float. Neither API sends
    # one (Billomat sends every scalar as text, billomat-api.md §1; SnapBill's numbers are ids and
    # amounts), and finding one in the bytes first would cost more than orjson saves.
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return jsonlib.loads(content)


def _error_message(response: requests.Response) -> str:
    """The API's message for an error answer: JSON errors, an XML <error>, an HTML <title>, or short text."""
    fallback = f"{response.status_code} {response.reason or ''}".strip()
    text = response.content.decode("utf-8", errors="replace").strip()
    if not text:
        return fallback
    try:
        data = jsonlib.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        found = _errors_text(data["errors"]) if "errors" in data else ""
        if not found:
            found = str(data.get("message") or data.get("error") or "")
        return _shorten(found) or fallback
    if text.startswith("<") or "html" in response.headers.get("Content-Type", "").lower():
        # Load-balancer pages (HG PR #32: 502 HTML bodies): show the <title>, never the page.
        errors = re.findall(r"<error>(.*?)</error>", text, re.IGNORECASE | re.DOTALL)
        if errors:
            return _shorten("; ".join(html.unescape(e) for e in errors))
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title and title.group(1).strip():
            return _shorten(html.unescape(title.group(1)))
        stripped = re.sub(
            r"<script.*?</script>|<style.*?</style>", " ", text, flags=re.IGNORECASE | re.DOTALL
        )
        return _shorten(html.unescape(re.sub(r"<[^>]+>", " ", stripped))) or fallback
    return _shorten(text) or fallback


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"
