"""autoenchorder.published is the one home of the published numbers: every user reads it."""

import ast
from pathlib import Path

import pytest

from autoenchorder import published

SRC = Path(published.__file__).resolve().parent

#: Numbers that only published.py may write down (as numbers, or inside a non-doc string).
PUBLISHED_NUMBERS = {
    published.STUDY_WINS,
    published.STUDY_TEST_SONGS,
    published.STUDY_WIN_PERCENT,
    published.HITMUSICNET_MAE_01,
    published.HITMUSICNET_ACCURACY,
    published.HITMUSICNET_MACRO_F1,
    *published.STUDY_RANDOM_BASELINE,
}
PUBLISHED_TEXTS = ("61.2 %", "0.0817", "919 of", "1,500")


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _written_down(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        is_constant_tuple = isinstance(node, ast.Tuple) and all(
            isinstance(e, ast.Constant) for e in node.elts
        )
        if is_constant_tuple and tuple(e.value for e in node.elts) == published.BAND_EDGES:
            found.append(f"{path.name}:{node.lineno} band edges")
        if not isinstance(node, ast.Constant) or id(node) in docs:
            continue
        value = node.value
        if isinstance(value, int | float) and not isinstance(value, bool):
            if value in PUBLISHED_NUMBERS:
                found.append(f"{path.name}:{node.lineno} {value!r}")
        elif isinstance(value, str) and any(text in value for text in PUBLISHED_TEXTS):
            found.append(f"{path.name}:{node.lineno} {value!r}")
    return found


def test_published_numbers_are_written_down_once():
    found = [
        hit
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "published.py"
        for hit in _written_down(path)
    ]
    assert found == []


def test_published_imports_nothing_from_the_package():
    tree = ast.parse(Path(published.__file__).read_text(encoding="utf-8"))
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not [name for name in imported if name and name.startswith("autoenchorder")]


@pytest.mark.parametrize(
    ("module", "name", "published_name"),
    [
        ("autoenchorder.metrics", "BAND_EDGES", "BAND_EDGES"),
        ("autoenchorder.metrics", "BAND_NAMES", "BAND_NAMES"),
        ("autoenchorder.models.base", "CLASS_BOUNDARIES", "BAND_EDGES"),
        ("autoenchorder.data.sources.spotgentrack", "CLASS_EDGES", "BAND_EDGES"),
        ("autoenchorder.config", "STUDY_GRID", "STUDY_GRID"),
        ("autoenchorder.train.search", "STUDY_GRID", "STUDY_GRID"),
        ("autoenchorder.commands.search", "STUDY_GRID", "STUDY_GRID"),
    ],
)
def test_users_read_the_one_copy(module, name, published_name):
    import importlib

    assert getattr(importlib.import_module(module), name) is getattr(published, published_name)


def test_loss_defaults_and_search_grid_are_the_studys():
    from autoenchorder.models import losses
    from autoenchorder.train.search import SearchSpec

    best = published.STUDY_BEST
    assert (
        best["loss_mean"],
        best["loss_alpha"],
        best["loss_beta"],
    ) == (losses.DEFAULT_LOSS_MEAN, losses.DEFAULT_LOSS_ALPHA, losses.DEFAULT_LOSS_BETA)
    assert SearchSpec().space == published.STUDY_GRID
    assert all(best[k] in published.STUDY_GRID[k] for k in best)  # the best is a grid point


def test_the_report_quotes_the_published_figures():
    from autoenchorder.evaluate import compare

    middle = next(b for b in compare.STUDY_BANDS if b.label.startswith("middle"))
    assert (middle.lower, middle.upper) == published.STUDY_MIDDLE
    assert pytest.approx(100 * published.STUDY_WIN_SHARE, abs=0.1) == published.STUDY_WIN_PERCENT
