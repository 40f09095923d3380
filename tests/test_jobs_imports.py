"""The train stage's modules import each other one way only (no cycle, lazy imports included)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import autoenchorder

PACKAGE = Path(autoenchorder.__file__).parent


def _train_imports() -> dict[str, set[str]]:
    """Module -> the autoenchorder.train modules it imports anywhere (functions included)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / "train").glob("*.py")):
        name = f"autoenchorder.train.{path.stem}"
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        graph[name] = {t for t in targets if t.startswith("autoenchorder.train.") and t != name}
    return {name: deps & set(graph) for name, deps in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for dep in sorted(graph[node]):
            found = visit(dep, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    for node in sorted(graph):
        found = visit(node, [])
        if found:
            return found
    return None


def test_train_modules_have_no_import_cycle():
    graph = _train_imports()
    assert "autoenchorder.train.jobs" in graph and "autoenchorder.train.job_cache" in graph
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_job_cache_does_not_need_the_job_runner():
    code = (
        "import sys, autoenchorder.train.job_cache; "
        "print('autoenchorder.train.jobs' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
