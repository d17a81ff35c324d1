"""SnapBill's discovery form (`GET /v1/client/add.json`): the controls, the account's `data-*` keys, options."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync.clients.snapbill.wire import DATA_PREFIX


@dataclass(frozen=True)
class FormControl:
    """One control of a discovery form (`GET /v1/client/add.json`)."""

    name: str
    type: str
    caption: str = ""
    required: bool = False
    default: str | None = None
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClientForm:
    """The account's client add form: its controls, the `data-*` keys it defines and the allowed options."""

    controls: tuple[FormControl, ...]

    @property
    def data_keys(self) -> frozenset[str]:
        """The custom field keys the account defines (`data-vat_number` -> `vat_number`)."""
        return frozenset(c.name[len(DATA_PREFIX) :] for c in self.controls if c.name.startswith(DATA_PREFIX))

    @property
    def params(self) -> frozenset[str]:
        """Every parameter name the form shows (including `data-*`)."""
        return frozenset(c.name for c in self.controls)

    def control(self, name: str) -> FormControl | None:
        """The control named `name`, if the form has one."""
        return next((c for c in self.controls if c.name == name), None)

    def options(self, name: str) -> tuple[str, ...]:
        """The option keys of a select control (e.g. the enabled currencies); () when not a select."""
        control = self.control(name)
        return control.options if control is not None else ()

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> ClientForm:
        """Parse `{"code":200,"type":"form","controls":[...]}` (fixture client_add_form_get.json)."""
        controls = []
        for raw in body.get("controls") or []:
            if not isinstance(raw, dict) or not raw.get("name"):
                continue
            options = tuple(
                str(o.get("key")) for o in raw.get("options") or [] if isinstance(o, dict) and "key" in o
            )
            default = raw.get("default", raw.get("value"))
            controls.append(
                FormControl(
                    name=str(raw["name"]),
                    type=str(raw.get("type") or ""),
                    caption=str(raw.get("caption") or ""),
                    required=bool(raw.get("required")),
                    default=None if default is None else str(default),
                    options=options,
                )
            )
        return cls(tuple(controls))
