"""Layering: the engine never imports the zoom package, directly or through another module."""

import ast
from pathlib import Path

import collage_core

PACKAGE = Path(collage_core.__file__).parent
ENGINE = ["layout", "operator", "fit", "decode", "code", "fractalize"]


def _imports(module: str) -> set[str]:
    """The ``collage_core`` modules ``module`` imports anywhere in its file (lazy imports too)."""
    parts = module.split(".")
    path = PACKAGE.joinpath(*parts[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = parts[:-1] if path.name != "__init__.py" else parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            # ``from . import sub`` loads ``sub``, not the package's own namespace.
            found |= ({name} if node.module else set()) | {f"{name}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m.startswith("collage_core") and _exists(m)}


def _exists(module: str) -> bool:
    path = PACKAGE.joinpath(*module.split(".")[1:])
    return path.is_dir() or path.with_suffix(".py").is_file()


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += _imports(m) - seen
    return seen


def test_the_engine_does_not_import_the_zoom_package():
    for name in ENGINE:
        zoom = sorted(m for m in reachable(f"collage_core.{name}") if m.startswith("collage_core.zoom"))
        assert not zoom, f"collage_core.{name} imports {zoom}"


def test_the_import_scan_sees_the_zoom_package_where_it_is_used():
    # The scan is not blind: the package's own export reaches its writers, the CLI's code the package.
    assert "collage_core.zoom.writers" in reachable("collage_core.zoom.export")
    assert "collage_core.zoom.loop" in reachable("collage_core.zoom.frames")
