"""Rich tables for the terminal: a run's headline results and a batch of predictions.

Shared by the ``evaluate`` and ``predict`` commands and by the demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from autoenchorder.evaluate.html import FORMATS, LABELS
from autoenchorder.evaluate.report import StudyReport
from autoenchorder.predict import SongPrediction

#: Columns of the terminal's metric table, per task, for wide and for narrow terminals.
TERMINAL_METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("mae", "rmse", "r2", "spearman", "mae_01"),
    "classification": ("accuracy", "macro_f1"),
}
NARROW_METRICS: dict[str, tuple[str, ...]] = {
    "regression": ("mae", "r2", "spearman"),
    "classification": ("accuracy", "macro_f1"),
}


def _cell(metric: str, estimate: float, low: float, high: float, *, stacked: bool) -> str:
    def show(value: float) -> str:
        return FORMATS.get(metric, "{:.3g}").format(value) if np.isfinite(value) else "—"

    interval = f"[{show(low)}, {show(high)}]" if np.isfinite(low) and np.isfinite(high) else ""
    return f"{show(estimate)}{chr(10) if stacked else ' '}[dim]{escape(interval)}[/dim]"


def metrics_table(report: StudyReport, *, width: int = 120) -> Table:
    """Tabulate the study's per-model metrics with their intervals (families split by rules)."""
    task = report.study.task
    metrics = TERMINAL_METRICS[task] if width >= 120 else NARROW_METRICS[task]
    table = Table(title=str(report.headline["title"]), title_justify="left", header_style="bold")
    table.add_column("model")
    for metric in metrics:
        table.add_column(LABELS[metric], justify="right", no_wrap=True)
    previous_family = None
    for model in report.predictions:
        family = report.study.family(model)
        if previous_family is not None and family != previous_family:
            table.add_section()
        previous_family = family
        cells = [report.study.label(model)]
        for metric in metrics:
            row = report.value(model, metric)
            cells.append(
                _cell(metric, row["estimate"], row["low"], row["high"], stacked=width < 120)
            )
        table.add_row(*cells)
    return table


def win_rate_table(report: StudyReport, *, width: int = 120) -> Table | None:
    """Tabulate song-by-song win rates against the reference (None if there are none)."""
    if report.win_rates.empty:
        return None
    rows = report.win_rates[report.win_rates["model_b"] == report.reference]
    table = Table(
        title=f"won songs against {report.study.label(report.reference)}",
        title_justify="left",
        header_style="bold",
    )
    table.add_column("model")  # the labels wrap; the numbers never do
    for column in ("wins", "losses", "ties", "share [CI]"):
        table.add_column(column, justify="right", no_wrap=True)
    for _, r in rows.iterrows():
        table.add_row(
            report.study.label(r["model_a"]),
            str(r["a_better"]),
            str(r["b_better"]),
            str(r["ties"]),
            f"{100 * r['share']:.1f} %{chr(10) if width < 120 else ' '}"
            f"[dim]\\[{100 * r['low']:.1f}, {100 * r['high']:.1f}][/dim]",
        )
    return table


def print_headlines(reports: Sequence[StudyReport], console: Console) -> None:
    """Print each analysed study's facts, metric table and win-rate table to the terminal."""
    for report in reports:
        console.print()
        h = report.headline
        console.print(
            f"[bold]{h['title']}[/bold]: {h['dataset'] or report.study.name}, split "
            f"{h['split'] or 'not recorded'}, {h['n_test']} test songs"
        )
        console.print(metrics_table(report, width=console.width))
        wins = win_rate_table(report, width=console.width)
        if wins is not None:
            console.print(wins)
        for check in report.headline.get("checks") or []:
            mark = "[green]✓[/green]" if check["met"] else "[red]✗[/red]"
            console.print(f"{mark} {escape(check['check'])} [dim]{escape(check['detail'])}[/dim]")


_BLOCKS = "▁▂▃▄▅▆▇█"
_BAND_STYLE = {"low": "red", "mid": "yellow", "high": "green"}


def contribution_strip(prediction: SongPrediction, *, width: int = 16) -> Text:
    """Draw the per-frame contributions as a coloured bar strip (green up, red down)."""
    values = np.array([c["contribution"] for c in prediction.contributions], dtype=float)
    if values.size == 0:
        return Text("—", style="dim")
    if values.size > width:  # average neighbouring frames down to the strip's width
        values = np.array([chunk.mean() for chunk in np.array_split(values, width)])
    scale = float(np.max(np.abs(values))) or 1.0
    text = Text()
    for value in values:
        level = int(round(abs(value) / scale * (len(_BLOCKS) - 1)))
        text.append(_BLOCKS[level], style="green" if value >= 0 else "red")
    return text


def strongest_moment(prediction: SongPrediction) -> str:
    """The stretch of audio that raised the prediction most, as ``m:ss (+points)``."""
    if not prediction.contributions:
        return "—"
    best = max(prediction.contributions, key=lambda c: c["contribution"])
    if best["contribution"] <= 0:
        return "—"
    minutes, seconds = divmod(int(best["start"]), 60)
    return f"{minutes}:{seconds:02d} (+{best['contribution']:.1f})"


def results_table(predictions: list[SongPrediction]) -> Table:
    """Tabulate the predictions for the terminal."""
    table = Table(header_style="bold", title="predicted popularity (0-100)", title_justify="left")
    table.add_column("song", min_width=16, overflow="fold")
    table.add_column("popularity", justify="right", min_width=10)
    table.add_column("band")
    table.add_column("± sd", justify="right")
    table.add_column("length", justify="right")
    table.add_column("timeline")
    table.add_column("peak", no_wrap=True)
    for p in predictions:
        sd = "—" if not np.isfinite(p.uncertainty) else f"{p.uncertainty:.1f}"
        score = "—" if not np.isfinite(p.popularity) else f"{p.popularity:.1f}"
        if p.class_probabilities:
            score = ", ".join(f"{k} {v:.2f}" for k, v in p.class_probabilities.items())
        table.add_row(
            Path(p.path).name,
            score,
            Text(p.band, style=_BAND_STYLE.get(p.band, "")),
            sd,
            f"{p.duration:.0f} s",
            contribution_strip(p),
            strongest_moment(p),
        )
    return table
