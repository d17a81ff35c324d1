"""The one retry policy of billsync: which failures are retried, how long to wait, how often."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tenacity import RetryCallState, Retrying, stop_after_attempt, wait_exponential_jitter

from sync.clock import Clock
from sync.errors import RateLimitedError, RetryableError

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 6
# Backoff for ordinary faults (5xx, network): 1 s, 2 s, 4 s, ... plus up to 1 s of jitter, never above 60 s.
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 60.0
BACKOFF_JITTER = 1.0

RetryHook = Callable[[int, BaseException, float], None]
"""on_retry(attempt, error, wait): attempt `attempt` (1-based) failed with `error`; next try in `wait` s."""

RetryPredicate = Callable[[BaseException, int], bool]
"""may_retry(error, attempt) -> whether attempt number `attempt` that failed with `error` may be repeated."""

RateLimitWait = Callable[[RateLimitedError], "float | None"]
"""Seconds to wait after a 429 (until the window resets, +1 s), or None when the answer gave no hint."""


def is_retryable(error: BaseException, attempt: int) -> bool:
    """The default predicate: every RetryableError (5xx, 429, network errors, timeouts)."""
    return isinstance(error, RetryableError)


def build_retrying(
    *,
    clock: Clock,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    may_retry: RetryPredicate = is_retryable,
    rate_limit_wait: RateLimitWait | None = None,
    on_retry: RetryHook | None = None,
) -> Retrying:
    """Build the tenacity Retrying every request goes through; sleeps only via `clock.sleep`."""
    backoff = wait_exponential_jitter(multiplier=BACKOFF_FIRST, max=BACKOFF_CAP, jitter=BACKOFF_JITTER)

    def should_retry(state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome is not None else None
        return error is not None and may_retry(error, state.attempt_number)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome is not None else None
        # A 429 says when the window opens again: waiting less only provokes the next 429,
        # and exponential backoff would give up long before a 15-minute window has passed.
        if isinstance(error, RateLimitedError) and rate_limit_wait is not None:
            seconds = rate_limit_wait(error)
            if seconds is not None:
                return seconds
        return float(backoff(state))

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        seconds = state.next_action.sleep if state.next_action is not None else 0.0
        if error is None:  # pragma: no cover - tenacity only sleeps after a failure here
            return
        log.info(
            "attempt %d of %d failed (%s); retrying in %.1f s",
            state.attempt_number,
            max_attempts,
            error,
            seconds,
        )
        if on_retry is not None:
            on_retry(state.attempt_number, error, seconds)

    return Retrying(
        sleep=clock.sleep,
        stop=stop_after_attempt(max(1, max_attempts)),
        wait=wait,
        retry=should_retry,
        before_sleep=before_sleep,
        reraise=True,
    )
