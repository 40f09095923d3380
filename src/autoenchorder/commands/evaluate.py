"""``autoenchorder evaluate RUN_DIR``: the study's tables with CIs, plots, one HTML report."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from autoenchorder.evaluate.output import write_report
from autoenchorder.evaluate.report import ReportSettings
from autoenchorder.evaluate.run_reader import Study
from autoenchorder.terminal import print_headlines


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
