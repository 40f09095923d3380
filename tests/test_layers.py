"""Data flows one way: no module imports from a higher stage (lazy imports included).

The stages, lowest first, are those of docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "autoenchorder"

#: first name under autoenchorder -> its floor (docs/architecture.md)
FLOORS: dict[str, float] = {
    "errors": 0,
    "atomic": 0,
    "published": 0,
    "metrics": 0,
    "precision": 0,
    "progress": 0,
    "parallel": 0,
    "side_by_side": 0,
    "storage": 0,
    "engine": 0,
    "config": 1,
    "audio": 2,
    "data": 3,
    "models": 4,
    "bundle": 5,
    "train": 6,
    "evaluate": 7,
    "predict": 8,
    "terminal": 9,
    "study": 9.5,
    "serve": 9.5,
    "commands": 10,
    "warm": 10,
    "cli": 10.5,
}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "autoenchorder" or len(parts) == 1:
        return None
    return parts[1]


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "autoenchorder":
                names += [f"autoenchorder.{alias.name}" for alias in node.names]
            else:
                names.append(node.module)
    return names


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def test_every_stage_has_a_floor() -> None:
    stages = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _modules()}
    assert stages - {"__init__", "py"} <= set(FLOORS), stages - set(FLOORS)


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_from_a_higher_stage(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    upward = [
        name
        for name in _imports(path)
        if (stage := _stage(name)) in FLOORS and FLOORS[stage] > FLOORS[own]
    ]
    assert not upward, f"{path.relative_to(PACKAGE)} imports from a higher stage: {upward}"
