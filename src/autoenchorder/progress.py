"""The one progress bar of every long batch job (extract, corpus make, predict, search, demo)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second, e.g. ``2.31 files/s`` (blank until there is a rate)."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:  # noqa: D102
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} {self.unit}/s" if speed else "", style="cyan")


def counting_progress(
    label: str,
    *,
    unit: str,
    console: Console | None = None,
    disable: bool = False,
    transient: bool = False,
) -> Progress:
    """A bar counting items: label, bar, done/total, rate, elapsed, ETA and a free note.

    Add tasks with a ``note`` field (``bar.add_task(label, total=n, note="")``) and update it
    to show running facts such as the number of failures.

    Parameters
    ----------
    label : str
        What is being done ("extract", "rendering" ...).
    unit : str
        What is counted, plural ("files", "songs", "trials").
    console : rich.console.Console or None
        Where to draw (default: rich's console on stdout).
    disable : bool
        Draw nothing (quiet runs).
    transient : bool
        Remove the bar when done.

    Returns
    -------
    rich.progress.Progress
    """
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
        disable=disable,
        transient=transient,
    )
