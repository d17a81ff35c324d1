"""A tiny requests-mock router that serves Billomat list envelopes from plain records (for unit tests)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

BASE = "https://musterfirma.billomat.net/api"

ENVELOPES = {
    "clients": ("clients", "client"),
    "contacts": ("contacts", "contact"),
    "client-properties": ("client-properties", "client-property"),
    "client-property-values": ("client-property-values", "client-property-value"),
    "client-tags": ("client-tags", "client-tag"),
}


def envelope(plural: str, singular: str, items: list[dict[str, str]], page: int, per_page: int, total: int) -> dict:
    """Billomat's list shape: ≥2 items → array, 1 → object, 0 → item key absent (billomat-api.md §3)."""
    body: dict[str, Any] = {"@page": str(page), "@per_page": str(per_page), "@total": str(total)}
    if len(items) == 1:
        body[singular] = items[0]
    elif items:
        body[singular] = items
    return {plural: body}


class FakeBillomat:
    """Serves records per resource; `overrides` lets a test answer a (path, query) differently."""

    def __init__(self, requests_mock: Any, data: dict[str, list[dict[str, str]]]) -> None:
        self.data = data
        self.overrides: list[tuple[Callable[[str, dict[str, str]], bool], Callable[..., Any]]] = []
        requests_mock.get(re.compile(re.escape(BASE) + r"/.*"), json=self._answer)
        self.mock = requests_mock

    def calls(self, path: str) -> list[dict[str, str]]:
        """Query dicts of every GET to `path` (e.g. "/contacts")."""
        out = []
        for request in self.mock.request_history:
            parts = urlsplit(request.url)
            if parts.path == urlsplit(BASE).path + path:
                out.append({k: v[0] for k, v in parse_qs(parts.query).items()})
        return out

    def _answer(self, request: Any, context: Any) -> Any:
        parts = urlsplit(request.url)
        path = parts.path[len(urlsplit(BASE).path) :]
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        for matches, answer in self.overrides:
            if matches(path, query):
                return answer(context)
        if path == "/clients/myself":
            return {"client": {"id": "1", "name": "Musterfirma GmbH"}}
        resource = path.strip("/")
        plural, singular = ENVELOPES[resource]
        records = self._select(resource, query)
        per_page = min(int(query.get("per_page", "100")), 1000)
        page = int(query.get("page", "1"))
        chunk = records[(page - 1) * per_page : page * per_page]
        return envelope(plural, singular, chunk, page, per_page, len(records))

    def _select(self, resource: str, query: dict[str, str]) -> list[dict[str, str]]:
        if resource == "client-tags" and "client_id" not in query:
            counts: dict[str, int] = {}
            for tag in self.data.get("client-tags", []):
                counts[tag["name"]] = counts.get(tag["name"], 0) + 1
            return [{"id": str(i), "name": n, "count": str(c)} for i, (n, c) in enumerate(sorted(counts.items()), 1)]
        records = self.data.get(resource, [])
        if resource == "clients" and "tags" in query:
            wanted = query["tags"]
            ids = {t["client_id"] for t in self.data.get("client-tags", []) if t["name"].lower() == wanted.lower()}
            return [c for c in records if c["id"] in ids]
        if "client_id" in query:
            return [r for r in records if r.get("client_id") == query["client_id"]]
        return records


def dumps(body: dict) -> str:
    """PHP-style JSON as Billomat sends it."""
    return json.dumps(body).replace("/", "\\/")
