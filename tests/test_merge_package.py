"""sync/merge/: the package's shape — small modules, small classes, imports in one direction only."""

from __future__ import annotations

import ast
from pathlib import Path

import sync.merge

PACKAGE = Path(sync.merge.__file__).parent
# The order of sync/merge/__init__.py's docstring: each module imports only modules before it.
ORDER = [
    "model", "next_base", "result", "vectors", "states", "sheet_terms", "ledger", "context",
    "universe", "created", "fields", "values", "tags", "records", "merger",
]  # fmt: skip


def _tree(name: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))


def test_every_module_is_in_the_order_and_imports_only_those_before_it() -> None:
    assert sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__") == sorted(ORDER)
    for i, name in enumerate(ORDER):
        imported = {
            node.module.removeprefix("sync.merge.")
            for node in ast.walk(_tree(name))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sync.merge")
        }
        assert imported <= set(ORDER[:i]), f"sync/merge/{name}.py imports {sorted(imported - set(ORDER[:i]))}"


def test_modules_stay_under_600_lines_and_classes_under_300() -> None:
    for path in PACKAGE.glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 600, path.name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                assert (node.end_lineno or 0) - node.lineno < 300, f"{path.name}: class {node.name}"


def test_the_public_names_stay_importable_from_sync_merge() -> None:
    for name in sync.merge.__all__:
        assert getattr(sync.merge, name) is not None
    assert {"Conflict", "Merge", "WorkbookChanges", "merge_account", "reading_frames", "UPDATE_COLUMNS",
            "REMOVAL_COLUMNS", "TAGS_FIELD", "STALE_COPY", "KINDS", "Side"} <= set(sync.merge.__all__)  # fmt: skip
