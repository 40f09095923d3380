"""``autoenchorder evaluate RUN_DIR``: the study's tables with CIs, plots, one HTML report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autoenchorder.evaluate.html import FORMATS, LABELS
from autoenchorder.evaluate.output import write_report
from autoenchorder.evaluate.report import ReportSettings, StudyReport
from autoenchorder.evaluate.rundir import Study

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
    for column in ("model", "wins", "losses", "ties", "share [CI]"):
        table.add_column(column, justify="left" if column == "model" else "right", no_wrap=True)
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


@click.command(name="evaluate")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="HTML report to write [default: RUN_DIR/report.html].",
)
@click.option(
    "--n-boot",
    type=click.IntRange(min=100),
    default=2000,
    show_default=True,
    help="Bootstrap resamples for every interval.",
)
@click.option(
    "--level",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Interval coverage.",
)
@click.option("--bca", is_flag=True, help="Bias-corrected and accelerated intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the resamples.")
@click.option("--no-figures", is_flag=True, help="Skip the plots (tables only).")
def command(
    run_dir: Path,
    out: Path | None,
    n_boot: int,
    level: float,
    bca: bool,
    seed: int,
    no_figures: bool,
) -> None:
    """Score every model of RUN_DIR with bootstrap CIs and write an HTML report.

    RUN_DIR holds one study (run.json, predictions.parquet, curves/) or one folder per study;
    see docs/run-directory.md. Every number also goes to CSV/JSON beside the report.
    """
    console = Console()
    settings = ReportSettings(
        n_boot=n_boot,
        level=level,
        method="bca" if bca else "percentile",
        seed=seed,
        figures=not no_figures,
    )

    def announce(study: Study) -> None:
        console.log(f"analysing [bold]{study.name}[/bold] ({n_boot} bootstrap resamples)")

    with console.status("evaluating ..."):
        output = write_report(run_dir, out=out, settings=settings, progress=announce)
    print_headlines(output.studies, console)
    console.print(f"\nreport: [bold]{output.html}[/bold]\nnumbers: {output.data_dir}/")
