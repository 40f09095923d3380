"""``autoenchorder predict SONG_OR_DIR... --model BUNDLE``: score songs from their audio."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from autoenchorder.predict import PredictionFailure, Predictor, SongPrediction, expand_paths
from autoenchorder.progress import counting_progress

_BLOCKS = "▁▂▃▄▅▆▇█"
#: Columns of ``--csv`` (a failed file has only ``path`` and ``error``).
CSV_FIELDS: tuple[str, ...] = (
    "path",
    "popularity",
    "band",
    "uncertainty",
    "uncertainty_method",
    "duration",
    "n_windows",
    "window_sd",
    "error",
)
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


def write_csv(predictions: list[SongPrediction], failures: list[PredictionFailure]) -> None:
    """Write one CSV row per song (failures with their error) to stdout."""
    rows = [p.summary() for p in predictions] + [
        {"path": f.path, "error": f.reason} for f in failures
    ]
    writer = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)


@click.command(name="predict")
@click.argument("songs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--model",
    "bundles",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Bundle folder (repeat, or give a folder of bundles, for an ensemble).",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON (every field) instead of a table."
)
@click.option(
    "--csv", "as_csv", is_flag=True, help="Print CSV (one row per song) instead of a table."
)
@click.option(
    "--windows",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="30 s windows scored per long song.",
)
@click.option(
    "--mc-passes",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="MC dropout passes for the uncertainty of a single bundle (0: off).",
)
@click.option(
    "--no-contributions", is_flag=True, help="Skip the per-frame occlusion contributions (faster)."
)
def command(
    songs: tuple[Path, ...],
    bundles: tuple[Path, ...],
    as_json: bool,
    as_csv: bool,
    windows: int,
    mc_passes: int,
    no_contributions: bool,
) -> None:
    """Predict the popularity (0-100) of songs or folders of songs from their audio.

    Bad files are reported one by one and the others scored; the exit status is 1 if no
    song could be scored.
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    err = Console(stderr=True)
    predictor = Predictor.load(
        *bundles, max_windows=windows, mc_passes=mc_passes, contributions=not no_contributions
    )
    failures: list[PredictionFailure] = []
    files = expand_paths(songs, failures)
    predictions: list[SongPrediction] = []
    progress = counting_progress(
        "scoring", unit="songs", console=err, transient=True, disable=len(files) < 2
    )
    with progress as bar:
        task = bar.add_task("scoring", total=len(files), note="")
        for path in files:
            scored, failed = predictor.predict_many([path])
            predictions += scored
            failures += failed
            bar.update(task, advance=1, note=f"[red]{len(failures)} failed" if failures else "")
    if as_json:
        json.dump(
            {
                "predictions": [p.to_dict() for p in predictions],
                "failures": [f.to_dict() for f in failures],
            },
            sys.stdout,
            indent=2,
        )
        sys.stdout.write("\n")
    elif as_csv:
        write_csv(predictions, failures)
    else:
        out = Console()
        if predictions:
            out.print(results_table(predictions))
            out.print(
                f"[dim]uncertainty: {predictions[0].uncertainty_method}; bands: low < 25, "
                "mid 25-64, high >= 65[/dim]"
            )
    for failure in failures:
        err.print(f"[yellow]skipped[/yellow] {failure.path}: {failure.reason}")
    if not predictions:
        raise click.exceptions.Exit(1)
