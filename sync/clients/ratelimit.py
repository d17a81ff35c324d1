"""The rate-limit budget: read X-Rate-Limit-* after each answer, wait for the next window before a 429."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime

from sync.clock import Clock

log = logging.getLogger(__name__)

# billomat-api.md §2: windows are clock-aligned quarter hours, so no honest wait is longer than this.
WINDOW_SECONDS = 15 * 60
MAX_WAIT = WINDOW_SECONDS + 60.0
# Wait one second past the reset: the Date header has whole seconds and the server's window
# switch is not instantaneous.
RESET_MARGIN = 1.0

WaitHook = Callable[[float, float, int], None]
"""on_wait(seconds, reset_at, remaining): billsync is about to wait `seconds` for the window at `reset_at`."""


class RateBudget:
    """What the last answer said about the account's request quota, and the wait it implies."""

    def __init__(self, *, clock: Clock, reserve: int = 30, on_wait: WaitHook | None = None) -> None:
        self.clock = clock
        self.reserve = max(0, int(reserve))
        self.on_wait = on_wait
        self.remaining: int | None = None
        self.reset_at: float | None = None
        # Largest quota seen (remaining + 1 on a window's first answer); a lower bound of the real one.
        self.quota: int | None = None
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
        remaining = _int(headers.get("X-Rate-Limit-Remaining"))
        reset_at = parse_reset(headers.get("X-Rate-Limit-Reset"), self.server_now())
        if remaining is not None:
            self.remaining = max(0, remaining)
            self.quota = max(self.quota or 0, self.remaining + 1)
        if reset_at is not None:
            self.reset_at = reset_at

    def effective_reserve(self) -> int:
        """The reserve, or a tenth of the quota when the configured reserve would leave nothing to use."""
        if self.quota is not None and self.reserve >= self.quota:
            tenth = self.quota // 10
            if not self._warned_reserve:
                self._warned_reserve = True
                log.warning(
                    "rate_limit_reserve %d is not below the account's quota of %d requests per window; "
                    "keeping %d in reserve instead",
                    self.reserve,
                    self.quota,
                    tenth,
                )
            return tenth
        return self.reserve

    def seconds_until(self, reset_at: float) -> float:
        """Seconds from the server's now to `reset_at` plus the margin, within [margin, MAX_WAIT]."""
        return min(MAX_WAIT, max(RESET_MARGIN, reset_at - self.server_now() + RESET_MARGIN))

    def wait_if_needed(self) -> float:
        """Before a request: sleep until the next window when no more than the reserve is left."""
        if self.remaining is None:
            return 0.0  # the API sent no rate-limit headers (the 2012 API had none): no budgeting
        if self.remaining > self.effective_reserve():
            return 0.0
        now = self.server_now()
        reset_at = self.reset_at if self.reset_at is not None else next_window(now)
        if now >= reset_at:
            self.remaining = None  # the window has turned; the next answer tells the new count
            return 0.0
        seconds = self.seconds_until(reset_at)
        log.info(
            "%d requests left in this rate-limit window (reserve %d): waiting %.0f s for the next one",
            self.remaining,
            self.effective_reserve(),
            seconds,
        )
        if self.on_wait is not None:
            self.on_wait(seconds, reset_at, self.remaining)
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
