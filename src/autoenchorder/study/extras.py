"""The extra studies ``demo --study NAME`` adds: each one module with ``plan_study(context)``.

An extra study prepares its own data (a corpus, a feature store, cached patches ...), opens its
own run directory (its own section of the report) and adds its fits to the demo's plan; the
demo then fits every job, records the results as they arrive and writes one report. A study's
module is imported only when the study is asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from autoenchorder.errors import AutoenchorderError
from autoenchorder.study.plan import DemoPlan
from autoenchorder.study.settings import DEFAULT_STUDIES, DemoSettings

#: Extra study name -> its module under ``autoenchorder.study``.
EXTRA_STUDIES: dict[str, str] = {
    "full-length": "full_length",
    "finetune": "finetune",
    "ranking": "ranking",
    "multi-target": "multi_target",
}
#: Every study ``demo --study`` accepts, in report order.
ALL_STUDIES: tuple[str, ...] = (*DEFAULT_STUDIES, *EXTRA_STUDIES)


@dataclass
class StudyContext:
    """What an extra study's ``plan_study`` gets: the settings, the plan, the shared corpus.

    Attributes
    ----------
    settings : DemoSettings
    console : rich.console.Console
    plan : DemoPlan
        The plan to add data, recorders, jobs and finishers to.
    """

    settings: DemoSettings
    console: Console
    plan: DemoPlan
    make_procedural: Callable[[], tuple[Path, Path]] | None = field(default=None, repr=False)

    def procedural(self) -> tuple[Path, Path]:
        """The demo's procedural corpus folder and its feature store (made once, resumable)."""
        if self.make_procedural is None:
            raise AutoenchorderError("this study context has no procedural corpus")
        return self.make_procedural()


def check_studies(names: tuple[str, ...]) -> tuple[str, ...]:
    """Return ``names`` in report order, without repeats; unknown names are an error."""
    unknown = sorted(set(names) - set(ALL_STUDIES))
    if unknown:
        raise AutoenchorderError(
            f"unknown study {', '.join(unknown)}; the studies are {', '.join(ALL_STUDIES)}"
        )
    return tuple(name for name in ALL_STUDIES if name in names)


def plan_extra_studies(context: StudyContext) -> None:
    """Add every extra study of ``context.settings.studies`` to ``context.plan``."""
    for name in context.settings.studies:
        if name in EXTRA_STUDIES:
            context.console.rule(f"[bold]study: {name}")
            module = importlib.import_module(f"autoenchorder.study.{EXTRA_STUDIES[name]}")
            module.plan_study(context)
