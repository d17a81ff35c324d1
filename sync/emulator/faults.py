"""Fault injection: a seeded FaultSpec (rates per fault kind) and forced faults for deterministic tests."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# Fault kinds, as logged in LoggedRequest.fault.
FAULT_KINDS = ("502", "503", "429", "timeout", "lost", "truncate")
_FORCE_KINDS = (*FAULT_KINDS, "5xx")
_RATE_KEYS = {
    "5xx": "http_5xx",
    "429": "http_429",
    "timeout": "timeout",
    "lost": "lost",
    "truncate": "truncate",
}


@dataclass(frozen=True)
class FaultSpec:
    """Rates (0..1) per fault kind, a seed, the methods that may fail and how many requests pass first.

    - `http_5xx`: 502/503 with an nginx HTML body; the request is NOT performed.
    - `http_429`: an injected 429 with the JSON body and rate headers; NOT performed.
    - `timeout`: the connection is held `EmulatorConfig.timeout_hold` seconds, then closed; NOT performed.
    - `lost`: the request IS performed, then the connection is closed without any response.
    - `truncate`: the request IS performed; the JSON body is sent cut in half (Content-Length matching).
    """

    http_5xx: float = 0.0
    http_429: float = 0.0
    timeout: float = 0.0
    lost: float = 0.0
    truncate: float = 0.0
    seed: int = 0
    methods: frozenset[str] | None = None  # None = every method
    after: int = 0  # faults only for API requests after the first `after`

    def __post_init__(self) -> None:
        rates = (self.http_5xx, self.http_429, self.timeout, self.lost, self.truncate)
        if any(not 0.0 <= r <= 1.0 for r in rates):
            raise ValueError(f"fault rates must be between 0 and 1: {self}")
        if sum(rates) > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to more than 1: {self}")
        if self.after < 0:
            raise ValueError("fault 'after' must be >= 0")

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        """Parse "5xx=0.1,429=0.05,timeout=0.02,lost=0.05,truncate=0.01,seed=7,methods=POST+PUT,after=N"."""
        kwargs: dict[str, object] = {}
        for part in (spec or "").split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, value = part.partition("=")
            key, value = key.strip().lower(), value.strip()
            if not sep or not value:
                raise ValueError(f"fault spec {spec!r}: {part!r} is not key=value")
            try:
                if key in _RATE_KEYS:
                    kwargs[_RATE_KEYS[key]] = float(value)
                elif key == "seed":
                    kwargs["seed"] = int(value)
                elif key == "after":
                    kwargs["after"] = int(value)
                elif key == "methods":
                    methods = {m.strip().upper() for m in value.replace("|", "+").split("+") if m.strip()}
                    kwargs["methods"] = frozenset(methods)
                else:
                    known = ", ".join([*_RATE_KEYS, "seed", "methods", "after"])
                    raise ValueError(f"fault spec {spec!r}: unknown key {key!r} (known: {known})")
            except ValueError as exc:
                if "fault spec" in str(exc):
                    raise
                raise ValueError(f"fault spec {spec!r}: bad value in {part!r}") from None
        return cls(**kwargs)  # type: ignore[arg-type]

    @property
    def active(self) -> bool:
        """True when any rate is above zero."""
        return any((self.http_5xx, self.http_429, self.timeout, self.lost, self.truncate))

    def __str__(self) -> str:
        parts = [f"{k}={getattr(self, a)}" for k, a in _RATE_KEYS.items() if getattr(self, a)]
        parts.append(f"seed={self.seed}")
        if self.methods is not None:
            parts.append("methods=" + "+".join(sorted(self.methods)))
        if self.after:
            parts.append(f"after={self.after}")
        return ",".join(parts)


@dataclass
class _Forced:
    kind: str
    count: int
    method: str | None
    path_contains: str | None


@dataclass
class FaultInjector:
    """Decides, per API request, which fault (if any) hits it. Not thread-safe: call under the emulator lock."""

    spec: FaultSpec
    _rng: random.Random = field(init=False)
    _seen: int = field(init=False, default=0)
    _forced: list[_Forced] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.spec.seed)

    def force(
        self, kind: str, count: int = 1, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """Make the next `count` matching requests fail with `kind` (regardless of rates/methods/after)."""
        if kind not in _FORCE_KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (known: {', '.join(_FORCE_KINDS)})")
        if count < 1:
            raise ValueError("count must be >= 1")
        self._forced.append(_Forced(kind, count, method.upper() if method else None, path_contains))

    def clear_forced(self) -> None:
        """Drop every pending forced fault."""
        self._forced.clear()

    def decide(self, method: str, path: str) -> str | None:
        """The fault kind for this request, or None."""
        self._seen += 1
        for forced in self._forced:
            if forced.method and forced.method != method:
                continue
            if forced.path_contains and forced.path_contains not in path:
                continue
            forced.count -= 1
            if forced.count <= 0:
                self._forced.remove(forced)
            return self._pick_5xx() if forced.kind == "5xx" else forced.kind
        spec = self.spec
        if not spec.active or self._seen <= spec.after:
            return None
        if spec.methods is not None and method not in spec.methods:
            return None
        r = self._rng.random()
        for kind, rate in (
            ("5xx", spec.http_5xx),
            ("429", spec.http_429),
            ("timeout", spec.timeout),
            ("lost", spec.lost),
            ("truncate", spec.truncate),
        ):
            if r < rate:
                return self._pick_5xx() if kind == "5xx" else kind
            r -= rate
        return None

    def _pick_5xx(self) -> str:
        return "502" if self._rng.random() < 0.5 else "503"


# nginx-style pages, as a load balancer sends them (billomat-api.md §1: HG PR #32, non-JSON 5xx bodies).
_REASONS = {"502": "Bad Gateway", "503": "Service Temporarily Unavailable"}


def html_error_page(status: str) -> bytes:
    """The HTML body of an injected 502/503."""
    title = f"{status} {_REASONS[status]}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode("ascii")
