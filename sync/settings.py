"""Settings from the environment and billsync.yaml (environment wins); secrets never echoed."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from sync.errors import ConfigError

DEFAULT_CONFIG = Path("billsync.yaml")
DEFAULT_SNAPBILL_URL = "https://api.snapbill.com/v1"
# Requests per window left for the account's other tools (SPEC §5: "keeps a reserve").
DEFAULT_RATE_RESERVE = 30
DEFAULT_TIMEOUT = 60.0


class Secret:
    """A string that never shows itself in repr/str/format; .reveal() gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value, for putting into a request header only."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('*****')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class BillomatSettings:
    """How to reach one Billomat account."""

    billomat_id: str
    api_key: Secret
    base_url: str
    app_id: Secret = field(default_factory=lambda: Secret(""))
    app_secret: Secret = field(default_factory=lambda: Secret(""))
    rate_reserve: int = DEFAULT_RATE_RESERVE
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class SnapBillSettings:
    """How to reach one SnapBill account."""

    user: str
    password: Secret
    base_url: str = DEFAULT_SNAPBILL_URL
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know that is not a command-line flag."""

    config_path: Path | None
    raw: Mapping[str, Any]
    env: Mapping[str, str]

    def billomat(self) -> BillomatSettings:
        """Billomat connection settings; ConfigError names the missing variable."""
        section = _section(self.raw, "billomat")
        billomat_id = self._pick("BILLOMAT_ID", section, "id")
        base_url = self._pick("BILLOMAT_BASE_URL", section, "base_url")
        api_key = self._pick("BILLOMAT_API_KEY", section, "api_key")
        if not api_key:
            raise ConfigError(
                "BILLOMAT_API_KEY is not set: export the API key of a Billomat user "
                "(Settings > Employees > API access) before running billsync"
            )
        if not base_url:
            if not billomat_id:
                raise ConfigError(
                    "BILLOMAT_ID is not set: export your account's subdomain "
                    "(https://<BILLOMAT_ID>.billomat.net), or BILLOMAT_BASE_URL"
                )
            if not _is_subdomain(billomat_id):
                raise ConfigError(f"BILLOMAT_ID {billomat_id!r} is not a subdomain (expected letters, digits, '-')")
            base_url = f"https://{billomat_id}.billomat.net/api"
        check_base_url(base_url, "BILLOMAT_BASE_URL")
        return BillomatSettings(
            billomat_id=billomat_id or "",
            api_key=Secret(api_key),
            base_url=base_url.rstrip("/"),
            app_id=Secret(self._pick("BILLOMAT_APP_ID", section, "app_id")),
            app_secret=Secret(self._pick("BILLOMAT_APP_SECRET", section, "app_secret")),
            rate_reserve=_int(section.get("rate_limit_reserve", DEFAULT_RATE_RESERVE), "billomat.rate_limit_reserve"),
            timeout=_float(section.get("timeout", DEFAULT_TIMEOUT), "billomat.timeout"),
        )

    def snapbill(self) -> SnapBillSettings:
        """SnapBill connection settings; ConfigError names the missing variable."""
        section = _section(self.raw, "snapbill")
        user = self._pick("SNAPBILL_USER", section, "user")
        password = self._pick("SNAPBILL_PASSWORD", section, "password")
        if not user or not password:
            missing = "SNAPBILL_USER" if not user else "SNAPBILL_PASSWORD"
            raise ConfigError(f"{missing} is not set: export the SnapBill API login before migrating")
        base_url = self._pick("SNAPBILL_BASE_URL", section, "base_url") or DEFAULT_SNAPBILL_URL
        check_base_url(base_url, "SNAPBILL_BASE_URL")
        return SnapBillSettings(
            user=user,
            password=Secret(password),
            base_url=base_url.rstrip("/"),
            timeout=_float(section.get("timeout", DEFAULT_TIMEOUT), "snapbill.timeout"),
        )

    def value(self, key: str, default: Any = None) -> Any:
        """A top-level key of billsync.yaml (e.g. 'mapping')."""
        return self.raw.get(key, default)

    def _pick(self, env_name: str, section: Mapping[str, Any], key: str) -> str:
        value = self.env.get(env_name)
        if value is None or value == "":
            value = section.get(key)
        return "" if value is None else str(value).strip()


def load_settings(config_path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read billsync.yaml (the given path, or ./billsync.yaml when present) and the environment."""
    env = dict(os.environ if env is None else env)
    path: Path | None
    if config_path is not None:
        path = Path(config_path)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found (given with --config)")
    else:
        path = DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of settings at the top level")
        raw = loaded
    return Settings(config_path=path, raw=raw, env=env)


def check_base_url(url: str, name: str) -> None:
    """Refuse anything but https, except plain http to a loopback address (the emulator, a local proxy)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return
    if parts.scheme == "http":
        raise ConfigError(
            f"{name}: plain http:// is only allowed for loopback addresses (127.0.0.1, localhost, ::1), "
            f"got host {parts.hostname!r}; use https://"
        )
    raise ConfigError(f"{name}: expected an https:// URL, got {url!r}")


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = raw.get(name) or {}
    if not isinstance(section, dict):
        raise ConfigError(f"billsync.yaml: '{name}' must be a mapping of settings")
    return section


def _is_subdomain(value: str) -> bool:
    return bool(value) and all(ch.isalnum() or ch == "-" for ch in value)


def _int(value: Any, key: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"billsync.yaml: {key} must be a whole number, got {value!r}") from None


def _float(value: Any, key: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"billsync.yaml: {key} must be a number of seconds, got {value!r}") from None
