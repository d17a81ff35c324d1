"""`mappings/snapbill.yaml` → a frozen, validated `SnapBillMapping` (every problem with its YAML place).

Two passes, both before any write: `load_snapbill_mapping` checks the file itself (SnapBill parameter
names, Billomat field names, transforms); `SnapBillMapping.for_account` checks it against the two
accounts (the `data-*` keys SnapBill defines, the client property names Billomat has).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.clients.snapbill import CLIENT_PARAMS
from sync.errors import MappingError
from sync.mapping import CLIENT_FIELDS
from sync.mapping.yamlcheck import Checker, NodeLines, by_line, describe, fmt_path, parse_yaml, read_yaml_text

PROPERTY_PREFIX = "property:"
DATA_PREFIX = "data-"


def _first_email(value: str) -> str:
    return split_emails(value)[0] if value.strip() else ""


def split_emails(value: str) -> list[str]:
    """Billomat allows several addresses in one field, separated by commas (snapbill-api.md §7)."""
    return [part.strip() for part in re.split(r"[,;]", value) if part.strip()] or [""]


TRANSFORMS: dict[str, Callable[[str], str]] = {
    "none": lambda value: value,
    "strip": str.strip,
    "upper": str.upper,
    "lower": str.lower,
    # snapbill-api.md §7: SnapBill holds one address; the others are reported as not held.
    "first_email": _first_email,
}
WHEN_EMPTY = ("clear", "keep")
# snapbill-api.md §3: parameters the migration must never send, with the reason shown to the user.
FORBIDDEN_PARAMS = {
    "credit": "changing credit books a credit payment on the client (snapbill-api.md §3)",
    "state": "SnapBill ignores state on update (snapbill-api.md §1); archived clients are skipped instead",
}
_TOP_KEYS = ("version", "target", "fields", "fallback", "ignore")
_RULE_KEYS = ("from", "transform", "when_empty", "if_defined")


@dataclass(frozen=True)
class FieldRule:
    """One SnapBill parameter and where its value comes from in Billomat."""

    param: str  # "company", "data-vat_number"
    source: str  # a Billomat client field, or "property:<name>" (a client property value)
    transforms: tuple[str, ...] = ()
    when_empty: str = "clear"  # clear: an empty Billomat value clears SnapBill's; keep: it is not sent
    if_defined: bool = False  # data-* only: skip (and report) when the SnapBill account lacks the field
    place: str = ""  # "fields.company (line 12)"

    @property
    def data_key(self) -> str | None:
        """The custom field key of a `data-*` parameter, else None."""
        return self.param[len(DATA_PREFIX) :] if self.param.startswith(DATA_PREFIX) else None

    @property
    def property_name(self) -> str | None:
        """The Billomat client property this rule reads, else None."""
        return self.source[len(PROPERTY_PREFIX) :] if self.source.startswith(PROPERTY_PREFIX) else None

    def value(self, record: dict[str, str]) -> str:
        """The value to send for one Billomat client (its fields plus `property:<name>` keys)."""
        value = record.get(self.source, "") or ""
        for step in self.transforms:
            value = TRANSFORMS[step](value)
        return value


@dataclass(frozen=True)
class SnapBillMapping:
    """A validated Billomat → SnapBill client mapping."""

    rules: tuple[FieldRule, ...]
    fallback: tuple[tuple[str, str], ...] | None = None  # (param, template); None: skip and report
    fallback_place: str = "fallback"
    ignore: frozenset[str] = frozenset()
    skipped_rules: tuple[FieldRule, ...] = ()  # if_defined rules the SnapBill account has no field for
    source: str = "<dict>"

    def rule(self, param: str) -> FieldRule | None:
        """The rule of one SnapBill parameter."""
        return next((r for r in self.rules if r.param == param), None)

    @property
    def sources(self) -> frozenset[str]:
        """Every Billomat field (or property:<name>) some rule reads."""
        return frozenset(r.source for r in self.rules)

    def for_account(self, data_keys: Iterable[str], property_names: Iterable[str]) -> SnapBillMapping:
        """Check the mapping against both accounts; MappingError (every problem with its place) when it fails.

        A `data-*` key the SnapBill account does not define is an error, unless its rule says
        `if_defined: true`: then the rule is dropped and its values are reported as not held.
        """
        keys, names = set(data_keys), set(property_names)
        problems: list[str] = []
        active: list[FieldRule] = []
        skipped: list[FieldRule] = []
        for rule in self.rules:
            key = rule.data_key
            if key is not None and key not in keys:
                if rule.if_defined:
                    skipped.append(rule)
                    continue
                defined = ", ".join(f"data-{k}" for k in sorted(keys)) or "none"
                problems.append(
                    f"{rule.place}: the SnapBill account defines no custom field {key!r} "
                    f"(it defines: {defined}); add it under Setup > Custom Fields, or remove the line"
                )
                continue
            prop = rule.property_name
            if prop is not None and prop not in names:
                have = ", ".join(repr(n) for n in sorted(names)) or "none"
                problems.append(f"{rule.place}: Billomat has no client property {prop!r} (it has: {have})")
                continue
            active.append(rule)
        if problems:
            raise MappingError(self.source, problems)
        return SnapBillMapping(
            rules=tuple(active),
            fallback=self.fallback,
            fallback_place=self.fallback_place,
            ignore=self.ignore,
            skipped_rules=(*self.skipped_rules, *skipped),
            source=self.source,
        )


def load_snapbill_mapping(path: Path | str) -> SnapBillMapping:
    """Read and validate `mappings/snapbill.yaml`; MappingError lists every problem with its line."""
    return snapbill_mapping_from_text(read_yaml_text(path), source=str(path))


def snapbill_mapping_from_text(text: str, source: str = "<text>") -> SnapBillMapping:
    """Parse and validate mapping YAML text."""
    data, ck = parse_yaml(text, source)
    return _validate(data, ck, source)


def snapbill_mapping_from_dict(data: Any, source: str = "<dict>") -> SnapBillMapping:
    """Validate an already-parsed mapping (tests, tools)."""
    return _validate(data, Checker(NodeLines(None)), source)


def _place(ck: Checker, path: tuple[str | int, ...]) -> str:
    line = ck.lines.line(path)
    return fmt_path(path) + (f" (line {line})" if line else "")


def _validate(data: Any, ck: Checker, source: str) -> SnapBillMapping:
    if data is None:
        raise MappingError(source, ["the mapping is empty: expected keys version, target, fields"])
    top = ck.mapping(data, (), _TOP_KEYS, required=("version", "fields"))
    version = top.get("version")
    if "version" in top and (version != 1 or isinstance(version, bool)):
        ck.add(("version",), f"{describe(version)} is not a supported version; allowed: 1")
    if "target" in top and top["target"] != "snapbill":
        ck.add(("target",), f"{describe(top['target'])} is not supported; allowed: snapbill")

    rules: list[FieldRule] = []
    raw_fields = top.get("fields")
    if "fields" in top:
        if not isinstance(raw_fields, dict) or not raw_fields:
            ck.add(("fields",), f"expected a mapping of SnapBill parameter → Billomat field, got {describe(raw_fields)}")
        else:
            for param, spec in raw_fields.items():
                rule = _check_rule(str(param), spec, ck)
                if rule is not None:
                    rules.append(rule)
            if "number" not in raw_fields:
                ck.add(("fields",), "'number' must be mapped: it is how a re-run finds a client it created")

    fallback: tuple[tuple[str, str], ...] | None = None
    fallback_place = _place(ck, ("fallback",))
    if "fallback" in top:
        fallback = _check_fallback(top["fallback"], ck)

    ignore: set[str] = set()
    if "ignore" in top:
        raw = top["ignore"]
        if not isinstance(raw, list):
            ck.add(("ignore",), f"expected a list of Billomat fields, got {describe(raw)}")
        else:
            for i, name in enumerate(raw):
                checked = ck.string(name, ("ignore", i))
                if checked is not None and checked not in CLIENT_FIELDS:
                    ck.add(("ignore", i), f"{checked!r} is not a Billomat client field")
                elif checked is not None:
                    ignore.add(checked)
    if ck.problems:
        raise MappingError(source, by_line(ck.problems))
    return SnapBillMapping(
        rules=tuple(rules),
        fallback=fallback,
        fallback_place=fallback_place,
        ignore=frozenset(ignore),
        source=source,
    )


def _check_rule(param: str, spec: Any, ck: Checker) -> FieldRule | None:
    path: tuple[str | int, ...] = ("fields", param)
    ok = True
    if param in FORBIDDEN_PARAMS:
        ck.add(path, f"SnapBill parameter {param!r} must not be migrated: {FORBIDDEN_PARAMS[param]}", key_node=True)
        ok = False
    elif param.startswith(DATA_PREFIX):
        if not re.fullmatch(r"data-[a-z0-9_]+", param):
            ck.add(path, f"{param!r} is not a custom field name (data-<lower-case key>)", key_node=True)
            ok = False
    elif param not in CLIENT_PARAMS:
        known = ", ".join(sorted(CLIENT_PARAMS))
        ck.add(path, f"unknown SnapBill client parameter {param!r}; known: {known}, or data-<custom field>",
               key_node=True)
        ok = False
    # `company: name` is short for `company: {from: name}`; problems then point at the line itself.
    from_path = path if isinstance(spec, str) else (*path, "from")
    if isinstance(spec, str):
        spec = {"from": spec}
    spec = ck.mapping(spec, path, _RULE_KEYS, required=("from",))
    if not spec:
        return None
    source = ck.string(spec.get("from"), from_path) if "from" in spec else None
    if source is not None and not source.startswith(PROPERTY_PREFIX) and source not in CLIENT_FIELDS:
        ck.add(from_path, f"unknown Billomat client field {source!r} (or property:<name> for a client property)")
        ok = False
    if source is not None and source.startswith(PROPERTY_PREFIX) and not source[len(PROPERTY_PREFIX):].strip():
        ck.add(from_path, "property: needs the name of a Billomat client property")
        ok = False
    transforms: tuple[str, ...] = ()
    if "transform" in spec:
        raw = spec["transform"]
        steps = [raw] if isinstance(raw, str) else raw
        if not isinstance(steps, list) or not steps:
            ck.add((*path, "transform"), f"expected one of {', '.join(TRANSFORMS)} or a list, got {describe(raw)}")
            ok = False
        else:
            for i, step in enumerate(steps):
                where = (*path, "transform") if isinstance(raw, str) else (*path, "transform", i)
                if ck.choice(step, where, list(TRANSFORMS)) is None:
                    ok = False
            transforms = tuple(s for s in steps if s != "none")
    when_empty = "clear"
    if "when_empty" in spec:
        when_empty = ck.choice(spec["when_empty"], (*path, "when_empty"), list(WHEN_EMPTY)) or "clear"
    if_defined = False
    if "if_defined" in spec:
        checked = ck.boolean(spec["if_defined"], (*path, "if_defined"))
        if_defined = bool(checked)
        if checked and not param.startswith(DATA_PREFIX):
            ck.add((*path, "if_defined"), "only a data-* parameter can depend on the SnapBill account")
            ok = False
    if not ok or source is None:
        return None
    return FieldRule(param, source, transforms, when_empty, if_defined, _place(ck, path))


def _check_fallback(raw: Any, ck: Checker) -> tuple[tuple[str, str], ...] | None:
    if raw == "skip":
        return None
    names = ("company", "firstname", "surname")
    spec = ck.mapping(raw, ("fallback",), names)
    out: list[tuple[str, str]] = []
    for param, template in spec.items():
        if param not in names:
            continue
        text = ck.string(template, ("fallback", param))
        if text is None:
            continue
        for name in re.findall(r"\{([^{}]*)\}", text):
            if name not in CLIENT_FIELDS:
                ck.add(("fallback", param), f"{{{name}}} is not a Billomat client field")
        out.append((param, text))
    if isinstance(raw, dict) and not out and not ck.problems:
        ck.add(("fallback",), "expected company/firstname/surname templates, or the word skip")
    return tuple(out)


def fill_template(template: str, record: dict[str, str]) -> str:
    """`"Kunde {client_number}"` with the client's values."""
    return re.sub(r"\{([^{}]*)\}", lambda m: record.get(m.group(1), ""), template).strip()
