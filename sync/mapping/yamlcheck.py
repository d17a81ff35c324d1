"""YAML problem collection shared by the mapping files: parse with line numbers, name every problem's place."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml

from sync.errors import MappingError
from sync.mapping.model import NORMALIZERS

# libyaml's loader when PyYAML was built with it: the same safe subset, the same line marks, ten times
# faster than the pure-Python one (every command validates the mapping; the test suite runs ~1,000).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A place in the YAML: mapping keys and sequence indices from the top.
YamlPath = tuple[str | int, ...]


def read_yaml_text(path: Path | str) -> str:
    """A mapping file's text; MappingError (naming the file) when it is missing, unreadable or not UTF-8."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(path, ["file not found"]) from None
    except UnicodeDecodeError as exc:
        raise MappingError(path, [f"not UTF-8 text (byte {exc.start}): save the file as UTF-8"]) from None
    except OSError as exc:
        raise MappingError(path, [f"cannot read: {exc.strerror or exc}"]) from None


def parse_yaml(text: str, source: str) -> tuple[Any, Checker]:
    """Parse YAML safely, keeping line numbers; the checker starts with the duplicate-key problems."""
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader: _LOADER is [C]SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise MappingError(source, [f"{where}not valid YAML: {problem}"]) from None
    lines = NodeLines(node)
    checker = Checker(lines)
    checker.problems.extend(lines.duplicate_key_problems())
    return data, checker


def fmt_path(path: YamlPath) -> str:
    """A YAML place as the user reads it: `sheets.clients.columns[2].header`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def describe(value: Any) -> str:
    """What a YAML value is, in words, for "expected …, got …" messages."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a yes/no value ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


class NodeLines:
    """Line numbers of YAML nodes, found by path (keys for mappings, indices for sequences)."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def _find(self, path: YamlPath, *, key_node: bool = False) -> yaml.Node | None:
        node = self.root
        for i, part in enumerate(path):
            if node is None:
                return None
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                found = None
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == part:
                        found = k if (key_node and i == len(path) - 1) else v
                node = found
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                node = node.value[part] if 0 <= part < len(node.value) else None
            else:
                return None
        return node

    def source_text(self, path: YamlPath) -> str | None:
        """The scalar as written in the file (before YAML turned `No` into false)."""
        node = self._find(path)
        return node.value if isinstance(node, yaml.ScalarNode) else None

    def line(self, path: YamlPath, *, key_node: bool = False) -> int | None:
        """The 1-based line of the node at `path` (its key with key_node), None when unknown."""
        node = self._find(path, key_node=key_node)
        return None if node is None else node.start_mark.line + 1

    def duplicate_key_problems(self) -> list[str]:
        """One problem per key given twice in the same mapping."""
        # yaml.safe_load keeps the last of two equal keys without a word: a silently lost setting.
        problems: list[str] = []

        def walk(node: yaml.Node | None, path: YamlPath) -> None:
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for k, v in node.value:
                    name = k.value if isinstance(k, yaml.ScalarNode) else str(k)
                    if name in seen:
                        where = fmt_path((*path, name))
                        problems.append(f"{where} (line {k.start_mark.line + 1}): key given twice")
                    seen.add(name)
                    walk(v, (*path, name))
            elif isinstance(node, yaml.SequenceNode):
                for i, v in enumerate(node.value):
                    walk(v, (*path, i))

        walk(self.root, ())
        return problems


class Checker:
    """Collects problems; every message names its YAML place and, when known, its line."""

    def __init__(self, lines: NodeLines) -> None:
        self.lines = lines
        self.problems: list[str] = []

    def add(self, path: YamlPath, message: str, *, key_node: bool = False) -> None:
        """Record a problem at `path`, with its line when known."""
        line = self.lines.line(path, key_node=key_node)
        where = fmt_path(path) + (f" (line {line})" if line else "")
        self.problems.append(f"{where}: {message}")

    def mapping(
        self, value: Any, path: YamlPath, allowed: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict:
        """Check a mapping's keys; returns it (or {} when it is not a mapping)."""
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping with keys {', '.join(allowed)}, got {describe(value)}")
            return {}
        for key in value:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                did = f" (did you mean {hint[0]!r}?)" if hint else ""
                self.add(
                    (*path, str(key)),
                    f"unknown key {key!r}{did}; allowed keys: {', '.join(allowed)}",
                    key_node=True,
                )
        for key in required:
            if key not in value:
                self.add(path, f"missing required key {key!r}")
        return value

    def string(self, value: Any, path: YamlPath, *, allow_empty: bool = False) -> str | None:
        """The value when it is (non-blank) text; else a problem and None."""
        if not isinstance(value, str):
            hint = ""
            if isinstance(value, bool | int | float):
                # YAML reads unquoted No/yes/0 as booleans and numbers.
                written = self.lines.source_text(path)
                hint = f' (put it in quotes: "{written if written is not None else value}")'

            self.add(path, f"expected text, got {describe(value)}{hint}")
            return None
        if not allow_empty and not value.strip():
            self.add(path, "must not be empty")
            return None
        return value

    def boolean(self, value: Any, path: YamlPath) -> bool | None:
        """The value when it is true or false; else a problem and None."""
        if not isinstance(value, bool):
            self.add(path, f"expected true or false, got {describe(value)}")
            return None
        return value

    def choice(self, value: Any, path: YamlPath, allowed: tuple[str, ...] | list[str]) -> str | None:
        """The value when it is one of `allowed`; else a problem and None."""
        if not isinstance(value, str) or value not in allowed:
            shown = repr(value) if isinstance(value, str) else describe(value)
            self.add(path, f"{shown} is not one of: {', '.join(sorted(allowed))}")
            return None
        return value

    def normalize(self, value: Any, path: YamlPath) -> tuple[str, ...] | None:
        """Normalisation step names (one or a list, `none` alone) as a tuple; else problems and None."""
        steps = [value] if isinstance(value, str) else value
        if not isinstance(steps, list) or not steps:
            self.add(
                path,
                f"expected one of {', '.join(sorted(NORMALIZERS))} or a list of them, got {describe(value)}",
            )
            return None
        out: list[str] = []
        ok = True
        for i, step in enumerate(steps):
            where = path if isinstance(value, str) else (*path, i)
            checked = self.choice(step, where, sorted(NORMALIZERS))
            ok = ok and checked is not None
            if checked:
                out.append(checked)
        if ok and "none" in out and len(out) > 1:
            self.add(path, "'none' cannot be combined with other normalisations")
            return None
        if not ok:
            return None
        return tuple(s for s in out if s != "none")


def by_line(problems: list[str]) -> list[str]:
    """Problems in file order (those without a line last), so they read top to bottom."""

    def line_of(problem: str) -> int:
        match = re.search(r"\(line (\d+)\)|^line (\d+):", problem)
        return int(match.group(1) or match.group(2)) if match else 1 << 30

    return sorted(problems, key=line_of)
