"""The rate-limit budget: read X-Rate-Limit-* after each answer, wait for the next window before a 429."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from sync.clock import Clock

log = logging.getLogger(__name__)

# billomat-api.md §2: windows are clock-aligned quarter hours, so no honest wait is longer than this.
WINDOW_SECONDS = 15 * 60
MAX_WAIT = WINDOW_SECONDS + 60.0
# Wait one second past the reset: the Date header has whole seconds and the server's window
# switch is not instantaneous.
RESET_MARGIN = 1.0

# billomat-api.md §2: the quota per window when the API does not state it: 300 per account, 1000
# with a registered app (X-AppId/X-AppSecret). X-Rate-Limit-Remaining is what is LEFT, never the
# quota: a run started late in a window sees a small number there.
DEFAULT_QUOTA = 300
APP_QUOTA = 1000
# Not documented for Billomat (billomat-api.md §2 lists only Remaining and Reset), but the common
# name for the quota; when an API or the emulator states it, it is the truth.
LIMIT_HEADER = "X-Rate-Limit-Limit"
# The 429 body states the quota: "Maximum number of requests (300 per 15 minutes) reached. ..."
_QUOTA_IN_MESSAGE = re.compile(r"\((\d+) per 15 minutes\)")


@dataclass(frozen=True)
class RateWait:
    """One wait for the next window: how long, until when, and the numbers that made it necessary."""

    seconds: float
    reset_at: float
    remaining: int
    reserve: int  # the reserve actually kept (the configured one, or less when it is not below the quota)
    quota: int


WaitHook = Callable[[RateWait], None]
"""on_wait(wait): billsync is about to wait `wait.seconds` for the window at `wait.reset_at`."""


class RateBudget:
    """What the answers said about the account's request quota, and the wait it implies.

    Before every request: when no more than the reserve is left in this window, wait for the next
    one, so other tools on the account keep their share. That holds from a run's first answer on:
    a run started with the reserve (or less) left makes no further request in that window.
    """

    def __init__(
        self, *, clock: Clock, reserve: int = 30, quota: int = DEFAULT_QUOTA, on_wait: WaitHook | None = None
    ) -> None:
        self.clock = clock
        self.reserve = max(0, int(reserve))
        self.on_wait = on_wait
        self.remaining: int | None = None
        self.reset_at: float | None = None
        # Requests per window: stated by the API (header, 429 text), else the documented default.
        self.quota = max(1, int(quota))
        # Server clock minus our clock, from the Date header: waits survive a skewed local clock.
        self.offset = 0.0
        self._warned_reserve = False

    def server_now(self) -> float:
        """The server's idea of now (our clock corrected by the last Date header)."""
        return self.clock.now() + self.offset

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take in the rate-limit and Date headers of one answer; absent headers change nothing."""
        date = headers.get("Date")
        if date:
            try:
                self.offset = parsedate_to_datetime(date).timestamp() - self.clock.now()
            except (TypeError, ValueError, IndexError):
                log.debug("unparseable Date header %r ignored", date)
        stated = _int(headers.get(LIMIT_HEADER))
        if stated is not None and stated > 0:
            self.quota = stated
        remaining = _int(headers.get("X-Rate-Limit-Remaining"))
        reset_at = parse_reset(headers.get("X-Rate-Limit-Reset"), self.server_now())
        if remaining is not None:
            self.remaining = max(0, remaining)
            # More left than the quota we assumed (a plan with more than 1000): the quota is larger.
            self.quota = max(self.quota, self.remaining + 1)
        if reset_at is not None:
            self.reset_at = reset_at

    def observe_refusal(self, message: str) -> None:
        """A 429's text names the quota ("Maximum number of requests (300 per 15 minutes) ...")."""
        match = _QUOTA_IN_MESSAGE.search(message)
        if match and int(match.group(1)) > 0:
            self.quota = int(match.group(1))

    def effective_reserve(self) -> int:
        """The reserve, or a tenth of the quota when the configured reserve would leave nothing to use."""
        if self.reserve < self.quota:
            return self.reserve
        kept = self.quota // 10
        if not self._warned_reserve:
            self._warned_reserve = True
            log.warning(
                "billomat.rate_limit_reserve %d is not below the account's quota of %d requests per window; "
                "keeping %d for other tools instead",
                self.reserve,
                self.quota,
                kept,
            )
        return kept

    def seconds_until(self, reset_at: float) -> float:
        """Seconds from the server's now to `reset_at` plus the margin, within [margin, MAX_WAIT]."""
        return min(MAX_WAIT, max(RESET_MARGIN, reset_at - self.server_now() + RESET_MARGIN))

    def wait_if_needed(self) -> float:
        """Before a request: sleep until the next window when no more than the reserve is left."""
        if self.remaining is None:
            return 0.0  # the API sent no rate-limit headers (the 2012 API had none): no budgeting
        reserve = self.effective_reserve()
        if self.remaining > reserve:
            return 0.0
        now = self.server_now()
        reset_at = self.reset_at if self.reset_at is not None else next_window(now)
        if now >= reset_at:
            self.remaining = None  # the window has turned; the next answer tells the new count
            return 0.0
        seconds = self.seconds_until(reset_at)
        log.debug(
            "%d requests left in this rate-limit window (quota %d, reserve %d): waiting %.0f s for the next one",
            self.remaining,
            self.quota,
            reserve,
            seconds,
        )
        if self.on_wait is not None:
            self.on_wait(RateWait(seconds, reset_at, self.remaining, reserve, self.quota))
        self.clock.sleep(seconds)
        self.remaining = None
        return seconds


def parse_reset(value: str | None, server_now: float) -> float | None:
    """X-Rate-Limit-Reset as epoch seconds (billomat-api.md §2: absolute, not a delta)."""
    number = _float(value)
    if number is None:
        return None
    # Defensive only: the header is documented as absolute epoch seconds (BNET misread it as a
    # delta until 2022). A small number can only be a delta, a huge one only milliseconds.
    if number < 1_000_000_000:
        return server_now + number
    if number > 100_000_000_000:
        return number / 1000.0
    return number


def next_window(server_now: float) -> float:
    """Start of the next clock-aligned quarter hour (when the API gave no reset time)."""
    return math.floor(server_now / WINDOW_SECONDS + 1) * WINDOW_SECONDS


def _int(value: str | None) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None
