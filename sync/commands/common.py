"""Pieces several commands share: the Billomat client with the CLI's hooks, the mapping."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from sync.clients.billomat import Billomat
from sync.mapping import Mapping, load_mapping

if TYPE_CHECKING:
    from sync.cli import Context


def billomat_client(ctx: Context) -> Billomat:
    """A Billomat client from the settings, reporting waits, retries and (with -v) every call."""
    settings = ctx.settings.billomat()
    ctx.redact.add(settings.api_key.reveal(), settings.app_id.reveal(), settings.app_secret.reveal())
    reporter = ctx.reporter

    def on_wait(seconds: float, reset_at: float | None, remaining: int | None) -> None:
        until = time.strftime("%H:%M:%S", time.localtime(reset_at)) if reset_at else "the next window"
        left = f"{remaining} requests left in this window, " if remaining is not None else ""
        reporter.info(
            f"Billomat rate limit: {left}keeping {settings.rate_reserve} for other tools; "
            f"waiting {_duration(seconds)} until {until}"
        )

    def on_retry(attempt: int, error: Exception, wait: float) -> None:
        reporter.warn(f"{error}; retry {attempt} in {_duration(wait)}")

    def on_request(method: str, path: str, status: int | None, seconds: float) -> None:
        reporter.detail(f"  {method} {path} -> {status if status is not None else 'no answer'} ({seconds:.2f} s)")

    return Billomat.from_settings(
        settings, clock=ctx.clock, on_wait=on_wait, on_retry=on_retry, on_request=on_request
    )


def billomat_mapping(ctx: Context) -> Mapping:
    """The validated Billomat workbook mapping."""
    return load_mapping(ctx.mapping_path())


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"
