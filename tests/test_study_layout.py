"""The demo's study is a package of modules with one job each, importing each other one way."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

#: module -> the study modules it may import (settings < recorder < plan < extras < run)
ALLOWED = {
    "settings": set(),
    "recorder": {"settings"},
    "plan": {"settings", "recorder"},
    "extras": {"settings", "plan"},
    "run": {"settings", "plan", "extras"},
}
#: the extra studies (study/extras.py) build on the same modules, never on run or each other
EXTRA_ALLOWED = {"settings", "recorder", "plan", "extras"}


def _study_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        module = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
        if module.startswith("autoenchorder.study."):
            found.add(module.rsplit(".", 1)[-1])
    return found


def test_the_study_is_split_into_plan_record_and_run():
    package = importlib.import_module("autoenchorder.study")
    folder = Path(package.__file__).parent
    from autoenchorder.study.extras import EXTRA_STUDIES

    present = {p.stem for p in folder.glob("*.py")}
    assert present - set(EXTRA_STUDIES.values()) == {"__init__", *ALLOWED}
    extra = {name: EXTRA_ALLOWED for name in present & set(EXTRA_STUDIES.values())}
    for name, allowed in {**ALLOWED, **extra}.items():
        path = folder / f"{name}.py"
        assert _study_imports(path) <= allowed, name
        assert len(path.read_text(encoding="utf-8").splitlines()) < 300, name


def test_the_demo_entry_points_are_still_importable():
    from autoenchorder.study import DemoSettings, run_demo
    from autoenchorder.study.plan import plan_demo
    from autoenchorder.study.recorder import StudyRecorder
    from autoenchorder.study.run import run_plan

    settings = DemoSettings.quick(Path("out"))
    assert settings.n_songs == 120 and settings.models and "autoenchorder" in settings.models
    assert callable(run_demo) and callable(plan_demo) and callable(run_plan)
    assert StudyRecorder.__module__ == "autoenchorder.study.recorder"
