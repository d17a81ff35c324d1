"""API clients: the shared HTTP transport, the Python API both clients share (`resource`), Billomat and SnapBill."""

from __future__ import annotations

from sync.clients.base import ConnectFailedError, Transport, TruncatedBodyError
from sync.clients.billomat import (
    Billomat,
    Client,
    ClientProperty,
    ClientPropertyValue,
    ClientTag,
    Contact,
    Model,
    Resource,
)
from sync.clients.paging import Page, Paging
from sync.clients.ratelimit import RateBudget
from sync.clients.retry import build_retrying

__all__ = [
    "Billomat",
    "Client",
    "ClientProperty",
    "ClientPropertyValue",
    "ClientTag",
    "ConnectFailedError",
    "Contact",
    "Model",
    "Page",
    "Paging",
    "RateBudget",
    "Resource",
    "Transport",
    "TruncatedBodyError",
    "build_retrying",
]
