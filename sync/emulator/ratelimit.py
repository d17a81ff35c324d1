"""Billomat's rate limit: N requests per fixed, clock-aligned 15-minute window (billomat-api.md §2)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sync.clock import Clock

WINDOW_SECONDS = 900
# What X-Rate-Limit-Remaining says when the limit is off (rate_limit=0): a large, constant number.
UNLIMITED_REMAINING = 1_000_000


@dataclass(frozen=True)
class RateDecision:
    """Outcome of one request against a bucket."""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # absolute epoch seconds of the next window start

    def retry_after(self, now: float) -> int:
        """Seconds until the next window, rounded up (for the 429 message)."""
        return max(1, math.ceil(self.reset - now))


class RateLimiter:
    """Counts requests per bucket ("default" or "app") in windows floor(now/900)*900. Call under a lock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._used: dict[str, tuple[int, int]] = {}  # bucket -> (window start, used)

    def _window(self) -> tuple[float, int]:
        now = self._clock.now()
        return now, int(math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS)

    def peek(self, bucket: str, limit: int) -> RateDecision:
        """The state of a bucket without using a request."""
        _, start = self._window()
        used = self._used.get(bucket, (start, 0))
        n = used[1] if used[0] == start else 0
        remaining = UNLIMITED_REMAINING if limit <= 0 else max(0, limit - n)
        return RateDecision(True, limit, remaining, start + WINDOW_SECONDS)

    def take(self, bucket: str, limit: int) -> RateDecision:
        """Use one request from the bucket if the window has any left (limit <= 0: unlimited)."""
        _, start = self._window()
        reset = start + WINDOW_SECONDS
        if limit <= 0:
            return RateDecision(True, limit, UNLIMITED_REMAINING, reset)
        w_start, used = self._used.get(bucket, (start, 0))
        if w_start != start:
            used = 0
        if used >= limit:
            self._used[bucket] = (start, used)
            return RateDecision(False, limit, 0, reset)
        used += 1
        self._used[bucket] = (start, used)
        return RateDecision(True, limit, limit - used, reset)

    def used(self, bucket: str = "default") -> int:
        """Requests used in the current window (for tests)."""
        _, start = self._window()
        w_start, used = self._used.get(bucket, (start, 0))
        return used if w_start == start else 0
