"""Architecture guards: only ``_napari/`` may import napari or Qt."""

from __future__ import annotations

import ast
from pathlib import Path

import napari_ifss

GUI_MODULES = {"napari", "qtpy", "PySide6", "PySide2", "PyQt5", "PyQt6", "magicgui", "superqt",
               "vispy", "npe2", "app_model"}
PACKAGE = Path(napari_ifss.__file__).parent


def _imported_roots(tree: ast.AST) -> set[str]:
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_napari_subpackage_imports_gui_libraries():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "_napari":
            continue
        bad = _imported_roots(ast.parse(path.read_text(encoding="utf-8"))) & GUI_MODULES
        if bad:
            offenders.append(f"{rel}: {sorted(bad)}")
    assert not offenders, "GUI imports outside _napari/:\n" + "\n".join(offenders)


def test_guard_detects_a_gui_import():
    """The guard itself must be able to fail."""
    assert "napari" in _imported_roots(ast.parse("from napari.layers import Labels"))
    assert "qtpy" in _imported_roots(ast.parse("import qtpy.QtWidgets as w"))


def test_architecture_folders_exist():
    for sub in ("core", "models", "eval", "train", "_napari", "cli"):
        assert (PACKAGE / sub / "__init__.py").is_file(), sub
    # the core is grouped by feature (#17); shared pieces stay at its top level
    for feature in ("interactive", "fewshot", "quality", "exemplar", "batch", "data", "io"):
        assert (PACKAGE / "core" / feature / "__init__.py").is_file(), feature
